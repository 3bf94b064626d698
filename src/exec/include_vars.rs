//! `include_vars`: variables loaded from controller files while the play runs.

use super::builtin::BuiltinResult;
use crate::compile::actions::IncludeVarsArgs;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Loads the file or directory `args` name; the variables become the host's
/// (or go under `name`), as Ansible's `ansible_facts` of the action.
pub(crate) fn run(args: &Value, role: Option<&Path>, book_dir: &Path) -> BuiltinResult {
    match load(args, role, book_dir) {
        Ok((vars, files)) => BuiltinResult {
            result: json!({
                "changed": false,
                "failed": false,
                "ansible_facts": vars.clone(),
                "ansible_included_var_files": files,
            }),
            failed: false,
            skipped: false,
            facts: vars,
            end_host: false,
            verbose_always: false,
        },
        Err(msg) => BuiltinResult {
            result: json!({"changed": false, "failed": true, "msg": msg}),
            failed: true,
            skipped: false,
            facts: Map::new(),
            end_host: false,
            verbose_always: false,
        },
    }
}

/// A relative name: the role's `vars/`, the role, the playbook's `vars/`,
/// the playbook's directory (the first that has it).
fn find(name: &str, role: Option<&Path>, book_dir: &Path) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let mut bases: Vec<PathBuf> = Vec::new();
    if let Some(r) = role {
        bases.push(r.join("vars"));
        bases.push(r.to_path_buf());
    }
    bases.push(book_dir.join("vars"));
    bases.push(book_dir.to_path_buf());
    bases.into_iter().map(|b| b.join(p)).find(|c| c.exists())
}

fn strings(v: &Option<Value>) -> Option<Vec<String>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.iter().map(super::task::text).collect()),
        Some(Value::String(s)) => Some(
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
        ),
        Some(other) => Some(vec![super::task::text(other)]),
    }
}

type Loaded = (Map<String, Value>, Vec<String>);

fn load(args: &Value, role: Option<&Path>, book_dir: &Path) -> Result<Loaded, String> {
    let a: IncludeVarsArgs = tend_modules::args::parse(args).map_err(|e| e.to_string())?;
    let mut files: Vec<PathBuf> = Vec::new();
    match (&a.file, &a.dir) {
        (Some(_), Some(_)) => {
            return Err(
                "You are mixing file only and dir only arguments, these are incompatible".into(),
            );
        }
        (Some(file), None) => {
            let path = find(file, role, book_dir)
                .ok_or_else(|| format!("Could not find or access '{file}'"))?;
            files.push(path);
        }
        (None, Some(dir)) => {
            let root = find(dir, role, book_dir)
                .filter(|p| p.is_dir())
                .ok_or_else(|| format!("{dir} directory does not exist"))?;
            let extensions = strings(&a.extensions)
                .unwrap_or_else(|| vec!["json".into(), "yaml".into(), "yml".into()]);
            let ignore = strings(&a.ignore_files).unwrap_or_default();
            let matching = a
                .files_matching
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|e| format!("files_matching: {e}"))?;
            let depth = a.depth.unwrap_or(0).max(0) as usize;
            walk(&root, 1, depth, &mut |path| {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if ignore.contains(&name) {
                    return Ok(());
                }
                if let Some(re) = &matching
                    && !re.is_match(&name)
                {
                    return Ok(());
                }
                let ext = path
                    .extension()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !extensions.contains(&ext) {
                    if a.ignore_unknown_extensions {
                        return Ok(());
                    }
                    return Err(format!(
                        "{} does not have a valid extension: {}",
                        path.display(),
                        extensions.join(", ")
                    ));
                }
                files.push(path.to_path_buf());
                Ok(())
            })?;
        }
        (None, None) => {
            return Err("one of the following is required: file, dir".into());
        }
    }
    let mut vars = Map::new();
    for f in &files {
        vars.extend(super::load_vars_file(f)?);
    }
    let vars = match &a.name {
        Some(name) => {
            let mut m = Map::new();
            m.insert(name.clone(), Value::Object(vars));
            m
        }
        None => vars,
    };
    Ok((
        vars,
        files.iter().map(|f| f.display().to_string()).collect(),
    ))
}

/// The files under `dir`, sorted by name, subdirectories after the files of
/// their parent, at most `depth` levels deep (0: no limit).
fn walk(
    dir: &Path,
    level: usize,
    depth: usize,
    visit: &mut dyn FnMut(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for file in entries.iter().filter(|p| p.is_file()) {
        visit(file)?;
    }
    if depth == 0 || level < depth {
        for sub in entries.iter().filter(|p| p.is_dir()) {
            walk(sub, level + 1, depth, visit)?;
        }
    }
    Ok(())
}
