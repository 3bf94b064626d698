//! The `unarchive` module: unpacks a tar (plain, gzip, bzip2, xz, zstd) or
//! zip archive into a directory on the target.
//!
//! The archive is a controller file (its bytes are sent over standard
//! input, into a private temporary directory) or, with `remote_src`, a file
//! already on the target. One probe compares the archive with `dest` as
//! Ansible does: `tar --diff` for tar archives (differences in owner, group
//! or mode are ignored when the task sets them), and each member's content
//! for zip archives; it also reads the attributes of every member under
//! `dest` when `owner`, `group` or `mode` is set. An archive already
//! unpacked costs that one round trip. Extraction uses the target's `tar`
//! (which must support the compression) or `unzip`. In check mode a zip
//! archive is compared and the change predicted; a tar archive is skipped,
//! as Ansible's tar handler does ("does not support check mode when using
//! gtar").
//!
//! # Examples
//!
//! ```yaml
//! - name: Unpack the release shipped with the playbook
//!   unarchive:
//!     src: app-1.2.tar.gz
//!     dest: /opt/app
//!     owner: app
//!     group: app
//!
//! - name: Unpack a zip already on the host, skipping docs
//!   unarchive:
//!     src: /tmp/site.zip
//!     dest: /var/www/site
//!     remote_src: yes
//!     exclude: ["docs/*"]
//!     list_files: yes
//! ```
//!
//! # Return values
//!
//! - `dest` (string): the directory unpacked into.
//! - `src` (string): the archive.
//! - `handler` (string): the archive type (`TgzArchive`, `TarArchive`, `TarBzipArchive`, `TarXzArchive`, `TarZstdArchive`, `ZipArchive`).
//! - `files` (list): the archive's members, with `list_files`.
//! - `extract_results` (dict): `cmd`, `rc`, `out`, `err` of the extraction, when it ran.
//! - `uid` (int): the id of `dest`'s owner.
//! - `gid` (int): the id of `dest`'s group.
//! - `owner` (string): `dest`'s owner.
//! - `group` (string): `dest`'s group.
//! - `mode` (string): `dest`'s permissions, in octal (`0755`).
//! - `size` (int): `dest`'s size.
//! - `state` (string): `directory`.

use crate::args::{ArgsError, de};
use crate::fileops::{self, CurAttrs, Ids, ModeSpec, Probe, ProbeOutput, WantAttrs, fail};
use crate::host::{Exec, ExecOutput, Host};
use crate::http;
use crate::module::{Context, Converge, MSG_PREFIX, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Arguments of `unarchive` (Ansible's names and aliases).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The archive: a controller file (found like `copy`'s `src`), or with
    /// `remote_src` a file on the target.
    #[serde(deserialize_with = "de::string")]
    pub src: String,
    /// An existing directory on the target to unpack into.
    #[serde(deserialize_with = "de::string")]
    pub dest: String,
    /// `src` is already on the target.
    #[serde(default, deserialize_with = "de::bool")]
    pub remote_src: bool,
    /// Deprecated inverse of `remote_src` (`copy: no` means `remote_src: yes`).
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub copy: Option<bool>,
    /// If this path exists on the target, nothing is done.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub creates: Option<String>,
    /// Return the archive's members as `files`.
    #[serde(default, deserialize_with = "de::bool")]
    pub list_files: bool,
    /// Members (or glob patterns) not to unpack.
    #[serde(default, deserialize_with = "de::list")]
    pub exclude: Vec<String>,
    /// Only these members (or glob patterns) are unpacked.
    #[serde(default, deserialize_with = "de::list")]
    pub include: Vec<String>,
    /// Do not replace files newer than the archive's (`tar --keep-newer-files`).
    #[serde(default, deserialize_with = "de::bool")]
    pub keep_newer: bool,
    /// Extra options for `tar` or `unzip`, one per item.
    #[serde(default, deserialize_with = "de::list")]
    pub extra_opts: Vec<String>,
    /// Owner of the unpacked files.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group of the unpacked files.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Permissions of every unpacked file and directory (octal or symbolic).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Accepted for compatibility.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub io_buffer_size: Option<i64>,
    /// Decrypt a vaulted archive (the engine's concern; vault is not supported yet).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub decrypt: bool,
    /// Accepted for compatibility (URLs as `src` are not supported yet).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub validate_certs: bool,
    /// Internal, set by the engine: the controller-side archive, base64-encoded.
    #[serde(default, rename = "_content_b64", deserialize_with = "de::opt_string")]
    pub content_b64: Option<String>,
    /// Internal, set by the engine: the controller-side archive's mode.
    #[serde(default, rename = "_src_mode", deserialize_with = "de::opt_string")]
    pub src_mode: Option<String>,
    /// Accepted for compatibility; writes are always atomic where possible.
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

fn yes() -> bool {
    true
}

impl Args {
    fn remote(&self) -> bool {
        self.remote_src || self.copy == Some(false)
    }

    fn want(&self) -> WantAttrs {
        WantAttrs {
            mode: self.mode.clone(),
            owner: self.owner.clone(),
            group: self.group.clone(),
        }
    }

    fn wants_attrs(&self) -> bool {
        self.mode.is_some() || self.owner.is_some() || self.group.is_some()
    }

    fn archive_bytes(&self) -> Result<Vec<u8>, ModuleError> {
        if self.remote() {
            return Ok(Vec::new());
        }
        match &self.content_b64 {
            Some(b) => base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| {
                    ModuleError::failed(format!("unarchive: invalid `_content_b64`: {e}"))
                }),
            None => Err(ModuleError::failed(format!(
                "unarchive: the content of the controller-side archive {} was not provided (`_content_b64`)",
                self.src
            ))),
        }
    }
}

/// The `unarchive` module.
pub struct Unarchive;

/// Plan value marking a task skipped by `creates`.
const SKIPPED: &str = "_skipped";

#[async_trait]
impl TypedModule for Unarchive {
    type Args = Args;
    const NAME: &'static str = "unarchive";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "unarchive",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        fileops::reject_preserve(&a.mode)?;
        if a.src.contains("://") {
            return Err(ArgsError::field(
                "src",
                "unarchive: a URL as src is not supported yet (download it with get_url first)",
            ));
        }
        if a.remote_src && a.copy == Some(true) {
            return Err(ArgsError::general(
                "parameters are mutually exclusive: copy|remote_src",
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
        let mut outcome = converge(&Unarchive, &args, ctx, host).await?;
        if outcome.values.remove(SKIPPED).is_some() {
            outcome.skipped = true;
        }
        Ok(outcome)
    }
}

/// What the probe found.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// `__tend_*` status words (`nosrc`, `nodest`, `created`, `nounzip`, `badlist`).
    status: Option<String>,
    /// `tar`, `gz`, `bz2`, `xz`, `zst` or `zip`.
    kind: String,
    /// The archive's members.
    list: Vec<String>,
    /// The difference report (tar --diff lines, or zip comparisons).
    diff: Vec<String>,
    /// Per member (same order): `MODE UID GID` in octal/decimal, or `missing`.
    attrs: Vec<Option<(u32, u32, u32, bool)>>,
    /// Errors of the listing.
    list_err: String,
    /// The connecting user's uid.
    uid: u32,
    /// `dest`'s attributes: `MODE UID GID OWNER GROUP SIZE`.
    dest: Vec<String>,
    probe: ProbeOutput,
}

/// The sh fragment that makes `$a` the archive (from stdin, or the remote file).
fn archive_setup(a: &Args) -> String {
    let mut s = String::from(
        "tmpd=$(mktemp -d) || { echo 'TEND_MSGcannot create a temporary directory' >&2; exit 1; }\n\
         trap 'rm -rf -- \"$tmpd\"' EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n",
    )
    .replace("TEND_MSG", MSG_PREFIX);
    if a.remote() {
        s.push_str(&format!(
            "a={}\ncase $a in /*) ;; *) a=$PWD/$a ;; esac\n",
            quote(&a.src)
        ));
    } else {
        s.push_str("a=\"$tmpd/archive\"\ncat > \"$a\" || exit 1\n");
    }
    s.push_str(&format!("d={}\n", quote(&a.dest)));
    s
}

/// `tar` arguments for exclusions.
fn tar_excludes(a: &Args) -> String {
    a.exclude
        .iter()
        .map(|e| format!(" {}", quote(&format!("--exclude={e}"))))
        .collect()
}

fn words(list: &[String]) -> String {
    list.iter().map(|w| format!(" {}", quote(w))).collect()
}

/// zip: include patterns, then `-x` exclusions.
fn zip_patterns(a: &Args) -> String {
    let mut s = words(&a.include);
    if !a.exclude.is_empty() {
        s.push_str(" -x");
        s.push_str(&words(&a.exclude));
    }
    s
}

fn compression_flag(kind: &str) -> &'static str {
    match kind {
        "gz" => " -z",
        "bz2" => " -j",
        "xz" => " -J",
        "zst" => " --zstd",
        _ => "",
    }
}

fn handler(kind: &str) -> &'static str {
    match kind {
        "zip" => "ZipArchive",
        "gz" => "TgzArchive",
        "bz2" => "TarBzipArchive",
        "xz" => "TarXzArchive",
        "zst" => "TarZstdArchive",
        _ => "TarArchive",
    }
}

const DETECT: &str = r#"_m=$(od -An -tx1 -N6 -- "$a" 2>/dev/null | tr -d ' \n')
case $_m in 504b0304*|504b0506*) t=zip ;; 1f8b*) t=gz ;; 425a68*) t=bz2 ;; fd377a585a00*) t=xz ;; 28b52ffd*) t=zst ;; *) t=tar ;; esac
printf '__tend_type %s\n' "$t"
case $t in gz) z=-z ;; bz2) z=-j ;; xz) z=-J ;; zst) z=--zstd ;; *) z= ;; esac
"#;

impl Converge for Unarchive {
    type Args = Args;
    type State = State;
    const APPLY_FAILED: &'static str = "unarchive: unpacking failed";

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        let mut s = String::from("LC_ALL=C; export LC_ALL\n");
        s.push_str(http::SH_PART);
        s.push_str("printf '__tend_uid %s\\n' \"$(id -u)\"\n");
        if let Some(c) = &a.creates {
            s.push_str(&format!(
                "if [ -e {} ]; then cat >/dev/null; echo __tend_created; exit 0; fi\n",
                quote(c)
            ));
        }
        s.push_str(&archive_setup(a));
        // Ansible's action checks `dest` before its module looks at `src`.
        s.push_str("if [ ! -d \"$d\" ]; then echo __tend_nodest; exit 0; fi\n");
        if a.remote() {
            s.push_str("if [ ! -f \"$a\" ]; then echo __tend_nosrc; exit 0; fi\n");
        }
        s.push_str(DETECT);
        s.push_str(&format!(
            "if [ $t = zip ]; then\n\
             \x20 command -v unzip >/dev/null 2>&1 || {{ echo __tend_nounzip; exit 0; }}\n\
             \x20 unzip -Z1 \"$a\"{zp} > \"$tmpd/list\" 2>\"$tmpd/lerr\" || {{ echo __tend_badlist; tend_part lerr \"$tmpd/lerr\"; exit 0; }}\n\
             \x20 while IFS= read -r f; do\n\
             \x20   case $f in\n\
             \x20     */) [ -d \"$d/$f\" ] || printf '%s: Missing directory\\n' \"$f\" ;;\n\
             \x20     *) if [ ! -e \"$d/$f\" ] && [ ! -L \"$d/$f\" ]; then printf '%s: Warning: Cannot stat: No such file or directory\\n' \"$f\"\n\
             \x20        elif ! unzip -p \"$a\" \"$(printf '%s' \"$f\" | sed 's/[][*?\\\\]/\\\\&/g')\" | cmp -s - \"$d/$f\"; then printf '%s: Contents differ\\n' \"$f\"; fi ;;\n\
             \x20   esac\n\
             \x20 done < \"$tmpd/list\" > \"$tmpd/diff\"\n\
             else\n\
             \x20 tar $z -tf \"$a\" --show-transformed-names{opts}{ex}{inc} > \"$tmpd/list\" 2>\"$tmpd/lerr\" || {{ echo __tend_badlist; tend_part lerr \"$tmpd/lerr\"; exit 0; }}\n\
             \x20 (cd -- \"$d\" && tar $z -d -f \"$a\"{opts}{ex}{inc}) > \"$tmpd/diff\" 2>&1\n\
             fi\n\
             tend_part list \"$tmpd/list\"; tend_part diff \"$tmpd/diff\"\n",
            zp = zip_patterns(a),
            opts = words(&a.extra_opts),
            ex = tar_excludes(a),
            inc = words(&a.include),
        ));
        if a.wants_attrs() {
            s.push_str(
                "while IFS= read -r f; do stat -c '%a %u %g %F' -- \"$d/$f\" 2>/dev/null || echo missing; done < \"$tmpd/list\" > \"$tmpd/attrs\"\n\
                 tend_part attrs \"$tmpd/attrs\"\n",
            );
        }
        s.push_str("printf '__tend_dest %s\\n' \"$(stat -c '%a %u %g %U %G %s' -- \"$d\")\"\n");
        // Users and groups, resolved as the file modules do.
        let mut p = Probe::new();
        p.ids(a.owner.as_deref(), a.group.as_deref());
        let ids = p.finish().script;
        s.push_str(&format!(
            "( {}\n) > \"$tmpd/ids\"\ntend_part ids \"$tmpd/ids\"\n",
            ids
        ));
        let stdin = a.archive_bytes().unwrap_or_default();
        Exec::with_stdin(s, stdin)
    }

    fn parse(&self, a: &Args, out: &ExecOutput) -> Result<State, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::applying(
                "unarchive: reading the target's state failed",
                out,
            ));
        }
        // The controller-side archive must be readable before anything else.
        a.archive_bytes()?;
        let parts = http::parts(&out.stdout);
        let mut st = State::default();
        for (name, bytes) in &parts {
            let text = String::from_utf8_lossy(bytes).into_owned();
            match name.as_str() {
                "" => {
                    if let Some(t) = text.strip_prefix("__tend_type ") {
                        st.kind = t.trim().to_string();
                    } else if let Some(u) = text.strip_prefix("__tend_uid ") {
                        st.uid = u.trim().parse().unwrap_or(0);
                    } else if let Some(d) = text.strip_prefix("__tend_dest ") {
                        st.dest = d.split_whitespace().map(str::to_string).collect();
                    } else if let Some(w) = text.strip_prefix("__tend_") {
                        st.status = Some(w.trim().to_string());
                    }
                }
                "list" => st.list = text.lines().map(str::to_string).collect(),
                "diff" => st.diff = text.lines().map(str::to_string).collect(),
                "lerr" => st.list_err = text.trim().to_string(),
                "attrs" => {
                    st.attrs = text
                        .lines()
                        .map(|l| {
                            let w: Vec<&str> = l.splitn(4, ' ').collect();
                            if w.len() < 4 {
                                return None;
                            }
                            Some((
                                u32::from_str_radix(w[0], 8).ok()?,
                                w[1].parse().ok()?,
                                w[2].parse().ok()?,
                                w[3] == "directory",
                            ))
                        })
                        .collect()
                }
                "ids" => {
                    st.probe = ProbeOutput::parse(&ExecOutput {
                        status: 0,
                        stdout: bytes.clone(),
                        stderr: Vec::new(),
                    })?
                }
                _ => {}
            }
        }
        Ok(st)
    }

    fn plan(&self, a: &Args, st: &State, ctx: &Context) -> Result<Plan, ModuleError> {
        let pairs = [("src", a.src.as_str()), ("dest", a.dest.as_str())];
        match st.status.as_deref() {
            Some("nosrc") => {
                return Err(fail(format!("Source '{}' does not exist", a.src), &[]));
            }
            Some("nodest") => {
                return Err(fail(
                    format!("dest '{}' must be an existing dir", a.dest),
                    &[],
                ));
            }
            Some("created") => {
                // Reported as skipped by `run`, as Ansible's action does.
                let mut p = Plan::noop().with(SKIPPED, true);
                p.msg = Some(format!(
                    "skipped, since {} exists",
                    a.creates.clone().unwrap_or_default()
                ));
                return Ok(p);
            }
            Some("nounzip") => {
                return Err(fail(
                    format!(
                        "Failed to find handler for \"{}\": the archive is a zip file and `unzip` is not installed on the target",
                        a.src
                    ),
                    &pairs,
                ));
            }
            Some("badlist") => {
                return Err(fail(
                    format!(
                        "Failed to find handler for \"{}\". Make sure the required command to extract the file is installed. {}",
                        a.src, st.list_err
                    ),
                    &pairs,
                ));
            }
            _ => {}
        }
        if ctx.check_mode && st.kind != "zip" {
            // Ansible's tar handlers exit as soon as they are made in check
            // mode (a module skip).
            let mut p = Plan::noop().with(SKIPPED, true).with("failed", false);
            p.msg = Some(
                "remote module (ansible.legacy.unarchive) does not support check mode when using gtar"
                    .into(),
            );
            return Ok(p);
        }
        let mut values = Map::new();
        values.insert("dest".into(), a.dest.clone().into());
        values.insert("src".into(), a.src.clone().into());
        values.insert("handler".into(), handler(&st.kind).into());
        if a.list_files {
            values.insert("files".into(), json!(st.list));
        }
        if st.dest.len() >= 6 {
            let d = &st.dest;
            let mode = u32::from_str_radix(&d[0], 8).unwrap_or(0);
            values.insert("mode".into(), fileops::fmt_mode(mode).into());
            values.insert("uid".into(), d[1].parse::<u64>().unwrap_or(0).into());
            values.insert("gid".into(), d[2].parse::<u64>().unwrap_or(0).into());
            values.insert("owner".into(), d[3].clone().into());
            values.insert("group".into(), d[4].clone().into());
            values.insert("size".into(), d[5].parse::<u64>().unwrap_or(0).into());
            values.insert("state".into(), "directory".into());
        }
        let differs = relevant_differences(a, st);
        if differs.is_empty() {
            // Unpacked already: maybe attributes only.
            let (script, before, after) = attr_changes(a, st)?;
            let mut plan = if script.is_empty() {
                Plan::noop()
            } else {
                Plan::change(Action::Update, vec![Exec::script(script)]).with_diff(Diff {
                    before_header: Some(a.dest.clone()),
                    after_header: Some(a.dest.clone()),
                    before,
                    after,
                    prepared: None,
                    dicts: None,
                })
            };
            plan.values = values;
            return Ok(plan);
        }
        let mut plan = Plan::change(Action::Update, vec![extract(a, st)?]).with_diff(Diff {
            before_header: Some(a.dest.clone()),
            after_header: Some(a.src.clone()),
            before: differs.iter().map(|l| format!("{l}\n")).collect(),
            after: st.list.iter().map(|l| format!("{l}\n")).collect(),
            prepared: None,
            dicts: None,
        });
        plan.values = values;
        Ok(plan)
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        let parts = http::parts(&out.stdout);
        let part = |n: &str| {
            parts
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        };
        let Some(cmd) = part("cmd") else {
            return Ok(());
        };
        let rc: i64 = part("rc").and_then(|r| r.trim().parse().ok()).unwrap_or(0);
        let words: Vec<&str> = cmd.split('\0').filter(|w| !w.is_empty()).collect();
        let results = json!({
            "cmd": words,
            "rc": rc,
            "out": part("out").unwrap_or_default(),
            "err": part("err").unwrap_or_default(),
        });
        plan.values.insert("extract_results".into(), results);
        if rc != 0 {
            let src = plan.values.get("src").cloned().unwrap_or(Value::Null);
            let dest = plan.values.get("dest").cloned().unwrap_or(Value::Null);
            let values = std::mem::take(&mut plan.values);
            return Err(ModuleError::Failed {
                msg: format!(
                    "failed to unpack {} to {}",
                    src.as_str().unwrap_or(""),
                    dest.as_str().unwrap_or("")
                ),
                values,
            });
        }
        Ok(())
    }
}

/// The difference lines that count (Ansible's `TgzArchive.is_unarchived` rules).
fn relevant_differences(a: &Args, st: &State) -> Vec<String> {
    let root = st.uid == 0;
    st.diff
        .iter()
        .filter(|l| {
            if l.ends_with(": Uid differs") {
                return root && a.owner.is_none();
            }
            if l.ends_with(": Gid differs") {
                return root && a.group.is_none();
            }
            if l.ends_with(": Mode differs") {
                return a.mode.is_none();
            }
            [
                ": Mod time differs",
                ": Warning: Cannot stat: No such file or directory",
                ": Symlink differs",
                ": Contents differ",
                ": Size differs",
                ": Missing directory",
                ": Invalid owner",
                ": Invalid group",
            ]
            .iter()
            .any(|m| l.contains(m))
                || l.starts_with("tar: ") && !l.contains("Cannot stat")
        })
        .cloned()
        .collect()
}

/// chown/chgrp/chmod for members whose attributes differ; and diff text.
fn attr_changes(a: &Args, st: &State) -> Result<(String, String, String), ModuleError> {
    if !a.wants_attrs() {
        return Ok(Default::default());
    }
    let want = a.want();
    let ids = Ids::resolve(&st.probe, &want, &a.dest)?;
    let (mut script, mut before, mut after) = (String::new(), String::new(), String::new());
    for (name, attrs) in st.list.iter().zip(&st.attrs) {
        let Some((mode, uid, gid, is_dir)) = attrs else {
            continue;
        };
        let cur = CurAttrs {
            mode: *mode,
            uid: *uid,
            gid: *gid,
            owner: None,
            group: None,
            is_dir: *is_dir,
        };
        let plan = fileops::plan_attrs(&cur, &want, &ids, 0o022)?;
        if plan.changes() {
            let path = fileops::join(&a.dest, name.trim_end_matches('/'));
            script.push_str(&plan.script(&quote(&path), true));
            let show = |pairs: &[(&str, String)]| {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            before.push_str(&format!("{name}: {}\n", show(&plan.before)));
            after.push_str(&format!("{name}: {}\n", show(&plan.after)));
        }
    }
    Ok((script, before, after))
}

/// The extraction script (the archive is sent again on stdin).
fn extract(a: &Args, st: &State) -> Result<Exec, ModuleError> {
    let mut s = String::from("LC_ALL=C; export LC_ALL\n");
    s.push_str(http::SH_PART);
    s.push_str(&archive_setup(a));
    // The command as words: literal, or the archive (`$a`) and `dest` (`$d`).
    enum W {
        Lit(String),
        Archive,
        Dest,
    }
    let lit = |w: &str| W::Lit(w.to_string());
    let mut argv: Vec<W> = Vec::new();
    if st.kind == "zip" {
        argv.extend([lit("unzip"), lit("-o"), W::Archive]);
        argv.extend(a.extra_opts.iter().map(|w| lit(w)));
        argv.extend(a.include.iter().map(|w| lit(w)));
        if !a.exclude.is_empty() {
            argv.push(lit("-x"));
            argv.extend(a.exclude.iter().map(|w| lit(w)));
        }
        argv.extend([lit("-d"), W::Dest]);
    } else {
        argv.extend([lit("tar"), lit("--extract"), lit("-C"), W::Dest]);
        let z = compression_flag(&st.kind).trim();
        if !z.is_empty() {
            argv.push(lit(z));
        }
        if a.keep_newer {
            argv.push(lit("--keep-newer-files"));
        }
        argv.extend(a.exclude.iter().map(|e| W::Lit(format!("--exclude={e}"))));
        argv.extend(a.extra_opts.iter().map(|w| lit(w)));
        argv.extend([lit("-f"), W::Archive]);
        argv.extend(a.include.iter().map(|w| lit(w)));
    }
    let render = |w: &W, archive: &str, dest: &str| match w {
        W::Archive => archive.to_string(),
        W::Dest => dest.to_string(),
        W::Lit(l) => quote(l).into_owned(),
    };
    let cmd: Vec<String> = argv.iter().map(|w| render(w, "\"$a\"", "\"$d\"")).collect();
    let mut shown: Vec<String> = argv
        .iter()
        .map(|w| render(w, &quote(&a.src), &quote(&a.dest)))
        .collect();
    // The tool by its full path, as Ansible's `get_bin_path` gives it.
    if let Some(tool) = shown.first_mut() {
        *tool = format!("\"$(command -v {tool} || echo {tool})\"");
    }
    s.push_str(&format!(
        "{} > \"$tmpd/out\" 2> \"$tmpd/err\"\nprintf '%s\\n' $? > \"$tmpd/rc\"\n\
         printf '%s\\0' {} > \"$tmpd/cmd\"\n\
         tend_part cmd \"$tmpd/cmd\"; tend_part rc \"$tmpd/rc\"; tend_part out \"$tmpd/out\"; tend_part err \"$tmpd/err\"\n",
        cmd.join(" "),
        shown.join(" ")
    ));
    if a.wants_attrs() {
        s.push_str("[ \"$(cat \"$tmpd/rc\")\" = 0 ] || exit 0\n");
        let mut each = String::new();
        if let Some(o) = &a.owner {
            each.push_str(&format!("chown -h -- {} \"$d/$f\" || exit 1; ", quote(o)));
        }
        if let Some(g) = &a.group {
            each.push_str(&format!("chgrp -h -- {} \"$d/$f\" || exit 1; ", quote(g)));
        }
        match &a.mode {
            Some(ModeSpec::Octal(m)) => each.push_str(&format!(
                "[ -L \"$d/$f\" ] || chmod -- {m:04o} \"$d/$f\" || exit 1; "
            )),
            Some(ModeSpec::Symbolic(m)) => each.push_str(&format!(
                "[ -L \"$d/$f\" ] || chmod -- {} \"$d/$f\" || exit 1; ",
                quote(m)
            )),
            _ => {}
        }
        let list = if st.kind == "zip" {
            format!("unzip -Z1 \"$a\"{}", zip_patterns(a))
        } else {
            format!(
                "tar{} -tf \"$a\" --show-transformed-names{}{}{}",
                compression_flag(&st.kind),
                words(&a.extra_opts),
                tar_excludes(a),
                words(&a.include)
            )
        };
        s.push_str(&format!(
            "{list} | while IFS= read -r f; do [ -e \"$d/$f\" ] || [ -L \"$d/$f\" ] || continue; {each}done || exit 1\n"
        ));
    }
    Ok(Exec::with_stdin(s, a.archive_bytes()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;

    fn parsed(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        Unarchive::validate(&a).unwrap();
        a
    }

    fn state(a: &Args, stdout: &str) -> State {
        Unarchive
            .parse(
                a,
                &ExecOutput {
                    status: 0,
                    stdout: stdout.as_bytes().to_vec(),
                    stderr: vec![],
                },
            )
            .unwrap()
    }

    fn framed(parts: &[(&str, &str)], lines: &str) -> String {
        let mut s = String::from(lines);
        for (n, body) in parts {
            s.push_str(&format!("__tend_part {n} {}\n{body}", body.len()));
        }
        s
    }

    #[test]
    fn unpacked_archive_is_unchanged() {
        let a = parsed(json!({"src": "app.tgz", "dest": "/opt/app", "_content_b64": "AAAA"}));
        let st = state(
            &a,
            &framed(
                &[("list", "app/\napp/x\n"), ("diff", "")],
                "__tend_uid 0\n__tend_type gz\n__tend_dest 755 0 0 root root 4096\n",
            ),
        );
        let plan = Unarchive.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert_eq!(plan.values["handler"], "TgzArchive");
        assert_eq!(plan.values["mode"], "0755");
        // The probe carries the archive on stdin.
        let ex = Unarchive.probe(&a, &Context::default());
        assert_eq!(ex.stdin, vec![0, 0, 0]);
        assert!(ex.script.contains("tar $z -d -f \"$a\""), "{}", ex.script);
    }

    #[test]
    fn check_mode_skips_tar_archives_as_ansibles_gtar_handler() {
        let a = parsed(json!({"src": "app.tgz", "dest": "/opt/app", "_content_b64": "AAAA"}));
        let st = state(
            &a,
            &framed(
                &[
                    ("list", "app/\napp/x\n"),
                    (
                        "diff",
                        "app/x: Warning: Cannot stat: No such file or directory\n",
                    ),
                ],
                "__tend_uid 0\n__tend_type gz\n__tend_dest 755 0 0 root root 4096\n",
            ),
        );
        let check = Context {
            check_mode: true,
            diff: false,
        };
        let plan = Unarchive.plan(&a, &st, &check).unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert!(plan.values.contains_key(SKIPPED));
        assert_eq!(plan.values["failed"], false);
        assert_eq!(
            plan.msg.as_deref(),
            Some(
                "remote module (ansible.legacy.unarchive) does not support check mode when using gtar"
            )
        );
        // A real run extracts, naming the tool by its path.
        let plan = Unarchive.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Update);
        assert!(
            plan.apply[0]
                .script
                .contains("\"$(command -v tar || echo tar)\" --extract"),
            "{}",
            plan.apply[0].script
        );
    }

    #[test]
    fn differences_follow_ansible_rules() {
        let a = parsed(
            json!({"src": "/tmp/a.tar", "dest": "/d", "remote_src": true, "mode": "0640", "owner": "app"}),
        );
        let diff = "x: Mode differs\nx: Uid differs\ny: Mod time differs\n";
        let st = state(
            &a,
            &framed(
                &[
                    ("list", "x\ny\n"),
                    ("diff", diff),
                    ("attrs", "644 0 0 regular file\n640 2902 0 regular file\n"),
                    ("ids", "@user:app\0id=2902\0name=app\0"),
                ],
                "__tend_uid 0\n__tend_type tar\n",
            ),
        );
        assert_eq!(relevant_differences(&a, &st), vec!["y: Mod time differs"]);
        let plan = Unarchive
            .plan(
                &a,
                &st,
                &Context {
                    diff: true,
                    check_mode: false,
                },
            )
            .unwrap();
        assert_eq!(plan.action, Action::Update);
        let s = &plan.apply[0].script;
        assert!(s.contains("tar --extract -C \"$d\" -f \"$a\""), "{s}");
        assert!(s.contains("chown -h -- app \"$d/$f\""), "{s}");
        assert!(plan.apply[0].stdin.is_empty(), "remote_src sends nothing");
        assert_eq!(plan.diff[0].before, "y: Mod time differs\n");
        // Only attributes differ: they alone are fixed.
        let st = state(
            &a,
            &framed(
                &[
                    ("list", "x\n"),
                    ("diff", "x: Mode differs\n"),
                    ("attrs", "644 2902 0 regular file\n"),
                    ("ids", "@user:app\0id=2902\0name=app\0"),
                ],
                "__tend_uid 0\n__tend_type tar\n",
            ),
        );
        let plan = Unarchive.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.apply[0].script, "chmod -- 0640 /d/x || exit 1\n");
    }

    #[tokio::test]
    async fn creates_skips_the_task() {
        struct Created;
        #[async_trait]
        impl Host for Created {
            async fn exec(&self, r: Exec) -> Result<ExecOutput, crate::host::HostError> {
                assert!(r.script.starts_with("LC_ALL=C"), "{}", r.script);
                Ok(ExecOutput {
                    status: 0,
                    stdout: b"__tend_uid 0\n__tend_created\n".to_vec(),
                    stderr: vec![],
                })
            }
        }
        let a =
            parsed(json!({"src": "/a.tgz", "dest": "/d", "remote_src": true, "creates": "/d/x"}));
        let o = TypedModule::run(&Unarchive, a, &Context::default(), &Created)
            .await
            .unwrap();
        assert!(o.skipped && !o.changed);
        assert_eq!(o.msg.as_deref(), Some("skipped, since /d/x exists"));
        assert!(!o.values.contains_key(SKIPPED));
    }

    #[test]
    fn clear_errors() {
        let a = parsed(json!({"src": "/x.zip", "dest": "/d", "remote_src": true}));
        let err = Unarchive
            .plan(&a, &state(&a, "__tend_nounzip\n"), &Context::default())
            .unwrap_err();
        assert!(
            err.to_string().contains("`unzip` is not installed"),
            "{err}"
        );
        let err = Unarchive
            .plan(&a, &state(&a, "__tend_nodest\n"), &Context::default())
            .unwrap_err();
        assert_eq!(err.to_string(), "dest '/d' must be an existing dir");
        let bad: Args = args::parse(&json!({"src": "http://h/a.tgz", "dest": "/d"})).unwrap();
        assert!(
            Unarchive::validate(&bad)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
        let a = parsed(json!({"src": "a.zip", "dest": "/d"}));
        let ex = extract(
            &a,
            &State {
                kind: "zip".into(),
                ..State::default()
            },
        )
        .unwrap_err();
        assert!(ex.to_string().contains("_content_b64"));
    }
}
