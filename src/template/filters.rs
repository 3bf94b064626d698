//! Ansible's filters for minijinja (being written).

/// Registers Ansible's filters.
pub fn register(_env: &mut minijinja::Environment<'_>) {}
