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

/// Runs a [`Converge`] module: probe, plan, and (unless in check mode) apply.
pub async fn converge<C: Converge>(
    module: &C,
    args: &C::Args,
    ctx: &Context,
    host: &dyn Host,
) -> Result<Outcome, ModuleError> {
    let out = host.exec(module.probe(args, ctx)).await?;
    let state = module.parse(args, &out)?;
    let mut plan = module.plan(args, &state, ctx)?;
    if !ctx.check_mode {
        for step in std::mem::take(&mut plan.apply) {
            let out = host.exec(step).await?;
            if out.status != 0 {
                return Err(ModuleError::applying(C::APPLY_FAILED, &out));
            }
            module.applied(args, &out, &mut plan)?;
        }
    }
    Ok(Outcome {
        changed: plan.action.changes(),
        failed: false,
        skipped: false,
        msg: plan.msg,
        diff: if ctx.diff { plan.diff } else { Vec::new() },
        values: plan.values,
    })
}
