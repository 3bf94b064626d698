//! Reports: one event stream, one printer per output format.

mod adhoc;
mod human;

pub use adhoc::AdHoc;
pub use human::Human;

use serde_json::Value;
use std::collections::BTreeMap;
use tend_modules::Diff;

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
    /// Whether this is a loop's summary line (printed after its items).
    pub is_loop_summary: bool,
    /// `no_log`: print nothing of the result.
    pub no_log: bool,
    /// Controller-side action whose output is always shown (`debug`).
    pub verbose_always: bool,
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

/// Something that shows a run.
pub trait Reporter {
    /// A play starts.
    fn play_start(&mut self, name: &str);
    /// A task starts (`handler` for handlers).
    fn task_start(&mut self, name: &str, location: &str, handler: bool);
    /// One host's result.
    fn host_result(&mut self, result: &HostResult<'_>);
    /// An `include_tasks` file was included for these hosts (once per loop item).
    fn included(&mut self, file: &str, hosts: &[String], item_label: Option<&str>);
    /// A failure was ignored (`ignore_errors`), after a loop's items.
    fn ignoring(&mut self);
    /// A warning.
    fn warning(&mut self, message: &str);
    /// A play matched no hosts.
    fn no_hosts(&mut self);
    /// A play was aborted (`max_fail_percentage`): no host is left to run.
    fn no_more_hosts(&mut self) {}
    /// The run ended.
    fn recap(&mut self, recap: &Recap);
}
