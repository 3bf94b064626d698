//! Ansible's Jinja tests for minijinja (being written).

/// Registers Ansible's tests.
pub fn register(_env: &mut minijinja::Environment<'_>) {}
