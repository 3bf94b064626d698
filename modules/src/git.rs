//! The `git` module: clones a repository on the target and keeps a checkout
//! at a branch, tag or commit.
//!
//! One probe reads the checkout's commit, branch, remote URL and local
//! modifications, and asks the repository (`git ls-remote`) which commit
//! `version` names, so an up-to-date checkout costs that one round trip and
//! check mode predicts exactly what a run does. A change clones, or
//! fetches and checks out (`git checkout --force`, and for a branch
//! `git reset --hard REMOTE/BRANCH`), as Ansible does. Local modifications
//! fail the task unless `force` discards them. `accept_hostkey`, `key_file`
//! and `ssh_opts` set `GIT_SSH_COMMAND` for SSH repositories.
//!
//! # Examples
//!
//! ```yaml
//! - name: Check out the application at its release tag
//!   git:
//!     repo: https://git.example.com/team/app.git
//!     dest: /srv/app
//!     version: v1.4.2
//!
//! - name: Track a branch over SSH, discarding local edits
//!   git:
//!     repo: git@git.example.com:team/config.git
//!     dest: /etc/app/config
//!     version: main
//!     accept_hostkey: yes
//!     key_file: /root/.ssh/deploy_key
//!     force: yes
//! ```
//!
//! # Return values
//!
//! - `before` (string): the commit checked out before the task, or null.
//! - `after` (string): the commit checked out after the task (in check mode, the one it would be).
//! - `remote_url_changed` (bool): the remote's URL was changed to `repo`.
//! - `msg` (string): set when local modifications were discarded.

use crate::args::{ArgsError, de};
use crate::host::{Exec, ExecOutput, Host};
use crate::http;
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

fn yes() -> bool {
    true
}

fn head() -> String {
    "HEAD".into()
}

fn origin() -> String {
    "origin".into()
}

/// Arguments of `git` (Ansible's names and aliases).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The repository's address (URL, `user@host:path`, or a local path).
    #[serde(alias = "name", deserialize_with = "de::string")]
    pub repo: String,
    /// The directory of the checkout (of the repository itself with `bare`).
    #[serde(deserialize_with = "de::string")]
    pub dest: String,
    /// What to check out: `HEAD` (the remote's default branch), a branch, a tag or a commit.
    #[serde(default = "head", deserialize_with = "de::string")]
    pub version: String,
    /// Discard local modifications of tracked files (else they fail the task).
    #[serde(default, deserialize_with = "de::bool")]
    pub force: bool,
    /// Fetch and check out `version` in an existing checkout (with `no`, only report it).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub update: bool,
    /// Clone when `dest` is not a repository yet.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub clone: bool,
    /// Shallow clone and fetch with this many commits.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub depth: Option<i64>,
    /// A bare repository (no working tree).
    #[serde(default, deserialize_with = "de::bool")]
    pub bare: bool,
    /// The remote's name.
    #[serde(default = "origin", deserialize_with = "de::string")]
    pub remote: String,
    /// Accept an unknown SSH host key of the repository's server.
    #[serde(default, deserialize_with = "de::bool")]
    pub accept_hostkey: bool,
    /// Accept a new SSH host key, but not a changed one.
    #[serde(default, deserialize_with = "de::bool")]
    pub accept_newhostkey: bool,
    /// SSH private key for the repository, on the target.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub key_file: Option<String>,
    /// Extra `ssh` options (`-o ForwardAgent=yes`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ssh_opts: Option<String>,
    /// Clone only the history of `version`'s branch.
    #[serde(default, deserialize_with = "de::bool")]
    pub single_branch: bool,
    /// Initialize and update submodules after a checkout.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub recursive: bool,
    /// The git program to use.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub executable: Option<String>,
    /// Not supported yet.
    #[serde(default)]
    pub reference: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub refspec: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub track_submodules: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub verify_commit: Option<Value>,
    /// Not supported yet.
    #[serde(default, alias = "gpg_whitelist")]
    pub gpg_allowlist: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub archive: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub archive_prefix: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub separate_git_dir: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub umask: Option<Value>,
}

/// The `git` module.
pub struct Git;

#[async_trait]
impl TypedModule for Git {
    type Args = Args;
    const NAME: &'static str = "git";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        for (name, v) in [
            ("reference", &a.reference),
            ("refspec", &a.refspec),
            ("track_submodules", &a.track_submodules),
            ("verify_commit", &a.verify_commit),
            ("gpg_allowlist", &a.gpg_allowlist),
            ("archive", &a.archive),
            ("archive_prefix", &a.archive_prefix),
            ("separate_git_dir", &a.separate_git_dir),
            ("umask", &a.umask),
        ] {
            if v.is_some() {
                return Err(crate::fileops::unsupported("git", name));
            }
        }
        if matches!(a.depth, Some(d) if d < 1) {
            return Err(ArgsError::field(
                "depth",
                "depth must be a positive integer",
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
        converge(&Git, &args, ctx, host).await
    }
}

/// What `version` is, on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// The remote's default branch (or, in a checkout, its current branch).
    Head(String),
    /// A branch.
    Branch(String),
    /// A tag.
    Tag(String),
    /// A commit id (possibly abbreviated).
    Sha(String),
}

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// git is installed.
    pub has_git: bool,
    /// `dest` is a repository.
    pub repo: bool,
    /// Its current commit.
    pub before: Option<String>,
    /// Its current branch.
    pub branch: Option<String>,
    /// Its remote's URL.
    pub url: Option<String>,
    /// Tracked files are modified.
    pub local_mods: bool,
    /// `git ls-remote` output (`SHA\tREF` lines), when asked.
    pub refs: Option<String>,
    /// `git ls-remote` errors.
    pub ls_error: String,
    /// `git ls-remote`'s exit status when it failed.
    pub ls_rc: i64,
    /// The path of `git` on the target (Ansible's commands name it so).
    pub git_path: String,
}

impl State {
    /// The remote's commit for `version`, and what kind of name it is.
    pub fn resolve(&self, version: &str) -> Result<(Version, String), String> {
        let refs = self.refs.as_deref().unwrap_or("");
        let lookup = |name: &str| {
            refs.lines().find_map(|l| {
                let (sha, r) = l.split_once('\t')?;
                (r == name).then(|| sha.trim().to_string())
            })
        };
        if version == "HEAD" {
            let branch = match (&self.branch, self.repo) {
                (Some(b), true) if !b.is_empty() => Some(b.clone()),
                _ => None,
            };
            let sha = match &branch {
                Some(b) => lookup(&format!("refs/heads/{b}")),
                None => lookup("HEAD"),
            };
            return sha
                .map(|s| (Version::Head(branch.unwrap_or_default()), s))
                .ok_or_else(|| format!("Could not determine remote revision for {version}"));
        }
        if let Some(sha) = lookup(&format!("refs/heads/{version}")) {
            return Ok((Version::Branch(version.into()), sha));
        }
        if let Some(sha) = lookup(&format!("refs/tags/{version}^{{}}"))
            .or_else(|| lookup(&format!("refs/tags/{version}")))
        {
            return Ok((Version::Tag(version.into()), sha));
        }
        if version.len() >= 4 && version.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok((Version::Sha(version.to_lowercase()), version.to_lowercase()));
        }
        Err(format!("Could not determine remote revision for {version}"))
    }
}

fn git(a: &Args) -> String {
    quote(a.executable.as_deref().unwrap_or("git")).into_owned()
}

/// `GIT_SSH_COMMAND` for SSH repositories, and the git program.
fn env(a: &Args) -> String {
    let mut ssh = Vec::new();
    if a.accept_hostkey {
        ssh.push("-o StrictHostKeyChecking=no".to_string());
    } else if a.accept_newhostkey {
        ssh.push("-o StrictHostKeyChecking=accept-new".to_string());
    }
    if let Some(k) = &a.key_file {
        ssh.push(format!("-i {} -o IdentitiesOnly=yes", quote(k)));
    }
    if let Some(o) = &a.ssh_opts {
        ssh.push(o.clone());
    }
    let mut s = String::from(
        "LC_ALL=C; export LC_ALL\nGIT_TERMINAL_PROMPT=0; export GIT_TERMINAL_PROMPT\n",
    );
    if !ssh.is_empty() {
        s.push_str(&format!(
            "GIT_SSH_COMMAND={}; export GIT_SSH_COMMAND\n",
            quote(&format!("ssh {}", ssh.join(" ")))
        ));
    }
    s.push_str(&format!("g={}\nd={}\n", git(a), quote(&a.dest)));
    s
}

/// Whether a URL names the same repository (`file://` and trailing `/` aside).
fn same_url(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.strip_prefix("file://")
            .unwrap_or(s)
            .trim_end_matches('/')
            .to_string()
    };
    norm(a) == norm(b)
}

impl Converge for Git {
    type Args = Args;
    type State = State;
    const APPLY_FAILED: &'static str = "git: updating the repository failed";

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        let mut s = env(a);
        s.push_str(http::SH_PART);
        s.push_str("command -v \"$g\" >/dev/null 2>&1 || { echo __tend_nogit; exit 0; }\n");
        s.push_str("printf '__tend_gitpath %s\\n' \"$(command -v \"$g\")\"\n");
        let gitdir = if a.bare { "$d" } else { "$d/.git" };
        s.push_str(&format!(
            "if [ -e \"{gitdir}\" ] && \"$g\" -C \"$d\" rev-parse --git-dir >/dev/null 2>&1; then\n\
             \x20 echo __tend_repo\n\
             \x20 printf '__tend_before %s\\n' \"$(\"$g\" -C \"$d\" rev-parse --verify -q HEAD)\"\n\
             \x20 printf '__tend_branch %s\\n' \"$(\"$g\" -C \"$d\" symbolic-ref -q --short HEAD)\"\n\
             \x20 printf '__tend_url %s\\n' \"$(\"$g\" -C \"$d\" config --get remote.{r}.url)\"\n",
            r = a.remote.replace(['\'', '"', '$', '`', '\\'], "")
        ));
        if !a.bare {
            s.push_str(
                "  [ -n \"$(\"$g\" -C \"$d\" status --porcelain --untracked-files=no 2>/dev/null)\" ] && echo __tend_mods\n",
            );
        }
        let ask_remote = if a.update { "1" } else { "0" };
        s.push_str(&format!(
            "  _ask={ask_remote}\nelse\n  _ask=1\nfi\n\
             if [ $_ask = 1 ]; then\n\
             \x20 _t=$(mktemp -d) || exit 1; trap 'rm -rf -- \"$_t\"' EXIT\n\
             \x20 if \"$g\" ls-remote -- {repo} > \"$_t/refs\" 2> \"$_t/err\"; then tend_part refs \"$_t/refs\"; else printf '__tend_lsrc %s\\n' $?; tend_part lserr \"$_t/err\"; fi\n\
             fi\n",
            repo = quote(&a.repo)
        ));
        Exec::script(s)
    }

    fn parse(&self, _a: &Args, out: &ExecOutput) -> Result<State, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::script(
                "git: reading the repository's state failed",
                out,
            ));
        }
        let mut st = State {
            has_git: true,
            ..State::default()
        };
        for (name, bytes) in http::parts(&out.stdout) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let opt = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
            match name.as_str() {
                "refs" => st.refs = Some(text),
                "lserr" => st.ls_error = text,
                _ => {
                    if text == "__tend_nogit" {
                        st.has_git = false;
                    } else if text == "__tend_repo" {
                        st.repo = true;
                    } else if text == "__tend_mods" {
                        st.local_mods = true;
                    } else if let Some(v) = text.strip_prefix("__tend_before ") {
                        st.before = opt(v);
                    } else if let Some(v) = text.strip_prefix("__tend_branch ") {
                        st.branch = opt(v);
                    } else if let Some(v) = text.strip_prefix("__tend_gitpath ") {
                        st.git_path = v.trim().to_string();
                    } else if let Some(v) = text.strip_prefix("__tend_lsrc ") {
                        st.ls_rc = v.trim().parse().unwrap_or(1);
                    } else if let Some(v) = text.strip_prefix("__tend_url ") {
                        st.url = opt(v);
                    }
                }
            }
        }
        Ok(st)
    }

    fn plan(&self, a: &Args, st: &State, _ctx: &Context) -> Result<Plan, ModuleError> {
        if !st.has_git {
            return Err(ModuleError::failed(
                "Failed to find required executable \"git\" on the target",
            ));
        }
        let before = st.before.clone().map(Value::from).unwrap_or(Value::Null);
        if st.repo && !a.update {
            return Ok(Plan::noop()
                .with("before", before.clone())
                .with("after", before));
        }
        if st.refs.is_none() {
            // As Ansible's first `ls-remote` (whether `version` is a branch)
            // failing under `run_command(check_rc=True)`.
            let repo = if a.repo.starts_with('/') {
                format!("file://{}", a.repo)
            } else {
                a.repo.clone()
            };
            return Err(ModuleError::failed(st.ls_error.trim_end())
                .with(
                    "cmd",
                    format!(
                        "{} ls-remote {repo} -h refs/heads/{}",
                        st.git_path, a.version
                    ),
                )
                .with("rc", st.ls_rc)
                .with("stdout", "")
                .with("stderr", st.ls_error.clone()));
        }
        let (version, remote_sha) = st
            .resolve(&a.version)
            .map_err(|m| ModuleError::failed(m).with("before", before.clone()))?;
        let diff = |before: &Option<String>| Diff {
            before_header: Some(a.dest.clone()),
            after_header: Some(a.dest.clone()),
            before: before
                .as_ref()
                .map(|b| format!("{b}\n"))
                .unwrap_or_default(),
            after: format!("{remote_sha}\n"),
            prepared: None,
            dicts: None,
        };
        if !st.repo {
            let mut plan = Plan::change(Action::Create, vec![clone(a, &version)])
                .with("before", Value::Null)
                .with("after", remote_sha.clone())
                .with_diff(diff(&None));
            if !a.clone {
                // Ansible reports the remote's commit as a change without cloning.
                plan.apply.clear();
            }
            return Ok(plan);
        }
        if st.local_mods && !a.force {
            return Err(ModuleError::failed(format!(
                "Local modifications exist in the destination: {} (force=no).",
                a.dest
            ))
            .with("before", before));
        }
        let url_changed = st.url.as_deref().is_some_and(|u| !same_url(u, &a.repo));
        let at_version = match (&st.before, &version) {
            (Some(b), Version::Sha(s)) => b.starts_with(s.as_str()),
            (Some(b), _) => *b == remote_sha,
            (None, _) => false,
        };
        let on_branch = match &version {
            Version::Branch(b) => st.branch.as_deref() == Some(b.as_str()),
            _ => true,
        };
        if at_version && on_branch && !st.local_mods && !url_changed && st.url.is_some() {
            return Ok(Plan::noop()
                .with("before", before.clone())
                .with("after", before)
                .with("remote_url_changed", false));
        }
        let after = match &version {
            Version::Sha(_) if at_version => st.before.clone().unwrap_or_default(),
            _ => remote_sha.clone(),
        };
        let mut plan = Plan::change(Action::Update, vec![update(a, st, &version, url_changed)])
            .with("before", before)
            .with("after", after)
            .with("remote_url_changed", url_changed);
        if st.before.as_deref() != Some(remote_sha.as_str()) {
            plan = plan.with_diff(diff(&st.before));
        }
        if st.local_mods {
            plan.msg = Some(format!(
                "Local modifications exist in the destination: {}",
                a.dest
            ));
        }
        Ok(plan)
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        if let Some(after) = out
            .stdout_text()
            .lines()
            .find_map(|l| l.strip_prefix("__tend_after "))
        {
            plan.values
                .insert("after".into(), after.trim().to_string().into());
        }
        Ok(())
    }
}

/// After a checkout: submodules, then the commit.
fn finish(a: &Args) -> String {
    let mut s = String::new();
    if a.recursive && !a.bare {
        s.push_str("if [ -f \"$d/.gitmodules\" ]; then \"$g\" -C \"$d\" submodule update --init --recursive || exit 1; fi\n");
    }
    s.push_str("printf '__tend_after %s\\n' \"$(\"$g\" -C \"$d\" rev-parse HEAD)\"\n");
    s
}

/// Checks out `version` in a fetched repository.
fn switch(a: &Args, version: &Version) -> String {
    if a.bare {
        return String::new();
    }
    let r = quote(&a.remote);
    match version {
        Version::Head(b) if b.is_empty() => format!(
            "_b=$(\"$g\" -C \"$d\" symbolic-ref -q --short refs/remotes/{r}/HEAD)\n\
             if [ -n \"$_b\" ]; then \"$g\" -C \"$d\" checkout --force \"${{_b#*/}}\" -- >/dev/null && \"$g\" -C \"$d\" reset --hard \"$_b\" -- || exit 1; fi\n"
        ),
        Version::Head(b) | Version::Branch(b) => format!(
            "\"$g\" -C \"$d\" checkout --force {b} -- >/dev/null || exit 1\n\"$g\" -C \"$d\" reset --hard {r}/{b} -- || exit 1\n",
            b = quote(b),
        ),
        Version::Tag(v) | Version::Sha(v) => format!(
            "\"$g\" -C \"$d\" checkout --force {} -- || exit 1\n",
            quote(v)
        ),
    }
}

fn clone(a: &Args, version: &Version) -> Exec {
    let mut s = env(a);
    let mut cmd = String::from("\"$g\" clone");
    if a.bare {
        cmd.push_str(" --bare");
    } else {
        cmd.push_str(&format!(" --origin {}", quote(&a.remote)));
    }
    if let Some(depth) = a.depth {
        match version {
            Version::Head(_) => cmd.push_str(&format!(" --depth {depth}")),
            Version::Branch(v) | Version::Tag(v) => {
                cmd.push_str(&format!(" --depth {depth} --branch {}", quote(v)))
            }
            Version::Sha(_) => {}
        }
    }
    if a.single_branch {
        cmd.push_str(" --single-branch");
        if a.depth.is_none()
            && let Version::Branch(v) | Version::Tag(v) = version
        {
            cmd.push_str(&format!(" --branch {}", quote(v)));
        }
    }
    s.push_str(&format!("{cmd} -- {} \"$d\" || exit 1\n", quote(&a.repo)));
    if !matches!(version, Version::Head(_)) {
        s.push_str(&switch(a, version));
    }
    s.push_str(&finish(a));
    Exec::script(s)
}

fn update(a: &Args, st: &State, version: &Version, url_changed: bool) -> Exec {
    let mut s = env(a);
    let r = quote(&a.remote);
    if st.local_mods {
        s.push_str("\"$g\" -C \"$d\" reset --hard HEAD -- >/dev/null || exit 1\n");
    }
    if url_changed {
        s.push_str(&format!(
            "\"$g\" -C \"$d\" remote set-url {r} {} || exit 1\n",
            quote(&a.repo)
        ));
    } else if st.url.is_none() {
        s.push_str(&format!(
            "\"$g\" -C \"$d\" remote add {r} {} || exit 1\n",
            quote(&a.repo)
        ));
    }
    let depth = a.depth.map(|d| format!(" --depth {d}")).unwrap_or_default();
    let heads = if a.bare {
        "'+refs/heads/*:refs/heads/*'".to_string()
    } else {
        format!("'+refs/heads/*:refs/remotes/'{r}'/*'")
    };
    s.push_str(&format!(
        "\"$g\" -C \"$d\" fetch{depth} --force {r} {heads} '+refs/tags/*:refs/tags/*' || exit 1\n"
    ));
    if let Version::Sha(v) = version {
        s.push_str(&format!(
            "\"$g\" -C \"$d\" cat-file -e {v}^{{commit}} 2>/dev/null || \"$g\" -C \"$d\" fetch{depth} {r} {v} || exit 1\n",
            v = quote(v)
        ));
    }
    s.push_str(&switch(a, version));
    s.push_str(&finish(a));
    Exec::script(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const T: &str = "3333333333333333333333333333333333333333";

    fn parsed(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        Git::validate(&a).unwrap();
        a
    }

    fn state(lines: &str) -> State {
        let refs = format!(
            "{B}\tHEAD\n{B}\trefs/heads/main\n{A}\trefs/heads/old\n{A}\trefs/tags/v1\n{T}\trefs/tags/v2\n{A}\trefs/tags/v2^{{}}\n"
        );
        let stdout = format!("{lines}__tend_part refs {}\n{refs}", refs.len());
        Git.parse(
            &parsed(json!({"repo": "r", "dest": "/d"})),
            &ExecOutput {
                status: 0,
                stdout: stdout.into_bytes(),
                stderr: vec![],
            },
        )
        .unwrap()
    }

    #[test]
    fn gpg_whitelist_is_gpg_allowlists_alias_and_not_supported_yet() {
        let a: Args =
            args::parse(&json!({"repo": "r", "dest": "/d", "gpg_whitelist": ["K"]})).unwrap();
        assert!(a.gpg_allowlist.is_some());
        assert!(
            Git::validate(&a)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
    }

    #[test]
    fn an_unreadable_remote_fails_as_ansibles_run_command() {
        let a = parsed(json!({"repo": "/srv/nope.git", "dest": "/d"}));
        let err = "fatal: '/srv/nope.git' does not appear to be a git repository\n";
        let out = format!(
            "__tend_gitpath /usr/bin/git\n__tend_lsrc 128\n__tend_part lserr {}\n{err}",
            err.len()
        );
        let st = Git
            .parse(
                &a,
                &ExecOutput {
                    status: 0,
                    stdout: out.into_bytes(),
                    stderr: vec![],
                },
            )
            .unwrap();
        match Git.plan(&a, &st, &Context::default()).unwrap_err() {
            ModuleError::Failed { msg, values } => {
                assert_eq!(msg, err.trim_end());
                assert_eq!(values["rc"], 128);
                assert_eq!(values["stderr"], err);
                assert_eq!(
                    values["cmd"],
                    "/usr/bin/git ls-remote file:///srv/nope.git -h refs/heads/HEAD"
                );
                assert!(!values.contains_key("before"));
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn resolves_versions_like_ansible() {
        let st = state("");
        assert_eq!(st.resolve("HEAD").unwrap().1, B);
        assert_eq!(
            st.resolve("old").unwrap(),
            (Version::Branch("old".into()), A.into())
        );
        assert_eq!(
            st.resolve("v2").unwrap(),
            (Version::Tag("v2".into()), A.into())
        );
        assert_eq!(
            st.resolve("abc123").unwrap().0,
            Version::Sha("abc123".into())
        );
        assert!(st.resolve("nope").is_err());
        // In a checkout, HEAD is the current branch's remote head.
        let st = state(&format!(
            "__tend_repo\n__tend_before {A}\n__tend_branch old\n__tend_url r\n"
        ));
        assert_eq!(st.resolve("HEAD").unwrap().1, A);
    }

    #[test]
    fn plans_clone_update_and_noop() {
        let a = parsed(
            json!({"repo": "/srv/repo.git", "dest": "/srv/app", "version": "v2", "depth": 1}),
        );
        let plan = Git.plan(&a, &state(""), &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Create);
        assert_eq!(plan.values["after"], A);
        assert_eq!(plan.values["before"], Value::Null);
        let s = &plan.apply[0].script;
        assert!(
            s.contains(
                "\"$g\" clone --origin origin --depth 1 --branch v2 -- /srv/repo.git \"$d\""
            ),
            "{s}"
        );
        assert!(s.contains("checkout --force v2 --"), "{s}");
        // Up to date: nothing to do.
        let a = parsed(json!({"repo": "/srv/repo.git", "dest": "/srv/app", "version": "main"}));
        let st = state(&format!(
            "__tend_repo\n__tend_before {B}\n__tend_branch main\n__tend_url file:///srv/repo.git/\n"
        ));
        let plan = Git.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert_eq!(plan.values["after"], B);
        // Behind: fetch and reset.
        let st = state(&format!(
            "__tend_repo\n__tend_before {A}\n__tend_branch main\n__tend_url /srv/repo.git\n"
        ));
        let plan = Git
            .plan(
                &a,
                &st,
                &Context {
                    diff: true,
                    check_mode: true,
                },
            )
            .unwrap();
        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.values["after"], B);
        assert_eq!(plan.diff[0].before, format!("{A}\n"));
        let s = &plan.apply[0].script;
        assert!(
            s.contains("fetch --force origin '+refs/heads/*:refs/remotes/'origin'/*'"),
            "{s}"
        );
        assert!(s.contains("reset --hard origin/main --"), "{s}");
        // Local modifications.
        let st = state(&format!(
            "__tend_repo\n__tend_before {B}\n__tend_branch main\n__tend_url /srv/repo.git\n__tend_mods\n"
        ));
        let err = Git.plan(&a, &st, &Context::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Local modifications exist in the destination: /srv/app (force=no)."
        );
        let a = parsed(
            json!({"repo": "/srv/other.git", "dest": "/srv/app", "version": "main", "force": true}),
        );
        let plan = Git.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.values["remote_url_changed"], true);
        assert!(plan.apply[0].script.contains("reset --hard HEAD"));
        assert!(
            plan.apply[0]
                .script
                .contains("remote set-url origin /srv/other.git")
        );
    }

    #[test]
    fn ssh_options_and_errors() {
        let a = parsed(
            json!({"repo": "git@h:r.git", "dest": "/d", "accept_hostkey": true, "key_file": "/k"}),
        );
        let p = Git.probe(&a, &Context::default());
        assert!(
            p.script.contains(
                "GIT_SSH_COMMAND='ssh -o StrictHostKeyChecking=no -i /k -o IdentitiesOnly=yes'"
            ),
            "{}",
            p.script
        );
        let st = State {
            has_git: false,
            ..State::default()
        };
        assert!(
            Git.plan(&a, &st, &Context::default())
                .unwrap_err()
                .to_string()
                .contains("git")
        );
        let bad: Args =
            args::parse(&json!({"repo": "r", "dest": "/d", "archive": "/x.zip"})).unwrap();
        assert!(
            Git::validate(&bad)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
    }
}
