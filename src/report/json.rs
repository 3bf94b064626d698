//! `--format json` / `--json FILE`: one JSON object per line, per event.
//! The schema is documented in `docs/json-report.md`; bump
//! [`SCHEMA_VERSION`] on any change that is not a new optional field.

use super::{
    HostResult, Recap, Reporter, RunEnd, RunInfo, Status, TaskInfo, seconds, unified_diff,
};
use serde_json::{Map, Value, json};
use std::io::Write;

/// The version of the JSON lines schema.
pub const SCHEMA_VERSION: u32 = 1;

/// JSON lines on a writer.
pub struct JsonLines<W: Write> {
    out: W,
    play: String,
    task: Option<Value>,
    failed_write: Option<std::io::Error>,
}

impl<W: Write> JsonLines<W> {
    /// A printer on `out`.
    pub fn new(out: W) -> Self {
        JsonLines {
            out,
            play: String::new(),
            task: None,
            failed_write: None,
        }
    }

    fn emit(&mut self, event: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("schema_version".into(), SCHEMA_VERSION.into());
        m.insert("event".into(), event.into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        let line = Value::Object(m).to_string();
        if let Err(e) = writeln!(self.out, "{line}") {
            self.failed_write.get_or_insert(e);
        }
    }
}

impl<W: Write> Reporter for JsonLines<W> {
    fn run_start(&mut self, run: &RunInfo) {
        self.emit(
            "run_start",
            json!({
                "tend_version": env!("CARGO_PKG_VERSION"),
                "command": run.command,
                "playbooks": run.playbooks,
                "check": run.check,
                "diff": run.diff,
            }),
        );
    }

    fn play_start(&mut self, name: &str) {
        self.play = name.to_string();
        self.emit("play_start", json!({"play": name}));
    }

    fn task_start(&mut self, t: &TaskInfo<'_>) {
        let task = json!({
            "name": t.name,
            "action": t.action,
            "path": t.location(),
            "file": t.file(),
            "line": t.span.map(|s| s.line),
            "handler": t.handler,
        });
        self.emit(
            if t.handler {
                "handler_start"
            } else {
                "task_start"
            },
            json!({"play": self.play, "task": task, "hosts": t.hosts}),
        );
        self.task = Some(task);
    }

    fn host_result(&mut self, r: &HostResult<'_>) {
        let diff: Vec<Value> = r
            .diffs
            .iter()
            .map(|d| {
                json!({
                    "before_header": d.before_header,
                    "after_header": d.after_header,
                    "unified": unified_diff(d),
                })
            })
            .collect();
        let task = self.task.clone().unwrap_or(Value::Null);
        // The diff is above, rendered; not twice.
        let mut result = r.result.clone();
        if let Value::Object(m) = &mut result {
            m.shift_remove("diff");
        }
        self.emit(
            "host_result",
            json!({
                "play": self.play,
                "task": task,
                "host": r.host,
                "status": r.status.as_str(),
                "changed": r.changed(),
                "failed": r.status.is_failure() || r.status == Status::Ignored,
                "item": r.item_label,
                "loop_summary": r.is_loop_summary,
                "no_log": r.no_log,
                "duration": r.duration.map(seconds),
                "msg": r.msg(),
                "diff": diff,
                "result": result,
            }),
        );
    }

    fn included(&mut self, file: &str, hosts: &[String], item_label: Option<&str>) {
        self.emit(
            "included",
            json!({"play": self.play, "file": file, "hosts": hosts, "item": item_label}),
        );
    }

    fn warning(&mut self, message: &str) {
        self.emit("warning", json!({"msg": message}));
    }

    fn no_hosts(&mut self) {
        self.emit("no_hosts", json!({"play": self.play}));
    }

    fn no_more_hosts(&mut self) {
        self.emit("no_more_hosts", json!({"play": self.play}));
    }

    fn recap(&mut self, recap: &Recap) {
        let hosts: Map<String, Value> = recap
            .iter()
            .map(|(h, c)| {
                (
                    h.clone(),
                    json!({
                        "ok": c.ok, "changed": c.changed, "unreachable": c.unreachable,
                        "failed": c.failed, "skipped": c.skipped, "rescued": c.rescued,
                        "ignored": c.ignored,
                    }),
                )
            })
            .collect();
        self.emit("recap", json!({"hosts": hosts}));
    }

    fn finish(&mut self, end: &RunEnd) -> std::io::Result<()> {
        self.emit(
            "run_end",
            json!({"exit_code": end.exit_code, "duration": seconds(end.elapsed)}),
        );
        self.out.flush()?;
        match self.failed_write.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
