//! Python literals, both ways: `ast.literal_eval` for INI values (Ansible's
//! INI plugin reads `k=v` values this way) and `str()` for the
//! `{name = value}` lines of `ansible-inventory --graph --vars`.

use serde_json::{Map, Number, Value};

/// `ast.literal_eval(text)` converted to JSON; `None` when Python would
/// raise (the INI plugin then keeps the text as a string).
pub(crate) fn literal_eval(text: &str) -> Option<Value> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
        depth: 0,
    };
    // literal_eval strips leading spaces and tabs.
    p.skip_ws(false);
    let v = p.expr_list(false)?;
    p.skip_ws(false);
    if p.i != p.s.len() {
        return None;
    }
    Some(v)
}

/// The text the INI plugin stores for `value`: the literal when it parses,
/// the text itself otherwise.
pub(crate) fn ini_value(text: &str) -> Value {
    literal_eval(text).unwrap_or_else(|| Value::String(text.to_owned()))
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    depth: usize,
}

enum Lit {
    Str(String),
    Bytes(String),
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips blanks and comments; newlines only inside brackets.
    fn skip_ws(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\x0c' => self.i += 1,
                b'\n' | b'\r' if newlines => self.i += 1,
                b'\\' if matches!(self.s.get(self.i + 1), Some(b'\n')) => self.i += 2,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: u8, nl: bool) -> bool {
        self.skip_ws(nl);
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// `a, b, c` (a bare tuple when there is a comma).
    fn expr_list(&mut self, nl: bool) -> Option<Value> {
        let first = self.expr(nl)?;
        self.skip_ws(nl);
        if self.peek() != Some(b',') {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(b',', nl) {
            self.skip_ws(nl);
            match self.peek() {
                None | Some(b')') | Some(b']') | Some(b'}') => break,
                _ => items.push(self.expr(nl)?),
            }
        }
        Some(Value::Array(items))
    }

    fn expr(&mut self, nl: bool) -> Option<Value> {
        self.depth += 1;
        if self.depth > 200 {
            return None;
        }
        let r = self.expr_inner(nl);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, nl: bool) -> Option<Value> {
        self.skip_ws(nl);
        let c = self.peek()?;
        match c {
            b'[' => {
                self.i += 1;
                let items = self.seq(b']')?;
                Some(Value::Array(items))
            }
            b'(' => {
                self.i += 1;
                self.skip_ws(true);
                if self.eat(b')', true) {
                    return Some(Value::Array(Vec::new()));
                }
                let first = self.expr(true)?;
                self.skip_ws(true);
                if self.eat(b')', true) {
                    return Some(first); // parenthesised, not a tuple
                }
                if !self.eat(b',', true) {
                    return None;
                }
                let mut items = vec![first];
                items.extend(self.seq(b')')?);
                Some(Value::Array(items))
            }
            b'{' => {
                self.i += 1;
                self.dict_or_set()
            }
            b'-' | b'+' => {
                self.i += 1;
                self.skip_ws(nl);
                let v = self.number()?;
                if c == b'-' { negate(v) } else { Some(v) }
            }
            b'0'..=b'9' | b'.' => {
                if c == b'.' && self.s[self.i..].starts_with(b"...") {
                    self.i += 3;
                    return Some(Value::String("...".into()));
                }
                self.number()
            }
            b'\'' | b'"' => self.strings(),
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                let word = &self.src[start..self.i];
                if matches!(self.peek(), Some(b'\'' | b'"')) && is_prefix(word) {
                    self.i = start;
                    return self.strings();
                }
                match word {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Items up to `close`, trailing comma allowed.
    fn seq(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close, true) {
                return Some(items);
            }
            items.push(self.expr(true)?);
            if self.eat(close, true) {
                return Some(items);
            }
            if !self.eat(b',', true) {
                return None;
            }
        }
    }

    fn dict_or_set(&mut self) -> Option<Value> {
        if self.eat(b'}', true) {
            return Some(Value::Object(Map::new()));
        }
        let first = self.expr(true)?;
        if self.eat(b':', true) {
            let mut m = Map::new();
            let v = self.expr(true)?;
            m.insert(key_string(&first)?, v);
            loop {
                if self.eat(b'}', true) {
                    return Some(Value::Object(m));
                }
                if !self.eat(b',', true) {
                    return None;
                }
                if self.eat(b'}', true) {
                    return Some(Value::Object(m));
                }
                let k = self.expr(true)?;
                if !self.eat(b':', true) {
                    return None;
                }
                let v = self.expr(true)?;
                m.insert(key_string(&k)?, v);
            }
        }
        // A set: JSON has none, keep the unique items as a list.
        let mut items = vec![first];
        if !self.eat(b'}', true) {
            if !self.eat(b',', true) {
                return None;
            }
            items.extend(self.seq(b'}')?);
        }
        let mut uniq: Vec<Value> = Vec::new();
        for it in items {
            if it.is_array() || it.is_object() {
                return None; // unhashable
            }
            if !uniq.contains(&it) {
                uniq.push(it);
            }
        }
        Some(Value::Array(uniq))
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let prev = if self.i > start {
                self.s[self.i - 1]
            } else {
                b' '
            };
            let is_hex = self.src[start..self.i].starts_with("0x")
                || self.src[start..self.i].starts_with("0X");
            if c.is_ascii_alphanumeric()
                || c == b'_'
                || c == b'.'
                || ((c == b'+' || c == b'-') && (prev == b'e' || prev == b'E') && !is_hex)
            {
                self.i += 1;
            } else {
                break;
            }
        }
        parse_number(&self.src[start..self.i])
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Option<Value> {
        let mut acc: Option<Lit> = None;
        loop {
            self.skip_ws(false);
            let start = self.i;
            let mut prefix = String::new();
            while let Some(c) = self.peek() {
                if c.is_ascii_alphabetic() {
                    prefix.push(c.to_ascii_lowercase() as char);
                    self.i += 1;
                } else {
                    break;
                }
            }
            if !matches!(self.peek(), Some(b'\'' | b'"')) || !is_prefix(&prefix) {
                self.i = start;
                break;
            }
            let lit = self.one_string(&prefix)?;
            acc = match (acc, lit) {
                (None, l) => Some(l),
                (Some(Lit::Str(a)), Lit::Str(b)) => Some(Lit::Str(a + &b)),
                (Some(Lit::Bytes(a)), Lit::Bytes(b)) => Some(Lit::Bytes(a + &b)),
                _ => return None, // mixing bytes and str is a SyntaxError
            };
        }
        match acc? {
            Lit::Str(s) | Lit::Bytes(s) => Some(Value::String(s)),
        }
    }

    fn one_string(&mut self, prefix: &str) -> Option<Lit> {
        if prefix.contains('f') {
            return None; // f-strings are not literals
        }
        let raw = prefix.contains('r');
        let bytes = prefix.contains('b');
        let q = self.peek()?;
        let triple = self.s[self.i..].starts_with(&[q, q, q]);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == q && (!triple || self.s[self.i..].starts_with(&[q, q, q])) {
                self.i += if triple { 3 } else { 1 };
                break;
            }
            if (c == b'\n' || c == b'\r') && !triple {
                return None;
            }
            if c == b'\\' {
                let n = *self.s.get(self.i + 1)?;
                if raw {
                    out.push('\\');
                    self.i += 1;
                    let ch = self.next_char()?;
                    out.push(ch);
                    let _ = n;
                    continue;
                }
                self.i += 2;
                match n {
                    b'\n' => {}
                    b'\\' => out.push('\\'),
                    b'\'' => out.push('\''),
                    b'"' => out.push('"'),
                    b'a' => out.push('\x07'),
                    b'b' => out.push('\x08'),
                    b'f' => out.push('\x0c'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'v' => out.push('\x0b'),
                    b'0'..=b'7' => {
                        let mut v = u32::from(n - b'0');
                        for _ in 0..2 {
                            match self.peek() {
                                Some(d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    self.i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(char::from_u32(v)?);
                    }
                    b'x' => out.push(self.hex_escape(2)?),
                    b'u' if !bytes => out.push(self.hex_escape(4)?),
                    b'U' if !bytes => out.push(self.hex_escape(8)?),
                    b'N' if !bytes => return None,
                    _ => {
                        // Unknown escapes stay as written.
                        self.i -= 1;
                        out.push('\\');
                        let ch = self.next_char()?;
                        out.push(ch);
                    }
                }
                continue;
            }
            let ch = self.next_char()?;
            if bytes && !ch.is_ascii() {
                return None;
            }
            out.push(ch);
        }
        Some(if bytes {
            Lit::Bytes(out)
        } else {
            Lit::Str(out)
        })
    }

    fn next_char(&mut self) -> Option<char> {
        let ch = self.src.get(self.i..)?.chars().next()?;
        self.i += ch.len_utf8();
        Some(ch)
    }

    fn hex_escape(&mut self, n: usize) -> Option<char> {
        let digits = self.src.get(self.i..self.i + n)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.i += n;
        char::from_u32(u32::from_str_radix(digits, 16).ok()?)
    }
}

fn is_prefix(p: &str) -> bool {
    matches!(
        p.to_ascii_lowercase().as_str(),
        "" | "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
    )
}

fn negate(v: Value) -> Option<Value> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Value::from(i.checked_neg()?))
            } else if let Some(u) = n.as_u64() {
                if u == 1u64 << 63 {
                    Some(Value::from(i64::MIN))
                } else {
                    None
                }
            } else {
                Number::from_f64(-n.as_f64()?).map(Value::Number)
            }
        }
        _ => None,
    }
}

/// A Python int/float literal (no sign), underscores allowed between digits.
fn parse_number(tok: &str) -> Option<Value> {
    if tok.is_empty() || tok.ends_with(['j', 'J']) {
        return None;
    }
    let underscores_ok = |s: &str| {
        let b = s.as_bytes();
        !s.starts_with('_')
            && !s.ends_with('_')
            && !b.windows(2).any(|w| {
                w[0] == b'_' && !w[1].is_ascii_hexdigit()
                    || w[1] == b'_' && !w[0].is_ascii_hexdigit()
            })
    };
    let lower = tok.to_ascii_lowercase();
    for (pfx, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = lower.strip_prefix(pfx) {
            let rest = rest.strip_prefix('_').unwrap_or(rest);
            if rest.is_empty() || !underscores_ok(rest) {
                return None;
            }
            let digits = rest.replace('_', "");
            return match u64::from_str_radix(&digits, radix) {
                Ok(v) => Some(Value::from(v)),
                Err(_) => u128::from_str_radix(&digits, radix)
                    .ok()
                    .map(|v| Value::String(v.to_string())),
            };
        }
    }
    if !underscores_ok(&lower) {
        return None;
    }
    let clean = lower.replace('_', "");
    if clean.bytes().all(|b| b.is_ascii_digit()) {
        // Python 3 rejects leading zeros except for zero itself.
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return None;
        }
        return match clean.parse::<u64>() {
            Ok(v) => Some(Value::from(v)),
            Err(_) => Some(Value::String(clean.trim_start_matches('0').to_owned())),
        };
    }
    // Float: digits with one '.', and/or an exponent.
    let (mant, exp) = match clean.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (clean.as_str(), None),
    };
    let mant_ok = !mant.is_empty()
        && mant != "."
        && mant.bytes().filter(|b| *b == b'.').count() <= 1
        && mant.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let exp_ok = match exp {
        None => mant.contains('.'),
        Some(e) => {
            let d = e.strip_prefix(['+', '-']).unwrap_or(e);
            !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
        }
    };
    if !mant_ok || !exp_ok {
        return None;
    }
    let f: f64 = clean.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

fn key_string(k: &Value) -> Option<String> {
    match k {
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None, // unhashable
        other => Some(py_str(other)),
    }
}

/// Python's `str(value)`.
pub(crate) fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(value)`.
pub(crate) fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if n.is_f64() {
                py_float(n.as_f64().unwrap_or(0.0))
            } else {
                n.to_string()
            }
        }
        Value::String(s) => py_str_repr(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Shortest round-trip digits, then Python's layout rules.
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let s = if exp >= 0 {
            let e = exp as usize;
            if digits.len() > e + 1 {
                format!("{}.{}", &digits[..=e], &digits[e + 1..])
            } else {
                format!("{}{}.0", digits, "0".repeat(e + 1 - digits.len()))
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let es = if exp < 0 { "-" } else { "+" };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    }
}

fn py_str_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals_like_python() {
        assert_eq!(ini_value("80"), json!(80));
        assert_eq!(ini_value("-3"), json!(-3));
        assert_eq!(ini_value("1_000"), json!(1000));
        assert_eq!(ini_value("0x1F"), json!(31));
        assert_eq!(ini_value("1.5"), json!(1.5));
        assert_eq!(ini_value("1e3"), json!(1000.0));
        assert_eq!(ini_value("True"), json!(true));
        assert_eq!(ini_value("None"), json!(null));
        assert_eq!(ini_value("'quoted v'"), json!("quoted v"));
        assert_eq!(ini_value("\"a\\tb\""), json!("a\tb"));
        assert_eq!(ini_value("r'a\\tb'"), json!("a\\tb"));
        assert_eq!(ini_value("'a' 'b'"), json!("ab"));
        assert_eq!(ini_value("[1, 'two', None]"), json!([1, "two", null]));
        assert_eq!(ini_value("(1, 2)"), json!([1, 2]));
        assert_eq!(ini_value("1, 2"), json!([1, 2]));
        assert_eq!(ini_value("(7)"), json!(7));
        assert_eq!(ini_value("{'a': 1, 2: [3]}"), json!({"a": 1, "2": [3]}));
        assert_eq!(ini_value("{1, 2, 1}"), json!([1, 2]));
        assert_eq!(ini_value("1 # a comment"), json!(1));
    }

    #[test]
    fn non_literals_stay_strings() {
        for s in [
            "true",
            "FALSE",
            "yes",
            "0644",
            "1+2",
            "foo bar",
            "a=b",
            "[1, 2",
            "'unterminated",
            "1j",
            "f'x'",
            "-True",
            "--1",
            "1.2.3",
            "1__0",
            "0x",
            "{'a'}x",
            "{[1]: 2}",
            "/usr/bin/python3",
            "10.0.0.1",
            "{{ x }}",
            "",
        ] {
            assert_eq!(ini_value(s), json!(s), "{s}");
        }
    }

    #[test]
    fn python_str_and_repr() {
        assert_eq!(py_str(&json!("plain")), "plain");
        assert_eq!(py_str(&json!(80)), "80");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(1e16)), "1e+16");
        assert_eq!(py_str(&json!(1.5e-7)), "1.5e-07");
        assert_eq!(py_str(&json!(0.0001)), "0.0001");
        assert_eq!(py_str(&json!(123.456)), "123.456");
        assert_eq!(
            py_str(&json!(["a", 1, {"k": "it's"}])),
            "['a', 1, {'k': \"it's\"}]"
        );
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "\\",
            "'\\",
            "'\\x4'",
            "\"\\u12\"",
            "((((",
            "{",
            "{1:",
            "[,]",
            "(,)",
            "'''",
            "0b102",
            "0o9",
            "1e",
            "1e+",
            ".",
            "..",
            "'\\777'",
            "\u{1F600}",
            "b'\u{e9}'",
        ] {
            let _ = ini_value(s);
        }
        let deep = "[".repeat(10_000);
        assert_eq!(ini_value(&deep), json!(deep));
    }
}
