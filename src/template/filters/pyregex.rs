//! The regex filters `regex_replace`, `regex_search`, `regex_findall`,
//! `regex_escape`, on Python's `re` as [`tend_modules::pyregex`] implements
//! it (the modules use the same translation): Python's syntax, `$`/`\Z`,
//! backreferences, look-around, and `re.sub` replacement templates.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, Value};
use tend_modules::pyregex::{self as py, Flags};

use super::{Params, fail, text_of};

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
}

/// A compiled text pattern for filter/test `name`.
pub(crate) struct Regex {
    name: String,
    re: py::Regex,
}

/// Where a match is, for the Jinja tests.
pub(crate) struct Span {
    start: usize,
}

impl Span {
    /// Where the match starts.
    pub(crate) fn start(&self) -> usize {
        self.start
    }
}

impl Regex {
    fn runtime(&self, e: String) -> Error {
        fail(&self.name, e)
    }

    /// `re.search(...) is not None`; a pattern that exhausts the matcher
    /// (catastrophic backtracking) counts as no match.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.re.is_match(text).unwrap_or(false)
    }

    /// The matches in order (the first is `re.search`'s).
    pub(crate) fn find_iter<'a>(&'a self, text: &'a str) -> impl Iterator<Item = Span> + 'a {
        let mut pos = Some(0);
        std::iter::from_fn(move || {
            let from = pos?;
            match self.re.search_from(text, from) {
                Ok(Some(m)) => {
                    pos = if m.end() > m.start() {
                        Some(m.end())
                    } else if m.end() < text.len() {
                        Some(m.end() + text[m.end()..].chars().next().map_or(1, char::len_utf8))
                    } else {
                        None
                    };
                    Some(Span { start: m.start() })
                }
                _ => {
                    pos = None;
                    None
                }
            }
        })
    }
}

/// Compiles a Python pattern for filter/test `name`.
pub(crate) fn compile(
    name: &str,
    pattern: &str,
    ignorecase: bool,
    multiline: bool,
) -> Result<Regex, Error> {
    let flags = Flags::str().ignorecase(ignorecase).multiline(multiline);
    let re = py::Regex::new(pattern, flags)
        .map_err(|e| fail(name, format!("invalid regular expression '{pattern}': {e}")))?;
    Ok(Regex {
        name: name.to_string(),
        re,
    })
}

/// Python's `re.sub` with `count` (0 = all); returns the text and the number
/// of substitutions.
pub(crate) fn py_sub(
    re: &Regex,
    repl: &str,
    text: &str,
    count: usize,
) -> Result<(String, usize), Error> {
    re.re.subn(repl, text, count).map_err(|e| re.runtime(e))
}

/// Python's `re.escape`.
pub(crate) fn py_escape(s: &str) -> String {
    py::escape(s)
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
    let (out, n) = py_sub(&re, &replacement, &text, count)?;
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
    let Some(m) = re.re.search(text.as_str()).map_err(|e| re.runtime(e))? else {
        return Ok(Value::from(()));
    };
    let as_value = |i: usize| m.group(&text, i).map_or(Value::from(()), Value::from);
    if groups.is_empty() {
        return Ok(as_value(0));
    }
    let mut rv = Vec::new();
    for g in groups {
        rv.push(match g {
            G::Idx(i) if i <= re.re.groups() => as_value(i),
            G::Idx(i) => return Err(fail(NAME, format!("no such group: {i}"))),
            G::Name(n) => match re.re.group_index(&n) {
                Some(i) => as_value(i),
                None => return Err(fail(NAME, format!("no such group: '{n}'"))),
            },
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
    let ngroups = re.re.groups();
    let grab = |m: &py::Match, i: usize| Value::from(m.group(&text, i).unwrap_or(""));
    let rv: Vec<Value> = re
        .re
        .find_all(text.as_str())
        .map_err(|e| re.runtime(e))?
        .iter()
        .map(|m| match ngroups {
            0 => grab(m, 0),
            1 => grab(m, 1),
            n => Value::from(minijinja::value::Tuple::from(
                (1..=n).map(|i| grab(m, i)).collect::<Vec<_>>(),
            )),
        })
        .collect();
    Ok(Value::from(rv))
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
