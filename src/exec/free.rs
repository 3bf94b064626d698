//! The `free` and `host_pinned` strategies: each host runs through the play
//! on its own, as fast as it can, without waiting for the others.
//!
//! Every host of the batch runs [`run_hosts`](super::run_hosts) on itself
//! alone, concurrently (on the same async task). Under `free` at most
//! `forks` tasks run at once whatever host they belong to (`throttle` per
//! task); under `host_pinned` at most `forks` hosts are in the play at once.
//! As in Ansible: handlers run per host at each flush point; `run_once`,
//! `any_errors_fatal` and `max_fail_percentage` are not supported (a warning,
//! and the task runs on every host; failures do not stop the others); a
//! host's `hostvars` view of another host is what that host has at the
//! moment. Output: a task's banner is shown before a result whose task is
//! not the last one shown, as Ansible's default callback does under `free`.

use super::{HostState, PlayCtx, RunSummary, Strategy, run_hosts};
use crate::compile::CompiledTask;
use crate::report::{HostResult, Recap, Reporter, RunInfo, TaskInfo};
use crate::yaml::Span;
use futures::StreamExt;
use std::cell::RefCell;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Ansible's warnings for keywords the free strategies do not honour.
pub(crate) const RUN_ONCE: &str = "Using run_once with the free strategy is not currently supported. This task will still be executed for every host in the inventory list.";
pub(crate) const ANY_ERRORS_FATAL: &str = "Using any_errors_fatal with the free strategy is not supported, as tasks are executed independently on each host";
const MAX_FAIL_PERCENTAGE: &str = "Using max_fail_percentage with the free strategy is not supported, as tasks are executed independently on each host";

/// Runs the batch's hosts each on its own.
pub(crate) async fn run(
    ctx: &PlayCtx<'_>,
    states: &mut [HostState],
    in_batch: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) {
    if ctx.play.play.max_fail_percentage.is_some() {
        ctx.warn_once(reporter, MAX_FAIL_PERCENTAGE);
    }
    super::hostvars::publish(states, ctx, true);
    let width = match ctx.strategy {
        Strategy::HostPinned => ctx.opts.forks.max(1),
        _ => states.len().max(1),
    };
    let shared = Shared {
        inner: RefCell::new(reporter),
        last_banner: RefCell::new(None),
    };
    let shared = &shared;
    let summaries: Vec<RunSummary> = futures::stream::iter(
        states
            .iter_mut()
            .enumerate()
            .filter(|(i, s)| in_batch[*i] && s.active()),
    )
    .map(|(_, s)| async move {
        let mut reporter = HostReporter {
            shared,
            pending: None,
        };
        let mut summary = RunSummary::default();
        let one = std::slice::from_mut(s);
        let dirs = vec![ctx.book.dir.join("files"), ctx.book.dir.clone()];
        keep_lookup_dirs(
            dirs,
            run_hosts(ctx, one, &[true], &mut reporter, &mut summary),
        )
        .await;
        summary
    })
    .buffer_unordered(width)
    .collect()
    .await;
    // What `run_once` tasks set after a host was done reaches it too.
    catch_up(ctx, states);
    for s in summaries {
        for (host, c) in s.recap {
            let into = summary.recap.entry(host).or_default();
            into.ok += c.ok;
            into.changed += c.changed;
            into.unreachable += c.unreachable;
            into.failed += c.failed;
            into.skipped += c.skipped;
            into.rescued += c.rescued;
            into.ignored += c.ignored;
        }
        summary.any_failed |= s.any_failed;
        summary.any_unreachable |= s.any_unreachable;
    }
}

/// `run_once` under the free strategies: the task runs on every host, but
/// what it sets reaches every host of the play (the last host to end the
/// task wins), as Ansible's result processing does. Records what `s` set.
pub(crate) fn share(ctx: &PlayCtx<'_>, s: &mut HostState, before: &crate::vars::Vars) {
    let set: Vec<(String, serde_json::Value)> = s
        .registered
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // What others set meanwhile ended before this.
    catch_up(ctx, std::slice::from_mut(s));
    for (k, v) in &set {
        Arc::make_mut(&mut s.registered).insert(k.clone(), v.clone());
    }
    let mut sets = ctx.shared_sets.borrow_mut();
    sets.extend(set);
    s.shared_seen = sets.len();
}

/// Takes what other hosts' `run_once` tasks set since the host last looked,
/// and the variables of the public roles other hosts included.
pub(crate) fn catch_up(ctx: &PlayCtx<'_>, states: &mut [HostState]) {
    super::take_public_roles(ctx, states);
    let sets = ctx.shared_sets.borrow();
    for s in states {
        for (k, v) in sets.iter().skip(s.shared_seen) {
            Arc::make_mut(&mut s.registered).insert(k.clone(), v.clone());
        }
        s.shared_seen = sets.len();
    }
}

/// Where the result of a meta task goes under the free strategies: as
/// Ansible, only a skip is shown (and nothing is counted).
pub(crate) struct SkipsOnly<'r>(pub &'r mut dyn Reporter);

impl Reporter for SkipsOnly<'_> {
    fn play_start(&mut self, _name: &str) {}
    fn task_start(&mut self, _task: &TaskInfo<'_>) {}
    fn host_result(&mut self, result: &HostResult<'_>) {
        if result.status == crate::report::Status::Skipped {
            self.0.host_result(result);
        }
    }
    fn warning(&mut self, message: &str) {
        self.0.warning(message);
    }
    fn recap(&mut self, _recap: &Recap) {}
}

/// What a host may hold while it runs a task: a slot of `forks` (`free`)
/// and one of the task's `throttle`.
pub(crate) struct Permits(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

/// Waits until the host may run `t` (`throttle`, then a slot of `forks`).
pub(crate) async fn permits(ctx: &PlayCtx<'_>, t: Option<&CompiledTask>) -> Permits {
    let mut held = Vec::with_capacity(2);
    let throttle = t.and_then(|t| {
        let n = super::task::play_default(&t.task.throttle, &ctx.play.play.throttle)
            .and_then(super::throttle_of)?;
        (n > 0).then(|| {
            ctx.throttles
                .borrow_mut()
                .entry(super::start_at::key(t))
                .or_insert_with(|| Arc::new(Semaphore::new(n)))
                .clone()
        })
    });
    if let Some(sem) = throttle
        && let Ok(p) = sem.acquire_owned().await
    {
        held.push(p);
    }
    if ctx.strategy == Strategy::Free
        && let Ok(p) = ctx.slots.clone().acquire_owned().await
    {
        held.push(p);
    }
    Permits(held)
}

/// Runs a host's play with its own `lookup('file')` search directories:
/// they are set per task, and hosts run different tasks at once.
async fn keep_lookup_dirs<F: std::future::Future>(
    mut dirs: Vec<std::path::PathBuf>,
    fut: F,
) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    futures::future::poll_fn(move |cx| {
        crate::template::set_search_dirs(std::mem::take(&mut dirs));
        let out = fut.as_mut().poll(cx);
        dirs = crate::template::search_dirs();
        out
    })
    .await
}

/// The reporter the hosts share, and the task whose banner was shown last.
struct Shared<'r> {
    inner: RefCell<&'r mut dyn Reporter>,
    last_banner: RefCell<Option<Banner>>,
}

/// A task's banner, kept until the host has a result to show under it.
#[derive(Clone)]
struct Banner {
    /// The task's identity (where it is written).
    at: Option<usize>,
    name: String,
    span: Option<Span>,
    action: String,
    handler: bool,
}

/// One host's view of the shared reporter: every call borrows it only for
/// the call (never across an await).
struct HostReporter<'s, 'r> {
    shared: &'s Shared<'r>,
    pending: Option<Banner>,
}

impl Banner {
    fn same(&self, other: &Banner) -> bool {
        self.at == other.at && self.name == other.name && self.handler == other.handler
    }
}

impl HostReporter<'_, '_> {
    /// Shows the host's current task banner, unless it was the last shown.
    fn banner(&mut self) {
        let Some(b) = &self.pending else {
            return;
        };
        let mut last = self.shared.last_banner.borrow_mut();
        if last.as_ref().is_some_and(|l| l.same(b)) {
            return;
        }
        *last = Some(b.clone());
        self.shared.inner.borrow_mut().task_start(&TaskInfo {
            name: &b.name,
            span: b.span.as_ref(),
            action: &b.action,
            handler: b.handler,
            hosts: 1,
        });
    }

    fn with(&self, f: impl FnOnce(&mut dyn Reporter)) {
        f(&mut **self.shared.inner.borrow_mut());
    }
}

impl Reporter for HostReporter<'_, '_> {
    fn run_start(&mut self, run: &RunInfo) {
        self.with(|r| r.run_start(run));
    }
    fn play_start(&mut self, name: &str) {
        self.with(|r| r.play_start(name));
    }
    fn task_start(&mut self, task: &TaskInfo<'_>) {
        self.pending = Some(Banner {
            at: task.span.map(|s| s as *const Span as usize),
            name: task.name.to_string(),
            span: task.span.cloned(),
            action: task.action.to_string(),
            handler: task.handler,
        });
    }
    fn host_start(&mut self, host: &str) {
        self.with(|r| r.host_start(host));
    }
    fn host_done(&mut self, host: &str) {
        self.with(|r| r.host_done(host));
    }
    fn host_result(&mut self, result: &HostResult<'_>) {
        self.banner();
        self.with(|r| r.host_result(result));
    }
    fn included(&mut self, file: &str, hosts: &[String], item_label: Option<&str>) {
        self.banner();
        self.with(|r| r.included(file, hosts, item_label));
    }
    fn ignoring(&mut self) {
        self.with(|r| r.ignoring());
    }
    fn warning(&mut self, message: &str) {
        self.with(|r| r.warning(message));
    }
    fn no_hosts(&mut self) {
        self.with(|r| r.no_hosts());
    }
    fn no_more_hosts(&mut self) {
        self.with(|r| r.no_more_hosts());
    }
    fn recap(&mut self, recap: &Recap) {
        self.with(|r| r.recap(recap));
    }
}
