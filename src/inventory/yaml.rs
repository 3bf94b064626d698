//! YAML (and JSON) loading with line numbers, and Ansible's YAML inventory
//! format: `all: {hosts: {name: {vars...}}, vars: {...}, children: {group: {...}}}`.

use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::data::Data;
use super::error::InventoryError;
use super::range::expand_host_pattern;

/// A YAML node with the line and column where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub line: usize,
    pub col: usize,
    pub kind: Kind,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in first-seen order; a repeated key keeps the last value.
    Map(Vec<(Node, Node)>),
}

impl Kind {
    /// A short name for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::UInt(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The node as a plain JSON value.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::UInt(u) => Value::from(*u),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.to_string())),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.key_string(), v.to_value());
                }
                Value::Object(m)
            }
        }
    }

    /// The node used as a mapping key, as a string.
    pub fn key_string(&self) -> String {
        match &self.kind {
            Kind::Str(s) => s.clone(),
            Kind::Null => "null".into(),
            other => Node {
                line: 0,
                col: 0,
                kind: other.clone(),
            }
            .to_value()
            .to_string(),
        }
    }

    /// The string, if this node is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What serde-saphyr hands us, before locations are flattened.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Raw, D2::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(Raw::UInt(v))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
                Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Raw::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = a.next_key::<Spanned<Raw>>()? {
                    let val = a.next_value::<Spanned<Raw>>()?;
                    v.push((k, val));
                }
                Ok(Raw::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// PyYAML's (YAML 1.1) boolean spellings; serde-saphyr also takes `y`/`n`
/// and any capitalisation, which Ansible reads as strings.
const PYYAML_BOOLS: [&str; 18] = [
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF",
];

fn convert(src: &str, s: Spanned<Raw>) -> Node {
    let line = s.referenced.line() as usize;
    let col = s.referenced.column() as usize;
    let kind = match s.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => {
            let span = s.defined.span();
            let text = span
                .byte_offset()
                .zip(span.byte_len())
                .and_then(|(o, l)| src.get(o as usize..(o + l) as usize));
            match text {
                Some(t) if !PYYAML_BOOLS.contains(&t.trim()) && !t.trim().starts_with('!') => {
                    Kind::Str(t.trim().to_owned())
                }
                _ => Kind::Bool(b),
            }
        }
        Raw::Int(i) => Kind::Int(i),
        Raw::UInt(u) => Kind::UInt(u),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(st) => Kind::Str(st),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|x| convert(src, x)).collect()),
        Raw::Map(entries) => {
            let mut out: Vec<(Node, Node)> = Vec::new();
            for (k, v) in entries {
                let k = convert(src, k);
                let v = convert(src, v);
                let key = k.key_string();
                if let Some(slot) = out.iter_mut().find(|(ek, _)| ek.key_string() == key) {
                    slot.1 = v;
                } else {
                    out.push((k, v));
                }
            }
            Kind::Map(out)
        }
    };
    Node { line, col, kind }
}

static AT_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*at line \d+, column \d+\s*$").expect("valid regex"));

/// Parses a YAML (or JSON) document; `None` when the document is empty.
pub(crate) fn load(path: &Path, text: &str) -> Result<Option<Node>, InventoryError> {
    let mut opts = serde_saphyr::Options::default();
    opts.legacy_octal_numbers = true;
    opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    opts.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    opts.with_snippet = false;
    let parsed: Result<Option<Spanned<Raw>>, _> = serde_saphyr::from_str_with_options(text, opts);
    match parsed {
        Ok(v) => Ok(v.map(|s| convert(text, s))),
        Err(e) => {
            let msg = e.without_snippet().to_string();
            let msg = AT_LINE.replace(&msg, "").into_owned();
            Err(match e.location() {
                Some(l) if l.line() > 0 => InventoryError::Syntax {
                    path: path.to_path_buf(),
                    line: l.line() as usize,
                    column: l.column() as usize,
                    message: format!("invalid YAML: {msg}"),
                },
                _ => InventoryError::file(path, format!("invalid YAML: {msg}")),
            })
        }
    }
}

/// Parses a YAML inventory file into `data`.
pub(crate) fn parse(data: &mut Data, path: &Path, text: &str) -> Result<(), InventoryError> {
    let Some(root) = load(path, text)? else {
        return Err(InventoryError::file(
            path,
            "the YAML inventory is empty; expected a mapping of groups such as 'all:'",
        ));
    };
    let Kind::Map(entries) = &root.kind else {
        return Err(InventoryError::parse(
            path,
            root.line,
            format!(
                "expected a mapping of groups at the top level (such as 'all:'), found {}",
                root.kind.describe()
            ),
        ));
    };
    if let Some((k, v)) = entries.iter().find(|(k, _)| k.as_str() == Some("plugin")) {
        return Err(InventoryError::parse(
            path,
            k.line,
            format!(
                "this is an inventory plugin configuration (plugin: {}), not a YAML inventory; inventory plugins are not supported",
                v.key_string()
            ),
        ));
    }
    for (k, v) in entries {
        parse_group(data, path, k, v)?;
    }
    Ok(())
}

fn group_name(path: &Path, key: &Node) -> Result<String, InventoryError> {
    match &key.kind {
        Kind::Str(s) if !s.is_empty() => Ok(s.clone()),
        other => Err(InventoryError::parse(
            path,
            key.line,
            format!(
                "expected a group name (a non-empty string), found {}",
                other.describe()
            ),
        )),
    }
}

fn parse_group(
    data: &mut Data,
    path: &Path,
    key: &Node,
    value: &Node,
) -> Result<String, InventoryError> {
    let name = group_name(path, key)?;
    let at = |n: &Node, m: String| InventoryError::parse(path, n.line, m);
    let entries = match &value.kind {
        Kind::Null => {
            data.add_group(&name).map_err(|m| at(key, m))?;
            return Ok(name);
        }
        Kind::Map(e) => e,
        other => {
            data.warnings.push(format!(
                "{}:{}: skipping '{name}': expected a group definition (a mapping or nothing), found {}",
                path.display(),
                value.line,
                other.describe()
            ));
            return Ok(name);
        }
    };
    data.add_group(&name).map_err(|m| at(key, m))?;
    for (k, v) in entries {
        let section = k.key_string();
        let is_section = matches!(section.as_str(), "vars" | "children" | "hosts");
        // A plain string is allowed as shorthand for a one-entry mapping.
        let owned;
        let v = match (&v.kind, is_section) {
            (Kind::Str(s), true) => {
                owned = Node {
                    line: v.line,
                    col: v.col,
                    kind: Kind::Map(vec![(
                        Node {
                            line: v.line,
                            col: v.col,
                            kind: Kind::Str(s.clone()),
                        },
                        Node {
                            line: v.line,
                            col: v.col,
                            kind: Kind::Null,
                        },
                    )]),
                };
                &owned
            }
            (Kind::Map(_) | Kind::Null, _) => v,
            (other, true) => {
                return Err(at(
                    v,
                    format!(
                        "expected a mapping for '{section}' of group '{name}', found {}",
                        other.describe()
                    ),
                ));
            }
            (other, false) => {
                data.warnings.push(format!(
                    "{}:{}: skipping key '{section}' in group '{name}': it is {}, not a mapping",
                    path.display(),
                    k.line,
                    other.describe()
                ));
                continue;
            }
        };
        let Kind::Map(items) = &v.kind else {
            continue; // null section
        };
        match section.as_str() {
            "vars" => {
                for (vk, vv) in items {
                    data.set_group_var(&name, &vk.key_string(), vv.to_value())
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
                    let Some(pattern) = hk.as_str() else {
                        return Err(at(
                            hk,
                            format!(
                                "expected a host name (a string), found {}; quote numbers such as '10.0.0.1' or '1234'",
                                hk.kind.describe()
                            ),
                        ));
                    };
                    let (hosts, port) = expand_host_pattern(pattern).map_err(|m| at(hk, m))?;
                    let vars = match &hv.kind {
                        Kind::Null => Vec::new(),
                        Kind::Map(vs) => vs
                            .iter()
                            .map(|(a, b)| (a.key_string(), b.to_value()))
                            .collect(),
                        other => {
                            return Err(at(
                                hv,
                                format!(
                                    "expected a mapping of variables for host '{pattern}', found {}",
                                    other.describe()
                                ),
                            ));
                        }
                    };
                    for h in &hosts {
                        data.add_host(h, Some(&name), port).map_err(|m| at(hk, m))?;
                        for (vk, vv) in &vars {
                            data.set_host_var(h, vk, vv.clone())
                                .map_err(|m| at(hk, m))?;
                        }
                    }
                }
            }
            _ => {
                data.warnings.push(format!(
                    "{}:{}: skipping unexpected key '{section}' in group '{name}'; only 'vars', 'children' and 'hosts' are valid",
                    path.display(),
                    k.line
                ));
            }
        }
    }
    Ok(name)
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
