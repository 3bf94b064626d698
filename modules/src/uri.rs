//! The `uri` module: makes an HTTP request from the target and returns the response.
//!
//! The request runs on the target with `curl`, configured through standard
//! input (URL, headers, credentials and body never appear on a command
//! line), in one round trip that also evaluates `creates`/`removes`. The
//! response's headers come back as return values, lowercased with `-` as
//! `_` (`content_type`), as Ansible returns them; the body comes back with
//! `return_content`, when it is JSON (parsed into `json`), or when the
//! status is not one of `status_code` (the task then fails). With `dest`
//! the body is written there atomically (and the task reports a change).
//! Like Ansible's, the module does not support check mode: it is skipped.
//!
//! # Examples
//!
//! ```yaml
//! - name: Check the health endpoint
//!   uri:
//!     url: http://localhost:8080/health
//!     return_content: yes
//!   register: health
//!   failed_when: "'ok' not in health.content"
//!
//! - name: Create an item
//!   uri:
//!     url: https://api.example.com/items
//!     method: POST
//!     body_format: json
//!     body:
//!       name: web1
//!       tags: [prod]
//!     status_code: [200, 201]
//!     headers:
//!       Authorization: "Bearer {{ token }}"
//! ```
//!
//! # Return values
//!
//! - `status` (int): the HTTP status (`-1` when no response came back).
//! - `url` (string): the final URL, after redirects.
//! - `redirected` (bool): whether a redirect was followed.
//! - `msg` (string): `OK (N bytes)`, or the error.
//! - `elapsed` (int): seconds the request took.
//! - `content` (string): the body, with `return_content` (or on a failed status).
//! - `json` (any): the body parsed, when the response is JSON.
//! - `cookies` (dict): cookies the server set, by name.
//! - `cookies_string` (string): those cookies as a `Cookie` header value.
//! - `path` (string): the file written, with `dest`.
//! - `content_type` (string): the `Content-Type` header; every other response header is returned the same way, lowercased with `-` as `_` (`content_length`, `last_modified`, `server`...).

use crate::args::{ArgsError, de};
use crate::choice;
use crate::fileops::{self, ModeSpec, dirname};
use crate::host::{Exec, ExecOutput, Host};
use crate::http::{self, Request, Response};
use crate::module::{Context, MSG_PREFIX, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

choice! {
    /// `body_format` of `uri`.
    pub enum BodyFormat {
        /// The body as it is.
        Raw = ["raw"],
        /// JSON (a mapping or list is serialized); `Content-Type: application/json`.
        Json = ["json"],
        /// `k=v&...` from a mapping; `Content-Type: application/x-www-form-urlencoded`.
        Form = ["form-urlencoded"],
        /// Not supported yet.
        Multipart = ["form-multipart"],
    }
}

choice! {
    /// `follow_redirects` of `uri`.
    pub enum Follow {
        /// Follow redirects of GET and HEAD requests only.
        Safe = ["safe", "urllib2"],
        /// Follow every redirect.
        All = ["all", "yes"],
        /// Follow none.
        None = ["none", "no"],
    }
}

fn yes() -> bool {
    true
}

fn get() -> String {
    "GET".into()
}

fn thirty() -> i64 {
    30
}

fn raw() -> BodyFormat {
    BodyFormat::Raw
}

fn safe() -> Follow {
    Follow::Safe
}

fn ok200() -> Vec<i64> {
    vec![200]
}

fn agent() -> String {
    "ansible-httpget".into()
}

fn status_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    use serde::de::Error;
    let words = de::list(d)?;
    words
        .iter()
        .map(|w| {
            if crate::args::placeholders_active() && crate::args::is_templated(w) {
                return Ok(200);
            }
            w.trim()
                .parse::<i64>()
                .map_err(|_| D::Error::custom(format!("status_code must be integers, got `{w}`")))
        })
        .collect()
}

/// Arguments of `uri` (Ansible's names and aliases).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The URL (`http` or `https`).
    #[serde(deserialize_with = "de::string")]
    pub url: String,
    /// The HTTP method, one uppercase word.
    #[serde(default = "get", deserialize_with = "de::string")]
    pub method: String,
    /// The request body (a string, or data serialized by `body_format`).
    #[serde(default)]
    pub body: Option<Value>,
    /// How `body` is serialized: `raw`, `json` or `form-urlencoded`.
    #[serde(default = "raw")]
    pub body_format: BodyFormat,
    /// A file on the target whose bytes are the body (with `remote_src: yes`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub src: Option<String>,
    /// `src` is on the target (a controller-side `src` is not supported yet).
    #[serde(default, deserialize_with = "de::bool")]
    pub remote_src: bool,
    /// Request headers (a mapping).
    #[serde(default)]
    pub headers: Option<Map<String, Value>>,
    /// The statuses that count as success.
    #[serde(default = "ok200", deserialize_with = "status_list")]
    pub status_code: Vec<i64>,
    /// Return the body as `content`.
    #[serde(default, deserialize_with = "de::bool")]
    pub return_content: bool,
    /// Write the body to this file (or into this directory).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub dest: Option<String>,
    /// With `dest`: download even when the file is newer than the resource
    /// (else `If-Modified-Since` is sent).
    #[serde(default, deserialize_with = "de::bool")]
    pub force: bool,
    /// Skip the request when this path exists on the target.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub creates: Option<String>,
    /// Skip the request when this path does not exist on the target.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub removes: Option<String>,
    /// Seconds to wait for the connection and for data.
    #[serde(default = "thirty", deserialize_with = "de::int")]
    pub timeout: i64,
    /// Which redirects to follow: `safe` (GET and HEAD), `all`, `none`.
    #[serde(default = "safe")]
    pub follow_redirects: Follow,
    /// User name for HTTP basic authentication (sent through curl's standard input).
    #[serde(default, alias = "user", deserialize_with = "de::opt_string")]
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
    /// Permissions of `dest`.
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Owner of `dest`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group of `dest`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Accepted for compatibility.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub decompress: bool,
    /// Accepted for compatibility.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub use_netrc: bool,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub unsafe_writes: Option<bool>,
    /// Not supported yet.
    #[serde(default)]
    pub unix_socket: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub ca_path: Option<Value>,
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

/// The `uri` module.
pub struct Uri;

#[async_trait]
impl TypedModule for Uri {
    type Args = Args;
    const NAME: &'static str = "uri";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "uri",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        for (name, v) in [
            ("unix_socket", &a.unix_socket),
            ("ca_path", &a.ca_path),
            ("client_cert", &a.client_cert),
            ("client_key", &a.client_key),
            ("ciphers", &a.ciphers),
            ("unredirected_headers", &a.unredirected_headers),
            ("use_gssapi", &a.use_gssapi),
        ] {
            if v.is_some() {
                return Err(fileops::unsupported("uri", name));
            }
        }
        fileops::reject_preserve(&a.mode)?;
        if a.body_format == BodyFormat::Multipart {
            return Err(ArgsError::field(
                "body_format",
                "uri: body_format `form-multipart` is not supported yet",
            ));
        }
        if a.body.is_some() && a.src.is_some() {
            return Err(ArgsError::general(
                "parameters are mutually exclusive: body|src",
            ));
        }
        if a.src.is_some() && !a.remote_src {
            return Err(ArgsError::field(
                "src",
                "uri: a controller-side `src` is not supported yet (use remote_src: yes)",
            ));
        }
        let m = &a.method;
        if !crate::args::is_templated(m)
            && (m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(ArgsError::field(
                "method",
                "Parameter 'method' needs to be a single word in uppercase, like GET or POST.",
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
        if ctx.check_mode {
            return Ok(Outcome {
                skipped: true,
                msg: Some("This action (uri) does not support check mode.".into()),
                ..Outcome::default()
            });
        }
        let out = host.exec(script(&args)?).await?;
        outcome(&args, &out)
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The request body and the headers it implies.
fn body(a: &Args, headers: &mut Vec<(String, String)>) -> Result<Option<String>, ModuleError> {
    let has_ct = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let mut ct = |v: &str| {
        if !has_ct {
            headers.push(("Content-Type".into(), v.into()));
        }
    };
    Ok(match (a.body_format, &a.body) {
        (BodyFormat::Json, b) => {
            ct("application/json");
            b.as_ref().map(|b| match b {
                Value::String(s) => s.clone(),
                other => crate::copy::py_json(other),
            })
        }
        (BodyFormat::Form, b) => {
            ct("application/x-www-form-urlencoded");
            match b {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(m)) => Some(
                    m.iter()
                        .map(|(k, v)| {
                            format!("{}={}", http::quote_plus(k), http::quote_plus(&text(v)))
                        })
                        .collect::<Vec<_>>()
                        .join("&"),
                ),
                Some(Value::Array(items)) => {
                    let mut pairs = Vec::new();
                    for i in items {
                        match i {
                            Value::Array(p) if p.len() == 2 => pairs.push(format!(
                                "{}={}",
                                http::quote_plus(&text(&p[0])),
                                http::quote_plus(&text(&p[1]))
                            )),
                            _ => {
                                return Err(ModuleError::failed(
                                    "failed to parse body as form_urlencoded: expected key/value pairs",
                                ));
                            }
                        }
                    }
                    Some(pairs.join("&"))
                }
                Some(other) => Some(text(other)),
            }
        }
        (_, b) => b.as_ref().map(text),
    })
}

/// The one script: creates/removes, the request, the optional `dest` write.
fn script(a: &Args) -> Result<Exec, ModuleError> {
    let mut headers: Vec<(String, String)> = a
        .headers
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    let body = body(a, &mut headers)?;
    let follow = match a.follow_redirects {
        Follow::All => true,
        Follow::None => false,
        Follow::Safe => matches!(a.method.as_str(), "GET" | "HEAD"),
    };
    let req = Request {
        url: a.url.clone(),
        method: Some(a.method.clone()),
        headers,
        body,
        body_file: a.src.clone(),
        user: a
            .url_username
            .clone()
            .map(|u| (u, a.url_password.clone().unwrap_or_default())),
        timeout: a.timeout.max(1) as u64,
        validate_certs: a.validate_certs,
        follow,
        agent: a.http_agent.clone(),
        use_proxy: a.use_proxy,
        ..Request::default()
    };
    let mut s = String::from("LC_ALL=C; export LC_ALL\n");
    s.push_str(&http::sh_functions());
    s.push_str(http::SH_PART);
    if let Some(c) = &a.creates {
        s.push_str(&format!(
            "if [ -e {} ]; then cat >/dev/null; echo __tend_skip_creates; exit 0; fi\n",
            quote(c)
        ));
    }
    if let Some(r) = &a.removes {
        s.push_str(&format!(
            "if [ ! -e {} ]; then cat >/dev/null; echo __tend_skip_removes; exit 0; fi\n",
            quote(r)
        ));
    }
    let tmp_parent = match &a.dest {
        Some(d) => {
            s.push_str(&format!("d={}\n", quote(d)));
            format!(
                "$(if [ -d \"$d\" ]; then printf %s \"$d\"; else p={}; printf %s \"${{p:-.}}\"; fi)",
                quote(&dirname(d))
            )
        }
        None => "${TMPDIR:-/tmp}".into(),
    };
    s.push_str(&format!(
        "tmpd=$(mktemp -d \"{tmp_parent}/.tend.XXXXXX\") || {{ echo '{MSG_PREFIX}cannot create a temporary directory' >&2; exit 1; }}\n"
    ));
    s.push_str("trap 'rm -rf -- \"$tmpd\"' EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n");
    s.push_str("command -v curl >/dev/null 2>&1 || { echo '");
    s.push_str(MSG_PREFIX);
    s.push_str("uri: curl is not installed on the target' >&2; exit 1; }\n");
    s.push_str("_t0=$(date +%s)\n");
    // With `dest`, an existing file's mtime goes out as If-Modified-Since.
    s.push_str("_tc=\n");
    if let (Some(d), false) = (&a.dest, a.force) {
        s.push_str(&format!(
            "if [ -f \"$d\" ]; then _tc={}; fi\n",
            quote(&http::curl_quote(d))
        ));
    }
    s.push_str("tend_http \"$tmpd/body\" \"$tmpd/hdrs\" \"$tmpd/err\" 0\n");
    s.push_str("printf '__tend_elapsed %s\\n' $(( $(date +%s) - _t0 ))\n");
    s.push_str("tend_part hdrs \"$tmpd/hdrs\"; tend_part err \"$tmpd/err\"\n");
    let ok: Vec<String> = a.status_code.iter().map(i64::to_string).collect();
    s.push_str(&format!(
        "case $_c in {}) _ok=1 ;; *) _ok=0 ;; esac\n",
        ok.join("|")
    ));
    let want_body = if a.return_content { "1" } else { "0" };
    s.push_str(&format!(
        "case $_c in 2??) _herr=0 ;; *) _herr=1 ;; esac\n\
         if [ {want_body} = 1 ] || [ $_ok = 0 ] || [ $_herr = 1 ] || grep -qi '^content-type:[^;]*json' \"$tmpd/hdrs\"; then tend_part body \"$tmpd/body\"; fi\n"
    ));
    if a.dest.is_some() {
        s.push_str("if [ \"$_r\" = 0 ] && [ $_ok = 1 ] && [ \"$_c\" != 304 ]; then\n");
        s.push_str("if [ -d \"$d\" ]; then\n");
        s.push_str(http::SH_NAME_IN_DIR);
        s.push_str("fi\n");
        s.push_str(
            "_src=$(sha1sum < \"$tmpd/body\") || exit 1; _dst=; [ -f \"$d\" ] && _dst=$(sha1sum < \"$d\")\n\
             if [ \"${_src%% *}\" != \"${_dst%% *}\" ]; then\n\
             \x20 if [ -f \"$d\" ]; then chmod --reference=\"$d\" \"$tmpd/body\"; chown --reference=\"$d\" \"$tmpd/body\" 2>/dev/null\n\
             \x20 else _m=$(umask); chmod -- $(printf '%o' $(( 0666 & ~0$_m ))) \"$tmpd/body\" || exit 1; fi\n\
             \x20 mv -f -- \"$tmpd/body\" \"$d\" || exit 1\n\
             fi\n",
        );
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
        s.push_str("printf '__tend_written %s\\n' \"$d\"\nfi\n");
        s.push_str("[ -n \"$d\" ] && printf '__tend_path %s\\n' \"$d\"\n");
        // Ansible adds the file's attributes to a result with a `path`.
        s.push_str(
            "[ -n \"$d\" ] && printf '__tend_pathinfo %s\\n' \"$(stat -c '%u %g %a %s %h %F|%U|%G' -- \"$d\" 2>/dev/null)\"\n",
        );
    }
    Ok(Exec::with_stdin(s, req.curl_config().into_bytes()))
}

/// Reads the script's output into Ansible's result.
fn outcome(a: &Args, out: &ExecOutput) -> Result<Outcome, ModuleError> {
    let parts = http::parts(&out.stdout);
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
    let part = |name: &str| {
        parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    };
    if lines.iter().any(|l| l == "__tend_skip_creates") {
        let c = a.creates.clone().unwrap_or_default();
        return Ok(Outcome::ok().with("stdout", format!("skipped, since '{c}' exists")));
    }
    if lines.iter().any(|l| l == "__tend_skip_removes") {
        let r = a.removes.clone().unwrap_or_default();
        return Ok(Outcome::ok().with("stdout", format!("skipped, since '{r}' does not exist")));
    }
    let Some(resp) = lines
        .iter()
        .find(|l| l.starts_with("__tend_http "))
        .and_then(|l| {
            Response::parse(
                l,
                part("hdrs").unwrap_or_default(),
                part("err").unwrap_or_default(),
            )
        })
    else {
        return Err(ModuleError::applying("uri: the request failed", out));
    };
    if out.status != 0 {
        return Err(ModuleError::applying("uri: the request failed", out));
    }
    let masked = http::mask_url(&a.url);
    let mut v = Map::new();
    // Headers first: Ansible's own keys below win over same-named headers.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, val) in &resp.headers {
        let key = k.to_lowercase().replace('-', "_");
        match merged.iter_mut().find(|(mk, _)| *mk == key) {
            Some((_, existing)) => {
                existing.push_str(", ");
                existing.push_str(val);
            }
            None => merged.push((key, val.clone())),
        }
    }
    for (k, val) in merged {
        v.insert(k, val.into());
    }
    let mut cookies = Map::new();
    for (k, val) in &resp.headers {
        if k.eq_ignore_ascii_case("set-cookie")
            && let Some((name, value)) = val.split(';').next().and_then(|c| c.split_once('='))
        {
            cookies.insert(name.trim().to_string(), value.trim().to_string().into());
        }
    }
    let cookies_string = cookies
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("; ");
    v.insert("cookies_string".into(), cookies_string.into());
    v.insert("cookies".into(), Value::Object(cookies));
    if let Some(loc) = v
        .get("location")
        .and_then(Value::as_str)
        .map(str::to_string)
    {
        v.insert("location".into(), urljoin(&masked, &loc).into());
    }
    let url = if resp.url.is_empty() {
        masked.clone()
    } else {
        http::mask_url(&resp.url)
    };
    v.insert("redirected".into(), (url != masked).into());
    v.insert("url".into(), url.into());
    v.insert("status".into(), resp.status.into());
    v.insert(
        "elapsed".into(),
        line("__tend_elapsed ")
            .and_then(|e| e.trim().parse::<i64>().ok())
            .unwrap_or(0)
            .into(),
    );
    let written = line("__tend_written ");
    if let Some(p) = line("__tend_path ") {
        v.insert("path".into(), p.into());
        path_info(line("__tend_pathinfo ").as_deref().unwrap_or(""), &mut v);
    }
    let content = part("body").map(|b| String::from_utf8_lossy(b).into_owned());
    let is_json = resp
        .header("Content-Type")
        .map(|ct| {
            let main = ct.split(';').next().unwrap_or("").trim().to_lowercase();
            let sub = main.split('/').nth(1).unwrap_or("");
            let sub = sub.rsplit('+').next().unwrap_or(sub);
            matches!(sub, "json" | "javascript")
        })
        .unwrap_or(false);
    if is_json
        && let Some(c) = &content
        && let Ok(j) = serde_json::from_str::<Value>(c)
    {
        v.insert("json".into(), j);
    }
    let ok = a.status_code.contains(&resp.status);
    // Any status but 2xx comes back through urllib's HTTPError: no cookies,
    // and its body as `body` unless the content is read for the result.
    if !(200..300).contains(&resp.status) && resp.status >= 0 {
        v.remove("cookies");
        v.remove("cookies_string");
        if ok && !is_json && !a.return_content {
            v.insert("body".into(), content.clone().unwrap_or_default().into());
        }
    }
    if a.return_content || !ok {
        v.insert(
            "content".into(),
            content.clone().map(Value::from).unwrap_or(Value::from("")),
        );
    }
    let msg = resp.msg();
    if !ok {
        let list = format!(
            "[{}]",
            a.status_code
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !a.return_content {
            v.remove("content");
        }
        v.remove("cookies");
        v.remove("cookies_string");
        return Err(ModuleError::Failed {
            msg: format!("Status code was {} and not {list}: {msg}", resp.status),
            values: v,
        });
    }
    Ok(Outcome {
        changed: written.is_some(),
        msg: Some(msg),
        values: v,
        ..Outcome::default()
    })
}

/// Ansible's `add_path_info` from `stat -c '%u %g %a %s %h %F|%U|%G'`
/// (empty when the path is not there: `state: absent`).
fn path_info(stat: &str, v: &mut Map<String, Value>) {
    let mut fields = stat.split('|');
    let nums: Vec<&str> = fields.next().unwrap_or("").splitn(6, ' ').collect();
    let (Some(owner), Some(group), [uid, gid, mode, size, nlink, kind]) =
        (fields.next(), fields.next(), nums.as_slice())
    else {
        v.insert("state".into(), "absent".into());
        return;
    };
    let num = |s: &str| s.parse::<u64>().unwrap_or(0);
    let state = match *kind {
        "directory" => "directory",
        "symbolic link" => "link",
        _ if num(nlink) > 1 => "hard",
        _ => "file",
    };
    v.insert("uid".into(), num(uid).into());
    v.insert("gid".into(), num(gid).into());
    v.insert("owner".into(), owner.into());
    v.insert("group".into(), group.into());
    let mode = u32::from_str_radix(mode, 8).unwrap_or(0);
    v.insert("mode".into(), crate::fileops::fmt_mode(mode).into());
    v.insert("state".into(), state.into());
    v.insert("size".into(), num(size).into());
}

/// `urljoin(base, location)` for absolute and root-relative locations.
fn urljoin(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return loc.to_string();
    };
    let host = rest.split('/').next().unwrap_or(rest);
    if loc.starts_with('/') {
        format!("{scheme}://{host}{loc}")
    } else {
        let path = rest[host.len()..].rsplit_once('/').map_or("", |(p, _)| p);
        format!("{scheme}://{host}{path}/{loc}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn parsed(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        Uri::validate(&a).unwrap();
        a
    }

    fn run(a: &Args, stdout: &str) -> Result<Outcome, ModuleError> {
        outcome(
            a,
            &ExecOutput {
                status: 0,
                stdout: stdout.as_bytes().to_vec(),
                stderr: vec![],
            },
        )
    }

    fn framed(hdrs: &str, body: Option<&str>) -> String {
        let mut s = format!(
            "__tend_http 0 200 0 http://h/api\n__tend_elapsed 0\n__tend_part hdrs {}\n{hdrs}",
            hdrs.len()
        );
        if let Some(b) = body {
            s.push_str(&format!("__tend_part body {}\n{b}", b.len()));
        }
        s
    }

    #[test]
    fn arguments_and_bodies() {
        let a = parsed(
            json!({"url": "http://h/", "method": "POST", "body_format": "json", "body": {"a": [1, "b"]}, "status_code": "200, 201"}),
        );
        assert_eq!(a.status_code, vec![200, 201]);
        let ex = script(&a).unwrap();
        let cfg = String::from_utf8_lossy(&ex.stdin).into_owned();
        assert!(
            cfg.contains("data-binary = \"{\\\"a\\\": [1, \\\"b\\\"]}\""),
            "{cfg}"
        );
        assert!(
            cfg.contains("header = \"Content-Type: application/json\""),
            "{cfg}"
        );
        assert!(
            !cfg.contains("location"),
            "POST does not follow redirects by default"
        );
        assert!(ex.script.contains("case $_c in 200|201)"), "{}", ex.script);
        let a = parsed(
            json!({"url": "http://h/", "method": "POST", "body_format": "form-urlencoded", "body": {"q": "a b", "n": 1}}),
        );
        let cfg = String::from_utf8_lossy(&script(&a).unwrap().stdin).into_owned();
        assert!(cfg.contains("data-binary = \"q=a+b&n=1\""), "{cfg}");
        let bad: Args = args::parse(&json!({"url": "u", "method": "post"})).unwrap();
        assert!(Uri::validate(&bad).is_err());
        let bad: Args = args::parse(&json!({"url": "u", "body_format": "form-multipart"})).unwrap();
        assert!(
            Uri::validate(&bad)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
        let a = parsed(json!({"url": "http://h/", "url_password": "hunter2", "user": "me"}));
        let ex = script(&a).unwrap();
        assert!(!ex.script.contains("hunter2"));
        assert!(String::from_utf8_lossy(&ex.stdin).contains("user = \"me:hunter2\""));
    }

    #[test]
    fn reads_responses_like_ansible() {
        let a = parsed(json!({"url": "http://h/api", "return_content": true}));
        let o = run(
            &a,
            &framed(
                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\nSet-Cookie: sid=42; Path=/\r\n\r\n",
                Some("{\"a\": 1}"),
            ),
        )
        .unwrap();
        assert!(!o.changed);
        assert_eq!(o.msg.as_deref(), Some("OK (8 bytes)"));
        assert_eq!(o.values["status"], 200);
        assert_eq!(o.values["json"], json!({"a": 1}));
        assert_eq!(o.values["content"], "{\"a\": 1}");
        assert_eq!(o.values["content_type"], "application/json");
        assert_eq!(o.values["cookies"], json!({"sid": "42"}));
        assert_eq!(o.values["redirected"], false);
        let a = parsed(json!({"url": "http://h/api"}));
        let err = run(
            &a,
            &framed("HTTP/1.0 404 File not found\r\n\r\n", Some("nope"))
                .replace("0 200 0", "0 404 0"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Status code was 404 and not [200]: HTTP Error 404: File not found"
        );
        let o = run(
            &parsed(json!({"url": "u", "creates": "/x"})),
            "__tend_skip_creates\n",
        )
        .unwrap();
        assert!(!o.changed);
        assert_eq!(o.values["stdout"], "skipped, since '/x' exists");
        assert_eq!(urljoin("http://h/a/b", "/c"), "http://h/c");
        assert_eq!(urljoin("http://h/a/b", "c"), "http://h/a/c");
    }

    #[test]
    fn a_non_2xx_status_has_no_cookies_and_its_body_as_ansible() {
        let a =
            parsed(json!({"url": "http://h/api", "status_code": 302, "follow_redirects": "none"}));
        let o = run(
            &a,
            &framed(
                "HTTP/1.0 302 Found\r\nLocation: /x\r\nSet-Cookie: a=1\r\n\r\n",
                Some(""),
            )
            .replace("0 200 0", "0 302 0"),
        )
        .unwrap();
        assert_eq!(o.msg.as_deref(), Some("HTTP Error 302: Found"));
        assert_eq!(o.values["body"], "");
        assert_eq!(o.values["location"], "http://h/x");
        assert!(!o.values.contains_key("cookies") && !o.values.contains_key("cookies_string"));
        let o = run(
            &parsed(json!({"url": "http://h/api"})),
            &framed("HTTP/1.0 200 OK\r\n\r\n", None),
        )
        .unwrap();
        assert!(!o.values.contains_key("body"));
        assert_eq!(o.values["cookies"], json!({}));
    }

    #[test]
    fn dest_gets_the_files_attributes() {
        let a = parsed(json!({"url": "http://h/api", "dest": "/srv/x"}));
        let script = script(&a).unwrap().script;
        assert!(script.contains("__tend_pathinfo"), "{script}");
        let out = framed("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", None)
            + "__tend_written /srv/x\n__tend_path /srv/x\n__tend_pathinfo 0 0 640 2 1 regular file|root|root\n";
        let o = run(&a, &out).unwrap();
        assert!(o.changed);
        assert_eq!(o.values["path"], "/srv/x");
        assert_eq!(o.values["mode"], "0640");
        assert_eq!(o.values["owner"], "root");
        assert_eq!(o.values["state"], "file");
        assert_eq!(o.values["size"], 2);
        let out =
            framed("HTTP/1.0 200 OK\r\n\r\n", None) + "__tend_path /srv/x\n__tend_pathinfo \n";
        assert_eq!(run(&a, &out).unwrap().values["state"], "absent");
    }
}
