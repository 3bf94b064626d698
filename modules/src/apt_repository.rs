//! The `apt_repository` module: add or remove an APT source line
//! (`deb ...`) in `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list`.
//!
//! As Ansible's module: every one-line sources file is read and each line
//! normalized (whitespace collapsed, `# comment` kept apart, a leading `#`
//! meaning disabled). `present` enables the line wherever it already exists
//! (disabled), else appends it to `/etc/apt/sources.list.d/FILENAME.list`,
//! where FILENAME defaults to the repository's URI with every
//! non-alphanumeric run turned into `_` (`file:/srv/repo` →
//! `file_srv_repo.list`). `absent` removes every enabled copy of the line; a
//! file left without any line is deleted. Files that change are rewritten
//! atomically in Ansible's normalized form; a new file gets `mode` (default
//! `0644`). After a change the cache is updated (`update_cache`, default
//! yes). `--diff` shows the files added or removed, as Ansible does.
//! Launchpad `ppa:` repositories and deb822 `.sources` files are not supported yet.
//!
//! # Examples
//!
//! ```yaml
//! - name: Our own package repository
//!   apt_repository:
//!     repo: deb [trusted=yes] file:/srv/repo ./
//!     filename: local
//!
//! - name: Backports, without refreshing the cache
//!   apt_repository:
//!     repo: deb http://deb.debian.org/debian bookworm-backports main
//!     update_cache: no
//!
//! - name: Drop an old source
//!   apt_repository:
//!     repo: deb http://old.example.com/debian stable main
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `repo` (str): the source line given.
//! - `state` (str): the state asked for.
//! - `sources_added` (list): files created.
//! - `sources_removed` (list): files deleted.

use crate::apt::update_cache_script;
use crate::args::{ArgsError, de};
use crate::choice;
use crate::fileops::{self, ModeSpec};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

choice! {
    /// `state` of `apt_repository`.
    pub enum State {
        /// The source line is enabled.
        Present = ["present"],
        /// The source line is not enabled anywhere.
        Absent = ["absent"],
    }
}

fn yes() -> bool {
    true
}
fn five() -> i64 {
    5
}
fn twelve() -> i64 {
    12
}
fn present() -> State {
    State::Present
}

/// Arguments of `apt_repository`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The source line (`deb [options] URI suite [components]`).
    #[serde(deserialize_with = "de::string")]
    pub repo: String,
    /// `present` or `absent`.
    #[serde(default = "present")]
    pub state: State,
    /// Permissions of a new sources file (default `0644`).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Run `apt-get update` after a change.
    #[serde(default = "yes", alias = "update-cache", deserialize_with = "de::bool")]
    pub update_cache: bool,
    /// How many times to try the cache update.
    #[serde(default = "five", deserialize_with = "de::int")]
    pub update_cache_retries: i64,
    /// The longest pause between cache update tries, in seconds.
    #[serde(default = "twelve", deserialize_with = "de::int")]
    pub update_cache_retry_max_delay: i64,
    /// The sources file's name in `/etc/apt/sources.list.d/`, without `.list`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub filename: Option<String>,
    /// Accepted for compatibility: nothing is installed on the target.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub install_python_apt: bool,
    /// Accepted for compatibility (only used for PPAs, which are not supported yet).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub validate_certs: bool,
    /// Accepted for compatibility (only used for PPAs, which are not supported yet).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub codename: Option<String>,
}

/// The `apt_repository` module.
pub struct AptRepository;

const SOURCES_LIST: &str = "/etc/apt/sources.list";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";

#[async_trait]
impl TypedModule for AptRepository {
    type Args = Args;
    const NAME: &'static str = "apt_repository";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_preserve(&a.mode)?;
        if a.repo.trim_start().starts_with("ppa:") {
            return Err(ArgsError::field(
                "repo",
                "apt_repository: ppa: repositories are not supported yet (give the deb line)",
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
        if args.repo.is_empty() {
            return Err(ModuleError::failed(
                "Please set argument 'repo' to a non-empty value",
            ));
        }
        converge(self, &args, ctx, host).await
    }
}

/// One line of a sources file, as Ansible's `_parse` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// A `deb`/`deb-src` line.
    pub valid: bool,
    /// Not commented out.
    pub enabled: bool,
    /// The source, whitespace collapsed for valid lines.
    pub source: String,
    /// The text after `#`.
    pub comment: String,
}

impl Line {
    /// Parses one line.
    pub fn parse(line: &str) -> Line {
        let mut line = line.trim();
        let mut enabled = true;
        if let Some(rest) = line.strip_prefix('#') {
            enabled = false;
            line = rest;
        }
        let mut comment = String::new();
        if let Some(i) = line.find('#').filter(|i| *i > 0) {
            comment = line[i + 1..].trim().to_string();
            line = &line[..i];
        }
        let mut source = line.trim().to_string();
        let chunks: Vec<&str> = source.split_whitespace().collect();
        let valid = matches!(chunks.first(), Some(&"deb") | Some(&"deb-src"));
        if valid {
            source = chunks.join(" ");
        }
        Line {
            valid,
            enabled,
            source,
            comment,
        }
    }

    fn render(&self) -> String {
        let mut s = String::new();
        if !self.enabled {
            s.push_str("# ");
        }
        s.push_str(&self.source);
        if !self.comment.is_empty() {
            s.push_str(" # ");
            s.push_str(&self.comment);
        }
        s.push('\n');
        s
    }
}

/// One sources file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Its path.
    pub path: String,
    /// Its lines.
    pub lines: Vec<Line>,
}

/// Every one-line sources file, in apt's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// The files.
    pub files: Vec<SourceFile>,
}

impl Sources {
    /// Ansible's `dump`: path → normalized content, for files with lines.
    pub fn dump(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|f| !f.lines.is_empty())
            .map(|f| (f.path.clone(), f.lines.iter().map(Line::render).collect()))
            .collect()
    }
}

/// Ansible's default file name for a source line (`filename` wins).
pub fn suggest_filename(source: &str, filename: Option<&str>) -> String {
    let name = match filename {
        Some(f) => f.to_string(),
        None => {
            // Drop options and protocols, then take the URI.
            let mut s = String::new();
            let mut depth = 0;
            for c in source.chars() {
                match c {
                    '[' => depth += 1,
                    ']' if depth > 0 => depth -= 1,
                    _ if depth == 0 => s.push(c),
                    _ => {}
                }
            }
            let uri = s
                .split_whitespace()
                .find(|p| *p != "deb" && *p != "deb-src")
                .unwrap_or_default();
            let uri = match uri.find("://") {
                Some(i) if uri[..i].chars().all(|c| c.is_alphanumeric() || c == '_') => {
                    &uri[i + 3..]
                }
                _ => uri,
            };
            let uri = uri.split_once('@').map_or(uri, |(_, host)| host);
            uri.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("_")
        }
    };
    let file = format!("{name}.list");
    if file.contains('/') {
        file
    } else {
        format!("{SOURCES_DIR}/{file}")
    }
}

/// Applies `present`/`absent` to the sources (Ansible's `add_source` / `remove_source`).
pub fn edit(sources: &Sources, a: &Args) -> Result<Sources, ModuleError> {
    let new = Line::parse(&a.repo);
    if !new.valid || !new.enabled {
        return Err(ModuleError::failed(format!(
            "Invalid repository string: {}",
            a.repo.trim()
        )));
    }
    let mut out = sources.clone();
    match a.state {
        State::Present => {
            let mut found = false;
            for f in &mut out.files {
                for l in &mut f.lines {
                    if l.valid && l.source == new.source {
                        l.enabled = true;
                        found = true;
                    }
                }
            }
            if !found {
                let path = suggest_filename(&new.source, a.filename.as_deref());
                let line = Line {
                    comment: String::new(),
                    ..new
                };
                match out.files.iter_mut().find(|f| f.path == path) {
                    Some(f) => f.lines.push(line),
                    None => out.files.push(SourceFile {
                        path,
                        lines: vec![line],
                    }),
                }
            }
        }
        State::Absent => {
            for f in &mut out.files {
                f.lines
                    .retain(|l| !(l.valid && l.enabled && l.source == new.source));
            }
        }
    }
    Ok(out)
}

/// What the probe found: the sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    /// The sources.
    pub sources: Sources,
}

impl Converge for AptRepository {
    type Args = Args;
    type State = Probed;
    const APPLY_FAILED: &'static str = "apt_repository: writing the sources failed";

    fn probe(&self, _a: &Args, _ctx: &Context) -> Exec {
        Exec::script(format!(
            "for f in {SOURCES_LIST} {SOURCES_DIR}/*.list; do\n\
             \x20 [ -f \"$f\" ] || continue\n\
             \x20 printf '@@FILE|%s\\n' \"$f\"\n\
             \x20 cat \"$f\" || exit 1\n\
             \x20 echo\n\
             done\n"
        ))
    }

    fn parse(&self, _a: &Args, out: &ExecOutput) -> Result<Probed, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::script(
                "apt_repository: reading the sources failed",
                out,
            ));
        }
        let mut sources = Sources::default();
        for line in out.stdout_text().lines() {
            if let Some(path) = line.strip_prefix("@@FILE|") {
                sources.files.push(SourceFile {
                    path: path.to_string(),
                    lines: Vec::new(),
                });
            } else if let Some(f) = sources.files.last_mut() {
                f.lines.push(Line::parse(line));
            }
        }
        // The `echo` after each file adds one empty line, unless the file
        // lacked its final newline.
        for f in &mut sources.files {
            if f.lines.last().is_some_and(|l| *l == Line::parse("")) {
                f.lines.pop();
            }
        }
        Ok(Probed { sources })
    }

    fn plan(&self, a: &Args, st: &Probed, ctx: &Context) -> Result<Plan, ModuleError> {
        let after = edit(&st.sources, a)?;
        let before_dump = st.sources.dump();
        let after_dump = after.dump();
        let mut plan = Plan::noop()
            .with("repo", a.repo.clone())
            .with("state", a.state.as_str());
        let get = |d: &[(String, String)], p: &str| {
            d.iter().find(|(q, _)| q == p).map(|(_, c)| c.clone())
        };
        let added: Vec<String> = after_dump
            .iter()
            .filter(|(p, _)| get(&before_dump, p).is_none())
            .map(|(p, _)| p.clone())
            .collect();
        let removed: Vec<String> = before_dump
            .iter()
            .filter(|(p, _)| get(&after_dump, p).is_none())
            .map(|(p, _)| p.clone())
            .collect();
        plan.values
            .insert("sources_added".into(), Value::from(added.clone()));
        plan.values
            .insert("sources_removed".into(), Value::from(removed.clone()));
        // Ansible's module always returns `diff`: a list, empty without --diff.
        plan.values.insert("diff".into(), Value::Array(Vec::new()));
        if before_dump == after_dump {
            return Ok(plan);
        }
        for p in added.iter().chain(&removed) {
            let b = get(&before_dump, p);
            let af = get(&after_dump, p);
            plan.diff.push(Diff {
                before_header: Some(if b.is_some() {
                    p.clone()
                } else {
                    "/dev/null".into()
                }),
                after_header: Some(if af.is_some() {
                    p.clone()
                } else {
                    "/dev/null".into()
                }),
                before: b.unwrap_or_default(),
                after: af.unwrap_or_default(),
                prepared: None,
                dicts: None,
            });
        }
        if ctx.diff {
            let list = plan.diff.iter().map(Diff::to_value).collect();
            plan.values.insert("diff".into(), Value::Array(list));
        }
        let mode = match &a.mode {
            Some(m) => m
                .resolve(0o600, false, 0)
                .map_err(ModuleError::failed)?
                .unwrap_or(0o644),
            None => 0o644,
        };
        let mut script = String::from("set -e\n");
        let mut stdin = Vec::new();
        for (path, content) in &after_dump {
            let old = get(&before_dump, path);
            if old.as_deref() == Some(content.as_str()) {
                continue;
            }
            let q = sh::quote(path);
            let dir = path.rsplit_once('/').map_or(".", |(d, _)| d);
            let name = path.rsplit_once('/').map_or(path.as_str(), |(_, n)| n);
            script.push_str(&format!(
                "f={q}\nif [ -L \"$f\" ]; then f=$(readlink -f \"$f\"); fi\n\
                 mkdir -p {dir}\n\
                 tmp=$(mktemp {tmpl})\n\
                 dd bs=1 count={n} of=\"$tmp\" 2>/dev/null\n",
                dir = sh::quote(dir),
                tmpl = sh::quote(&format!("{dir}/.{name}-XXXXXX")),
                n = content.len(),
            ));
            if old.is_some() {
                script.push_str(
                    "chmod --reference=\"$f\" \"$tmp\"; chown --reference=\"$f\" \"$tmp\"\n",
                );
            } else {
                script.push_str(&format!("chmod {mode:o} \"$tmp\"\n"));
            }
            script.push_str("mv -f \"$tmp\" \"$f\"\n");
            stdin.extend_from_slice(content.as_bytes());
        }
        for path in &removed {
            script.push_str(&format!("rm -f {}\n", sh::quote(path)));
        }
        script.push_str("set +e\n");
        if a.update_cache {
            script.push_str(&update_cache_script(
                a.update_cache_retries,
                a.update_cache_retry_max_delay,
            ));
        }
        plan.action = Action::Update;
        plan.apply = vec![Exec::with_stdin(script, stdin)];
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn args(v: Value) -> Args {
        args::parse(&v).unwrap()
    }

    fn probed(files: &[(&str, &str)]) -> Probed {
        let mut text = String::new();
        for (p, c) in files {
            text.push_str(&format!("@@FILE|{p}\n{c}\n"));
        }
        AptRepository
            .parse(
                &args(json!({"repo": "deb x y"})),
                &crate::host::out(0, &text),
            )
            .unwrap()
    }

    const REPO: &str = "deb [trusted=yes] file:/srv/repo ./";

    #[test]
    fn file_names_as_ansible() {
        assert_eq!(
            suggest_filename(REPO, None),
            "/etc/apt/sources.list.d/file_srv_repo.list"
        );
        assert_eq!(
            suggest_filename(
                "deb https://user:pw@apt.example.com/debian stable main",
                None
            ),
            "/etc/apt/sources.list.d/apt_example_com_debian.list"
        );
        assert_eq!(
            suggest_filename(REPO, Some("local")),
            "/etc/apt/sources.list.d/local.list"
        );
    }

    #[test]
    fn diff_is_always_a_list_as_ansible() {
        let st = probed(&[("/etc/apt/sources.list", "# nothing here\n")]);
        let a = args(json!({"repo": REPO, "filename": "local"}));
        let plan = AptRepository.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.values["diff"], json!([]));
        let diff = Context {
            check_mode: false,
            diff: true,
        };
        let plan = AptRepository.plan(&a, &st, &diff).unwrap();
        assert_eq!(
            plan.values["diff"],
            json!([{
                "before": "",
                "after": format!("{REPO}\n"),
                "before_header": "/dev/null",
                "after_header": "/etc/apt/sources.list.d/local.list"
            }])
        );
    }

    #[test]
    fn adds_to_a_new_file_with_a_diff() {
        let st = probed(&[("/etc/apt/sources.list", "# nothing here\n")]);
        let a = args(json!({"repo": REPO, "filename": "local"}));
        let plan = AptRepository.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Update);
        let path = "/etc/apt/sources.list.d/local.list";
        assert_eq!(plan.values["sources_added"], json!([path]));
        assert_eq!(plan.diff[0].before_header.as_deref(), Some("/dev/null"));
        assert_eq!(plan.diff[0].after, format!("{REPO}\n"));
        let apply = &plan.apply[0];
        assert_eq!(apply.stdin, format!("{REPO}\n").into_bytes());
        assert!(apply.script.contains("chmod 644"));
        assert!(apply.script.contains("apt-get update"));

        // Already there (spacing differs): nothing to do.
        let st = probed(&[(path, "deb  [trusted=yes]   file:/srv/repo ./  # ours")]);
        let plan = AptRepository.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::NoOp);
    }

    #[test]
    fn enables_a_disabled_line_and_removes_files() {
        let st = probed(&[(
            "/etc/apt/sources.list",
            "#deb [trusted=yes] file:/srv/repo ./\n",
        )]);
        let a = args(json!({"repo": REPO, "update_cache": false}));
        let plan = AptRepository.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Update);
        assert!(plan.diff.is_empty(), "no file added or removed");
        assert_eq!(plan.apply[0].stdin, format!("{REPO}\n").into_bytes());
        assert!(!plan.apply[0].script.contains("apt-get update"));

        let st = probed(&[("/etc/apt/sources.list.d/x.list", REPO)]);
        let a = args(json!({"repo": REPO, "state": "absent"}));
        let plan = AptRepository.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(
            plan.values["sources_removed"],
            json!(["/etc/apt/sources.list.d/x.list"])
        );
        assert!(
            plan.apply[0]
                .script
                .contains("rm -f /etc/apt/sources.list.d/x.list")
        );
        assert_eq!(plan.diff[0].after_header.as_deref(), Some("/dev/null"));
    }

    #[test]
    fn rejects_ppa_and_invalid_lines() {
        let a = args(json!({"repo": "ppa:deadsnakes/ppa"}));
        assert!(
            AptRepository::validate(&a)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
        let a = args(json!({"repo": "http://x stable"}));
        let err = edit(&Sources::default(), &a).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid repository string: http://x stable"
        );
    }
}
