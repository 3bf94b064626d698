//! Dynamic inventory: an executable run with `--list` that prints Ansible's
//! JSON (`{"group": {"hosts": [...], "vars": {...}, "children": [...]},
//! "_meta": {"hostvars": {...}}}`). Without `_meta.hostvars`, the script is
//! asked for each host with `--host NAME`.

use std::path::Path;
use std::process::{Command, Stdio};

use indexmap::IndexSet;
use serde_json::{Map, Value};

use super::data::Data;
use super::error::InventoryError;

fn run(path: &Path, args: &[&str]) -> Result<Vec<u8>, InventoryError> {
    let cmdline = format!("{} {}", path.display(), args.join(" "));
    let exe = std::path::absolute(path).map_err(|e| InventoryError::io(path, e))?;
    let out = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| InventoryError::Script {
            path: path.to_path_buf(),
            message: format!("cannot run '{cmdline}': {e}"),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(InventoryError::Script {
            path: path.to_path_buf(),
            message: format!(
                "'{cmdline}' failed ({}){}{}",
                out.status,
                if stderr.trim().is_empty() { "" } else { ": " },
                stderr.trim_end()
            ),
        });
    }
    Ok(out.stdout)
}

fn parse_json(path: &Path, what: &str, bytes: &[u8]) -> Result<Value, InventoryError> {
    let text = std::str::from_utf8(bytes).map_err(|_| InventoryError::Script {
        path: path.to_path_buf(),
        message: format!("the output of '{what}' is not UTF-8"),
    })?;
    serde_json::from_str(text).map_err(|e| InventoryError::Script {
        path: path.to_path_buf(),
        message: format!(
            "the output of '{what}' is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ),
    })
}

/// Runs the script and adds what it prints to `data`.
pub(crate) fn parse(data: &mut Data, path: &Path) -> Result<(), InventoryError> {
    let out = run(path, &["--list"])?;
    let v = parse_json(path, "--list", &out)?;
    let err = |m: String| InventoryError::Script {
        path: path.to_path_buf(),
        message: m,
    };
    let Value::Object(top) = v else {
        return Err(err(format!(
            "'--list' must print a JSON object of groups, found {}",
            json_kind(&v)
        )));
    };
    let mut hosts: IndexSet<String> = IndexSet::new();
    let mut meta: Option<&Value> = None;
    for (group, gdata) in &top {
        if group == "_meta" {
            if let Some(hv) = gdata.get("hostvars") {
                meta = Some(hv);
            }
            continue;
        }
        parse_group(data, group, gdata, &mut hosts).map_err(&err)?;
    }
    for host in &hosts {
        let vars = match meta {
            Some(Value::Object(m)) => match m.get(host) {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(v)) => v.clone(),
                Some(other) => {
                    return Err(err(format!(
                        "_meta.hostvars.{host} must be an object of variables, found {}",
                        json_kind(other)
                    )));
                }
            },
            Some(other) => {
                return Err(err(format!(
                    "_meta.hostvars must be an object, found {}",
                    json_kind(other)
                )));
            }
            None => {
                let out = run(path, &["--host", host])?;
                if out.iter().all(u8::is_ascii_whitespace) {
                    Map::new()
                } else {
                    match parse_json(path, &format!("--host {host}"), &out)? {
                        Value::Object(v) => v,
                        other => {
                            return Err(err(format!(
                                "'--host {host}' must print a JSON object of variables, found {}",
                                json_kind(&other)
                            )));
                        }
                    }
                }
            }
        };
        for (k, v) in vars {
            data.set_host_var(host, &k, v).map_err(&err)?;
        }
    }
    Ok(())
}

fn parse_group(
    data: &mut Data,
    group: &str,
    gdata: &Value,
    hosts: &mut IndexSet<String>,
) -> Result<(), String> {
    data.add_group(group)?;
    let (host_list, vars, children): (Option<&Value>, Option<&Value>, Option<&Value>);
    let synthetic;
    match gdata {
        Value::Object(m)
            if ["hosts", "vars", "children"]
                .iter()
                .any(|k| m.contains_key(*k)) =>
        {
            host_list = m.get("hosts");
            vars = m.get("vars");
            children = m.get("children");
        }
        Value::Object(_) => {
            // Old shorthand: {"group": {var: value}} is a host of the same name.
            synthetic = Value::Array(vec![Value::String(group.to_owned())]);
            host_list = Some(&synthetic);
            vars = Some(gdata);
            children = None;
        }
        other => {
            host_list = Some(other);
            vars = None;
            children = None;
        }
    }
    if let Some(hl) = host_list {
        let Value::Array(items) = hl else {
            return Err(format!(
                "group '{group}': 'hosts' must be a list of host names, found {}",
                json_kind(hl)
            ));
        };
        for h in items {
            let Value::String(h) = h else {
                return Err(format!(
                    "group '{group}': host names must be strings, found {}",
                    json_kind(h)
                ));
            };
            hosts.insert(h.clone());
            data.add_host(h, Some(group), None)?;
        }
    }
    if let Some(v) = vars {
        let Value::Object(m) = v else {
            return Err(format!(
                "group '{group}': 'vars' must be an object, found {}",
                json_kind(v)
            ));
        };
        for (k, val) in m {
            data.set_group_var(group, k, val.clone())?;
        }
    }
    if let Some(c) = children {
        let names: Vec<String> = match c {
            Value::Array(items) => items
                .iter()
                .map(|x| {
                    x.as_str().map(str::to_owned).ok_or_else(|| {
                        format!(
                            "group '{group}': child group names must be strings, found {}",
                            json_kind(x)
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            Value::Object(m) => m.keys().cloned().collect(),
            Value::Null => Vec::new(),
            other => {
                return Err(format!(
                    "group '{group}': 'children' must be a list of group names, found {}",
                    json_kind(other)
                ));
            }
        };
        for child in names {
            data.add_group(&child)?;
            data.add_child(group, &child)?;
        }
    }
    Ok(())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
