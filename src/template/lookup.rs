//! `lookup()` and `query()`: the lookups that need no plugin code on the target.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, Value};

static SEARCH_DIRS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Directories searched for relative paths in `lookup('file')` (the
/// playbook's `files/`, then the playbook's directory), set at run start.
pub fn set_search_dirs(dirs: Vec<std::path::PathBuf>) {
    if let Ok(mut d) = SEARCH_DIRS.lock() {
        *d = dirs;
    }
}

/// The directories [`set_search_dirs`] set last.
pub fn search_dirs() -> Vec<std::path::PathBuf> {
    SEARCH_DIRS.lock().map(|d| d.clone()).unwrap_or_default()
}

fn find_file(term: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(term);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let dirs = search_dirs();
    dirs.iter()
        .map(|d| d.join(p))
        .find(|c| c.exists())
        .unwrap_or_else(|| p.to_path_buf())
}

fn fail(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

fn run(name: &str, terms: &[Value], default: Option<&Value>) -> Result<Vec<Value>, Error> {
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let mut out = Vec::new();
    for value in terms {
        let term = value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        match short {
            "env" => out.push(match std::env::var(&term) {
                Ok(v) => Value::from(v),
                Err(_) => default.cloned().unwrap_or_else(|| Value::from("")),
            }),
            "file" => {
                let text = std::fs::read_to_string(find_file(&term))
                    .map_err(|e| fail(format!("lookup('file'): could not read '{term}': {e}")))?;
                out.push(Value::from(text.trim_end_matches('\n').to_string()));
            }
            "pipe" => {
                let output = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&term)
                    .output()
                    .map_err(|e| fail(format!("lookup('pipe'): could not run '{term}': {e}")))?;
                if !output.status.success() {
                    return Err(fail(format!(
                        "lookup('pipe'): command '{term}' failed with {}",
                        output.status
                    )));
                }
                out.push(Value::from(
                    String::from_utf8_lossy(&output.stdout)
                        .trim_end()
                        .to_string(),
                ));
            }
            "items" | "list" => out.push(value.clone()),
            other => {
                return Err(fail(format!(
                    "lookup plugin '{other}' is not supported yet"
                )));
            }
        }
    }
    Ok(out)
}

fn flatten_terms(terms: Rest<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for t in terms.iter() {
        match t.try_iter() {
            Ok(iter) if t.as_str().is_none() && t.kind() == minijinja::value::ValueKind::Seq => {
                out.extend(iter)
            }
            _ => out.push(t.clone()),
        }
    }
    out
}

/// Registers `lookup`, `query` and `q`.
pub fn register(env: &mut Environment<'_>) {
    env.add_function(
        "lookup",
        |name: String, terms: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
            let wantlist: Option<bool> = kwargs.get("wantlist")?;
            let _: Option<Value> = kwargs.get("errors")?;
            let default: Option<Value> = kwargs.get("default")?;
            kwargs.assert_all_used()?;
            let values = run(&name, &flatten_terms(terms), default.as_ref())?;
            if wantlist.unwrap_or(false) {
                return Ok(Value::from(values));
            }
            Ok(match values.len() {
                1 => values.into_iter().next().unwrap_or_default(),
                _ => Value::from(
                    values
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            })
        },
    );
    let query = |name: String, terms: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
        let default: Option<Value> = kwargs.get("default")?;
        let _: Option<Value> = kwargs.get("errors")?;
        kwargs.assert_all_used()?;
        Ok(Value::from(run(
            &name,
            &flatten_terms(terms),
            default.as_ref(),
        )?))
    };
    env.add_function("query", query);
    env.add_function("q", query);
}
