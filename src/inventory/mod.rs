//! Inventories in Ansible's formats: INI, YAML, directories of sources,
//! dynamic inventory scripts and `host1,host2,` lists; `group_vars/` and
//! `host_vars/`; host patterns; and `ansible-inventory`'s `--list`,
//! `--graph` and `--host` views.
//!
//! The semantics follow ansible-core: the same group order, host order,
//! variable precedence and pattern evaluation order. Known differences are
//! stricter errors: a source that cannot be parsed is an error naming the
//! file and line (Ansible only warns and carries on without it).

mod data;
mod error;
mod ini;
mod output;
mod pattern;
pub(crate) mod pyliteral;
mod range;
mod script;
mod varsdir;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use indexmap::IndexMap;
use serde_json::Value;

pub use error::InventoryError;
pub use output::ansible_json;

use crate::vars::{Vars, merge_into};
use data::{Data, LOCALHOST_NAMES};
use varsdir::VarsDir;

/// File name endings skipped when a directory is an inventory source
/// (Ansible's `INVENTORY_IGNORE_EXTS`).
const IGNORED_ENDINGS: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// A first line that starts a YAML mapping: `key:` or `key: value`, the key
/// without blanks, `=` or brackets (an INI host line has none of this shape).
static YAML_KEY_LINE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r#"^(?:"[^"]*"|'[^']*'|[^\s=\[\]#'"]+)\s*:(?:\s|$)"#).expect("valid regex")
});

/// A loaded inventory: groups, hosts, their variables, and the
/// `group_vars/`/`host_vars/` found beside the sources and the playbook.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    data: Data,
    /// Directories whose group_vars/host_vars belong to the inventory, in
    /// source order.
    inventory_vars: Vec<VarsDir>,
    /// Directories added by [`Inventory::load_vars_dirs`], in call order.
    playbook_vars: Vec<VarsDir>,
    /// The `-i` sources it was loaded from, for [`Inventory::reloaded`].
    sources: Vec<PathBuf>,
}

impl Inventory {
    /// Loads and merges several `-i` sources in order: an INI file, a YAML
    /// file, a directory (every file in it, sorted, skipping hidden files,
    /// `*.retry`/`~`/`.orig`/`.md`/... and the `group_vars`/`host_vars`
    /// subdirectories), an executable file (dynamic inventory: run with
    /// `--list`, `_meta.hostvars` used when present, `--host NAME` otherwise),
    /// or a comma-separated host list (`"a,b,"`). No sources gives an empty
    /// inventory (only the implicit localhost can be targeted).
    pub fn load(sources: &[PathBuf]) -> Result<Inventory, InventoryError> {
        let mut data = Data::default();
        let mut var_dirs: Vec<PathBuf> = Vec::new();
        for src in sources {
            if !src.exists() {
                let text = src.to_string_lossy();
                if text.contains(',') {
                    parse_host_list(&mut data, &text)?;
                    continue;
                }
                return Err(InventoryError::NotFound { path: src.clone() });
            }
            if src.is_dir() {
                parse_dir(&mut data, src)?;
                var_dirs.push(src.clone());
            } else {
                parse_file(&mut data, src)?;
                var_dirs.push(match src.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                });
            }
        }
        data.current_source = None;
        data.reconcile();
        let mut inv = Inventory {
            data,
            inventory_vars: Vec::new(),
            playbook_vars: Vec::new(),
            sources: sources.to_vec(),
        };
        for d in var_dirs {
            let vd = inv.load_vars_dir(&d)?;
            inv.inventory_vars.push(vd);
        }
        Ok(inv)
    }

    /// The inventory read again from its sources (a dynamic inventory runs
    /// again), with the playbook directories' variables read again too:
    /// `meta: refresh_inventory`. Hosts added at run time are gone, as in
    /// Ansible.
    pub fn reloaded(&self) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::load(&self.sources)?;
        for vd in &self.playbook_vars {
            inv.load_vars_dirs(&vd.dir)?;
        }
        Ok(inv)
    }

    /// Reads `group_vars/` and `host_vars/` in `dir` (the playbook's
    /// directory). They take precedence over the ones beside the inventory;
    /// a later call takes precedence over an earlier one.
    pub fn load_vars_dirs(&mut self, dir: &Path) -> Result<(), InventoryError> {
        let vd = self.load_vars_dir(dir)?;
        self.playbook_vars.push(vd);
        Ok(())
    }

    fn load_vars_dir(&self, dir: &Path) -> Result<VarsDir, InventoryError> {
        VarsDir::load(
            dir,
            self.data.groups.keys().map(String::as_str),
            self.data
                .hosts
                .keys()
                .map(String::as_str)
                .chain(LOCALHOST_NAMES.iter().copied()),
        )
    }

    /// Hosts matching an Ansible host pattern, in inventory order,
    /// deduplicated. `a:b` and `a,b` are unions, `a:&b` intersections,
    /// `a:!b` exclusions (unions first, then `&`, then `!`); globs,
    /// `~regex`, `group[0]`/`group[1:3]`/`group[-1]` subscripts and `@file`
    /// (a file of patterns, one per line) work as in Ansible. `localhost`
    /// matches the implicit localhost when the inventory has none. A pattern
    /// matching nothing gives an empty list; a malformed one is an error.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        let patterns = pattern::expand_files(pattern::split_host_pattern(pattern))?;
        pattern::evaluate(&self.data, &patterns)
    }

    /// [`Inventory::select`] restricted by a `--limit` pattern (hosts outside
    /// the limit are dropped; the order stays that of `pattern`).
    pub fn select_with_limit(
        &self,
        pattern: &str,
        limit: Option<&str>,
    ) -> Result<Vec<String>, InventoryError> {
        let mut hosts = self.select(pattern)?;
        if let Some(limit) = limit {
            let patterns = pattern::expand_files(pattern::split_host_pattern(limit))?;
            if !patterns.is_empty() {
                let allowed: std::collections::HashSet<String> =
                    pattern::evaluate(&self.data, &patterns)?
                        .into_iter()
                        .collect();
                hosts.retain(|h| allowed.contains(h));
            }
        }
        Ok(hosts)
    }

    /// True for a name that only exists as the implicit localhost.
    pub fn is_implicit_localhost(&self, host: &str) -> bool {
        LOCALHOST_NAMES.contains(&host) && !self.data.hosts.contains_key(host)
    }

    /// Variables of one host, merged at Ansible's precedence (later wins):
    /// inventory-source vars of `all`, then of the host's other groups
    /// sorted by depth (parents before children), `ansible_group_priority`,
    /// then name; `group_vars/all` beside the inventory, then beside the
    /// playbook; `group_vars/<group>` beside the inventory, then beside the
    /// playbook (same group order); the host's inventory-source vars;
    /// `host_vars/<host>` beside the inventory, then beside the playbook.
    /// Magic variables are not included (see [`Inventory::magic_vars`]).
    /// An unknown host has no variables; the implicit localhost has
    /// `ansible_connection: local` plus what applies to `all`.
    pub fn host_vars(&self, host: &str) -> Vars {
        let implicit = self.is_implicit_localhost(host);
        if !implicit && !self.data.hosts.contains_key(host) {
            return Vars::new();
        }
        let mut groups: Vec<String> = self
            .data
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        self.data.sort_groups(&mut groups);
        let mut out = Vars::new();
        merge_into(&mut out, &self.data.groups["all"].vars);
        for g in &groups {
            merge_into(&mut out, &self.data.groups[g].vars);
        }
        for vd in self.inventory_vars.iter().chain(&self.playbook_vars) {
            if let Some(v) = vd.groups.get("all") {
                merge_into(&mut out, v);
            }
        }
        for vd in self.inventory_vars.iter().chain(&self.playbook_vars) {
            for g in &groups {
                if let Some(v) = vd.groups.get(g) {
                    merge_into(&mut out, v);
                }
            }
        }
        if implicit {
            out.insert("ansible_connection".into(), Value::String("local".into()));
        } else {
            merge_into(&mut out, &self.data.hosts[host].vars);
        }
        for vd in self.inventory_vars.iter().chain(&self.playbook_vars) {
            if let Some(v) = vd.hosts.get(host) {
                merge_into(&mut out, v);
            }
        }
        out
    }

    /// The name of every variable that some host or group of the inventory
    /// sets (inventory sources, and every file of `group_vars/` and
    /// `host_vars/`, for groups made at run time too), whichever host it
    /// applies to: what a compile-time check may take as defined.
    pub fn var_names(&self) -> HashSet<String> {
        let sources = self
            .data
            .groups
            .values()
            .map(|g| &g.vars)
            .chain(self.data.hosts.values().map(|h| &h.vars));
        let mut names: HashSet<String> = sources.flat_map(|vars| vars.keys().cloned()).collect();
        for vd in self.inventory_vars.iter().chain(&self.playbook_vars) {
            names.extend(varsdir::every_name(&vd.dir));
        }
        names
    }

    /// The host's groups, sorted, without `all` (the `group_names` magic
    /// variable). As in Ansible, a host in no other group is in `ungrouped`,
    /// which is listed; the implicit localhost is in no group.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut g: Vec<String> = self
            .data
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        g.sort();
        g
    }

    /// The `groups` magic variable: every group (including `all` and
    /// `ungrouped`) to its hosts, descendants included, in inventory order.
    pub fn groups(&self) -> IndexMap<String, Vec<String>> {
        self.data
            .groups
            .keys()
            .map(|g| (g.clone(), self.data.group_hosts(g)))
            .collect()
    }

    /// True if the host is in the inventory (the implicit localhost is not).
    pub fn contains_host(&self, host: &str) -> bool {
        self.data.hosts.contains_key(host)
    }

    /// True if the group is in the inventory.
    pub fn contains_group(&self, group: &str) -> bool {
        self.data.groups.contains_key(group)
    }

    /// Every host, in the order `all` yields them.
    pub fn hosts(&self) -> Vec<String> {
        self.data.group_hosts("all")
    }

    /// The per-host magic variables the inventory knows:
    /// `inventory_hostname`, `inventory_hostname_short`, `group_names`,
    /// `inventory_file` and `inventory_dir` (null when the host came from a
    /// host list or is implicit).
    pub fn magic_vars(&self, host: &str) -> Vars {
        let mut m = Vars::new();
        m.insert("inventory_hostname".into(), Value::String(host.to_owned()));
        let is_ip = host.contains(':')
            || (host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u8>().is_ok()));
        let short = if is_ip {
            host.to_owned()
        } else {
            host.split('.').next().unwrap_or(host).to_owned()
        };
        m.insert("inventory_hostname_short".into(), Value::String(short));
        m.insert(
            "group_names".into(),
            Value::Array(
                self.group_names(host)
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
        );
        let src = self.data.hosts.get(host).and_then(|h| h.source.clone());
        let (file, dir) = match src {
            Some(p) => {
                let dir = p.parent().map(|d| {
                    if d.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        d.to_path_buf()
                    }
                });
                (
                    Value::String(p.display().to_string()),
                    dir.map(|d| Value::String(d.display().to_string()))
                        .unwrap_or(Value::Null),
                )
            }
            None => (Value::Null, Value::Null),
        };
        m.insert("inventory_file".into(), file);
        m.insert("inventory_dir".into(), dir);
        m
    }

    /// Warnings collected while loading (skipped YAML keys, names used both
    /// as a host and a group, ...), in order.
    pub fn warnings(&self) -> &[String] {
        &self.data.warnings
    }

    /// Adds a host at run time, as Ansible's `add_host` does: a new host
    /// goes directly into `all` (and so into `ungrouped` unless `groups`
    /// names others); `vars` are merged over its inventory variables; each
    /// of `groups` is created under `all` when new and gets the host.
    /// Returns whether anything changed.
    pub fn add_host(
        &mut self,
        host: &str,
        groups: &[String],
        vars: &Vars,
    ) -> Result<bool, InventoryError> {
        let err = InventoryError::Invalid;
        let mut changed = false;
        let mut new_names = false;
        if !self.data.hosts.contains_key(host) {
            let saved = self.data.current_source.take();
            self.data.add_host(host, Some("all"), None).map_err(err)?;
            self.data.current_source = saved;
            changed = true;
            new_names = true;
        }
        for (k, v) in vars {
            if self.data.hosts[host].vars.get(k) != Some(v) {
                self.data.set_host_var(host, k, v.clone()).map_err(err)?;
                changed = true;
            }
        }
        for g in groups {
            let created = self.create_group(g)?;
            new_names |= created;
            changed |= created | self.join_group(host, g)?;
        }
        if changed {
            self.refresh(new_names)?;
        }
        Ok(changed)
    }

    /// Puts an existing host into `group`, as Ansible's `group_by` does:
    /// the group and its `parents` are created when new (top-level groups go
    /// under `all`) and the group becomes a child of each parent. Returns
    /// whether anything changed.
    pub fn add_to_group(
        &mut self,
        host: &str,
        group: &str,
        parents: &[String],
    ) -> Result<bool, InventoryError> {
        let err = InventoryError::Invalid;
        if !self.data.hosts.contains_key(host) {
            return Err(err(format!("{host} cannot be matched in inventory")));
        }
        let mut changed = false;
        let mut new_names = self.create_group(group)?;
        for p in parents {
            let created = self.create_group(p)?;
            new_names |= created;
            changed |= created;
            if !self.data.groups[p.as_str()]
                .children
                .iter()
                .any(|c| c == group)
            {
                self.data.add_child(p, group).map_err(err)?;
                changed = true;
            }
        }
        changed |= self.join_group(host, group)?;
        if changed || new_names {
            self.refresh(new_names)?;
        }
        Ok(changed)
    }

    /// Creates a group if it is new; true if it was.
    fn create_group(&mut self, group: &str) -> Result<bool, InventoryError> {
        if self.data.groups.contains_key(group) {
            return Ok(false);
        }
        self.data
            .add_group(group)
            .map_err(InventoryError::Invalid)?;
        Ok(true)
    }

    /// Puts a host directly in a group; true if it was not there yet.
    fn join_group(&mut self, host: &str, group: &str) -> Result<bool, InventoryError> {
        if self.data.groups[group].hosts.iter().any(|h| h == host) {
            return Ok(false);
        }
        self.data
            .add_host(host, Some(group), None)
            .map_err(InventoryError::Invalid)?;
        Ok(true)
    }

    /// Re-establishes the inventory's rules after a run-time change; the
    /// `group_vars/`/`host_vars/` files are read again when a new host or
    /// group name may have some.
    fn refresh(&mut self, new_names: bool) -> Result<(), InventoryError> {
        self.data.reconcile();
        if !new_names {
            return Ok(());
        }
        let inv: Vec<PathBuf> = self.inventory_vars.iter().map(|v| v.dir.clone()).collect();
        let play: Vec<PathBuf> = self.playbook_vars.iter().map(|v| v.dir.clone()).collect();
        self.inventory_vars = inv
            .iter()
            .map(|d| self.load_vars_dir(d))
            .collect::<Result<_, _>>()?;
        self.playbook_vars = play
            .iter()
            .map(|d| self.load_vars_dir(d))
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

/// Ansible's `parse_address` without ranges: a host name or address and
/// the port written after it (`db1:2222`); `None` when it is neither.
pub fn parse_address(address: &str) -> Option<(String, Option<u64>)> {
    range::parse_address(address, false)
}

fn parse_host_list(data: &mut Data, text: &str) -> Result<(), InventoryError> {
    data.current_source = None;
    for h in text.split(',') {
        let h = h.trim();
        if h.is_empty() {
            continue;
        }
        let (host, port) = range::parse_address(h, false).unwrap_or((h.to_owned(), None));
        if !data.hosts.contains_key(&host) {
            data.add_host(&host, Some("ungrouped"), port)
                .map_err(|m| InventoryError::file(Path::new(text), m))?;
        }
    }
    Ok(())
}

fn ignored_entry(name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "host_vars" | "group_vars" | "vars_plugins")
        || IGNORED_ENDINGS.iter().any(|e| name.ends_with(e))
}

fn parse_dir(data: &mut Data, dir: &Path) -> Result<(), InventoryError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| InventoryError::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| !ignored_entry(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            parse_dir(data, &p)?;
        } else if p.is_file() {
            parse_file(data, &p)?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Script,
    Yaml,
    Ini,
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// Which plugin reads a file: executables with a `#!` line (or ELF) are
/// scripts; `.yml`/`.yaml`/`.json` are YAML; otherwise the first
/// significant line decides (`key:` or `---` means YAML, anything else INI).
fn detect(path: &Path, bytes: &[u8]) -> Format {
    if is_executable(path) && (bytes.starts_with(b"#!") || bytes.starts_with(b"\x7fELF")) {
        return Format::Script;
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml" | "json") => return Format::Yaml,
        Some("ini") => return Format::Ini,
        _ => {}
    }
    let text = String::from_utf8_lossy(bytes);
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let yamlish = l == "---" || l.starts_with('{') || YAML_KEY_LINE.is_match(l);
        return if yamlish { Format::Yaml } else { Format::Ini };
    }
    Format::Ini
}

fn parse_file(data: &mut Data, path: &Path) -> Result<(), InventoryError> {
    data.current_source = Some(path.to_path_buf());
    let bytes = std::fs::read(path).map_err(|e| InventoryError::io(path, e))?;
    // A vault-encrypted inventory file is decrypted first (an executable
    // one is a script, run as is).
    let bytes = if crate::vault::is_encrypted(&bytes) {
        crate::vault::decrypt_file(path, bytes)
            .map_err(|e| InventoryError::file(path, e.kind.to_string()))?
            .to_vec()
    } else {
        bytes
    };
    match detect(path, &bytes) {
        Format::Script => script::parse(data, path),
        Format::Ini => ini::parse(data, path, &bytes),
        Format::Yaml => {
            let text = String::from_utf8(bytes).map_err(|_| {
                InventoryError::file(path, "expected UTF-8 text, found invalid bytes")
            })?;
            yaml::parse(data, path, &text)
        }
    }
}
