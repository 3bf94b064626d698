//! `ansible-inventory` views: `--list` (JSON), `--graph` (text, optionally
//! `--vars`) and `--host NAME` (JSON).

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value};

use super::Inventory;
use super::error::InventoryError;
use super::pyliteral::py_str;
use crate::vars::{Vars, merge_into};

/// Variables `ansible-inventory` never shows (`C.INTERNAL_STATIC_VARS`).
const INTERNAL_VARS: [&str; 31] = [
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "omit",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_names",
];

fn remove_internal(mut v: Vars) -> Vars {
    v.retain(|k, _| !INTERNAL_VARS.contains(&k.as_str()));
    v
}

/// Recursively sorts object keys (Python's `json.dumps(sort_keys=True)`).
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Formats a value as `ansible-inventory` prints JSON: keys sorted,
/// four-space indentation, no trailing newline.
pub fn ansible_json(value: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serializing a Value into a Vec cannot fail.
    let _ = sorted(value.clone()).serialize(&mut ser);
    String::from_utf8(buf).unwrap_or_default()
}

impl Inventory {
    /// JSON as `ansible-inventory --list` builds it: `_meta.hostvars` (each
    /// host's fully merged variables, group_vars/host_vars included, hosts
    /// without variables left out), `all.children`, and for every non-empty
    /// group its direct `hosts` and `children`. Keys are sorted, as the
    /// command prints them (see [`ansible_json`] for the exact text).
    pub fn to_list_json(&self) -> Value {
        let hosts = self.data.group_hosts("all");
        let available: HashSet<&str> = hosts.iter().map(String::as_str).collect();
        let mut out = Map::new();
        let mut seen = HashSet::new();
        self.format_group("all", &available, &mut seen, &mut out);
        let mut hostvars = Map::new();
        for h in &hosts {
            let v = self.output_host_vars(h);
            if !v.is_empty() {
                hostvars.insert(h.clone(), Value::Object(v));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".into(), Value::Object(hostvars));
        out.insert("_meta".into(), Value::Object(meta));
        sorted(Value::Object(out))
    }

    fn format_group(
        &self,
        name: &str,
        available: &HashSet<&str>,
        seen: &mut HashSet<String>,
        out: &mut Map<String, Value>,
    ) {
        let g = &self.data.groups[name];
        let mut entry = Map::new();
        if name != "all" {
            let hosts: Vec<Value> = g
                .hosts
                .iter()
                .filter(|h| available.contains(h.as_str()))
                .map(|h| Value::String(h.clone()))
                .collect();
            if !hosts.is_empty() {
                entry.insert("hosts".into(), Value::Array(hosts));
            }
        }
        if !g.children.is_empty() {
            entry.insert(
                "children".into(),
                Value::Array(
                    g.children
                        .iter()
                        .map(|c| Value::String(c.clone()))
                        .collect(),
                ),
            );
        }
        for c in &g.children {
            if !seen.contains(c) {
                self.format_group(c, available, seen, out);
                seen.insert(c.clone());
            }
        }
        if !entry.is_empty() {
            out.insert(name.to_owned(), Value::Object(entry));
        }
    }

    fn output_host_vars(&self, host: &str) -> Vars {
        remove_internal(self.host_vars(host))
    }

    fn output_group_vars(&self, group: &str) -> Vars {
        let g = &self.data.groups[group];
        let mut v = g.vars.clone();
        for vd in self.inventory_vars.iter().chain(&self.playbook_vars) {
            if let Some(x) = vd.groups.get(group) {
                merge_into(&mut v, x);
            }
        }
        if g.priority != 1 {
            v.insert("ansible_group_priority".into(), Value::from(g.priority));
        }
        remove_internal(v)
    }

    /// Text as `ansible-inventory --graph [GROUP] [--vars]` prints it
    /// (without the final newline): `@all:` then one line per child group
    /// and host, indented with `  |--`; with `with_vars`, `{name = value}`
    /// lines under each host (its merged variables) and after each group's
    /// hosts (the group's own variables). `group` defaults to `all`.
    pub fn graph(&self, group: Option<&str>, with_vars: bool) -> Result<String, InventoryError> {
        let start = group.unwrap_or("all");
        if !self.data.groups.contains_key(start) {
            return Err(InventoryError::UnknownGroup(start.to_owned()));
        }
        let mut lines = Vec::new();
        self.graph_group(start, 0, with_vars, &mut lines);
        Ok(lines.join("\n"))
    }

    fn graph_group(&self, name: &str, depth: usize, with_vars: bool, lines: &mut Vec<String>) {
        lines.push(graph_name(&format!("@{name}:"), depth));
        let d = depth + 1;
        let g = &self.data.groups[name];
        for kid in &g.children {
            self.graph_group(kid, d, with_vars, lines);
        }
        if name != "all" {
            for h in &g.hosts {
                lines.push(graph_name(h, d));
                if with_vars {
                    show_vars(&self.output_host_vars(h), d + 1, lines);
                }
            }
        }
        if with_vars {
            show_vars(&self.output_group_vars(name), d, lines);
        }
    }

    /// `ansible-inventory --host PATTERN`: the merged variables of the one
    /// host the pattern matches (keys sorted), or an error when it matches
    /// none or several.
    pub fn host_json(&self, host: &str) -> Result<Value, InventoryError> {
        let hosts = self.select(host)?;
        if hosts.len() != 1 {
            return Err(InventoryError::NotOneHost {
                pattern: host.to_owned(),
                count: hosts.len(),
            });
        }
        Ok(sorted(Value::Object(self.output_host_vars(&hosts[0]))))
    }
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_owned()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn show_vars(vars: &Vars, depth: usize, lines: &mut Vec<String>) {
    let mut keys: Vec<&String> = vars.keys().collect();
    keys.sort();
    for k in keys {
        lines.push(graph_name(
            &format!("{{{k} = {}}}", py_str(&vars[k])),
            depth,
        ));
    }
}
