//! Ansible's INI inventory format.
//!
//! `[group]` sections hold host lines (`name[:port] [key=value ...]`, ranges
//! allowed), `[group:vars]` sections hold `key=value` lines and
//! `[group:children]` sections hold group names. Lines before any section
//! are hosts of `ungrouped`. Values are read as Python literals, as the
//! INI plugin's `ast.literal_eval` does (`80` is a number, `True` a boolean,
//! `'a b'` a string, anything else the text itself).

use std::path::Path;
use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;

use super::data::Data;
use super::error::InventoryError;
use super::pyliteral::ini_value;
use super::range::expand_host_pattern;

static SECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[([^:\]\s]+)(?::([0-9A-Za-z_]+))?\]\s*(?:#.*)?$").expect("valid regex")
});
static GROUPNAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").expect("valid regex"));

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Vars,
    Children,
}

struct Pending {
    line: usize,
    state: State,
    parents: Vec<String>,
}

/// Splits raw bytes into lines; non-UTF-8 is only tolerated in comments.
fn lines_of(path: &Path, bytes: &[u8]) -> Result<Vec<String>, InventoryError> {
    let mut out = Vec::new();
    for (n, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match std::str::from_utf8(raw) {
            Ok(s) => out.push(s.to_owned()),
            Err(_) => {
                let t = raw.trim_ascii_start();
                if t.first().is_some_and(|c| *c == b'#' || *c == b';') {
                    out.push(String::new());
                } else {
                    return Err(InventoryError::parse(
                        path,
                        n + 1,
                        "expected UTF-8 text, found invalid bytes",
                    ));
                }
            }
        }
    }
    if bytes.ends_with(b"\n") {
        out.pop();
    }
    Ok(out)
}

/// Parses one INI inventory file into `data`.
pub(crate) fn parse(data: &mut Data, path: &Path, bytes: &[u8]) -> Result<(), InventoryError> {
    let lines = lines_of(path, bytes)?;
    let mut pending: IndexMap<String, Pending> = IndexMap::new();
    let mut group = "ungrouped".to_owned();
    let mut state = State::Hosts;
    for (idx, raw) in lines.iter().enumerate() {
        let lineno = idx + 1;
        let err = |m: String| InventoryError::parse(path, lineno, m);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(c) = SECTION.captures(line) {
            group = c[1].to_owned();
            state = match c.get(2).map(|m| m.as_str()) {
                None => State::Hosts,
                Some("vars") => State::Vars,
                Some("children") => State::Children,
                Some(other) => {
                    return Err(err(format!(
                        "unknown section type '{other}' in [{group}:{other}]; expected [{group}], [{group}:vars] or [{group}:children]"
                    )));
                }
            };
            if !data.groups.contains_key(&group) {
                if state == State::Vars && !pending.contains_key(&group) {
                    pending.insert(
                        group.clone(),
                        Pending {
                            line: lineno,
                            state,
                            parents: Vec::new(),
                        },
                    );
                }
                data.add_group(&group).map_err(err)?;
            }
            if state != State::Vars
                && let Some(p) = pending.get(&group)
            {
                if p.state == State::Children {
                    add_pending_children(data, &group, &mut pending).map_err(err)?;
                } else {
                    pending.shift_remove(&group);
                }
            }
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(err(format!(
                "invalid section header '{line}': expected '[group]', '[group:vars]' or '[group:children]' with no spaces in the group name"
            )));
        }
        match state {
            State::Hosts => {
                let tokens = shlex_split(line)
                    .map_err(|e| err(format!("cannot parse host definition '{line}': {e}")))?;
                let Some(first) = tokens.first() else {
                    continue; // only a comment after all
                };
                let (hosts, port) = expand_host_pattern(first).map_err(&err)?;
                if first.trim().ends_with(':') && port.is_none() {
                    return Err(err(format!(
                        "invalid host '{first}': expected a port number after ':'"
                    )));
                }
                if hosts.iter().any(|h| h.trim() == "---") {
                    return Err(err(
                        "found '---' where a host was expected; is this a YAML file? (give it a .yml extension)".into(),
                    ));
                }
                let mut vars: Vec<(String, Value)> = Vec::new();
                for t in &tokens[1..] {
                    let Some((k, v)) = t.split_once('=') else {
                        return Err(err(format!(
                            "expected 'key=value' after the host name, found '{t}'"
                        )));
                    };
                    vars.push((k.to_owned(), ini_value(v)));
                }
                for h in &hosts {
                    data.add_host(h, Some(&group), port).map_err(&err)?;
                    for (k, v) in &vars {
                        data.set_host_var(h, k, v.clone()).map_err(&err)?;
                    }
                }
            }
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(format!(
                        "expected 'key=value' in [{group}:vars], found '{line}'"
                    )));
                };
                data.set_group_var(&group, k.trim(), ini_value(v.trim()))
                    .map_err(err)?;
            }
            State::Children => {
                let Some(c) = GROUPNAME.captures(line) else {
                    return Err(err(format!(
                        "expected a group name in [{group}:children], found '{line}'"
                    )));
                };
                let child = c[1].to_owned();
                if data.groups.contains_key(&child) {
                    data.add_child(&group, &child).map_err(err)?;
                } else {
                    pending
                        .entry(child)
                        .or_insert(Pending {
                            line: lineno,
                            state: State::Children,
                            parents: Vec::new(),
                        })
                        .parents
                        .push(group.clone());
                }
            }
        }
    }
    if let Some((name, p)) = pending.first() {
        let msg = match p.state {
            State::Vars => format!(
                "section [{name}:vars] is for a group that is never defined; expected a [{name}] or [{name}:children] section"
            ),
            _ => format!(
                "section [{}:children] includes undefined group '{name}'; expected a [{name}] or [{name}:children] section defining it",
                p.parents.last().map(String::as_str).unwrap_or("?")
            ),
        };
        return Err(InventoryError::parse(path, p.line, msg));
    }
    Ok(())
}

fn add_pending_children(
    data: &mut Data,
    group: &str,
    pending: &mut IndexMap<String, Pending>,
) -> Result<(), String> {
    let Some(entry) = pending.shift_remove(group) else {
        return Ok(());
    };
    for parent in &entry.parents {
        data.add_child(parent, group)?;
        if pending
            .get(parent)
            .is_some_and(|p| p.state == State::Children)
        {
            add_pending_children(data, parent, pending)?;
        }
    }
    Ok(())
}

/// POSIX `shlex.split(line, comments=True)`.
pub(crate) fn shlex_split(line: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_token {
                    tokens.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            '#' => break,
            '\\' => {
                let n = chars.next().ok_or("no escaped character after '\\'")?;
                cur.push(n);
                in_token = true;
            }
            '\'' => {
                in_token = true;
                loop {
                    match chars.next() {
                        None => return Err("no closing quotation".into()),
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                    }
                }
            }
            '"' => {
                in_token = true;
                loop {
                    match chars.next() {
                        None => return Err("no closing quotation".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err("no closing quotation".into()),
                            Some(x @ ('"' | '\\')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                        },
                        Some(x) => cur.push(x),
                    }
                }
            }
            other => {
                cur.push(other);
                in_token = true;
            }
        }
    }
    if in_token {
        tokens.push(cur);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Result<Data, InventoryError> {
        let mut d = Data::default();
        parse(&mut d, Path::new("inventory/hosts"), text.as_bytes())?;
        d.reconcile();
        Ok(d)
    }

    fn err(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn shlex_like_python() {
        assert_eq!(
            shlex_split(r#"h a=1 b='x y' c="q\"z" d=e#f # rest"#).unwrap(),
            vec!["h", "a=1", "b=x y", "c=q\"z", "d=e"]
        );
        assert_eq!(shlex_split(r"h a=x\ y ''").unwrap(), vec!["h", "a=x y", ""]);
        assert!(shlex_split("h a='open").is_err());
        assert!(shlex_split("h a\\").is_err());
    }

    #[test]
    fn sections_hosts_vars_children() {
        let d = load(
            "\
# comment
; another
free1 ansible_host=10.0.0.9

[web]
web1.example.com:2222 http_port=80 note='quoted v' flag=True
web[2:3].example.com

[db]
db1 ansible_user=root

[prod:children]
web
db

[prod:vars]
env=production
retries=3
flag=FALSE
",
        )
        .unwrap();
        assert_eq!(d.groups["all"].children, vec!["ungrouped", "prod"]);
        assert_eq!(d.groups["prod"].children, vec!["web", "db"]);
        assert_eq!(
            d.groups["web"].hosts,
            vec!["web1.example.com", "web2.example.com", "web3.example.com"]
        );
        assert_eq!(d.groups["ungrouped"].hosts, vec!["free1"]);
        let w1 = &d.hosts["web1.example.com"].vars;
        assert_eq!(w1["ansible_port"], json!(2222));
        assert_eq!(w1["http_port"], json!(80));
        assert_eq!(w1["note"], json!("quoted v"));
        assert_eq!(w1["flag"], json!(true));
        let pv = &d.groups["prod"].vars;
        assert_eq!(pv["env"], json!("production"));
        assert_eq!(pv["retries"], json!(3));
        assert_eq!(pv["flag"], json!("FALSE"));
    }

    #[test]
    fn child_declared_before_its_section() {
        let d = load("[parent:children]\nkid\n\n[kid]\nh1\n\n[kid:vars]\nx=1\n").unwrap();
        assert_eq!(d.groups["parent"].children, vec!["kid"]);
        assert_eq!(d.groups["all"].children, vec!["ungrouped", "parent"]);
        assert_eq!(d.group_hosts("parent"), vec!["h1"]);
        assert_eq!(d.depth["kid"], 2);
    }

    #[test]
    fn group_of_groups_declared_only_by_children_sections() {
        let d = load("[a:children]\nb\n[b:children]\nc\n[c]\nh\n").unwrap();
        assert_eq!(d.group_hosts("a"), vec!["h"]);
        assert_eq!(d.depth["c"], 3);
    }

    #[test]
    fn errors_name_file_line_and_expectation() {
        assert_eq!(
            err("[web]\nweb1\n\n\n\n\nweb2 foo\n"),
            "inventory/hosts:7: expected 'key=value' after the host name, found 'foo'"
        );
        assert_eq!(
            err("[web:vars]\nx=1\n"),
            "inventory/hosts:1: section [web:vars] is for a group that is never defined; expected a [web] or [web:children] section"
        );
        assert_eq!(
            err("[p:children]\nmissing\n"),
            "inventory/hosts:2: section [p:children] includes undefined group 'missing'; expected a [missing] or [missing:children] section defining it"
        );
        assert_eq!(
            err("[g:things]\nh1\n"),
            "inventory/hosts:1: unknown section type 'things' in [g:things]; expected [g], [g:vars] or [g:children]"
        );
        assert_eq!(
            err("[web]\nh1\n[web:vars]\nnovalue\n"),
            "inventory/hosts:4: expected 'key=value' in [web:vars], found 'novalue'"
        );
        assert_eq!(
            err("[a b]\n"),
            "inventory/hosts:1: invalid section header '[a b]': expected '[group]', '[group:vars]' or '[group:children]' with no spaces in the group name"
        );
        assert_eq!(
            err("[g:children]\na b\n"),
            "inventory/hosts:2: expected a group name in [g:children], found 'a b'"
        );
        assert_eq!(
            err("[g]\nh x='open\n"),
            "inventory/hosts:2: cannot parse host definition 'h x='open': no closing quotation"
        );
        assert_eq!(
            err("[g]\nhost:\n"),
            "inventory/hosts:2: invalid host 'host:': expected a port number after ':'"
        );
        assert!(err("---\nall:\n").starts_with("inventory/hosts:1: found '---'"));
        assert_eq!(
            err("[g]\nweb[1:]\n"),
            "inventory/hosts:2: invalid host range in 'web[1:]': a host range must specify an end value"
        );
        assert_eq!(
            err("[a:children]\nb\n[b:children]\na\n"),
            "inventory/hosts:4: adding group 'a' as a child of 'b' creates a recursive dependency loop"
        );
        assert_eq!(
            err("[g:vars]\nansible_group_priority=high\n[g]\n"),
            "inventory/hosts:2: ansible_group_priority must be an integer, found \"high\""
        );
    }

    #[test]
    fn invalid_utf8_outside_comments_is_an_error() {
        let mut d = Data::default();
        let e = parse(&mut d, Path::new("h"), b"# caf\xe9\n[g]\nh\xff\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "h:3: expected UTF-8 text, found invalid bytes"
        );
        let mut d = Data::default();
        parse(&mut d, Path::new("h"), b"# caf\xe9\n[g]\nh1\n").unwrap();
        assert_eq!(d.groups["g"].hosts, vec!["h1"]);
    }

    #[test]
    fn hosts_before_sections_and_in_all() {
        let d = load("lonely\n[all]\ndirect\n[g]\nlonely\n").unwrap();
        // lonely moved out of ungrouped once it got a real group.
        assert_eq!(d.groups["ungrouped"].hosts, vec!["direct"]);
        assert_eq!(d.groups["all"].hosts, vec!["direct"]);
        assert_eq!(d.group_hosts("all"), vec!["direct", "lonely"]);
    }
}
