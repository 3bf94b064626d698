//! YAML with positions: every node knows its file, line and column.
//!
//! Files are read with serde-saphyr in YAML 1.1 mode as Ansible's PyYAML
//! reads them (`yes`/`no` booleans, `0644` octal), keeping tags (`!vault`,
//! `!unsafe`) and the span of every node so that later stages can point at
//! the exact place of a mistake.

use crate::diagnostic::Diagnostic;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::{Spanned, Tagged};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file that was read, kept for error snippets.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user gave it (or as resolved relative to it).
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

/// Where a node is: file, byte range, 1-based line and column.
#[derive(Debug, Clone)]
pub struct Span {
    /// The file.
    pub file: Arc<SourceFile>,
    /// Byte offset of the node's first character.
    pub offset: usize,
    /// Length in bytes (0 when unknown).
    pub len: usize,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl Span {
    /// A span covering a whole file's first character (for file-level errors).
    pub fn file_start(file: Arc<SourceFile>) -> Span {
        Span {
            file,
            offset: 0,
            len: 0,
            line: 1,
            col: 1,
        }
    }

    /// `path:line:col`.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.path.display(), self.line, self.col)
    }
}

/// A YAML node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Where it is.
    pub span: Span,
    /// Its explicit tag (`!vault`, `!unsafe`), if any.
    pub tag: Option<String>,
    /// Its value.
    pub kind: Kind,
}

/// A node's value.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `~`, `null` or empty.
    Null,
    /// A boolean (YAML 1.1 spellings).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Looks up a key in a mapping (last one wins, as in PyYAML).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.key_text().as_deref() == Some(key))
            .map(|(_, v)| v)
    }

    /// A mapping key as text (scalars are turned into their text, as Ansible's keys are).
    pub fn key_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            Kind::Null => Some("None".to_string()),
            _ => None,
        }
    }

    /// What kind of node this is, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// Converts to a plain value. A `!unsafe` string becomes an unsafe marker
    /// (see [`crate::template::unsafe_value`]): it is never templated. A
    /// `!vault` string stays encrypted as a vault marker (see
    /// [`crate::vault::marker`]) until templating decrypts it.
    pub fn to_value(&self) -> Value {
        if let Kind::Str(s) = &self.kind {
            match self.tag.as_deref() {
                Some("!unsafe") => return crate::template::unsafe_value(s),
                Some("!vault") => return crate::vault::marker(s),
                _ => {}
            }
        }
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .filter_map(|(k, v)| Some((k.key_text()?, v.to_value())))
                    .collect(),
            ),
        }
    }
}

// ---- reading -------------------------------------------------------------

#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<RawNode>),
    Map(Vec<(RawNode, RawNode)>),
}

type RawNode = Spanned<Tagged<Raw>>;

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
                i64::try_from(v).map(Raw::Int).or(Ok(Raw::Float(v as f64)))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
                i64::try_from(v)
                    .map(Raw::Int)
                    .or(Ok(Raw::Str(v.to_string())))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
                i64::try_from(v)
                    .map(Raw::Int)
                    .or(Ok(Raw::Str(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Raw, E> {
                Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = a.next_entry()? {
                    entries.push(entry);
                }
                Ok(Raw::Map(entries))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.with_snippet = false;
    // `.inf` / `.nan` are YAML 1.1 floats (PyYAML reads them).
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::PassThrough;
    options
}

/// Byte offset of a 1-based line/column in `text`.
pub fn offset_of(text: &str, line: u32, col: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            return offset
                + l.char_indices()
                    .nth(col.saturating_sub(1) as usize)
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

fn convert(raw: RawNode, file: &Arc<SourceFile>) -> Node {
    let loc = raw.referenced;
    let span = loc.span();
    let (offset, len) = match (span.byte_offset(), span.byte_len()) {
        (Some(o), Some(l)) => (o as usize, l as usize),
        _ => (
            offset_of(&file.text, loc.line() as u32, loc.column() as u32),
            0,
        ),
    };
    let span = Span {
        file: file.clone(),
        offset,
        len,
        line: loc.line() as u32,
        col: loc.column() as u32,
    };
    let Tagged(raw, tag) = raw.value;
    let kind = match raw {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => {
            // YAML 1.1 as PyYAML reads it has no `y`/`n` booleans.
            let text = file.text.get(offset..offset + len).unwrap_or_default();
            if tag.is_none() && matches!(text, "y" | "Y" | "n" | "N") {
                Kind::Str(text.to_string())
            } else {
                Kind::Bool(b)
            }
        }
        Raw::Int(i) => Kind::Int(i),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|n| convert(n, file)).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(k, file), convert(v, file)))
                .collect(),
        ),
    };
    Node { span, tag, kind }
}

/// Parses every document of a YAML text.
pub fn parse(file: Arc<SourceFile>) -> Result<Vec<Node>, Box<Diagnostic>> {
    if file.text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let docs: Vec<RawNode> = serde_saphyr::from_multiple_with_options(&file.text, options())
        .map_err(|err| {
            let (line, col) = err
                .location()
                .map_or((1, 1), |l| (l.line() as u32, l.column() as u32));
            let offset = offset_of(&file.text, line, col);
            let message = err.to_string();
            let message = message.lines().next().unwrap_or("invalid YAML").to_string();
            Box::new(
                Diagnostic::error(format!("YAML syntax error: {message}")).at(Span {
                    file: file.clone(),
                    offset,
                    len: 0,
                    line,
                    col,
                }),
            )
        })?;
    Ok(docs.into_iter().map(|d| convert(d, &file)).collect())
}

/// Reads and parses a YAML file; a vault-encrypted file is decrypted with
/// the run's vault secrets.
pub fn load(path: &Path) -> Result<(Arc<SourceFile>, Vec<Node>), Box<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Box::new(Diagnostic::error(format!(
            "cannot read {}: {e}",
            path.display()
        )))
    })?;
    let bytes = crate::vault::decrypt_file(path, bytes)
        .map_err(|e| Box::new(Diagnostic::error(e.to_string())))?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
        Box::new(Diagnostic::error(format!(
            "cannot read {}: stream did not contain valid UTF-8",
            path.display()
        )))
    })?;
    let file = Arc::new(SourceFile {
        path: path.to_path_buf(),
        text,
    });
    let docs = parse(file.clone())?;
    Ok((file, docs))
}

/// Parses a YAML text held in memory (tests, `-e` values).
pub fn parse_str(name: &str, text: &str) -> Result<Vec<Node>, Box<Diagnostic>> {
    parse(Arc::new(SourceFile {
        path: PathBuf::from(name),
        text: text.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_scalars_and_spans() {
        let docs = parse_str(
            "t.yml",
            "a: yes\nm: 0644\nn: y\ns: !unsafe '{{ x }}'\nl: [1, 2.5, ~]\n",
        )
        .unwrap();
        let root = &docs[0];
        assert!(matches!(root.get("a").unwrap().kind, Kind::Bool(true)));
        assert!(matches!(root.get("m").unwrap().kind, Kind::Int(420)));
        assert_eq!(root.get("n").unwrap().as_str(), Some("y"));
        let s = root.get("s").unwrap();
        assert_eq!(s.tag.as_deref(), Some("!unsafe"));
        assert_eq!((s.span.line, s.span.col), (4, 12));
        assert_eq!(
            root.get("l").unwrap().to_value(),
            serde_json::json!([1, 2.5, null])
        );
    }

    #[test]
    fn vault_values_stay_encrypted_markers() {
        let docs = parse_str(
            "v.yml",
            "pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3031\n",
        )
        .unwrap();
        let v = docs[0].to_value();
        assert_eq!(
            v["pw"],
            serde_json::json!({"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n3031\n"})
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_str("bad.yml", "a: [1, 2\nb: c\n").unwrap_err();
        let span = err.span.as_ref().unwrap();
        assert_eq!(span.file.path, PathBuf::from("bad.yml"));
        assert!(
            err.message.starts_with("YAML syntax error"),
            "{}",
            err.message
        );
    }
}
