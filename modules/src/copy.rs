//! The `copy` module: copy a file or inline content to a path on the target.
//!
//! The content comes from `src` (a file on the controller, or on the target
//! with `remote_src`) or from `content`. It is written atomically (a temporary
//! file in the destination directory, attributes set, `validate` run, then
//! renamed), with `owner`, `group` and `mode`; an existing file whose SHA-1
//! checksum already matches is left alone and only its attributes are
//! converged. A `dest` that is a directory (or ends with `/`) receives
//! `basename(src)`. With `force: false` an existing file is never replaced.
//! Check mode predicts the change exactly and `--diff` shows the old and new
//! content.
//!
//! A directory `src` is copied recursively, as Ansible does: `src/` copies
//! what is inside it into `dest`, `src` (no slash) the directory itself.
//! From the controller, directories get `directory_mode`, files `mode`
//! (`preserve`: each file's own), and symlinks are followed unless
//! `local_follow: false`; with `remote_src`, modes are the source's, links
//! stay links unless `local_follow: true`, and `owner`/`group` apply to the
//! whole copy. Nothing in `dest` is removed.
//!
//! # Examples
//!
//! ```yaml
//! - name: Install the application's configuration
//!   ansible.builtin.copy:
//!     src: files/app.conf
//!     dest: /etc/app/app.conf
//!     owner: root
//!     group: app
//!     mode: '0640'
//!     backup: true
//!
//! - name: Write a file from inline content
//!   ansible.builtin.copy:
//!     content: |
//!       # Managed by tend
//!       nameserver 10.0.0.53
//!     dest: /etc/resolv.conf
//!     mode: '0644'
//!
//! - name: Check the sudoers fragment before installing it
//!   ansible.builtin.copy:
//!     src: files/sudoers-deploy
//!     dest: /etc/sudoers.d/deploy
//!     mode: '0440'
//!     validate: /usr/sbin/visudo -csf %s
//!
//! - name: Copy a file that is already on the target
//!   ansible.builtin.copy:
//!     src: /etc/app/app.conf
//!     dest: /etc/app/app.conf.orig
//!     remote_src: true
//!     force: false
//! ```
//!
//! # Return values
//!
//! - `dest` (str): The file written (for a directory copy, the destination
//!   directory, or the one file it holds).
//! - `src` (str): The source, when one was given.
//! - `checksum` (str): SHA-1 checksum of the file after the task.
//! - `md5sum` (str): MD5 of the new content (not with `remote_src`).
//! - `size` (int): Size of the file after the task, in bytes.
//! - `state` (str): `file`.
//! - `mode` (str): Permissions of the file after the task, in octal (`0644`).
//! - `owner` (str): Owner of the file after the task.
//! - `group` (str): Group of the file after the task.
//! - `uid` (int): Owner id of the file after the task.
//! - `gid` (int): Group id of the file after the task.
//! - `backup_file` (str): The backup of the old file, when `backup` made one.
//!
//! # Implementation
//!
//! The probe compares checksums on the target (SHA-1), fetching the old
//! content only for `--diff`; an unchanged file costs one round trip. The
//! write is [`fileops::AtomicWrite`]. `template` shares all of this through
//! [`Desired`] and `converge_content`.

mod tree;

pub use tree::{LocalFile, LocalLink, LocalTree, Tree, TreeEntry, TreeKind};

use crate::args::{ArgsError, de};
use crate::fileops::{
    self, AtomicWrite, CurAttrs, Env, Fetch, Ids, Kind, ModeSpec, PathInfo, Probe, ProbeOutput,
    Source, StatOpts, WantAttrs, ancestors, basename, dirname, fail, join,
};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

fn yes() -> bool {
    true
}

/// Arguments of `copy` (Ansible's names and aliases).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Path on the target to write to (required). A directory (existing, or
    /// given with a trailing `/`) receives `basename(src)`.
    #[serde(default, deserialize_with = "de::string")]
    pub dest: String,
    /// The file or directory to copy: a path on the controller (a relative
    /// one is looked for in `files/`), or on the target with `remote_src`. A
    /// directory ending in `/` copies its content, without it the directory.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub src: Option<String>,
    /// The file's content, instead of `src` (a mapping or list is written as JSON).
    #[serde(default)]
    pub content: Option<Value>,
    /// Internal, set by the engine: the controller-side `src` file's bytes, base64-encoded.
    #[serde(default, rename = "_content_b64", deserialize_with = "de::opt_string")]
    pub content_b64: Option<String>,
    /// Internal, set by the engine: a controller-side `src` directory (its
    /// files, directories and symlinks, as Ansible's copy action walks it).
    #[serde(default, rename = "_tree")]
    pub tree: Option<LocalTree>,
    /// Internal, set by the engine: the controller-side `src` file's mode (octal), for `mode: preserve`.
    #[serde(default, rename = "_src_mode", deserialize_with = "de::opt_string")]
    pub src_mode: Option<String>,
    /// Replace a file whose content differs; with `false`, only create missing files.
    #[serde(default = "yes", alias = "thirsty", deserialize_with = "de::bool")]
    pub force: bool,
    /// Permissions: octal, symbolic, or `preserve` (the source's mode).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Owner (name or uid).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group (name or gid).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Keep the old file as `dest.PID.YYYY-MM-DD@HH:MM:SS~`.
    #[serde(default, deserialize_with = "de::bool")]
    pub backup: bool,
    /// Command that must accept the new file (`%s`) before it replaces `dest`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub validate: Option<String>,
    /// `src` is a file on the target.
    #[serde(default, deserialize_with = "de::bool")]
    pub remote_src: bool,
    /// Mode of the directories a recursive copy creates or copies (and of
    /// those created for a `dest` ending in `/`).
    #[serde(default)]
    pub directory_mode: Option<ModeSpec>,
    /// Follow a symlink at `dest` and write to its target, instead of replacing the link.
    #[serde(default, deserialize_with = "de::bool")]
    pub follow: bool,
    /// Copy what symlinks in a `src` directory point to, instead of the
    /// links (default: yes for a controller-side `src`, no with `remote_src`).
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub local_follow: Option<bool>,
    /// The expected SHA-1 checksum of the content; the task fails when it differs.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub checksum: Option<String>,
    /// Decrypt a vault-encrypted `src` on the controller (accepted for compatibility; the engine reads `src`).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub decrypt: bool,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub unsafe_writes: Option<bool>,
    /// Not supported yet (`chattr` attributes).
    #[serde(default, alias = "attr")]
    pub attributes: Option<Value>,
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
}

/// Renders `content` the way Ansible's copy action does (`json.dumps` for
/// mappings and lists).
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        other => py_json(other),
    }
}

/// Python's `json.dumps` layout (`", "` and `": "` separators).
pub(crate) fn py_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        serde_json::to_string(k).unwrap_or_default(),
                        py_json(v)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(py_json).collect::<Vec<_>>().join(", ")),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// What `copy` and `template` want at `dest`, argument-independent.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Module name, for messages.
    pub module: &'static str,
    /// `dest` as given.
    pub dest: String,
    /// `src` as given (for messages, return values and directory `dest`s).
    pub src: Option<String>,
    /// The new content.
    pub source: Source,
    /// Content came from `content` (not a file): a directory `dest` is an error.
    pub inline: bool,
    /// `force`.
    pub force: bool,
    /// `follow`.
    pub follow: bool,
    /// `backup`.
    pub backup: bool,
    /// `validate`.
    pub validate: Option<String>,
    /// `mode`, `owner`, `group`.
    pub want: WantAttrs,
    /// The source's mode, for `mode: preserve` (controller side).
    pub src_mode: Option<u32>,
    /// `directory_mode`.
    pub directory_mode: Option<ModeSpec>,
    /// `checksum`.
    pub checksum: Option<String>,
    /// Header of the new side of the content diff.
    pub after_header: Option<String>,
    /// A directory copy: a controller-side `src` directory, or with
    /// `remote_src` the copy made when `src` turns out to be a directory.
    pub tree: Option<Tree>,
}

fn parse_src_mode(s: &Option<String>) -> Result<Option<u32>, ModuleError> {
    match s {
        None => Ok(None),
        Some(s) => u32::from_str_radix(s.trim(), 8)
            .map(|m| Some(m & 0o7777))
            .map_err(|_| ModuleError::failed(format!("invalid `_src_mode`: {s}"))),
    }
}

impl Desired {
    fn from_copy(a: &Args) -> Result<Desired, ModuleError> {
        let source = if a.remote_src {
            Source::Remote(
                a.src
                    .clone()
                    .ok_or_else(|| ModuleError::failed("src (or content) is required"))?,
            )
        } else if a.tree.is_some() {
            Source::Bytes(Vec::new())
        } else if let Some(c) = &a.content {
            Source::Bytes(content_text(c).into_bytes())
        } else if let Some(b64) = &a.content_b64 {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| ModuleError::failed(format!("copy: invalid `_content_b64`: {e}")))?;
            Source::Bytes(bytes)
        } else if let Some(src) = &a.src {
            return Err(ModuleError::failed(format!(
                "copy: the content of the controller-side file {src} was not provided (`_content_b64`)"
            )));
        } else {
            return Err(ModuleError::failed("src (or content) is required"));
        };
        Ok(Desired {
            module: "copy",
            dest: a.dest.clone(),
            src: a.src.clone(),
            source,
            inline: a.content.is_some(),
            force: a.force,
            follow: a.follow,
            backup: a.backup,
            validate: a.validate.clone(),
            want: WantAttrs {
                mode: a.mode.clone(),
                owner: a.owner.clone(),
                group: a.group.clone(),
            },
            src_mode: parse_src_mode(&a.src_mode)?,
            directory_mode: a.directory_mode.clone(),
            checksum: a.checksum.clone(),
            after_header: a.src.clone(),
            tree: match (&a.tree, &a.src) {
                (Some(t), _) => Some(Tree::local(&a.dest, t, &a.mode, &a.directory_mode, None)?),
                (None, Some(src)) if a.remote_src => Some(Tree::remote(
                    src,
                    &a.dest,
                    a.local_follow == Some(true),
                    &a.mode,
                )),
                _ => None,
            },
        })
    }

    /// Builds a `Desired` for `template`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn for_template(
        dest: &str,
        src: &str,
        content: Vec<u8>,
        want: WantAttrs,
        src_mode: &Option<String>,
        force: bool,
        follow: bool,
        backup: bool,
        validate: Option<String>,
    ) -> Result<Desired, ModuleError> {
        Ok(Desired {
            module: "template",
            dest: dest.to_string(),
            src: Some(src.to_string()),
            source: Source::Bytes(content),
            inline: false,
            force,
            follow,
            backup,
            validate,
            want,
            src_mode: parse_src_mode(src_mode)?,
            directory_mode: None,
            checksum: None,
            after_header: Some(src.to_string()),
            tree: None,
        })
    }
}

/// The `copy` module.
pub struct Copy;

#[async_trait]
impl TypedModule for Copy {
    type Args = Args;
    const NAME: &'static str = "copy";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        if a.src.as_deref() == Some("") && a.content.is_none() {
            return Err(ArgsError::general("src (or content) is required"));
        }
        fileops::reject_unsupported(
            "copy",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        if a.src.is_some() && a.content.is_some() {
            return Err(ArgsError::general("src and content are mutually exclusive"));
        }
        if a.src.is_none() && a.content.is_none() {
            return Err(ArgsError::general("src (or content) is required"));
        }
        if a.dest.is_empty() {
            return Err(ArgsError::field("dest", "dest is required"));
        }
        if a.remote_src && a.src.is_none() {
            return Err(ArgsError::field("remote_src", "remote_src requires src"));
        }
        if a.content.is_some() && a.dest.ends_with('/') {
            return Err(ArgsError::field(
                "dest",
                "can not use content with a dir as dest",
            ));
        }
        if a.directory_mode == Some(ModeSpec::Preserve) {
            return Err(ArgsError::field(
                "directory_mode",
                "directory_mode cannot be `preserve`",
            ));
        }
        fileops::check_validate(&a.validate)
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let desired = Desired::from_copy(&args)?;
        converge_content(&desired, ctx, host).await
    }
}

/// Runs `copy`/`template` for a [`Desired`]: one probe, plan, one apply.
pub(crate) async fn converge_content(
    desired: &Desired,
    ctx: &Context,
    host: &dyn Host,
) -> Result<Outcome, ModuleError> {
    let mut outcome = match converge(&ContentModule, desired, ctx, host).await {
        Ok(outcome) => outcome,
        // The copy action's failures carry its (empty) list of diffs.
        Err(ModuleError::Failed { msg, mut values })
            if !matches!(desired.source, Source::Remote(_)) =>
        {
            values
                .entry("diff")
                .or_insert_with(|| Value::Array(Vec::new()));
            return Err(ModuleError::Failed { msg, values });
        }
        Err(e) => return Err(e),
    };
    // Ansible's copy action registers its diffs as a list, one per file.
    if !outcome.diff.is_empty() && !outcome.values.contains_key("diff") {
        let list = outcome.diff.iter().map(Diff::to_value).collect();
        outcome.values.insert("diff".into(), Value::Array(list));
    }
    Ok(outcome)
}

/// The converge side of `copy` and `template`.
#[derive(Debug, Clone, Copy)]
pub struct ContentModule;

/// What the `copy`/`template` probe found.
#[derive(Debug, Clone)]
pub struct ContentState {
    /// Raw probe output.
    pub probe: ProbeOutput,
    /// The destination file (after resolving a directory `dest`).
    pub dest: PathInfo,
    /// The destination's parent directory.
    pub parent: PathInfo,
    /// `remote_src`: the source file.
    pub src: Option<PathInfo>,
    /// The umask, clock and connecting user.
    pub env: Env,
}

impl Converge for ContentModule {
    type Args = Desired;
    type State = ContentState;

    fn probe(&self, d: &Desired, ctx: &Context) -> Exec {
        let mut p = Probe::new();
        if let Some(tree) = d.tree.as_ref().filter(|t| t.entries.is_some()) {
            tree.probe(&mut p);
            p.ids(d.want.owner.as_deref(), d.want.group.as_deref());
            return p.finish();
        }
        p.clock(d.backup).set("d", &d.dest);
        if let Some(src) = d.src.as_deref().filter(|_| !d.inline) {
            let joined = join(&d.dest, basename(src));
            if d.dest.ends_with('/') {
                p.set("d", &joined);
            } else {
                p.raw(&format!("if [ -d \"$d\" ]; then d={}; fi", quote(&joined)));
            }
        }
        let fetch_new = if ctx.diff {
            Fetch::Always
        } else {
            Fetch::Never
        };
        let expected = match &d.source {
            Source::Remote(src) => {
                p.path(
                    "src",
                    src,
                    &StatOpts {
                        follow: true,
                        checksum: Some("sha1"),
                        fetch: fetch_new,
                        sum_in_shell: true,
                        ..StatOpts::default()
                    },
                );
                p.raw("ssum=$sum");
                if let Some(tree) = &d.tree {
                    p.raw(&format!("if [ -d {} ]; then", quote(src)));
                    tree.probe(&mut p);
                    p.raw("fi");
                }
                "\"$ssum\"".to_string()
            }
            Source::Bytes(b) => quote(&fileops::sha1_hex(b)).into_owned(),
        };
        let fetch_old = if ctx.diff {
            Fetch::IfSumDiffers(expected)
        } else {
            Fetch::Never
        };
        p.path_word(
            "dest",
            "\"$d\"",
            &StatOpts {
                follow: d.follow,
                checksum: Some("sha1"),
                fetch: fetch_old,
                ..StatOpts::default()
            },
        );
        // The parent matters only when the destination is not there (an
        // existing path's parent is a directory): one process fewer.
        p.raw("if [ ! -e \"$d\" ] && [ ! -L \"$d\" ]; then");
        p.raw("case $d in */*) pd=${d%/*}; [ -n \"$pd\" ] || pd=/ ;; *) pd=. ;; esac");
        p.path_word(
            "parent",
            "\"$pd\"",
            &StatOpts {
                follow: true,
                ..StatOpts::default()
            },
        );
        p.raw("fi");
        p.ids(d.want.owner.as_deref(), d.want.group.as_deref());
        p.finish()
    }

    fn parse(&self, d: &Desired, out: &ExecOutput) -> Result<ContentState, ModuleError> {
        let probe = ProbeOutput::parse(out)?;
        let local_tree = d.tree.as_ref().is_some_and(|t| t.entries.is_some());
        let (dest, parent) = if local_tree {
            (probe.path("root")?, PathInfo::default())
        } else {
            let dest = probe.path("dest")?;
            // No `parent` record: the destination exists, so its parent is
            // a directory (the probe skips it).
            let parent = if probe.records.contains_key("parent") {
                probe.path("parent")?
            } else {
                PathInfo {
                    path: dirname(&dest.path),
                    kind: Some(Kind::Directory),
                    ..PathInfo::default()
                }
            };
            (dest, parent)
        };
        let src = if probe.records.contains_key("src") {
            Some(probe.path("src")?)
        } else {
            None
        };
        let env = probe.env()?;
        Ok(ContentState {
            probe,
            dest,
            parent,
            src,
            env,
        })
    }

    fn plan(&self, d: &Desired, st: &ContentState, ctx: &Context) -> Result<Plan, ModuleError> {
        plan_content(d, st, ctx)
    }

    fn applied(&self, d: &Desired, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        let report = fileops::write_report(out)?;
        // Ansible's `src` of a copy from the controller is the file the
        // content went through on the target: here the temp file renamed
        // into place.
        if d.tree.is_none()
            && !matches!(d.source, Source::Remote(_))
            && let (Some(name), Some(dest)) = (report.temp_name, plan.values.get("dest"))
        {
            let dir = dirname(dest.as_str().unwrap_or_default());
            plan.values.insert("src".into(), join(&dir, &name).into());
        }
        Ok(())
    }
}

/// A directory copy (see [`tree`]).
fn plan_tree_content(d: &Desired, tree: &Tree, st: &ContentState) -> Result<Plan, ModuleError> {
    let entries = tree.read(&st.probe)?;
    let root = st.probe.path("root")?;
    let ids = Ids::resolve(&st.probe, &d.want, &tree.root)?;
    let mut tree = tree.clone();
    if let (Some(ModeSpec::Preserve), Some(src)) = (&tree.policy.mode, &st.src) {
        tree.policy.mode = Some(ModeSpec::Octal(src.mode));
    }
    let mut plan = tree::plan_tree(
        &tree,
        &entries,
        &tree::TreeCtx {
            root: &root,
            want: &d.want,
            ids: &ids,
            env: &st.env,
            force: d.force,
            root_new_mode: st.src.as_ref().map(|s| s.mode),
        },
    )?;
    if let Some(src) = &d.src {
        plan.values.insert("src".into(), src.clone().into());
    }
    Ok(plan)
}

fn plan_content(d: &Desired, st: &ContentState, ctx: &Context) -> Result<Plan, ModuleError> {
    if let Some(tree) = &d.tree
        && (tree.entries.is_some() || st.src.as_ref().is_some_and(|s| s.kind() == Kind::Directory))
    {
        return plan_tree_content(d, tree, st);
    }
    let dest = &st.dest;
    let path = dest.path.clone();
    if d.inline && (d.dest.ends_with('/') || dest.kind() == Kind::Directory) {
        return Err(fail(
            "can not use content with a dir as dest",
            &[("dest", &path)],
        ));
    }
    // The new content and its checksum.
    let (new_bytes, new_sum, new_size): (Option<&[u8]>, String, u64) = match &d.source {
        Source::Bytes(b) => (Some(b), fileops::sha1_hex(b), b.len() as u64),
        Source::Remote(src) => {
            let s = st
                .src
                .as_ref()
                .ok_or_else(|| fail(format!("Source {src} not found"), &[]))?;
            match s.kind() {
                Kind::Absent => {
                    return Err(fail(format!("Source {src} not found"), &[("src", src)]));
                }
                Kind::File => {}
                _ => {
                    return Err(fail(
                        format!("Cannot copy invalid source '{src}': not a file"),
                        &[("src", src)],
                    ));
                }
            }
            let sum = s
                .checksum
                .clone()
                .ok_or_else(|| fail(format!("Source {src} not readable"), &[("src", src)]))?;
            (s.content.as_deref(), sum, s.size)
        }
    };
    if let Some(c) = &d.checksum
        && !c.eq_ignore_ascii_case(&new_sum)
    {
        return Err(fail(
            "Copied file does not match the expected checksum. Transfer failed.",
            &[("checksum", &new_sum), ("expected_checksum", c)],
        ));
    }
    if dest.kind() == Kind::Directory {
        return Err(fail(
            format!("Destination {path} is a directory"),
            &[("dest", &path)],
        ));
    }
    let mut mkdirs = Vec::new();
    if !st.parent.exists() {
        if d.dest.ends_with('/') {
            mkdirs = ancestors(&dirname(&path));
        } else {
            // Ansible returns the new content's checksum here, not `dest`.
            return Err(fail(
                format!("Destination directory {} does not exist", dirname(&path)),
                &[("checksum", &new_sum)],
            ));
        }
    } else if st.parent.kind() != Kind::Directory {
        return Err(fail(
            format!("Destination {} is not a directory", st.parent.path),
            &[("dest", &path)],
        ));
    }

    let mut values = Map::new();
    values.insert("dest".into(), path.clone().into());
    if let Some(src) = &d.src {
        values.insert("src".into(), src.clone().into());
    }
    if dest.exists() && !d.force {
        let mut plan = Plan::noop();
        plan.values = values;
        return Ok(plan);
    }
    // With follow, a symlink's target is what gets written.
    let write_path = match (&dest.real, d.follow) {
        (Some(real), true) => real.clone(),
        _ => path.clone(),
    };
    let ids = Ids::resolve(&st.probe, &d.want, &path)?;
    let umask = st.env.umask;
    let mut want = d.want.clone();
    if want.mode == Some(ModeSpec::Preserve) {
        let m = match (&d.source, &st.src) {
            (Source::Remote(_), Some(s)) => s.mode,
            _ => d.src_mode.ok_or_else(|| {
                fail(
                    format!("{}: mode=preserve needs the source's mode (`_src_mode`), which was not provided", d.module),
                    &[],
                )
            })?,
        };
        want.mode = Some(ModeSpec::Octal(m));
    }
    let is_file = dest.kind() == Kind::File;
    let same = is_file && dest.checksum.as_deref() == Some(new_sum.as_str());
    values.insert("checksum".into(), new_sum.clone().into());
    if let Source::Bytes(b) = &d.source {
        values.insert("md5sum".into(), md5_hex(b).into());
    }
    values.insert("size".into(), new_size.into());
    values.insert("state".into(), "file".into());

    if same {
        let attrs = fileops::plan_attrs(&CurAttrs::of(dest), &want, &ids, umask)?;
        let mut plan = if attrs.changes() {
            Plan::change(
                Action::Update,
                vec![Exec::script(attrs.script(&quote(&write_path), false))],
            )
        } else {
            Plan::noop()
        };
        if matches!(d.source, Source::Remote(_)) {
            // `remote_src` runs the copy module itself, whose result is the
            // same whether or not the content changes.
            attrs.values(&mut values);
        } else {
            unchanged_content_result(&mut values, &mut plan, dest, &attrs, ctx);
        }
        plan.values = values;
        return Ok(plan);
    }

    // Write: start from the existing file's attributes (Ansible keeps them), else defaults.
    let base = if is_file {
        CurAttrs::of(dest)
    } else {
        st.env.new_attrs(false)
    };
    let attrs = fileops::plan_attrs(&base, &want, &ids, umask)?;
    // The old file's owner and group are kept where the writer may (as
    // Ansible's atomic move, which ignores `EPERM`).
    let keep_ids = is_file.then_some((base.uid, base.gid));
    let uid = ids.user.as_ref().map(|u| u.0);
    let gid = ids.group.as_ref().map(|g| g.0);
    let backup = (d.backup && is_file).then(|| st.env.backup_name(&write_path));
    let dir_mode = match &d.directory_mode {
        Some(spec) => spec
            .resolve(st.env.new_attrs(true).mode, true, umask)
            .map_err(ModuleError::failed)?,
        None => None,
    };
    let write = AtomicWrite {
        dest: write_path.clone(),
        source: d.source.clone(),
        mode: attrs.mode,
        uid,
        gid,
        keep_ids,
        validate: d.validate.clone(),
        backup: backup.clone(),
        mkdirs,
        dir_mode,
        ..AtomicWrite::default()
    };
    attrs.values(&mut values);
    if let Some(b) = &backup {
        values.insert("backup_file".into(), b.clone().into());
    }
    let action = if dest.exists() {
        Action::Update
    } else {
        Action::Create
    };
    let mut plan = Plan::change(action, vec![write.exec()?]);
    plan.values = values;
    if ctx.diff {
        plan.diff.push(content_diff(d, dest, &path, new_bytes));
    }
    if !matches!(d.source, Source::Remote(_)) {
        // Ansible's copy action returns its list of content diffs, empty
        // without diff mode; in check mode it returns before the copy
        // module runs, so nothing else.
        if ctx.check_mode {
            plan.subject = Some(path.clone());
            plan.values.clear();
        }
        let diffs = plan.diff.iter().map(Diff::to_value).collect();
        plan.values.insert("diff".into(), Value::Array(diffs));
    }
    Ok(plan)
}

/// The result of `copy`/`template` when the content is already right: the
/// action hands over to the file module, which returns `path` and the path
/// info (in check mode of the file as it is), and its diff of the
/// attributes (`{path, mode...}` dicts in diff mode, else the action's empty
/// list). `md5sum` and `src` are not part of it.
fn unchanged_content_result(
    values: &mut Map<String, Value>,
    plan: &mut Plan,
    dest: &PathInfo,
    attrs: &fileops::AttrPlan,
    ctx: &Context,
) {
    values.remove("md5sum");
    values.remove("src");
    values.insert("path".into(), dest.path.clone().into());
    if ctx.check_mode {
        dest.add_path_info(values);
    } else {
        attrs.values(values);
    }
    let path = [("path", dest.path.clone())];
    let side = |attrs: &[(&'static str, String)]| [path.as_slice(), attrs].concat();
    let diff = Diff::attributes(&dest.path, &side(&attrs.before), &side(&attrs.after));
    if ctx.diff {
        values.insert("diff".into(), diff.to_value());
        if attrs.changes() {
            plan.diff.push(diff);
        }
    } else {
        values.insert("diff".into(), Value::Array(Vec::new()));
    }
}

/// MD5 of bytes, in hex (Ansible's legacy `md5sum` return value).
fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Ansible's content diff: old content under the destination's name, new
/// content under the source's. Binary or oversized content is left out.
fn content_diff(d: &Desired, dest: &PathInfo, path: &str, new: Option<&[u8]>) -> Diff {
    let before = match (&dest.content, dest.exists()) {
        (Some(old), _) => fileops::diff_text(old).unwrap_or_default(),
        _ => String::new(),
    };
    let after = new.and_then(fileops::diff_text).unwrap_or_default();
    Diff {
        // Ansible names the old side only when there is one.
        before_header: dest.exists().then(|| path.to_string()),
        after_header: Some(d.after_header.clone().unwrap_or_else(|| path.to_string())),
        before,
        after,
        prepared: None,
        dicts: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn desired(v: Value) -> Desired {
        let a: Args = args::parse(&v).unwrap();
        Copy::validate(&a).unwrap();
        Desired::from_copy(&a).unwrap()
    }

    fn state(d: &Desired, records: &[u8]) -> ContentState {
        let mut stdout =
            b"@env\0umask=0022\0pid=7\0id=uid=0(root) gid=0(root)\0@clock\0date=2024-01-02@03:04:05\0"
                .to_vec();
        stdout.extend_from_slice(records);
        ContentModule
            .parse(
                d,
                &ExecOutput {
                    status: 0,
                    stdout,
                    stderr: vec![],
                },
            )
            .unwrap()
    }

    const PARENT: &[u8] =
        b"@parent\0path=/etc\0stat=41ed 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root\0";

    #[test]
    fn arguments() {
        let d = desired(
            json!({"dest": "/x", "content": {"a": [1, "b"]}, "mode": "0600", "thirsty": "no"}),
        );
        assert_eq!(d.source, Source::Bytes(br#"{"a": [1, "b"]}"#.to_vec()));
        assert!(!d.force);
        let e = args::parse::<Args>(&json!({"dest": "/x", "content": "a", "seuser": "u"})).unwrap();
        assert!(
            Copy::validate(&e)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
        let e = args::parse::<Args>(&json!({"dest": "/x", "content": "a", "validate": "true"}))
            .unwrap();
        assert_eq!(
            Copy::validate(&e).unwrap_err().message,
            "validate must contain %s: true"
        );
        let a = args::parse::<Args>(&json!({"dest": "/x", "src": "f"})).unwrap();
        assert!(
            Desired::from_copy(&a)
                .unwrap_err()
                .to_string()
                .contains("_content_b64")
        );
        let d = desired(json!({"dest": "/x", "src": "f", "_content_b64": "aGk="}));
        assert_eq!(d.source, Source::Bytes(b"hi".to_vec()));
    }

    #[test]
    fn plans_a_new_file() {
        let d = desired(
            json!({"dest": "/etc/x", "content": "new\n", "mode": "0640", "validate": "v %s"}),
        );
        let mut rec = b"@dest\0path=/etc/x\0type=absent\0".to_vec();
        rec.extend_from_slice(PARENT);
        let st = state(&d, &rec);
        let plan = plan_content(
            &d,
            &st,
            &Context {
                diff: true,
                check_mode: false,
            },
        )
        .unwrap();
        assert_eq!(plan.action, Action::Create);
        let s = &plan.apply[0].script;
        assert!(
            s.contains("mktemp /etc/.tend.XXXXXX") && s.contains("chmod -- 0640 \"$tmp\""),
            "{s}"
        );
        assert!(s.contains("v \"$tmp\""), "{s}");
        assert_eq!(plan.apply[0].stdin, b"new\n");
        assert_eq!(plan.values["checksum"], fileops::sha1_hex(b"new\n"));
        assert_eq!(plan.values["mode"], "0640");
        // Ansible names no old side of a file that is not there.
        let mut diff = Diff::content("/etc/x", "", "new\n");
        diff.before_header = None;
        assert_eq!(plan.diff, vec![diff.clone()]);
        assert_eq!(plan.values["diff"], json!([diff.to_value()]));
    }

    #[test]
    fn plans_unchanged_and_changed_files() {
        let d = desired(json!({"dest": "/etc/x", "content": "new\n", "backup": true}));
        let sum = fileops::sha1_hex(b"new\n");
        let mut rec = format!(
            "@dest\0path=/etc/x\0stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root\0sum={sum}\0"
        )
        .into_bytes();
        rec.extend_from_slice(PARENT);
        let plan = plan_content(&d, &state(&d, &rec), &Context::default()).unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert!(plan.apply.is_empty());
        let mut rec = b"@dest\0path=/etc/x\0stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root\0sum=0\0content=4\0old\n\0"
            .to_vec();
        rec.extend_from_slice(PARENT);
        let plan = plan_content(
            &d,
            &state(&d, &rec),
            &Context {
                diff: true,
                check_mode: true,
            },
        )
        .unwrap();
        assert_eq!(plan.action, Action::Update);
        assert!(
            plan.apply[0]
                .script
                .contains("cp -p -- \"$dest\" '/etc/x.7.2024-01-02@03:04:05~'")
        );
        let diff = Diff::content("/etc/x", "old\n", "new\n");
        assert_eq!(plan.diff, vec![diff.clone()]);
        // Check mode: Ansible's copy action returns before the copy module
        // runs, with its diffs and nothing else.
        let only_diff: Map<String, Value> = [("diff".to_string(), json!([diff.to_value()]))]
            .into_iter()
            .collect();
        assert_eq!(plan.values, only_diff);
        // For real: the copy module's values, and an empty diff list
        // without diff mode.
        let plan = plan_content(&d, &state(&d, &rec), &Context::default()).unwrap();
        assert_eq!(plan.values["backup_file"], "/etc/x.7.2024-01-02@03:04:05~");
        assert_eq!(plan.values["md5sum"], md5_hex(b"new\n"));
        assert_eq!(plan.values["diff"], json!([]));
        assert!(plan.values.get("path").is_none());
    }

    #[test]
    fn missing_parent_and_force_no() {
        let d = desired(json!({"dest": "/nope/x", "content": "a"}));
        let st = state(
            &d,
            b"@dest\0path=/nope/x\0type=absent\0@parent\0path=/nope\0type=absent\0",
        );
        let err = plan_content(&d, &st, &Context::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Destination directory /nope does not exist"
        );
        let d = desired(json!({"dest": "/etc/x", "content": "a", "force": false}));
        let mut rec =
            b"@dest\0path=/etc/x\0stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root\0sum=0\0"
                .to_vec();
        rec.extend_from_slice(PARENT);
        assert_eq!(
            plan_content(&d, &state(&d, &rec), &Context::default())
                .unwrap()
                .action,
            Action::NoOp
        );
    }
}
