//! Host names with ranges (`web[01:20].example.com`, `db-[a:f]`, `[1:10:2]`)
//! and the `host:port` shorthand, as Ansible's `parse_address` and
//! `expand_hostname_range` read them.

use std::sync::LazyLock;

use regex::Regex;

/// At most this many host names from one pattern (guards against
/// `host[1:999999999]` eating the machine).
pub(crate) const MAX_EXPANSION: usize = 1_000_000;

const NUM_RANGE: &str = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]";
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]";

static BRACKETED_HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(.+)\]:([0-9]+)$").expect("valid regex"));
static HOSTPORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$").expect("valid regex"));
/// A host name (Python's `\w`: any letter or digit). Compiling Unicode
/// word classes costs milliseconds at every start, so an ASCII name (all
/// but a few) is checked with the ASCII form, which matches it the same.
fn hostname_regex(flags: &str) -> Regex {
    let label = format!(r"(?:\w|{ALNUM_RANGE})(?:[\w-]|{ALNUM_RANGE})*");
    Regex::new(&format!(r"(?{flags})^{label}(?:\.{label})*$")).expect("valid regex")
}
static HOSTNAME_ASCII: LazyLock<Regex> = LazyLock::new(|| hostname_regex("i-u"));
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| hostname_regex("i"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    let c = format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUM_RANGE})");
    Regex::new(&format!(r"^(?:{c}\.){{3}}{c}$")).expect("valid regex")
});
static IPV6ISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i-u)^(?:[0-9a-f]|:|\.|{HEX_RANGE})+$")).expect("valid regex")
});

fn is_hostname(s: &str) -> bool {
    // Python's `(?<![_-])`: no label may end in '_' or '-'.
    let hostname = if s.is_ascii() {
        &HOSTNAME_ASCII
    } else {
        &HOSTNAME
    };
    hostname.is_match(s) && s.split('.').all(|l| !l.ends_with('_') && !l.ends_with('-'))
}

fn is_ipv6(s: &str) -> bool {
    IPV6ISH.is_match(s) && s.matches(':').count() >= 2
}

/// Ansible's `parse_address`: splits an optional port off a host identifier
/// and checks that what is left is an IPv4/IPv6 address or a host name
/// (ranges allowed when `allow_ranges`). `None` when it is neither.
pub(crate) fn parse_address(address: &str, allow_ranges: bool) -> Option<(String, Option<u64>)> {
    let mut addr = address.to_owned();
    let mut port = None;
    for re in [&*BRACKETED_HOSTPORT, &*HOSTPORT] {
        if let Some(c) = re.captures(&addr.clone()) {
            port = Some(c[2].parse::<u64>().ok()?);
            addr = c[1].to_owned();
        }
    }
    if !(IPV4.is_match(&addr) || is_ipv6(&addr) || is_hostname(&addr)) {
        return None;
    }
    if !allow_ranges && addr.contains('[') {
        return None;
    }
    Some((addr, port))
}

/// Ansible's `_expand_hostpattern`: the host names a host entry stands for,
/// and its port if it has the `name:port` shorthand.
pub(crate) fn expand_host_pattern(pattern: &str) -> Result<(Vec<String>, Option<u64>), String> {
    let (name, port) = match parse_address(pattern, true) {
        Some((n, p)) => (n, p),
        None => (pattern.to_owned(), None),
    };
    let hosts = if name.contains('[') {
        expand_hostname_range(&name)?
    } else {
        vec![name]
    };
    Ok((hosts, port))
}

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Expands every `[begin:end]` / `[begin:end:step]` range in a host name.
/// Numeric ranges keep a zero-padded width (`[01:10]`); letter ranges run
/// through `a..z` then `A..Z` as Python's `string.ascii_letters` does.
pub(crate) fn expand_hostname_range(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(line, line, &mut out)?;
    Ok(out)
}

fn expand_into(original: &str, line: &str, out: &mut Vec<String>) -> Result<(), String> {
    let bad = |why: &str| format!("invalid host range in '{original}': {why}");
    let Some(open) = line.find('[') else {
        out.push(line.to_owned());
        return Ok(());
    };
    let Some(close_rel) = line[open..].find(']') else {
        return Err(bad("'[' without a closing ']'"));
    };
    let close = open + close_rel;
    let (head, nrange, tail) = (&line[..open], &line[open + 1..close], &line[close + 1..]);
    if head.contains(']') || line.contains('|') {
        return Err(bad("unbalanced brackets"));
    }
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(bad("a host range must be [begin:end] or [begin:end:step]"));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(bad("a host range must specify an end value"));
    }
    let step: i64 = match bounds.get(2) {
        None => 1,
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| bad(&format!("the step '{s}' is not a number")))?,
    };
    if step == 0 {
        return Err(bad("the step may not be zero"));
    }
    let width = if beg.len() > 1 && beg.starts_with('0') {
        if beg.len() != end.len() {
            return Err(bad(
                "begin and end must have the same width when zero-padded",
            ));
        }
        beg.len()
    } else {
        0
    };
    let items: Vec<String> = match (LETTERS.find(beg), LETTERS.find(end)) {
        (Some(ib), Some(ie)) if beg.chars().all(|c| c.is_ascii_alphabetic()) => {
            if ib > ie {
                return Err(bad("a host range must have begin <= end"));
            }
            let slice: Vec<char> = LETTERS[ib..=ie].chars().collect();
            if step > 0 {
                slice
                    .iter()
                    .step_by(step as usize)
                    .map(|c| c.to_string())
                    .collect()
            } else {
                Vec::new()
            }
        }
        _ => {
            let b: i64 = beg
                .trim()
                .parse()
                .map_err(|_| bad(&format!("'{beg}' is neither a number nor a letter")))?;
            let e: i64 = end
                .trim()
                .parse()
                .map_err(|_| bad(&format!("'{end}' is neither a number nor a letter")))?;
            let count = if step > 0 {
                if e >= b {
                    ((e - b) / step + 1) as u128
                } else {
                    0
                }
            } else if b > e {
                ((b - e - 1) / (-step) + 1) as u128
            } else {
                0
            };
            if count + out.len() as u128 > MAX_EXPANSION as u128 {
                return Err(bad(&format!("expands to more than {MAX_EXPANSION} hosts")));
            }
            let mut v = Vec::with_capacity(count as usize);
            let mut i = b;
            while (step > 0 && i <= e) || (step < 0 && i > e) {
                v.push(if width > 0 {
                    zfill(i, width)
                } else {
                    i.to_string()
                });
                match i.checked_add(step) {
                    Some(n) => i = n,
                    None => break,
                }
            }
            v
        }
    };
    for item in items {
        if out.len() >= MAX_EXPANSION {
            return Err(bad(&format!("expands to more than {MAX_EXPANSION} hosts")));
        }
        let name = format!("{head}{item}{tail}");
        expand_into(original, &name, out)?;
    }
    Ok(())
}

fn zfill(i: i64, width: usize) -> String {
    if i < 0 {
        format!("-{:0>w$}", i.unsigned_abs(), w = width.saturating_sub(1))
    } else {
        format!("{i:0>width$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ranges_keep_padding() {
        assert_eq!(
            expand_hostname_range("web[01:03].example.com").unwrap(),
            vec![
                "web01.example.com",
                "web02.example.com",
                "web03.example.com"
            ]
        );
        assert_eq!(
            expand_hostname_range("db[8:10]").unwrap(),
            vec!["db8", "db9", "db10"]
        );
    }

    #[test]
    fn strides_letters_and_nested_ranges() {
        assert_eq!(
            expand_hostname_range("h[1:10:3]").unwrap(),
            vec!["h1", "h4", "h7", "h10"]
        );
        assert_eq!(
            expand_hostname_range("db-[a:c]").unwrap(),
            vec!["db-a", "db-b", "db-c"]
        );
        assert_eq!(
            expand_hostname_range("x[y:B]").unwrap(),
            vec!["xy", "xz", "xA", "xB"]
        );
        assert_eq!(
            expand_hostname_range("r[1:2]-[a:b]").unwrap(),
            vec!["r1-a", "r1-b", "r2-a", "r2-b"]
        );
        assert_eq!(
            expand_hostname_range("n[:2]").unwrap(),
            vec!["n0", "n1", "n2"]
        );
        assert_eq!(
            expand_hostname_range("n[5:1]").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bad_ranges_are_errors() {
        for bad in [
            "web[1]",
            "web[1:]",
            "web[01:100]",
            "web[1:3:0]",
            "web[a:1]",
            "web[1:3",
            "web[1:2:x]",
            "w[c:a]",
            "w[0:99999999999]",
        ] {
            let e = expand_hostname_range(bad).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid host range in '{bad}'")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(
            parse_address("web1:2222", true),
            Some(("web1".into(), Some(2222)))
        );
        assert_eq!(
            parse_address("10.0.0.1:22", false),
            Some(("10.0.0.1".into(), Some(22)))
        );
        assert_eq!(
            parse_address("[::1]:2200", false),
            Some(("::1".into(), Some(2200)))
        );
        assert_eq!(
            parse_address("fe80::1", false),
            Some(("fe80::1".into(), None))
        );
        assert_eq!(
            parse_address("web[01:03]:80", true),
            Some(("web[01:03]".into(), Some(80)))
        );
        assert_eq!(parse_address("web[01:03]", false), None);
        assert_eq!(parse_address("bad_", true), None);
        assert_eq!(parse_address("a b", true), None);
        assert_eq!(
            expand_host_pattern("we@ird:22").unwrap(),
            (vec!["we@ird:22".to_string()], None)
        );
        assert_eq!(
            expand_host_pattern("app[1:2].lan:8022").unwrap(),
            (
                vec!["app1.lan".to_string(), "app2.lan".to_string()],
                Some(8022)
            )
        );
    }
}
