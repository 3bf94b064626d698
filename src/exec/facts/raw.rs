//! Splits the script's stdout into sections and indexes the `files` and
//! `exists` sections.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{FORMAT_VERSION, FactsError};

/// Prefix of every section marker line.
const MARKER: &str = "::tend-facts:: ";

/// One line of output with its 1-based line number in stdout.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line<'a> {
    pub no: usize,
    pub text: &'a str,
}

/// The script's output, split up.
#[derive(Debug, Default)]
pub(super) struct Raw<'a> {
    sections: HashMap<&'a str, Vec<Line<'a>>>,
    files: HashMap<&'a str, Vec<Line<'a>>>,
    exists: HashSet<&'a str>,
}

impl<'a> Raw<'a> {
    /// Splits `stdout` at marker lines, checking the begin/end markers.
    pub fn parse(stdout: &'a str) -> Result<Self, FactsError> {
        let mut raw = Raw::default();
        let mut lines = stdout.split('\n').enumerate().map(|(i, l)| Line {
            no: i + 1,
            text: l.strip_suffix('\r').unwrap_or(l),
        });

        // Skip whatever precedes the begin marker (login banners, rc noise).
        let mut last_line;
        loop {
            let Some(line) = lines.next() else {
                return Err(FactsError::MissingBegin);
            };
            if let Some(version) = line
                .text
                .strip_prefix(MARKER)
                .and_then(|m| m.strip_prefix("begin"))
            {
                let version = version.trim();
                if version != FORMAT_VERSION {
                    return Err(FactsError::UnsupportedVersion(version.to_owned()));
                }
                last_line = line.no;
                break;
            }
        }

        let mut current: Option<(&'a str, Vec<Line<'a>>)> = None;
        let mut ended = false;
        for line in lines {
            last_line = line.no;
            if let Some(name) = line.text.strip_prefix(MARKER) {
                if let Some((prev, body)) = current.take() {
                    raw.sections.insert(prev, trim_trailing_empty(body));
                }
                let name = name.trim();
                if name == "end" {
                    ended = true;
                    break;
                }
                current = Some((name, Vec::new()));
            } else if let Some((_, body)) = current.as_mut() {
                body.push(line);
            }
        }
        if !ended {
            return Err(FactsError::Truncated { last_line });
        }

        if let Some(ip) = raw.sections.remove("ip") {
            split_ip_batch(ip, &mut raw.sections);
        }
        for line in raw.section("files").to_vec() {
            let Some((path, text)) = line.text.split_once(':') else {
                return Err(malformed(&line, "files", "expected `PATH:CONTENT`"));
            };
            if !path.starts_with('/') {
                return Err(malformed(
                    &line,
                    "files",
                    format!("`{path}` is not an absolute path"),
                ));
            }
            raw.files
                .entry(path)
                .or_default()
                .push(Line { no: line.no, text });
        }
        raw.exists = raw
            .section("exists")
            .iter()
            .map(|l| l.text.trim())
            .collect();
        Ok(raw)
    }

    /// The lines of a section (empty if the section is missing).
    pub fn section(&self, name: &str) -> &[Line<'a>] {
        self.sections.get(name).map_or(&[], Vec::as_slice)
    }

    /// The first line of a section, trimmed; `None` if missing or empty.
    pub fn first(&self, name: &str) -> Option<&'a str> {
        self.section(name)
            .first()
            .map(|l| l.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// The lines of a file (empty if it was missing or unreadable).
    pub fn file(&self, path: &str) -> &[Line<'a>] {
        self.files.get(path).map_or(&[], Vec::as_slice)
    }

    /// The first line of a file, trimmed; `None` if missing or empty.
    pub fn file_first(&self, path: &str) -> Option<&'a str> {
        self.file(path)
            .first()
            .map(|l| l.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// Whether the `exists` probe reported `path` (or `cmd:NAME`, `init:...`).
    pub fn exists(&self, path: &str) -> bool {
        self.exists.contains(path)
    }

    /// Entries of the `exists` section starting with `prefix`, prefix removed.
    pub fn exists_with_prefix<'s>(&'s self, prefix: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.exists
            .iter()
            .filter_map(move |e| e.strip_prefix(prefix))
    }

    /// The first line of each file whose path starts with `prefix` and
    /// ends with `suffix` (a glob of the script's `files`), by path.
    pub fn files_matching(&self, prefix: &str, suffix: &str) -> Vec<&'a str> {
        let mut found: Vec<(&str, &str)> = self
            .files
            .iter()
            .filter(|(path, _)| path.starts_with(prefix) && path.ends_with(suffix))
            .filter_map(|(path, lines)| lines.first().map(|l| (*path, l.text)))
            .collect();
        found.sort();
        found.into_iter().map(|(_, text)| text).collect()
    }

    /// The paths of the files read that start with `prefix`, sorted.
    pub fn file_paths(&self, prefix: &str) -> Vec<&'a str> {
        let mut paths: Vec<&str> = self
            .files
            .keys()
            .copied()
            .filter(|p| p.starts_with(prefix))
            .collect();
        paths.sort_unstable();
        paths
    }

    /// `/sys/class/net/IFACE/ATTR` values: iface → attr → first line.
    pub fn sys_net(&self) -> BTreeMap<&'a str, BTreeMap<&'a str, &'a str>> {
        let mut out: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        for (path, lines) in &self.files {
            let Some(rest) = path.strip_prefix("/sys/class/net/") else {
                continue;
            };
            let Some((iface, attr)) = rest.split_once('/') else {
                continue;
            };
            if let Some(first) = lines.first() {
                out.entry(iface)
                    .or_default()
                    .insert(attr, first.text.trim());
            }
        }
        out
    }
}

/// Builds a [`FactsError::Malformed`] for `line`.
pub(super) fn malformed(line: &Line<'_>, section: &str, reason: impl Into<String>) -> FactsError {
    FactsError::Malformed {
        line: line.no,
        section: section.to_owned(),
        reason: reason.into(),
    }
}

fn trim_trailing_empty(mut body: Vec<Line<'_>>) -> Vec<Line<'_>> {
    while body.last().is_some_and(|l| l.text.trim().is_empty()) {
        body.pop();
    }
    body
}

/// Parses `KEY=VALUE` lines with shell-style quoting (os-release, lsb-release).
pub(super) fn shell_assignments<'a>(lines: &[Line<'a>]) -> HashMap<&'a str, String> {
    let mut out = HashMap::new();
    for line in lines {
        let text = line.text.trim();
        if text.starts_with('#') {
            continue;
        }
        let Some((key, value)) = text.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        out.insert(key, unquote(value.trim()));
    }
    out
}

/// Removes shell quoting: `"a \"b\""`, `'a b'`, or a bare word.
pub(super) fn unquote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => out.extend(chars.by_ref().take_while(|&c| c != '\'')),
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => out.push(n),
                            Some(n) => {
                                out.push('\\');
                                out.push(n);
                            }
                            None => out.push('\\'),
                        },
                        c => out.push(c),
                    }
                }
            }
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Splits the output of the one `ip -batch` run (`addr show`, `route get`
/// for each probe address, `route show table local`) into the sections
/// `ip_addr`, `ip_route4`, `ip_route6` and `ip_local4`: a route's answer
/// starts with the address asked about, a local route with its type.
fn split_ip_batch<'a>(lines: Vec<Line<'a>>, sections: &mut HashMap<&'a str, Vec<Line<'a>>>) {
    use super::network::{V4_PROBE, V6_PROBE};
    /// How a line of `ip route show table local` starts.
    const ROUTE_TYPES: &[&str] = &[
        "local",
        "broadcast",
        "anycast",
        "multicast",
        "unicast",
        "blackhole",
        "unreachable",
        "prohibit",
        "throw",
        "nat",
    ];
    let mut name = "ip_addr";
    for line in lines {
        let first = line.text.split_whitespace().next();
        if first == Some(V4_PROBE) {
            name = "ip_route4";
        } else if first == Some(V6_PROBE) {
            name = "ip_route6";
        } else if first.is_some_and(|w| ROUTE_TYPES.contains(&w)) {
            name = "ip_local4";
        }
        sections.entry(name).or_default().push(line);
    }
}
