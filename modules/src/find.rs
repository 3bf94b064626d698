//! The `find` module: list the files under directories that match names, age, size, mode or content.
//!
//! One script lists every entry under each of `paths` with `find` and
//! `stat` (the target needs GNU find and coreutils); the matching is done on
//! the controller exactly as Ansible's module does it: `os.walk` order
//! (shallowest directory first, a directory's files before its
//! subdirectories), `patterns` and `excludes` on the base name as shell
//! globs (Python's `fnmatch`) or, with `use_regex`, Python regexes anchored
//! at the start, hidden entries skipped unless `hidden`, `depth` counted from
//! the given path, `examined` counting every entry of every directory
//! walked. Only with `contains` or `get_checksum` a second script reads the
//! candidate files (their content, or their checksum). Nothing is ever
//! changed, so check mode runs it the same way.
//!
//! # Examples
//!
//! ```yaml
//! - name: Logs older than two weeks
//!   find:
//!     paths: /var/log
//!     patterns: "*.log,*.gz"
//!     age: 2w
//!     recurse: true
//!   register: old_logs
//!
//! - name: Config files that still mention the old server
//!   find:
//!     paths: [/etc/app, /srv/app/conf]
//!     patterns: '^.*\.(conf|ini)$'
//!     use_regex: true
//!     contains: 'server\s*=\s*old\.example\.com'
//!
//! - name: Big files, with their checksum
//!   find:
//!     paths: /srv/data
//!     size: 100m
//!     get_checksum: true
//! ```
//!
//! # Return values
//!
//! - `files` (list): one dictionary per match: `path` and the `stat` keys (`mode`, `isdir`, `isreg`, `islnk`, `uid`, `gid`, `size`, `mtime`, `pw_name`, ...), plus `checksum` with `get_checksum`.
//! - `matched` (int): how many files matched.
//! - `examined` (int): how many entries were looked at.
//! - `msg` (str): `All paths examined`, `Limit of matches reached`, or that some paths were skipped.
//! - `skipped_paths` (dict): paths that could not be examined, with the reason.

use crate::args::{ArgsError, de, is_templated};
use crate::choice;
use crate::fileops::{self, Fetch, Probe, ProbeOutput, StatOpts, dash_safe};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::pyregex::Regex;
use crate::sh::quote;
use crate::stat::Algorithm;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

choice! {
    /// `file_type` of `find`.
    pub enum FileType {
        /// Regular files (the default).
        File = ["file"],
        /// Directories.
        Directory = ["directory"],
        /// Symbolic links.
        Link = ["link"],
        /// Anything.
        Any = ["any"],
    }
}

choice! {
    /// `age_stamp` of `find`.
    pub enum AgeStamp {
        /// Modification time (the default).
        Mtime = ["mtime"],
        /// Access time.
        Atime = ["atime"],
        /// Change time.
        Ctime = ["ctime"],
    }
}

fn file() -> FileType {
    FileType::File
}

fn mtime() -> AgeStamp {
    AgeStamp::Mtime
}

fn sha1() -> Algorithm {
    Algorithm::Sha1
}

fn yes() -> bool {
    true
}

/// Arguments of `find`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The directories to search.
    #[serde(alias = "name", alias = "path", deserialize_with = "de::list")]
    pub paths: Vec<String>,
    /// Base-name patterns (globs, or regexes with `use_regex`); any may match. Default: everything.
    #[serde(default, alias = "pattern", deserialize_with = "de::list")]
    pub patterns: Vec<String>,
    /// Base-name patterns that exclude a match.
    #[serde(default, alias = "exclude", deserialize_with = "de::list")]
    pub excludes: Vec<String>,
    /// A Python regex a line of the file must match from its start (regular files only).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub contains: Option<String>,
    /// Search `contains` anywhere in the whole file instead of line by line.
    #[serde(default, deserialize_with = "de::bool")]
    pub read_whole_file: bool,
    /// What to match: `file` (default), `directory`, `link` or `any`.
    #[serde(default = "file")]
    pub file_type: FileType,
    /// Minimum age (`3600`, `30m`, `2d`, `1w`); negative: at most that old.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub age: Option<String>,
    /// Which time `age` looks at (default `mtime`).
    #[serde(default = "mtime")]
    pub age_stamp: AgeStamp,
    /// Minimum size (`10k`, `1m`, `2g`); negative: at most that big.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub size: Option<String>,
    /// Descend into subdirectories.
    #[serde(default, deserialize_with = "de::bool")]
    pub recurse: bool,
    /// Also match names starting with a dot.
    #[serde(default, deserialize_with = "de::bool")]
    pub hidden: bool,
    /// Descend into symlinked directories.
    #[serde(default, deserialize_with = "de::bool")]
    pub follow: bool,
    /// Add each matched regular file's `checksum`.
    #[serde(default, deserialize_with = "de::bool")]
    pub get_checksum: bool,
    /// The checksum's algorithm (default `sha1`).
    #[serde(default = "sha1", alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: Algorithm,
    /// `patterns` and `excludes` are Python regexes.
    #[serde(default, deserialize_with = "de::bool")]
    pub use_regex: bool,
    /// How deep to descend with `recurse` (1: the path's own entries).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub depth: Option<i64>,
    /// Permissions to match (a string: octal or symbolic).
    #[serde(default)]
    pub mode: Option<Value>,
    /// With `mode`: the permissions must be exactly these (else any of these bits).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub exact_mode: bool,
    /// The files' encoding for `contains`; only UTF-8 is supported.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub encoding: Option<String>,
    /// Stop after this many matches.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub limit: Option<i64>,
}

/// The `find` module.
pub struct Find;

/// Python's `fnmatch.fnmatch` (case-sensitive, `*` matches `/` and dots).
pub fn fnmatch(name: &str, pat: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pat.chars().collect();
    glob_at(&n, &p)
}

/// Parses a `[...]` class at `p[0] == '['`: (matches `c`, length), or
/// `None` when it is not closed (then `[` is a literal).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return Some((hit != negate, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    None
}

fn glob_at(n: &[char], p: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return n.is_empty();
    };
    match first {
        '*' => (0..=n.len()).any(|k| glob_at(&n[k..], &p[1..])),
        '?' => !n.is_empty() && glob_at(&n[1..], &p[1..]),
        '[' => match n.first() {
            None => false,
            Some(&c) => match class(p, c) {
                Some((true, len)) => glob_at(&n[1..], &p[len..]),
                Some((false, _)) => false,
                None => c == '[' && glob_at(&n[1..], &p[1..]),
            },
        },
        lit => n.first() == Some(&lit) && glob_at(&n[1..], &p[1..]),
    }
}

/// Ansible's `age`/`size` syntax: a signed number with a unit suffix.
fn scaled(s: &str, units: &[(char, i64)]) -> Option<i64> {
    let s = s.to_lowercase();
    let (num, mult) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m = units.iter().find(|(u, _)| *u == c)?.1;
            (&s[..s.len() - 1], m)
        }
        _ => (s.as_str(), 1),
    };
    let digits = num.strip_prefix('-').unwrap_or(num);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(mult)
}

/// `age` in seconds.
pub fn parse_age(s: &str) -> Option<i64> {
    scaled(
        s,
        &[
            ('s', 1),
            ('m', 60),
            ('h', 3600),
            ('d', 86400),
            ('w', 604800),
        ],
    )
}

/// `size` in bytes.
pub fn parse_size(s: &str) -> Option<i64> {
    scaled(
        s,
        &[
            ('b', 1),
            ('k', 1 << 10),
            ('m', 1 << 20),
            ('g', 1 << 30),
            ('t', 1 << 40),
        ],
    )
}

/// One listed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The path as `find` printed it.
    pub raw: String,
    /// `st_mode`.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Size in bytes.
    pub size: u64,
    /// Links.
    pub nlink: u64,
    /// Inode.
    pub inode: u64,
    /// Device.
    pub dev: u64,
    /// Times.
    pub atime: f64,
    /// Modification time.
    pub mtime: f64,
    /// Change time.
    pub ctime: f64,
    /// Owner name (empty when unknown).
    pub pw_name: String,
    /// Group name (empty when unknown).
    pub gr_name: String,
    /// A symlink to a directory.
    pub link_to_dir: bool,
}

const S_IFMT: u32 = 0o170000;

impl Entry {
    fn kind(&self) -> u32 {
        self.mode & S_IFMT
    }
    fn is_dir(&self) -> bool {
        self.kind() == 0o040000
    }
    fn is_reg(&self) -> bool {
        self.kind() == 0o100000
    }
    fn is_link(&self) -> bool {
        self.kind() == 0o120000
    }
    /// Listed by `os.walk` among the directories.
    fn walk_dir(&self) -> bool {
        self.is_dir() || self.link_to_dir
    }
    fn name(&self) -> &str {
        self.raw.rsplit('/').next().unwrap_or_default()
    }
    fn parent(&self) -> &str {
        match self.raw.rfind('/') {
            Some(0) => "/",
            Some(i) => &self.raw[..i],
            None => ".",
        }
    }

    /// Ansible's `statinfo` dictionary with `path`.
    pub fn facts(&self, path: &str) -> Map<String, Value> {
        let m = self.mode;
        let bit = |b: u32| Value::Bool(m & b != 0);
        let mut r = Map::new();
        r.insert("path".into(), path.into());
        r.insert("mode".into(), fileops::fmt_mode(m & 0o7777).into());
        r.insert("isdir".into(), self.is_dir().into());
        r.insert("ischr".into(), (self.kind() == 0o020000).into());
        r.insert("isblk".into(), (self.kind() == 0o060000).into());
        r.insert("isreg".into(), self.is_reg().into());
        r.insert("isfifo".into(), (self.kind() == 0o010000).into());
        r.insert("islnk".into(), self.is_link().into());
        r.insert("issock".into(), (self.kind() == 0o140000).into());
        r.insert("uid".into(), self.uid.into());
        r.insert("gid".into(), self.gid.into());
        r.insert("size".into(), self.size.into());
        r.insert("inode".into(), self.inode.into());
        r.insert("dev".into(), self.dev.into());
        r.insert("nlink".into(), self.nlink.into());
        r.insert("atime".into(), json!(self.atime));
        r.insert("mtime".into(), json!(self.mtime));
        r.insert("ctime".into(), json!(self.ctime));
        r.insert("gr_name".into(), self.gr_name.clone().into());
        r.insert("pw_name".into(), self.pw_name.clone().into());
        for (k, b) in [
            ("wusr", 0o200),
            ("rusr", 0o400),
            ("xusr", 0o100),
            ("wgrp", 0o020),
            ("rgrp", 0o040),
            ("xgrp", 0o010),
            ("woth", 0o002),
            ("roth", 0o004),
            ("xoth", 0o001),
            ("isuid", 0o4000),
            ("isgid", 0o2000),
        ] {
            r.insert(k.into(), bit(b));
        }
        r
    }
}

/// Python's `os.path.normpath` (lexical).
pub fn normpath(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (abs, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// What the listing script reported for one of `paths`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// The path as given.
    pub path: String,
    /// The path as passed to `find` (trailing slashes dropped).
    pub root: String,
    /// Not a directory (or missing).
    pub not_dir: bool,
    /// Entries in `find`'s order.
    pub entries: Vec<Entry>,
    /// Directories `find` could not read, with its message.
    pub errors: Vec<(String, String)>,
}

/// The listing: the target's clock and one [`Listing`] per path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listed {
    /// `date +%s.%N` on the target.
    pub now: f64,
    /// Per path.
    pub paths: Vec<Listing>,
}

fn root_of(path: &str) -> String {
    let t = path.trim_end_matches('/');
    if t.is_empty() && path.starts_with('/') {
        "/".into()
    } else if t.is_empty() {
        ".".into()
    } else {
        t.to_string()
    }
}

impl Find {
    /// The listing script: every entry under each path, with `stat` data.
    pub fn list_script(a: &Args) -> Exec {
        let l = if a.follow { "-L " } else { "-H " };
        let max = match (a.recurse, a.depth) {
            (false, _) => " -maxdepth 1".to_string(),
            (true, Some(d)) if d > 0 => format!(" -maxdepth {}", d + 1),
            (true, _) => String::new(),
        };
        let mut s =
            String::from("LC_ALL=C; export LC_ALL\nprintf 'now=%s\\0' \"$(date +%s.%N)\"\n");
        for p in &a.paths {
            // `~` and `~/...` are the connecting (or become) user's home.
            let q = match p.strip_prefix('~') {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                    format!("\"$HOME\"{}", quote(&root_of(&format!("x{rest}"))[1..]))
                }
                _ => quote(&dash_safe(&root_of(p))).into_owned(),
            };
            s.push_str(&format!(
                "r={q}\nprintf '@\\0%s\\0' \"$r\"\n\
                 if [ -d \"$r\" ]; then\n\
                 find {l}\"$r\" -mindepth 1{max} -exec stat --printf '%f %u %g %s %h %i %d %.9X %.9Y %.9Z %U %G\\0%n\\0' -- {{}} + 2>/dev/null\n\
                 printf '@links\\0'\n\
                 find {l}\"$r\" -mindepth 1{max} -exec sh -c 'for f do if [ -L \"$f\" ] && [ -d \"$f\" ]; then printf \"%s\\0\" \"$f\"; fi; done' sh {{}} + 2>/dev/null\n\
                 printf '@errors\\0'\n\
                 find {l}\"$r\" -mindepth 1{max} 2>&1 >/dev/null | tr '\\n' '\\0'\n\
                 else printf '@notdir\\0'; fi\n"
            ));
        }
        s.push_str("exit 0\n");
        Exec::script(s)
    }

    /// Reads the listing script's output.
    pub fn parse_listing(a: &Args, out: &ExecOutput) -> Result<Listed, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::script("listing the paths failed", out));
        }
        let text = out.stdout_text();
        let mut fields = text.split('\0').peekable();
        let mut listed = Listed::default();
        let bad = || ModuleError::script("listing the paths failed: garbled output", out);
        match fields.next().and_then(|f| f.strip_prefix("now=")) {
            Some(n) => listed.now = n.trim().parse().map_err(|_| bad())?,
            None => return Err(bad()),
        }
        let mut paths = a.paths.iter();
        while let Some(f) = fields.next() {
            if f.is_empty() && fields.peek().is_none() {
                break;
            }
            if f != "@" {
                return Err(bad());
            }
            let path = paths.next().ok_or_else(bad)?;
            let mut l = Listing {
                path: path.clone(),
                root: fields.next().ok_or_else(bad)?.to_string(),
                ..Listing::default()
            };
            let mut section = "entries";
            while let Some(&next) = fields.peek() {
                if next == "@" {
                    break;
                }
                fields.next();
                match next {
                    "@links" | "@errors" => section = next,
                    "@notdir" => l.not_dir = true,
                    "" => {}
                    data => match section {
                        "entries" => {
                            let name = fields.next().ok_or_else(bad)?;
                            l.entries.push(parse_entry(data, name).ok_or_else(bad)?);
                        }
                        "@links" => {
                            if let Some(e) = l.entries.iter_mut().find(|e| e.raw == data) {
                                e.link_to_dir = true;
                            }
                        }
                        _ => {
                            let (p, why) = find_error(data);
                            l.errors.push((p, why));
                        }
                    },
                }
            }
            listed.paths.push(l);
        }
        Ok(listed)
    }
}

/// `find: 'PATH': Permission denied` → (PATH, message).
fn find_error(line: &str) -> (String, String) {
    let rest = line.strip_prefix("find: ").unwrap_or(line);
    if let Some(r) = rest.strip_prefix('\'')
        && let Some((p, why)) = r.split_once("': ")
    {
        return (p.to_string(), why.to_string());
    }
    (String::new(), rest.to_string())
}

fn parse_entry(data: &str, name: &str) -> Option<Entry> {
    let w: Vec<&str> = data.split(' ').collect();
    if w.len() < 12 {
        return None;
    }
    let num = |i: usize| w[i].parse::<u64>().ok();
    let user = |s: &str| {
        if s == "UNKNOWN" {
            String::new()
        } else {
            s.to_string()
        }
    };
    Some(Entry {
        raw: name.to_string(),
        mode: u32::from_str_radix(w[0], 16).ok()?,
        uid: num(1)?,
        gid: num(2)?,
        size: num(3)?,
        nlink: num(4)?,
        inode: num(5)?,
        dev: num(6)?,
        atime: w[7].parse().ok()?,
        mtime: w[8].parse().ok()?,
        ctime: w[9].parse().ok()?,
        pw_name: user(w[10]),
        gr_name: user(w[11..].join(" ").as_str()),
        link_to_dir: false,
    })
}

/// Filters that need only the listing (everything but `contains`).
#[derive(Debug)]
struct Filters {
    patterns: Vec<String>,
    excludes: Vec<String>,
    regexes: Option<(Vec<Regex>, Vec<Regex>)>,
    age: Option<i64>,
    size: Option<i64>,
    mode: Option<u32>,
}

fn compile(pats: &[String]) -> Result<Vec<Regex>, ModuleError> {
    pats.iter()
        .map(|p| {
            Regex::str(p).map_err(|e| ModuleError::failed(format!("invalid regex `{p}`: {e}")))
        })
        .collect()
}

impl Filters {
    fn new(a: &Args) -> Result<Filters, ModuleError> {
        let mut patterns = a.patterns.clone();
        if patterns.is_empty() {
            patterns.push(if a.use_regex { ".*" } else { "*" }.into());
        }
        let regexes = if a.use_regex {
            Some((compile(&patterns)?, compile(&a.excludes)?))
        } else {
            None
        };
        let age = match &a.age {
            None => None,
            Some(s) => Some(parse_age(s).ok_or_else(|| {
                ModuleError::failed("failed to process age").with("age", s.as_str())
            })?),
        };
        let size = match &a.size {
            None => None,
            Some(s) => Some(parse_size(s).ok_or_else(|| {
                ModuleError::failed("failed to process size").with("size", s.as_str())
            })?),
        };
        let mode = match &a.mode {
            None => None,
            Some(Value::String(s)) => Some(match u32::from_str_radix(s, 8) {
                Ok(m) => m & 0o7777,
                Err(_) => {
                    fileops::apply_symbolic(s, 0, false, 0)
                        .map_err(|e| ModuleError::failed(format!("invalid mode `{s}`: {e}")))?
                        & 0o7777
                }
            }),
            Some(other) => {
                return Err(ModuleError::failed(format!(
                    "argument 'mode' is not a string and conversion is not allowed, value is of type {}",
                    de::kind(other)
                )));
            }
        };
        Ok(Filters {
            patterns,
            excludes: a.excludes.clone(),
            regexes,
            age,
            size,
            mode,
        })
    }

    fn name(&self, name: &str) -> bool {
        let hit = |p: &str, re: Option<&Regex>| match re {
            Some(re) => re.match_start(name).ok().flatten().is_some(),
            None => fnmatch(name, p),
        };
        let (inc, exc) = match &self.regexes {
            Some((i, e)) => (i.iter().map(Some).collect(), e.iter().map(Some).collect()),
            None => (
                vec![None; self.patterns.len()],
                vec![None; self.excludes.len()],
            ),
        };
        let any = |pats: &[String], res: Vec<Option<&Regex>>| {
            pats.iter().zip(res).any(|(p, r)| hit(p, r))
        };
        any(&self.patterns, inc) && !any(&self.excludes, exc)
    }

    fn age(&self, e: &Entry, now: f64, stamp: AgeStamp) -> bool {
        let Some(age) = self.age else {
            return true;
        };
        let t = match stamp {
            AgeStamp::Mtime => e.mtime,
            AgeStamp::Atime => e.atime,
            AgeStamp::Ctime => e.ctime,
        };
        let d = now - t;
        if age >= 0 {
            d >= age as f64
        } else {
            d <= age.unsigned_abs() as f64
        }
    }

    fn size(&self, e: &Entry) -> bool {
        match self.size {
            None => true,
            Some(s) if s >= 0 => e.size >= s as u64,
            Some(s) => e.size <= s.unsigned_abs(),
        }
    }

    fn mode(&self, e: &Entry, exact: bool) -> bool {
        match self.mode {
            None => true,
            Some(m) if exact => e.mode & 0o7777 == m,
            Some(m) => e.mode & m != 0,
        }
    }
}

/// A match before `contains` and checksums: the entry and its output path.
#[derive(Debug, Clone)]
struct Candidate {
    path: String,
    entry: Entry,
    /// Needs the `contains` check.
    needs_content: bool,
}

/// One walked directory's entries, in `os.walk` order, and the directories to walk next.
fn walk_order(l: &Listing, follow: bool) -> Vec<(String, Vec<&Entry>)> {
    use std::collections::HashMap;
    let mut children: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in &l.entries {
        children.entry(e.parent()).or_default().push(e);
    }
    let mut out = Vec::new();
    let mut stack = vec![l.root.clone()];
    while let Some(dir) = stack.pop() {
        let Some(kids) = children.get(dir.as_str()) else {
            if dir == l.root {
                out.push((dir, Vec::new()));
            }
            continue;
        };
        let files = kids.iter().filter(|e| !e.walk_dir());
        let dirs: Vec<&Entry> = kids.iter().filter(|e| e.walk_dir()).copied().collect();
        let ordered: Vec<&Entry> = files.copied().chain(dirs.iter().copied()).collect();
        out.push((dir, ordered));
        for d in dirs.iter().rev() {
            if d.is_dir() || follow {
                stack.push(d.raw.clone());
            }
        }
    }
    out
}

/// The result of the walk with `contains` still to check.
struct Walk {
    candidates: Vec<Candidate>,
    examined: usize,
    skipped: Map<String, Value>,
    limit_reached: bool,
}

/// `os.walk` over the listing with every filter but `contains`; `contains`
/// results (by path) are applied when given, so the walk is rerun with them.
fn walk(a: &Args, listed: &Listed, f: &Filters, contains: Option<&dyn Fn(&str) -> bool>) -> Walk {
    let mut w = Walk {
        candidates: Vec::new(),
        examined: 0,
        skipped: Map::new(),
        limit_reached: false,
    };
    let limit = a.limit.map(|l| l as usize);
    for l in &listed.paths {
        if l.not_dir {
            w.skipped.insert(
                l.path.clone(),
                format!("'{}' is not a directory", l.path).into(),
            );
            continue;
        }
        for (p, why) in &l.errors {
            w.skipped.insert(p.clone(), why.clone().into());
        }
        'walk: for (_dir, entries) in walk_order(l, a.follow) {
            w.examined += entries.len();
            for e in entries {
                let name = e.name();
                let depth = e.raw[l.root.len().min(e.raw.len())..]
                    .trim_start_matches('/')
                    .matches('/')
                    .count()
                    + 1;
                if a.depth.is_some_and(|d| d > 0 && depth as i64 > d) {
                    continue;
                }
                if name.starts_with('.') && !a.hidden {
                    continue;
                }
                let path = normpath(&e.raw);
                let common =
                    f.name(name) && f.age(e, listed.now, a.age_stamp) && f.mode(e, a.exact_mode);
                let hit = match a.file_type {
                    FileType::Any => common && (!e.is_reg() || f.size(e)),
                    FileType::Directory => e.is_dir() && common,
                    FileType::Link => e.is_link() && common,
                    FileType::File => {
                        e.is_reg()
                            && common
                            && f.size(e)
                            && match (&a.contains, contains) {
                                (None, _) => true,
                                (Some(_), Some(check)) => check(&path),
                                (Some(_), None) => true,
                            }
                    }
                };
                if hit {
                    w.candidates.push(Candidate {
                        path,
                        entry: e.clone(),
                        needs_content: a.contains.is_some() && a.file_type == FileType::File,
                    });
                }
                if (contains.is_some() || a.contains.is_none()) && Some(w.candidates.len()) == limit
                {
                    w.limit_reached = true;
                    break 'walk;
                }
            }
            if !a.recurse {
                break;
            }
        }
    }
    w
}

/// Ansible's `contentfilter` on a file's bytes.
fn content_matches(re: &Regex, bytes: &[u8], whole: bool) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    if whole {
        return re.search(text).ok().flatten().is_some();
    }
    text.split_inclusive('\n')
        .any(|line| re.match_start(line).ok().flatten().is_some())
}

#[async_trait]
impl TypedModule for Find {
    type Args = Args;
    const NAME: &'static str = "find";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        if let Some(enc) = &a.encoding {
            let n = enc.to_ascii_lowercase().replace(['-', '_'], "");
            if n != "utf8" && !is_templated(enc) {
                return Err(ArgsError::field(
                    "encoding",
                    format!("find: encoding `{enc}` is not supported yet (only utf-8)"),
                ));
            }
        }
        Ok(())
    }

    async fn run(
        &self,
        args: Args,
        _ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        if let Some(l) = args.limit
            && l <= 0
        {
            return Err(ModuleError::failed(format!(
                "limit cannot be {l} (use None for unlimited)"
            )));
        }
        let f = Filters::new(&args)?;
        let contains = match &args.contains {
            Some(c) => Some(Regex::str(c).map_err(|e| {
                ModuleError::failed(format!("invalid regex in contains `{c}`: {e}"))
            })?),
            None => None,
        };
        let out = host.exec(Find::list_script(&args).read_only()).await?;
        let listed = Find::parse_listing(&args, &out)?;
        let mut w = walk(&args, &listed, &f, None);
        let needs_read = w
            .candidates
            .iter()
            .any(|c| c.needs_content || (args.get_checksum && c.entry.is_reg()));
        let mut sums = std::collections::HashMap::new();
        if needs_read {
            let opts = StatOpts {
                checksum: args
                    .get_checksum
                    .then_some(args.checksum_algorithm.as_str()),
                fetch: if contains.is_some() {
                    Fetch::Whole
                } else {
                    Fetch::Never
                },
                ..StatOpts::default()
            };
            let mut probe = Probe::new();
            for (i, c) in w.candidates.iter().enumerate() {
                if c.entry.is_reg() {
                    probe.path(&i.to_string(), &c.entry.raw, &opts);
                }
            }
            let read = ProbeOutput::parse(&host.exec(probe.finish()).await?)?;
            let mut contents = std::collections::HashMap::new();
            for (i, c) in w.candidates.iter().enumerate() {
                if let Some(rec) = read.records.get(&i.to_string()) {
                    if let Some(s) = rec.checksum() {
                        sums.insert(c.path.clone(), s);
                    }
                    if let (Some(re), Some(bytes)) = (&contains, &rec.content) {
                        contents.insert(
                            c.path.clone(),
                            content_matches(re, bytes, args.read_whole_file),
                        );
                    }
                }
            }
            if contains.is_some() {
                let check = |p: &str| contents.get(p).copied().unwrap_or(false);
                w = walk(&args, &listed, &f, Some(&check));
            }
        }
        let files: Vec<Value> = w
            .candidates
            .iter()
            .map(|c| {
                let mut m = c.entry.facts(&c.path);
                if args.get_checksum && c.entry.is_reg() {
                    m.insert(
                        "checksum".into(),
                        sums.get(&c.path).cloned().map_or(Value::Null, Value::from),
                    );
                }
                Value::Object(m)
            })
            .collect();
        let msg = if !w.skipped.is_empty() {
            "Not all paths examined, check warnings for details"
        } else if w.limit_reached {
            "Limit of matches reached"
        } else {
            "All paths examined"
        };
        Ok(Outcome::ok()
            .with("matched", files.len())
            .with("files", files)
            .with("examined", w.examined)
            .with("skipped_paths", Value::Object(w.skipped))
            .with_msg(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;

    #[test]
    fn fnmatch_is_pythons() {
        assert!(fnmatch("a.txt", "*.txt"));
        assert!(fnmatch(".x.txt", "*.txt"));
        assert!(!fnmatch("a.txt", "*.TXT"));
        assert!(fnmatch("a1", "a[0-9]"));
        assert!(!fnmatch("ab", "a[!b]"));
        assert!(fnmatch("a]", "a[]]"));
        assert!(fnmatch("a[", "a["));
        assert!(fnmatch("abc", "a?c"));
        assert!(!fnmatch("abcd", "a?c"));
    }

    #[test]
    fn age_size_and_paths() {
        assert_eq!(parse_age("2d"), Some(172800));
        assert_eq!(parse_age("-1W"), Some(-604800));
        assert_eq!(parse_age("30"), Some(30));
        assert_eq!(parse_age("1y"), None);
        assert_eq!(parse_size("10k"), Some(10240));
        assert_eq!(parse_size("-1m"), Some(-1048576));
        assert_eq!(parse_size("x"), None);
        assert_eq!(normpath("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(normpath("./x/"), "x");
        assert_eq!(root_of("/srv/"), "/srv");
        assert_eq!(root_of("/"), "/");
    }

    fn listing(a: &Args, body: &str) -> Listed {
        Find::parse_listing(
            a,
            &ExecOutput {
                status: 0,
                stdout: body.as_bytes().to_vec(),
                stderr: vec![],
            },
        )
        .unwrap()
    }

    fn st(mode: &str, size: u64, mtime: f64, path: &str) -> String {
        format!("{mode} 0 0 {size} 1 2 3 {mtime} {mtime} {mtime} root root\0{path}\0")
    }

    #[test]
    fn walks_like_os_walk_and_filters() {
        let a: Args = args::parse(&json!({"paths": "/d", "patterns": "*.log", "recurse": true, "age": "1h", "size": "-100"})).unwrap();
        let body = format!(
            "now=10000.5\0@\0/d\0{}{}{}{}{}{}@links\0/d/ln\0@errors\0find: '/d/priv': Permission denied\0",
            st("41ed", 0, 0.0, "/d/sub"),
            st("81a4", 10, 0.0, "/d/sub/x.log"),
            st("81a4", 10, 0.0, "/d/a.log"),
            st("81a4", 1000, 0.0, "/d/big.log"),
            st("81a4", 10, 9999.0, "/d/new.log"),
            st("a1ff", 4, 0.0, "/d/ln"),
        );
        let l = listing(&a, &body);
        assert_eq!(l.now, 10000.5);
        assert!(
            l.paths[0]
                .entries
                .iter()
                .any(|e| e.raw == "/d/ln" && e.link_to_dir)
        );
        let f = Filters::new(&a).unwrap();
        let w = walk(&a, &l, &f, None);
        let paths: Vec<&str> = w.candidates.iter().map(|c| c.path.as_str()).collect();
        // The root's files first (a.log), then the subdirectory's.
        assert_eq!(paths, vec!["/d/a.log", "/d/sub/x.log"]);
        assert_eq!(w.examined, 6);
        assert_eq!(w.skipped["/d/priv"], "Permission denied");
        // Not recursive: only the root's entries count.
        let flat: Args = args::parse(&json!({"paths": ["/d"], "file_type": "directory"})).unwrap();
        let w = walk(&flat, &l, &Filters::new(&flat).unwrap(), None);
        assert_eq!(w.examined, 5);
        assert_eq!(w.candidates.len(), 1);
        let facts = w.candidates[0].entry.facts("/d/sub");
        assert_eq!(facts["isdir"], true);
        assert_eq!(facts["mode"], "0755");
        // Regexes match from the start of the name; excludes win.
        let re: Args = args::parse(&json!({"paths": "/d", "patterns": ["[a-z]\\.log"], "excludes": "x.*", "use_regex": true, "recurse": true})).unwrap();
        let w = walk(&re, &l, &Filters::new(&re).unwrap(), None);
        let paths: Vec<&str> = w.candidates.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["/d/a.log"]);
        let lim: Args = args::parse(&json!({"paths": "/d", "limit": 1, "recurse": true})).unwrap();
        let w = walk(&lim, &l, &Filters::new(&lim).unwrap(), None);
        assert!(w.limit_reached);
        assert_eq!(w.candidates.len(), 1);
    }

    #[test]
    fn script_and_contains() {
        let a: Args = args::parse(
            &json!({"paths": ["/a b/", "-x"], "recurse": true, "depth": 2, "follow": true}),
        )
        .unwrap();
        let s = Find::list_script(&a).script;
        assert!(
            s.contains("r='/a b'\nprintf '@\\0%s\\0' \"$r\"\nif [ -d \"$r\" ]; then\nfind -L \"$r\" -mindepth 1 -maxdepth 3 -exec stat"),
            "{s}"
        );
        assert!(s.contains("r=./-x\n"), "{s}");
        // A symlinked path itself is always followed, as os.walk does.
        let plain: Args = args::parse(&json!({"paths": "/var/run"})).unwrap();
        let s = Find::list_script(&plain).script;
        assert!(
            s.contains("find -H \"$r\" -mindepth 1 -maxdepth 1 -exec"),
            "{s}"
        );
        let home: Args = args::parse(&json!({"paths": ["~", "~/logs/", "~x"]})).unwrap();
        let s = Find::list_script(&home).script;
        assert!(s.contains("r=\"$HOME\"''\n"), "{s}");
        assert!(s.contains("r=\"$HOME\"/logs\n"), "{s}");
        assert!(s.contains("r='~x'\n"), "{s}");
        let re = Regex::str("foo").unwrap();
        assert!(content_matches(&re, b"x\nfoo bar\n", false));
        assert!(!content_matches(&re, b"x foo\n", false));
        assert!(content_matches(&re, b"x foo\n", true));
        let notdir = listing(&a, "now=1\0@\0/a b\0@notdir\0@\0./-x\0@notdir\0");
        let w = walk(&a, &notdir, &Filters::new(&a).unwrap(), None);
        assert_eq!(w.skipped.len(), 2);
        let bad: Args = args::parse(&json!({"paths": "/d", "mode": 420})).unwrap();
        assert!(Filters::new(&bad).is_err());
        let sym: Args = args::parse(&json!({"paths": "/d", "mode": "u=rw,go=r"})).unwrap();
        assert_eq!(Filters::new(&sym).unwrap().mode, Some(0o644));
        // Templated values stand in for anything at compile time.
        let t: Args =
            args::check(&json!({"paths": "{{ dirs }}", "limit": "{{ n }}", "recurse": "{{ r }}"}))
                .unwrap();
        assert!(Find::validate(&t).is_ok());
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::host::Replay;

    fn run(args: Value, host: &Replay) -> Result<Outcome, ModuleError> {
        host.run(&Find, args, false)
    }

    #[test]
    fn contains_and_checksums_read_the_candidates_once() {
        let st = |size: usize, path: &str| {
            format!("81a4 0 0 {size} 1 2 3 1.0 1.0 1.0 root root\0{path}\0")
        };
        let listing = format!(
            "now=100\0@\0/d\0{}{}{}@links\0@errors\0",
            st(4, "/d/a.conf"),
            st(4, "/d/b.conf"),
            st(4, "/d/c.txt")
        );
        let read = "@env\0umask=0022\0@0\0path=/d/a.conf\0stat=81a4 0 0 4 1 2 3 1 1 1 8 4096 0 0 root root\0sum=aaa\0content=3\0no\n\0@1\0path=/d/b.conf\0stat=81a4 0 0 4 1 2 3 1 1 1 8 4096 0 0 root root\0sum=bbb\0content=4\0yes\n\0";
        let host = Replay::new(&[listing.as_bytes(), read.as_bytes()]);
        let out = run(
            json!({"paths": "/d", "patterns": "*.conf", "contains": "y", "get_checksum": true, "checksum_algorithm": "sha256"}),
            &host,
        )
        .unwrap();
        assert_eq!(out.values["matched"], 1);
        assert_eq!(out.values["files"][0]["path"], "/d/b.conf");
        assert_eq!(out.values["files"][0]["checksum"], "bbb");
        assert_eq!(out.values["examined"], 3);
        assert_eq!(out.msg.as_deref(), Some("All paths examined"));
        let scripts = host.scripts();
        assert_eq!(scripts.len(), 2);
        assert!(
            scripts[1].contains("tend_rec 0 /d/a.conf 0 sha256 3"),
            "{}",
            scripts[1]
        );
        assert!(!scripts[1].contains("c.txt"));
        // Without contains or checksums: one round trip.
        let host = Replay::new(&[listing.as_bytes()]);
        let out = run(json!({"paths": "/d", "limit": 2}), &host).unwrap();
        assert_eq!(out.values["matched"], 2);
        assert_eq!(out.msg.as_deref(), Some("Limit of matches reached"));
        assert_eq!(host.scripts().len(), 1);
        let err = run(json!({"paths": "/d", "limit": 0}), &Replay::new(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "limit cannot be 0 (use None for unlimited)"
        );
    }
}
