//! Jinja2 templating with Ansible's filters, tests and variable resolution.
//!
//! Variables are resolved lazily as Ansible does: a variable whose value is
//! itself a template is rendered when a template uses it, in the same scope.
//! Only the variables an expression actually names are resolved, so an
//! undefined variable is reported by name, and cycles are detected.

pub mod filters;
pub mod jinja_tests;
mod lookup;
mod minus;
pub(crate) mod percent;
mod taint;

pub use lookup::{find_file, run_lookup, search_dirs, sequence, set_inventory, set_search_dirs};

use crate::vars::Vars;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use thiserror::Error;

/// The placeholder `omit` renders to; arguments equal to it are dropped.
pub const OMIT: &str = "__omit_place_holder__tend";

/// A templating failure.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{message}")]
pub struct TemplateError {
    /// What went wrong, naming the undefined variable when that is the cause.
    pub message: String,
    /// The cause is an undefined variable, attribute or element.
    pub undefined: bool,
}

impl TemplateError {
    fn new(message: impl Into<String>) -> Self {
        TemplateError {
            message: message.into(),
            undefined: false,
        }
    }

    fn undefined(message: impl Into<String>) -> Self {
        TemplateError {
            undefined: true,
            ..TemplateError::new(message)
        }
    }
}

/// The key marking a `!unsafe` string inside data: `{UNSAFE_KEY: "text"}`.
pub const UNSAFE_KEY: &str = "__ansible_unsafe";

/// Wraps text that must never be templated (`!unsafe`).
pub fn unsafe_value(text: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(UNSAFE_KEY.into(), Value::String(text.to_string()));
    Value::Object(m)
}

/// The text of a `!unsafe` value, if `v` is one.
pub fn unsafe_str(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) => unsafe_text(m),
        _ => None,
    }
}

fn unsafe_text(map: &serde_json::Map<String, Value>) -> Option<&str> {
    match (map.len(), map.get(UNSAFE_KEY)) {
        (1, Some(Value::String(s))) => Some(s),
        _ => None,
    }
}

/// Decrypts an inline `!vault` value (the hook where a value becomes secret).
fn open_vault(vault_text: &str) -> Result<Value, TemplateError> {
    crate::vault::open_marker(vault_text)
        .map(Value::String)
        .map_err(|e| TemplateError::new(e.to_string()))
}

/// Doubles backslashes inside string literals of `{{ ... }}` blocks, as
/// Ansible does for strings written in playbooks: a YAML `'\1'` reaches the
/// regex filter as `\1`, not as the control character Jinja would make of it.
/// (`whole_expression`: the text is a bare expression, e.g. a `when:`.)
pub fn escape_backslashes(source: &str, whole_expression: bool) -> std::borrow::Cow<'_, str> {
    if !source.contains('\\') {
        return std::borrow::Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + 8);
    let mut in_expr = whole_expression;
    let mut quote: Option<char> = None;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    out.push_str("\\\\");
                    if let Some(n) = chars.next() {
                        if n == '\\' {
                            out.push_str("\\\\");
                        } else {
                            out.push(n);
                        }
                    }
                    continue;
                }
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None => {
                out.push(c);
                if !whole_expression && c == '{' && chars.peek() == Some(&'{') {
                    out.push('{');
                    chars.next();
                    in_expr = true;
                } else if !whole_expression && c == '}' && chars.peek() == Some(&'}') {
                    out.push('}');
                    chars.next();
                    in_expr = false;
                } else if in_expr && (c == '"' || c == '\'') {
                    quote = Some(c);
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Python syntax minijinja lacks, rewritten before a template or bare
/// expression is compiled: `'fmt' % args` ([`percent`]), `-` on dates
/// ([`minus`]) and unary `+`.
pub fn python_syntax(source: &str, whole_expression: bool) -> std::borrow::Cow<'_, str> {
    let source = python_operators(source, whole_expression);
    match unary_plus(&source, whole_expression) {
        std::borrow::Cow::Borrowed(_) => source,
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s),
    }
}

/// `'fmt' % args` ([`percent`]) and `-` on dates ([`minus`]) rewritten.
fn python_operators(source: &str, whole_expression: bool) -> std::borrow::Cow<'_, str> {
    match percent::rewrite(source, whole_expression) {
        std::borrow::Cow::Borrowed(_) => minus::rewrite(source, whole_expression),
        std::borrow::Cow::Owned(s) => {
            std::borrow::Cow::Owned(minus::rewrite(&s, whole_expression).into_owned())
        }
    }
}

/// Drops the unary `+` of number literals inside `{{ ... }}` (or in a bare
/// expression): Jinja reads `+2.5` as `2.5`, minijinja has no unary plus.
pub fn unary_plus(source: &str, whole_expression: bool) -> std::borrow::Cow<'_, str> {
    if !source.contains('+') {
        return std::borrow::Cow::Borrowed(source);
    }
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut in_expr = whole_expression;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match quote {
            Some(q) => {
                if c == '\\' {
                    out.push(c);
                    if let Some(n) = next {
                        out.push(n);
                    }
                    i += 2;
                    continue;
                }
                if c == q {
                    quote = None;
                }
            }
            None if !whole_expression && c == '{' && next == Some('{') => in_expr = true,
            None if !whole_expression && c == '}' && next == Some('}') => in_expr = false,
            None if in_expr && (c == '"' || c == '\'') => quote = Some(c),
            None if in_expr && c == '+' => {
                let before = out.trim_end().chars().next_back();
                let unary = before.is_none_or(|b| "([{,:=+-*/%<>!~|".contains(b))
                    || out.trim_end().ends_with(" in")
                    || out.trim_end().ends_with(" not")
                    || out.trim_end().ends_with(" and")
                    || out.trim_end().ends_with(" or");
                let after = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if unary && after.is_some_and(|a| a.is_ascii_digit() || *a == '.') {
                    i += 1;
                    continue;
                }
            }
            None => {}
        }
        out.push(c);
        i += 1;
    }
    if out == source {
        std::borrow::Cow::Borrowed(source)
    } else {
        std::borrow::Cow::Owned(out)
    }
}

/// True when a string holds a Jinja expression, statement or comment.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The template engine: one per run, shared by all hosts.
pub struct Templar {
    env: Environment<'static>,
    file_env: Environment<'static>,
}

impl Default for Templar {
    fn default() -> Self {
        Templar::new()
    }
}

fn configure(env: &mut Environment<'static>) {
    // Ansible's undefined is chainable (`a.b.c | default(x)` works when `a` is
    // undefined), but printing one is an error. Using an undefined variable in
    // any other way is caught before evaluation (see `unguarded_undefined`).
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_formatter(|out, state, value| {
        if value.is_undefined() {
            return Err(minijinja::Error::from(ErrorKind::UndefinedError));
        }
        if value.is_none() {
            // ansible-core 2.19 renders None inside a string as nothing.
            return Ok(());
        }
        taint::emitted(value);
        if *state.auto_escape() == minijinja::AutoEscape::None
            && let Some(text) = python_str(value)
        {
            return out.write_str(&text).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.set_recursion_limit(200);
    // Python's str/dict/list methods (`d.items()`, `s.split(',')`), as in Jinja2.
    env.set_unknown_method_callback(|state, value, method, args| {
        // `list.index(x)` / `list.count(x)`, which pycompat lacks.
        if value.kind() == minijinja::value::ValueKind::Seq
            && matches!(method, "index" | "count")
            && let [needle] = args
        {
            let items: Vec<minijinja::Value> = value.try_iter()?.collect();
            if method == "count" {
                return Ok(minijinja::Value::from(
                    items.iter().filter(|i| *i == needle).count(),
                ));
            }
            return match items.iter().position(|i| i == needle) {
                Some(n) => Ok(minijinja::Value::from(n)),
                None => Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{needle} is not in list"),
                )),
            };
        }
        if method == "format"
            && let Some(text) = value.as_str()
            && format_too_wide(text)
        {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "format: width or precision too big",
            ));
        }
        minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
    });
    filters::register(env);
    jinja_tests::register(env);
    lookup::register(env);
}

/// Python's `str()` of a float, or of a list or mapping of plain data, as
/// Ansible renders one into text (`1e+16`, `[True, None, 'a', 1e-05]`, a
/// tuple as a list); `None` for what minijinja already renders as Python.
fn python_str(value: &minijinja::Value) -> Option<String> {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Number if !value.is_integer() => {
            f64::try_from(value.clone()).ok().map(filters::py_float)
        }
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => python_repr(value, 0),
        _ => None,
    }
}

/// Python's `repr()` of plain data (`None` when it holds anything else).
fn python_repr(value: &minijinja::Value, depth: usize) -> Option<String> {
    use minijinja::value::ValueKind;
    if depth > 100 {
        return None;
    }
    Some(match value.kind() {
        ValueKind::None => "None".into(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => filters::py_float(f64::try_from(value.clone()).ok()?),
        ValueKind::String => filters::extra::py_repr_str(value.as_str()?, false),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Option<Vec<String>> = value
                .try_iter()
                .ok()?
                .map(|item| python_repr(&item, depth + 1))
                .collect();
            format!("[{}]", items?.join(", "))
        }
        ValueKind::Map
            if value
                .as_object()
                .is_none_or(|o| matches!(o.repr(), minijinja::value::ObjectRepr::Map)) =>
        {
            let mut items = Vec::new();
            for key in value.try_iter().ok()? {
                let item = value.get_item(&key).ok()?;
                items.push(format!(
                    "{}: {}",
                    python_repr(&key, depth + 1)?,
                    python_repr(&item, depth + 1)?
                ));
            }
            format!("{{{}}}", items.join(", "))
        }
        _ => return None,
    })
}

/// Whether `str.format`'s template asks for a width or precision too big
/// to build (more than 10,000,000) in a field's spec (nested fields, which
/// could take one from the arguments, are refused by pycompat already).
fn format_too_wide(template: &str) -> bool {
    const MAX: u64 = 10_000_000;
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(literal) = after.strip_prefix('{') {
            rest = literal;
            continue;
        }
        let field = after.split('}').next().unwrap_or_default();
        if let Some((_, spec)) = field.split_once(':')
            && spec
                .split(|c: char| !c.is_ascii_digit())
                .any(|d| !d.is_empty() && d.parse::<u64>().map_or(true, |n| n > MAX))
        {
            return true;
        }
        rest = after;
    }
    false
}

fn syntax(trim_blocks: bool) -> minijinja::syntax::SyntaxConfig {
    syntax_with(&FileOptions {
        trim_blocks,
        ..FileOptions::default()
    })
}

fn syntax_with(o: &FileOptions) -> minijinja::syntax::SyntaxConfig {
    try_syntax(o).unwrap_or_default()
}

fn try_syntax(o: &FileOptions) -> Result<minijinja::syntax::SyntaxConfig, TemplateError> {
    let mut b = minijinja::syntax::SyntaxConfig::builder();
    b.trim_blocks(o.trim_blocks)
        .lstrip_blocks(o.lstrip_blocks)
        .keep_trailing_newline(o.keep_trailing_newline)
        .block_delimiters(o.block.0.clone(), o.block.1.clone())
        .variable_delimiters(o.variable.0.clone(), o.variable.1.clone())
        .comment_delimiters(o.comment.0.clone(), o.comment.1.clone());
    if let Some(p) = &o.line_statement_prefix {
        b.line_statement_prefix(p.clone());
    }
    if let Some(p) = &o.line_comment_prefix {
        b.line_comment_prefix(p.clone());
    }
    b.build()
        .map_err(|e| TemplateError::new(format!("invalid Jinja delimiters: {}", describe(&e))))
}

/// Jinja options of the template module (and of a `#jinja2:` header line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// `trim_blocks` (Ansible's default: on).
    pub trim_blocks: bool,
    /// `lstrip_blocks` (default off).
    pub lstrip_blocks: bool,
    /// `keep_trailing_newline` (off: as Ansible, the newlines that end
    /// the template are added back to its output, see [`trailing_newlines`]).
    pub keep_trailing_newline: bool,
    /// `block_start_string`, `block_end_string` (`{%`, `%}`).
    pub block: (String, String),
    /// `variable_start_string`, `variable_end_string` (`{{`, `}}`).
    pub variable: (String, String),
    /// `comment_start_string`, `comment_end_string` (`{#`, `#}`).
    pub comment: (String, String),
    /// `line_statement_prefix` (none by default).
    pub line_statement_prefix: Option<String>,
    /// `line_comment_prefix` (none by default).
    pub line_comment_prefix: Option<String>,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            keep_trailing_newline: false,
            block: ("{%".into(), "%}".into()),
            variable: ("{{".into(), "}}".into()),
            comment: ("{#".into(), "#}".into()),
            line_statement_prefix: None,
            line_comment_prefix: None,
        }
    }
}

impl FileOptions {
    /// Sets one option by its Ansible name (`variable_start_string`, ...)
    /// from text; booleans accept Python's and YAML's spellings.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), TemplateError> {
        let flag = || match value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            other => Err(TemplateError::new(format!(
                "`{key}` expects True or False, got `{other}`"
            ))),
        };
        let text = || value.to_string();
        match key {
            "trim_blocks" => self.trim_blocks = flag()?,
            "lstrip_blocks" => self.lstrip_blocks = flag()?,
            "keep_trailing_newline" => self.keep_trailing_newline = flag()?,
            "block_start_string" => self.block.0 = text(),
            "block_end_string" => self.block.1 = text(),
            "variable_start_string" => self.variable.0 = text(),
            "variable_end_string" => self.variable.1 = text(),
            "comment_start_string" => self.comment.0 = text(),
            "comment_end_string" => self.comment.1 = text(),
            "line_statement_prefix" => self.line_statement_prefix = Some(text()),
            "line_comment_prefix" => self.line_comment_prefix = Some(text()),
            other => {
                return Err(TemplateError::new(format!(
                    "option `{other}` is not supported yet"
                )));
            }
        }
        Ok(())
    }
}

/// The value of a `#jinja2:` override: a Python literal (`'<<'`, `":"`, `True`).
fn header_literal(key: &str, val: &str) -> Result<String, TemplateError> {
    let v = val.trim();
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return Ok(v[1..v.len() - 1].to_string());
        }
    }
    match v {
        "True" | "False" => Ok(v.to_string()),
        _ => Err(TemplateError::new(format!(
            "Invalid '#jinja2:' override value for {key:?}: {v:?} is not a Python literal."
        ))),
    }
}

/// Applies a leading `#jinja2: trim_blocks: False, variable_start_string: '<<'`
/// line (which is removed from the output), as Ansible's template module does.
pub fn apply_header(
    source: &str,
    mut o: FileOptions,
) -> Result<(FileOptions, &str), TemplateError> {
    let Some(rest) = source.strip_prefix("#jinja2:") else {
        return Ok((o, source));
    };
    let Some((line, body)) = rest.split_once('\n') else {
        return Err(TemplateError::new(
            "Missing newline after '#jinja2:' override.",
        ));
    };
    for pair in line.split(',') {
        if pair.trim().is_empty() {
            return Err(TemplateError::new(
                "Empty '#jinja2:' override pair not allowed.",
            ));
        }
        let Some((k, v)) = pair.split_once(':') else {
            return Err(TemplateError::new(format!(
                "Missing key-value separator `:` in '#jinja2:' override pair '{pair}'."
            )));
        };
        let k = k.trim();
        let v = header_literal(k, v)?;
        o.set(k, &v).map_err(|e| TemplateError {
            message: format!("Invalid '#jinja2:' override key '{k}': {}", e.message),
            ..e
        })?;
    }
    Ok((o, body))
}

/// The sources of the templates a file environment's loader read.
type Loaded = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// An environment for template files with `options`, whose `{% include %}`,
/// `{% import %}`, `{% from %}` and `{% extends %}` read templates by name
/// from the first of `dirs` that has them; what it read is recorded.
pub(crate) fn file_environment(
    options: &FileOptions,
    dirs: Vec<std::path::PathBuf>,
) -> Result<(Environment<'static>, Loaded), TemplateError> {
    let mut env = Environment::new();
    configure(&mut env);
    env.set_syntax(try_syntax(options)?);
    let loaded = Loaded::default();
    let record = loaded.clone();
    env.set_loader(move |name| {
        let Some(path) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("could not read template '{}': {e}", path.display()),
            )
        })?;
        if let Ok(mut r) = record.lock() {
            r.push(text.clone());
        }
        Ok(Some(macro_closures(&text).into_owned()))
    });
    Ok((env, loaded))
}

/// `out` ending with as many newlines as `source` at least, as Ansible
/// renders a template file or a string (Jinja drops the last one, and block
/// tags eat those after them; included templates keep none).
pub(crate) fn trailing_newlines(source: &str, mut out: String) -> String {
    let count = |s: &str| s.len() - s.trim_end_matches('\n').len();
    let missing = count(source).saturating_sub(count(&out));
    out.push_str(&"\n".repeat(missing));
    out
}

/// `path is [not] ansible._protomatter.tagged_with('TrustedAsTemplate')`
/// replaced by its answer: tend keeps no tags on values, but knows where a
/// variable comes from (see [`trusted_as_template`]). Other tags are not
/// supported yet.
fn trust_tests<'s>(
    source: &'s str,
    scope: &Scope,
) -> Result<std::borrow::Cow<'s, str>, TemplateError> {
    static TEST: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"([A-Za-z_][0-9A-Za-z_]*(?:\.[A-Za-z_][0-9A-Za-z_]*|\[\s*(?:'[^']*'|"[^"]*"|[0-9]+)\s*\])*)\s+is\s+(not\s+)?ansible\._protomatter\.tagged_with\(\s*(?:'([0-9A-Za-z_]+)'|"([0-9A-Za-z_]+)")\s*\)"#,
        )
        .ok()
    });
    if !source.contains("tagged_with") {
        return Ok(std::borrow::Cow::Borrowed(source));
    }
    let Some(re) = TEST.as_ref() else {
        return Ok(std::borrow::Cow::Borrowed(source));
    };
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for c in re.captures_iter(source) {
        let (Some(all), Some(path)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let tag = c.get(3).or(c.get(4)).map_or("", |m| m.as_str());
        if tag != "TrustedAsTemplate" {
            return Err(TemplateError::new(format!(
                "the tagged_with test knows only the TrustedAsTemplate tag; '{tag}' is not supported yet"
            )));
        }
        let answer = trusted_as_template(scope, path.as_str(), 0) != c.get(2).is_some();
        out.push_str(&source[last..all.start()]);
        out.push_str(if answer { "true" } else { "false" });
        last = all.end();
    }
    out.push_str(&source[last..]);
    Ok(std::borrow::Cow::Owned(out))
}

/// Whether the value at `path` is trusted as a template in Ansible 2.19:
/// text written in a playbook or inventory (not `!unsafe`), directly or
/// through `{{ other_path }}` indirections; never a value computed by a
/// template or produced at run time (facts, registered results, lookups).
fn trusted_as_template(scope: &Scope, path: &str, depth: usize) -> bool {
    match scope.passed_through(&format!("{{{{ {path} }}}}")) {
        Some(Value::String(s)) if is_template(&s) => {
            depth < 20
                && single_expression(&s)
                    .filter(|p| is_variable_path(p))
                    .is_some_and(|p| trusted_as_template(scope, p, depth + 1))
        }
        Some(Value::String(_)) => true,
        _ => false,
    }
}

/// Whether an undefined value caused `err` (also through an include).
pub(crate) fn caused_by_undefined(err: &minijinja::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<minijinja::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::UndefinedError)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// `source` with the names a template assigns (`set`, `import ... as`,
/// `from ... import`) made visible to the `{% include %}` of a macro
/// defined after them, as in Jinja2: minijinja's macros see only the
/// names their own body uses, so each such macro body first mentions them
/// (`{% if false %}{{ name }}{% endif %}`, which outputs nothing).
pub(crate) fn macro_closures(source: &str) -> std::borrow::Cow<'_, str> {
    static ASSIGN: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"\{%[-+]?\s*(?:set\s+([A-Za-z_][0-9A-Za-z_]*)|import\s+.*?\s+as\s+([A-Za-z_][0-9A-Za-z_]*)(?:\s+with(?:out)?\s+context)?|from\s+.*?\s+import\s+(.*?))\s*[-+]?%\}",
        )
        .ok()
    });
    static MACRO: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?s)\{%[-+]?\s*macro(?-u:\b).*?%\}(.*?)\{%[-+]?\s*endmacro").ok()
    });
    let (Some(assign), Some(macro_re)) = (ASSIGN.as_ref(), MACRO.as_ref()) else {
        return std::borrow::Cow::Borrowed(source);
    };
    if !source.contains("macro") || !source.contains("include") {
        return std::borrow::Cow::Borrowed(source);
    }
    let mut assigned: Vec<(usize, String)> = Vec::new();
    for c in assign.captures_iter(source) {
        let at = c.get(0).map_or(0, |m| m.start());
        if let Some(n) = c.get(1).or(c.get(2)) {
            assigned.push((at, n.as_str().to_string()));
        } else if let Some(list) = c.get(3) {
            let list = list
                .as_str()
                .trim_end_matches("with context")
                .trim_end_matches("without context");
            for item in list.split(',') {
                if let Some(name) = item.split_whitespace().last() {
                    assigned.push((at, name.to_string()));
                }
            }
        }
    }
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for c in macro_re.captures_iter(source) {
        let (Some(all), Some(body)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let names: Vec<&str> = assigned
            .iter()
            .filter(|(at, _)| *at < all.start())
            .map(|(_, n)| n.as_str())
            .filter(|n| n.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .collect();
        if names.is_empty() || !body.as_str().contains("include") {
            continue;
        }
        out.push_str(&source[last..body.start()]);
        out.push_str("{% if false %}");
        for n in names {
            out.push_str(&format!("{{{{ {n} }}}}"));
        }
        out.push_str("{% endif %}");
        last = body.start();
    }
    if last == 0 {
        return std::borrow::Cow::Borrowed(source);
    }
    out.push_str(&source[last..]);
    std::borrow::Cow::Owned(out)
}

/// The undefined variable an included or imported template used, to name
/// it in the error (minijinja's undefined error does not): the first
/// variable of the templates `loaded` read that `known` does not have.
pub(crate) fn undefined_included(
    env: &Environment<'static>,
    loaded: &Loaded,
    known: impl Fn(&str) -> bool,
) -> Option<String> {
    let sources = loaded.lock().map(|l| l.clone()).unwrap_or_default();
    sources.iter().find_map(|src| {
        let tmpl = env.template_from_str(src).ok()?;
        let mut names: Vec<String> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|n| !known(n) && env.globals().all(|(g, _)| g != n.as_str()))
            .collect();
        names.sort_by_key(|n| (first_use(src, n), n.clone()));
        names.into_iter().next()
    })
}

/// Where a template file's `{% include %}` and `{% import %}` look, as
/// Ansible's template module and lookup: the template's own directory,
/// then `templates/` and the directory itself of the task's role and of
/// the playbook.
pub fn include_dirs(template: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = template
        .parent()
        .map(|p| p.to_path_buf())
        .into_iter()
        .collect();
    for d in search_dirs() {
        let base = match d.file_name() {
            Some(n) if n == "files" || n == "templates" => {
                d.parent().map(|p| p.to_path_buf()).unwrap_or(d)
            }
            _ => d,
        };
        for p in [base.join("templates"), base] {
            if !dirs.contains(&p) {
                dirs.push(p);
            }
        }
    }
    dirs
}

/// Whether a template reads other templates (`include`, `import`, `from`,
/// `extends`): their variables are not known before rendering.
fn uses_other_templates(source: &str) -> bool {
    static TAG: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\{%[-+]?\s*(include|import|from|extends)(?-u:\b)").ok()
    });
    TAG.as_ref().is_some_and(|re| re.is_match(source))
}

impl Templar {
    /// An engine with Ansible's filters, tests and lookups.
    pub fn new() -> Self {
        let mut env = Environment::new();
        configure(&mut env);
        // Strings as Ansible templates them: the newline after a block
        // tag is dropped (trim_blocks), a trailing newline kept.
        env.set_syntax(syntax_with(&FileOptions {
            trim_blocks: true,
            keep_trailing_newline: true,
            ..FileOptions::default()
        }));
        let mut file_env = Environment::new();
        configure(&mut file_env);
        // The template module's defaults: trim_blocks on, trailing newline kept.
        file_env.set_syntax(syntax(true));
        Templar { env, file_env }
    }

    /// Checks the Jinja syntax of a string (compile time).
    pub fn check_syntax(&self, source: &str) -> Result<(), TemplateError> {
        if !is_template(source) {
            return Ok(());
        }
        self.env
            .template_from_str(&python_syntax(source, false))
            .map(|_| ())
            .map_err(|e| TemplateError::new(describe(&e)))
    }

    /// Checks the syntax of a bare expression (`when:`, `changed_when:`).
    pub fn check_expression(&self, expr: &str) -> Result<(), TemplateError> {
        if is_template(expr) && single_expression(expr.trim()).is_none() {
            return self.check_syntax(expr);
        }
        let expr = strip_braces(expr);
        self.env
            .compile_expression(&python_syntax(expr, true))
            .map(|_| ())
            .map_err(|e| TemplateError::new(describe(&e)))
    }

    /// Checks a template file's syntax.
    pub fn check_file_syntax(&self, source: &str) -> Result<(), TemplateError> {
        self.file_env
            .template_from_str(&python_operators(source, false))
            .map(|_| ())
            .map_err(|e| TemplateError::new(describe(&e)))
    }

    /// The variables a bare expression reads from its context (not Jinja
    /// globals such as `lookup` or `range`); `None` when it does not compile.
    pub fn expression_names(&self, expr: &str) -> Option<HashSet<String>> {
        let text = python_syntax(expr, true);
        let compiled = self.env.compile_expression(&text).ok()?;
        Some(self.without_globals(compiled.undeclared_variables(false)))
    }

    /// The variables a template reads from its context (not what it sets
    /// itself, nor Jinja globals): a string of the playbook, or a template
    /// file when `file`; `None` when it does not compile.
    pub fn template_names(&self, source: &str, file: bool) -> Option<HashSet<String>> {
        let names = if file {
            let text = percent::rewrite(source, false);
            self.file_env
                .template_from_str(&text)
                .ok()?
                .undeclared_variables(false)
        } else {
            let text = python_syntax(source, false);
            self.env
                .template_from_str(&text)
                .ok()?
                .undeclared_variables(false)
        };
        Some(self.without_globals(names))
    }

    fn without_globals(&self, mut names: HashSet<String>) -> HashSet<String> {
        names.retain(|n| self.env.globals().all(|(g, _)| g != n.as_str()));
        names
    }

    /// Templates every string in a value; a string that is one `{{ expr }}`
    /// keeps the expression's type (Ansible's native types).
    pub fn render_value(&self, value: &Value, scope: &Scope) -> Result<Value, TemplateError> {
        match value {
            Value::String(s) => self.render_string(s, scope),
            Value::Array(items) => items
                .iter()
                .map(|v| self.render_value(v, scope))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Value::Object(map) if unsafe_text(map).is_some() => Ok(Value::String(
                unsafe_text(map).unwrap_or_default().to_string(),
            )),
            // An inline `!vault` value: decrypted here, at use (never shown as ciphertext).
            Value::Object(map) if crate::vault::marker_text(map).is_some() => {
                open_vault(crate::vault::marker_text(map).unwrap_or_default())
            }
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let key = if is_template(k) {
                        value_to_key(self.render_string(k, scope)?)
                    } else {
                        k.clone()
                    };
                    out.insert(key, self.render_value(v, scope)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// A compiled bare expression.
    fn expression<'s>(
        &'s self,
        expr: &'s str,
    ) -> Result<minijinja::Expression<'s, 's>, TemplateError> {
        self.env
            .compile_expression(expr)
            .map_err(|e| TemplateError::new(describe(&e)))
    }

    /// Templates one string.
    pub fn render_string(&self, source: &str, scope: &Scope) -> Result<Value, TemplateError> {
        self.render_string_keeping_dates(source, scope)
            .map(|(data, _)| data)
    }

    /// Templates one string; a string that is one expression whose value is
    /// a date also gives the date (variables keep dates, as in Ansible).
    fn render_string_keeping_dates(
        &self,
        source: &str,
        scope: &Scope,
    ) -> Result<(Value, Option<minijinja::Value>), TemplateError> {
        if !is_template(source) {
            return Ok((Value::String(source.to_string()), None));
        }
        let escaped = escape_backslashes(source, false);
        let escaped = python_syntax(&escaped, false).into_owned();
        let escaped = trust_tests(&escaped, scope)?.into_owned();
        let source: &str = &escaped;
        // Jinja drops one trailing newline of the source: `{{ x }}\n` is
        // one expression, its value native (Ansible then gives a string
        // result its newlines back).
        if let Some(expr) = single_expression(source.strip_suffix('\n').unwrap_or(source)) {
            let compiled = self.expression(expr)?;
            let names = sliced_names(compiled.undeclared_variables(false), expr, scope);
            let inputs = self.context_for(&names, scope, source)?;
            let for_dates = dates_rewrite(expr, true, &inputs);
            let compiled = match &for_dates {
                Some(expr) => self.expression(expr)?,
                None => compiled,
            };
            let watch = Watch::new(scope, &names);
            let result = inputs.eval(source, |ctx| compiled.eval(watch.wrap(ctx)));
            watch.check(scope, source)?;
            let result = result.map_err(|e| {
                self.explain(e, &compiled.undeclared_variables(true), source, scope)
            })?;
            if result.is_undefined() {
                let err = minijinja::Error::from(ErrorKind::UndefinedError);
                return Err(self.explain(err, &compiled.undeclared_variables(true), source, scope));
            }
            let date = result
                .downcast_object_ref::<filters::extra::PyDateTime>()
                .is_some()
                .then(|| result.clone());
            let dated = for_dates.is_some() || minus::makes_dates(expr);
            let data = match result_data(&result, dated)? {
                Value::String(text) => Value::String(trailing_newlines(source, text)),
                other => other,
            };
            return Ok((data, date));
        }
        let compile = |source| {
            self.env
                .template_from_str(source)
                .map_err(|e| TemplateError::new(describe(&e)))
        };
        let tmpl = compile(source)?;
        let names = sliced_names(tmpl.undeclared_variables(false), source, scope);
        let inputs = self.context_for(&names, scope, source)?;
        let for_dates = dates_rewrite(source, false, &inputs);
        let tmpl = match &for_dates {
            Some(rewritten) => compile(rewritten)?,
            None => tmpl,
        };
        inputs
            .render(source, |ctx| tmpl.render(ctx))
            .map(|text| (Value::String(trailing_newlines(source, text)), None))
            .map_err(|e| self.explain(e, &tmpl.undeclared_variables(true), source, scope))
    }

    /// Renders a template file (the `template` module, `lookup('template')`).
    pub fn render_file(
        &self,
        source: &str,
        scope: &Scope,
        extra: &Vars,
    ) -> Result<String, TemplateError> {
        self.render_file_with(source, scope, extra, FileOptions::default(), &[])
    }

    /// Renders a template file with the template module's Jinja options;
    /// the templates it includes or imports are read from `dirs`.
    pub fn render_file_with(
        &self,
        source: &str,
        scope: &Scope,
        extra: &Vars,
        options: FileOptions,
        dirs: &[std::path::PathBuf],
    ) -> Result<String, TemplateError> {
        let (options, source) = apply_header(source, options)?;
        // A template that includes nothing renders with the shared
        // environment: one with a loader for `dirs` is built per render.
        let owned = if options == FileOptions::default()
            && (dirs.is_empty() || !uses_other_templates(source))
        {
            None
        } else {
            Some(file_environment(&options, dirs.to_vec())?)
        };
        let env = owned.as_ref().map_or(&self.file_env, |(env, _)| env);
        let source = python_operators(&macro_closures(source), false).into_owned();
        let source: &str = &source;
        let tmpl = env
            .template_from_str(source)
            .map_err(|e| TemplateError::new(describe(&e)))?;
        let names = sliced_names(tmpl.undeclared_variables(false), source, scope);
        let names: HashSet<String> = names
            .into_iter()
            .filter(|n| !extra.contains_key(n))
            .collect();
        let mut ctx = self.context_map(&names, scope)?;
        self.unguarded_undefined(scope, &names, &ctx, source)?;
        if uses_other_templates(source) {
            // What included templates use is known only as they render.
            for name in scope.names() {
                if !ctx.contains_key(&name)
                    && !extra.contains_key(&name)
                    && let Ok(Some(v)) = self.resolve(&name, scope)
                {
                    ctx.insert(name, v);
                }
            }
        }
        for (k, v) in extra {
            ctx.insert(k.clone(), from_json(v));
        }
        let known: HashSet<String> = ctx.keys().cloned().collect();
        let inputs = scope.inputs(ctx);
        let for_dates = dates_rewrite(source, false, &inputs);
        let tmpl = match &for_dates {
            Some(rewritten) => env
                .template_from_str(rewritten)
                .map_err(|e| TemplateError::new(describe(&e)))?,
            None => tmpl,
        };
        inputs
            .render(source, |ctx| tmpl.render(ctx))
            .map(|out| trailing_newlines(source, out))
            .map_err(|e| {
                if caused_by_undefined(&e)
                    && let Some((env, loaded)) = &owned
                    && let Some(name) = undefined_included(env, loaded, |n| known.contains(n))
                {
                    return TemplateError::undefined(format!("'{name}' is undefined"));
                }
                self.explain(e, &tmpl.undeclared_variables(true), source, scope)
            })
    }

    /// Evaluates a condition (`when:`): a bare expression, a boolean, or a list (all must hold).
    pub fn eval_condition(&self, cond: &Value, scope: &Scope) -> Result<bool, TemplateError> {
        match cond {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(true),
            Value::Array(items) => {
                for item in items {
                    if !self.eval_condition(item, scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Value::Number(n) => Ok(n.as_f64() != Some(0.0)),
            // Wholly a template of several parts (`{{ a }} == {{ b }}`):
            // Ansible 2.19 renders it, and a string result is an untrusted
            // expression (meta-templating).
            Value::String(s)
                if all_template(s.trim()) && one_expression_block(s.trim()).is_none() =>
            {
                match self.render_string(s, scope)? {
                    Value::String(_) => Err(TemplateError::new(UNTRUSTED)),
                    other => self.eval_condition(&other, scope),
                }
            }
            // An expression whose string constants hold templates
            // (`x == "du{{ 'de' }}"`): those are rendered first.
            Value::String(s) if is_template(s) && one_expression_block(s.trim()).is_none() => {
                let expr = self.render_constants(s, scope)?;
                self.eval_expression(&expr, scope)
            }
            // `!unsafe` text is never evaluated as a condition.
            Value::Object(map) if unsafe_text(map).is_some() => Err(TemplateError::new(UNTRUSTED)),
            Value::Object(map) if crate::vault::marker_text(map).is_some() => {
                let plain = open_vault(crate::vault::marker_text(map).unwrap_or_default())?;
                Ok(truthy_str(plain.as_str().unwrap_or_default()))
            }
            Value::String(s) => self.eval_expression(s, scope),
            Value::Object(_) => Err(TemplateError::new(
                "a conditional must be an expression, not a mapping",
            )),
        }
    }

    /// Evaluates a conditional expression (bare, or one `{{ expression }}`).
    fn eval_expression(&self, s: &str, scope: &Scope) -> Result<bool, TemplateError> {
        // Ansible escapes backslashes in string literals inside `{{ }}`
        // only: a bare conditional (`x == '\\z'`) is read as written.
        let escaped = match one_expression_block(s.trim()) {
            Some(inner) => escape_backslashes(inner, true),
            None => std::borrow::Cow::Borrowed(s),
        };
        let escaped = python_syntax(&escaped, true);
        let escaped = trust_tests(&escaped, scope)?;
        let expr: &str = &escaped;
        let compiled = self.expression(expr)?;
        let names = sliced_names(compiled.undeclared_variables(false), expr, scope);
        let inputs = self.context_for(&names, scope, expr)?;
        let for_dates = dates_rewrite(expr, true, &inputs);
        let compiled = match &for_dates {
            Some(expr) => self.expression(expr)?,
            None => compiled,
        };
        let ctx = inputs.context();
        let watch = Watch::new(scope, &names);
        let result = compiled.eval(watch.wrap(ctx));
        watch.check(scope, expr)?;
        let result = result
            .map_err(|e| self.explain(e, &compiled.undeclared_variables(true), expr, scope))?;
        if result.is_undefined() {
            let err = minijinja::Error::from(ErrorKind::UndefinedError);
            return Err(self.explain(err, &compiled.undeclared_variables(true), expr, scope));
        }
        // A condition that renders to a string is evaluated again (Ansible's
        // conditional templating of e.g. `when: flag` where flag = "x == 1").
        if let Some(text) = result.as_str() {
            // A string the expression computed (not a variable's own
            // value) is not trusted as a condition, as in Ansible 2.19.
            if !is_variable_path(expr) {
                return Err(TemplateError::new(UNTRUSTED));
            }
            // `{{ path }}` to an expression written in the playbook:
            // that expression is the condition (Ansible's indirection).
            if one_expression_block(s.trim()).is_some()
                && let Some(Value::String(raw)) = scope.passed_through(&format!("{{{{ {expr} }}}}"))
                && !is_template(&raw)
                && raw == text
            {
                return self.eval_expression(&raw, scope);
            }
            return Ok(crate::template::truthy_str(text));
        }
        Ok(result.is_true())
    }

    /// `expr` with each string constant that holds a template replaced by
    /// the rendered text (Ansible 2.19 renders those in conditionals).
    fn render_constants(&self, expr: &str, scope: &Scope) -> Result<String, TemplateError> {
        let chars: Vec<char> = expr.chars().collect();
        let mut out = String::with_capacity(expr.len());
        // The calls the scan is inside: a lookup renders its own terms.
        let mut calls: Vec<bool> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c != '\'' && c != '"' {
                match c {
                    '(' => {
                        let name: String = out
                            .chars()
                            .rev()
                            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect();
                        let name = name.rsplit('.').next().unwrap_or_default();
                        calls.push(matches!(name, "lookup" | "query" | "q"));
                    }
                    ')' => {
                        calls.pop();
                    }
                    _ => {}
                }
                out.push(c);
                i += 1;
                continue;
            }
            let mut j = i + 1;
            let mut text = String::new();
            while j < chars.len() && chars[j] != c {
                if chars[j] == '\\' && j + 1 < chars.len() {
                    text.push(chars[j]);
                    j += 1;
                }
                text.push(chars[j]);
                j += 1;
            }
            let literal: String = chars[i..(j + 1).min(chars.len())].iter().collect();
            if is_template(&text) && !text.contains('\\') && !calls.contains(&true) {
                let rendered = match self.render_string(&text, scope)? {
                    Value::String(t) => t,
                    other => other.to_string(),
                };
                out.push_str(&serde_json::to_string(&rendered).unwrap_or(literal));
            } else {
                out.push_str(&literal);
            }
            i = j + 1;
        }
        Ok(out)
    }

    fn context_for(
        &self,
        names: &HashSet<String>,
        scope: &Scope,
        source: &str,
    ) -> Result<taint::Inputs, TemplateError> {
        let mut ctx = self.context_map(names, scope)?;
        self.unguarded_undefined(scope, names, &ctx, source)?;
        if lookup::wants_all_variables(source) {
            // `lookup('template', ...)` renders a file with every variable.
            for name in scope.names() {
                if !ctx.contains_key(&name)
                    && let Ok(Some(v)) = self.resolve(&name, scope)
                {
                    ctx.insert(name, v);
                }
            }
        }
        Ok(scope.inputs(ctx))
    }

    /// An expression that uses a variable that is not defined, without a
    /// guard (`default`, `is defined`, ...), fails naming that variable, as
    /// Ansible's strict undefined does.
    fn unguarded_undefined(
        &self,
        scope: &Scope,
        names: &HashSet<String>,
        ctx: &std::collections::BTreeMap<String, minijinja::Value>,
        source: &str,
    ) -> Result<(), TemplateError> {
        let lazy = lazy_spans(source);
        let mut missing: Vec<&String> = names
            .iter()
            .filter(|n| {
                !ctx.contains_key(n.as_str())
                    && !scope.deferred.borrow().contains_key(n.as_str())
                    && self.env.globals().all(|(g, _)| g != n.as_str())
                    && !only_within(source, n, &lazy)
            })
            .collect();
        if missing.is_empty() || guarded(source) {
            return Ok(());
        }
        // The first one written, as Ansible meets them rendering in order.
        missing.sort_by_key(|n| (first_use(source, n), n.to_string()));
        Err(TemplateError::undefined(format!(
            "'{}' is undefined",
            missing[0]
        )))
    }

    fn context_map(
        &self,
        names: &HashSet<String>,
        scope: &Scope,
    ) -> Result<std::collections::BTreeMap<String, minijinja::Value>, TemplateError> {
        let mut ctx = std::collections::BTreeMap::new();
        for name in names {
            match self.resolve(name, scope) {
                Ok(Some(v)) => {
                    ctx.insert(name.clone(), v);
                }
                Ok(None) => {}
                // A variable whose value is undefined is undefined (Ansible's
                // lazy templating): an error only where it is used.
                Err(e) if e.undefined => {
                    scope.deferred.borrow_mut().insert(name.clone(), e);
                }
                Err(e) => return Err(e),
            }
        }
        if names.contains("vars") && !ctx.contains_key("vars") {
            ctx.insert("vars".into(), self.all_variables(scope));
        }
        Ok(ctx)
    }

    /// The `vars` magic variable: every variable the scope has, templated
    /// (one whose template fails is left out: undefined where it is used).
    fn all_variables(&self, scope: &Scope) -> minijinja::Value {
        let mut all = std::collections::BTreeMap::new();
        for name in scope.names() {
            if let Ok(Some(v)) = self.resolve(&name, scope) {
                all.insert(name, v);
            }
        }
        minijinja::Value::from(all)
    }

    /// Resolves one variable: its value with every template inside rendered.
    pub fn resolve(
        &self,
        name: &str,
        scope: &Scope,
    ) -> Result<Option<minijinja::Value>, TemplateError> {
        if let Some(v) = scope.cache.borrow().get(name) {
            return Ok(Some(v.clone()));
        }
        if let Some(v) = scope.special(name) {
            return Ok(Some(v));
        }
        let Some((raw, templated)) = scope.lookup(name) else {
            return Ok(None);
        };
        if !templated {
            let value = from_json(raw);
            scope
                .cache
                .borrow_mut()
                .insert(name.to_string(), value.clone());
            return Ok(Some(value));
        }
        let raw = raw.clone();
        if scope.resolving.borrow().iter().any(|n| n == name) {
            return Err(TemplateError::new(format!(
                "recursive loop detected in template string: variable '{name}' refers to itself"
            )));
        }
        scope.resolving.borrow_mut().push(name.to_string());
        let rendered = match &raw {
            Value::String(s) => self.render_string_keeping_dates(s, scope),
            other => self.render_value(other, scope).map(|v| (v, None)),
        };
        scope.resolving.borrow_mut().pop();
        let (rendered, date) = rendered.map_err(|e| TemplateError {
            message: format!("while templating variable '{name}': {}", e.message),
            undefined: e.undefined,
        })?;
        let value = date.unwrap_or_else(|| from_json(&rendered));
        scope
            .cache
            .borrow_mut()
            .insert(name.to_string(), value.clone());
        Ok(Some(value))
    }

    fn explain(
        &self,
        err: minijinja::Error,
        paths: &HashSet<String>,
        source: &str,
        scope: &Scope,
    ) -> TemplateError {
        if err.kind() == ErrorKind::UndefinedError {
            let mut paths: Vec<String> = paths.iter().cloned().collect();
            paths.extend(subscript_paths(source));
            paths.sort();
            paths.dedup();
            for path in paths {
                let mut parts = path.split('.');
                let root = parts.next().unwrap_or_default();
                if self.env.globals().any(|(g, _)| g == root) {
                    continue;
                }
                match self.resolve(root, scope) {
                    Ok(None) => return TemplateError::undefined(format!("'{root}' is undefined")),
                    Ok(Some(mut value)) => {
                        for part in parts {
                            match value.get_attr(part) {
                                Ok(v) if !v.is_undefined() => value = v,
                                _ => {
                                    return TemplateError::undefined(format!(
                                        "object of type '{}' has no attribute '{part}'",
                                        python_type(&value)
                                    ));
                                }
                            }
                        }
                    }
                    Err(e) => return e,
                }
            }
        }
        if err.kind() == ErrorKind::UndefinedError
            && let Some(msg) = self.missing_element(source, scope)
        {
            return TemplateError::undefined(msg);
        }
        let mut message = describe(&err);
        if message.contains(filters::text::MANDATORY)
            && let Some(name) = self.mandatory_name(source, scope)
        {
            message = message.replace(
                filters::text::MANDATORY,
                &format!("Mandatory variable '{name}' not defined."),
            );
        }
        TemplateError {
            undefined: err.kind() == ErrorKind::UndefinedError,
            ..TemplateError::new(message)
        }
    }

    /// `list object has no element N` for the first `path[N]` of `source`
    /// whose list is shorter, as Ansible words it.
    fn missing_element(&self, source: &str, scope: &Scope) -> Option<String> {
        static INDEX: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r"(?-u:\b)([A-Za-z_][0-9A-Za-z_]*(?:\.[A-Za-z_][0-9A-Za-z_]*)*)\[\s*(-?[0-9]+)\s*\]").ok()
        });
        for c in INDEX.as_ref()?.captures_iter(source) {
            let mut parts = c[1].split('.');
            let Ok(Some(mut value)) = self.resolve(parts.next().unwrap_or_default(), scope) else {
                continue;
            };
            for part in parts {
                value = value.get_attr(part).ok()?;
            }
            let n: i64 = c[2].parse().ok()?;
            if value.kind() == minijinja::value::ValueKind::Seq
                && value
                    .get_item(&minijinja::Value::from(n))
                    .is_ok_and(|v| v.is_undefined())
            {
                return Some(format!("list object has no element {n}"));
            }
        }
        None
    }

    /// The undefined name under `path | mandatory` in `source` (the
    /// variable, or the missing attribute), as Ansible's message names it.
    fn mandatory_name(&self, source: &str, scope: &Scope) -> Option<String> {
        static MANDATORY: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(
            || {
                regex::Regex::new(r"([A-Za-z_][0-9A-Za-z_]*(?:\.[A-Za-z_][0-9A-Za-z_]*)*)\s*\|\s*mandatory(?-u:\b)").ok()
            },
        );
        for c in MANDATORY.as_ref()?.captures_iter(source) {
            let mut parts = c[1].split('.');
            let root = parts.next().unwrap_or_default();
            let Ok(Some(mut value)) = self.resolve(root, scope) else {
                return Some(root.to_string());
            };
            for part in parts {
                match value.get_attr(part) {
                    Ok(v) if !v.is_undefined() => value = v,
                    _ => return Some(part.to_string()),
                }
            }
        }
        None
    }
}

/// `names` with the variables that are sliced in `source` (`pw[3:]`):
/// minijinja 3.1's `undeclared_variables` leaves out what a slice applies
/// to, and a variable left out of the context is undefined (a slice of
/// undefined is an empty list). Identifiers outside string literals that
/// name a variable of the scope are added when the source has a slice.
fn sliced_names(mut names: HashSet<String>, source: &str, scope: &Scope) -> HashSet<String> {
    if !(source.contains('[') && source.contains(':')) {
        return names;
    }
    let mut quote: Option<char> = None;
    let mut word = String::new();
    let mut after_dot = false;
    for c in source.chars().chain(std::iter::once(' ')) {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            let first = word.chars().next().unwrap_or('0');
            if !after_dot
                && !first.is_ascii_digit()
                && !names.contains(&word)
                && (scope.lookup(&word).is_some() || scope.specials.contains_key(word.as_str()))
            {
                names.insert(std::mem::take(&mut word));
            }
            word.clear();
        }
        after_dot = c == '.';
        if c == '\'' || c == '"' {
            quote = Some(c);
        }
    }
    names
}

/// The variables of an evaluation whose value was undefined (see
/// `Scope::deferred`), and which of them the evaluation read: reading one
/// outside a guard (`default`, `is defined`) is the variable's error.
struct Watch {
    names: HashSet<String>,
    read: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Watch {
    fn new(scope: &Scope, names: &HashSet<String>) -> Watch {
        let deferred = scope.deferred.borrow();
        Watch {
            names: names
                .iter()
                .filter(|n| deferred.contains_key(n.as_str()))
                .cloned()
                .collect(),
            read: Default::default(),
        }
    }

    /// The context, noting reads of the watched variables.
    fn wrap(&self, ctx: minijinja::Value) -> minijinja::Value {
        if self.names.is_empty() {
            return ctx;
        }
        minijinja::Value::from_object(Watched {
            ctx,
            names: self.names.clone(),
            read: self.read.clone(),
        })
    }

    /// The error of the first watched variable read outside a guard.
    fn check(&self, scope: &Scope, source: &str) -> Result<(), TemplateError> {
        if self.names.is_empty() || guarded(source) {
            return Ok(());
        }
        let mut read = self.read.lock().map(|r| r.clone()).unwrap_or_default();
        read.sort_by_key(|n| (first_use(source, n), n.clone()));
        match read
            .first()
            .and_then(|n| scope.deferred.borrow().get(n).cloned())
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A context that notes which of `names` are read.
#[derive(Debug)]
struct Watched {
    ctx: minijinja::Value,
    names: HashSet<String>,
    read: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl minijinja::value::Object for Watched {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        if let Some(k) = key.as_str()
            && self.names.contains(k)
            && let Ok(mut r) = self.read.lock()
        {
            r.push(k.to_string());
        }
        self.ctx.get_item(key).ok().filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        match self.ctx.try_iter() {
            Ok(keys) => minijinja::value::Enumerator::Values(keys.collect()),
            Err(_) => minijinja::value::Enumerator::NonEnumerable,
        }
    }
}

/// Ansible 2.19's refusal to evaluate a template or expression that came
/// out of a template or a module result.
pub const UNTRUSTED: &str = "Encountered untrusted template or expression.";

/// `{{ name }}` (or `{{ a.b }}`, `{{ a['b'] }}`): a template that only
/// passes a variable's value through, so trusted text stays trusted.
pub fn is_indirection(s: &str) -> bool {
    single_expression(s).is_some_and(is_variable_path)
}

/// A bare variable reference: `name`, `a.b`, `a['b']`, `a[0]`.
fn is_variable_path(expr: &str) -> bool {
    static PATH: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"^\s*[A-Za-z_][0-9A-Za-z_]*(?:\.[A-Za-z_][0-9A-Za-z_]*|\[\s*(?:'[^']*'|"[^"]*"|[0-9]+)\s*\])*\s*$"#,
        )
        .ok()
    });
    PATH.as_ref().is_some_and(|re| re.is_match(expr))
}

/// Variable paths written with constant subscripts (`d['k']`, `d["k"].x`),
/// as dotted paths (`d.k`), to name what is undefined.
fn subscript_paths(source: &str) -> Vec<String> {
    static SUBSCRIPT: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?-u:\b)([A-Za-z_][0-9A-Za-z_]*(?:\.[A-Za-z_][0-9A-Za-z_]*)*)((?:\[\s*(?:'[^'.]*'|"[^".]*")\s*\](?:\.[A-Za-z_][0-9A-Za-z_]*)*)+)"#,
        )
        .ok()
    });
    static KEY: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"\[\s*(?:'([^'.]*)'|"([^".]*)")\s*\]|\.([A-Za-z_][0-9A-Za-z_]*)"#).ok()
    });
    let (Some(re), Some(key)) = (SUBSCRIPT.as_ref(), KEY.as_ref()) else {
        return Vec::new();
    };
    re.captures_iter(source)
        .map(|c| {
            let mut path = c[1].to_string();
            for k in key.captures_iter(&c[2]) {
                let part = k
                    .get(1)
                    .or(k.get(2))
                    .or(k.get(3))
                    .map_or("", |m| m.as_str());
                path.push('.');
                path.push_str(part);
            }
            path
        })
        .collect()
}

/// The argument lists of `ternary(...)` in `source`: Ansible evaluates
/// only the value `ternary` picks, so the other may be undefined.
fn lazy_spans(source: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    for (at, _) in source.match_indices("ternary") {
        let rest = &source[at + "ternary".len()..];
        let Some(open) = rest.find(|c: char| !c.is_whitespace()) else {
            continue;
        };
        if !rest[open..].starts_with('(') {
            continue;
        }
        let start = at + "ternary".len() + open;
        let (mut depth, mut quote) = (0usize, None::<char>);
        for (i, c) in source[start..].char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(' | '[' | '{') => depth += 1,
                (None, ')' | ']' | '}') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        spans.push(start..start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    spans
}

/// Whether every use of `name` as a whole word in `source` is inside `spans`.
fn only_within(source: &str, name: &str, spans: &[std::ops::Range<usize>]) -> bool {
    if spans.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    source
        .match_indices(name)
        .filter(|(i, _)| {
            !word(source[..*i].chars().next_back())
                && !word(source[i + name.len()..].chars().next())
        })
        .all(|(i, _)| spans.iter().any(|s| s.contains(&i)))
}

/// Whether an expression guards against undefined values itself
/// (`x is defined`, `x | default(..)`, `x | d(..)`, `mandatory`, `omit`...).
fn guarded(source: &str) -> bool {
    static GUARD: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    GUARD
        .get_or_init(|| {
            regex::Regex::new(
                r"(?-u:\b)is\s+(not\s+)?(defined|undefined|none)(?-u:\b)|\|\s*(default|d|mandatory)(?-u:\b)|(?-u:\b)(default|mandatory)\s*\(|(?-u:\b)omit(?-u:\b)|(?-u:\b)vars(?-u:\b)|(?-u:\b)hostvars(?-u:\b)",
            )
            .ok()
        })
        .as_ref()
        .is_none_or(|re| re.is_match(source))
}

/// Python's type name of a value, for messages.
pub fn python_type(value: &minijinja::Value) -> &'static str {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Map => "dict",
        ValueKind::Seq => "list",
        ValueKind::String => "str",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::Bool => "bool",
        ValueKind::None => "NoneType",
        _ => "object",
    }
}

/// Python truthiness of a rendered string used as a condition.
pub fn truthy_str(text: &str) -> bool {
    !matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "" | "false" | "no" | "off" | "0" | "none"
    )
}

fn describe(err: &minijinja::Error) -> String {
    let mut msg = match err.detail() {
        Some(detail) => match zero_division(detail) {
            Some(python) => python.to_string(),
            None => format!("{}: {detail}", err.kind()),
        },
        None => err.kind().to_string(),
    };
    if let Some(line) = err.line() {
        msg.push_str(&format!(" (line {line} of the template)"));
    }
    msg
}

/// Where `name` is first used as a whole word in `source`.
fn first_use(source: &str, name: &str) -> usize {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    source
        .match_indices(name)
        .find(|(i, _)| {
            !word(source[..*i].chars().next_back())
                && !word(source[i + name.len()..].chars().next())
        })
        .map_or(usize::MAX, |(i, _)| i)
}

/// Python's message for a division by zero that minijinja reports as
/// `unable to calculate a / 0`.
fn zero_division(detail: &str) -> Option<&'static str> {
    let op = detail.strip_prefix("unable to calculate ")?;
    let (_, rest) = op.rsplit_once(' ')?;
    if rest.parse::<f64>().ok()? != 0.0 {
        return None;
    }
    let float = op.contains('.');
    Some(if op.contains(" // ") {
        if float {
            "float floor division by zero"
        } else {
            "integer division or modulo by zero"
        }
    } else if op.contains(" % ") {
        if float {
            "float modulo"
        } else {
            "integer modulo by zero"
        }
    } else if op.contains(" / ") {
        "division by zero"
    } else {
        return None;
    })
}

fn value_to_key(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Converts data to a template value.
pub fn from_json(value: &Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

/// Converts data to a template value, decrypting inline `!vault` values in
/// it; one that cannot be decrypted becomes an invalid value whose use fails
/// with the reason (it never shows as ciphertext).
pub fn from_json_opening_vault(value: &Value) -> minijinja::Value {
    fn open(v: &Value) -> Result<Value, TemplateError> {
        match v {
            Value::Object(m) => match crate::vault::marker_text(m) {
                Some(text) => open_vault(text),
                None => m
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), open(v)?)))
                    .collect::<Result<_, _>>()
                    .map(Value::Object),
            },
            Value::Array(a) => a
                .iter()
                .map(open)
                .collect::<Result<_, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
    match open(value) {
        Ok(v) => from_json(&v),
        Err(e) => minijinja::Value::from(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            e.message,
        )),
    }
}

/// Converts a rendered value back to data.
pub fn to_json(value: &minijinja::Value) -> Value {
    if value.is_undefined() {
        return Value::Null;
    }
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A template (already through [`python_syntax`]) rewritten for `-` and
/// `+` on dates when its variables hold some and it does not make them
/// itself (then it was rewritten already).
fn dates_rewrite(source: &str, whole_expression: bool, inputs: &taint::Inputs) -> Option<String> {
    if !inputs.hold_dates() {
        return None;
    }
    match minus::rewrite_for_dates(source, whole_expression) {
        std::borrow::Cow::Owned(s) => Some(s),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// The value of a template that is one expression, as data (Ansible's
/// native types): a date is its ISO 8601 text, as Ansible stores it; a time
/// span cannot be stored (Ansible: "Type 'timedelta' is unsupported for
/// variable storage."); nor, in tend, an integer beyond 64 bits.
/// (`dated`: the expression may have made dates, which are then looked for
/// inside lists and mappings too.)
fn result_data(value: &minijinja::Value, dated: bool) -> Result<Value, TemplateError> {
    use minijinja::value::ValueKind;
    if let Some(d) = value.downcast_object_ref::<filters::extra::PyDateTime>() {
        return Ok(Value::String(d.isoformat("T")));
    }
    if value
        .downcast_object_ref::<filters::extra::PyTimeDelta>()
        .is_some()
    {
        return Err(TemplateError::new(
            "Type 'timedelta' is unsupported for variable storage.",
        ));
    }
    if value.is_undefined() {
        return Ok(Value::Null);
    }
    if dated && matches!(value.kind(), ValueKind::Seq | ValueKind::Map) {
        let items = value
            .try_iter()
            .map_err(|e| TemplateError::new(describe(&e)))?;
        if value.kind() == ValueKind::Seq {
            let items: Result<Vec<Value>, TemplateError> =
                items.map(|item| result_data(&item, true)).collect();
            return items.map(Value::Array);
        }
        let mut map = serde_json::Map::new();
        for key in items {
            let item = value.get_item(&key).unwrap_or_default();
            map.insert(
                value_to_key(result_data(&key, true)?),
                result_data(&item, true)?,
            );
        }
        return Ok(Value::Object(map));
    }
    serde_json::to_value(value).map_err(|_| match wide_integer(value) {
        Some(n) => TemplateError::new(format!(
            "the integer {n} does not fit in 64 bits: such integers work inside a template, \
             but keeping one as a value is not supported yet"
        )),
        None => TemplateError::new("the template's result cannot be stored as data"),
    })
}

/// An integer in `value` that does not fit in 64 bits.
fn wide_integer(value: &minijinja::Value) -> Option<minijinja::Value> {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Number => (value.is_integer()
            && i64::try_from(value.clone()).is_err()
            && u64::try_from(value.clone()).is_err())
        .then(|| value.clone()),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            value.try_iter().ok()?.find_map(|item| {
                let inner = if value.kind() == ValueKind::Map {
                    value.get_item(&item).ok()?
                } else {
                    item.clone()
                };
                wide_integer(&item).or_else(|| wide_integer(&inner))
            })
        }
        _ => None,
    }
}

/// Whether a conditional is wholly a template: it starts and ends with
/// template delimiters (Ansible's `is_possibly_all_template`).
pub fn all_template(s: &str) -> bool {
    (s.starts_with("{{") || s.starts_with("{%") || s.starts_with("{#"))
        && (s.ends_with("}}") || s.ends_with("%}") || s.ends_with("#}"))
}

/// `{{ expr }}` that is one expression block, whose `expr` may hold `{{`
/// or `}}` inside string constants → `Some(expr)`.
fn one_expression_block(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?;
    let i = find_unquoted(inner, |rest| {
        rest.starts_with("}}") || rest.starts_with("{{") || rest.starts_with("{%")
    })?;
    (inner[i..].starts_with("}}") && i + 2 == inner.len())
        .then(|| without_whitespace_control(&inner[..i]))
}

/// The byte offset of the first place in `s`, outside string literals,
/// where `stop` holds for the rest of the text.
pub(crate) fn find_unquoted(s: &str, stop: impl Fn(&str) -> bool) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if stop(&s[i..]) => return Some(i),
            None => {}
        }
    }
    None
}

/// `{{ expr }}` alone → `Some(expr)`.
fn single_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    // Leading/trailing whitespace outside the braces turns it into a string in Jinja.
    if t.len() != s.len() {
        return None;
    }
    Some(without_whitespace_control(inner))
}

/// The expression between `{{` and `}}`, without the whitespace control
/// markers that touch the braces (`{{- x -}}`); a `-` after a space is the
/// expression's own (`{{ -x }}`, `{{ a - b }}`).
fn without_whitespace_control(inner: &str) -> &str {
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    inner.strip_suffix('-').unwrap_or(inner).trim()
}

fn strip_braces(s: &str) -> &str {
    single_expression(s.trim()).unwrap_or(s)
}

/// One source of variables in a [`Scope`].
#[derive(Clone, Copy)]
struct Layer<'a> {
    vars: &'a Vars,
    /// Playbook/inventory text may hold templates; data produced at run time
    /// (registered results, facts, loop items) is never templated again.
    templated: bool,
}

/// The variables one task on one host sees, lowest precedence first.
pub struct Scope<'a> {
    layers: Vec<Layer<'a>>,
    specials: HashMap<&'static str, minijinja::Value>,
    cache: RefCell<HashMap<String, minijinja::Value>>,
    resolving: RefCell<Vec<String>>,
    /// Variables whose value is undefined, with the reason: undefined where
    /// they are used (Ansible's lazy templating).
    deferred: RefCell<HashMap<String, TemplateError>>,
    /// Run-time variables whose value was written in the playbook, as
    /// written (a loop item of a literal loop list): what they pass through
    /// keeps its trust.
    written: HashMap<String, Value>,
}

impl<'a> Scope<'a> {
    /// A scope over layers of playbook/inventory variables (their values may
    /// be templates), lowest precedence first.
    pub fn new(layers: Vec<&'a Vars>) -> Self {
        Scope::with_layers(layers.into_iter().map(|v| (v, true)).collect())
    }

    /// A scope over `(variables, may_hold_templates)` layers, lowest first.
    /// Run-time data (registered results, facts, loop items) is `false`.
    pub fn with_layers(layers: Vec<(&'a Vars, bool)>) -> Self {
        Scope {
            layers: layers
                .into_iter()
                .map(|(vars, templated)| Layer { vars, templated })
                .collect(),
            specials: HashMap::new(),
            cache: RefCell::new(HashMap::new()),
            resolving: RefCell::new(Vec::new()),
            deferred: RefCell::new(HashMap::new()),
            written: HashMap::new(),
        }
    }

    /// This scope with one more data layer on top (e.g. a registered result
    /// under its name, for `changed_when`/`until`).
    pub fn child<'b>(&'b self, data: &'b Vars) -> Scope<'b>
    where
        'a: 'b,
    {
        self.child_layer(data, false)
    }

    /// This scope with one more layer on top, whose values may be templates
    /// (e.g. variables just read from a file by `include_vars`).
    pub fn child_layer<'b>(&'b self, data: &'b Vars, templated: bool) -> Scope<'b>
    where
        'a: 'b,
    {
        let mut layers: Vec<Layer<'b>> = self.layers.to_vec();
        layers.push(Layer {
            vars: data,
            templated,
        });
        Scope {
            layers,
            specials: self.specials.clone(),
            cache: RefCell::new(HashMap::new()),
            resolving: RefCell::new(Vec::new()),
            deferred: RefCell::new(HashMap::new()),
            written: self.written.clone(),
        }
    }

    /// Adds a value that is exposed as is (already resolved objects like `hostvars`).
    pub fn with_special(mut self, name: &'static str, value: minijinja::Value) -> Self {
        self.specials.insert(name, value);
        self
    }

    /// Notes that run-time variable `name` holds `raw` as written in the
    /// playbook (a loop item of a literal list), for [`Scope::passed_through`].
    pub fn with_written(mut self, name: &str, raw: Value) -> Self {
        self.written.insert(name.to_string(), raw);
        self
    }

    fn special(&self, name: &str) -> Option<minijinja::Value> {
        self.specials.get(name).cloned()
    }

    /// The inputs of one evaluation: resolved variables, specials among them.
    fn inputs(&self, vars: std::collections::BTreeMap<String, minijinja::Value>) -> taint::Inputs {
        let opaque = vars
            .keys()
            .filter(|k| self.specials.contains_key(k.as_str()))
            .cloned()
            .collect();
        taint::Inputs::new(vars, opaque)
    }

    /// The raw value of a variable, and whether it may hold templates.
    fn lookup(&self, name: &str) -> Option<(&Value, bool)> {
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.vars.get(name).map(|v| (v, l.templated)))
    }

    /// Every variable name the scope has.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .layers
            .iter()
            .flat_map(|l| l.vars.keys().cloned())
            .chain(self.specials.keys().map(|k| k.to_string()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The raw (untemplated) value of a variable.
    pub fn raw(&self, name: &str) -> Option<Value> {
        self.lookup(name).map(|(v, _)| v.clone())
    }

    /// What a `{{ path }}` template passes through, as written (templates
    /// and `!unsafe` markers kept), when `path` reaches into a variable of
    /// a playbook or inventory: conditions listed there keep their trust.
    pub fn passed_through(&self, template: &str) -> Option<Value> {
        static PART: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
            regex::Regex::new(
                r#"^\.?([A-Za-z_][0-9A-Za-z_]*)|^\[\s*(?:'([^']*)'|"([^"]*)"|([0-9]+))\s*\]"#,
            )
            .ok()
        });
        let path = single_expression(template).filter(|e| is_variable_path(e))?;
        let part = PART.as_ref()?;
        let mut rest = path.trim();
        let mut value: Option<&Value> = None;
        while !rest.is_empty() {
            let c = part.captures(rest)?;
            rest = rest[c.get(0)?.end()..].trim_start();
            let key = c.get(1).or(c.get(2)).or(c.get(3));
            value = match (value, key) {
                (None, Some(k)) => match self.lookup(k.as_str())? {
                    (v, true) => Some(v),
                    (_, false) => Some(self.written.get(k.as_str())?),
                },
                (Some(v), Some(k)) => Some(v.as_object()?.get(k.as_str())?),
                (Some(v), None) => {
                    let i: usize = c.get(4)?.as_str().parse().ok()?;
                    Some(v.as_array()?.get(i)?)
                }
                (None, None) => return None,
            };
        }
        value.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Vars {
        v.as_object().cloned().unwrap()
    }

    /// Python's `-` and `+` on dates and time spans; every expected value is
    /// what ansible-core 2.19 printed for the same template (`debug: msg=`).
    #[test]
    fn date_arithmetic_as_python() {
        let t = Templar::new();
        let low = vars(json!({
            "start": "{{ '2024-01-01' | to_datetime('%Y-%m-%d') }}",
            "later": "{{ '2024-03-01' | to_datetime('%Y-%m-%d') }}",
        }));
        let scope = Scope::new(vec![&low]);
        let r = |s: &str| t.render_string(s, &scope).unwrap();
        let a = "('2024-03-01 12:30:00' | to_datetime)";
        let b = "('2023-12-31 23:59:59.250000' | to_datetime('%Y-%m-%d %H:%M:%S.%f'))";
        let d1 = "('2024-03-01' | to_datetime('%Y-%m-%d'))";
        let d2 = "('2024-01-01' | to_datetime('%Y-%m-%d'))";
        assert_eq!(r(&format!("{{{{ ({d1} - {d2}).days }}}}")), json!(60));
        assert_eq!(
            r(&format!(
                "{{{{ ({a} - {b}).days }}}} {{{{ ({a} - {b}).seconds }}}} {{{{ ({a} - {b}).microseconds }}}} {{{{ ({a} - {b}).total_seconds() }}}}"
            )),
            json!("60 45000 750000 5229000.75")
        );
        assert_eq!(
            r(&format!(
                "x{{{{ {a} - {b} }}}} {{{{ {b} - {a} }}}} {{{{ {a} - {a} }}}}"
            )),
            json!("x60 days, 12:30:00.750000 -61 days, 11:29:59.250000 0:00:00")
        );
        assert_eq!(
            r(&format!(
                "{{{{ {b} + ({a} - {b}) == {a} }}}} {{{{ ({a} - ({a} - {b})).strftime('%Y-%m-%d %H:%M:%S.%f') }}}}"
            )),
            json!("True 2023-12-31 23:59:59.250000")
        );
        assert_eq!(
            r(&format!("{{{{ {d1} + ({d1} - {a}) }}}}")),
            json!("2024-02-29T11:30:00")
        );
        assert_eq!(r(&format!("{{{{ {d1} }}}}")), json!("2024-03-01T00:00:00"));
        assert_eq!(
            r(&format!("{{{{ [{d1}, {{'k': {d1}}}] }}}}")),
            json!(["2024-03-01T00:00:00", {"k": "2024-03-01T00:00:00"}])
        );
        assert_eq!(
            r(&format!("{{{{ {d1} | to_json }}}}")),
            json!("\"2024-03-01T00:00:00\"")
        );
        let file = t
            .render_file(
                "{{ (later - start).days }} {{ later }}",
                &scope,
                &Vars::new(),
            )
            .unwrap();
        assert_eq!(file, "60 2024-03-01 00:00:00");
        assert_eq!(r(&format!("{{{{ {d1} > {d2} }}}}")), json!(true));
        // A date made by another variable keeps its type there.
        assert_eq!(
            r("{{ (later - start).days }} {{ later - start }} {{ start | type_debug }}"),
            json!("60 60 days, 0:00:00 datetime")
        );
        assert!(
            t.eval_condition(&json!("(later - start).days == 60"), &scope)
                .unwrap()
        );
        assert_eq!(
            r("{{ (now() - start).days > 100 }} {{ (now(utc=true) - start).days > 100 }}"),
            json!("True True")
        );
        // Numbers keep minijinja's exact arithmetic beside dates.
        assert_eq!(
            r("{{ now().year - 2**64 < 0 }} {{ 3 - 1.5 + 1 }} {{ 2**64 - 1 - 2**63 }}"),
            json!("True 2.5 9223372036854775807")
        );
        let e = |s: &str| t.render_string(s, &scope).unwrap_err().message;
        assert!(
            e(&format!("{{{{ {d1} - 1 }}}}"))
                .contains("unsupported operand type(s) for -: 'datetime.datetime' and 'int'")
        );
        assert!(
            e(&format!("{{{{ {d1} - 'x' }}}}"))
                .contains("unsupported operand type(s) for -: 'datetime.datetime' and 'str'")
        );
        assert_eq!(
            e(&format!("{{{{ {d1} - {d2} }}}}")),
            "Type 'timedelta' is unsupported for variable storage."
        );
    }

    /// Floats, lists and mappings in text as Python's `str()` writes them;
    /// the expected text is ansible-core 2.19's for the same template.
    #[test]
    fn floats_and_containers_in_text_as_python() {
        let t = Templar::new();
        let low = Vars::new();
        let scope = Scope::new(vec![&low]);
        let r = |s: &str| t.render_string(s, &scope).unwrap();
        assert_eq!(
            r(
                "x{{ 1e16 }} {{ 1.5e-7 }} {{ 123456789012345678.0 }} {{ 2.0 ** 70 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }} {{ (1e308 * 10) - (1e308 * 10) }}"
            ),
            json!(
                "x1e+16 1.5e-07 1.2345678901234568e+17 1.1805916207174113e+21 1e-05 0.0001 -0.0 nan"
            )
        );
        assert_eq!(
            r(
                "x{{ [true, none, 'a', 1e16, {'k': 1e-5}, (1, 2.5), \"it's\"] }} {{ {'a': [1, {'b': none}]} }} {{ [] }}{{ {} }}"
            ),
            json!(
                "x[True, None, 'a', 1e+16, {'k': 1e-05}, [1, 2.5], \"it's\"] {'a': [1, {'b': None}]} []{}"
            )
        );
        assert_eq!(
            r(
                "x{{ {'a': 1}.items() | list }} {{ [1,2] | zip(['a','b']) | list }} {{ {'a': 1}.items() }}"
            ),
            json!("x[['a', 1]] [[1, 'a'], [2, 'b']] [['a', 1]]")
        );
    }

    /// `str.format` with a width too big to build fails instead of aborting.
    #[test]
    fn str_format_refuses_widths_beyond_memory() {
        let t = Templar::new();
        let low = Vars::new();
        let scope = Scope::new(vec![&low]);
        let e = t
            .render_string("{{ '{:>1000000000000}'.format(1) }}", &scope)
            .unwrap_err()
            .message;
        assert!(e.contains("format: width or precision too big"), "{e}");
        assert_eq!(
            t.render_string("{{ '{{}} {:>3} 123456789012'.format(1) }}", &scope)
                .unwrap(),
            json!("{}   1 123456789012")
        );
    }

    /// `{{ -x }}` is a negation; only a `-` touching the braces is
    /// whitespace control (ansible-core 2.19: -9223372036854775809).
    #[test]
    fn a_leading_minus_is_the_expression_s() {
        let t = Templar::new();
        let low = Vars::new();
        let scope = Scope::new(vec![&low]);
        let r = |s: &str| t.render_string(s, &scope).unwrap();
        assert_eq!(r("{{ -(2**62) }}"), json!(-4611686018427387904_i64));
        assert_eq!(r("{{- -(2**62) -}}"), json!(-4611686018427387904_i64));
        assert_eq!(r("{{-(2**62) }}"), json!(4611686018427387904_i64));
        assert_eq!(r("{{ -(2**63) }}"), json!(i64::MIN));
        // Wider integers work inside a template; kept as a value they are
        // not supported yet (Ansible: 18446744073709551616).
        assert_eq!(
            r("{{ (2**64) ~ '' }} {{ 2 ** 64 // 2 ** 60 }}"),
            json!("18446744073709551616 16")
        );
        assert_eq!(
            r("{{ ('18446744073709551616' | int) - 1 }}"),
            json!(u64::MAX)
        );
        let e = t
            .render_string("{{ [1, 2 ** 64] }}", &scope)
            .unwrap_err()
            .message;
        assert!(
            e.contains("the integer 18446744073709551616 does not fit in 64 bits")
                && e.contains("not supported yet"),
            "{e}"
        );
        let e = t
            .render_string("{{ 2 ** 99999999999 }}", &scope)
            .unwrap_err()
            .message;
        assert!(e.contains("unable to calculate 2 ** 99999999999"), "{e}");
    }

    #[test]
    fn native_types_and_lazy_variables() {
        let t = Templar::new();
        let low =
            vars(json!({"a": 1, "b": "{{ a + 1 }}", "c": "x{{ b }}", "list": ["{{ a }}", 2]}));
        let scope = Scope::new(vec![&low]);
        assert_eq!(t.render_string("{{ b }}", &scope).unwrap(), json!(2));
        assert_eq!(t.render_string("{{ c }}", &scope).unwrap(), json!("x2"));
        assert_eq!(
            t.render_string("{{ list }}", &scope).unwrap(),
            json!([1, 2])
        );
        assert_eq!(t.render_string(" {{ a }}", &scope).unwrap(), json!(" 1"));
    }

    #[test]
    fn a_vault_value_without_secrets_is_an_error_never_ciphertext() {
        let t = Templar::new();
        let low =
            vars(json!({"pw": crate::vault::marker("$ANSIBLE_VAULT;1.2;AES256;prod\n3031\n")}));
        let scope = Scope::new(vec![&low]);
        let e = t.render_string("x{{ pw }}", &scope).unwrap_err().message;
        assert!(
            e.starts_with("while templating variable 'pw': a !vault value: "),
            "{e}"
        );
        assert!(!e.contains("3031"), "{e}");
    }

    #[test]
    fn a_sliced_variable_is_in_the_context() {
        let t = Templar::new();
        let low = vars(json!({"pw": "abcdefgh", "xs": [1, 2, 3, 4], "n": 2}));
        let scope = Scope::new(vec![&low]);
        assert_eq!(
            t.render_string("{{ pw[3:] }}", &scope).unwrap(),
            json!("defgh")
        );
        assert_eq!(
            t.render_string("{{ xs[1:n] }}", &scope).unwrap(),
            json!([2])
        );
        assert_eq!(
            t.render_string("<{{ pw[:2] }}>", &scope).unwrap(),
            json!("<ab>")
        );
        assert!(
            t.eval_condition(&json!("xs[2:] == [3, 4]"), &scope)
                .unwrap()
        );
        assert_eq!(
            t.render_string("{{ 'pw'[1:] ~ pw[-1:] }}", &scope).unwrap(),
            json!("wh")
        );
    }

    #[test]
    fn a_computed_string_is_not_trusted_as_a_condition() {
        let t = Templar::new();
        let low = vars(json!({"flag": "yes", "d": {"k": "no"}, "e": "1 == 2"}));
        let scope = Scope::new(vec![&low]);
        for cond in ["{{ '1 == 1' }}", "'a' ~ 'b'"] {
            let e = t.eval_condition(&json!(cond), &scope).unwrap_err();
            assert_eq!(e.message, UNTRUSTED, "{cond}");
        }
        assert_eq!(t.eval_condition(&json!("flag"), &scope), Ok(true));
        // `{{ path }}` to text written in the playbook: that text is the
        // expression, as Ansible 2.19 evaluates it.
        assert_eq!(t.eval_condition(&json!("{{ e }}"), &scope), Ok(false));
        assert_eq!(
            t.eval_condition(&json!("{{ d['k'] }}"), &scope)
                .unwrap_err()
                .message,
            "'no' is undefined"
        );
    }

    #[test]
    fn mandatory_names_the_undefined_variable() {
        let t = Templar::new();
        let low = vars(json!({"d": {"a": 1}, "n": 2}));
        let scope = Scope::new(vec![&low]);
        for (src, name) in [
            ("{{ hey | mandatory }}", "hey"),
            ("{{ d.b|mandatory }}", "b"),
        ] {
            let e = t.render_string(src, &scope).unwrap_err();
            assert!(
                e.message
                    .contains(&format!("Mandatory variable '{name}' not defined.")),
                "{src}: {}",
                e.message
            );
        }
        assert_eq!(t.render_string("{{ n | mandatory }}", &scope), Ok(json!(2)));
    }

    #[test]
    fn the_first_undefined_name_written_is_reported() {
        let t = Templar::new();
        let empty = Vars::new();
        let scope = Scope::new(vec![&empty]);
        let e = t
            .render_string("a {{ zeta }} {{ alpha_zeta }} {{ alpha }}", &scope)
            .unwrap_err();
        assert_eq!(e.message, "'zeta' is undefined");
    }

    #[test]
    fn division_by_zero_reads_as_python() {
        let t = Templar::new();
        let empty = Vars::new();
        let scope = Scope::new(vec![&empty]);
        let msg = |src: &str| t.render_string(src, &scope).unwrap_err().message;
        assert!(
            msg("{{ 5 / 0 }}").starts_with("division by zero"),
            "{}",
            msg("{{ 5 / 0 }}")
        );
        assert!(msg("x {{ 5 // 0 }}").starts_with("integer division or modulo by zero"));
        assert!(msg("{{ 5 % 0 }}").starts_with("integer modulo by zero"));
    }

    #[test]
    fn precedence_is_highest_layer() {
        let t = Templar::new();
        let low = vars(json!({"x": "low"}));
        let high = vars(json!({"x": "high"}));
        let scope = Scope::new(vec![&low, &high]);
        assert_eq!(t.render_string("{{ x }}", &scope).unwrap(), json!("high"));
    }

    #[test]
    fn undefined_names_the_variable() {
        let t = Templar::new();
        let low = vars(json!({"d": {"k": 1}}));
        let scope = Scope::new(vec![&low]);
        assert_eq!(
            t.render_string("{{ nope }}", &scope).unwrap_err().message,
            "'nope' is undefined"
        );
        assert_eq!(
            t.render_string("{{ d.missing }}", &scope)
                .unwrap_err()
                .message,
            "object of type 'dict' has no attribute 'missing'"
        );
        // Constant subscripts are named the same way.
        let low2 = vars(json!({"d": {"k": {"x": 1}}}));
        let scope2 = Scope::new(vec![&low2]);
        for src in [
            "{{ d['missing'] }}",
            "x {{ d[\"k\"]['y'] }}",
            "{{ d['k'].y }}",
        ] {
            let e = t.render_string(src, &scope2).unwrap_err().message;
            assert!(
                e.starts_with("object of type 'dict' has no attribute"),
                "{src}: {e}"
            );
        }
        assert_eq!(
            t.eval_condition(&json!("d['k']['y']"), &scope2)
                .unwrap_err()
                .message,
            "object of type 'dict' has no attribute 'y'"
        );
        let cyc = vars(json!({"p": "{{ q }}", "q": "{{ p }}"}));
        let scope = Scope::new(vec![&cyc]);
        assert!(
            t.render_string("{{ p }}", &scope)
                .unwrap_err()
                .message
                .contains("recursive loop")
        );
    }

    #[test]
    fn undefined_chains_into_default_but_fails_unguarded() {
        let t = Templar::new();
        let low = vars(json!({"d": {"k": 1}}));
        let scope = Scope::new(vec![&low]);
        assert_eq!(
            t.render_string("{{ nope.x.y | default('d') }}", &scope)
                .unwrap(),
            json!("d")
        );
        assert_eq!(
            t.render_string("{{ d.missing.deeper | default(1) }}", &scope)
                .unwrap(),
            json!(1)
        );
        assert_eq!(
            t.render_string("x{{ nope.x }}", &scope)
                .unwrap_err()
                .message,
            "'nope' is undefined"
        );
        assert_eq!(
            t.eval_condition(&json!("nope == 1"), &scope)
                .unwrap_err()
                .message,
            "'nope' is undefined"
        );
        assert!(!t.eval_condition(&json!("nope is defined"), &scope).unwrap());
        assert_eq!(
            t.render_string("{{ none }}-{{ d.k }}", &scope).unwrap(),
            json!("-1")
        );
    }

    #[test]
    fn backslashes_in_playbook_strings_reach_filters_verbatim() {
        assert_eq!(
            escape_backslashes(
                r#"{{ "a-b" | regex_replace("^(.)-(.)$", "\2-\1") }}"#,
                false
            ),
            r#"{{ "a-b" | regex_replace("^(.)-(.)$", "\\2-\\1") }}"#
        );
        assert_eq!(
            escape_backslashes(r"x\n {{ 'a' }}", false),
            r"x\n {{ 'a' }}"
        );
        let t = Templar::new();
        let v = Vars::new();
        let scope = Scope::new(vec![&v]);
        assert_eq!(
            t.render_string(
                r#"{{ "a-b" | regex_replace("^(.)-(.)$", "\2-\1") }}"#,
                &scope
            )
            .unwrap(),
            json!("b-a")
        );
    }

    #[test]
    fn bare_conditionals_keep_their_backslash_escapes() {
        let t = Templar::new();
        let v = vars(json!({"x": "\\z"}));
        let scope = Scope::new(vec![&v]);
        assert!(t.eval_condition(&json!(r"x == '\\z'"), &scope).unwrap());
        assert!(!t.eval_condition(&json!(r"x == '\\\\z'"), &scope).unwrap());
        assert!(
            t.eval_condition(&json!(r"{{ x == '\z' }}"), &scope)
                .unwrap()
        );
        assert!(
            !t.eval_condition(&json!(r"{{ x == '\\z' }}"), &scope)
                .unwrap()
        );
    }

    #[test]
    fn template_file_options_and_header() {
        let t = Templar::new();
        let v = vars(json!({"xs": [1, 2]}));
        let scope = Scope::new(vec![&v]);
        let src = "a\n  {% for x in xs %}\n{{ x }}\n  {% endfor %}\nb\n";
        assert_eq!(
            t.render_file(src, &scope, &Vars::new()).unwrap(),
            "a\n  1\n  2\n  b\n"
        );
        let header = format!("#jinja2: lstrip_blocks: True\n{src}");
        assert_eq!(
            t.render_file(&header, &scope, &Vars::new()).unwrap(),
            "a\n1\n2\nb\n"
        );
        let notrim = FileOptions {
            trim_blocks: false,
            ..FileOptions::default()
        };
        assert_eq!(
            t.render_file_with(
                "{% if true %}\nx\n{% endif %}\n",
                &scope,
                &Vars::new(),
                notrim,
                &[]
            )
            .unwrap(),
            "\nx\n"
        );
        assert!(apply_header("#jinja2: bogus: True\n", FileOptions::default()).is_err());
    }

    #[test]
    fn the_unused_ternary_value_may_be_undefined() {
        let t = Templar::new();
        let low = vars(json!({"d": {}}));
        let scope = Scope::new(vec![&low]);
        assert!(
            t.eval_condition(
                &json!("(false | ternary(undefined_variable, 'seven')) == (false | ternary(d.no_such_key, 'seven'))"),
                &scope
            )
            .unwrap()
        );
        let e = t
            .render_string("{{ true | ternary(undefined_variable, 'seven') }}", &scope)
            .unwrap_err();
        assert_eq!(e.message, "'undefined_variable' is undefined");
        // Outside ternary's arguments the name is still checked.
        let e = t
            .render_string("{{ nope ~ (false | ternary(nope, 1)) }}", &scope)
            .unwrap_err();
        assert_eq!(e.message, "'nope' is undefined");
    }

    #[test]
    fn undef_fails_only_where_it_is_used() {
        let t = Templar::new();
        let low = vars(json!({
            "plain": "{{ undef() }}",
            "hinted": "{{ undef(hint='give me a value') }}",
            "ok": 1,
        }));
        let scope = Scope::new(vec![&low]);
        let e = t.render_string("{{ plain }}", &scope).unwrap_err();
        assert!(e.undefined, "{e:?}");
        assert!(
            e.message.contains(filters::text::UNDEF_HINT),
            "{}",
            e.message
        );
        let e = t.render_string("x {{ hinted }}", &scope).unwrap_err();
        assert!(e.message.contains("give me a value"), "{}", e.message);
        assert_eq!(t.render_string("{{ ok }}", &scope), Ok(json!(1)));
        assert_eq!(
            t.render_string("{{ hinted | default('d') }}", &scope),
            Ok(json!("d"))
        );
    }

    #[test]
    fn a_variable_whose_value_is_undefined_fails_only_when_used() {
        let t = Templar::new();
        let low = vars(json!({"deep": "{{ nested_undefined }}", "yes": true}));
        let scope = Scope::new(vec![&low]);
        assert!(t.eval_condition(&json!("yes or deep"), &scope).unwrap());
        assert!(
            t.eval_condition(&json!("deep is undefined"), &scope)
                .unwrap()
        );
        assert_eq!(
            t.render_string("{{ deep | default('defaulted') }}", &scope),
            Ok(json!("defaulted"))
        );
        for used in ["deep == 1", "{{ deep }}"] {
            let e = t.eval_condition(&json!(used), &scope).unwrap_err();
            assert!(
                e.message.contains("'nested_undefined' is undefined"),
                "{used}: {}",
                e.message
            );
        }
        for used in ["x {{ deep }}", "{{ deep }}"] {
            let e = t.render_string(used, &scope).unwrap_err();
            assert!(
                e.message.contains("'nested_undefined' is undefined"),
                "{used}: {}",
                e.message
            );
        }
    }

    #[test]
    fn a_missing_list_element_is_named() {
        let t = Templar::new();
        let low = vars(json!({"foo": [], "bar": "{{ foo[0] }}"}));
        let scope = Scope::new(vec![&low]);
        let e = t.render_string("echo {{ bar }}", &scope).unwrap_err();
        assert!(
            e.message.contains("object has no element 0"),
            "{}",
            e.message
        );
    }

    #[test]
    fn trusted_as_template_follows_where_a_value_comes_from() {
        let t = Templar::new();
        let book = vars(json!({
            "plain": "hello",
            "alias": "{{ plain }}",
            "computed": "{{ plain | upper }}",
            "marked": unsafe_value("{{ x }}"),
            "items": ["a"],
        }));
        let facts = vars(json!({"fact": "hello"}));
        let scope = Scope::with_layers(vec![(&book, true), (&facts, false)]);
        let trusted = |path: &str| {
            t.eval_condition(
                &json!(format!(
                    "{path} is ansible._protomatter.tagged_with('TrustedAsTemplate')"
                )),
                &scope,
            )
            .unwrap()
        };
        assert!(trusted("plain"));
        assert!(trusted("alias"));
        assert!(trusted("items[0]"));
        assert!(!trusted("computed"));
        assert!(!trusted("marked"));
        assert!(!trusted("fact"));
        assert!(
            t.eval_condition(
                &json!("fact is not ansible._protomatter.tagged_with(\"TrustedAsTemplate\")"),
                &scope
            )
            .unwrap()
        );
        let e = t
            .eval_condition(
                &json!("plain is ansible._protomatter.tagged_with('Origin')"),
                &scope,
            )
            .unwrap_err();
        assert!(e.message.contains("not supported yet"), "{}", e.message);
    }

    #[test]
    fn a_macro_includes_with_the_names_the_template_assigned() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("vars.j2", "{% set test = \"I'm test variable\" %}");
        write("included.j2", "{{ vars.test }}");
        let t = Templar::new();
        let v = Vars::new();
        let scope = Scope::new(vec![&v]);
        let src = "{% import 'vars.j2' as vars with context %}\n{% macro included() %}{% include 'included.j2' %}{% endmacro %}\n{{ included()|indent }}\n";
        let dirs = vec![dir.path().to_path_buf()];
        assert_eq!(
            t.render_file_with(src, &scope, &Vars::new(), FileOptions::default(), &dirs)
                .unwrap(),
            "I'm test variable\n"
        );
        // Only macros that include are touched.
        let plain = "{% set a = 1 %}{% macro m() %}{{ a }}{% endmacro %}";
        assert_eq!(macro_closures(plain), plain);
    }

    #[test]
    fn a_template_file_ends_with_its_newlines() {
        let t = Templar::new();
        let v = Vars::new();
        let scope = Scope::new(vec![&v]);
        let src = "{% for i in [1, 2] %}\n    {{ i }}\n{% endfor %}\n\n";
        assert_eq!(
            t.render_file(src, &scope, &Vars::new()).unwrap(),
            "    1\n    2\n\n"
        );
        assert_eq!(t.render_file("x", &scope, &Vars::new()).unwrap(), "x");
        // Strings: Jinja drops one trailing newline, so `{{ 1 }}\n` is one
        // expression with a native value (as ansible-core 2.19: `content:
        // "{{ n }}\n"` writes `1024`); a string result, and a text with
        // more than one node, get the source's trailing newlines back.
        assert_eq!(t.render_string("{{ 1 }}\n", &scope).unwrap(), json!(1));
        assert_eq!(
            t.render_string("{{ 'a' }}\n", &scope).unwrap(),
            json!("a\n")
        );
        assert_eq!(
            t.render_string("{{ 1 }}\n\n", &scope).unwrap(),
            json!("1\n\n")
        );
        assert_eq!(
            t.render_string("{% if true %}yes{% endif %}\n", &scope)
                .unwrap(),
            json!("yes\n")
        );
    }

    #[test]
    fn conditionals_as_ansible_2_19_reads_them() {
        let t = Templar::new();
        let v = vars(json!({"dude": "dude"}));
        let scope = Scope::new(vec![&v]);
        let cond = |c: &str| t.eval_condition(&json!(c), &scope);
        // Templates in string constants of an expression are rendered...
        assert_eq!(cond(r#""dude" == "du{{'de'}}""#), Ok(true));
        assert_eq!(
            cond(r#"dict({"d": "{{ 'dude' }}"})["d"] == "dude""#),
            Ok(true)
        );
        // ...and lookup terms render their own, after the plugin is known.
        assert_eq!(
            cond(r#"lookup('pipe', 'echo {{ "dude" }}') == "dude""#),
            Ok(true)
        );
        let e = cond("lookup('nonesuch', '{{ nope }}')").unwrap_err();
        assert!(
            e.message
                .contains("The lookup plugin 'nonesuch' was not found."),
            "{}",
            e.message
        );
        // ...but not inside a template.
        assert_eq!(cond(r#"{{ "du{" + "{'de'}}" == "du{{'de'}}" }}"#), Ok(true));
        assert_eq!(
            cond(r#"{{ lookup('pipe', 'echo {{ "dude" }}') == "dude" }}"#),
            Ok(true)
        );
        // A template of several parts is meta-templating: untrusted.
        assert_eq!(
            cond("{{ 'hello' }} == {{ 'world' }}").unwrap_err().message,
            UNTRUSTED
        );
        assert_eq!(one_expression_block("{{ a }} == {{ b }}"), None);
        assert_eq!(one_expression_block("{{ 'x}}' ~ a }}"), Some("'x}}' ~ a"));
        assert_eq!(
            t.render_string("{% set p = joiner('|') %}{{ p() }}a{{ p() }}b", &scope),
            Ok(json!("a|b"))
        );
    }

    #[test]
    fn a_unary_plus_on_a_number_is_dropped() {
        let t = Templar::new();
        let v = Vars::new();
        let scope = Scope::new(vec![&v]);
        assert_eq!(
            t.render_string("[1 + 2] + {{ [-2.5, +2.5, 1 + 2.5, (+3)] }}", &scope),
            Ok(json!("[1 + 2] + [-2.5, 2.5, 3.5, 3]"))
        );
        assert_eq!(
            t.render_string("{{ '+1' ~ 'x' }}", &scope),
            Ok(json!("+1x"))
        );
        assert!(t.eval_condition(&json!("+1 == 1"), &scope).unwrap());
        assert_eq!(
            unary_plus("a + +1 {{ 1 + +2 }}", false),
            "a + +1 {{ 1 + 2 }}"
        );
    }

    #[test]
    fn python_percent_formatting_works_in_strings_conditions_and_files() {
        let t = Templar::new();
        let v =
            vars(json!({"n": 7, "name": "web", "cfg": {"host": "db", "port": 5432}, "l": [1, 2]}));
        let scope = Scope::new(vec![&v]);
        assert_eq!(
            t.render_string("{{ '%s-%02d' % (name, n) }}", &scope),
            Ok(json!("web-07"))
        );
        assert_eq!(
            t.render_string("{{ '%(host)s:%(port)d' % cfg }}", &scope),
            Ok(json!("db:5432"))
        );
        assert_eq!(
            t.render_string("{{ '%d' % l|length }}", &scope),
            Ok(json!("2"))
        );
        assert!(t.eval_condition(&json!("'%d' % n == '7'"), &scope).unwrap());
        let file = t.render_file_with(
            "{% set x = 'n=%d' % n %}{{ x }} {{ '%s' % name }}\n",
            &scope,
            &Vars::new(),
            FileOptions::default(),
            &[],
        );
        assert_eq!(file, Ok("n=7 web\n".to_string()));
        let err = t.render_string("{{ '%s %s' % (n,) }}", &scope).unwrap_err();
        assert!(err.to_string().contains("not enough arguments"), "{err}");
    }

    #[test]
    fn vars_magic_and_the_vars_dict_and_sequence_lookups() {
        let t = Templar::new();
        let v = vars(json!({"s": "hello", "t": "{{ s }} world", "names": ["s", "t"]}));
        let scope = Scope::new(vec![&v]);
        let r = |src: &str| t.render_string(src, &scope);
        assert_eq!(
            r("{{ vars['s'] }}/{{ vars[names[1]] }}/{{ vars.get('zz', 'none') }}"),
            Ok(json!("hello/hello world/none"))
        );
        assert_eq!(
            r("{{ query('vars', 's', 't') }}"),
            Ok(json!(["hello", "hello world"]))
        );
        assert_eq!(
            r("{{ lookup('vars', 'nope', default='d') }}"),
            Ok(json!("d"))
        );
        let err = r("{{ lookup('vars', 'nope') }}").unwrap_err();
        assert!(
            err.message.contains("No variable named 'nope' was found."),
            "{}",
            err.message
        );
        assert_eq!(
            r("{{ query('dict', {'a': 1}) }}"),
            Ok(json!([{"key": "a", "value": 1}]))
        );
        assert_eq!(
            r("{{ query('sequence', 'start=1 end=3') }}"),
            Ok(json!(["1", "2", "3"]))
        );
        assert_eq!(
            r("{{ lookup('sequence', 'count=2 format=h%02d') }}"),
            Ok(json!("h01,h02"))
        );
        // `lookup` joins strings only: a list of numbers stays a list.
        assert_eq!(r("{{ lookup('items', [1, 2]) }}"), Ok(json!([1, 2])));
    }

    #[test]
    fn jinja2_header_overrides_delimiters() {
        let t = Templar::new();
        let v = vars(json!({"a": "value", "c": "<< a >>"}));
        let scope = Scope::new(vec![&v]);
        let src = "#jinja2:variable_start_string:'<<' , variable_end_string:'>>'\na: << a >> {{ a }}\nc: << c >>\n";
        assert_eq!(
            t.render_file(src, &scope, &Vars::new()).unwrap(),
            "a: value {{ a }}\nc: << a >>\n"
        );
        let src = "#jinja2: line_statement_prefix:\":\"\n: if true\nfoo\n: endif\n";
        assert_eq!(t.render_file(src, &scope, &Vars::new()).unwrap(), "foo\n");
        let e = t
            .render_file("#jinja2: lstrip_blocks=True\nx", &scope, &Vars::new())
            .unwrap_err();
        assert!(
            e.message.contains("Missing key-value separator"),
            "{}",
            e.message
        );
        let mut o = FileOptions::default();
        o.set("comment_start_string", "[#").unwrap();
        o.set("comment_end_string", "#]").unwrap();
        assert_eq!(
            t.render_file_with("a[# hidden #]b {# shown #}", &scope, &Vars::new(), o, &[])
                .unwrap(),
            "ab {# shown #}"
        );
    }

    #[test]
    fn included_and_imported_templates_are_found_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("inc.j2", "[{{ x }}|{{ shared }}]");
        write("mac.j2", "{% macro m(v) %}<{{ v }}>{% endmacro %}");
        write("bad.j2", "{{ undefined_variable }}");
        let t = Templar::new();
        let v = vars(json!({"xs": [1, 2], "shared": "s", "unused": "{{ nope }}"}));
        let scope = Scope::new(vec![&v]);
        let dirs = vec![dir.path().to_path_buf()];
        let src = "{% for x in xs %}{% include 'inc.j2' %}{% endfor %}{% from 'mac.j2' import m %}{{ m(1) }}";
        assert_eq!(
            t.render_file_with(src, &scope, &Vars::new(), FileOptions::default(), &dirs)
                .unwrap(),
            "[1|s][2|s]<1>"
        );
        let e = t
            .render_file_with(
                "{% import 'bad.j2' as b %}{{ b }}",
                &scope,
                &Vars::new(),
                FileOptions::default(),
                &dirs,
            )
            .unwrap_err();
        assert_eq!(e.message, "'undefined_variable' is undefined");
        // Without the directories the include is not found.
        assert!(t.render_file(src, &scope, &Vars::new()).is_err());
    }

    #[test]
    fn conditions() {
        let t = Templar::new();
        let low = vars(json!({"n": 3, "flag": true}));
        let scope = Scope::new(vec![&low]);
        assert!(t.eval_condition(&json!("n > 2"), &scope).unwrap());
        assert!(!t.eval_condition(&json!(["flag", "n > 5"]), &scope).unwrap());
        assert!(t.eval_condition(&json!("{{ flag }}"), &scope).unwrap());
        assert!(t.eval_condition(&json!(true), &scope).unwrap());
    }
}
