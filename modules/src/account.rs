//! Shared pieces of the account modules (`user`, `group`): reading the
//! account databases in a probe, and running the shadow tools in an apply
//! script so that a failure gives the tool's own message, as Ansible does.

use crate::host::ExecOutput;
use crate::module::ModuleError;
use crate::sh::quote;
use serde_json::{Map, Value};

/// sh text that sets `$var` to the `db` (`passwd`, `group`, `shadow`) entry
/// whose name is exactly the value of the sh word `name` (a lookup of a
/// numeric name through `getent` that finds an id instead is not taken),
/// falling back to reading `/etc/<db>` when `getent` is missing. (`getent`
/// answers a key with one entry: no `head`, one process fewer.)
pub fn lookup(db: &str, name: &str, var: &str) -> String {
    format!(
        "{var}=$(getent {db} -- {name} 2>/dev/null)\n\
         case ${var} in {name}:*) ;; *) {var}=$(awk -F: -v n={name} '$1==n{{print;exit}}' /etc/{db} 2>/dev/null) ;; esac\n"
    )
}

/// The line a failed [`step`] prints: `__tend_failed RC`.
const FAILED: &str = "__tend_failed ";

/// sh text that runs `words` (already quoted), their standard error going to
/// the script's; when they fail the script stops (exit 0) after printing
/// their exit status for [`applied`], so that the task fails as Ansible's
/// does: the tool's standard error is the message.
pub fn step(words: &str) -> String {
    format!("{words} >/dev/null || {{ printf '{FAILED}%s\\n' \"$?\"; exit 0; }}\n")
}

/// Reads an apply script made of [`step`]s: a failed step is the task's
/// failure (`msg` is the tools' standard error, with `name` and, when
/// `with_rc`, `rc`); a successful one's standard error, if any, becomes
/// `stderr` and `stderr_lines`, as Ansible returns them.
pub fn applied(
    out: &ExecOutput,
    name: &str,
    with_rc: bool,
    values: &mut Map<String, Value>,
) -> Result<(), ModuleError> {
    let stdout = out.stdout_text();
    let stderr = out.stderr_text();
    if let Some(rc) = stdout.lines().find_map(|l| l.strip_prefix(FAILED)) {
        let mut failure = Map::new();
        failure.insert("name".into(), name.into());
        if with_rc {
            failure.insert("rc".into(), rc.trim().parse::<i64>().unwrap_or(1).into());
        }
        return Err(ModuleError::Failed {
            msg: stderr,
            values: failure,
        });
    }
    if !stderr.is_empty() {
        let lines: Vec<Value> = stderr.lines().map(Value::from).collect();
        values.insert("stderr".into(), stderr.into());
        values.insert("stderr_lines".into(), lines.into());
    }
    Ok(())
}

/// Quotes each word and joins them into one command line.
pub fn command(words: &[String]) -> String {
    words
        .iter()
        .map(|w| quote(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `name:...` line of a colon-separated database, split into fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry(pub Vec<String>);

impl Entry {
    /// Parses a line; `None` when it is empty.
    pub fn parse(line: &str) -> Option<Entry> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            return None;
        }
        Some(Entry(line.split(':').map(str::to_string).collect()))
    }

    /// Field `i` (0-based), empty when missing.
    pub fn field(&self, i: usize) -> &str {
        self.0.get(i).map(String::as_str).unwrap_or("")
    }

    /// Field `i` as a number.
    pub fn num(&self, i: usize) -> Option<i64> {
        self.field(i).trim().parse().ok()
    }
}

/// Reads `key=value` lines of a probe; the first `=` splits.
pub fn fields(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .collect::<Vec<_>>()
}

/// The value of the first `key=` line.
pub fn field<'a>(fields: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Ansible's `user` and `group` exit at once in check mode when they would
/// create or delete the account: the result is `changed` alone.
pub fn check_mode_exit(plan: &mut crate::module::Plan, check_mode: bool) {
    use crate::outcome::Action;
    if check_mode && matches!(plan.action, Action::Create | Action::Delete) {
        plan.values.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_steps_fail_as_ansible() {
        let out = ExecOutput {
            status: 0,
            stdout: b"__tend_failed 8\n".to_vec(),
            stderr: b"groupdel: cannot remove the primary group of user 'carl'\n".to_vec(),
        };
        let mut values = Map::new();
        match applied(&out, "team", false, &mut values) {
            Err(ModuleError::Failed { msg, values }) => {
                assert_eq!(
                    msg,
                    "groupdel: cannot remove the primary group of user 'carl'\n"
                );
                assert_eq!(values["name"], "team");
                assert!(!values.contains_key("rc"));
            }
            other => panic!("{other:?}"),
        }
        let Err(ModuleError::Failed { values, .. }) = applied(&out, "u", true, &mut values) else {
            panic!()
        };
        assert_eq!(values["rc"], 8);
        let out = ExecOutput {
            status: 0,
            stdout: vec![],
            stderr: b"userdel: bob mail spool (/var/mail/bob) not found\n".to_vec(),
        };
        let mut values = Map::new();
        applied(&out, "bob", true, &mut values).unwrap();
        assert_eq!(
            values["stderr_lines"][0],
            "userdel: bob mail spool (/var/mail/bob) not found"
        );
    }

    #[test]
    fn entries_and_fields() {
        let e = Entry::parse("alice:x:1001:1001:Alice,,,:/home/alice:/bin/bash\n").unwrap();
        assert_eq!(e.field(0), "alice");
        assert_eq!(e.num(2), Some(1001));
        assert_eq!(e.field(9), "");
        assert!(Entry::parse("").is_none());
        let f = fields("a=1\nb=x=y\nnoeq\n");
        assert_eq!(field(&f, "b"), Some("x=y"));
        assert_eq!(field(&f, "c"), None);
    }

    #[test]
    fn scripts_quote_and_report() {
        assert_eq!(
            command(&["groupadd".into(), "-g".into(), "a b".into()]),
            "groupadd -g 'a b'"
        );
        let s = step("groupdel x");
        assert_eq!(
            s,
            "groupdel x >/dev/null || { printf '__tend_failed %s\\n' \"$?\"; exit 0; }\n"
        );
        let l = lookup("group", "\"$n\"", "g");
        assert!(l.contains("getent group -- \"$n\""));
        assert!(l.contains("/etc/group"));
    }
}
