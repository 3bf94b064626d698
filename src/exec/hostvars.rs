//! The `hostvars` magic variable: every play host's variables, by name.

use super::{HostState, PlayCtx};
use crate::vars::Vars;
use minijinja::value::{Object, ObjectRepr, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// One play host's variables as `hostvars[host]` shows them: the layers
/// it is made of, shared with the host's state (no copy per task), merged
/// and converted for templates only when a template asks for them. Most
/// tasks never look at `hostvars`, and copying every host's facts for every
/// task was most of the controller's CPU on a fleet.
#[derive(Debug)]
pub(crate) struct HostValue {
    /// Lowest precedence first.
    layers: [Arc<Vars>; 4],
    /// `inventory_hostname`, `inventory_hostname_short`, `group_names`.
    magic: Vars,
    value: OnceLock<Value>,
}

impl HostValue {
    fn value(&self) -> Value {
        self.value
            .get_or_init(|| {
                let mut all = Vars::new();
                for layer in self.layers.iter().map(|l| &**l).chain([&self.magic]) {
                    for (k, v) in layer {
                        all.insert(k.clone(), v.clone());
                    }
                }
                to_value(&all)
            })
            .clone()
    }
}

/// A snapshot of all hosts' variables, taken before a task starts: the
/// play's hosts as they are now, every other inventory host (added ones
/// included) computed when asked for.
#[derive(Debug)]
pub(crate) struct HostVars {
    hosts: BTreeMap<String, Arc<HostValue>>,
    inventory: Arc<crate::inventory::Inventory>,
    /// Facts and registered values of hosts outside the play, from earlier plays.
    others: Arc<HashMap<String, (Vars, Vars)>>,
    extra_vars: Vars,
    cli_vars: Vars,
}

impl HostVars {
    /// Snapshots the hosts of the play (inventory, facts, registered values).
    /// Under a free strategy `states` is the one host running; the others
    /// are as they last published themselves.
    pub fn snapshot(states: &[HostState], ctx: &PlayCtx<'_>) -> Value {
        let mut hosts = ctx.peers.borrow().clone();
        for s in states {
            hosts.insert(s.name.clone(), host_value(s, ctx));
        }
        Value::from_object(HostVars {
            hosts,
            inventory: ctx.inventory.get(),
            others: Arc::clone(&ctx.others),
            extra_vars: ctx.opts.extra_vars.clone(),
            cli_vars: ctx.opts.cli_vars.clone(),
        })
    }

    /// A host outside the play, as Ansible shows it: its inventory
    /// variables, facts and registered values, extra vars (no play vars).
    fn other(&self, name: &str) -> Option<Value> {
        if !self.inventory.contains_host(name) && !self.inventory.is_implicit_localhost(name) {
            return None;
        }
        let mut inventory_vars = self.cli_vars.clone();
        inventory_vars.extend(self.inventory.host_vars(name));
        let empty = (Vars::new(), Vars::new());
        let (facts, registered) = self.others.get(name).unwrap_or(&empty);
        let mut all = Vars::new();
        for layer in [&inventory_vars, facts, registered, &self.extra_vars] {
            all.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        all.extend(self.inventory.magic_vars(name));
        Some(to_value(&all))
    }
}

/// Free strategies: makes the hosts' variables as they are now what the
/// other hosts see (`force`: whatever the strategy).
pub(crate) fn publish(states: &[HostState], ctx: &PlayCtx<'_>, force: bool) {
    if !force && ctx.strategy == super::Strategy::Linear {
        return;
    }
    let mut peers = ctx.peers.borrow_mut();
    for s in states {
        peers.insert(s.name.clone(), host_value(s, ctx));
    }
}

/// One host's variables, as `hostvars[host]` shows them in Ansible 2.19:
/// inventory, facts, `set_fact`/`register` and extra vars; no play vars or
/// `vars_files` (those belong to the play, not the host).
fn host_value(s: &HostState, ctx: &PlayCtx<'_>) -> Arc<HostValue> {
    let mut magic = Vars::new();
    magic.insert("inventory_hostname".into(), s.name.clone().into());
    magic.insert("inventory_hostname_short".into(), short(&s.name).into());
    magic.insert(
        "group_names".into(),
        serde_json::to_value(ctx.inventory.get().group_names(&s.name)).unwrap_or_default(),
    );
    Arc::new(HostValue {
        layers: [
            Arc::clone(&s.inventory_vars),
            Arc::clone(&s.facts),
            Arc::clone(&s.registered),
            Arc::clone(&ctx.extra_vars),
        ],
        magic,
        value: OnceLock::new(),
    })
}

fn to_value(all: &Vars) -> Value {
    // Inline `!vault` values are decrypted here (they are not templated).
    Value::from_pairs(
        all.iter()
            .map(|(k, v)| (k.clone(), crate::template::from_json_opening_vault(v))),
    )
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
        let name = key.as_str()?;
        self.hosts
            .get(name)
            .map(|h| h.value())
            .or_else(|| self.other(name))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let mut names: Vec<Value> = self.hosts.keys().map(|k| Value::from(k.as_str())).collect();
        names.extend(
            self.inventory
                .hosts()
                .into_iter()
                .filter(|h| !self.hosts.contains_key(h))
                .map(Value::from),
        );
        minijinja::value::Enumerator::Values(names)
    }
}
