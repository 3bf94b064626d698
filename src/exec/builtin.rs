//! Controller-side actions: debug, set_fact, assert, fail, meta, pause.

use crate::compile::actions::{
    AssertArgs, Builtin, DebugArgs, FailArgs, MetaAction, MetaArgs, PauseArgs,
};
use crate::template::{Scope, Templar};
use serde_json::{Map, Value, json};
use tend_modules::args;

/// The result of a builtin action.
pub(crate) struct BuiltinResult {
    pub result: Value,
    pub failed: bool,
    pub skipped: bool,
    pub facts: Map<String, Value>,
    pub end_host: bool,
    pub verbose_always: bool,
}

impl BuiltinResult {
    pub(crate) fn ok(mut result: Value) -> Self {
        if let Value::Object(m) = &mut result {
            m.entry("failed").or_insert(Value::Bool(false));
        }
        BuiltinResult {
            result,
            failed: false,
            skipped: false,
            facts: Map::new(),
            end_host: false,
            verbose_always: false,
        }
    }
}

/// Runs a builtin with templated arguments (`raw` is the untemplated original, for `assert`).
pub(crate) async fn run(
    builtin: Builtin,
    templated: &Value,
    raw: &Value,
    templar: &Templar,
    scope: &Scope<'_>,
    verbosity: u8,
    conn: &dyn tend_modules::Host,
) -> BuiltinResult {
    match builtin {
        Builtin::Debug => {
            // `!unsafe` text, or text a template computed, is not evaluated
            // (a template passing a variable through is).
            let untrusted = match raw.get("var") {
                Some(Value::Object(m)) => m.contains_key(crate::template::UNSAFE_KEY),
                Some(Value::String(s)) => {
                    crate::template::is_template(s) && !crate::template::is_indirection(s)
                }
                _ => false,
            };
            if untrusted {
                return BuiltinResult::failure(crate::compile::actions::UNTRUSTED_VAR.into());
            }
            debug(templated, templar, scope, verbosity)
        }
        Builtin::SetFact => {
            // A templated name must render to text (Ansible renders names natively).
            for key in raw.as_object().into_iter().flat_map(|m| m.keys()) {
                if !crate::template::is_template(key) {
                    continue;
                }
                match templar.render_string(key, scope) {
                    Ok(Value::String(_)) => {}
                    Ok(other) => {
                        return BuiltinResult::failure(format!(
                            "Invalid variable name '{}' of type '{}'.",
                            text(&other),
                            crate::compile::actions::python_type(&other)
                        ));
                    }
                    Err(e) => return BuiltinResult::failure(e.message),
                }
            }
            let mut facts = Map::new();
            if let Value::Object(m) = templated {
                for (k, v) in m {
                    if k == "cacheable" {
                        continue;
                    }
                    if !valid_var_name(k) {
                        return BuiltinResult::failure(format!(
                            "Invalid variable name '{k}'. Variable names must start with a letter or underscore character, and contain only letters, numbers and underscores."
                        ));
                    }
                    facts.insert(k.clone(), v.clone());
                }
            }
            let mut r = BuiltinResult::ok(
                json!({"changed": false, "ansible_facts": Value::Object(facts.clone())}),
            );
            r.facts = facts;
            r
        }
        Builtin::Assert => assert(templated, raw, templar, scope),
        Builtin::Fail => match args::parse::<FailArgs>(templated) {
            Ok(a) => {
                let msg = a
                    .msg
                    .map(|m| text(&m))
                    .unwrap_or_else(|| "Failed as requested from task".into());
                BuiltinResult {
                    failed: true,
                    ..BuiltinResult::ok(json!({"changed": false, "failed": true, "msg": msg}))
                }
            }
            Err(e) => BuiltinResult::failure(e.message),
        },
        Builtin::Meta => match args::parse::<MetaArgs>(templated).and_then(|a| a.action()) {
            Ok(MetaAction::EndHost) => BuiltinResult {
                end_host: true,
                ..BuiltinResult::ok(json!({"changed": false, "msg": "ending play"}))
            },
            Ok(MetaAction::Noop) => BuiltinResult::ok(json!({"changed": false, "msg": "noop"})),
            Ok(MetaAction::ResetConnection) => {
                conn.reset().await;
                BuiltinResult::ok(json!({"changed": false, "msg": "reset connection"}))
            }
            Ok(_) => BuiltinResult {
                skipped: true,
                ..BuiltinResult::ok(json!({"changed": false, "skipped": true}))
            },
            Err(e) => BuiltinResult::failure(e.message),
        },
        // Need the playbook's paths, the run's inventory or the host: run
        // by the executor (`include_vars.rs`, `live_inventory.rs`, `setup.rs`).
        Builtin::IncludeVars | Builtin::AddHost | Builtin::GroupBy | Builtin::Setup => {
            BuiltinResult::failure(format!("{builtin:?}: run by the executor"))
        }
        Builtin::Pause => match args::parse::<PauseArgs>(templated) {
            Ok(a) => {
                // Ansible waits at least a second, and reports what it
                // measured, rounded to 1/100 of its unit.
                let d = a.duration().max(std::time::Duration::from_secs(1));
                let unit = if a.seconds.is_some() {
                    "seconds"
                } else {
                    "minutes"
                };
                // Python's `str(datetime.now())`.
                let now = || {
                    let dt = jiff::tz::TimeZone::system().to_datetime(jiff::Timestamp::now());
                    format!(
                        "{}.{:06}",
                        dt.strftime("%Y-%m-%d %H:%M:%S"),
                        dt.subsec_nanosecond() / 1000
                    )
                };
                let (start_text, start) = (now(), std::time::Instant::now());
                tokio::time::sleep(d).await;
                let took = start.elapsed().as_secs_f64();
                let shown = if unit == "minutes" { took / 60.0 } else { took };
                let shown = (shown * 100.0).round() / 100.0;
                let shown = if shown.fract() == 0.0 {
                    format!("{shown:.1}")
                } else {
                    format!("{shown}")
                };
                BuiltinResult::ok(json!({
                    "changed": false, "rc": 0, "stderr": "", "echo": true,
                    "start": start_text, "stop": now(), "delta": took as u64,
                    "stdout": format!("Paused for {shown} {unit}"), "user_input": "",
                }))
            }
            Err(e) => BuiltinResult::failure(e.message),
        },
    }
}

/// A Python identifier, as Ansible requires of variable names.
pub(crate) fn valid_var_name(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield", "true", "false", "none",
    ];
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name)
}

impl BuiltinResult {
    /// A failed action with Ansible's `msg`.
    pub(crate) fn failure(msg: String) -> BuiltinResult {
        BuiltinResult {
            failed: true,
            ..BuiltinResult::ok(json!({"changed": false, "failed": true, "msg": msg,
                "exception": super::task::NO_TRACEBACK}))
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn debug(templated: &Value, templar: &Templar, scope: &Scope<'_>, verbosity: u8) -> BuiltinResult {
    let a: DebugArgs = match args::parse(templated) {
        Ok(a) => a,
        Err(e) => return BuiltinResult::failure(e.message),
    };
    if let Some(v) = a.verbosity
        && i64::from(verbosity) < v
    {
        let mut r = BuiltinResult::ok(
            json!({"changed": false, "skipped_reason": "Verbosity threshold not met.", "skipped": true}),
        );
        r.skipped = true;
        return r;
    }
    if let Err(e) = a.validate() {
        return BuiltinResult::failure(e.message);
    }
    let var = match a.var_expression() {
        Ok(v) => v,
        Err(e) => return BuiltinResult::failure(e.message),
    };
    let mut r = match var {
        Some(var) => {
            let mut warnings = Vec::new();
            let value = match templar.render_string(&format!("{{{{ {var} }}}}"), scope) {
                Ok(v) => v,
                Err(e) if e.undefined => {
                    // ansible-core 2.19's rendering of an undefined `var`,
                    // with a warning.
                    warnings.push(Value::String(format!(
                        "Encountered 1 template error.\nerror 1 - {}",
                        e.message
                    )));
                    Value::String(format!("<< error 1 - {} >>", e.message))
                }
                Err(e) => return BuiltinResult::failure(e.message),
            };
            // A variable holding `omit` shows a placeholder, as Ansible 2.19.
            let value = if value.as_str() == Some(crate::template::OMIT) {
                warnings.push(Value::String(format!(
                    "The `var` expression '{var}' resolved to `omit`, which could not be omitted here."
                )));
                Value::String("<<Omit>>".into())
            } else {
                value
            };
            let mut m = Map::new();
            m.insert(var, value);
            m.insert("changed".into(), Value::Bool(false));
            if !warnings.is_empty() {
                m.insert("warnings".into(), Value::Array(warnings));
            }
            BuiltinResult::ok(Value::Object(m))
        }
        None => {
            let msg = a
                .msg
                .unwrap_or_else(|| Value::String("Hello world!".into()));
            BuiltinResult::ok(json!({"msg": msg, "changed": false}))
        }
    };
    r.verbose_always = true;
    r
}

fn assert(templated: &Value, raw: &Value, templar: &Templar, scope: &Scope<'_>) -> BuiltinResult {
    // Ansible's argument spec and conditional checks, with its messages.
    match templated.get("that") {
        None => return BuiltinResult::failure("missing required arguments: that".into()),
        Some(Value::Null) => {
            return BuiltinResult::failure(crate::compile::actions::EMPTY_CONDITIONAL.into());
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            return BuiltinResult::failure(crate::compile::actions::EMPTY_CONDITIONAL.into());
        }
        Some(Value::Array(items))
            if items
                .iter()
                .any(|c| c.is_null() || c.as_str().is_some_and(|s| s.trim().is_empty())) =>
        {
            return BuiltinResult::failure(crate::compile::actions::EMPTY_CONDITIONAL.into());
        }
        Some(_) => {}
    }
    let a: AssertArgs = match args::parse(templated) {
        Ok(a) => a,
        Err(e) => return BuiltinResult::failure(e.message),
    };
    let that = raw.get("that").cloned().unwrap_or(a.that.clone());
    let conditions = match (that, &a.that) {
        // `that: "{{ list_of_conditions }}"`: each element is a condition.
        // Listed in a playbook variable, they are taken as written there, so
        // an `!unsafe` one is refused as Ansible refuses it.
        (Value::String(s), Value::Array(items)) if crate::template::is_template(&s) => {
            match scope.passed_through(&s) {
                Some(Value::Array(raw)) if raw.len() == items.len() => raw,
                _ => items.clone(),
            }
        }
        (Value::Array(items), _) => items,
        (other, _) => vec![other],
    };
    for cond in &conditions {
        match templar.eval_condition(cond, scope) {
            Ok(true) => {}
            Ok(false) => {
                let msg = a
                    .fail_msg
                    .as_ref()
                    .map(text)
                    .unwrap_or_else(|| "Assertion failed".into());
                let mut r = BuiltinResult::failure(msg);
                if let Value::Object(m) = &mut r.result {
                    m.insert("assertion".into(), cond.clone());
                    m.insert("evaluated_to".into(), Value::Bool(false));
                }
                return r;
            }
            Err(e) => {
                let mut r = BuiltinResult::failure(super::task::conditional_failure(&e));
                let shown = match crate::template::unsafe_str(cond) {
                    Some(text) => Value::String(text.to_string()),
                    None => cond.clone(),
                };
                if let Value::Object(m) = &mut r.result {
                    m.insert("assertion".into(), shown);
                }
                return r;
            }
        }
    }
    let msg = a
        .success_msg
        .as_ref()
        .map(text)
        .unwrap_or_else(|| "All assertions passed".into());
    let mut r = BuiltinResult::ok(json!({"changed": false, "msg": msg}));
    let deprecations = delimited_conditionals(&conditions, templar, scope);
    if !deprecations.is_empty()
        && let Value::Object(m) = &mut r.result
    {
        m.insert("deprecations".into(), Value::Array(deprecations));
    }
    r.verbose_always = !a.quiet;
    r
}

/// Ansible 2.19's deprecation of conditionals written inside `{{ }}` or
/// `{% %}`, one per such condition (unless `ansible_deprecation_warnings`
/// is false).
fn delimited_conditionals(
    conditions: &[Value],
    templar: &Templar,
    scope: &Scope<'_>,
) -> Vec<Value> {
    let enabled = templar
        .render_string("{{ ansible_deprecation_warnings | default(true) }}", scope)
        .map_or(true, |v| v != Value::Bool(false));
    if !enabled {
        return Vec::new();
    }
    conditions
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|c| {
            (c.starts_with("{{") || c.starts_with("{%")) && (c.ends_with("}}") || c.ends_with("%}"))
        })
        .map(|_| {
            json!({
                "msg": "Conditionals should not be surrounded by templating delimiters such as {{ }} or {% %}.",
                "version": "2.23",
                "collection_name": "ansible.builtin",
                "deprecator": {"resolved_name": "ansible.builtin", "type": null},
            })
        })
        .collect()
}
