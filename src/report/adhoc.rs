//! The ad-hoc printer (`tend run`, `tend ping`): one block per host as
//! `ansible`'s default (minimal) callback prints it, or one line per host
//! with `-o` as its oneline callback.

use super::human::{pretty, shown, unified_diff};
use super::{HostResult, Recap, Reporter, Status, TaskInfo};
use serde_json::Value;
use std::io::Write;

/// Modules whose output is text, not JSON (Ansible's `MODULE_NO_JSON`).
const TEXT_MODULES: &[&str] = &["command", "shell", "raw"];

/// Prints ad-hoc results.
pub struct AdHoc<W: Write> {
    out: W,
    text_module: bool,
    one_line: bool,
}

impl<W: Write> AdHoc<W> {
    /// A printer for results of `module`; `one_line` is `-o`.
    pub fn new(out: W, module: &str, one_line: bool) -> Self {
        let short = module
            .strip_prefix("ansible.builtin.")
            .or_else(|| module.strip_prefix("ansible.legacy."))
            .unwrap_or(module);
        AdHoc {
            out,
            text_module: TEXT_MODULES.contains(&short),
            one_line,
        }
    }

    /// `host | CHANGED | rc=0 >>` and the output, for command-like modules.
    fn text_block(&self, host: &str, caption: &str, result: &Value) -> String {
        let field = |k: &str| result.get(k).and_then(Value::as_str).unwrap_or_default();
        let rc = result.get("rc").cloned().unwrap_or(Value::from(-1));
        if self.one_line {
            let flat = |s: &str| s.replace('\n', "\\n").replace('\r', "\\r");
            let stderr = field("stderr");
            if stderr.is_empty() {
                format!(
                    "{host} | {caption} | rc={rc} | (stdout) {}",
                    flat(field("stdout"))
                )
            } else {
                format!(
                    "{host} | {caption} | rc={rc} | (stdout) {} (stderr) {}",
                    flat(field("stdout")),
                    flat(stderr)
                )
            }
        } else {
            format!(
                "{host} | {caption} | rc={rc} >>\n{}{}{}",
                field("stdout"),
                field("stderr"),
                field("msg")
            )
        }
    }

    fn json_block(&self, host: &str, caption: &str, result: &Value) -> String {
        if self.one_line {
            format!("{host} | {caption} => {}", one_line_json(result))
        } else {
            format!("{host} | {caption} => {}", pretty(result))
        }
    }
}

/// Python's `json.dumps(indent=0)` with the newlines removed, as the oneline
/// callback prints results: `{"changed": false,"ping": "pong"}`.
fn one_line_json(value: &Value) -> String {
    struct OneLine;
    impl serde_json::ser::Formatter for OneLine {
        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b",") }
        }
        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b",") }
        }
        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            w.write_all(b": ")
        }
    }
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, OneLine);
    let _ = serde::Serialize::serialize(value, &mut ser);
    String::from_utf8_lossy(&buf).into_owned()
}

impl<W: Write> Reporter for AdHoc<W> {
    fn play_start(&mut self, _name: &str) {}

    fn task_start(&mut self, _task: &TaskInfo<'_>) {}

    fn host_result(&mut self, r: &HostResult<'_>) {
        for d in r.diffs {
            let _ = writeln!(self.out, "{}", unified_diff(d));
        }
        // `no_log` results arrive censored (see `Reporters`).
        let result = r.result;
        let host = r.host;
        let line = match r.status {
            Status::Skipped => format!("{host} | SKIPPED"),
            Status::Unreachable if self.one_line => {
                let msg = result
                    .get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                format!("{host} | UNREACHABLE!: {msg}")
            }
            Status::Unreachable => self.json_block(host, "UNREACHABLE!", &shown(result, false)),
            Status::Failed | Status::Ignored
                if self.text_module && result.get("module_stderr").is_none() && !r.no_log =>
            {
                self.text_block(host, "FAILED", result)
            }
            Status::Failed | Status::Ignored => {
                self.json_block(host, "FAILED!", &shown(result, false))
            }
            Status::Ok | Status::Changed => {
                let caption = if r.status == Status::Changed {
                    "CHANGED"
                } else {
                    "SUCCESS"
                };
                if self.text_module && !r.no_log {
                    self.text_block(host, caption, result)
                } else {
                    self.json_block(host, caption, &shown(result, r.verbose_always))
                }
            }
        };
        let _ = writeln!(self.out, "{line}");
    }

    fn included(&mut self, _file: &str, _hosts: &[String], _item_label: Option<&str>) {}

    fn ignoring(&mut self) {}

    fn warning(&mut self, message: &str) {
        eprintln!("[WARNING]: {message}");
    }

    fn no_hosts(&mut self) {
        eprintln!("[WARNING]: No hosts matched, nothing to do");
    }

    fn recap(&mut self, _recap: &Recap) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn print(module: &str, one_line: bool, status: Status, result: Value) -> String {
        let mut buf = Vec::new();
        let mut p = AdHoc::new(&mut buf, module, one_line);
        p.host_result(&HostResult {
            host: "web1",
            status,
            result: &result,
            item_label: None,
            diffs: &[],
            is_loop_summary: false,
            no_log: false,
            verbose_always: false,
            duration: None,
            commands: &[],
            skipped_by_when: false,
            subject: None,
        });
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn command_output_is_shown_as_text() {
        let r = json!({"changed": true, "rc": 0, "stdout": "a\nb", "stderr": ""});
        assert_eq!(
            print("command", false, Status::Changed, r.clone()),
            "web1 | CHANGED | rc=0 >>\na\nb\n"
        );
        assert_eq!(
            print("ansible.builtin.shell", true, Status::Changed, r),
            "web1 | CHANGED | rc=0 | (stdout) a\\nb\n"
        );
        let failed = json!({"changed": true, "rc": 3, "stdout": "out", "stderr": "err", "msg": "non-zero return code"});
        assert_eq!(
            print("shell", false, Status::Failed, failed.clone()),
            "web1 | FAILED | rc=3 >>\nouterrnon-zero return code\n"
        );
        assert_eq!(
            print("shell", true, Status::Failed, failed),
            "web1 | FAILED | rc=3 | (stdout) out (stderr) err\n"
        );
    }

    #[test]
    fn other_modules_show_their_result_as_json() {
        let r = json!({"ping": "pong", "changed": false});
        assert_eq!(
            print("ping", false, Status::Ok, r.clone()),
            "web1 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n"
        );
        assert_eq!(
            print("ping", true, Status::Ok, r),
            "web1 | SUCCESS => {\"changed\": false,\"ping\": \"pong\"}\n"
        );
        let down = json!({"msg": "connection refused", "unreachable": true, "changed": false});
        assert_eq!(
            print("ping", true, Status::Unreachable, down),
            "web1 | UNREACHABLE!: connection refused\n"
        );
    }
}
