//! YAML filters: `to_yaml`, `to_nice_yaml`, `from_yaml`, `from_yaml_all`.
//!
//! Output follows PyYAML's `yaml.dump` (which Ansible wraps): keys sorted by
//! default, flow style for collections of scalars in `to_yaml`, indentless
//! sequences inside mappings, strings quoted only when a plain scalar would
//! be read back as something else, and long lines folded at 80 columns.
//! Parsing uses serde-saphyr in YAML 1.1 mode (`yes`, `0644`) like PyYAML.

use std::fmt;
use std::sync::OnceLock;

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, Value};
use regex::Regex;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Params, fail, map_items, py_float, text_of};

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_nice_yaml);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("from_yaml_all", from_yaml_all);
}

// ---------------------------------------------------------------- dumping

/// A represented node (PyYAML's representer output).
enum Node {
    Scalar {
        text: String,
        /// Length of the shorthand tag (`!!str`), counted for simple keys.
        tag_len: usize,
        /// Whether the text may be written plain (it resolves to its tag).
        plain_implicit: bool,
    },
    Seq(Vec<Node>, bool),
    Map(Vec<(Node, Node)>, bool),
}

impl Node {
    fn is_scalar(&self) -> bool {
        matches!(self, Node::Scalar { .. })
    }
}

fn implicit_resolvers() -> &'static [Regex] {
    static RES: OnceLock<Vec<Regex>> = OnceLock::new();
    RES.get_or_init(|| {
        [
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
            r"^(?:<<)$",
            r"^(?:~|null|Null|NULL|)$",
            r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
            r"^(?:=)$",
        ]
        .iter()
        .filter_map(|r| Regex::new(r).ok())
        .collect()
    })
}

/// Whether a plain scalar with this text would be read as a non-string.
fn resolves_to_non_str(s: &str) -> bool {
    // Python's `$` also matches before a final newline
    let s = s.strip_suffix('\n').unwrap_or(s);
    implicit_resolvers().iter().any(|r| r.is_match(s))
}

/// PyYAML's float representation.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let v = py_float(f).to_lowercase();
    if !v.contains('.') && v.contains('e') {
        v.replacen('e', ".0e", 1)
    } else {
        v
    }
}

struct DumpOpts {
    sort_keys: bool,
    flow: Option<bool>,
}

fn scalar(text: String, tag_len: usize) -> Node {
    Node::Scalar {
        text,
        tag_len,
        plain_implicit: true,
    }
}

fn represent(name: &str, v: &Value, o: &DumpOpts, depth: usize) -> Result<Node, Error> {
    if depth > 500 {
        return Err(fail(name, "maximum recursion depth exceeded"));
    }
    Ok(match v.kind() {
        ValueKind::Undefined => return Err(fail(name, "cannot represent an undefined value")),
        ValueKind::None => scalar("null".into(), 6),
        ValueKind::Bool => scalar(if v.is_true() { "true" } else { "false" }.into(), 6),
        ValueKind::Number if v.is_integer() => scalar(v.to_string(), 5),
        ValueKind::Number => scalar(yaml_float(f64::try_from(v.clone()).unwrap_or(f64::NAN)), 7),
        ValueKind::String | ValueKind::Bytes => {
            let text = v.to_str().map(|s| s.to_string()).unwrap_or_default();
            Node::Scalar {
                plain_implicit: !resolves_to_non_str(&text),
                text,
                tag_len: 5,
            }
        }
        ValueKind::Map => {
            let mut items = map_items(v)?;
            if o.sort_keys {
                items.sort_by(|a, b| a.0.cmp(&b.0));
            }
            let mut pairs = Vec::with_capacity(items.len());
            for (k, val) in items {
                pairs.push((
                    represent(name, &k, o, depth + 1)?,
                    represent(name, &val, o, depth + 1)?,
                ));
            }
            let best = pairs.iter().all(|(k, v)| k.is_scalar() && v.is_scalar());
            Node::Map(pairs, o.flow.unwrap_or(best))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut items = Vec::new();
            for item in v.try_iter()?.checked() {
                items.push(represent(name, &item?, o, depth + 1)?);
            }
            let best = items.iter().all(Node::is_scalar);
            Node::Seq(items, o.flow.unwrap_or(best))
        }
        _ => scalar(v.to_string(), 5),
    })
}

/// PyYAML's scalar analysis.
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_flow_plain: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_ws_or_break(c: char) -> bool {
    matches!(c, '\0' | ' ' | '\t' | '\r') || is_break(c)
}

fn analyze(s: &str, allow_unicode: bool) -> Analysis {
    if s.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut block_ind = false;
    let mut flow_ind = false;
    let mut line_breaks = false;
    let mut special = false;
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = n == 1 || is_ws_or_break(chars[1]);
    let (mut prev_space, mut prev_break) = (false, false);
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_ind = true;
                block_ind = true;
            }
            if ch == '?' || ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_ind = true;
            }
            if ch == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if ch == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='\x7e').contains(&ch)) {
            let printable_unicode = (ch == '\u{85}'
                || ('\u{a0}'..='\u{d7ff}').contains(&ch)
                || ('\u{e000}'..='\u{fffd}').contains(&ch)
                || ('\u{10000}'..'\u{10ffff}').contains(&ch))
                && ch != '\u{feff}';
            if !printable_unicode || !allow_unicode {
                special = true;
            }
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == n - 1 {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == n - 1 {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_ws_or_break(ch);
        followed_by_ws = index + 2 >= n || is_ws_or_break(chars[index + 2]);
    }
    let mut a = Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: true,
        allow_block_plain: true,
        allow_single_quoted: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
    }
    if break_space || space_break || special {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
        a.allow_single_quoted = false;
    }
    if line_breaks {
        a.allow_flow_plain = false;
        a.allow_block_plain = false;
    }
    if flow_ind {
        a.allow_flow_plain = false;
    }
    if block_ind {
        a.allow_block_plain = false;
    }
    a
}

/// A port of PyYAML's emitter for block and flow styles.
struct Emitter {
    out: String,
    column: usize,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    best_indent: usize,
    best_width: usize,
    whitespace: bool,
    indention: bool,
    open_ended: bool,
    flow_level: usize,
    allow_unicode: bool,
    /// `default_style`: a scalar style used instead of plain (`|`, `>`, `'`, `"`).
    default_style: Option<char>,
}

impl Emitter {
    fn write(&mut self, s: &str) {
        self.column += s.chars().count();
        self.out.push_str(s);
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        match self.indent {
            None => self.indent = Some(if flow { self.best_indent } else { 0 }),
            Some(i) if !indentless => self.indent = Some(i + self.best_indent),
            Some(_) => {}
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, whitespace: bool, indention: bool) {
        if !self.whitespace && need_ws {
            self.write(" ");
        }
        self.write(ind);
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.open_ended = false;
    }

    fn write_line_break(&mut self, data: Option<char>) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data.unwrap_or('\n'));
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break(None);
        }
        if self.column < indent {
            self.whitespace = true;
            let pad = " ".repeat(indent - self.column);
            self.write(&pad);
        }
    }

    fn check_simple_key(&self, node: &Node) -> bool {
        match node {
            Node::Scalar { text, tag_len, .. } => {
                let a = analyze(text, self.allow_unicode);
                text.chars().count() + tag_len < 128 && !a.empty && !a.multiline
            }
            Node::Seq(items, _) => items.is_empty(),
            Node::Map(pairs, _) => pairs.is_empty(),
        }
    }

    fn expect_node(&mut self, node: &Node, root: bool, mapping: bool, simple_key: bool) {
        match node {
            Node::Scalar {
                text,
                plain_implicit,
                ..
            } => {
                self.increase_indent(true, false);
                self.process_scalar(text, *plain_implicit, root, simple_key);
                self.pop_indent();
            }
            Node::Seq(items, flow) => {
                if self.flow_level > 0 || *flow || items.is_empty() {
                    self.write_indicator("[", true, true, false);
                    self.flow_level += 1;
                    self.increase_indent(true, false);
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.write_indicator(",", false, false, false);
                        }
                        if self.column > self.best_width {
                            self.write_indent();
                        }
                        self.expect_node(item, false, false, false);
                    }
                    self.pop_indent();
                    self.flow_level -= 1;
                    self.write_indicator("]", false, false, false);
                } else {
                    let indentless = mapping && !self.indention;
                    self.increase_indent(false, indentless);
                    for item in items {
                        self.write_indent();
                        self.write_indicator("-", true, false, true);
                        self.expect_node(item, false, false, false);
                    }
                    self.pop_indent();
                }
            }
            Node::Map(pairs, flow) => {
                if self.flow_level > 0 || *flow || pairs.is_empty() {
                    self.write_indicator("{", true, true, false);
                    self.flow_level += 1;
                    self.increase_indent(true, false);
                    for (i, (k, v)) in pairs.iter().enumerate() {
                        if i > 0 {
                            self.write_indicator(",", false, false, false);
                        }
                        if self.column > self.best_width {
                            self.write_indent();
                        }
                        if self.check_simple_key(k) {
                            self.expect_node(k, false, true, true);
                            self.write_indicator(":", false, false, false);
                        } else {
                            self.write_indicator("?", true, false, false);
                            self.expect_node(k, false, true, false);
                            if self.column > self.best_width {
                                self.write_indent();
                            }
                            self.write_indicator(":", true, false, false);
                        }
                        self.expect_node(v, false, true, false);
                    }
                    self.pop_indent();
                    self.flow_level -= 1;
                    self.write_indicator("}", false, false, false);
                } else {
                    self.increase_indent(false, false);
                    for (k, v) in pairs {
                        self.write_indent();
                        if self.check_simple_key(k) {
                            self.expect_node(k, false, true, true);
                            self.write_indicator(":", false, false, false);
                        } else {
                            self.write_indicator("?", true, false, true);
                            self.expect_node(k, false, true, false);
                            self.write_indent();
                            self.write_indicator(":", true, false, true);
                        }
                        self.expect_node(v, false, true, false);
                    }
                    self.pop_indent();
                }
            }
        }
    }

    fn process_scalar(&mut self, text: &str, plain_implicit: bool, root: bool, simple_key: bool) {
        let a = analyze(text, self.allow_unicode);
        let split = !simple_key;
        if let Some(style) = self.default_style {
            // PyYAML's choose_scalar_style with a default style: never plain.
            let allow_block =
                !text.ends_with([' ', '\t']) && text.chars().all(|c| c == '\n' || !c.is_control());
            if style == '|' && self.flow_level == 0 && !simple_key && allow_block {
                self.write_literal(text);
            } else if matches!(style, '|' | '>' | '\'')
                && a.allow_single_quoted
                && !(simple_key && a.multiline)
                && style != '>'
            {
                self.write_single_quoted(text, split);
            } else {
                self.write_double_quoted(text, split);
            }
            return;
        }
        let plain_ok = if self.flow_level > 0 {
            a.allow_flow_plain
        } else {
            a.allow_block_plain
        };
        if plain_implicit && !(simple_key && (a.empty || a.multiline)) && plain_ok {
            self.write_plain(text, split, root);
        } else if a.allow_single_quoted && !(simple_key && a.multiline) {
            self.write_single_quoted(text, split);
        } else {
            self.write_double_quoted(text, split);
        }
    }

    /// PyYAML's `write_literal`: a `|` block scalar with its chomping hints.
    fn write_literal(&mut self, text: &str) {
        let chars: Vec<char> = text.chars().collect();
        let mut hints = String::new();
        if let (Some(first), Some(last)) = (chars.first(), chars.last()) {
            if *first == ' ' || is_break(*first) {
                hints.push_str(&self.best_indent.to_string());
            }
            if !is_break(*last) {
                hints.push('-');
            } else if chars.len() == 1 || is_break(chars[chars.len() - 2]) {
                hints.push('+');
            }
        }
        self.write_indicator(&format!("|{hints}"), true, false, false);
        if hints.ends_with('+') {
            self.open_ended = true;
        }
        self.write_line_break(None);
        let (mut breaks, mut start) = (true, 0);
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if breaks {
                if ch.is_none_or(|c| !is_break(c)) {
                    for &br in &chars[start..end] {
                        self.write_line_break(if br == '\n' { None } else { Some(br) });
                    }
                    if ch.is_some() {
                        self.write_indent();
                    }
                    start = end;
                }
            } else if ch.is_none_or(is_break) {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                if ch.is_none() {
                    self.write_line_break(None);
                }
                start = end;
            }
            if let Some(c) = ch {
                breaks = is_break(c);
            }
        }
    }

    fn write_breaks(&mut self, chars: &[char]) {
        if chars.first() == Some(&'\n') {
            self.write_line_break(None);
        }
        for &br in chars {
            self.write_line_break(if br == '\n' { None } else { Some(br) });
        }
        self.write_indent();
    }

    fn write_plain(&mut self, text: &str, split: bool, root: bool) {
        if root {
            self.open_ended = true;
        }
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    self.write_breaks(&chars[start..end]);
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || is_break(c)) {
                let s: String = chars[start..end].iter().collect();
                self.write(&s);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=n {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > self.best_width
                        && split
                        && start != 0
                        && end != n
                    {
                        self.write_indent();
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    self.write_breaks(&chars[start..end]);
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || c == '\'' || is_break(c)) && start < end {
                let s: String = chars[start..end].iter().collect();
                self.write(&s);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        let mut start = 0;
        for end in 0..=n {
            let ch = chars.get(end).copied();
            let needs_escape = |c: char| {
                "\"\\\u{85}\u{2028}\u{2029}\u{feff}".contains(c)
                    || !((' '..='\x7e').contains(&c)
                        || (self.allow_unicode
                            && (('\u{a0}'..='\u{d7ff}').contains(&c)
                                || ('\u{e000}'..='\u{fffd}').contains(&c))))
            };
            if ch.is_none_or(needs_escape) {
                if start < end {
                    let s: String = chars[start..end].iter().collect();
                    self.write(&s);
                    start = end;
                }
                if let Some(c) = ch {
                    let esc = match c {
                        '\0' => "\\0".to_string(),
                        '\x07' => "\\a".into(),
                        '\x08' => "\\b".into(),
                        '\t' => "\\t".into(),
                        '\n' => "\\n".into(),
                        '\x0b' => "\\v".into(),
                        '\x0c' => "\\f".into(),
                        '\r' => "\\r".into(),
                        '\x1b' => "\\e".into(),
                        '"' => "\\\"".into(),
                        '\\' => "\\\\".into(),
                        '\u{85}' => "\\N".into(),
                        '\u{a0}' => "\\_".into(),
                        '\u{2028}' => "\\L".into(),
                        '\u{2029}' => "\\P".into(),
                        c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&esc);
                    start = end + 1;
                }
            }
            if end > 0
                && end + 1 < n
                && (ch == Some(' ') || start >= end)
                && self.column as isize + end as isize - start as isize > self.best_width as isize
                && split
            {
                let mut s: String = chars[start.min(end)..end].iter().collect();
                s.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&s);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if chars.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

/// PyYAML's `yaml.dump` of one document.
fn dump(name: &str, v: &Value, p: &Params, nice: bool) -> Result<String, Error> {
    let indent = p.int("indent")?.unwrap_or(if nice { 4 } else { 2 });
    let best_indent = if (2..10).contains(&indent) {
        indent as usize
    } else {
        2
    };
    let width = p.int("width")?.unwrap_or(80);
    let best_width = if width > (best_indent as i64) * 2 {
        width as usize
    } else {
        80
    };
    let flow = if nice {
        Some(false)
    } else {
        p.some("default_flow_style").map(|v| v.is_true())
    };
    let opts = DumpOpts {
        sort_keys: p.flag("sort_keys", true),
        flow,
    };
    let node = represent(name, v, &opts, 0)?;
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        indent: None,
        indents: Vec::new(),
        best_indent,
        best_width,
        whitespace: true,
        indention: true,
        open_ended: false,
        flow_level: 0,
        allow_unicode: p.flag("allow_unicode", true),
        default_style: match p.string("default_style")?.as_deref() {
            None | Some("") => None,
            Some(s @ ("|" | ">" | "'" | "\"")) => s.chars().next(),
            Some(other) => {
                return Err(fail(name, format!("unknown default_style {other:?}")));
            }
        },
    };
    if p.flag("canonical", false) {
        // PyYAML's canonical form; here for scalars only.
        let tag = match v.kind() {
            ValueKind::String => "str",
            ValueKind::None => "null",
            ValueKind::Bool => "bool",
            ValueKind::Number if v.is_integer() => "int",
            ValueKind::Number => "float",
            _ => {
                return Err(fail(
                    name,
                    "canonical=True is supported for scalars only (not supported yet for collections)",
                ));
            }
        };
        let Node::Scalar { text, .. } = &node else {
            return Err(fail(name, "canonical=True is supported for scalars only"));
        };
        e.write_indicator("---", true, false, false);
        e.write_indent();
        e.write_indicator(&format!("!!{tag}"), true, false, false);
        e.write_double_quoted(text, true);
        e.write_indent();
        return Ok(e.out);
    }
    if p.flag("explicit_start", false) {
        e.write_indent();
        e.write_indicator("---", true, false, false);
    }
    e.expect_node(&node, true, false, false);
    e.write_indent();
    if p.flag("explicit_end", false) {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    if e.open_ended {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    Ok(e.out)
}

const YAML_PARAMS: &[&str] = &[
    "indent",
    "sort_keys",
    "default_flow_style",
    "width",
    "explicit_start",
    "explicit_end",
    "allow_unicode",
    "default_style",
    "canonical",
];

/// `to_yaml(indent=2, sort_keys=True, default_flow_style=None, ...)`.
fn to_yaml(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("to_yaml", YAML_PARAMS, args, kwargs)?;
    dump("to_yaml", value, &p, false)
}

/// `to_nice_yaml(indent=4, sort_keys=True, ...)`: block style throughout.
fn to_nice_yaml(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("to_nice_yaml", YAML_PARAMS, args, kwargs)?;
    dump("to_nice_yaml", value, &p, true)
}

// ---------------------------------------------------------------- loading

/// A template value read from YAML.
struct YamlValue(Value);

impl<'de> Deserialize<'de> for YamlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = YamlValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_i128<E>(self, v: i128) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_u128<E>(self, v: u128) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_string<E>(self, v: String) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(v)))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from_bytes(v.to_vec())))
    }
    fn visit_unit<E>(self) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(())))
    }
    fn visit_none<E>(self) -> Result<YamlValue, E> {
        Ok(YamlValue(Value::from(())))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<YamlValue, D::Error> {
        YamlValue::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<YamlValue, D::Error> {
        YamlValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlValue, A::Error> {
        let mut items = Vec::new();
        while let Some(YamlValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(YamlValue(Value::from(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlValue, A::Error> {
        let mut pairs: Vec<(Value, Value)> = Vec::new();
        while let Some((YamlValue(k), YamlValue(v))) = map.next_entry()? {
            // like a Python dict: a repeated key keeps its place, last value wins
            if let Some(slot) = pairs.iter_mut().find(|(pk, _)| *pk == k) {
                slot.1 = v;
            } else {
                pairs.push((k, v));
            }
        }
        Ok(YamlValue(Value::from_pairs(pairs)))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<YamlValue, A::Error> {
        use de::VariantAccess;
        let (YamlValue(tag), variant) = data.variant::<YamlValue>()?;
        let YamlValue(v) = variant.newtype_variant::<YamlValue>()?;
        Ok(YamlValue(Value::from_pairs([(tag, v)])))
    }
}

fn yaml_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.legacy_octal_numbers = true;
    o.with_snippet = false;
    o
}

/// `from_yaml`: parses one YAML document (non-strings are returned as is).
fn from_yaml(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    Params::bind("from_yaml", &[], args, kwargs)?;
    if !matches!(
        value.kind(),
        ValueKind::String | ValueKind::Bytes | ValueKind::Undefined
    ) {
        return Ok(value.clone());
    }
    let text = text_of("from_yaml", value)?;
    if text.trim().is_empty() {
        return Ok(Value::from(()));
    }
    serde_saphyr::from_str_with_options::<Option<YamlValue>>(&text, yaml_options())
        .map(|v| v.map_or(Value::from(()), |v| v.0))
        .map_err(|e| fail("from_yaml", format!("invalid YAML: {e}")))
}

/// `from_yaml_all`: parses a multi-document YAML stream into a list.
fn from_yaml_all(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    Params::bind("from_yaml_all", &[], args, kwargs)?;
    if value.is_none() {
        // Ansible: None gives an empty list (as an empty string does).
        return Ok(Value::from(Vec::<Value>::new()));
    }
    if !matches!(
        value.kind(),
        ValueKind::String | ValueKind::Bytes | ValueKind::Undefined
    ) {
        return Ok(value.clone());
    }
    let text = text_of("from_yaml_all", value)?;
    serde_saphyr::from_str_multiple_with_options::<YamlValue, Vec<YamlValue>>(&text, yaml_options())
        .map(|docs| Value::from(docs.into_iter().map(|d| d.0).collect::<Vec<_>>()))
        .map_err(|e| fail("from_yaml_all", format!("invalid YAML: {e}")))
}
