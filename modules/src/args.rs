//! Module arguments: typed parsing at run time, and checking at compile time.
//!
//! Every module declares its arguments as a serde struct with
//! `deny_unknown_fields`. At run time the templated arguments are parsed into
//! it ([`parse`]). At compile time, before any host is contacted, the same
//! struct checks the raw arguments ([`check`]): a string that still holds a
//! Jinja expression stands in for any value of the expected type, so unknown,
//! missing and ill-typed literal arguments are all found up front.
//!
//! The lenient deserializers in [`de`] accept what Ansible's argument spec
//! accepts (`yes`/`no` strings for booleans, numeric strings for integers,
//! comma-separated strings for lists).

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::cell::Cell;
use thiserror::Error;

thread_local! {
    static PLACEHOLDERS: Cell<bool> = const { Cell::new(false) };
}

/// An argument problem, with the argument it concerns.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{message}")]
pub struct ArgsError {
    /// The argument's name (the first segment of its path), when known.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl ArgsError {
    /// An error about one argument.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ArgsError {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// An error about the arguments as a whole.
    pub fn general(message: impl Into<String>) -> Self {
        ArgsError {
            field: None,
            message: message.into(),
        }
    }
}

/// Rejects pairs of arguments given together: `(name, given, name, given)`.
pub fn mutually_exclusive(pairs: &[(&str, bool, &str, bool)]) -> Result<(), ArgsError> {
    match pairs.iter().find(|(_, has_a, _, has_b)| *has_a && *has_b) {
        Some((a, _, b, _)) => Err(ArgsError::general(format!(
            "parameters are mutually exclusive: {a}|{b}"
        ))),
        None => Ok(()),
    }
}

/// True when the string still contains a Jinja expression or statement.
pub fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// True while [`check`] runs: lenient deserializers accept templated strings.
pub fn placeholders_active() -> bool {
    PLACEHOLDERS.with(Cell::get)
}

fn run_deserialize<T: DeserializeOwned>(value: &Value) -> Result<T, ArgsError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        // serde names the offending key in the message for unknown fields.
        let field = if path == "." || path.is_empty() {
            message
                .strip_prefix("unknown field `")
                .or_else(|| message.strip_prefix("missing field `"))
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string)
        } else {
            path.split(['.', '[']).next().map(str::to_string)
        };
        ArgsError {
            field,
            message: humanize(&message),
        }
    })
}

fn humanize(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let mut parts = rest.splitn(2, "`, expected ");
        let name = parts.next().unwrap_or_default();
        let expected = parts.next().unwrap_or_default();
        let expected = expected.trim_start_matches("one of ").replace('`', "");
        return format!("unsupported parameter `{name}`; supported parameters include: {expected}");
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        return format!("missing required argument `{name}`");
    }
    message.to_string()
}

/// Parses fully templated arguments into the module's argument struct.
pub fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, ArgsError> {
    let value = normalize(value);
    run_deserialize(&value).map_err(ArgsError::at_run_time)
}

impl ArgsError {
    /// The error as the module reports it when it runs: Ansible's own
    /// message for a missing argument (`missing required arguments: path`).
    pub fn at_run_time(mut self) -> Self {
        if let Some(name) = self
            .message
            .strip_prefix("missing required argument `")
            .and_then(|r| r.strip_suffix('`'))
        {
            self.message = format!("missing required arguments: {name}");
        }
        self
    }
}

/// Checks raw (possibly templated) arguments against the argument struct.
pub fn check<T: DeserializeOwned>(value: &Value) -> Result<T, ArgsError> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            PLACEHOLDERS.with(|p| p.set(false));
        }
    }
    PLACEHOLDERS.with(|p| p.set(true));
    let _reset = Reset;
    let value = normalize(value);
    run_deserialize(&value)
}

/// Ansible drops arguments whose value is `omit`-ed; null arguments mean "not given".
fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Parses Ansible's boolean spellings.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "1" | "true" | "y" | "t" | "1.0" => Some(true),
        "no" | "off" | "0" | "false" | "n" | "f" | "0.0" | "" => Some(false),
        _ => None,
    }
}

/// Lenient deserializers for `#[serde(deserialize_with = ...)]`.
pub mod de {
    use super::{is_templated, parse_bool, placeholders_active};
    use serde::Deserialize;
    use serde::de::{Deserializer, Error};
    use serde_json::Value;

    fn placeholder(s: &str) -> bool {
        placeholders_active() && is_templated(s)
    }

    fn value_to_bool<E: Error>(v: &Value) -> Result<bool, E> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
            Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
            Value::String(s) if placeholder(s) => Ok(false),
            Value::String(s) => parse_bool(s).ok_or_else(|| {
                E::custom(format!(
                    "expected a boolean (yes/no, true/false), found `{s}`"
                ))
            }),
            other => Err(E::custom(format!(
                "expected a boolean, found {}",
                kind(other)
            ))),
        }
    }

    /// Name of a JSON value's type, for messages.
    pub fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "a mapping",
        }
    }

    /// A boolean in any of Ansible's spellings.
    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        value_to_bool(&Value::deserialize(d)?)
    }

    /// An optional boolean in any of Ansible's spellings.
    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => value_to_bool(&v).map(Some),
        }
    }

    fn value_to_int<E: Error>(v: &Value) -> Result<i64, E> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(|| E::custom(format!("expected an integer, found {n}"))),
            Value::String(s) if placeholder(s) => Ok(0),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| E::custom(format!("expected an integer, found `{s}`"))),
            Value::Bool(b) => Ok(i64::from(*b)),
            other => Err(E::custom(format!(
                "expected an integer, found {}",
                kind(other)
            ))),
        }
    }

    /// An integer, also from a numeric string.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        value_to_int(&Value::deserialize(d)?)
    }

    /// An optional integer, also from a numeric string.
    pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => value_to_int(&v).map(Some),
        }
    }

    fn value_to_string<E: Error>(v: &Value) -> Result<String, E> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(if *b { "True" } else { "False" }.to_string()),
            // A template that rendered to a mapping or list: Ansible's `str`
            // (and `path`) arguments take its Python text. Written as such
            // in the playbook, it is a mistake reported at compile time.
            Value::Array(_) | Value::Object(_) if !super::placeholders_active() => {
                Ok(super::py_repr(v))
            }
            other => Err(E::custom(format!(
                "expected a string, found {}",
                kind(other)
            ))),
        }
    }

    /// A string, also from a number or boolean (as Ansible's `str` type converts them).
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        value_to_string(&Value::deserialize(d)?)
    }

    /// An optional string, also from a number or boolean.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => value_to_string(&v).map(Some),
        }
    }

    /// A list of strings: a YAML list, or a comma-separated string.
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items.iter().map(value_to_string).collect(),
            Value::String(s) if placeholder(&s) => Ok(Vec::new()),
            Value::String(s) => Ok(s
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()),
            other => value_to_string(&other).map(|s| vec![s]),
        }
    }
}

/// A value as Python's `repr` shows it (`{'a': 1, 'b': True}`): how Ansible
/// labels loop items, and how its `str` arguments take a mapping or list.
pub fn py_repr(v: &Value) -> String {
    fn quote(s: &str) -> String {
        let q = if s.contains('\'') && !s.contains('"') {
            '"'
        } else {
            '\''
        };
        let mut out = String::from(q);
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c == q => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out.push(q);
        out
    }
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", quote(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Declares a string-valued choice argument (`state: present|absent`), with
/// aliases, that also accepts a templated string while checking.
#[macro_export]
macro_rules! choice {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = [$($spelling:literal),+]),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every accepted spelling, first ones canonical.
            pub const SPELLINGS: &'static [&'static str] = &[$($($spelling),+),+];

            /// The canonical spelling.
            #[allow(dead_code)]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => [$($spelling),+][0]),+ }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = $crate::args::de::string(d)?;
                if $crate::args::placeholders_active() && $crate::args::is_templated(&raw) {
                    return Ok([$($name::$variant),+][0]);
                }
                $( if [$($spelling),+].contains(&raw.as_str()) { return Ok($name::$variant); } )+
                Err(serde::de::Error::custom(format!(
                    "value of {} must be one of: {}, got: {}",
                    stringify!($name).to_lowercase(),
                    Self::SPELLINGS.join(", "),
                    raw
                )))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    choice! {
        /// test
        enum State { Present = ["present"], Absent = ["absent"] }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        #[serde(deserialize_with = "de::string")]
        path: String,
        #[serde(default, deserialize_with = "de::bool")]
        force: bool,
        #[serde(default, deserialize_with = "de::opt_int")]
        count: Option<i64>,
        state: Option<State>,
    }

    #[test]
    fn a_rendered_mapping_is_a_string_as_python_shows_it_but_a_literal_one_is_refused() {
        let raw = json!({"path": {"path": "/tmp/x", "isdir": false, "n": null}});
        let a = parse::<Args>(&raw).unwrap();
        assert_eq!(a.path, "{'path': '/tmp/x', 'isdir': False, 'n': None}");
        let a = parse::<Args>(&json!({"path": ["a", 1]})).unwrap();
        assert_eq!(a.path, "['a', 1]");
        let err = check::<Args>(&raw).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("path"));
        assert!(err.message.contains("expected a string, found a mapping"));
    }

    #[test]
    fn placeholders_stand_in_for_any_type_while_checking() {
        let raw = json!({"path": "/x", "force": "{{ f }}", "count": "{{ n }}", "state": "{{ s }}"});
        assert!(check::<Args>(&raw).is_ok());
        let err = parse::<Args>(&raw).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("force"));
    }

    #[test]
    fn unknown_and_missing_fields_name_the_field() {
        let err = check::<Args>(&json!({"path": "/x", "bogus": 1})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("bogus"));
        assert_eq!(
            err.message,
            "unsupported parameter `bogus`; supported parameters include: path, force, count, state"
        );
        let err = check::<Args>(&json!({"force": true})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("path"));
        assert_eq!(err.message, "missing required argument `path`");
    }

    #[test]
    fn ansible_spellings() {
        let a: Args =
            parse(&json!({"path": 5, "force": "yes", "count": "12", "state": "absent"})).unwrap();
        assert_eq!(a.path, "5");
        assert!(a.force);
        assert_eq!(a.count, Some(12));
        assert_eq!(a.state, Some(State::Absent));
        let err = parse::<Args>(&json!({"path": "/x", "state": "gone"})).unwrap_err();
        assert_eq!(
            err.message,
            "value of state must be one of: present, absent, got: gone"
        );
    }
}
