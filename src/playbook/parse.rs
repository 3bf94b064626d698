//! Parsing plays and tasks from YAML nodes.

use super::*;
use crate::diagnostic::Diagnostic;
use crate::yaml::Kind;
use std::path::{Path, PathBuf};

/// Task keywords tend implements.
const TASK_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "loop",
    "with_items",
    "with_list",
    "with_dict",
    "loop_control",
    "register",
    "notify",
    "listen",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "collections",
    "tags",
    "vars",
    "check_mode",
    "diff",
    "no_log",
    "environment",
    "args",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "action",
    "until",
    "retries",
    "delay",
    "delegate_to",
    "delegate_facts",
    "local_action",
    "timeout",
    "remote_user",
    "connection",
    "any_errors_fatal",
    "run_once",
    "throttle",
    "with_items",
    "with_list",
    "with_dict",
    "with_flattened",
    "with_indexed_items",
    "with_together",
    "with_nested",
    "with_cartesian",
    "with_sequence",
    "with_fileglob",
    "with_first_found",
    "with_subelements",
    "with_lines",
    "with_file",
    "with_template",
    "with_env",
    "with_random_choice",
    "with_inventory_hostnames",
    "with_pipe",
    "with_password",
];

/// `with_<lookup>` loops and their lookup plugins.
const LOOKUP_LOOPS: &[&str] = &[
    "fileglob",
    "first_found",
    "subelements",
    "lines",
    "file",
    "template",
    "env",
    "random_choice",
    "inventory_hostnames",
    "pipe",
    "password",
];

/// Ansible task keywords tend does not implement yet: an error, never ignored.
const TASK_UNSUPPORTED: &[&str] = &[
    "rescue",
    "always",
    "async",
    "poll",
    "module_defaults",
    "debugger",
    "port",
    "with_url",
    "with_vars",
    "become_exe",
    "vars_files",
    "include",
    "environment_vars",
];

const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "check_mode",
    "diff",
    "environment",
    "tags",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "roles",
    "ignore_errors",
    "no_log",
    "remote_user",
    "connection",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "order",
    "strategy",
    "force_handlers",
    "vars_prompt",
    "ignore_unreachable",
    "collections",
    "run_once",
    "throttle",
    "timeout",
    "port",
];

const PLAY_UNSUPPORTED: &[&str] = &[
    "module_defaults",
    "debugger",
    "import_playbook",
    "include",
    "become_exe",
];

/// The `collections` keyword: the collections searched for short module
/// names. tend's modules are `ansible.builtin`'s, found by their short names
/// whatever the list says (a module of another collection is an unknown
/// module either way), so it needs only to be a list of names.
fn collections(v: &Node, diags: &mut Vec<Diagnostic>) {
    let ok = match &v.kind {
        Kind::Seq(items) => items.iter().all(|i| i.as_str().is_some()),
        _ => v.as_str().is_some(),
    };
    if !ok {
        diags.push(
            Diagnostic::error("`collections` must be a list of collection names")
                .at(v.span.clone()),
        );
    }
}

/// `gather_timeout`: an integer, or a template for one (checked when it runs).
fn gather_timeout(v: &Node, diags: &mut Vec<Diagnostic>) -> Value {
    let value = v.to_value();
    let ok = match &value {
        Value::Number(n) => n.is_i64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        Value::String(s) => crate::template::is_template(s) || s.trim().parse::<i64>().is_ok(),
        Value::Null => true,
        _ => false,
    };
    if !ok {
        diags.push(
            Diagnostic::error(format!(
                "`gather_timeout` must be an integer number of seconds, got `{}`",
                tend_modules::args::py_repr(&value)
            ))
            .at(v.span.clone()),
        );
    }
    value
}

/// Whether a `debugger` keyword leaves Ansible's interactive debugger off
/// (`never`, or null: the default), which is all tend has: other values
/// (`always`, `on_failed`, ...) are refused as not supported.
pub(crate) fn debugger_off(v: &Node) -> bool {
    matches!(v.kind, Kind::Null) || v.as_str() == Some("never")
}

/// Every keyword name tend knows, for "did you mean" suggestions.
pub fn known_task_keywords() -> &'static [&'static str] {
    TASK_KEYWORDS
}

/// Whether `name` is an Ansible task keyword tend does not implement yet.
pub fn is_unsupported_task_keyword(name: &str) -> bool {
    TASK_UNSUPPORTED.contains(&name)
}

/// Parsing state: where we are, which files are open (to catch import loops).
pub struct Cx<'a> {
    /// Problems found so far.
    pub diags: &'a mut Vec<Diagnostic>,
    /// Files being parsed, outermost first.
    pub stack: Vec<PathBuf>,
    /// The top-level playbook's directory.
    pub playbook_dir: PathBuf,
    /// `roles_path` (searched after `roles/` beside the playbook).
    pub(crate) roles_path: Vec<PathBuf>,
    /// `collections_path` (searched after `collections/` beside the playbook).
    pub(crate) collections_path: Vec<PathBuf>,
    /// Role state of the play being parsed.
    pub(crate) roles: super::role::PlayRoles,
    /// The roles whose files are being parsed, per nesting (parents of an
    /// `import_role`/`include_role` met there).
    pub(crate) role_chain: Vec<Vec<super::role::Instance>>,
    /// Extra variables (`-e`): known when the playbook is parsed, as the
    /// play's `vars` are; import file names may use them.
    pub extra_vars: Vars,
    /// The `vars` of the play being parsed.
    pub(crate) play_vars: Vars,
    /// The `vars` of the `import_playbook`s being parsed (outermost wins).
    import_vars: Vars,
    /// Renders templated import names.
    templar: crate::template::Templar,
    /// Reading a deferred include when it runs (see [`Deferred`]).
    pub(crate) run_time: bool,
}

impl<'a> Cx<'a> {
    /// A parsing context for the playbook in `playbook_dir`.
    pub fn new(diags: &'a mut Vec<Diagnostic>, playbook_dir: PathBuf) -> Self {
        Cx {
            diags,
            stack: Vec::new(),
            roles_path: crate::config::roles_path(),
            collections_path: crate::config::collections_path(),
            playbook_dir,
            roles: Default::default(),
            role_chain: Vec::new(),
            extra_vars: Vars::new(),
            play_vars: Vars::new(),
            import_vars: Vars::new(),
            templar: crate::template::Templar::new(),
            run_time: false,
        }
    }
}

/// Which variables a templated file name may use when tend resolves it at
/// compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameVars {
    /// Static imports (`import_playbook`, `import_tasks`): Ansible templates
    /// their names when it parses the playbook, with the variables known
    /// then: the play's `vars`, the import's own `vars`, extra vars and the
    /// magic variables (`playbook_dir`, `role_path`, ...).
    Parse,
    /// Dynamic includes (`include_tasks`, `include_role`): Ansible templates
    /// their names per host at run time. tend resolves them at compile time
    /// only from what no host can change: extra vars (the highest
    /// precedence) and the magic variables.
    Fixed,
}

impl NameVars {
    /// What a template may use here, for a diagnostic's label.
    fn label(self) -> &'static str {
        match self {
            NameVars::Parse => {
                "rendered when the playbook is parsed, with the play's `vars`, the import's `vars`, extra vars and magic variables (as Ansible does)"
            }
            NameVars::Fixed => {
                "tend reads included files at compile time: a templated name may use only extra vars and magic variables (`playbook_dir`, `role_path`); per-host values are not supported yet"
            }
        }
    }
}

impl Cx<'_> {
    /// A file name as written, or rendered now if it is a template (see
    /// [`NameVars`]); `own` are the import's own `vars`.
    pub(crate) fn file_name(
        &mut self,
        name: &str,
        span: &Span,
        kind: &str,
        own: &Vars,
        which: NameVars,
    ) -> Option<String> {
        if !crate::template::is_template(name) {
            return Some(name.to_string());
        }
        match self.render_now(name, own, which) {
            Ok(Value::String(s)) => Some(s),
            Ok(other) => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "{kind}: the file name must render to a string, got {other}"
                    ))
                    .at(span.clone()),
                );
                None
            }
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "{kind}: cannot template the file name `{name}`: {}",
                        e.message
                    ))
                    .at(span.clone())
                    .label(which.label()),
                );
                None
            }
        }
    }

    /// Renders `text` now, with what [`NameVars`] allows.
    fn render_now(
        &self,
        text: &str,
        own: &Vars,
        which: NameVars,
    ) -> Result<Value, crate::template::TemplateError> {
        let magic = self.magic_vars();
        let empty = Vars::new();
        let (play, own) = match which {
            NameVars::Parse => (&self.play_vars, own),
            NameVars::Fixed => (&empty, &empty),
        };
        let scope = crate::template::Scope::new(vec![play, own, &self.extra_vars, &magic]);
        self.templar.render_string(text, &scope)
    }

    /// A boolean option of an import or include (`public`,
    /// `allow_duplicates`, `rolespec_validate`), rendered now when it is a
    /// template, as a templated file name is (see [`NameVars`]).
    pub(crate) fn option_bool(
        &mut self,
        what: &str,
        value: &Value,
        span: &Span,
        own: &Vars,
        which: NameVars,
    ) -> Option<bool> {
        let rendered = match value {
            Value::String(text) if crate::template::is_template(text) => {
                match self.render_now(text, own, which) {
                    Ok(v) => v,
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "{what}: cannot template `{text}`: {}",
                                e.message
                            ))
                            .at(span.clone())
                            .label(which.label()),
                        );
                        return None;
                    }
                }
            }
            other => other.clone(),
        };
        let b = match &rendered {
            Value::Bool(b) => Some(*b),
            Value::String(s) => tend_modules::args::parse_bool(s),
            Value::Number(n) => n.as_i64().map(|n| n != 0),
            _ => None,
        };
        if b.is_none() {
            self.diags.push(
                Diagnostic::error(format!("{what} must be a boolean, found {rendered}"))
                    .at(span.clone()),
            );
        }
        b
    }

    /// Whether a dynamic include's templated name renders now, from what no
    /// host can change (see [`NameVars::Fixed`]). If not, the include is
    /// deferred: its name is templated per host when it runs, as Ansible does.
    pub(crate) fn renders_fixed(&self, name: &str) -> bool {
        if !crate::template::is_template(name) {
            return true;
        }
        let magic = self.magic_vars();
        let scope = crate::template::Scope::new(vec![&self.extra_vars, &magic]);
        self.templar.render_string(name, &scope).is_ok()
    }

    /// The magic variables a templated file name may use at compile time.
    fn magic_vars(&self) -> Vars {
        let mut magic = Vars::new();
        magic.insert(
            "playbook_dir".into(),
            Value::String(super::absolute(&self.playbook_dir)),
        );
        if let Some(role) = self.role_chain.last().and_then(|c| c.last()) {
            magic.insert(
                "role_path".into(),
                Value::String(role.path.display().to_string()),
            );
            magic.insert("role_name".into(), Value::String(role.name.clone()));
        }
        magic
    }

    /// What reading the include `item` (action `key`) later needs of the
    /// parsing state here (see [`Deferred`]).
    pub(crate) fn defer(&self, item: &Node, key: &str, handlers: bool) -> Box<Deferred> {
        Box::new(Deferred {
            node: item.clone(),
            key: key.to_string(),
            handlers,
            stack: self.stack.clone(),
            playbook_dir: self.playbook_dir.clone(),
            roles_dir: self.roles.dir.clone(),
            role_chain: self.role_chain.clone(),
            extra_vars: self.extra_vars.clone(),
            play_vars: self.play_vars.clone(),
            inherits: Vec::new(),
            rescued: false,
        })
    }

    fn current_dir(&self) -> PathBuf {
        self.stack
            .last()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.playbook_dir.clone())
    }

    /// Whether an imported file can be found (see [`Cx::load_import`]).
    fn import_exists(&self, name: &str) -> bool {
        self.import_candidates(name).iter().any(|c| c.is_file())
    }

    /// Where an imported file is looked for, in order.
    fn import_candidates(&self, name: &str) -> Vec<PathBuf> {
        let p = Path::new(name);
        if p.is_absolute() {
            vec![p.to_path_buf()]
        } else {
            let mut c = vec![self.current_dir().join(p)];
            let cur = self.current_dir();
            c.push(cur.join("tasks").join(p));
            // Inside a role (its handlers too): the role's tasks/ and handlers/.
            if let Some(role) = self.role_chain.last().and_then(|c| c.last()) {
                for sub in ["tasks", "handlers"] {
                    let r = role.path.join(sub).join(p);
                    if !c.contains(&r) {
                        c.push(r);
                    }
                }
            }
            c.push(self.playbook_dir.join(p));
            c
        }
    }

    /// Resolves and loads an imported file, guarding against loops.
    fn load_import(&mut self, name: &str, span: &Span, kind: &str) -> Option<(PathBuf, Vec<Node>)> {
        let candidates = self.import_candidates(name);
        let Some(path) = candidates.iter().find(|c| c.is_file()).cloned() else {
            self.diags.push(
                Diagnostic::error(format!("{kind}: could not find `{name}`"))
                    .at(span.clone())
                    .label(format!(
                        "searched {}",
                        candidates
                            .iter()
                            .map(|c| c.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            return None;
        };
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self
            .stack
            .iter()
            .any(|s| std::fs::canonicalize(s).unwrap_or_else(|_| s.clone()) == canonical)
        {
            // Ansible stops a recursive include when its `when` turns false;
            // tend reads included files before the run, so it cannot.
            let message = if kind.starts_with("include") {
                format!(
                    "{kind}: `{name}` includes itself (include loop): a recursive include is not supported yet"
                )
            } else {
                format!("{kind}: `{name}` imports itself (import loop)")
            };
            self.diags.push(Diagnostic::error(message).at(span.clone()));
            return None;
        }
        match crate::yaml::load(&path) {
            Ok((_, docs)) => Some((path, docs)),
            Err(d) => {
                self.diags.push(*d);
                None
            }
        }
    }
}

/// Parses a playbook file (and the playbooks it imports) into plays.
pub fn parse_playbook_file(path: &Path, docs: &[Node], cx: &mut Cx<'_>) -> Playbook {
    cx.stack.push(path.to_path_buf());
    let book = parse_playbook(docs, cx);
    cx.stack.pop();
    book
}

fn parse_playbook(docs: &[Node], cx: &mut Cx<'_>) -> Playbook {
    let mut plays = Vec::new();
    let Some(root) = docs.first() else {
        return Playbook { plays };
    };
    if docs.len() > 1 {
        cx.diags.push(
            Diagnostic::error("a playbook must be a single YAML document").at(docs[1].span.clone()),
        );
    }
    let Some(items) = root.as_seq() else {
        cx.diags.push(
            Diagnostic::error(format!(
                "a playbook must be a list of plays, found {}",
                root.kind_name()
            ))
            .at(root.span.clone()),
        );
        return Playbook { plays };
    };
    for item in items {
        if let Some(target) = item
            .get("import_playbook")
            .or_else(|| item.get("ansible.builtin.import_playbook"))
            .or_else(|| item.get("ansible.legacy.import_playbook"))
        {
            plays.extend(import_playbook(item, target, cx));
            continue;
        }
        if let Some(play) = parse_play(item, cx) {
            plays.push(play);
        }
    }
    Playbook { plays }
}

fn import_playbook(item: &Node, target: &Node, cx: &mut Cx<'_>) -> Vec<Play> {
    let mut vars = Vars::new();
    let mut tags_list = Vec::new();
    for (k, v) in item.as_map().unwrap_or_default() {
        match k.key_text().as_deref() {
            Some(
                "import_playbook"
                | "ansible.builtin.import_playbook"
                | "ansible.legacy.import_playbook"
                | "name"
                | "when",
            ) => {}
            Some("vars") => vars = vars_map(v, cx.diags),
            Some("tags") => tags_list = tags(v, cx.diags),
            Some(other) => cx.diags.push(
                Diagnostic::error(format!("`{other}` on import_playbook is not supported yet"))
                    .at(k.span.clone()),
            ),
            None => {}
        }
    }
    let Some(name) = target.as_str() else {
        cx.diags
            .push(Diagnostic::error("import_playbook expects a file name").at(target.span.clone()));
        return Vec::new();
    };
    let Some(name) = cx.file_name(
        name,
        &target.span,
        "import_playbook",
        &vars,
        NameVars::Parse,
    ) else {
        return Vec::new();
    };
    let Some((path, docs)) = cx.load_import(&name, &target.span, "import_playbook") else {
        return Vec::new();
    };
    // `when`: a condition on every task of the imported plays (and on their
    // fact gathering), as Ansible applies it.
    let guard = match item.get("when") {
        Some(_) => {
            let when_only = Node {
                span: item.span.clone(),
                tag: None,
                kind: Kind::Map(
                    item.as_map()
                        .unwrap_or_default()
                        .iter()
                        .filter(|(k, _)| k.key_text().as_deref() == Some("when"))
                        .cloned()
                        .collect(),
                ),
            };
            match keywords_holder(&when_only, &[], cx, false) {
                Some(t) => Some(t),
                None => return Vec::new(),
            }
        }
        None => None,
    };
    let mut inner = vars.clone();
    inner.extend(cx.import_vars.clone());
    let outer = std::mem::replace(&mut cx.import_vars, inner);
    let book = parse_playbook_file(&path, &docs, cx);
    cx.import_vars = outer;
    book.plays
        .into_iter()
        .map(|mut p| {
            // The import's vars win over the play's, as in Ansible.
            p.vars.extend(vars.clone());
            p.tags.extend(tags_list.iter().cloned());
            if let Some(g) = &guard {
                for section in [&mut p.pre_tasks, &mut p.tasks, &mut p.post_tasks] {
                    *section = std::mem::take(section)
                        .into_iter()
                        .map(|s| s.inherit_all(g))
                        .collect();
                }
                p.import_when = Some(Box::new(match p.import_when.take() {
                    Some(inner) => inherit(*inner, g),
                    None => g.clone(),
                }));
            }
            p
        })
        .collect()
}

fn parse_play(node: &Node, cx: &mut Cx<'_>) -> Option<Play> {
    let diags: &mut Vec<Diagnostic> = &mut *cx.diags;
    let Some(entries) = node.as_map() else {
        diags.push(
            Diagnostic::error(format!(
                "a play must be a mapping, found {}",
                node.kind_name()
            ))
            .at(node.span.clone()),
        );
        return None;
    };
    let mut play = Play {
        span: node.span.clone(),
        name: None,
        hosts: Located {
            value: String::new(),
            span: node.span.clone(),
        },
        vars: Vars::new(),
        vars_files: Vec::new(),
        gather_facts: None,
        gather_subset: None,
        gather_timeout: None,
        fact_path: None,
        escalation: Become::default(),
        check_mode: None,
        diff: None,
        environment: None,
        tags: Vec::new(),
        ignore_errors: None,
        ignore_unreachable: None,
        run_once: None,
        throttle: None,
        timeout: None,
        port: None,
        no_log: None,
        remote_user: None,
        connection: None,
        serial: None,
        max_fail_percentage: None,
        any_errors_fatal: None,
        force_handlers: None,
        vars_prompt: Vec::new(),
        order: None,
        strategy: None,
        pre_tasks: Vec::new(),
        tasks: Vec::new(),
        post_tasks: Vec::new(),
        handlers: Vec::new(),
        role_names: Vec::new(),
        role_defaults: Vars::new(),
        role_exports: Vars::new(),
        import_when: None,
    };
    let mut roles_node: Option<&Node> = None;
    let mut saw_hosts = false;
    let mut sections: Vec<(u8, &Node)> = Vec::new();
    for (k, v) in entries {
        let Some(key) = k.key_text() else {
            diags.push(Diagnostic::error("a play keyword must be a string").at(k.span.clone()));
            continue;
        };
        match key.as_str() {
            "name" => play.name = scalar_string(v, diags),
            "hosts" => {
                saw_hosts = true;
                let value = match &v.kind {
                    Kind::Seq(items) => items
                        .iter()
                        .filter_map(|i| scalar_string(i, diags))
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => scalar_string(v, diags).unwrap_or_default(),
                };
                play.hosts = Located {
                    value,
                    span: v.span.clone(),
                };
            }
            "vars" => play.vars = vars_map(v, diags),
            "vars_files" => play.vars_files = vars_files(v, diags),
            "gather_facts" => play.gather_facts = Some(v.to_value()),
            "gather_subset" => play.gather_subset = Some(v.to_value()),
            "gather_timeout" => play.gather_timeout = Some(gather_timeout(v, diags)),
            "fact_path" => play.fact_path = Some(v.to_value()),
            "become" => play.escalation.enabled = Some(v.to_value()),
            "become_user" => play.escalation.user = Some(v.to_value()),
            "become_method" => play.escalation.method = Some(v.to_value()),
            "become_flags" => play.escalation.flags = Some(v.to_value()),
            "remote_user" => play.remote_user = Some(v.to_value()),
            "connection" => play.connection = Some(v.to_value()),
            "serial" => play.serial = Some(located(v)),
            "max_fail_percentage" => play.max_fail_percentage = Some(located(v)),
            "any_errors_fatal" => play.any_errors_fatal = Some(v.to_value()),
            "force_handlers" => play.force_handlers = Some(v.to_value()),
            "vars_prompt" => play.vars_prompt = vars_prompt(v, diags),
            "order" => play.order = play_order(v, diags),
            "strategy" => play.strategy = play_strategy(v, diags),
            "check_mode" => play.check_mode = Some(v.to_value()),
            "diff" => play.diff = Some(v.to_value()),
            "environment" => play.environment = Some(v.to_value()),
            "tags" => play.tags = tags(v, diags),
            "ignore_errors" => play.ignore_errors = Some(v.to_value()),
            "ignore_unreachable" => play.ignore_unreachable = Some(v.to_value()),
            "run_once" => play.run_once = Some(v.to_value()),
            "throttle" => play.throttle = Some(v.to_value()),
            "timeout" => play.timeout = Some(v.to_value()),
            "port" => play.port = Some(v.to_value()),
            "no_log" => play.no_log = Some(v.to_value()),
            "pre_tasks" => sections.push((0, v)),
            "tasks" => sections.push((1, v)),
            "post_tasks" => sections.push((2, v)),
            "handlers" => sections.push((3, v)),
            "roles" => roles_node = Some(v),
            "debugger" if debugger_off(v) => {}
            "collections" => collections(v, diags),
            other if PLAY_UNSUPPORTED.contains(&other) => diags.push(
                Diagnostic::error(format!("play keyword `{other}` is not supported yet"))
                    .at(k.span.clone())
                    .label("not supported yet"),
            ),
            other => {
                let mut d = Diagnostic::error(format!("`{other}` is not a valid play keyword"))
                    .at(k.span.clone());
                if let Some(s) = suggest(other, PLAY_KEYWORDS.iter().copied()) {
                    d = d.label(format!("did you mean `{s}`?"));
                }
                diags.push(d);
            }
        }
    }
    if !saw_hosts {
        diags.push(
            Diagnostic::error("this play has no `hosts`")
                .at(node.span.clone())
                .label("`hosts` is required"),
        );
    }
    // Import names are templated with the play's vars while it is parsed.
    cx.play_vars = play.vars.clone();
    cx.play_vars.extend(cx.import_vars.clone());
    // Roles are per play: `roles/` beside the file that holds the play.
    let play_dir = cx.current_dir();
    let outer = std::mem::replace(
        &mut cx.roles,
        super::role::PlayRoles {
            dir: play_dir,
            ..Default::default()
        },
    );
    // `roles:` run after `pre_tasks` (and their handlers), before `tasks`.
    let role_steps = match roles_node {
        Some(n) => super::role::play_roles(n, cx, &mut play.role_names),
        None => Vec::new(),
    };
    for (which, v) in sections {
        let tasks = task_list(v, cx, which == 3);
        match which {
            0 => play.pre_tasks = tasks,
            1 => play.tasks = tasks,
            2 => play.post_tasks = tasks,
            _ => play.handlers = tasks,
        }
    }
    let roles = std::mem::replace(&mut cx.roles, outer);
    cx.play_vars = Vars::new();
    if !role_steps.is_empty() {
        let mut tasks = role_steps;
        tasks.append(&mut play.tasks);
        play.tasks = tasks;
    }
    let mut handlers = roles.front_handlers;
    handlers.append(&mut play.handlers);
    handlers.extend(roles.back_handlers);
    play.handlers = handlers;
    play.role_defaults = roles.defaults;
    play.role_exports = roles.exports;
    Some(play)
}

/// The actions that are imports or includes rather than modules.
const INCLUDE_ACTIONS: &[&str] = &[
    "import_role",
    "ansible.builtin.import_role",
    "include_role",
    "ansible.builtin.include_role",
    "import_tasks",
    "ansible.builtin.import_tasks",
    "include_tasks",
    "ansible.builtin.include_tasks",
];

fn map_node(span: &Span, entries: Vec<(Node, Node)>) -> Node {
    Node {
        span: span.clone(),
        tag: None,
        kind: Kind::Map(entries),
    }
}

fn str_node(span: &Span, text: &str) -> Node {
    Node {
        span: span.clone(),
        tag: None,
        kind: Kind::Str(text.to_string()),
    }
}

/// An include or import written the other ways Ansible's argument parser
/// accepts, rewritten as `include_tasks: TARGET`: as an action
/// (`action: include_tasks file.yml`, `action: {module: include_role, name: r}`),
/// and with its options in `args:` (merged into the target). `None`: the
/// task is not one, or is written plainly already.
fn normalize_include(item: &Node, diags: &mut Vec<Diagnostic>) -> Option<Node> {
    let entries = item.as_map()?;
    let key_of = |k: &Node| k.key_text().unwrap_or_default();
    let direct = entries
        .iter()
        .position(|(k, _)| INCLUDE_ACTIONS.contains(&key_of(k).as_str()));
    let action = entries.iter().position(|(k, _)| key_of(k) == "action");
    let args_at = entries.iter().position(|(k, _)| key_of(k) == "args");
    let (at, name, target) = match (direct, action) {
        (Some(at), _) => (at, key_of(&entries[at].0), entries[at].1.clone()),
        (None, Some(at)) => {
            let v = &entries[at].1;
            match (v.as_str(), v.get("module").and_then(Node::key_text)) {
                (Some(text), _) => {
                    let (module, rest) = split_module_word(text.trim());
                    if !INCLUDE_ACTIONS.contains(&module) {
                        return None;
                    }
                    let target = if rest.is_empty() {
                        Node {
                            span: v.span.clone(),
                            tag: None,
                            kind: Kind::Null,
                        }
                    } else {
                        str_node(&v.span, rest)
                    };
                    (at, module.to_string(), target)
                }
                (None, Some(module)) if INCLUDE_ACTIONS.contains(&module.as_str()) => {
                    let rest = v
                        .as_map()
                        .unwrap_or_default()
                        .iter()
                        .filter(|(k, _)| key_of(k) != "module")
                        .cloned()
                        .collect();
                    (at, module, map_node(&v.span, rest))
                }
                _ => return None,
            }
        }
        (None, None) => return None,
    };
    let args = args_at.map(|i| &entries[i].1);
    if direct.is_some() && args.is_none() {
        return None;
    }
    let target = match (args, &target.kind) {
        (None, _) => target,
        (Some(a), _) if a.as_map().is_none() => {
            diags.push(
                Diagnostic::error(format!(
                    "`args` of {name} must be a mapping, found {}",
                    a.kind_name()
                ))
                .at(a.span.clone()),
            );
            return Some(map_node(&item.span, Vec::new()));
        }
        (Some(a), Kind::Null) => a.clone(),
        (Some(a), Kind::Map(own)) => {
            let mut merged = own.clone();
            merged.extend(a.as_map().unwrap_or_default().iter().cloned());
            map_node(&target.span, merged)
        }
        (Some(a), Kind::Str(_)) if name.ends_with("_tasks") => {
            // The free-form file (or `file=...`) and the options.
            let mut merged = vec![(str_node(&target.span, "file"), kv_file(&target))];
            merged.extend(a.as_map().unwrap_or_default().iter().cloned());
            map_node(&target.span, merged)
        }
        (Some(a), _) => {
            diags.push(
                Diagnostic::error(format!(
                    "{name}: options both inline and in `args` are not supported yet"
                ))
                .at(a.span.clone()),
            );
            return Some(map_node(&item.span, Vec::new()));
        }
    };
    let key_span = entries[at].0.span.clone();
    let rewritten = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != args_at)
        .map(|(i, (k, v))| {
            if i == at {
                (str_node(&key_span, &name), target.clone())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    Some(map_node(&item.span, rewritten))
}

/// Parses a list of tasks (imports, includes, blocks, roles resolved).
pub(crate) fn task_list(node: &Node, cx: &mut Cx<'_>, handlers: bool) -> Vec<Step> {
    match &node.kind {
        Kind::Null => Vec::new(),
        Kind::Seq(items) => {
            let mut out = Vec::new();
            for item in items {
                let normalized = normalize_include(item, cx.diags);
                let item = normalized.as_ref().unwrap_or(item);
                let role_key = [
                    "import_role",
                    "ansible.builtin.import_role",
                    "include_role",
                    "ansible.builtin.include_role",
                ]
                .into_iter()
                .find(|k| item.get(k).is_some());
                if let Some(key) = role_key {
                    out.extend(super::role::task_role(item, key, cx, handlers));
                } else if let Some(target) = item
                    .get("import_tasks")
                    .or_else(|| item.get("ansible.builtin.import_tasks"))
                {
                    out.extend(import_tasks(item, target, cx, handlers));
                } else if let Some(target) = item
                    .get("include_tasks")
                    .or_else(|| item.get("ansible.builtin.include_tasks"))
                {
                    out.extend(include_tasks(item, target, cx, handlers));
                } else if item.get("block").is_some() {
                    out.extend(parse_block(item, cx, handlers));
                } else if let Some(t) = parse_task(item, cx.diags, handlers) {
                    out.push(Step::Task(t));
                }
            }
            out
        }
        _ => {
            cx.diags.push(
                Diagnostic::error(format!(
                    "expected a list of tasks, found {}",
                    node.kind_name()
                ))
                .at(node.span.clone()),
            );
            Vec::new()
        }
    }
}

/// Parses the keywords of an import or block (everything but `skip`) as a task
/// with a placeholder action, so they are validated like a task's.
pub(crate) fn keywords_holder(
    item: &Node,
    skip: &[&str],
    cx: &mut Cx<'_>,
    handlers: bool,
) -> Option<Task> {
    let mut keywords = Vec::new();
    for (k, v) in item.as_map().unwrap_or_default() {
        match k.key_text().as_deref() {
            Some(key) if skip.contains(&key) => {}
            Some(_) => keywords.push((k.clone(), v.clone())),
            None => {}
        }
    }
    keywords.push((
        Node {
            span: item.span.clone(),
            tag: None,
            kind: Kind::Str("meta".into()),
        },
        Node {
            span: item.span.clone(),
            tag: None,
            kind: Kind::Str("noop".into()),
        },
    ));
    let holder = Node {
        span: item.span.clone(),
        tag: None,
        kind: Kind::Map(keywords),
    };
    parse_task(&holder, cx.diags, handlers)
}

/// `block`/`rescue`/`always`, with the block's keywords applied to its tasks.
fn parse_block(item: &Node, cx: &mut Cx<'_>, handlers: bool) -> Option<Step> {
    let parent = keywords_holder(item, &["block", "rescue", "always"], cx, handlers)?;
    if parent.loop_.is_some() || parent.register.is_some() {
        cx.diags
            .push(Diagnostic::error("a block cannot loop or register").at(item.span.clone()));
        return None;
    }
    let section = |key: &str, cx: &mut Cx<'_>| -> Vec<Step> {
        item.get(key)
            .map(|n| task_list(n, cx, handlers))
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.inherit(&parent))
            .collect()
    };
    let mut block = section("block", cx);
    if item
        .get("rescue")
        .and_then(Node::as_seq)
        .is_some_and(|r| !r.is_empty())
    {
        block.iter_mut().for_each(Step::mark_rescued);
    }
    let rescue = section("rescue", cx);
    let always = section("always", cx);
    Some(Step::Block(Block {
        span: item.span.clone(),
        name: parent.name.clone(),
        block,
        rescue,
        always,
        unless_role_ran: None,
    }))
}

/// `import_tasks`: the file's tasks, spliced in at compile time, with the
/// import's keywords (`when`, `tags`, `vars`, `become`...) applied to each.
fn import_tasks(item: &Node, target: &Node, cx: &mut Cx<'_>, handlers: bool) -> Vec<Step> {
    let Some(parent) = keywords_holder(
        item,
        &["import_tasks", "ansible.builtin.import_tasks"],
        cx,
        handlers,
    ) else {
        return Vec::new();
    };
    if parent.loop_.is_some() || parent.register.is_some() || !parent.notify.is_empty() {
        cx.diags.push(
            Diagnostic::error("import_tasks cannot loop, register or notify (use include_tasks)")
                .at(item.span.clone()),
        );
        return Vec::new();
    }
    let target = &kv_file(target);
    // `import_tasks: file.yml` or `import_tasks: {file: file.yml}`.
    let target = match target.as_map() {
        Some(entries) => {
            let mut file = None;
            for (k, v) in entries {
                match k.key_text().as_deref() {
                    Some("file") => file = Some(v),
                    other => cx.diags.push(
                        Diagnostic::error(format!(
                            "Invalid options for import_tasks: {}",
                            other.unwrap_or_default()
                        ))
                        .at(k.span.clone()),
                    ),
                }
            }
            match file {
                Some(f) => f,
                None => {
                    cx.diags.push(
                        Diagnostic::error("import_tasks: no file given").at(target.span.clone()),
                    );
                    return Vec::new();
                }
            }
        }
        None => target,
    };
    let Some(name) = target.as_str() else {
        cx.diags
            .push(Diagnostic::error("import_tasks expects a file name").at(target.span.clone()));
        return Vec::new();
    };
    let Some(name) = cx.file_name(
        name,
        &target.span,
        "import_tasks",
        &parent.vars,
        NameVars::Parse,
    ) else {
        return Vec::new();
    };
    let Some((path, docs)) = cx.load_import(&name, &target.span, "import_tasks") else {
        return Vec::new();
    };
    cx.stack.push(path.clone());
    let tasks = match docs.first() {
        None => Vec::new(),
        Some(root) => task_list(root, cx, handlers),
    };
    cx.stack.pop();
    tasks.into_iter().map(|t| t.inherit(&parent)).collect()
}

/// The file of `import_tasks`/`include_tasks` written as `k=v` text
/// (`include_tasks: file=other.yml`), as Ansible's argument parser reads it;
/// any other text is the file name itself.
fn kv_file(target: &Node) -> Node {
    let file = target
        .as_str()
        .and_then(|text| super::kv::parse_kv(text, Some(&["file"])).ok())
        .filter(|kv| kv.raw.is_none() && kv.pairs.len() == 1)
        .and_then(|kv| kv.pairs.into_iter().next())
        .map(|(_, file)| file);
    match file {
        Some(file) => Node {
            kind: Kind::Str(file),
            ..target.clone()
        },
        None => target.clone(),
    }
}

/// The module name of an `action: NAME ARGS` string and the rest: the first
/// word, where a Jinja expression (`{{ mod }} a=b`) counts as one word.
fn split_module_word(text: &str) -> (&str, &str) {
    let mut from = 0;
    while text[from..].starts_with("{{") {
        match text[from..].find("}}") {
            Some(close) => from += close + 2,
            None => break,
        }
    }
    match text[from..].find(char::is_whitespace) {
        Some(i) => {
            let (module, rest) = text.split_at(from + i);
            (module, rest.trim_start())
        }
        None => (text, ""),
    }
}

/// `include_tasks`: the file is parsed now; the include runs at run time.
fn include_tasks(item: &Node, target: &Node, cx: &mut Cx<'_>, handlers: bool) -> Option<Step> {
    let task = keywords_holder(
        item,
        &["include_tasks", "ansible.builtin.include_tasks"],
        cx,
        handlers,
    )?;
    let (file_node, apply) = match &target.kind {
        Kind::Map(_) => {
            for (k, _) in target.as_map().unwrap_or_default() {
                if !matches!(k.key_text().as_deref(), Some("file" | "apply")) {
                    cx.diags.push(
                        Diagnostic::error(format!(
                            "include_tasks: unsupported option `{}`",
                            k.key_text().unwrap_or_default()
                        ))
                        .at(k.span.clone()),
                    );
                }
            }
            (target.get("file").cloned(), target.get("apply").cloned())
        }
        _ => (Some(kv_file(target)), None),
    };
    let Some(file_node) = file_node else {
        cx.diags
            .push(Diagnostic::error("include_tasks: no file given").at(target.span.clone()));
        return None;
    };
    let Some(name) = file_node.key_text() else {
        cx.diags.push(
            Diagnostic::error("include_tasks expects a file name").at(file_node.span.clone()),
        );
        return None;
    };
    if !task.notify.is_empty() {
        cx.diags.push(
            Diagnostic::error("include_tasks: `notify` is not supported yet").at(item.span.clone()),
        );
        return None;
    }
    let apply = match apply {
        Some(a) => Some(keywords_holder(&a, &[], cx, handlers)?),
        None => None,
    };
    // A file that cannot be found yet (it may be written by the play, or
    // the include may never run): read when the include runs, as Ansible.
    let missing = !cx.run_time && !crate::template::is_template(&name) && !cx.import_exists(&name);
    if missing {
        cx.diags.push(
            Diagnostic::warning(format!(
                "include_tasks: could not find `{name}` now; the include fails if it runs without it"
            ))
            .at(file_node.span.clone()),
        );
    }
    if missing || !cx.renders_fixed(&name) {
        let key = if item.get("include_tasks").is_some() {
            "include_tasks"
        } else {
            "ansible.builtin.include_tasks"
        };
        return Some(Step::Include(Include {
            task,
            file: Located {
                value: name,
                span: file_node.span.clone(),
            },
            steps: Vec::new(),
            deferred: Some(cx.defer(item, key, handlers)),
            role: None,
        }));
    }
    let name = cx.file_name(
        &name,
        &file_node.span,
        "include_tasks",
        &Vars::new(),
        NameVars::Fixed,
    )?;
    let (path, docs) = cx.load_import(&name, &file_node.span, "include_tasks")?;
    let shown = std::fs::canonicalize(&path)
        .unwrap_or_else(|_| path.clone())
        .display()
        .to_string();
    cx.stack.push(path);
    let steps = match docs.first() {
        None => Vec::new(),
        Some(root) => task_list(root, cx, handlers),
    };
    cx.stack.pop();
    let steps = match &apply {
        Some(parent) => steps.into_iter().map(|s| s.inherit(parent)).collect(),
        None => steps,
    };
    Some(Step::Include(Include {
        task,
        file: Located {
            value: shown,
            span: file_node.span.clone(),
        },
        steps,
        deferred: None,
        role: None,
    }))
}

/// The names an include's target may template (`include_tasks: NAME`,
/// `file:`, `include_role`'s `name:` and `*_from:`).
const INCLUDE_NAME_KEYS: &[&str] = &[
    "file",
    "name",
    "tasks_from",
    "vars_from",
    "defaults_from",
    "handlers_from",
];

/// Whether every templated name of an include's target renders at compile
/// time (see [`Cx::renders_fixed`]).
pub(crate) fn target_names_fixed(target: &Node, cx: &Cx<'_>) -> bool {
    match &target.kind {
        Kind::Str(text) => cx.renders_fixed(text),
        Kind::Map(entries) => entries.iter().all(|(k, v)| {
            !k.key_text()
                .is_some_and(|k| INCLUDE_NAME_KEYS.contains(&k.as_str()))
                || v.as_str().is_none_or(|text| cx.renders_fixed(text))
        }),
        _ => true,
    }
}

/// Reads a deferred include (see [`Deferred`]) for one host: `render`
/// templates its names with the host's variables. Returns the included
/// file as shown (empty for a role) and its steps, with the keywords of the
/// enclosing roles and imports applied and `role` (the role the include was
/// written in) set on them.
pub fn load_deferred(
    d: &Deferred,
    role: Option<&std::sync::Arc<super::RoleInfo>>,
    render: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<LoadedInclude, Vec<Diagnostic>> {
    let mut node = d.node.clone();
    let mut diags = Vec::new();
    for_each_name(&mut node, &d.key, &mut |v| {
        render_name(v, &d.key, render, &mut diags)
    });
    // An option rendered to `omit` is left out, as in Ansible.
    if let Kind::Map(entries) = &mut node.kind {
        for (k, v) in entries.iter_mut() {
            if k.key_text().as_deref() == Some(d.key.as_str())
                && let Kind::Map(options) = &mut v.kind
            {
                options.retain(|(_, o)| o.as_str() != Some(crate::template::OMIT));
            }
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let list = Node {
        span: node.span.clone(),
        tag: None,
        kind: Kind::Seq(vec![node]),
    };
    let steps = {
        let mut cx = Cx::new(&mut diags, d.playbook_dir.clone());
        cx.stack = d.stack.clone();
        cx.roles.dir = d.roles_dir.clone();
        cx.role_chain = d.role_chain.clone();
        cx.extra_vars = d.extra_vars.clone();
        cx.play_vars = d.play_vars.clone();
        cx.run_time = true;
        task_list(&list, &mut cx, d.handlers)
    };
    if diags
        .iter()
        .any(|x| x.severity == crate::diagnostic::Severity::Error)
    {
        return Err(diags);
    }
    let Some(Step::Include(inc)) = steps.into_iter().next() else {
        return Ok((String::new(), Vec::new(), None));
    };
    if inc.deferred.is_some() {
        return Err(vec![
            Diagnostic::error(format!(
                "{}: the file name `{}` is still a template once rendered",
                d.key, inc.file.value
            ))
            .at(inc.file.span.clone()),
        ]);
    }
    let mut steps = inc.steps;
    for parent in &d.inherits {
        steps = steps.into_iter().map(|s| s.inherit_all(parent)).collect();
    }
    if let Some(r) = role {
        steps.iter_mut().for_each(|s| s.set_role(r));
    }
    if d.rescued {
        steps.iter_mut().for_each(Step::mark_rescued);
    }
    Ok((inc.file.value, steps, inc.role))
}

/// A deferred include read for a host: the file as shown (empty for a
/// role), its steps, and for `include_role` what running it leaves.
pub type LoadedInclude = (String, Vec<Step>, Option<Arc<super::IncludedRole>>);

/// The templated names of a deferred include, in the order
/// [`load_deferred`] renders them.
pub fn deferred_templates(d: &Deferred) -> Vec<String> {
    let mut node = d.node.clone();
    let mut out = Vec::new();
    for_each_name(&mut node, &d.key, &mut |v| {
        if let Some(text) = v.as_str().filter(|t| crate::template::is_template(t)) {
            out.push(text.to_string());
        }
    });
    out
}

/// Calls `f` on each name node of the include `node` (action `key`).
fn for_each_name(node: &mut Node, key: &str, f: &mut dyn FnMut(&mut Node)) {
    let Kind::Map(entries) = &mut node.kind else {
        return;
    };
    for (k, v) in entries.iter_mut() {
        if k.key_text().as_deref() != Some(key) {
            continue;
        }
        match &mut v.kind {
            Kind::Map(options) => {
                for (k, v) in options.iter_mut() {
                    if k.key_text()
                        .is_some_and(|k| INCLUDE_NAME_KEYS.contains(&k.as_str()))
                    {
                        f(v);
                    }
                }
            }
            _ => f(v),
        }
    }
}

/// Templates one name of a deferred include in place.
fn render_name(
    v: &mut Node,
    key: &str,
    render: &mut dyn FnMut(&str) -> Result<String, String>,
    diags: &mut Vec<Diagnostic>,
) {
    let Kind::Str(text) = &mut v.kind else {
        return;
    };
    if !crate::template::is_template(text) {
        return;
    }
    match render(text) {
        Ok(r) => *text = r,
        Err(e) => diags.push(
            Diagnostic::error(format!(
                "{key}: cannot template the file name `{text}`: {e}"
            ))
            .at(v.span.clone()),
        ),
    }
}

/// What the tasks of a dynamic include inherit of a keyword holder above
/// the include (a block, an import, a role): as in Ansible, its keywords
/// through the include (`check_mode`, `become`, `environment`, ...), but not
/// its `when`, `tags` or `notify`, which the include itself takes.
pub(crate) fn through_include(parent: &Task) -> Task {
    let mut p = parent.clone();
    p.when = None;
    p.tags = Vec::new();
    p.notify = Vec::new();
    p.vars = Vars::new();
    p
}

/// Applies a parent's (import or block) keywords to a child task.
pub fn inherit(mut t: Task, parent: &Task) -> Task {
    if let Some(pw) = &parent.when {
        t.when = Some(match t.when.take() {
            None => pw.clone(),
            Some(cw) => {
                let mut all = match pw.value.clone() {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                match cw.value {
                    Value::Array(a) => all.extend(a),
                    other => all.push(other),
                }
                Located {
                    value: Value::Array(all),
                    span: cw.span,
                }
            }
        });
    }
    for tag in &parent.tags {
        if !t.tags.contains(tag) {
            t.tags.push(tag.clone());
        }
    }
    // A block's `notify` is its tasks' unless they have their own.
    if t.notify.is_empty() {
        t.notify = parent.notify.clone();
    }
    let mut vars = parent.vars.clone();
    vars.extend(std::mem::take(&mut t.vars));
    t.vars = vars;
    t.escalation = t.escalation.inherit(&parent.escalation);
    t.ignore_errors = t.ignore_errors.or_else(|| parent.ignore_errors.clone());
    t.ignore_unreachable = t
        .ignore_unreachable
        .or_else(|| parent.ignore_unreachable.clone());
    t.no_log = t.no_log.or_else(|| parent.no_log.clone());
    t.check_mode = t.check_mode.or_else(|| parent.check_mode.clone());
    t.diff = t.diff.or_else(|| parent.diff.clone());
    t.environment = t.environment.or_else(|| parent.environment.clone());
    t.delegate_to = t.delegate_to.or_else(|| parent.delegate_to.clone());
    t.delegate_facts = t.delegate_facts.or_else(|| parent.delegate_facts.clone());
    t.timeout = t.timeout.or_else(|| parent.timeout.clone());
    t.remote_user = t.remote_user.or_else(|| parent.remote_user.clone());
    t.connection = t.connection.or_else(|| parent.connection.clone());
    t.any_errors_fatal = t
        .any_errors_fatal
        .or_else(|| parent.any_errors_fatal.clone());
    t.run_once = t.run_once.or_else(|| parent.run_once.clone());
    t.throttle = t.throttle.or_else(|| parent.throttle.clone());
    t
}

/// `vars_prompt`: a list of `{name, prompt, default, private, confirm, unsafe}`.
fn vars_prompt(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<VarsPrompt> {
    let Some(items) = node.as_seq() else {
        diags.push(
            Diagnostic::error(format!(
                "`vars_prompt` must be a list, found {}",
                node.kind_name()
            ))
            .at(node.span.clone()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(entries) = item.as_map() else {
            diags.push(
                Diagnostic::error("a `vars_prompt` entry must be a mapping with `name`")
                    .at(item.span.clone()),
            );
            continue;
        };
        let mut p = VarsPrompt {
            name: String::new(),
            prompt: None,
            default: None,
            private: true,
            confirm: false,
            unsafe_: false,
            span: item.span.clone(),
        };
        let flag = |v: &Node| match v.to_value() {
            Value::Bool(b) => b,
            Value::String(s) => tend_modules::args::parse_bool(&s).unwrap_or(!s.is_empty()),
            other => !other.is_null(),
        };
        for (k, v) in entries {
            match k.key_text().as_deref() {
                Some("name") => p.name = scalar_string(v, diags).unwrap_or_default(),
                Some("prompt") => p.prompt = scalar_string(v, diags),
                Some("default") => p.default = Some(v.to_value()),
                Some("private") => p.private = flag(v),
                Some("confirm") => p.confirm = flag(v),
                Some("unsafe") => p.unsafe_ = flag(v),
                Some(other @ ("encrypt" | "salt" | "salt_size")) => diags.push(
                    Diagnostic::error(format!("vars_prompt `{other}` is not supported yet"))
                        .at(k.span.clone())
                        .label("not supported yet"),
                ),
                Some(other) => diags.push(
                    Diagnostic::error(format!("`{other}` is not a valid vars_prompt option"))
                        .at(k.span.clone()),
                ),
                None => {}
            }
        }
        if p.name.is_empty() {
            diags.push(
                Diagnostic::error("this `vars_prompt` entry has no `name`").at(item.span.clone()),
            );
            continue;
        }
        out.push(p);
    }
    out
}

fn located(v: &Node) -> Located<Value> {
    Located {
        value: v.to_value(),
        span: v.span.clone(),
    }
}

/// `order`: one of Ansible's host orders.
fn play_order(v: &Node, diags: &mut Vec<Diagnostic>) -> Option<Located<String>> {
    const ORDERS: &[&str] = &[
        "inventory",
        "reverse_inventory",
        "sorted",
        "reverse_sorted",
        "shuffle",
    ];
    let value = scalar_string(v, diags)?;
    if ORDERS.contains(&value.as_str()) {
        return Some(Located {
            value,
            span: v.span.clone(),
        });
    }
    diags.push(
        Diagnostic::error(format!(
            "`order` must be one of {}, got `{value}`",
            ORDERS.join(", ")
        ))
        .at(v.span.clone()),
    );
    None
}

/// `strategy`: `linear`, `free` or `host_pinned` (with or without the
/// `ansible.builtin.` prefix), or a template rendered when the play starts
/// (with the play's variables, as Ansible does).
fn play_strategy(v: &Node, diags: &mut Vec<Diagnostic>) -> Option<Located<String>> {
    let value = scalar_string(v, diags)?;
    if crate::template::is_template(&value) {
        return Some(Located {
            value,
            span: v.span.clone(),
        });
    }
    match strategy_name(&value) {
        Ok(value) => Some(Located {
            value: value.to_string(),
            span: v.span.clone(),
        }),
        Err(msg) => {
            diags.push(
                Diagnostic::error(msg)
                    .at(v.span.clone())
                    .label("`linear`, `free` and `host_pinned` are supported"),
            );
            None
        }
    }
}

/// The strategy plugin a `strategy` value names, or why it cannot run.
pub fn strategy_name(value: &str) -> Result<&str, String> {
    match value.strip_prefix("ansible.builtin.").unwrap_or(value) {
        name @ ("linear" | "free" | "host_pinned") => Ok(name),
        other => Err(format!("strategy `{other}` is not supported yet")),
    }
}

/// Parses one task mapping.
pub fn parse_task(node: &Node, diags: &mut Vec<Diagnostic>, handler: bool) -> Option<Task> {
    let Some(entries) = node.as_map() else {
        diags.push(
            Diagnostic::error(format!(
                "a task must be a mapping, found {}",
                node.kind_name()
            ))
            .at(node.span.clone()),
        );
        return None;
    };
    let mut task = Task {
        span: node.span.clone(),
        node: node.clone(),
        name: None,
        module: Located {
            value: String::new(),
            span: node.span.clone(),
        },
        args: Value::Object(Default::default()),
        free_form: None,
        splat: None,
        arg_spans: Vec::new(),
        when: None,
        loop_: None,
        loop_control: LoopControl::default(),
        register: None,
        notify: Vec::new(),
        listen: Vec::new(),
        changed_when: None,
        rescued: false,
        timeout: None,
        remote_user: None,
        connection: None,
        any_errors_fatal: None,
        run_once: None,
        throttle: None,
        delegate_to: None,
        delegate_facts: None,
        until: None,
        retries: None,
        delay: None,
        failed_when: None,
        ignore_errors: None,
        ignore_unreachable: None,
        tags: Vec::new(),
        vars: Vars::new(),
        check_mode: None,
        diff: None,
        no_log: None,
        environment: None,
        escalation: Become::default(),
        role: None,
        listen_only: false,
    };
    let mut module_nodes: Vec<(&Node, &Node)> = Vec::new();
    let mut extra_args: Option<&Node> = None;
    let mut ok = true;
    for (k, v) in entries {
        let Some(key) = k.key_text() else {
            diags.push(Diagnostic::error("a task keyword must be a string").at(k.span.clone()));
            ok = false;
            continue;
        };
        match key.as_str() {
            "name" => task.name = scalar_string(v, diags),
            "when" => {
                task.when = Some(Located {
                    value: v.to_value(),
                    span: v.span.clone(),
                })
            }
            k2 if matches!(
                k2,
                "loop"
                    | "with_items"
                    | "with_list"
                    | "with_dict"
                    | "with_flattened"
                    | "with_indexed_items"
                    | "with_together"
                    | "with_nested"
                    | "with_cartesian"
                    | "with_sequence"
            ) || k2
                .strip_prefix("with_")
                .is_some_and(|l| LOOKUP_LOOPS.contains(&l)) =>
            {
                if task.loop_.is_some() {
                    diags.push(
                        Diagnostic::error("a task can have only one loop").at(k.span.clone()),
                    );
                    ok = false;
                }
                let kind = match key.as_str() {
                    "loop" => LoopKind::Loop,
                    "with_items" => LoopKind::WithItems,
                    "with_list" => LoopKind::WithList,
                    "with_flattened" => LoopKind::WithFlattened,
                    "with_indexed_items" => LoopKind::WithIndexedItems,
                    "with_together" => LoopKind::WithTogether,
                    "with_nested" | "with_cartesian" => LoopKind::WithNested,
                    "with_sequence" => LoopKind::WithSequence,
                    "with_dict" => LoopKind::WithDict,
                    other => LoopKind::Lookup(
                        LOOKUP_LOOPS
                            .iter()
                            .find(|l| other.strip_prefix("with_") == Some(**l))
                            .copied()
                            .unwrap_or("items"),
                    ),
                };
                task.loop_ = Some(Loop {
                    kind,
                    items: v.to_value(),
                    span: v.span.clone(),
                });
            }
            "loop_control" => task.loop_control = loop_control(v, diags),
            "register" => task.register = scalar_string(v, diags),
            "notify" => task.notify = string_list(v, diags),
            "listen" if handler => {
                task.listen = string_list(v, diags).into_iter().map(|l| l.value).collect()
            }
            "changed_when" => {
                task.changed_when = Some(Located {
                    value: v.to_value(),
                    span: v.span.clone(),
                })
            }
            "failed_when" => {
                task.failed_when = Some(Located {
                    value: v.to_value(),
                    span: v.span.clone(),
                })
            }
            "ignore_errors" => task.ignore_errors = Some(v.to_value()),
            "ignore_unreachable" => task.ignore_unreachable = Some(v.to_value()),
            "delegate_to" => task.delegate_to = Some(v.to_value()),
            "delegate_facts" => task.delegate_facts = Some(v.to_value()),
            "timeout" => task.timeout = Some(v.to_value()),
            "remote_user" => task.remote_user = Some(v.to_value()),
            "connection" => task.connection = Some(v.to_value()),
            "any_errors_fatal" => task.any_errors_fatal = Some(v.to_value()),
            "run_once" => task.run_once = Some(v.to_value()),
            "throttle" => task.throttle = Some(v.to_value()),
            "until" => {
                task.until = Some(Located {
                    value: v.to_value(),
                    span: v.span.clone(),
                })
            }
            "retries" => task.retries = Some(v.to_value()),
            "delay" => task.delay = Some(v.to_value()),
            "tags" => task.tags = tags(v, diags),
            "vars" => task.vars = vars_map(v, diags),
            "check_mode" => task.check_mode = Some(v.to_value()),
            "diff" => task.diff = Some(v.to_value()),
            "no_log" => task.no_log = Some(v.to_value()),
            "environment" => task.environment = Some(v.to_value()),
            "become" => task.escalation.enabled = Some(v.to_value()),
            "become_user" => task.escalation.user = Some(v.to_value()),
            "become_method" => task.escalation.method = Some(v.to_value()),
            "become_flags" => task.escalation.flags = Some(v.to_value()),
            "args" => extra_args = Some(v),
            "action" | "local_action" => match v.as_str() {
                Some(text) => {
                    let (module, rest) = split_module_word(text.trim());
                    let rest_node = Node {
                        span: v.span.clone(),
                        tag: None,
                        kind: Kind::Str(rest.to_string()),
                    };
                    task.module = Located {
                        value: module.to_string(),
                        span: v.span.clone(),
                    };
                    set_args(&mut task, &rest_node, diags);
                    module_nodes.push((k, v));
                }
                None => match v.get("module").and_then(Node::key_text) {
                    // `action: {module: copy, src: a, dest: b}`
                    Some(module) => {
                        let module_span = v
                            .get("module")
                            .map_or_else(|| v.span.clone(), |m| m.span.clone());
                        task.module = Located {
                            value: module,
                            span: module_span,
                        };
                        // An `args` mapping inside is merged in, as Ansible's
                        // argument parser does.
                        let rest: Vec<(Node, Node)> = v
                            .as_map()
                            .unwrap_or_default()
                            .iter()
                            .filter(|(k, _)| k.key_text().as_deref() != Some("module"))
                            .flat_map(|(k, v)| match (k.key_text().as_deref(), v.as_map()) {
                                (Some("args"), Some(inner)) => inner.to_vec(),
                                _ => vec![(k.clone(), v.clone())],
                            })
                            .collect();
                        let rest = Node {
                            span: v.span.clone(),
                            tag: None,
                            kind: Kind::Map(rest),
                        };
                        set_args(&mut task, &rest, diags);
                        module_nodes.push((k, v));
                    }
                    None => {
                        diags.push(
                            Diagnostic::error("`action` must be a string like `copy src=a dest=b` or a mapping with `module`")
                                .at(v.span.clone()),
                        );
                        ok = false;
                    }
                },
            },
            "debugger" if debugger_off(v) => {}
            "collections" => collections(v, diags),
            other if is_unsupported_task_keyword(other) => {
                diags.push(
                    Diagnostic::error(format!("task keyword `{other}` is not supported yet"))
                        .at(k.span.clone())
                        .label("not supported yet"),
                );
                ok = false;
            }
            _ => module_nodes.push((k, v)),
        }
    }
    // `local_action`: the action, run on the controller (Ansible's parser
    // makes it `delegate_to: localhost`, over any `delegate_to` given).
    if module_nodes
        .iter()
        .any(|(k, _)| k.key_text().as_deref() == Some("local_action"))
    {
        task.delegate_to = Some(Value::String("localhost".into()));
    }
    match module_nodes.as_slice() {
        [] => {
            if ok {
                diags.push(
                    Diagnostic::error("no module/action detected in task").at(node.span.clone()),
                );
            }
            return None;
        }
        [(k, v)] => {
            if !matches!(k.key_text().as_deref(), Some("action" | "local_action")) {
                task.module = Located {
                    value: k.key_text().unwrap_or_default(),
                    span: k.span.clone(),
                };
                set_args(&mut task, v, diags);
            }
        }
        [_, (k, _), ..] => {
            let names: Vec<String> = module_nodes
                .iter()
                .filter_map(|(k, _)| k.key_text())
                .collect();
            diags.push(
                Diagnostic::error(format!(
                    "conflicting action statements: {} (a task runs exactly one module; is one of them a misspelt keyword?)",
                    names.join(", ")
                ))
                .at(k.span.clone()),
            );
            return None;
        }
    }
    if let Some(extra) = extra_args {
        match extra.as_map() {
            Some(entries) => {
                if let Value::Object(map) = &mut task.args {
                    for (k, v) in entries {
                        if let Some(key) = k.key_text() {
                            task.arg_spans.push((key.clone(), k.span.clone()));
                            map.insert(key, v.to_value());
                        }
                    }
                }
            }
            None => match extra.as_str() {
                Some(text) if crate::template::is_template(text) => {
                    task.splat = Some(Located {
                        value: text.to_string(),
                        span: extra.span.clone(),
                    })
                }
                _ => diags.push(
                    Diagnostic::error(format!(
                        "`args` must be a mapping or a template, found {}",
                        extra.kind_name()
                    ))
                    .at(extra.span.clone()),
                ),
            },
        }
    }
    ok.then_some(task)
}

fn set_args(task: &mut Task, v: &Node, diags: &mut Vec<Diagnostic>) {
    match &v.kind {
        Kind::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, val) in entries {
                if let Some(key) = k.key_text() {
                    task.arg_spans.push((key.clone(), k.span.clone()));
                    map.insert(key, val.to_value());
                }
            }
            task.args = Value::Object(map);
        }
        Kind::Null => {}
        Kind::Str(s) => {
            task.free_form = Some(Located {
                value: s.clone(),
                span: v.span.clone(),
            })
        }
        Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => {
            task.free_form = Some(Located {
                value: v.key_text().unwrap_or_default(),
                span: v.span.clone(),
            })
        }
        Kind::Seq(_) => diags.push(
            Diagnostic::error(format!(
                "the arguments of `{}` must be a mapping or a string, found a list",
                task.module.value
            ))
            .at(v.span.clone()),
        ),
    }
}

fn loop_control(node: &Node, diags: &mut Vec<Diagnostic>) -> LoopControl {
    let mut lc = LoopControl::default();
    let Some(entries) = node.as_map() else {
        diags.push(
            Diagnostic::error(format!(
                "`loop_control` must be a mapping, found {}",
                node.kind_name()
            ))
            .at(node.span.clone()),
        );
        return lc;
    };
    for (k, v) in entries {
        match k.key_text().as_deref() {
            Some("loop_var") => {
                lc.loop_var = scalar_string(v, diags).unwrap_or_else(|| "item".into())
            }
            Some("index_var") => lc.index_var = scalar_string(v, diags),
            Some("label") => lc.label = Some(v.to_value()),
            Some("extended") => lc.extended = Some(v.to_value()),
            Some("extended_allitems") => lc.extended_allitems = Some(v.to_value()),
            Some("pause") => lc.pause = Some(v.to_value()),
            Some("break_when") => {
                lc.break_when = Some(Located {
                    value: v.to_value(),
                    span: v.span.clone(),
                })
            }
            Some(other) => {
                let mut d =
                    Diagnostic::error(format!("`{other}` is not a valid loop_control option"))
                        .at(k.span.clone());
                if let Some(s) = suggest(
                    other,
                    [
                        "loop_var",
                        "index_var",
                        "label",
                        "pause",
                        "extended",
                        "extended_allitems",
                        "break_when",
                    ],
                ) {
                    d = d.label(format!("did you mean `{s}`?"));
                }
                diags.push(d);
            }
            None => diags
                .push(Diagnostic::error("loop_control keys must be strings").at(k.span.clone())),
        }
    }
    lc
}

fn scalar_string(node: &Node, diags: &mut Vec<Diagnostic>) -> Option<String> {
    match &node.kind {
        Kind::Seq(_) | Kind::Map(_) => {
            diags.push(
                Diagnostic::error(format!("expected a string, found {}", node.kind_name()))
                    .at(node.span.clone()),
            );
            None
        }
        Kind::Null => None,
        _ => node.key_text(),
    }
}

/// `vars_files`: a list of file names, each entry a name or a list of
/// alternative names.
fn vars_files(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<Vec<Located<String>>> {
    match &node.kind {
        Kind::Seq(items) => items
            .iter()
            .map(|i| string_list(i, diags))
            .filter(|alternatives| !alternatives.is_empty())
            .collect(),
        _ => vec![string_list(node, diags)],
    }
}

fn string_list(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<Located<String>> {
    match &node.kind {
        Kind::Seq(items) => items
            .iter()
            .filter_map(|i| {
                scalar_string(i, diags).map(|value| Located {
                    value,
                    span: i.span.clone(),
                })
            })
            .collect(),
        Kind::Null => Vec::new(),
        _ => scalar_string(node, diags)
            .map(|value| {
                vec![Located {
                    value,
                    span: node.span.clone(),
                }]
            })
            .unwrap_or_default(),
    }
}

/// `tags`: a list, or a comma-separated string; a templated entry is kept
/// whole and rendered at run time.
fn tags(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    string_list(node, diags)
        .into_iter()
        .flat_map(|t| {
            if crate::template::is_template(&t.value) {
                return vec![t.value];
            }
            t.value
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

pub(crate) fn vars_map(node: &Node, diags: &mut Vec<Diagnostic>) -> Vars {
    match &node.kind {
        Kind::Map(_) => match node.to_value() {
            Value::Object(m) => m,
            _ => Vars::new(),
        },
        Kind::Null => Vars::new(),
        Kind::Seq(items) => {
            // Ansible accepts a list of single-key mappings.
            let mut out = Vars::new();
            for item in items {
                match item.to_value() {
                    Value::Object(m) => out.extend(m),
                    _ => diags
                        .push(Diagnostic::error("`vars` must be a mapping").at(item.span.clone())),
                }
            }
            out
        }
        _ => {
            diags.push(
                Diagnostic::error(format!(
                    "`vars` must be a mapping, found {}",
                    node.kind_name()
                ))
                .at(node.span.clone()),
            );
            Vars::new()
        }
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
