//! Ansible's YAML inventory format:
//! `all: {hosts: {name: {vars...}}, vars: {...}, children: {group: {...}}}`,
//! read with [`crate::yaml`] (YAML 1.1 as PyYAML reads it, tags, positions).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::data::Data;
use super::error::InventoryError;
use super::range::expand_host_pattern;
use crate::diagnostic::Diagnostic;
use crate::yaml::{Kind, Node, SourceFile};

static AT_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*at line \d+, column \d+\s*$").expect("valid regex"));

/// Parses a YAML (or JSON) document; `None` when the document is empty.
pub(crate) fn load(path: &Path, text: &str) -> Result<Option<Node>, InventoryError> {
    let file = Arc::new(SourceFile {
        path: path.to_path_buf(),
        text: text.to_owned(),
    });
    let mut docs = crate::yaml::parse(file)
        .map_err(|d| syntax_error(path, &d))?
        .into_iter();
    let first = docs.next();
    match docs.next() {
        // PyYAML's `load` reads exactly one document.
        Some(second) => Err(InventoryError::Syntax {
            path: path.to_path_buf(),
            line: line(&second),
            column: second.span.col as usize,
            message: "invalid YAML: expected a single document, found another one".into(),
        }),
        None => Ok(first),
    }
}

/// The parser's complaint as an inventory error at its line and column.
fn syntax_error(path: &Path, d: &Diagnostic) -> InventoryError {
    let msg = d
        .message
        .strip_prefix("YAML syntax error: ")
        .unwrap_or(&d.message);
    let msg = AT_LINE.replace(msg, "");
    match &d.span {
        Some(s) if s.line > 0 => InventoryError::Syntax {
            path: path.to_path_buf(),
            line: s.line as usize,
            column: s.col as usize,
            message: format!("invalid YAML: {msg}"),
        },
        _ => InventoryError::file(path, format!("invalid YAML: {msg}")),
    }
}

/// The 1-based line a node starts on.
pub(crate) fn line(n: &Node) -> usize {
    n.span.line as usize
}

/// A mapping key (or a scalar shown in a message) as text.
fn key(n: &Node) -> String {
    n.key_text().unwrap_or_else(|| n.to_value().to_string())
}

/// A mapping's entries as PyYAML builds its dict: a repeated key keeps its
/// first place and its last value.
fn entries(map: &[(Node, Node)]) -> Vec<(&Node, &Node)> {
    let mut out: Vec<(&Node, &Node)> = Vec::with_capacity(map.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(map.len());
    for (k, v) in map {
        match seen.entry(key(k)) {
            Entry::Occupied(e) => out[*e.get()].1 = v,
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push((k, v));
            }
        }
    }
    out
}

/// Parses a YAML inventory file into `data`.
pub(crate) fn parse(data: &mut Data, path: &Path, text: &str) -> Result<(), InventoryError> {
    let Some(root) = load(path, text)? else {
        return Err(InventoryError::file(
            path,
            "the YAML inventory is empty; expected a mapping of groups such as 'all:'",
        ));
    };
    let Some(groups) = root.as_map() else {
        return Err(InventoryError::parse(
            path,
            line(&root),
            format!(
                "expected a mapping of groups at the top level (such as 'all:'), found {}",
                root.kind_name()
            ),
        ));
    };
    let groups = entries(groups);
    if let Some((k, v)) = groups.iter().find(|(k, _)| k.as_str() == Some("plugin")) {
        return Err(InventoryError::parse(
            path,
            line(k),
            format!(
                "this is an inventory plugin configuration (plugin: {}), not a YAML inventory; inventory plugins are not supported",
                key(v)
            ),
        ));
    }
    for (k, v) in groups {
        parse_group(data, path, k, v)?;
    }
    Ok(())
}

fn group_name(path: &Path, key: &Node) -> Result<String, InventoryError> {
    match &key.kind {
        Kind::Str(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(InventoryError::parse(
            path,
            line(key),
            format!(
                "expected a group name (a non-empty string), found {}",
                key.kind_name()
            ),
        )),
    }
}

fn parse_group(
    data: &mut Data,
    path: &Path,
    name_node: &Node,
    value: &Node,
) -> Result<String, InventoryError> {
    let name = group_name(path, name_node)?;
    let at = |n: &Node, m: String| InventoryError::parse(path, line(n), m);
    let sections = match &value.kind {
        Kind::Null => {
            data.add_group(&name).map_err(|m| at(name_node, m))?;
            return Ok(name);
        }
        Kind::Map(e) => entries(e),
        _ => {
            data.warnings.push(format!(
                "{}:{}: skipping '{name}': expected a group definition (a mapping or nothing), found {}",
                path.display(),
                line(value),
                value.kind_name()
            ));
            return Ok(name);
        }
    };
    data.add_group(&name).map_err(|m| at(name_node, m))?;
    for (k, v) in sections {
        let section = key(k);
        let is_section = matches!(section.as_str(), "vars" | "children" | "hosts");
        let shorthand;
        let items = match (&v.kind, is_section) {
            // A plain string is allowed as shorthand for a one-entry mapping.
            (Kind::Str(_), true) => {
                shorthand = Node {
                    kind: Kind::Null,
                    tag: None,
                    ..v.clone()
                };
                vec![(v, &shorthand)]
            }
            (Kind::Map(m), _) => entries(m),
            (Kind::Null, _) => continue,
            (_, true) => {
                return Err(at(
                    v,
                    format!(
                        "expected a mapping for '{section}' of group '{name}', found {}",
                        v.kind_name()
                    ),
                ));
            }
            (_, false) => {
                data.warnings.push(format!(
                    "{}:{}: skipping key '{section}' in group '{name}': it is {}, not a mapping",
                    path.display(),
                    line(k),
                    v.kind_name()
                ));
                continue;
            }
        };
        match section.as_str() {
            "vars" => {
                for (vk, vv) in items {
                    data.set_group_var(&name, &key(vk), vv.to_value())
                        .map_err(|m| at(vk, m))?;
                }
            }
            "children" => {
                for (ck, cv) in items {
                    let child = parse_group(data, path, ck, cv)?;
                    if data.groups.contains_key(&child) {
                        data.add_child(&name, &child).map_err(|m| at(ck, m))?;
                    }
                }
            }
            "hosts" => {
                for (hk, hv) in items {
                    parse_host(data, path, &name, hk, hv)?;
                }
            }
            _ => {
                data.warnings.push(format!(
                    "{}:{}: skipping unexpected key '{section}' in group '{name}'; only 'vars', 'children' and 'hosts' are valid",
                    path.display(),
                    line(k)
                ));
            }
        }
    }
    Ok(name)
}

/// One entry of a group's `hosts:`: a host pattern and its variables.
fn parse_host(
    data: &mut Data,
    path: &Path,
    group: &str,
    hk: &Node,
    hv: &Node,
) -> Result<(), InventoryError> {
    let at = |n: &Node, m: String| InventoryError::parse(path, line(n), m);
    let Some(pattern) = hk.as_str() else {
        return Err(at(
            hk,
            format!(
                "expected a host name (a string), found {}; quote numbers such as '10.0.0.1' or '1234'",
                hk.kind_name()
            ),
        ));
    };
    let (hosts, port) = expand_host_pattern(pattern).map_err(|m| at(hk, m))?;
    let vars: Vec<(String, serde_json::Value)> = match &hv.kind {
        Kind::Null => Vec::new(),
        Kind::Map(vs) => entries(vs)
            .into_iter()
            .map(|(a, b)| (key(a), b.to_value()))
            .collect(),
        _ => {
            return Err(at(
                hv,
                format!(
                    "expected a mapping of variables for host '{pattern}', found {}",
                    hv.kind_name()
                ),
            ));
        }
    };
    for h in &hosts {
        data.add_host(h, Some(group), port).map_err(|m| at(hk, m))?;
        for (vk, vv) in &vars {
            data.set_host_var(h, vk, vv.clone())
                .map_err(|m| at(hk, m))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load_inv(text: &str) -> Result<Data, InventoryError> {
        let mut d = Data::default();
        parse(&mut d, Path::new("inv.yml"), text)?;
        d.reconcile();
        Ok(d)
    }

    #[test]
    fn nested_groups_hosts_vars_and_ranges() {
        let d = load_inv(
            "\
all:
  vars:
    ntp: time.example.com
  hosts:
    bastion:
  children:
    web:
      hosts:
        web[01:02].lan:
          http_port: 8080
        web03.lan:2222:
      vars:
        tier: front
        mode: 0644
        answer: yes
        letter: y
    db:
      children:
        pg:
          hosts:
            pg1: {role: primary}
",
        )
        .unwrap();
        assert_eq!(d.groups["all"].children, vec!["ungrouped", "web", "db"]);
        assert_eq!(d.groups["db"].children, vec!["pg"]);
        assert_eq!(
            d.groups["web"].hosts,
            vec!["web01.lan", "web02.lan", "web03.lan"]
        );
        assert_eq!(d.groups["all"].hosts, vec!["bastion"]);
        assert_eq!(d.groups["ungrouped"].hosts, vec!["bastion"]);
        assert_eq!(d.hosts["web02.lan"].vars["http_port"], json!(8080));
        assert_eq!(d.hosts["web03.lan"].vars["ansible_port"], json!(2222));
        assert_eq!(d.hosts["pg1"].vars["role"], json!("primary"));
        let wv = &d.groups["web"].vars;
        assert_eq!(wv["mode"], json!(420));
        assert_eq!(wv["answer"], json!(true));
        assert_eq!(wv["letter"], json!("y"));
        assert_eq!(d.groups["all"].vars["ntp"], json!("time.example.com"));
        assert_eq!(d.group_hosts("db"), vec!["pg1"]);
    }

    #[test]
    fn string_shorthand_and_warnings() {
        let d = load_inv("web:\n  hosts: w1\n  colour: {a: 1}\n  note: text\nempty:\n").unwrap();
        assert_eq!(d.groups["web"].hosts, vec!["w1"]);
        assert!(d.groups.contains_key("empty"));
        assert_eq!(
            d.warnings,
            vec![
                "inv.yml:3: skipping unexpected key 'colour' in group 'web'; only 'vars', 'children' and 'hosts' are valid",
                "inv.yml:4: skipping key 'note' in group 'web': it is a string, not a mapping",
            ]
        );
    }

    #[test]
    fn structural_errors_have_lines() {
        let e = |t: &str| load_inv(t).unwrap_err().to_string();
        assert_eq!(
            e("all:\n  hosts:\n    - h1\n"),
            "inv.yml:3: expected a mapping for 'hosts' of group 'all', found a list"
        );
        assert_eq!(
            e("all:\n  hosts:\n    h1: [1]\n"),
            "inv.yml:3: expected a mapping of variables for host 'h1', found a list"
        );
        assert_eq!(
            e("all:\n  hosts:\n    1234:\n"),
            "inv.yml:3: expected a host name (a string), found an integer; quote numbers such as '10.0.0.1' or '1234'"
        );
        assert_eq!(
            e("- a\n- b\n"),
            "inv.yml:1: expected a mapping of groups at the top level (such as 'all:'), found a list"
        );
        assert_eq!(
            e(""),
            "inv.yml: the YAML inventory is empty; expected a mapping of groups such as 'all:'"
        );
        assert_eq!(
            e("plugin: aws_ec2\n"),
            "inv.yml:1: this is an inventory plugin configuration (plugin: aws_ec2), not a YAML inventory; inventory plugins are not supported"
        );
        assert_eq!(
            e("all:\n  hosts:\n   a: [\n"),
            "inv.yml:3:7: invalid YAML: unclosed bracket '['"
        );
        assert_eq!(
            e("a:\n  children:\n    b:\n      children:\n        a:\n"),
            "inv.yml:3: adding group 'b' as a child of 'a' creates a recursive dependency loop"
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let n = load(Path::new("x"), "a: 1\nb: 2\na: 3\n").unwrap().unwrap();
        assert_eq!(n.to_value(), json!({"a": 3, "b": 2}));
        assert_eq!(
            n.to_value().as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["a", "b"]
        );
    }
}
