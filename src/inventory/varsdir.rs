//! `group_vars/` and `host_vars/` directories (Ansible's `host_group_vars`
//! vars plugin): for an entity NAME, the first of `NAME`, `NAME.yml`,
//! `NAME.yaml`, `NAME.json` that exists is used; a directory is read
//! recursively, its files merged in sorted order.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::error::InventoryError;
use super::yaml;
use crate::vars::{Vars, merge_into};
use crate::yaml::Kind;

const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// The variables found in one base directory's `group_vars/` and `host_vars/`.
#[derive(Debug, Clone, Default)]
pub(crate) struct VarsDir {
    /// The base directory (holding `group_vars/` and `host_vars/`).
    pub dir: PathBuf,
    pub groups: HashMap<String, Vars>,
    pub hosts: HashMap<String, Vars>,
}

impl VarsDir {
    /// Reads the files for the given groups and hosts.
    pub fn load<'a>(
        dir: &Path,
        groups: impl IntoIterator<Item = &'a str>,
        hosts: impl IntoIterator<Item = &'a str>,
    ) -> Result<VarsDir, InventoryError> {
        let mut out = VarsDir {
            dir: dir.to_path_buf(),
            ..VarsDir::default()
        };
        let gdir = dir.join("group_vars");
        if gdir.is_dir() {
            for g in groups {
                if let Some(v) = load_entity(&gdir, g)? {
                    out.groups.insert(g.to_owned(), v);
                }
            }
        }
        let hdir = dir.join("host_vars");
        if hdir.is_dir() {
            for h in hosts {
                if let Some(v) = load_entity(&hdir, h)? {
                    out.hosts.insert(h.to_owned(), v);
                }
            }
        }
        Ok(out)
    }
}

/// The name of every variable that some file of `dir`'s `group_vars/` or
/// `host_vars/` sets, whichever group or host it is for (a group that
/// `group_by` or `add_host` makes at run time has its file read then).
/// Unreadable files are left out.
pub(crate) fn every_name(dir: &Path) -> HashSet<String> {
    let mut files = Vec::new();
    for sub in ["group_vars", "host_vars"] {
        let _ = collect_dir(&dir.join(sub), &mut files);
    }
    files
        .iter()
        .filter_map(|f| load_vars_file(f).ok())
        .flat_map(|vars| vars.into_iter().map(|(k, _)| k))
        .collect()
}

fn load_entity(base: &Path, name: &str) -> Result<Option<Vars>, InventoryError> {
    if name.is_empty() || name.contains('/') || name.contains('\0') || name == "." || name == ".." {
        return Ok(None);
    }
    let mut files = Vec::new();
    for cand in
        std::iter::once(name.to_owned()).chain(EXTENSIONS.iter().map(|e| format!("{name}.{e}")))
    {
        let p = base.join(&cand);
        if p.is_dir() {
            collect_dir(&p, &mut files)?;
            break;
        } else if p.exists() {
            files.push(p);
            break;
        }
    }
    if files.is_empty() {
        return Ok(None);
    }
    let mut vars = Vars::new();
    for f in files {
        merge_into(&mut vars, &load_vars_file(&f)?);
    }
    Ok(Some(vars))
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InventoryError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| InventoryError::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in names {
        if n.starts_with('.') || n.ends_with('~') {
            continue;
        }
        let p = dir.join(&n);
        let ext = Path::new(&n).extension().and_then(|e| e.to_str());
        if p.is_dir() {
            if ext.is_none() {
                collect_dir(&p, out)?;
            }
        } else if p.is_file() && ext.is_none_or(|e| EXTENSIONS.contains(&e)) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads one vars file: a YAML/JSON mapping (an empty file is no variables).
pub(crate) fn load_vars_file(path: &Path) -> Result<Vars, InventoryError> {
    let bytes = std::fs::read(path).map_err(|e| InventoryError::io(path, e))?;
    let bytes = crate::vault::decrypt_file(path, bytes)
        .map_err(|e| InventoryError::file(path, e.kind.to_string()))?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| InventoryError::file(path, "expected UTF-8 text, found invalid bytes"))?;
    match yaml::load(path, &text)? {
        None => Ok(Vars::new()),
        Some(n) => match &n.kind {
            Kind::Map(_) => match n.to_value() {
                serde_json::Value::Object(m) => Ok(m),
                _ => Ok(Vars::new()),
            },
            Kind::Null => Ok(Vars::new()),
            _ => Err(InventoryError::parse(
                path,
                yaml::line(&n),
                format!(
                    "expected a mapping of variables at the top level, found {}",
                    n.kind_name()
                ),
            )),
        },
    }
}
