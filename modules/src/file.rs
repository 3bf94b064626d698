//! The `file` module: manage files, directories and links and their attributes.
//!
//! Depending on `state`, the path is: an existing file whose `owner`, `group`
//! and `mode` are set (`file`, fails when it is missing); a directory created
//! with its parents (`directory`); a symbolic or hard link to `src` (`link`,
//! `hard`); an empty file created when missing, with its times updated
//! (`touch`); or removed, directories recursively (`absent`). Without `state`,
//! an existing path keeps its type and a missing one is an error. `recurse`
//! applies the attributes to everything below a directory; `follow` makes
//! attributes apply to what a symlink points to. One probe reads the path and
//! one script makes the change; check mode predicts it exactly and `--diff`
//! shows the state and attributes before and after. `touch` always reports
//! changed (its times change), unless `modification_time` and `access_time`
//! are `preserve`.
//!
//! `attributes` manages the file attribute flags with `lsattr`/`chattr`
//! (from e2fsprogs), as Ansible does: a file system that does not support a
//! flag fails the task with `chattr failed`; without `chattr` on the target
//! the flags are left alone.
//!
//! # Examples
//!
//! ```yaml
//! - name: Create the application's directories
//!   ansible.builtin.file:
//!     path: /srv/app/releases
//!     state: directory
//!     owner: app
//!     group: app
//!     mode: '0755'
//!
//! - name: Point the current release at the new one
//!   ansible.builtin.file:
//!     src: /srv/app/releases/42
//!     dest: /srv/app/current
//!     state: link
//!
//! - name: Restrict a key file
//!   ansible.builtin.file:
//!     path: /etc/ssl/private/app.key
//!     owner: root
//!     group: ssl-cert
//!     mode: u=rw,g=r,o=
//!
//! - name: Create a marker file without updating its times afterwards
//!   ansible.builtin.file:
//!     path: /var/lib/app/.provisioned
//!     state: touch
//!     modification_time: preserve
//!     access_time: preserve
//!
//! - name: Give a whole tree to the app user
//!   ansible.builtin.file:
//!     path: /srv/app/shared
//!     state: directory
//!     recurse: true
//!     owner: app
//!     group: app
//!
//! - name: Remove an old release
//!   ansible.builtin.file:
//!     path: /srv/app/releases/41
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `path` (str): The path managed (`state` `file`, `directory` or `absent`).
//! - `dest` (str): The path managed (`state` `link`, `hard` or `touch`).
//! - `src` (str): The link target (`state` `link` or `hard`).
//! - `state` (str): What the path is after the task: `file`, `directory`, `link`, `hard`, or `absent`.
//! - `mode` (str): Permissions after the task, in octal (`0755`).
//! - `owner` (str): Owner after the task.
//! - `group` (str): Group after the task.
//! - `uid` (int): Owner id after the task.
//! - `gid` (int): Group id after the task.
//! - `size` (int): Size in bytes after the task.
//!
//! # Implementation
//!
//! One probe reports the path (and, as needed, what a symlink resolves to,
//! the link source, the owner/group ids and, with `recurse`, every entry's
//! owner/group/mode below a directory); the plan is Ansible's `file.py`
//! decision logic; one apply script makes the change.

use crate::args::{ArgsError, de, is_templated};
use crate::choice;
use crate::fileops::{
    self, AttrPlan, CurAttrs, Env, Ids, Kind, ModeSpec, PATH_INFO_KEYS, PathInfo, Probe,
    ProbeOutput, StatOpts, WantAttrs, ancestors, basename, dirname, fail, join,
};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

choice! {
    /// `state` of `file`.
    pub enum State {
        /// A file that must exist already; only its attributes are managed.
        File = ["file"],
        /// A directory, created with its parents when missing.
        Directory = ["directory"],
        /// A symbolic link to `src`.
        Link = ["link"],
        /// A hard link to `src`.
        Hard = ["hard"],
        /// An empty file created if missing; times updated.
        Touch = ["touch"],
        /// Removed (directories recursively).
        Absent = ["absent"],
    }
}

impl State {
    fn of(s: &str) -> State {
        match s {
            "directory" => State::Directory,
            "link" => State::Link,
            "hard" => State::Hard,
            "absent" => State::Absent,
            _ => State::File,
        }
    }
}

/// Arguments of `file` (Ansible's names and aliases).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Path to the file being managed.
    #[serde(alias = "dest", alias = "name", deserialize_with = "de::string")]
    pub path: String,
    /// What the path should be.
    /// Default: the current type of an existing path, else `directory` with `recurse`, else `file`.
    #[serde(default)]
    pub state: Option<State>,
    /// Path to link to (`state=link`/`hard`); relative to the link's directory for `link`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub src: Option<String>,
    /// Set owner/group/mode on everything below a directory (`state=directory`).
    #[serde(default, deserialize_with = "de::bool")]
    pub recurse: bool,
    /// Create a symlink whose source does not exist, or replace a file (or
    /// empty directory) by a link.
    #[serde(default, deserialize_with = "de::bool")]
    pub force: bool,
    /// Follow symlinks: attributes go to what a link points to (default
    /// yes). With `recurse`, what links below `path` point to is changed
    /// too (and a linked directory is walked), as Ansible does: give
    /// `follow: false` to change the links themselves only.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub follow: Option<bool>,
    /// Permissions: octal (`0644`, `'644'`) or symbolic (`u=rw,g=r`).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Owner (name or uid).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group (name or gid).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// `preserve` or `now` (explicit times are not supported yet).
    /// Default: `now` for `state=touch`, else `preserve`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub modification_time: Option<String>,
    /// Format of `modification_time` (only the default is accepted). Default: `%Y%m%d%H%M.%S`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub modification_time_format: Option<String>,
    /// Like `modification_time`, for the access time.
    /// Default: `now` for `state=touch`, else `preserve`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub access_time: Option<String>,
    /// Format of `access_time` (only the default is accepted). Default: `%Y%m%d%H%M.%S`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub access_time_format: Option<String>,
    /// Accepted for compatibility; writes are never unsafe here.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub unsafe_writes: Option<bool>,
    /// File attributes as `lsattr` shows them (`A`, `+i`, `-a`): `=`
    /// (the default) sets exactly these flags, `+`/`-` adds or removes them;
    /// set with `chattr`. Empty leaves them alone.
    #[serde(default, alias = "attr", deserialize_with = "de::opt_string")]
    pub attributes: Option<String>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub selevel: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub serole: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub setype: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub seuser: Option<Value>,
    /// Internal (Ansible's diff machinery): only report whether the file
    /// looks binary (`appears_binary`), change nothing.
    #[serde(default, rename = "_diff_peek", deserialize_with = "de::opt_bool")]
    pub diff_peek: Option<bool>,
}

const DEFAULT_TIME_FORMAT: &str = "%Y%m%d%H%M.%S";

fn check_time(name: &str, v: &Option<String>, format: &Option<String>) -> Result<(), ArgsError> {
    let format = format.as_deref().unwrap_or(DEFAULT_TIME_FORMAT);
    match v.as_deref() {
        None | Some("preserve") | Some("now") => Ok(()),
        Some(s) if is_templated(s) || is_templated(format) => Ok(()),
        Some(s) => strptime(s, format)
            .map(|_| ())
            .map_err(|e| ArgsError::field(name, e)),
    }
}

/// A time to set (`modification_time`, `access_time`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum TimeSpec {
    /// Leave it.
    Preserve,
    /// The current time.
    Now,
    /// This local time on the target, `YYYY-MM-DD hh:mm:ss` (as `date -d` reads it).
    At(String),
}

/// Python's `time.strptime` for the directives Ansible's time formats use
/// (`%Y %y %m %d %H %M %S %%`), to `YYYY-MM-DD hh:mm:ss`.
fn strptime(text: &str, format: &str) -> Result<String, String> {
    let err = || {
        format!(
            "Error while obtaining timestamp for time {text} using format {format}: time data {text:?} does not match format {format:?}"
        )
    };
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec) = (1900i64, 1i64, 1i64, 0i64, 0i64, 0i64);
    let mut rest = text;
    let mut f = format.chars();
    while let Some(c) = f.next() {
        if c != '%' {
            rest = rest.strip_prefix(c).ok_or_else(err)?;
            continue;
        }
        let dir = f.next().ok_or_else(err)?;
        let width = match dir {
            'Y' => 4,
            'y' | 'm' | 'd' | 'H' | 'M' | 'S' => 2,
            '%' => {
                rest = rest.strip_prefix('%').ok_or_else(err)?;
                continue;
            }
            other => {
                return Err(format!(
                    "file: the time format directive %{other} is not supported yet"
                ));
            }
        };
        let n = rest
            .chars()
            .take(width)
            .take_while(char::is_ascii_digit)
            .count();
        if n == 0 {
            return Err(err());
        }
        let v: i64 = rest[..n].parse().map_err(|_| err())?;
        rest = &rest[n..];
        match dir {
            'Y' => y = v,
            'y' => y = if v < 69 { 2000 + v } else { 1900 + v },
            'm' => mo = v,
            'd' => d = v,
            'H' => h = v,
            'M' => mi = v,
            _ => sec = v,
        }
    }
    if !rest.is_empty()
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || sec > 61
    {
        return Err(err());
    }
    Ok(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{sec:02}"))
}

/// The `file` module.
pub struct File;

#[async_trait]
impl TypedModule for File {
    type Args = Args;
    const NAME: &'static str = "file";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported("file", [&None, &a.selevel, &a.serole, &a.setype, &a.seuser])?;
        check_time(
            "modification_time",
            &a.modification_time,
            &a.modification_time_format,
        )?;
        check_time("access_time", &a.access_time, &a.access_time_format)?;
        fileops::reject_preserve(&a.mode)?;
        if a.recurse && a.state.is_some_and(|s| s != State::Directory) {
            return Err(ArgsError::field(
                "recurse",
                "recurse option requires state to be 'directory'",
            ));
        }
        if a.src.is_some()
            && a.state
                .is_some_and(|s| s != State::Link && s != State::Hard)
        {
            return Err(ArgsError::field(
                "src",
                "src option requires state to be 'link' or 'hard'",
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
        if args.diff_peek.is_some() {
            let out = host.exec(diff_peek_script(&args.path)).await?;
            return Ok(Outcome::ok()
                .with("path", args.path.as_str())
                .with("appears_binary", out.stdout_text().trim() == "1"));
        }
        converge(self, &args, ctx, host).await
    }
}

/// Whether the first 8 KiB of a file hold a NUL byte (`1`), as Ansible's
/// diff peek tells binary files; an unreadable file is not binary.
fn diff_peek_script(path: &str) -> Exec {
    Exec::script(format!(
        "n=$(head -c 8192 -- {} 2>/dev/null | tr -d -c '\\000' | wc -c)\n\
         [ \"${{n:-0}}\" -gt 0 ] && echo 1 || echo 0\n",
        quote(path)
    ))
}

/// What the `file` probe found.
#[derive(Debug, Clone)]
pub struct FileState {
    /// The raw probe output.
    pub probe: ProbeOutput,
    /// The path (not following links); for `hard` into a directory, the file inside it.
    pub path: PathInfo,
    /// What a symlink at `path` resolves to (with `follow`).
    pub real: Option<PathInfo>,
    /// The link source (`link`: resolved against the link's directory, followed).
    pub src: Option<PathInfo>,
    /// For a directory `path`: whether it is empty.
    pub empty_dir: bool,
    /// For a directory to remove, with `--diff`: the directories and the
    /// files below it.
    pub walk: Option<(Vec<String>, Vec<String>)>,
    /// The umask, clock and connecting user.
    pub env: Env,
    /// Explicit `modification_time`/`access_time` as epochs on the target
    /// (`mtime`, `atime`).
    pub times: std::collections::BTreeMap<String, i64>,
    /// The target's clock (seconds since the epoch), probed in diff mode
    /// for times set to now.
    pub now: Option<f64>,
}

impl Args {
    /// `follow`, whose default is yes.
    pub fn follow(&self) -> bool {
        self.follow.unwrap_or(true)
    }
}

fn want(args: &Args) -> WantAttrs {
    WantAttrs {
        mode: args.mode.clone(),
        owner: args.owner.clone(),
        group: args.group.clone(),
    }
}

/// Modification/access times to set: `(mtime, atime)` (`touch` defaults to `now`).
fn time_specs(args: &Args, state: State) -> (TimeSpec, TimeSpec) {
    let spec = |v: &Option<String>, f: &Option<String>| match v.as_deref() {
        None if state == State::Touch => TimeSpec::Now,
        None | Some("preserve") => TimeSpec::Preserve,
        Some("now") => TimeSpec::Now,
        Some(s) => strptime(s, f.as_deref().unwrap_or(DEFAULT_TIME_FORMAT))
            .map(TimeSpec::At)
            .unwrap_or(TimeSpec::Preserve),
    };
    (
        spec(&args.modification_time, &args.modification_time_format),
        spec(&args.access_time, &args.access_time_format),
    )
}

/// Whether times are set to `now`: `(mtime, atime)`.
fn times(args: &Args, state: State) -> (bool, bool) {
    let (m, a) = time_specs(args, state);
    (m == TimeSpec::Now, a == TimeSpec::Now)
}

/// Sets times to now. `report` (diff mode): the script prints the times
/// before and the clock after ([`TIMES`]), for the diff Ansible shows.
fn touch_cmd(word: &str, (m, a): (bool, bool), report: bool) -> String {
    let touch = match (m, a) {
        (true, true) => format!("touch -c -- {word} || exit 1\n"),
        (true, false) => format!("touch -c -m -- {word} || exit 1\n"),
        (false, true) => format!("touch -c -a -- {word} || exit 1\n"),
        (false, false) => return String::new(),
    };
    if !report {
        return touch;
    }
    format!(
        "_tb=$(stat -c '%.9X %.9Y' -- {word}) || exit 1\n{touch}printf '{TIMES}%s %s\\n' \"$_tb\" \"$(date +%s.%N)\"\n"
    )
}

/// Prefix of the line a touch prints: atime and mtime before, the clock after.
const TIMES: &str = "__tend_times ";

/// Puts the times a touch printed into the diff: Ansible's `atime`/`mtime`
/// before and after, for the times set to now.
fn record_times(out: &ExecOutput, now_times: (bool, bool), plan: &mut Plan) {
    let Some(line) = out
        .stdout_text()
        .lines()
        .find_map(|l| l.strip_prefix(TIMES).map(str::to_string))
    else {
        return;
    };
    let f: Vec<f64> = line.split(' ').filter_map(|w| w.parse().ok()).collect();
    let [atime, mtime, now] = f[..] else {
        return;
    };
    let Some(d) = plan.diff.last_mut() else {
        return;
    };
    let Some(dicts) = d.dicts.take() else {
        return;
    };
    let (mut before, mut after) = *dicts;
    if let (Value::Object(b), Value::Object(a)) = (&mut before, &mut after) {
        for (key, set, cur) in [("mtime", now_times.0, mtime), ("atime", now_times.1, atime)] {
            if set {
                b.insert(key.into(), cur.into());
                a.insert(key.into(), now.into());
            }
        }
    }
    *d = Diff::of_dicts(before, after);
}

/// Ansible's `update_timestamp_for_file` for explicit times: the epochs the
/// probe computed (record `times`) against the object's. Whether they
/// change, the script, and the diff lines.
fn explicit_times(
    st: &FileState,
    target: &PathInfo,
    word: &str,
    now_times: (bool, bool),
) -> (bool, String, DiffPairs) {
    let mut script = String::new();
    let mut diff: DiffPairs = (Vec::new(), Vec::new());
    // Times set to now: from what they are to the clock (a file created
    // first has the clock's times before as well).
    if let Some(now) = st.now {
        for (key, set, cur) in [
            ("mtime", now_times.0, target.mtime),
            ("atime", now_times.1, target.atime),
        ] {
            if set && now != cur {
                diff.0.push((key, format!("{cur}")));
                diff.1.push((key, format!("{now}")));
            }
        }
    }
    for (key, flag, cur) in [("mtime", "-m", target.mtime), ("atime", "-a", target.atime)] {
        let Some(want) = st.times.get(key) else {
            continue;
        };
        if (*want as f64 - cur).abs() < 1e-9 {
            continue;
        }
        script.push_str(&format!("touch -c {flag} -d @{want} -- {word} || exit 1\n"));
        diff.0.push((key, format!("{cur}")));
        diff.1.push((key, format!("{want}")));
    }
    (!script.is_empty(), script, diff)
}

impl Converge for File {
    type Args = Args;
    type State = FileState;

    fn applied(&self, args: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        let state = args.state.unwrap_or(State::File);
        record_times(out, times(args, state), plan);
        Ok(())
    }

    fn settles(&self, args: &Args, plan: &Plan) -> bool {
        // Times set to `now` (`state: touch`) change on every run.
        let state = args.state.unwrap_or(State::File);
        let (m, a) = times(args, state);
        !m && !a
            && matches!(
                plan.action,
                Action::Create | Action::Update | Action::Delete
            )
    }

    fn probe(&self, args: &Args, ctx: &Context) -> Exec {
        let mut p = Probe::new();
        let listing = args.recurse;
        p.set("p", &args.path);
        if args.state == Some(State::Absent) && ctx.diff {
            // The diff of removing a directory lists what it holds
            // (`path_content`): `d=` directories and `f=` everything else.
            p.raw(
                "if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then printf '@walk\\0'\n\
                 find \"$p\" -exec sh -c 'for f; do [ \"$f\" = \"$0\" ] && continue\n\
                 if [ -d \"$f\" ] && [ ! -L \"$f\" ]; then printf \"d=%s\\0\" \"$f\"; else printf \"f=%s\\0\" \"$f\"; fi; done' \"$p\" {} +\nfi",
            );
        }
        if args.state == Some(State::Hard)
            && let Some(src) = &args.src
        {
            // Ansible puts a hard link made "into" a directory inside it.
            p.raw(&format!(
                "if [ -d \"$p\" ]; then p={}; fi",
                quote(&join(&args.path, basename(src)))
            ));
        }
        let opts = StatOpts {
            listing,
            listing_follow: args.follow(),
            attrs: args.attributes.is_some(),
            ..StatOpts::default()
        };
        p.path_word("path", "\"$p\"", &opts);
        if args.follow() {
            p.raw("if [ -L \"$p\" ]; then r=$(readlink -f -- \"$p\"; echo x); r=${r%??}");
            p.path_word("real", "\"$r\"", &opts);
            p.raw("fi");
        }
        // Only a link may replace an empty directory: the shell's globs tell
        // (no process). Reading a directory moves its access time, which
        // other states leave alone.
        if args.state == Some(State::Link) || (args.state.is_none() && args.src.is_some()) {
            p.raw(
                "if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then e=1\n\
                 for f in \"$p\"/* \"$p\"/.[!.]* \"$p\"/..?*; do\n\
                 \x20 if [ -e \"$f\" ] || [ -L \"$f\" ]; then e=; break; fi\n\
                 done; [ -n \"$e\" ] && printf '@empty\\0'; fi",
            );
        }
        match (args.state, &args.src) {
            (Some(State::Link) | None, Some(src)) => {
                let in_dir = join(&args.path, src);
                let beside = join(&dirname(&args.path), src);
                p.raw(&format!(
                    "if [ ! -L \"$p\" ] && [ -d \"$p\" ]; then a={}; else a={}; fi",
                    quote(&in_dir),
                    quote(&beside)
                ));
                p.path_word(
                    "src",
                    "\"$a\"",
                    &StatOpts {
                        follow: true,
                        ..StatOpts::default()
                    },
                );
            }
            (Some(State::Hard), Some(src)) => {
                p.path(
                    "src",
                    src,
                    &StatOpts {
                        follow: true,
                        attrs: args.attributes.is_some(),
                        ..StatOpts::default()
                    },
                );
            }
            _ => {}
        }
        p.ids(args.owner.as_deref(), args.group.as_deref());
        let (m, a) = time_specs(args, args.state.unwrap_or(State::File));
        if ctx.diff && (m == TimeSpec::Now || a == TimeSpec::Now) {
            // The diff of times set to now shows the target's clock.
            p.raw("printf '@now\\0t=%s\\0' \"$(date +%s.%N)\"");
        }
        if matches!((&m, &a), (TimeSpec::At(_), _) | (_, TimeSpec::At(_))) {
            p.raw("printf '@times\\0'");
            for (key, spec) in [("mtime", &m), ("atime", &a)] {
                if let TimeSpec::At(t) = spec {
                    p.raw(&format!(
                        "_t=$(date -d {} +%s 2>/dev/null) && printf '{key}=%s\\0' \"$_t\"",
                        quote(t)
                    ));
                }
            }
        }
        p.finish()
    }

    fn parse(&self, _args: &Args, out: &ExecOutput) -> Result<FileState, ModuleError> {
        let probe = ProbeOutput::parse(out)?;
        let path = probe.path("path")?;
        let real = if probe.records.contains_key("real") {
            Some(probe.path("real")?)
        } else {
            None
        };
        let src = if probe.records.contains_key("src") {
            Some(probe.path("src")?)
        } else {
            None
        };
        let empty_dir = probe.records.contains_key("empty");
        let walk = probe.records.get("walk").map(|r| {
            let of = |key: &str| -> Vec<String> {
                r.extra
                    .iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    .collect()
            };
            (of("d"), of("f"))
        });
        let env = probe.env()?;
        let now = probe
            .records
            .get("now")
            .and_then(|r| r.get("t"))
            .and_then(|t| t.trim().parse::<f64>().ok());
        let times = probe
            .records
            .get("times")
            .map(|r| {
                r.fields
                    .iter()
                    .filter_map(|(k, v)| {
                        let n = String::from_utf8_lossy(v).trim().parse::<i64>().ok()?;
                        Some((k.clone(), n))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(FileState {
            probe,
            path,
            real,
            src,
            empty_dir,
            walk,
            env,
            times,
            now,
        })
    }

    fn plan(&self, args: &Args, st: &FileState, ctx: &Context) -> Result<Plan, ModuleError> {
        let warnings = if ctx.check_mode {
            lookup_warnings(args, &st.probe)
        } else {
            Vec::new()
        };
        let mut planned = plan_state(args, st);
        match &mut planned {
            Ok(plan) if ctx.check_mode && plan.action.changes() => {
                check_mode_result(args, st, plan);
            }
            // Ansible's failures go through `add_path_info` as well.
            Err(ModuleError::Failed { values, .. }) => current_path_info(st, values),
            _ => {}
        }
        if warnings.is_empty() {
            return planned;
        }
        match planned {
            Ok(plan) => Ok(plan.with("warnings", warnings)),
            Err(e) => Err(e.with("warnings", warnings)),
        }
    }
}

/// What Ansible's file module returns for a change it only predicts: the
/// path info of the path as it is now (the change is skipped), and for a
/// `touch` of a missing file nothing but `dest` (it returns before
/// computing a diff).
fn check_mode_result(args: &Args, st: &FileState, plan: &mut Plan) {
    if args.state == Some(State::Touch) && !st.path.exists() {
        plan.values.retain(|k, _| k == "dest");
        plan.diff.clear();
        return;
    }
    // The path info planned is what would be: Ansible's is what is.
    for key in PATH_INFO_KEYS {
        plan.values.remove(key);
    }
    current_path_info(st, &mut plan.values);
}

/// [`PathInfo::add_path_info`] of the path a result names (`path`, else
/// `dest`) as the probe found it; nothing for a result that names none.
fn current_path_info(st: &FileState, values: &mut serde_json::Map<String, Value>) {
    let Some(named) = values
        .get("path")
        .or_else(|| values.get("dest"))
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let current = match &st.real {
        Some(real) if named == real.path => real,
        _ => &st.path,
    };
    current.add_path_info(values);
}

/// Ansible's check-mode warnings for an `owner` or `group` that does not
/// exist (yet: an earlier task would create it in a real run).
fn lookup_warnings(args: &Args, probe: &ProbeOutput) -> Vec<String> {
    let mut out = Vec::new();
    let found = |kind: &str, spec: &str| {
        probe
            .records
            .get(&format!("{kind}:{spec}"))
            .is_some_and(|r| {
                r.get("name").is_some_and(|n| !n.is_empty())
                    || (spec.parse::<u32>().is_err() && r.get("id").is_some())
            })
    };
    for (kind, spec, by_id) in [("user", &args.owner, "uid"), ("group", &args.group, "gid")] {
        let Some(spec) = spec else {
            continue;
        };
        if found(kind, spec) {
            continue;
        }
        out.push(if spec.parse::<u32>().is_ok() {
            format!("failed to look up {kind} with {by_id} {spec}. Create {kind} up to this point in real play")
        } else {
            format!("failed to look up {kind} {spec}. Create {kind} up to this point in real play")
        });
    }
    out
}

fn plan_state(args: &Args, st: &FileState) -> Result<Plan, ModuleError> {
    {
        let path = st.path.path.clone();
        let prev = st.path.state();
        let state = match args.state {
            Some(s) => s,
            None if st.path.exists() => State::of(prev),
            None if args.recurse => State::Directory,
            None => State::File,
        };
        if args.recurse && state != State::Directory {
            return Err(fail(
                "recurse option requires state to be 'directory'",
                &[("path", &path)],
            ));
        }
        if args.src.is_some() && !matches!(state, State::Link | State::Hard) {
            return Err(fail(
                "src option requires state to be 'link' or 'hard'",
                &[("path", &path)],
            ));
        }
        let ids = if state == State::Absent {
            Ids::default()
        } else {
            Ids::resolve(&st.probe, &want(args), &path)?
        };
        match state {
            State::Absent => plan_absent(&st.path, st.walk.as_ref()),
            State::File => plan_file(args, st, &ids),
            State::Directory => plan_directory(args, st, &ids),
            State::Touch => plan_touch(args, st, &ids),
            State::Link => plan_link(args, st, &ids),
            State::Hard => plan_hard(args, st, &ids),
        }
    }
}

/// Diff lines: old side, new side.
type DiffPairs = (Vec<(&'static str, String)>, Vec<(&'static str, String)>);

/// Ansible's `initial_diff`: `path`, plus `state` when it changes.
fn initial_diff(path: &str, state: &str, prev: &str) -> DiffPairs {
    let mut before = vec![("path", path.to_string())];
    let mut after = vec![("path", path.to_string())];
    if prev != state {
        before.push(("state", prev.to_string()));
        after.push(("state", state.to_string()));
    }
    (before, after)
}

fn extend_diff(diff: &mut DiffPairs, more: DiffPairs) {
    diff.0.extend(more.0);
    diff.1.extend(more.1);
}

/// A plan with Ansible's path info (`state`, `mode`, owner...) as values.
fn finish(
    action: Action,
    script: String,
    key: &str,
    path: &str,
    mut diff: DiffPairs,
    attrs: Option<(&AttrPlan, &str, u64)>,
) -> Plan {
    let mut plan = if action.changes() {
        Plan::change(action, vec![Exec::script(script)])
    } else {
        Plan::noop()
    };
    plan.values.insert(key.to_string(), path.into());
    match attrs {
        Some((a, state, size)) => {
            a.values(&mut plan.values);
            plan.values.insert("state".into(), state.into());
            plan.values.insert("size".into(), size.into());
            diff.0.extend(a.before.iter().cloned());
            diff.1.extend(a.after.iter().cloned());
        }
        None => {
            plan.values.insert("state".into(), "absent".into());
        }
    }
    // Ansible's file module returns its diff whether or not anything changed.
    plan.diff.push(Diff::attributes(path, &diff.0, &diff.1));
    plan
}

fn plan_absent(
    p: &PathInfo,
    walk: Option<&(Vec<String>, Vec<String>)>,
) -> Result<Plan, ModuleError> {
    let prev = p.state();
    if !p.exists() {
        return Ok(finish(
            Action::NoOp,
            String::new(),
            "path",
            &p.path,
            (vec![], vec![]),
            None,
        ));
    }
    let q = quote(&p.path);
    let script = if p.kind() == Kind::Directory {
        format!("rm -rf -- {q} || exit 1\n")
    } else {
        format!("rm -f -- {q} || exit 1\n")
    };
    let diff = initial_diff(&p.path, "absent", prev);
    let mut plan = finish(Action::Delete, script, "path", &p.path, diff, None);
    // Ansible's `path_content` of a directory's removal.
    if let (Some((dirs, files)), Some(d)) = (walk, plan.diff.last_mut())
        && let Some(dicts) = d.dicts.take()
    {
        let (mut before, after) = *dicts;
        if let Value::Object(m) = &mut before {
            m.insert(
                "path_content".into(),
                serde_json::json!({"directories": dirs, "files": files}),
            );
        }
        *d = Diff::of_dicts(before, after);
    }
    Ok(plan)
}

fn map_err(path: &str) -> impl Fn(ModuleError) -> ModuleError + '_ {
    move |e| match e {
        ModuleError::Failed { msg, mut values } => {
            values.entry("path").or_insert_with(|| path.into());
            ModuleError::Failed { msg, values }
        }
        other => other,
    }
}

fn plan_file(args: &Args, st: &FileState, ids: &Ids) -> Result<Plan, ModuleError> {
    let mut target = &st.path;
    if args.follow()
        && target.kind() == Kind::Link
        && let Some(real) = &st.real
    {
        target = real;
    }
    let path = target.path.clone();
    let prev = target.state();
    if prev != "file" && prev != "hard" {
        return Err(fail(
            format!("file ({path}) is {prev}, cannot continue"),
            &[("path", &path), ("state", prev)],
        ));
    }
    let mut attrs = fileops::plan_attrs(&CurAttrs::of(target), &want(args), ids, st.env.umask)
        .map_err(map_err(&path))?;
    attrs.set_attributes(target, args.attributes.as_deref());
    let t = times(args, State::File);
    let q = quote(&path);
    let mut script = attrs.script(&q, false);
    script.push_str(&touch_cmd(&q, t, st.now.is_some()));
    let (tchanged, tscript, tdiff) = explicit_times(st, target, &q, t);
    script.push_str(&tscript);
    let changed = attrs.changes() || t.0 || t.1 || tchanged;
    let action = if changed {
        Action::Update
    } else {
        Action::NoOp
    };
    let mut diff = initial_diff(&path, "file", prev);
    extend_diff(&mut diff, tdiff);
    Ok(finish(
        action,
        script,
        "path",
        &path,
        diff,
        Some((&attrs, prev, target.size)),
    ))
}

fn plan_directory(args: &Args, st: &FileState, ids: &Ids) -> Result<Plan, ModuleError> {
    let mut target = &st.path;
    if args.follow()
        && target.kind() == Kind::Link
        && let Some(real) = &st.real
    {
        target = real;
    }
    let path = target.path.clone();
    let prev = target.state();
    let diff = initial_diff(&path, "directory", prev);
    let t = times(args, State::Directory);
    let q = quote(&path);
    if prev == "absent" {
        let new = st.env.new_attrs(true);
        let attrs =
            fileops::plan_attrs(&new, &want(args), ids, st.env.umask).map_err(map_err(&path))?;
        let mode = args.mode.as_ref().map(|_| attrs.mode);
        let uid = ids.user.as_ref().map(|u| u.0);
        let gid = ids.group.as_ref().map(|g| g.0);
        let mut script = fileops::mkdirs_script(&ancestors(&path), mode, uid, gid);
        script.push_str(&touch_cmd(&q, t, st.now.is_some()));
        let mut chattr = AttrPlan::default();
        chattr.set_attributes(target, args.attributes.as_deref());
        script.push_str(&chattr.script(&q, false));
        // Created: report the new directory's attributes, diff only the state.
        let shown = attrs.without_diff();
        return Ok(finish(
            Action::Create,
            script,
            "path",
            &path,
            diff,
            Some((&shown, "directory", 4096)),
        ));
    }
    if prev != "directory" {
        return Err(fail(
            format!("{path} already exists as a {prev}"),
            &[("path", &path)],
        ));
    }
    let w = want(args);
    let mut attrs = fileops::plan_attrs(&CurAttrs::of(target), &w, ids, st.env.umask)
        .map_err(map_err(&path))?;
    attrs.set_attributes(target, args.attributes.as_deref());
    let mut script = attrs.script(&q, false);
    script.push_str(&touch_cmd(&q, t, st.now.is_some()));
    let (tchanged, tscript, tdiff) = explicit_times(st, target, &q, t);
    script.push_str(&tscript);
    let mut diff = diff;
    extend_diff(&mut diff, tdiff);
    let mut changed = attrs.changes() || t.0 || t.1 || tchanged;
    if args.recurse {
        let (rchanged, rscript) =
            plan_recurse(&path, target, &w, ids, st.env.umask, args.follow())?;
        changed |= rchanged;
        if rchanged {
            script.push_str(&rscript);
        }
    }
    let action = if changed {
        Action::Update
    } else {
        Action::NoOp
    };
    Ok(finish(
        action,
        script,
        "path",
        &path,
        diff,
        Some((&attrs, "directory", target.size)),
    ))
}

/// Whether anything below a directory differs, and the script that fixes it
/// (`chown -h` on everything, `chmod` on everything but symlinks).
fn plan_recurse(
    path: &str,
    dir: &PathInfo,
    want: &WantAttrs,
    ids: &Ids,
    umask: u32,
    follow: bool,
) -> Result<(bool, String), ModuleError> {
    let mut changed = false;
    for e in &dir.listing {
        if ids.user.as_ref().is_some_and(|u| u.0 != e.uid)
            || ids.group.as_ref().is_some_and(|g| g.0 != e.gid)
        {
            changed = true;
        }
        if e.kind != Kind::Link
            && let Some(spec) = &want.mode
            && let Some(new) = spec
                .resolve(e.mode, e.kind == Kind::Directory, umask)
                .map_err(ModuleError::failed)?
            && new != e.mode
        {
            changed = true;
        }
    }
    let q = quote(&fileops::dash_safe(path)).into_owned();
    let mut s = String::new();
    // The links themselves; with `follow`, what they point to as well (and
    // what is below those).
    let l = if follow { "-L " } else { "" };
    let mut passes = vec![("", "-h ", "")];
    if follow {
        passes.push(("-L ", "", "! -type l "));
    }
    for (find, h, skip) in passes {
        let (cmd, spec) = match (&ids.user, &ids.group) {
            (Some(u), Some(g)) => ("chown", format!("{}:{}", u.0, g.0)),
            (Some(u), None) => ("chown", u.0.to_string()),
            (None, Some(g)) => ("chgrp", g.0.to_string()),
            (None, None) => break,
        };
        s.push_str(&format!(
            "find {find}{q} {skip}-exec {cmd} {h}-- {spec} {{}} + || exit 1\n"
        ));
    }
    match &want.mode {
        Some(ModeSpec::Octal(m)) => {
            s.push_str(&format!(
                "find {l}{q} ! -type l -exec chmod -- {m:04o} {{}} + || exit 1\n"
            ));
        }
        Some(ModeSpec::Symbolic(sym)) => {
            s.push_str(&format!(
                "find {l}{q} ! -type l -exec chmod -- {} {{}} + || exit 1\n",
                quote(sym)
            ));
        }
        _ => {}
    }
    Ok((changed, s))
}

fn plan_touch(args: &Args, st: &FileState, ids: &Ids) -> Result<Plan, ModuleError> {
    let p = &st.path;
    let prev = p.state();
    let mut target = p;
    if args.follow()
        && p.kind() == Kind::Link
        && let Some(real) = &st.real
        && real.exists()
    {
        target = real;
    }
    let path = p.path.clone();
    let q = quote(&target.path);
    let t = times(args, State::Touch);
    let diff = initial_diff(&path, "touch", prev);
    if !p.exists() {
        let mut attrs =
            fileops::plan_attrs(&st.env.new_attrs(false), &want(args), ids, st.env.umask)
                .map_err(map_err(&path))?;
        attrs.set_attributes(p, args.attributes.as_deref());
        // A file made here is removed again when its attributes cannot be set.
        let mut script = format!("touch -- {q} || exit 1\n");
        if st.now.is_some() {
            script.push_str(&touch_cmd(&q, t, true));
        }
        let set = attrs.script(&q, false);
        if !set.is_empty() {
            script.push_str(&format!("(\n{set}) || {{ rm -f -- {q}; exit 1; }}\n"));
        }
        let shown = attrs.without_diff();
        return Ok(finish(
            Action::Create,
            script,
            "dest",
            &path,
            diff,
            Some((&shown, "file", 0)),
        ));
    }
    let mut attrs = fileops::plan_attrs(&CurAttrs::of(target), &want(args), ids, st.env.umask)
        .map_err(map_err(&path))?;
    attrs.set_attributes(target, args.attributes.as_deref());
    let mut script = attrs.script(&q, false);
    script.push_str(&touch_cmd(&q, t, st.now.is_some()));
    let (tchanged, tscript, tdiff) = explicit_times(st, target, &q, t);
    script.push_str(&tscript);
    let mut diff = diff;
    extend_diff(&mut diff, tdiff);
    let changed = attrs.changes() || t.0 || t.1 || tchanged;
    let action = if changed {
        Action::Update
    } else {
        Action::NoOp
    };
    Ok(finish(
        action,
        script,
        "dest",
        &path,
        diff,
        Some((&attrs, target.state(), target.size)),
    ))
}

/// Replaces (or creates) `path` by the link made by `ln_args` (e.g. `-s -- SRC`),
/// atomically through a temp name when something is there already.
fn link_script(path: &str, prev: &str, ln: &str) -> String {
    let q = quote(path);
    if prev == "absent" {
        return format!("ln {ln} {q} || exit 1\n");
    }
    let tmp = quote(&fileops::join(
        &dirname(path),
        &format!(".tend.{}.tmp", basename(path)),
    ))
    .into_owned();
    let mut s = String::new();
    if prev == "directory" {
        s.push_str(&format!("rmdir -- {q} || exit 1\n"));
    }
    s.push_str(&format!(
        "rm -f -- {tmp}\nln {ln} {tmp} || exit 1\nmv -fT -- {tmp} {q} 2>/dev/null || mv -f -- {tmp} {q} || {{ rm -f -- {tmp}; exit 1; }}\n"
    ));
    s
}

fn plan_link(args: &Args, st: &FileState, ids: &Ids) -> Result<Plan, ModuleError> {
    let p = &st.path;
    let path = p.path.clone();
    let prev = p.state();
    let follow_existing = args.src.is_none() && args.follow() && p.kind() == Kind::Link;
    // Without `src`, an existing link is kept as it is (with `follow`, its
    // target stands for `src`); anything else needs one.
    let src = match (&args.src, &p.target) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(t)) if follow_existing && st.real.as_ref().is_some_and(PathInfo::exists) => {
            Some(t.clone())
        }
        _ => None,
    };
    let src_info = st.src.as_ref();
    let src_exists = follow_existing || src_info.is_some_and(PathInfo::exists);
    if let Some(src) = &src
        && !args.force
        && !src_exists
    {
        let absrc = src_info
            .map(|s| s.path.clone())
            .unwrap_or_else(|| src.clone());
        return Err(fail(
            format!(
                "src file does not exist, use \"force=yes\" if you really want to create the link: {absrc}"
            ),
            &[("path", &path), ("src", src)],
        ));
    }
    match prev {
        "directory" if !args.force => {
            return Err(fail(
                format!("refusing to convert from directory to symlink for {path}"),
                &[("path", &path)],
            ));
        }
        "directory" if !st.empty_dir => {
            return Err(fail(
                format!("the directory {path} is not empty, refusing to convert it"),
                &[("path", &path)],
            ));
        }
        "file" | "hard" if !args.force => {
            return Err(fail(
                format!("refusing to convert from {prev} to symlink for {path}"),
                &[("path", &path)],
            ));
        }
        _ => {}
    }
    let (mut before, mut after) = initial_diff(&path, "link", prev);
    let mut changed = prev != "link";
    if changed && src.is_none() {
        return Err(fail(
            "src is required for creating new symlinks",
            &[("path", &path)],
        ));
    }
    if let Some(src) = &src
        && prev == "link"
        && p.target.as_deref() != Some(src.as_str())
    {
        before.push(("src", p.target.clone().unwrap_or_default()));
        after.push(("src", src.clone()));
        changed = true;
    }
    let mut script = match &src {
        Some(src) if changed => link_script(&path, prev, &format!("-s -- {}", quote(src))),
        _ => String::new(),
    };
    let w = want(args);
    let has_attrs = w.mode.is_some() || w.owner.is_some() || w.group.is_some();
    // The link's own attributes (reported, and changed with follow=no).
    let link_cur = if prev == "link" {
        CurAttrs {
            mode: 0o777,
            ..CurAttrs::of(p)
        }
    } else {
        CurAttrs {
            mode: 0o777,
            ..st.env.new_attrs(false)
        }
    };
    let mut link_attrs = fileops::plan_attrs(
        &link_cur,
        &WantAttrs {
            mode: None,
            ..w.clone()
        },
        ids,
        st.env.umask,
    )
    .map_err(map_err(&path))?;
    let mut plan_msg = None;
    if has_attrs {
        if args.follow() {
            // Attributes go to the link's target, when there is one.
            let target = if follow_existing {
                st.real.as_ref()
            } else {
                src_info
            };
            match target.filter(|t| t.exists()) {
                Some(t) => {
                    let a = fileops::plan_attrs(&CurAttrs::of(t), &w, ids, st.env.umask)
                        .map_err(map_err(&path))?;
                    script.push_str(&a.script(&quote(&t.path), false));
                    changed |= a.changes();
                    before.extend(a.before.iter().cloned());
                    after.extend(a.after.iter().cloned());
                }
                None => {
                    plan_msg = Some(
                        "Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this."
                            .to_string(),
                    );
                }
            }
            link_attrs = fileops::plan_attrs(&link_cur, &WantAttrs::default(), &Ids::default(), 0)?;
        } else {
            script.push_str(&link_attrs.script(&quote(&path), true));
            changed |= link_attrs.changes();
        }
    }
    let mut plan = finish(
        link_action(changed, prev),
        script,
        "dest",
        &path,
        (before, after),
        Some((
            &link_attrs,
            "link",
            src.as_deref().or(p.target.as_deref()).map_or(0, str::len) as u64,
        )),
    );
    plan.values
        .insert("src".into(), src.map_or(Value::Null, Value::from));
    plan.msg = plan_msg;
    Ok(plan)
}

/// A link's plan: created where nothing was, else updated.
fn link_action(changed: bool, prev: &str) -> Action {
    match (changed, prev) {
        (false, _) => Action::NoOp,
        (true, "absent") => Action::Create,
        _ => Action::Update,
    }
}

fn plan_hard(args: &Args, st: &FileState, ids: &Ids) -> Result<Plan, ModuleError> {
    let p = &st.path;
    let path = p.path.clone();
    let prev = p.state();
    // An existing hard link needs no `src` (nothing to compare it with).
    let src = match (&args.src, prev) {
        (Some(src), _) => Some(src.clone()),
        (None, "hard") => None,
        (None, _) => return Err(fail("src is required for creating new hardlinks", &[])),
    };
    let s = match (&src, st.src.as_ref()) {
        (None, _) => p,
        (Some(_), Some(s)) if s.exists() => s,
        (Some(src), _) => {
            return Err(fail("src does not exist", &[("dest", &path), ("src", src)]));
        }
    };
    let (mut before, mut after) = initial_diff(&path, "hard", prev);
    let same_inode = p.exists() && p.inode == s.inode && p.dev == s.dev;
    let src_text = src.as_deref().unwrap_or_default();
    let changed = match prev {
        "absent" => true,
        "link" => {
            let differs = p.target.as_deref() != src.as_deref();
            if differs {
                before.push(("src", p.target.clone().unwrap_or_default()));
                after.push(("src", src.clone().unwrap_or_default()));
            }
            differs
        }
        "hard" if same_inode || src.is_none() => false,
        "hard" if !args.force => {
            return Err(fail(
                "Cannot link, different hard link exists at destination",
                &[("dest", &path), ("src", src_text)],
            ));
        }
        "file" if !args.force => {
            return Err(fail(
                "Cannot link, file exists at destination",
                &[("dest", &path), ("src", src_text)],
            ));
        }
        "directory" => {
            return Err(fail(
                "Cannot link: different hard link exists at destination",
                &[("dest", &path), ("src", src_text)],
            ));
        }
        _ => true,
    };
    let mut script = if changed {
        link_script(&path, prev, &format!("-- {}", quote(src_text)))
    } else {
        String::new()
    };
    // After linking, path and src are one inode: compare against src's attributes.
    let mut attrs = fileops::plan_attrs(&CurAttrs::of(s), &want(args), ids, st.env.umask)
        .map_err(map_err(&path))?;
    attrs.set_attributes(s, args.attributes.as_deref());
    script.push_str(&attrs.script(&quote(&path), false));
    let changed = changed || attrs.changes();
    let mut plan = finish(
        link_action(changed, prev),
        script,
        "dest",
        &path,
        (before, after),
        Some((&attrs, "hard", s.size)),
    );
    plan.values
        .insert("src".into(), src.map_or(Value::Null, Value::from));
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn parse(v: Value) -> Result<Args, ArgsError> {
        let a: Args = args::parse(&v)?;
        File::validate(&a)?;
        Ok(a)
    }

    #[test]
    fn arguments() {
        let a = parse(json!({"dest": "/x", "mode": 420, "state": "directory", "recurse": "yes"}))
            .unwrap();
        assert_eq!(a.path, "/x");
        assert_eq!(a.mode, Some(ModeSpec::Octal(0o644)));
        assert!(a.follow());
        let e = parse(json!({"path": "/x", "selevel": "s0"})).unwrap_err();
        assert!(e.message.contains("not supported yet"), "{}", e.message);
        assert_eq!(
            parse(json!({"path": "/x", "attr": "+i"}))
                .unwrap()
                .attributes
                .as_deref(),
            Some("+i")
        );
        let e = parse(json!({"path": "/x", "modification_time": "2022"})).unwrap_err();
        assert!(e.message.contains("does not match format"), "{}", e.message);
        assert_eq!(
            strptime("202202081414.00", DEFAULT_TIME_FORMAT).unwrap(),
            "2022-02-08 14:14:00"
        );
        assert_eq!(
            strptime("08/02/22 1:02", "%d/%m/%y %H:%M").unwrap(),
            "2022-02-08 01:02:00"
        );
        let e = parse(json!({"path": "/x", "state": "file", "src": "/y"})).unwrap_err();
        assert_eq!(
            e.message,
            "src option requires state to be 'link' or 'hard'"
        );
        assert!(parse(json!({"path": "/x", "modification_time": "202401010000.00"})).is_ok());
        assert!(parse(json!({"path": "/x", "bogus": 1})).is_err());
        assert!(
            args::check::<Args>(&json!({"path": "{{ p }}", "mode": "{{ m }}", "state": "{{ s }}"}))
                .is_ok()
        );
    }

    fn state(out: &[u8]) -> FileState {
        let mut stdout = b"@env\0umask=0022\0pid=7\0date=d\0id=uid=0(root) gid=0(root)\0".to_vec();
        stdout.extend_from_slice(out);
        File.parse(
            &parse(json!({"path": "/x"})).unwrap(),
            &ExecOutput {
                status: 0,
                stdout,
                stderr: vec![],
            },
        )
        .unwrap()
    }

    const FILE_644: &[u8] = b"@path\0path=/x\0stat=81a4 0 0 5 1 7 8 1 2 3 8 512 0 0 root root\0";

    #[test]
    fn file_state_plans() {
        let ctx = Context::default();
        let st = state(FILE_644);
        let plan = File
            .plan(
                &parse(json!({"path": "/x", "mode": "0644"})).unwrap(),
                &st,
                &ctx,
            )
            .unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert_eq!(plan.values["mode"], "0644");
        assert_eq!(plan.values["state"], "file");
        let plan = File
            .plan(
                &parse(json!({"path": "/x", "mode": "u+x"})).unwrap(),
                &st,
                &ctx,
            )
            .unwrap();
        assert_eq!(plan.action, Action::Update);
        assert!(plan.apply[0].script.contains("chmod -- 0744 /x"));
        assert_eq!(
            plan.diff[0].before,
            "{\n    \"mode\": \"0644\",\n    \"path\": \"/x\"\n}\n"
        );
        assert_eq!(
            plan.diff[0].after,
            "{\n    \"mode\": \"0744\",\n    \"path\": \"/x\"\n}\n"
        );
        let absent = state(b"@path\0path=/x\0type=absent\0");
        let err = File
            .plan(
                &parse(json!({"path": "/x", "state": "file"})).unwrap(),
                &absent,
                &ctx,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "file (/x) is absent, cannot continue");
        let err = File
            .plan(
                &parse(json!({"path": "/x", "state": "directory"})).unwrap(),
                &st,
                &ctx,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "/x already exists as a file");
    }

    #[test]
    fn directory_and_absent_plans() {
        let ctx = Context::default();
        let absent = state(b"@path\0path=/a/b\0type=absent\0");
        let plan = File
            .plan(
                &parse(json!({"path": "/a/b", "state": "directory", "mode": "0750"})).unwrap(),
                &absent,
                &ctx,
            )
            .unwrap();
        assert_eq!(plan.action, Action::Create);
        let s = &plan.apply[0].script;
        assert!(
            s.contains("mkdir -- /a ")
                && s.contains("mkdir -- /a/b ")
                && s.contains("chmod -- 0750 /a/b"),
            "{s}"
        );
        assert_eq!(
            plan.diff[0].before,
            "{\n    \"path\": \"/a/b\",\n    \"state\": \"absent\"\n}\n"
        );
        assert_eq!(
            plan.diff[0].after,
            "{\n    \"path\": \"/a/b\",\n    \"state\": \"directory\"\n}\n"
        );
        assert_eq!(plan.values["mode"], "0750");
        let plan = File
            .plan(
                &parse(json!({"path": "/x", "state": "absent"})).unwrap(),
                &state(FILE_644),
                &ctx,
            )
            .unwrap();
        assert_eq!(plan.action, Action::Delete);
        assert!(plan.apply[0].script.contains("rm -f -- /x"));
        let plan = File
            .plan(
                &parse(json!({"path": "/x", "state": "absent"})).unwrap(),
                &absent,
                &ctx,
            )
            .unwrap();
        assert_eq!(plan.action, Action::NoOp);
    }

    #[test]
    fn attribute_and_time_plans() {
        let ctx = Context::default();
        let plan_for =
            |args: Value, out: &[u8]| File.plan(&parse(args).unwrap(), &state(out), &ctx);
        let with = |extra: &[u8]| {
            let mut o =
                b"@path\0path=/x\0chattr=1\0stat=81a4 0 0 5 1 7 8 1 2 3 8 512 0 0 root root\0"
                    .to_vec();
            o.extend_from_slice(extra);
            o
        };
        // `=` flags already there: nothing; `+`/`=` of others and any `-`: chattr.
        let attr = |want: &str, flags: &str| {
            let lsattr = format!("lsattr={flags}\0");
            plan_for(
                json!({"path": "/x", "attributes": want}),
                &with(lsattr.as_bytes()),
            )
            .unwrap()
        };
        assert_eq!(attr("A", "-------A------").action, Action::NoOp);
        let add = attr("+A", "--------------e-");
        assert_eq!(add.action, Action::Update);
        assert!(
            add.apply[0].script.contains("chattr +A -- /x"),
            "{}",
            add.apply[0].script
        );
        assert!(add.apply[0].script.contains("tend: chattr failed"));
        assert_eq!(attr("-A", "-----").action, Action::Update);
        assert_eq!(attr("", "---A--").action, Action::NoOp);
        // Without chattr on the target the flags are left alone.
        let none = plan_for(
            json!({"path": "/x", "attributes": "A"}),
            b"@path\0path=/x\0stat=81a4 0 0 5 1 7 8 1 2 3 8 512 0 0 root root\0",
        )
        .unwrap();
        assert_eq!(none.action, Action::NoOp);
        // Explicit times: the probe's epoch against the file's mtime (2 here).
        let args = json!({"path": "/x", "modification_time": "202202081414.00"});
        assert_eq!(
            plan_for(args.clone(), &with(b"@times\0mtime=2\0"))
                .unwrap()
                .action,
            Action::NoOp
        );
        let t = plan_for(args, &with(b"@times\0mtime=1644329640\0")).unwrap();
        assert_eq!(t.action, Action::Update);
        assert!(
            t.apply[0]
                .script
                .contains("touch -c -m -d @1644329640 -- /x")
        );
        let diff = t.diff[0].to_value();
        assert_eq!(diff["after"]["mtime"], json!(1644329640.0));
        assert_eq!(diff["before"]["path"], "/x");
    }

    #[test]
    fn an_existing_link_without_src_keeps_its_target() {
        let out = b"@path\0path=/l\0stat=a1ff 0 0 2 1 7 8 1 2 3 0 512 0 0 root root\0target=/t\0real=/t\0";
        let plan = File
            .plan(
                &parse(json!({"path": "/l", "state": "link", "follow": false})).unwrap(),
                &state(out),
                &Context::default(),
            )
            .unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert_eq!(plan.values["src"], Value::Null);
        let err = File
            .plan(
                &parse(json!({"path": "/x", "state": "link", "follow": false, "force": true}))
                    .unwrap(),
                &state(FILE_644),
                &Context::default(),
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "src is required for creating new symlinks");
    }

    #[test]
    fn link_plans() {
        let ctx = Context::default();
        let mut out = b"@path\0path=/l\0stat=a1ff 0 0 2 1 7 8 1 2 3 0 512 0 0 root root\0target=/t\0real=/t\0".to_vec();
        out.extend_from_slice(b"@real\0path=/t\0stat=81a4 0 0 5 1 9 8 1 2 3 8 512 0 0 root root\0");
        out.extend_from_slice(b"@src\0path=/u\0type=absent\0");
        let st = state(&out);
        let err = File
            .plan(
                &parse(json!({"path": "/l", "src": "/u", "state": "link"})).unwrap(),
                &st,
                &ctx,
            )
            .unwrap_err();
        assert!(
            err.to_string().starts_with("src file does not exist"),
            "{err}"
        );
        let plan = File
            .plan(
                &parse(json!({"path": "/l", "src": "/u", "state": "link", "force": true})).unwrap(),
                &st,
                &ctx,
            )
            .unwrap();
        assert_eq!(plan.action, Action::Update);
        assert_eq!(
            plan.diff[0].before,
            "{\n    \"path\": \"/l\",\n    \"src\": \"/t\"\n}\n"
        );
        assert!(plan.apply[0].script.contains("ln -s -- /u "));
        let plan = File
            .plan(&parse(json!({"path": "/l"})).unwrap(), &st, &ctx)
            .unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert_eq!(plan.values["state"], "link");
    }

    #[test]
    fn diff_peek_only_tells_binary_files() {
        let host = crate::host::Replay::new(&[b"1\n"]);
        let o = host
            .run(&File, json!({"path": "/a b", "_diff_peek": true}), false)
            .unwrap();
        assert!(!o.changed);
        assert_eq!(o.values["appears_binary"], true);
        assert_eq!(o.values["path"], "/a b");
        assert!(!o.values.contains_key("warnings"));
        let s = &host.scripts()[0];
        assert!(s.contains("head -c 8192 -- '/a b'"), "{s}");
        let host = crate::host::Replay::new(&[b"0\n"]);
        let o = host
            .run(&File, json!({"path": "/t", "_diff_peek": true}), false)
            .unwrap();
        assert_eq!(o.values["appears_binary"], false);
        assert_eq!(host.scripts().len(), 1);
    }
}
