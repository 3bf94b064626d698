//! Python `re` compatibility on top of the `regex` crate, and the regex
//! filters: `regex_replace`, `regex_search`, `regex_findall`, `regex_escape`.
//!
//! Patterns are translated from Python's syntax where the two differ
//! (`\Z`, a literal `{`, a `[` inside a class); features the `regex` crate
//! lacks (look-around, backreferences) are reported as errors.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, Value};
use regex::{Captures, Regex, RegexBuilder};

use super::{Params, fail, text_of};

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
}

/// Whether `{` at byte `i` of `p` starts a valid `{m}`, `{m,}`, `{,n}` or
/// `{m,n}` quantifier.
fn is_quantifier(p: &[char], i: usize) -> bool {
    let mut j = i + 1;
    let mut digits = 0;
    while j < p.len() && p[j].is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    if j < p.len() && p[j] == '}' {
        return digits > 0;
    }
    if j < p.len() && p[j] == ',' {
        j += 1;
        while j < p.len() && p[j].is_ascii_digit() {
            j += 1;
            digits += 1;
        }
        return j < p.len() && p[j] == '}' && digits > 0;
    }
    false
}

/// Translates a Python regular expression into the `regex` crate's syntax.
pub(crate) fn translate(pattern: &str) -> Result<String, String> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while i < p.len() {
        let c = p[i];
        match c {
            '\\' => {
                let Some(&n) = p.get(i + 1) else {
                    return Err("bad escape (end of pattern)".into());
                };
                match n {
                    'Z' if !in_class => out.push_str("\\z"),
                    '1'..='9' if !in_class => {
                        return Err("backreferences (\\1) are not supported".into());
                    }
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                i += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                i += 1;
                // a leading `^` and a leading `]` belong to the class
                if p.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if p.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                class_start = i;
                continue;
            }
            '[' if in_class => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class && p.get(i + 1) == Some(&c) => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && i > class_start && p.get(i + 1) == Some(&'-') => {
                out.push_str("-\\-");
                i += 2;
                continue;
            }
            '{' if !in_class && !is_quantifier(&p, i) => out.push_str("\\{"),
            '}' if !in_class => {
                // a `}` closing a quantifier was consumed with it
                out.push_str("\\}");
            }
            '(' if !in_class && p.get(i + 1) == Some(&'?') => {
                let rest: String = p[i + 2..].iter().take(3).collect();
                if rest.starts_with('=')
                    || rest.starts_with('!')
                    || rest.starts_with("<=")
                    || rest.starts_with("<!")
                {
                    return Err("look-around assertions are not supported".into());
                }
                if rest.starts_with("P=") {
                    return Err("backreferences (?P=name) are not supported".into());
                }
                if rest.starts_with('#') {
                    // a comment group: drop it
                    let mut j = i + 2;
                    while j < p.len() && p[j] != ')' {
                        j += 1;
                    }
                    i = j + 1;
                    continue;
                }
                out.push('(');
            }
            _ => out.push(c),
        }
        if c == '{' && !in_class && is_quantifier(&p, i) {
            // copy the whole quantifier
            let mut j = i + 1;
            while j < p.len() && p[j] != '}' {
                out.push(p[j]);
                j += 1;
            }
            out.push('}');
            i = j + 1;
            continue;
        }
        i += 1;
    }
    Ok(out)
}

/// Compiles a Python pattern for filter/test `name`.
pub(crate) fn compile(
    name: &str,
    pattern: &str,
    ignorecase: bool,
    multiline: bool,
) -> Result<Regex, Error> {
    let invalid = |e: String| fail(name, format!("invalid regular expression '{pattern}': {e}"));
    let translated = translate(pattern).map_err(invalid)?;
    RegexBuilder::new(&translated)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| invalid(e.to_string()))
}

/// A piece of a Python replacement template.
enum Piece {
    Lit(String),
    Group(usize),
    Named(String),
}

/// Parses a Python `re.sub` replacement template.
fn parse_template(name: &str, repl: &str, re: &Regex) -> Result<Vec<Piece>, Error> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let chars: Vec<char> = repl.chars().collect();
    let mut i = 0;
    let bad_group = |g: &str| fail(name, format!("invalid group reference {g} in replacement"));
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            lit.push(c);
            i += 1;
            continue;
        }
        let Some(&n) = chars.get(i + 1) else {
            return Err(fail(name, "bad escape (end of replacement)"));
        };
        i += 2;
        let group = match n {
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(fail(name, "missing '<' after \\g in replacement"));
                }
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == '>')
                    .ok_or_else(|| fail(name, "missing '>' after \\g< in replacement"))?;
                let g: String = chars[i + 1..i + end].iter().collect();
                i += end + 1;
                if let Ok(idx) = g.parse::<usize>() {
                    if idx >= re.captures_len() {
                        return Err(bad_group(&g));
                    }
                    Some(Piece::Group(idx))
                } else {
                    if !re.capture_names().any(|n| n == Some(g.as_str())) {
                        return Err(fail(
                            name,
                            format!("unknown group name '{g}' in replacement"),
                        ));
                    }
                    Some(Piece::Named(g))
                }
            }
            '0' => {
                // octal escape
                let mut v = 0u32;
                let mut k = 0;
                while k < 2 && chars.get(i).is_some_and(|c| ('0'..='7').contains(c)) {
                    v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                lit.push(char::from_u32(v).unwrap_or('\0'));
                None
            }
            '1'..='9' => {
                let mut g = String::from(n);
                if chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
                    g.push(chars[i]);
                    i += 1;
                }
                let idx: usize = g.parse().unwrap_or(usize::MAX);
                if idx >= re.captures_len() {
                    return Err(bad_group(&g));
                }
                Some(Piece::Group(idx))
            }
            'n' => {
                lit.push('\n');
                None
            }
            't' => {
                lit.push('\t');
                None
            }
            'r' => {
                lit.push('\r');
                None
            }
            'f' => {
                lit.push('\x0c');
                None
            }
            'v' => {
                lit.push('\x0b');
                None
            }
            'a' => {
                lit.push('\x07');
                None
            }
            'b' => {
                lit.push('\x08');
                None
            }
            '\\' => {
                lit.push('\\');
                None
            }
            c if c.is_ascii_alphabetic() => {
                return Err(fail(name, format!("bad escape \\{c} in replacement")));
            }
            c => {
                lit.push('\\');
                lit.push(c);
                None
            }
        };
        if let Some(g) = group {
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(g);
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

fn expand(pieces: &[Piece], caps: &Captures<'_>, out: &mut String) {
    for piece in pieces {
        match piece {
            Piece::Lit(s) => out.push_str(s),
            Piece::Group(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
            Piece::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
        }
    }
}

/// All matches the way Python's `re.finditer` reports them: like the
/// `regex` crate, but an empty match right after a non-empty one counts.
pub(crate) fn py_matches<'t>(re: &Regex, text: &'t str) -> Vec<Captures<'t>> {
    let mut rv = Vec::new();
    let mut pos = 0;
    let mut last_empty: Option<usize> = None;
    while pos <= text.len() {
        let Some(caps) = re.captures_at(text, pos) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        if m.is_empty() && last_empty == Some(m.start()) {
            match text[pos..].chars().next() {
                Some(c) => {
                    pos += c.len_utf8();
                    continue;
                }
                None => break,
            }
        }
        last_empty = m.is_empty().then_some(m.end());
        pos = m.end();
        rv.push(caps);
    }
    rv
}

/// Python's `re.sub` with `count` (0 = all); returns the text and the number
/// of substitutions.
pub(crate) fn py_sub(
    name: &str,
    re: &Regex,
    repl: &str,
    text: &str,
    count: usize,
) -> Result<(String, usize), Error> {
    let pieces = parse_template(name, repl, re)?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in py_matches(re, text) {
        if count > 0 && n >= count {
            break;
        }
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        expand(&pieces, &caps, &mut out);
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok((out, n))
}

/// `regex_replace(pattern='', replacement='', ignorecase=False,
/// multiline=False, count=0, mandatory_count=0)`.
fn regex_replace(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    const NAME: &str = "regex_replace";
    let p = Params::bind(
        NAME,
        &[
            "pattern",
            "replacement",
            "ignorecase",
            "multiline",
            "count",
            "mandatory_count",
        ],
        args,
        kwargs,
    )?;
    let text = text_of(NAME, value)?;
    let pattern = p.string("pattern")?.unwrap_or_default();
    let replacement = p.string("replacement")?.unwrap_or_default();
    let re = compile(
        NAME,
        &pattern,
        p.flag("ignorecase", false),
        p.flag("multiline", false),
    )?;
    let count = usize::try_from(p.int("count")?.unwrap_or(0)).unwrap_or(0);
    let (out, n) = py_sub(NAME, &re, &replacement, &text, count)?;
    let mandatory = p.int("mandatory_count")?.unwrap_or(0);
    if mandatory != 0 && usize::try_from(mandatory).ok() != Some(n) {
        return Err(fail(
            NAME,
            format!(
                "'{pattern}' should match {mandatory} times, but matches {n} times in '{text}'"
            ),
        ));
    }
    Ok(out)
}

/// `regex_search(regex, *groups, ignorecase=False, multiline=False)`: the
/// first match, or with `'\\1'`/`'\\g<name>'` arguments the list of those
/// groups; `none` without a match.
fn regex_search(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    const NAME: &str = "regex_search";
    let mut args = args.0.into_iter();
    let pattern = match args.next() {
        Some(p) => text_of(NAME, &p)?,
        None => match kwargs.peek::<Option<String>>("regex")? {
            Some(p) => p,
            None => return Err(fail(NAME, "missing the regex argument")),
        },
    };
    let ignorecase = kwargs
        .get::<Option<Value>>("ignorecase")?
        .is_some_and(|v| v.is_true());
    let multiline = kwargs
        .get::<Option<Value>>("multiline")?
        .is_some_and(|v| v.is_true());
    let _ = kwargs.get::<Option<Value>>("regex")?;
    kwargs
        .assert_all_used()
        .map_err(|e| fail(NAME, e.detail().unwrap_or("unexpected keyword argument")))?;
    enum G {
        Idx(usize),
        Name(String),
    }
    let mut groups = Vec::new();
    for arg in args {
        let a = text_of(NAME, &arg)?;
        if let Some(rest) = a.strip_prefix("\\g") {
            let name = rest
                .strip_prefix('<')
                .and_then(|r| r.strip_suffix('>'))
                .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
                .ok_or_else(|| fail(NAME, format!("unknown argument '{a}'")))?;
            groups.push(match name.parse::<usize>() {
                Ok(i) => G::Idx(i),
                Err(_) => G::Name(name.to_string()),
            });
        } else if let Some(rest) = a.strip_prefix('\\') {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let idx = digits
                .parse::<usize>()
                .map_err(|_| fail(NAME, format!("unknown argument '{a}'")))?;
            groups.push(G::Idx(idx));
        } else {
            return Err(fail(NAME, format!("unknown argument '{a}'")));
        }
    }
    let text = text_of(NAME, value)?;
    let re = compile(NAME, &pattern, ignorecase, multiline)?;
    let Some(caps) = re.captures(&text) else {
        return Ok(Value::from(()));
    };
    let as_value =
        |m: Option<regex::Match<'_>>| m.map_or(Value::from(()), |m| Value::from(m.as_str()));
    if groups.is_empty() {
        return Ok(as_value(caps.get(0)));
    }
    let mut rv = Vec::new();
    for g in groups {
        rv.push(match g {
            G::Idx(i) if i < re.captures_len() => as_value(caps.get(i)),
            G::Idx(i) => return Err(fail(NAME, format!("no such group: {i}"))),
            G::Name(n) if re.capture_names().any(|x| x == Some(n.as_str())) => {
                as_value(caps.name(&n))
            }
            G::Name(n) => return Err(fail(NAME, format!("no such group: '{n}'"))),
        });
    }
    Ok(Value::from(rv))
}

/// `regex_findall(regex, multiline=False, ignorecase=False)`: Python's
/// `re.findall` (full matches, the group, or tuples of groups).
fn regex_findall(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    const NAME: &str = "regex_findall";
    let p = Params::bind(NAME, &["regex", "multiline", "ignorecase"], args, kwargs)?;
    let text = text_of(NAME, value)?;
    let pattern = p.string("regex")?.unwrap_or_default();
    let re = compile(
        NAME,
        &pattern,
        p.flag("ignorecase", false),
        p.flag("multiline", false),
    )?;
    let ngroups = re.captures_len() - 1;
    let grab = |caps: &Captures<'_>, i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
    let rv: Vec<Value> = py_matches(&re, &text)
        .into_iter()
        .map(|caps| match ngroups {
            0 => grab(&caps, 0),
            1 => grab(&caps, 1),
            n => Value::from(minijinja::value::Tuple::from(
                (1..=n).map(|i| grab(&caps, i)).collect::<Vec<_>>(),
            )),
        })
        .collect();
    Ok(Value::from(rv))
}

/// Python's `re.escape`.
pub(crate) fn py_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `regex_escape(re_type='python')`.
fn regex_escape(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    const NAME: &str = "regex_escape";
    let p = Params::bind(NAME, &["re_type"], args, kwargs)?;
    let text = text_of(NAME, value)?;
    match p.string("re_type")?.as_deref().unwrap_or("python") {
        "python" => Ok(py_escape(&text)),
        "posix_basic" => {
            let mut out = String::new();
            for c in text.chars() {
                if "[].^$*\\".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
            Ok(out)
        }
        "posix_extended" => Err(fail(
            NAME,
            "Regex type (posix_extended) not yet implemented",
        )),
        other => Err(fail(NAME, format!("Invalid regex type ({other})"))),
    }
}
