//! Secret taint through templating: what a template computes from a secret
//! is secret too.
//!
//! Secrets are known by their text ([`crate::report::redact`]): vault values
//! are registered when they are decrypted, and so is every value derived
//! from one here, so derivation is transitive (`a: "{{ pw | b64encode }}"`,
//! `b: "{{ a | upper }}"`).
//!
//! A template whose inputs hold a secret is evaluated a second time, with
//! every input string that holds a secret replaced by its *shadow* (the same
//! characters classes and length, other characters). An output that differs
//! between the two evaluations depends on a secret and is registered as
//! one: a `b64encode`d password, an `upper`ed one, the `to_json` of a dict
//! holding one, a `password_hash`. An output that does not differ is not: a
//! port computed next to the secret, a host name, the secret's length, a
//! `True` from comparing it. Outputs are compared per emitted `{{ ... }}` in
//! template strings and files (so a templated file masks only the secret
//! parts of its lines), and per leaf for a value that keeps its type.
//!
//! When the second evaluation cannot be compared (it failed, or it took
//! another path through the template, or it would run a command again:
//! `lookup('pipe')`), every output that is not a boolean is registered:
//! over-masking, never leaking.

use super::{from_json, to_json};
use crate::report::redact;
use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// One `{{ expression }}` output of a template: its text, and whether it is
/// a value that can be registered (booleans and none are not: masking every
/// `True` would hide nothing but the word).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Emission {
    text: String,
    maskable: bool,
}

thread_local! {
    /// The emissions of the templates being recorded, innermost last.
    static RECORDING: RefCell<Vec<Vec<Emission>>> = const { RefCell::new(Vec::new()) };
}

/// Called by the formatter for every `{{ expression }}` output.
pub(crate) fn emitted(value: &minijinja::Value) {
    RECORDING.with(|r| {
        if let Some(top) = r.borrow_mut().last_mut() {
            top.push(Emission {
                text: value.to_string(),
                maskable: !matches!(value.kind(), ValueKind::Bool | ValueKind::None),
            });
        }
    });
}

/// Runs `render`, returning what it emitted too.
fn record<T>(render: impl FnOnce() -> T) -> (T, Vec<Emission>) {
    RECORDING.with(|r| r.borrow_mut().push(Vec::new()));
    let out = render();
    let emissions = RECORDING.with(|r| r.borrow_mut().pop()).unwrap_or_default();
    (out, emissions)
}

/// The variables of one evaluation, and which of them are opaque objects
/// (`hostvars`) that are shadowed lazily.
pub(crate) struct Inputs {
    vars: BTreeMap<String, minijinja::Value>,
    opaque: HashSet<String>,
    /// Whether an input may hold a secret (otherwise nothing is tracked).
    tainted: bool,
}

impl Inputs {
    /// The inputs of an evaluation; `opaque` names objects that are not
    /// plain data (they may hold secrets, and are not walked).
    pub(crate) fn new(vars: BTreeMap<String, minijinja::Value>, opaque: HashSet<String>) -> Self {
        let tainted = redact::active()
            && (!opaque.is_empty() || vars.values().any(|v| holds_secret(&to_json(v))));
        Inputs {
            vars,
            opaque,
            tainted,
        }
    }

    /// Whether a variable holds a date (whose `-` needs [`super::minus`]).
    pub(crate) fn hold_dates(&self) -> bool {
        self.vars.values().any(|v| {
            v.downcast_object_ref::<super::filters::extra::PyDateTime>()
                .is_some()
        })
    }

    /// The variables, as a template context.
    pub(crate) fn context(&self) -> minijinja::Value {
        minijinja::Value::from(self.vars.clone())
    }

    /// The variables with every secret replaced by its shadow.
    fn shadow(&self) -> minijinja::Value {
        let vars: BTreeMap<String, minijinja::Value> = self
            .vars
            .iter()
            .map(|(k, v)| {
                let v = if self.opaque.contains(k) {
                    minijinja::Value::from_object(Shadowed(v.clone()))
                } else {
                    shadow_value(v)
                };
                (k.clone(), v)
            })
            .collect();
        minijinja::Value::from(vars)
    }

    /// Renders a template with these inputs; what the rendering emitted from
    /// a secret is registered as secret.
    pub(crate) fn render(
        &self,
        source: &str,
        render: impl Fn(minijinja::Value) -> Result<String, minijinja::Error>,
    ) -> Result<String, minijinja::Error> {
        if !self.tainted {
            return render(self.context());
        }
        let (out, real) = record(|| render(self.context()));
        let out = match out {
            Ok(out) => out,
            Err(e) => return Err(self.failed(e, source, || render(self.shadow()).err())),
        };
        let shadow = replayable(source)
            .then(|| record(|| render(self.shadow())))
            .and_then(|(r, e)| r.ok().map(|_| e));
        register_emissions(&real, shadow.as_deref());
        Ok(out)
    }

    /// Evaluates an expression with these inputs; the parts of its value
    /// computed from a secret are registered as secret.
    pub(crate) fn eval(
        &self,
        source: &str,
        eval: impl Fn(minijinja::Value) -> Result<minijinja::Value, minijinja::Error>,
    ) -> Result<minijinja::Value, minijinja::Error> {
        let out = match eval(self.context()) {
            Ok(out) => out,
            Err(e) if self.tainted => {
                return Err(self.failed(e, source, || eval(self.shadow()).err()));
            }
            Err(e) => return Err(e),
        };
        if self.tainted && !out.is_undefined() {
            let shadow = replayable(source)
                .then(|| eval(self.shadow()).ok())
                .flatten()
                .map(|v| to_json(&v));
            register_leaves(&to_json(&out), shadow.as_ref());
        }
        Ok(out)
    }
}

impl Inputs {
    /// An evaluation failed: the part of its message that differs from the
    /// shadow evaluation's (a value computed from a secret, quoted by the
    /// message) is registered as secret.
    fn failed(
        &self,
        err: minijinja::Error,
        source: &str,
        shadow: impl FnOnce() -> Option<minijinja::Error>,
    ) -> minijinja::Error {
        let Some(theirs) = replayable(source).then(shadow).flatten() else {
            return err;
        };
        let (ours, theirs) = (err.to_string(), theirs.to_string());
        let prefix = common_len(ours.chars(), theirs.chars());
        let suffix = common_len(ours.chars().rev(), theirs.chars().rev());
        let n = ours.chars().count();
        if prefix + suffix < n {
            let middle: String = ours
                .chars()
                .skip(prefix)
                .take(n - prefix - suffix)
                .collect();
            redact::register(&middle);
        }
        err
    }
}

/// How many items two sequences have in common at their start.
fn common_len<T: PartialEq>(a: impl Iterator<Item = T>, b: impl Iterator<Item = T>) -> usize {
    a.zip(b).take_while(|(x, y)| x == y).count()
}

/// Whether evaluating `source` twice is harmless: not when it runs a
/// command (`lookup('pipe', ...)`, `lookup('lines', ...)`).
fn replayable(source: &str) -> bool {
    !["pipe", "'lines'", "\"lines\""]
        .iter()
        .any(|l| source.contains(l))
}

/// Whether any string in `v` holds a secret.
fn holds_secret(v: &Value) -> bool {
    match v {
        Value::String(s) => redact::contains(s),
        Value::Array(a) => a.iter().any(holds_secret),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| redact::contains(k) || holds_secret(v)),
        _ => false,
    }
}

/// A text with the same length and character classes, and other characters:
/// letters and digits shifted by one within their class (`z` → `a`); a text
/// without any such character becomes `x`s.
pub(crate) fn shadow_text(s: &str) -> String {
    let shift = |c: char, first: char, n: u8| {
        let i = (c as u8 - first as u8 + 1) % n;
        (first as u8 + i) as char
    };
    let out: String = s
        .chars()
        .map(|c| match c {
            'a'..='z' => shift(c, 'a', 26),
            'A'..='Z' => shift(c, 'A', 26),
            '0'..='9' => shift(c, '0', 10),
            other => other,
        })
        .collect();
    if out == s {
        s.chars().map(|_| 'x').collect()
    } else {
        out
    }
}

/// `v` with every string that holds a secret replaced by its shadow.
fn shadow_json(v: &Value) -> Value {
    match v {
        Value::String(s) if redact::contains(s) => Value::String(shadow_text(s)),
        Value::Array(a) => Value::Array(a.iter().map(shadow_json).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let k = if redact::contains(k) {
                        shadow_text(k)
                    } else {
                        k.clone()
                    };
                    (k, shadow_json(v))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A template value with its secrets shadowed (the same value when it holds none).
fn shadow_value(v: &minijinja::Value) -> minijinja::Value {
    let data = to_json(v);
    if holds_secret(&data) {
        from_json(&shadow_json(&data))
    } else {
        v.clone()
    }
}

/// An opaque map or list (`hostvars`) whose items are shadowed as they are read.
#[derive(Debug)]
struct Shadowed(minijinja::Value);

impl Object for Shadowed {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.0.kind() {
            ValueKind::Map => ObjectRepr::Map,
            ValueKind::Seq => ObjectRepr::Seq,
            ValueKind::Iterable => ObjectRepr::Iterable,
            _ => ObjectRepr::Plain,
        }
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let v = self.0.get_item(key).ok().filter(|v| !v.is_undefined())?;
        Some(shadow_value(&v))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match (self.0.kind(), self.0.len()) {
            (ValueKind::Seq, Some(n)) => Enumerator::Seq(n),
            (ValueKind::Map, _) => match self.0.try_iter() {
                Ok(keys) => Enumerator::Values(keys.collect()),
                Err(_) => Enumerator::NonEnumerable,
            },
            (ValueKind::Iterable, _) => match self.0.try_iter() {
                Ok(items) => Enumerator::Values(items.map(|v| shadow_value(&v)).collect()),
                Err(_) => Enumerator::NonEnumerable,
            },
            _ => Enumerator::NonEnumerable,
        }
    }
}

/// Registers the emissions that depend on a secret: those that differ from
/// the shadow evaluation's at the same place, or that it never emitted when
/// it took another path; all of them without a shadow evaluation.
fn register_emissions(real: &[Emission], shadow: Option<&[Emission]>) {
    let derived = |i: usize, e: &Emission| match shadow {
        Some(s) if s.len() == real.len() => s[i].text != e.text,
        Some(s) => !s.iter().any(|x| x.text == e.text),
        None => true,
    };
    for (i, e) in real.iter().enumerate() {
        if e.maskable && derived(i, e) {
            redact::register(&e.text);
        }
    }
}

/// Registers the strings and numbers of `real` that differ from `shadow`
/// (all of them without a shadow value).
fn register_leaves(real: &Value, shadow: Option<&Value>) {
    let mut out = Vec::new();
    match shadow {
        Some(s) => derived_leaves(real, s, &mut out),
        None => leaves(real, &mut out),
    }
    for text in out {
        redact::register(&text);
    }
}

/// The strings and numbers of `v` (map keys included).
fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            leaves(x, out);
        }),
        Value::Bool(_) | Value::Null => {}
    }
}

/// The leaves of `real` that differ from the same place in `shadow`; where
/// the shapes differ, those not found anywhere in that part of `shadow`.
fn derived_leaves(real: &Value, shadow: &Value, out: &mut Vec<String>) {
    match (real, shadow) {
        (Value::String(a), Value::String(b)) if a != b => out.push(a.clone()),
        (Value::Number(a), Value::Number(b)) if a != b => out.push(a.to_string()),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).for_each(|(x, y)| derived_leaves(x, y, out));
        }
        (Value::Object(a), Value::Object(b)) if a.keys().eq(b.keys()) => {
            a.values()
                .zip(b.values())
                .for_each(|(x, y)| derived_leaves(x, y, out));
        }
        (a, b) if a == b => {}
        (a, b) => {
            let mut theirs = Vec::new();
            leaves(b, &mut theirs);
            let mut ours = Vec::new();
            leaves(a, &mut ours);
            out.extend(ours.into_iter().filter(|l| !theirs.contains(l)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Scope, Templar};
    use super::*;
    use crate::report::redact::MASK as MASK_STR;
    use crate::vars::Vars;
    use serde_json::json;

    fn vars(v: Value) -> Vars {
        v.as_object().cloned().unwrap_or_default()
    }

    /// `source` rendered, then masked as every report masks it.
    fn shown(t: &Templar, source: &str, scope: &Scope) -> String {
        match t.render_string(source, scope).unwrap() {
            Value::String(s) => redact::text(&s).into_owned(),
            other => redact::value(&other).to_string(),
        }
    }

    #[test]
    fn values_derived_from_a_secret_are_secret() {
        // As a vault file registers its values when it is decrypted.
        redact::register("Tr0ub4dor-taint-1");
        let t = Templar::new();
        let low = vars(json!({
            "pw": "Tr0ub4dor-taint-1",
            "port": 5432,
            "host": "db.example",
            "token": "{{ pw | b64encode }}",
            "shout": "{{ token | upper }}",
            "users": [{"name": "alice-taint", "password": "{{ pw }}"}],
        }));
        let scope = Scope::new(vec![&low]);
        for source in [
            "{{ pw | b64encode }}",
            "{{ pw | upper }}",
            "{{ pw | reverse | join }}",
            "{{ pw | hash('sha256') }}",
            "{{ pw | password_hash('sha512', 'fixedsalt') }}",
            "{{ {'user': host, 'pw': pw} | to_json }}",
            "{{ users | to_nice_yaml }}",
            "{{ shout }}",
            "{{ pw | replace('4', 'four') }}",
            "{{ pw[3:12] }}",
        ] {
            assert_eq!(shown(&t, source, &scope), MASK_STR, "{source}");
        }
        // Derived text inside a longer string: only the derived part.
        assert_eq!(
            shown(&t, "prefix-{{ pw | b64encode }} on {{ host }}", &scope),
            "prefix-******** on db.example"
        );
        assert_eq!(
            shown(&t, "{{ 'prefix-' ~ pw ~ '-suffix' }}", &scope),
            MASK_STR
        );
        // A structure keeps its plain parts.
        assert_eq!(
            shown(&t, "{{ {'user': host, 'b64': pw | b64encode} }}", &scope),
            r#"{"user":"db.example","b64":"********"}"#
        );
        assert_eq!(
            shown(&t, "{{ users | map(attribute='name') | list }}", &scope),
            r#"["alice-taint"]"#
        );
    }

    #[test]
    fn values_computed_next_to_a_secret_stay_visible() {
        redact::register("Tr0ub4dor-taint-2");
        let t = Templar::new();
        let low = vars(json!({"pw": "Tr0ub4dor-taint-2", "port": 6543, "host": "db2.example"}));
        let scope = Scope::new(vec![&low]);
        assert_eq!(
            shown(
                &t,
                "{{ [port + 1, pw | length, pw == 'x', host | upper] }}",
                &scope
            ),
            r#"[6544,17,false,"DB2.EXAMPLE"]"#
        );
        assert_eq!(
            shown(&t, "{{ pw }}:{{ port * 2 }}:{{ pw is string }}", &scope),
            "********:13086:True"
        );
    }

    #[test]
    fn a_template_file_masks_only_the_secret_parts_of_its_lines() {
        redact::register("Tr0ub4dor-taint-3");
        let t = Templar::new();
        let low = vars(json!({"pw": "Tr0ub4dor-taint-3", "port": 7654, "host": "db3.example"}));
        let scope = Scope::new(vec![&low]);
        let src = "host={{ host }}\ntoken={{ pw | b64encode }}\n{% set h = pw | hash('md5') %}md5={{ h }}\nport={{ port + 1 }}\n{% for c in [pw | upper] %}up={{ c }}{% endfor %}\n";
        let out = t.render_file(src, &scope, &Vars::new()).unwrap();
        assert_eq!(
            redact::text(&out),
            "host=db3.example\ntoken=********\nmd5=********\nport=7655\nup=********\n"
        );
        let src = "{% filter upper %}k={{ pw }}{% endfilter %}\n{% macro m(x) %}<{{ x | b64encode }}>{% endmacro %}{{ m(pw) }}\n";
        let out = t.render_file(src, &scope, &Vars::new()).unwrap();
        // A filter block's and a macro's output is one emission: masked whole.
        assert_eq!(redact::text(&out), "****************\n");
        assert!(out.starts_with("K=TR0UB4DOR-TAINT-3<"), "{out}");
        // Control flow that depends on the secret: what was emitted is masked.
        let src =
            "{% if pw.startswith('Tr0') %}{{ pw | b64encode }}{% else %}{{ host }}{% endif %}\n";
        let out = t.render_file(src, &scope, &Vars::new()).unwrap();
        assert_eq!(redact::text(&out), "********\n");
    }

    #[test]
    fn an_error_quoting_a_derived_value_masks_it() {
        redact::register("Tr0ub4dor-taint-5");
        let t = Templar::new();
        let low = vars(json!({"pw": "Tr0ub4dor-taint-5"}));
        let scope = Scope::new(vec![&low]);
        for source in [
            "{{ (pw | upper) | to_datetime }}",
            "x {{ (pw | upper) | to_datetime }}",
        ] {
            let e = t.render_string(source, &scope).unwrap_err().message;
            assert!(e.contains("TR0UB4DOR-TAINT-5"), "{e}");
            assert_eq!(
                redact::text(&e),
                "invalid operation: to_datetime: time data '********' does not match format '%Y-%m-%d %H:%M:%S' (line 1 of the template)"
            );
        }
    }

    #[test]
    fn secrets_reached_through_hostvars_and_numbers_are_tracked() {
        redact::register("83920174");
        let t = Templar::new();
        let low = vars(json!({"pin": "83920174"}));
        let hostvars = from_json(&json!({"h1": {"api_key": "Tr0ub4dor-taint-4"}}));
        redact::register("Tr0ub4dor-taint-4");
        let scope = Scope::new(vec![&low]).with_special("hostvars", hostvars);
        assert_eq!(
            shown(&t, "{{ hostvars['h1'].api_key | b64encode }}", &scope),
            MASK_STR
        );
        assert_eq!(shown(&t, "{{ (pin | int) + 1 }}", &scope), r#""********""#);
        assert_eq!(shown(&t, "{{ pin | int }}", &scope), r#""********""#);
    }

    #[test]
    fn a_shadow_keeps_the_shape_and_changes_the_characters() {
        assert_eq!(shadow_text("Zebra-09 z!"), "Afcsb-10 a!");
        assert_eq!(shadow_text("✓✓ —"), "xxxx");
        assert_eq!(shadow_text("päss"), "qätt");
    }
}
