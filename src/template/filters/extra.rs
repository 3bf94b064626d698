//! Jinja2 builtins that minijinja lacks (`truncate`, `center`, `wordcount`,
//! `wordwrap`, `format`, `xmlattr`, `filesizeformat`), more of Ansible's
//! filters (`random`, `shuffle`, `strftime`, `to_datetime`, `subelements`,
//! `extract`, `password_hash`) and the globals `dict` and `now`.
//!
//! Seeded `random` and `shuffle` reproduce CPython's Mersenne Twister, so
//! `60 | random(seed=inventory_hostname)` gives the number Ansible gives.
//! Dates follow Python's `time.strftime` on glibc (C locale) and
//! `datetime.strptime`; `to_datetime` and `now()` return a [`PyDateTime`]
//! object. A difference of two dates is a [`PyTimeDelta`] with `days`,
//! `seconds`, `microseconds` and `total_seconds()`: `a - b` (templates that
//! use dates have their `-` and `+` rewritten into calls of `__tend_sub` and
//! `__tend_add`, see `template::minus`) or `a.__sub__(b)`.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, Rest, ValueKind};
use minijinja::{Error, State, Value};
use sha2::Digest;

use super::text::parse_py_float;
use super::{Params, as_int, fail, list_of, map_items, py_str, py_type, text_of};

/// Registers the filters and globals of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("truncate", truncate);
    env.add_filter("ansible._protomatter.finalize", finalize);
    env.add_filter("center", center);
    env.add_filter("indent", indent);
    env.add_filter("slice", slice);
    env.add_filter("wordcount", wordcount);
    env.add_filter("wordwrap", wordwrap);
    env.add_filter("format", format);
    env.add_filter(crate::template::percent::TUPLE_FILTER, percent_tuple);
    env.add_filter(crate::template::percent::VALUE_FILTER, percent_value);
    env.add_filter("xmlattr", xmlattr);
    env.add_filter("filesizeformat", filesizeformat);
    env.add_filter("random", random);
    env.add_filter("shuffle", shuffle);
    env.add_filter("strftime", strftime);
    env.add_filter("to_datetime", to_datetime);
    env.add_filter("subelements", subelements);
    env.add_filter("extract", extract);
    env.add_filter("password_hash", password_hash);
    env.add_function("dict", dict);
    env.add_function("joiner", minijinja_contrib::globals::joiner);
    env.add_function("cycler", minijinja_contrib::globals::cycler);
    env.add_function("now", now);
    env.add_function(super::super::minus::SUB_FUNCTION, subtract);
    env.add_function(super::super::minus::ADD_FUNCTION, add);
}

// ---------------------------------------------------------------------------
// Jinja2 string filters
// ---------------------------------------------------------------------------

/// The largest padding width `center`, `format` and `strftime` accept (so
/// that no template can make one allocate without bound).
const MAX_WIDTH: usize = 10_000_000;

/// Jinja2 3.x `truncate(length=255, killwords=False, end='...', leeway=5)`.
fn truncate(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind(
        "truncate",
        &["length", "killwords", "end", "leeway"],
        args,
        kwargs,
    )?;
    let s = text_of("truncate", value)?;
    let length = p.int("length")?.unwrap_or(255);
    let killwords = p.flag("killwords", false);
    let end = p.string("end")?.unwrap_or_else(|| "...".into());
    let leeway = p.int("leeway")?.unwrap_or(5);
    let end_len = end.chars().count() as i64;
    if length < end_len {
        return Err(fail(
            "truncate",
            format!("expected length >= {end_len}, got {length}"),
        ));
    }
    if leeway < 0 {
        return Err(fail(
            "truncate",
            format!("expected leeway >= 0, got {leeway}"),
        ));
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() as i64 <= length.saturating_add(leeway) {
        return Ok(s);
    }
    let head: String = chars[..(length - end_len) as usize].iter().collect();
    if killwords {
        return Ok(head + &end);
    }
    let kept = match head.rsplit_once(' ') {
        Some((before, _)) => before.to_string(),
        None => head,
    };
    Ok(kept + &end)
}

/// Jinja2's `indent(width=4, first=False, blank=False)`: the lines after
/// the first (or all, `first`) prefixed with `width` spaces, or with `width`
/// itself when it is a string; blank lines only with `blank`.
fn indent(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("indent", &["width", "first", "blank"], args, kwargs)?;
    let s = text_of("indent", value)?;
    let indention = match p.get("width") {
        Some(w) if w.kind() == ValueKind::String => w.as_str().unwrap_or_default().to_string(),
        _ => {
            let width = p.int("width")?.unwrap_or(4);
            if width > MAX_WIDTH as i64 {
                return Err(fail("indent", "width too big"));
            }
            " ".repeat(usize::try_from(width).unwrap_or(0))
        }
    };
    let text = s + "\n";
    let lines = py_splitlines(&text);
    if indention.len().saturating_mul(lines.len()) > MAX_WIDTH * 10 {
        return Err(fail("indent", "width too big"));
    }
    let mut rv = if p.flag("blank", false) {
        lines.join(&format!("\n{indention}"))
    } else {
        let mut rv = lines.first().copied().unwrap_or_default().to_string();
        for line in lines.iter().skip(1) {
            rv.push('\n');
            if !line.is_empty() {
                rv.push_str(&indention);
            }
            rv.push_str(line);
        }
        rv
    };
    if p.flag("first", false) {
        rv.insert_str(0, &indention);
    }
    Ok(rv)
}

/// The most slices `slice` makes (each is a list, empty ones too).
const MAX_SLICES: usize = 1_000_000;

/// Jinja2's `slice(slices, fill_with=None)`, refusing a count of slices
/// that would not fit in memory.
fn slice(
    state: &State<'_, '_>,
    value: Value,
    count: usize,
    fill_with: Option<Value>,
) -> Result<Value, Error> {
    if count > MAX_SLICES {
        return Err(fail("slice", format!("too many slices ({count})")));
    }
    minijinja::filters::slice(state, value, count, fill_with)
}

/// Python's `str.center(width)`.
fn center(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("center", &["width"], args, kwargs)?;
    let s = text_of("center", value)?;
    let width = p.int("width")?.unwrap_or(80);
    if width > MAX_WIDTH as i64 {
        return Err(fail("center", "width too big"));
    }
    let len = s.chars().count() as i64;
    let marg = width - len;
    if marg <= 0 {
        return Ok(s);
    }
    // CPython: left = marg / 2 + (marg & width & 1)
    let left = marg / 2 + (marg & width & 1);
    let right = marg - left;
    Ok(format!(
        "{}{s}{}",
        " ".repeat(left as usize),
        " ".repeat(right as usize)
    ))
}

/// Python's `\w` (Unicode word characters).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The number of `\w+` runs.
fn wordcount(value: &Value) -> Result<usize, Error> {
    let s = text_of("wordcount", value)?;
    let mut n = 0;
    let mut in_word = false;
    for c in s.chars() {
        let w = is_word(c);
        if w && !in_word {
            n += 1;
        }
        in_word = w;
    }
    Ok(n)
}

/// Python's `str.splitlines()`.
fn py_splitlines(s: &str) -> Vec<&str> {
    let mut rv = Vec::new();
    let mut start = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if is_break {
            rv.push(&s[start..i]);
            let mut next = i + c.len_utf8();
            if c == '\r'
                && let Some(&(_, '\n')) = it.peek()
            {
                it.next();
                next += 1;
            }
            start = next;
        }
    }
    if start < s.len() {
        rv.push(&s[start..]);
    }
    rv
}

/// The whitespace `textwrap` splits on.
fn is_tw_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// `[^\d\W]`: a word character that is not a digit.
fn is_letter(c: char) -> bool {
    is_word(c) && !c.is_numeric()
}

/// `[\w!"'&.,?]`.
fn is_word_punct(c: char) -> bool {
    is_word(c) || "!\"'&.,?".contains(c)
}

/// `textwrap.TextWrapper._split`: the chunks of `wordsep_re` (with
/// `break_on_hyphens`) or `wordsep_simple_re`.
fn tw_split(text: &str, break_on_hyphens: bool) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let n = c.len();
    let mut chunks = Vec::new();
    let mut i = 0;
    // `-{2,}` followed by \w, the whole dash run being taken.
    let em_dash_at = |j: usize| -> bool {
        let mut k = j;
        while k < n && c[k] == '-' {
            k += 1;
        }
        k - j >= 2 && k < n && is_word(c[k])
    };
    while i < n {
        let start = i;
        if is_tw_space(c[i]) {
            while i < n && is_tw_space(c[i]) {
                i += 1;
            }
        } else if !break_on_hyphens {
            while i < n && !is_tw_space(c[i]) {
                i += 1;
            }
        } else if i > 0 && is_word_punct(c[i - 1]) && em_dash_at(i) {
            while i < n && c[i] == '-' {
                i += 1;
            }
        } else {
            // \S+? followed by one of: a hyphen inside a word (taken),
            // whitespace or the end, or an em-dash after word punctuation.
            let lt = |k: usize| k < n && is_letter(c[k]);
            let mut j = i + 1;
            loop {
                if j < n && c[j] == '-' {
                    let behind = (j >= 2 && lt(j - 2) && lt(j - 1))
                        || (j >= 3 && lt(j - 3) && c[j - 2] == '-' && lt(j - 1));
                    let ahead =
                        lt(j + 1) && (lt(j + 2) || (j + 2 < n && c[j + 2] == '-' && lt(j + 3)));
                    if behind && ahead {
                        j += 1;
                        break;
                    }
                }
                if j >= n || is_tw_space(c[j]) {
                    break;
                }
                if is_word_punct(c[j - 1]) && em_dash_at(j) {
                    break;
                }
                j += 1;
            }
            i = j;
        }
        chunks.push(c[start..i].iter().collect());
    }
    chunks
}

/// `textwrap.wrap(text, width, expand_tabs=False, replace_whitespace=False,
/// break_long_words, break_on_hyphens)`.
fn tw_wrap(text: &str, width: usize, break_long: bool, break_on_hyphens: bool) -> Vec<String> {
    let clen = |s: &String| s.chars().count();
    let is_blank = |s: &String| s.trim().is_empty();
    let mut chunks = tw_split(text, break_on_hyphens);
    chunks.reverse();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut cur: Vec<String> = Vec::new();
        let mut cur_len = 0;
        if !lines.is_empty() && chunks.last().is_some_and(is_blank) {
            chunks.pop();
        }
        while let Some(last) = chunks.last() {
            let l = clen(last);
            if cur_len + l <= width {
                cur_len += l;
                cur.extend(chunks.pop());
            } else {
                break;
            }
        }
        if let Some(last) = chunks.last_mut()
            && clen(last) > width
        {
            // _handle_long_word
            let space_left = if width < 1 { 1 } else { width - cur_len };
            if break_long {
                let chars: Vec<char> = last.chars().collect();
                let mut end = space_left;
                if break_on_hyphens && chars.len() > space_left {
                    let hyphen = chars[..space_left.min(chars.len())]
                        .iter()
                        .rposition(|c| *c == '-');
                    if let Some(h) = hyphen
                        && h > 0
                        && chars[..h].iter().any(|c| *c != '-')
                    {
                        end = h + 1;
                    }
                }
                let end = end.min(chars.len());
                cur.push(chars[..end].iter().collect());
                *last = chars[end..].iter().collect();
            } else if cur.is_empty() {
                cur.extend(chunks.pop());
            }
        }
        if cur.last().is_some_and(is_blank) {
            cur.pop();
        }
        if !cur.is_empty() {
            lines.push(cur.concat());
        }
    }
    lines
}

/// Jinja2's `wordwrap(width=79, break_long_words=True, wrapstring=None,
/// break_on_hyphens=True)`: wraps each line of the text on its own.
fn wordwrap(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind(
        "wordwrap",
        &[
            "width",
            "break_long_words",
            "wrapstring",
            "break_on_hyphens",
        ],
        args,
        kwargs,
    )?;
    let s = text_of("wordwrap", value)?;
    let width = p.int("width")?.unwrap_or(79);
    if width <= 0 {
        return Err(fail(
            "wordwrap",
            format!("invalid width {width} (must be > 0)"),
        ));
    }
    let break_long = p.flag("break_long_words", true);
    let break_on_hyphens = p.flag("break_on_hyphens", true);
    let wrap = p.string("wrapstring")?.unwrap_or_else(|| "\n".into());
    let paragraphs: Vec<String> = py_splitlines(&s)
        .into_iter()
        .map(|line| tw_wrap(line, width as usize, break_long, break_on_hyphens).join(&wrap))
        .collect();
    Ok(paragraphs.join(&wrap))
}

/// Python's `repr()` of a string (`ascii`: also escapes non-ASCII).
pub(crate) fn py_repr_str(s: &str, ascii: bool) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (ascii && !c.is_ascii()) || (!c.is_ascii() && c.is_control()) => {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a value.
fn py_repr(v: &Value, ascii: bool) -> String {
    match v.as_str() {
        Some(s) if v.kind() == ValueKind::String => py_repr_str(s, ascii),
        _ => py_str(v),
    }
}

/// A parsed printf conversion: `%(key)flags width .precision type`.
struct Conversion<'a> {
    key: Option<&'a str>,
    flags: String,
    width: Option<Result<usize, ()>>,
    precision: Option<Result<usize, ()>>,
    kind: char,
}

/// Parses the conversion after a `%` at `rest`; returns it and the bytes it
/// used.
fn parse_conversion(rest: &str) -> Result<(Conversion<'_>, usize), String> {
    let b = rest.as_bytes();
    let mut i = 0;
    let mut key = None;
    if b.first() == Some(&b'(') {
        let mut depth = 1;
        let mut j = 1;
        while j < b.len() && depth > 0 {
            match b[j] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            j += 1;
        }
        if depth > 0 {
            return Err("incomplete format key".into());
        }
        key = Some(&rest[1..j - 1]);
        i = j;
    }
    let mut flags = String::new();
    while i < b.len() && b"#0- +".contains(&b[i]) {
        flags.push(b[i] as char);
        i += 1;
    }
    let number = |i: &mut usize| -> Option<Result<usize, ()>> {
        if b.get(*i) == Some(&b'*') {
            *i += 1;
            return Some(Err(()));
        }
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        (*i > start).then(|| Ok(rest[start..*i].parse().unwrap_or(usize::MAX)))
    };
    let width = number(&mut i);
    let precision = if b.get(i) == Some(&b'.') {
        i += 1;
        Some(number(&mut i).unwrap_or(Ok(0)))
    } else {
        None
    };
    while i < b.len() && b"hlL".contains(&b[i]) {
        i += 1;
    }
    let Some(kind) = rest[i..].chars().next() else {
        return Err("incomplete format".into());
    };
    Ok((
        Conversion {
            key,
            flags,
            width,
            precision,
            kind,
        },
        i + kind.len_utf8(),
    ))
}

/// The integer a `%d`/`%x`/... conversion formats: floats are truncated
/// for `d`, `i` and `u` only.
fn int_arg(name: &str, kind: char, arg: &Value) -> Result<i128, Error> {
    let bad = || {
        let what = if matches!(kind, 'd' | 'i' | 'u') {
            "a real number"
        } else {
            "an integer"
        };
        fail(
            name,
            format!("%{kind} format: {what} is required, not {}", py_type(arg)),
        )
    };
    match arg.kind() {
        ValueKind::Bool => Ok(i128::from(arg.is_true())),
        ValueKind::Number if arg.is_integer() => i128::try_from(arg.clone()).map_err(|_| bad()),
        ValueKind::Number if matches!(kind, 'd' | 'i' | 'u') => {
            let f = f64::try_from(arg.clone()).map_err(|_| bad())?;
            if !f.is_finite() {
                return Err(fail(
                    name,
                    "cannot convert float infinity or NaN to integer",
                ));
            }
            Ok(f.trunc() as i128)
        }
        _ => Err(bad()),
    }
}

/// Python's integer conversions: `spec` is `%flags[width][.precision]`
/// with any `*` already resolved.
fn format_int(n: i128, flags: &str, spec: &str, kind: char) -> String {
    let (width, precision) = {
        let body = spec
            .trim_start_matches('%')
            .trim_start_matches(['#', '0', '-', ' ', '+']);
        let (w, p) = match body.split_once('.') {
            Some((w, p)) => (w, Some(p)),
            None => (body, None),
        };
        (
            w.parse::<usize>().unwrap_or(0),
            p.map(|p| p.parse::<usize>().unwrap_or(0)),
        )
    };
    // the `-` flag, or a negative `*` width, left-justifies
    let left = spec.contains('-');
    let mag = n.unsigned_abs();
    let mut digits = match kind {
        'o' => format!("{mag:o}"),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        _ => mag.to_string(),
    };
    if let Some(p) = precision
        && digits.len() < p
    {
        digits = format!("{}{digits}", "0".repeat(p - digits.len()));
    }
    let mut prefix = String::new();
    if n < 0 {
        prefix.push('-');
    } else if flags.contains('+') {
        prefix.push('+');
    } else if flags.contains(' ') {
        prefix.push(' ');
    }
    if flags.contains('#') {
        prefix.push_str(match kind {
            'o' => "0o",
            'x' => "0x",
            'X' => "0X",
            _ => "",
        });
    }
    let len = prefix.len() + digits.len();
    if width <= len {
        return prefix + &digits;
    }
    let fill = width - len;
    if left {
        format!("{prefix}{digits}{}", " ".repeat(fill))
    } else if flags.contains('0') {
        format!("{prefix}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{prefix}{digits}", " ".repeat(fill))
    }
}

/// Python's `fmt % args` (`mapping`: `fmt % kwargs`).
pub(crate) fn percent_format(
    name: &str,
    fmt: &str,
    args: &[Value],
    mapping: Option<&Value>,
) -> Result<String, Error> {
    use minijinja::formatting::{FormatStyle, format as mj_format};
    let mut out = String::with_capacity(fmt.len());
    let mut next = 0;
    let mut rest = fmt;
    let mut take = |what: &str| -> Result<Value, Error> {
        if let Some(m) = mapping
            && args.is_empty()
        {
            // `'%s' % {...}` formats the mapping itself, once.
            next += 1;
            return if next == 1 {
                Ok(m.clone())
            } else {
                Err(fail(name, "not enough arguments for format string"))
            };
        }
        let v = args
            .get(next)
            .cloned()
            .ok_or_else(|| fail(name, "not enough arguments for format string"))?;
        next += 1;
        if what == "*" && as_int(&v).is_none() {
            return Err(fail(name, "* wants int"));
        }
        Ok(v)
    };
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let (conv, used) = parse_conversion(&rest[pos + 1..]).map_err(|e| fail(name, e))?;
        rest = &rest[pos + 1 + used..];
        if conv.kind == '%' {
            out.push('%');
            continue;
        }
        let mut spec = String::from("%");
        spec.push_str(&conv.flags);
        let mut star = |n: Option<Result<usize, ()>>, spec: &mut String| -> Result<(), Error> {
            let (neg, n) = match n {
                None => return Ok(()),
                Some(Ok(n)) => (false, n as u64),
                Some(Err(())) => {
                    let n = as_int(&take("*")?).unwrap_or(0);
                    (n < 0, n.unsigned_abs())
                }
            };
            if n > MAX_WIDTH as u64 {
                return Err(fail(name, "width or precision too big"));
            }
            if neg {
                spec.push('-');
            }
            spec.push_str(&n.to_string());
            Ok(())
        };
        star(conv.width, &mut spec)?;
        if conv.precision.is_some() {
            spec.push('.');
            star(conv.precision, &mut spec)?;
        }
        let arg = match conv.key {
            Some(key) => {
                let Some(m) = mapping else {
                    return Err(fail(name, "format requires a mapping"));
                };
                let v = m.get_attr(key).unwrap_or_default();
                if v.is_undefined() {
                    return Err(fail(name, format!("KeyError: '{key}'")));
                }
                v
            }
            None => take("")?,
        };
        if arg.is_undefined() {
            return Err(fail(name, "argument is undefined"));
        }
        let (kind, arg) = match conv.kind {
            'r' | 'a' => ('s', Value::from(py_repr(&arg, conv.kind == 'a'))),
            's' => ('s', Value::from(py_str(&arg))),
            'd' | 'i' | 'u' | 'o' | 'x' | 'X' => {
                let n = int_arg(name, conv.kind, &arg)?;
                out.push_str(&format_int(n, &conv.flags, &spec, conv.kind));
                continue;
            }
            k => (k, arg),
        };
        spec.push(kind);
        out.push_str(
            &mj_format(FormatStyle::Printf, &spec, &[arg])
                .map_err(|e| fail(name, e.detail().unwrap_or("invalid format").to_string()))?,
        );
    }
    out.push_str(rest);
    if mapping.is_none() && next < args.len() {
        return Err(fail(
            name,
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

/// Python's `'...' % (a, b)` (see [`crate::template::percent`]).
fn percent_tuple(value: &Value, args: Rest<Value>) -> Result<String, Error> {
    percent_format("%", &text_of("%", value)?, &args, None)
}

/// Python's `'...' % x`: a mapping formats by key (`%(name)s`), anything
/// else is the one argument.
fn percent_value(value: &Value, operand: Value) -> Result<String, Error> {
    let text = text_of("%", value)?;
    if operand.kind() == minijinja::value::ValueKind::Map {
        percent_format("%", &text, &[], Some(&operand))
    } else {
        percent_format("%", &text, &[operand], None)
    }
}

/// Jinja2's `format(*args, **kwargs)`: `value % args` (or `% kwargs`).
fn format(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let s = text_of("format", value)?;
    let keys: Vec<&str> = kwargs.args().collect();
    if !args.is_empty() && !keys.is_empty() {
        return Err(fail(
            "format",
            "can't handle positional and keyword arguments at the same time",
        ));
    }
    if keys.is_empty() {
        return percent_format("format", &s, &args, None);
    }
    let mut map: indexmap::IndexMap<String, Value> = indexmap::IndexMap::new();
    for k in keys {
        map.insert(k.to_string(), kwargs.peek::<Value>(k)?);
    }
    let m = Value::from_pairs(map);
    percent_format("format", &s, &[], Some(&m))
}

/// MarkupSafe's `escape()`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Jinja2's `xmlattr(autospace=True)`: `key="value"` pairs, escaped, for
/// the items whose value is not none.
fn xmlattr(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("xmlattr", &["autospace"], args, kwargs)?;
    if value.kind() != ValueKind::Map {
        return Err(fail(
            "xmlattr",
            format!("expected a dict, got {}", py_type(value)),
        ));
    }
    let mut items = Vec::new();
    for (k, v) in map_items(value)? {
        if v.is_none() || v.is_undefined() {
            continue;
        }
        let key = py_str(&k);
        if key.chars().any(|c| c.is_whitespace() || "/>=".contains(c)) {
            return Err(fail(
                "xmlattr",
                format!(
                    "Invalid character in attribute name: {}",
                    py_repr_str(&key, false)
                ),
            ));
        }
        items.push(format!(
            "{}=\"{}\"",
            html_escape(&key),
            html_escape(&py_str(&v))
        ));
    }
    let rv = items.join(" ");
    Ok(if p.flag("autospace", true) && !rv.is_empty() {
        format!(" {rv}")
    } else {
        rv
    })
}

/// Jinja2's `filesizeformat(binary=False)`.
fn filesizeformat(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("filesizeformat", &["binary"], args, kwargs)?;
    let bytes = match value.kind() {
        ValueKind::Number | ValueKind::Bool => f64::try_from(value.clone()).ok(),
        ValueKind::String => value.as_str().and_then(parse_py_float),
        _ => None,
    }
    .ok_or_else(|| {
        fail(
            "filesizeformat",
            format!("could not convert {} to float", py_type(value)),
        )
    })?;
    let binary = p.flag("binary", false);
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let prefixes = if binary {
        ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    } else {
        ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    };
    if bytes == 1.0 {
        return Ok("1 Byte".into());
    }
    if bytes < base {
        return Ok(format!("{} Bytes", bytes.trunc() as i64));
    }
    let mut unit = base;
    for (i, prefix) in prefixes.iter().enumerate() {
        unit = base.powi(i as i32 + 2);
        if bytes < unit || i == prefixes.len() - 1 {
            return Ok(format!("{:.1} {prefix}", base * bytes / unit));
        }
    }
    Ok(format!("{:.1} YB", base * bytes / unit))
}

// ---------------------------------------------------------------------------
// random / shuffle: CPython's random.Random
// ---------------------------------------------------------------------------

/// CPython's `random.Random`: MT19937 seeded as `random.seed(a, version=2)`.
pub(crate) struct PyRandom {
    mt: [u32; 624],
    idx: usize,
}

impl PyRandom {
    fn init_genrand(s: u32) -> PyRandom {
        let mut mt = [0u32; 624];
        mt[0] = s;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        PyRandom { mt, idx: 624 }
    }

    /// `init_by_array(key)`.
    fn from_key(key: &[u32]) -> PyRandom {
        let mut r = PyRandom::init_genrand(19_650_218);
        let mt = &mut r.mt;
        let n = 624;
        let (mut i, mut j) = (1usize, 0usize);
        let mut k = n.max(key.len());
        while k > 0 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
            k -= 1;
        }
        k = n - 1;
        while k > 0 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= n {
                mt[0] = mt[n - 1];
                i = 1;
            }
            k -= 1;
        }
        mt[0] = 0x8000_0000;
        r
    }

    /// Seeds from a non-negative integer given as little-endian bytes.
    fn from_le_bytes(bytes: &[u8]) -> PyRandom {
        let mut key: Vec<u32> = bytes
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect();
        while key.len() > 1 && key.last() == Some(&0) {
            key.pop();
        }
        if key.is_empty() {
            key.push(0);
        }
        PyRandom::from_key(&key)
    }

    /// `random.Random(seed)` for a seed value: ints by their absolute value,
    /// strings through SHA-512 (version 2), floats by their Python hash.
    pub(crate) fn seeded(name: &str, seed: &Value) -> Result<PyRandom, Error> {
        match seed.kind() {
            ValueKind::String | ValueKind::Bytes => {
                let mut data = match seed.as_bytes() {
                    Some(b) => b.to_vec(),
                    None => Vec::new(),
                };
                let digest = sha2::Sha512::digest(&data);
                data.extend_from_slice(&digest);
                data.reverse();
                Ok(PyRandom::from_le_bytes(&data))
            }
            ValueKind::Bool => Ok(PyRandom::from_le_bytes(&[u8::from(seed.is_true())])),
            ValueKind::Number if seed.is_integer() => {
                let n = i128::try_from(seed.clone()).map_err(|e| fail(name, e))?;
                Ok(PyRandom::from_le_bytes(&n.unsigned_abs().to_le_bytes()))
            }
            ValueKind::Number => {
                let f = f64::try_from(seed.clone()).map_err(|e| fail(name, e))?;
                let h = py_hash_float(f) as u64;
                Ok(PyRandom::from_le_bytes(&h.to_le_bytes()))
            }
            ValueKind::None => Ok(PyRandom::unseeded()),
            _ => Err(fail(
                name,
                format!(
                    "The only supported seed types are: None, int, float, str, bytes, and bytearray (got {})",
                    py_type(seed)
                ),
            )),
        }
    }

    /// A generator seeded from the process's random hasher keys, the time
    /// and a counter (for unseeded calls; not for secrets).
    pub(crate) fn unseeded() -> PyRandom {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut key = Vec::new();
        for round in 0..4u64 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(count);
            h.write_u128(nanos);
            h.write_u64(round);
            let v = h.finish();
            key.push(v as u32);
            key.push((v >> 32) as u32);
        }
        PyRandom::from_key(&key)
    }

    fn next_u32(&mut self) -> u32 {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        if self.idx >= 624 {
            let mt = &mut self.mt;
            for kk in 0..624 {
                let y = (mt[kk] & UPPER) | (mt[(kk + 1) % 624] & LOWER);
                let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
                mt[kk] = mt[(kk + 397) % 624] ^ (y >> 1) ^ mag;
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `getrandbits(k)` for `k <= 64`.
    fn getrandbits(&mut self, k: u32) -> u64 {
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return u64::from(self.next_u32() >> (32 - k));
        }
        let low = u64::from(self.next_u32());
        let high = u64::from(self.next_u32() >> (64 - k));
        low | (high << 32)
    }

    /// `_randbelow(n)`, `n > 0`.
    pub(crate) fn randbelow(&mut self, n: u64) -> u64 {
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(start, stop, step)` (with Python's floor division).
    fn randrange(&mut self, start: i64, stop: i64, step: i64) -> Result<i64, String> {
        let width = i128::from(stop) - i128::from(start);
        let step128 = i128::from(step);
        let floor_div = |a: i128, b: i128| {
            let q = a / b;
            if a % b != 0 && ((a < 0) != (b < 0)) {
                q - 1
            } else {
                q
            }
        };
        let n = if step == 1 {
            width
        } else if step > 0 {
            floor_div(width + step128 - 1, step128)
        } else if step < 0 {
            floor_div(width + step128 + 1, step128)
        } else {
            return Err("zero step for randrange()".into());
        };
        if n <= 0 {
            return Err(if step == 1 {
                format!("empty range in randrange({start}, {stop})")
            } else {
                format!("empty range in randrange({start}, {stop}, {step})")
            });
        }
        let r = self.randbelow(n as u64);
        Ok((i128::from(start) + step128 * i128::from(r)) as i64)
    }

    /// `shuffle(x)`.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// CPython's `hash()` of a float.
fn py_hash_float(v: f64) -> i64 {
    const BITS: u32 = 61;
    const MODULUS: u64 = (1 << BITS) - 1;
    if v.is_infinite() {
        return if v > 0.0 { 314_159 } else { -314_159 };
    }
    if v.is_nan() || v == 0.0 {
        return 0;
    }
    // frexp
    let (mut m, mut e) = {
        let bits = v.abs().to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        if exp == 0 {
            // subnormal: scale up first
            let scaled = v.abs() * 2f64.powi(64);
            let bits = scaled.to_bits();
            let exp = ((bits >> 52) & 0x7ff) as i32;
            let mant = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
            (mant, exp - 1022 - 64)
        } else {
            let mant = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
            (mant, exp - 1022)
        }
    };
    let sign: i64 = if v < 0.0 { -1 } else { 1 };
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & MODULUS) | (x >> (BITS - 28));
        m *= 268_435_456.0;
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        x += y;
        if x >= MODULUS {
            x -= MODULUS;
        }
    }
    let e = if e >= 0 {
        e as u32 % BITS
    } else {
        BITS - 1 - ((-1 - e) as u32 % BITS)
    };
    x = ((x << e) & MODULUS) | (x >> (BITS - e));
    let mut h = (x as i64).wrapping_mul(sign);
    if h == -1 {
        h = -2;
    }
    h
}

/// Ansible's `random(start=None, step=None, seed=None)`: an element of a
/// list, or `randrange(start, end, step)` for an integer.
fn random(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("random", &["start", "step", "seed"], args, kwargs)?;
    let mut r = match p.get("seed") {
        Some(seed) if !seed.is_undefined() => PyRandom::seeded("random", &seed)?,
        _ => PyRandom::unseeded(),
    };
    let is_int = value.kind() == ValueKind::Bool
        || (value.kind() == ValueKind::Number && value.is_integer());
    if is_int {
        let end = as_int(value).ok_or_else(|| fail("random", "integer out of range"))?;
        let start = p.int("start")?.unwrap_or(0);
        let step = match p.int("step")? {
            None | Some(0) => 1,
            Some(s) => s,
        };
        return r
            .randrange(start, end, step)
            .map(Value::from)
            .map_err(|e| fail("random", e));
    }
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::String | ValueKind::Map => {
            if p.some("start").is_some_and(|v| v.is_true())
                || p.some("step").is_some_and(|v| v.is_true())
            {
                return Err(fail(
                    "random",
                    "start and step can only be used with integer values",
                ));
            }
            let items = list_of("random", value)?;
            if items.is_empty() {
                return Err(fail("random", "Cannot choose from an empty sequence"));
            }
            let i = r.randbelow(items.len() as u64) as usize;
            Ok(items[i].clone())
        }
        _ => Err(fail(
            "random",
            "random can only be used on sequences and integers",
        )),
    }
}

/// Ansible's `shuffle(seed=None)`: a shuffled copy of the list.
fn shuffle(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("shuffle", &["seed"], args, kwargs)?;
    let mut items = match value.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::String | ValueKind::Map => {
            list_of("shuffle", value)?
        }
        // Ansible returns what it cannot shuffle unchanged.
        _ => return Ok(value.clone()),
    };
    let mut r = match p.get("seed") {
        Some(seed) if seed.is_true() => PyRandom::seeded("shuffle", &seed)?,
        _ => PyRandom::unseeded(),
    };
    r.shuffle(&mut items);
    Ok(Value::from(items))
}

// ---------------------------------------------------------------------------
// Dates: strftime, to_datetime, now
// ---------------------------------------------------------------------------

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A broken-down time, as C's `struct tm` plus what `datetime` adds.
struct Tm {
    dt: DateTime,
    /// `%z`: `None` formats as nothing (a naive datetime).
    gmtoff: Option<i32>,
    /// `%Z`: `None` formats as nothing.
    zone: Option<String>,
    /// `%s`.
    epoch: i64,
    /// `%f` (datetime's strftime only; time.strftime leaves `%f` as is).
    micro: Option<u32>,
}

/// The system time zone (`TZ`, `/etc/localtime`; UTC when unknown).
fn local_tz() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// The seconds since the epoch of a civil time read as local time
/// (`mktime`).
fn mktime(dt: DateTime) -> i64 {
    local_tz()
        .to_ambiguous_timestamp(dt)
        .compatible()
        .map(|t| t.as_second())
        .unwrap_or_default()
}

impl Tm {
    /// `time.localtime(secs)` / `time.gmtime(secs)`.
    fn at(ts: Timestamp, utc: bool) -> Tm {
        let (offset, zone) = if utc {
            // Python's time.gmtime() names its zone GMT.
            (Offset::UTC, "GMT".to_string())
        } else {
            let tz = local_tz();
            let info = tz.to_offset_info(ts);
            (info.offset(), info.abbreviation().to_string())
        };
        let dt = offset.to_datetime(ts);
        let dt = dt.with().subsec_nanosecond(0).build().unwrap_or(dt);
        let epoch = if utc { mktime(dt) } else { ts.as_second() };
        Tm {
            dt,
            gmtoff: Some(offset.seconds()),
            zone: Some(zone),
            epoch,
            micro: None,
        }
    }
}

/// Writes a number as glibc does: `digits` wide with `default_pad`, or as
/// the flag (`-`: no padding, `_`: spaces, `0`: zeros) and width say.
fn pad_num(
    out: &mut String,
    n: i64,
    digits: usize,
    default_pad: char,
    pad: Option<char>,
    width: Option<usize>,
) {
    let s = n.unsigned_abs().to_string();
    let sign = if n < 0 { "-" } else { "" };
    let (pad, width) = match pad {
        // `-` drops the default padding; an explicit width pads with spaces
        Some('-') => (' ', width.unwrap_or(0)),
        Some('_') => (' ', width.unwrap_or(digits)),
        Some('0') => ('0', width.unwrap_or(digits)),
        _ => (default_pad, width.unwrap_or(digits)),
    };
    let len = s.len() + sign.len();
    if pad == '0' {
        out.push_str(sign);
        for _ in len..width {
            out.push('0');
        }
    } else {
        for _ in len..width {
            out.push(' ');
        }
        out.push_str(sign);
    }
    out.push_str(&s);
}

/// Writes text, padded on the left to an explicit width.
fn pad_text(out: &mut String, s: &str, pad: Option<char>, width: Option<usize>) {
    let len = s.chars().count();
    if let Some(w) = width {
        let c = if pad == Some('0') { '0' } else { ' ' };
        for _ in len..w {
            out.push(c);
        }
    }
    out.push_str(s);
}

/// C's `strftime` (glibc, C locale), with `datetime`'s `%f`.
fn c_strftime(fmt: &str, tm: &Tm) -> String {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let dt = tm.dt;
    let date = dt.date();
    let wday = i64::from(date.weekday().to_sunday_zero_offset());
    let yday = i64::from(date.day_of_year()) - 1;
    let year = i64::from(dt.year());
    let hour = i64::from(dt.hour());
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let mut pad = None;
        let mut upper = false;
        let mut swap = false;
        while i < chars.len() && "_-0^#".contains(chars[i]) {
            match chars[i] {
                '^' => upper = true,
                '#' => swap = true,
                p => pad = Some(p),
            }
            i += 1;
        }
        let mut width = None;
        while i < chars.len() && chars[i].is_ascii_digit() {
            let d = chars[i] as usize - '0' as usize;
            width = Some(
                width
                    .unwrap_or(0usize)
                    .saturating_mul(10)
                    .saturating_add(d)
                    .min(MAX_WIDTH),
            );
            i += 1;
        }
        if i < chars.len() && (chars[i] == 'E' || chars[i] == 'O') {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            // a '%' at the end is copied as is
            out.extend(&chars[start..]);
            break;
        };
        i += 1;
        let num = |out: &mut String, n: i64, digits: usize, def: char| {
            pad_num(out, n, digits, def, pad, width)
        };
        let text = |out: &mut String, s: &str, swap_lower: bool| {
            let s = if upper || (swap && !swap_lower) {
                s.to_uppercase()
            } else if swap && swap_lower {
                s.to_lowercase()
            } else {
                s.to_string()
            };
            pad_text(out, &s, pad, width)
        };
        let sub = |out: &mut String, f: &str| {
            let s = c_strftime(f, tm);
            let s = if upper { s.to_uppercase() } else { s };
            pad_text(out, &s, pad, width)
        };
        match conv {
            'a' => text(&mut out, &DAYS[wday as usize][..3], false),
            'A' => text(&mut out, DAYS[wday as usize], false),
            'b' | 'h' => text(&mut out, &MONTHS[dt.month() as usize - 1][..3], false),
            'B' => text(&mut out, MONTHS[dt.month() as usize - 1], false),
            'p' => text(&mut out, if hour < 12 { "AM" } else { "PM" }, true),
            'P' => text(&mut out, if hour < 12 { "am" } else { "pm" }, false),
            'Z' => text(&mut out, tm.zone.as_deref().unwrap_or(""), true),
            'c' => sub(&mut out, "%a %b %e %H:%M:%S %Y"),
            'D' | 'x' => sub(&mut out, "%m/%d/%y"),
            'F' => {
                let mut s = String::new();
                pad_num(&mut s, year, 4, '0', None, None);
                s.push_str(&c_strftime("-%m-%d", tm));
                pad_text(&mut out, &s, pad, width);
            }
            'r' => sub(&mut out, "%I:%M:%S %p"),
            'R' => sub(&mut out, "%H:%M"),
            'T' | 'X' => sub(&mut out, "%H:%M:%S"),
            'C' => num(&mut out, year.div_euclid(100), 2, '0'),
            'd' => num(&mut out, i64::from(dt.day()), 2, '0'),
            'e' => num(&mut out, i64::from(dt.day()), 2, ' '),
            'H' => num(&mut out, hour, 2, '0'),
            'I' => num(&mut out, hour12, 2, '0'),
            'k' => num(&mut out, hour, 2, ' '),
            'l' => num(&mut out, hour12, 2, ' '),
            'j' => num(&mut out, yday + 1, 3, '0'),
            'm' => num(&mut out, i64::from(dt.month()), 2, '0'),
            'M' => num(&mut out, i64::from(dt.minute()), 2, '0'),
            'S' => num(&mut out, i64::from(dt.second()), 2, '0'),
            'y' => num(&mut out, year.rem_euclid(100), 2, '0'),
            'Y' => num(&mut out, year, 1, '0'),
            'G' => num(&mut out, i64::from(date.iso_week_date().year()), 1, '0'),
            'g' => num(
                &mut out,
                i64::from(date.iso_week_date().year()).rem_euclid(100),
                2,
                '0',
            ),
            'V' => num(&mut out, i64::from(date.iso_week_date().week()), 2, '0'),
            'u' => num(&mut out, if wday == 0 { 7 } else { wday }, 1, '0'),
            'w' => num(&mut out, wday, 1, '0'),
            'U' => num(&mut out, (yday + 7 - wday) / 7, 2, '0'),
            'W' => num(&mut out, (yday + 7 - (wday + 6) % 7) / 7, 2, '0'),
            's' => num(&mut out, tm.epoch, 1, '0'),
            'z' => {
                if let Some(off) = tm.gmtoff {
                    let sign = if off < 0 { '-' } else { '+' };
                    let a = off.unsigned_abs();
                    let mut s = format!("{sign}{:02}{:02}", a / 3600, a / 60 % 60);
                    if tm.micro.is_some() && a % 60 != 0 {
                        s.push_str(&format!("{:02}", a % 60));
                    }
                    pad_text(&mut out, &s, pad, width);
                }
            }
            'f' if tm.micro.is_some() => {
                out.push_str(&format!("{:06}", tm.micro.unwrap_or(0)));
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '%' => pad_text(&mut out, "%", pad, width),
            _ => out.extend(&chars[start..i]),
        }
    }
    out
}

/// A float of seconds (Python's `float(x)`).
fn seconds_of(name: &str, v: &Value) -> Result<f64, Error> {
    let f = match v.kind() {
        ValueKind::Number | ValueKind::Bool => f64::try_from(v.clone()).ok(),
        ValueKind::String => v.as_str().and_then(parse_py_float),
        _ => None,
    };
    f.ok_or_else(|| {
        fail(
            name,
            format!("Invalid value for epoch value ({})", py_str(v)),
        )
    })
}

/// A timestamp from float seconds, rounded down as `time.localtime` does.
fn timestamp_of(name: &str, secs: f64) -> Result<Timestamp, Error> {
    if !secs.is_finite() {
        return Err(fail(name, "timestamp out of range for platform time_t"));
    }
    Timestamp::from_second(secs.floor() as i64)
        .map_err(|_| fail(name, "timestamp out of range for platform time_t"))
}

/// Ansible's `strftime(second=None, utc=False)`: the input is the format,
/// applied to the given epoch seconds (default: now) in local time or UTC.
fn strftime(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("strftime", &["second", "utc"], args, kwargs)?;
    let fmt = text_of("strftime", value)?;
    let ts = match p.some("second") {
        Some(v) => timestamp_of("strftime", seconds_of("strftime", &v)?)?,
        None => Timestamp::now(),
    };
    Ok(c_strftime(&fmt, &Tm::at(ts, p.flag("utc", false))))
}

/// A Python `datetime.datetime`: naive, or with a fixed UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyDateTime {
    /// The civil date and time, to the microsecond.
    pub dt: DateTime,
    /// The UTC offset in seconds of an aware datetime.
    pub offset: Option<i32>,
}

/// A Python `datetime.timedelta`, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PyTimeDelta {
    /// The whole duration in microseconds.
    pub micros: i64,
}

fn micros_of(dt: DateTime) -> i64 {
    Offset::UTC
        .to_timestamp(dt)
        .map(|t| t.as_microsecond())
        .unwrap_or_default()
}

impl PyDateTime {
    fn micro(&self) -> u32 {
        (self.dt.subsec_nanosecond() / 1000) as u32
    }

    /// The instant in microseconds: aware by its offset, naive as local time.
    fn instant_micros(&self) -> i64 {
        match self.offset {
            Some(off) => micros_of(self.dt) - i64::from(off) * 1_000_000,
            None => mktime(self.dt) * 1_000_000 + i64::from(self.micro()),
        }
    }

    fn tzname(&self) -> Option<String> {
        self.offset.map(|off| {
            if off == 0 {
                "UTC".to_string()
            } else {
                let sign = if off < 0 { '-' } else { '+' };
                let a = off.unsigned_abs();
                let mut s = format!("UTC{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
                if a % 60 != 0 {
                    s.push_str(&format!(":{:02}", a % 60));
                }
                s
            }
        })
    }

    /// `datetime.strftime(fmt)`.
    pub fn strftime(&self, fmt: &str) -> String {
        let tm = Tm {
            dt: self.dt,
            gmtoff: self.offset,
            zone: self.tzname(),
            epoch: mktime(self.dt),
            micro: Some(self.micro()),
        };
        c_strftime(fmt, &tm)
    }

    /// `datetime.isoformat(sep)`.
    pub fn isoformat(&self, sep: &str) -> String {
        let d = self.dt;
        let mut s = format!(
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        );
        if self.micro() != 0 {
            s.push_str(&format!(".{:06}", self.micro()));
        }
        if let Some(off) = self.offset {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60));
            if a % 60 != 0 {
                s.push_str(&format!(":{:02}", a % 60));
            }
        }
        s
    }

    fn minus(&self, name: &str, other: &Value) -> Result<Value, Error> {
        if let Some(o) = other.downcast_object_ref::<PyDateTime>() {
            let micros = match (self.offset, o.offset) {
                (None, None) => micros_of(self.dt) - micros_of(o.dt),
                (Some(_), Some(_)) => self.instant_micros() - o.instant_micros(),
                _ => {
                    return Err(operation_fail(
                        name,
                        "can't subtract offset-naive and offset-aware datetimes",
                    ));
                }
            };
            return Ok(Value::from_object(PyTimeDelta { micros }));
        }
        if let Some(d) = other.downcast_object_ref::<PyTimeDelta>() {
            return self.plus(name, -d.micros);
        }
        Err(operation_fail(
            name,
            format!(
                "unsupported operand type(s) for -: 'datetime.datetime' and '{}'",
                py_operand_type(other)
            ),
        ))
    }

    fn plus(&self, name: &str, micros: i64) -> Result<Value, Error> {
        let ts = Offset::UTC
            .to_timestamp(self.dt)
            .ok()
            .and_then(|t| Timestamp::from_microsecond(t.as_microsecond().checked_add(micros)?).ok())
            .ok_or_else(|| operation_fail(name, "date value out of range"))?;
        Ok(Value::from_object(PyDateTime {
            dt: Offset::UTC.to_datetime(ts),
            offset: self.offset,
        }))
    }
}

impl fmt::Display for PyDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.isoformat(" "))
    }
}

impl fmt::Display for PyTimeDelta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.micros.div_euclid(86_400_000_000);
        let rest = self.micros.rem_euclid(86_400_000_000);
        let secs = rest / 1_000_000;
        let us = rest % 1_000_000;
        if days != 0 {
            let plural = if days.abs() == 1 { "" } else { "s" };
            write!(f, "{days} day{plural}, ")?;
        }
        write!(f, "{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)?;
        if us != 0 {
            write!(f, ".{us:06}")?;
        }
        Ok(())
    }
}

/// An error of a method (`a.__sub__(b)`: prefixed with its name) or of
/// an operator (`a - b`: Python's message alone).
fn operation_fail(name: &str, msg: impl fmt::Display) -> Error {
    if matches!(name, "-" | "+") {
        Error::new(minijinja::ErrorKind::InvalidOperation, msg.to_string())
    } else {
        fail(name, msg)
    }
}

fn no_args(name: &str, args: &[Value]) -> Result<(), Error> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(fail(
            name,
            format!("takes no arguments ({} given)", args.len()),
        ))
    }
}

/// Keyword arguments as name/value pairs (positional ones rejected).
fn method_kwargs(name: &str, args: &[Value]) -> Result<Vec<(String, Value)>, Error> {
    let (rest, kwargs): (&[Value], Kwargs) =
        minijinja::value::from_args(args).map_err(|e| fail(name, e))?;
    if !rest.is_empty() {
        return Err(fail(name, "takes keyword arguments only"));
    }
    let mut rv = Vec::new();
    for k in kwargs.args() {
        rv.push((k.to_string(), kwargs.peek::<Value>(k)?));
    }
    Ok(rv)
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = self.dt;
        Some(match key.as_str()? {
            "year" => Value::from(d.year()),
            "month" => Value::from(d.month()),
            "day" => Value::from(d.day()),
            "hour" => Value::from(d.hour()),
            "minute" => Value::from(d.minute()),
            "second" => Value::from(d.second()),
            "microsecond" => Value::from(self.micro()),
            "tzinfo" => match self.tzname() {
                Some(n) => Value::from(n),
                None => Value::from(()),
            },
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let date = self.dt.date();
        match method {
            "strftime" => {
                let [fmt] = args else {
                    return Err(fail("strftime", "takes exactly one argument"));
                };
                Ok(Value::from(self.strftime(&text_of("strftime", fmt)?)))
            }
            "isoformat" => {
                let sep = match args.first() {
                    Some(s) => text_of("isoformat", s)?,
                    None => "T".into(),
                };
                Ok(Value::from(self.isoformat(&sep)))
            }
            "timestamp" => {
                no_args("timestamp", args)?;
                Ok(Value::from(self.instant_micros() as f64 / 1e6))
            }
            "weekday" => {
                no_args("weekday", args)?;
                Ok(Value::from(date.weekday().to_monday_zero_offset()))
            }
            "isoweekday" => {
                no_args("isoweekday", args)?;
                Ok(Value::from(date.weekday().to_monday_one_offset()))
            }
            "toordinal" => {
                no_args("toordinal", args)?;
                Ok(Value::from(toordinal(date)))
            }
            "date" => {
                no_args("date", args)?;
                Ok(Value::from(format!(
                    "{:04}-{:02}-{:02}",
                    date.year(),
                    date.month(),
                    date.day()
                )))
            }
            "replace" => {
                let mut f = [
                    i64::from(self.dt.year()),
                    i64::from(self.dt.month()),
                    i64::from(self.dt.day()),
                    i64::from(self.dt.hour()),
                    i64::from(self.dt.minute()),
                    i64::from(self.dt.second()),
                    i64::from(self.micro()),
                ];
                const NAMES: [&str; 7] = [
                    "year",
                    "month",
                    "day",
                    "hour",
                    "minute",
                    "second",
                    "microsecond",
                ];
                for (k, v) in method_kwargs("replace", args)? {
                    let idx = NAMES.iter().position(|n| *n == k).ok_or_else(|| {
                        fail("replace", format!("unexpected keyword argument '{k}'"))
                    })?;
                    f[idx] = as_int(&v)
                        .ok_or_else(|| fail("replace", format!("'{k}' must be an integer")))?;
                }
                Ok(Value::from_object(PyDateTime {
                    dt: civil("replace", f)?,
                    offset: self.offset,
                }))
            }
            "__sub__" => {
                let [other] = args else {
                    return Err(fail("__sub__", "takes exactly one argument"));
                };
                self.minus("__sub__", other)
            }
            "__add__" => {
                let [other] = args else {
                    return Err(fail("__add__", "takes exactly one argument"));
                };
                match other.downcast_object_ref::<PyTimeDelta>() {
                    Some(d) => self.plus("__add__", d.micros),
                    None => Err(fail(
                        "__add__",
                        format!(
                            "unsupported operand type(s) for +: 'datetime.datetime' and '{}'",
                            py_type(other)
                        ),
                    )),
                }
            }
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<std::cmp::Ordering> {
        let o = other.downcast_ref::<PyDateTime>()?;
        match (self.offset, o.offset) {
            (None, None) => Some(self.dt.cmp(&o.dt)),
            (Some(_), Some(_)) => Some(self.instant_micros().cmp(&o.instant_micros())),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl Object for PyTimeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let days = self.micros.div_euclid(86_400_000_000);
        let rest = self.micros.rem_euclid(86_400_000_000);
        Some(match key.as_str()? {
            "days" => Value::from(days),
            "seconds" => Value::from(rest / 1_000_000),
            "microseconds" => Value::from(rest % 1_000_000),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => {
                no_args("total_seconds", args)?;
                Ok(Value::from(self.micros as f64 / 1e6))
            }
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.micros != 0
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<std::cmp::Ordering> {
        let o = other.downcast_ref::<PyTimeDelta>()?;
        Some(self.micros.cmp(&o.micros))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// `date.toordinal()`: days since 0001-01-01 (which is day 1).
fn toordinal(date: Date) -> i64 {
    let epoch = Date::constant(1, 1, 1);
    i64::from(date.since(epoch).map(|s| s.get_days()).unwrap_or_default()) + 1
}

/// A civil datetime from `[year, month, day, hour, minute, second, µs]`,
/// checked as Python's `datetime()` does.
fn civil(name: &str, f: [i64; 7]) -> Result<DateTime, Error> {
    let [y, mo, d, h, mi, s, us] = f;
    if !(1..=9999).contains(&y) {
        return Err(fail(name, format!("year {y} is out of range")));
    }
    if !(1..=12).contains(&mo) {
        return Err(fail(name, "month must be in 1..12"));
    }
    let first = Date::new(y as i16, mo as i8, 1).map_err(|e| fail(name, e))?;
    if d < 1 || d > i64::from(first.days_in_month()) {
        return Err(fail(name, "day is out of range for month"));
    }
    if !(0..24).contains(&h) {
        return Err(fail(name, "hour must be in 0..23"));
    }
    if !(0..60).contains(&mi) {
        return Err(fail(name, "minute must be in 0..59"));
    }
    if !(0..60).contains(&s) {
        return Err(fail(name, "second must be in 0..59"));
    }
    if !(0..1_000_000).contains(&us) {
        return Err(fail(name, "microsecond must be in 0..999999"));
    }
    DateTime::new(
        y as i16,
        mo as i8,
        d as i8,
        h as i8,
        mi as i8,
        s as i8,
        (us * 1000) as i32,
    )
    .map_err(|e| fail(name, e))
}

/// The regex of a `strptime` directive (Python's `_strptime.TimeRE`, C
/// locale), or `None` for a bad directive.
fn strptime_directive(c: char) -> Option<String> {
    let names = |names: &[&str], abbr: bool| -> String {
        let mut v: Vec<String> = names
            .iter()
            .map(|n| {
                if abbr {
                    n[..3].to_lowercase()
                } else {
                    n.to_lowercase()
                }
            })
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.join("|")
    };
    Some(match c {
        'd' => r"(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])".into(),
        'f' => r"(?P<f>[0-9]{1,6})".into(),
        'H' => r"(?P<H>2[0-3]|[0-1]\d|\d)".into(),
        'I' => r"(?P<I>1[0-2]|0[1-9]|[1-9])".into(),
        'G' => r"(?P<G>\d\d\d\d)".into(),
        'j' => r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])".into(),
        'm' => r"(?P<m>1[0-2]|0[1-9]|[1-9])".into(),
        'M' => r"(?P<M>[0-5]\d|\d)".into(),
        'S' => r"(?P<S>6[0-1]|[0-5]\d|\d)".into(),
        'U' => r"(?P<U>5[0-3]|[0-4]\d|\d)".into(),
        'W' => r"(?P<W>5[0-3]|[0-4]\d|\d)".into(),
        'w' => r"(?P<w>[0-6])".into(),
        'u' => r"(?P<u>[1-7])".into(),
        'V' => r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)".into(),
        'y' => r"(?P<y>\d\d)".into(),
        'Y' => r"(?P<Y>\d\d\d\d)".into(),
        'z' => r"(?P<z>[+-]\d\d:?[0-5]\d(:?[0-5]\d(\.\d{1,6})?)?|(?-i:Z))".into(),
        'A' => format!("(?P<A>{})", names(&DAYS, false)),
        'a' => format!("(?P<a>{})", names(&DAYS, true)),
        'B' => format!("(?P<B>{})", names(&MONTHS, false)),
        'b' => format!("(?P<b>{})", names(&MONTHS, true)),
        'p' => "(?P<p>am|pm)".into(),
        'Z' => {
            let mut zones = vec!["utc".to_string(), "gmt".to_string()];
            let tz = local_tz();
            let local = tz
                .to_offset_info(Timestamp::now())
                .abbreviation()
                .to_lowercase();
            if !zones.contains(&local) && !local.is_empty() {
                zones.push(regex::escape(&local));
            }
            format!("(?P<Z>{})", zones.join("|"))
        }
        '%' => "%".into(),
        _ => return None,
    })
}

/// Python's `_strptime` pattern of a format.
fn strptime_pattern(name: &str, fmt: &str) -> Result<String, Error> {
    let expanded = fmt
        .replace("%c", "%a %b %d %H:%M:%S %Y")
        .replace("%x", "%m/%d/%y")
        .replace("%X", "%H:%M:%S");
    let mut out = String::new();
    let mut chars = expanded.chars().peekable();
    let mut in_space = false;
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
            continue;
        }
        in_space = false;
        if c != '%' {
            out.push_str(&regex::escape(&c.to_string()));
            continue;
        }
        let Some(d) = chars.next() else {
            return Err(fail(name, format!("stray % in format '{fmt}'")));
        };
        let re = strptime_directive(d)
            .ok_or_else(|| fail(name, format!("'{d}' is a bad directive in format '{fmt}'")))?;
        out.push_str(&re);
    }
    Ok(out)
}

/// Python's `datetime.strptime(text, fmt)`.
pub fn strptime(name: &str, text: &str, fmt: &str) -> Result<PyDateTime, Error> {
    let pattern = strptime_pattern(name, fmt)?;
    let re = regex::Regex::new(&format!("(?i)^(?:{pattern})"))
        .map_err(|e| fail(name, format!("bad format '{fmt}': {e}")))?;
    let Some(caps) = re.captures(text) else {
        return Err(fail(
            name,
            format!(
                "time data {} does not match format {}",
                py_repr_str(text, false),
                py_repr_str(fmt, false)
            ),
        ));
    };
    let end = caps.get(0).map_or(0, |m| m.end());
    if end != text.len() {
        return Err(fail(
            name,
            format!("unconverted data remains: {}", &text[end..]),
        ));
    }
    let get = |k: &str| caps.name(k).map(|m| m.as_str());
    let int = |k: &str| -> Result<Option<i64>, Error> {
        match get(k) {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| fail(name, format!("invalid number '{s}'"))),
        }
    };
    let index_of = |k: &str, list: &[&str], abbr: bool| -> Option<i64> {
        let v = get(k)?.to_lowercase();
        list.iter()
            .position(|n| {
                let n = n.to_lowercase();
                if abbr { n[..3] == v } else { n == v }
            })
            .map(|i| i as i64)
    };
    let mut year = int("Y")?;
    if let Some(y) = int("y")? {
        year = Some(if y <= 68 { y + 2000 } else { y + 1900 });
    }
    let iso_year = int("G")?;
    let mut month = int("m")?.unwrap_or(1);
    if let Some(m) = index_of("B", &MONTHS, false).or(index_of("b", &MONTHS, true)) {
        month = m + 1;
    }
    let mut day = int("d")?.unwrap_or(1);
    let mut hour = int("H")?.unwrap_or(0);
    if let Some(h) = int("I")? {
        let ampm = get("p").unwrap_or("").to_lowercase();
        hour = match (ampm.as_str(), h) {
            ("pm", 12) => 12,
            ("pm", h) => h + 12,
            (_, 12) => 0,
            (_, h) => h,
        };
    }
    let minute = int("M")?.unwrap_or(0);
    let second = int("S")?.unwrap_or(0);
    let fraction = match get("f") {
        Some(f) => format!("{f:0<6}").parse::<i64>().unwrap_or(0),
        None => 0,
    };
    // Monday = 0
    let mut weekday = index_of("A", &DAYS, false)
        .or(index_of("a", &DAYS, true))
        .map(|w| (w + 6) % 7);
    if let Some(w) = int("w")? {
        weekday = Some(if w == 0 { 6 } else { w - 1 });
    }
    if let Some(u) = int("u")? {
        weekday = Some(u - 1);
    }
    let mut julian = int("j")?;
    let week = int("U")?
        .map(|w| (w, false))
        .or(int("W")?.map(|w| (w, true)));
    let iso_week = int("V")?;
    let offset = match get("z") {
        None => None,
        Some("Z" | "z") => Some(0),
        Some(z) => {
            let neg = z.starts_with('-');
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            let (hms, _) = digits.split_once('.').unwrap_or((&digits, ""));
            let n = |r: std::ops::Range<usize>| {
                hms.get(r).and_then(|s| s.parse::<i32>().ok()).unwrap_or(0)
            };
            let secs = n(0..2) * 3600 + n(2..4) * 60 + n(4..6);
            Some(if neg { -secs } else { secs })
        }
    };
    if year.is_none() && iso_year.is_some() {
        if iso_week.is_none() || weekday.is_none() {
            return Err(fail(
                name,
                "ISO year directive '%G' must be used with the ISO week directive '%V' and a weekday directive ('%A', '%a', '%w', or '%u').",
            ));
        }
        if julian.is_some() {
            return Err(fail(
                name,
                "Day of the year directive '%j' is not compatible with ISO year directive '%G'. Use '%Y' instead.",
            ));
        }
    } else if iso_week.is_some() && (year.is_none() || weekday.is_none()) {
        return Err(fail(
            name,
            "ISO week directive '%V' must be used with the ISO year directive '%G' and a weekday directive ('%A', '%a', '%w', or '%u').",
        ));
    }
    let mut leap_year_fix = false;
    let mut year = match year {
        Some(y) => y,
        None if month == 2 && day == 29 => {
            leap_year_fix = true;
            1904
        }
        None => 1900,
    };
    let jan1 = |y: i64| Date::new(y as i16, 1, 1).map_err(|e| fail(name, e));
    if julian.is_none()
        && let Some(wd) = weekday
    {
        if let Some((week, monday)) = week {
            let mut first = i64::from(jan1(year)?.weekday().to_monday_zero_offset());
            let mut dow = wd;
            if !monday {
                first = (first + 1) % 7;
                dow = (dow + 1) % 7;
            }
            let week0 = (7 - first) % 7;
            julian = Some(if week == 0 {
                1 + dow - first
            } else {
                1 + week0 + 7 * (week - 1) + dow
            });
        } else if let (Some(iy), Some(iw)) = (iso_year, iso_week) {
            let correction = i64::from(
                Date::new(iy as i16, 1, 4)
                    .map_err(|e| fail(name, e))?
                    .weekday()
                    .to_monday_one_offset(),
            ) + 3;
            let ordinal = iw * 7 + wd + 1 - correction;
            let base = toordinal(jan1(iy)?) + ordinal - 1;
            let d = date_from_ordinal(name, base)?;
            year = i64::from(d.year());
            julian = Some(i64::from(d.day_of_year()));
        }
        if let Some(j) = julian
            && j <= 0
        {
            year -= 1;
            let days = if jan1(year)?.in_leap_year() { 366 } else { 365 };
            julian = Some(j + days);
        }
    }
    if let Some(j) = julian {
        let d = date_from_ordinal(name, toordinal(jan1(year)?) + j - 1)?;
        year = i64::from(d.year());
        month = i64::from(d.month());
        day = i64::from(d.day());
    }
    if leap_year_fix {
        year = 1900;
    }
    let dt = civil(name, [year, month, day, hour, minute, second, fraction])?;
    Ok(PyDateTime { dt, offset })
}

/// `date.fromordinal(n)`.
fn date_from_ordinal(name: &str, n: i64) -> Result<Date, Error> {
    let epoch = Date::constant(1, 1, 1);
    epoch
        .checked_add(jiff::Span::new().days(n - 1))
        .map_err(|e| fail(name, e))
}

/// Ansible's `to_datetime(format='%Y-%m-%d %H:%M:%S')`.
fn to_datetime(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("to_datetime", &["format"], args, kwargs)?;
    let fmt = p
        .string("format")?
        .unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".into());
    if value.kind() != ValueKind::String {
        return Err(fail(
            "to_datetime",
            format!("strptime() argument 1 must be str, not {}", py_type(value)),
        ));
    }
    let text = value.as_str().unwrap_or_default();
    Ok(Value::from_object(strptime("to_datetime", text, &fmt)?))
}

/// Ansible's `now(utc=False, fmt=None)`: a naive datetime of the local (or
/// UTC) time, or its `strftime(fmt)`.
fn now(args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("now", &["utc", "fmt"], args, kwargs)?;
    let ts = Timestamp::now();
    let offset = if p.flag("utc", false) {
        Offset::UTC
    } else {
        local_tz().to_offset(ts)
    };
    let dt = offset.to_datetime(ts);
    let micro = dt.subsec_nanosecond() / 1000 * 1000;
    let dt = dt.with().subsec_nanosecond(micro).build().unwrap_or(dt);
    let value = PyDateTime { dt, offset: None };
    match p.string("fmt")? {
        Some(fmt) if !fmt.is_empty() => Ok(Value::from(value.strftime(&fmt))),
        _ => Ok(Value::from_object(value)),
    }
}

/// minijinja's own `a - b` and `a + b`, for the operands that are no dates.
fn plain_operator(op: &str, a: &Value, b: &Value) -> Result<Value, Error> {
    static ENV: std::sync::OnceLock<minijinja::Environment<'static>> = std::sync::OnceLock::new();
    let env = ENV.get_or_init(minijinja::Environment::new);
    let expr = if op == "-" { "a - b" } else { "a + b" };
    env.compile_expression(expr)?
        .eval(minijinja::context! { a => a, b => b })
}

/// `a - b` in a template that makes dates (see `template::minus`): a date
/// minus a date is a time span, a date minus a span a date, a span minus a
/// span a span, as in Python; plain integers take a shortcut.
fn subtract(a: &Value, b: &Value) -> Result<Value, Error> {
    if let (Some(x), Some(y)) = (small_int(a), small_int(b))
        && let Some(d) = x.checked_sub(y)
    {
        return Ok(Value::from(d));
    }
    if let Some(d) = a.downcast_object_ref::<PyDateTime>() {
        return d.minus("-", b);
    }
    if let Some(d) = a.downcast_object_ref::<PyTimeDelta>() {
        return match b.downcast_object_ref::<PyTimeDelta>() {
            Some(e) => span(d.micros.checked_sub(e.micros)),
            None => Err(unsupported("-", a, b)),
        };
    }
    if b.downcast_object_ref::<PyDateTime>().is_some()
        || b.downcast_object_ref::<PyTimeDelta>().is_some()
    {
        return Err(unsupported("-", a, b));
    }
    plain_operator("-", a, b)
}

/// `a + b` in a `+`/`-` chain of a template that makes dates: a date plus
/// a time span (either way round) is a date, two spans a span.
fn add(a: &Value, b: &Value) -> Result<Value, Error> {
    if let (Some(x), Some(y)) = (small_int(a), small_int(b))
        && let Some(d) = x.checked_add(y)
    {
        return Ok(Value::from(d));
    }
    let (date, delta) = match (
        a.downcast_object_ref::<PyDateTime>(),
        b.downcast_object_ref::<PyDateTime>(),
    ) {
        (Some(d), None) => (Some(d), b.downcast_object_ref::<PyTimeDelta>()),
        (None, Some(d)) => (Some(d), a.downcast_object_ref::<PyTimeDelta>()),
        (None, None) => (None, None),
        (Some(_), Some(_)) => return Err(unsupported("+", a, b)),
    };
    if let Some(d) = date {
        return match delta {
            Some(e) => d.plus("+", e.micros),
            None => Err(unsupported("+", a, b)),
        };
    }
    match (
        a.downcast_object_ref::<PyTimeDelta>(),
        b.downcast_object_ref::<PyTimeDelta>(),
    ) {
        (Some(x), Some(y)) => span(x.micros.checked_add(y.micros)),
        (None, None) => plain_operator("+", a, b),
        _ => Err(unsupported("+", a, b)),
    }
}

/// An integer that fits 64 bits (not a boolean).
fn small_int(v: &Value) -> Option<i64> {
    (v.kind() == ValueKind::Number && v.is_integer())
        .then(|| i64::try_from(v.clone()).ok())
        .flatten()
}

fn span(micros: Option<i64>) -> Result<Value, Error> {
    micros
        .map(|micros| Value::from_object(PyTimeDelta { micros }))
        .ok_or_else(|| {
            Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "days=1000000000; must have magnitude <= 999999999",
            )
        })
}

/// Python's TypeError for an operator on types it does not combine.
fn unsupported(op: &str, a: &Value, b: &Value) -> Error {
    Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            py_operand_type(a),
            py_operand_type(b)
        ),
    )
}

fn py_operand_type(v: &Value) -> String {
    if v.downcast_object_ref::<PyDateTime>().is_some() {
        "datetime.datetime".into()
    } else if v.downcast_object_ref::<PyTimeDelta>().is_some() {
        "datetime.timedelta".into()
    } else {
        py_type(v).to_string()
    }
}

// ---------------------------------------------------------------------------
// Collections: subelements, extract, dict()
// ---------------------------------------------------------------------------

/// Ansible's `subelements(subelements, skip_missing=False)`: `(item,
/// subitem)` pairs for each item of a list (or dict's values) and each
/// element of its list at the (dotted) key path.
fn subelements(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind(
        "subelements",
        &["subelements", "skip_missing"],
        args,
        kwargs,
    )?;
    let elements = match value.kind() {
        ValueKind::Map => map_items(value)?.into_iter().map(|(_, v)| v).collect(),
        ValueKind::Seq | ValueKind::Iterable => list_of("subelements", value)?,
        _ => {
            return Err(fail(
                "subelements",
                "obj must be a list of dicts or a nested dict",
            ));
        }
    };
    let path: Vec<Value> = match p.get("subelements") {
        Some(v) if v.kind() == ValueKind::String => v
            .as_str()
            .unwrap_or_default()
            .split('.')
            .map(Value::from)
            .collect(),
        Some(v) if v.kind() == ValueKind::Seq => list_of("subelements", &v)?,
        _ => {
            return Err(fail(
                "subelements",
                "subelements must be a list or a string",
            ));
        }
    };
    let skip_missing = p.flag("skip_missing", false);
    let mut rv = Vec::new();
    for element in elements {
        let mut values = element.clone();
        for key in &path {
            if values.kind() != ValueKind::Map {
                return Err(fail(
                    "subelements",
                    format!(
                        "the key {} should point to a dictionary, got '{}'",
                        py_str(key),
                        py_str(&values)
                    ),
                ));
            }
            let next = values.get_item(key).unwrap_or_default();
            if next.is_undefined() {
                if skip_missing {
                    values = Value::from(Vec::<Value>::new());
                    break;
                }
                return Err(fail(
                    "subelements",
                    format!(
                        "could not find {} key in iterated item {}",
                        py_repr(key, false),
                        py_str(&values)
                    ),
                ));
            }
            values = next;
        }
        if values.kind() != ValueKind::Seq {
            return Err(fail(
                "subelements",
                format!(
                    "the key {} should point to a list, got {}",
                    path.last().map(|k| py_repr(k, false)).unwrap_or_default(),
                    py_repr(&values, false)
                ),
            ));
        }
        for v in list_of("subelements", &values)? {
            rv.push(Value::from(minijinja::value::Tuple::from(vec![
                element.clone(),
                v,
            ])));
        }
    }
    Ok(Value::from(rv))
}

/// Ansible's `extract(container, morekeys=None)`: `container[item]`, then
/// each of `morekeys` in turn; missing keys give undefined.
fn extract(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("extract", &["container", "morekeys"], args, kwargs)?;
    let Some(container) = p.get("container") else {
        return Err(fail("extract", "missing required argument 'container'"));
    };
    let mut keys = vec![value.clone()];
    match p.some("morekeys") {
        None => {}
        Some(m) if m.kind() == ValueKind::Seq => keys.extend(list_of("extract", &m)?),
        Some(m) => keys.push(m),
    }
    let mut cur = container;
    for key in keys {
        if cur.is_undefined() {
            break;
        }
        cur = cur.get_item(&key).unwrap_or_default();
    }
    Ok(cur)
}

/// Python's `dict(mapping_or_pairs=(), **kwargs)`.
fn dict(args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    if args.len() > 1 {
        return Err(fail(
            "dict",
            format!("dict expected at most 1 argument, got {}", args.len()),
        ));
    }
    let mut rv: indexmap::IndexMap<Value, Value> = indexmap::IndexMap::new();
    if let Some(src) = args.first() {
        match src.kind() {
            ValueKind::Map => rv.extend(map_items(src)?),
            ValueKind::Undefined | ValueKind::None => {}
            _ => {
                for (i, pair) in list_of("dict", src)?.into_iter().enumerate() {
                    let items = match pair.kind() {
                        ValueKind::Seq | ValueKind::Iterable | ValueKind::String => {
                            list_of("dict", &pair)?
                        }
                        _ => {
                            return Err(fail(
                                "dict",
                                format!(
                                    "cannot convert dictionary update sequence element #{i} to a sequence"
                                ),
                            ));
                        }
                    };
                    let [k, v] = <[Value; 2]>::try_from(items).map_err(|items| {
                        fail(
                            "dict",
                            format!(
                                "dictionary update sequence element #{i} has length {}; 2 is required",
                                items.len()
                            ),
                        )
                    })?;
                    rv.insert(k, v);
                }
            }
        }
    }
    for k in kwargs.args() {
        rv.insert(Value::from(k), kwargs.peek::<Value>(k)?);
    }
    Ok(Value::from_pairs(rv))
}

// ---------------------------------------------------------------------------
// password_hash
// ---------------------------------------------------------------------------

const CRYPT_B64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The crypt-style base-64 encoding of `bytes` taken in the given groups of
/// three (the last group may name fewer bytes).
fn crypt_b64(bytes: &[u8], groups: &[&[usize]]) -> String {
    let mut out = String::new();
    for g in groups {
        let (w, n) = match g.len() {
            3 => (
                (u32::from(bytes[g[0]]) << 16)
                    | (u32::from(bytes[g[1]]) << 8)
                    | u32::from(bytes[g[2]]),
                4,
            ),
            2 => ((u32::from(bytes[g[0]]) << 8) | u32::from(bytes[g[1]]), 3),
            _ => (u32::from(bytes[g[0]]), 2),
        };
        for k in 0..n {
            out.push(CRYPT_B64[((w >> (6 * k)) & 0x3f) as usize] as char);
        }
    }
    out
}

/// SHA-crypt (Drepper's `$5$` / `$6$`) with a given salt and rounds.
fn sha_crypt<D: Digest>(password: &[u8], salt: &[u8], rounds: u32) -> Vec<u8> {
    let hash = |parts: &[&[u8]]| -> Vec<u8> {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        d.finalize().to_vec()
    };
    let n = <D as Digest>::output_size();
    let b = hash(&[password, salt, password]);
    let mut a = D::new();
    a.update(password);
    a.update(salt);
    let mut len = password.len();
    while len > n {
        a.update(&b);
        len -= n;
    }
    a.update(&b[..len]);
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            a.update(&b);
        } else {
            a.update(password);
        }
        bits >>= 1;
    }
    let a = a.finalize().to_vec();
    let mut dp = D::new();
    for _ in 0..password.len() {
        dp.update(password);
    }
    let dp = dp.finalize().to_vec();
    let p: Vec<u8> = dp.iter().cycle().take(password.len()).copied().collect();
    let mut ds = D::new();
    for _ in 0..16 + usize::from(a[0]) {
        ds.update(salt);
    }
    let ds = ds.finalize().to_vec();
    let s: Vec<u8> = ds.iter().cycle().take(salt.len()).copied().collect();
    // The digest stays on the stack for all rounds (656000 by default).
    let mut c = sha2::digest::Output::<D>::default();
    c.copy_from_slice(&a);
    for i in 0..rounds {
        let mut d = D::new();
        if i & 1 == 1 {
            d.update(&p);
        } else {
            d.update(&c);
        }
        if i % 3 != 0 {
            d.update(&s);
        }
        if i % 7 != 0 {
            d.update(&p);
        }
        if i & 1 == 1 {
            d.update(&c);
        } else {
            d.update(&p);
        }
        c = d.finalize();
    }
    c.to_vec()
}

/// The byte order of SHA-512-crypt's encoding.
const SHA512_GROUPS: [&[usize]; 22] = [
    &[0, 21, 42],
    &[22, 43, 1],
    &[44, 2, 23],
    &[3, 24, 45],
    &[25, 46, 4],
    &[47, 5, 26],
    &[6, 27, 48],
    &[28, 49, 7],
    &[50, 8, 29],
    &[9, 30, 51],
    &[31, 52, 10],
    &[53, 11, 32],
    &[12, 33, 54],
    &[34, 55, 13],
    &[56, 14, 35],
    &[15, 36, 57],
    &[37, 58, 16],
    &[59, 17, 38],
    &[18, 39, 60],
    &[40, 61, 19],
    &[62, 20, 41],
    &[63],
];

/// The byte order of SHA-256-crypt's encoding.
const SHA256_GROUPS: [&[usize]; 11] = [
    &[0, 10, 20],
    &[21, 1, 11],
    &[12, 22, 2],
    &[3, 13, 23],
    &[24, 4, 14],
    &[15, 25, 5],
    &[6, 16, 26],
    &[27, 7, 17],
    &[18, 28, 8],
    &[9, 19, 29],
    &[31, 30],
];

/// Ansible's `password_hash(hashtype='sha512', salt=None, salt_size=None,
/// rounds=None, ident=None)` for `sha512`/`sha512_crypt` and
/// `sha256`/`sha256_crypt`. As ansible-core 2.19 (which hashes with passlib
/// only) the rounds default to 656000 (sha512) and 535000 (sha256) and show
/// in the result; only sha-crypt's implicit 5000 is left out of it.
fn password_hash(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind(
        "password_hash",
        &["hashtype", "salt", "salt_size", "rounds", "ident"],
        args,
        kwargs,
    )?;
    let password = text_of("password_hash", value)?;
    let hashtype = p.string("hashtype")?.unwrap_or_else(|| "sha512".into());
    let (id, default_salt, default_rounds) = match hashtype.as_str() {
        "sha512" | "sha512_crypt" => ("6", 16, 656_000),
        "sha256" | "sha256_crypt" => ("5", 16, 535_000),
        "md5" | "md5_crypt" | "blowfish" | "bcrypt" => {
            return Err(fail(
                "password_hash",
                format!("{hashtype} is not supported yet (tend supports sha512 and sha256)"),
            ));
        }
        // Ansible's refusal of what passlib's mapping does not name.
        other => {
            return Err(fail(
                "password_hash",
                format!(
                    "{other} is not in the list of supported passlib algorithms: md5, blowfish, sha256, sha512"
                ),
            ));
        }
    };
    // Ansible (utils/encrypt.py) wants an int, not something int() accepts.
    if let Some(size) = p.some("salt_size")
        && !(size.kind() == ValueKind::Number && size.is_integer())
    {
        return Err(fail("password_hash", "salt_size must be an integer"));
    }
    let salt = match p.string("salt")?.filter(|s| !s.is_empty()) {
        Some(s) => {
            if let Some(c) = s
                .chars()
                .find(|c| !c.is_ascii() || !CRYPT_B64.contains(&(*c as u8)))
            {
                return Err(fail(
                    "password_hash",
                    format!(
                        "invalid characters in salt: {}",
                        py_repr_str(&c.to_string(), false)
                    ),
                ));
            }
            if s.len() > 16 {
                return Err(fail(
                    "password_hash",
                    format!("salt too large ({hashtype} requires <= 16 chars)"),
                ));
            }
            s
        }
        None => {
            let size = p.int("salt_size")?.unwrap_or(default_salt).clamp(1, 16) as usize;
            let mut r = PyRandom::unseeded();
            (0..size)
                .map(|_| CRYPT_B64[r.randbelow(64) as usize] as char)
                .collect::<String>()
        }
    };
    // Ansible 2.19 hashes with passlib only and, with no (or zero) rounds,
    // asks for crypt's historical defaults; passlib writes `rounds=` unless
    // they are sha-crypt's implicit 5000.
    let rounds = match p.int("rounds")? {
        Some(r) if r != 0 => r,
        _ => default_rounds,
    };
    let scheme = format!("{}_crypt", if id == "6" { "sha512" } else { "sha256" });
    let rounds = match u32::try_from(rounds) {
        Ok(r) if (1000..=999_999_999).contains(&r) => r,
        _ if rounds < 1000 => {
            return Err(fail(
                "password_hash",
                format!(
                    "Could not hash the secret: {scheme}: min_desired_rounds ({rounds}) is too low, must be at least 1000"
                ),
            ));
        }
        _ => {
            return Err(fail(
                "password_hash",
                format!(
                    "Could not hash the secret: {scheme}: min_desired_rounds ({rounds}) is too large, cannot be more than 999999999"
                ),
            ));
        }
    };
    let prefix = if rounds == 5000 {
        format!("${id}${salt}$")
    } else {
        format!("${id}$rounds={rounds}${salt}$")
    };
    let encoded = if id == "6" {
        crypt_b64(
            &sha_crypt::<sha2::Sha512>(password.as_bytes(), salt.as_bytes(), rounds),
            &SHA512_GROUPS,
        )
    } else {
        crypt_b64(
            &sha_crypt::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), rounds),
            &SHA256_GROUPS,
        )
    };
    Ok(prefix + &encoded)
}

/// `ansible._protomatter.finalize` (the filter Ansible's own tests use to
/// compare a template result as plain data): values here are plain data
/// already, so it gives its input back; an undefined value is an error, as
/// finalizing one is in Ansible.
fn finalize(value: Value) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(fail(
            "ansible._protomatter.finalize",
            "the value is undefined",
        ));
    }
    Ok(value)
}
