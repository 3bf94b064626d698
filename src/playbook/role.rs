//! Roles: lookup on the roles path, the role layout (`tasks/`, `handlers/`,
//! `defaults/`, `vars/`, `meta/`), dependencies, and the variables a role's
//! tasks see, all resolved at compile time.
//!
//! Variables follow Ansible's `VariableManager.get_vars`: the defaults of the
//! play's public roles are the lowest precedence, then the task's own role
//! defaults (with its dependencies and parents), inventory, facts, play vars
//! and `vars_files`, the exported `vars/` of the play's public roles, the
//! task's role vars (parents', dependencies', its own, then the `vars:` of the
//! role entry), task vars, `set_fact`/`register`, then role params.

use super::parse::{self, Cx};
use super::*;
use crate::diagnostic::Diagnostic;
use crate::vars::merge_into;
use crate::yaml::Kind;
use std::path::{Path, PathBuf};

/// What the tasks of one role instance see of it, computed once at compile time.
#[derive(Debug, Default)]
pub struct RoleInfo {
    /// `role_name`.
    pub name: String,
    /// `role_path` (absolute).
    pub path: PathBuf,
    /// Its defaults, with its dependencies' and parents' (below inventory).
    pub defaults: Vars,
    /// Its vars: parents', dependencies' exported, its own `vars/`, then the
    /// `vars:` of the role entry (above play vars, below task vars).
    pub vars: Vars,
    /// Role params (`- role: x` with `param: value`), parents' first (above
    /// `set_fact`, below extra vars).
    pub params: Vars,
    /// `role_name`, `role_path`, `ansible_role_name`, `ansible_parent_role_names`, ...
    pub magic: Vars,
}

impl RoleInfo {
    /// Whether the role comes from a collection
    /// (`.../ansible_collections/NS/COL/roles/NAME`).
    pub fn in_collection(&self) -> bool {
        self.path
            .ancestors()
            .nth(4)
            .and_then(Path::file_name)
            .is_some_and(|n| n == "ansible_collections")
            && self.path.parent().and_then(Path::file_name) == Some("roles".as_ref())
    }

    /// The role's name without its collection (`ns.col.x` → `x`).
    pub fn short_name(&self) -> &str {
        if self.in_collection() {
            self.name.rsplit('.').next().unwrap_or(&self.name)
        } else {
            &self.name
        }
    }
}

/// One role instance, kept for its dependencies' sake.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its directory.
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    defaults: Vars,
    vars: Vars,
    keyword_vars: Vars,
    params: Vars,
}

/// A role invocation: a `roles:` entry, a dependency, `import_role`, `include_role`.
pub(crate) struct RoleRef {
    name: String,
    span: Span,
    params: Vars,
    vars: Vars,
    keywords: Option<Task>,
    tasks_from: Option<String>,
    vars_from: Option<String>,
    defaults_from: Option<String>,
    handlers_from: Option<String>,
    /// `allow_duplicates: false` on `import_role`/`include_role`: the
    /// instance does not run again where it ran.
    once: bool,
    /// `rolespec_validate` (default on): whether the role's
    /// `argument_specs` would be checked (tend warns that it does not).
    validate: bool,
}

/// A loaded role: steps to run (dependencies first) and what it exports.
#[derive(Default)]
pub(crate) struct Loaded {
    pub steps: Vec<Step>,
    pub handlers: Vec<Step>,
    /// `Role.get_default_vars()`: dependencies' defaults, then its own.
    pub defaults: Vars,
    /// `Role.get_vars(only_exports=True)`: dependencies' vars, then its own.
    pub exports: Vars,
    /// The instance's identity (see [`crate::playbook::IncludedRole::key`]).
    pub key: String,
}

/// How a role is brought in (decides de-duplication and publicity).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// `roles:` or a dependency: runs once per play unless params differ or
    /// `allow_duplicates: true`; public.
    Play,
    /// `import_role`: public, never de-duplicated.
    Import,
    /// `include_role`: private, never de-duplicated.
    Include,
}

/// Per-play role state kept in [`Cx`].
#[derive(Default)]
pub struct PlayRoles {
    /// The play's (or imported playbook's) directory: `roles/` is looked up here.
    pub dir: PathBuf,
    /// Role instances already in the play (de-duplication), with their exports.
    pub(crate) seen: Vec<(String, Vars, Vars)>,
    /// Every static role instance so far (`roles:`, dependencies,
    /// `import_role`): `allow_duplicates: false` skips these.
    pub(crate) ran: Vec<String>,
    /// Roles (path, `handlers_from`) whose handlers are in the play already:
    /// a role included several times has its handlers once.
    pub(crate) handler_keys: Vec<String>,
    /// Handlers of `roles:` (before the play's handlers).
    pub front_handlers: Vec<Step>,
    /// Handlers of `import_role`/`include_role` (after the play's handlers).
    pub back_handlers: Vec<Step>,
    /// Defaults of public roles.
    pub defaults: Vars,
    /// Exported vars of public roles.
    pub exports: Vars,
}

/// Keywords a role entry may carry (applied to the role's tasks).
const ROLE_KEYWORDS: &[&str] = &[
    "when",
    "tags",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "environment",
    "ignore_errors",
    "no_log",
    "check_mode",
    "diff",
    "delegate_to",
    "delegate_facts",
    "any_errors_fatal",
    "run_once",
    "throttle",
    "ignore_unreachable",
    "collections",
];

/// Keywords of a role entry tend does not implement yet.
const ROLE_UNSUPPORTED: &[&str] = &[
    "connection",
    "remote_user",
    "module_defaults",
    "debugger",
    "port",
    "timeout",
    "become_exe",
];

fn not_supported(cx: &mut Cx<'_>, what: String, span: &Span) {
    cx.diags.push(
        Diagnostic::error(format!("{what} is not supported yet"))
            .at(span.clone())
            .label("not supported yet"),
    );
}

/// Parses a `roles:` entry or a `dependencies:` entry.
pub(crate) fn parse_entry(node: &Node, cx: &mut Cx<'_>) -> Option<RoleRef> {
    if let Some(name) = node.as_str() {
        return role_ref(name, &node.span, cx);
    }
    let Some(entries) = node.as_map() else {
        cx.diags.push(
            Diagnostic::error(format!(
                "a role must be a name or a mapping with `role`, found {}",
                node.kind_name()
            ))
            .at(node.span.clone()),
        );
        return None;
    };
    let name_node = node.get("role").or_else(|| node.get("name"));
    let Some(name_node) = name_node else {
        cx.diags.push(
            Diagnostic::error("this role entry has no `role` (or `name`)").at(node.span.clone()),
        );
        return None;
    };
    let Some(name) = name_node.key_text() else {
        cx.diags
            .push(Diagnostic::error("a role name must be a string").at(name_node.span.clone()));
        return None;
    };
    let mut r = role_ref(&name, &name_node.span, cx)?;
    let mut keywords: Vec<(Node, Node)> = Vec::new();
    for (k, v) in entries {
        let Some(key) = k.key_text() else { continue };
        match key.as_str() {
            "role" | "name" => {}
            "vars" => r.vars = parse::vars_map(v, cx.diags),
            k2 if ROLE_KEYWORDS.contains(&k2) => keywords.push((k.clone(), v.clone())),
            "debugger" if parse::debugger_off(v) => {}
            k2 if ROLE_UNSUPPORTED.contains(&k2) => {
                not_supported(cx, format!("role keyword `{k2}`"), &k.span)
            }
            _ => {
                r.params.insert(key, v.to_value());
            }
        }
    }
    if !keywords.is_empty() {
        let holder = Node {
            span: node.span.clone(),
            tag: None,
            kind: Kind::Map(keywords),
        };
        r.keywords = Some(parse::keywords_holder(&holder, &[], cx, false)?);
    }
    Some(r)
}

fn role_ref(name: &str, span: &Span, cx: &mut Cx<'_>) -> Option<RoleRef> {
    if crate::template::is_template(name) {
        not_supported(
            cx,
            "a templated role name (roles are resolved at compile time)".into(),
            span,
        );
        return None;
    }
    Some(RoleRef {
        name: name.to_string(),
        span: span.clone(),
        params: Vars::new(),
        vars: Vars::new(),
        keywords: None,
        tasks_from: None,
        vars_from: None,
        defaults_from: None,
        handlers_from: None,
        once: false,
        validate: true,
    })
}

/// Parses the options of `import_role`/`include_role` (mapping or `k=v`).
/// Templated `name`, `*_from` and boolean options are rendered now (`own`:
/// the task's `vars`), see [`parse::NameVars`]. Returns the role, `apply`
/// and `public`.
pub(crate) fn parse_task_options(
    kind: &str,
    target: &Node,
    cx: &mut Cx<'_>,
    own: &Vars,
) -> Option<(RoleRef, Option<Node>, bool)> {
    let mut options: Vec<(String, Value, Span, Option<Node>)> = Vec::new();
    match &target.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                if let Some(key) = k.key_text() {
                    options.push((key, v.to_value(), k.span.clone(), Some(v.clone())));
                }
            }
        }
        Kind::Str(text) => match kv::parse_kv(text, None) {
            Ok(p) => {
                if let Some(raw) = p.raw {
                    cx.diags.push(
                        Diagnostic::error(format!(
                            "{kind} takes `key=value` options, found `{raw}`"
                        ))
                        .at(target.span.clone()),
                    );
                    return None;
                }
                for (k, v) in p.pairs {
                    options.push((k, Value::String(v), target.span.clone(), None));
                }
            }
            Err(e) => {
                cx.diags.push(Diagnostic::error(e).at(target.span.clone()));
                return None;
            }
        },
        _ => {
            cx.diags.push(
                Diagnostic::error(format!(
                    "{kind} expects a mapping with `name`, found {}",
                    target.kind_name()
                ))
                .at(target.span.clone()),
            );
            return None;
        }
    }
    let which = if kind == "import_role" {
        parse::NameVars::Parse
    } else {
        parse::NameVars::Fixed
    };
    for (k, v, span, _) in &mut options {
        if let (
            "name" | "tasks_from" | "vars_from" | "defaults_from" | "handlers_from",
            Value::String(text),
        ) = (k.as_str(), &*v)
        {
            *v = Value::String(cx.file_name(text, span, &format!("{kind} `{k}`"), own, which)?);
        }
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some((_, name, span, _)) = options.iter().find(|(k, ..)| k == "name").cloned() else {
        cx.diags.push(
            Diagnostic::error(format!("{kind}: `name` (the role) is required"))
                .at(target.span.clone()),
        );
        return None;
    };
    let mut r = role_ref(&text(&name), &span, cx)?;
    let mut apply = None;
    // import_role is public, include_role private, unless `public` says.
    let mut public = kind == "import_role";
    let mut ok = true;
    for (k, v, span, node) in options {
        let mut flag = |cx: &mut Cx<'_>| {
            let b = cx.option_bool(&format!("{kind}: `{k}`"), &v, &span, own, which);
            ok &= b.is_some();
            b.unwrap_or_default()
        };
        match k.as_str() {
            "name" => {}
            "tasks_from" => r.tasks_from = Some(text(&v)),
            "vars_from" => r.vars_from = Some(text(&v)),
            "defaults_from" => r.defaults_from = Some(text(&v)),
            "handlers_from" => r.handlers_from = Some(text(&v)),
            "apply" if kind == "include_role" => apply = node,
            "public" => public = flag(cx),
            // The option's default (on) wins over the role's meta.
            "allow_duplicates" => r.once = !flag(cx),
            "rolespec_validate" => r.validate = flag(cx),
            other => {
                not_supported(cx, format!("{kind}: option `{other}`"), &span);
                ok = false;
            }
        }
    }
    ok.then_some((r, apply, public))
}

/// Finds a role directory: `roles/` beside the playbook, `roles_path`, the
/// parent role's siblings (dependencies), the playbook's directory.
fn find_role(cx: &Cx<'_>, name: &str, parent: Option<&Instance>) -> Result<PathBuf, Vec<PathBuf>> {
    let dir = &cx.roles.dir;
    let mut search = vec![dir.join("roles")];
    search.extend(cx.roles_path.iter().cloned());
    if let Some(p) = parent.and_then(|p| p.path.parent()) {
        search.push(p.to_path_buf());
    }
    search.push(dir.clone());
    // A collection's role, `ns.col.role`: `ansible_collections/ns/col/roles/role`
    // under `collections/` beside the play or the playbook, then `collections_path`.
    let parts: Vec<&str> = name.split('.').collect();
    if let [ns, col, role] = parts.as_slice()
        && !name.contains('/')
        && parts.iter().all(|p| !p.is_empty())
    {
        let mut tried = Vec::new();
        let bases = [dir.join("collections"), cx.playbook_dir.join("collections")]
            .into_iter()
            .chain(cx.collections_path.iter().cloned());
        for base in bases {
            let c = base
                .join("ansible_collections")
                .join(ns)
                .join(col)
                .join("roles")
                .join(role);
            if tried.contains(&c) {
                continue;
            }
            if c.is_dir() {
                return Ok(c);
            }
            tried.push(c);
        }
        // Else a role directory named so (a legacy `author.role.x`).
        for s in &search {
            let c = s.join(name);
            if c.is_dir() {
                return Ok(c);
            }
            tried.push(c);
        }
        return Err(tried);
    }
    let p = Path::new(name);
    if p.is_absolute() {
        return if p.is_dir() {
            Ok(p.to_path_buf())
        } else {
            Err(vec![p.to_path_buf()])
        };
    }
    let mut tried = Vec::new();
    for s in &search {
        let c = s.join(p);
        if c.is_dir() {
            return Ok(c);
        }
        tried.push(c);
    }
    Err(tried)
}

/// `DIR/main.yml`, `main.yaml`, `main` (or the `*_from` file).
fn find_in(dir: &Path, file: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{file}.yml")),
        dir.join(format!("{file}.yaml")),
        dir.join(file),
        dir.join(format!("{file}.json")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Loads a role file's YAML, if present; a missing `*_from` file is an error.
fn role_file(
    cx: &mut Cx<'_>,
    role: &Path,
    sub: &str,
    from: Option<&str>,
    span: &Span,
) -> Option<(PathBuf, Node)> {
    let dir = role.join(sub);
    let file = from.unwrap_or("main");
    let Some(path) = find_in(&dir, file) else {
        if from.is_some() {
            cx.diags.push(
                Diagnostic::error(format!(
                    "role `{}`: could not find `{file}` in {}",
                    role.file_name().unwrap_or_default().to_string_lossy(),
                    dir.display()
                ))
                .at(span.clone()),
            );
        } else if dir.join("main").is_dir() {
            not_supported(cx, format!("a directory `{}/main/` in a role", sub), span);
        }
        return None;
    };
    match crate::yaml::load(&path) {
        Ok((_, docs)) => Some((path, docs.into_iter().next()?)),
        Err(d) => {
            cx.diags.push(*d);
            None
        }
    }
}

fn vars_file(cx: &mut Cx<'_>, role: &Path, sub: &str, from: Option<&str>, span: &Span) -> Vars {
    match role_file(cx, role, sub, from, span) {
        Some((_, node)) if node.as_map().is_some() || matches!(node.kind, Kind::Null) => {
            parse::vars_map(&node, cx.diags)
        }
        Some((path, node)) => {
            cx.diags.push(
                Diagnostic::error(format!(
                    "{}: a role's vars file must be a mapping, found {}",
                    path.display(),
                    node.kind_name()
                ))
                .at(node.span.clone()),
            );
            Vars::new()
        }
        None => Vars::new(),
    }
}

/// Loads a role and its dependencies (recursively), parsing its files.
pub(crate) fn load(
    cx: &mut Cx<'_>,
    r: &RoleRef,
    via: Via,
    chain: &mut Vec<Instance>,
) -> Option<Loaded> {
    let path = match find_role(cx, &r.name, chain.last()) {
        Ok(p) => std::fs::canonicalize(&p).unwrap_or(p),
        Err(tried) => {
            cx.diags.push(
                Diagnostic::error(format!("the role `{}` was not found", r.name))
                    .at(r.span.clone())
                    .label("role not found")
                    .help(format!(
                        "searched: {}",
                        tried
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            return None;
        }
    };
    if chain.iter().any(|i| i.path == path) {
        let message = match via {
            Via::Include => format!(
                "include_role: role `{}` includes itself (include loop): a recursive include is not supported yet",
                r.name
            ),
            Via::Import => format!(
                "import_role: role `{}` imports itself (import loop)",
                r.name
            ),
            Via::Play => format!("role `{}` depends on itself (dependency loop)", r.name),
        };
        cx.diags.push(Diagnostic::error(message).at(r.span.clone()));
        return None;
    }
    // meta/main.yml: dependencies, allow_duplicates.
    let mut deps: Vec<Node> = Vec::new();
    let mut allow_duplicates = false;
    if let Some((_, meta)) = role_file(cx, &path, "meta", None, &r.span) {
        for (k, v) in meta.as_map().unwrap_or_default() {
            match k.key_text().as_deref() {
                Some("dependencies") => match &v.kind {
                    Kind::Seq(items) => deps = items.clone(),
                    Kind::Null => {}
                    _ => cx.diags.push(
                        Diagnostic::error("`dependencies` must be a list of roles")
                            .at(v.span.clone()),
                    ),
                },
                Some("allow_duplicates") => {
                    allow_duplicates = matches!(v.to_value(), Value::Bool(true))
                        || v.as_str().and_then(tend_modules::args::parse_bool) == Some(true)
                }
                Some("argument_specs") if r.validate => cx.diags.push(
                    Diagnostic::warning(format!(
                        "role `{}`: argument_specs validation is not supported yet; the role's arguments are not validated",
                        r.name
                    ))
                    .at(k.span.clone()),
                ),
                _ => {}
            }
        }
    }
    if r.validate && find_in(&path.join("meta"), "argument_specs").is_some() {
        cx.diags.push(
            Diagnostic::warning(format!(
                "role `{}`: argument_specs validation is not supported yet; the role's arguments are not validated (meta/argument_specs.yml)",
                r.name
            ))
            .at(r.span.clone()),
        );
    }
    let keywords_json = r.keywords.as_ref().map(|k| {
        serde_json::json!([
            k.when.as_ref().map(|w| w.value.clone()),
            k.tags,
            k.escalation.enabled,
            k.escalation.user,
        ])
    });
    let key = serde_json::json!([
        path.display().to_string(),
        r.params,
        r.vars,
        keywords_json,
        [
            &r.tasks_from,
            &r.vars_from,
            &r.defaults_from,
            &r.handlers_from
        ],
    ])
    .to_string();
    if via == Via::Play
        && !allow_duplicates
        && let Some((_, defaults, exports)) = cx.roles.seen.iter().find(|(k, ..)| *k == key)
    {
        // Already in this play with these params: it runs once.
        return Some(Loaded {
            defaults: defaults.clone(),
            exports: exports.clone(),
            key,
            ..Loaded::default()
        });
    }
    if r.once && cx.roles.ran.contains(&key) {
        // `allow_duplicates: false` on the import or include: the instance
        // ran already, as a static role of the play.
        return Some(Loaded {
            key,
            ..Loaded::default()
        });
    }
    if via != Via::Include {
        cx.roles.ran.push(key.clone());
    }
    let defaults = vars_file(cx, &path, "defaults", r.defaults_from.as_deref(), &r.span);
    let own_vars = vars_file(cx, &path, "vars", r.vars_from.as_deref(), &r.span);
    let name = r.name.clone();
    chain.push(Instance {
        name: name.clone(),
        path: path.clone(),
        defaults: defaults.clone(),
        vars: own_vars.clone(),
        keyword_vars: r.vars.clone(),
        params: r.params.clone(),
    });
    let mut loaded = Loaded {
        key: key.clone(),
        ..Loaded::default()
    };
    for dep in &deps {
        let Some(d) = parse_entry(dep, cx) else {
            continue;
        };
        if let Some(l) = load(cx, &d, Via::Play, chain) {
            loaded.steps.extend(l.steps);
            loaded.handlers.extend(l.handlers);
            merge_into(&mut loaded.defaults, &l.defaults);
            merge_into(&mut loaded.exports, &l.exports);
        }
    }
    let me = chain.pop().expect("pushed above");
    // What this instance's tasks see (Role.get_default_vars/get_vars/get_role_params with the dep chain).
    let mut info = RoleInfo {
        name: name.clone(),
        path: path.clone(),
        defaults: loaded.defaults.clone(),
        ..RoleInfo::default()
    };
    for parent in chain.iter() {
        merge_into(&mut info.defaults, &parent.defaults);
        merge_into(&mut info.vars, &parent.keyword_vars);
        merge_into(&mut info.vars, &parent.vars);
        merge_into(&mut info.params, &parent.params);
    }
    merge_into(&mut info.defaults, &me.defaults);
    merge_into(&mut info.vars, &loaded.exports);
    merge_into(&mut info.vars, &me.vars);
    merge_into(&mut info.vars, &me.keyword_vars);
    merge_into(&mut info.params, &me.params);
    let path_text = path.display().to_string();
    // A collection's role: `role_name` is its short name.
    info.magic
        .insert("role_name".into(), info.short_name().into());
    info.magic
        .insert("ansible_role_name".into(), name.clone().into());
    info.magic.insert("role_path".into(), path_text.into());
    info.magic.insert(
        "ansible_parent_role_names".into(),
        chain.iter().rev().map(|p| p.name.clone()).collect(),
    );
    info.magic.insert(
        "ansible_parent_role_paths".into(),
        chain
            .iter()
            .rev()
            .map(|p| p.path.display().to_string())
            .collect(),
    );
    let info = Arc::new(info);
    merge_into(&mut loaded.defaults, &me.defaults);
    merge_into(&mut loaded.exports, &me.vars);
    if via == Via::Play {
        cx.roles
            .seen
            .push((key, loaded.defaults.clone(), loaded.exports.clone()));
    }
    // tasks/ and handlers/, parsed with the role's `tasks/` as the current
    // directory (relative import_tasks/include_tasks resolve there).
    chain.push(me);
    let mut own = |sub: &str, from: Option<&str>, handlers: bool, cx: &mut Cx<'_>| -> Vec<Step> {
        let Some((file, root)) = role_file(cx, &path, sub, from, &r.span) else {
            return Vec::new();
        };
        cx.stack.push(file);
        cx.role_chain.push(std::mem::take(chain));
        let mut steps = parse::task_list(&root, cx, handlers);
        *chain = cx.role_chain.pop().unwrap_or_default();
        cx.stack.pop();
        steps.iter_mut().for_each(|s| s.set_role(&info));
        steps
    };
    let tasks = own("tasks", r.tasks_from.as_deref(), false, cx);
    let handlers_key = format!("{}\0{:?}", path.display(), r.handlers_from);
    let handlers = if cx.roles.handler_keys.contains(&handlers_key) {
        Vec::new()
    } else {
        cx.roles.handler_keys.push(handlers_key);
        own("handlers", r.handlers_from.as_deref(), true, cx)
    };
    chain.pop();
    loaded.steps.extend(tasks);
    loaded.handlers.extend(handlers);
    if let Some(kw) = &r.keywords {
        loaded.steps = loaded
            .steps
            .into_iter()
            .map(|s| s.inherit_all(kw))
            .collect();
        loaded.handlers = loaded
            .handlers
            .into_iter()
            .map(|s| s.inherit_all(kw))
            .collect();
    }
    Some(loaded)
}

/// `roles:` of a play: each entry's dependencies, then its tasks.
pub(crate) fn play_roles(node: &Node, cx: &mut Cx<'_>, names: &mut Vec<String>) -> Vec<Step> {
    let items: Vec<Node> = match &node.kind {
        Kind::Seq(items) => items.clone(),
        Kind::Null => Vec::new(),
        _ => {
            cx.diags.push(
                Diagnostic::error(format!(
                    "`roles` must be a list, found {}",
                    node.kind_name()
                ))
                .at(node.span.clone()),
            );
            return Vec::new();
        }
    };
    let mut steps = Vec::new();
    for item in &items {
        let Some(r) = parse_entry(item, cx) else {
            continue;
        };
        names.push(r.name.clone());
        let mut chain = Vec::new();
        if let Some(l) = load(cx, &r, Via::Play, &mut chain) {
            steps.extend(l.steps);
            cx.roles.front_handlers.extend(l.handlers);
            merge_into(&mut cx.roles.defaults, &l.defaults);
            merge_into(&mut cx.roles.exports, &l.exports);
        }
    }
    steps
}

/// `import_role` (static, at this point in the task list) and `include_role`
/// (an include of the role's tasks, with `loop`, `when`, `apply`).
pub(crate) fn task_role(item: &Node, key: &str, cx: &mut Cx<'_>, handlers: bool) -> Vec<Step> {
    let kind = key.trim_start_matches("ansible.builtin.");
    let Some(target) = item.get(key) else {
        return Vec::new();
    };
    let Some(mut holder) = parse::keywords_holder(item, &[key], cx, handlers) else {
        return Vec::new();
    };
    let include = kind == "include_role";
    // A role that cannot be found yet: looked up when the include runs (it
    // may never run), as Ansible.
    let missing = include
        && !cx.run_time
        && target
            .get("name")
            .and_then(Node::as_str)
            .filter(|n| !crate::template::is_template(n))
            .is_some_and(|n| {
                find_role(cx, n, cx.role_chain.last().and_then(|c| c.last())).is_err()
            });
    if missing {
        cx.diags.push(
            Diagnostic::warning(
                "include_role: the role cannot be found now; the include fails if it runs without it",
            )
            .at(target.span.clone()),
        );
    }
    if include && (missing || !parse::target_names_fixed(target, cx)) {
        if !holder.notify.is_empty() {
            not_supported(cx, "include_role: `notify`".into(), &item.span);
            return Vec::new();
        }
        if holder.name.is_none() {
            let name = target
                .get("name")
                .and_then(Node::as_str)
                .or_else(|| target.as_str())
                .unwrap_or_default();
            holder.name = Some(format!("include_role : {name}"));
        }
        return vec![Step::Include(Include {
            task: holder,
            file: Located {
                value: String::new(),
                span: target.span.clone(),
            },
            steps: Vec::new(),
            deferred: Some(cx.defer(item, key, handlers)),
            role: None,
        })];
    }
    let Some((r, apply, public)) = parse_task_options(kind, target, cx, &holder.vars) else {
        return Vec::new();
    };
    if !include
        && (holder.loop_.is_some() || holder.register.is_some() || !holder.notify.is_empty())
    {
        cx.diags.push(
            Diagnostic::error("import_role cannot loop, register or notify (use include_role)")
                .at(item.span.clone()),
        );
        return Vec::new();
    }
    if include && !holder.notify.is_empty() {
        not_supported(cx, "include_role: `notify`".into(), &item.span);
        return Vec::new();
    }
    let apply = match apply {
        Some(a) => match parse::keywords_holder(&a, &[], cx, handlers) {
            Some(t) => Some(t),
            None => return Vec::new(),
        },
        None => None,
    };
    // Inside a role, the enclosing roles are the new role's parents.
    let mut chain = cx
        .role_chain
        .last_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let via = if include { Via::Include } else { Via::Import };
    let loaded = load(cx, &r, via, &mut chain);
    if let Some(last) = cx.role_chain.last_mut() {
        *last = chain;
    }
    let Some(l) = loaded else {
        return Vec::new();
    };
    if !include {
        // The role's handlers are the import's too: they get its keywords
        // (`delegate_to`, `become`, ...), as Ansible parents them to it.
        cx.roles
            .back_handlers
            .extend(l.handlers.into_iter().map(|s| s.inherit_all(&holder)));
        if public {
            merge_into(&mut cx.roles.defaults, &l.defaults);
            merge_into(&mut cx.roles.exports, &l.exports);
        }
        let steps: Vec<Step> = l
            .steps
            .into_iter()
            .map(|s| s.inherit_all(&holder))
            .collect();
        if !r.once || steps.is_empty() {
            return steps;
        }
        // `allow_duplicates: false`: the hosts where an include_role ran
        // the instance skip it (known only when the play runs).
        return vec![Step::Block(Block {
            span: item.span.clone(),
            name: None,
            block: steps,
            rescue: Vec::new(),
            always: Vec::new(),
            unless_role_ran: Some(l.key),
        })];
    }
    cx.roles.back_handlers.extend(l.handlers);
    let steps = match &apply {
        Some(a) => l.steps.into_iter().map(|s| s.inherit_all(a)).collect(),
        None => l.steps,
    };
    if holder.name.is_none() {
        holder.name = Some(format!("include_role : {}", r.name));
    }
    vec![Step::Include(Include {
        task: holder,
        file: Located {
            value: String::new(),
            span: r.span.clone(),
        },
        steps,
        deferred: None,
        role: Some(Arc::new(IncludedRole {
            key: l.key,
            once: r.once,
            public: public.then_some((l.defaults, l.exports)),
        })),
    })]
}
