//! Reports: one event stream, one printer per output format.
//!
//! The executor emits events ([`Reporter`]); each output format is a
//! reporter of its own (human text, JSON lines, JUnit XML, Markdown, GitHub
//! annotations, the progress display) and [`Reporters`] fans the stream out to
//! every one the command line asked for. [`Reporters`] also censors `no_log`
//! results once, before any printer sees them, so no format can leak them.

mod adhoc;
pub mod github;
mod human;
mod json;
mod junit;
mod markdown;
mod progress;
pub mod redact;

pub use adhoc::AdHoc;
pub use github::GithubAnnotations;
pub use human::{Human, compact, unified_diff};
pub use json::JsonLines;
pub use junit::Junit;
pub use markdown::Markdown;

pub use progress::{Progress, ProgressWriter};

pub use crate::connection::record::CommandRecord;
use crate::yaml::Span;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tend_modules::Diff;

/// What Ansible shows instead of a `no_log` result.
pub const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// What Ansible shows instead of a `no_log` loop item label.
pub const CENSORED_LABEL: &str = "(censored due to no_log)";

/// How one task ended on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing changed.
    Ok,
    /// Something changed.
    Changed,
    /// Not run (`when` false, check mode).
    Skipped,
    /// Failed.
    Failed,
    /// Failed, with `ignore_errors`.
    Ignored,
    /// The host could not be reached.
    Unreachable,
}

impl Status {
    /// The status as the JSON report names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Ignored => "ignored",
            Status::Unreachable => "unreachable",
        }
    }

    /// Failed or unreachable (not an ignored failure).
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Unreachable)
    }

    /// How bad: the worst of several loop items wins.
    fn rank(self) -> u8 {
        match self {
            Status::Skipped => 0,
            Status::Ok => 1,
            Status::Changed => 2,
            Status::Ignored => 3,
            Status::Failed => 4,
            Status::Unreachable => 5,
        }
    }

    /// The worse of two statuses (loop items of one task).
    pub fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// A run of one or more playbooks.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// `playbook` or `plan`.
    pub command: String,
    /// The playbook files, as given.
    pub playbooks: Vec<String>,
    /// Check mode.
    pub check: bool,
    /// Diff mode.
    pub diff: bool,
}

/// How the run ended.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd {
    /// The process exit code.
    pub exit_code: i32,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// A task (or handler) about to run.
#[derive(Debug, Clone)]
pub struct TaskInfo<'a> {
    /// The name shown (`role : name`).
    pub name: &'a str,
    /// Where the task is written (none for the implicit fact gathering).
    pub span: Option<&'a Span>,
    /// The module or action as written.
    pub action: &'a str,
    /// A handler.
    pub handler: bool,
    /// How many hosts run it.
    pub hosts: usize,
}

impl<'a> TaskInfo<'a> {
    /// `file:line:col`, or empty.
    pub fn location(&self) -> String {
        self.span.map(Span::location).unwrap_or_default()
    }

    /// The source file, as the playbook was given.
    pub fn file(&self) -> Option<String> {
        self.span.map(|s| s.file.path.display().to_string())
    }

    /// The 1-based source line (0 when unknown).
    pub fn line(&self) -> u32 {
        self.span.map_or(0, |s| s.line)
    }
}

/// One host's result for a task (or one loop item).
#[derive(Debug, Clone)]
pub struct HostResult<'a> {
    /// The host.
    pub host: &'a str,
    /// How it ended.
    pub status: Status,
    /// The registered result (what `-v` and failures print).
    pub result: &'a Value,
    /// `(item=...)` label for loop items.
    pub item_label: Option<String>,
    /// Diffs to show (already empty unless `--diff`).
    pub diffs: &'a [Diff],
    /// What the result is about (a file's path), when known.
    pub subject: Option<&'a str>,
    /// Whether this is a loop's summary line (printed after its items).
    pub is_loop_summary: bool,
    /// `no_log`: print nothing of the result.
    pub no_log: bool,
    /// Controller-side action whose output is always shown (`debug`).
    pub verbose_always: bool,
    /// How long it took on this host (this loop item), when measured.
    pub duration: Option<Duration>,
    /// The scripts run on the host (recorded at `-vvv` only).
    pub commands: &'a [CommandRecord],
    /// Skipped by a false `when` (known even once a `no_log` result is censored).
    pub skipped_by_when: bool,
}

/// Whether `result` is a task skipped by a false `when`.
pub fn skipped_by_when(result: &Value) -> bool {
    result.get("skip_reason").and_then(Value::as_str) == Some("Conditional result was False")
}

impl<'a> HostResult<'a> {
    /// A result with no diff, item, timing or commands (a controller-side verdict).
    pub fn simple(host: &'a str, status: Status, result: &'a Value) -> Self {
        HostResult {
            host,
            status,
            result,
            item_label: None,
            diffs: &[],
            is_loop_summary: false,
            no_log: false,
            verbose_always: false,
            duration: None,
            commands: &[],
            skipped_by_when: skipped_by_when(result),
            subject: None,
        }
    }

    /// `changed` as the result says.
    pub fn changed(&self) -> bool {
        self.status == Status::Changed || self.result.get("changed") == Some(&Value::Bool(true))
    }

    /// The result's `msg`, as text (the censored notice for `no_log`).
    pub fn msg(&self) -> Option<String> {
        match self
            .result
            .get("msg")
            .or_else(|| self.result.get("censored"))?
        {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(compact(other)),
        }
    }

    /// A failure in one line: `msg`, with the return code and the first line
    /// of standard error when the result has them.
    pub fn failure_message(&self) -> String {
        let mut text = self.msg().unwrap_or_else(|| compact(self.result));
        if let Some(rc) = self.result.get("rc").and_then(Value::as_i64) {
            text.push_str(&format!(" (rc={rc})"));
        }
        let stderr = self.result.get("stderr").and_then(Value::as_str);
        if let Some(line) = stderr.and_then(|e| e.lines().find(|l| !l.trim().is_empty())) {
            text.push_str(&format!(": {}", line.trim()));
        }
        text
    }
}

/// Per-host counters for the recap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// ok (including changed, as Ansible counts)
    pub ok: u32,
    /// changed
    pub changed: u32,
    /// unreachable
    pub unreachable: u32,
    /// failed
    pub failed: u32,
    /// skipped
    pub skipped: u32,
    /// rescued
    pub rescued: u32,
    /// ignored
    pub ignored: u32,
}

/// The recap: counters per host, in name order.
pub type Recap = BTreeMap<String, Counts>;

/// Something that shows a run. Every method but the core ones has a no-op
/// default, so a printer implements what its format needs.
pub trait Reporter {
    /// The run starts (before the first playbook).
    fn run_start(&mut self, _run: &RunInfo) {}
    /// A play starts.
    fn play_start(&mut self, name: &str);
    /// A task starts (`handler` for handlers).
    fn task_start(&mut self, task: &TaskInfo<'_>);
    /// A host starts working on the current task (progress only).
    fn host_start(&mut self, _host: &str) {}
    /// A host is done with the current task; its result follows later.
    fn host_done(&mut self, _host: &str) {}
    /// One host's result.
    fn host_result(&mut self, result: &HostResult<'_>);
    /// An `include_tasks` file was included for these hosts (once per loop item).
    fn included(&mut self, _file: &str, _hosts: &[String], _item_label: Option<&str>) {}
    /// A failure was ignored (`ignore_errors`), after a loop's items.
    fn ignoring(&mut self) {}
    /// A warning.
    fn warning(&mut self, message: &str);
    /// An `until` loop's attempt failed on `host` and is retried: `left`
    /// retries remain.
    fn retrying(&mut self, _host: &str, _task: &str, _left: i64) {}
    /// A play matched no hosts.
    fn no_hosts(&mut self) {}
    /// A play was aborted (`max_fail_percentage`): no host is left to run.
    fn no_more_hosts(&mut self) {}
    /// What a host's connection cost in a play (at its end).
    fn traffic(&mut self, _host: &str, _traffic: &crate::connection::Traffic) {}
    /// A playbook ended.
    fn recap(&mut self, recap: &Recap);
    /// The run ended: write files, flush.
    fn finish(&mut self, _end: &RunEnd) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `no_log` form of a result: only `changed` (and `failed`, `skipped`,
/// `unreachable`) survive, as Ansible's censoring keeps them, and `tend
/// plan`'s `unknown` (a fixed text, see [`crate::exec::UNKNOWN`]).
pub fn censored(result: &Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("censored".into(), Value::from(CENSORED));
    for key in ["changed", "failed", "skipped", "unreachable", "unknown"] {
        if let Some(v) = result.get(key) {
            m.insert(key.into(), v.clone());
        }
    }
    m.entry("changed").or_insert(Value::Bool(false));
    Value::Object(m)
}

/// Fan-out: every event to every reporter, `no_log` results censored first.
#[derive(Default)]
pub struct Reporters {
    all: Vec<Box<dyn Reporter>>,
}

impl Reporters {
    /// No reporter yet.
    pub fn new() -> Self {
        Reporters::default()
    }

    /// Adds a reporter; events reach reporters in the order added.
    pub fn push(&mut self, r: Box<dyn Reporter>) {
        self.all.push(r);
    }

    /// Adds a reporter that sees every event before the others.
    pub fn insert_first(&mut self, r: Box<dyn Reporter>) {
        self.all.insert(0, r);
    }

    fn each(&mut self, mut f: impl FnMut(&mut dyn Reporter)) {
        for r in &mut self.all {
            f(r.as_mut());
        }
    }
}

impl Reporter for Reporters {
    fn traffic(&mut self, host: &str, traffic: &crate::connection::Traffic) {
        self.each(|r| r.traffic(host, traffic));
    }
    fn run_start(&mut self, run: &RunInfo) {
        self.each(|r| r.run_start(run));
    }
    fn play_start(&mut self, name: &str) {
        let name = redact::text(name);
        self.each(|r| r.play_start(&name));
    }
    fn task_start(&mut self, task: &TaskInfo<'_>) {
        // A name templated from a secret is masked too.
        let name = redact::text(task.name);
        let task = TaskInfo {
            name: &name,
            ..task.clone()
        };
        self.each(|r| r.task_start(&task));
    }
    fn host_start(&mut self, host: &str) {
        self.each(|r| r.host_start(host));
    }
    fn host_done(&mut self, host: &str) {
        self.each(|r| r.host_done(host));
    }
    fn host_result(&mut self, result: &HostResult<'_>) {
        if redact::active() {
            // Secrets masked in everything the event carries.
            let masked = redact::value(result.result);
            let diffs: Vec<Diff> = result.diffs.iter().map(redact::diff).collect();
            let commands: Vec<CommandRecord> = result
                .commands
                .iter()
                .map(|c| CommandRecord {
                    script: redact::text(&c.script).into_owned(),
                    ..c.clone()
                })
                .collect();
            let label = result
                .item_label
                .as_deref()
                .map(|l| redact::text(l).into_owned());
            let clean = HostResult {
                result: &masked,
                item_label: label,
                diffs: &diffs,
                commands: &commands,
                ..result.clone()
            };
            return self.host_result_unmasked(&clean);
        }
        self.host_result_unmasked(result);
    }
    fn included(&mut self, file: &str, hosts: &[String], item_label: Option<&str>) {
        let label = item_label.map(redact::text);
        self.each(|r| r.included(file, hosts, label.as_deref()));
    }
    fn ignoring(&mut self) {
        self.each(|r| r.ignoring());
    }
    fn warning(&mut self, message: &str) {
        let message = redact::text(message);
        self.each(|r| r.warning(&message));
    }
    fn retrying(&mut self, host: &str, task: &str, left: i64) {
        let task = redact::text(task);
        self.each(|r| r.retrying(host, &task, left));
    }
    fn no_hosts(&mut self) {
        self.each(|r| r.no_hosts());
    }
    fn no_more_hosts(&mut self) {
        self.each(|r| r.no_more_hosts());
    }
    fn recap(&mut self, recap: &Recap) {
        self.each(|r| r.recap(recap));
    }
    fn finish(&mut self, end: &RunEnd) -> std::io::Result<()> {
        let mut first_error = None;
        for r in &mut self.all {
            if let Err(e) = r.finish(end) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Reporters {
    /// A result after secrets are masked: `no_log` censored, then to everyone.
    fn host_result_unmasked(&mut self, result: &HostResult<'_>) {
        if !result.no_log {
            self.each(|r| r.host_result(result));
            return;
        }
        // Censor once, for every format: no result, no diff, no item, no command text.
        let hidden = censored(result.result);
        let commands: Vec<CommandRecord> = result
            .commands
            .iter()
            .map(CommandRecord::redacted)
            .collect();
        let safe = HostResult {
            result: &hidden,
            item_label: result.item_label.as_ref().map(|_| CENSORED_LABEL.into()),
            diffs: &[],
            commands: &commands,
            ..result.clone()
        };
        self.each(|r| r.host_result(&safe));
    }
}

/// Tally of a run kept by the file reporters: what happened per play, task and host.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// The run.
    pub(crate) run: Option<RunInfo>,
    /// Plays in order.
    pub(crate) plays: Vec<PlayTally>,
    /// Counters per host, summed over the playbooks.
    pub(crate) recap: Recap,
}

/// A format rendered from the whole run at its end (JUnit, Markdown).
pub trait SummaryFormat {
    /// The file's text.
    fn render(&self, tally: &Tally, end: &RunEnd) -> String;
}

/// A reporter that tallies the run and writes one file in `F` at the end.
pub struct SummaryFile<F> {
    path: std::path::PathBuf,
    tally: Tally,
    format: F,
}

impl<F: SummaryFormat> SummaryFile<F> {
    /// Writes `path` in `format` when the run ends.
    pub fn new(path: std::path::PathBuf, format: F) -> Self {
        SummaryFile {
            path,
            tally: Tally::default(),
            format,
        }
    }
}

impl<F: SummaryFormat> Reporter for SummaryFile<F> {
    fn run_start(&mut self, run: &RunInfo) {
        self.tally.run = Some(run.clone());
    }
    fn play_start(&mut self, name: &str) {
        self.tally.play(name);
    }
    fn task_start(&mut self, task: &TaskInfo<'_>) {
        self.tally.task(task);
    }
    fn host_result(&mut self, result: &HostResult<'_>) {
        self.tally.result(result);
    }
    fn warning(&mut self, _message: &str) {}
    fn recap(&mut self, recap: &Recap) {
        for (h, c) in recap {
            let e = self.tally.recap.entry(h.clone()).or_default();
            e.ok += c.ok;
            e.changed += c.changed;
            e.unreachable += c.unreachable;
            e.failed += c.failed;
            e.skipped += c.skipped;
            e.rescued += c.rescued;
            e.ignored += c.ignored;
        }
    }
    fn finish(&mut self, end: &RunEnd) -> std::io::Result<()> {
        let text = self.format.render(&self.tally, end);
        std::fs::write(&self.path, text)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}

/// One play's tasks.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlayTally {
    /// Its name.
    pub name: String,
    /// Tasks in run order.
    pub tasks: Vec<TaskTally>,
}

/// One task (or handler) and its per-host outcomes.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskTally {
    /// The name shown.
    pub name: String,
    /// `file:line:col`.
    pub location: String,
    /// A handler.
    pub handler: bool,
    /// Host outcomes, in the order reported (loop items merged).
    pub hosts: Vec<HostTally>,
}

/// One host's outcome for a task, loop items merged.
#[derive(Debug, Clone)]
pub(crate) struct HostTally {
    /// The host.
    pub host: String,
    /// The worst status of its items.
    pub status: Status,
    /// Total time.
    pub duration: Duration,
    /// Failure messages (with the item label).
    pub messages: Vec<String>,
    /// Unified diffs, rendered.
    pub diffs: Vec<String>,
    /// What the diffs are of (their headers: usually paths).
    pub targets: Vec<String>,
    /// The task has `no_log`: its details are hidden.
    pub no_log: bool,
    /// Check mode skipped it though it would run (a command): its effect is
    /// not predicted.
    pub would_run: bool,
    /// `tend plan` cannot tell its outcome: it failed in check mode after
    /// earlier changes pending on the host (the result's `unknown`).
    pub unknown: bool,
}

impl Tally {
    /// Records a play start.
    pub fn play(&mut self, name: &str) {
        self.plays.push(PlayTally {
            name: name.to_string(),
            tasks: Vec::new(),
        });
    }

    /// Records a task start.
    pub fn task(&mut self, t: &TaskInfo<'_>) {
        if self.plays.is_empty() {
            self.play("");
        }
        if let Some(p) = self.plays.last_mut() {
            p.tasks.push(TaskTally {
                name: t.name.to_string(),
                location: t.location(),
                handler: t.handler,
                hosts: Vec::new(),
            });
        }
    }

    /// Records a host result (merging loop items of the same host).
    pub fn result(&mut self, r: &HostResult<'_>) {
        if r.is_loop_summary && r.status != Status::Skipped {
            return;
        }
        let Some(task) = self.plays.last_mut().and_then(|p| p.tasks.last_mut()) else {
            return;
        };
        let diffs: Vec<String> = r.diffs.iter().map(unified_diff).collect();
        // What changes: the destination (a template's diff is *after* its source).
        let mut targets: Vec<String> = r
            .diffs
            .iter()
            .filter_map(|d| d.before_header.clone().or_else(|| d.after_header.clone()))
            .collect();
        // One file changing: its path (a new file's diff has no before
        // header, and a template's after header is the template).
        if r.diffs.len() <= 1
            && let Some(subject) = r.subject
        {
            targets = vec![subject.to_string()];
        }
        if targets.is_empty() && r.status == Status::Changed {
            targets.extend(
                ["dest", "path"]
                    .iter()
                    .find_map(|k| r.result.get(*k).and_then(Value::as_str))
                    .map(str::to_string),
            );
        }
        let check = self.run.as_ref().is_some_and(|run| run.check);
        let would_run =
            check && r.status == Status::Skipped && !r.skipped_by_when && !r.is_loop_summary;
        let unknown = r.status == Status::Ignored && r.result.get("unknown").is_some();
        let message = if r.is_loop_summary {
            None
        } else if matches!(
            r.status,
            Status::Failed | Status::Ignored | Status::Unreachable
        ) {
            let msg = r.failure_message();
            Some(match &r.item_label {
                Some(l) => format!("(item={l}) {msg}"),
                None => msg,
            })
        } else {
            None
        };
        let duration = r.duration.unwrap_or_default();
        match task.hosts.iter_mut().find(|h| h.host == r.host) {
            Some(h) => {
                h.status = h.status.worst(r.status);
                h.duration += duration;
                h.messages.extend(message);
                h.diffs.extend(diffs);
                h.targets.extend(targets);
                h.would_run |= would_run;
                h.unknown |= unknown;
            }
            None => task.hosts.push(HostTally {
                host: r.host.to_string(),
                status: r.status,
                duration,
                messages: message.into_iter().collect(),
                diffs,
                targets,
                no_log: r.no_log,
                would_run,
                unknown,
            }),
        }
    }
}

/// Seconds with millisecond precision, for the reports.
pub(crate) fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// Keeps what it is shown, as text.
    struct Capture(Arc<Mutex<Vec<String>>>);

    impl Reporter for Capture {
        fn play_start(&mut self, name: &str) {
            self.0.lock().unwrap().push(format!("play {name}"));
        }
        fn task_start(&mut self, task: &TaskInfo<'_>) {
            self.0.lock().unwrap().push(format!("task {}", task.name));
        }
        fn host_result(&mut self, r: &HostResult<'_>) {
            let diffs: Vec<String> = r.diffs.iter().map(unified_diff).collect();
            let scripts: Vec<&str> = r.commands.iter().map(|c| c.script.as_str()).collect();
            self.0.lock().unwrap().push(format!(
                "{} {:?} {} {diffs:?} {scripts:?}",
                r.host, r.item_label, r.result
            ));
        }
        fn warning(&mut self, message: &str) {
            self.0.lock().unwrap().push(message.to_string());
        }
        fn recap(&mut self, _recap: &Recap) {}
    }

    fn shown(no_log: bool, secret: &str) -> String {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut all = Reporters::new();
        all.push(Box::new(Capture(Arc::clone(&seen))));
        all.push(Box::new(Capture(Arc::clone(&seen))));
        all.play_start(&format!("deploy {secret}"));
        all.task_start(&TaskInfo {
            name: &format!("set {secret}"),
            span: None,
            action: "copy",
            handler: false,
            hosts: 1,
        });
        let result = json!({"changed": true, "msg": format!("set to {secret}"), "item": secret});
        let diffs = [Diff {
            before_header: Some("/etc/pw".into()),
            after_header: Some("/etc/pw".into()),
            before: String::new(),
            after: format!("pw = {secret}\n"),
            prepared: None,
            dicts: None,
        }];
        let commands = [CommandRecord {
            kind: crate::connection::record::CommandKind::Exec,
            script: format!("printf %s {secret}"),
            become_user: None,
            stdin_len: 0,
            outcome: Ok(0),
            duration: Duration::ZERO,
        }];
        all.host_result(&HostResult {
            host: "web1",
            status: Status::Changed,
            result: &result,
            item_label: Some(secret.to_string()),
            diffs: &diffs,
            is_loop_summary: false,
            no_log,
            verbose_always: false,
            duration: None,
            commands: &commands,
            skipped_by_when: false,
            subject: None,
        });
        all.warning(&format!("careful with {secret}"));
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 8, "every reporter sees every event");
        seen.join("\n")
    }

    #[test]
    fn no_log_results_reach_no_reporter() {
        let out = shown(true, "plain-no-log-value");
        let results: Vec<&str> = out.lines().filter(|l| l.starts_with("web1")).collect();
        assert_eq!(results.len(), 2);
        for line in results {
            assert!(!line.contains("plain-no-log-value"), "{line}");
            assert!(line.contains(CENSORED), "{line}");
            assert!(line.contains(CENSORED_LABEL), "{line}");
        }
    }

    #[test]
    fn registered_secrets_are_masked_for_every_reporter() {
        redact::register("vault-Secret-42");
        let out = shown(false, "vault-Secret-42");
        assert!(!out.contains("vault-Secret-42"), "{out}");
        assert!(out.contains("set to ********"), "{out}");
        assert!(out.contains("+pw = ********"), "{out}");
        assert!(out.contains("printf %s ********"), "{out}");
        assert!(out.contains("careful with ********"), "{out}");
        assert!(out.contains("Some(\"********\")"), "{out}");
        assert!(out.contains("play deploy ********"), "{out}");
        assert!(out.contains("task set ********"), "{out}");
    }
}
