//! HTTP requests made on the target with `curl` (shared by `get_url` and
//! `uri`).
//!
//! Every option, including the URL, headers, credentials and the request
//! body, goes into a curl configuration read from standard input
//! (`curl -K -`), never into the command line. The response's status line,
//! headers and body come back framed on standard output and are read by
//! [`Response::parse`]. `get_url` may fall back to `wget` (a `wgetrc` sent
//! after the curl configuration).

use crate::module::MSG_PREFIX;
use serde_json::{Map, Value};

/// Marks the start of the `wget` part of the standard input.
pub const WGET_MARK: &str = "#__tend_wget__";

/// One request, as options for curl.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The URL.
    pub url: String,
    /// Method (`GET`, `POST`...); `None` leaves curl's default.
    pub method: Option<String>,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes (as text).
    pub body: Option<String>,
    /// A file on the target whose bytes are the body.
    pub body_file: Option<String>,
    /// `user:password` for HTTP authentication.
    pub user: Option<(String, String)>,
    /// Seconds to wait for the connection and between received bytes.
    pub timeout: u64,
    /// Verify TLS certificates.
    pub validate_certs: bool,
    /// Follow redirects.
    pub follow: bool,
    /// `User-Agent`.
    pub agent: String,
    /// Send `If-Modified-Since` with this target file's mtime (when it exists).
    pub time_cond: Option<String>,
    /// Use the proxy environment variables (else `noproxy = *`).
    pub use_proxy: bool,
}

/// Quotes a value for a curl configuration file.
pub fn curl_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Request {
    /// The curl configuration (for `curl -K -`).
    pub fn curl_config(&self) -> String {
        let mut c = String::new();
        let mut opt = |k: &str, v: &str| c.push_str(&format!("{k} = {}\n", curl_quote(v)));
        opt("url", &self.url);
        if let Some(m) = &self.method {
            opt("request", m);
        }
        for (k, v) in &self.headers {
            opt("header", &format!("{k}: {v}"));
        }
        if let Some(b) = &self.body {
            opt("data-binary", b);
        }
        if let Some(f) = &self.body_file {
            opt("data-binary", &format!("@{f}"));
        }
        if let Some((u, p)) = &self.user {
            opt("user", &format!("{u}:{p}"));
        }
        opt("connect-timeout", &self.timeout.to_string());
        opt("speed-time", &self.timeout.to_string());
        opt("speed-limit", "1");
        opt("user-agent", &self.agent);
        if let Some(t) = &self.time_cond {
            opt("time-cond", t);
        }
        if !self.use_proxy {
            opt("noproxy", "*");
        }
        let mut flag = |f: &str| c.push_str(f);
        if !self.validate_certs {
            flag("insecure\n");
        }
        if self.follow {
            flag("location\nmax-redirs = 50\n");
        }
        c
    }

    /// A `wgetrc` and the URL (last line), for `get_url`'s fallback.
    pub fn wget_config(&self) -> String {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        let mut c = String::new();
        for (k, v) in &self.headers {
            c.push_str(&format!("header = {}: {}\n", one_line(k), one_line(v)));
        }
        if let Some((u, p)) = &self.user {
            c.push_str(&format!(
                "http_user = {}\nhttp_password = {}\nauth_no_challenge = on\n",
                one_line(u),
                one_line(p)
            ));
        }
        c.push_str(&format!("timeout = {}\n", self.timeout));
        c.push_str(&format!("user_agent = {}\n", one_line(&self.agent)));
        c.push_str("tries = 1\ncontent_on_error = on\nserver_response = on\n");
        if !self.validate_certs {
            c.push_str("check_certificate = off\n");
        }
        if !self.use_proxy {
            c.push_str("use_proxy = off\n");
        }
        c.push_str(if self.follow {
            "max_redirect = 50\n"
        } else {
            "max_redirect = 0\n"
        });
        c.push_str(&one_line(&self.url));
        c.push('\n');
        c
    }
}

/// sh functions: `tend_http BODY HDRS ERR WGET` runs the request whose curl
/// configuration (optionally followed by [`WGET_MARK`] and a wgetrc) is on
/// standard input, writes the body to BODY, the response headers to HDRS
/// and errors to ERR, and prints
/// `__tend_http RC CODE REDIRECTS URL` (one line). With WGET=1, wget is
/// used when curl is missing; with neither, the script exits with a message.
pub const SH_FUNCTIONS: &str = r#"tend_http() {
  if command -v curl >/dev/null 2>&1; then
    _w=$({ sed '/^#__tend_wget__$/,$d'; [ -z "$_tc" ] || printf 'time-cond = %s\n' "$_tc"; } | curl -q -K - -s -S -o "$1" -D "$2" -w '%{http_code} %{num_redirects} %{url_effective}' 2>"$3")
    _r=$?
    _c=${_w%% *}; _u=${_w#* * }
    printf '__tend_http %s %s\n' "$_r" "$_w"
  elif [ "$4" = 1 ] && command -v wget >/dev/null 2>&1; then
    sed '1,/^#__tend_wget__$/d' > "$2.all"
    tail -n 1 "$2.all" > "$2.url"; sed '$d' "$2.all" > "$2.rc"
    wget --config="$2.rc" -q -O "$1" -i "$2.url" 2>"$2.log" </dev/null
    _r=$?
    sed -n 's/^  //p' "$2.log" > "$2"
    grep -v '^  ' "$2.log" > "$3"
    _c=$(grep '^HTTP/' "$2" | tail -n 1 | cut -d' ' -f2)
    _n=$(grep -c '^HTTP/[0-9.]* 30[12378]' "$2")
    _u=$(grep -i '^location:' "$2" | tail -n 1 | sed 's/^[^:]*: *//' | tr -d '\r')
    [ -n "$_u" ] || _u=$(cat "$2.url")
    [ -n "$_c" ] && [ "$_r" = 8 ] && _r=0
    _c=${_c:-000}
    printf '__tend_http %s %s %s %s\n' "$_r" "$_c" "${_n:-0}" "$_u"
  else
    cat >/dev/null
    echo "TEND_MSGneither curl nor wget is installed on the target" >&2
    exit 1
  fi
}
"#;

/// [`SH_FUNCTIONS`] with its message prefix.
pub fn sh_functions() -> String {
    SH_FUNCTIONS.replace("TEND_MSG", MSG_PREFIX)
}

/// sh: for a directory `$d`, appends the file name of the response (its
/// `Content-Disposition` filename, else the last segment of the final URL
/// `$_u`, else `index.html`), reading the headers in `$tmpd/hdrs`.
pub const SH_NAME_IN_DIR: &str = r#"n=$(tr -d '\r' < "$tmpd/hdrs" | sed -n 's/^[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Dd][Ii][Ss][Pp][Oo][Ss][Ii][Tt][Ii][Oo][Nn]:.*filename="*\([^";]*\).*/\1/p' | tail -n 1)
n=${n##*/}
if [ -z "$n" ]; then u=${_u%%[?#]*}; u=${u#*://}; case $u in */*) n=${u##*/} ;; *) n= ;; esac; fi
[ -n "$n" ] || n=index.html
case $d in */) d=$d$n ;; *) d=$d/$n ;; esac
"#;

/// What a request returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// curl's (or wget's) exit status.
    pub rc: i32,
    /// HTTP status (`-1` when no response came back).
    pub status: i64,
    /// Redirects followed.
    pub redirects: u32,
    /// The final URL.
    pub url: String,
    /// Reason phrase of the final status line.
    pub reason: String,
    /// Headers of the final response, names as sent.
    pub headers: Vec<(String, String)>,
    /// curl's error text, when `rc` is not 0.
    pub error: String,
}

impl Response {
    /// Reads the `__tend_http` line, the dumped headers and the error text.
    pub fn parse(line: &str, headers: &[u8], error: &[u8]) -> Option<Response> {
        let rest = line.strip_prefix("__tend_http ")?;
        let mut words = rest.splitn(4, ' ');
        let rc = words.next()?.trim().parse().ok()?;
        let code: i64 = words.next().unwrap_or("0").trim().parse().unwrap_or(0);
        let redirects = words.next().unwrap_or("0").trim().parse().unwrap_or(0);
        let url = words.next().unwrap_or("").trim().to_string();
        let text = String::from_utf8_lossy(headers).replace("\r\n", "\n");
        // The dump has one block per response (redirects, 100 Continue): the last counts.
        let block = text
            .split("\n\n")
            .filter(|b| b.trim_start().starts_with("HTTP/"))
            .last()
            .unwrap_or("");
        let mut lines = block.trim_start().lines();
        let status_line = lines.next().unwrap_or("");
        let reason = status_line.splitn(3, ' ').nth(2).unwrap_or("").to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let error = String::from_utf8_lossy(error).trim().to_string();
        let error = error
            .lines()
            .next_back()
            .unwrap_or("")
            .trim_start_matches("curl: ")
            .to_string();
        Some(Response {
            rc,
            status: if rc != 0 || code == 0 { -1 } else { code },
            redirects,
            url,
            reason,
            headers,
            error,
        })
    }

    /// A header's value (case-insensitive name; the last one wins).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Ansible's `msg` for the response: `OK (N bytes)`, `HTTP Error 404: Not
    /// Found`, or `Request failed: ...`.
    pub fn msg(&self) -> String {
        if self.status < 0 {
            return format!("Request failed: <urlopen error {}>", self.error);
        }
        if (200..300).contains(&self.status) {
            let len = self.header("Content-Length").unwrap_or("unknown");
            return format!("OK ({len} bytes)");
        }
        format!("HTTP Error {}: {}", self.status, self.reason)
    }

    /// The headers as Ansible's `uri` returns them: lowercased, `-` as `_`.
    pub fn header_values(&self, into: &mut Map<String, Value>) {
        for (k, v) in &self.headers {
            into.insert(k.to_lowercase().replace('-', "_"), v.clone().into());
        }
    }

    /// The filename of a `Content-Disposition: attachment; filename=...` header.
    pub fn disposition_filename(&self) -> Option<String> {
        let v = self.header("Content-Disposition")?;
        let (_, rest) = v.split_once("filename=")?;
        let name = rest.split(';').next()?.trim().trim_matches('"');
        let name = name.rsplit('/').next()?.to_string();
        (!name.is_empty()).then_some(name)
    }
}

/// Python's `urllib.parse.quote_plus` (for `form-urlencoded` bodies).
pub fn quote_plus(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The file name of a URL's path (`index.html` when empty), as Ansible's `url_filename`.
pub fn url_filename(url: &str) -> String {
    let no_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = no_scheme.find('/').map_or("", |i| &no_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path.rsplit('/').next() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => "index.html".to_string(),
    }
}

/// The URL with any `user:password@` removed (Ansible's `mask_url`).
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://********@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Splits framed output: `__tend_part NAME LEN\n` followed by LEN bytes.
pub fn parts(stdout: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mark = b"__tend_part ";
    while i < stdout.len() {
        let Some(nl) = stdout[i..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let line = String::from_utf8_lossy(&stdout[i..i + nl]).into_owned();
        i += nl + 1;
        let Some(rest) = line.as_bytes().strip_prefix(mark) else {
            out.push((String::new(), line.into_bytes()));
            continue;
        };
        let rest = String::from_utf8_lossy(rest);
        let (name, len) = rest.split_once(' ').unwrap_or((&rest, "0"));
        let len: usize = len.trim().parse().unwrap_or(0);
        let end = (i + len).min(stdout.len());
        out.push((name.to_string(), stdout[i..end].to_vec()));
        i = end;
    }
    out
}

/// sh: prints file `$2` framed as part `$1` (nothing when it is missing).
pub const SH_PART: &str = r#"tend_part() {
  if [ -f "$2" ]; then _n=$(wc -c < "$2"); printf '__tend_part %s %s\n' "$1" $((_n)); cat < "$2"; fi
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_config_quotes_everything() {
        let r = Request {
            url: "http://h/a b\"c".into(),
            method: Some("POST".into()),
            headers: vec![("X-A".into(), "1\n2".into())],
            body: Some("{\"k\": \"v\\\\\"}".into()),
            user: Some(("u".into(), "p\"w".into())),
            timeout: 10,
            validate_certs: false,
            follow: true,
            agent: "ansible-httpget".into(),
            ..Request::default()
        };
        let c = r.curl_config();
        assert!(c.contains("url = \"http://h/a b\\\"c\"\n"), "{c}");
        assert!(c.contains("header = \"X-A: 1\\n2\"\n"), "{c}");
        assert!(c.contains("user = \"u:p\\\"w\"\n"), "{c}");
        assert!(
            c.contains("data-binary = \"{\\\"k\\\": \\\"v\\\\\\\\\\\"}\"\n"),
            "{c}"
        );
        assert!(c.contains("insecure\n") && c.contains("location\n"), "{c}");
        let w = r.wget_config();
        assert!(w.ends_with("http://h/a b\"c\n") && w.contains("http_password = p\"w"));
    }

    #[test]
    fn parses_responses() {
        let hdrs = b"HTTP/1.0 301 Moved\r\nLocation: /b\r\n\r\nHTTP/1.0 200 OK\r\nServer: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nContent-Disposition: attachment; filename=\"f.tgz\"\r\n\r\n";
        let r = Response::parse("__tend_http 0 200 1 http://h/b", hdrs, b"").unwrap();
        assert_eq!(
            (r.status, r.redirects, r.url.as_str()),
            (200, 1, "http://h/b")
        );
        assert_eq!(r.msg(), "OK (7 bytes)");
        assert_eq!(r.disposition_filename().as_deref(), Some("f.tgz"));
        let mut m = Map::new();
        r.header_values(&mut m);
        assert_eq!(m["content_type"], "application/json");
        let r = Response::parse(
            "__tend_http 7 000 0 http://h/",
            b"",
            b"curl: (7) Failed to connect",
        )
        .unwrap();
        assert_eq!(r.status, -1);
        assert_eq!(
            r.msg(),
            "Request failed: <urlopen error (7) Failed to connect>"
        );
        let r = Response::parse(
            "__tend_http 0 404 0 u",
            b"HTTP/1.1 404 Not Found\r\n\r\n",
            b"",
        )
        .unwrap();
        assert_eq!(r.msg(), "HTTP Error 404: Not Found");
    }

    #[test]
    fn helpers() {
        assert_eq!(quote_plus("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(url_filename("http://h/x/f.tar.gz?x=1"), "f.tar.gz");
        assert_eq!(url_filename("http://h"), "index.html");
        assert_eq!(mask_url("http://u:p@h/x"), "http://********@h/x");
        let p = parts(b"__tend_part a 3\nxyz__tend_part b 0\nline\n");
        assert_eq!(p[0], ("a".to_string(), b"xyz".to_vec()));
        assert_eq!(p[1], ("b".to_string(), b"".to_vec()));
        assert_eq!(p[2], (String::new(), b"line".to_vec()));
    }
}
