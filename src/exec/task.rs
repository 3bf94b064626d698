//! One task on one host: conditions, loops, templating, the module or
//! action, `changed_when`/`failed_when`, `register`, `notify`.

use super::builtin;
use super::{HostState, PlayCtx, RunOptions};
use crate::compile::actions::{Builtin, MetaAction, MetaArgs};
use crate::compile::{Action, CompiledTask};
use crate::connection::{BecomeSpec, Escalated, record, speculation};
use crate::playbook::LoopKind;
use crate::report::{CommandRecord, Counts, HostResult, Reporter, Status};
use crate::template::{OMIT, Scope, TemplateError};
use crate::vars::Vars;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tend_modules::{Context, Diff, ModuleError};

/// One loop item's (or the task's) result.
pub struct ItemResult {
    label: Option<String>,
    status: Status,
    result: Value,
    diffs: Vec<Diff>,
    /// What the result is about (a file's path), for reports.
    subject: Option<String>,
    facts: Map<String, Value>,
    end_host: bool,
    verbose_always: bool,
    /// For each failed attempt of an `until` loop that is retried: the
    /// retries left after it (Ansible's `FAILED - RETRYING` lines).
    retries_left: Vec<i64>,
}

/// What a task did on one host.
pub struct TaskOutcome {
    items: Vec<ItemResult>,
    looped: bool,
    registered: Value,
    status: Status,
    no_log: bool,
    /// Per item (parallel to `items`): how long it took, the scripts it ran.
    timings: Vec<(std::time::Duration, Vec<CommandRecord>)>,
    /// `delegate_facts`: facts set for the delegated hosts, by host.
    delegated: Vec<(String, Map<String, Value>)>,
}

/// The host a delegated task runs on, when it is not the task's own host.
fn delegate_target(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
) -> Option<String> {
    let d = t.task.delegate_to.as_ref()?;
    let target = text(&ctx.templar.render_value(d, scope).ok()?);
    (target != host.name).then_some(target)
}

/// A delegated task's shown result says where it ran (`[a -> b]`), as
/// Ansible's `_ansible_delegated_vars` (never registered).
fn mark_delegated(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
    item: &mut ItemResult,
) {
    if item.status == Status::Skipped {
        return;
    }
    let Some(target) = delegate_target(ctx, t, host, scope) else {
        return;
    };
    let shown = ctx
        .inventory
        .get()
        .host_vars(&target)
        .get("ansible_host")
        .map(text)
        .unwrap_or_else(|| target.clone());
    set(
        &mut item.result,
        "_ansible_delegated_vars",
        json!({"ansible_host": shown, "ansible_delegated_host": target}),
    );
}

/// `delegate_facts`: takes the facts an item set when they belong to the
/// delegated host rather than to `host`.
fn take_delegated_facts(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
    item: &mut ItemResult,
) -> Option<(String, Map<String, Value>)> {
    let df = t.task.delegate_facts.as_ref()?;
    if item.facts.is_empty()
        || !ctx
            .templar
            .render_value(df, scope)
            .is_ok_and(|v| truthy(&v))
    {
        return None;
    }
    let target = delegate_target(ctx, t, host, scope)?;
    Some((target, std::mem::take(&mut item.facts)))
}

/// How many loop items' probes are sent ahead together.
const SPECULATED_ITEMS: usize = 32;

/// Whether a loop's items' probes may be sent ahead together
/// ([`speculation`]): a module on the host's own connection, the same
/// scripts when they run as when they were discovered (no deadline, no
/// pause), run once each (no `until`).
fn speculates(ctx: &PlayCtx<'_>, t: &CompiledTask, pause: f64, items: usize) -> bool {
    matches!(t.action, Action::Module(_))
        && items > 1
        && pause == 0.0
        && t.task.until.is_none()
        && t.task.delegate_to.is_none()
        && t.task.remote_user.is_none()
        && play_default(&t.task.timeout, &ctx.play.play.timeout).is_none()
}

/// A task's keyword, else the play's (`run_once`, `throttle`, `timeout`).
pub(crate) fn play_default<'a>(
    task: &'a Option<Value>,
    play: &'a Option<Value>,
) -> Option<&'a Value> {
    task.as_ref().or(play.as_ref())
}

/// Runs one item, timed; its scripts recorded at `-vvv`.
async fn timed_item(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
    label: Option<String>,
) -> (ItemResult, (std::time::Duration, Vec<CommandRecord>)) {
    let started = std::time::Instant::now();
    let run = run_item(ctx, t, host, scope, label);
    let (item, commands) = record::recording_if(ctx.opts.verbosity >= 3, run).await;
    (item, (started.elapsed(), commands))
}

impl PlayCtx<'_> {
    /// `--force-handlers`, or the play's `force_handlers`: notified
    /// handlers run even on hosts that failed.
    pub(crate) fn force_handlers(&self) -> bool {
        self.opts.force_handlers
            || self.play.play.force_handlers.as_ref().is_some_and(|v| {
                let scope = Scope::new(vec![&self.play_vars, &self.opts.extra_vars]);
                self.templar
                    .render_value(v, &scope)
                    .is_ok_and(|v| truthy(&v))
            })
    }
}

/// Python-like truthiness for keyword values (`gather_facts: no`).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => tend_modules::args::parse_bool(s).unwrap_or(!s.is_empty()),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A boolean keyword of `t` (`run_once`) on `host`: a template is rendered
/// in the task's scope first, as Ansible templates keywords (one that
/// cannot be rendered counts as its text).
pub(crate) fn keyword_truthy(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    v: &Value,
) -> bool {
    let Value::String(text) = v else {
        return truthy(v);
    };
    if !crate::template::is_template(text) {
        return truthy(v);
    }
    let magic = task_magic(ctx, t, host);
    let scope = Scope::with_layers(layers(ctx, t, host, None, &magic));
    match ctx.templar.render_string(text, &scope) {
        Ok(rendered) => truthy(&rendered),
        Err(_) => truthy(v),
    }
}

/// Whether `--tags`/`--skip-tags` select this task.
pub fn selected_by_tags(t: &CompiledTask, play_tags: &[String], opts: &RunOptions) -> bool {
    tags_select(&t.task.tags, play_tags, &opts.tags, &opts.skip_tags)
}

/// Tags with the templated ones rendered in `scope`: a template may give a
/// list or a comma-separated string, as a written `tags` value may.
pub(crate) fn render_tags(
    tags: &[String],
    templar: &crate::template::Templar,
    scope: &Scope<'_>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(tags.len());
    for tag in tags {
        if !crate::template::is_template(tag) {
            out.push(tag.clone());
            continue;
        }
        let rendered = templar
            .render_string(tag, scope)
            .map_err(|e| format!("tags `{tag}`: {}", e.message))?;
        let items = match rendered {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            let text = match item {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            out.extend(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
    }
    Ok(out)
}

/// Ansible's tag selection (`Taggable.evaluate_tags`): `always` runs unless
/// skipped by name, `never` only when asked for by one of its tags, `all`,
/// `tagged` and `untagged` as documented.
pub fn tags_select(
    task_tags: &[String],
    play_tags: &[String],
    only: &[String],
    skip: &[String],
) -> bool {
    let tags: Vec<&str> = task_tags
        .iter()
        .chain(play_tags)
        .map(String::as_str)
        .collect();
    let has = |name: &str| tags.contains(&name);
    let untagged = tags.is_empty();
    // `all` (the default): everything except `never` tasks; other tags
    // asked for with it still select theirs (`-t never,all`), as Ansible.
    let all = only.is_empty() || only.iter().any(|o| o == "all");
    let mut run = has("always")
        || (all && !has("never"))
        || only.iter().any(|o| {
            (o == "tagged" && !untagged && !has("never")) || (o == "untagged" && untagged) || has(o)
        });
    if run && !skip.is_empty() {
        let skipped = skip.iter().any(|k| {
            (k == "all" && !has("always"))
                || (k == "tagged" && !untagged && !has("always"))
                || (k == "untagged" && untagged)
                || has(k)
        });
        if skipped {
            run = false;
        }
    }
    run
}

/// The meta action of a `meta` task, if it is known statically.
pub fn meta_action(t: &CompiledTask) -> Option<MetaAction> {
    tend_modules::args::parse::<MetaArgs>(&t.args)
        .ok()?
        .action()
        .ok()
}

fn keyword_bool(
    ctx: &PlayCtx<'_>,
    scope: &Scope<'_>,
    task: Option<&Value>,
    play: Option<&Value>,
) -> Result<Option<bool>, TemplateError> {
    match task.or(play) {
        None => Ok(None),
        Some(v) => ctx.templar.render_value(v, scope).map(|v| Some(truthy(&v))),
    }
}

/// The items a loop keyword yields for its (templated) value, as Ansible's
/// `loop` and `with_*` lookups produce them.
pub(crate) fn loop_items(kind: LoopKind, value: Value) -> Result<Vec<Value>, String> {
    let list = |v: Value, what: &str| -> Result<Vec<Value>, String> {
        match v {
            Value::Array(a) => Ok(a),
            Value::Null => Ok(Vec::new()),
            other => Err(format!(
                "{what} expects a list, got {}",
                crate::compile::actions::python_type(&other)
            )),
        }
    };
    let flatten_one = |a: Vec<Value>| -> Vec<Value> {
        a.into_iter()
            .flat_map(|i| match i {
                Value::Array(inner) => inner,
                other => vec![other],
            })
            .collect()
    };
    Ok(match (kind, value) {
        (LoopKind::WithDict, Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
        (LoopKind::WithDict, other) => {
            return Err(format!(
                "the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                py_repr(&other),
                crate::compile::actions::python_type(&other)
            ));
        }
        (LoopKind::WithItems, Value::Array(a)) => flatten_one(a),
        (LoopKind::WithItems | LoopKind::WithList, Value::Null) => Vec::new(),
        // A lone term is a list of one, as the lookups are given it.
        (LoopKind::WithItems | LoopKind::WithList, v @ (Value::String(_) | Value::Object(_))) => {
            vec![v]
        }
        (LoopKind::WithFlattened, v) => {
            fn deep(v: Value, out: &mut Vec<Value>) {
                match v {
                    Value::Array(a) => a.into_iter().for_each(|i| deep(i, out)),
                    other => out.push(other),
                }
            }
            let mut out = Vec::new();
            deep(v, &mut out);
            out
        }
        (LoopKind::WithIndexedItems, v) => flatten_one(list(v, "with_indexed_items")?)
            .into_iter()
            .enumerate()
            .map(|(i, x)| json!([i, x]))
            .collect(),
        (LoopKind::WithTogether, v) => {
            let lists: Vec<Vec<Value>> = list(v, "with_together")?
                .into_iter()
                .map(|l| list(l, "with_together"))
                .collect::<Result<_, _>>()?;
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            (0..longest)
                .map(|i| {
                    Value::Array(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                })
                .collect()
        }
        (LoopKind::WithNested, v) => {
            let lists: Vec<Vec<Value>> = list(v, "with_nested")?
                .into_iter()
                .map(|l| match l {
                    Value::Array(a) => Ok(a),
                    other => Ok(vec![other]),
                })
                .collect::<Result<_, String>>()?;
            let mut out: Vec<Vec<Value>> = vec![Vec::new()];
            for l in &lists {
                out = out
                    .into_iter()
                    .flat_map(|prefix| {
                        l.iter().map(move |x| {
                            let mut p = prefix.clone();
                            p.push(x.clone());
                            p
                        })
                    })
                    .collect();
            }
            if lists.is_empty() {
                Vec::new()
            } else {
                out.into_iter().map(Value::Array).collect()
            }
        }
        (LoopKind::WithSequence, v) => crate::template::sequence(&text(&v))?,
        (_, Value::Array(a)) => a,
        (_, other) => {
            return Err(format!(
                "Invalid data passed to 'loop', it requires a list, got this instead: {}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.",
                text(&other)
            ));
        }
    })
}

/// The items of a loop: a `with_<lookup>` runs its lookup plugin over the
/// (templated) terms; the other keywords as [`loop_items`].
fn items_of(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    kind: LoopKind,
    value: Value,
    scope: &Scope<'_>,
) -> Result<Vec<Value>, String> {
    let LoopKind::Lookup(name) = kind else {
        return loop_items(kind, value);
    };
    let terms = match value {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    if name != "template" {
        return crate::template::run_lookup(name, &terms, &Map::new());
    }
    // `with_template`: each file rendered with the task's variables.
    let role = t.task.role.as_ref().map(|r| r.path.as_path());
    terms
        .iter()
        .map(|term| {
            let name = text(term);
            let path = crate::compile::find_src(role, &ctx.book.dir, "templates", &name).map_err(
                |_| format!("the template file {name} could not be found for the lookup"),
            )?;
            let source = std::fs::read_to_string(&path)
                .map_err(|e| format!("Could not read '{}': {e}", path.display()))?;
            let mut extra = Vars::new();
            extra.insert("template_path".into(), path.display().to_string().into());
            let dirs = crate::template::include_dirs(&path);
            ctx.templar
                .render_file_with(&source, scope, &extra, Default::default(), &dirs)
                .map(Value::String)
                .map_err(|e| format!("{}: {}", path.display(), e.message))
        })
        .collect()
}

/// The variable layers a task sees on a host, lowest precedence first.
fn layers<'a>(
    ctx: &'a PlayCtx<'_>,
    t: &'a CompiledTask,
    host: &'a HostState,
    loop_layer: Option<&'a Vars>,
    magic: &'a Vars,
) -> Vec<(&'a Vars, bool)> {
    // `true`: written in inventory/playbook text, may hold templates.
    // `false`: run-time data (facts, registered results, rendered include
    // vars and loop items), never templated again.
    // Ansible's order (VariableManager.get_vars): public role defaults, the
    // task's role defaults, inventory, facts, play vars and vars_files, public
    // role vars, the task's role vars, task vars, include vars, set_fact and
    // register, role params, loop, extra vars, magic variables.
    let role = t.task.role.as_deref();
    let play = &ctx.play.play;
    let mut layers: Vec<(&Vars, bool)> = Vec::with_capacity(16);
    // `ansible_facts` is a dict before any facts are known (and after
    // `meta: clear_facts`), as in Ansible.
    layers.push((&NO_FACTS, false));
    if !play.role_defaults.is_empty() {
        layers.push((&play.role_defaults, true));
    }
    if !host.public_role_defaults.is_empty() {
        layers.push((&host.public_role_defaults, true));
    }
    if let Some(r) = role {
        layers.push((&r.defaults, true));
    }
    layers.push((&host.inventory_vars, true));
    layers.push((&host.facts, false));
    layers.push((&ctx.play_vars, true));
    if ctx.per_host_vars_files {
        layers.push((&host.vars_files, true));
    }
    if !play.role_exports.is_empty() {
        layers.push((&play.role_exports, true));
    }
    if !host.public_role_exports.is_empty() {
        layers.push((&host.public_role_exports, true));
    }
    if let Some(r) = role {
        layers.push((&r.vars, true));
    }
    layers.push((&t.task.vars, true));
    layers.extend(host.include_layers.iter().map(|l| (l, false)));
    layers.push((&host.registered, false));
    if let Some(r) = role {
        layers.push((&r.params, true));
    }
    layers.extend(loop_layer.map(|l| (l, false)));
    layers.push((&ctx.opts.extra_vars, true));
    layers.push((magic, false));
    if let Some(r) = role {
        layers.push((&r.magic, false));
    }
    layers
}

/// The bottom variable layer: an empty `ansible_facts`.
static NO_FACTS: std::sync::LazyLock<Vars> = std::sync::LazyLock::new(|| {
    let mut v = Vars::new();
    v.insert("ansible_facts".into(), Value::Object(Map::new()));
    v
});

/// The magic variables of a task on a host (`ansible_search_path`: the
/// task's role, then the playbook's directory).
fn task_magic(ctx: &PlayCtx<'_>, t: &CompiledTask, host: &HostState) -> Vars {
    let mut magic = ctx.magic.clone();
    let inventory = ctx.inventory.get();
    magic.extend(inventory.magic_vars(&host.name));
    // As the inventory is now: `add_host` and `group_by` change it.
    magic.insert("groups".into(), ctx.groups_value(&inventory));
    let down = ctx.down.borrow();
    if !down.is_empty() {
        for key in ["ansible_play_hosts", "ansible_play_batch", "play_hosts"] {
            if let Some(Value::Array(hosts)) = magic.get_mut(key) {
                hosts.retain(|h| h.as_str().is_none_or(|h| !down.contains(h)));
            }
        }
    }
    drop(down);
    for name in ctx.added_hosts.borrow().iter() {
        for key in ["ansible_play_hosts_all", "ansible_play_hosts"] {
            if let Some(Value::Array(hosts)) = magic.get_mut(key)
                && !hosts.iter().any(|h| h.as_str() == Some(name.as_str()))
            {
                hosts.push(Value::from(name.as_str()));
            }
        }
    }
    let mut search: Vec<Value> = Vec::new();
    if let Some(r) = &t.task.role {
        search.push(r.path.display().to_string().into());
    }
    search.push(ctx.book_dir.clone().into());
    magic.insert("ansible_search_path".into(), Value::Array(search));
    if let Some(target) = delegated_host(ctx, t, host, None, &magic) {
        set_delegated_vars(&mut magic, &inventory, target);
    }
    magic
}

/// `ansible_delegated_vars`: the delegate's inventory and magic variables,
/// under its name.
fn set_delegated_vars(magic: &mut Vars, inventory: &crate::inventory::Inventory, target: String) {
    let mut vars = inventory.host_vars(&target);
    vars.extend(inventory.magic_vars(&target));
    vars.entry("ansible_host".to_string())
        .or_insert_with(|| target.clone().into());
    let mut by_host = Map::new();
    by_host.insert(target, Value::Object(vars.into_iter().collect()));
    magic.insert("ansible_delegated_vars".into(), Value::Object(by_host));
}

/// The connection a task's `connection` keyword asks for: the host's own
/// when it names the host's type, the controller for `local`.
fn task_connection(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
) -> Result<Arc<dyn crate::connection::Connection>, String> {
    let Some(keyword) = &t.task.connection else {
        return Ok(Arc::clone(&host.conn));
    };
    let wanted = text(
        &ctx.templar
            .render_value(keyword, scope)
            .map_err(|e| e.message)?,
    );
    let current = host
        .inventory_vars
        .get("ansible_connection")
        .and_then(Value::as_str)
        .unwrap_or("ssh");
    match wanted.as_str() {
        w if w == current || (w == "smart" && current == "ssh") => Ok(Arc::clone(&host.conn)),
        "local" => Ok(Arc::new(crate::connection::local::Local::in_dir(&basedir(
            ctx,
        )))),
        other => Err(format!(
            "the task keyword connection: `{other}` on a host reached by `{current}` is not supported yet"
        )),
    }
}

/// The host `delegate_to` names, rendered with the task's variables (and
/// the loop item's, when there is one).
fn delegated_host(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    loop_layer: Option<&Vars>,
    magic: &Vars,
) -> Option<String> {
    match t.task.delegate_to.as_ref()? {
        Value::String(s) if !crate::template::is_template(s) => Some(s.clone()),
        d => {
            let scope = Scope::with_layers(layers(ctx, t, host, loop_layer, magic));
            match ctx.templar.render_value(d, &scope) {
                Ok(Value::String(s)) if !s.is_empty() => Some(s),
                _ => None,
            }
        }
    }
}

/// A looping task whose `delegate_to` is a template: its magic variables
/// for one item, `ansible_delegated_vars` naming that item's delegate (as
/// Ansible renders `delegate_to` per item). `None` for other tasks.
fn item_magic(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    layer: &Vars,
    magic: &Vars,
) -> Option<Vars> {
    if !matches!(&t.task.delegate_to, Some(Value::String(s)) if crate::template::is_template(s)) {
        return None;
    }
    let mut own = magic.clone();
    own.remove("ansible_delegated_vars");
    if let Some(target) = delegated_host(ctx, t, host, Some(layer), magic) {
        set_delegated_vars(&mut own, &ctx.inventory.get(), target);
    }
    Some(own)
}

/// Renders a templated name of a deferred include (`include_tasks: "{{ item }}"`)
/// on a host, in the include's scope with `layer` (its vars and loop item).
pub(crate) fn render_include_name(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    hostvars: &minijinja::Value,
    layer: &Vars,
    text: &str,
) -> Result<String, String> {
    let magic = task_magic(ctx, t, host);
    let scope = Scope::with_layers(layers(ctx, t, host, Some(layer), &magic))
        .with_special("hostvars", hostvars.clone());
    match ctx.templar.render_string(text, &scope) {
        Ok(Value::String(s)) => Ok(s),
        Ok(other) => Err(format!(
            "the file name must render to a string, got {other}"
        )),
        Err(e) => Err(e.message),
    }
}

/// Evaluates an include's `when` and loop on one host: the variable layers
/// (one per loop item) its tasks run with, or none when it is skipped.
pub(crate) fn include_items(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    hostvars: &minijinja::Value,
) -> Result<Vec<Vars>, String> {
    let magic = task_magic(ctx, t, host);
    let scope = Scope::with_layers(layers(ctx, t, host, None, &magic))
        .with_special("hostvars", hostvars.clone());
    // The include's own vars are templated here, once, in its scope.
    let mut base = Vars::new();
    for (k, v) in &t.task.vars {
        let v = ctx.templar.render_value(v, &scope).map_err(|e| e.message)?;
        base.insert(k.clone(), v);
    }
    let Some(lp) = &t.task.loop_ else {
        if let Some(when) = &t.task.when
            && !ctx
                .templar
                .eval_condition(&when.value, &scope)
                .map_err(|e| e.message)?
        {
            return Ok(Vec::new());
        }
        return Ok(vec![base]);
    };
    let rendered = match ctx.templar.render_value(&lp.items, &scope) {
        Ok(v) => v,
        // As Ansible: a loop that cannot be rendered is an error unless the
        // `when` (judged without an item) skips the include.
        Err(e) => {
            if let Some(when) = &t.task.when
                && matches!(ctx.templar.eval_condition(&when.value, &scope), Ok(false))
            {
                return Ok(Vec::new());
            }
            return Err(e.message);
        }
    };
    let items = items_of(ctx, t, lp.kind, rendered, &scope)?;
    let lc = &t.task.loop_control;
    let settings = loop_settings(ctx, lc, &scope)?;
    let mut out = Vec::new();
    for index in 0..items.len() {
        let mut layer = base.clone();
        layer.extend(loop_item_vars(lc, &settings, &items, index));
        if let Some(when) = &t.task.when {
            let item_scope = Scope::with_layers(layers(ctx, t, host, Some(&layer), &magic))
                .with_special("hostvars", hostvars.clone());
            if !ctx
                .templar
                .eval_condition(&when.value, &item_scope)
                .map_err(|e| e.message)?
            {
                continue;
            }
        }
        out.push(layer);
    }
    Ok(out)
}

/// The loop settings of a task on a host: `loop_var` (templated), and
/// `extended` (`None` when off, else whether `allitems` is shown).
struct LoopSettings {
    var: String,
    extended: Option<bool>,
}

fn loop_settings(
    ctx: &PlayCtx<'_>,
    lc: &crate::playbook::LoopControl,
    scope: &Scope<'_>,
) -> Result<LoopSettings, String> {
    let render = |v: &Value| ctx.templar.render_value(v, scope).map_err(|e| e.message);
    let flag = |v: &Option<Value>, default: bool| -> Result<bool, String> {
        v.as_ref()
            .map_or(Ok(default), |v| render(v).map(|v| truthy(&v)))
    };
    let extended = flag(&lc.extended, false)?
        .then(|| flag(&lc.extended_allitems, true))
        .transpose()?;
    let var = text(&render(&Value::String(lc.loop_var.clone()))?);
    Ok(LoopSettings { var, extended })
}

/// The variables of loop item `index`: the loop variable, `index_var`, and
/// with `extended` the `ansible_loop` of Ansible's task executor (recorded in
/// the item's result too).
fn loop_item_vars(
    lc: &crate::playbook::LoopControl,
    settings: &LoopSettings,
    items: &[Value],
    index: usize,
) -> Vars {
    let mut vars = Vars::new();
    vars.insert(
        settings.var.clone(),
        items.get(index).cloned().unwrap_or_default(),
    );
    vars.insert("ansible_loop_var".into(), settings.var.clone().into());
    if let Some(iv) = &lc.index_var {
        vars.insert(iv.clone(), index.into());
        vars.insert("ansible_index_var".into(), iv.clone().into());
    }
    if let Some(allitems) = settings.extended {
        let len = items.len();
        let mut l = Map::new();
        l.insert("index".into(), (index + 1).into());
        l.insert("index0".into(), index.into());
        l.insert("first".into(), (index == 0).into());
        l.insert("last".into(), (index + 1 == len).into());
        l.insert("length".into(), len.into());
        l.insert("revindex".into(), (len - index).into());
        l.insert("revindex0".into(), (len - index - 1).into());
        if allitems {
            l.insert("allitems".into(), Value::Array(items.to_vec()));
        }
        if let Some(next) = items.get(index + 1) {
            l.insert("nextitem".into(), next.clone());
        }
        if let Some(prev) = index.checked_sub(1).and_then(|i| items.get(i)) {
            l.insert("previtem".into(), prev.clone());
        }
        vars.insert("ansible_loop".into(), Value::Object(l));
    }
    vars
}

/// A number given as a number or numeric text.
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Runs the task on one host (all loop items).
pub(crate) async fn run_on_host(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    hostvars: &minijinja::Value,
) -> TaskOutcome {
    let magic = task_magic(ctx, t, host);
    let scope = Scope::with_layers(layers(ctx, t, host, None, &magic))
        .with_special("hostvars", hostvars.clone());
    let no_log = match keyword_bool(
        ctx,
        &scope,
        t.task.no_log.as_ref(),
        ctx.play.play.no_log.as_ref(),
    ) {
        Ok(v) => v.unwrap_or(false),
        Err(_) => true,
    };
    // A loop that cannot be evaluated fails the task (ignored with
    // `ignore_errors`, as Ansible's).
    let fail_early = |msg: String| {
        let mut item = ItemResult::failed(None, msg.clone());
        if ignore(ctx, t, &scope) {
            item.status = Status::Ignored;
        }
        TaskOutcome {
            status: item.status,
            items: vec![item],
            looped: false,
            registered: json!({"failed": true, "msg": msg, "changed": false}),
            no_log,
            timings: Vec::new(),
            delegated: Vec::new(),
        }
    };
    let Some(lp) = &t.task.loop_ else {
        let (mut item, timing) = timed_item(ctx, t, host, &scope, None).await;
        let delegated = take_delegated_facts(ctx, t, host, &scope, &mut item);
        let registered = item.result.clone();
        mark_delegated(ctx, t, host, &scope, &mut item);
        let status = item.status;
        return TaskOutcome {
            items: vec![item],
            looped: false,
            registered,
            status,
            no_log,
            timings: vec![timing],
            delegated: delegated.into_iter().collect(),
        };
    };
    // Loops: the items are templated without the loop variable.
    let items = match ctx.templar.render_value(&lp.items, &scope) {
        Ok(v) => v,
        Err(e) => {
            // As Ansible: a task whose `when` is false is skipped even
            // when its loop cannot be evaluated.
            if let Some(when) = &t.task.when
                && matches!(ctx.templar.eval_condition(&when.value, &scope), Ok(false))
            {
                let item = ItemResult::skipped(None, &when.value);
                return TaskOutcome {
                    registered: item.result.clone(),
                    status: Status::Skipped,
                    items: vec![item],
                    looped: false,
                    no_log,
                    timings: Vec::new(),
                    delegated: Vec::new(),
                };
            }
            return fail_early(format!(
                "Error while evaluating the loop items: {} (in {})",
                e.message,
                lp.span.location()
            ));
        }
    };
    let items = match items_of(ctx, t, lp.kind, items, &scope) {
        Ok(items) => items,
        Err(msg) => return fail_early(msg),
    };
    // The items as written in the playbook (a literal `loop:` list, or one
    // `{{ var }}` of the play's): what passes them through stays trusted.
    let written: Option<Vec<Value>> = match (&lp.kind, &lp.items) {
        (LoopKind::Loop | LoopKind::WithList, Value::Array(raw)) => Some(raw.clone()),
        (LoopKind::Loop | LoopKind::WithList, Value::String(s)) => match scope.passed_through(s) {
            Some(Value::Array(raw)) => Some(raw),
            _ => None,
        },
        _ => None,
    }
    .filter(|raw| raw.len() == items.len());
    let lc = &t.task.loop_control;
    let (settings, pause) = match loop_settings(ctx, lc, &scope).and_then(|e| {
        let pause = match &lc.pause {
            None => 0.0,
            Some(p) => number(&ctx.templar.render_value(p, &scope).map_err(|e| e.message)?)
                .ok_or_else(|| "loop_control.pause must be a number of seconds".to_string())?,
        };
        Ok((e, pause))
    }) {
        Ok(v) => v,
        Err(msg) => return fail_early(msg),
    };
    let mut results = Vec::new();
    let mut item_results = Vec::new();
    let mut timings = Vec::new();
    // Facts set by earlier items (set_fact in a loop) are seen by later ones.
    let mut loop_facts = Vars::new();
    let mut delegated = Vec::new();
    let mut speculate = speculates(ctx, t, pause, items.len());
    let speculated = speculate;
    for (index, item) in items.iter().enumerate() {
        if index > 0 && pause > 0.0 {
            tokio::time::sleep(std::time::Duration::from_secs_f64(pause)).await;
        }
        if speculate && index % SPECULATED_ITEMS == 0 {
            let ahead = (index..items.len().min(index + SPECULATED_ITEMS)).map(|j| {
                let mut layer = loop_facts.clone();
                layer.extend(loop_item_vars(lc, &settings, &items, j));
                layer
            });
            let at = speculation::connection_id(host.conn.as_ref());
            let mut probes = Vec::new();
            for layer in ahead.collect::<Vec<_>>() {
                let scope = Scope::with_layers(layers(ctx, t, host, Some(&layer), &magic))
                    .with_special("hostvars", hostvars.clone());
                match speculation::discover(run_item(ctx, t, host, &scope, None)).await {
                    Some(first) if first.request.read_only && first.connection == at => {
                        probes.push((first.request, first.escalation));
                    }
                    // Not a probe first (a command), or elsewhere: the items
                    // run as they come.
                    Some(_) => {
                        speculate = false;
                        break;
                    }
                    // Skipped (`when`): asks nothing.
                    None => {}
                }
            }
            if speculate {
                host.conn.prefetch(probes).await;
            }
        }
        let item_vars = loop_item_vars(lc, &settings, &items, index);
        let mut layer = loop_facts.clone();
        layer.extend(item_vars.clone());
        let own_magic = item_magic(ctx, t, host, &layer, &magic);
        let magic = own_magic.as_ref().unwrap_or(&magic);
        let mut item_scope = Scope::with_layers(layers(ctx, t, host, Some(&layer), magic))
            .with_special("hostvars", hostvars.clone());
        if let Some(raw) = written.as_ref().and_then(|w| w.get(index)) {
            item_scope = item_scope.with_written(&settings.var, raw.clone());
        }
        let (mut r, timing) = timed_item(ctx, t, host, &item_scope, Some(label_text(item))).await;
        timings.push(timing);
        // `loop_control.label` is rendered after the item ran, with its
        // result under the register name, as Ansible does; an error there
        // fails the item.
        if let Some(l) = &lc.label {
            let mut reg = Vars::new();
            if let Some(name) = &t.task.register {
                reg.insert(name.clone(), r.result.clone());
            }
            match ctx.templar.render_value(l, &item_scope.child(&reg)) {
                Ok(v) => r.label = Some(label_text(&v)),
                Err(e) => {
                    r.fail(e.message);
                    if ignore(ctx, t, &item_scope) {
                        r.status = Status::Ignored;
                    }
                }
            }
        }
        delegated.extend(take_delegated_facts(ctx, t, host, &item_scope, &mut r));
        if let Value::Object(m) = &mut r.result {
            m.extend(item_vars);
        }
        for (k, v) in &r.facts {
            loop_facts.insert(k.clone(), v.clone());
        }
        results.push(r.result.clone());
        mark_delegated(ctx, t, host, &item_scope, &mut r);
        let mut stop = r.status == Status::Unreachable;
        // `break_when`: sees the item's result under the register name.
        if !stop && let Some(bw) = &lc.break_when {
            let mut reg = Vars::new();
            if let Some(name) = &t.task.register {
                reg.insert(name.clone(), r.result.clone());
            }
            match ctx
                .templar
                .eval_condition(&bw.value, &item_scope.child(&reg))
            {
                Ok(b) => stop = b,
                Err(e) => {
                    r.fail(conditional_failure(&e));
                    stop = true;
                }
            }
        }
        item_results.push(r);
        if stop {
            break;
        }
    }
    if speculated {
        // Whatever was sent ahead and not asked for (a `break_when`).
        host.conn.prefetch(Vec::new()).await;
    }
    let any = |s: Status| item_results.iter().any(|r| r.status == s);
    let changed = any(Status::Changed)
        || item_results
            .iter()
            .any(|r| r.result.get("changed") == Some(&Value::Bool(true)));
    let failed = any(Status::Failed);
    let all_skipped =
        !item_results.is_empty() && item_results.iter().all(|r| r.status == Status::Skipped);
    let status = if any(Status::Unreachable) {
        Status::Unreachable
    } else if failed {
        if item_results
            .iter()
            .all(|r| r.status != Status::Failed || ignore(ctx, t, &scope))
        {
            Status::Ignored
        } else {
            Status::Failed
        }
    } else if any(Status::Ignored) {
        Status::Ignored
    } else if all_skipped || item_results.is_empty() {
        Status::Skipped
    } else if changed {
        Status::Changed
    } else {
        Status::Ok
    };
    let mut registered = Map::new();
    registered.insert("results".into(), Value::Array(results));
    registered.insert("changed".into(), Value::Bool(changed));
    registered.insert(
        "skipped".into(),
        Value::Bool(all_skipped || item_results.is_empty()),
    );
    if item_results.is_empty() {
        registered.insert("skipped_reason".into(), "No items in the list".into());
    } else if failed || any(Status::Ignored) {
        registered.insert("failed".into(), Value::Bool(true));
        registered.insert("msg".into(), "One or more items failed".into());
    } else {
        registered.insert("msg".into(), "All items completed".into());
    }
    TaskOutcome {
        items: item_results,
        looped: true,
        registered: Value::Object(registered),
        status,
        no_log,
        timings,
        delegated,
    }
}

/// `ignore_unreachable` of the task (or else the play).
fn ignores_unreachable(ctx: &PlayCtx<'_>, t: &CompiledTask, host: &HostState) -> bool {
    t.task
        .ignore_unreachable
        .as_ref()
        .or(ctx.play.play.ignore_unreachable.as_ref())
        .is_some_and(|v| keyword_truthy(ctx, t, host, v))
}

fn ignore(ctx: &PlayCtx<'_>, t: &CompiledTask, scope: &Scope<'_>) -> bool {
    keyword_bool(
        ctx,
        scope,
        t.task.ignore_errors.as_ref(),
        ctx.play.play.ignore_errors.as_ref(),
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Ansible's message for a conditional that could not be evaluated.
pub(crate) fn conditional_failure(e: &TemplateError) -> String {
    format!("Task failed: {}", conditional_error(e))
}

/// ansible-core 2.19's text for a condition that could not be evaluated
/// (`changed_when_result`, `failed_when_result`; [`conditional_failure`]
/// for the task's `msg`).
pub(crate) fn conditional_error(e: &TemplateError) -> String {
    if e.message == crate::template::UNTRUSTED {
        e.message.clone()
    } else {
        format!("Error while evaluating conditional: {}", e.message)
    }
}

/// What Ansible 2.19 puts in a failed result's `exception` when tracebacks
/// are not shown (tend has no Python traceback to give).
pub(crate) const NO_TRACEBACK: &str = "(traceback unavailable)";

impl ItemResult {
    /// A `changed_when`/`failed_when` that could not be evaluated fails the
    /// task, the error under `<keyword>_result`, as Ansible does.
    fn fail_condition(&mut self, keyword: &str, e: &TemplateError) {
        set(
            &mut self.result,
            &format!("{keyword}_result"),
            Value::String(conditional_error(e)),
        );
        set(&mut self.result, "failed", Value::Bool(true));
        self.status = Status::Failed;
    }

    /// Turns this result into a failure with `msg`.
    fn fail(&mut self, msg: String) {
        set(&mut self.result, "failed", Value::Bool(true));
        set(&mut self.result, "msg", Value::String(msg));
        self.status = Status::Failed;
    }

    /// A result with nothing but its status and value.
    fn plain(label: Option<String>, status: Status, result: Value) -> Self {
        ItemResult {
            label,
            status,
            result,
            diffs: Vec::new(),
            facts: Map::new(),
            end_host: false,
            verbose_always: false,
            retries_left: Vec::new(),
            subject: None,
        }
    }

    /// Skipped by a false `when`.
    fn skipped(label: Option<String>, when: &Value) -> Self {
        Self::plain(
            label,
            Status::Skipped,
            json!({"changed": false, "skipped": true, "skip_reason": "Conditional result was False", "false_condition": when}),
        )
    }

    fn failed(label: Option<String>, msg: String) -> Self {
        Self::plain(
            label,
            Status::Failed,
            json!({"failed": true, "msg": msg, "changed": false, "exception": NO_TRACEBACK}),
        )
    }
}

async fn run_item(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
    label: Option<String>,
) -> ItemResult {
    let ignore_errors = ignore(ctx, t, scope);
    let failed_status = if ignore_errors {
        Status::Ignored
    } else {
        Status::Failed
    };
    if let Some(when) = &t.task.when {
        match ctx.templar.eval_condition(&when.value, scope) {
            Ok(true) => {}
            Ok(false) => return ItemResult::skipped(label, &when.value),
            Err(e) => {
                let mut r = ItemResult::failed(
                    label,
                    format!("{} (in {})", conditional_failure(&e), when.span.location()),
                );
                r.status = failed_status;
                return r;
            }
        }
    }
    // until / retries / delay, as Ansible's task executor: the task runs once
    // plus `retries` more times (3 when only `until` is set) until the
    // condition holds (`until`, else the task not failing).
    let retries = match t
        .task
        .retries
        .as_ref()
        .map(|r| ctx.templar.render_value(r, scope))
    {
        None if t.task.until.is_some() => 4,
        None => 1,
        Some(Ok(v)) => match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(n) => 1 + n.max(0),
            None => {
                return ItemResult::failed(
                    label,
                    format!("retries must be an integer, got {}", text(&v)),
                );
            }
        },
        Some(Err(e)) => return ItemResult::failed(label, e.message),
    };
    if retries <= 1 {
        let mut item = attempt(ctx, t, host, scope, label, failed_status, None).await;
        if item.status == Status::Failed && ignore_errors {
            item.status = Status::Ignored;
        }
        return item;
    }
    let delay = match t
        .task
        .delay
        .as_ref()
        .map(|d| ctx.templar.render_value(d, scope))
    {
        None => 5.0,
        Some(Ok(v)) => match v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(d) if d >= 0.0 => d,
            _ => {
                return ItemResult::failed(
                    label,
                    format!("delay must be a number, got {}", text(&v)),
                );
            }
        },
        Some(Err(e)) => return ItemResult::failed(label, e.message),
    };
    let mut n = 1;
    let mut retries_left = Vec::new();
    loop {
        let mut item = attempt(ctx, t, host, scope, label.clone(), failed_status, Some(n)).await;
        if item.status == Status::Unreachable {
            return item;
        }
        let done = match &t.task.until {
            Some(until) => {
                let mut layer = Vars::new();
                if let Some(reg) = &t.task.register {
                    layer.insert(reg.clone(), item.result.clone());
                }
                let s2 = scope.child(&layer);
                match ctx.templar.eval_condition(&until.value, &s2) {
                    Ok(done) => done,
                    Err(e) => {
                        let mut r = ItemResult::failed(label, conditional_failure(&e));
                        r.status = failed_status;
                        return r;
                    }
                }
            }
            None => item.status != Status::Failed,
        };
        if done || n >= retries {
            if !done {
                // Out of attempts: Ansible reports `retries` (one less than the runs).
                set(&mut item.result, "attempts", (retries - 1).into());
                set(&mut item.result, "failed", Value::Bool(true));
                // As Ansible's TaskResult: a `failed_when` that held false
                // decides, even over the exhausted retries.
                if item.result.get("failed_when_result") != Some(&Value::Bool(false)) {
                    item.status = Status::Failed;
                }
            }
            if item.status == Status::Failed && ignore_errors {
                item.status = Status::Ignored;
            }
            item.retries_left = retries_left;
            return item;
        }
        retries_left.push(retries - n);
        n += 1;
        tokio::time::sleep(std::time::Duration::from_secs_f64(delay)).await;
    }
}

/// `assert` arguments from a template (`assert: "{{ item }}"`): a condition
/// that was a template where it was written (`written`, the arguments as
/// written in the playbook) and rendered to text is marked untrusted, as
/// Ansible 2.19 refuses it; unknown origins are left as they are.
fn untrusted_conditions(args: &Value, written: Option<Value>) -> Value {
    let Some(written_that) = written.as_ref().and_then(|w| w.get("that")) else {
        return args.clone();
    };
    let mark = |rendered: &Value, raw: Option<&Value>| match (rendered, raw) {
        (Value::String(text), Some(Value::String(raw))) if crate::template::is_template(raw) => {
            crate::template::unsafe_value(text)
        }
        _ => rendered.clone(),
    };
    let mut out = args.clone();
    if let Some(that) = out.get_mut("that") {
        *that = match (&*that, written_that) {
            (Value::Array(items), Value::Array(raw)) if items.len() == raw.len() => Value::Array(
                items
                    .iter()
                    .zip(raw)
                    .map(|(i, r)| mark(i, Some(r)))
                    .collect(),
            ),
            (one, raw) => mark(one, Some(raw)),
        };
    }
    out
}

/// A `setup` task on one host: its facts gathered on the task's connection
/// (become, environment, delegation), in check mode too.
async fn setup_item(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
    args: &Value,
    label: Option<String>,
    failed_status: Status,
) -> ItemResult {
    let request = match super::setup::task_request(args) {
        Ok(r) => r,
        Err(msg) => return ItemResult::failed(label, msg),
    };
    let mut conn = match escalation(ctx, t, host, scope) {
        Ok(c) => c,
        Err(msg) => return ItemResult::failed(label, msg),
    };
    conn.deadline = super::setup::deadline(&request);
    let gathered =
        super::setup::gather(&request, async |e| tend_modules::Host::exec(&conn, e).await).await;
    let status = match &gathered {
        Ok(_) => Status::Ok,
        Err(super::setup::GatherError::Unreachable(_)) => Status::Unreachable,
        Err(_) => failed_status,
    };
    ItemResult::plain(label, status, super::setup::task_result(&gathered))
}

/// One run of a task's action on one host, with changed_when/failed_when applied.
async fn attempt(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
    label: Option<String>,
    failed_status: Status,
    attempts: Option<i64>,
) -> ItemResult {
    let check = match keyword_bool(
        ctx,
        scope,
        t.task.check_mode.as_ref(),
        ctx.play.play.check_mode.as_ref(),
    ) {
        Ok(v) => v.unwrap_or(ctx.opts.check),
        Err(e) => return ItemResult::failed(label, e.message),
    };
    let diff = match keyword_bool(
        ctx,
        scope,
        t.task.diff.as_ref(),
        ctx.play.play.diff.as_ref(),
    ) {
        Ok(v) => v.unwrap_or(ctx.opts.diff),
        Err(e) => return ItemResult::failed(label, e.message),
    };
    if let Some(msg) = &t.deferred_error {
        // The module's argument error, found at compile time: the task
        // fails as the module would, and `failed_when` still judges it.
        return judged(
            ctx,
            t,
            scope,
            ItemResult::failed(label, msg.clone()),
            attempts,
        );
    }
    // `assert`'s `that` holds expressions, evaluated as conditionals (not
    // templated as an argument), unless it is wholly a template.
    let expressions = match (&t.action, t.args.get("that")) {
        (Action::Builtin(Builtin::Assert), Some(Value::String(s))) => {
            !crate::template::all_template(s.trim())
        }
        (Action::Builtin(Builtin::Assert), Some(Value::Array(_))) => true,
        _ => false,
    };
    let rendered = if expressions {
        let mut rest = t.args.clone();
        let that = rest.as_object_mut().and_then(|m| m.remove("that"));
        ctx.templar.render_value(&rest, scope).map(|mut v| {
            if let (Value::Object(m), Some(that)) = (&mut v, that) {
                m.insert("that".into(), that);
            }
            v
        })
    } else {
        ctx.templar.render_value(&t.args, scope)
    };
    let mut args = match rendered {
        Ok(v) => v,
        Err(e) => {
            let mut r = ItemResult::failed(
                label,
                format!(
                    "{} (in {})",
                    args_failure(ctx, t, scope, &e),
                    t.task.span.location()
                ),
            );
            r.status = failed_status;
            return r;
        }
    };
    if let Some(splat) = &t.splat {
        match ctx.templar.render_string(splat, scope) {
            // `args: "{{ omit }}"`: no arguments from there.
            Ok(Value::String(s)) if s == OMIT => {}
            Ok(Value::Object(extra)) => {
                if let Value::Object(m) = &mut args {
                    for (k, v) in extra {
                        m.entry(k).or_insert(v);
                    }
                }
            }
            Ok(other) => {
                let mut r = ItemResult::failed(
                    label,
                    format!(
                        "Finalization of task args for '{}' failed: the arguments must render to a mapping, got {}",
                        t.task.module.value,
                        crate::compile::actions::python_type(&other)
                    ),
                );
                r.status = failed_status;
                return r;
            }
            Err(e) => {
                let mut r = ItemResult::failed(label, e.message);
                r.status = failed_status;
                return r;
            }
        }
    }
    drop_omitted(&mut args);
    let item = match t.action {
        Action::Builtin(b) => {
            let splat_raw;
            let raw = match &t.splat {
                Some(splat) if b == Builtin::Assert => {
                    splat_raw = untrusted_conditions(&args, scope.passed_through(splat));
                    &splat_raw
                }
                Some(_) => &args,
                None => &t.args,
            };
            if b == Builtin::Setup {
                return setup_item(ctx, t, host, scope, &args, label, failed_status).await;
            }
            let r = if b == Builtin::AddHost {
                let r = ctx.inventory.add_host(&args);
                // A host added for real joins `ansible_play_hosts(_all)`
                // for the rest of the play, as in Ansible.
                if r.result.get("changed") == Some(&Value::Bool(true))
                    && let Some(name) = r.result["add_host"]["host_name"].as_str()
                {
                    let mut added = ctx.added_hosts.borrow_mut();
                    if !added.iter().any(|h| h == name) {
                        added.push(name.to_string());
                    }
                }
                r
            } else if b == Builtin::GroupBy {
                ctx.inventory.group_by(&host.name, &args)
            } else if b == Builtin::IncludeVars {
                let role = t.task.role.as_ref().map(|r| r.path.as_path());
                let mut r = super::include_vars::run(&args, role, &ctx.book.dir);
                // The loaded values may be templates (referring to each other):
                // rendered now, in the task's scope; left as written when they
                // cannot be yet.
                let loaded = std::mem::take(&mut r.facts);
                let s2 = scope.child_layer(&loaded, true);
                for (k, v) in &loaded {
                    let v = ctx
                        .templar
                        .render_value(v, &s2)
                        .unwrap_or_else(|_| v.clone());
                    r.facts.insert(k.clone(), v);
                }
                if let Value::Object(m) = &mut r.result
                    && m.contains_key("ansible_facts")
                {
                    m.insert("ansible_facts".into(), Value::Object(r.facts.clone()));
                }
                r
            } else {
                builtin::run(
                    b,
                    &args,
                    raw,
                    ctx.templar,
                    scope,
                    ctx.opts.verbosity,
                    host.conn.as_ref(),
                )
                .await
            };
            let status = if r.failed {
                Status::Failed
            } else if r.skipped {
                Status::Skipped
            } else if r.result.get("changed") == Some(&Value::Bool(true)) {
                Status::Changed
            } else {
                Status::Ok
            };
            ItemResult {
                label,
                status,
                result: r.result,
                diffs: Vec::new(),
                facts: r.facts,
                end_host: r.end_host,
                verbose_always: r.verbose_always,
                retries_left: Vec::new(),
                subject: None,
            }
        }
        Action::Module(m) => {
            if let Err(msg) = prepare_local_content(
                ctx,
                t.task.role.as_ref().map(|r| r.path.as_path()),
                m.name(),
                &mut args,
                scope,
            ) {
                let mut r = ItemResult::failed(label, msg);
                r.status = failed_status;
                return r;
            }
            if m.name() == "fetch"
                && let Value::Object(a) = &mut args
            {
                a.insert("_hostname".into(), host.name.clone().into());
                a.insert(
                    "_base_dir".into(),
                    ctx.book.dir.display().to_string().into(),
                );
            }
            let mut conn = match escalation(ctx, t, host, scope) {
                Ok(c) => c,
                Err(msg) => return ItemResult::failed(label, msg),
            };
            // `raw` runs its command as it is: no environment (Ansible warns).
            let raw_env_ignored = m.name() == "raw" && !conn.environment.is_empty();
            if raw_env_ignored {
                conn.environment.clear();
            }
            let mctx = Context {
                check_mode: check,
                diff,
            };
            let timeout = match play_default(&t.task.timeout, &ctx.play.play.timeout)
                .map(|v| ctx.templar.render_value(v, scope))
            {
                None => None,
                Some(Ok(v)) => match v
                    .as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                {
                    Some(secs) if secs > 0.0 => Some(std::time::Duration::from_secs_f64(secs)),
                    Some(_) => None,
                    None => {
                        return ItemResult::failed(
                            label,
                            format!("timeout must be a number of seconds, got {}", text(&v)),
                        );
                    }
                },
                Some(Err(e)) => return ItemResult::failed(label, e.message),
            };
            conn.deadline = timeout.map(|limit| std::time::Instant::now() + limit);
            let run = m.run(&args, &mctx, &conn);
            let result = match timeout {
                None => run.await,
                Some(limit) => match tokio::time::timeout(limit, run).await {
                    Ok(r) => r,
                    Err(_) => {
                        // The remote command was started under `timeout` (see
                        // `Escalated::deadline`), which kills it there too.
                        // ansible-core 2.19's message and `timedout`.
                        let secs = limit.as_secs_f64();
                        let period = if secs.fract() == 0.0 {
                            json!(secs as u64)
                        } else {
                            json!(secs)
                        };
                        let mut r = ItemResult::failed(
                            label,
                            format!("Task failed: Timed out after {period} second(s)."),
                        );
                        set(
                            &mut r.result,
                            "timedout",
                            json!({"frame": TIMEOUT_FRAME, "period": period}),
                        );
                        r.status = failed_status;
                        return r;
                    }
                },
            };
            let result = match (result, m.name()) {
                (Ok(mut outcome), "fetch") => finish_fetch(&mut outcome).map(|()| outcome),
                (Ok(mut outcome), "raw") if raw_env_ignored => {
                    add_warning(&mut outcome.values, RAW_ENVIRONMENT);
                    Ok(outcome)
                }
                (other, _) => other,
            };
            match result {
                Ok(outcome) => {
                    let status = if outcome.failed {
                        Status::Failed
                    } else if outcome.skipped {
                        Status::Skipped
                    } else if outcome.changed {
                        Status::Changed
                    } else {
                        Status::Ok
                    };
                    ItemResult {
                        label,
                        status,
                        subject: outcome.subject.clone(),
                        result: outcome.to_value(),
                        // Shown only for a change, as Ansible's callbacks do
                        // (`file` returns its diff either way).
                        diffs: if outcome.changed {
                            outcome.diff
                        } else {
                            Vec::new()
                        },
                        facts: Map::new(),
                        end_host: false,
                        verbose_always: false,
                        retries_left: Vec::new(),
                    }
                }
                Err(ModuleError::Host(tend_modules::HostError::Unreachable(msg))) => ItemResult {
                    label,
                    status: Status::Unreachable,
                    result: json!({"unreachable": true, "msg": msg, "changed": false}),
                    diffs: Vec::new(),
                    facts: Map::new(),
                    end_host: false,
                    verbose_always: false,
                    retries_left: Vec::new(),
                    subject: None,
                },
                Err(ModuleError::Failed { msg, values }) => {
                    let mut m = values;
                    m.insert("failed".into(), Value::Bool(true));
                    m.insert("msg".into(), Value::String(msg));
                    m.entry("changed").or_insert(Value::Bool(false));
                    tend_modules::outcome::split_std_lines(&mut m);
                    ItemResult {
                        label,
                        status: Status::Failed,
                        result: Value::Object(m),
                        diffs: Vec::new(),
                        facts: Map::new(),
                        end_host: false,
                        verbose_always: false,
                        retries_left: Vec::new(),
                        subject: None,
                    }
                }
                Err(other) => ItemResult::failed(label, other.to_string()),
            }
        }
    };
    judged(ctx, t, scope, item, attempts)
}

/// An item's result with `changed_when` and `failed_when` applied.
fn judged(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    scope: &Scope<'_>,
    mut item: ItemResult,
    attempts: Option<i64>,
) -> ItemResult {
    if item.status == Status::Unreachable {
        return item;
    }
    // With retries, `attempts` is there for changed_when/failed_when (and until).
    if let Some(n) = attempts {
        set(&mut item.result, "attempts", n.into());
    }
    // A module's failure is an exception in Ansible 2.19's results.
    if item.status == Status::Failed
        && matches!(t.action, Action::Module(_))
        && let Value::Object(m) = &mut item.result
    {
        m.entry("exception").or_insert(NO_TRACEBACK.into());
    }
    // changed_when / failed_when see the result under the register name.
    if t.task.changed_when.is_some() || t.task.failed_when.is_some() {
        let mut layer = Vars::new();
        if let Some(reg) = &t.task.register {
            layer.insert(reg.clone(), item.result.clone());
        }
        if let Value::Object(m) = &item.result {
            for (k, v) in m {
                layer.entry(k.clone()).or_insert(v.clone());
            }
        }
        let s2 = scope.child(&layer);
        if let Some(cw) = &t.task.changed_when {
            match ctx.templar.eval_condition(&cw.value, &s2) {
                Ok(c) => {
                    set(&mut item.result, "changed", Value::Bool(c));
                    if item.status == Status::Changed || item.status == Status::Ok {
                        item.status = if c { Status::Changed } else { Status::Ok };
                    }
                }
                Err(e) => item.fail_condition("changed_when", &e),
            }
        }
        if let Some(fw) = &t.task.failed_when {
            match ctx.templar.eval_condition(&fw.value, &s2) {
                Ok(f) => {
                    set(&mut item.result, "failed_when_result", Value::Bool(f));
                    set(&mut item.result, "failed", Value::Bool(f));
                    if f {
                        item.status = Status::Failed;
                    } else {
                        // As Ansible: the error `failed_when` overrode is kept aside.
                        if let Value::Object(m) = &mut item.result
                            && let Some(e) = m.shift_remove("exception")
                        {
                            m.insert("failed_when_suppressed_exception".into(), e);
                        }
                        if item.status == Status::Failed {
                            let changed = item.result.get("changed") == Some(&Value::Bool(true));
                            item.status = if changed { Status::Changed } else { Status::Ok };
                        }
                    }
                }
                Err(e) => item.fail_condition("failed_when", &e),
            }
        }
    }
    item
}

fn set(result: &mut Value, key: &str, v: Value) {
    if let Value::Object(m) = result {
        m.insert(key.to_string(), v);
    }
}

fn drop_omitted(args: &mut Value) {
    if let Value::Object(m) = args {
        m.retain(|_, v| v.as_str() != Some(OMIT));
    }
}

/// fetch: writes the content the module read on the target to its
/// controller path, atomically, when the controller's copy differs.
fn finish_fetch(outcome: &mut tend_modules::Outcome) -> Result<(), ModuleError> {
    use sha1::Digest;
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let Some(Value::String(b64)) = outcome.values.remove("_content_b64") else {
        return Ok(());
    };
    let validate = outcome.values.remove("_validate_checksum") != Some(Value::Bool(false));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| ModuleError::failed(format!("fetch: invalid content: {e}")))?;
    let text = |k: &str| {
        outcome
            .values
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (dest, remote) = (text("dest"), text("remote_checksum"));
    let path = std::path::Path::new(&dest);
    if path.is_dir() {
        return Err(ModuleError::failed(format!(
            "dest is an existing directory, use a trailing slash if you want to fetch src into that directory: {dest}"
        )));
    }
    let local = std::fs::read(path).ok();
    let local_sum = local.as_deref().map(|b| hex(&sha1::Sha1::digest(b)));
    let fail = |msg: String| {
        ModuleError::failed(msg)
            .with("file", text("file"))
            .with("dest", dest.clone())
    };
    if local_sum.as_deref() != Some(remote.as_str()) {
        let new_sum = hex(&sha1::Sha1::digest(&bytes));
        if validate && new_sum != remote {
            return Err(fail("checksum mismatch".into())
                .with("checksum", new_sum)
                .with("remote_checksum", remote));
        }
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| fail(format!("Failed to fetch the file: {}: {e}", dir.display())))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| fail(format!("Failed to fetch the file: {e}")))?;
        std::io::Write::write_all(&mut tmp, &bytes)
            .map_err(|e| fail(format!("Failed to fetch the file: {e}")))?;
        // A new controller file reads like one Ansible writes (0644), not 0600.
        let _ = std::fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        );
        tmp.persist(path)
            .map_err(|e| fail(format!("Failed to fetch the file: {e}")))?;
        outcome.changed = true;
        outcome.values.remove("file");
        outcome.values.insert("checksum".into(), new_sum.into());
    } else {
        outcome
            .values
            .insert("checksum".into(), local_sum.unwrap_or_default().into());
        outcome.values.remove("remote_md5sum");
        outcome.values.remove("remote_checksum");
    }
    let written = std::fs::read(path).unwrap_or_default();
    outcome
        .values
        .insert("md5sum".into(), hex(&md5::Md5::digest(&written)).into());
    Ok(())
}

/// copy/template: read the controller-side source and pass its content.
fn prepare_local_content(
    ctx: &PlayCtx<'_>,
    role: Option<&std::path::Path>,
    module: &str,
    args: &mut Value,
    scope: &Scope<'_>,
) -> Result<(), String> {
    if module == "script" {
        let Some(src) = crate::compile::script_path(args) else {
            return Ok(());
        };
        let path = crate::compile::find_src(role, &ctx.book.dir, "files", &src)
            .map_err(|_| crate::compile::missing_src_message(module, &src))?;
        let decrypt = args.get("decrypt").is_none_or(truthy);
        let bytes = read_controller_src(&path, decrypt)?;
        if let Value::Object(m) = args {
            m.insert(
                "_content_b64".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
        return Ok(());
    }
    let Value::Object(m) = args else {
        return Ok(());
    };
    let remote = m.get("remote_src").map(truthy).unwrap_or(false);
    let Some(src) = m
        .get("src")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
    else {
        return Ok(());
    };
    match module {
        "template" => {
            let path = crate::compile::find_src(role, &ctx.book.dir, "templates", &src)
                .map_err(|_| format!("Could not find or access '{src}'"))?;
            // A vault-encrypted template is decrypted, as Ansible does.
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("Could not read '{}': {e}", path.display()))
                .and_then(|b| crate::vault::decrypt_file(&path, b).map_err(|e| e.to_string()))?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| format!("Could not read '{}': not UTF-8 text", path.display()))?;
            let mut extra = Vars::new();
            extra.insert("template_path".into(), path.display().to_string().into());
            extra.insert("template_host".into(), "localhost".into());
            extra.insert("template_uid".into(), "root".into());
            extra.insert(
                "template_fullpath".into(),
                std::fs::canonicalize(&path)
                    .unwrap_or(path.clone())
                    .display()
                    .to_string()
                    .into(),
            );
            // The default `ansible_managed`, unless the play or task sets one.
            if scope.raw("ansible_managed").is_none() {
                extra.insert("ansible_managed".into(), "Ansible managed".into());
            }
            if let Some(dest) = m.get("dest").and_then(Value::as_str) {
                extra.insert("template_destpath".into(), dest.into());
            }
            let flag = |k: &str, default: bool| m.get(k).map(truthy).unwrap_or(default);
            let mut options = crate::template::FileOptions {
                trim_blocks: flag("trim_blocks", true),
                lstrip_blocks: flag("lstrip_blocks", false),
                ..crate::template::FileOptions::default()
            };
            for key in [
                "variable_start_string",
                "variable_end_string",
                "block_start_string",
                "block_end_string",
                "comment_start_string",
                "comment_end_string",
            ] {
                if let Some(v) = m.get(key).and_then(Value::as_str) {
                    options
                        .set(key, v)
                        .map_err(|e| format!("template: {}", e.message))?;
                }
            }
            let dirs = crate::template::include_dirs(&path);
            let rendered = ctx
                .templar
                .render_file_with(&text, scope, &extra, options, &dirs)
                .map_err(|e| format!("{}: {}", path.display(), e.message))?;
            m.insert("_content".into(), Value::String(rendered));
            insert_src_mode(m, &path);
        }
        "copy" | "unarchive" if !remote => {
            let path = crate::compile::find_src(role, &ctx.book.dir, "files", &src)
                .map_err(|_| crate::compile::missing_src_message(module, &src))?;
            if path.is_dir() {
                if module == "unarchive" {
                    return Err(format!(
                        "unarchive: a directory as src ('{src}') is not supported"
                    ));
                }
                return insert_local_tree(m, &path, &src);
            }
            let bytes = read_controller_src(&path, m.get("decrypt").is_none_or(truthy))?;
            insert_src_mode(m, &path);
            m.insert(
                "_content_b64".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
        _ => {}
    }
    Ok(())
}

/// copy: a controller-side directory `src`, walked as Ansible's copy action
/// walks it, goes to the module as `_tree` (every file's content and mode,
/// the directories and the symlinks); `dest` is then a directory.
fn insert_local_tree(
    m: &mut Map<String, Value>,
    path: &std::path::Path,
    src: &str,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let follow = m.get("local_follow").is_none_or(truthy);
    let decrypt = m.get("decrypt").is_none_or(truthy);
    let walk = super::local_tree::walk(path, src.ends_with('/'), follow)
        .map_err(|e| format!("Could not read '{}': {e}", path.display()))?;
    let mut files = Vec::new();
    for (file, rel) in &walk.files {
        let bytes = read_controller_src(file, decrypt)?;
        let mode = std::fs::metadata(file)
            .map(|meta| format!("{:04o}", meta.permissions().mode() & 0o7777))
            .map_err(|e| format!("Could not read '{}': {e}", file.display()))?;
        files.push(serde_json::json!({
            "rel": rel,
            "b64": base64::engine::general_purpose::STANDARD.encode(bytes),
            "mode": mode,
        }));
    }
    let links: Vec<Value> = walk
        .links
        .iter()
        .map(|(target, rel)| serde_json::json!({"rel": rel, "target": target}))
        .collect();
    m.insert(
        "_tree".into(),
        serde_json::json!({"dirs": walk.dirs, "files": files, "links": links}),
    );
    insert_src_mode(m, path);
    Ok(())
}

/// A controller-side source (`copy`, `unarchive`, `script`); with `decrypt`
/// (the modules' default), a vault-encrypted file is read decrypted.
fn read_controller_src(path: &std::path::Path, decrypt: bool) -> Result<Vec<u8>, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("Could not read '{}': {e}", path.display()))?;
    if !decrypt {
        return Ok(bytes);
    }
    crate::vault::decrypt_file(path, bytes)
        .map(|b| b.to_vec())
        .map_err(|e| match e.kind {
            // Ansible's copy action's message.
            crate::vault::ErrorKind::NoSecrets(_) => format!(
                "{e}: A vault password or secret must be specified to decrypt {}",
                path.display()
            ),
            _ => e.to_string(),
        })
}

/// `mode: preserve` needs the controller-side source's mode.
fn insert_src_mode(args: &mut Map<String, Value>, path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        args.insert(
            "_src_mode".into(),
            Value::String(format!("{:04o}", meta.permissions().mode() & 0o7777)),
        );
    }
}

/// The become settings `spec` (keywords) and the `ansible_become*`
/// variables of `scope` give: None without become.
pub(crate) fn become_spec(
    ctx: &PlayCtx<'_>,
    spec: &crate::playbook::Become,
    scope: &Scope<'_>,
) -> Result<Option<BecomeSpec>, String> {
    let render = |v: &Option<Value>, var: &str| -> Result<Option<Value>, String> {
        match v {
            Some(v) => ctx
                .templar
                .render_value(v, scope)
                .map(Some)
                .map_err(|e| e.message),
            // `ansible_become*` from any variable source (inventory, play vars, -e).
            None => match scope.raw(var) {
                Some(v) => ctx
                    .templar
                    .render_value(&v, scope)
                    .map(Some)
                    .map_err(|e| e.message),
                None => Ok(None),
            },
        }
    };
    let enabled = render(&spec.enabled, "ansible_become")?
        .map(|v| truthy(&v))
        .unwrap_or(false);
    Ok(if enabled {
        let user = render(&spec.user, "ansible_become_user")?
            .map(|v| text(&v))
            .unwrap_or_else(|| "root".into());
        let method = render(&spec.method, "ansible_become_method")?
            .map(|v| text(&v))
            .unwrap_or_else(|| "sudo".into());
        let flags = render(&spec.flags, "ansible_become_flags")?.map(|v| text(&v));
        let password = match render(&None, "ansible_become_password")? {
            Some(v) => Some(v),
            None => render(&None, "ansible_become_pass")?,
        }
        .filter(|v| !v.is_null())
        .map(|v| crate::connection::Password(text(&v)));
        Some(BecomeSpec {
            method,
            user,
            flags,
            password,
        })
    } else {
        None
    })
}

/// The play's become for `host`, from its keywords and the variables known
/// before any task (inventory, play, extra, magic): fact gathering runs
/// under it, as Ansible's implicit `setup` task does.
pub(crate) fn play_become(
    ctx: &PlayCtx<'_>,
    host: &HostState,
) -> Result<Option<BecomeSpec>, String> {
    with_play_scope(ctx, host, |scope| {
        become_spec(ctx, &ctx.play.play.escalation, scope)
    })
}

/// Calls `f` with the variables a play-level keyword sees on `host` (before
/// any task ran: inventory, play vars, `vars_files`, `-e`, magic variables).
pub(crate) fn with_play_scope<R>(
    ctx: &PlayCtx<'_>,
    host: &HostState,
    f: impl FnOnce(&Scope<'_>) -> R,
) -> R {
    let magic = ctx.inventory.get().magic_vars(&host.name);
    let scope = Scope::with_layers(vec![
        (&host.inventory_vars, true),
        (&ctx.play_vars, true),
        (&host.vars_files, true),
        (&ctx.opts.extra_vars, true),
        (&magic, false),
    ]);
    f(&scope)
}

/// ansible-core 2.19's message for arguments that could not be templated:
/// it names the action and the first argument whose value failed.
fn args_failure(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    scope: &Scope<'_>,
    e: &TemplateError,
) -> String {
    let written = t.task.module.value.as_str();
    let short = written
        .strip_prefix("ansible.builtin.")
        .or_else(|| written.strip_prefix("ansible.legacy."))
        .unwrap_or(written);
    let failing = t.args.as_object().and_then(|m| {
        m.iter()
            .find(|(_, v)| ctx.templar.render_value(v, scope).is_err())
            .map(|(k, _)| k.clone())
    });
    // An undefined variable is named as it is; another error is one "of
    // rendering", without minijinja's "(line N of the template)".
    let why = if e.undefined {
        e.message.clone()
    } else {
        static LINE: std::sync::LazyLock<Option<regex::Regex>> =
            std::sync::LazyLock::new(|| regex::Regex::new(r" \(line \d+ of the template\)").ok());
        let plain = match LINE.as_ref() {
            Some(re) => re.replace_all(&e.message, "").into_owned(),
            None => e.message.clone(),
        };
        format!("Error rendering template: {plain}")
    };
    match failing {
        Some(key) => format!(
            "Task failed: Finalization of task args for 'ansible.builtin.{short}' failed: Error while resolving value for '{key}': {why}"
        ),
        None => e.message.clone(),
    }
}

/// The `timedout.frame` of ansible-core 2.19 (it names a traceback setting).
const TIMEOUT_FRAME: &str = "Configure `DISPLAY_TRACEBACK` to see a traceback on timeout errors.";

/// Ansible's warning for a `raw` task under an `environment`.
const RAW_ENVIRONMENT: &str = "raw module does not support the environment keyword";

/// Adds a warning to a result's `warnings` list.
fn add_warning(values: &mut Map<String, Value>, warning: &str) {
    let list = values
        .entry("warnings")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(l) = list {
        l.push(warning.into());
    }
}

/// The connection an item's module runs on: become, environment, deadline,
/// delegation and a task-level login.
fn escalation(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    host: &HostState,
    scope: &Scope<'_>,
) -> Result<Escalated, String> {
    let spec = t.task.escalation.inherit(&ctx.play.play.escalation);
    let become_spec = become_spec(ctx, &spec, scope)?;
    let env_value = match (&t.task.environment, &ctx.play.play.environment) {
        (None, None) => Value::Null,
        (task_env, play_env) => {
            let mut merged = Map::new();
            for e in [play_env, task_env].into_iter().flatten() {
                match ctx.templar.render_value(e, scope).map_err(|e| e.message)? {
                    Value::Object(m) => merged.extend(m),
                    Value::Null => {}
                    other => {
                        return Err(format!(
                            "environment must be a dictionary, got {}",
                            crate::compile::actions::python_type(&other)
                        ));
                    }
                }
            }
            Value::Object(merged)
        }
    };
    let environment = match env_value {
        Value::Object(m) => m.into_iter().map(|(k, v)| (k, text(&v))).collect(),
        _ => Vec::new(),
    };
    let inner = match &t.task.delegate_to {
        // A task-level `connection` (unless the inventory pins
        // `ansible_connection`, which wins as in Ansible).
        None if t.task.connection.is_some() && !host.connection_pinned => {
            task_connection(ctx, t, host, scope)?
        }
        // A task-level `remote_user` needs its own login (unless the
        // inventory pins `ansible_user`, which wins as in Ansible).
        None if t.task.remote_user.is_some() && !host.login_pinned => {
            let user = t
                .task
                .remote_user
                .as_ref()
                .map(|u| ctx.templar.render_value(u, scope))
                .transpose()
                .map_err(|e| e.message)?;
            let user = user.map(|u| text(&u));
            let vars = super::with_remote_user(&host.inventory_vars, user.as_deref(), false);
            if vars.get("ansible_connection").and_then(Value::as_str) == Some("local") {
                Arc::clone(&host.conn)
            } else {
                let mut logins = host
                    .logins
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match logins.get(user.as_deref().unwrap_or_default()) {
                    Some(conn) => Arc::clone(conn),
                    None => {
                        let conn = super::connection_for(&host.name, &vars, &basedir(ctx))?;
                        logins.insert(user.unwrap_or_default(), Arc::clone(&conn));
                        conn
                    }
                }
            }
        }
        None => Arc::clone(&host.conn),
        Some(d) => {
            let target = ctx.templar.render_value(d, scope).map_err(|e| e.message)?;
            delegated_connection(ctx, host, &text(&target))?
        }
    };
    Ok(Escalated {
        inner,
        escalation: become_spec,
        environment,
        deadline: None,
    })
}

/// The connection for `delegate_to`: the implicit localhost runs locally;
/// an inventory host is reached with its own connection variables.
fn delegated_connection(
    ctx: &PlayCtx<'_>,
    host: &HostState,
    target: &str,
) -> Result<Arc<dyn crate::connection::Connection>, String> {
    if target == host.name {
        return Ok(Arc::clone(&host.conn));
    }
    let inventory = ctx.inventory.get();
    if inventory.contains_host(target) {
        return super::connection_for(target, &inventory.host_vars(target), &basedir(ctx));
    }
    if matches!(target, "localhost" | "127.0.0.1" | "::1") {
        return Ok(Arc::new(crate::connection::local::Local::in_dir(&basedir(
            ctx,
        ))));
    }
    super::connection_for(target, &Vars::new(), &basedir(ctx))
}

/// Where a local connection's commands run: the playbook's directory, as
/// Ansible's loader basedir.
fn basedir(ctx: &PlayCtx<'_>) -> std::path::PathBuf {
    ctx.book.dir.clone()
}

pub(crate) use tend_modules::args::py_repr;

/// A loop item's label: strings as they are, everything else as Python shows it.
pub(crate) fn label_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Text of a value as Ansible shows it in messages and labels.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Why `tend plan` cannot tell a task's outcome (the result's `unknown`).
pub const UNKNOWN: &str = "unknown until applied: this failure in check mode may be due to changes earlier tasks have pending on this host";

/// `tend plan` ([`super::RunOptions::unknown_after_changes`]): a failure on
/// a host with changes pending becomes an ignored failure marked unknown.
fn unknown_after_changes(ctx: &PlayCtx<'_>, outcome: &mut TaskOutcome, counts: &Counts) {
    let plan = ctx.opts.check && ctx.opts.unknown_after_changes;
    if plan && outcome.status == Status::Failed && counts.changed > 0 {
        outcome.status = Status::Ignored;
        for item in &mut outcome.items {
            if item.status == Status::Failed {
                item.status = Status::Ignored;
                set(&mut item.result, "unknown", Value::from(UNKNOWN));
            }
        }
        set(&mut outcome.registered, "unknown", Value::from(UNKNOWN));
    }
}

/// Applies a host's outcome: report, counters, register, facts, notify.
/// Returns the facts set for delegated hosts (`delegate_facts`).
pub(crate) fn apply_outcome(
    ctx: &PlayCtx<'_>,
    t: &CompiledTask,
    s: &mut HostState,
    mut outcome: TaskOutcome,
    counts: &mut Counts,
    reporter: &mut dyn Reporter,
) -> Vec<(String, Map<String, Value>)> {
    unknown_after_changes(ctx, &mut outcome, counts);
    for (n, item) in outcome.items.iter().enumerate() {
        let label = if outcome.looped {
            item.label.clone()
        } else {
            None
        };
        let timing = outcome.timings.get(n);
        for left in &item.retries_left {
            reporter.retrying(&s.name, &t.display_name(), *left);
        }
        reporter.host_result(&HostResult {
            host: &s.name,
            status: item.status,
            result: &item.result,
            item_label: label,
            diffs: &item.diffs,
            subject: item.subject.as_deref(),
            is_loop_summary: false,
            no_log: outcome.no_log,
            verbose_always: item.verbose_always,
            duration: timing.map(|(d, _)| *d),
            commands: timing.map_or(&[], |(_, c)| c.as_slice()),
            skipped_by_when: crate::report::skipped_by_when(&item.result),
        });
        for (k, v) in &item.facts {
            Arc::make_mut(&mut s.registered).insert(k.clone(), v.clone());
        }
        if matches!(
            t.action,
            Action::Module(_) | Action::Builtin(Builtin::Setup)
        ) && matches!(item.status, Status::Ok | Status::Changed)
            && let Some(Value::Object(f)) = item.result.get("ansible_facts")
        {
            merge_module_facts(Arc::make_mut(&mut s.facts), f);
        }
        if item.end_host {
            s.ended = true;
        }
    }
    // A loop whose items were all skipped (or that had none) ends with a
    // host line of its own, as Ansible's.
    if outcome.looped && (outcome.items.is_empty() || outcome.status == Status::Skipped) {
        reporter.host_result(&HostResult {
            host: &s.name,
            status: Status::Skipped,
            result: &outcome.registered,
            item_label: None,
            diffs: &[],
            is_loop_summary: true,
            no_log: outcome.no_log,
            verbose_always: false,
            duration: None,
            commands: &[],
            skipped_by_when: crate::report::skipped_by_when(&outcome.registered),
            subject: None,
        });
    }
    if outcome.looped && outcome.status == Status::Ignored {
        reporter.ignoring();
    }
    match outcome.status {
        Status::Ok => counts.ok += 1,
        Status::Changed => {
            counts.ok += 1;
            counts.changed += 1;
        }
        Status::Skipped => counts.skipped += 1,
        Status::Failed => {
            // A failure that an enclosing block will rescue counts as rescued.
            if s.rescue_depth > 0 {
                counts.rescued += 1;
            } else {
                counts.failed += 1;
            }
            s.failed = true;
            let task = json!({"name": t.task.name.clone().unwrap_or_default(), "action": t.task.module.value});
            s.last_failure = Some((task, outcome.registered.clone()));
        }
        Status::Ignored => {
            counts.ok += 1;
            counts.ignored += 1;
            if outcome.registered.get("changed") == Some(&Value::Bool(true)) {
                counts.changed += 1;
            }
        }
        Status::Unreachable if ignores_unreachable(ctx, t, s) => {
            // Counted as ok and ignored; the host goes on with the play.
            counts.ok += 1;
            counts.ignored += 1;
            reporter.ignoring();
        }
        Status::Unreachable => {
            counts.unreachable += 1;
            s.unreachable = true;
        }
    }
    if let Some(reg) = &t.task.register {
        Arc::make_mut(&mut s.registered).insert(reg.clone(), outcome.registered.clone());
    }
    if outcome.status == Status::Changed {
        for n in &t.task.notify {
            if !crate::template::is_template(&n.value)
                && !ctx
                    .play
                    .handlers
                    .iter()
                    .any(|h| h.handler_names().contains(&n.value))
            {
                // As Ansible: an error that ends the run.
                reporter.warning(&format!(
                    "{}: ERROR: The requested handler '{}' was not found in either the main handlers list nor in the listening handlers list",
                    n.span.location(),
                    n.value
                ));
                s.failed = true;
                counts.failed += 1;
                ctx.abort.set(Some(super::Abort::UnknownHandler));
                continue;
            }
            s.notified.insert(n.value.clone());
        }
    }
    std::mem::take(&mut outcome.delegated)
}

/// The `ansible_facts` a module returned (`getent`, `hostname`, `setup`)
/// become the host's facts, as Ansible injects them: each as a variable
/// under the name the module gave (but `_ansible_*` marks), and in
/// `ansible_facts` without the `ansible_` prefix (but `ansible_local`).
/// They update the facts known before, key by key.
pub(crate) fn merge_module_facts(facts: &mut Vars, returned: &Map<String, Value>) {
    for (k, v) in returned {
        if !k.starts_with("_ansible_") {
            facts.insert(k.clone(), v.clone());
        }
    }
    let dict = facts
        .entry("ansible_facts".to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !dict.is_object() {
        *dict = Value::Object(Map::new());
    }
    if let Value::Object(d) = dict {
        for (k, v) in returned {
            let short = match k.strip_prefix("ansible_") {
                Some(short) if k != "ansible_local" => short,
                _ => k,
            };
            d.insert(short.to_string(), v.clone());
        }
    }
}

/// `delegate_facts`: facts set for another host go to that host's
/// variables (a host outside the play keeps them for later plays).
pub(crate) fn store_delegated_facts(
    ctx: &PlayCtx<'_>,
    states: &mut [HostState],
    delegated: Vec<(String, Map<String, Value>)>,
) {
    for (target, facts) in delegated {
        match states.iter_mut().find(|s| s.name == target) {
            Some(s) => Arc::make_mut(&mut s.registered).extend(facts),
            None => ctx
                .delegated_facts
                .borrow_mut()
                .entry(target)
                .or_default()
                .extend(facts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(kind: LoopKind, v: Value) -> Value {
        Value::Array(loop_items(kind, v).unwrap())
    }

    #[test]
    fn loop_keywords_yield_ansibles_items() {
        assert_eq!(
            items(LoopKind::WithItems, json!([1, [2, [3]]])),
            json!([1, 2, [3]])
        );
        assert_eq!(
            items(LoopKind::WithFlattened, json!([1, [2, [3]]])),
            json!([1, 2, 3])
        );
        assert_eq!(
            items(LoopKind::WithDict, json!({"a": 1})),
            json!([{"key": "a", "value": 1}])
        );
        assert_eq!(
            items(LoopKind::WithTogether, json!([[1, 2], ["a"]])),
            json!([[1, "a"], [2, null]])
        );
        assert_eq!(
            items(LoopKind::WithNested, json!([["x", "y"], [1]])),
            json!([["x", 1], ["y", 1]])
        );
        assert_eq!(
            items(LoopKind::WithIndexedItems, json!(["a", "b"])),
            json!([[0, "a"], [1, "b"]])
        );
        assert_eq!(
            items(
                LoopKind::WithSequence,
                json!("start=1 end=5 stride=2 format=h%02d")
            ),
            json!(["h01", "h03", "h05"])
        );
        assert_eq!(
            items(LoopKind::WithSequence, json!("count=3")),
            json!(["1", "2", "3"])
        );
        assert_eq!(
            items(LoopKind::WithSequence, json!("0x0a-0x0c")),
            json!(["10", "11", "12"])
        );
        assert!(loop_items(LoopKind::WithSequence, json!("start=5 end=1")).is_err());
        assert!(loop_items(LoopKind::Loop, json!("a string")).is_err());
    }

    #[test]
    fn python_repr_labels() {
        assert_eq!(
            py_repr(&json!({"name": "one", "on": true, "n": null})),
            "{'name': 'one', 'on': True, 'n': None}"
        );
        assert_eq!(py_repr(&json!(["it's", 1])), "[\"it's\", 1]");
    }

    fn sv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tag_selection_follows_ansible() {
        assert!(tags_select(&sv(&["always", "never"]), &[], &[], &[]));
        assert!(!tags_select(&sv(&["never"]), &[], &[], &[]));
        assert!(tags_select(
            &sv(&["never", "debug"]),
            &[],
            &sv(&["debug"]),
            &[]
        ));
        assert!(tags_select(&sv(&["always"]), &[], &sv(&["web"]), &[]));
        assert!(!tags_select(&sv(&["always"]), &[], &[], &sv(&["always"])));
        assert!(tags_select(&[], &[], &sv(&["untagged"]), &[]));
        assert!(!tags_select(&sv(&["web"]), &[], &sv(&["untagged"]), &[]));
        assert!(!tags_select(&sv(&["web"]), &[], &[], &sv(&["tagged"])));
        assert!(tags_select(
            &sv(&["web"]),
            &sv(&["play"]),
            &sv(&["play"]),
            &[]
        ));
    }
}
