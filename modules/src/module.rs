//! The module contract.
//!
//! A module is typed arguments plus a `run` against a [`Host`]. Modules that
//! manage state implement [`Converge`]: a read-only probe (one script), a pure
//! [`Converge::plan`] from arguments and probed state to a [`Plan`], and the
//! scripts that apply it. Check mode stops after the plan; diff mode shows the
//! plan's diff; [`converge`] is the one place that sequences the three.

use crate::args::{self, ArgsError};
use crate::host::{Exec, ExecOutput, Host, HostError};
use crate::outcome::{Action, Diff, Outcome};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use thiserror::Error;

/// How a module reads a free-form string (`command: ls -l`, `copy: src=a dest=b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeForm {
    /// Only `key=value` pairs (the usual case).
    KeyValue,
    /// The text is the command line, stored as `_raw_params`; `k=v` pairs for
    /// the module's own options (`chdir=`, `creates=`, ...) are split off.
    RawParams,
}

/// Per-task settings a module needs to know.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Predict, change nothing.
    pub check_mode: bool,
    /// Compute before/after diffs.
    pub diff: bool,
}

/// Prefix of the stderr line an apply script uses to give Ansible's `msg`
/// when it fails (the last such line wins).
pub const MSG_PREFIX: &str = "tend: ";

/// A module could not do its work.
#[derive(Debug, Error)]
pub enum ModuleError {
    /// The arguments are wrong (after templating).
    #[error("{0}")]
    Args(#[from] ArgsError),
    /// The host could not run the request.
    #[error("{0}")]
    Host(#[from] HostError),
    /// The module failed; `values` are extra return values (`rc`, `stderr`, ...).
    #[error("{msg}")]
    Failed {
        /// Ansible's `msg`.
        msg: String,
        /// Additional return values.
        values: Map<String, Value>,
    },
}

impl ModuleError {
    /// A failure with a message only.
    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleError::Failed {
            msg: msg.into(),
            values: Map::new(),
        }
    }

    /// A failure of a script, with its `rc`, `stdout` and `stderr`.
    pub fn script(msg: impl Into<String>, out: &ExecOutput) -> Self {
        let mut values = Map::new();
        values.insert("rc".into(), out.status.into());
        values.insert("stdout".into(), out.stdout_text().into());
        values.insert("stderr".into(), out.stderr_text().into());
        let stderr = out.stderr_text();
        let msg = msg.into();
        let msg = if stderr.trim().is_empty() {
            msg
        } else {
            format!("{msg}: {}", stderr.trim())
        };
        ModuleError::Failed { msg, values }
    }

    /// Adds a return value to a [`ModuleError::Failed`] (other errors are kept as they are).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let ModuleError::Failed { values, .. } = &mut self {
            values.insert(key.to_string(), value.into());
        }
        self
    }

    /// A failed apply script: its last `tend: ...` stderr line is the message
    /// (else `msg` and the stderr), with `rc`, `stdout` and `stderr`.
    pub fn applying(msg: &str, out: &ExecOutput) -> Self {
        let stderr = out.stderr_text();
        let line = stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(MSG_PREFIX))
            .map(str::to_string);
        match (ModuleError::script(msg, out), line) {
            (ModuleError::Failed { values, .. }, Some(msg)) => ModuleError::Failed { msg, values },
            (err, _) => err,
        }
    }
}

/// A module as the engine sees it: untyped arguments in, an [`Outcome`] out.
#[async_trait]
pub trait Module: Send + Sync {
    /// Short name (`copy`); the engine also accepts `ansible.builtin.copy`.
    fn name(&self) -> &'static str;
    /// How a free-form string argument is read.
    fn free_form(&self) -> FreeForm;
    /// Checks raw arguments at compile time (templated strings stand in for any value).
    fn check(&self, args: &Value) -> Result<(), ArgsError>;
    /// Runs the module with fully templated arguments.
    async fn run(
        &self,
        args: &Value,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError>;
}

/// A module with typed arguments. Implement this; [`Module`] comes for free.
#[async_trait]
pub trait TypedModule: Send + Sync {
    /// The argument struct (`deny_unknown_fields`).
    type Args: DeserializeOwned + Send + Sync;
    /// Short name.
    const NAME: &'static str;
    /// How a free-form string is read.
    const FREE_FORM: FreeForm = FreeForm::KeyValue;
    /// Cross-argument rules (mutually exclusive, required together...).
    fn validate(_args: &Self::Args) -> Result<(), ArgsError> {
        Ok(())
    }
    /// Runs with parsed arguments.
    async fn run(
        &self,
        args: Self::Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError>;
}

#[async_trait]
impl<T: TypedModule> Module for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn free_form(&self) -> FreeForm {
        T::FREE_FORM
    }

    fn check(&self, raw: &Value) -> Result<(), ArgsError> {
        let parsed = args::check::<T::Args>(raw)?;
        T::validate(&parsed)
    }

    async fn run(
        &self,
        raw: &Value,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let parsed = args::parse::<T::Args>(raw)?;
        T::validate(&parsed)?;
        TypedModule::run(self, parsed, ctx, host).await
    }
}

/// The change a [`Converge`] module would make, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// What kind of change.
    pub action: Action,
    /// Before/after for `--diff`.
    pub diff: Vec<Diff>,
    /// The scripts that apply it, in order (empty for [`Action::NoOp`]).
    pub apply: Vec<Exec>,
    /// Return values known from the plan (`path`, `mode`, `state`...).
    pub values: Map<String, Value>,
    /// Ansible's `msg`, if the module sets one.
    pub msg: Option<String>,
    /// What the plan is about, when its values may not say it (see
    /// [`Outcome::subject`]); else their `dest` or `path`.
    pub subject: Option<String>,
}

impl Plan {
    /// Nothing to do.
    pub fn noop() -> Self {
        Plan {
            action: Action::NoOp,
            diff: Vec::new(),
            apply: Vec::new(),
            values: Map::new(),
            msg: None,
            subject: None,
        }
    }

    /// A change applied by the given scripts.
    pub fn change(action: Action, apply: Vec<Exec>) -> Self {
        Plan {
            action,
            diff: Vec::new(),
            apply,
            values: Map::new(),
            msg: None,
            subject: None,
        }
    }

    /// Adds a diff.
    pub fn with_diff(mut self, diff: Diff) -> Self {
        self.diff.push(diff);
        self
    }

    /// Adds a return value.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.values.insert(key.to_string(), value.into());
        self
    }
}

/// A state-managing module: probe, pure plan, apply.
pub trait Converge: Send + Sync {
    /// The argument struct.
    type Args: Send + Sync;
    /// What the probe found.
    type State: Send;
    /// The message of a failed apply script that gives no `tend: ...` line.
    const APPLY_FAILED: &'static str = "applying the change failed";
    /// The read-only script that observes the current state (one round trip).
    fn probe(&self, args: &Self::Args, ctx: &Context) -> Exec;
    /// Reads the probe's output.
    fn parse(&self, args: &Self::Args, out: &ExecOutput) -> Result<Self::State, ModuleError>;
    /// Decides the change: pure, no I/O.
    fn plan(
        &self,
        args: &Self::Args,
        state: &Self::State,
        ctx: &Context,
    ) -> Result<Plan, ModuleError>;
    /// Whether applying `plan` leaves nothing more to do, so that probing
    /// again right after must plan [`Action::NoOp`] (`tend apply` checks it:
    /// Terraform's "inconsistent result after apply"). By default every
    /// create, update or delete settles; a module whose change is made anew
    /// every time (`state: touch`, `force: yes`) says no for it.
    fn settles(&self, _args: &Self::Args, plan: &Plan) -> bool {
        matches!(
            plan.action,
            Action::Create | Action::Update | Action::Delete
        )
    }
    /// Reads what a successful apply script printed into the plan (a backup's
    /// name, a failed validation). By default, nothing.
    fn applied(
        &self,
        _args: &Self::Args,
        _out: &ExecOutput,
        _plan: &mut Plan,
    ) -> Result<(), ModuleError> {
        Ok(())
    }
}

/// Watches [`converge`] for the engine (saved plans), through
/// [`Host::observer`]: sees what each probe returned and what was planned
/// from it, and may refuse the change before anything is applied.
pub trait ConvergeObserver: Send + Sync {
    /// After the probe and the plan, before anything is applied. An error
    /// fails the module with nothing applied (the state drifted).
    fn planned(&self, probe: &ExecOutput, plan: &Plan) -> Result<(), ModuleError>;
    /// Whether to probe again after applying a change that
    /// [`Converge::settles`], and fail unless nothing is left to do.
    fn verify_applied(&self) -> bool {
        false
    }
}

/// The message of a change that did not leave the state it planned.
pub const INCONSISTENT: &str = "inconsistent result after apply";

/// Runs a [`Converge`] module: probe, plan, and (unless in check mode) apply.
pub async fn converge<C: Converge>(
    module: &C,
    args: &C::Args,
    ctx: &Context,
    host: &dyn Host,
) -> Result<Outcome, ModuleError> {
    let out = host.exec(module.probe(args, ctx).read_only()).await?;
    let state = module.parse(args, &out)?;
    let mut plan = module.plan(args, &state, ctx)?;
    let observer = host.observer();
    if let Some(o) = &observer {
        o.planned(&out, &plan)?;
    }
    if !ctx.check_mode {
        let verify = !plan.apply.is_empty()
            && module.settles(args, &plan)
            && observer.as_ref().is_some_and(|o| o.verify_applied());
        for step in std::mem::take(&mut plan.apply) {
            let out = host.exec(step).await?;
            if out.status != 0 {
                return Err(ModuleError::applying(C::APPLY_FAILED, &out));
            }
            module.applied(args, &out, &mut plan)?;
        }
        if verify && plan.action != Action::NoOp {
            let out = host.exec(module.probe(args, ctx).read_only()).await?;
            let state = module.parse(args, &out)?;
            let again = module.plan(args, &state, ctx)?;
            if again.action != Action::NoOp {
                return Err(ModuleError::failed(format!(
                    "{INCONSISTENT}: the change was applied, but probing again plans {:?} instead of nothing to do",
                    again.action
                ))
                .with("changed", true));
            }
        }
    }
    let subject = plan.subject.or_else(|| {
        ["dest", "path"]
            .iter()
            .find_map(|k| plan.values.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    });
    Ok(Outcome {
        changed: plan.action.changes(),
        failed: false,
        skipped: false,
        msg: plan.msg,
        diff: if ctx.diff { plan.diff } else { Vec::new() },
        values: plan.values,
        subject,
    })
}

/// The part of a probe's output that is state, for saved plans' fingerprints:
/// everything, except what changes on its own between two probes of the same
/// state. The file probes' (`fileops`) `@env` record gives the probe's PID and
/// the clock, and their `stat=` the access, modification and change times
/// (reading a file for its diff moves its access time): those are left out.
pub fn stable_probe_output(out: &ExecOutput) -> Vec<u8> {
    let mut stable = Vec::with_capacity(out.stdout.len() + out.stderr.len() + 8);
    stable.extend_from_slice(out.status.to_string().as_bytes());
    stable.push(0);
    if !out.stdout.starts_with(b"@env\0") {
        stable.extend_from_slice(&out.stdout);
    } else {
        let mut in_env = false;
        let mut content_left = 0usize;
        for field in out.stdout.split_inclusive(|b| *b == 0) {
            if content_left > 0 {
                // Inside a `content=N` payload: bytes, not fields.
                content_left = content_left.saturating_sub(field.len());
                stable.extend_from_slice(field);
                continue;
            }
            if field.starts_with(b"@") {
                in_env = field == b"@env\0";
            }
            if in_env && (field.starts_with(b"pid=") || field.starts_with(b"date=")) {
                continue;
            }
            if let Some(stat) = field.strip_prefix(b"stat=") {
                // %f %u %g %s %h %i %d %X %Y %Z %b ...: drop the three times;
                // for a directory also its size, link count and blocks, which
                // move whenever something is made in it.
                let text = String::from_utf8_lossy(stat);
                let is_dir = text
                    .split(' ')
                    .next()
                    .and_then(|m| u32::from_str_radix(m, 16).ok())
                    .is_some_and(|m| m & 0o170000 == 0o040000);
                let kept: Vec<&str> = text
                    .split(' ')
                    .enumerate()
                    .filter(|(i, _)| !(7..=9).contains(i))
                    .filter(|(i, _)| !(is_dir && matches!(i, 3 | 4 | 10)))
                    .map(|(_, w)| w)
                    .collect();
                stable.extend_from_slice(b"stat=");
                stable.extend_from_slice(kept.join(" ").as_bytes());
                continue;
            }
            if let Some(n) = field
                .strip_prefix(b"content=")
                .and_then(|n| std::str::from_utf8(n.strip_suffix(b"\0").unwrap_or(n)).ok())
                .and_then(|n| n.parse::<usize>().ok())
            {
                // The payload and its closing NUL follow.
                content_left = n + 1;
            }
            stable.extend_from_slice(field);
        }
    }
    stable.push(0);
    stable.extend_from_slice(&out.stderr);
    stable
}

#[cfg(test)]
mod observer_tests {
    use super::*;

    fn out(stdout: &[u8]) -> ExecOutput {
        ExecOutput {
            status: 0,
            stdout: stdout.to_vec(),
            stderr: Vec::new(),
        }
    }

    #[test]
    fn stable_output_ignores_clock_pid_and_file_times_only() {
        let a = out(b"@env\0umask=0022\0pid=7\0date=2024-01-02@03:04:05\0id=uid=0(root)\0@dest\0path=/x\0stat=81a4 0 0 5 1 9 8 1.5 2.5 3.5 8 512 0 0 root root\0content=5\0pid=1\0");
        let b = out(b"@env\0umask=0022\0pid=99\0date=2025-01-02@03:04:05\0id=uid=0(root)\0@dest\0path=/x\0stat=81a4 0 0 5 1 9 8 7.5 8.5 9.5 8 512 0 0 root root\0content=5\0pid=1\0");
        assert_eq!(stable_probe_output(&a), stable_probe_output(&b));
        // Content (even content that looks like a field), mode and size count.
        let c = out(b"@env\0umask=0022\0pid=7\0date=2024-01-02@03:04:05\0id=uid=0(root)\0@dest\0path=/x\0stat=81a4 0 0 5 1 9 8 1.5 2.5 3.5 8 512 0 0 root root\0content=5\0pid=2\0");
        assert_ne!(stable_probe_output(&a), stable_probe_output(&c));
        let d = out(b"@env\0umask=0022\0pid=7\0date=2024-01-02@03:04:05\0id=uid=0(root)\0@dest\0path=/x\0stat=81ed 0 0 5 1 9 8 1.5 2.5 3.5 8 512 0 0 root root\0content=5\0pid=1\0");
        assert_ne!(stable_probe_output(&a), stable_probe_output(&d));
        // A directory's size and link count move when entries are made in it.
        let dir = |stat: &[u8]| {
            let mut o = b"@env\0umask=0022\0@parent\0path=/etc\0stat=".to_vec();
            o.extend_from_slice(stat);
            o.push(0);
            stable_probe_output(&out(&o))
        };
        assert_eq!(
            dir(b"41ed 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root"),
            dir(b"41ed 0 0 8192 3 5 8 4 5 6 16 512 0 0 root root")
        );
        assert_ne!(
            dir(b"41ed 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root"),
            dir(b"41c0 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root")
        );
        // Other probes count whole.
        assert_ne!(
            stable_probe_output(&out(b"a")),
            stable_probe_output(&out(b"b"))
        );
    }

    /// A file whose content is `want`; the host's "file" is `state`, which
    /// the apply script sets only when `sticks`.
    struct Want;

    impl Converge for Want {
        type Args = ();
        type State = String;
        fn probe(&self, _args: &(), _ctx: &Context) -> Exec {
            Exec::script("probe")
        }
        fn parse(&self, _args: &(), out: &ExecOutput) -> Result<String, ModuleError> {
            Ok(out.stdout_text())
        }
        fn plan(&self, _args: &(), state: &String, _ctx: &Context) -> Result<Plan, ModuleError> {
            Ok(if state == "want" {
                Plan::noop()
            } else {
                Plan::change(Action::Update, vec![Exec::script("apply")])
            })
        }
    }

    struct Watch {
        refuse: bool,
        seen: std::sync::Mutex<Vec<String>>,
    }

    impl ConvergeObserver for Watch {
        fn planned(&self, probe: &ExecOutput, plan: &Plan) -> Result<(), ModuleError> {
            self.seen
                .lock()
                .unwrap()
                .push(format!("{} {:?}", probe.stdout_text(), plan.action));
            if self.refuse {
                return Err(ModuleError::failed("drift"));
            }
            Ok(())
        }
        fn verify_applied(&self) -> bool {
            true
        }
    }

    struct Target {
        state: std::sync::Mutex<String>,
        sticks: bool,
        scripts: std::sync::Mutex<Vec<String>>,
        watch: std::sync::Arc<Watch>,
    }

    #[async_trait]
    impl Host for Target {
        async fn exec(&self, request: Exec) -> Result<ExecOutput, crate::host::HostError> {
            self.scripts.lock().unwrap().push(request.script.clone());
            if request.script == "apply" && self.sticks {
                *self.state.lock().unwrap() = "want".into();
            }
            Ok(out(self.state.lock().unwrap().as_bytes()))
        }
        fn observer(&self) -> Option<std::sync::Arc<dyn ConvergeObserver>> {
            Some(self.watch.clone())
        }
    }

    fn target(sticks: bool, refuse: bool) -> Target {
        Target {
            state: std::sync::Mutex::new("old".into()),
            sticks,
            scripts: std::sync::Mutex::new(Vec::new()),
            watch: std::sync::Arc::new(Watch {
                refuse,
                seen: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    fn run(host: &Target, check_mode: bool) -> Result<Outcome, ModuleError> {
        let ctx = Context {
            check_mode,
            diff: false,
        };
        crate::host::Replay::block_on(converge(&Want, &(), &ctx, host))
    }

    #[test]
    fn the_observer_sees_each_plan_and_a_change_is_probed_again() {
        let host = target(true, false);
        assert!(run(&host, false).unwrap().changed);
        assert_eq!(*host.scripts.lock().unwrap(), ["probe", "apply", "probe"]);
        assert_eq!(*host.watch.seen.lock().unwrap(), ["old Update"]);
        // Check mode: the probe only.
        let host = target(true, false);
        assert!(run(&host, true).unwrap().changed);
        assert_eq!(*host.scripts.lock().unwrap(), ["probe"]);
    }

    #[test]
    fn a_change_that_does_not_stick_is_an_inconsistent_result() {
        let host = target(false, false);
        let err = run(&host, false).unwrap_err();
        assert!(err.to_string().starts_with(INCONSISTENT), "{err}");
        assert_eq!(*host.scripts.lock().unwrap(), ["probe", "apply", "probe"]);
    }

    #[test]
    fn a_refusing_observer_stops_the_change_before_it_is_applied() {
        let host = target(true, true);
        let err = run(&host, false).unwrap_err();
        assert_eq!(err.to_string(), "drift");
        assert_eq!(*host.scripts.lock().unwrap(), ["probe"]);
        assert_eq!(*host.state.lock().unwrap(), "old");
    }
}
