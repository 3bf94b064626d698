//! Scalar conversions and string filters: `default`, `bool`, `int`, `float`,
//! `string`, `split`, `quote`, `comment`, `mandatory`, `ternary`,
//! `type_debug`, `human_readable`, `human_to_bytes`, `to_uuid`, `urlsplit`.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, Value};

use super::{Params, fail, py_str, py_type, text_of};

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("bool", bool_filter);
    env.add_filter("int", int);
    env.add_filter("float", float);
    env.add_filter("string", string);
    env.add_filter("split", split);
    env.add_filter("quote", quote);
    env.add_filter("comment", comment);
    env.add_filter("mandatory", mandatory);
    env.add_filter("ternary", ternary);
    env.add_function("undef", undef);
    env.add_filter("type_debug", type_debug);
    env.add_filter("human_readable", human_readable);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter("to_uuid", to_uuid);
    env.add_filter("urlsplit", urlsplit);
}

/// `mandatory`'s message for an undefined value (the templar names the variable).
pub(crate) const MANDATORY: &str = "Mandatory variable not defined.";

/// `default(default_value='', boolean=False)`: the default for undefined
/// values (and for falsy ones when `boolean` is true).
fn default(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("default", &["default_value", "boolean"], args, kwargs)?;
    let other = p.get("default_value").unwrap_or_else(|| Value::from(""));
    if value.is_undefined() || (p.flag("boolean", false) && !value.is_true()) {
        Ok(other)
    } else {
        Ok(value.clone())
    }
}

/// Ansible's `bool`: `yes`, `on`, `1`, `true`, `y`, `t` (any case) and the
/// number 1 are true, everything else is false.
fn bool_filter(value: &Value) -> Result<bool, Error> {
    Ok(match value.kind() {
        ValueKind::Undefined => return Err(fail("bool", "input is undefined")),
        ValueKind::Bool => value.is_true(),
        ValueKind::None => false,
        ValueKind::String => {
            let s = value.as_str().unwrap_or("").trim().to_lowercase();
            matches!(s.as_str(), "yes" | "on" | "1" | "true" | "y" | "t")
        }
        ValueKind::Number => f64::try_from(value.clone()).is_ok_and(|f| f == 1.0),
        _ => false,
    })
}

/// Strips Python's digit-separating underscores (`1_000`), rejecting
/// misplaced ones.
fn strip_underscores(s: &str) -> Option<String> {
    if s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    Some(s.replace('_', ""))
}

/// Python's `int(s, base)`.
pub(crate) fn parse_py_int(s: &str, base: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = rest.to_ascii_lowercase();
    let (base, digits, prefixed) = match (base, lower.get(..2)) {
        (0 | 16, Some("0x")) => (16, &rest[2..], true),
        (0 | 8, Some("0o")) => (8, &rest[2..], true),
        (0 | 2, Some("0b")) => (2, &rest[2..], true),
        (0, _) => {
            if rest.len() > 1 && rest.starts_with('0') && rest.chars().any(|c| c != '0' && c != '_')
            {
                return None;
            }
            (10, rest, false)
        }
        (b, _) => (b, rest, false),
    };
    if !(2..=36).contains(&base) {
        return None;
    }
    // `0x_1f` is valid: one underscore may follow the prefix
    let digits = match digits.strip_prefix('_') {
        Some(d) if prefixed => d,
        _ => digits,
    };
    let digits = strip_underscores(digits)?;
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i128::from_str_radix(&digits, base).ok()?;
    Some(if neg { -v } else { v })
}

/// Python's `float(s)`.
pub(crate) fn parse_py_float(s: &str) -> Option<f64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let bare = lower.trim_start_matches(['+', '-']);
    if matches!(bare, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || "+-.eE_".contains(c))
    {
        return None;
    }
    let cleaned = if s.contains('_') {
        // underscores only between digits
        let b = s.as_bytes();
        for (i, c) in b.iter().enumerate() {
            if *c == b'_'
                && !(i > 0
                    && b[i - 1].is_ascii_digit()
                    && b.get(i + 1).is_some_and(|x| x.is_ascii_digit()))
            {
                return None;
            }
        }
        s.replace('_', "")
    } else {
        s.to_string()
    };
    cleaned.parse().ok()
}

/// Jinja2's `int(default=0, base=10)`: never fails, unconvertible values
/// give the default.
fn int(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("int", &["default", "base"], args, kwargs)?;
    let default = p.get("default").unwrap_or(Value::from(0));
    let base = p.int("base")?.unwrap_or(10);
    if value.is_undefined() {
        return Err(fail("int", "input is undefined"));
    }
    if base != 0 && !(2..=36).contains(&base) {
        return Err(fail("int", "base must be >= 2 and <= 36, or 0"));
    }
    Ok(match value.kind() {
        ValueKind::Bool => Value::from(i64::from(value.is_true())),
        ValueKind::Number if value.is_integer() => value.clone(),
        ValueKind::Number => match f64::try_from(value.clone()) {
            Ok(f) if f.is_finite() => Value::from(f.trunc() as i128),
            _ => default,
        },
        ValueKind::String => {
            let s = value.as_str().unwrap_or("");
            match parse_py_int(s, base as u32) {
                Some(i) => Value::from(i),
                None => match parse_py_float(s) {
                    Some(f) if f.is_finite() => Value::from(f.trunc() as i128),
                    _ => default,
                },
            }
        }
        _ => default,
    })
}

/// Jinja2's `float(default=0.0)`.
fn float(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("float", &["default"], args, kwargs)?;
    let default = p.get("default").unwrap_or(Value::from(0.0));
    Ok(match value.kind() {
        ValueKind::Undefined => return Err(fail("float", "input is undefined")),
        ValueKind::Bool => Value::from(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value.clone()).map_or(default, Value::from),
        ValueKind::String => {
            parse_py_float(value.as_str().unwrap_or("")).map_or(default, Value::from)
        }
        _ => default,
    })
}

/// Python's `str()`.
fn string(value: &Value) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Undefined => Err(fail("string", "input is undefined")),
        ValueKind::String => Ok(value.clone()),
        _ => Ok(Value::from(py_str(value))),
    }
}

/// Python's whitespace split (`str.split()` without a separator).
fn split_whitespace(s: &str, maxsplit: i64) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut rv = Vec::new();
    let mut i = 0;
    let mut left = if maxsplit < 0 { i64::MAX } else { maxsplit };
    while left > 0 {
        left -= 1;
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i == n {
            break;
        }
        let j = i;
        while i < n && !chars[i].is_whitespace() {
            i += 1;
        }
        rv.push(chars[j..i].iter().collect());
    }
    if i < n {
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i != n {
            rv.push(chars[i..].iter().collect());
        }
    }
    rv
}

/// Python's `str.split(sep=None, maxsplit=-1)`.
fn split(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("split", &["sep", "maxsplit"], args, kwargs)?;
    let s = text_of("split", value)?;
    let maxsplit = p.int("maxsplit")?.unwrap_or(-1);
    let parts: Vec<String> = match p.string("sep")? {
        None => split_whitespace(&s, maxsplit),
        Some(sep) if sep.is_empty() => return Err(fail("split", "empty separator")),
        Some(sep) if maxsplit < 0 => s.split(sep.as_str()).map(String::from).collect(),
        Some(sep) => s
            .splitn(
                usize::try_from(maxsplit)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1),
                sep.as_str(),
            )
            .map(String::from)
            .collect(),
    };
    Ok(Value::from(parts))
}

/// Python's `shlex.quote()`.
pub(crate) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// Ansible's `quote`: shell-quotes a string (`none` is the empty string).
fn quote(value: &Value) -> Result<String, Error> {
    if value.is_none() {
        return Ok("''".into());
    }
    Ok(shell_quote(&text_of("quote", value)?))
}

/// Ansible's `comment(style='plain', **kw)`: wraps text in a comment block.
fn comment(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind(
        "comment",
        &[
            "style",
            "decoration",
            "beginning",
            "prefix",
            "prefix_count",
            "postfix",
            "postfix_count",
            "end",
            "newline",
        ],
        args,
        kwargs,
    )?;
    let text = text_of("comment", value)?;
    let style = p.string("style")?.unwrap_or_else(|| "plain".into());
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(fail(
                "comment",
                format!("Invalid style '{other}'. Available styles: plain, erlang, c, cblock, xml"),
            ));
        }
    };
    let prepostfix = p.string("decoration")?.unwrap_or_else(|| decoration.into());
    let newline = p.string("newline")?.unwrap_or_else(|| "\n".into());
    let beginning = p.string("beginning")?.unwrap_or_else(|| beginning.into());
    let prefix = p
        .string("prefix")?
        .unwrap_or_else(|| prepostfix.trim_end().into());
    let postfix = p
        .string("postfix")?
        .unwrap_or_else(|| prepostfix.trim_end().into());
    let decoration = p.string("decoration")?.unwrap_or_else(|| decoration.into());
    let end = p.string("end")?.unwrap_or_else(|| end.into());
    let prefix_count = usize::try_from(p.int("prefix_count")?.unwrap_or(1)).unwrap_or(0);
    let postfix_count = usize::try_from(p.int("postfix_count")?.unwrap_or(1)).unwrap_or(0);

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let unit = if prefix != newline {
            format!("{prefix}{newline}")
        } else {
            newline.clone()
        };
        out.push_str(&unit.repeat(prefix_count));
    }
    let body = if newline.is_empty() {
        format!("{decoration}{text}")
    } else {
        format!(
            "{decoration}{}",
            text.replace(&newline, &format!("{newline}{decoration}"))
        )
    };
    let body = if newline.is_empty() {
        body
    } else {
        body.replace(
            &format!("{decoration}{newline}"),
            &format!("{}{newline}", decoration.trim_end()),
        )
    };
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

/// Ansible's `mandatory(msg=None)`: fails on undefined values.
fn mandatory(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("mandatory", &["msg"], args, kwargs)?;
    if value.is_undefined() {
        return Err(match p.string("msg")? {
            Some(msg) => Error::new(minijinja::ErrorKind::InvalidOperation, msg),
            None => fail("mandatory", MANDATORY),
        });
    }
    Ok(value.clone())
}

/// Ansible's `ternary(true_val, false_val, none_val=None)`.
fn ternary(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind(
        "ternary",
        &["true_val", "false_val", "none_val"],
        args,
        kwargs,
    )?;
    if value.is_undefined() {
        return Err(fail("ternary", "input is undefined"));
    }
    let (Some(t), Some(f)) = (p.get("true_val"), p.get("false_val")) else {
        return Err(fail(
            "ternary",
            "expected the arguments true_val and false_val",
        ));
    };
    if value.is_none()
        && let Some(n) = p.some("none_val")
    {
        return Ok(n);
    }
    // The unused value may be undefined (it is never evaluated in Ansible);
    // the chosen one may not.
    let chosen = if value.is_true() { t } else { f };
    if chosen.is_undefined() {
        return Err(Error::from(minijinja::ErrorKind::UndefinedError));
    }
    Ok(chosen)
}

/// Ansible's `undef(hint=None)`: a value that must be overridden; using it
/// fails with the hint (or "Mandatory variable has not been overridden").
fn undef(args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("undef", &["hint"], args, kwargs)?;
    let hint = p.string("hint")?.unwrap_or_else(|| UNDEF_HINT.to_string());
    Err(Error::new(minijinja::ErrorKind::UndefinedError, hint))
}

/// The message of a used `undef()` without a hint.
pub(crate) const UNDEF_HINT: &str = "Mandatory variable has not been overridden";

/// Ansible's `type_debug`: the Python type name of the value.
fn type_debug(value: &Value) -> String {
    py_type(value).to_string()
}

const SIZE_RANGES: [(char, u32); 9] = [
    ('Y', 80),
    ('Z', 70),
    ('E', 60),
    ('P', 50),
    ('T', 40),
    ('G', 30),
    ('M', 20),
    ('K', 10),
    ('B', 0),
];

/// Ansible's `human_readable(isbits=False, unit=None)`.
fn human_readable(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("human_readable", &["isbits", "unit"], args, kwargs)?;
    let size = match value.kind() {
        ValueKind::Number | ValueKind::Bool => f64::try_from(value.clone()).unwrap_or(0.0),
        _ => {
            return Err(fail(
                "human_readable",
                format!("expected a number, got {}", py_type(value)),
            ));
        }
    };
    let isbits = p.flag("isbits", false);
    let unit = p.string("unit")?;
    Ok(bytes_to_human(size, isbits, unit.as_deref()))
}

/// Ansible's `bytes_to_human`: `size` in the largest binary unit it
/// reaches (or `unit`), two decimals: `256.00 GB`, `0.00 Bytes`.
pub(crate) fn bytes_to_human(size: f64, isbits: bool, unit: Option<&str>) -> String {
    let base = if isbits { "bits" } else { "Bytes" };
    let mut chosen = SIZE_RANGES[SIZE_RANGES.len() - 1];
    for (suffix, shift) in SIZE_RANGES {
        let limit = 2f64.powi(shift as i32);
        chosen = (suffix, shift);
        let hit = match unit {
            None => size >= limit,
            Some(u) => u.to_uppercase().starts_with(suffix),
        };
        if hit {
            break;
        }
    }
    let (suffix, shift) = chosen;
    let suffix = if shift != 0 {
        format!("{suffix}{}", &base[..1])
    } else {
        base.to_string()
    };
    format!("{:.2} {suffix}", size / 2f64.powi(shift as i32))
}

/// Ansible's `human_to_bytes(default_unit=None, isbits=False)`.
fn human_to_bytes(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("human_to_bytes", &["default_unit", "isbits"], args, kwargs)?;
    let text = text_of("human_to_bytes", value)?;
    let bad = || {
        fail(
            "human_to_bytes",
            format!("can't interpret following string: {text}"),
        )
    };
    let s = text.trim_end();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num_s, rest) = s.split_at(num_end);
    let unit_s = rest.trim_start();
    let valid_num = {
        let dots = num_s.matches('.').count();
        !num_s.is_empty() && dots <= 1 && !num_s.ends_with('.')
    };
    if !valid_num || !unit_s.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let num: f64 = num_s.parse().map_err(|_| bad())?;
    let unit = if unit_s.is_empty() {
        p.string("default_unit")?
    } else {
        Some(unit_s.to_string())
    };
    let Some(unit) = unit.filter(|u| !u.is_empty()) else {
        return Ok(Value::from(num.round_ties_even() as i128));
    };
    let key = unit.chars().next().unwrap_or('B').to_ascii_uppercase();
    let Some((_, shift)) = SIZE_RANGES.iter().find(|(k, _)| *k == key) else {
        return Err(fail(
            "human_to_bytes",
            format!(
                "failed to convert {text} (unit = {unit}). The suffix must be one of Y, Z, E, P, T, G, M, K, B"
            ),
        ));
    };
    let isbits = p.flag("isbits", false);
    let (class, class_name) = if isbits { ('b', "bit") } else { ('B', "byte") };
    if unit.chars().count() > 1
        && !unit.to_lowercase().contains(class_name)
        && unit.chars().nth(1) != Some(class)
    {
        let expect = if key == 'B' {
            format!("expect {class} or {class_name}")
        } else {
            format!("expect {key}{class} or {key}")
        };
        return Err(fail(
            "human_to_bytes",
            format!("failed to convert {text}. Value is not a valid string ({expect})"),
        ));
    }
    let rv = (num * 2f64.powi(*shift as i32)).round_ties_even();
    Ok(Value::from(rv as i128))
}

/// Ansible's `to_uuid(namespace=...)`: a version 5 UUID of the string.
fn to_uuid(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    use sha1::Digest;
    let p = Params::bind("to_uuid", &["namespace"], args, kwargs)?;
    // Ansible: "Invalid value '<ns>' for 'namespace': <uuid.UUID's error>".
    let ns = match p.some("namespace") {
        None => "361E6D51-FAEC-444A-9079-341386DA8E2E".to_string(),
        Some(v) if v.kind() == ValueKind::String => py_str(&v),
        Some(v) => {
            return Err(fail(
                "to_uuid",
                format!(
                    "Invalid value '{}' for 'namespace': '{}' object has no attribute 'replace'",
                    py_str(&v),
                    py_type(&v)
                ),
            ));
        }
    };
    let hex: String = ns
        .trim_start_matches("urn:uuid:")
        .chars()
        .filter(|c| !"{}-".contains(*c))
        .collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(fail(
            "to_uuid",
            format!("Invalid value '{ns}' for 'namespace': badly formed hexadecimal UUID string"),
        ));
    }
    let mut bytes = Vec::with_capacity(16);
    for i in 0..16 {
        bytes.push(u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap_or(0));
    }
    let mut h = sha1::Sha1::new();
    h.update(&bytes);
    h.update(text_of("to_uuid", value)?.as_bytes());
    let d = h.finalize();
    let mut u: Vec<u8> = d.iter().take(16).copied().collect();
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    let x: String = u.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    ))
}

/// Python's `urllib.parse.urlsplit` as Ansible's `urlsplit(query='')`
/// returns it: a dict of all components or one of them.
fn urlsplit(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("urlsplit", &["query"], args, kwargs)?;
    let raw = text_of("urlsplit", value)?;
    let mut url: String = raw
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut scheme = String::new();
    if let Some(i) = url.find(':')
        && i > 0
        && url.starts_with(|c: char| c.is_ascii_alphabetic())
        && url[..i]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        scheme = url[..i].to_ascii_lowercase();
        url = url[i + 1..].to_string();
    }
    let mut netloc = String::new();
    if let Some(rest) = url.strip_prefix("//") {
        let delim = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        netloc = rest[..delim].to_string();
        url = rest[delim..].to_string();
        if netloc.contains('[') != netloc.contains(']') {
            return Err(fail("urlsplit", "Invalid IPv6 URL"));
        }
    }
    let mut fragment = String::new();
    if let Some((u, f)) = url.split_once('#') {
        fragment = f.to_string();
        url = u.to_string();
    }
    let mut query = String::new();
    if let Some((u, q)) = url.split_once('?') {
        query = q.to_string();
        url = u.to_string();
    }
    let path = url;

    let (userinfo, hostinfo) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc.as_str()),
    };
    let (hostname, port) = match hostinfo.split_once('[') {
        Some((_, bracketed)) => {
            let (h, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
            (h, after.split_once(':').map_or("", |x| x.1))
        }
        None => hostinfo.split_once(':').unwrap_or((hostinfo, "")),
    };
    let hostname = if hostname.is_empty() {
        Value::from(())
    } else {
        Value::from(hostname.to_lowercase())
    };
    let port = if port.is_empty() {
        Value::from(())
    } else if port.chars().all(|c| c.is_ascii_digit()) {
        match port.parse::<u32>() {
            Ok(n) if n <= 65535 => Value::from(n),
            _ => return Err(fail("urlsplit", "Port out of range 0-65535")),
        }
    } else {
        return Err(fail(
            "urlsplit",
            format!("Port could not be cast to integer value as '{port}'"),
        ));
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((n, pw)) => (Value::from(n), Value::from(pw)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let parts: Vec<(&str, Value)> = vec![
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc.clone())),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(query)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    match p.string("query")?.filter(|q| !q.is_empty()) {
        None => Ok(Value::from_pairs(parts)),
        Some(q) => parts
            .into_iter()
            .find(|(k, _)| *k == q)
            .map(|(_, v)| v)
            .ok_or_else(|| fail("urlsplit", format!("unknown URL component: {q}"))),
    }
}
