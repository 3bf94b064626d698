//! The compiler: playbook AST → typed plan, with every error found up front.
//!
//! Nothing here contacts a host. Checks: YAML syntax, keywords, module
//! names ("did you mean"), module arguments (unknown, missing, ill-typed,
//! mutually exclusive), Jinja syntax of every string and template file,
//! `notify` naming a handler, and local `src` files that must exist.

pub mod actions;
pub mod undefined_vars;

use crate::diagnostic::Diagnostic;
use crate::playbook::{self, Located, Play, Playbook, Step, Task, kv};
use crate::template::{Templar, is_template};
use crate::vars::Vars;
use crate::yaml::{self, Kind, Node, Span};
use actions::Builtin;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tend_modules::{FreeForm, Module};

/// What a task runs.
#[derive(Clone, Copy)]
pub enum Action {
    /// A module that runs on the host.
    Module(&'static dyn Module),
    /// A controller-side action.
    Builtin(Builtin),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Module(m) => write!(f, "Module({})", m.name()),
            Action::Builtin(b) => write!(f, "Builtin({b:?})"),
        }
    }
}

/// A task ready to run.
#[derive(Debug, Clone)]
pub struct CompiledTask {
    /// The parsed task.
    pub task: Task,
    /// What it runs.
    pub action: Action,
    /// Its arguments, free-form text already split.
    pub args: Value,
    /// A template rendering to more arguments (`assert: "{{ item }}"`, `args: "{{ x }}"`).
    pub splat: Option<String>,
    /// An argument error found at compile time in a task that expects to
    /// fail (`ignore_errors`, `failed_when`): it fails when it runs, as in Ansible.
    pub deferred_error: Option<String>,
}

impl CompiledTask {
    /// The name shown in output: `name`, or the module name; a role's
    /// task as `role : name`, as Ansible shows it.
    pub fn display_name(&self) -> String {
        let name = self.task.name.as_ref().unwrap_or(&self.task.module.value);
        match &self.task.role {
            Some(r) => format!("{} : {name}", r.name),
            None => name.clone(),
        }
    }

    /// The names a handler answers to: `name` and `listen` topics, alone and
    /// prefixed by its role (see [`CompiledTask::handler_forms`]).
    pub fn handler_names(&self) -> Vec<String> {
        let mut names = self.handler_forms(self.own_name());
        names.extend(self.handler_forms(&self.task.listen));
        names
    }

    /// The name a handler answers to by name (none for the tasks of an
    /// `include_tasks` handler).
    fn own_name(&self) -> &[String] {
        if self.task.listen_only {
            &[]
        } else {
            self.task.name.as_slice()
        }
    }

    /// `names` as notifications may spell them: alone and prefixed by the
    /// handler's role (`role : name`; a collection's role by its short name
    /// and its full `ns.col.role` name).
    pub fn handler_forms(&self, names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = names.to_vec();
        if let Some(r) = &self.task.role {
            let mut prefixes = vec![r.name.as_str()];
            if r.short_name() != r.name {
                prefixes.push(r.short_name());
            }
            for p in prefixes {
                out.extend(names.iter().map(|n| format!("{p} : {n}")));
            }
        }
        out
    }
}

/// Which of `handlers` the notifications trigger, as Ansible resolves them:
/// a notification naming a handler triggers the first one of that name
/// only; one naming a `listen` topic triggers every handler listening to
/// it, once per handler name.
pub fn triggered_handlers<'a>(
    handlers: &[CompiledTask],
    notified: impl IntoIterator<Item = &'a str>,
) -> Vec<bool> {
    let mut on = vec![false; handlers.len()];
    for n in notified {
        if let Some(i) = handlers
            .iter()
            .position(|h| h.handler_forms(h.own_name()).iter().any(|f| f == n))
        {
            on[i] = true;
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, h) in handlers.iter().enumerate() {
            if !h.handler_forms(&h.task.listen).iter().any(|f| f == n) {
                continue;
            }
            // (The tasks of an `include_tasks` handler all run.)
            if let Some(name) = h.task.name.as_deref().filter(|_| !h.task.listen_only) {
                if seen.contains(&name) {
                    continue;
                }
                seen.push(name);
            }
            on[i] = true;
        }
    }
    on
}

/// A task or a block, ready to run.
#[derive(Debug, Clone)]
pub enum CompiledStep {
    /// One task.
    Task(CompiledTask),
    /// A block.
    Block(CompiledBlock),
    /// `include_tasks`: its file's steps, run where its `when`/loop say.
    Include(CompiledInclude),
}

/// An `include_tasks`, compiled (its file was checked at compile time).
#[derive(Debug, Clone)]
pub struct CompiledInclude {
    /// The include's keywords (`when`, loop, `vars`, `tags`).
    pub task: CompiledTask,
    /// The included file, as written.
    pub file: String,
    /// Its steps.
    pub steps: Vec<CompiledStep>,
    /// A name templated per host: the file is read and compiled when the
    /// include runs ([`compile_deferred`]); `steps` is empty.
    pub deferred: Option<Box<playbook::Deferred>>,
    /// An `include_role`: what running it leaves on a host.
    pub role: Option<std::sync::Arc<playbook::IncludedRole>>,
}

/// A block ready to run.
#[derive(Debug, Clone)]
pub struct CompiledBlock {
    /// `name`.
    pub name: Option<String>,
    /// `block`.
    pub block: Vec<CompiledStep>,
    /// `rescue`.
    pub rescue: Vec<CompiledStep>,
    /// `always`.
    pub always: Vec<CompiledStep>,
    /// Hosts where an `include_role` ran this role instance skip the block
    /// (see [`playbook::Block::unless_role_ran`]).
    pub unless_role_ran: Option<String>,
}

impl CompiledStep {
    /// Every task inside, in order.
    pub fn tasks(&self) -> Vec<&CompiledTask> {
        match self {
            CompiledStep::Task(t) => vec![t],
            CompiledStep::Block(b) => b
                .block
                .iter()
                .chain(&b.rescue)
                .chain(&b.always)
                .flat_map(CompiledStep::tasks)
                .collect(),
            CompiledStep::Include(i) => i.steps.iter().flat_map(CompiledStep::tasks).collect(),
        }
    }
}

/// A play ready to run.
#[derive(Debug, Clone)]
pub struct CompiledPlay {
    /// The parsed play (keywords).
    pub play: Play,
    /// `pre_tasks`.
    pub pre_tasks: Vec<CompiledStep>,
    /// `tasks`.
    pub tasks: Vec<CompiledStep>,
    /// `post_tasks`.
    pub post_tasks: Vec<CompiledStep>,
    /// `handlers` (blocks flattened).
    pub handlers: Vec<CompiledTask>,
    /// Handlers that are a looping or per-host `include_tasks` (by index
    /// into `handlers`, which holds the include's keywords): the include
    /// runs when the handler does.
    pub handler_includes: Vec<(usize, CompiledStep)>,
    /// The `when` of the `import_playbook` that brought the play in, as a
    /// task: fact gathering runs only on the hosts for which it holds.
    pub gather_guard: Option<CompiledTask>,
}

/// A compiled playbook.
#[derive(Debug, Clone)]
pub struct CompiledPlaybook {
    /// The playbook file.
    pub path: PathBuf,
    /// Its directory (`playbook_dir`; `files/`, `templates/` are searched here).
    pub dir: PathBuf,
    /// The plays.
    pub plays: Vec<CompiledPlay>,
    /// Warnings found while compiling.
    pub warnings: Vec<Diagnostic>,
}

/// The tags of `wanted` (`--tags`) that no play, role, block, include or
/// task of `books` carries, special tags aside: they select nothing. Empty
/// when the playbooks' tags are known only at run time (a templated tag, an
/// include whose file is named per host).
pub fn unknown_tags(books: &[CompiledPlaybook], wanted: &[String]) -> Vec<String> {
    const SPECIAL: &[&str] = &["all", "always", "never", "tagged", "untagged"];
    let mut known: std::collections::HashSet<&str> = Default::default();
    for play in books.iter().flat_map(|b| &b.plays) {
        known.extend(play.play.tags.iter().map(String::as_str));
        known.extend(
            play.handlers
                .iter()
                .flat_map(|h| h.task.tags.iter().map(String::as_str)),
        );
        let steps = play
            .pre_tasks
            .iter()
            .chain(&play.tasks)
            .chain(&play.post_tasks)
            .chain(play.handler_includes.iter().map(|(_, s)| s));
        for step in steps {
            if !step_tags(step, &mut known) {
                return Vec::new();
            }
        }
    }
    if known.iter().any(|t| crate::template::is_template(t)) {
        return Vec::new();
    }
    wanted
        .iter()
        .filter(|t| !SPECIAL.contains(&t.as_str()) && !known.contains(t.as_str()))
        .cloned()
        .collect()
}

/// Adds the tags of `step` and of everything in it to `known`; false when
/// they are known only at run time (an include whose file is named per host).
fn step_tags<'a>(step: &'a CompiledStep, known: &mut std::collections::HashSet<&'a str>) -> bool {
    let (own, inner): (&[String], Vec<&CompiledStep>) = match step {
        CompiledStep::Task(t) => (&t.task.tags, Vec::new()),
        CompiledStep::Block(b) => (
            &[],
            b.block.iter().chain(&b.rescue).chain(&b.always).collect(),
        ),
        CompiledStep::Include(i) if i.deferred.is_some() => return false,
        CompiledStep::Include(i) => (&i.task.task.tags, i.steps.iter().collect()),
    };
    known.extend(own.iter().map(String::as_str));
    inner.into_iter().all(|s| step_tags(s, known))
}

/// Reads and compiles a deferred include for one host (see
/// [`playbook::Deferred`]): `render` templates its names with the host's
/// variables, `role` is the role it was written in, `dir` the playbook's
/// directory. Returns the included file as shown (empty for a role) and the
/// compiled steps, or every diagnostic found.
pub fn compile_deferred(
    deferred: &playbook::Deferred,
    role: Option<&std::sync::Arc<playbook::RoleInfo>>,
    dir: &Path,
    templar: &Templar,
    render: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<CompiledDeferred, Vec<Diagnostic>> {
    let (file, steps, included) = playbook::parse::load_deferred(deferred, role, render)?;
    let mut diags = Vec::new();
    let compiled = Ctx::new(dir, templar).steps(&steps, &mut diags);
    if diags
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error)
    {
        return Err(diags);
    }
    Ok((file, compiled, included))
}

/// Hosts that run a deferred include alike: the file as shown, its steps,
/// which hosts, and for `include_role` what running it leaves.
pub type DeferredGroup = (
    String,
    Vec<CompiledStep>,
    Vec<bool>,
    Option<std::sync::Arc<playbook::IncludedRole>>,
);

/// A deferred include compiled for a host (see [`playbook::parse::LoadedInclude`]).
pub type CompiledDeferred = (
    String,
    Vec<CompiledStep>,
    Option<std::sync::Arc<playbook::IncludedRole>>,
);

/// Compiles a playbook file. On failure, returns every diagnostic found.
pub fn compile_file(path: &Path, templar: &Templar) -> Result<CompiledPlaybook, Vec<Diagnostic>> {
    compile_file_with(path, templar, &Vars::new())
}

/// [`compile_file`] with the run's extra variables (`-e`), which templated
/// import names may use, as in Ansible.
pub fn compile_file_with(
    path: &Path,
    templar: &Templar,
    extra_vars: &Vars,
) -> Result<CompiledPlaybook, Vec<Diagnostic>> {
    let (_, docs) = yaml::load(path).map_err(|d| vec![*d])?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    compile_docs(path, dir, &docs, templar, extra_vars)
}

/// Compiles a playbook held in memory (an ad-hoc command's one-task play):
/// `name` stands for its file in positions, `dir` is where relative paths
/// (`files/`, `templates/`) are looked up.
pub fn compile_source(
    name: &str,
    text: &str,
    dir: PathBuf,
    templar: &Templar,
) -> Result<CompiledPlaybook, Vec<Diagnostic>> {
    let docs = yaml::parse_str(name, text).map_err(|d| vec![*d])?;
    compile_docs(Path::new(name), dir, &docs, templar, &Vars::new())
}

fn compile_docs(
    path: &Path,
    dir: PathBuf,
    docs: &[yaml::Node],
    templar: &Templar,
    extra_vars: &Vars,
) -> Result<CompiledPlaybook, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut cx = playbook::Cx::new(&mut diags, dir.clone());
    cx.extra_vars = extra_vars.clone();
    let book = playbook::parse_playbook_file(path, docs, &mut cx);
    let compiled = compile(book, &dir, templar, extra_vars, &mut diags);
    if diags
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error)
    {
        return Err(diags);
    }
    Ok(CompiledPlaybook {
        path: path.to_path_buf(),
        dir,
        plays: compiled,
        warnings: diags,
    })
}

fn compile(
    book: Playbook,
    dir: &Path,
    templar: &Templar,
    extra_vars: &Vars,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CompiledPlay> {
    let mut plays = Vec::new();
    let ctx = Ctx::new(dir, templar);
    for play in book.plays {
        ctx.play_on_controller
            .set(targets_controller(&play.hosts.value));
        check_string(&play.hosts.value, &play.hosts.span, templar, diags);
        for vf in play.vars_files.iter().flatten() {
            check_string(&vf.value, &vf.span, templar, diags);
        }
        let handler_list: Vec<(Task, Option<Step>)> =
            play.handlers.iter().flat_map(handler_tasks).collect();
        let mut handlers: Vec<CompiledTask> = Vec::new();
        let mut handler_includes = Vec::new();
        for (t, include) in &handler_list {
            let Some(c) = ctx.task(t, diags) else {
                continue;
            };
            if let Some(step) = include
                && let Some(compiled) = ctx.steps(std::slice::from_ref(step), diags).pop()
            {
                handler_includes.push((handlers.len(), compiled));
            }
            handlers.push(c);
        }
        for h in &mut handlers {
            template_handler_name(h, &play, extra_vars, templar, diags);
        }
        let mut handler_names: Vec<String> = Vec::new();
        for h in &handlers {
            handler_names.extend(h.handler_names());
        }
        // What a notification may name that is decided only when it runs:
        // the tasks of an included handler file (not handlers themselves:
        // notifying one fails then, as in Ansible), and anything at all when
        // a handler's file or name is known only at run time (a per-host
        // include, a name whose template cannot be rendered up front).
        let notify_scope = NotifyScope {
            handlers: handler_names,
            included_tasks: handlers
                .iter()
                .filter(|h| h.task.listen_only)
                .chain(handler_includes.iter().flat_map(|(_, s)| s.tasks()))
                .filter_map(|h| h.task.name.clone())
                .collect(),
            open: handler_includes.iter().any(|(_, s)| has_deferred(s))
                || handlers
                    .iter()
                    .any(|h| h.task.listen_only && h.task.name.as_deref().is_some_and(is_template)),
        };
        let pre_tasks = ctx.steps(&play.pre_tasks, diags);
        let tasks = ctx.steps(&play.tasks, diags);
        let post_tasks = ctx.steps(&play.post_tasks, diags);
        for task in pre_tasks
            .iter()
            .chain(&tasks)
            .chain(&post_tasks)
            .flat_map(CompiledStep::tasks)
            .chain(&handlers)
        {
            check_notify(task, &notify_scope, diags);
            check_host_loop(&play, task, diags);
        }
        let gather_guard = play.import_when.as_ref().and_then(|t| ctx.task(t, diags));
        plays.push(CompiledPlay {
            handler_includes,
            gather_guard,
            play,
            pre_tasks,
            tasks,
            post_tasks,
            handlers,
        });
    }
    plays
}

/// The handlers a handlers section's step stands for. An `include_tasks`
/// handler is one handler (its keywords) that runs the include (the step
/// beside it) when notified: its file's tasks are not handlers themselves.
fn handler_tasks(step: &Step) -> Vec<(Task, Option<Step>)> {
    match step {
        Step::Task(t) => vec![(t.clone(), None)],
        Step::Block(b) => b
            .block
            .iter()
            .chain(&b.rescue)
            .chain(&b.always)
            .flat_map(handler_tasks)
            .collect(),
        // As Ansible, an include runs as one: its header and `included:`,
        // counted, its tasks as handlers.
        Step::Include(i) => vec![(i.task.clone(), Some(step.clone()))],
    }
}

/// Whether a step holds an include whose file is known only at run time.
fn has_deferred(step: &CompiledStep) -> bool {
    match step {
        CompiledStep::Task(_) => false,
        CompiledStep::Block(b) => b
            .block
            .iter()
            .chain(&b.rescue)
            .chain(&b.always)
            .any(has_deferred),
        CompiledStep::Include(i) => i.deferred.is_some() || i.steps.iter().any(has_deferred),
    }
}

/// As Ansible: an action that bypasses the host loop (`add_host`, `pause`)
/// cannot run under the free strategies.
fn check_host_loop(play: &Play, task: &CompiledTask, diags: &mut Vec<Diagnostic>) {
    let free = play
        .strategy
        .as_ref()
        .is_some_and(|s| matches!(s.value.as_str(), "free" | "host_pinned"));
    if free
        && let Action::Builtin(b) = task.action
        && b.bypasses_host_loop()
    {
        diags.push(
            Diagnostic::error(format!(
                "The '{}' module bypasses the host loop, which is currently not supported in the free strategy and would instead execute for every host in the inventory list.",
                task.task.module.value
            ))
            .at(task.task.module.span.clone()),
        );
    }
}

/// A templated handler name is rendered with the play's `vars` and extra
/// vars, as Ansible renders it (no host's variables). One that cannot be
/// rendered answers to its `listen` topics only, with Ansible's warning.
fn template_handler_name(
    h: &mut CompiledTask,
    play: &Play,
    extra_vars: &Vars,
    templar: &Templar,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(name) = h.task.name.clone().filter(|n| is_template(n)) else {
        return;
    };
    if h.task.listen_only {
        return;
    }
    let scope = crate::template::Scope::new(vec![&play.vars, extra_vars]);
    match templar.render_string(&name, &scope) {
        Ok(Value::String(text)) => h.task.name = Some(text),
        Ok(other) => h.task.name = Some(other.to_string()),
        Err(e) => {
            h.task.listen_only = true;
            if h.task.listen.is_empty() {
                diags.push(
                    Diagnostic::warning(format!(
                        "Handler '{name}' is unusable because it has no listen topics and the name could not be templated (host-specific variables are not supported in handler names). The error: {}",
                        e.message
                    ))
                    .at(h.task.span.clone()),
                );
            }
        }
    }
}

/// A notification no handler answers to: a warning here, and as in Ansible
/// an error that ends the run when a task actually notifies it (a task that
/// never runs, by its tags say, may name one).
/// The names a play's notifications are checked against.
struct NotifyScope {
    /// Every name and `listen` topic of the play's handlers.
    handlers: Vec<String>,
    /// Names of tasks of included handler files.
    included_tasks: Vec<String>,
    /// Some handler is included from a file known only at run time.
    open: bool,
}

/// A notification naming no handler is an error, found before any host is
/// contacted; a warning where only the run can tell (see [`NotifyScope`]):
/// then it fails when a task sends it, as in Ansible.
fn check_notify(task: &CompiledTask, scope: &NotifyScope, diags: &mut Vec<Diagnostic>) {
    for n in &task.task.notify {
        if is_template(&n.value) || scope.handlers.iter().any(|h| h == &n.value) {
            continue;
        }
        let message = format!(
            "the task notifies `{}`, but this play has no handler with that name or `listen` topic",
            n.value
        );
        let mut d = if scope.open || scope.included_tasks.contains(&n.value) {
            Diagnostic::warning(message)
        } else {
            Diagnostic::error(message)
        }
        .at(n.span.clone());
        if let Some(s) =
            playbook::parse::suggest(&n.value, scope.handlers.iter().map(String::as_str))
        {
            d = d.label(format!("did you mean `{s}`?"));
        } else {
            d = d.label("no such handler");
        }
        diags.push(d);
    }
}

struct Ctx<'a> {
    dir: &'a Path,
    templar: &'a Templar,
    /// The tasks compiled so far that may write files on the controller.
    producers: std::cell::RefCell<Vec<Producer>>,
    /// The current play targets the controller itself (`hosts: localhost`).
    play_on_controller: std::cell::Cell<bool>,
}

impl<'a> Ctx<'a> {
    fn new(dir: &'a Path, templar: &'a Templar) -> Self {
        Ctx {
            dir,
            templar,
            producers: Default::default(),
            play_on_controller: Default::default(),
        }
    }
}

/// An earlier task that may create files on the controller, for the
/// compile-time check of a controller-side `src` (a `src` that an earlier
/// task may create is looked for when the task runs, as Ansible does).
#[derive(Debug, Clone)]
struct Producer {
    /// Its arguments, as text.
    text: String,
    /// It runs on the controller (delegated, `hosts: localhost`, `fetch`),
    /// and what it writes is not known up front (a command, a templated path).
    opaque_on_controller: bool,
}

/// Actions that never write files.
const READ_ONLY_MODULES: &[&str] = &[
    "stat",
    "ping",
    "slurp",
    "find",
    "getent",
    "wait_for",
    "debug",
    "set_fact",
    "assert",
    "fail",
    "meta",
    "pause",
    "add_host",
    "group_by",
    "include_vars",
    "setup",
    "uri",
];

impl Producer {
    /// Whether this task may have created the controller file `src`: its
    /// arguments name the file (or its first directory), or it runs on the
    /// controller and writes where only the run knows.
    fn may_create(&self, src: &str) -> bool {
        let trimmed = src.trim_end_matches('/');
        let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
        let first = trimmed
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or(base);
        self.opaque_on_controller
            || (!base.is_empty() && self.text.contains(base))
            || (!first.is_empty()
                && self.text.contains(first)
                && first != base
                && !src.starts_with('/'))
    }
}

/// Directories of Python module and action plugins, beside a playbook or in a role.
const PLUGIN_DIRS: &[&str] = &["library", "action_plugins"];

/// Options a `RawParams` module (command, shell) takes as `k=v` in its free-form text.
const RAW_PARAM_KEYS: &[&str] = &[
    "chdir",
    "creates",
    "removes",
    "executable",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "warn",
    "expand_argument_vars",
];

impl Ctx<'_> {
    fn steps(&self, steps: &[Step], diags: &mut Vec<Diagnostic>) -> Vec<CompiledStep> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Task(t) => self.task(t, diags).map(CompiledStep::Task),
                Step::Include(inc) => Some(CompiledStep::Include(CompiledInclude {
                    task: self.task(&inc.task, diags)?,
                    file: inc.file.value.clone(),
                    steps: self.steps(&inc.steps, diags),
                    deferred: inc.deferred.clone(),
                    role: inc.role.clone(),
                })),
                Step::Block(b) => Some(CompiledStep::Block(CompiledBlock {
                    name: b.name.clone(),
                    block: self.steps(&b.block, diags),
                    rescue: self.steps(&b.rescue, diags),
                    always: self.steps(&b.always, diags),
                    unless_role_ran: b.unless_role_ran.clone(),
                })),
            })
            .collect()
    }

    fn task(&self, task: &Task, diags: &mut Vec<Diagnostic>) -> Option<CompiledTask> {
        let name = task.module.value.as_str();
        let action = match (Builtin::lookup(name), tend_modules::lookup(name)) {
            (Some(b), _) => Action::Builtin(b),
            // `action: "{{ ansible_facts.pkg_mgr }}"`: the module is known
            // only when the task runs (its arguments are checked then).
            (None, None) if is_template(name) => Action::Module(&tend_modules::registry::Templated),
            (None, Some(m)) => Action::Module(m),
            (None, None) if not_yet_supported(name) && task.when.is_some() => {
                // A condition may skip it (`when: ansible_os_family == 'RedHat'`):
                // it fails only if it runs.
                let msg = format!("module `{name}` is not supported yet");
                diags.push(
                    Diagnostic::warning(msg.clone())
                        .at(task.module.span.clone())
                        .label("an Ansible module tend does not implement yet: the task fails if its `when` lets it run"),
                );
                return Some(CompiledTask {
                    task: task.clone(),
                    action: Action::Module(&tend_modules::registry::Templated),
                    args: Value::Object(serde_json::Map::new()),
                    splat: None,
                    deferred_error: Some(msg),
                });
            }
            (None, None) if not_yet_supported(name) => {
                diags.push(
                    Diagnostic::error(format!("module `{name}` is not supported yet"))
                        .at(task.module.span.clone())
                        .label("an Ansible module tend does not implement yet")
                        .help("`tend doc --list` lists the modules tend supports"),
                );
                return None;
            }
            (None, None) if let Some(plugin) = self.python_plugin(task, name) => {
                diags.push(
                    Diagnostic::error(format!(
                        "module `{name}` is a Python plugin ({}): Python plugins are not supported",
                        plugin.display()
                    ))
                    .at(task.module.span.clone())
                    .label("a module or action plugin written in Python")
                    .help("tend runs its own modules only; `tend doc --list` lists them"),
                );
                return None;
            }
            (None, None) => {
                let candidates = tend_modules::names()
                    .chain(Builtin::NAMES.iter().copied())
                    .chain(playbook::parse::known_task_keywords().iter().copied());
                let mut d = Diagnostic::error(format!("couldn't resolve module/action `{name}`"))
                    .at(task.module.span.clone());
                d = match playbook::parse::suggest(
                    name.trim_start_matches("ansible.builtin."),
                    candidates,
                ) {
                    Some(s) => d.label(format!("did you mean `{s}`?")),
                    None => d.label("unknown module").help(format!(
                        "tend runs its own modules: a Python module from `library/`, a collection or a plugin is not usable (Python plugins are not supported). tend supports the modules: {}",
                        tend_modules::names()
                            .chain(Builtin::NAMES.iter().copied())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                if let Some(dir) = self.plugin_dirs(task).first() {
                    d = d.help(format!(
                        "{} holds Python plugins, which tend does not load: Python plugins are not supported",
                        dir.display()
                    ));
                }
                diags.push(d);
                self.check_strings(task, diags);
                return None;
            }
        };
        if matches!(action, Action::Builtin(Builtin::Setup))
            && task
                .delegate_facts
                .as_ref()
                .is_some_and(|v| !matches!(v, Value::Bool(false) | Value::Null))
        {
            diags.push(
                Diagnostic::error("`delegate_facts` on a `setup` task is not supported yet")
                    .at(task.module.span.clone())
                    .label("not supported yet")
                    .help(
                        "without `delegate_facts`, the delegated host's facts become this host's",
                    ),
            );
            return None;
        }
        let mut args = self.merge_free_form(task, action, diags)?;
        if is_template(name)
            && let Value::Object(m) = &mut args
        {
            m.insert(
                tend_modules::registry::TEMPLATED_NAME_KEY.into(),
                Value::String(name.to_string()),
            );
        }
        let splat = task.splat.clone().or_else(|| {
            task.free_form
                .clone()
                .filter(|f| is_splat(&f.value))
                .filter(|_| !takes_raw_params(action))
        });
        let check = match (&splat, action) {
            (Some(_), _) => Ok(()),
            (None, Action::Module(m)) => m.check(&crate::vault::markers_as_placeholders(&args)),
            (None, Action::Builtin(b)) => b.check(&crate::vault::markers_as_placeholders(&args)),
        };
        let mut ok = true;
        let mut deferred_error = None;
        if let Err(err) = check {
            let tolerant =
                task.ignore_errors.is_some() || task.failed_when.is_some() || task.rescued;
            let span = err
                .field
                .as_ref()
                .and_then(|f| {
                    task.arg_spans
                        .iter()
                        .find(|(k, _)| k == f)
                        .map(|(_, s)| s.clone())
                })
                .or_else(|| task.free_form.as_ref().map(|f| f.span.clone()))
                .unwrap_or_else(|| task.module.span.clone());
            if tolerant {
                diags.push(
                    Diagnostic::warning(format!("{name}: {}", err.message))
                        .at(span)
                        .label("this task expects failure (ignore_errors/failed_when/rescue): it will fail when it runs"),
                );
                deferred_error = Some(err.clone().at_run_time().message);
            } else {
                ok = false;
                diags.push(Diagnostic::error(format!("{name}: {}", err.message)).at(span));
            }
        }
        let before = diags.len();
        self.check_strings(task, diags);
        ok &= !diags[before..]
            .iter()
            .any(|d| d.severity == crate::diagnostic::Severity::Error);
        if let Action::Module(m) = action {
            match self.check_local_src(task, m, &args, diags) {
                Ok(src_ok) => ok &= src_ok,
                Err(missing) => {
                    let (missing, runtime_msg) = *missing;
                    // A task that expects failure fails when it runs, as Ansible's
                    // (which looks for `src` only then); any other is an error now.
                    let tolerant =
                        task.ignore_errors.is_some() || task.failed_when.is_some() || task.rescued;
                    if tolerant {
                        deferred_error.get_or_insert(runtime_msg);
                        diags.push(Diagnostic {
                        severity: crate::diagnostic::Severity::Warning,
                        label: Some("this task expects failure (ignore_errors/failed_when/rescue): it will fail when it runs".into()),
                        ..missing
                    });
                    } else {
                        diags.push(missing);
                        ok = false;
                    }
                }
            }
        }
        // A task that does not compile makes nothing.
        if ok {
            self.note_producer(task, action, &args);
        }
        ok.then(|| CompiledTask {
            task: task.clone(),
            action,
            args,
            splat: splat.map(|s| s.value),
            deferred_error,
        })
    }

    /// Where Ansible would look for module and action plugins of this task:
    /// `library/` and `action_plugins/` of its role and of the playbook.
    fn plugin_dirs(&self, task: &Task) -> Vec<PathBuf> {
        let roots = task.role.iter().map(|r| r.path.as_path()).chain([self.dir]);
        roots
            .flat_map(|root| PLUGIN_DIRS.iter().map(move |d| root.join(d)))
            .filter(|d| d.is_dir())
            .collect()
    }

    /// The Python file of a module or action plugin named like the task's
    /// action, if the playbook or role ships one.
    fn python_plugin(&self, task: &Task, name: &str) -> Option<PathBuf> {
        let short = name.rsplit('.').next().unwrap_or(name);
        self.plugin_dirs(task).into_iter().find_map(|d| {
            [format!("{short}.py"), short.to_string()]
                .iter()
                .map(|f| d.join(f))
                .find(|p| p.is_file())
        })
    }

    fn merge_free_form(
        &self,
        task: &Task,
        action: Action,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Value> {
        let mut args = match &task.args {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        let Some(Located { value: text, span }) = &task.free_form else {
            return Some(Value::Object(args));
        };
        let raw_module = takes_raw_params(action);
        if is_splat(text) && !raw_module {
            // `module: "{{ dict_of_args }}"`: merged at run time.
            return Some(Value::Object(args));
        }
        let only = match action {
            Action::Builtin(Builtin::Meta) => Some(&[][..]),
            Action::Builtin(Builtin::IncludeVars) => Some(Builtin::INCLUDE_VARS_KEYS),
            _ if raw_module => Some(RAW_PARAM_KEYS),
            _ => None,
        };
        let parsed = match kv::parse_kv(text, only) {
            Ok(p) => p,
            Err(e) => {
                diags.push(Diagnostic::error(e).at(span.clone()));
                return None;
            }
        };
        for (k, v) in parsed.pairs {
            args.insert(k, Value::String(v));
        }
        if let Some(raw) = parsed.raw {
            if raw_module {
                // Keep the command line exactly as written, minus the k=v options.
                args.insert("_raw_params".into(), Value::String(raw));
            } else {
                diags.push(
                    Diagnostic::error(format!(
                        "`{}` takes `key=value` arguments, but found free-form text `{raw}`",
                        task.module.value
                    ))
                    .at(span.clone()),
                );
                return None;
            }
        }
        Some(Value::Object(args))
    }

    fn check_strings(&self, task: &Task, diags: &mut Vec<Diagnostic>) {
        let conditions = ["when", "changed_when", "failed_when"];
        if let Some(entries) = task.node.as_map() {
            for (k, v) in entries {
                let key = k.key_text().unwrap_or_default();
                if conditions.contains(&key.as_str()) {
                    walk_strings(v, &mut |s, span| {
                        if let Err(e) = self.templar.check_expression(s) {
                            diags.push(
                                Diagnostic::error(format!("invalid conditional: {}", e.message))
                                    .at(span.clone()),
                            );
                        }
                    });
                } else if key == "vars"
                    || task.ignore_errors.is_some()
                    || task.failed_when.is_some()
                    || task.rescued
                {
                    // A variable is only rendered when used, and this task
                    // expects failure: the error shows when it runs.
                    walk_strings(v, &mut |s, span| {
                        if let Err(e) = self.templar.check_syntax(s) {
                            diags.push(
                                Diagnostic::warning(format!(
                                    "template syntax error: {}",
                                    e.message
                                ))
                                .at(span.clone())
                                .label("fails when it is rendered"),
                            );
                        }
                    });
                } else {
                    walk_strings(v, &mut |s, span| check_string(s, span, self.templar, diags));
                }
            }
        }
        if let Some(assert) = Builtin::lookup(&task.module.value).filter(|b| *b == Builtin::Assert)
        {
            let _ = assert;
            if let Some(that) = task
                .node
                .get(&task.module.value)
                .and_then(|a| a.get("that"))
            {
                walk_strings(that, &mut |s, span| {
                    // A blank condition fails when the task runs, with Ansible's message.
                    if s.trim().is_empty() {
                        return;
                    }
                    if let Err(e) = self.templar.check_expression(s) {
                        diags.push(
                            Diagnostic::error(format!("invalid conditional: {}", e.message))
                                .at(span.clone()),
                        );
                    }
                });
            }
        }
    }

    /// Remembers `task` if it may write files on the controller.
    fn note_producer(&self, task: &Task, action: Action, args: &Value) {
        let name = match action {
            Action::Module(m) => m.name(),
            Action::Builtin(_) => return,
        };
        if READ_ONLY_MODULES.contains(&name) {
            return;
        }
        let text = args.to_string();
        let on_controller = self.play_on_controller.get()
            || task.delegate_to.is_some()
            || task.vars.contains_key("ansible_connection")
            || name == "fetch";
        let opaque = matches!(name, "command" | "shell" | "script" | "raw")
            || is_template(&text)
            || task.loop_.is_some();
        self.producers.borrow_mut().push(Producer {
            text,
            opaque_on_controller: on_controller && opaque,
        });
    }

    fn check_local_src(
        &self,
        task: &Task,
        module: &dyn Module,
        args: &Value,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<bool, Box<(Diagnostic, String)>> {
        let kind = match module.name() {
            "template" => "templates",
            "copy" | "unarchive" | "script" => "files",
            _ => return Ok(true),
        };
        let remote = args
            .get("remote_src")
            .map(|v| tend_modules::args::parse_bool(&value_text(v)).unwrap_or(false))
            .unwrap_or(false);
        let script_src = (module.name() == "script")
            .then(|| script_path(args))
            .flatten();
        let Some(src) = script_src
            .as_deref()
            .or_else(|| args.get("src").and_then(Value::as_str))
        else {
            return Ok(true);
        };
        if remote || is_template(src) {
            return Ok(true);
        }
        let produced = |src: &str| self.producers.borrow().iter().any(|p| p.may_create(src));
        let span = task
            .arg_spans
            .iter()
            .find(|(k, _)| k == "src")
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| task.module.span.clone());
        let role = task.role.as_ref().map(|r| r.path.as_path());
        match find_src(role, self.dir, kind, src) {
            Ok(path) => {
                if kind == "templates" {
                    return Ok(check_template_file(&path, self.templar, diags));
                }
                Ok(true)
            }
            // An earlier task may create it: looked for when the task runs.
            Err(_) if produced(src) => Ok(true),
            Err(tried) => Err(Box::new((
                Diagnostic::error(format!("could not find src file `{src}`"))
                    .at(span)
                    .label(format!(
                        "searched {}",
                        tried
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                missing_src_message(module.name(), src),
            ))),
        }
    }
}

/// The failure of a task whose controller-side `src` is missing, as
/// ansible-core 2.19 words it (its copy action adds a hint).
pub fn missing_src_message(module: &str, src: &str) -> String {
    let msg = format!("Could not find or access '{src}' on the Ansible Controller.");
    if module == "copy" {
        format!(
            "Unexpected AnsibleActionFail error: {msg}\nIf you are using a module and expect the file to exist on the remote, see the remote_src option"
        )
    } else {
        msg
    }
}

/// The controller-side script of a `script` task: the first word of its command line.
pub fn script_path(args: &Value) -> Option<String> {
    let line = args
        .get("_raw_params")
        .or_else(|| args.get("cmd"))
        .and_then(Value::as_str)?;
    tend_modules::command::shlex_split(line.trim())
        .ok()?
        .into_iter()
        .next()
}

/// A free-form string that is one `{{ expression }}` and no `k=v` pairs.
/// Whether the action reads free-form text as `_raw_params` (command,
/// shell, `meta`, `include_vars`): a whole-template free form
/// (`include_vars: "{{ file }}"`) is then that text, rendered at run time,
/// rather than a mapping of arguments.
fn takes_raw_params(action: Action) -> bool {
    match action {
        Action::Module(m) => m.free_form() == FreeForm::RawParams,
        Action::Builtin(b) => matches!(b, Builtin::Meta | Builtin::IncludeVars),
    }
}

fn is_splat(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("{{") && t.ends_with("}}") && t[2..t.len() - 2].find("}}").is_none()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Finds a controller-side file: absolute, or `DIR/files|templates/NAME`, or `DIR/NAME`.
pub fn find_local_file(dir: &Path, kind: &str, name: &str) -> Option<PathBuf> {
    find_src(None, dir, kind, name).ok()
}

/// Finds the `src` of copy/template: inside a role first (`ROLE/files|templates/NAME`,
/// `ROLE/NAME`, `ROLE/tasks/NAME`), then the playbook's `DIR/files|templates/NAME`
/// and `DIR/NAME`. On failure, the paths tried.
pub fn find_src(
    role: Option<&Path>,
    dir: &Path,
    kind: &str,
    name: &str,
) -> Result<PathBuf, Vec<PathBuf>> {
    let p = Path::new(name);
    if p.is_absolute() {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(vec![p.to_path_buf()])
        };
    }
    let mut candidates = Vec::new();
    if let Some(r) = role {
        candidates.extend([r.join(kind).join(p), r.join(p), r.join("tasks").join(p)]);
    }
    candidates.extend([dir.join(kind).join(p), dir.join(p)]);
    match candidates.iter().find(|c| c.exists()) {
        Some(c) => Ok(c.clone()),
        None => Err(candidates),
    }
}

fn check_template_file(path: &Path, templar: &Templar, diags: &mut Vec<Diagnostic>) -> bool {
    // A vault-encrypted template is checked decrypted.
    let text = match std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| crate::vault::decrypt_file(path, b).map_err(|e| e.kind.to_string()))
        .and_then(|b| String::from_utf8(b.to_vec()).map_err(|_| "not UTF-8 text".to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(format!(
                "cannot read template {}: {e}",
                path.display()
            )));
            return false;
        }
    };
    if let Err(e) = templar.check_file_syntax(&text) {
        let line = e
            .message
            .rsplit_once("(line ")
            .and_then(|(_, l)| l.split(' ').next())
            .and_then(|l| l.parse::<u32>().ok())
            .unwrap_or(1);
        let file = std::sync::Arc::new(yaml::SourceFile {
            path: path.to_path_buf(),
            text: text.clone(),
        });
        let offset = yaml::offset_of(&text, line, 1);
        let len = text[offset..].find('\n').unwrap_or(text.len() - offset);
        diags.push(
            Diagnostic::error(format!("template syntax error: {}", e.message)).at(Span {
                file,
                offset,
                len,
                line,
                col: 1,
            }),
        );
        return false;
    }
    true
}

fn check_string(s: &str, span: &Span, templar: &Templar, diags: &mut Vec<Diagnostic>) {
    if let Err(e) = templar.check_syntax(s) {
        diags.push(
            Diagnostic::error(format!("template syntax error: {}", e.message)).at(span.clone()),
        );
    }
}

fn walk_strings(node: &Node, f: &mut dyn FnMut(&str, &Span)) {
    if node.tag.as_deref() == Some("!unsafe") {
        return;
    }
    match &node.kind {
        Kind::Str(s) => f(s, &node.span),
        Kind::Seq(items) => items.iter().for_each(|i| walk_strings(i, f)),
        Kind::Map(entries) => entries.iter().for_each(|(k, v)| {
            walk_strings(k, f);
            walk_strings(v, f);
        }),
        _ => {}
    }
}

/// Ansible modules (ansible.builtin and common collections) that tend does
/// not implement yet: named as such, rather than as unknown.
const NOT_YET_SUPPORTED: &[&str] = &[
    "assemble",
    "async_status",
    "debconf",
    "dnf",
    "dnf5",
    "dpkg_selections",
    "expect",
    "gather_facts",
    "iptables",
    "mount",
    "package_facts",
    "pip",
    "reboot",
    "rpm_key",
    "seboolean",
    "selinux",
    "service_facts",
    "set_stats",
    "subversion",
    "sysvinit",
    "ufw",
    "firewalld",
    "validate_argument_spec",
    "wait_for_connection",
    "yum",
    "yum_repository",
    "zypper",
];

fn not_yet_supported(name: &str) -> bool {
    let short = [
        "ansible.builtin.",
        "ansible.legacy.",
        "ansible.posix.",
        "community.general.",
    ]
    .iter()
    .find_map(|p| name.strip_prefix(p))
    .unwrap_or(name);
    NOT_YET_SUPPORTED.contains(&short)
}

/// Whether a play's `hosts` pattern names the controller itself.
fn targets_controller(hosts: &str) -> bool {
    hosts
        .split([',', ':'])
        .map(str::trim)
        .any(|h| matches!(h, "localhost" | "127.0.0.1" | "::1") || is_template(h))
}
