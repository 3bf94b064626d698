//! Jinja2 templating with Ansible's filters and tests.

pub mod filters;
pub mod jinja_tests;
