//! `ansible_local`: the local facts in `/etc/ansible/facts.d/*.fact`
//! (Ansible's default `fact_path`), each read as JSON, else as INI, under
//! its file name without `.fact`; an executable one is run and its output
//! read. Failures become the fact's value (a message), as in Ansible.

use serde_json::{Map, Value, json};

use super::raw::Raw;
use crate::vars::Vars;

/// Marker line that starts one fact file in the `local` section:
/// `::tend-fact:: STATUS PATH`.
const FILE_MARKER: &str = "::tend-fact:: ";

/// Inserts `ansible_local` (a map, empty without local facts).
pub(super) fn local_facts(raw: &Raw<'_>, facts: &mut Vars) {
    let mut local = Map::new();
    let mut current: Option<(String, String, Vec<&str>)> = None;
    let finish = |file: Option<(String, String, Vec<&str>)>, local: &mut Map<String, Value>| {
        if let Some((status, path, lines)) = file {
            let base = path
                .rsplit('/')
                .next()
                .unwrap_or(&path)
                .replace(".fact", "");
            local.insert(base, fact_value(&status, &path, &lines.join("\n")));
        }
    };
    for line in raw.section("local") {
        if let Some(rest) = line.text.strip_prefix(FILE_MARKER) {
            finish(current.take(), &mut local);
            let (status, path) = rest.split_once(' ').unwrap_or(("0", rest));
            current = Some((status.to_string(), path.to_string(), Vec::new()));
        } else if let Some((_, _, lines)) = current.as_mut() {
            lines.push(line.text);
        }
    }
    finish(current.take(), &mut local);
    facts.insert("ansible_local".into(), Value::Object(local));
}

/// One fact file's value: its JSON, else its INI sections, else Ansible's
/// message.
fn fact_value(status: &str, path: &str, text: &str) -> Value {
    if status != "0" {
        return json!(format!(
            "Failure executing fact script ({path}), rc: {status}, err: "
        ));
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    match parse_ini(text) {
        Some(sections) => Value::Object(sections),
        None => json!(format!(
            "error loading facts as JSON or ini - please check content: {path}"
        )),
    }
}

/// Python's `configparser` reading, for what local facts use: `[section]`
/// headers, `key = value` / `key: value` options (keys lower-cased),
/// `#`/`;` comment lines, indented continuation lines. `None` where
/// configparser raises (an option before any section, a line that is no
/// option).
fn parse_ini(text: &str) -> Option<Map<String, Value>> {
    let mut sections: Map<String, Value> = Map::new();
    let mut section: Option<String> = None;
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && let (Some(s), Some(k)) = (&section, &last_key)
        {
            let value = sections.get_mut(s)?.get_mut(k)?;
            let joined = format!("{}\n{trimmed}", value.as_str().unwrap_or_default());
            *value = json!(joined);
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            sections
                .entry(name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            section = Some(name.to_string());
            last_key = None;
            continue;
        }
        let s = section.as_ref()?;
        let split = trimmed.find(['=', ':'])?;
        let key = trimmed[..split].trim().to_lowercase();
        let value = trimmed[split + 1..].trim();
        if let Some(Value::Object(opts)) = sections.get_mut(s) {
            opts.insert(key.clone(), json!(value));
        }
        last_key = Some(key);
    }
    Some(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_reads_as_configparser_does() {
        let v = parse_ini("# c\n[general]\nName = web\nport: 80\n  more\n[empty]\n").unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"general": {"name": "web", "port": "80\nmore"}, "empty": {}})
        );
        assert_eq!(parse_ini("key=1\n"), None);
        assert_eq!(parse_ini("[s]\njunk line\n"), None);
    }

    #[test]
    fn fact_values_are_json_then_ini_then_a_message() {
        assert_eq!(
            fact_value("0", "/f/a.fact", r#"{"x": [1]}"#),
            json!({"x": [1]})
        );
        assert_eq!(
            fact_value("0", "/f/b.fact", "[s]\nk=v"),
            json!({"s": {"k": "v"}})
        );
        assert_eq!(
            fact_value("0", "/f/c.fact", "not facts"),
            json!("error loading facts as JSON or ini - please check content: /f/c.fact")
        );
        assert_eq!(
            fact_value("3", "/f/d.fact", ""),
            json!("Failure executing fact script (/f/d.fact), rc: 3, err: ")
        );
    }
}
