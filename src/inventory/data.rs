//! The inventory graph: groups, hosts and their relations, built the way
//! Ansible's `InventoryData` builds them (insertion order kept everywhere).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use indexmap::IndexMap;
use serde_json::Value;

use crate::vars::Vars;

/// Names under which a pattern may create the implicit localhost.
pub(crate) const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// One group.
#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    /// Variables set by inventory sources (not group_vars/ files).
    pub vars: Vars,
    /// Hosts directly in this group, in the order they were added.
    pub hosts: Vec<String>,
    /// Child groups, in the order they were added.
    pub children: Vec<String>,
    /// Parent groups, in the order they were added.
    pub parents: Vec<String>,
    /// `ansible_group_priority` (default 1).
    pub priority: i64,
}

/// One host.
#[derive(Debug, Clone, Default)]
pub(crate) struct Host {
    /// Variables set by inventory sources (not host_vars/ files).
    pub vars: Vars,
    /// Groups the host was added to directly, in order.
    pub groups: Vec<String>,
    /// The inventory file in which the host was first seen.
    pub source: Option<PathBuf>,
}

/// The graph under construction.
#[derive(Debug, Clone)]
pub(crate) struct Data {
    pub groups: IndexMap<String, Group>,
    pub hosts: IndexMap<String, Host>,
    pub warnings: Vec<String>,
    /// The file being parsed (recorded as each new host's source).
    pub current_source: Option<PathBuf>,
    /// Group depth (longest path from `all`), valid after `reconcile`.
    pub depth: HashMap<String, usize>,
}

impl Default for Data {
    fn default() -> Self {
        let mut d = Data {
            groups: IndexMap::new(),
            hosts: IndexMap::new(),
            warnings: Vec::new(),
            current_source: None,
            depth: HashMap::new(),
        };
        d.ensure_group("all");
        d.ensure_group("ungrouped");
        d.link("all", "ungrouped");
        d
    }
}

impl Data {
    fn ensure_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(
                name.to_owned(),
                Group {
                    priority: 1,
                    ..Group::default()
                },
            );
        }
    }

    /// Adds a group if it is not there yet.
    pub fn add_group(&mut self, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("a group name may not be empty".into());
        }
        self.ensure_group(name);
        Ok(())
    }

    /// Adds a host (if new) and puts it in `group` (if given). `port` is only
    /// used when the host is new, as Ansible does.
    pub fn add_host(
        &mut self,
        name: &str,
        group: Option<&str>,
        port: Option<u64>,
    ) -> Result<(), String> {
        if name.is_empty() {
            return Err("a host name may not be empty".into());
        }
        if let Some(g) = group
            && !self.groups.contains_key(g)
        {
            return Err(format!("group '{g}' is not in the inventory"));
        }
        if !self.hosts.contains_key(name) {
            let mut host = Host {
                source: self.current_source.clone(),
                ..Host::default()
            };
            if let Some(p) = port {
                host.vars.insert("ansible_port".into(), Value::from(p));
            }
            self.hosts.insert(name.to_owned(), host);
        }
        if let Some(g) = group {
            let grp = self.groups.get_mut(g).expect("checked above");
            if !grp.hosts.iter().any(|h| h == name) {
                grp.hosts.push(name.to_owned());
                let host = self.hosts.get_mut(name).expect("inserted above");
                host.groups.push(g.to_owned());
            }
        }
        Ok(())
    }

    fn link(&mut self, parent: &str, child: &str) {
        let p = self.groups.get_mut(parent).expect("parent exists");
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_owned());
        }
        let c = self.groups.get_mut(child).expect("child exists");
        if !c.parents.iter().any(|x| x == parent) {
            c.parents.push(parent.to_owned());
        }
    }

    /// Makes `child` a child group of `parent`; refuses loops.
    pub fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        if !self.groups.contains_key(parent) {
            return Err(format!("group '{parent}' is not in the inventory"));
        }
        if !self.groups.contains_key(child) {
            return Err(format!("group '{child}' is not in the inventory"));
        }
        if parent == child {
            return Err(format!("group '{parent}' cannot be a child of itself"));
        }
        if self.groups[parent].children.iter().any(|c| c == child) {
            return Ok(());
        }
        if child == "all" || self.ancestors(parent).contains(child) {
            return Err(format!(
                "adding group '{child}' as a child of '{parent}' creates a recursive dependency loop"
            ));
        }
        self.link(parent, child);
        Ok(())
    }

    /// Sets an inventory-source variable on a group (`ansible_group_priority`
    /// sets the priority instead, as Ansible does).
    pub fn set_group_var(&mut self, group: &str, key: &str, value: Value) -> Result<(), String> {
        let g = self
            .groups
            .get_mut(group)
            .ok_or_else(|| format!("group '{group}' is not in the inventory"))?;
        if key == "ansible_group_priority" {
            g.priority = python_int(&value).ok_or_else(|| {
                format!("ansible_group_priority must be an integer, found {value}")
            })?;
        } else {
            g.vars.insert(key.to_owned(), value);
        }
        Ok(())
    }

    /// Sets an inventory-source variable on a host.
    pub fn set_host_var(&mut self, host: &str, key: &str, value: Value) -> Result<(), String> {
        let h = self
            .hosts
            .get_mut(host)
            .ok_or_else(|| format!("host '{host}' is not in the inventory"))?;
        h.vars.insert(key.to_owned(), value);
        Ok(())
    }

    /// All ancestors of a group (parents, their parents, ...), without itself.
    pub fn ancestors(&self, group: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack: Vec<&str> = vec![group];
        while let Some(g) = stack.pop() {
            if let Some(grp) = self.groups.get(g) {
                for p in &grp.parents {
                    if seen.insert(p.clone()) {
                        stack.push(p);
                    }
                }
            }
        }
        seen
    }

    /// Ansible's `reconcile_inventory`: top-level groups become children of
    /// `all`; hosts without a group go to `ungrouped`, hosts with one leave it.
    /// Then computes group depths.
    pub fn reconcile(&mut self) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for g in &names {
            if g != "all" && self.groups[g].parents.is_empty() {
                self.link("all", g);
            }
        }
        let hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for h in &hosts {
            let groups = self.host_groups(h);
            let in_ungrouped = groups.iter().any(|g| g == "ungrouped");
            let others = groups.iter().any(|g| g != "all" && g != "ungrouped");
            if in_ungrouped && others {
                self.groups["ungrouped"].hosts.retain(|x| x != h);
                self.hosts[h.as_str()].groups.retain(|x| x != "ungrouped");
            } else if !in_ungrouped && !others {
                // add_host is infallible here: both exist.
                let _ = self.add_host(h, Some("ungrouped"), None);
            }
        }
        let hostset: HashSet<&String> = self.hosts.keys().collect();
        for g in self.groups.keys() {
            if hostset.contains(g) {
                self.warnings
                    .push(format!("Found both group and host with same name: {g}"));
            }
        }
        self.compute_depths();
    }

    fn compute_depths(&mut self) {
        fn depth_of(d: &Data, g: &str, memo: &mut HashMap<String, usize>, guard: usize) -> usize {
            if let Some(v) = memo.get(g) {
                return *v;
            }
            let parents = d.groups.get(g).map(|x| x.parents.as_slice()).unwrap_or(&[]);
            let v = if guard > d.groups.len() {
                0
            } else {
                parents
                    .iter()
                    .map(|p| depth_of(d, p, memo, guard + 1) + 1)
                    .max()
                    .unwrap_or(0)
            };
            memo.insert(g.to_owned(), v);
            v
        }
        let mut memo = HashMap::new();
        for g in self.groups.keys() {
            depth_of(self, g, &mut memo, 0);
        }
        self.depth = memo;
    }

    /// The host's groups: the groups it is directly in plus all their
    /// ancestors (including `all`), without duplicates.
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        let Some(h) = self.hosts.get(host) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for g in &h.groups {
            let mut anc: Vec<String> = self.ancestors(g).into_iter().collect();
            anc.sort();
            for a in anc.into_iter().chain(std::iter::once(g.clone())) {
                if seen.insert(a.clone()) {
                    out.push(a);
                }
            }
        }
        out
    }

    /// The group and its descendants, breadth first, in insertion order
    /// (Ansible's `get_descendants(include_self=True, preserve_ordering=True)`).
    pub fn descendants(&self, group: &str) -> Vec<String> {
        let mut ordered = vec![group.to_owned()];
        let mut seen: HashSet<String> = HashSet::from([group.to_owned()]);
        let mut frontier = vec![group.to_owned()];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for g in &frontier {
                if let Some(grp) = self.groups.get(g) {
                    for c in &grp.children {
                        if seen.insert(c.clone()) {
                            ordered.push(c.clone());
                            next.push(c.clone());
                        }
                    }
                }
            }
            frontier = next;
        }
        ordered
    }

    /// Every host of a group, including those of its descendants, in
    /// Ansible's order, deduplicated.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for g in self.descendants(group) {
            if let Some(grp) = self.groups.get(&g) {
                for h in &grp.hosts {
                    if seen.insert(h.as_str()) {
                        out.push(h.clone());
                    }
                }
            }
        }
        out
    }

    /// Groups sorted as Ansible merges their variables: by depth, then
    /// `ansible_group_priority`, then name.
    pub fn sort_groups(&self, groups: &mut [String]) {
        groups.sort_by(|a, b| {
            let ka = (
                self.depth.get(a).copied().unwrap_or(0),
                self.groups.get(a).map(|g| g.priority).unwrap_or(1),
            );
            let kb = (
                self.depth.get(b).copied().unwrap_or(0),
                self.groups.get(b).map(|g| g.priority).unwrap_or(1),
            );
            ka.cmp(&kb).then_with(|| a.cmp(b))
        });
    }
}

/// Python's `int(value)` for the values an inventory can hold.
fn python_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => s.trim().replace('_', "").parse::<i64>().ok(),
        _ => None,
    }
}
