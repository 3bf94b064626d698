//! Compile-time check: a variable that a role reads and that nothing defines.
//!
//! Before any host is contacted (under `--syntax-check` too), every name
//! that may be defined is collected: inventory variables of every host and
//! group, extra vars, play `vars`, `vars_files` and `vars_prompt`, the
//! defaults, vars and params of every role instance, task and block `vars`,
//! `register`, `set_fact` and `add_host` keys, loop variables, magic
//! variables, and anything named `ansible_*` (facts are dynamic). A role's
//! task, handler or template that reads a name outside that set is warned
//! about, with the reference's file:line:col.
//!
//! It is a warning, not an error: Ansible fails only when the reference is
//! rendered, and the check is built never to warn about a valid playbook.
//! So it stays silent wherever it cannot be sure the reference is rendered
//! unguarded:
//! - a play (and the plays after it) whose tasks define variables that only
//!   the run knows ([`GiveUp`]);
//! - references under a guard (`is defined`, any `is` test, `default`/`d`),
//!   and every name such a guard mentions, in the whole task or template;
//! - expressions that may short-circuit (`and`, `or`, `if ... else`);
//! - template text inside `{% if %}`, `{% for %}` and other blocks, and
//!   templates that read other templates (`include`, `import`, `extends`);
//! - tasks that may not run or may fail on purpose: a `when` (only its first
//!   condition is checked), a loop over items not written out (only the
//!   loop expression is checked), `ignore_errors`, `failed_when`, a block
//!   with a `rescue`, a `rescue` section, the `never` tag, an include that
//!   is conditional, anything after an unconditional `meta: end_play`, and
//!   handlers that no checked task notifies;
//! - a task's name, `vars`, `notify` and keywords other than its arguments,
//!   `debug`'s `var` and `assert`'s messages (rendered only when needed).

use super::actions::{Builtin, MetaAction, MetaArgs};
use super::{Action, CompiledPlay, CompiledPlaybook, CompiledStep, CompiledTask, walk_strings};
use crate::diagnostic::Diagnostic;
use crate::playbook::{RoleInfo, Task};
use crate::template::{Templar, is_template};
use crate::yaml::{self, Kind, Node, SourceFile, Span};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

/// Why a play is not checked: something in it defines variables whose
/// names only the run knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GiveUp {
    /// `include_vars` reads a file at run time.
    #[error("`include_vars` defines variables known only when it runs")]
    IncludeVars,
    /// `set_fact` with a templated key, or all its keys from one template.
    #[error("a `set_fact` key is known only when it runs")]
    DynamicFact,
    /// `add_host` with a templated variable name.
    #[error("an `add_host` variable name is known only when it runs")]
    DynamicHostVars,
    /// An include whose file (or role) is named per host.
    #[error("an include names its file or role only when it runs")]
    DeferredInclude,
    /// A task whose action is a template (`action: "{{ module }}"`).
    #[error("a task's action is known only when it runs")]
    TemplatedAction,
    /// A `vars_files` entry that is templated or cannot be read now.
    #[error("vars_files `{0}` is templated or cannot be read before the run")]
    VarsFile(String),
    /// `meta: refresh_inventory` reads the inventory again (a dynamic
    /// inventory may give other variables then).
    #[error("`meta: refresh_inventory` reads the inventory again when it runs")]
    RefreshInventory,
    /// The play's `hosts` match no host of the inventory: it runs nothing
    /// (unless the run adds hosts, which a later look cannot tell).
    #[error("`hosts: {0}` matches no host of the inventory")]
    NoHosts(String),
}

impl GiveUp {
    /// What the run defines stays on the host for later plays; a play's
    /// `vars_files` does not, nor does a play without hosts define anything.
    fn lasting(&self) -> bool {
        !matches!(self, GiveUp::VarsFile(_) | GiveUp::NoHosts(_))
    }
}

/// The outcome of [`check`].
#[derive(Debug, Default)]
pub struct Report {
    /// One warning per role and variable, at the first reference.
    pub warnings: Vec<Diagnostic>,
    /// Plays not checked (by name, or `hosts` pattern), and why.
    pub skipped: Vec<(String, GiveUp)>,
}

/// Names defined in every play without being written anywhere: Ansible's
/// magic variables, the template module's, Jinja's own names.
const MAGIC: &[&str] = &[
    "hostvars",
    "groups",
    "group_names",
    "inventory_hostname",
    "inventory_hostname_short",
    "inventory_dir",
    "inventory_file",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "omit",
    "vars",
    "item",
    "discovered_interpreter_python",
    "module_setup",
    "template_host",
    "template_path",
    "template_mtime",
    "template_uid",
    "template_fullpath",
    "template_destpath",
    "template_run_date",
    "lookup",
    "query",
    "q",
    "now",
    "undef",
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "loop",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

/// What may be defined.
#[derive(Debug, Default)]
struct Known {
    /// Every name defined somewhere.
    names: HashSet<String>,
    /// Names defined other than by a role's defaults, vars or params.
    elsewhere: HashSet<String>,
    /// The values roles give their names (defaults, vars, params).
    role_values: HashMap<String, Vec<Value>>,
    /// The directory and name of every role instance.
    roles: BTreeMap<PathBuf, String>,
    /// Prefixes of facts a module sets (`getent` → `getent_passwd`).
    prefixes: HashSet<&'static str>,
}

impl Known {
    fn contains(&self, name: &str) -> bool {
        name.starts_with("ansible_")
            || MAGIC.contains(&name)
            || self.names.contains(name)
            || self.prefixes.iter().any(|p| name.starts_with(p))
    }

    fn define(&mut self, names: impl IntoIterator<Item = String>) {
        for name in names {
            self.elsewhere.insert(name.clone());
            self.names.insert(name);
        }
    }

    fn add_keys(&mut self, vars: &serde_json::Map<String, Value>) {
        self.define(vars.keys().cloned());
    }

    /// Names a role defines, with their values.
    fn add_role_values(&mut self, vars: &serde_json::Map<String, Value>) {
        for (k, v) in vars {
            self.names.insert(k.clone());
            let values = self.role_values.entry(k.clone()).or_default();
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
    }

    fn add_role(&mut self, role: &RoleInfo) {
        self.roles
            .entry(role.path.clone())
            .or_insert_with(|| role.name.clone());
        for vars in [&role.defaults, &role.vars, &role.params] {
            self.add_role_values(vars);
        }
        self.add_keys(&role.magic);
    }

    /// Whether `name`, read by a role, surely has `value`: it is defined
    /// only by roles, always with this value (then what the value reads is
    /// read too).
    fn surely(&self, name: &str, value: &Value) -> bool {
        !self.elsewhere.contains(name)
            && !name.starts_with("ansible_")
            && !MAGIC.contains(&name)
            && self
                .role_values
                .get(name)
                .is_some_and(|values| values.iter().all(|v| v == value))
    }
}

/// What the check knows of the run besides the playbooks.
pub struct Run<'a> {
    /// Names defined outside the playbooks: inventory variables, extra
    /// vars, connection variables of the command line.
    pub defined: &'a HashSet<String>,
    /// Whether a play's `hosts` pattern matches some host of the inventory.
    pub matches: &'a dyn Fn(&str) -> bool,
    /// Whether `--tags`/`--skip-tags` select a task with these tags, in a
    /// play with those.
    pub selected: &'a dyn Fn(&[String], &[String]) -> bool,
}

/// Checks the roles of `books` for variables defined nowhere.
pub fn check(books: &[CompiledPlaybook], run: &Run<'_>, templar: &Templar) -> Report {
    let mut known = Known::default();
    known.define(run.defined.iter().cloned());
    let plays: Vec<(&CompiledPlaybook, &CompiledPlay)> = books
        .iter()
        .flat_map(|b| b.plays.iter().map(move |p| (b, p)))
        .collect();
    // What any play defines counts for every play: the union never makes
    // a warning that a play-by-play account would not.
    let verdicts: Vec<Option<GiveUp>> = plays
        .iter()
        .map(|(_, p)| {
            let verdict = collect_play(p, &mut known);
            let hosts = &p.play.hosts.value;
            match is_template(hosts) || (run.matches)(hosts) {
                true => verdict,
                false => verdict.or_else(|| Some(GiveUp::NoHosts(hosts.clone()))),
            }
        })
        .collect();
    let mut report = Report::default();
    let mut checker = Checker {
        known: &known,
        templar,
        selected: run.selected,
        reported: HashSet::new(),
        demanded: HashSet::new(),
        warnings: Vec::new(),
    };
    let mut lasting: Option<GiveUp> = None;
    for ((book, play), verdict) in plays.into_iter().zip(verdicts) {
        if let Some(reason) = verdict.or_else(|| lasting.clone()) {
            if reason.lasting() {
                lasting.get_or_insert_with(|| reason.clone());
            }
            let label = play
                .play
                .name
                .clone()
                .unwrap_or_else(|| play.play.hosts.value.clone());
            report.skipped.push((label, reason));
            continue;
        }
        checker.play(&book.dir, play);
    }
    checker.role_files();
    report.warnings = checker.warnings;
    report
}

/// Adds what `play` defines to `known`; why the play cannot be checked, if so.
fn collect_play(play: &CompiledPlay, known: &mut Known) -> Option<GiveUp> {
    let p = &play.play;
    known.add_keys(&p.vars);
    known.add_role_values(&p.role_defaults);
    known.add_role_values(&p.role_exports);
    known.define(p.vars_prompt.iter().map(|v| v.name.clone()));
    let mut verdict = None;
    let dir = p.span.file.path.parent().unwrap_or(Path::new("."));
    for entry in &p.vars_files {
        match vars_file_keys(entry.iter().map(|l| l.value.as_str()), dir) {
            Ok(keys) => known.define(keys),
            Err(e) => {
                verdict.get_or_insert(e);
            }
        }
    }
    let handler_steps = play.handler_includes.iter().map(|(_, s)| s);
    let steps = play
        .pre_tasks
        .iter()
        .chain(&play.tasks)
        .chain(&play.post_tasks)
        .chain(handler_steps);
    for step in steps {
        if let Err(e) = collect_step(step, known) {
            verdict.get_or_insert(e);
        }
    }
    for t in play.handlers.iter().chain(&play.gather_guard) {
        if let Err(e) = collect_task(t, known) {
            verdict.get_or_insert(e);
        }
    }
    verdict
}

/// The top-level keys of the first existing file of a `vars_files` entry.
fn vars_file_keys<'a>(
    alternatives: impl Iterator<Item = &'a str>,
    dir: &Path,
) -> Result<Vec<String>, GiveUp> {
    let alternatives: Vec<&str> = alternatives.collect();
    let shown = alternatives.join(", ");
    if alternatives.iter().any(|a| is_template(a)) {
        return Err(GiveUp::VarsFile(shown));
    }
    let path = alternatives
        .iter()
        .map(|a| dir.join(a))
        .find(|p| p.is_file())
        .ok_or_else(|| GiveUp::VarsFile(shown.clone()))?;
    let (_, docs) = yaml::load(&path).map_err(|_| GiveUp::VarsFile(shown.clone()))?;
    let mut keys = Vec::new();
    for doc in &docs {
        match &doc.kind {
            Kind::Map(entries) => keys.extend(entries.iter().filter_map(|(k, _)| k.key_text())),
            Kind::Null => {}
            _ => return Err(GiveUp::VarsFile(shown)),
        }
    }
    Ok(keys)
}

fn collect_step(step: &CompiledStep, known: &mut Known) -> Result<(), GiveUp> {
    let mut verdict = Ok(());
    let mut keep = |r: Result<(), GiveUp>| {
        if verdict.is_ok() {
            verdict = r;
        }
    };
    match step {
        CompiledStep::Task(t) => keep(collect_task(t, known)),
        CompiledStep::Block(b) => {
            for s in b.block.iter().chain(&b.rescue).chain(&b.always) {
                keep(collect_step(s, known));
            }
        }
        CompiledStep::Include(i) => {
            keep(collect_task(&i.task, known));
            if i.deferred.is_some() {
                keep(Err(GiveUp::DeferredInclude));
            }
            if let Some((defaults, exports)) = i.role.as_ref().and_then(|r| r.public.as_ref()) {
                known.add_role_values(defaults);
                known.add_role_values(exports);
            }
            for s in &i.steps {
                keep(collect_step(s, known));
            }
        }
    }
    verdict
}

/// Adds what one task defines to `known`.
fn collect_task(t: &CompiledTask, known: &mut Known) -> Result<(), GiveUp> {
    let task = &t.task;
    known.add_keys(&task.vars);
    known.define(task.register.clone());
    known.define([task.loop_control.loop_var.clone()]);
    known.define(task.loop_control.index_var.clone());
    if let Some(role) = &task.role {
        known.add_role(role);
    }
    if is_template(&task.module.value) {
        return Err(GiveUp::TemplatedAction);
    }
    let keys = || t.args.as_object().map(|m| m.keys()).into_iter().flatten();
    match t.action {
        Action::Builtin(Builtin::IncludeVars) => return Err(GiveUp::IncludeVars),
        Action::Builtin(Builtin::Meta) if meta_action(t) == Some(MetaAction::RefreshInventory) => {
            return Err(GiveUp::RefreshInventory);
        }
        Action::Builtin(Builtin::SetFact) => {
            // tend keeps no fact cache between runs: a `cacheable` fact is a
            // fact of this run, named like any other.
            if t.splat.is_some() || keys().any(|k| is_template(k)) {
                return Err(GiveUp::DynamicFact);
            }
            known
                .names
                .extend(keys().filter(|k| *k != "cacheable").cloned());
        }
        Action::Builtin(Builtin::AddHost) => {
            if t.splat.is_some() || keys().any(|k| is_template(k)) {
                return Err(GiveUp::DynamicHostVars);
            }
            known.define(keys().cloned());
        }
        Action::Module(m) if m.name() == "getent" => {
            known.prefixes.insert("getent_");
        }
        _ => {}
    }
    Ok(())
}

/// Where a checked string is written.
#[derive(Clone)]
enum Site {
    /// A YAML scalar (its node's span).
    Yaml(Span),
    /// A whole template file.
    File(Arc<SourceFile>),
}

struct Checker<'a> {
    known: &'a Known,
    templar: &'a Templar,
    selected: &'a dyn Fn(&[String], &[String]) -> bool,
    /// (role, variable) pairs already warned about.
    reported: HashSet<(String, String)>,
    /// Variables a role surely reads.
    demanded: HashSet<String>,
    warnings: Vec<Diagnostic>,
}

/// Per-play walk state.
#[derive(Default)]
struct Walk {
    /// An unconditional `meta: end_play` (or `end_host`, `end_batch`) ran:
    /// what follows may never run.
    ended: bool,
    /// Notifications sent by tasks that surely run.
    notified: HashSet<String>,
    /// The play's tags.
    tags: Vec<String>,
}

impl Checker<'_> {
    /// Tasks that may not run or are expected to fail: nothing in them is
    /// sure. (Tags with templates are known only when the task runs.)
    fn may_not_run(&self, task: &Task, walk: &Walk) -> bool {
        task.ignore_errors.is_some()
            || task.failed_when.is_some()
            || task.rescued
            || task.tags.iter().chain(&walk.tags).any(|t| is_template(t))
            || !(self.selected)(&task.tags, &walk.tags)
    }

    /// The values in roles' `defaults/main.yml` and `vars/main.yml` of the
    /// variables that checked references surely read, when nothing else
    /// defines them (then their templates render where they are read).
    fn role_files(&mut self) {
        let mut files: Vec<(String, Node)> = Vec::new();
        for (path, role) in with_dependencies(&self.known.roles) {
            for dir in ["defaults", "vars"] {
                files.extend(main_file(&path, dir).into_iter().map(|d| (role.clone(), d)));
            }
        }
        let mut done: HashSet<String> = HashSet::new();
        loop {
            let pending: Vec<String> = self.demanded.difference(&done).cloned().collect();
            if pending.is_empty() {
                return;
            }
            for name in pending {
                done.insert(name.clone());
                let Some((role, value)) = files
                    .iter()
                    .find_map(|(role, doc)| doc.get(&name).map(|v| (role, v)))
                else {
                    continue;
                };
                // (The items of a list or mapping render when they are
                // read, as Ansible 2.19's lazy containers: a string only.)
                if value.as_str().is_none() || !self.known.surely(&name, &value.to_value()) {
                    continue;
                }
                let guarded = self.guarded_names(value);
                let mut refs = Refs {
                    role,
                    guarded: &guarded,
                };
                walk_strings(value, &mut |s, span| {
                    self.string(s, &Site::Yaml(span.clone()), false, &mut refs)
                });
            }
        }
    }

    fn play(&mut self, dir: &Path, play: &CompiledPlay) {
        let mut walk = Walk {
            tags: play.play.tags.clone(),
            ..Walk::default()
        };
        for steps in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
            self.steps(dir, steps, false, &mut walk);
        }
        if walk.ended {
            return;
        }
        for h in &play.handlers {
            let notified = h.handler_names().iter().any(|n| walk.notified.contains(n));
            if notified && !h.task.listen_only {
                self.task(dir, h, false, &mut walk);
            }
        }
    }

    fn steps(&mut self, dir: &Path, steps: &[CompiledStep], conditional: bool, walk: &mut Walk) {
        for step in steps {
            if walk.ended {
                return;
            }
            match step {
                CompiledStep::Task(t) => self.task(dir, t, conditional, walk),
                CompiledStep::Block(b) => {
                    let conditional = conditional || b.unless_role_ran.is_some();
                    self.steps(dir, &b.block, conditional, walk);
                    self.steps(dir, &b.rescue, true, walk);
                    self.steps(dir, &b.always, conditional, walk);
                }
                CompiledStep::Include(i) => {
                    let task = &i.task.task;
                    let inner = conditional
                        || self.may_not_run(task, walk)
                        || task.when.is_some()
                        || task.loop_.as_ref().is_some_and(|l| !written_out(&l.items));
                    self.steps(dir, &i.steps, inner, walk);
                }
            }
        }
    }

    fn task(&mut self, dir: &Path, t: &CompiledTask, conditional: bool, walk: &mut Walk) {
        let task = &t.task;
        if conditional || self.may_not_run(task, walk) {
            return;
        }
        let items_written = task.loop_.as_ref().is_none_or(|l| written_out(&l.items));
        if task.when.is_none() && items_written {
            walk.notified
                .extend(task.notify.iter().map(|n| n.value.clone()));
            if matches!(
                meta_action(t),
                Some(MetaAction::EndPlay | MetaAction::EndHost | MetaAction::EndBatch)
            ) {
                walk.ended = true;
            }
        }
        let Some(role) = task.role.clone() else {
            return;
        };
        let guarded = self.guarded_names(&task.node);
        let mut refs = Refs {
            role: &role.name,
            guarded: &guarded,
        };
        if task.when.is_some() {
            // Only the first condition surely runs; with a loop, only if
            // there are items.
            if items_written && let Some(first) = own_first_condition(task) {
                self.condition(first, &mut refs);
            }
            return;
        }
        if let Some(node) = loop_node(&task.node) {
            walk_strings(node, &mut |s, span| {
                self.string(s, &Site::Yaml(span.clone()), false, &mut refs)
            });
        }
        if !items_written {
            return;
        }
        self.arguments(t, &mut refs);
        if let Action::Module(m) = t.action
            && m.name() == "template"
        {
            self.template_file(dir, t, &role, &mut refs);
        }
    }

    /// The task's arguments: the action's value, `args`, `action:`.
    fn arguments(&mut self, t: &CompiledTask, refs: &mut Refs<'_>) {
        let task = &t.task;
        let builtin = match t.action {
            Action::Builtin(b) => Some(b),
            Action::Module(_) => None,
        };
        let keys = [task.module.value.as_str(), "args", "action", "local_action"];
        let Some(entries) = task.node.as_map() else {
            return;
        };
        for (k, v) in entries {
            let key = k.key_text().unwrap_or_default();
            if !keys.contains(&key.as_str()) {
                continue;
            }
            match (builtin, v.as_map()) {
                // `assert`: only `that` (bare conditions) surely renders.
                (Some(Builtin::Assert), Some(args)) => {
                    for (ak, av) in args {
                        if ak.key_text().as_deref() == Some("that") {
                            let items = av.as_seq().map(<[Node]>::to_vec);
                            for item in items.unwrap_or_else(|| vec![av.clone()]) {
                                if let Some(s) = item.as_str() {
                                    self.condition_text(s, &Site::Yaml(item.span.clone()), refs);
                                }
                            }
                        }
                    }
                }
                (Some(Builtin::Assert), None) => {}
                // `debug: var=x` names a variable without braces; printing
                // an undefined one is not an error.
                (Some(Builtin::Debug), Some(args)) => {
                    for (ak, av) in args {
                        if ak.key_text().as_deref() != Some("var") {
                            walk_strings(av, &mut |s, span| {
                                self.string(s, &Site::Yaml(span.clone()), false, refs)
                            });
                        }
                    }
                }
                _ => walk_strings(v, &mut |s, span| {
                    self.string(s, &Site::Yaml(span.clone()), false, refs)
                }),
            }
        }
    }

    /// The template file of a `template` task of a role.
    fn template_file(
        &mut self,
        dir: &Path,
        t: &CompiledTask,
        role: &RoleInfo,
        refs: &mut Refs<'_>,
    ) {
        let Some(src) = t.args.get("src").and_then(Value::as_str) else {
            return;
        };
        // Other delimiters or a `#jinja2:` header: not read here.
        let own_syntax = t.args.as_object().is_some_and(|m| {
            m.keys()
                .any(|k| k.ends_with("_string") || k.ends_with("_blocks"))
        });
        if is_template(src) || own_syntax {
            return;
        }
        let Ok(path) = super::find_src(Some(&role.path), dir, "templates", src) else {
            return;
        };
        // A vault-encrypted template is not shown in a warning: not read.
        let Some(text) = std::fs::read(&path)
            .ok()
            .filter(|b| !b.starts_with(b"$ANSIBLE_VAULT"))
            .and_then(|b| String::from_utf8(b).ok())
        else {
            return;
        };
        if text.starts_with("#jinja2:") {
            return;
        }
        let file = Arc::new(SourceFile { path, text });
        let guarded = self.guarded_in(&file.text);
        let mut all: HashSet<String> = refs.guarded.clone();
        all.extend(guarded);
        let mut refs = Refs {
            role: refs.role,
            guarded: &all,
        };
        let text = file.text.clone();
        self.string(&text, &Site::File(file), true, &mut refs);
    }

    /// The first condition of a task's own `when` (not one inherited from
    /// a block, role or import, whose conditions come first).
    fn condition(&mut self, node: &Node, refs: &mut Refs<'_>) {
        if let Some(s) = node.as_str() {
            self.condition_text(s, &Site::Yaml(node.span.clone()), refs);
        }
    }

    /// A condition: a bare expression, or a template.
    fn condition_text(&mut self, s: &str, site: &Site, refs: &mut Refs<'_>) {
        if is_template(s) {
            self.string(s, site, false, refs);
            return;
        }
        let Some(names) = self.templar.expression_names(s) else {
            return;
        };
        self.expression(s, 0, s, &names, site, refs);
    }

    /// A string of the playbook, or a template file (`file`): the
    /// expressions rendered whatever the values, outside any block.
    fn string(&mut self, s: &str, site: &Site, file: bool, refs: &mut Refs<'_>) {
        if !is_template(s) {
            return;
        }
        let Some(pieces) = pieces(s) else {
            return;
        };
        if pieces.reads_templates {
            return;
        }
        let Some(free) = self.templar.template_names(s, file) else {
            return;
        };
        for (offset, expr) in pieces.top {
            self.expression(expr, offset, s, &free, site, refs);
        }
    }

    /// One expression at `offset` in `source`; `free` are the names the
    /// whole source reads from its context.
    fn expression(
        &mut self,
        expr: &str,
        offset: usize,
        source: &str,
        free: &HashSet<String>,
        site: &Site,
        refs: &mut Refs<'_>,
    ) {
        if may_skip(expr) {
            return;
        }
        let Some(names) = self.templar.expression_names(expr) else {
            return;
        };
        let unguarded: Vec<String> = names
            .into_iter()
            .filter(|n| free.contains(n) && !refs.guarded.contains(n))
            .collect();
        self.demanded.extend(unguarded.iter().cloned());
        let mut names: Vec<String> = unguarded
            .into_iter()
            .filter(|n| !self.known.contains(n))
            .collect();
        names.sort_by_key(|n| (first_use(expr, n).unwrap_or(usize::MAX), n.clone()));
        for name in names {
            if !self.reported.insert((refs.role.to_string(), name.clone())) {
                continue;
            }
            let at = offset + first_use(expr, &name).unwrap_or(0);
            let span = locate(site, source, at, &name);
            self.warnings.push(self.warning(&name, refs.role, span));
        }
    }

    fn warning(&self, name: &str, role: &str, span: Span) -> Diagnostic {
        let label = match crate::playbook::parse::suggest(
            name,
            self.known.names.iter().map(String::as_str),
        ) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "defined nowhere".to_string(),
        };
        Diagnostic::warning(format!(
            "role `{role}` uses the variable `{name}`, which nothing defines"
        ))
        .at(span)
        .label(label)
        .help(format!(
            "no inventory, play, vars file, role, extra var, `register`, `set_fact` or loop defines it: unless the run defines it some other way, the task fails with \"'{name}' is undefined\""
        ))
    }

    /// Names that some guard of the task mentions (`x is defined`,
    /// `x | default(...)`): never reported anywhere in the task.
    fn guarded_names(&self, node: &Node) -> HashSet<String> {
        let mut out = HashSet::new();
        walk_strings(node, &mut |s, _| out.extend(self.guarded_in(s)));
        out
    }

    /// The names of every guarded expression of `s` (a template, or a bare
    /// condition when it is not one).
    fn guarded_in(&self, s: &str) -> HashSet<String> {
        let mut out = HashSet::new();
        let exprs: Vec<&str> = if is_template(s) {
            // Every expression, inside blocks too.
            pieces(s)
                .map(|p| p.all.into_iter().map(|(_, e)| e).collect())
                .unwrap_or_default()
        } else {
            vec![s]
        };
        for expr in exprs {
            if guard(expr) {
                out.extend(self.templar.expression_names(expr).unwrap_or_default());
            }
        }
        out
    }
}

/// The documents of a role's `DIR/main.yml` (`.yaml`, no extension).
fn main_file(role: &Path, dir: &str) -> Vec<Node> {
    ["main.yml", "main.yaml", "main"]
        .iter()
        .map(|f| role.join(dir).join(f))
        .find(|f| f.is_file())
        .and_then(|f| yaml::load(&f).ok())
        .map(|(_, docs)| docs)
        .unwrap_or_default()
}

/// `roles` and the roles their `meta/main.yml` depends on, found beside
/// them (a dependency without tasks of its own is known by its defaults
/// only). A dependency found elsewhere is left out: what it defines is
/// then not judged.
fn with_dependencies(roles: &BTreeMap<PathBuf, String>) -> BTreeMap<PathBuf, String> {
    let mut all = roles.clone();
    let mut queue: Vec<PathBuf> = roles.keys().cloned().collect();
    while let Some(path) = queue.pop() {
        for meta in main_file(&path, "meta") {
            let Some(deps) = meta.get("dependencies").and_then(Node::as_seq) else {
                continue;
            };
            for dep in deps {
                let name = dep
                    .as_str()
                    .or_else(|| dep.get("role").or_else(|| dep.get("name"))?.as_str());
                let Some(name) = name.filter(|n| !n.contains('/') && !is_template(n)) else {
                    continue;
                };
                let Some(dir) = path.parent().map(|p| p.join(name)) else {
                    continue;
                };
                if dir.is_dir() && !all.contains_key(&dir) {
                    all.insert(dir.clone(), name.to_string());
                    queue.push(dir);
                }
            }
        }
    }
    all
}

/// The role and guarded names of what is being checked.
struct Refs<'a> {
    role: &'a str,
    guarded: &'a HashSet<String>,
}

/// Loop items written out in the playbook (a non-empty list): the body runs.
fn written_out(items: &Value) -> bool {
    matches!(items, Value::Array(a) if !a.is_empty())
}

/// The action of a `meta` task, if known before it runs.
fn meta_action(t: &CompiledTask) -> Option<MetaAction> {
    if !matches!(t.action, Action::Builtin(Builtin::Meta)) {
        return None;
    }
    tend_modules::args::parse::<MetaArgs>(&t.args)
        .ok()?
        .action()
        .ok()
}

/// The node of a task's loop keyword (`loop`, `with_*`).
fn loop_node(node: &Node) -> Option<&Node> {
    node.as_map()?.iter().find_map(|(k, v)| {
        let key = k.key_text()?;
        (key == "loop" || key.starts_with("with_")).then_some(v)
    })
}

/// The first condition of the task's `when`, if the task wrote it itself.
fn own_first_condition(task: &Task) -> Option<&Node> {
    let node = task.node.get("when")?;
    if task.when.as_ref().map(|w| &w.value) != Some(&node.to_value()) {
        return None;
    }
    match &node.kind {
        Kind::Seq(items) => items.first(),
        _ => Some(node),
    }
}

/// A template cut into its expressions.
#[derive(Debug, Default, PartialEq)]
struct Pieces<'a> {
    /// Expressions rendered whatever the values: `{{ }}` outside any block,
    /// and the heads of outermost `if`, `for` and `set` (offset, text).
    top: Vec<(usize, &'a str)>,
    /// Every expression and statement body (for guards).
    all: Vec<(usize, &'a str)>,
    /// `include`, `import`, `from` or `extends`.
    reads_templates: bool,
}

/// Statements that open a block closed by `end<name>`.
const BLOCKS: &[&str] = &[
    "if",
    "for",
    "macro",
    "call",
    "filter",
    "block",
    "with",
    "autoescape",
];

/// Cuts a template (default delimiters) into expressions; `None` when it
/// is not well formed.
fn pieces(source: &str) -> Option<Pieces<'_>> {
    let mut out = Pieces::default();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(found) = source[i..].find('{') {
        let start = i + found;
        let rest = &source[start..];
        let close = if rest.starts_with("{{") {
            "}}"
        } else if rest.starts_with("{%") {
            "%}"
        } else if let Some(comment) = rest.strip_prefix("{#") {
            i = start + 2 + comment.find("#}")? + 2;
            continue;
        } else {
            i = start + 1;
            continue;
        };
        let (inner_start, inner_end) = tag_body(source, start + 2, close)?;
        i = inner_end + 2;
        let inner = &source[inner_start..inner_end];
        let trimmed = inner.trim_start_matches(['-', '+']);
        let lead = inner.len() - trimmed.len();
        let body = trimmed.trim_end_matches(['-', '+']);
        let offset = inner_start + lead;
        if close == "}}" {
            out.all.push((offset, body));
            if depth == 0 {
                out.top.push((offset, body));
            }
            continue;
        }
        let word_len = body
            .trim_start()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(body.trim_start().len());
        let ws = body.len() - body.trim_start().len();
        let keyword = &body[ws..ws + word_len];
        let after = offset + ws + word_len;
        let rest = &source[after..offset + body.len()];
        match keyword {
            "raw" => {
                let end = source[i..].find("endraw")?;
                i += end;
                i += source[i..].find("%}")? + 2;
            }
            "include" | "import" | "from" | "extends" => out.reads_templates = true,
            "if" => {
                out.all.push((after, rest));
                if depth == 0 {
                    out.top.push((after, rest));
                }
                depth += 1;
            }
            "elif" => out.all.push((after, rest)),
            "for" => {
                let at = word_at(rest, "in")?;
                let iterable = rest[at + 2..].trim_end();
                let iterable = iterable.strip_suffix("recursive").unwrap_or(iterable);
                let at = after + at + 2;
                out.all.push((at, iterable));
                if depth == 0 {
                    out.top.push((at, iterable));
                }
                depth += 1;
            }
            "set" => match rest.find('=') {
                Some(eq) => {
                    let at = after + eq + 1;
                    out.all.push((at, &rest[eq + 1..]));
                    if depth == 0 {
                        out.top.push((at, &rest[eq + 1..]));
                    }
                }
                None => depth += 1,
            },
            k if BLOCKS.contains(&k) => {
                out.all.push((after, rest));
                depth += 1;
            }
            k if k.starts_with("end") => depth = depth.checked_sub(1)?,
            _ => out.all.push((after, rest)),
        }
    }
    (depth == 0).then_some(out)
}

/// The body of a tag opened before `from`: its start and the offset of
/// `close`, string literals skipped.
fn tag_body(source: &str, from: usize, close: &str) -> Option<(usize, usize)> {
    let end = crate::template::find_unquoted(&source[from..], |rest| rest.starts_with(close))?;
    Some((from, from + end))
}

/// `text` with the contents of string literals blanked out, byte for byte
/// (offsets stay valid).
fn blank_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(_) if escaped => {
                escaped = false;
                out.extend(std::iter::repeat_n(' ', c.len_utf8()));
            }
            Some(_) if c == '\\' => {
                escaped = true;
                out.push(' ');
            }
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => out.extend(std::iter::repeat_n(' ', c.len_utf8())),
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Offset of `word` standing alone in `text`, outside string literals.
fn word_at(text: &str, word: &str) -> Option<usize> {
    let blank = blank_strings(text);
    whole_words(&blank, word).next()
}

/// Offsets of `word` standing alone in `text`.
fn whole_words<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(word).map(|(i, _)| i).filter(move |&i| {
        !ident(text[..i].chars().next_back()) && !ident(text[i + word.len()..].chars().next())
    })
}

/// Where a variable is first read in an expression: alone, outside string
/// literals, not an attribute (`x.name`) nor a filter or test name.
fn first_use(expr: &str, name: &str) -> Option<usize> {
    let blank = blank_strings(expr);
    whole_words(&blank, name).find(|&i| {
        let before = blank[..i].trim_end();
        !before.ends_with('.') && !before.ends_with('|') && !before.ends_with(" is")
    })
}

static GUARD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)is(?-u:\b)|\|\s*(default|d)(?-u:\b)|(?-u:\b)default\s*\(").ok()
});

static SHORT_CIRCUIT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)(and|or|if|else)(?-u:\b)").ok());

/// An expression that guards against undefined values (`x is defined`, any
/// test, `default`).
fn guard(expr: &str) -> bool {
    let blank = blank_strings(expr);
    GUARD.as_ref().is_none_or(|re| re.is_match(&blank))
}

/// An expression whose names may not all be evaluated: a guard, or one
/// that short-circuits.
fn may_skip(expr: &str) -> bool {
    let blank = blank_strings(expr);
    guard(expr) || SHORT_CIRCUIT.as_ref().is_none_or(|re| re.is_match(&blank))
}

/// The span of `name` read at byte `at` of `source`, written at `site`.
fn locate(site: &Site, source: &str, at: usize, name: &str) -> Span {
    let (file, offset) = match site {
        Site::File(file) => (Arc::clone(file), at),
        Site::Yaml(span) => {
            // The scalar as written may differ from its value (quotes,
            // escapes, folding): the same occurrence of the name is found
            // in the written text.
            let nth = whole_words(source, name).take_while(|&i| i < at).count();
            let text = &span.file.text;
            let start = span.offset.min(text.len());
            let len = if span.len > 0 {
                span.len
            } else {
                source.len() * 2 + 16
            };
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let offset = whole_words(&text[start..end], name)
                .nth(nth)
                .map_or(start, |i| start + i);
            (Arc::clone(&span.file), offset)
        }
    };
    let file = relative(file);
    let mut offset = offset.min(file.text.len());
    while !file.text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &file.text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Span {
        file,
        offset,
        len: name.len(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// The file as shown from the working directory (a role's files are
/// known by absolute paths).
fn relative(file: Arc<SourceFile>) -> Arc<SourceFile> {
    let shorter = std::env::current_dir()
        .ok()
        .and_then(|cwd| file.path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    match shorter {
        // (A vault-encrypted file is known by its path: kept as it is.)
        Some(path)
            if file.path.is_absolute() && crate::vault::decrypted_file(&file.path).is_none() =>
        {
            Arc::new(SourceFile {
                path,
                text: file.text.clone(),
            })
        }
        _ => file,
    }
}

#[cfg(test)]
mod tests;
