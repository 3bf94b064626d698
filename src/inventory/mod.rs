//! Inventories in Ansible's formats (being written).
