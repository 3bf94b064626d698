//! What a module reports: Ansible's return values.

use serde::Serialize;
use serde_json::{Map, Value};

/// One before/after pair, as in Ansible's `diff` return value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Label of the old side (usually the path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_header: Option<String>,
    /// Label of the new side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_header: Option<String>,
    /// Old text (file content, or `key: value` lines for attributes).
    pub before: String,
    /// New text.
    pub after: String,
    /// Ready-made text shown as it is instead of a before/after diff (the
    /// package modules' `prepared` summary of what the package manager does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepared: Option<String>,
    /// The before/after dictionaries a module without an action plugin
    /// returns (`file`'s `{path, state, mode, ...}`): registered results
    /// give these as `before`/`after`, the text above is only for display.
    #[serde(skip)]
    pub dicts: Option<Box<(Value, Value)>>,
}

impl Diff {
    /// The registered form: [`Diff::dicts`] when there are any, else the texts.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let (Some(d), Value::Object(m)) = (&self.dicts, &mut v) {
            m.insert("before".into(), d.0.clone());
            m.insert("after".into(), d.1.clone());
        }
        v
    }

    /// A ready-made summary (Ansible's `diff.prepared`), shown as it is.
    pub fn prepared(text: impl Into<String>) -> Self {
        Diff {
            prepared: Some(text.into()),
            dicts: None,
            ..Diff::default()
        }
    }

    /// A diff of one file's content.
    pub fn content(path: &str, before: impl Into<String>, after: impl Into<String>) -> Self {
        Diff {
            before_header: Some(path.to_string()),
            after_header: Some(path.to_string()),
            before: before.into(),
            after: after.into(),
            prepared: None,
            dicts: None,
        }
    }

    /// A diff of attributes (`path`, `state`, `mode`, ...), shown as Ansible
    /// shows its before/after dicts: JSON, keys sorted, 4-space indent.
    pub fn attributes(_path: &str, before: &[(&str, String)], after: &[(&str, String)]) -> Self {
        // Ansible's file diffs hold uids, gids and times as numbers.
        let dict = |pairs: &[(&str, String)]| {
            let mut m = Map::new();
            for (k, v) in pairs {
                let value = match (*k, v.parse::<u64>(), v.parse::<f64>()) {
                    ("owner" | "group", Ok(n), _) => Value::from(n),
                    ("mtime" | "atime", _, Ok(f)) => Value::from(f),
                    _ => Value::from(v.as_str()),
                };
                m.insert(k.to_string(), value);
            }
            Value::Object(m)
        };
        Diff::of_dicts(dict(before), dict(after))
    }

    /// A diff of two dictionaries, shown as Ansible's callback shows them:
    /// `json.dumps` with sorted keys and a 4-space indent.
    pub fn of_dicts(before: Value, after: Value) -> Self {
        Diff {
            before_header: None,
            after_header: None,
            before: render_dict(&before),
            after: render_dict(&after),
            prepared: None,
            dicts: Some(Box::new((before, after))),
        }
    }
}

/// Python's `json.dumps(v, sort_keys=True, indent=4)` of a result's diff
/// dictionary, with a final newline.
fn render_dict(v: &Value) -> String {
    let mut text = json_dumps_indent4(&sorted_keys(v));
    text.push('\n');
    text
}

/// The value with the keys of every object sorted, as Ansible's callbacks
/// dump results and diffs (`sort_keys=True`).
pub fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_keys(&m[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

/// Python's `json.dumps(value, indent=4)` layout (keys in the value's order).
pub fn json_dumps_indent4(value: &Value) -> String {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Writing a `Value` to memory cannot fail.
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The kind of change a plan makes, as data (Terraform-style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Nothing to do: the target is already in the desired state.
    NoOp,
    /// Something is created.
    Create,
    /// Something that exists is changed.
    Update,
    /// Something is removed.
    Delete,
    /// A command runs (its effect is not known in advance).
    Run,
}

impl Action {
    /// Whether applying the plan changes the target.
    pub fn changes(self) -> bool {
        self != Action::NoOp
    }
}

/// The result of one module run on one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The target was (or in check mode would be) changed.
    pub changed: bool,
    /// The module failed.
    pub failed: bool,
    /// The module skipped its work (e.g. check mode on a command).
    pub skipped: bool,
    /// Ansible's `msg`.
    pub msg: Option<String>,
    /// Before/after pairs for `--diff`.
    pub diff: Vec<Diff>,
    /// All other return values (`rc`, `stdout`, `path`, `mode`, ...).
    pub values: Map<String, Value>,
    /// What the result is about, for reports (a file module's destination),
    /// also when the return values do not say it (check mode). Not a
    /// return value.
    pub subject: Option<String>,
}

impl Outcome {
    /// An unchanged, successful outcome.
    pub fn ok() -> Self {
        Outcome::default()
    }

    /// A changed outcome.
    pub fn changed() -> Self {
        Outcome {
            changed: true,
            ..Outcome::default()
        }
    }

    /// A failed outcome with a message.
    pub fn failed(msg: impl Into<String>) -> Self {
        Outcome {
            failed: true,
            msg: Some(msg.into()),
            ..Outcome::default()
        }
    }

    /// What a module without check mode support gives in check mode: skipped,
    /// with Ansible's message.
    pub fn no_check_mode(module: &str) -> Self {
        Outcome {
            skipped: true,
            msg: Some(format!(
                "remote module ({module}) does not support check mode"
            )),
            ..Outcome::default()
        }
        .module_skip()
    }

    /// A skip the module itself returned (it has `failed: false`, as every
    /// module result in Ansible), not one of an action plugin.
    pub fn module_skip(self) -> Self {
        self.with("failed", false)
    }

    /// Sets `msg`.
    pub fn with_msg(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }

    /// Adds one return value.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.values.insert(key.to_string(), value.into());
        self
    }

    /// Ansible's result dictionary: `changed`, `failed`, `msg`, `diff` and the rest.
    pub fn to_value(&self) -> Value {
        let mut map = self.values.clone();
        map.insert("changed".into(), Value::Bool(self.changed));
        if self.failed {
            map.insert("failed".into(), Value::Bool(true));
        } else if !self.skipped {
            // An action's own skip (`creates`, check mode) has no `failed`
            // in Ansible; a module's skip carries it in its values.
            map.entry("failed").or_insert(Value::Bool(false));
        }
        if self.skipped {
            map.insert("skipped".into(), Value::Bool(true));
        }
        if let Some(msg) = &self.msg {
            map.insert("msg".into(), Value::String(msg.clone()));
        }
        split_std_lines(&mut map);
        // A module may give the registered form itself (`copy`'s is a list).
        if !self.diff.is_empty() && !map.contains_key("diff") {
            let diff = match self.diff.as_slice() {
                [one] => one.to_value(),
                many => Value::Array(many.iter().map(Diff::to_value).collect()),
            };
            map.insert("diff".into(), diff);
        }
        Value::Object(map)
    }
}

/// What Ansible adds to every module's result: `stdout_lines` beside a
/// `stdout` and `stderr_lines` beside a `stderr` that lack them (Python's
/// `splitlines()`; a null or false value gives an empty list).
pub fn split_std_lines(map: &mut Map<String, Value>) {
    for (key, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
        if map.contains_key(lines) {
            continue;
        }
        let text = match map.get(key) {
            None => continue,
            Some(Value::String(s)) => s.as_str(),
            Some(_) => "",
        };
        let split = crate::command::lines_value(text);
        map.insert(lines.into(), split);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stdout_and_stderr_get_their_lines_as_ansible_adds_them() {
        let o = Outcome::ok()
            .with("stdout", "skipped, since '/x' exists")
            .with("stderr", "a\r\nb\n");
        let v = o.to_value();
        assert_eq!(v["stdout_lines"], json!(["skipped, since '/x' exists"]));
        assert_eq!(v["stderr_lines"], json!(["a", "b"]));
        // A module's own lines are kept; a null stdout gives none.
        let mut m = Map::new();
        m.insert("stdout".into(), Value::Null);
        m.insert("stderr".into(), json!("x"));
        m.insert("stderr_lines".into(), json!(["kept"]));
        split_std_lines(&mut m);
        assert_eq!(m["stdout_lines"], json!([]));
        assert_eq!(m["stderr_lines"], json!(["kept"]));
    }

    #[test]
    fn an_action_skip_has_no_failed_key_a_module_skip_has() {
        let action = Outcome {
            skipped: true,
            msg: Some("/x exists, matching creates option".into()),
            ..Outcome::default()
        };
        let v = action.to_value();
        assert_eq!(v["skipped"], true);
        assert!(v.get("failed").is_none(), "{v}");
        let module = Outcome::no_check_mode("wait_for").to_value();
        assert_eq!(module["failed"], false);
        assert_eq!(module["skipped"], true);
    }
}
