//! The `get_url` module: downloads a file over HTTP, HTTPS or FTP to the target.
//!
//! The download runs on the target with `curl` (or `wget` when curl is
//! missing), configured through standard input so that credentials and
//! headers never appear on a command line. The file lands in a temporary
//! directory next to `dest`, is checked against `checksum`, and is renamed
//! over `dest` only when its content differs. An existing `dest` whose
//! `checksum` matches is not downloaded again (unless `force`). Without
//! `force` and `checksum`, an existing `dest` is asked for as Ansible does,
//! with `If-Modified-Since` (its mtime): the probe sends a `HEAD` request
//! with that condition (curl only), a `304 Not Modified` is `ok` with
//! nothing changed, else the file is downloaded again and replaced when its
//! content differs. In check mode the probe asks with `HEAD` as Ansible's
//! module does (`checksum_src` is then the SHA-1 of an empty body). Either
//! way an unchanged file costs one round trip (the probe). A `dest`
//! directory receives the file under the name of the response's
//! `Content-Disposition` or the URL's last path segment.
//!
//! # Examples
//!
//! ```yaml
//! - name: Download the release
//!   get_url:
//!     url: https://example.com/releases/app-1.2.tar.gz
//!     dest: /opt/app/app-1.2.tar.gz
//!     checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!     mode: "0644"
//!
//! - name: Fetch a token-protected file
//!   get_url:
//!     url: https://internal.example.com/config.json
//!     dest: /etc/app/
//!     headers:
//!       Authorization: "Bearer {{ token }}"
//!     force: yes
//! ```
//!
//! # Return values
//!
//! - `dest` (string): the file written (inside a `dest` directory, its full path).
//! - `url` (string): the URL, with any password masked.
//! - `checksum_src` (string): SHA-1 of the downloaded file.
//! - `checksum_dest` (string): SHA-1 of the file that was at `dest` before, or null.
//! - `md5sum` (string): MD5 of the file at `dest` after the download.
//! - `status_code` (int): the HTTP status of the download.
//! - `msg` (string): `OK (N bytes)`, or why nothing was downloaded.
//! - `elapsed` (int): seconds the download took.
//! - `src` (string): the temporary file the download went to.
//! - `backup_file` (string): the copy of the old file, with `backup`.
//! - `size` (int): the file's size in bytes.
//! - `mode` (string): the file's permissions, in octal (`0644`).
//! - `owner` (string): the file's owner.
//! - `group` (string): the file's group.
//! - `uid` (int): the owner's id.
//! - `gid` (int): the group's id.
//! - `state` (string): `file`.

use crate::args::{ArgsError, de};
use crate::fileops::{
    self, CurAttrs, Ids, Kind, ModeSpec, PathInfo, Probe, ProbeOutput, StatOpts, WantAttrs,
    dirname, fail, join,
};
use crate::host::{Exec, ExecOutput, Host};
use crate::http::{self, Request, Response};
use crate::module::{Context, Converge, MSG_PREFIX, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

fn yes() -> bool {
    true
}

fn ten() -> i64 {
    10
}

fn agent() -> String {
    "ansible-httpget".into()
}

/// Arguments of `get_url` (Ansible's names and aliases).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The URL to download (`http`, `https` or `ftp`).
    #[serde(deserialize_with = "de::string")]
    pub url: String,
    /// Where to put the file: a path, or an existing directory that receives
    /// the file under the server's (or the URL's) name.
    #[serde(deserialize_with = "de::string")]
    pub dest: String,
    /// `ALGORITHM:HEX` (`sha256:9f86...`): the download must match it, and an
    /// existing `dest` that matches is not downloaded again.
    #[serde(default, deserialize_with = "de::string")]
    pub checksum: String,
    /// Download every time and replace `dest` when the content differs
    /// (default: when `dest` is missing, its `checksum` differs, or without a
    /// `checksum` the server says it was modified since its mtime).
    #[serde(default, deserialize_with = "de::bool")]
    pub force: bool,
    /// Extra request headers (a mapping).
    #[serde(default)]
    pub headers: Option<Map<String, Value>>,
    /// Seconds to wait for the connection and for data.
    #[serde(default = "ten", deserialize_with = "de::int")]
    pub timeout: i64,
    /// User name for HTTP basic authentication (sent through curl's standard input).
    #[serde(default, alias = "username", deserialize_with = "de::opt_string")]
    pub url_username: Option<String>,
    /// Password for HTTP basic authentication (never on a command line).
    #[serde(default, alias = "password", deserialize_with = "de::opt_string")]
    pub url_password: Option<String>,
    /// Send the credentials without waiting for a challenge (tend always does).
    #[serde(default, deserialize_with = "de::bool")]
    pub force_basic_auth: bool,
    /// Verify the server's TLS certificate.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub validate_certs: bool,
    /// Use the proxy environment variables of the target.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub use_proxy: bool,
    /// The `User-Agent` header.
    #[serde(default = "agent", deserialize_with = "de::string")]
    pub http_agent: String,
    /// Directory for the temporary download (default: `dest`'s directory, for an atomic rename).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tmp_dest: Option<String>,
    /// Keep the old file as `dest.PID.YYYY-MM-DD@HH:MM:SS~` when it is replaced.
    #[serde(default, deserialize_with = "de::bool")]
    pub backup: bool,
    /// Permissions of `dest` (octal or symbolic).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Owner of `dest`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group of `dest`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Accepted for compatibility (curl does not ask for compressed content).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub decompress: bool,
    /// Accepted for compatibility (curl does not read `~/.netrc` here).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub use_netrc: bool,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub unsafe_writes: Option<bool>,
    /// Not supported yet.
    #[serde(default)]
    pub client_cert: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub client_key: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub ciphers: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub unredirected_headers: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub use_gssapi: Option<Value>,
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

/// What `checksum` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// These hex digits.
    Hex(String),
    /// The line for the URL's file in this checksum file (`SHA256SUMS`).
    Url(String),
}

/// `checksum` split into algorithm and lowercase hex digits (or a checksum file's URL).
fn parse_checksum(s: &str) -> Result<Option<(&'static str, Want)>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let (algo, hex) = s
        .split_once(':')
        .ok_or("The checksum parameter has to be in format <algorithm>:<checksum>")?;
    let algo = fileops::ALGORITHMS
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(algo))
        .ok_or_else(|| format!("get_url: unsupported checksum algorithm `{algo}`"))?;
    if ["http://", "https://", "ftp://", "file://"]
        .iter()
        .any(|p| hex.starts_with(p))
    {
        return Ok(Some((algo, Want::Url(hex.to_string()))));
    }
    Ok(Some((algo, Want::Hex(clean_hex(hex)?))))
}

/// Ansible keeps only the word characters of a checksum, lowercased.
fn clean_hex(hex: &str) -> Result<String, String> {
    let hex: String = hex
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("The checksum format is invalid".into());
    }
    Ok(hex)
}

/// The checksum of `filename` in a checksum file (`HEX  NAME`, `HEX *NAME`,
/// or a single `HEX`), as Ansible's `parse_digest_lines` reads it.
fn digest_for(text: &str, filename: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if let [one] = lines.as_slice()
        && one.split_whitespace().count() == 1
    {
        return Some(one.trim().to_string());
    }
    lines.iter().find_map(|l| {
        let mut parts = l.split_whitespace();
        let sum = parts.next()?;
        let name = parts.next()?;
        let name = name.trim_start_matches('*');
        let name = name.strip_prefix("./").unwrap_or(name);
        (name == filename).then(|| sum.to_string())
    })
}

/// The `get_url` module.
pub struct GetUrl;

#[async_trait]
impl TypedModule for GetUrl {
    type Args = Args;
    const NAME: &'static str = "get_url";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "get_url",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        for (name, v) in [
            ("client_cert", &a.client_cert),
            ("client_key", &a.client_key),
            ("ciphers", &a.ciphers),
            ("unredirected_headers", &a.unredirected_headers),
            ("use_gssapi", &a.use_gssapi),
        ] {
            if v.is_some() {
                return Err(fileops::unsupported("get_url", name));
            }
        }
        fileops::reject_preserve(&a.mode)?;
        if !crate::args::is_templated(&a.checksum) {
            parse_checksum(&a.checksum).map_err(|m| ArgsError::field("checksum", m))?;
        }
        Ok(())
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        converge(&GetUrl, &args, ctx, host).await
    }
}

/// Request options shared with the download script.
fn request(a: &Args) -> Request {
    let headers = a
        .headers
        .iter()
        .flatten()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect();
    Request {
        url: a.url.clone(),
        method: None,
        headers,
        user: a
            .url_username
            .clone()
            .map(|u| (u, a.url_password.clone().unwrap_or_default())),
        timeout: a.timeout.max(1) as u64,
        validate_certs: a.validate_certs,
        follow: true,
        agent: a.http_agent.clone(),
        use_proxy: a.use_proxy,
        ..Request::default()
    }
}

/// The checksum for the URL's file, from the checksum file the probe read.
fn resolve_sums(a: &Args, sums_url: &str, probe: &ProbeOutput) -> Result<String, ModuleError> {
    let masked = http::mask_url(sums_url);
    let rec = probe.records.get("sums").ok_or_else(|| {
        ModuleError::failed("get_url: neither curl nor wget is installed on the target")
    })?;
    let ok = rec.get("rc").as_deref() == Some("0") && rec.get("code").as_deref() == Some("200");
    let text = rec
        .content
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    if !ok {
        return Err(fail(
            format!("Request failed: the checksum file {masked} could not be read"),
            &[("url", &masked)],
        ));
    }
    let filename = http::url_filename(&a.url);
    let sum = digest_for(&text, &filename).ok_or_else(|| {
        ModuleError::failed(format!(
            "Unable to find a checksum for file '{filename}' in '{masked}'"
        ))
    })?;
    clean_hex(&sum).map_err(ModuleError::failed)
}

/// What the probe found.
#[derive(Debug, Clone)]
pub struct State {
    checksum: Option<(&'static str, String)>,
    probe: ProbeOutput,
    dest: PathInfo,
    parent: PathInfo,
    tools: String,
    env: fileops::Env,
    /// The probe's `HEAD` request (curl only): with `If-Modified-Since` for an
    /// existing `dest` when neither `force` nor `checksum` is given, as
    /// Ansible's conditional request; in check mode always, as Ansible's
    /// check mode asks the server with `HEAD`.
    head: Option<Response>,
    /// `dest`'s SHA-1, read in check mode (Ansible's `checksum_dest`).
    dest_sha1: Option<String>,
}

/// Ansible sends `If-Modified-Since` (the existing file's mtime) unless
/// `force` or a `checksum` decides.
fn conditional(a: &Args) -> bool {
    !a.force && a.checksum.trim().is_empty()
}

/// The SHA-1 of nothing: Ansible's `checksum_src` of a check-mode `HEAD`.
const SHA1_EMPTY: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

impl Converge for GetUrl {
    type Args = Args;
    type State = State;

    fn settles(&self, a: &Args, plan: &Plan) -> bool {
        // `force` downloads again on every run.
        !a.force
            && matches!(
                plan.action,
                Action::Create | Action::Update | Action::Delete
            )
    }
    const APPLY_FAILED: &'static str = "get_url: the download failed";

    fn probe(&self, a: &Args, ctx: &Context) -> Exec {
        let spec = parse_checksum(&a.checksum).ok().flatten();
        let algo = spec.as_ref().map(|(al, _)| *al);
        let mut p = Probe::new();
        p.path(
            "dest",
            &a.dest,
            &StatOpts {
                follow: true,
                checksum: algo,
                ..StatOpts::default()
            },
        );
        if ctx.check_mode {
            p.path(
                "dest_sha1",
                &a.dest,
                &StatOpts {
                    follow: true,
                    checksum: Some("sha1"),
                    ..StatOpts::default()
                },
            );
        }
        let parent = match dirname(&a.dest).as_str() {
            "" => ".".to_string(),
            d => d.to_string(),
        };
        p.path(
            "parent",
            &parent,
            &StatOpts {
                follow: true,
                ..StatOpts::default()
            },
        );
        p.ids(a.owner.as_deref(), a.group.as_deref());
        p.raw("_t=; command -v curl >/dev/null 2>&1 && _t=curl; [ -z \"$_t\" ] && command -v wget >/dev/null 2>&1 && _t=wget; printf '@tools\\0have=%s\\0' \"$_t\"");
        let head = ctx.check_mode || conditional(a);
        let sums = match spec {
            Some((_, Want::Url(u))) => Some(u),
            _ => None,
        };
        if !head && sums.is_none() {
            return p.finish();
        }
        // Requests read their curl configuration from standard input (no
        // credentials in the script): the HEAD's, then the checksum file's.
        p.raw(&http::sh_functions());
        p.raw(
            "_pd=$(mktemp -d) || exit 1; trap 'rm -rf -- \"$_pd\"' EXIT\n\
             cat > \"$_pd/in\"\n\
             awk '/^#__tend_head__$/ {exit} {print}' \"$_pd/in\" > \"$_pd/head\"\n\
             awk 'f {print} /^#__tend_head__$/ {f=1}' \"$_pd/in\" > \"$_pd/sums\"",
        );
        let mut stdin = String::new();
        if head {
            p.set("_hdest", &a.dest);
            let ims = if conditional(a) {
                format!(
                    "[ -f \"$_hdest\" ] && _tc={}",
                    quote(&http::curl_quote(&a.dest))
                )
            } else {
                ":".into()
            };
            // Only with curl: wget has no HEAD with a time condition here.
            p.raw(&format!(
                "if [ \"$_t\" = curl ]; then\n\
                 \x20 _tc=; {ims}\n\
                 \x20 _hl=$(tend_http \"$_pd/hb\" \"$_pd/hh\" \"$_pd/he\" 0 < \"$_pd/head\")\n\
                 \x20 printf '@head\\0line=%s\\0' \"$_hl\"; tend_cat \"$_pd/hh\" ''\n\
                 fi"
            ));
            stdin.push_str(&request(a).curl_config());
            stdin.push_str("head\n");
        }
        stdin.push_str("#__tend_head__\n");
        if let Some(sums_url) = sums {
            // The checksum file, read on the target like the download itself.
            p.raw(
                "if [ -n \"$_t\" ]; then\n\
                 \x20 _tc=; tend_http \"$_pd/b\" \"$_pd/h\" \"$_pd/e\" 1 < \"$_pd/sums\" >/dev/null\n\
                 \x20 printf '@sums\\0rc=%s\\0code=%s\\0' \"$_r\" \"$_c\"; [ -f \"$_pd/b\" ] && tend_cat \"$_pd/b\" ''\n\
                 fi",
            );
            let req = Request {
                url: sums_url,
                ..request(a)
            };
            stdin.push_str(&req.curl_config());
            stdin.push_str(http::WGET_MARK);
            stdin.push('\n');
            stdin.push_str(&req.wget_config());
        }
        let mut exec = p.finish();
        exec.stdin = stdin.into_bytes();
        exec
    }

    fn parse(&self, a: &Args, out: &ExecOutput) -> Result<State, ModuleError> {
        let probe = ProbeOutput::parse(out)?;
        let checksum = match parse_checksum(&a.checksum).map_err(ModuleError::failed)? {
            None => None,
            Some((algo, Want::Hex(h))) => Some((algo, h)),
            Some((algo, Want::Url(u))) => Some((algo, resolve_sums(a, &u, &probe)?)),
        };
        let head = probe.records.get("head").and_then(|r| {
            let line = r.get("line")?;
            Response::parse(&line, r.content.as_deref().unwrap_or_default(), b"")
        });
        let dest_sha1 = match probe.records.get("dest_sha1") {
            Some(_) => probe.path("dest_sha1")?.checksum,
            None => None,
        };
        Ok(State {
            checksum,
            dest: probe.path("dest")?,
            parent: probe.path("parent")?,
            tools: probe.record("tools")?.get("have").unwrap_or_default(),
            env: probe.env()?,
            head,
            dest_sha1,
            probe,
        })
    }

    fn plan(&self, a: &Args, st: &State, ctx: &Context) -> Result<Plan, ModuleError> {
        let checksum = st.checksum.clone();
        let url = http::mask_url(&a.url);
        let dest = &st.dest;
        let is_dir = dest.kind() == Kind::Directory;
        let base = |plan: Plan| {
            plan.with("dest", a.dest.clone())
                .with("url", url.clone())
                .with("elapsed", 0)
                .with("checksum_dest", Value::Null)
                .with("checksum_src", Value::Null)
        };
        if dest.exists() && !is_dir {
            let mismatch = match &checksum {
                Some((_, want)) => dest.checksum.as_deref() != Some(want.as_str()),
                None => false,
            };
            if let Some(head) = st.head.as_ref().filter(|h| h.status == 304) {
                // Not modified since the file's mtime: Ansible's module stops
                // here, before any attribute is set.
                let mut plan = Plan::noop()
                    .with("dest", a.dest.clone())
                    .with("url", url.clone())
                    .with("elapsed", 0)
                    .with("status_code", 304);
                plan.msg = Some(head.msg());
                CurAttrs::of(dest).file_values(dest.size, &mut plan.values);
                return Ok(plan);
            }
            if !a.force && !mismatch && (checksum.is_some() || st.head.is_none()) {
                // Present and wanted as it is: only its attributes may change.
                let want = WantAttrs {
                    mode: a.mode.clone(),
                    owner: a.owner.clone(),
                    group: a.group.clone(),
                };
                let ids = Ids::resolve(&st.probe, &want, &a.dest)?;
                let attrs = fileops::plan_attrs(&CurAttrs::of(dest), &want, &ids, st.env.umask)?;
                let mut plan = if attrs.changes() {
                    let mut p = Plan::change(
                        Action::Update,
                        vec![Exec::script(attrs.script(&quote(&a.dest), false))],
                    )
                    .with_diff(Diff::attributes(
                        &a.dest,
                        &attrs.before,
                        &attrs.after,
                    ));
                    p.msg = Some("file already exists but file attributes changed".into());
                    p
                } else {
                    let mut p = Plan::noop();
                    p.msg = Some("file already exists".into());
                    p
                };
                attrs.values(&mut plan.values);
                plan.values.insert("size".into(), dest.size.into());
                plan.values.insert("state".into(), "file".into());
                let mut plan = base(plan);
                if checksum.is_none() {
                    plan.values.remove("checksum_dest");
                    plan.values.remove("checksum_src");
                }
                return Ok(plan);
            }
        } else if !is_dir && !st.parent.exists() {
            return Err(fail(
                format!("Destination {} does not exist", st.parent.path),
                &[("dest", &a.dest), ("url", &url)],
            ));
        }
        if st.tools.is_empty() {
            return Err(fail(
                "get_url: neither curl nor wget is installed on the target",
                &[("dest", &a.dest), ("url", &url)],
            ));
        }
        let action = if dest.exists() {
            Action::Update
        } else {
            Action::Create
        };
        let ims = dest.exists() && !is_dir && conditional(a);
        let mut plan = Plan::change(action, vec![download(a, is_dir, &checksum, ims)?]);
        if ctx.check_mode
            && let Some(head) = &st.head
        {
            // Ansible's check mode: a HEAD, whose empty body is compared with
            // the file; a failed request fails as the download would.
            if head.status != 200 {
                return Err(head_failed(a, &url, head));
            }
            plan.msg = Some(head.msg());
            let dest_sum = if is_dir { None } else { st.dest_sha1.clone() };
            plan = base(plan).with("checksum_src", SHA1_EMPTY).with(
                "checksum_dest",
                dest_sum.map(Value::from).unwrap_or(Value::Null),
            );
            if dest.exists() && !is_dir && st.dest_sha1.as_deref() == Some(SHA1_EMPTY) {
                plan.action = Action::NoOp;
                plan.apply.clear();
            }
            return Ok(plan);
        }
        if !dest.exists() {
            plan = plan.with_diff(Diff::attributes(
                &a.dest,
                &[("path", a.dest.clone()), ("state", "absent".into())],
                &[("path", a.dest.clone()), ("state", "file".into())],
            ));
        }
        plan.msg = Some(String::new());
        Ok(base(plan))
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        let parts = http::parts(&out.stdout);
        let part = |name: &str| {
            parts
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.as_slice())
                .unwrap_or_default()
        };
        let lines: Vec<String> = parts
            .iter()
            .filter(|(n, _)| n.is_empty())
            .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
            .collect();
        let line = |prefix: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .map(str::to_string)
        };
        let Some(resp) = lines
            .iter()
            .find(|l| l.starts_with("__tend_http "))
            .and_then(|l| Response::parse(l, part("hdrs"), part("err")))
        else {
            // An attributes-only change.
            return Ok(());
        };
        let v = &mut plan.values;
        v.insert(
            "elapsed".into(),
            line("__tend_elapsed ")
                .and_then(|e| e.trim().parse::<i64>().ok())
                .unwrap_or(0)
                .into(),
        );
        if let Some(src) = line("__tend_src ") {
            v.insert("src".into(), src.into());
        }
        if resp.status == 304 {
            // Not modified since the conditional request's time.
            for k in ["checksum_dest", "checksum_src", "src"] {
                v.remove(k);
            }
            v.insert("status_code".into(), 304.into());
            plan.msg = Some(resp.msg());
            plan.action = Action::NoOp;
            return Ok(());
        }
        if resp.status != 200 {
            let mut values = std::mem::take(v);
            for k in ["checksum_dest", "checksum_src", "src"] {
                values.remove(k);
            }
            values.insert("status_code".into(), resp.status.into());
            values.insert("response".into(), resp.msg().into());
            return Err(ModuleError::Failed {
                msg: "Request failed".into(),
                values,
            });
        }
        if let Some(d) = line("__tend_dest ") {
            v.insert("dest".into(), d.into());
        }
        let sums = line("__tend_sums ").unwrap_or_default();
        let mut sums = sums.split(' ');
        let src_sum = sums.next().unwrap_or_default().to_string();
        let dest_sum = sums.next().filter(|s| !s.is_empty()).map(str::to_string);
        v.insert("checksum_src".into(), src_sum.into());
        v.insert(
            "checksum_dest".into(),
            dest_sum.map(Value::from).unwrap_or(Value::Null),
        );
        if let Some(bad) = line("__tend_badsum ") {
            let (bad, want) = bad.split_once(' ').unwrap_or((&bad, ""));
            let src = v
                .get("src")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let values = std::mem::take(v);
            return Err(ModuleError::Failed {
                msg: format!("The checksum for {src} did not match {want}; it was {bad}."),
                values,
            });
        }
        if let Some(b) = line("__tend_backup ") {
            v.insert("backup_file".into(), b.into());
        }
        if let Some(m) = line("__tend_md5 ") {
            v.insert("md5sum".into(), m.into());
        }
        if let Some(f) = line("__tend_final ") {
            let w: Vec<&str> = f.split_whitespace().collect();
            if w.len() >= 6 {
                let mode = u32::from_str_radix(w[0], 8).unwrap_or(0);
                v.insert("mode".into(), fileops::fmt_mode(mode).into());
                v.insert("uid".into(), w[1].parse::<u64>().unwrap_or(0).into());
                v.insert("gid".into(), w[2].parse::<u64>().unwrap_or(0).into());
                v.insert("owner".into(), w[3].into());
                v.insert("group".into(), w[4].into());
                v.insert("size".into(), w[5].parse::<u64>().unwrap_or(0).into());
                v.insert("state".into(), "file".into());
            }
        }
        v.insert("status_code".into(), resp.status.into());
        plan.msg = Some(resp.msg());
        let moved = lines.iter().any(|l| l == "__tend_moved");
        let attrs = lines.iter().any(|l| l == "__tend_attrs");
        if !moved && !attrs {
            plan.action = Action::NoOp;
        }
        Ok(())
    }
}

/// Ansible's failure when the request answers other than 200.
fn head_failed(a: &Args, url: &str, head: &Response) -> ModuleError {
    let mut values = Map::new();
    values.insert("status_code".into(), head.status.into());
    values.insert("response".into(), head.msg().into());
    values.insert("url".into(), url.into());
    values.insert("dest".into(), a.dest.clone().into());
    values.insert("elapsed".into(), 0.into());
    ModuleError::Failed {
        msg: "Request failed".into(),
        values,
    }
}

/// The download script: fetch into a temporary directory, verify, rename.
fn download(
    a: &Args,
    is_dir: bool,
    checksum: &Option<(&'static str, String)>,
    ims: bool,
) -> Result<Exec, ModuleError> {
    let req = request(a);
    let dir = match &a.tmp_dest {
        Some(t) => t.clone(),
        None if is_dir => a.dest.clone(),
        None => match dirname(&a.dest).as_str() {
            "" => ".".into(),
            d => d.to_string(),
        },
    };
    let mut s = String::from("LC_ALL=C; export LC_ALL\n");
    s.push_str(&http::sh_functions());
    s.push_str(http::SH_PART);
    s.push_str(&format!("d={}\n", quote(&a.dest)));
    s.push_str(&format!(
        "tmpd=$(mktemp -d {}) || {{ echo '{MSG_PREFIX}cannot create a temporary directory in {}' >&2; exit 1; }}\n",
        quote(&join(&fileops::dash_safe(&dir), ".tend.XXXXXX")),
        dir.replace('\'', "")
    ));
    s.push_str("trap 'rm -rf -- \"$tmpd\"' EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n");
    s.push_str("printf '__tend_src %s\\n' \"$tmpd/body\"\n_t0=$(date +%s)\n");
    if ims {
        s.push_str(&format!("_tc={}\n", quote(&http::curl_quote(&a.dest))));
    } else {
        s.push_str("_tc=\n");
    }
    s.push_str("tend_http \"$tmpd/body\" \"$tmpd/hdrs\" \"$tmpd/err\" 1\n");
    s.push_str("printf '__tend_elapsed %s\\n' $(( $(date +%s) - _t0 ))\n");
    s.push_str("tend_part hdrs \"$tmpd/hdrs\"; tend_part err \"$tmpd/err\"\n");
    s.push_str("if [ \"$_r\" != 0 ] || [ \"$_c\" != 200 ]; then exit 0; fi\n");
    if is_dir {
        s.push_str(http::SH_NAME_IN_DIR);
    }
    s.push_str("printf '__tend_dest %s\\n' \"$d\"\n");
    s.push_str(
        "_src=$(sha1sum < \"$tmpd/body\") || exit 1; _src=${_src%% *}\n\
         _dst=; if [ -f \"$d\" ]; then _dst=$(sha1sum < \"$d\") || exit 1; _dst=${_dst%% *}; fi\n\
         printf '__tend_sums %s %s\\n' \"$_src\" \"$_dst\"\n",
    );
    if let Some((algo, want)) = checksum {
        s.push_str(&format!(
            "_s=$({algo}sum < \"$tmpd/body\") || exit 1; _s=${{_s%% *}}\n\
             if [ \"$_s\" != {want} ]; then printf '__tend_badsum %s %s\\n' \"$_s\" {want}; exit 0; fi\n",
            want = quote(want)
        ));
    }
    s.push_str(
        "_before=$(stat -L -c '%a %u %g' -- \"$d\" 2>/dev/null)\n\
         if [ \"$_src\" != \"$_dst\" ]; then\n\
         \x20 if [ -f \"$d\" ]; then chmod --reference=\"$d\" \"$tmpd/body\"; chown --reference=\"$d\" \"$tmpd/body\" 2>/dev/null\n\
         \x20 else _m=$(umask); chmod -- $(printf '%o' $(( 0666 & ~0$_m ))) \"$tmpd/body\" || exit 1; fi\n",
    );
    if a.backup {
        s.push_str(&format!(
            "  if [ -f \"$d\" ]; then _b=\"$d.$$.$(date '+%Y-%m-%d@%H:%M:%S')~\"; cp -p -- \"$d\" \"$_b\" || {{ echo '{MSG_PREFIX}could not make a backup of the destination' >&2; exit 1; }}; printf '__tend_backup %s\\n' \"$_b\"; fi\n"
        ));
    }
    s.push_str("  mv -f -- \"$tmpd/body\" \"$d\" || exit 1\n  echo __tend_moved\nfi\n");
    if let Some(o) = &a.owner {
        s.push_str(&format!("chown -- {} \"$d\" || exit 1\n", quote(o)));
    }
    if let Some(g) = &a.group {
        s.push_str(&format!("chgrp -- {} \"$d\" || exit 1\n", quote(g)));
    }
    match &a.mode {
        Some(ModeSpec::Octal(m)) => s.push_str(&format!("chmod -- {m:04o} \"$d\" || exit 1\n")),
        Some(ModeSpec::Symbolic(m)) => {
            s.push_str(&format!("chmod -- {} \"$d\" || exit 1\n", quote(m)))
        }
        _ => {}
    }
    s.push_str(
        "[ -n \"$_before\" ] && [ \"$_before\" != \"$(stat -L -c '%a %u %g' -- \"$d\")\" ] && echo __tend_attrs\n\
         _m=$(md5sum < \"$d\" 2>/dev/null) && printf '__tend_md5 %s\\n' \"${_m%% *}\"\n\
         printf '__tend_final %s\\n' \"$(stat -L -c '%a %u %g %U %G %s' -- \"$d\")\"\n",
    );
    let mut stdin = req.curl_config();
    stdin.push_str(http::WGET_MARK);
    stdin.push('\n');
    stdin.push_str(&req.wget_config());
    Ok(Exec::with_stdin(s, stdin.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn parsed(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        GetUrl::validate(&a).unwrap();
        a
    }

    fn state(a: &Args, records: &str) -> State {
        let mut stdout =
            b"@env\0umask=0022\0pid=7\0date=2024-01-02@03:04:05\0id=uid=0(root) gid=0(root)\0"
                .to_vec();
        stdout.extend_from_slice(records.replace('|', "\0").as_bytes());
        GetUrl
            .parse(
                a,
                &ExecOutput {
                    status: 0,
                    stdout,
                    stderr: vec![],
                },
            )
            .unwrap()
    }

    const PARENT: &str =
        "@parent|path=/srv|stat=41ed 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root|@tools|have=curl|";
    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn arguments() {
        assert_eq!(
            parse_checksum("SHA256: 9F86").unwrap(),
            Some(("sha256", Want::Hex("9f86".to_string())))
        );
        assert_eq!(
            parse_checksum("sha256:http://h/SHA256SUMS").unwrap(),
            Some(("sha256", Want::Url("http://h/SHA256SUMS".to_string())))
        );
        let sums = "aaa  other.tgz\nBBB *app.tgz\n";
        assert_eq!(digest_for(sums, "app.tgz").as_deref(), Some("BBB"));
        assert_eq!(digest_for("ccc\n", "x").as_deref(), Some("ccc"));
        assert_eq!(digest_for(sums, "nope"), None);
        assert!(parse_checksum("abc").is_err());
        assert!(parse_checksum("sha256:zz").is_err());
        let a: Args = args::parse(&json!({"url": "u", "dest": "/d", "ciphers": ["x"]})).unwrap();
        assert!(
            GetUrl::validate(&a)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
        let a = parsed(
            json!({"url": "u", "dest": "/d", "username": "me", "password": "s3cret", "force": "yes"}),
        );
        assert!(a.force);
        assert_eq!(a.url_password.as_deref(), Some("s3cret"));
        // `thirsty` is gone from Ansible 2.19's get_url: unknown, as there.
        assert!(args::parse::<Args>(&json!({"url": "u", "dest": "/d", "thirsty": true})).is_err());
    }

    #[test]
    fn existing_file_is_not_downloaded_again() {
        let a = parsed(
            json!({"url": "http://h/f", "dest": "/srv/f", "checksum": format!("sha256:{SHA}")}),
        );
        let st = state(
            &a,
            &format!(
                "@dest|path=/srv/f|stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|sum={SHA}|{PARENT}"
            ),
        );
        let plan = GetUrl.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert_eq!(plan.msg.as_deref(), Some("file already exists"));
        // force=no without a checksum and no HEAD answer (wget only): present is
        // enough; a mode change is applied alone.
        let a = parsed(json!({"url": "http://h/f", "dest": "/srv/f", "mode": "0600"}));
        let st = state(
            &a,
            &format!("@dest|path=/srv/f|stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|{PARENT}"),
        );
        let plan = GetUrl.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.apply[0].script, "chmod -- 0600 /srv/f || exit 1\n");
    }

    #[test]
    fn downloads_missing_or_mismatching_files() {
        let a = parsed(
            json!({"url": "http://u:pw@h/f", "dest": "/srv/f", "checksum": format!("sha256:{SHA}"), "url_password": "hunter2", "url_username": "me", "backup": true}),
        );
        let st = state(
            &a,
            &format!(
                "@dest|path=/srv/f|stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|sum=00|{PARENT}"
            ),
        );
        let plan = GetUrl.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.values["url"], "http://********@h/f");
        let ex = &plan.apply[0];
        assert!(!ex.script.contains("hunter2"), "secret in the script");
        let stdin = String::from_utf8_lossy(&ex.stdin);
        assert!(stdin.contains("user = \"me:hunter2\""), "{stdin}");
        assert!(ex.script.contains(&format!("if [ \"$_s\" != {SHA} ]")));
        assert!(
            ex.script
                .contains(&format!("__tend_badsum %s %s\\n' \"$_s\" {SHA}")),
            "{}",
            ex.script
        );
        assert!(
            ex.script.contains("mktemp -d /srv/.tend.XXXXXX"),
            "{}",
            ex.script
        );
        assert!(ex.script.contains("cp -p -- \"$d\" \"$_b\""));
        // A missing parent directory is an error.
        let a = parsed(json!({"url": "http://h/f", "dest": "/nope/f"}));
        let st = state(
            &a,
            "@dest|path=/nope/f|type=absent|@parent|path=/nope|type=absent|@tools|have=curl|",
        );
        let err = GetUrl.plan(&a, &st, &Context::default()).unwrap_err();
        assert_eq!(err.to_string(), "Destination /nope does not exist");
        // No download tool.
        let st = state(
            &a,
            "@dest|path=/srv/f|type=absent|@parent|path=/srv|stat=41ed 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root|@tools|have=|",
        );
        let err = GetUrl.plan(&a, &st, &Context::default()).unwrap_err();
        assert!(err.to_string().contains("neither curl nor wget"));
    }

    #[test]
    fn a_checksum_file_is_read_by_the_probe() {
        let a = parsed(
            json!({"url": "http://h/app.tgz", "dest": "/srv/app.tgz", "checksum": "sha256:http://h/SHA256SUMS"}),
        );
        let ex = GetUrl.probe(&a, &Context::default());
        assert!(String::from_utf8_lossy(&ex.stdin).contains("url = \"http://h/SHA256SUMS\""));
        let rec = format!(
            "@dest|path=/srv/app.tgz|stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|sum={SHA}|{PARENT}@sums|rc=0|code=200|"
        );
        let mut stdout = b"@env\0umask=0022\0".to_vec();
        stdout.extend_from_slice(rec.replace('|', "\0").as_bytes());
        let body = format!("{SHA}  app.tgz\n");
        stdout.extend_from_slice(format!("content={}\0{body}\0", body.len()).as_bytes());
        let out = ExecOutput {
            status: 0,
            stdout,
            stderr: vec![],
        };
        let st = GetUrl.parse(&a, &out).unwrap();
        assert_eq!(st.checksum, Some(("sha256", SHA.to_string())));
        assert_eq!(
            GetUrl.plan(&a, &st, &Context::default()).unwrap().action,
            Action::NoOp
        );
        let missing = ExecOutput {
            stdout: String::from_utf8_lossy(&out.stdout)
                .replace("app.tgz\n", "xyz.tgz\n")
                .into_bytes(),
            ..out
        };
        let err = GetUrl.parse(&a, &missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to find a checksum for file 'app.tgz' in 'http://h/SHA256SUMS'"
        );
    }

    #[test]
    fn reads_the_download_result() {
        let a = parsed(json!({"url": "http://h/f", "dest": "/srv/f"}));
        let mut plan = Plan::change(Action::Create, vec![]);
        let hdrs = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n";
        let out = format!(
            "__tend_src /srv/.tend.1/body\n__tend_http 0 200 0 http://h/f\n__tend_elapsed 0\n__tend_part hdrs {}\n{hdrs}__tend_dest /srv/f\n__tend_sums abc \n__tend_moved\n__tend_md5 m5\n__tend_final 644 0 0 root root 3\n",
            hdrs.len()
        );
        let out = ExecOutput {
            status: 0,
            stdout: out.into_bytes(),
            stderr: vec![],
        };
        GetUrl.applied(&a, &out, &mut plan).unwrap();
        assert_eq!(plan.action, Action::Create);
        assert_eq!(plan.msg.as_deref(), Some("OK (3 bytes)"));
        assert_eq!(plan.values["checksum_src"], "abc");
        assert_eq!(plan.values["checksum_dest"], Value::Null);
        assert_eq!(plan.values["mode"], "0644");
        assert_eq!(plan.values["status_code"], 200);
        // Same content: nothing changed.
        let mut plan = Plan::change(Action::Update, vec![]);
        let out = ExecOutput {
            status: 0,
            stdout: b"__tend_http 0 200 0 http://h/f\n__tend_sums abc abc\n".to_vec(),
            stderr: vec![],
        };
        GetUrl.applied(&a, &out, &mut plan).unwrap();
        assert_eq!(plan.action, Action::NoOp);
        // A 404.
        let mut plan = Plan::change(Action::Update, vec![]);
        let hdrs = "HTTP/1.0 404 File not found\r\n\r\n";
        let out = ExecOutput {
            status: 0,
            stdout: format!(
                "__tend_http 0 404 0 http://h/f\n__tend_part hdrs {}\n{hdrs}",
                hdrs.len()
            )
            .into_bytes(),
            stderr: vec![],
        };
        let err = GetUrl.applied(&a, &out, &mut plan).unwrap_err();
        match err {
            ModuleError::Failed { msg, values } => {
                assert_eq!(msg, "Request failed");
                assert_eq!(values["status_code"], 404);
                assert_eq!(values["response"], "HTTP Error 404: File not found");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn an_existing_file_is_asked_for_with_if_modified_since_as_ansible() {
        let a = parsed(json!({"url": "http://h/f", "dest": "/srv/f", "mode": "0600"}));
        let probe = GetUrl.probe(&a, &Context::default());
        let cfg = String::from_utf8_lossy(&probe.stdin).into_owned();
        assert!(cfg.starts_with("url = \"http://h/f\"\n"), "{cfg}");
        assert!(cfg.contains("\nhead\n#__tend_head__\n"), "{cfg}");
        assert!(
            probe.script.contains("_tc='\"/srv/f\"'"),
            "{}",
            probe.script
        );
        // force or a checksum: no HEAD outside check mode.
        let forced = parsed(json!({"url": "http://h/f", "dest": "/srv/f", "force": true}));
        assert!(GetUrl.probe(&forced, &Context::default()).stdin.is_empty());
        let file = "@dest|path=/srv/f|stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|";
        let head = |code: &str, reason: &str| {
            let hdrs = format!("HTTP/1.1 {code} {reason}\r\nContent-Length: 6\r\n\r\n");
            format!(
                "@head|line=__tend_http 0 {code} 0 http://h/f|content={}|{hdrs}|",
                hdrs.len()
            )
        };
        // 304: ok, and the mode is left alone as Ansible's module stops there.
        let st = state(
            &a,
            &format!("{file}{PARENT}{}", head("304", "Not Modified")),
        );
        let plan = GetUrl.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::NoOp);
        assert_eq!(plan.msg.as_deref(), Some("HTTP Error 304: Not Modified"));
        assert_eq!(plan.values["status_code"], 304);
        assert_eq!(plan.values["mode"], "0644");
        assert!(!plan.values.contains_key("checksum_src"));
        // Modified: downloaded again with the same condition.
        let st = state(&a, &format!("{file}{PARENT}{}", head("200", "OK")));
        let plan = GetUrl.plan(&a, &st, &Context::default()).unwrap();
        assert_eq!(plan.action, Action::Update);
        assert!(plan.apply[0].script.contains("_tc='\"/srv/f\"'\n"));
        // Check mode: the HEAD's empty body against the file, as Ansible.
        let check = Context {
            check_mode: true,
            diff: false,
        };
        let st = state(
            &a,
            &format!(
                "{file}@dest_sha1|path=/srv/f|stat=81a4 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|sum=abc|{PARENT}{}",
                head("200", "OK")
            ),
        );
        let plan = GetUrl.plan(&a, &st, &check).unwrap();
        assert_eq!(plan.action, Action::Update);
        assert_eq!(plan.msg.as_deref(), Some("OK (6 bytes)"));
        assert_eq!(plan.values["checksum_src"], SHA1_EMPTY);
        assert_eq!(plan.values["checksum_dest"], "abc");
        let st = state(
            &a,
            &format!("{PARENT}{}", head("404", "Not Found"))
                .replace("@parent", "@dest|path=/srv/f|type=absent|@parent"),
        );
        match GetUrl.plan(&a, &st, &check).unwrap_err() {
            ModuleError::Failed { msg, values } => {
                assert_eq!(msg, "Request failed");
                assert_eq!(values["status_code"], 404);
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_bad_checksum_reports_the_downloaded_files_sha1() {
        let a = parsed(
            json!({"url": "http://h/f", "dest": "/srv/f", "checksum": format!("sha256:{SHA}")}),
        );
        let script = download(&a, false, &Some(("sha256", SHA.to_string())), false)
            .unwrap()
            .script;
        assert!(script.find("__tend_sums").unwrap() < script.find("__tend_badsum").unwrap());
        assert!(script.contains("_tc=\n"));
    }
}
