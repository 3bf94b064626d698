//! Variables: plain JSON-like values, insertion-ordered maps.

use serde_json::{Map, Value};

/// A set of variables, in definition order.
pub type Vars = Map<String, Value>;

/// Merges `overlay` into `base`: later sources win, key by key (Ansible's
/// default `hash_behaviour = replace`: a dict value replaces the whole dict).
pub fn merge_into(base: &mut Vars, overlay: &Vars) {
    for (k, v) in overlay {
        base.insert(k.clone(), v.clone());
    }
}
