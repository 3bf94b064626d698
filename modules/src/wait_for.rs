//! The `wait_for` module: wait until a TCP port accepts connections (or stops), a file appears (or goes), or a regex shows up in a file or a port's banner.
//!
//! The waiting runs on the target, in one script that polls every `sleep`
//! seconds until the condition holds or `timeout` seconds have passed since
//! the start (`delay` included): no round trip per poll. A port is tried
//! with bash's `/dev/tcp`, else `nc -z`, else (for a local `host` only)
//! by looking for a listening socket in `/proc/net/tcp` and `tcp6`.
//! `search_regex` (a Python regex, MULTILINE, on the raw bytes) is matched
//! on the controller: for a `path`, the script returns the file whenever it
//! appears or changes (so a round trip happens per change, not per poll);
//! for a `port`, each attempt connects and returns what the service sent
//! (one read more per attempt, each within `connect_timeout` seconds), so a
//! banner comes back at once. Without `port` and `path` it just sleeps
//! `timeout` seconds. `state: drained` (and so `exclude_hosts`,
//! `active_connection_states`) is not supported yet. As in Ansible, check
//! mode skips the task.
//!
//! # Examples
//!
//! ```yaml
//! - name: Wait for the app to listen
//!   wait_for:
//!     port: 8080
//!     timeout: 60
//!
//! - name: Wait for the lock file to go
//!   wait_for:
//!     path: /var/lock/app.lock
//!     state: absent
//!
//! - name: Wait for the startup message and capture the version
//!   wait_for:
//!     path: /var/log/app.log
//!     search_regex: 'started version (?P<version>\S+)'
//!   register: started
//! ```
//!
//! # Return values
//!
//! - `elapsed` (int): seconds spent waiting.
//! - `match_groups` (list): the groups of the `search_regex` match in a file (empty for a port, as in Ansible).
//! - `match_groupdict` (dict): the named groups of the `search_regex` match in a file.
//! - `path` (str): the `path` argument (or null).
//! - `port` (int): the `port` argument (or null).
//! - `search_regex` (str): the `search_regex` argument (or null).
//! - `state` (str): the `state` argument; when `path` exists at the end, its kind (`file`, `directory`, `link`, `hard`), as Ansible reports it.
//! - `uid`, `gid`, `owner`, `group`, `mode`, `size` (int/str): the attributes of `path`, when it exists at the end.

use crate::args::{ArgsError, de};
use crate::choice;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::pyregex::{Flags, Regex};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Instant;

choice! {
    /// `state` of `wait_for`.
    pub enum State {
        /// The port accepts connections / the file exists (the default).
        Started = ["started"],
        /// The file exists.
        Present = ["present"],
        /// The port refuses connections.
        Stopped = ["stopped"],
        /// The file does not exist.
        Absent = ["absent"],
        /// Not supported yet.
        Drained = ["drained"],
    }
}

fn started() -> State {
    State::Started
}

fn localhost() -> String {
    "127.0.0.1".into()
}

fn t300() -> i64 {
    300
}

fn t5() -> i64 {
    5
}

fn one() -> i64 {
    1
}

/// Arguments of `wait_for`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The host whose `port` to try (default `127.0.0.1`, seen from the target).
    #[serde(default = "localhost", deserialize_with = "de::string")]
    pub host: String,
    /// Give up after this many seconds (default 300).
    #[serde(default = "t300", deserialize_with = "de::int")]
    pub timeout: i64,
    /// Seconds one connection attempt may take (default 5).
    #[serde(default = "t5", deserialize_with = "de::int")]
    pub connect_timeout: i64,
    /// Seconds to wait before the first check.
    #[serde(default, deserialize_with = "de::int")]
    pub delay: i64,
    /// A TCP port to wait for.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub port: Option<i64>,
    /// Only with `state: drained`: not supported yet.
    #[serde(default, deserialize_with = "de::list")]
    pub active_connection_states: Vec<String>,
    /// A file to wait for.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub path: Option<String>,
    /// A Python regex to find in the file or the port's banner.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub search_regex: Option<String>,
    /// `started`/`present`, `stopped`/`absent`; `drained` is not supported yet.
    #[serde(default = "started")]
    pub state: State,
    /// Only with `state: drained`: not supported yet.
    #[serde(default, deserialize_with = "de::list")]
    pub exclude_hosts: Vec<String>,
    /// Seconds between checks (default 1).
    #[serde(default = "one", deserialize_with = "de::int")]
    pub sleep: i64,
    /// The failure message on timeout, instead of the default.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub msg: Option<String>,
}

/// The `wait_for` module.
pub struct WaitFor;

/// The polling script's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The condition holds (with the `path`'s attributes when it exists).
    Done(Option<PathStat>),
    /// Timed out.
    Timeout,
    /// The file appeared or changed: its checksum, attributes and content.
    Content(String, Option<PathStat>, Vec<u8>),
    /// Bytes a port sent.
    Data(Vec<u8>),
    /// A port cannot be tried: no bash, nc, nor a local host.
    NoTool,
}

/// What Ansible adds to a result whose `path` exists (`add_path_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Owner name (the id when unknown).
    pub owner: String,
    /// Group name (the id when unknown).
    pub group: String,
    /// Permissions, `0644`.
    pub mode: String,
    /// Size in bytes.
    pub size: u64,
    /// `file`, `directory`, `link` or `hard`.
    pub state: String,
}

impl PathStat {
    /// From `stat -c '%u %g %U %G %a %s %F'` and the followed link count.
    pub fn parse(stat: &str, nlink: &str) -> Option<PathStat> {
        let w: Vec<&str> = stat.splitn(7, ' ').collect();
        if w.len() < 7 {
            return None;
        }
        let name = |n: &str, id: &str| if n == "UNKNOWN" { id } else { n }.to_string();
        let state = match w[6] {
            "symbolic link" => "link",
            "directory" => "directory",
            _ if nlink.trim().parse::<u64>().unwrap_or(1) > 1 => "hard",
            _ => "file",
        };
        Some(PathStat {
            uid: w[0].parse().ok()?,
            gid: w[1].parse().ok()?,
            owner: name(w[2], w[0]),
            group: name(w[3], w[1]),
            mode: format!("0{:03o}", u32::from_str_radix(w[4], 8).ok()?),
            size: w[5].parse().ok()?,
            state: state.into(),
        })
    }

    fn add_to(&self, o: Outcome) -> Outcome {
        o.with("uid", self.uid)
            .with("gid", self.gid)
            .with("owner", self.owner.as_str())
            .with("group", self.group.as_str())
            .with("mode", self.mode.as_str())
            .with("size", self.size)
            .with("state", self.state.as_str())
    }
}

/// Prints the attributes of the path in sh word `p` as two NUL-ended fields.
fn pstat(p: &str) -> String {
    format!(
        "printf '%s\\0' \"$(stat -c '%u %g %U %G %a %s %F' -- {p} 2>/dev/null)\" \"$(stat -L -c %h -- {p} 2>/dev/null)\""
    )
}

/// Shell functions: `tend_conn HOST PORT SECONDS` succeeds when the port
/// accepts a connection; `tend_read HOST PORT SECONDS READS` prints what it sends in its first READS reads.
const CONNECT: &str = r#"tend_hex() { printf '%04X' "$1"; }
tend_local() { case $1 in 127.*|localhost|0.0.0.0|::1|::|ip6-localhost) return 0;; esac; return 1; }
if command -v bash >/dev/null 2>&1 && bash -c 'exec 3<>/dev/tcp/127.0.0.1/1' 2>&1 | grep -qv 'No such file or directory'; then tend_tool=bash
elif command -v nc >/dev/null 2>&1; then tend_tool=nc
else tend_tool=proc; fi
tend_conn() {
  case $tend_tool in
    bash) timeout "$3" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" >/dev/null 2>&1 ;;
    nc) nc -z -w "$3" "$1" "$2" >/dev/null 2>&1 ;;
    proc) _h=$(tend_hex "$2"); _w=0100007F
      case $1 in *.*.*.*) _w=$(echo "$1" | awk -F. '{ printf "%02X%02X%02X%02X", $4, $3, $2, $1 }') ;; esac
      cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$_h" -v w="$_w" '$4 == "0A" { a = $2; if (substr(a, length(a) - 4) == p) { ip = substr(a, 1, length(a) - 5); if (ip ~ /^0+$/ || ip == w || ip == "0000000000000000FFFF0000" w || (w == "0100007F" && ip == "00000000000000000000000001000000")) f = 1 } } END { exit !f }' ;;
  esac
}
tend_read() {
  case $tend_tool in
    bash) timeout "$3" bash -c 'exec 3<>"/dev/tcp/$0/$1" && dd bs=65536 count="$2" <&3 2>/dev/null' "$1" "$2" "$4" 2>/dev/null ;;
    nc) timeout "$3" nc -w "$3" "$1" "$2" </dev/null 2>/dev/null | dd bs=65536 count="$4" 2>/dev/null ;;
  esac
}
"#;

impl WaitFor {
    /// The polling script for attempt `attempt` (0 first). `seen` is the
    /// checksum of the file content the controller already searched (wait
    /// for it to change); `budget` the seconds left. A port's banner is read
    /// in `attempt + 1` reads (each returns what has arrived), so a short
    /// banner comes back at once and a longer one on a later attempt.
    pub fn script(a: &Args, budget: i64, attempt: usize, seen: Option<&str>) -> Exec {
        let first = attempt == 0;
        let mut s = format!(
            "LC_ALL=C; export LC_ALL\nend=$(( $(date +%s) + {budget} ))\nsl={}\n",
            a.sleep.max(0)
        );
        if first && a.delay > 0 {
            s.push_str(&format!("sleep {}\n", a.delay));
        }
        let host = quote(&a.host);
        let (cond, after) = match (&a.port, &a.path) {
            (None, None) => {
                s.push_str(&format!("sleep {budget}\nprintf 'done\\0'\n"));
                return Exec::script(s);
            }
            (Some(port), _) => {
                s.push_str(CONNECT);
                s.push_str(&format!(
                    "if [ $tend_tool = proc ] && ! tend_local {host}; then printf 'notool\\0'; exit 0; fi\n"
                ));
                let ct = format!(
                    "$(( {} < (end - $(date +%s)) ? {} : (end - $(date +%s)) ))",
                    a.connect_timeout, a.connect_timeout
                );
                match (a.state, &a.search_regex) {
                    (State::Stopped | State::Absent, _) => (
                        format!("! tend_conn {host} {port} {}", a.connect_timeout.max(1)),
                        String::new(),
                    ),
                    (_, Some(_)) => {
                        if !first {
                            s.push_str("sleep $sl\n");
                        }
                        let reads = attempt + 1;
                        s.push_str(&format!(
                            "if [ $tend_tool = proc ]; then printf 'notool\\0'; exit 0; fi\n\
                             while [ $(date +%s) -lt $end ]; do\n\
                             t={ct}; [ $t -lt 1 ] && t=1\n\
                             if tend_conn {host} {port} $t; then printf 'data\\0'; tend_read {host} {port} $t {reads}; exit 0; fi\n\
                             sleep $sl\ndone\nprintf 'timeout\\0'\n"
                        ));
                        return Exec::script(s);
                    }
                    _ => (
                        format!("t={ct}; [ $t -lt 1 ] && t=1; tend_conn {host} {port} $t"),
                        String::new(),
                    ),
                }
            }
            (None, Some(path)) => {
                let p = quote(path);
                match (a.state, &a.search_regex) {
                    (State::Absent | State::Stopped, _) => (format!("[ ! -e {p} ]"), String::new()),
                    (_, None) => (format!("[ -e {p} ]"), format!("{}; ", pstat(&p))),
                    (_, Some(_)) => {
                        let seen = quote(seen.unwrap_or(""));
                        s.push_str(&format!(
                            "while :; do\n\
                             if [ -e {p} ] && sum=$(cksum < {p} 2>/dev/null) && [ \"$sum\" != {seen} ]; then\n\
                             printf 'content\\0%s\\0' \"$sum\"; {}; cat < {p}; exit 0; fi\n\
                             [ $(date +%s) -ge $end ] && {{ printf 'timeout\\0'; exit 0; }}\n\
                             sleep $sl\ndone\n",
                            pstat(&p)
                        ));
                        return Exec::script(s);
                    }
                }
            }
        };
        s.push_str(&format!(
            "while :; do\n\
             if {cond}; then printf 'done\\0'; {after}exit 0; fi\n\
             [ $(date +%s) -ge $end ] && {{ printf 'timeout\\0'; exit 0; }}\n\
             sleep $sl\ndone\n"
        ));
        Exec::script(s)
    }

    /// Reads the script's verdict.
    pub fn verdict(out: &ExecOutput) -> Result<Verdict, ModuleError> {
        let o = &out.stdout;
        let word_end = o.iter().position(|&b| b == 0);
        let bad = || ModuleError::script("waiting failed", out);
        if out.status != 0 {
            return Err(bad());
        }
        let Some(i) = word_end else {
            return Err(bad());
        };
        let rest = &o[i + 1..];
        let fields = |b: &[u8]| -> Vec<String> {
            b.split(|&c| c == 0)
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        };
        let stat_of = |f: &[String]| match f {
            [st, nl, ..] => PathStat::parse(st, nl),
            _ => None,
        };
        Ok(match &o[..i] {
            b"done" => Verdict::Done(stat_of(&fields(rest))),
            b"timeout" => Verdict::Timeout,
            b"notool" => Verdict::NoTool,
            b"data" => Verdict::Data(rest.to_vec()),
            b"content" => {
                let mut at = 0;
                let mut head = Vec::new();
                for _ in 0..3 {
                    let j = rest[at..].iter().position(|&b| b == 0).ok_or_else(bad)?;
                    head.push(String::from_utf8_lossy(&rest[at..at + j]).into_owned());
                    at += j + 1;
                }
                Verdict::Content(head[0].clone(), stat_of(&head[1..]), rest[at..].to_vec())
            }
            _ => return Err(bad()),
        })
    }

    fn timeout_msg(a: &Args) -> String {
        if let Some(m) = &a.msg {
            return m.clone();
        }
        let (host, port) = (&a.host, a.port.unwrap_or_default());
        let path = a.path.clone().unwrap_or_default();
        match (a.port.is_some(), a.state, &a.search_regex) {
            (true, State::Stopped | State::Absent, _) => {
                format!("Timeout when waiting for {host}:{port} to stop.")
            }
            (false, State::Stopped | State::Absent, _) => {
                format!("Timeout when waiting for {path} to be absent.")
            }
            (true, _, Some(r)) => {
                format!("Timeout when waiting for search string {r} in {host}:{port}")
            }
            (true, _, None) => format!("Timeout when waiting for {host}:{port}"),
            (false, _, Some(r)) => format!("Timeout when waiting for search string {r} in {path}"),
            (false, _, None) => format!("Timeout when waiting for file {path}"),
        }
    }
}

/// `match_groups` and `match_groupdict` of a match.
fn groups(re: &Regex, hay: &[u8]) -> Option<(Value, Value)> {
    let m = re.search(hay).ok().flatten()?;
    let g = |i: usize| {
        m.group_bytes(hay, i).map_or(Value::Null, |b| {
            String::from_utf8_lossy(b).into_owned().into()
        })
    };
    let list: Vec<Value> = (1..=re.groups()).map(g).collect();
    let mut dict = Map::new();
    for (name, i) in re.group_names() {
        dict.insert(name.to_string(), g(i));
    }
    Some((Value::from(list), Value::Object(dict)))
}

#[async_trait]
impl TypedModule for WaitFor {
    type Args = Args;
    const NAME: &'static str = "wait_for";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        let general = |m: &str| Err(ArgsError::general(m));
        if a.port.is_some() && a.path.is_some() {
            return general("port and path parameter can not both be passed to wait_for");
        }
        if a.path.is_some() && a.state == State::Stopped {
            return general(
                "state=stopped should only be used for checking a port in the wait_for module",
            );
        }
        if a.state == State::Drained {
            return Err(ArgsError::field(
                "state",
                "wait_for: state=drained is not supported yet",
            ));
        }
        if !a.exclude_hosts.is_empty() {
            return general("exclude_hosts should only be with state=drained");
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
            return Ok(Outcome::no_check_mode(Self::NAME));
        }
        let re = match &args.search_regex {
            Some(r) => Some(
                Regex::new(r, Flags::bytes().multiline(true))
                    .map_err(|e| ModuleError::failed(format!("Invalid regular expression: {e}")))?,
            ),
            None => None,
        };
        let start = Instant::now();
        let mut seen: Option<String> = None;
        let mut stat: Option<PathStat> = None;
        let (mut mg, mut mgd) = (Value::Array(vec![]), Value::Object(Map::new()));
        for attempt in 0.. {
            let spent = start.elapsed().as_secs() as i64;
            let budget = (args.timeout - spent).max(0);
            let out = host
                .exec(WaitFor::script(&args, budget, attempt, seen.as_deref()))
                .await?;
            let found = match WaitFor::verdict(&out)? {
                Verdict::Done(st) => {
                    stat = st;
                    break;
                }
                Verdict::NoTool => {
                    return Err(ModuleError::failed(format!(
                        "wait_for: cannot try {}:{} from the target: it has neither bash (/dev/tcp) nor nc, and the host is not local",
                        args.host,
                        args.port.unwrap_or_default()
                    ))
                    .with("elapsed", start.elapsed().as_secs()));
                }
                Verdict::Timeout => None,
                Verdict::Content(sum, st, bytes) => {
                    seen = Some(sum);
                    stat = st;
                    Some(bytes)
                }
                Verdict::Data(bytes) => Some(bytes),
            };
            let Some(bytes) = found else {
                return Err(ModuleError::failed(WaitFor::timeout_msg(&args))
                    .with("elapsed", start.elapsed().as_secs()));
            };
            if let Some(re) = &re
                && let Some((g, d)) = groups(re, &bytes)
            {
                // Ansible reports the groups of a match in a file only.
                if args.path.is_some() {
                    (mg, mgd) = (g, d);
                }
                break;
            }
            if start.elapsed().as_secs() as i64 >= args.timeout {
                return Err(ModuleError::failed(WaitFor::timeout_msg(&args))
                    .with("elapsed", start.elapsed().as_secs()));
            }
        }
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::from);
        let out = Outcome::ok()
            .with("elapsed", start.elapsed().as_secs())
            .with("match_groups", mg)
            .with("match_groupdict", mgd)
            .with("path", opt(&args.path))
            .with("port", args.port.map_or(Value::Null, Value::from))
            .with("search_regex", opt(&args.search_regex))
            .with("state", args.state.as_str());
        Ok(match stat {
            Some(st) => st.add_to(out),
            None => out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn a(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        WaitFor::validate(&a).unwrap();
        a
    }

    #[test]
    fn scripts_poll_on_the_target() {
        let p = a(json!({"port": 8080, "delay": 2, "sleep": 3}));
        let s = WaitFor::script(&p, 300, 0, None).script;
        assert!(
            s.starts_with("LC_ALL=C; export LC_ALL\nend=$(( $(date +%s) + 300 ))\nsl=3\nsleep 2\n"),
            "{s}"
        );
        assert!(
            s.contains("tend_conn 127.0.0.1 8080 $t; then printf 'done"),
            "{s}"
        );
        assert!(s.contains("/proc/net/tcp"));
        let stop = a(json!({"port": 22, "host": "10.0.0.1", "state": "stopped"}));
        assert!(
            WaitFor::script(&stop, 5, 0, None)
                .script
                .contains("if ! tend_conn 10.0.0.1 22 5")
        );
        let f = a(json!({"path": "/tmp/x y", "state": "absent"}));
        assert!(
            WaitFor::script(&f, 5, 0, None)
                .script
                .contains("if [ ! -e '/tmp/x y' ]")
        );
        let r = a(json!({"path": "/log", "search_regex": "up"}));
        let s = WaitFor::script(&r, 5, 1, Some("12 3")).script;
        assert!(s.contains("[ \"$sum\" != '12 3' ]"), "{s}");
        let none = a(json!({"timeout": 2}));
        assert!(
            WaitFor::script(&none, 2, 0, None)
                .script
                .contains("sleep 2\nprintf 'done")
        );
    }

    #[test]
    fn verdicts_matches_and_messages() {
        let out = |b: &[u8]| ExecOutput {
            status: 0,
            stdout: b.to_vec(),
            stderr: vec![],
        };
        assert_eq!(
            WaitFor::verdict(&out(b"done\0")).unwrap(),
            Verdict::Done(None)
        );
        let st = PathStat::parse("0 4 root UNKNOWN 4755 12 regular file", "2").unwrap();
        assert_eq!(
            (
                st.owner.as_str(),
                st.group.as_str(),
                st.mode.as_str(),
                st.state.as_str()
            ),
            ("root", "4", "04755", "hard")
        );
        assert_eq!(
            WaitFor::verdict(&out(b"done\x000 0 root root 644 3 directory\x002\0")).unwrap(),
            Verdict::Done(PathStat::parse("0 0 root root 644 3 directory", "2"))
        );
        assert_eq!(
            WaitFor::verdict(&out(b"content\x0012 3\x00\x00\x00a\nb")).unwrap(),
            Verdict::Content("12 3".into(), None, b"a\nb".to_vec())
        );
        assert_eq!(
            WaitFor::verdict(&out(b"data\0SSH-2.0")).unwrap(),
            Verdict::Data(b"SSH-2.0".to_vec())
        );
        let re = Regex::new(
            r"^started (?P<ver>\S+)( x)?",
            Flags::bytes().multiline(true),
        )
        .unwrap();
        let (g, d) = groups(&re, b"boot\nstarted 1.2\n").unwrap();
        assert_eq!(g, json!(["1.2", null]));
        assert_eq!(d, json!({"ver": "1.2"}));
        assert!(groups(&re, b"nope").is_none());
        assert_eq!(
            WaitFor::timeout_msg(&a(json!({"port": 80}))),
            "Timeout when waiting for 127.0.0.1:80"
        );
        assert_eq!(
            WaitFor::timeout_msg(&a(json!({"path": "/f", "search_regex": "x"}))),
            "Timeout when waiting for search string x in /f"
        );
        assert_eq!(
            WaitFor::timeout_msg(&a(json!({"path": "/f", "msg": "no"}))),
            "no"
        );
    }

    #[test]
    fn argument_rules() {
        let bad = |v: Value| {
            let a: Args = args::parse(&v).unwrap();
            WaitFor::validate(&a).unwrap_err().message
        };
        assert!(bad(json!({"port": 1, "path": "/x"})).contains("can not both"));
        assert!(bad(json!({"path": "/x", "state": "stopped"})).contains("state=stopped"));
        assert!(bad(json!({"port": 1, "state": "drained"})).contains("not supported yet"));
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::host::Replay;
    use serde_json::json;

    fn run(args: Value, host: &Replay, check: bool) -> Result<Outcome, ModuleError> {
        host.run(&WaitFor, args, check)
    }

    #[test]
    fn a_file_is_searched_again_only_when_it_changes() {
        let host = Replay::new(&[
            b"content\x001 5\x000 0 root root 644 5 regular file\x001\0boot\n",
            b"content\x002 9\x000 0 root root 640 10 regular file\x001\0boot\nup 7\n",
        ]);
        let out = run(
            json!({"path": "/log", "search_regex": "up (\\d)", "timeout": 30}),
            &host,
            false,
        )
        .unwrap();
        assert_eq!(out.values["match_groups"], json!(["7"]));
        assert_eq!(out.values["match_groupdict"], json!({}));
        assert_eq!(out.values["path"], "/log");
        assert_eq!(out.values["port"], Value::Null);
        // Ansible's add_path_info: the file's attributes, `state` its kind.
        assert_eq!(out.values["state"], "file");
        assert_eq!(out.values["mode"], "0640");
        assert_eq!(out.values["size"], 10);
        assert_eq!(out.values["owner"], "root");
        assert!(!out.changed);
        let scripts = host.scripts();
        assert_eq!(scripts.len(), 2);
        assert!(
            scripts[1].contains("[ \"$sum\" != '1 5' ]"),
            "{}",
            scripts[1]
        );
        let port = Replay::new(&[b"data\0SSH-2.0-OpenSSH_9.2"]);
        let out = run(
            json!({"port": 22, "search_regex": "OpenSSH_(\\d)"}),
            &port,
            false,
        )
        .unwrap();
        assert_eq!(out.values["match_groups"], json!([]));
        assert_eq!(out.values["state"], "started");
    }

    #[test]
    fn timeouts_fail_with_the_message_and_check_mode_skips() {
        let host = Replay::new(&[b"timeout\0"]);
        let err = run(json!({"port": 81, "timeout": 1}), &host, false).unwrap_err();
        assert_eq!(err.to_string(), "Timeout when waiting for 127.0.0.1:81");
        let host = Replay::new(&[b"notool\0"]);
        let err = run(json!({"port": 81, "host": "10.1.1.1"}), &host, false).unwrap_err();
        assert!(err.to_string().contains("neither bash"), "{err}");
        let host = Replay::new(&[]);
        let out = run(json!({"port": 81}), &host, true).unwrap();
        assert!(out.skipped);
        assert!(host.scripts().is_empty());
    }
}
