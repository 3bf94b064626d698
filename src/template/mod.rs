//! Jinja2 templating with Ansible's filters and tests (being written).
