//! The `lineinfile` module: make sure a line is in a file, or replace the line
//! a regular expression matches.
//!
//! With `state: present`, the last line matching `regexp` (a Python regular
//! expression, searched in every line) or containing `search_string` is
//! replaced by `line`; when nothing matches, `line` is inserted after the last
//! line matching `insertafter` (or at the end, `EOF`), or before the last line
//! matching `insertbefore` (or at the beginning, `BOF`), unless the file already
//! has exactly that line. `firstmatch` uses the first matching line instead of
//! the last. With `backrefs`, `line` may use the match's groups (`\1`,
//! `\g<name>`) and nothing is inserted when nothing matches. With
//! `state: absent`, every matching line (or every line equal to `line`) is
//! removed. The file is read and written as the module does in Ansible; writes
//! are atomic and `validate` checks the new content first. For several lines
//! use `blockinfile`; for every match in a file, `replace`.
//!
//! # Examples
//!
//! ```yaml
//! - name: Disable password logins for SSH
//!   ansible.builtin.lineinfile:
//!     path: /etc/ssh/sshd_config
//!     regexp: '^#?PasswordAuthentication '
//!     line: PasswordAuthentication no
//!     validate: /usr/sbin/sshd -t -f %s
//!   notify: reload sshd
//!
//! - name: Add a hosts entry
//!   ansible.builtin.lineinfile:
//!     path: /etc/hosts
//!     line: 10.0.0.5 db.internal db
//!     owner: root
//!     group: root
//!     mode: '0644'
//!
//! - name: Insert a setting in the right section
//!   ansible.builtin.lineinfile:
//!     path: /etc/app/app.ini
//!     insertafter: '^\[server\]'
//!     line: workers = 4
//!
//! - name: Change the port, keeping the rest of the line
//!   ansible.builtin.lineinfile:
//!     path: /etc/app/listen.conf
//!     regexp: '^(listen\s+\S+:)\d+$'
//!     line: '\g<1>8080'
//!     backrefs: true
//!
//! - name: Remove a user from sudoers
//!   ansible.builtin.lineinfile:
//!     path: /etc/sudoers
//!     regexp: '^olduser\s'
//!     state: absent
//!     validate: /usr/sbin/visudo -cf %s
//!
//! - name: Create a file with a line if it is missing
//!   ansible.builtin.lineinfile:
//!     path: /etc/app/features
//!     line: beta=on
//!     create: true
//!     mode: '0600'
//! ```
//!
//! # Return values
//!
//! - `msg` (str): What changed: "line added", "line replaced", "N line(s) removed", "ownership, perms or SE linux context changed", or empty.
//! - `backup` (str): The backup of the old file when `backup` made one, else empty.
//! - `found` (int): With `state: absent`, how many lines matched.
//!
//! # Implementation
//!
//! One probe reads the file (content, mode, owner, group, symlinks followed)
//! and the defaults a new file would get; [`present`] / [`absent`] edit the
//! content as a pure function, exactly as Ansible's module does (Python `re`
//! regexes on the lines with their line ending, backreference expansion,
//! `insertafter` / `insertbefore` / `firstmatch` rules); one script writes the
//! result atomically (temp file in the same directory, attributes set,
//! validated, renamed).
//!
//! The file plumbing (probe, attributes, atomic write, backup) is
//! [`crate::fileops`]'s, used the same way by `blockinfile`.

use crate::args::{ArgsError, de, mutually_exclusive};
use crate::choice;
use crate::fileops::{
    self, AtomicWrite, AttrPlan, CurAttrs, Env, Fetch, Ids, Kind, ModeSpec, PathInfo, Probe,
    ProbeOutput, Source, StatOpts, Validation, WantAttrs, ancestors, dirname,
};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::pyregex::Regex;
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

choice! {
    /// Whether the line (or block) should be there.
    pub enum State {
        /// The line (block) is there.
        Present = ["present"],
        /// The line (block) is not there.
        Absent = ["absent"],
    }
}

/// Arguments of `lineinfile`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file to modify.
    #[serde(
        alias = "dest",
        alias = "destfile",
        alias = "name",
        deserialize_with = "de::string"
    )]
    pub path: String,
    /// A Python regular expression searched in every line (with its line ending).
    #[serde(default, alias = "regex", deserialize_with = "de::opt_string")]
    pub regexp: Option<String>,
    /// A literal string searched in every line.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub search_string: Option<String>,
    /// Whether the line should be there.
    #[serde(default = "present_state")]
    pub state: State,
    /// The line to insert or replace (required with `state=present`).
    #[serde(default, alias = "value", deserialize_with = "de::opt_string")]
    pub line: Option<String>,
    /// Expand `\1`, `\g<name>` in `line` from `regexp`; leave the file alone when it does not match.
    #[serde(default, deserialize_with = "de::bool")]
    pub backrefs: bool,
    /// Insert after the last line matching this regex, or at the end (`EOF`). Default: `EOF`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub insertafter: Option<String>,
    /// Insert before the last line matching this regex, or at the beginning (`BOF`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub insertbefore: Option<String>,
    /// Create the file when it is missing (else the task fails).
    #[serde(default, deserialize_with = "de::bool")]
    pub create: bool,
    /// Keep a timestamped copy of the original before changing it.
    #[serde(default, deserialize_with = "de::bool")]
    pub backup: bool,
    /// `insertafter`/`insertbefore` use the first matching line instead of the last.
    #[serde(default, deserialize_with = "de::bool")]
    pub firstmatch: bool,
    /// Command validating the new content before it replaces the file; `%s` is the temp file.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub validate: Option<String>,
    /// Permissions: octal (`'0644'`, `420` as a number) or symbolic (`u=rw,go=r`).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Owner name or uid.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group name or gid.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "de::bool")]
    pub unsafe_writes: bool,
    /// Not supported yet (`chattr` attributes).
    #[serde(default)]
    pub attributes: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub seuser: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub serole: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub setype: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub selevel: Option<Value>,
}

pub(crate) fn present_state() -> State {
    State::Present
}

/// The `lineinfile` module.
pub struct LineInFile;

#[async_trait]
impl TypedModule for LineInFile {
    type Args = Args;
    const NAME: &'static str = "lineinfile";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "lineinfile",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        fileops::reject_preserve(&a.mode)?;
        mutually_exclusive(&[
            (
                "insertbefore",
                a.insertbefore.is_some(),
                "insertafter",
                a.insertafter.is_some(),
            ),
            (
                "regexp",
                a.regexp.is_some(),
                "search_string",
                a.search_string.is_some(),
            ),
            (
                "backrefs",
                a.backrefs,
                "search_string",
                a.search_string.is_some(),
            ),
        ])?;
        fileops::check_validate(&a.validate)?;
        match a.state {
            State::Present => {
                if a.backrefs && a.regexp.is_none() {
                    return Err(ArgsError::general("regexp is required with backrefs=true"));
                }
                if a.line.is_none() {
                    return Err(ArgsError::general("line is required with state=present"));
                }
            }
            State::Absent => {
                if a.regexp.is_none() && a.search_string.is_none() && a.line.is_none() {
                    return Err(ArgsError::general(
                        "one of line, search_string, or regexp is required with state=absent",
                    ));
                }
            }
        }
        Ok(())
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        converge(self, &args, ctx, host).await
    }
}

impl Converge for LineInFile {
    type Args = Args;
    type State = FileState;
    const APPLY_FAILED: &'static str = WRITE_FAILED;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        probe_file(&a.path, a.owner.as_deref(), a.group.as_deref(), a.backup)
    }

    fn parse(&self, _args: &Args, out: &ExecOutput) -> Result<FileState, ModuleError> {
        FileState::parse(out)
    }

    fn plan(&self, a: &Args, state: &FileState, ctx: &Context) -> Result<Plan, ModuleError> {
        let mut plan = plan_lines(a, state, ctx)?;
        // Ansible's lineinfile returns `backup` (empty unless one was made),
        // except when there was no file to remove lines from.
        if state.exists() || a.state == State::Present {
            plan = plan.with("backup", "");
        }
        let warnings = warnings(a);
        if !warnings.is_empty() {
            plan = plan.with("warnings", warnings);
        }
        Ok(plan)
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        record_backup(out, plan, "backup")
    }
}

/// Ansible's warnings about an empty `regexp` or `search_string` (they match every line).
fn warnings(a: &Args) -> Vec<String> {
    let mut w = Vec::new();
    if a.regexp.as_deref() == Some("") {
        w.push(
            "The regular expression is an empty string, which will match every line in the file. \
             This may have unintended consequences, such as replacing the last line in the file rather than appending. \
             If this is desired, use '^' to match every line in the file and avoid this warning."
                .to_string(),
        );
    }
    if a.search_string.as_deref() == Some("") {
        w.push(
            "The search string is an empty string, which will match every line in the file. \
             This may have unintended consequences, such as replacing the last line in the file rather than appending."
                .to_string(),
        );
    }
    w
}

fn plan_lines(a: &Args, state: &FileState, ctx: &Context) -> Result<Plan, ModuleError> {
    let path = a.path.as_str();
    let exists = state.editable(path)?;
    let regexp = a
        .regexp
        .as_deref()
        .map(py_regex)
        .transpose()
        .map_err(ModuleError::failed)?;
    let line = a.line.clone().unwrap_or_default();
    let lines = readlines(state.content());
    let (new_lines, msg, mut values) = match a.state {
        State::Absent => {
            if !exists {
                return Ok(Plan {
                    msg: Some("file not present".into()),
                    ..Plan::noop()
                });
            }
            let (kept, found) = absent(&lines, regexp.as_ref(), a.search_string.as_deref(), &line)
                .map_err(ModuleError::failed)?;
            let msg = if found > 0 {
                format!("{found} line(s) removed")
            } else {
                String::new()
            };
            let mut values = Map::new();
            values.insert("found".into(), found.into());
            (kept, msg, values)
        }
        State::Present => {
            if !exists && !a.create {
                return Err(
                    ModuleError::failed(format!("Destination {path} does not exist !"))
                        .with("rc", 257),
                );
            }
            let (insertafter, insertbefore) = match (&a.insertafter, &a.insertbefore) {
                (None, None) => (Some("EOF".to_string()), None),
                (after, before) => (after.clone(), before.clone()),
            };
            let ins = Insert {
                after: insertafter.as_deref(),
                before: insertbefore.as_deref(),
            };
            let opts = Present {
                regexp: regexp.as_ref(),
                search_string: a.search_string.as_deref(),
                line: &line,
                insert: ins,
                backrefs: a.backrefs,
                firstmatch: a.firstmatch,
            };
            let mut lines = lines;
            let msg = present(&mut lines, &opts).map_err(ModuleError::failed)?;
            (lines, msg, Map::new())
        }
    };
    let mut plan = plan_edit(
        state,
        Edit {
            path,
            after: new_lines.concat(),
            msg,
            want: WantAttrs {
                mode: a.mode.clone(),
                owner: a.owner.clone(),
                group: a.group.clone(),
            },
            backup: a.backup,
            validate: a.validate.as_deref(),
            header: Edit::content_header(path),
            attr_diff: true,
            diff_list: true,
            ctx,
        },
    )?;
    plan.values.append(&mut values);
    Ok(plan)
}

// ---------------------------------------------------------------------------
// The pure edit.

/// Python's `bytes.readlines()`: lines split after each `\n`, endings kept.
pub fn readlines(content: &[u8]) -> Vec<Vec<u8>> {
    content
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
        end -= 1;
    }
    &line[..end]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Where `state=present` inserts a line that is not found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Insert<'a> {
    /// `insertafter`: a regex, `EOF` or `BOF`.
    pub after: Option<&'a str>,
    /// `insertbefore`: a regex or `BOF`.
    pub before: Option<&'a str>,
}

/// Options of [`present`].
#[derive(Debug, Clone, Copy)]
pub struct Present<'a> {
    /// Compiled `regexp`.
    pub regexp: Option<&'a Regex>,
    /// `search_string`.
    pub search_string: Option<&'a str>,
    /// `line`.
    pub line: &'a str,
    /// `insertafter` / `insertbefore` (with Ansible's `EOF` default already applied).
    pub insert: Insert<'a>,
    /// `backrefs`.
    pub backrefs: bool,
    /// `firstmatch`.
    pub firstmatch: bool,
}

/// Ansible's `lineinfile` `state=present` on the lines of a file (endings
/// kept). Returns `msg`: `line added`, `line replaced` or empty (unchanged).
pub fn present(lines: &mut Vec<Vec<u8>>, p: &Present) -> Result<String, String> {
    let linesep = b"\n";
    let b_line = p.line.as_bytes();
    let (insertafter, insertbefore) = (p.insert.after, p.insert.before);
    let ins_re = match (insertafter, insertbefore) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(py_regex(a)?),
        (_, Some(b)) if b != "BOF" => Some(py_regex(b)?),
        _ => None,
    };
    let mut index: [isize; 2] = [-1, -1];
    let mut matched = false;
    let mut expanded: Option<Vec<u8>> = None;

    if let Some(re) = p.regexp {
        let mut template = None;
        for (lineno, cur) in lines.iter().enumerate() {
            if let Some(m) = re.search(cur.as_slice())? {
                index[0] = lineno as isize;
                matched = true;
                expanded = if p.backrefs {
                    // Python's `match.expand(line)`: checked on the first match.
                    let t = match &template {
                        Some(t) => t,
                        None => template.insert(re.template(p.line)?),
                    };
                    Some(t.expand(&m, cur))
                } else {
                    None
                };
                if p.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(search) = p.search_string {
        for (lineno, cur) in lines.iter().enumerate() {
            if contains(cur, search.as_bytes()) {
                index[0] = lineno as isize;
                matched = true;
                if p.firstmatch {
                    break;
                }
            }
        }
    }
    if !matched {
        for (lineno, cur) in lines.iter().enumerate() {
            if b_line == strip_eol(cur) {
                index[0] = lineno as isize;
            } else if let Some(re) = &ins_re
                && re.is_match(cur.as_slice())?
            {
                if insertafter.is_some() {
                    index[1] = lineno as isize + 1;
                    if p.firstmatch {
                        break;
                    }
                }
                if insertbefore.is_some() {
                    index[1] = lineno as isize;
                    if p.firstmatch {
                        break;
                    }
                }
            }
        }
    }
    let with_sep = |l: &[u8]| {
        let mut v = l.to_vec();
        v.extend_from_slice(linesep);
        v
    };
    let ends_with_eol =
        |lines: &Vec<Vec<u8>>| matches!(lines.last().and_then(|l| l.last()), Some(b'\n' | b'\r'));
    if index[0] != -1 {
        let i = index[0] as usize;
        let mut new_line = match (p.backrefs && matched, expanded) {
            (true, Some(e)) => e,
            _ => b_line.to_vec(),
        };
        if !new_line.ends_with(linesep) {
            new_line.extend_from_slice(linesep);
        }
        if lines[i] != new_line {
            lines[i] = new_line;
            return Ok("line replaced".into());
        }
        return Ok(String::new());
    }
    if p.backrefs {
        // Not safe to build the line without the regexp's groups.
        return Ok(String::new());
    }
    if insertbefore == Some("BOF") || insertafter == Some("BOF") {
        lines.insert(0, with_sep(b_line));
        return Ok("line added".into());
    }
    if insertafter == Some("EOF") || index[1] == -1 {
        if !lines.is_empty() && !ends_with_eol(lines) {
            lines.push(linesep.to_vec());
        }
        lines.push(with_sep(b_line));
        return Ok("line added".into());
    }
    let at = index[1] as usize;
    if insertafter.is_some() {
        if lines.len() == at {
            if strip_eol(&lines[at - 1]) != b_line {
                // Deviation: Ansible's live code path forgets the separator
                // when the matched last line has none (its fix sits in dead
                // code); tend adds it rather than gluing the lines together.
                if !ends_with_eol(lines) {
                    lines[at - 1].extend_from_slice(linesep);
                }
                lines.push(with_sep(b_line));
                return Ok("line added".into());
            }
        } else if b_line != strip_eol(&lines[at]) {
            lines.insert(at, with_sep(b_line));
            return Ok("line added".into());
        }
        return Ok(String::new());
    }
    lines.insert(at, with_sep(b_line));
    Ok("line added".into())
}

/// Ansible's `lineinfile` `state=absent`: the kept lines and how many were removed.
pub fn absent(
    lines: &[Vec<u8>],
    regexp: Option<&Regex>,
    search_string: Option<&str>,
    line: &str,
) -> Result<(Vec<Vec<u8>>, usize), String> {
    let mut found = 0;
    let mut kept = Vec::with_capacity(lines.len());
    for cur in lines {
        let hit = match (regexp, search_string) {
            (Some(re), _) => re.is_match(cur.as_slice())?,
            (None, Some(s)) => contains(cur, s.as_bytes()),
            (None, None) => line.as_bytes() == strip_eol(cur),
        };
        if hit {
            found += 1;
        } else {
            kept.push(cur.clone());
        }
    }
    Ok((kept, found))
}

// ---------------------------------------------------------------------------
// Python `re` on bytes.

/// Compiles a Python `re` pattern as Ansible does (a bytes pattern: ASCII
/// classes, `.` any byte but `\n`), with [`crate::pyregex`]: backreferences
/// and look-around included.
pub fn py_regex(pattern: &str) -> Result<Regex, String> {
    Regex::bytes(pattern).map_err(|e| format!("invalid regular expression `{pattern}`: {e}"))
}

// ---------------------------------------------------------------------------
// The file plumbing shared with `blockinfile`.

/// Message of a failed write that gives no better one.
pub(crate) const WRITE_FAILED: &str = "writing the file failed";

/// What the probe found: the file (symlinks followed), the defaults for a
/// new one, and the owner and group asked for.
#[derive(Debug, Clone)]
pub struct FileState {
    /// The raw probe output (with the owner and group resolved).
    pub probe: ProbeOutput,
    /// The file, symlinks followed, with its whole content.
    pub file: PathInfo,
    /// The umask and the connecting user (a new file's attributes), the clock.
    pub env: Env,
}

impl FileState {
    /// Reads the probe's output ([`probe_file`]).
    pub fn parse(out: &ExecOutput) -> Result<FileState, ModuleError> {
        let probe = ProbeOutput::parse(out)?;
        let file = probe.path("file")?;
        if file.kind() == Kind::File && file.content.is_none() {
            return Err(ModuleError::failed(format!(
                "could not read the file: {} is not readable",
                file.path
            )));
        }
        let env = probe.env()?;
        Ok(FileState { probe, file, env })
    }

    /// Refuses a directory (Ansible's rc 256); else whether the file exists.
    pub fn editable(&self, path: &str) -> Result<bool, ModuleError> {
        if self.file.kind() == Kind::Directory {
            return Err(
                ModuleError::failed(format!("Path {path} is a directory !")).with("rc", 256)
            );
        }
        Ok(self.exists())
    }

    /// Whether there is a file (a dangling symlink is none).
    pub fn exists(&self) -> bool {
        !matches!(
            self.file.kind(),
            Kind::Absent | Kind::Link | Kind::Directory
        )
    }

    /// The file's content (empty when there is none).
    pub fn content(&self) -> &[u8] {
        self.file.content.as_deref().unwrap_or_default()
    }
}

/// The probe: the file's kind, attributes and whole content (symlinks
/// followed), the wanted owner and group, the defaults for a new file, and
/// with `backup` the clock (for the backup's name).
pub fn probe_file(path: &str, owner: Option<&str>, group: Option<&str>, backup: bool) -> Exec {
    let opts = StatOpts {
        follow: true,
        fetch: Fetch::Whole,
        ..StatOpts::default()
    };
    Probe::new()
        .clock(backup)
        .path("file", path, &opts)
        .ids(owner, group)
        .finish()
}

/// An edit of a file's content, as lineinfile and blockinfile plan it.
pub(crate) struct Edit<'a> {
    /// The path as given.
    pub path: &'a str,
    /// The new content.
    pub after: Vec<u8>,
    /// The module's message; empty when the content is unchanged.
    pub msg: String,
    /// `mode`, `owner`, `group`.
    pub want: WantAttrs,
    /// `backup`.
    pub backup: bool,
    /// `validate`.
    pub validate: Option<&'a str>,
    /// The content diff's header (Ansible's lineinfile and blockinfile say
    /// `PATH (content)`, replace just `PATH`).
    pub header: String,
    /// Whether changed attributes get a diff of their own (replace: no).
    pub attr_diff: bool,
    /// Whether the registered `diff` is always there, as lineinfile and
    /// blockinfile return it: `[content, file attributes]`.
    pub diff_list: bool,
    /// Check and diff mode.
    pub ctx: &'a Context,
}

impl Edit<'_> {
    /// The content diff header lineinfile and blockinfile use.
    pub fn content_header(path: &str) -> String {
        format!("{path} (content)")
    }
}

/// The plan shared by lineinfile and blockinfile: content diff, attribute
/// changes (Ansible's "ownership, perms or SE linux context changed"), and
/// one [`AtomicWrite`] to the file a symlink points to, or one script that
/// only changes attributes.
pub(crate) fn plan_edit(st: &FileState, e: Edit) -> Result<Plan, ModuleError> {
    let exists = st.exists();
    let cur = if exists {
        CurAttrs::of(&st.file)
    } else {
        st.env.new_attrs(false)
    };
    let ids = Ids::resolve(&st.probe, &e.want, e.path)?;
    let attrs = fileops::plan_attrs(&cur, &e.want, &ids, st.env.umask)?;
    let content_changed = !e.msg.is_empty();
    let registered = e.diff_list.then(|| registered_diff(st, &e, &attrs));
    let mut msg = e.msg;
    // lineinfile and blockinfile return before looking at attributes when
    // check mode would create the file.
    let attrs_told = !(e.diff_list && e.ctx.check_mode && !exists);
    if attrs.changes() && attrs_told {
        if content_changed {
            msg.push_str(" and ");
        }
        msg.push_str("ownership, perms or SE linux context changed");
    }
    let mut plan = Plan::noop();
    if content_changed {
        let header = e.header.clone();
        plan.diff.push(Diff {
            before_header: Some(header.clone()),
            after_header: Some(header),
            before: String::from_utf8_lossy(st.content()).into_owned(),
            after: String::from_utf8_lossy(&e.after).into_owned(),
            prepared: None,
            dicts: None,
        });
    }
    if attrs.changes() && e.attr_diff {
        let mut d = Diff::attributes(e.path, &attrs.before, &attrs.after);
        d.before_header = Some(format!("{} (file attributes)", e.path));
        d.after_header = d.before_header.clone();
        plan.diff.push(d);
    }
    if content_changed {
        let write = AtomicWrite {
            dest: (st.file.real.clone())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| e.path.to_string()),
            source: Source::Bytes(e.after),
            mode: attrs.mode,
            uid: attrs.chown,
            gid: attrs.chgrp,
            keep_ids: exists.then_some((cur.uid, cur.gid)),
            validate: e.validate.map(str::to_string),
            validation: Validation::Words,
            backup: (e.backup && exists).then(|| st.env.backup_name(e.path)),
            mkdirs: if exists {
                Vec::new()
            } else {
                ancestors(&dirname(e.path))
            },
            dir_mode: None,
        };
        plan.action = if exists {
            Action::Update
        } else {
            Action::Create
        };
        plan.apply.push(write.exec()?);
    } else if attrs.changes() {
        plan.action = Action::Update;
        plan.apply
            .push(Exec::script(attrs.script(&quote(e.path), false)));
    }
    plan.msg = Some(msg);
    if let Some(diff) = registered {
        plan.values.insert("diff".into(), diff);
    }
    Ok(plan)
}

/// The `diff` lineinfile and blockinfile return whether or not anything
/// changes or diff mode is on: the content (only in diff mode, else both
/// sides empty) and the attribute changes, each under its header. A file
/// that check mode would create gets the content part alone.
fn registered_diff(st: &FileState, e: &Edit, attrs: &AttrPlan) -> Value {
    let text = |bytes: &[u8]| {
        if e.ctx.diff {
            String::from_utf8_lossy(bytes).into_owned()
        } else {
            String::new()
        }
    };
    let content = serde_json::json!({
        "before": text(st.content()),
        "after": text(&e.after),
        "before_header": e.header,
        "after_header": e.header,
    });
    if e.ctx.check_mode && !st.exists() {
        return content;
    }
    let header = format!("{} (file attributes)", e.path);
    let mut attributes = if attrs.changes() {
        Diff::attributes(e.path, &attrs.before, &attrs.after).to_value()
    } else {
        Value::Object(Map::new())
    };
    if let Value::Object(m) = &mut attributes {
        m.insert("before_header".into(), header.clone().into());
        m.insert("after_header".into(), header.into());
    }
    Value::Array(vec![content, attributes])
}

/// Puts the backup a write made (if any) under `key`.
pub(crate) fn record_backup(
    out: &ExecOutput,
    plan: &mut Plan,
    key: &str,
) -> Result<(), ModuleError> {
    if let Some(b) = fileops::written(out)? {
        plan.values.insert(key.into(), b.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<Vec<u8>> {
        readlines(s.as_bytes())
    }

    fn text(lines: &[Vec<u8>]) -> String {
        String::from_utf8(lines.concat()).unwrap()
    }

    #[derive(Default)]
    struct P<'a> {
        regexp: Option<&'a str>,
        search: Option<&'a str>,
        line: &'a str,
        after: Option<&'a str>,
        before: Option<&'a str>,
        backrefs: bool,
        firstmatch: bool,
    }

    fn run(content: &str, p: P) -> (String, String) {
        let re = p.regexp.map(|r| py_regex(r).unwrap());
        let (after, before) = match (p.after, p.before) {
            (None, None) => (Some("EOF"), None),
            x => x,
        };
        let opts = Present {
            regexp: re.as_ref(),
            search_string: p.search,
            line: p.line,
            insert: Insert { after, before },
            backrefs: p.backrefs,
            firstmatch: p.firstmatch,
        };
        let mut l = lines(content);
        let msg = present(&mut l, &opts).unwrap();
        (text(&l), msg)
    }

    #[test]
    fn selinux_example_replaces_the_matching_line() {
        let f = "# comment\nSELINUX=permissive\nSELINUXTYPE=targeted\n";
        let (out, msg) = run(
            f,
            P {
                regexp: Some("^SELINUX="),
                line: "SELINUX=enforcing",
                ..P::default()
            },
        );
        assert_eq!(out, "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n");
        assert_eq!(msg, "line replaced");
        let (again, msg) = run(
            &out,
            P {
                regexp: Some("^SELINUX="),
                line: "SELINUX=enforcing",
                ..P::default()
            },
        );
        assert_eq!((again.as_str(), msg.as_str()), (out.as_str(), ""));
    }

    #[test]
    fn only_the_last_match_is_replaced_unless_firstmatch() {
        let f = "a=1\na=2\n";
        assert_eq!(
            run(
                f,
                P {
                    regexp: Some("^a="),
                    line: "a=3",
                    ..P::default()
                }
            )
            .0,
            "a=1\na=3\n"
        );
        assert_eq!(
            run(
                f,
                P {
                    regexp: Some("^a="),
                    line: "a=3",
                    firstmatch: true,
                    ..P::default()
                }
            )
            .0,
            "a=3\na=2\n"
        );
    }

    #[test]
    fn hosts_example_with_escaped_dots_and_search_string() {
        let f = "127.0.0.1 old\n::1 v6\n";
        let (out, msg) = run(
            f,
            P {
                regexp: Some(r"^127\.0\.0\.1"),
                line: "127.0.0.1 localhost",
                ..P::default()
            },
        );
        assert_eq!(
            (out.as_str(), msg.as_str()),
            ("127.0.0.1 localhost\n::1 v6\n", "line replaced")
        );
        let (out, _) = run(
            f,
            P {
                search: Some("127.0.0.1"),
                line: "127.0.0.1 localhost",
                ..P::default()
            },
        );
        assert_eq!(out, "127.0.0.1 localhost\n::1 v6\n");
        let (out, msg) = run(
            f,
            P {
                search: Some("10.0.0.1"),
                line: "10.0.0.1 x",
                ..P::default()
            },
        );
        assert_eq!(
            (out.as_str(), msg.as_str()),
            ("127.0.0.1 old\n::1 v6\n10.0.0.1 x\n", "line added")
        );
    }

    #[test]
    fn insertafter_and_insertbefore() {
        let f = "#Listen 80\nfoo\n";
        let p = || P {
            regexp: Some("^Listen "),
            after: Some("^#Listen "),
            line: "Listen 8080",
            ..P::default()
        };
        let (out, msg) = run(f, p());
        assert_eq!(
            (out.as_str(), msg.as_str()),
            ("#Listen 80\nListen 8080\nfoo\n", "line added")
        );
        assert_eq!(run(&out, p()).1, "");
        let f = "a\nwww 80/tcp\nb\nwww 80/tcp\n";
        let p = |first| P {
            regexp: Some("^# port for http"),
            before: Some("^www.*80/tcp"),
            line: "# port for http by default",
            firstmatch: first,
            ..P::default()
        };
        assert_eq!(
            run(f, p(false)).0,
            "a\nwww 80/tcp\nb\n# port for http by default\nwww 80/tcp\n"
        );
        assert_eq!(
            run(f, p(true)).0,
            "a\n# port for http by default\nwww 80/tcp\nb\nwww 80/tcp\n"
        );
        // no match: end of file
        assert_eq!(
            run(
                "x",
                P {
                    before: Some("^nothing"),
                    line: "new",
                    ..P::default()
                }
            )
            .0,
            "x\nnew\n"
        );
        // BOF / EOF
        assert_eq!(
            run(
                "x\n",
                P {
                    before: Some("BOF"),
                    line: "new",
                    ..P::default()
                }
            )
            .0,
            "new\nx\n"
        );
        assert_eq!(
            run(
                "x\n",
                P {
                    after: Some("BOF"),
                    line: "new",
                    ..P::default()
                }
            )
            .0,
            "new\nx\n"
        );
        assert_eq!(
            run(
                "x",
                P {
                    after: Some("EOF"),
                    line: "new",
                    ..P::default()
                }
            )
            .0,
            "x\nnew\n"
        );
        // insertafter the last line of the file, without a newline
        assert_eq!(
            run(
                "a\nb",
                P {
                    after: Some("^b"),
                    line: "new",
                    ..P::default()
                }
            )
            .0,
            "a\nb\nnew\n"
        );
        // already after the match: unchanged
        assert_eq!(
            run(
                "a\nnew\n",
                P {
                    after: Some("^a"),
                    line: "new",
                    ..P::default()
                }
            )
            .1,
            ""
        );
    }

    #[test]
    fn exact_line_is_not_added_twice_and_newline_fixed() {
        assert_eq!(
            run(
                "x\ny\n",
                P {
                    line: "x",
                    ..P::default()
                }
            )
            .1,
            ""
        );
        // the line exists but lacks its newline: Ansible replaces it to add one
        let (out, msg) = run(
            "a\nx",
            P {
                line: "x",
                ..P::default()
            },
        );
        assert_eq!((out.as_str(), msg.as_str()), ("a\nx\n", "line replaced"));
        assert_eq!(
            run(
                "",
                P {
                    line: "x",
                    ..P::default()
                }
            )
            .0,
            "x\n"
        );
        // CRLF line matching
        assert_eq!(
            run(
                "x\r\n",
                P {
                    line: "x",
                    ..P::default()
                }
            )
            .1,
            "line replaced"
        );
    }

    #[test]
    fn backrefs() {
        let f = "JAVA_OPTS=-Xms512m -Xmx1g\n";
        let p = || P {
            regexp: Some(r"^(.*)Xms(\d+)m(.*)$"),
            line: r"\1Xms1024m\3",
            backrefs: true,
            ..P::default()
        };
        let (out, msg) = run(f, p());
        assert_eq!(
            (out.as_str(), msg.as_str()),
            ("JAVA_OPTS=-Xms1024m -Xmx1g\n", "line replaced")
        );
        assert_eq!(run(&out, p()).1, "");
        // no match: unchanged, never appended
        assert_eq!(run("other\n", p()), ("other\n".into(), String::new()));
        let p = P {
            regexp: Some("^(host=).*"),
            line: r"\g<1>web1",
            backrefs: true,
            ..P::default()
        };
        assert_eq!(run("host=old\n", p).0, "host=web1\n");
        let p = P {
            regexp: Some("^(?P<k>[a-z]+)=(?P<v>.*)$"),
            line: r"\g<k>: \g<v>\t\$",
            backrefs: true,
            ..P::default()
        };
        assert_eq!(run("a=1\n", p).0, "a: 1\t\\$\n");
        // without backrefs the line is literal
        assert_eq!(
            run(
                "host=old\n",
                P {
                    regexp: Some("^(host=)"),
                    line: r"\1x",
                    ..P::default()
                }
            )
            .0,
            "\\1x\n"
        );
    }

    #[test]
    fn absent_removes_all_matches() {
        let f = "%wheel ALL\nroot ALL\n%wheel2 x\n";
        let re = py_regex("^%wheel").unwrap();
        let (kept, found) = absent(&lines(f), Some(&re), None, "").unwrap();
        assert_eq!((text(&kept).as_str(), found), ("root ALL\n", 2));
        let (kept, found) = absent(&lines(f), None, Some("ALL"), "").unwrap();
        assert_eq!((text(&kept).as_str(), found), ("%wheel2 x\n", 2));
        let (kept, found) = absent(&lines("a\r\nb\n"), None, None, "a").unwrap();
        assert_eq!((text(&kept).as_str(), found), ("b\n", 1));
        assert_eq!(absent(&lines("a\n"), None, None, "z").unwrap().1, 0);
        // backreference: lines whose first and last words are the same
        let re = py_regex(r"^(\w+) .* \1$").unwrap();
        let (kept, found) = absent(&lines("REF a REF\nREF b XYZ\n"), Some(&re), None, "").unwrap();
        assert_eq!((text(&kept).as_str(), found), ("REF b XYZ\n", 1));
    }

    #[test]
    fn python_regex_semantics() {
        let m = |p: &str, s: &str| py_regex(p).unwrap().is_match(s.as_bytes()).unwrap();
        assert!(m("foo$", "foo\n"));
        assert!(m("foo$", "foo"));
        assert!(!m("foo$", "foo\r\n"));
        assert!(!m(r"foo\Z", "foo\n"));
        assert!(m(r"^\t<Location \/>\n", "\t<Location />\n"));
        assert!(m("a{", "a{"));
        assert!(m("a{,2}b", "aab"));
        assert!(m("x{2}", "xx"));
        assert!(m("[[]", "["));
        assert!(m("[a&&b]", "&"));
        assert!(m(r"\<", "<"));
        assert!(m(r"(?#comment)a", "a"));
        assert!(m(r"(?i)ABC", "abc"));
        assert!(m(r"\d\w", "1_"));
        assert!(!m(r"\d", "٣"));
        assert!(m("é+", "é"));
        assert!(m("caf[é]", "caf\u{e9}"));
        assert!(m(r"\0", "\0"));
        assert!(m(r"(a)\1", "aa"));
        assert!(!m(r"(a)\1", "ab"));
        assert!(m(r"(?P<x>a)(?P=x)", "aa"));
        assert!(m(r"a(?=b)", "ab"));
        assert!(!m(r"a(?!b)", "ab"));
        assert!(m(r"(?<=a)b", "ab"));
        assert!(!m(r"(?<!a)b", "ab"));
        assert!(py_regex(r"\q").is_err());
        assert!(
            py_regex(r"(a)\2")
                .unwrap_err()
                .contains("invalid group reference 2")
        );
        assert!(py_regex("(?m)a\nb").unwrap().multiline());
        assert!(!py_regex("a").unwrap().multiline());
        assert!(py_regex("a(?m)").is_err(), "global flags not at the start");
    }

    #[test]
    fn template_expansion_is_pythons() {
        let re = py_regex("(a)(b)?(?P<n>c)").unwrap();
        let m = re.search(&b"ac"[..]).unwrap().unwrap();
        let e = |t: &str| {
            re.template(t)
                .map(|t| String::from_utf8(t.expand(&m, b"ac")).unwrap())
        };
        assert_eq!(e(r"\1-\2-\3-\g<n>-\g<1>").unwrap(), "a--c-c-a");
        assert_eq!(e(r"\n\\\.").unwrap(), "\n\\\\.");
        assert_eq!(e(r"\101").unwrap(), "A");
        assert!(e(r"\9").is_err());
        assert!(e(r"\q").is_err());
        assert_eq!(
            e(r"\10").unwrap_err(),
            "invalid group reference 10 at position 1"
        );
    }

    #[test]
    fn backrefs_with_backreferences_in_the_pattern() {
        // Ansible's lineinfile test: `regexp: '^(REF) .* \1$'` with backrefs.
        let f = "REF this is a line for backrefs REF\nother\n";
        let (out, msg) = run(
            f,
            P {
                regexp: Some(r"^(REF) .* \1$"),
                line: r"\1 after backref \1",
                backrefs: true,
                ..P::default()
            },
        );
        assert_eq!(
            (out.as_str(), msg.as_str()),
            ("REF after backref REF\nother\n", "line replaced")
        );
        // look-ahead keeps the commented line, replaces the live one
        let (out, _) = run(
            "#Port 22\nPort 22\n",
            P {
                regexp: Some(r"^(?!#)Port\s"),
                line: "Port 2222",
                ..P::default()
            },
        );
        assert_eq!(out, "#Port 22\nPort 2222\n");
    }

    /// A mode as lineinfile resolves it for a regular file (umask 022).
    fn parse_mode(mode: &str, current: u32) -> Result<u32, String> {
        let spec = ModeSpec::parse_str(mode)?;
        Ok(spec.resolve(current, false, 0o022)?.unwrap_or(current))
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644", 0), Ok(0o644));
        assert_eq!(parse_mode("644", 0), Ok(0o644));
        assert_eq!(parse_mode("u=rw,go=r", 0o777), Ok(0o644));
        assert_eq!(parse_mode("u+x", 0o644), Ok(0o744));
        assert_eq!(parse_mode("go-w", 0o666), Ok(0o644));
        assert_eq!(parse_mode("a+X", 0o644), Ok(0o644));
        assert_eq!(parse_mode("a+X", 0o744), Ok(0o755));
        assert_eq!(parse_mode("g=u", 0o640), Ok(0o660));
        assert!(parse_mode("bogus", 0).is_err());
        assert!(parse_mode("99999", 0).is_err());
    }
}
