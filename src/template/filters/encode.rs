//! JSON, base64 and hashing filters: `to_json`, `to_nice_json`, `from_json`,
//! `b64encode`, `b64decode`, `hash`, `checksum`, `md5`, `sha1`.
//!
//! JSON is written exactly as Python's `json.dumps` writes it (separators,
//! `ensure_ascii`, float formatting), since Ansible's filters wrap it.

use base64::Engine;
use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, Value};

use super::{Params, fail, map_items, py_float, py_type, text_of};

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("hash", hash);
    env.add_filter("checksum", |v: &Value| digest("checksum", "sha1", v));
    env.add_filter("sha1", |v: &Value| digest("sha1", "sha1", v));
    env.add_filter("md5", |v: &Value| digest("md5", "md5", v));
}

/// Options of Python's `json.dumps`.
pub(crate) struct JsonOpts {
    /// Indentation string per level, `None` for a single line.
    pub indent: Option<String>,
    /// Sort mapping keys.
    pub sort_keys: bool,
    /// Escape non-ASCII characters.
    pub ensure_ascii: bool,
    /// Separator between items.
    pub item_sep: String,
    /// Separator between a key and its value.
    pub key_sep: String,
}

fn json_str(s: &str, ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_key(name: &str, k: &Value) -> Result<String, Error> {
    Ok(match k.kind() {
        ValueKind::String => k.as_str().unwrap_or_default().to_string(),
        ValueKind::Bool => if k.is_true() { "true" } else { "false" }.to_string(),
        ValueKind::None => "null".into(),
        ValueKind::Number => json_number(k),
        _ => {
            return Err(fail(
                name,
                format!(
                    "keys must be str, int, float, bool or None, not {}",
                    py_type(k)
                ),
            ));
        }
    })
}

fn json_number(v: &Value) -> String {
    if v.is_integer() {
        return v.to_string();
    }
    match f64::try_from(v.clone()) {
        Ok(f) if f.is_nan() => "NaN".into(),
        Ok(f) if f.is_infinite() => if f > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        Ok(f) => py_float(f),
        Err(_) => v.to_string(),
    }
}

/// Python's `json.dumps` of a template value.
pub(crate) fn dumps(name: &str, v: &Value, o: &JsonOpts) -> Result<String, Error> {
    let mut out = String::new();
    dump(name, v, o, 0, &mut out)?;
    Ok(out)
}

fn newline(o: &JsonOpts, level: usize, out: &mut String) {
    if let Some(ind) = &o.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn dump(name: &str, v: &Value, o: &JsonOpts, level: usize, out: &mut String) -> Result<(), Error> {
    if level > 500 {
        return Err(fail(name, "maximum recursion depth exceeded"));
    }
    match v.kind() {
        ValueKind::Undefined => return Err(fail(name, "cannot serialize an undefined value")),
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&json_number(v)),
        ValueKind::String | ValueKind::Bytes => {
            json_str(&v.to_str().unwrap_or_default(), o.ensure_ascii, out)
        }
        ValueKind::Map => {
            let mut items = Vec::new();
            for (k, val) in map_items(v)? {
                items.push((json_key(name, &k)?, val));
            }
            if o.sort_keys {
                items.sort_by(|a, b| a.0.cmp(&b.0));
            }
            if items.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                newline(o, level + 1, out);
                json_str(k, o.ensure_ascii, out);
                out.push_str(&o.key_sep);
                dump(name, val, o, level + 1, out)?;
            }
            newline(o, level, out);
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.checked().collect::<Result<_, _>>()?;
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                newline(o, level + 1, out);
                dump(name, item, o, level + 1, out)?;
            }
            newline(o, level, out);
            out.push(']');
        }
        // Ansible's JSON encoder writes a date as its ISO 8601 text.
        _ if let Some(d) = v.downcast_object_ref::<super::extra::PyDateTime>() => {
            json_str(&d.isoformat("T"), o.ensure_ascii, out)
        }
        _ => {
            return Err(fail(
                name,
                format!("Object of type {} is not JSON serializable", py_type(v)),
            ));
        }
    }
    Ok(())
}

/// The widest indent `to_json`/`to_nice_json` take.
const MAX_INDENT: usize = 10_000;

fn json_opts(p: &Params, indent: Option<i64>, sort_keys: bool) -> Result<JsonOpts, Error> {
    let indent = match p.get("indent") {
        Some(v) if v.kind() == ValueKind::String => Some(v.as_str().unwrap_or("").to_string()),
        Some(v) if v.is_none() => None,
        Some(_) => p
            .int("indent")?
            .map(|n| " ".repeat(usize::try_from(n).unwrap_or(0).min(MAX_INDENT + 1))),
        None => indent.map(|n| " ".repeat(usize::try_from(n).unwrap_or(0).min(MAX_INDENT + 1))),
    };
    // Python would build the text; here an indent that could not fit in
    // memory with the nesting allowed is refused.
    if indent.as_ref().is_some_and(|i| i.len() > MAX_INDENT) {
        return Err(fail(
            p.name,
            format!("indent too big (at most {MAX_INDENT})"),
        ));
    }
    let (item_sep, key_sep) = match p.some("separators") {
        Some(seps) => {
            let parts: Vec<Value> = seps.try_iter()?.collect();
            match (
                parts.first().and_then(|x| x.as_str()),
                parts.get(1).and_then(|x| x.as_str()),
            ) {
                (Some(a), Some(b)) if parts.len() == 2 => (a.to_string(), b.to_string()),
                _ => return Err(fail(p.name, "separators must be a pair of strings")),
            }
        }
        None if indent.is_some() => (",".into(), ": ".into()),
        None => (", ".into(), ": ".into()),
    };
    Ok(JsonOpts {
        indent,
        sort_keys: p.flag("sort_keys", sort_keys),
        ensure_ascii: p.flag("ensure_ascii", true),
        item_sep,
        key_sep,
    })
}

const JSON_PARAMS: &[&str] = &[
    "indent",
    "sort_keys",
    "ensure_ascii",
    "separators",
    "vault_to_text",
    "preprocess_unsafe",
];

/// `to_json(**kw)`: Python's `json.dumps`.
fn to_json(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("to_json", JSON_PARAMS, args, kwargs)?;
    let o = json_opts(&p, None, false)?;
    dumps("to_json", value, &o)
}

/// `to_nice_json(indent=4, sort_keys=True, **kw)`.
fn to_nice_json(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("to_nice_json", JSON_PARAMS, args, kwargs)?;
    let o = json_opts(&p, Some(4), true)?;
    dumps("to_nice_json", value, &o)
}

/// Converts a parsed JSON value into a template value.
pub(crate) fn from_serde_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s),
        serde_json::Value::Array(a) => {
            Value::from(a.into_iter().map(from_serde_json).collect::<Vec<_>>())
        }
        serde_json::Value::Object(m) => Value::from_pairs(
            m.into_iter()
                .map(|(k, v)| (Value::from(k), from_serde_json(v))),
        ),
    }
}

/// `from_json`: Python's `json.loads`.
fn from_json(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    Params::bind("from_json", &[], args, kwargs)?;
    let text = text_of("from_json", value)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map(from_serde_json)
        .map_err(|e| fail("from_json", format!("invalid JSON: {e}")))
}

fn encode_text(name: &str, s: &str, encoding: &str) -> Result<Vec<u8>, Error> {
    match encoding.to_ascii_lowercase().replace('_', "-").as_str() {
        "utf-8" | "utf8" => Ok(s.as_bytes().to_vec()),
        "utf-16-le" | "utf-16le" => Ok(s.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        "utf-16-be" | "utf-16be" => Ok(s.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        "ascii" | "us-ascii" => {
            if s.is_ascii() {
                Ok(s.as_bytes().to_vec())
            } else {
                Err(fail(name, "'ascii' codec can't encode the string"))
            }
        }
        "latin-1" | "latin1" | "iso-8859-1" => s
            .chars()
            .map(|c| {
                u8::try_from(c as u32)
                    .map_err(|_| fail(name, "'latin-1' codec can't encode the string"))
            })
            .collect(),
        other => Err(fail(name, format!("unknown encoding: {other}"))),
    }
}

fn decode_bytes(name: &str, b: &[u8], encoding: &str) -> Result<String, Error> {
    match encoding.to_ascii_lowercase().replace('_', "-").as_str() {
        "utf-8" | "utf8" | "ascii" | "us-ascii" => Ok(String::from_utf8_lossy(b).into_owned()),
        "utf-16-le" | "utf-16le" | "utf-16-be" | "utf-16be" => {
            let le = encoding.to_ascii_lowercase().contains("le");
            let units: Vec<u16> = b
                .chunks(2)
                .map(|c| {
                    let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                    if le {
                        u16::from_le_bytes(pair)
                    } else {
                        u16::from_be_bytes(pair)
                    }
                })
                .collect();
            Ok(String::from_utf16_lossy(&units))
        }
        "latin-1" | "latin1" | "iso-8859-1" => Ok(b.iter().map(|x| char::from(*x)).collect()),
        other => Err(fail(name, format!("unknown encoding: {other}"))),
    }
}

/// `b64encode(encoding='utf-8', urlsafe=False)`.
fn b64encode(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("b64encode", &["encoding", "urlsafe"], args, kwargs)?;
    let bytes = match value.as_bytes() {
        Some(b) if value.kind() == ValueKind::Bytes => b.to_vec(),
        _ => {
            let enc = p.string("encoding")?.unwrap_or_else(|| "utf-8".into());
            encode_text("b64encode", &text_of("b64encode", value)?, &enc)?
        }
    };
    Ok(if p.flag("urlsafe", false) {
        base64::engine::general_purpose::URL_SAFE.encode(bytes)
    } else {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    })
}

/// `b64decode(encoding='utf-8', urlsafe=False)`.
fn b64decode(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("b64decode", &["encoding", "urlsafe"], args, kwargs)?;
    let text = text_of("b64decode", value)?;
    let urlsafe = p.flag("urlsafe", false);
    // like Python's non-validating decoder, characters outside the
    // alphabet are discarded
    let cleaned: String = text
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric()
                || *c == '='
                || (if urlsafe { "-_" } else { "+/" }).contains(*c)
        })
        .collect();
    let engine = if urlsafe {
        base64::engine::general_purpose::URL_SAFE
    } else {
        base64::engine::general_purpose::STANDARD
    };
    let bytes = engine
        .decode(&cleaned)
        .map_err(|e| fail("b64decode", format!("invalid base64 input: {e}")))?;
    let enc = p.string("encoding")?.unwrap_or_else(|| "utf-8".into());
    decode_bytes("b64decode", &bytes, &enc)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex digest of `data` with the hash `kind`.
pub(crate) fn hexdigest(name: &str, kind: &str, data: &[u8]) -> Result<String, Error> {
    use sha2::Digest;
    Ok(match kind {
        "md5" => hex(&md5::Md5::digest(data)),
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => {
            return Err(fail(
                name,
                format!(
                    "unsupported hash type '{other}' (expected md5, sha1, sha224, sha256, sha384 or sha512)"
                ),
            ));
        }
    })
}

fn data_of(name: &str, value: &Value) -> Result<Vec<u8>, Error> {
    match value.kind() {
        ValueKind::Bytes => Ok(value.as_bytes().unwrap_or_default().to_vec()),
        _ => Ok(text_of(name, value)?.into_bytes()),
    }
}

fn digest(name: &str, kind: &str, value: &Value) -> Result<String, Error> {
    hexdigest(name, kind, &data_of(name, value)?)
}

/// `hash(hashtype='sha1')`.
fn hash(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("hash", &["hashtype"], args, kwargs)?;
    let kind = p.string("hashtype")?.unwrap_or_else(|| "sha1".into());
    digest("hash", &kind.to_ascii_lowercase(), value)
}
