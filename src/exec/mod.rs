//! The executor: runs a compiled playbook across the inventory.
//!
//! Linear strategy: every host finishes task N before any host starts task
//! N+1; hosts run concurrently, at most `forks` at a time (`throttle` per
//! task), on one async task (no thread per host). The `free` and
//! `host_pinned` strategies run each host through the play on its own (see
//! [`free`]). Handlers run at the end of
//! each section, once, in definition order, on the hosts that notified them.
//! `serial` splits the play's hosts into batches that each run the whole
//! play; `max_fail_percentage` and `any_errors_fatal` stop the play (and, as
//! ansible-playbook, the run); a host that failed is left out of later plays.

mod builtin;
pub mod facts;
mod free;
mod hostvars;
mod include_vars;
mod live_inventory;
mod local_tree;
mod prompt;
mod setup;
mod start_at;
mod step;
mod task;

use crate::compile::{CompiledPlay, CompiledPlaybook, CompiledStep, CompiledTask};
use crate::connection::local::Local;
use crate::connection::record::{self, CommandRecord};
use crate::inventory::Inventory;
use crate::report::{Counts, Recap, Reporter, TaskInfo};
use crate::template::Templar;
use crate::vars::Vars;
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use live_inventory::LiveInventory;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub use start_at::matches as start_at_matches;
pub use step::{StepAnswer, StepPrompt, question as step_question};
pub use task::{TaskOutcome, UNKNOWN, selected_by_tags, tags_select};

/// Options for one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--check`.
    pub check: bool,
    /// `--diff`.
    pub diff: bool,
    /// `--forks`.
    pub forks: usize,
    /// `-e` variables, highest precedence.
    pub extra_vars: Vars,
    /// `--limit`.
    pub limit: Option<String>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `-v` count.
    pub verbosity: u8,
    /// `--force-handlers`.
    pub force_handlers: bool,
    /// Connection and privilege defaults from the command line (`-u`, `-b`,
    /// `--private-key`, ...) as `ansible_*` variables: below every inventory
    /// and playbook source, as in Ansible.
    pub cli_vars: Vars,
    /// A saved plan being made (`tend plan --out`) or applied (`tend apply`).
    pub plan: Option<Arc<crate::plan::Session>>,
    /// `tend plan`: in check mode, a task failing on a host where an earlier
    /// task has a change pending may fail only because check mode did not
    /// make that change: it is an ignored failure, marked `unknown` (see
    /// [`task::UNKNOWN`]), and the host goes on.
    pub unknown_after_changes: bool,
    /// `--start-at-task`: skip tasks until the first whose name matches (a glob).
    pub start_at_task: Option<String>,
    /// `--step`: what asks before each task.
    pub step: Option<Arc<dyn StepPrompt>>,
}

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Counters per host.
    pub recap: Recap,
    /// Some host failed.
    pub any_failed: bool,
    /// Some host was unreachable.
    pub any_unreachable: bool,
    /// `--start-at-task` found its task (later playbooks run whole).
    pub start_at_task_found: bool,
}

impl RunSummary {
    /// ansible-playbook's exit code: 0 ok, 2 a host failed, 4 a host unreachable.
    pub fn exit_code(&self) -> i32 {
        if self.any_unreachable {
            4
        } else if self.any_failed {
            2
        } else {
            0
        }
    }
}

/// The state of one host during a play.
pub(crate) struct HostState {
    pub name: String,
    /// The host's variables by layer, shared with the `hostvars` snapshots
    /// taken of them (a change copies a layer only while one is alive).
    pub inventory_vars: Arc<Vars>,
    pub facts: Arc<Vars>,
    pub registered: Arc<Vars>,
    /// The play's `vars_files` as this host sees them, when a file name
    /// needs host variables (`vars/{{ ansible_os_family }}.yml`): every
    /// entry in order, above the play's vars (see [`host_vars_files`]).
    pub vars_files: Arc<Vars>,
    pub failed: bool,
    pub unreachable: bool,
    pub ended: bool,
    pub notified: HashSet<String>,
    /// Handlers (indexes into the play's handlers) notified again after
    /// they ran in a flush, or by a later handler: they run at the next flush.
    pub pending_handlers: HashSet<usize>,
    pub conn: Arc<dyn crate::connection::Connection>,
    /// Connections as other login users (task-level `remote_user`), kept
    /// for the play like `conn`: one SSH master per user, not per task.
    pub logins: std::sync::Mutex<HashMap<String, Arc<dyn crate::connection::Connection>>>,
    /// The inventory sets the login user (`ansible_user`), which wins over
    /// the `remote_user` keyword; `-u` and ansible.cfg do not.
    pub login_pinned: bool,
    /// The inventory sets the connection (`ansible_connection`), which wins
    /// over the `connection` keyword of a task.
    pub connection_pinned: bool,
    /// The last failed task (`ansible_failed_task`) and its result, for `rescue`.
    pub last_failure: Option<(Value, Value)>,
    /// Variables of the `include_tasks` being run (loop item, include vars).
    pub include_layers: Vec<Vars>,
    /// The `include_role` instances that ran on the host (see
    /// [`crate::playbook::IncludedRole::key`]).
    pub roles_run: HashSet<String>,
    /// Defaults of the roles included with `public: true` so far.
    pub public_role_defaults: Vars,
    /// Exported vars of the roles included with `public: true` so far.
    pub public_role_exports: Vars,
    /// How much of [`PlayCtx::public_roles`] the host took.
    pub public_seen: usize,
    /// The host runs handlers: an `include_tasks` handler's header and its
    /// tasks' are shown as handlers' (`RUNNING HANDLER`).
    pub in_handlers: bool,
    /// How many enclosing blocks would rescue a failure now: Ansible counts
    /// such a failure as `rescued` rather than `failed` in the recap.
    pub rescue_depth: u32,
    /// How many enclosing blocks have an `always` still to run (the host is
    /// in their block or rescue part).
    pub always_depth: u32,
    /// `--start-at-task`: the task the host skips to (see [`start_at::key`]).
    pub start_at: Option<usize>,
    /// Free strategies: how much of [`PlayCtx::shared_sets`] the host took.
    pub shared_seen: usize,
    /// `meta: clear_host_errors` ran for the host while it ran an `always`
    /// section after a failure: the failure is not restored after it.
    pub errors_cleared: bool,
    /// `meta: clear_host_errors` ran after the host had stopped on a
    /// failure: it stays stopped, but is not failed at the end of the play.
    pub failure_forgiven: bool,
}

impl HostState {
    fn active(&self) -> bool {
        !self.failed && !self.unreachable && !self.ended
    }
}

/// Shared context for one batch of a play.
pub(crate) struct PlayCtx<'a> {
    pub templar: &'a Templar,
    pub book: &'a CompiledPlaybook,
    pub play: &'a CompiledPlay,
    pub inventory: &'a LiveInventory,
    pub opts: &'a RunOptions,
    pub play_vars: Arc<Vars>,
    /// `opts.extra_vars`, shared with the `hostvars` snapshots.
    pub extra_vars: Arc<Vars>,
    pub magic: Vars,
    /// Which of the play's hosts are in the current batch.
    pub batch: Vec<bool>,
    /// Set when the play must stop for every host.
    pub abort: std::cell::Cell<Option<Abort>>,
    /// `meta: end_play` ran.
    pub ended_play: std::cell::Cell<bool>,
    /// `meta: end_batch` ran: the current batch ends, the play goes on.
    pub ended_batch: std::cell::Cell<bool>,
    /// `any_errors_fatal` fired while the failed hosts still had `always`
    /// sections to run: the play stops once they ran.
    pub fatal_pending: std::cell::Cell<bool>,
    /// `delegate_facts` for hosts outside the play: kept for later plays.
    pub delegated_facts: std::cell::RefCell<std::collections::HashMap<String, Vars>>,
    /// The play's `strategy`.
    pub strategy: Strategy,
    /// `free`: slots for the tasks running at once (`forks`).
    pub slots: Arc<tokio::sync::Semaphore>,
    /// Free strategies: each `throttle` task's slots, by task.
    pub throttles: RefCell<HashMap<usize, Arc<tokio::sync::Semaphore>>>,
    /// Free strategies: every host's variables as it last published them,
    /// for `hostvars` (empty under `linear`, which snapshots all hosts).
    pub peers: RefCell<std::collections::BTreeMap<String, Arc<hostvars::HostValue>>>,
    /// Facts and registered values of the hosts outside the play (for `hostvars`).
    pub others: Arc<HashMap<String, (Vars, Vars)>>,
    /// Warnings already shown in this run (Ansible shows each once).
    pub warned: &'a RefCell<HashSet<String>>,
    /// `--step` still asks (`c` stops it for the rest of the batch).
    pub stepping: std::cell::Cell<bool>,
    /// Free strategies: what `run_once` tasks set (registered values,
    /// facts), in the order they ended; each host takes it in turn.
    pub shared_sets: RefCell<Vec<(String, Value)>>,
    /// The defaults and exported vars of each `include_role` with `public:
    /// true` that ran so far, in order: Ansible adds the role to the play,
    /// so every host of the play sees them in its later tasks.
    pub public_roles: RefCell<Vec<Arc<(Vars, Vars)>>>,
    /// Hosts of the batch that failed or became unreachable so far: gone
    /// from `ansible_play_hosts`, `ansible_play_batch` and `play_hosts`.
    pub down: RefCell<HashSet<String>>,
    /// Hosts `add_host` added during the play: in `ansible_play_hosts_all`
    /// and `ansible_play_hosts` from then on (not in the batch), as Ansible.
    pub added_hosts: RefCell<Vec<String>>,
    /// `groups` for the inventory it was made from. Keeping that inventory
    /// here makes a change to it (`add_host`, `group_by`) copy it, so the
    /// pointer tells whether `groups` is still right.
    pub groups: RefCell<Option<(Arc<crate::inventory::Inventory>, Value)>>,
    /// The playbook's directory, resolved (the end of `ansible_search_path`).
    pub book_dir: String,
    /// Whether a `vars_files` name needs host variables: then each host
    /// reads the play's `vars_files` itself ([`HostState::vars_files`]).
    pub per_host_vars_files: bool,
}

impl PlayCtx<'_> {
    /// The `groups` variable for the inventory as it is now.
    pub(crate) fn groups_value(&self, inventory: &Arc<crate::inventory::Inventory>) -> Value {
        let mut cached = self.groups.borrow_mut();
        match &*cached {
            Some((made_from, value)) if Arc::ptr_eq(made_from, inventory) => value.clone(),
            _ => {
                let value = serde_json::to_value(inventory.groups()).unwrap_or_default();
                *cached = Some((Arc::clone(inventory), value.clone()));
                value
            }
        }
    }

    /// Shows a warning, once per run.
    pub(crate) fn warn_once(&self, reporter: &mut dyn Reporter, message: &str) {
        if self.warned.borrow_mut().insert(message.to_string()) {
            reporter.warning(message);
        }
    }

    /// Whether `--tags`/`--skip-tags` select `t`. Templated tags (the task's,
    /// its blocks', roles' and the play's) are rendered with the play's
    /// variables, no host's: Ansible filters a play's tasks by tag once, with
    /// the play-level variables, before any host runs them.
    pub(crate) fn selects(&self, t: &CompiledTask) -> Result<bool, String> {
        let play = &self.play.play;
        if !t
            .task
            .tags
            .iter()
            .chain(&play.tags)
            .any(|s| crate::template::is_template(s))
        {
            return Ok(task::selected_by_tags(t, &play.tags, self.opts));
        }
        let scope = crate::template::Scope::new(vec![
            &play.role_defaults,
            &self.play_vars,
            &play.role_exports,
            &self.opts.extra_vars,
            &self.magic,
        ]);
        let task_tags = task::render_tags(&t.task.tags, self.templar, &scope)?;
        let play_tags = task::render_tags(&play.tags, self.templar, &scope)?;
        Ok(task::tags_select(
            &task_tags,
            &play_tags,
            &self.opts.tags,
            &self.opts.skip_tags,
        ))
    }

    /// Records which hosts failed or are unreachable by now (see [`PlayCtx::down`]).
    fn note_down(&self, states: &[HostState]) {
        let mut down = self.down.borrow_mut();
        down.clear();
        down.extend(
            states
                .iter()
                .filter(|s| s.failed || s.unreachable)
                .map(|s| s.name.clone()),
        );
    }

    /// [`PlayCtx::selects`], a tag that cannot be rendered shown as an error:
    /// the task does not run and the run fails.
    fn selects_or_report(
        &self,
        t: &CompiledTask,
        reporter: &mut dyn Reporter,
        summary: &mut RunSummary,
    ) -> bool {
        self.selects(t).unwrap_or_else(|msg| {
            self.warn_once(reporter, &msg);
            summary.any_failed = true;
            false
        })
    }
}

/// How a play's hosts go through its tasks (`strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Task by task, every host finishing a task before the next starts.
    Linear,
    /// Each host on its own; at most `forks` tasks at once.
    Free,
    /// Each host on its own; at most `forks` hosts at once.
    HostPinned,
}

impl Strategy {
    /// The play's `strategy`, a templated one rendered with the play-level
    /// variables (`scope`).
    fn of(
        play: &CompiledPlay,
        templar: &Templar,
        scope: &crate::template::Scope<'_>,
    ) -> Result<Strategy, String> {
        let Some(s) = &play.play.strategy else {
            return Ok(Strategy::Linear);
        };
        let rendered;
        let mut name = s.value.as_str();
        if crate::template::is_template(name) {
            rendered = templar
                .render_string(name, scope)
                .map(|v| value_text(&v))
                .map_err(|e| format!("{}: strategy: {}", s.span.location(), e.message))?;
            name = &rendered;
        }
        match crate::playbook::parse::strategy_name(name)
            .map_err(|e| format!("{}: {e}", s.span.location()))?
        {
            "free" => Ok(Strategy::Free),
            "host_pinned" => Ok(Strategy::HostPinned),
            _ => Ok(Strategy::Linear),
        }
    }
}

/// Why a play stopped for every host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abort {
    /// A failure under `any_errors_fatal`.
    AnyErrorsFatal,
    /// A task notified a handler the play does not have.
    UnknownHandler,
    /// More of the batch failed than `max_fail_percentage` allows.
    MaxFailPercentage,
}

/// Whether the run goes on after a play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlayEnd {
    Continue,
    /// Every host of a batch failed, or the play was aborted: as
    /// ansible-playbook, no later play runs.
    StopRun,
}

/// Orders the play's hosts by its `order` keyword.
fn order_hosts(hosts: &mut [String], order: Option<&str>) {
    match order {
        Some("reverse_inventory") => hosts.reverse(),
        Some("sorted") => hosts.sort(),
        Some("reverse_sorted") => {
            hosts.sort();
            hosts.reverse();
        }
        Some("shuffle") => {
            crate::template::filters::extra::PyRandom::unseeded().shuffle(hosts);
        }
        _ => {}
    }
}

/// Runs every play of a playbook.
pub async fn run_playbook(
    book: &CompiledPlaybook,
    inventory: &Inventory,
    opts: &RunOptions,
    templar: &Templar,
    reporter: &mut dyn Reporter,
) -> RunSummary {
    let mut summary = RunSummary::default();
    crate::template::set_search_dirs(vec![book.dir.join("files"), book.dir.clone()]);
    crate::template::set_inventory(inventory.clone());
    let inventory = &LiveInventory::new(inventory);
    // Facts, set_fact and registered values outlive the play, as Ansible's
    // fact caches do: later plays of the run see them.
    let mut carried: std::collections::HashMap<String, (Vars, Vars)> = Default::default();
    let mut dead = HashSet::new();
    let warned = RefCell::new(HashSet::new());
    let mut start_at = opts.start_at_task.clone();
    for play in &book.plays {
        let end = run_play(
            PlayRun {
                book,
                play,
                inventory,
                opts,
                templar,
                warned: &warned,
            },
            reporter,
            &mut summary,
            &mut carried,
            &mut dead,
            &mut start_at,
        )
        .await;
        if end == PlayEnd::StopRun {
            break;
        }
    }
    summary.start_at_task_found = opts.start_at_task.is_some() && start_at.is_none();
    reporter.recap(&summary.recap);
    summary
}

/// Host variables for the connection, with `remote_user` where the inventory
/// sets no `ansible_user`.
/// Whether inventory variables name the login user.
fn login_pinned(vars: &Vars) -> bool {
    ["ansible_user", "ansible_ssh_user", "ansible_remote_user"]
        .iter()
        .any(|k| vars.contains_key(*k))
}

pub(crate) fn with_remote_user<'a>(
    vars: &'a Vars,
    remote_user: Option<&str>,
    login_pinned: bool,
) -> std::borrow::Cow<'a, Vars> {
    match remote_user {
        Some(u) if !login_pinned => {
            let mut v = vars.clone();
            v.insert("ansible_user".into(), Value::from(u));
            std::borrow::Cow::Owned(v)
        }
        _ => std::borrow::Cow::Borrowed(vars),
    }
}

/// A play keyword's text (`remote_user`, `connection`), rendered with the
/// play's vars and the extra vars; an error is shown as a warning.
fn play_keyword_text(
    templar: &Templar,
    play: &CompiledPlay,
    opts: &RunOptions,
    value: &Option<Value>,
    name: &str,
    reporter: &mut dyn Reporter,
) -> Result<Option<String>, ()> {
    let Some(v) = value else {
        return Ok(None);
    };
    let scope = crate::template::Scope::new(vec![&play.play.vars, &opts.extra_vars]);
    match templar.render_value(v, &scope) {
        Ok(v) => Ok(Some(task::text(&v))),
        Err(e) => {
            reporter.warning(&format!(
                "{}: {name}: {}",
                play.play.span.location(),
                e.message
            ));
            Err(())
        }
    }
}

pub(crate) fn connection_for(
    host: &str,
    vars: &Vars,
    basedir: &std::path::Path,
) -> Result<Arc<dyn crate::connection::Connection>, String> {
    match vars
        .get("ansible_connection")
        .and_then(Value::as_str)
        .unwrap_or("ssh")
    {
        "local" => Ok(Arc::new(Local::in_dir(basedir))),
        "ssh" | "smart" => {
            let opts = crate::connection::ssh::SshOptions::from_vars(host, vars)?;
            Ok(Arc::new(crate::connection::ssh::Ssh::new(opts)))
        }
        other => Err(format!(
            "connection type `{other}` is not supported yet; use ansible_connection=ssh or local"
        )),
    }
}

/// What a play runs with, for the whole run.
struct PlayRun<'a> {
    book: &'a CompiledPlaybook,
    play: &'a CompiledPlay,
    inventory: &'a LiveInventory,
    opts: &'a RunOptions,
    templar: &'a Templar,
    warned: &'a RefCell<HashSet<String>>,
}

async fn run_play(
    run: PlayRun<'_>,
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
    carried: &mut std::collections::HashMap<String, (Vars, Vars)>,
    dead: &mut HashSet<String>,
    start_at: &mut Option<String>,
) -> PlayEnd {
    let PlayRun {
        book,
        play,
        inventory,
        opts,
        templar,
        warned,
    } = run;
    let live = inventory;
    // The play's hosts: from the inventory as earlier plays left it.
    let inventory = &*live.get();
    let name = play
        .play
        .name
        .clone()
        .unwrap_or_else(|| play.play.hosts.value.clone());
    let prompted = prompt::ask(&play.play.vars_prompt, &opts.extra_vars, reporter);
    reporter.play_start(&name);
    // `--start-at-task`: a play without the task runs nothing; the first
    // with it starts there.
    let start_task = match start_at.as_deref() {
        None => None,
        Some(pattern) => match start_at::find(play, pattern, opts) {
            None => return PlayEnd::Continue,
            Some(task) => {
                *start_at = None;
                Some(task)
            }
        },
    };
    // The host pattern may use extra vars.
    let base_scope_vars = opts.extra_vars.clone();
    let scope = crate::template::Scope::new(vec![&play.play.vars, &base_scope_vars]);
    let pattern = match templar.render_string(&play.play.hosts.value, &scope) {
        Ok(v) => value_text(&v),
        Err(e) => {
            reporter.warning(&format!(
                "could not template the play's hosts: {}",
                e.message
            ));
            summary.any_failed = true;
            return PlayEnd::Continue;
        }
    };
    let mut hosts = match inventory.select(&pattern) {
        Ok(h) => h,
        Err(e) => {
            reporter.warning(&format!("{e}"));
            summary.any_failed = true;
            return PlayEnd::Continue;
        }
    };
    if let Some(limit) = &opts.limit {
        let allowed: HashSet<String> = inventory
            .select(limit)
            .unwrap_or_default()
            .into_iter()
            .collect();
        hosts.retain(|h| allowed.contains(h));
    }
    // Hosts that failed or were unreachable in an earlier play are done.
    hosts.retain(|h| !dead.contains(h));
    order_hosts(
        &mut hosts,
        play.play.order.as_ref().map(|o| o.value.as_str()),
    );
    if hosts.is_empty() {
        reporter.no_hosts();
        return PlayEnd::Continue;
    }
    // `remote_user` on the play: the login user where the inventory sets none
    // (`ansible_user` takes precedence, as in Ansible).
    let keyword = |value: &Option<Value>, name: &str, reporter: &mut dyn Reporter| {
        play_keyword_text(templar, play, opts, value, name, reporter)
    };
    let Ok(remote_user) = keyword(&play.play.remote_user, "remote_user", reporter) else {
        summary.any_failed = true;
        return PlayEnd::Continue;
    };
    // `connection` on the play: wins over `-c`, not over the inventory's
    // `ansible_connection` (as in Ansible).
    let Ok(connection) = keyword(&play.play.connection, "connection", reporter) else {
        summary.any_failed = true;
        return PlayEnd::Continue;
    };
    // `port` on the play: where the inventory sets no `ansible_port`.
    let Ok(port) = keyword(&play.play.port, "port", reporter) else {
        summary.any_failed = true;
        return PlayEnd::Continue;
    };
    let mut states = Vec::new();
    for h in &hosts {
        let mut inventory_vars = opts.cli_vars.clone();
        if let Some(c) = &connection {
            inventory_vars.insert("ansible_connection".into(), Value::from(c.as_str()));
        }
        let host_vars = inventory.host_vars(h);
        let login_pinned = login_pinned(&host_vars);
        let connection_pinned = host_vars.contains_key("ansible_connection");
        inventory_vars.extend(host_vars);
        if let Some(p) = &port
            && !["ansible_port", "ansible_ssh_port"]
                .iter()
                .any(|k| inventory_vars.contains_key(*k))
        {
            inventory_vars.insert("ansible_port".into(), Value::from(p.as_str()));
        }
        let conn_vars = with_remote_user(&inventory_vars, remote_user.as_deref(), login_pinned);
        let conn = match connection_for(h, &conn_vars, &book.dir) {
            Ok(c) => c,
            Err(msg) => {
                reporter.host_result(&crate::report::HostResult::simple(
                    h,
                    crate::report::Status::Unreachable,
                    &serde_json::json!({"msg": msg, "unreachable": true, "changed": false}),
                ));
                summary.recap.entry(h.clone()).or_default().unreachable += 1;
                summary.any_unreachable = true;
                continue;
            }
        };
        let (facts, registered) = carried.remove(h).unwrap_or_default();
        states.push(HostState {
            name: h.clone(),
            inventory_vars: Arc::new(inventory_vars),
            facts: Arc::new(facts),
            registered: Arc::new(registered),
            vars_files: Arc::default(),
            failed: false,
            unreachable: false,
            ended: false,
            notified: HashSet::new(),
            pending_handlers: HashSet::new(),
            conn,
            logins: Default::default(),
            login_pinned,
            connection_pinned,
            last_failure: None,
            include_layers: Vec::new(),
            roles_run: HashSet::new(),
            public_role_defaults: Vars::new(),
            public_role_exports: Vars::new(),
            public_seen: 0,
            in_handlers: false,
            rescue_depth: 0,
            always_depth: 0,
            start_at: start_task,
            shared_seen: 0,
            errors_cleared: false,
            failure_forgiven: false,
        });
    }
    let mut magic = Vars::new();
    magic.insert("ansible_play_hosts_all".into(), Value::from(hosts.clone()));
    magic.insert("ansible_play_name".into(), Value::from(name.clone()));
    magic.insert(
        "playbook_dir".into(),
        Value::from(crate::playbook::absolute(&book.dir)),
    );
    magic.insert(
        "role_names".into(),
        Value::from(play.play.role_names.clone()),
    );
    magic.insert(
        "ansible_play_role_names".into(),
        Value::from(play.play.role_names.clone()),
    );
    magic.insert("omit".into(), Value::from(crate::template::OMIT));
    magic.insert("ansible_check_mode".into(), Value::Bool(opts.check));
    magic.insert("ansible_diff_mode".into(), Value::Bool(opts.diff));
    magic.insert("ansible_verbosity".into(), Value::from(opts.verbosity));
    magic.insert("ansible_version".into(), serde_json::json!({"full": "2.19.0", "major": 2, "minor": 19, "revision": 0, "string": "2.19.0"}));
    magic.insert(
        "ansible_run_tags".into(),
        Value::from(if opts.tags.is_empty() {
            vec!["all".to_string()]
        } else {
            opts.tags.clone()
        }),
    );
    magic.insert(
        "ansible_skip_tags".into(),
        Value::from(opts.skip_tags.clone()),
    );
    let mut play_vars = play.play.vars.clone();
    play_vars.extend(prompted);
    // vars_files: loaded once, names templated with play and extra vars;
    // of a list of alternatives, the first file that exists. A name that
    // needs host variables makes each host read them (`host_vars_files`).
    let mut per_host_vars_files = false;
    for alternatives in &play.play.vars_files {
        let scope = crate::template::Scope::new(vec![&play_vars, &opts.extra_vars]);
        match vars_file_of(&alternatives[..], &scope, templar, &book.dir) {
            Ok(Some(vars)) => play_vars.extend(vars),
            Ok(None) => per_host_vars_files = true,
            Err(e) => {
                reporter.warning(&e);
                summary.any_failed = true;
                for s in &states {
                    summary.recap.entry(s.name.clone()).or_default().failed += 1;
                }
                return PlayEnd::Continue;
            }
        }
    }
    let strategy = {
        let scope = crate::template::Scope::new(vec![&play_vars, &opts.extra_vars, &magic]);
        match Strategy::of(play, templar, &scope) {
            Ok(s) => s,
            Err(msg) => {
                reporter.warning(&msg);
                summary.any_failed = true;
                return PlayEnd::StopRun;
            }
        }
    };
    let batches = match batches(play, templar, opts, states.len()) {
        Ok(b) => b,
        Err(msg) => {
            reporter.warning(&msg);
            summary.any_failed = true;
            return PlayEnd::StopRun;
        }
    };
    let mut stop = PlayEnd::Continue;
    // What earlier plays left on the hosts outside this one (for `hostvars`).
    let others = Arc::new(carried.clone());
    for (n, batch) in batches.iter().enumerate() {
        if n > 0 {
            reporter.play_start(&name);
        }
        let in_batch: Vec<bool> = (0..states.len()).map(|i| batch.contains(&i)).collect();
        let mut magic = magic.clone();
        let batch_names: Vec<String> = batch.iter().map(|i| states[*i].name.clone()).collect();
        let play_hosts: Vec<String> = states
            .iter()
            .filter(|s| !s.failed && !s.unreachable)
            .map(|s| s.name.clone())
            .collect();
        magic.insert("play_hosts".into(), Value::from(batch_names.clone()));
        magic.insert("ansible_play_batch".into(), Value::from(batch_names));
        magic.insert("ansible_play_hosts".into(), Value::from(play_hosts));
        let ctx = PlayCtx {
            templar,
            book,
            play,
            inventory: live,
            opts,
            play_vars: Arc::new(play_vars.clone()),
            extra_vars: Arc::new(opts.extra_vars.clone()),
            magic,
            batch: in_batch.clone(),
            abort: std::cell::Cell::new(None),
            ended_play: std::cell::Cell::new(false),
            ended_batch: std::cell::Cell::new(false),
            fatal_pending: std::cell::Cell::new(false),
            strategy,
            slots: Arc::new(tokio::sync::Semaphore::new(opts.forks.max(1))),
            throttles: RefCell::new(HashMap::new()),
            peers: RefCell::new(Default::default()),
            others: Arc::clone(&others),
            warned,
            stepping: std::cell::Cell::new(opts.step.is_some()),
            shared_sets: RefCell::new(Vec::new()),
            public_roles: RefCell::new(Vec::new()),
            delegated_facts: Default::default(),
            down: Default::default(),
            added_hosts: Default::default(),
            groups: RefCell::new(None),
            per_host_vars_files,
            book_dir: std::fs::canonicalize(&book.dir)
                .unwrap_or_else(|_| book.dir.clone())
                .display()
                .to_string(),
        };
        for (i, s) in states.iter_mut().enumerate() {
            if !ctx.per_host_vars_files || !in_batch[i] {
                continue;
            }
            let facts_known = s.facts.contains_key("ansible_facts");
            match host_vars_files(&ctx, s, facts_known) {
                Ok((vars, skipped)) => {
                    s.vars_files = Arc::new(vars);
                    if skipped {
                        ctx.warn_once(
                            reporter,
                            "skipping vars_files item due to an undefined variable",
                        );
                    }
                }
                Err(e) => {
                    reporter.warning(&format!("{}: {e}", s.name));
                    s.failed = true;
                    summary.any_failed = true;
                    summary.recap.entry(s.name.clone()).or_default().failed += 1;
                }
            }
        }
        run_batch(&ctx, &mut states, &in_batch, reporter, summary).await;
        if ctx.fatal_pending.get() {
            ctx.abort.set(Some(Abort::AnyErrorsFatal));
        }
        for (h, facts) in ctx.delegated_facts.take() {
            carried.entry(h).or_default().1.extend(facts);
        }
        // Later batches run the whole play, as in Ansible.
        for s in states.iter_mut() {
            s.start_at = None;
        }
        if let Some(abort) = ctx.abort.get() {
            if abort == Abort::MaxFailPercentage {
                // As ansible-playbook: once from the strategy, once from the batch loop.
                reporter.no_more_hosts();
                reporter.no_more_hosts();
            }
            stop = PlayEnd::StopRun;
            break;
        }
        // A batch whose every host failed ends the run, as in Ansible.
        if batch
            .iter()
            .all(|i| states[*i].failed || states[*i].unreachable)
        {
            stop = PlayEnd::StopRun;
            break;
        }
        if ctx.ended_play.get() {
            break;
        }
    }
    if states.iter().any(|s| s.failed && !s.failure_forgiven) {
        summary.any_failed = true;
    }
    for s in &states {
        if (s.failed && !s.failure_forgiven) || s.unreachable {
            dead.insert(s.name.clone());
        }
        if let Some(traffic) = s.conn.traffic() {
            reporter.traffic(&s.name, &traffic);
        }
    }
    save_host_data(states, carried);
    stop
}

/// Runs one batch of a play's hosts: facts, the three sections and their handlers.
async fn run_batch(
    ctx: &PlayCtx<'_>,
    states: &mut [HostState],
    in_batch: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) {
    // Hosts of later batches that never ran stay out of the recap, as in Ansible.
    for (i, s) in states.iter().enumerate() {
        if in_batch[i] {
            summary.recap.entry(s.name.clone()).or_default();
        }
    }
    match ctx.strategy {
        Strategy::Linear => run_hosts(ctx, states, in_batch, reporter, summary).await,
        Strategy::Free | Strategy::HostPinned => {
            free::run(ctx, states, in_batch, reporter, summary).await
        }
    }
}

/// Facts, the three sections and their handlers, on the hosts marked in
/// `in_batch` (all of the batch, or one under the free strategies).
async fn run_hosts(
    ctx: &PlayCtx<'_>,
    states: &mut [HostState],
    in_batch: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) {
    let (play, opts) = (ctx.play, ctx.opts);
    let gather = match &play.play.gather_facts {
        None => true,
        Some(v) => task::truthy(v),
    };
    // An `import_playbook`'s `when` decides which hosts gather.
    let gathering = match &play.gather_guard {
        Some(guard) if gather => {
            let active: Vec<bool> = states
                .iter()
                .enumerate()
                .map(|(i, s)| in_batch[i] && s.active())
                .collect();
            when_holds(ctx, guard, states, &active, reporter, summary)
        }
        _ => in_batch.to_vec(),
    };
    // The implicit fact-gathering task is tagged `always`, as in Ansible.
    let first = (0..states.len())
        .find(|i| gathering[*i] && states[*i].active())
        .unwrap_or(0);
    if gather
        && gathering.iter().any(|b| *b)
        && !opts.skip_tags.iter().any(|t| t == "always")
        && step::take_gathering(ctx, &states[first].name)
    {
        reporter.task_start(&TaskInfo {
            name: "Gathering Facts",
            span: None,
            action: "gather_facts",
            handler: false,
            hosts: (0..states.len())
                .filter(|i| gathering[*i] && states[*i].active())
                .count(),
        });
        gather_facts(ctx, states, &gathering, reporter, summary).await;
        hostvars::publish(states, ctx, false);
    }
    let sections: [&[CompiledStep]; 3] = [&play.pre_tasks, &play.tasks, &play.post_tasks];
    let mut end_play = false;
    for section in sections {
        let everyone: Vec<bool> = states
            .iter()
            .enumerate()
            .map(|(i, s)| in_batch[i] && s.active())
            .collect();
        run_steps(
            ctx,
            section,
            states,
            everyone,
            reporter,
            summary,
            &mut end_play,
        )
        .await;
        if ctx.abort.get().is_some() {
            // `force_handlers`: the notified handlers run even so.
            if ctx.force_handlers() {
                run_handlers(ctx, states, reporter, summary).await;
            }
            break;
        }
        // After `meta: end_play`/`end_batch` the notified handlers do not
        // run (not even with `force_handlers`), as in Ansible.
        let ended = end_play || ctx.ended_play.get();
        if !ended
            && states
                .iter()
                .enumerate()
                .any(|(i, s)| in_batch[i] && (s.active() || (s.failed && ctx.force_handlers())))
        {
            end_play |= run_handlers(ctx, states, reporter, summary).await;
        }
        if end_play
            || ctx.ended_play.get()
            || !states
                .iter()
                .enumerate()
                .any(|(i, s)| in_batch[i] && s.active())
        {
            break;
        }
    }
    if end_play {
        // The batch's notifications are dropped with it.
        for (i, s) in states.iter_mut().enumerate() {
            if in_batch[i] {
                s.notified.clear();
                s.pending_handlers.clear();
            }
        }
    }
    // `meta: end_batch` ends this batch only.
    if end_play && !ctx.ended_batch.replace(false) {
        ctx.ended_play.set(true);
    }
}

/// The header of a meta task the play runs itself, for the hosts in `live`.
fn meta_header(t: &CompiledTask, states: &[HostState], live: &[bool], reporter: &mut dyn Reporter) {
    let n = live.iter().filter(|b| **b).count();
    reporter.task_start(&task_info(
        t,
        &t.display_name(),
        running_handlers(states),
        n,
    ));
}

/// The headers of `meta: flush_handlers`, which Ansible's linear strategy
/// runs host by host: each host's, with `skipping` (uncounted) where its
/// `when` is false. Other strategies show one header.
fn flush_headers(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    states: &[HostState],
    live: &[bool],
    holds: &[bool],
    reporter: &mut dyn Reporter,
) {
    if ctx.strategy != Strategy::Linear {
        meta_header(t, states, live, reporter);
        return;
    }
    let skipped = serde_json::json!({"changed": false, "skipped": true});
    for (i, s) in states.iter().enumerate().filter(|(i, _)| live[*i]) {
        reporter.task_start(&task_info(
            t,
            &t.display_name(),
            running_handlers(states),
            1,
        ));
        if !holds[i] {
            reporter.host_result(&crate::report::HostResult::simple(
                &s.name,
                crate::report::Status::Skipped,
                &skipped,
            ));
        }
    }
}

/// Whether the hosts run handlers now (see [`HostState::in_handlers`]).
fn running_handlers(states: &[HostState]) -> bool {
    states.iter().any(|s| s.in_handlers)
}

/// `meta: end_play` or `meta: end_batch` took effect (a task, or a handler:
/// one of an included handler file): it ends the play (or this `serial`
/// batch only) for every host, even those running on their own.
fn mark_ended(ctx: &PlayCtx<'_>, meta: crate::compile::actions::MetaAction) {
    if meta == crate::compile::actions::MetaAction::EndPlay {
        ctx.ended_play.set(true);
    } else {
        ctx.ended_batch.set(true);
    }
}

/// Shows a play-wide meta task (`end_play`, `end_batch`,
/// `refresh_inventory`) as Ansible does (the task header, and `skipping`
/// for the first host when its `when` is false, uncounted) and tells
/// whether it takes effect.
fn meta_ends(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    states: &[HostState],
    live: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) -> bool {
    meta_header(t, states, live, reporter);
    let hosts = when_holds(ctx, t, states, live, reporter, summary);
    let Some(first) = live.iter().position(|b| *b) else {
        return false;
    };
    if !hosts[first] {
        let skipped = serde_json::json!({"changed": false, "skipped": true});
        reporter.host_result(&crate::report::HostResult::simple(
            &states[first].name,
            crate::report::Status::Skipped,
            &skipped,
        ));
    }
    hosts[first]
}

/// Splits the play's hosts into `serial` batches (indexes into the host list),
/// as Ansible: each entry is a count or a percentage of all the play's hosts
/// (at least 1), the last entry repeating; no `serial` is one batch.
fn batches(
    play: &CompiledPlay,
    templar: &Templar,
    opts: &RunOptions,
    n: usize,
) -> Result<Vec<Vec<usize>>, String> {
    let Some(serial) = &play.play.serial else {
        return Ok(vec![(0..n).collect()]);
    };
    let scope = crate::template::Scope::new(vec![&play.play.vars, &opts.extra_vars]);
    let value = templar
        .render_value(&serial.value, &scope)
        .map_err(|e| format!("{}: serial: {}", serial.span.location(), e.message))?;
    let entries = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut sizes = Vec::with_capacity(entries.len());
    for e in &entries {
        sizes.push(serial_size(e, n).ok_or_else(|| {
            format!(
                "{}: serial must be a number, a percentage such as \"30%\", or a list of them; got {}",
                serial.span.location(),
                e
            )
        })?);
    }
    if sizes.is_empty() {
        return Ok(vec![(0..n).collect()]);
    }
    let mut out = Vec::new();
    let mut next = 0;
    let mut k = 0;
    while next < n {
        let size = sizes[k.min(sizes.len() - 1)];
        if size == 0 {
            out.push((next..n).collect());
            break;
        }
        let end = (next + size).min(n);
        out.push((next..end).collect());
        next = end;
        k += 1;
    }
    Ok(out)
}

/// One `serial` entry as a batch size (0: all the rest).
fn serial_size(v: &Value, total: usize) -> Option<usize> {
    let text = match v {
        Value::Number(n) => return n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim(),
        _ => return None,
    };
    match text.strip_suffix('%') {
        Some(pct) => {
            let pct: f64 = pct.trim().parse().ok()?;
            let size = ((pct / 100.0) * total as f64) as usize;
            Some(size.max(1))
        }
        None => text.parse().ok(),
    }
}

fn save_host_data(
    states: Vec<HostState>,
    carried: &mut std::collections::HashMap<String, (Vars, Vars)>,
) {
    for s in states {
        carried.insert(
            s.name,
            (
                Arc::unwrap_or_clone(s.facts),
                Arc::unwrap_or_clone(s.registered),
            ),
        );
    }
}

/// The hosts of `live` for which a meta task's `when` holds (all of them
/// without one). A condition that cannot be evaluated is shown and fails the run.
fn when_holds(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    states: &[HostState],
    live: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) -> Vec<bool> {
    if t.task.when.is_none() {
        return live.to_vec();
    }
    let hostvars = hostvars::HostVars::snapshot(states, ctx);
    let mut out = vec![false; states.len()];
    for (i, s) in states.iter().enumerate() {
        if !live[i] {
            continue;
        }
        match task::include_items(ctx, t, s, &hostvars) {
            Ok(items) => out[i] = !items.is_empty(),
            Err(msg) => {
                ctx.warn_once(reporter, &format!("{}: {msg}", t.task.span.location()));
                summary.any_failed = true;
            }
        }
    }
    out
}

/// `meta: clear_host_errors`: run once (its `when` judged on the first host
/// running it), it clears the failures of every host of the play. A host
/// running the task (in an `always` section after a failure, say) goes on
/// with the play as not failed; a host that had already stopped does not
/// resume, but its failure no longer counts at the end of the play.
fn clear_host_errors(ctx: &PlayCtx<'_>, states: &mut [HostState], live: &[bool]) {
    // The failures that were to stop the play once their `always` ran are
    // cleared too: the play goes on.
    ctx.fatal_pending.set(false);
    for (i, s) in states.iter_mut().enumerate() {
        if live[i] {
            s.errors_cleared = true;
        } else if s.failed {
            s.failure_forgiven = true;
        }
    }
}

/// Runs a list of steps on the hosts marked in `subset`; blocks recurse.
fn run_steps<'a>(
    ctx: &'a PlayCtx<'a>,
    steps: &'a [CompiledStep],
    states: &'a mut [HostState],
    subset: Vec<bool>,
    reporter: &'a mut dyn Reporter,
    summary: &'a mut RunSummary,
    end_play: &'a mut bool,
) -> LocalBoxFuture<'a, ()> {
    Box::pin(async move {
        for step in steps {
            if *end_play || ctx.ended_play.get() || ctx.abort.get().is_some() {
                return;
            }
            let live: Vec<bool> = states
                .iter()
                .enumerate()
                .map(|(i, s)| subset[i] && s.active())
                .collect();
            if !live.iter().any(|b| *b) {
                return;
            }
            ctx.note_down(states);
            match step {
                CompiledStep::Task(t) => {
                    if !ctx.selects_or_report(t, reporter, summary)
                        || start_at::skips(states, &live, t)
                    {
                        continue;
                    }
                    if let crate::compile::Action::Builtin(crate::compile::actions::Builtin::Meta) =
                        t.action
                    {
                        match task::meta_action(t) {
                            Some(crate::compile::actions::MetaAction::FlushHandlers) => {
                                // Its `when` is judged per host: the others keep
                                // their notifications for a later flush.
                                let hosts = when_holds(ctx, t, states, &live, reporter, summary);
                                flush_headers(ctx, t, states, &live, &hosts, reporter);
                                if run_handlers_on(ctx, states, &hosts, reporter, summary).await {
                                    *end_play = true;
                                }
                                continue;
                            }
                            Some(
                                meta @ (crate::compile::actions::MetaAction::EndPlay
                                | crate::compile::actions::MetaAction::EndBatch),
                            ) => {
                                // Its `when` judged on the first host.
                                if meta_ends(ctx, t, states, &live, reporter, summary) {
                                    mark_ended(ctx, meta);
                                    *end_play = true;
                                }
                                continue;
                            }
                            Some(crate::compile::actions::MetaAction::RefreshInventory) => {
                                // Once for the play (its `when` judged on the
                                // first host); later plays see the new inventory.
                                if meta_ends(ctx, t, states, &live, reporter, summary)
                                    && let Err(e) = ctx.inventory.refresh()
                                {
                                    let failed = serde_json::json!({
                                        "changed": false, "failed": true,
                                        "msg": format!("refresh_inventory: {e}"),
                                    });
                                    let first = live.iter().position(|b| *b).unwrap_or(0);
                                    reporter.host_result(&crate::report::HostResult::simple(
                                        &states[first].name,
                                        crate::report::Status::Failed,
                                        &failed,
                                    ));
                                    summary
                                        .recap
                                        .entry(states[first].name.clone())
                                        .or_default()
                                        .failed += 1;
                                    summary.any_failed = true;
                                    states[first].failed = true;
                                }
                                continue;
                            }
                            Some(crate::compile::actions::MetaAction::ClearHostErrors) => {
                                if meta_ends(ctx, t, states, &live, reporter, summary) {
                                    clear_host_errors(ctx, states, &live);
                                }
                                continue;
                            }
                            Some(crate::compile::actions::MetaAction::ClearFacts) => {
                                // Once (its `when` judged on the first host),
                                // for every host of the play.
                                if meta_ends(ctx, t, states, &live, reporter, summary) {
                                    for s in states.iter_mut() {
                                        s.facts = Arc::new(Vars::new());
                                    }
                                }
                                continue;
                            }
                            _ => {}
                        }
                    }
                    run_task_subset(
                        ctx,
                        t,
                        states,
                        &live,
                        reporter,
                        summary,
                        running_handlers(states),
                    )
                    .await;
                }
                CompiledStep::Include(inc) => {
                    if !ctx.selects_or_report(&inc.task, reporter, summary)
                        || start_at::skips(states, &live, &inc.task)
                    {
                        continue;
                    }
                    let first = live.iter().position(|b| *b).unwrap_or(0);
                    let handler = running_handlers(states);
                    if !step::take(ctx, &inc.task, handler, &states[first].name) {
                        continue;
                    }
                    if ctx.strategy != Strategy::Linear {
                        free::catch_up(ctx, states);
                    }
                    let hostvars = hostvars::HostVars::snapshot(states, ctx);
                    let was_failed: Vec<bool> = states.iter().map(|s| s.failed).collect();
                    let mut per_host: Vec<Vec<Vars>> = vec![Vec::new(); states.len()];
                    let mut errored = vec![false; states.len()];
                    let mut included = Vec::new();
                    for (i, s) in states.iter_mut().enumerate() {
                        if !live[i] {
                            continue;
                        }
                        match task::include_items(ctx, &inc.task, s, &hostvars) {
                            Ok(items) => {
                                if !items.is_empty() {
                                    included.push(s.name.clone());
                                }
                                per_host[i] = items;
                            }
                            Err(msg) => {
                                let name = inc.task.display_name();
                                reporter.task_start(&task_info(&inc.task, &name, handler, 1));
                                errored[i] = true;
                                let ignored =
                                    inc.task.task.ignore_errors.as_ref().is_some_and(|v| {
                                        task::keyword_truthy(ctx, &inc.task, s, v)
                                    });
                                let result = serde_json::json!({"failed": true, "msg": msg, "changed": false});
                                if let Some(reg) = &inc.task.task.register {
                                    Arc::make_mut(&mut s.registered)
                                        .insert(reg.clone(), result.clone());
                                }
                                if ignored {
                                    reporter.host_result(&crate::report::HostResult::simple(
                                        &s.name,
                                        crate::report::Status::Ignored,
                                        &result,
                                    ));
                                    let counts = summary.recap.entry(s.name.clone()).or_default();
                                    counts.ok += 1;
                                    counts.ignored += 1;
                                } else {
                                    fail_include(&inc.task, s, msg, reporter, summary);
                                }
                            }
                        }
                    }
                    // `any_errors_fatal` applies to a failed include too.
                    check_abort(ctx, &inc.task, states, &live, &was_failed);
                    if ctx.abort.get().is_some() {
                        return;
                    }
                    if let Some(reg) = &inc.task.task.register {
                        // As Ansible registers an include's result.
                        for (i, s) in states.iter_mut().enumerate() {
                            if !live[i] || errored[i] {
                                continue;
                            }
                            let result = if per_host[i].is_empty() {
                                serde_json::json!({"changed": false, "skipped": true, "skip_reason": "Conditional result was False"})
                            } else if inc.task.task.loop_.is_some() {
                                serde_json::json!({"changed": false, "results": per_host[i].iter().map(|_| serde_json::json!({"changed": false, "include": inc.file})).collect::<Vec<_>>()})
                            } else {
                                serde_json::json!({"changed": false, "include": inc.file, "include_args": {}})
                            };
                            Arc::make_mut(&mut s.registered).insert(reg.clone(), result);
                        }
                    }
                    let include_name = inc
                        .task
                        .task
                        .name
                        .clone()
                        .unwrap_or_else(|| "include_tasks".into());
                    let n = live.iter().filter(|b| **b).count();
                    reporter.task_start(&task_info(&inc.task, &include_name, handler, n));
                    for (i, s) in states.iter().enumerate() {
                        if !live[i] || s.failed || errored[i] {
                            continue;
                        }
                        let counts = summary.recap.entry(s.name.clone()).or_default();
                        if per_host[i].is_empty() {
                            counts.skipped += 1;
                            reporter.host_result(&crate::report::HostResult::simple(
                                &s.name,
                                crate::report::Status::Skipped,
                                &serde_json::json!({"changed": false, "skipped": true}),
                            ));
                        } else {
                            counts.ok += per_host[i].len() as u32;
                        }
                    }
                    if inc.file.is_empty() {
                        // include_role: no "included:" line, as Ansible.
                    } else if inc.task.task.loop_.is_none() {
                        if !included.is_empty() {
                            reporter.included(&inc.file, &included, None);
                        }
                    } else {
                        let loop_var = &inc.task.task.loop_control.loop_var;
                        let rounds = per_host.iter().map(Vec::len).max().unwrap_or(0);
                        for round in 0..rounds {
                            // Hosts with the same item share a line, as Ansible prints them.
                            let mut lines: Vec<(String, Vec<String>)> = Vec::new();
                            for (i, s) in states.iter().enumerate() {
                                if let Some(layer) = per_host[i].get(round) {
                                    let label = layer
                                        .get(loop_var)
                                        .map(task::label_text)
                                        .unwrap_or_default();
                                    match lines.iter_mut().find(|(l, _)| *l == label) {
                                        Some((_, hosts)) => hosts.push(s.name.clone()),
                                        None => lines.push((label, vec![s.name.clone()])),
                                    }
                                }
                            }
                            for (label, hosts) in lines {
                                reporter.included(&inc.file, &hosts, Some(&label));
                            }
                        }
                    }
                    let rounds = per_host.iter().map(Vec::len).max().unwrap_or(0);
                    for round in 0..rounds {
                        let mut subset = vec![false; states.len()];
                        for (i, s) in states.iter_mut().enumerate() {
                            if let Some(layer) = per_host[i].get(round) {
                                s.include_layers.push(layer.clone());
                                subset[i] = true;
                            }
                        }
                        if let Some(deferred) = &inc.deferred {
                            // Each host reads the file its names render to;
                            // hosts including the same file run it together.
                            let groups = deferred_groups(
                                ctx, inc, deferred, states, &subset, &hostvars, reporter, summary,
                            );
                            for (file, steps, hosts, role) in &groups {
                                if !file.is_empty() {
                                    let names: Vec<String> = states
                                        .iter()
                                        .enumerate()
                                        .filter(|(i, _)| hosts[*i])
                                        .map(|(_, s)| s.name.clone())
                                        .collect();
                                    reporter.included(file, &names, None);
                                }
                                let hosts = enter_role_on(ctx, role.as_deref(), states, hosts);
                                run_steps(ctx, steps, states, hosts, reporter, summary, end_play)
                                    .await;
                            }
                        } else {
                            let hosts = enter_role_on(ctx, inc.role.as_deref(), states, &subset);
                            run_steps(ctx, &inc.steps, states, hosts, reporter, summary, end_play)
                                .await;
                        }
                        for (i, s) in states.iter_mut().enumerate() {
                            if subset[i] {
                                s.include_layers.pop();
                            }
                        }
                    }
                }
                CompiledStep::Block(b) => {
                    let mut live = live;
                    if let Some(key) = &b.unless_role_ran {
                        for (on, s) in live.iter_mut().zip(states.iter()) {
                            *on = *on && !s.roles_run.contains(key);
                        }
                    }
                    let guarded = !b.rescue.is_empty();
                    let finally = !b.always.is_empty();
                    for (i, s) in states.iter_mut().enumerate() {
                        if guarded && live[i] {
                            s.rescue_depth += 1;
                        }
                        if finally && live[i] {
                            s.always_depth += 1;
                        }
                    }
                    run_steps(
                        ctx,
                        &b.block,
                        states,
                        live.clone(),
                        reporter,
                        summary,
                        end_play,
                    )
                    .await;
                    for (i, s) in states.iter_mut().enumerate() {
                        if guarded && live[i] {
                            s.rescue_depth -= 1;
                        }
                    }
                    let failed: Vec<bool> = states
                        .iter()
                        .enumerate()
                        .map(|(i, s)| live[i] && s.failed && !s.unreachable)
                        .collect();
                    let mut rescued = vec![false; states.len()];
                    if !b.rescue.is_empty() && failed.iter().any(|f| *f) {
                        for (i, s) in states.iter_mut().enumerate() {
                            if failed[i] {
                                s.failed = false;
                                if let Some((task, result)) = s.last_failure.clone() {
                                    Arc::make_mut(&mut s.registered)
                                        .insert("ansible_failed_task".into(), task);
                                    Arc::make_mut(&mut s.registered)
                                        .insert("ansible_failed_result".into(), result);
                                }
                            }
                        }
                        run_steps(
                            ctx,
                            &b.rescue,
                            states,
                            failed.clone(),
                            reporter,
                            summary,
                            end_play,
                        )
                        .await;
                        for (i, s) in states.iter_mut().enumerate() {
                            if failed[i] && !s.failed && !s.unreachable {
                                rescued[i] = true;
                            }
                        }
                    }
                    for (i, s) in states.iter_mut().enumerate() {
                        if finally && live[i] {
                            s.always_depth -= 1;
                        }
                    }
                    if finally {
                        let still_failed: Vec<bool> = states
                            .iter()
                            .enumerate()
                            .map(|(i, s)| live[i] && s.failed && !s.unreachable)
                            .collect();
                        for (i, s) in states.iter_mut().enumerate() {
                            if still_failed[i] {
                                s.failed = false;
                                s.errors_cleared = false;
                            }
                        }
                        let always_hosts: Vec<bool> = states
                            .iter()
                            .enumerate()
                            .map(|(i, s)| live[i] && !s.unreachable && !s.ended)
                            .collect();
                        run_steps(
                            ctx,
                            &b.always,
                            states,
                            always_hosts,
                            reporter,
                            summary,
                            end_play,
                        )
                        .await;
                        for (i, s) in states.iter_mut().enumerate() {
                            // Unless `meta: clear_host_errors` ran meanwhile.
                            if still_failed[i] && !s.errors_cleared {
                                s.failed = true;
                            }
                        }
                    }
                }
            }
        }
    })
}

/// A deferred include's hosts grouped by the file they include (see
/// [`crate::playbook::Deferred`]): the file as shown, its compiled steps,
/// and the hosts running them. A host whose names cannot be rendered or
/// whose file cannot be read or compiled fails the include.
#[allow(clippy::too_many_arguments)]
fn deferred_groups(
    ctx: &PlayCtx<'_>,
    inc: &crate::compile::CompiledInclude,
    deferred: &crate::playbook::Deferred,
    states: &mut [HostState],
    subset: &[bool],
    hostvars: &minijinja::Value,
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) -> Vec<crate::compile::DeferredGroup> {
    let was_failed: Vec<bool> = states.iter().map(|s| s.failed).collect();
    let templates = crate::playbook::parse::deferred_templates(deferred);
    // (rendered names, file, steps, hosts)
    type Group = (
        Vec<String>,
        String,
        Vec<CompiledStep>,
        Vec<bool>,
        Option<Arc<crate::playbook::IncludedRole>>,
    );
    let mut groups: Vec<Group> = Vec::new();
    let mut failed: Vec<(usize, String)> = Vec::new();
    let mut errors: Vec<(Vec<String>, String)> = Vec::new();
    for (i, s) in states.iter().enumerate() {
        if !subset[i] {
            continue;
        }
        let layer = s.include_layers.last().cloned().unwrap_or_default();
        let rendered: Result<Vec<String>, String> = templates
            .iter()
            .map(|text| task::render_include_name(ctx, &inc.task, s, hostvars, &layer, text))
            .collect();
        let names = match rendered {
            Ok(names) => names,
            Err(msg) => {
                failed.push((i, msg));
                continue;
            }
        };
        if let Some(g) = groups.iter_mut().find(|g| g.0 == names) {
            g.3[i] = true;
            continue;
        }
        if let Some((_, msg)) = errors.iter().find(|e| e.0 == names) {
            failed.push((i, msg.clone()));
            continue;
        }
        let mut lookup = |text: &str| {
            templates
                .iter()
                .position(|t| t == text)
                .map(|k| names[k].clone())
                .ok_or_else(|| format!("`{text}` was not rendered"))
        };
        match crate::compile::compile_deferred(
            deferred,
            inc.task.task.role.as_ref(),
            &ctx.book.dir,
            ctx.templar,
            &mut lookup,
        ) {
            Ok((file, steps, role)) => {
                let mut hosts = vec![false; states.len()];
                hosts[i] = true;
                groups.push((names, file, steps, hosts, role));
            }
            Err(diags) => {
                let msg = diags
                    .iter()
                    .map(|d| match &d.span {
                        Some(span) => format!("{}: {}", span.location(), d.message),
                        None => d.message.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                failed.push((i, msg.clone()));
                errors.push((names, msg));
            }
        }
    }
    if !failed.is_empty() {
        let name = inc.task.display_name();
        reporter.task_start(&task_info(
            &inc.task,
            &name,
            running_handlers(states),
            failed.len(),
        ));
        for (i, msg) in failed {
            fail_include(&inc.task, &mut states[i], msg, reporter, summary);
        }
        check_abort(ctx, &inc.task, states, subset, &was_failed);
    }
    groups
        .into_iter()
        .map(|(_, file, steps, hosts, role)| (file, steps, hosts, role))
        .collect()
}

/// An `include_role` starts on a host: whether its tasks run there (not
/// when `allow_duplicates: false` and the role ran there already).
fn enter_role(role: Option<&crate::playbook::IncludedRole>, s: &mut HostState) -> bool {
    let Some(role) = role else {
        return true;
    };
    if role.once && s.roles_run.contains(&role.key) {
        return false;
    }
    s.roles_run.insert(role.key.clone());
    true
}

/// [`enter_role`] for the hosts of `hosts` (the ones that run it stay).
/// With `public: true` the role's variables join every host's for the rest
/// of the play, as soon as it runs on one host (Ansible adds it to the play).
fn enter_role_on(
    ctx: &PlayCtx<'_>,
    role: Option<&crate::playbook::IncludedRole>,
    states: &mut [HostState],
    hosts: &[bool],
) -> Vec<bool> {
    let entered: Vec<bool> = states
        .iter_mut()
        .zip(hosts)
        .map(|(s, &on)| on && enter_role(role, s))
        .collect();
    if let Some(public) = role.and_then(|r| r.public.as_ref())
        && entered.iter().any(|e| *e)
    {
        ctx.public_roles.borrow_mut().push(Arc::new(public.clone()));
    }
    take_public_roles(ctx, states);
    entered
}

/// Takes the variables of the public roles included since the host last looked.
pub(crate) fn take_public_roles(ctx: &PlayCtx<'_>, states: &mut [HostState]) {
    let public = ctx.public_roles.borrow();
    for s in states {
        for role in public.iter().skip(s.public_seen) {
            crate::vars::merge_into(&mut s.public_role_defaults, &role.0);
            crate::vars::merge_into(&mut s.public_role_exports, &role.1);
        }
        s.public_seen = public.len();
    }
}

/// An include failed on a host (its `when`, loop or file): shown, counted
/// (as rescued inside a block that rescues it), and the host fails.
fn fail_include(
    t: &CompiledTask,
    s: &mut HostState,
    msg: String,
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) {
    let result = serde_json::json!({"failed": true, "msg": msg, "changed": false});
    reporter.host_result(&crate::report::HostResult::simple(
        &s.name,
        crate::report::Status::Failed,
        &result,
    ));
    s.failed = true;
    s.last_failure = Some((
        serde_json::json!({
            "name": t.task.name.clone().unwrap_or_default(),
            "action": t.task.module.value,
        }),
        result,
    ));
    let counts = summary.recap.entry(s.name.clone()).or_default();
    if s.rescue_depth > 0 {
        counts.rescued += 1;
    } else {
        counts.failed += 1;
    }
}

async fn gather_facts(
    ctx: &PlayCtx<'_>,
    states: &mut [HostState],
    in_batch: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) {
    let forks = ctx.opts.forks.max(1);
    let progress = std::cell::RefCell::new(&mut *reporter);
    let progress = &progress;
    let record = ctx.opts.verbosity >= 3;
    /// The facts (named as `setup` returns them), or why not.
    type Gathered = (
        usize,
        Result<serde_json::Map<String, Value>, setup::GatherError>,
        Duration,
        Vec<CommandRecord>,
    );
    let results: Vec<Gathered> = futures::stream::iter(
        states
            .iter()
            .enumerate()
            .filter(|(i, s)| in_batch[*i] && s.active()),
    )
    .map(|(i, s)| async move {
        let permits = if ctx.strategy != Strategy::Linear {
            Some(free::permits(ctx, None).await)
        } else {
            None
        };
        progress.borrow_mut().host_start(&s.name);
        let started = std::time::Instant::now();
        let escalation = task::play_become(ctx, s);
        let request = play_gather_request(ctx, s);
        let exec = async {
            let request = request.map_err(setup::GatherError::Failed)?;
            let deadline = setup::deadline(&request);
            // The connection records the command (`-vvv`).
            setup::gather(
                &request,
                async |request: tend_modules::Exec| match &escalation {
                    Ok(spec) => {
                        let conn = crate::connection::Escalated {
                            inner: Arc::clone(&s.conn),
                            escalation: spec.clone(),
                            environment: Vec::new(),
                            deadline,
                        };
                        tend_modules::Host::exec(&conn, request).await
                    }
                    Err(msg) => Err(tend_modules::HostError::Become(msg.clone())),
                },
            )
            .await
        };
        let (facts, commands) = record::recording_if(record, exec).await;
        progress.borrow_mut().host_done(&s.name);
        drop(permits);
        (i, facts, started.elapsed(), commands)
    })
    .buffer_unordered(forks)
    .collect()
    .await;
    let mut results = results;
    results.sort_by_key(|(i, ..)| *i);
    for (i, r, duration, commands) in results {
        let s = &mut states[i];
        let counts = summary.recap.entry(s.name.clone()).or_default();
        match r {
            Ok(mut f) => {
                // What the `gather_facts` action adds: the facts are known.
                f.insert("_ansible_facts_gathered".into(), Value::Bool(true));
                task::merge_module_facts(Arc::make_mut(&mut s.facts), &f);
                // `vars_files` named after facts: read again now they are known.
                if ctx.per_host_vars_files {
                    match host_vars_files(ctx, s, true) {
                        Ok((vars, _)) => s.vars_files = Arc::new(vars),
                        Err(e) => {
                            reporter.warning(&format!("{}: {e}", s.name));
                            s.failed = true;
                            summary.any_failed = true;
                            counts.failed += 1;
                            continue;
                        }
                    }
                }
                counts.ok += 1;
                reporter.host_result(&crate::report::HostResult {
                    duration: Some(duration),
                    commands: &commands,
                    ..crate::report::HostResult::simple(
                        &s.name,
                        crate::report::Status::Ok,
                        &Value::Null,
                    )
                });
            }
            Err(e) => {
                let (status, result) = if let setup::GatherError::Unreachable(msg) = &e {
                    s.unreachable = true;
                    counts.unreachable += 1;
                    summary.any_unreachable = true;
                    (
                        crate::report::Status::Unreachable,
                        serde_json::json!({"msg": msg, "unreachable": true, "changed": false}),
                    )
                } else {
                    s.failed = true;
                    counts.failed += 1;
                    summary.any_failed = true;
                    (
                        crate::report::Status::Failed,
                        setup::gather_facts_failure(&e),
                    )
                };
                reporter.host_result(&crate::report::HostResult {
                    duration: Some(duration),
                    commands: &commands,
                    ..crate::report::HostResult::simple(&s.name, status, &result)
                });
            }
        }
    }
}

/// The request of the play's fact gathering on `s`: its `gather_subset`,
/// `gather_timeout` and `fact_path`, rendered with the host's variables.
fn play_gather_request(ctx: &PlayCtx<'_>, s: &HostState) -> Result<facts::Request, String> {
    let play = &ctx.play.play;
    task::with_play_scope(ctx, s, |scope| {
        let render = |v: &Option<Value>| {
            v.as_ref()
                .map(|v| ctx.templar.render_value(v, scope).map_err(|e| e.message))
                .transpose()
        };
        setup::play_request(
            render(&play.gather_subset)?.as_ref(),
            render(&play.gather_timeout)?.as_ref(),
            render(&play.fact_path)?.as_ref(),
        )
    })
}

/// Runs notified handlers: one pass in definition order. Every handler whose
/// name or `listen` topic was notified runs once on the hosts that notified
/// it; a handler notified by an earlier handler runs in the same pass. As
/// in Ansible, a handler notified by a later handler (or by itself, or
/// again after it ran) runs at the next flush: each handler runs at most
/// once per flush, so handlers that notify each other cannot loop.
async fn run_handlers(
    ctx: &PlayCtx<'_>,
    states: &mut [HostState],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) -> bool {
    let all = vec![true; states.len()];
    run_handlers_on(ctx, states, &all, reporter, summary).await
}

/// [`run_handlers`] for the hosts marked in `hosts` only. Tells whether a
/// handler (`meta: end_play`/`end_batch`, maybe in an included file) ended
/// the play or the batch: the handlers after it do not run.
async fn run_handlers_on(
    ctx: &PlayCtx<'_>,
    states: &mut [HostState],
    hosts: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
) -> bool {
    let was_in_handlers: Vec<bool> = states.iter().map(|s| s.in_handlers).collect();
    for s in states.iter_mut() {
        s.in_handlers = true;
    }
    let mut ended = false;
    let handlers = &ctx.play.handlers;
    // Per host, the handlers due in this flush; the flags of handlers
    // already passed, set again, wait for the next flush.
    let mut due: Vec<Vec<bool>> = states
        .iter()
        .map(|s| {
            (0..handlers.len())
                .map(|i| s.pending_handlers.contains(&i))
                .collect()
        })
        .collect();
    for (i, h) in handlers.iter().enumerate() {
        for (j, s) in states.iter_mut().enumerate() {
            if hosts[j] {
                take_notifications(handlers, s, &mut due[j]);
            }
        }
        let subset: Vec<bool> = states
            .iter()
            .enumerate()
            .map(|(j, s)| {
                hosts[j] && due[j][i] && (s.active() || (s.failed && ctx.force_handlers()))
            })
            .collect();
        for (j, run) in subset.iter().enumerate() {
            if *run {
                due[j][i] = false;
            }
        }
        match ctx.play.handler_includes.iter().find(|(k, _)| *k == i) {
            // A looping or per-host include: it runs as an include.
            Some((_, include)) if subset.iter().any(|b| *b) => {
                // `force_handlers`: failed hosts run the include too, and
                // stay failed.
                let forced: Vec<bool> = states
                    .iter()
                    .zip(&subset)
                    .map(|(s, &on)| on && s.failed)
                    .collect();
                for (s, &f) in states.iter_mut().zip(&forced) {
                    if f {
                        s.failed = false;
                    }
                }
                let mut end_play = false;
                run_steps(
                    ctx,
                    std::slice::from_ref(include),
                    states,
                    subset,
                    reporter,
                    summary,
                    &mut end_play,
                )
                .await;
                for (s, &f) in states.iter_mut().zip(&forced) {
                    s.failed |= f;
                }
                ended = end_play;
            }
            Some(_) => {}
            None => match task::meta_action(h).filter(|_| {
                matches!(
                    h.action,
                    crate::compile::Action::Builtin(crate::compile::actions::Builtin::Meta)
                )
            }) {
                Some(
                    meta @ (crate::compile::actions::MetaAction::EndPlay
                    | crate::compile::actions::MetaAction::EndBatch),
                ) => {
                    ended = subset.iter().any(|b| *b)
                        && meta_ends(ctx, h, states, &subset, reporter, summary);
                    if ended {
                        mark_ended(ctx, meta);
                    }
                }
                _ => run_task_subset(ctx, h, states, &subset, reporter, summary, true).await,
            },
        }
        if ended {
            break;
        }
    }
    for (j, s) in states.iter_mut().enumerate() {
        if hosts[j] {
            take_notifications(handlers, s, &mut due[j]);
            s.pending_handlers = (0..handlers.len()).filter(|i| due[j][*i]).collect();
        }
    }
    for (s, was) in states.iter_mut().zip(was_in_handlers) {
        s.in_handlers = was;
    }
    ended
}

/// Turns a host's notifications into due handlers (see [`run_handlers`]).
fn take_notifications(handlers: &[CompiledTask], s: &mut HostState, due: &mut [bool]) {
    if s.notified.is_empty() {
        return;
    }
    let on = crate::compile::triggered_handlers(handlers, s.notified.iter().map(String::as_str));
    for (d, o) in due.iter_mut().zip(on) {
        *d |= o;
    }
    s.notified.clear();
}

async fn run_task_subset(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    states: &mut [HostState],
    subset: &[bool],
    reporter: &mut dyn Reporter,
    summary: &mut RunSummary,
    handler: bool,
) {
    let Some(first) = subset.iter().position(|b| *b) else {
        return;
    };
    if !step::take(ctx, t, handler, &states[first].name) {
        return;
    }
    let free = ctx.strategy != Strategy::Linear;
    // `run_once`: the first host runs it; its results go to every host.
    // Not under the free strategies (as Ansible: it runs on every host).
    // Actions that bypass the host loop (`add_host`) run once too.
    let bypass = matches!(t.action, crate::compile::Action::Builtin(b) if b.bypasses_host_loop());
    // `run_once` gives the result (and `register`) to every host; an action
    // that bypasses the host loop (`pause`, `add_host`) registers it on the
    // host that ran it only, as in Ansible.
    let explicit_once = task::play_default(&t.task.run_once, &ctx.play.play.run_once)
        .is_some_and(|v| task::keyword_truthy(ctx, t, &states[first], v));
    let asked_once = bypass || explicit_once;
    if asked_once && free {
        ctx.warn_once(reporter, free::RUN_ONCE);
    }
    if free {
        free::catch_up(ctx, states);
    }
    let run_once = asked_once && !free;
    if free && fatal(ctx, t) {
        ctx.warn_once(reporter, free::ANY_ERRORS_FATAL);
    }
    let runners: Vec<bool> = if run_once {
        let first = subset.iter().position(|b| *b);
        (0..subset.len()).map(|i| Some(i) == first).collect()
    } else {
        subset.to_vec()
    };
    let n = runners.iter().filter(|b| **b).count();
    // Ansible neither counts nor shows the result of a meta task (a
    // `skipping` line aside); its linear strategy runs one that acts per
    // host (`noop`, `end_host`, `reset_connection`) host by host, each time
    // with the task's header.
    let meta = matches!(
        t.action,
        crate::compile::Action::Builtin(crate::compile::actions::Builtin::Meta)
    );
    let header_per_host = meta && !free;
    if !header_per_host {
        reporter.task_start(&task_info(t, &t.display_name(), handler, n));
    }
    set_lookup_dirs(ctx, t);
    let hostvars = hostvars::HostVars::snapshot(states, ctx);
    let forks =
        match task::play_default(&t.task.throttle, &ctx.play.play.throttle).and_then(throttle_of) {
            Some(n) if n > 0 => n.min(ctx.opts.forks.max(1)),
            _ => ctx.opts.forks.max(1),
        };
    let was_failed: Vec<bool> = states.iter().map(|s| s.failed).collect();
    let permits = if free {
        Some(free::permits(ctx, Some(t)).await)
    } else {
        None
    };
    let outcomes: Vec<(usize, TaskOutcome)> = {
        let states_ref: &[HostState] = states;
        let hv = &hostvars;
        // Progress events while hosts work (borrows end before each await).
        let progress = std::cell::RefCell::new(&mut *reporter);
        let progress = &progress;
        futures::stream::iter((0..states_ref.len()).filter(|i| runners[*i]))
            .map(|i| async move {
                let name = &states_ref[i].name;
                progress.borrow_mut().host_start(name);
                let run = task::run_on_host(ctx, t, &states_ref[i], hv);
                let outcome = crate::plan::observing(ctx.opts.plan.as_ref(), name, t, run).await;
                progress.borrow_mut().host_done(name);
                (i, outcome)
            })
            .buffered(forks)
            .collect()
            .await
    };
    for (i, outcome) in outcomes {
        if header_per_host {
            reporter.task_start(&task_info(t, &t.display_name(), handler, 1));
        }
        let silent = meta;
        let s = &mut states[i];
        let before = explicit_once.then(|| s.registered.clone());
        let delegated = if silent {
            let mut counts = Counts::default();
            task::apply_outcome(
                ctx,
                t,
                s,
                outcome,
                &mut counts,
                &mut free::SkipsOnly(reporter),
            )
        } else {
            let counts: &mut Counts = summary.recap.entry(s.name.clone()).or_default();
            task::apply_outcome(ctx, t, s, outcome, counts, reporter)
        };
        if s.unreachable {
            summary.any_unreachable = true;
        }
        match before {
            Some(registered) if free => free::share(ctx, s, &registered),
            Some(registered) => broadcast(states, i, subset, &registered),
            None => {}
        }
        task::store_delegated_facts(ctx, states, delegated);
    }
    drop(permits);
    if free {
        hostvars::publish(states, ctx, false);
    } else {
        check_abort(ctx, t, states, subset, &was_failed);
    }
}

/// `any_errors_fatal` of the task (or else the play).
fn fatal(ctx: &PlayCtx<'_>, t: &CompiledTask) -> bool {
    t.task
        .any_errors_fatal
        .as_ref()
        .or(ctx.play.play.any_errors_fatal.as_ref())
        .is_some_and(task::truthy)
}

/// `run_once`: what the task set on host `from` (registered values, facts)
/// is set on every other host of the task. Handlers it notified run on
/// `from` alone, as in Ansible 2.19.
fn broadcast(states: &mut [HostState], from: usize, subset: &[bool], registered_before: &Vars) {
    let set: Vec<(String, Value)> = states[from]
        .registered
        .iter()
        .filter(|(k, v)| registered_before.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (i, s) in states.iter_mut().enumerate() {
        if i == from || !subset[i] || s.unreachable {
            continue;
        }
        for (k, v) in &set {
            Arc::make_mut(&mut s.registered).insert(k.clone(), v.clone());
        }
    }
}

/// After a task: `any_errors_fatal` and `max_fail_percentage` may stop the
/// play for every host.
///
/// As Ansible, `any_errors_fatal` marks every host of the batch failed where
/// it stands: hosts inside a block with a `rescue` go to that rescue (without
/// counting a failure), the others stop, and an unrescued failure ends the run.
fn check_abort(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    states: &mut [HostState],
    subset: &[bool],
    was_failed: &[bool],
) {
    let newly: Vec<usize> = (0..states.len())
        .filter(|i| subset[*i] && states[*i].failed && !was_failed[*i])
        .collect();
    if newly.is_empty() {
        return;
    }
    if fatal(ctx, t) {
        let unrescued = newly.iter().any(|i| states[*i].rescue_depth == 0);
        for (i, s) in states.iter_mut().enumerate() {
            if !ctx.batch[i] || !s.active() {
                continue;
            }
            if s.rescue_depth > 0 && !unrescued {
                s.failed = true;
            } else {
                s.ended = true;
            }
        }
        if unrescued {
            // As Ansible: a failed host whose next task is in an `always`
            // runs it before the play stops.
            if newly.iter().any(|i| states[*i].always_depth > 0) {
                ctx.fatal_pending.set(true);
            } else {
                ctx.abort.set(Some(Abort::AnyErrorsFatal));
            }
        }
        return;
    }
    let Some(pct) = ctx
        .play
        .play
        .max_fail_percentage
        .as_ref()
        .and_then(|m| percentage_of(&m.value))
    else {
        return;
    };
    let size = ctx.batch.iter().filter(|b| **b).count().max(1);
    let failed = states
        .iter()
        .enumerate()
        .filter(|(i, s)| ctx.batch[*i] && s.failed && s.rescue_depth == 0)
        .count();
    if failed as f64 / size as f64 > pct / 100.0 {
        ctx.abort.set(Some(Abort::MaxFailPercentage));
        for (i, s) in states.iter_mut().enumerate() {
            if ctx.batch[i] {
                s.ended = true;
            }
        }
    }
}

/// `max_fail_percentage`: a number (or numeric string) from 0 to 100.
fn percentage_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').parse().ok(),
        _ => None,
    }
}

/// `throttle`: a positive number (or numeric string).
fn throttle_of(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The task-start event for a task, under the name shown.
fn task_info<'a>(t: &'a CompiledTask, name: &'a str, handler: bool, hosts: usize) -> TaskInfo<'a> {
    TaskInfo {
        name,
        span: Some(&t.task.span),
        action: &t.task.module.value,
        handler,
        hosts,
    }
}

/// `lookup('file')` searches the task's role (`files/`, the role) before the
/// playbook's `files/` and directory. Set per task: tasks run one at a time.
fn set_lookup_dirs(ctx: &PlayCtx<'_>, t: &CompiledTask) {
    let mut dirs = Vec::with_capacity(4);
    if let Some(r) = &t.task.role {
        dirs.push(r.path.join("files"));
        dirs.push(r.path.clone());
    }
    dirs.push(ctx.book.dir.join("files"));
    dirs.push(ctx.book.dir.clone());
    crate::template::set_search_dirs(dirs);
}

/// The variables of a `vars_files` entry: the first of its alternatives
/// that exists (looked up as Ansible: under the playbook's `vars/`, then
/// its directory), its name templated with the play's and extra vars.
/// `None` when a name uses a variable `scope` lacks (a host variable, or a
/// fact not gathered yet).
fn vars_file_of(
    alternatives: &[crate::playbook::Located<String>],
    scope: &crate::template::Scope<'_>,
    templar: &Templar,
    dir: &std::path::Path,
) -> Result<Option<Vars>, String> {
    let mut tried = Vec::new();
    for vf in alternatives {
        let name = match templar.render_string(&vf.value, scope) {
            Ok(v) => value_text(&v),
            Err(e) if e.undefined => return Ok(None),
            Err(e) => {
                return Err(format!("{}: vars_files: {}", vf.span.location(), e.message));
            }
        };
        let path = std::path::Path::new(&name);
        let candidates = if path.is_absolute() {
            vec![path.to_path_buf()]
        } else {
            vec![dir.join("vars").join(path), dir.join(path)]
        };
        match candidates.iter().find(|c| c.is_file()) {
            Some(found) => {
                return load_vars_file(found)
                    .map(Some)
                    .map_err(|e| format!("{}: vars_files: {e}", vf.span.location()));
            }
            None => tried.push(name),
        }
    }
    let at = alternatives
        .first()
        .map(|a| format!("{}: ", a.span.location()))
        .unwrap_or_default();
    Err(format!(
        "{at}vars_files: vars file {} was not found",
        tried.join(", ")
    ))
}

/// A host's `vars_files` when a name needs host variables: every entry in
/// order, names templated with the host's inventory variables, facts, the
/// play's and extra vars. Before facts are gathered (`facts_known` false) an
/// entry whose name is still undefined is skipped, as Ansible does; after,
/// it is an error.
///
/// Returns the variables, and whether an entry was skipped.
pub(crate) fn host_vars_files(
    ctx: &PlayCtx<'_>,
    host: &HostState,
    facts_known: bool,
) -> Result<(Vars, bool), String> {
    let mut out = Vars::new();
    let mut skipped = false;
    if !ctx.per_host_vars_files {
        return Ok((out, skipped));
    }
    let magic = ctx.inventory.get().magic_vars(&host.name);
    let scope = crate::template::Scope::with_layers(vec![
        (&host.inventory_vars, true),
        (&host.facts, false),
        (&ctx.play_vars, true),
        (&ctx.opts.extra_vars, true),
        (&ctx.magic, false),
        (&magic, false),
    ]);
    for alternatives in &ctx.play.play.vars_files {
        match vars_file_of(&alternatives[..], &scope, ctx.templar, &ctx.book.dir)? {
            Some(vars) => out.extend(vars),
            None if !facts_known => skipped = true,
            None => {
                let name = alternatives.first().map(|a| a.value.as_str()).unwrap_or("");
                return Err(format!(
                    "an undefined variable was found when attempting to template the vars_files item '{name}'"
                ));
            }
        }
    }
    Ok((out, skipped))
}

/// Reads a YAML vars file (vars_files, -e @file).
pub fn load_vars_file(path: &std::path::Path) -> Result<Vars, String> {
    let (_, docs) = crate::yaml::load(path).map_err(|d| d.to_string())?;
    match docs.first().map(crate::yaml::Node::to_value) {
        None | Some(Value::Null) => Ok(Vars::new()),
        Some(Value::Object(m)) => Ok(m),
        // A list of mappings is merged in order, as Ansible's `preprocess_vars`.
        Some(Value::Array(items)) => {
            let mut out = Vars::new();
            for item in items {
                match item {
                    Value::Object(m) => out.extend(m),
                    _ => {
                        return Err(format!(
                            "{}: variable files must contain either a dictionary of variables, or a list of dictionaries",
                            path.display()
                        ));
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(format!("{}: a vars file must be a mapping", path.display())),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
