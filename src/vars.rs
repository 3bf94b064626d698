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

/// Recursively merges `overlay` into `base` (the `combine(recursive=True)` rule).
pub fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}
