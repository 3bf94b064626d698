//! The playbook stage: YAML nodes → plays and tasks with positions.
//!
//! This stage knows Ansible's keywords and their shapes; it does not know
//! modules (that is [`crate::compile`]'s job). Every problem becomes a
//! [`Diagnostic`] and parsing goes on, so all mistakes are reported at once.

pub mod kv;
pub mod parse;
pub mod role;

pub use parse::{Cx, parse_playbook_file};
pub use role::RoleInfo;

use crate::vars::Vars;
use crate::yaml::{Node, Span};
use serde_json::Value;
use std::sync::Arc;

/// A directory as `playbook_dir` shows it: absolute, links resolved.
pub(crate) fn absolute(p: &std::path::Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// A value that came from a spot in a file.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// A playbook file.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The plays, in order.
    pub plays: Vec<Play>,
}

/// One play.
#[derive(Debug, Clone)]
pub struct Play {
    /// The play's mapping.
    pub span: Span,
    /// `name`.
    pub name: Option<String>,
    /// `hosts` (a pattern, possibly templated; a list is joined with `,`).
    pub hosts: Located<String>,
    /// `vars`.
    pub vars: Vars,
    /// `vars_files` (each may be templated): each entry is a file, or a
    /// list of alternatives of which the first that exists is read.
    pub vars_files: Vec<Vec<Located<String>>>,
    /// `gather_facts` (bool or template).
    pub gather_facts: Option<Value>,
    /// `gather_subset`: which facts the gathering returns (a list, or one value).
    pub gather_subset: Option<Value>,
    /// `gather_timeout`: seconds the gathering may take (an integer).
    pub gather_timeout: Option<Value>,
    /// `fact_path`: the directory of local facts (`ansible_local`).
    pub fact_path: Option<Value>,
    /// Privilege escalation settings.
    pub escalation: Become,
    /// `check_mode`.
    pub check_mode: Option<Value>,
    /// `diff`.
    pub diff: Option<Value>,
    /// `environment`.
    pub environment: Option<Value>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `ignore_errors`.
    pub ignore_errors: Option<Value>,
    /// `ignore_unreachable`.
    pub ignore_unreachable: Option<Value>,
    /// `run_once`, `throttle` and `timeout` for the play's tasks that do
    /// not set their own.
    pub run_once: Option<Value>,
    /// See `run_once`.
    pub throttle: Option<Value>,
    /// See `run_once`.
    pub timeout: Option<Value>,
    /// `port`: the SSH port where the inventory sets none.
    pub port: Option<Value>,
    /// `no_log`.
    pub no_log: Option<Value>,
    /// `remote_user` (used when the inventory sets no `ansible_user`).
    pub remote_user: Option<Value>,
    /// `connection` (`local`, `ssh`): used where the inventory sets no
    /// `ansible_connection`; wins over `-c`.
    pub connection: Option<Value>,
    /// `serial`: rolling batches (a number, a percentage, or a list of them).
    pub serial: Option<Located<Value>>,
    /// `max_fail_percentage`: abort when more of a batch failed.
    pub max_fail_percentage: Option<Located<Value>>,
    /// `any_errors_fatal`: the first unrescued failure ends the run.
    pub any_errors_fatal: Option<Value>,
    /// `force_handlers`: notified handlers run on failed hosts too.
    pub force_handlers: Option<Value>,
    /// `vars_prompt`: variables asked for before the play runs.
    pub vars_prompt: Vec<VarsPrompt>,
    /// `order`: the order hosts are run in.
    pub order: Option<Located<String>>,
    /// `strategy`: `linear` (the default), `free` or `host_pinned`.
    pub strategy: Option<Located<String>>,
    /// `pre_tasks`.
    pub pre_tasks: Vec<Step>,
    /// `tasks`.
    pub tasks: Vec<Step>,
    /// `post_tasks`.
    pub post_tasks: Vec<Step>,
    /// `handlers` (the handlers of `roles:` first, then the play's, then
    /// those of `import_role`/`include_role`, as Ansible orders them).
    pub handlers: Vec<Step>,
    /// `roles:` (and their dependencies) are compiled into the front of
    /// `tasks`; these are the names of the `roles:` entries (`role_names`).
    pub role_names: Vec<String>,
    /// Defaults of the play's public roles (`roles:`, `import_role`, with
    /// their dependencies): the lowest variable precedence, play-wide.
    pub role_defaults: Vars,
    /// The `vars/` of the play's public roles (with their dependencies):
    /// above play vars and `vars_files`, play-wide.
    pub role_exports: Vars,
    /// The `when` of the `import_playbook` that brought the play in (a task
    /// holding it): already on every task, it guards fact gathering too.
    pub import_when: Option<Box<Task>>,
}

/// One `vars_prompt` entry.
#[derive(Debug, Clone)]
pub struct VarsPrompt {
    /// `name`: the variable set.
    pub name: String,
    /// `prompt`: the question (default: the name).
    pub prompt: Option<String>,
    /// `default`: the answer when none is typed, or without a terminal.
    pub default: Option<Value>,
    /// `private`: do not echo the answer (default on).
    pub private: bool,
    /// `confirm`: ask twice and require the same answer.
    pub confirm: bool,
    /// `unsafe`: the answer is never templated.
    pub unsafe_: bool,
    /// Where the entry was written.
    pub span: Span,
}

/// `become`, `become_user`, `become_method`, `become_flags`.
#[derive(Debug, Clone, Default)]
pub struct Become {
    /// `become`.
    pub enabled: Option<Value>,
    /// `become_user`.
    pub user: Option<Value>,
    /// `become_method`.
    pub method: Option<Value>,
    /// `become_flags`.
    pub flags: Option<Value>,
}

impl Become {
    /// `self` with unset fields taken from `outer`.
    pub fn inherit(&self, outer: &Become) -> Become {
        Become {
            enabled: self.enabled.clone().or_else(|| outer.enabled.clone()),
            user: self.user.clone().or_else(|| outer.user.clone()),
            method: self.method.clone().or_else(|| outer.method.clone()),
            flags: self.flags.clone().or_else(|| outer.flags.clone()),
        }
    }
}

/// Which loop keyword a task used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopKind {
    /// `loop:`
    Loop,
    /// `with_items:` (flattens one level)
    WithItems,
    /// `with_list:`
    WithList,
    /// `with_dict:` (items are `{key, value}`)
    WithDict,
    /// `with_flattened:` (flattened all the way down)
    WithFlattened,
    /// `with_indexed_items:` (items are `[index, item]`)
    WithIndexedItems,
    /// `with_together:` (zip, padded with null)
    WithTogether,
    /// `with_nested:` / `with_cartesian:` (cartesian product)
    WithNested,
    /// `with_sequence:` (`start=1 end=5`, `count=3`, `1-10/2`)
    WithSequence,
    /// `with_<lookup>:` the items of that lookup plugin (`fileglob`,
    /// `first_found`, `subelements`, `lines`, `file`, `template`, `env`,
    /// `random_choice`, `inventory_hostnames`).
    Lookup(&'static str),
}

/// A task's loop.
#[derive(Debug, Clone)]
pub struct Loop {
    /// Which keyword.
    pub kind: LoopKind,
    /// The items (a list or a template).
    pub items: Value,
    /// Where.
    pub span: Span,
}

/// `loop_control`.
#[derive(Debug, Clone)]
pub struct LoopControl {
    /// `loop_var` (default `item`).
    pub loop_var: String,
    /// `index_var`.
    pub index_var: Option<String>,
    /// `label`.
    pub label: Option<Value>,
    /// `extended`: `ansible_loop` with the item's position and neighbours.
    pub extended: Option<Value>,
    /// `extended_allitems`: `ansible_loop.allitems` (default on).
    pub extended_allitems: Option<Value>,
    /// `pause`: seconds to wait between items.
    pub pause: Option<Value>,
    /// `break_when`: stop the loop after the item for which this holds.
    pub break_when: Option<Located<Value>>,
}

impl Default for LoopControl {
    fn default() -> Self {
        LoopControl {
            loop_var: "item".into(),
            index_var: None,
            label: None,
            extended: None,
            extended_allitems: None,
            pause: None,
            break_when: None,
        }
    }
}

/// An entry of a task list: a task, or a block of them.
#[derive(Debug, Clone)]
pub enum Step {
    /// One task.
    Task(Task),
    /// `block` / `rescue` / `always`.
    Block(Block),
    /// `include_tasks`.
    Include(Include),
}

/// An `include_tasks`: the file is read at compile time (so its mistakes are
/// reported up front); `when`, the loop and `vars` are evaluated per host at
/// run time, as Ansible does.
#[derive(Debug, Clone)]
pub struct Include {
    /// The include's keywords (a task running `meta: noop`).
    pub task: Task,
    /// The file, as written.
    pub file: Located<String>,
    /// The file's steps (with `apply` keywords applied).
    pub steps: Vec<Step>,
    /// A file name that depends on per-host values: the file is read when
    /// the include runs (`steps` is empty).
    pub deferred: Option<Box<Deferred>>,
    /// An `include_role`: what running it leaves on a host.
    pub role: Option<Arc<IncludedRole>>,
}

/// What an `include_role` leaves on a host when it runs there.
#[derive(Debug, Default)]
pub struct IncludedRole {
    /// The role instance (its path, params, vars and `*_from` files): an
    /// instance with `allow_duplicates: false` does not run again on a
    /// host where it ran.
    pub key: String,
    /// `allow_duplicates: false` on the include.
    pub once: bool,
    /// `public: true`: the role's defaults and exported vars, which the
    /// host's later tasks of the play see (at the precedence of the play's
    /// public roles).
    pub public: Option<(Vars, Vars)>,
}

/// An include whose file (or role) name needs per-host values
/// (`include_tasks: "{{ item }}"`, `include_role: name="{{ r }}"`): as
/// Ansible, the name is templated for each host when the include runs, and
/// the file is read then (see [`parse::load_deferred`]).
#[derive(Debug, Clone)]
pub struct Deferred {
    /// The include task's mapping, as written.
    pub node: Node,
    /// Its action key (`include_tasks`, `ansible.builtin.include_role`, ...).
    pub key: String,
    /// An include in a handlers section.
    pub handlers: bool,
    /// The files being parsed where it was written, outermost first.
    pub(crate) stack: Vec<std::path::PathBuf>,
    pub(crate) playbook_dir: std::path::PathBuf,
    /// The play's directory (`roles/` is looked up there).
    pub(crate) roles_dir: std::path::PathBuf,
    pub(crate) role_chain: Vec<Vec<role::Instance>>,
    pub(crate) extra_vars: Vars,
    pub(crate) play_vars: Vars,
    /// Keywords of the enclosing roles and imports, innermost first: applied
    /// to the included steps as to a static include's.
    pub(crate) inherits: Vec<Task>,
    /// Inside the `block` of a block with a `rescue`.
    pub(crate) rescued: bool,
}

/// A `block` with its `rescue` and `always` sections. The block's keywords
/// (`when`, `tags`, `vars`, `become`, ...) are already applied to its tasks.
#[derive(Debug, Clone)]
pub struct Block {
    /// The block's mapping.
    pub span: Span,
    /// `name`.
    pub name: Option<String>,
    /// `block`.
    pub block: Vec<Step>,
    /// `rescue`: runs on hosts that failed in `block`.
    pub rescue: Vec<Step>,
    /// `always`: runs on every host that entered the block.
    pub always: Vec<Step>,
    /// An `import_role` with `allow_duplicates: false`: the hosts where an
    /// `include_role` ran this role instance (see [`IncludedRole::key`])
    /// skip the block, as Ansible skips a role that ran on a host.
    pub unless_role_ran: Option<String>,
}

impl Step {
    /// Every task in this step, blocks flattened (for listings and checks).
    pub fn tasks(&self) -> Vec<&Task> {
        match self {
            Step::Task(t) => vec![t],
            Step::Block(b) => b
                .block
                .iter()
                .chain(&b.rescue)
                .chain(&b.always)
                .flat_map(Step::tasks)
                .collect(),
            Step::Include(i) => i.steps.iter().flat_map(Step::tasks).collect(),
        }
    }

    /// Marks every task inside as guarded by a `rescue`.
    pub fn mark_rescued(&mut self) {
        match self {
            Step::Task(t) => t.rescued = true,
            Step::Block(b) => b
                .block
                .iter_mut()
                .chain(&mut b.rescue)
                .chain(&mut b.always)
                .for_each(Step::mark_rescued),
            Step::Include(i) => {
                i.task.rescued = true;
                i.steps.iter_mut().for_each(Step::mark_rescued);
                if let Some(d) = &mut i.deferred {
                    d.rescued = true;
                }
            }
        }
    }

    /// Sets `role` on every task inside that has none yet (tasks of a nested
    /// `include_role` already belong to their own role).
    pub fn set_role(&mut self, role: &Arc<RoleInfo>) {
        let set = |t: &mut Task| {
            if t.role.is_none() {
                t.role = Some(Arc::clone(role));
            }
        };
        match self {
            Step::Task(t) => set(t),
            Step::Block(b) => b
                .block
                .iter_mut()
                .chain(&mut b.rescue)
                .chain(&mut b.always)
                .for_each(|s| s.set_role(role)),
            Step::Include(i) => {
                set(&mut i.task);
                i.steps.iter_mut().for_each(|s| s.set_role(role));
            }
        }
    }

    /// Applies a role's (or `import_role`'s) keywords to every task inside,
    /// the tasks of includes too: they are the role's tasks.
    pub fn inherit_all(self, parent: &Task) -> Step {
        match self {
            Step::Include(i) => Step::Include(Include {
                task: parse::inherit(i.task, parent),
                steps: i.steps.into_iter().map(|s| s.inherit_all(parent)).collect(),
                deferred: i.deferred.map(|mut d| {
                    d.inherits.push(parent.clone());
                    d
                }),
                ..i
            }),
            Step::Block(b) => Step::Block(Block {
                block: b.block.into_iter().map(|s| s.inherit_all(parent)).collect(),
                rescue: b
                    .rescue
                    .into_iter()
                    .map(|s| s.inherit_all(parent))
                    .collect(),
                always: b
                    .always
                    .into_iter()
                    .map(|s| s.inherit_all(parent))
                    .collect(),
                ..b
            }),
            other => other.inherit(parent),
        }
    }

    /// Applies parent keywords to every task inside.
    pub fn inherit(self, parent: &Task) -> Step {
        match self {
            Step::Task(t) => Step::Task(parse::inherit(t, parent)),
            Step::Block(b) => Step::Block(Block {
                block: b.block.into_iter().map(|s| s.inherit(parent)).collect(),
                rescue: b.rescue.into_iter().map(|s| s.inherit(parent)).collect(),
                always: b.always.into_iter().map(|s| s.inherit(parent)).collect(),
                ..b
            }),
            Step::Include(i) => {
                let through = parse::through_include(parent);
                Step::Include(Include {
                    task: parse::inherit(i.task, parent),
                    steps: i.steps.into_iter().map(|s| s.inherit(&through)).collect(),
                    deferred: i.deferred.map(|mut d| {
                        d.inherits.push(through);
                        d
                    }),
                    ..i
                })
            }
        }
    }
}

/// One task (or handler).
#[derive(Debug, Clone)]
pub struct Task {
    /// The task's mapping.
    pub span: Span,
    /// The raw node, for checks over all of its strings.
    pub node: Node,
    /// `name`.
    pub name: Option<String>,
    /// The module or action name as written (`copy`, `ansible.builtin.copy`).
    pub module: Located<String>,
    /// Arguments given as a mapping (and `args:`).
    pub args: Value,
    /// Arguments given as a string (`copy: src=a dest=b`, `command: ls`).
    pub free_form: Option<Located<String>>,
    /// Arguments given as one template that renders to a mapping (`args: "{{ opts }}"`).
    pub splat: Option<Located<String>>,
    /// Where each argument was written, by name.
    pub arg_spans: Vec<(String, Span)>,
    /// `when` (string, list or bool).
    pub when: Option<Located<Value>>,
    /// `loop` / `with_*`.
    pub loop_: Option<Loop>,
    /// `loop_control`.
    pub loop_control: LoopControl,
    /// `register`.
    pub register: Option<String>,
    /// `notify`.
    pub notify: Vec<Located<String>>,
    /// `listen` (handlers).
    pub listen: Vec<String>,
    /// `changed_when`.
    pub changed_when: Option<Located<Value>>,
    /// Inside the `block` section of a block that has a `rescue`: a failure
    /// here is expected to be handled at run time.
    pub rescued: bool,
    /// `timeout`: seconds the action may take before it is failed.
    pub timeout: Option<Value>,
    /// `remote_user` (used when the inventory sets no `ansible_user`).
    pub remote_user: Option<Value>,
    /// `connection` (used when the inventory sets no `ansible_connection`).
    pub connection: Option<Value>,
    /// `any_errors_fatal`.
    pub any_errors_fatal: Option<Value>,
    /// `run_once`: run on the first host of the batch, results to all.
    pub run_once: Option<Value>,
    /// `throttle`: at most this many hosts at once for this task.
    pub throttle: Option<Value>,
    /// `delegate_to`: run on this host instead (with this task's variables).
    pub delegate_to: Option<Value>,
    /// `delegate_facts`: facts the task sets go to the delegated host.
    pub delegate_facts: Option<Value>,
    /// `until`: retry until this holds.
    pub until: Option<Located<Value>>,
    /// `retries` (with `until`; default 3).
    pub retries: Option<Value>,
    /// `delay` between attempts, seconds (default 5).
    pub delay: Option<Value>,
    /// `failed_when`.
    pub failed_when: Option<Located<Value>>,
    /// `ignore_errors`.
    pub ignore_errors: Option<Value>,
    /// `ignore_unreachable`: an unreachable host counts as ok (ignored)
    /// and goes on with the play.
    pub ignore_unreachable: Option<Value>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `vars`.
    pub vars: Vars,
    /// `check_mode`.
    pub check_mode: Option<Value>,
    /// `diff`.
    pub diff: Option<Value>,
    /// `no_log`.
    pub no_log: Option<Value>,
    /// `environment`.
    pub environment: Option<Value>,
    /// Privilege escalation.
    pub escalation: Become,
    /// The role this task belongs to (its variables, `role_name`, `role_path`).
    pub role: Option<Arc<RoleInfo>>,
    /// A task of an `include_tasks` handler: it answers to the include's
    /// name and topics (its `listen`), not to its own name.
    pub listen_only: bool,
}
