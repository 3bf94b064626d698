//! The `cron` module: manage named jobs and environment variables in a user's crontab or in a file under `/etc/cron.d`.
//!
//! As Ansible's module: every job tend manages is preceded by a marker line
//! `#Ansible: NAME`; the job line after it is what `minute`, `hour`, `day`,
//! `month`, `weekday` (or `special_time`) and `job` make (`#`-prefixed when
//! `disabled`). A job line that exactly matches an existing unmarked line
//! adopts it (the marker is added). With `env`, `NAME="VALUE"` lines are
//! managed instead (new ones on top, or next to `insertafter` /
//! `insertbefore`). A user's crontab is read with `crontab -l` and installed
//! with `crontab -` (the content goes through stdin), with `-u USER` when
//! `user` is not the connecting (or become) user; the target needs the
//! `crontab` command for that, and the module says so when it is missing.
//! With `cron_file`, the file (relative names are under `/etc/cron.d`) is
//! written atomically and each job line carries the user field; removing its
//! last job removes the file. Unlike Ansible, `cron_file` works without a
//! `crontab` command on the target.
//!
//! # Examples
//!
//! ```yaml
//! - name: Nightly backup as root
//!   cron:
//!     name: nightly backup
//!     minute: "30"
//!     hour: "2"
//!     job: /usr/local/bin/backup >/dev/null 2>&1
//!
//! - name: PATH for the deploy user's jobs
//!   cron:
//!     name: PATH
//!     env: true
//!     job: /usr/local/bin:/usr/bin:/bin
//!     user: deploy
//!
//! - name: Log rotation in /etc/cron.d/logs
//!   cron:
//!     name: rotate logs
//!     special_time: daily
//!     user: root
//!     job: /usr/sbin/logrotate /etc/logrotate.conf
//!     cron_file: logs
//!
//! - name: Remove an old job
//!   cron:
//!     name: old job
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `jobs` (list): the names of the jobs in the crontab after the change.
//! - `envs` (list): the names of the variables in the crontab after the change.
//! - `cron_file` (str): the `cron_file` argument, when given.
//! - `state` (str): `absent`, when removing the last job removed the `cron_file`.
//! - `backup_file` (str): where the old crontab was saved, with `backup` and a change.

use crate::args::{ArgsError, de, is_templated, mutually_exclusive};
use crate::choice;
use crate::fileops::{
    self, AtomicWrite, Fetch, Kind, PathInfo, Probe, ProbeOutput, Source, StatOpts,
};
use crate::host::{Exec, ExecOutput, Host};
use crate::lineinfile::State;
use crate::module::{Context, Converge, MSG_PREFIX, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

choice! {
    /// `special_time` of `cron`.
    pub enum SpecialTime {
        /// `@annually`.
        Annually = ["annually"],
        /// `@daily`.
        Daily = ["daily"],
        /// `@hourly`.
        Hourly = ["hourly"],
        /// `@monthly`.
        Monthly = ["monthly"],
        /// `@reboot`.
        Reboot = ["reboot"],
        /// `@weekly`.
        Weekly = ["weekly"],
        /// `@yearly`.
        Yearly = ["yearly"],
    }
}

fn star() -> String {
    "*".into()
}

fn present() -> State {
    State::Present
}

/// Arguments of `cron`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The job's description (its `#Ansible: NAME` marker) or, with `env`, the variable's name.
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    /// Whose crontab to change (default: the connecting or become user).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub user: Option<String>,
    /// The command (or, with `env`, the variable's value); required with `state=present`.
    #[serde(default, alias = "value", deserialize_with = "de::opt_string")]
    pub job: Option<String>,
    /// Whether the job or variable should be there (default `present`).
    #[serde(default = "present")]
    pub state: State,
    /// A file to manage instead of a user's crontab; relative names are in `/etc/cron.d`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cron_file: Option<String>,
    /// Save the old crontab to a temporary file (`backup_file`) before changing it.
    #[serde(default, deserialize_with = "de::bool")]
    pub backup: bool,
    /// Minute field (default `*`).
    #[serde(default = "star", deserialize_with = "de::string")]
    pub minute: String,
    /// Hour field (default `*`).
    #[serde(default = "star", deserialize_with = "de::string")]
    pub hour: String,
    /// Day-of-month field (default `*`).
    #[serde(default = "star", alias = "dom", deserialize_with = "de::string")]
    pub day: String,
    /// Month field (default `*`).
    #[serde(default = "star", deserialize_with = "de::string")]
    pub month: String,
    /// Day-of-week field (default `*`).
    #[serde(default = "star", alias = "dow", deserialize_with = "de::string")]
    pub weekday: String,
    /// A nickname (`@daily`...) instead of the five time fields.
    #[serde(default)]
    pub special_time: Option<SpecialTime>,
    /// Keep the job, commented out.
    #[serde(default, deserialize_with = "de::bool")]
    pub disabled: bool,
    /// Manage an environment variable `NAME="VALUE"` instead of a job.
    #[serde(default, deserialize_with = "de::bool")]
    pub env: bool,
    /// With `env`: put a new variable after this variable's line.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub insertafter: Option<String>,
    /// With `env`: put a new variable before this variable's line.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub insertbefore: Option<String>,
}

/// The `cron` module.
pub struct Cron;

const MARKER: &str = "#Ansible: ";

impl Args {
    /// The file managed instead of a crontab, relative names under `/etc/cron.d`.
    pub fn cron_path(&self) -> Option<String> {
        self.cron_file.as_ref().map(|f| {
            if f.starts_with('/') {
                f.clone()
            } else {
                fileops::join("/etc/cron.d", f)
            }
        })
    }

    fn diff_header(&self) -> String {
        match (self.cron_path(), &self.user) {
            (Some(p), _) => p,
            (None, Some(u)) => format!("crontab for user \"{u}\""),
            (None, None) => "crontab".into(),
        }
    }
}

fn arg_err(msg: &str) -> ArgsError {
    ArgsError::general(msg)
}

#[async_trait]
impl TypedModule for Cron {
    type Args = Args;
    const NAME: &'static str = "cron";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        mutually_exclusive(&[(
            "insertafter",
            a.insertafter.is_some(),
            "insertbefore",
            a.insertbefore.is_some(),
        )])?;
        if a.cron_file.as_deref() == Some("/etc/crontab") {
            return Err(arg_err(
                "Will not manage /etc/crontab via cron_file, see documentation.",
            ));
        }
        let fields = [&a.minute, &a.hour, &a.day, &a.month, &a.weekday];
        if a.special_time.is_some() && fields.iter().any(|f| *f != "*" && !is_templated(f)) {
            return Err(arg_err(
                "You cannot combine special_time with any of the time or day/date parameters.",
            ));
        }
        if a.state == State::Present {
            if a.cron_file.is_some() && a.user.is_none() {
                return Err(arg_err(
                    "To use cron_file=... parameter you must specify user=... as well",
                ));
            }
            if a.job.is_none() {
                return Err(arg_err(
                    "You must specify 'job' to install a new cron job or variable",
                ));
            }
            if (a.insertafter.is_some() || a.insertbefore.is_some()) && !a.env {
                return Err(arg_err(
                    "Insertafter and insertbefore parameters are valid only with env=yes",
                ));
            }
        }
        if a.env && a.name.contains(' ') && !is_templated(&a.name) {
            return Err(ArgsError::field(
                "name",
                "Invalid name for environment variable",
            ));
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

/// What the probe found: the crontab's text, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The user crontab (empty when the user has none) or the cron file's content.
    Text {
        /// The text as read (for a `cron_file`: `None` when the file does not exist).
        text: Option<String>,
        /// The cron file as probed (kind, mode, owner).
        file: Option<Box<PathInfo>>,
    },
    /// The target has no `crontab` command.
    NoCrontab,
}

/// A crontab as lines, with Ansible's `CronTab` edits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CronTab {
    /// The lines (without line endings).
    pub lines: Vec<String>,
    /// The text as read (the diff's before), without `crontab -l` banners.
    pub existing: String,
    /// Whether this is a `cron_file` (job lines carry the user).
    pub is_file: bool,
    /// The `user` field of a cron file's job lines.
    pub user: Option<String>,
}

/// Python's `str.splitlines` for crontab text (`\n`, `\r\n`, `\r`).
fn splitlines(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push(std::mem::take(&mut cur)),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A `crontab -l` banner line (some crons print three of them first).
fn is_banner(l: &str) -> bool {
    let after = |prefix: &str, needle: &str| {
        l.strip_prefix(prefix)
            .and_then(|r| r.find(needle).map(|i| &r[i + needle.len()..]))
            .is_some_and(|r| r.contains(')'))
    };
    l.starts_with("# DO NOT EDIT THIS FILE - edit the master and reinstall")
        || (l.starts_with("# (/tmp/") && after("# (/tmp/", "installed on"))
        || after("# (", "version")
}

impl CronTab {
    /// A user's crontab from `crontab -l`'s output (banners dropped).
    pub fn from_user(out: &str) -> CronTab {
        let mut existing = out.to_string();
        let mut lines = Vec::new();
        for (count, l) in splitlines(out).into_iter().enumerate() {
            if count > 2 || !is_banner(&l) {
                lines.push(l);
            } else if let Some(i) = existing.find(&l) {
                let mut end = i + l.len();
                if matches!(existing.as_bytes().get(end), Some(b'\r' | b'\n')) {
                    end += 1;
                }
                existing.replace_range(i..end, "");
            }
        }
        CronTab {
            lines,
            existing,
            is_file: false,
            user: None,
        }
    }

    /// A cron file's content.
    pub fn from_file(text: &str, user: Option<String>) -> CronTab {
        CronTab {
            lines: splitlines(text),
            existing: text.to_string(),
            is_file: true,
            user,
        }
    }

    /// Whether only blank lines are left.
    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }

    /// The text to install.
    pub fn render(&self) -> String {
        let joined = self.lines.join("\n");
        if joined.is_empty() {
            joined
        } else {
            format!("{}\n", joined.trim_end_matches(['\r', '\n']))
        }
    }

    /// The job line for these arguments.
    pub fn job_line(&self, a: &Args, job: &str) -> String {
        let job = job.trim_matches(['\r', '\n']);
        let prefix = if a.disabled { "#" } else { "" };
        let user = match (&self.user, self.is_file) {
            (Some(u), true) => format!("{u} "),
            _ => String::new(),
        };
        match a.special_time {
            Some(s) => format!("{prefix}@{} {user}{job}", s.as_str()),
            None => format!(
                "{prefix}{} {} {} {} {} {user}{job}",
                a.minute, a.hour, a.day, a.month, a.weekday
            ),
        }
    }

    /// Ansible's `find_job`: the job after the marker `name`, else an exact
    /// `job` line, which is adopted (a marker added: `adopted` is true).
    fn find_job(&mut self, name: &str, job: Option<&str>) -> Option<(String, bool)> {
        let mut comment: Option<String> = None;
        for l in &self.lines {
            if let Some(c) = &comment {
                if c == name {
                    return Some((l.clone(), false));
                }
                comment = None;
            } else if let Some(rest) = l.strip_prefix(MARKER) {
                comment = Some(rest.replace(MARKER, ""));
            }
        }
        let job = job?;
        let n = self.lines.len();
        for i in 0..n {
            if self.lines[i] != job {
                continue;
            }
            let prev = &self.lines[(i + n - 1) % n];
            if !prev.starts_with(MARKER) {
                self.lines.insert(i, format!("{MARKER}{name}"));
                return Some((job.to_string(), true));
            }
            if !name.is_empty() && *prev == format!("{MARKER}None") {
                self.lines[(i + n - 1) % n] = format!("{MARKER}{name}");
                return Some((job.to_string(), true));
            }
        }
        None
    }

    /// Replaces (`Some`) or removes (`None`) the line after each marker `name`.
    fn update_job(&mut self, name: &str, job: Option<&str>) {
        let marker = format!("{MARKER}{name}");
        let mut out = Vec::with_capacity(self.lines.len() + 1);
        let mut pending: Option<String> = None;
        for l in std::mem::take(&mut self.lines) {
            if let Some(c) = pending.take() {
                if let Some(j) = job {
                    out.push(c);
                    out.push(j.to_string());
                }
            } else if l == marker {
                pending = Some(l);
            } else {
                out.push(l);
            }
        }
        self.lines = out;
    }

    fn find_env(&self, name: &str) -> Option<usize> {
        let prefix = format!("{name}=");
        self.lines.iter().position(|l| l.starts_with(&prefix))
    }

    /// Replaces (`Some`) or removes (`None`) every `NAME=` line.
    fn update_env(&mut self, name: &str, decl: Option<&str>) {
        let prefix = format!("{name}=");
        let lines = std::mem::take(&mut self.lines);
        self.lines = lines
            .into_iter()
            .filter_map(|l| {
                if l.starts_with(&prefix) {
                    decl.map(str::to_string)
                } else {
                    Some(l)
                }
            })
            .collect();
    }

    /// Names of the managed jobs.
    pub fn jobnames(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| l.starts_with(MARKER))
            .map(|l| l.replace(MARKER, ""))
            .collect()
    }

    /// Names of the variables (`NAME=...` lines without whitespace before `=`).
    pub fn envnames(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| {
                l.split_once('=')
                    .is_some_and(|(k, _)| !k.is_empty() && !k.chars().any(char::is_whitespace))
            })
            .map(|l| l.split('=').next().unwrap_or_default().to_string())
            .collect()
    }
}

/// What [`edit`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// The crontab after the edit and whether it changed.
    Crontab {
        /// Whether it must be (re)written.
        changed: bool,
    },
    /// The last job of a cron file went: the file is removed.
    RemoveFile,
}

/// Ansible's edit of the crontab for these arguments (pure).
pub fn edit(tab: &mut CronTab, a: &Args) -> Result<Edited, String> {
    let present = a.state == State::Present;
    let mut changed = false;
    let job = a.job.as_deref().unwrap_or_default();
    if a.env {
        let decl = format!("{}=\"{}\"", a.name, job);
        match tab.find_env(&a.name) {
            None if present => {
                match a.insertafter.as_deref().or(a.insertbefore.as_deref()) {
                    None => tab.lines.insert(0, decl),
                    Some(other) => match tab.find_env(other) {
                        Some(i) => {
                            let at = if a.insertafter.is_some() { i + 1 } else { i };
                            tab.lines.insert(at, decl);
                        }
                        None => return Err(format!("Variable named '{other}' not found.")),
                    },
                }
                changed = true;
            }
            Some(i) if present && tab.lines[i] != decl => {
                tab.update_env(&a.name, Some(&decl));
                changed = true;
            }
            Some(_) if present => {}
            Some(_) => {
                tab.update_env(&a.name, None);
                changed = true;
            }
            None => {}
        }
    } else if present {
        let line = tab.job_line(a, job);
        match tab.find_job(&a.name, Some(&line)) {
            None => {
                tab.lines.push(format!("{MARKER}{}", a.name));
                tab.lines.push(line);
                changed = true;
            }
            Some((old, adopted)) => {
                if old != line || adopted {
                    tab.update_job(&a.name, Some(&line));
                    changed = true;
                }
            }
        }
    } else if tab.find_job(&a.name, None).is_some() {
        tab.update_job(&a.name, None);
        changed = true;
        if tab.is_file && tab.is_empty() {
            return Ok(Edited::RemoveFile);
        }
    }
    if !changed && !tab.existing.is_empty() && !tab.existing.ends_with(['\r', '\n']) {
        changed = true;
    }
    Ok(Edited::Crontab { changed })
}

/// `crontab` with `-u USER` unless USER is who runs the script.
fn crontab_cmd(user: Option<&str>, rest: &str) -> String {
    match user {
        None => format!("crontab {rest}"),
        Some(u) => {
            let q = quote(u);
            format!(
                "if [ \"$(id -un)\" = {q} ]; then crontab {rest}; else crontab -u {q} {rest}; fi"
            )
        }
    }
}

const NO_CRONTAB: &str = "Failed to find required executable \"crontab\" on the target: install cron (the `cron` or `cronie` package), or manage a file with `cron_file`";
const BACKUP_LINE: &str = "__tend_cron_backup ";

impl Converge for Cron {
    type Args = Args;
    type State = Found;
    const APPLY_FAILED: &'static str = "Failed to install new cronfile";

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        match a.cron_path() {
            Some(path) => {
                let opts = StatOpts {
                    fetch: Fetch::Whole,
                    ..StatOpts::default()
                };
                Probe::new().path("cron", &path, &opts).finish()
            }
            None => Exec::script(format!(
                "LC_ALL=C; export LC_ALL\n\
                 command -v crontab >/dev/null 2>&1 || {{ printf 'missing\\0'; exit 0; }}\n\
                 printf 'ok\\0'\nexec 3>&1\n\
                 err=$({} 2>&1 >&3); rc=$?\n\
                 printf '\\0%s\\0%s' \"$rc\" \"$err\"\n",
                crontab_cmd(a.user.as_deref(), "-l")
            )),
        }
    }

    fn parse(&self, a: &Args, out: &ExecOutput) -> Result<Found, ModuleError> {
        if a.cron_file.is_some() {
            let probe = ProbeOutput::parse(out)?;
            let info = probe.path("cron")?;
            return match info.kind() {
                Kind::Absent => Ok(Found::Text {
                    text: None,
                    file: Some(Box::new(info)),
                }),
                Kind::File => {
                    let text = info
                        .content
                        .as_deref()
                        .map(|c| String::from_utf8_lossy(c).into_owned());
                    if text.is_none() {
                        return Err(ModuleError::failed(format!(
                            "cannot read the cron file {}",
                            info.path
                        )));
                    }
                    Ok(Found::Text {
                        text,
                        file: Some(Box::new(info)),
                    })
                }
                k => Err(ModuleError::failed(format!(
                    "{} is a {}, not a cron file",
                    info.path,
                    k.as_str()
                ))),
            };
        }
        if out.status != 0 {
            return Err(ModuleError::script("reading the crontab failed", out));
        }
        let text = out.stdout_text();
        let mut parts = text.split('\0');
        match parts.next() {
            Some("missing") => return Ok(Found::NoCrontab),
            Some("ok") => {}
            _ => return Err(ModuleError::script("reading the crontab failed", out)),
        }
        let body = parts.next().unwrap_or_default().to_string();
        let rc: i32 = parts
            .next()
            .and_then(|r| r.trim().parse().ok())
            .ok_or_else(|| ModuleError::script("reading the crontab failed", out))?;
        let err = parts.next().unwrap_or_default();
        if rc != 0 && rc != 1 {
            let mut msg = "Unable to read crontab".to_string();
            if !err.trim().is_empty() {
                msg = format!("{msg}: {}", err.trim());
            }
            return Err(ModuleError::failed(msg).with("rc", rc));
        }
        Ok(Found::Text {
            text: Some(body),
            file: None,
        })
    }

    fn plan(&self, a: &Args, found: &Found, ctx: &Context) -> Result<Plan, ModuleError> {
        let (text, file) = match found {
            Found::NoCrontab => return Err(ModuleError::failed(NO_CRONTAB)),
            Found::Text { text, file, .. } => (text, file),
        };
        let path = a.cron_path();
        let mut tab = match &path {
            Some(_) => CronTab::from_file(text.as_deref().unwrap_or_default(), a.user.clone()),
            None => CronTab::from_user(text.as_deref().unwrap_or_default()),
        };
        let header = a.diff_header();
        let before = tab.existing.clone();
        let edited = edit(&mut tab, a).map_err(ModuleError::failed)?;
        let backup = a.backup && !ctx.check_mode;
        let backup_script = |src: &str| {
            format!(
                "b=$(mktemp \"${{TMPDIR:-/tmp}}/crontabXXXXXXXX\") || {{ echo '{MSG_PREFIX}cannot create a backup file' >&2; exit 1; }}\n\
                 {src} > \"$b\" || exit 1\nprintf '{BACKUP_LINE}%s\\n' \"$b\"\n"
            )
        };
        if edited == Edited::RemoveFile {
            let path = path.unwrap_or_default();
            let exists = text.is_some();
            let mut plan = if exists {
                let mut script = String::new();
                if backup {
                    script.push_str(&backup_script(&format!("cat -- {}", quote(&path))));
                }
                script.push_str(&format!("rm -f -- {}\n", quote(&path)));
                Plan::change(Action::Delete, vec![Exec::script(script)])
            } else {
                Plan::noop()
            };
            plan.diff.push(Diff {
                before_header: Some(header),
                after_header: Some("/dev/null".into()),
                before,
                after: String::new(),
                prepared: None,
                dicts: None,
            });
            if !ctx.diff {
                // Ansible's module returns an empty `diff` here without --diff.
                plan = plan.with("diff", serde_json::json!({}));
            }
            return Ok(plan
                .with("cron_file", a.cron_file.clone().unwrap_or_default())
                .with("state", "absent"));
        }
        let Edited::Crontab { changed } = edited else {
            return Err(ModuleError::failed("cron: unexpected edit"));
        };
        let mut plan = Plan::noop();
        if changed {
            let creates = before.is_empty();
            let after = tab.render();
            plan.diff.push(Diff {
                before_header: Some(header.clone()),
                after_header: Some(header),
                before,
                after: after.clone(),
                prepared: None,
                dicts: None,
            });
            let exec = match (&path, file) {
                (Some(path), Some(info)) => {
                    let exists = info.kind() == Kind::File;
                    let write = AtomicWrite {
                        dest: path.clone(),
                        source: Source::Bytes(after.into_bytes()),
                        mode: if exists { info.mode & 0o7777 } else { 0o644 },
                        keep_ids: exists.then_some((info.uid, info.gid)),
                        ..AtomicWrite::default()
                    };
                    let mut exec = write.exec()?;
                    if backup {
                        let src = if exists {
                            format!("cat -- {}", quote(path))
                        } else {
                            ":".into()
                        };
                        exec.script = backup_script(&src) + &exec.script;
                    }
                    exec
                }
                _ => {
                    let user = a.user.as_deref();
                    let mut script = String::new();
                    if backup {
                        script.push_str(&backup_script(&format!(
                            "{{ {} 2>/dev/null; :; }}",
                            crontab_cmd(user, "-l")
                        )));
                    }
                    script.push_str(&format!(
                        "err=$({} 2>&1 >/dev/null) || {{ printf '{MSG_PREFIX}Failed to install new crontab: %s\\n' \"$err\" >&2; exit 1; }}\n",
                        crontab_cmd(user, "-")
                    ));
                    Exec::with_stdin(script, after.into_bytes())
                }
            };
            plan.action = if creates {
                Action::Create
            } else {
                Action::Update
            };
            plan.apply.push(exec);
        }
        plan.values
            .insert("jobs".into(), Value::from(tab.jobnames()));
        plan.values
            .insert("envs".into(), Value::from(tab.envnames()));
        if let Some(f) = &a.cron_file {
            plan.values.insert("cron_file".into(), f.clone().into());
        }
        Ok(plan)
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        for line in out.stdout_text().lines() {
            if let Some(b) = line.strip_prefix(BACKUP_LINE) {
                plan.values.insert("backup_file".into(), b.into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn a(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        Cron::validate(&a).unwrap();
        a
    }

    fn user_out(body: &str, rc: i32, err: &str) -> ExecOutput {
        ExecOutput {
            status: 0,
            stdout: format!("ok\0{body}\0{rc}\0{err}").into_bytes(),
            stderr: vec![],
        }
    }

    fn plan_for(args: &Args, body: &str, check: bool) -> Plan {
        let found = Cron.parse(args, &user_out(body, 0, "")).unwrap();
        let ctx = Context {
            check_mode: check,
            diff: true,
        };
        Cron.plan(args, &found, &ctx).unwrap()
    }

    #[test]
    fn adds_a_marked_job_and_installs_through_stdin() {
        let args = a(
            json!({"name": "backup", "minute": "30", "hour": "2", "job": "/bin/backup", "user": "deploy"}),
        );
        let plan = plan_for(&args, "MAILTO=\"\"\n", false);
        assert_eq!(plan.action, Action::Update);
        let after = "MAILTO=\"\"\n#Ansible: backup\n30 2 * * * /bin/backup\n";
        assert_eq!(plan.diff[0].after, after);
        assert_eq!(plan.diff[0].before, "MAILTO=\"\"\n");
        assert_eq!(
            plan.diff[0].before_header.as_deref(),
            Some("crontab for user \"deploy\"")
        );
        assert_eq!(plan.apply[0].stdin, after.as_bytes());
        assert!(plan.apply[0].script.contains("crontab -u deploy -"));
        assert_eq!(plan.values["jobs"], json!(["backup"]));
        assert_eq!(plan.values["envs"], json!(["MAILTO"]));
        // The same crontab again: nothing to do.
        let again = plan_for(&args, after, false);
        assert_eq!(again.action, Action::NoOp);
        assert!(again.apply.is_empty());
    }

    #[test]
    fn updates_the_job_after_its_marker_and_removes_it() {
        let old = "#Ansible: backup\n0 1 * * * /bin/backup\n#Ansible: other\n@reboot /bin/other\n";
        let args = a(
            json!({"name": "backup", "special_time": "daily", "job": "/bin/backup", "disabled": true}),
        );
        let plan = plan_for(&args, old, false);
        assert_eq!(
            plan.diff[0].after,
            "#Ansible: backup\n#@daily /bin/backup\n#Ansible: other\n@reboot /bin/other\n"
        );
        assert_eq!(plan.diff[0].before_header.as_deref(), Some("crontab"));
        assert!(plan.apply[0].script.contains("err=$(crontab - 2>&1"));
        let gone = plan_for(&a(json!({"name": "backup", "state": "absent"})), old, false);
        assert_eq!(gone.diff[0].after, "#Ansible: other\n@reboot /bin/other\n");
        assert_eq!(gone.values["jobs"], json!(["other"]));
        let absent = plan_for(&a(json!({"name": "nope", "state": "absent"})), old, false);
        assert_eq!(absent.action, Action::NoOp);
    }

    #[test]
    fn adopts_an_unmarked_identical_job_and_strips_banners() {
        let old = "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.x installed on Thu)\n# (Cron version -- $Id$)\n* * * * * /bin/x\n";
        let tab = CronTab::from_user(old);
        assert_eq!(tab.lines, vec!["* * * * * /bin/x"]);
        assert_eq!(tab.existing, "* * * * * /bin/x\n");
        let plan = plan_for(&a(json!({"name": "x", "job": "/bin/x"})), old, false);
        assert_eq!(plan.diff[0].after, "#Ansible: x\n* * * * * /bin/x\n");
    }

    #[test]
    fn env_variables_go_on_top_or_next_to_another() {
        let old = "A=\"1\"\n#Ansible: j\n* * * * * j\n";
        let top = plan_for(
            &a(json!({"name": "PATH", "env": true, "job": "/bin"})),
            old,
            false,
        );
        assert_eq!(
            top.diff[0].after,
            "PATH=\"/bin\"\nA=\"1\"\n#Ansible: j\n* * * * * j\n"
        );
        let after = plan_for(
            &a(json!({"name": "B", "env": "yes", "value": "2", "insertafter": "A"})),
            old,
            false,
        );
        assert_eq!(
            after.diff[0].after,
            "A=\"1\"\nB=\"2\"\n#Ansible: j\n* * * * * j\n"
        );
        assert_eq!(after.values["envs"], json!(["A", "B"]));
        let same = plan_for(
            &a(json!({"name": "A", "env": true, "job": "1"})),
            old,
            false,
        );
        assert_eq!(same.action, Action::NoOp);
        let changed = plan_for(
            &a(json!({"name": "A", "env": true, "job": "3"})),
            old,
            false,
        );
        assert_eq!(changed.diff[0].after, "A=\"3\"\n#Ansible: j\n* * * * * j\n");
        let gone = plan_for(
            &a(json!({"name": "A", "env": true, "state": "absent"})),
            old,
            false,
        );
        assert_eq!(gone.diff[0].after, "#Ansible: j\n* * * * * j\n");
        let found = Cron
            .parse(
                &a(json!({"name": "x", "state": "absent"})),
                &user_out(old, 0, ""),
            )
            .unwrap();
        let err = Cron
            .plan(
                &a(json!({"name": "B", "env": true, "job": "2", "insertbefore": "Z"})),
                &found,
                &Context::default(),
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "Variable named 'Z' not found.");
    }

    #[test]
    fn a_missing_final_newline_is_a_change() {
        let plan = plan_for(
            &a(json!({"name": "x", "job": "/bin/x"})),
            "#Ansible: x\n* * * * * /bin/x",
            false,
        );
        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.diff[0].after, "#Ansible: x\n* * * * * /bin/x\n");
    }

    #[test]
    fn cron_file_lines_carry_the_user_and_the_last_removal_deletes_it() {
        let args = a(
            json!({"name": "rot", "user": "root", "hour": "4", "job": "logrotate", "cron_file": "logs", "backup": true}),
        );
        assert_eq!(args.cron_path().as_deref(), Some("/etc/cron.d/logs"));
        let probe = Cron.probe(&args, &Context::default());
        assert!(probe.script.contains("tend_rec cron /etc/cron.d/logs"));
        let absent = ExecOutput {
            status: 0,
            stdout: b"@env\0umask=0022\0@cron\0path=/etc/cron.d/logs\0type=absent\0".to_vec(),
            stderr: vec![],
        };
        let found = Cron.parse(&args, &absent).unwrap();
        let plan = Cron.plan(&args, &found, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Create);
        assert_eq!(
            plan.diff[0].after,
            "#Ansible: rot\n* 4 * * * root logrotate\n"
        );
        assert_eq!(
            plan.diff[0].before_header.as_deref(),
            Some("/etc/cron.d/logs")
        );
        assert!(plan.apply[0].script.contains("chmod -- 0644"));
        assert!(plan.apply[0].script.contains("crontabXXXXXXXX"));
        assert_eq!(plan.values["cron_file"], "logs");
        let content = "#Ansible: rot\n* 4 * * * root logrotate\n";
        let present = ExecOutput {
            status: 0,
            stdout: format!(
                "@env\0umask=0022\0@cron\0path=/etc/cron.d/logs\0stat=81a4 0 0 {} 1 7 8 1 2 3 8 4096 0 0 root root\0content={}\0{content}\0",
                content.len(),
                content.len()
            )
            .into_bytes(),
            stderr: vec![],
        };
        let rm = a(json!({"name": "rot", "cron_file": "logs", "state": "absent"}));
        let found = Cron.parse(&rm, &present).unwrap();
        let plan = Cron.plan(&rm, &found, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Delete);
        assert_eq!(plan.apply[0].script, "rm -f -- /etc/cron.d/logs\n");
        assert_eq!(plan.diff[0].after_header.as_deref(), Some("/dev/null"));
        assert_eq!(plan.values["state"], "absent");
        // As Ansible: the returned `diff` is empty unless --diff asks for it.
        assert_eq!(plan.values["diff"], json!({}));
        let diff = Context {
            check_mode: false,
            diff: true,
        };
        let plan = Cron.plan(&rm, &found, &diff).unwrap();
        assert!(!plan.values.contains_key("diff"));
    }

    #[test]
    fn missing_crontab_and_unreadable_crontab_say_so() {
        let args = a(json!({"name": "x", "job": "y"}));
        let missing = ExecOutput {
            status: 0,
            stdout: b"missing\0".to_vec(),
            stderr: vec![],
        };
        let found = Cron.parse(&args, &missing).unwrap();
        let err = Cron.plan(&args, &found, &Context::default()).unwrap_err();
        assert!(err.to_string().contains("\"crontab\""), "{err}");
        let err = Cron
            .parse(&args, &user_out("", 2, "crontab: permission denied"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to read crontab: crontab: permission denied"
        );
        // rc 1 is "no crontab for USER": an empty crontab.
        let found = Cron
            .parse(&args, &user_out("", 1, "no crontab for root"))
            .unwrap();
        let plan = Cron.plan(&args, &found, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Create);
    }

    #[test]
    fn argument_rules() {
        let bad = |v: Value| {
            let a: Args = args::parse(&v).unwrap();
            Cron::validate(&a).unwrap_err().message
        };
        assert!(
            bad(json!({"name": "x", "job": "y", "special_time": "daily", "hour": "1"}))
                .starts_with("You cannot combine")
        );
        assert!(bad(json!({"name": "x", "job": "y", "cron_file": "f"})).contains("user=..."));
        assert!(bad(json!({"name": "x"})).contains("You must specify 'job'"));
        assert!(
            bad(json!({"name": "x", "job": "y", "insertafter": "A"})).contains("only with env=yes")
        );
        assert!(
            bad(json!({"name": "x", "job": "y", "cron_file": "/etc/crontab", "user": "r"}))
                .contains("/etc/crontab")
        );
        assert!(args::parse::<Args>(&json!({"name": "x", "special_time": "sometimes"})).is_err());
        // Templated values are accepted at compile time.
        let t: Args = args::check(
            &json!({"name": "x", "job": "y", "special_time": "daily", "hour": "{{ h }}"}),
        )
        .unwrap();
        assert!(Cron::validate(&t).is_ok());
    }
}
