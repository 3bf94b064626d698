//! `lookup()` and `query()`: the lookups that need no plugin code on the target.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, Value};

fn fail(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

fn run(name: &str, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for term in terms {
        let term = term
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| term.to_string());
        match name {
            "env" | "ansible.builtin.env" => {
                out.push(Value::from(std::env::var(&term).unwrap_or_default()))
            }
            "file" | "ansible.builtin.file" => {
                let text = std::fs::read_to_string(&term)
                    .map_err(|e| fail(format!("lookup('file'): could not read '{term}': {e}")))?;
                out.push(Value::from(text.trim_end_matches('\n').to_string()));
            }
            "pipe" | "ansible.builtin.pipe" => {
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
            "items" | "ansible.builtin.items" | "list" => out.push(Value::from(term)),
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
            kwargs.assert_all_used()?;
            let values = run(&name, &flatten_terms(terms))?;
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
    let query = |name: String, terms: Rest<Value>| -> Result<Value, Error> {
        Ok(Value::from(run(&name, &flatten_terms(terms))?))
    };
    env.add_function("query", query);
    env.add_function("q", query);
}
