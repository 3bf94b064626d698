//! The `hostvars` magic variable: every play host's variables, by name.

use super::{HostState, PlayCtx};
use crate::vars::Vars;
use minijinja::value::{Object, ObjectRepr, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A snapshot of all hosts' variables, taken before a task starts.
#[derive(Debug)]
pub(crate) struct HostVars {
    hosts: BTreeMap<String, Value>,
}

impl HostVars {
    /// Snapshots the hosts of the play (inventory, facts, registered values).
    pub fn snapshot(states: &[HostState], ctx: &PlayCtx<'_>) -> Value {
        let mut hosts = BTreeMap::new();
        for s in states {
            let mut all = Vars::new();
            for layer in [
                &s.inventory_vars,
                &s.facts,
                &ctx.play_vars,
                &s.registered,
                &ctx.opts.extra_vars,
            ] {
                for (k, v) in layer.iter() {
                    all.insert(k.clone(), v.clone());
                }
            }
            all.insert("inventory_hostname".into(), s.name.clone().into());
            all.insert("inventory_hostname_short".into(), short(&s.name).into());
            all.insert(
                "group_names".into(),
                serde_json::to_value(ctx.inventory.group_names(&s.name)).unwrap_or_default(),
            );
            // Inline `!vault` values are decrypted here (they are not templated).
            let all = Value::from_pairs(
                all.iter()
                    .map(|(k, v)| (k.clone(), crate::template::from_json_opening_vault(v))),
            );
            hosts.insert(s.name.clone(), all);
        }
        Value::from_object(HostVars { hosts })
    }
}

/// `inventory_hostname_short`: up to the first dot.
pub(crate) fn short(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.hosts.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(
            self.hosts.keys().map(|k| Value::from(k.as_str())).collect(),
        )
    }
}
