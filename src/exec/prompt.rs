//! `vars_prompt`: variables asked for before a play runs.
//!
//! As ansible-playbook: a variable given with `-e` is not asked for;
//! without a terminal nothing is asked and each variable takes its
//! `default` (null without one), with one warning; on a terminal the
//! question is asked on stderr (`private` answers are not echoed,
//! `confirm` asks twice), an empty answer taking the default.

use crate::playbook::VarsPrompt;
use crate::report::Reporter;
use crate::vars::Vars;
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};

/// The answers to a play's `vars_prompt` (play variables).
pub(crate) fn ask(prompts: &[VarsPrompt], extra_vars: &Vars, reporter: &mut dyn Reporter) -> Vars {
    let mut out = Vars::new();
    let pending: Vec<&VarsPrompt> = prompts
        .iter()
        .filter(|p| !extra_vars.contains_key(&p.name))
        .collect();
    if pending.is_empty() {
        return out;
    }
    let interactive = std::io::stdin().is_terminal();
    if !interactive {
        reporter.warning("Not prompting as we are not in interactive mode");
    }
    for p in pending {
        let default = p.default.clone().unwrap_or(Value::Null);
        let answer = if interactive {
            ask_one(p, &default).unwrap_or_else(|| match default {
                Value::Null => Value::String(String::new()),
                other => other,
            })
        } else {
            // Ansible answers with the default as text ("None" without one).
            Value::String(py_str(&default))
        };
        let answer = match answer {
            Value::String(s) if p.unsafe_ => crate::template::unsafe_value(&s),
            other => other,
        };
        out.insert(p.name.clone(), answer);
    }
    out
}

/// A value as Python's `str()` writes it.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Asks one question on the terminal; `None` (the default) for an empty answer.
fn ask_one(p: &VarsPrompt, default: &Value) -> Option<Value> {
    let question = p.prompt.clone().unwrap_or_else(|| p.name.clone());
    let shown = match default {
        Value::Null => format!("{question}: "),
        Value::String(s) => format!("{question} [{s}]: "),
        other => format!("{question} [{other}]: "),
    };
    let read = |text: &str| -> Option<String> {
        if p.private {
            rpassword::prompt_password(text).ok()
        } else {
            eprint!("{text}");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).ok()?;
            Some(line.trim_end_matches(['\n', '\r']).to_string())
        }
    };
    loop {
        let first = read(&shown)?;
        if p.confirm {
            let second = read(&format!("confirm {question}: "))?;
            if first != second {
                eprintln!("***** VALUES ENTERED DO NOT MATCH ****");
                continue;
            }
        }
        return (!first.is_empty()).then_some(Value::String(first));
    }
}
