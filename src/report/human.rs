//! The default output, shaped like ansible-playbook's.

use super::{CENSORED_LABEL, Counts, HostResult, Recap, Reporter, Status, TaskInfo, censored};
use crate::connection::record::CommandKind;
use serde_json::Value;
use similar::TextDiff;
use std::io::Write;

/// Human-readable output on a writer.
pub struct Human<W: Write> {
    out: W,
    color: bool,
    verbosity: u8,
    /// The current task: where it is written and whether it is a
    /// controller action (for the error display of its failures).
    task: Option<(crate::yaml::Span, bool)>,
}

impl<W: Write> Human<W> {
    /// A printer; `color` adds ANSI colours.
    pub fn new(out: W, color: bool, verbosity: u8) -> Self {
        Human {
            out,
            color,
            verbosity,
            task: None,
        }
    }

    /// Ansible 2.19's display of a failed task result, shown before the
    /// `fatal:`/`failed:` line: the error (`Task failed: Action failed: MSG`
    /// for a controller action, `Module failed` for a module) and its
    /// origin, the task's position with up to two lines before it.
    fn error_origin(&mut self, result: &Value) {
        let Some((span, action)) = &self.task else {
            return;
        };
        let kind = if *action { "Action" } else { "Module" };
        let message = match result.get("msg") {
            Some(Value::String(m)) => format!("Task failed: {kind} failed: {m}"),
            Some(other) if !other.is_null() => format!("Task failed: {kind} failed: {other}"),
            _ => format!("Task failed: {kind} failed."),
        };
        let message = crate::report::redact::text(&message);
        let mut text = format!("[ERROR]: {message}\nOrigin: {}\n", span.location());
        // A vault-encrypted file's text is never shown.
        if crate::vault::decrypted_file(&span.file.path).is_some() {
            let _ = writeln!(self.out, "{}", self.paint("31", &text));
            return;
        }
        text.push('\n');
        let line = span.line as usize;
        let first = line.saturating_sub(2).max(1);
        let width = line.to_string().len();
        for (n, l) in span
            .file
            .text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .skip(first - 1)
            .take(line + 1 - first)
        {
            text.push_str(&format!("{n:>width$} {l}\n"));
        }
        let pad = " ".repeat(width + span.col as usize);
        text.push_str(&format!("{pad}^ column {}\n", span.col));
        let _ = writeln!(self.out, "{}", self.paint("31", &text));
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// `-vvv`: the scripts run on the host, as Ansible shows its `EXEC` lines.
    fn commands(&mut self, r: &HostResult<'_>) {
        for c in r.commands {
            let mut facts = vec![match (&c.outcome, c.kind) {
                (Ok(_), CommandKind::Connect) => "connected".to_string(),
                (Ok(rc), CommandKind::Exec) => format!("rc={rc}"),
                (Err(e), _) => format!("error: {e}"),
            }];
            facts.push(format!("{:.3}s", c.duration.as_secs_f64()));
            if c.stdin_len > 0 {
                facts.push(format!("{} bytes on stdin", c.stdin_len));
            }
            if let Some(u) = &c.become_user {
                facts.push(format!("become {u}"));
            }
            let what = match c.kind {
                CommandKind::Exec => "EXEC",
                CommandKind::Connect => "SSH CONNECT",
            };
            let _ = writeln!(self.out, "<{}> {what} [{}]", r.host, facts.join(", "));
            for line in c.script.lines() {
                let _ = writeln!(self.out, "    {line}");
            }
        }
    }

    fn banner(&mut self, title: &str) {
        let stars = 80usize.saturating_sub(title.chars().count() + 1).max(3);
        let _ = writeln!(self.out, "\n{title} {}", "*".repeat(stars));
    }
}

/// Renders a unified diff the way `ansible-playbook --diff` shows it.
pub fn unified_diff(diff: &tend_modules::Diff) -> String {
    if let Some(prepared) = &diff.prepared {
        return prepared.clone();
    }
    let before_h = diff
        .before_header
        .as_ref()
        .map_or_else(|| "before".to_string(), |h| format!("before: {h}"));
    let after_h = diff
        .after_header
        .as_ref()
        .map_or_else(|| "after".to_string(), |h| format!("after: {h}"));
    let text = TextDiff::from_lines(&diff.before, &diff.after);
    let mut out = String::new();
    let body = text
        .unified_diff()
        .context_radius(3)
        .header(&before_h, &after_h)
        .to_string();
    out.push_str(&body);
    out
}

/// Python's `json.dumps` separators (`", "`, `": "`), as Ansible prints results.
struct PythonCompact;

impl serde_json::ser::Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// One-line JSON as Ansible prints it.
pub fn compact(value: &Value) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, PythonCompact);
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8_lossy(&buf).into_owned()
}

pub(crate) fn pretty(value: &Value) -> String {
    // Python's json.dumps(indent=4) layout, which Ansible's default callback uses.
    tend_modules::outcome::json_dumps_indent4(value)
}

/// The result as the default callback shows it: internal keys dropped.
pub(crate) fn shown(result: &Value, drop_changed: bool) -> Value {
    let mut v = tend_modules::outcome::sorted_keys(result);
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| {
            !k.starts_with("_ansible")
                && !matches!(
                    k.as_str(),
                    "diff" | "ansible_loop_var" | "exception" | "warnings" | "deprecations"
                )
                || k == "_ansible_no_log"
        });
        m.shift_remove("_ansible_no_log");
        if drop_changed {
            m.shift_remove("changed");
        }
        m.shift_remove("failed");
        if m.get("skipped") == Some(&Value::Bool(false)) {
            m.shift_remove("skipped");
        }
    }
    v
}

impl<W: Write> Reporter for Human<W> {
    fn play_start(&mut self, name: &str) {
        self.banner(&format!("PLAY [{name}]"));
    }

    fn task_start(&mut self, task: &TaskInfo<'_>) {
        let kind = if task.handler {
            "RUNNING HANDLER"
        } else {
            "TASK"
        };
        self.banner(&format!("{kind} [{}]", task.name));
        self.task = task.span.map(|span| {
            (
                span.clone(),
                crate::compile::actions::Builtin::lookup(task.action).is_some(),
            )
        });
        let location = task.location();
        if self.verbosity >= 1 && !location.is_empty() {
            let _ = writeln!(self.out, "task path: {location}");
        }
    }

    fn host_result(&mut self, r: &HostResult<'_>) {
        if self.verbosity >= 3 {
            self.commands(r);
        }
        if !r.no_log {
            for d in r.diffs {
                let text = unified_diff(d);
                let _ = writeln!(self.out, "{text}");
            }
        }
        let (word, code) = match r.status {
            Status::Ok => ("ok", "32"),
            Status::Changed => ("changed", "33"),
            Status::Skipped => ("skipping", "36"),
            Status::Failed | Status::Ignored => ("failed", "31"),
            Status::Unreachable => ("fatal", "31"),
        };
        let label = if r.no_log {
            r.item_label.as_ref().map(|_| CENSORED_LABEL.to_string())
        } else {
            r.item_label.clone()
        };
        let mut item = label
            .as_ref()
            .map(|l| format!(" => (item={l})"))
            .unwrap_or_default();
        if self.verbosity >= 1
            && let Some(d) = r.duration
        {
            item.push_str(&format!(" ({:.2}s)", d.as_secs_f64()));
        }
        let result = if r.no_log {
            censored(r.result)
        } else {
            r.result.clone()
        };
        let failed = matches!(r.status, Status::Failed | Status::Ignored);
        // A delegated task: `[host -> delegated host]`.
        let shown_host = match r
            .result
            .get("_ansible_delegated_vars")
            .and_then(|d| d.get("ansible_host"))
            .and_then(Value::as_str)
        {
            Some(d) => format!("{} -> {d}", r.host),
            None => r.host.to_string(),
        };
        // Warnings and deprecations the result carries are shown as such,
        // ahead of it, never inside it (as Ansible's default callback).
        for (key, prefix) in [
            ("warnings", "[WARNING]"),
            ("deprecations", "[DEPRECATION WARNING]"),
        ] {
            for w in result
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = match w {
                    Value::String(s) => s.clone(),
                    other => other
                        .get("msg")
                        .and_then(Value::as_str)
                        .map_or_else(|| other.to_string(), str::to_string),
                };
                let _ = writeln!(
                    self.out,
                    "{}",
                    self.paint("35", &format!("{prefix}: {text}"))
                );
            }
        }
        if failed {
            self.error_origin(&result);
        }
        let line = match r.status {
            _ if failed && label.is_some() => {
                format!(
                    "failed: [{}] (item={}) => {}",
                    shown_host,
                    label.as_deref().unwrap_or_default(),
                    compact(&shown(&result, false))
                )
            }
            _ if failed => format!(
                "fatal: [{}]: FAILED! => {}",
                shown_host,
                compact(&shown(&result, false))
            ),
            Status::Unreachable => {
                format!(
                    "fatal: [{}]: UNREACHABLE! => {}",
                    shown_host,
                    compact(&shown(&result, false))
                )
            }
            _ if r.verbose_always => {
                // `debug` shows its message only, not the loop bookkeeping.
                let mut body = shown(&result, true);
                if let Value::Object(m) = &mut body {
                    m.retain(|k, _| {
                        !matches!(
                            k.as_str(),
                            "item"
                                | "ansible_loop_var"
                                | "ansible_index_var"
                                | "_ansible_item_label"
                        )
                    });
                }
                format!("{word}: [{}]{item} => {}", shown_host, pretty(&body))
            }
            _ if self.verbosity > 0 && !result.is_null() => format!(
                "{word}: [{}]{item} => {}",
                shown_host,
                pretty(&shown(&result, false))
            ),
            _ => format!("{word}: [{}]{item}", shown_host),
        };
        let _ = writeln!(self.out, "{}", self.paint(code, &line));
        if r.status == Status::Ignored && r.item_label.is_none() {
            let _ = writeln!(self.out, "{}", self.paint("36", "...ignoring"));
        }
    }

    fn included(&mut self, file: &str, hosts: &[String], item_label: Option<&str>) {
        let item = item_label
            .map(|l| format!(" => (item={l})"))
            .unwrap_or_default();
        let line = format!("included: {file} for {}{item}", hosts.join(", "));
        let _ = writeln!(self.out, "{}", self.paint("36", &line));
    }

    fn ignoring(&mut self) {
        let _ = writeln!(self.out, "{}", self.paint("36", "...ignoring"));
    }

    fn warning(&mut self, message: &str) {
        let _ = writeln!(
            self.out,
            "{}",
            self.paint("35", &format!("[WARNING]: {message}"))
        );
    }

    fn retrying(&mut self, host: &str, task: &str, left: i64) {
        let line = format!("FAILED - RETRYING: [{host}]: {task} ({left} retries left).");
        let _ = writeln!(self.out, "{}", self.paint("1;30", &line));
    }

    fn no_hosts(&mut self) {
        let _ = writeln!(self.out, "skipping: no hosts matched");
    }

    fn no_more_hosts(&mut self) {
        self.banner("NO MORE HOSTS LEFT");
    }

    fn traffic(&mut self, host: &str, traffic: &crate::connection::Traffic) {
        if self.verbosity >= 1 {
            let plural = |n: u64| if n == 1 { "" } else { "s" };
            let _ = writeln!(
                self.out,
                "<{host}> SSH: {} round trip{}, {} channel{}",
                traffic.round_trips,
                plural(traffic.round_trips),
                traffic.channels,
                plural(traffic.channels)
            );
        }
    }

    fn recap(&mut self, recap: &Recap) {
        self.banner("PLAY RECAP");
        for (host, c) in recap {
            // As Ansible: a host that no task counted is not listed.
            if *c == Counts::default() {
                continue;
            }
            let Counts {
                ok,
                changed,
                unreachable,
                failed,
                skipped,
                rescued,
                ignored,
            } = *c;
            let _ = writeln!(
                self.out,
                "{:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={:<4}",
                host, ok, changed, unreachable, failed, skipped, rescued, ignored
            );
        }
        let _ = writeln!(self.out);
        let _ = self.out.flush();
    }
}
