//! Saved plans: `tend plan --out plan.json` and `tend apply plan.json`.
//!
//! A plan run is a check-mode, diff-mode run that also records, per host and
//! task (in execution order), the predicted action, the diff shown to the
//! reviewer and a *fingerprint* of the state each probe saw. `tend apply`
//! runs the same playbooks for real; before each probed (Converge) task it
//! compares the probe's fingerprint with the plan's: a mismatch means the
//! host drifted since the plan, and that host stops there (other hosts go
//! on) unless `--replan`. After each change, the module probes again and
//! must find nothing left to do ("inconsistent result after apply").
//!
//! Fingerprints are HMAC-SHA256 of the probe's output (without what changes
//! on its own: see [`tend_modules::module::stable_probe_output`]) under a key
//! that is *not* in the plan, so a plan never gives away the content of a
//! file it looked at, even a short secret one: the key is `TEND_PLAN_KEY`
//! (any text; CI keeps it as a secret) or else `.tend/plan.key` next to the
//! first playbook, 32 random bytes created `0600` on first use. Plan and
//! apply must use the same key; the plan records a key id to tell.
//!
//! Drift is checked on each host up to the first change made on it during
//! the apply: after that, a task's state may differ from the plan's because
//! of the run's own earlier changes (a package installs the file a later
//! task edits), so later tasks apply what their probe says now, and are
//! verified after applying like every other change.

use crate::compile::{CompiledPlaybook, CompiledStep, CompiledTask};
use crate::report::{HostResult, Recap, Reporter, Status, TaskInfo, redact, unified_diff};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tend_modules::module::{ConvergeObserver, stable_probe_output};
use tend_modules::{Action, ExecOutput, ModuleError, Plan};
use thiserror::Error;

/// The plan file's format version (bumped on incompatible changes).
pub const FORMAT_VERSION: u32 = 1;

/// The environment variable holding the fingerprint key.
pub const KEY_ENV: &str = "TEND_PLAN_KEY";

/// A saved plan could not be made, read or used.
#[derive(Debug, Error)]
pub enum PlanError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The plan file is not a plan tend can read.
    #[error("{path}: not a tend plan file: {msg}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        msg: String,
    },
    /// The plan cannot be applied as it is.
    #[error("{0}")]
    Stale(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PlanError + '_ {
    move |source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint key (never written into a plan).
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(********)")
    }
}

impl Key {
    /// A key from text (`TEND_PLAN_KEY`).
    pub fn from_text(text: &str) -> Key {
        Key(Sha256::digest(text.as_bytes()).into())
    }

    /// `TEND_PLAN_KEY`, else `DIR/.tend/plan.key` (made on first use, 0600).
    pub fn load(dir: &Path) -> Result<Key, PlanError> {
        if let Some(text) = std::env::var(KEY_ENV).ok().filter(|t| !t.is_empty()) {
            return Ok(Key::from_text(&text));
        }
        let path = dir.join(".tend").join("plan.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok(Key::from_text(text.trim())),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            Err(_) => {}
        }
        let mut random = [0u8; 32];
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom").map_err(io(Path::new("/dev/urandom")))?,
            &mut random,
        )
        .map_err(io(Path::new("/dev/urandom")))?;
        let text = hex(&random);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(format!("{text}\n").as_bytes())
            .map_err(io(&path))?;
        Ok(Key::from_text(&text))
    }

    /// The keyed hash of `parts` (each length-prefixed), in hex.
    pub fn mac(&self, parts: &[&[u8]]) -> String {
        let mut msg = Vec::new();
        for p in parts {
            msg.extend_from_slice(&(p.len() as u64).to_be_bytes());
            msg.extend_from_slice(p);
        }
        hex(&hmac_sha256(&self.0, &msg))
    }

    /// Names the key without giving it away.
    pub fn id(&self) -> String {
        self.mac(&[b"tend plan key id"])[..16].to_string()
    }
}

/// Hashes of what the plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// The playbook files, as given.
    pub playbooks: Vec<String>,
    /// The inventory sources, as given.
    pub inventory: Vec<String>,
    /// The playbooks' sources (and their `templates/`, `files/`, `vars/`,
    /// `roles/`, `group_vars/`, `host_vars/` trees).
    pub playbook_hash: String,
    /// The resolved inventory: hosts, groups and their variables.
    pub inventory_hash: String,
    /// `-e` variables and the connection options.
    pub vars_hash: String,
}

/// The run options the plan was made with (none of them secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// `--limit`.
    pub limit: Option<String>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `--forks`.
    pub forks: usize,
    /// `--force-handlers`.
    pub force_handlers: bool,
    /// Connection flags (`--user`, `--become`...), as `ansible_*` variables.
    pub connection: BTreeMap<String, serde_json::Value>,
    /// `-K` was given: apply asks again.
    pub ask_become_pass: bool,
    /// `-e` was given: apply needs the same `-e` again (they may be secret).
    pub extra_vars: bool,
}

/// What one task does on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The name shown.
    pub task: String,
    /// `file:line:col`.
    pub location: String,
    /// How many times this task ran on this host before (includes, handlers).
    pub occurrence: u32,
    /// A handler.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handler: bool,
    /// `ok`, `create`, `update`, `delete`, `run`, `unknown` or `skip`.
    pub action: String,
    /// Keyed hashes of the state each probe saw (one per probe, in order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<String>,
    /// The unified diffs (none for `no_log` tasks, secrets masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<String>,
    /// The task is `no_log`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_log: bool,
}

/// Counts of planned changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Hosts in the plan.
    pub hosts: usize,
    /// Tasks that change something (all but `ok` and `skip`).
    pub changes: usize,
    /// By action.
    pub create: usize,
    /// By action.
    pub update: usize,
    /// By action.
    pub delete: usize,
    /// By action.
    pub run: usize,
    /// By action.
    pub unknown: usize,
}

/// A saved plan (`--out`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The tend that made it.
    pub tend_version: String,
    /// Which key made the fingerprints ([`Key::id`]).
    pub key_id: String,
    /// What it was made from.
    pub inputs: Inputs,
    /// How it was made.
    pub options: PlanOptions,
    /// Planned changes, counted.
    pub summary: Summary,
    /// Per host, its tasks in execution order.
    pub hosts: BTreeMap<String, Vec<TaskRecord>>,
}

impl PlanFile {
    /// Reads a plan file.
    pub fn read(path: &Path) -> Result<PlanFile, PlanError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| PlanError::Format {
                path: path.to_path_buf(),
                msg: e.to_string(),
            })?;
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(PlanError::Format {
                path: path.to_path_buf(),
                msg: format!(
                    "format_version {} (this tend reads version {FORMAT_VERSION})",
                    version.map_or("missing".into(), |v| v.to_string())
                ),
            });
        }
        serde_json::from_value(value).map_err(|e| PlanError::Format {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
    }

    /// Writes the plan file (readable by its owner only).
    pub fn write(&self, path: &Path) -> Result<(), PlanError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| PlanError::Format {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io(path))?;
        file.write_all(format!("{text}\n").as_bytes())
            .map_err(io(path))
    }

    /// Whether this plan can be applied with `inputs` and `key`: the reason if not.
    pub fn check(&self, key: &Key, inputs: &Inputs) -> Result<(), PlanError> {
        if self.key_id != key.id() {
            return Err(PlanError::Stale(format!(
                "this plan was made with another fingerprint key: set {KEY_ENV} (or .tend/plan.key next to the playbook) to the key `tend plan` used"
            )));
        }
        let mut changed = Vec::new();
        if self.inputs.playbook_hash != inputs.playbook_hash {
            changed.push("the playbooks (or their templates, files, roles or vars)");
        }
        if self.inputs.inventory_hash != inputs.inventory_hash {
            changed.push("the inventory");
        }
        if self.inputs.vars_hash != inputs.vars_hash {
            changed.push(if self.options.extra_vars {
                "the variables (give `tend apply` the same -e/--extra-vars as `tend plan`)"
            } else {
                "the variables or connection options"
            });
        }
        if changed.is_empty() {
            return Ok(());
        }
        Err(PlanError::Stale(format!(
            "the plan is out of date: {} changed since it was made; make a new plan with `tend plan --out`",
            changed.join(", ")
        )))
    }
}

/// Every file a playbook is made of: its compiled sources, and the trees
/// beside it that tasks read at run time.
fn playbook_files(book: &CompiledPlaybook) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let add_task = |t: &CompiledTask, out: &mut BTreeMap<PathBuf, Vec<u8>>| {
        let f = &t.task.span.file;
        out.entry(f.path.clone())
            .or_insert_with(|| f.text.clone().into_bytes());
    };
    for play in &book.plays {
        let f = &play.play.span.file;
        out.entry(f.path.clone())
            .or_insert_with(|| f.text.clone().into_bytes());
        for step in play
            .pre_tasks
            .iter()
            .chain(&play.tasks)
            .chain(&play.post_tasks)
        {
            for t in CompiledStep::tasks(step) {
                add_task(t, &mut out);
            }
        }
        for h in &play.handlers {
            add_task(h, &mut out);
        }
        for (_, step) in &play.handler_includes {
            for t in CompiledStep::tasks(step) {
                add_task(t, &mut out);
            }
        }
    }
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.insert(p, bytes);
            }
        }
    }
    for sub in [
        "templates",
        "files",
        "vars",
        "roles",
        "group_vars",
        "host_vars",
    ] {
        walk(&book.dir.join(sub), &mut out);
    }
    out
}

/// The hashes of what a plan is made from.
pub fn inputs(
    key: &Key,
    books: &[CompiledPlaybook],
    playbooks: &[String],
    inventory_sources: &[String],
    inventory: &crate::inventory::Inventory,
    extra_vars: &crate::vars::Vars,
    connection: &BTreeMap<String, serde_json::Value>,
) -> Inputs {
    let mut files: Vec<Vec<u8>> = Vec::new();
    for book in books {
        for (path, bytes) in playbook_files(book) {
            files.push(path.display().to_string().into_bytes());
            files.push(bytes);
        }
    }
    let parts: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    let playbook_hash = key.mac(&parts);
    let mut hosts = inventory.select("all").unwrap_or_default();
    hosts.sort();
    let mut inv = vec![inventory.to_list_json().to_string().into_bytes()];
    for h in &hosts {
        inv.push(h.clone().into_bytes());
        inv.push(
            serde_json::Value::Object(inventory.host_vars(h))
                .to_string()
                .into_bytes(),
        );
    }
    let parts: Vec<&[u8]> = inv.iter().map(Vec::as_slice).collect();
    let inventory_hash = key.mac(&parts);
    let vars = serde_json::Value::Object(extra_vars.clone()).to_string();
    let conn = serde_json::to_string(connection).unwrap_or_default();
    let vars_hash = key.mac(&[vars.as_bytes(), conn.as_bytes()]);
    Inputs {
        playbooks: playbooks.to_vec(),
        inventory: inventory_sources.to_vec(),
        playbook_hash,
        inventory_hash,
        vars_hash,
    }
}

/// Compares a fresh check-mode run's records with a saved plan's: for each
/// host whose run differs (its state drifted, its planned changes differ, or
/// it takes another path through the playbook), why, at its first such task.
pub fn compare(
    saved: &BTreeMap<String, Vec<TaskRecord>>,
    fresh: &BTreeMap<String, Vec<TaskRecord>>,
) -> BTreeMap<String, String> {
    let none = Vec::new();
    let mut out = BTreeMap::new();
    let hosts: std::collections::BTreeSet<&String> = saved.keys().chain(fresh.keys()).collect();
    for host in hosts {
        // A host that ran no task now (unreachable) is left to the apply to report.
        let Some(now) = fresh.get(host) else {
            continue;
        };
        let was = saved.get(host).unwrap_or(&none);
        for i in 0..was.len().max(now.len()) {
            let (a, b) = (was.get(i), now.get(i));
            let why = match (a, b) {
                (Some(a), Some(b)) if a.location != b.location || a.occurrence != b.occurrence => {
                    "the run takes another path than the plan"
                }
                (Some(a), Some(b)) if a.fingerprints != b.fingerprints => {
                    "the probed state differs"
                }
                (Some(a), Some(b)) if a.action != b.action || a.diff != b.diff => {
                    "the planned change differs"
                }
                (Some(_), Some(_)) => continue,
                (None, _) | (_, None) => "the run takes another path than the plan",
            };
            let Some(task) = b.or(a) else {
                continue;
            };
            let now = match b {
                Some(b) if !b.diff.is_empty() => format!("{}\n{}", b.action, b.diff.join("")),
                Some(b) => b.action.clone(),
                None => "nothing (the task no longer runs here)".into(),
            };
            out.insert(
                host.clone(),
                format!(
                    "drift: {why} on {host} at task '{}' ({}): the state changed since the plan was made, so nothing is applied on this host; make a new plan or apply with --replan; it now plans: {now}",
                    task.task, task.location
                ),
            );
            break;
        }
    }
    out
}

/// What a run does with the plan.
#[derive(Debug)]
pub enum Mode {
    /// `tend plan --out`: record.
    Record,
    /// `tend apply`: compare with this plan (unless `replan`) and verify changes.
    Apply {
        /// The saved plan's tasks per host.
        hosts: BTreeMap<String, Vec<TaskRecord>>,
        /// `--replan`: apply what the probes say now.
        replan: bool,
    },
}

/// One probe seen by the observer.
#[derive(Debug, Clone)]
struct Observation {
    fingerprint: String,
    action: Action,
}

/// A task run on a host whose result is not reported yet.
#[derive(Debug, Default)]
struct Pending {
    location: String,
    occurrence: u32,
    observations: Vec<Observation>,
}

#[derive(Debug, Default)]
struct Inner {
    occurrences: HashMap<(String, String), u32>,
    pending: HashMap<String, Pending>,
    /// The host's last recorded task (location, occurrence): loop items merge into it.
    last: HashMap<String, (String, u32)>,
    records: BTreeMap<String, Vec<TaskRecord>>,
    /// Hosts on which the apply changed something already.
    changed: HashSet<String>,
    /// Hosts refused as drifted.
    drifted: BTreeMap<String, String>,
    /// The task being reported: name, location, handler.
    current: Option<(String, String, bool)>,
}

/// The saved-plan state of one run (`RunOptions::plan`).
#[derive(Debug)]
pub struct Session {
    key: Key,
    mode: Mode,
    inner: Mutex<Inner>,
}

impl Session {
    /// A session for a plan or apply run.
    pub fn new(key: Key, mode: Mode) -> Arc<Session> {
        Arc::new(Session {
            key,
            mode,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What this run recorded, per host.
    pub fn records(&self) -> BTreeMap<String, Vec<TaskRecord>> {
        self.lock().records.clone()
    }

    /// Hosts refused as drifted, with the message.
    pub fn drifted(&self) -> BTreeMap<String, String> {
        self.lock().drifted.clone()
    }

    /// The plan file for what this run recorded.
    pub fn plan_file(&self, inputs: Inputs, options: PlanOptions) -> PlanFile {
        let hosts = self.records();
        let mut summary = Summary {
            hosts: hosts.len(),
            ..Summary::default()
        };
        for r in hosts.values().flatten() {
            let slot = match r.action.as_str() {
                "create" => &mut summary.create,
                "update" => &mut summary.update,
                "delete" => &mut summary.delete,
                "run" => &mut summary.run,
                "unknown" => &mut summary.unknown,
                _ => continue,
            };
            *slot += 1;
            summary.changes += 1;
        }
        PlanFile {
            format_version: FORMAT_VERSION,
            tend_version: env!("CARGO_PKG_VERSION").to_string(),
            key_id: self.key.id(),
            inputs,
            options,
            summary,
            hosts,
        }
    }

    /// The observer for `host` running `t` (its next occurrence there).
    fn observer(self: &Arc<Self>, host: &str, t: &CompiledTask) -> Arc<HostObserver> {
        let location = t.task.span.location();
        let mut inner = self.lock();
        let n = inner
            .occurrences
            .entry((host.to_string(), location.clone()))
            .or_insert(0);
        let occurrence = *n;
        *n += 1;
        inner.pending.insert(
            host.to_string(),
            Pending {
                location: location.clone(),
                occurrence,
                observations: Vec::new(),
            },
        );
        Arc::new(HostObserver {
            session: Arc::clone(self),
            host: host.to_string(),
            name: redact::text(&t.display_name()).into_owned(),
            location,
            occurrence,
            seen: Mutex::new(0),
        })
    }
}

tokio::task_local! {
    static CURRENT: Arc<HostObserver>;
}

/// Runs `fut` (one task on one host) with its converge observer, if a saved
/// plan is being made or applied.
pub async fn observing<F: std::future::Future>(
    session: Option<&Arc<Session>>,
    host: &str,
    t: &CompiledTask,
    fut: F,
) -> F::Output {
    match session {
        None => fut.await,
        Some(s) => CURRENT.scope(s.observer(host, t), fut).await,
    }
}

/// The observer of the task running now (for [`tend_modules::Host::observer`]).
pub fn current_observer() -> Option<Arc<dyn ConvergeObserver>> {
    CURRENT
        .try_with(|o| Arc::clone(o) as Arc<dyn ConvergeObserver>)
        .ok()
}

/// Watches one task on one host.
struct HostObserver {
    session: Arc<Session>,
    host: String,
    name: String,
    location: String,
    occurrence: u32,
    /// How many probes it saw so far.
    seen: Mutex<usize>,
}

impl HostObserver {
    fn drift(&self, plan: &Plan, why: &str) -> ModuleError {
        let diffs: Vec<String> = plan
            .diff
            .iter()
            .map(|d| unified_diff(&redact::diff(d)))
            .collect();
        let now = if diffs.is_empty() {
            format!("it now plans: {}", action_name(plan.action))
        } else {
            format!(
                "it now plans: {}\n{}",
                action_name(plan.action),
                diffs.join("")
            )
        };
        let msg = format!(
            "drift: {why} on {} at task '{}' ({}): the state changed since the plan was made, so this host stops here; make a new plan or apply with --replan; {now}",
            self.host, self.name, self.location
        );
        self.session
            .lock()
            .drifted
            .entry(self.host.clone())
            .or_insert_with(|| msg.clone());
        ModuleError::failed(msg).with("drifted", true)
    }
}

impl ConvergeObserver for HostObserver {
    fn planned(&self, probe: &ExecOutput, plan: &Plan) -> Result<(), ModuleError> {
        let fingerprint = self.session.key.mac(&[&stable_probe_output(probe)]);
        let k = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            *seen += 1;
            *seen - 1
        };
        {
            let mut inner = self.session.lock();
            if let Some(p) = inner.pending.get_mut(&self.host) {
                p.observations.push(Observation {
                    fingerprint: fingerprint.clone(),
                    action: plan.action,
                });
            }
        }
        let Mode::Apply { hosts, replan } = &self.session.mode else {
            return Ok(());
        };
        let already_changed = self.session.lock().changed.contains(&self.host);
        if !*replan && !already_changed {
            let planned = hosts.get(&self.host).and_then(|tasks| {
                tasks
                    .iter()
                    .find(|r| r.location == self.location && r.occurrence == self.occurrence)
            });
            match planned {
                None => return Err(self.drift(plan, "a task the plan did not run")),
                Some(r) if r.fingerprints.get(k) != Some(&fingerprint) => {
                    return Err(self.drift(plan, "the probed state differs"));
                }
                Some(_) => {}
            }
        }
        if plan.action.changes() {
            self.session.lock().changed.insert(self.host.clone());
        }
        Ok(())
    }

    fn verify_applied(&self) -> bool {
        matches!(self.session.mode, Mode::Apply { .. })
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::NoOp => "ok",
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Run => "run",
    }
}

fn rank(action: &str) -> u8 {
    match action {
        "skip" => 0,
        "ok" => 1,
        "create" => 2,
        "update" => 3,
        "delete" => 4,
        "run" => 5,
        _ => 6,
    }
}

/// Records each host's tasks from the event stream (after `no_log`
/// censoring and secret masking) and the observations of their probes.
pub struct Recorder {
    session: Arc<Session>,
}

impl Recorder {
    /// A reporter feeding `session`.
    pub fn new(session: Arc<Session>) -> Self {
        Recorder { session }
    }
}

impl Reporter for Recorder {
    fn play_start(&mut self, _name: &str) {}

    fn task_start(&mut self, task: &TaskInfo<'_>) {
        let mut inner = self.session.lock();
        inner.current = task.span.map(|_| {
            (
                redact::text(task.name).into_owned(),
                task.location(),
                task.handler,
            )
        });
    }

    fn host_result(&mut self, r: &HostResult<'_>) {
        let mut guard = self.session.lock();
        let inner = &mut *guard;
        if r.status == Status::Changed {
            inner.changed.insert(r.host.to_string());
        }
        let Some((name, location, handler)) = inner.current.clone() else {
            return;
        };
        let pending = inner.pending.remove(r.host);
        let (occurrence, observations) = match pending {
            Some(p) if p.location == location => (p.occurrence, p.observations),
            Some(p) => {
                inner.pending.insert(r.host.to_string(), p);
                return;
            }
            // A later loop item (or the loop's summary) of the task just recorded.
            None => match inner.last.get(r.host) {
                Some((l, o)) if *l == location => (*o, Vec::new()),
                _ => return,
            },
        };
        let skipped_by_when = r.skipped_by_when || r.is_loop_summary;
        let mut action = observations
            .iter()
            .map(|o| action_name(o.action))
            .max_by_key(|a| rank(a))
            .unwrap_or(match r.status {
                Status::Changed => "run",
                Status::Ok => "ok",
                Status::Skipped if skipped_by_when => "skip",
                Status::Skipped => "run",
                _ => "unknown",
            });
        if matches!(
            r.status,
            Status::Failed | Status::Ignored | Status::Unreachable
        ) {
            action = "unknown";
        }
        let records = inner.records.entry(r.host.to_string()).or_default();
        // A skip or a failure after a command whose output was registered
        // may well be the missing output's doing.
        if matches!(action, "skip") && records.iter().any(|t| t.action == "run") {
            action = "unknown";
        }
        let diffs: Vec<String> = r.diffs.iter().map(unified_diff).collect();
        match records
            .iter_mut()
            .find(|t| t.location == location && t.occurrence == occurrence)
        {
            Some(t) => {
                if rank(action) > rank(&t.action) {
                    t.action = action.to_string();
                }
                t.fingerprints
                    .extend(observations.iter().map(|o| o.fingerprint.clone()));
                t.diff.extend(diffs);
            }
            None => records.push(TaskRecord {
                task: name,
                location: location.clone(),
                occurrence,
                handler,
                action: action.to_string(),
                fingerprints: observations.into_iter().map(|o| o.fingerprint).collect(),
                diff: diffs,
                no_log: r.no_log,
            }),
        }
        inner
            .last
            .insert(r.host.to_string(), (location, occurrence));
    }

    fn warning(&mut self, _message: &str) {}

    fn recap(&mut self, _recap: &Recap) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(location: &str, action: &str, fp: &str) -> TaskRecord {
        TaskRecord {
            task: format!("task at {location}"),
            location: location.into(),
            occurrence: 0,
            handler: false,
            action: action.into(),
            fingerprints: vec![fp.into()],
            diff: vec![format!("-{fp}\n")],
            no_log: false,
        }
    }

    #[test]
    fn compare_names_the_first_task_that_differs() {
        let plan = |fp2: &str| {
            BTreeMap::from([
                (
                    "a".to_string(),
                    vec![rec("x:1:1", "ok", "f1"), rec("x:2:1", "update", fp2)],
                ),
                ("b".to_string(), vec![rec("x:1:1", "ok", "f1")]),
            ])
        };
        assert!(compare(&plan("f2"), &plan("f2")).is_empty());
        let drift = compare(&plan("f2"), &plan("g2"));
        assert_eq!(drift.keys().collect::<Vec<_>>(), ["a"]);
        assert!(
            drift["a"].contains("the probed state differs on a at task 'task at x:2:1' (x:2:1)")
        );
        assert!(drift["a"].contains("update\n-g2"), "{}", drift["a"]);
        let mut shorter = plan("f2");
        shorter
            .get_mut("b")
            .unwrap()
            .push(rec("x:3:1", "create", "f3"));
        let drift = compare(&plan("f2"), &shorter);
        assert!(drift["b"].contains("another path"), "{}", drift["b"]);
    }

    #[test]
    fn hmac_matches_rfc4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than a block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn keys_differ_and_ids_do_not_give_the_key_away() {
        let a = Key::from_text("one");
        let b = Key::from_text("two");
        assert_ne!(a.mac(&[b"x"]), b.mac(&[b"x"]));
        assert_ne!(a.id(), b.id());
        assert_eq!(a.mac(&[b"ab", b"c"]), a.mac(&[b"ab", b"c"]));
        assert_ne!(a.mac(&[b"ab", b"c"]), a.mac(&[b"a", b"bc"]));
        assert!(!format!("{a:?}").contains("one"));
    }

    #[test]
    fn a_new_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // SAFETY of the test: it only runs without TEND_PLAN_KEY set.
        if std::env::var_os(KEY_ENV).is_some() {
            return;
        }
        let k1 = Key::load(dir.path()).unwrap();
        let path = dir.path().join(".tend/plan.key");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let k2 = Key::load(dir.path()).unwrap();
        assert_eq!(k1.id(), k2.id());
    }
}
