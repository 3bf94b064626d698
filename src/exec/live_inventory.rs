//! The inventory as the run changes it: `add_host` and `group_by`.
//!
//! Plays select their hosts, and tasks see `groups`, `group_names` and
//! `hostvars`, from the inventory as it is when they start, so hosts and
//! groups added by one task are visible to every later task and play.

use super::builtin::BuiltinResult;
use crate::compile::actions::{AddHostArgs, GroupByArgs};
use crate::inventory::Inventory;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::sync::Arc;

/// The run's inventory: read by snapshot (cheap), changed in place.
#[derive(Debug)]
pub(crate) struct LiveInventory {
    current: RefCell<Arc<Inventory>>,
}

impl LiveInventory {
    pub fn new(inventory: &Inventory) -> LiveInventory {
        LiveInventory {
            current: RefCell::new(Arc::new(inventory.clone())),
        }
    }

    /// The inventory as it is now.
    pub fn get(&self) -> Arc<Inventory> {
        self.current.borrow().clone()
    }

    fn change<R>(&self, f: impl FnOnce(&mut Inventory) -> R) -> R {
        let mut current = self.current.borrow_mut();
        let r = f(Arc::make_mut(&mut current));
        // `inventory_hostnames` lookups see the change too.
        crate::template::set_inventory((**current).clone());
        r
    }

    /// `meta: refresh_inventory`: the inventory read again from its sources.
    pub fn refresh(&self) -> Result<(), String> {
        let fresh = self.get().reloaded().map_err(|e| e.to_string())?;
        self.change(|inv| *inv = fresh);
        Ok(())
    }

    /// `add_host` with templated arguments. Its result is Ansible's:
    /// `add_host: {host_name, groups, host_vars}`, changed when the
    /// inventory changed.
    pub fn add_host(&self, args: &Value) -> BuiltinResult {
        let a = match AddHostArgs::from_value(args) {
            Ok(a) => a,
            Err(e) => return BuiltinResult::failure(e.message),
        };
        // `name:port` (not a range): the port becomes `ansible_ssh_port`.
        let (name, port) =
            crate::inventory::parse_address(&a.name).unwrap_or((a.name.clone(), None));
        let mut vars = a.vars;
        if let Some(p) = port {
            vars.insert("ansible_ssh_port".into(), Value::from(p));
        }
        match self.change(|inv| inv.add_host(&name, &a.groups, &vars)) {
            Ok(changed) => BuiltinResult::ok(json!({
                "changed": changed,
                "add_host": {"host_name": name, "groups": a.groups, "host_vars": vars},
            })),
            Err(e) => BuiltinResult::failure(e.to_string()),
        }
    }

    /// `group_by` on one host, with templated arguments. Its result is
    /// Ansible's: `add_group`, `parent_groups`, changed when the inventory
    /// changed.
    pub fn group_by(&self, host: &str, args: &Value) -> BuiltinResult {
        let a = match tend_modules::args::parse::<GroupByArgs>(args) {
            Ok(a) => a,
            Err(e) => return BuiltinResult::failure(e.message),
        };
        let (group, parents) = a.names();
        if self.get().is_implicit_localhost(host) {
            return BuiltinResult::failure(format!(
                "group_by on the implicit localhost is not supported yet; add `{host}` to the inventory"
            ));
        }
        match self.change(|inv| inv.add_to_group(host, &group, &parents)) {
            Ok(changed) => BuiltinResult::ok(json!({
                "changed": changed,
                "add_group": group,
                "parent_groups": parents,
            })),
            Err(e) => BuiltinResult::failure(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> LiveInventory {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("hosts");
        std::fs::write(&f, "[web]\nw1\n").unwrap();
        LiveInventory::new(&Inventory::load(&[f]).unwrap())
    }

    #[test]
    fn add_host_result_and_changes_as_ansible() {
        let inv = live();
        let r = inv.add_host(&json!({"name": "db1:2222", "groups": "db, extra", "role": "x"}));
        assert!(!r.failed);
        assert_eq!(
            r.result,
            json!({"changed": true, "failed": false, "add_host": {
                "host_name": "db1", "groups": ["db", "extra"],
                "host_vars": {"role": "x", "ansible_ssh_port": 2222}}})
        );
        let now = inv.get();
        assert_eq!(now.select("db:&extra").unwrap(), ["db1"]);
        assert_eq!(now.host_vars("db1")["ansible_ssh_port"], json!(2222));
        // The same again: nothing changes.
        let again = inv.add_host(&json!({"hostname": "db1:2222", "groups": ["db"], "role": "x"}));
        assert_eq!(again.result["changed"], json!(false));
        let missing = inv.add_host(&json!({"groups": "db"}));
        assert!(missing.failed);
        assert_eq!(
            missing.result["msg"],
            json!("name, host or hostname needs to be provided")
        );
    }

    #[test]
    fn group_by_result_and_changes_as_ansible() {
        let inv = live();
        let r = inv.group_by("w1", &json!({"key": "os debian", "parents": "by os"}));
        assert_eq!(
            r.result,
            json!({"changed": true, "failed": false, "add_group": "os-debian", "parent_groups": ["by-os"]})
        );
        assert_eq!(inv.get().select("by-os").unwrap(), ["w1"]);
        assert_eq!(inv.get().group_names("w1"), ["by-os", "os-debian", "web"]);
        let again = inv.group_by("w1", &json!({"key": "os debian", "parents": ["by os"]}));
        assert_eq!(again.result["changed"], json!(false));
        assert!(inv.group_by("localhost", &json!({"key": "g"})).failed);
    }
}
