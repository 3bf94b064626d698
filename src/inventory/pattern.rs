//! Host patterns, evaluated as Ansible's `InventoryManager.get_hosts` does:
//! `a:b` / `a,b` unions, `&` intersections and `!` exclusions (applied in
//! that order whatever their position), `*` globs, `~regex`, subscripts
//! (`web[0]`, `web[1:3]`, `web[-1]`) and `@file` lists.

use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::data::{Data, LOCALHOST_NAMES};
use super::error::InventoryError;
use super::range::parse_address;

static PATTERN_WITH_SUBSCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("valid regex")
});
static COLON_PARTS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("valid regex"));

/// Ansible's `split_host_pattern`: commas split; otherwise colons split,
/// except inside `[...]` and in IPv6 addresses or `host:port`-like names.
pub(crate) fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_owned).collect()
    } else if parse_address(pattern, true).is_some() {
        vec![pattern.to_owned()]
    } else {
        COLON_PARTS
            .find_iter(pattern)
            .map(|m| m.as_str().to_owned())
            .collect()
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Replaces `@file` entries with the patterns in the file, one per line.
pub(crate) fn expand_files(patterns: Vec<String>) -> Result<Vec<String>, InventoryError> {
    let mut out = Vec::new();
    for p in patterns {
        if let Some(file) = p.strip_prefix('@') {
            let path = Path::new(file);
            if !path.exists() {
                return Err(InventoryError::pattern(
                    &p,
                    format!("the file '{file}' does not exist"),
                ));
            }
            if !path.is_file() {
                return Err(InventoryError::pattern(
                    &p,
                    format!(
                        "'{file}' is not a file (a pattern starting with '@' names a file of patterns)"
                    ),
                ));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| InventoryError::pattern(&p, format!("cannot read '{file}': {e}")))?;
            out.extend(
                text.split('\n')
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty()),
            );
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// Regular patterns first, then `&` ones, then `!` ones; `all` when there
/// is no regular pattern.
fn order_patterns(patterns: &[String]) -> Vec<String> {
    let (mut reg, mut and, mut not) = (Vec::new(), Vec::new(), Vec::new());
    for p in patterns.iter().filter(|p| !p.is_empty()) {
        if p.starts_with('!') {
            not.push(p.clone());
        } else if p.starts_with('&') {
            and.push(p.clone());
        } else {
            reg.push(p.clone());
        }
    }
    if reg.is_empty() {
        reg.push("all".into());
    }
    reg.extend(and);
    reg.extend(not);
    reg
}

/// Evaluates already-split patterns to host names, deduplicated, in order.
pub(crate) fn evaluate(data: &Data, patterns: &[String]) -> Result<Vec<String>, InventoryError> {
    let mut hosts: Vec<String> = Vec::new();
    for p in order_patterns(patterns) {
        if data.hosts.contains_key(&p) {
            hosts.push(p);
            continue;
        }
        let that = match_one(data, &p)?;
        if p.starts_with('!') {
            let that: HashSet<&String> = that.iter().collect();
            hosts.retain(|h| !that.contains(h));
        } else if p.starts_with('&') {
            let that: HashSet<&String> = that.iter().collect();
            hosts.retain(|h| that.contains(h));
        } else {
            let existing: HashSet<String> = hosts.iter().cloned().collect();
            hosts.extend(that.into_iter().filter(|h| !existing.contains(h)));
        }
    }
    let mut seen = HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    Ok(hosts)
}

type Subscript = (i64, Option<i64>);

fn match_one(data: &Data, pattern: &str) -> Result<Vec<String>, InventoryError> {
    let bare = pattern.strip_prefix(['&', '!']).unwrap_or(pattern);
    if bare.is_empty() {
        return Ok(Vec::new());
    }
    let (expr, sub) = split_subscript(pattern, bare)?;
    let hosts = enumerate_matches(data, expr)?;
    apply_subscript(pattern, hosts, sub)
}

fn split_subscript<'a>(
    whole: &str,
    p: &'a str,
) -> Result<(&'a str, Option<Subscript>), InventoryError> {
    if p.starts_with('~') {
        return Ok((p, None));
    }
    let Some(c) = PATTERN_WITH_SUBSCRIPT.captures(p) else {
        return Ok((p, None));
    };
    let num = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| InventoryError::pattern(whole, format!("subscript '{s}' is out of range")))
    };
    let expr = c.get(1).map(|m| m.as_str()).unwrap_or(p);
    let sub = if let Some(idx) = c.get(2) {
        (num(idx.as_str())?, None)
    } else {
        let start = num(&c[3])?;
        let end = match c.get(5).map(|m| m.as_str()) {
            None | Some("") => -1,
            Some(e) => num(e)?,
        };
        (start, Some(end))
    };
    Ok((expr, Some(sub)))
}

fn apply_subscript(
    whole: &str,
    hosts: Vec<String>,
    sub: Option<Subscript>,
) -> Result<Vec<String>, InventoryError> {
    let Some((start, end)) = sub else {
        return Ok(hosts);
    };
    if hosts.is_empty() {
        return Ok(hosts);
    }
    let len = hosts.len() as i64;
    match end {
        // `[x:0]` selects one host, as Ansible's falsy-zero check does.
        Some(end) if end != 0 => {
            let end = if end == -1 { len - 1 } else { end };
            let s = start.clamp(0, len) as usize;
            let e = (end.saturating_add(1)).clamp(0, len) as usize;
            Ok(if s < e {
                hosts[s..e].to_vec()
            } else {
                Vec::new()
            })
        }
        _ => {
            let i = if start < 0 { len + start } else { start };
            if i < 0 || i >= len {
                return Err(InventoryError::pattern(
                    whole,
                    format!(
                        "no host at index {start}: the pattern matches {len} host{}",
                        if len == 1 { "" } else { "s" }
                    ),
                ));
            }
            Ok(vec![hosts[i as usize].clone()])
        }
    }
}

fn enumerate_matches(data: &Data, expr: &str) -> Result<Vec<String>, InventoryError> {
    let re = compile(expr)?;
    let mut results: Vec<String> = Vec::new();
    let mut matched_group = false;
    for g in data.groups.keys() {
        if re.is_match(g) {
            matched_group = true;
            results.extend(data.group_hosts(g));
        }
    }
    if !matched_group || expr.starts_with('~') || expr.contains(['.', '?', '*', '[']) {
        results.extend(data.hosts.keys().filter(|h| re.is_match(h)).cloned());
    }
    if results.is_empty() && LOCALHOST_NAMES.contains(&expr) {
        // An explicit localhost-like host stands in for the implicit one.
        let explicit = data
            .hosts
            .keys()
            .find(|h| LOCALHOST_NAMES.contains(&h.as_str()));
        results.push(explicit.cloned().unwrap_or_else(|| expr.to_owned()));
    }
    Ok(results)
}

/// A `~regex` (matched at the start, like Python's `re.match`) or a shell
/// glob (matched whole, like `fnmatch`).
fn compile(expr: &str) -> Result<Regex, InventoryError> {
    let src = match expr.strip_prefix('~') {
        Some(r) => format!("^(?:{r})"),
        None => format!("^(?s:{})$", fnmatch_translate(expr)),
    };
    regex::RegexBuilder::new(&src)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or("").trim().to_owned();
            InventoryError::pattern(expr, format!("not a valid regular expression ({last})"))
        })
}

/// Python's `fnmatch.translate`, without the anchors.
pub(crate) fn fnmatch_translate(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                    continue;
                }
                let stuff: Vec<char> = chars[i..j].to_vec();
                i = j + 1;
                out.push_str(&char_class(&stuff));
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out
}

fn char_class(stuff: &[char]) -> String {
    let (neg, body) = match stuff.first() {
        Some('!') => (true, &stuff[1..]),
        _ => (false, stuff),
    };
    if body.is_empty() {
        return if neg { ".".into() } else { "[^\\s\\S]".into() };
    }
    let esc = |c: char| regex::escape(&c.to_string());
    let mut items = String::new();
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            let (a, b) = (body[k], body[k + 2]);
            if a <= b {
                items.push_str(&format!("{}-{}", esc(a), esc(b)));
            }
            k += 3;
        } else {
            items.push_str(&esc(body[k]));
            k += 1;
        }
    }
    if items.is_empty() {
        return if neg { ".".into() } else { "[^\\s\\S]".into() };
    }
    format!("[{}{}]", if neg { "^" } else { "" }, items)
}
