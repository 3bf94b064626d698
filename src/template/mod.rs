//! Jinja2 templating with Ansible's filters, tests and variable resolution.
//!
//! Variables are resolved lazily as Ansible does: a variable whose value is
//! itself a template is rendered when a template uses it, in the same scope.
//! Only the variables an expression actually names are resolved, so an
//! undefined variable is reported by name, and cycles are detected.

pub mod filters;
pub mod jinja_tests;
mod lookup;
mod taint;

pub use lookup::{find_file, run_lookup, search_dirs, set_inventory, set_search_dirs};

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
        minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
    });
    filters::register(env);
    jinja_tests::register(env);
    lookup::register(env);
}

fn syntax(trim_blocks: bool) -> minijinja::syntax::SyntaxConfig {
    syntax_with(&FileOptions {
        trim_blocks,
        ..FileOptions::default()
    })
}

fn syntax_with(o: &FileOptions) -> minijinja::syntax::SyntaxConfig {
    minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(o.trim_blocks)
        .lstrip_blocks(o.lstrip_blocks)
        .keep_trailing_newline(o.keep_trailing_newline)
        .build()
        .unwrap_or_default()
}

/// Jinja options of the template module (and of a `#jinja2:` header line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOptions {
    /// `trim_blocks` (Ansible's default: on).
    pub trim_blocks: bool,
    /// `lstrip_blocks` (default off).
    pub lstrip_blocks: bool,
    /// `keep_trailing_newline` (Ansible keeps it).
    pub keep_trailing_newline: bool,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            keep_trailing_newline: true,
        }
    }
}

/// Applies a leading `#jinja2: trim_blocks: False, lstrip_blocks: True` line
/// (which is removed from the output), as Ansible's template module does.
pub fn apply_header(
    source: &str,
    mut o: FileOptions,
) -> Result<(FileOptions, &str), TemplateError> {
    let Some(rest) = source.strip_prefix("#jinja2:") else {
        return Ok((o, source));
    };
    let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
    for part in line.split(',') {
        let Some((k, v)) = part.split_once(':') else {
            continue;
        };
        let v = match v
            .trim()
            .trim_matches(['"', '\''])
            .to_ascii_lowercase()
            .as_str()
        {
            "true" | "yes" => true,
            "false" | "no" => false,
            other => {
                return Err(TemplateError::new(format!(
                    "#jinja2 header: `{}` expects True or False, got `{other}`",
                    k.trim()
                )));
            }
        };
        match k.trim() {
            "trim_blocks" => o.trim_blocks = v,
            "lstrip_blocks" => o.lstrip_blocks = v,
            "keep_trailing_newline" => o.keep_trailing_newline = v,
            other => {
                return Err(TemplateError::new(format!(
                    "#jinja2 header: option `{other}` is not supported yet"
                )));
            }
        }
    }
    Ok((o, body))
}

impl Templar {
    /// An engine with Ansible's filters, tests and lookups.
    pub fn new() -> Self {
        let mut env = Environment::new();
        configure(&mut env);
        env.set_syntax(syntax(false));
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
            .template_from_str(source)
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
            .compile_expression(expr)
            .map(|_| ())
            .map_err(|e| TemplateError::new(describe(&e)))
    }

    /// Checks a template file's syntax.
    pub fn check_file_syntax(&self, source: &str) -> Result<(), TemplateError> {
        self.file_env
            .template_from_str(source)
            .map(|_| ())
            .map_err(|e| TemplateError::new(describe(&e)))
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

    /// Templates one string.
    pub fn render_string(&self, source: &str, scope: &Scope) -> Result<Value, TemplateError> {
        if !is_template(source) {
            return Ok(Value::String(source.to_string()));
        }
        let escaped = escape_backslashes(source, false);
        let source: &str = &escaped;
        if let Some(expr) = single_expression(source) {
            let compiled = self
                .env
                .compile_expression(expr)
                .map_err(|e| TemplateError::new(describe(&e)))?;
            let names = sliced_names(compiled.undeclared_variables(false), expr, scope);
            let inputs = self.context_for(&names, scope, source)?;
            let result = inputs.eval(source, |ctx| compiled.eval(ctx)).map_err(|e| {
                self.explain(e, &compiled.undeclared_variables(true), source, scope)
            })?;
            if result.is_undefined() {
                let err = minijinja::Error::from(ErrorKind::UndefinedError);
                return Err(self.explain(err, &compiled.undeclared_variables(true), source, scope));
            }
            return Ok(to_json(&result));
        }
        let tmpl = self
            .env
            .template_from_str(source)
            .map_err(|e| TemplateError::new(describe(&e)))?;
        let names = sliced_names(tmpl.undeclared_variables(false), source, scope);
        let inputs = self.context_for(&names, scope, source)?;
        inputs
            .render(source, |ctx| tmpl.render(ctx))
            .map(Value::String)
            .map_err(|e| self.explain(e, &tmpl.undeclared_variables(true), source, scope))
    }

    /// Renders a template file (the `template` module, `lookup('template')`).
    pub fn render_file(
        &self,
        source: &str,
        scope: &Scope,
        extra: &Vars,
    ) -> Result<String, TemplateError> {
        self.render_file_with(source, scope, extra, FileOptions::default())
    }

    /// Renders a template file with the template module's Jinja options.
    pub fn render_file_with(
        &self,
        source: &str,
        scope: &Scope,
        extra: &Vars,
        options: FileOptions,
    ) -> Result<String, TemplateError> {
        let (options, source) = apply_header(source, options)?;
        let custom;
        let env = if options == FileOptions::default() {
            &self.file_env
        } else {
            let mut env = Environment::new();
            configure(&mut env);
            env.set_syntax(syntax_with(&options));
            custom = env;
            &custom
        };
        let tmpl = env
            .template_from_str(source)
            .map_err(|e| TemplateError::new(describe(&e)))?;
        let names = sliced_names(tmpl.undeclared_variables(false), source, scope);
        let names: HashSet<String> = names
            .into_iter()
            .filter(|n| !extra.contains_key(n))
            .collect();
        let mut ctx = self.context_map(&names, scope)?;
        self.unguarded_undefined(&names, &ctx, source)?;
        for (k, v) in extra {
            ctx.insert(k.clone(), from_json(v));
        }
        scope
            .inputs(ctx)
            .render(source, |ctx| tmpl.render(ctx))
            .map_err(|e| self.explain(e, &tmpl.undeclared_variables(true), source, scope))
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
            Value::String(s) if is_template(s) && single_expression(s.trim()).is_none() => {
                let rendered = self.render_string(s, scope)?;
                match rendered {
                    Value::String(text) => Ok(truthy_str(&text)),
                    other => self.eval_condition(&other, scope),
                }
            }
            // `!unsafe` text is never evaluated as a condition.
            Value::Object(map) if unsafe_text(map).is_some() => Err(TemplateError::new(UNTRUSTED)),
            Value::Object(map) if crate::vault::marker_text(map).is_some() => {
                let plain = open_vault(crate::vault::marker_text(map).unwrap_or_default())?;
                Ok(truthy_str(plain.as_str().unwrap_or_default()))
            }
            Value::String(s) => {
                // Ansible escapes backslashes in string literals inside `{{ }}`
                // only: a bare conditional (`x == '\\z'`) is read as written.
                let escaped = match single_expression(s.trim()) {
                    Some(inner) => escape_backslashes(inner, true),
                    None => std::borrow::Cow::Borrowed(s.as_str()),
                };
                let expr: &str = &escaped;
                let compiled = self
                    .env
                    .compile_expression(expr)
                    .map_err(|e| TemplateError::new(describe(&e)))?;
                let names = sliced_names(compiled.undeclared_variables(false), expr, scope);
                let ctx = self.context_for(&names, scope, expr)?.context();
                let result = compiled.eval(ctx).map_err(|e| {
                    self.explain(e, &compiled.undeclared_variables(true), expr, scope)
                })?;
                if result.is_undefined() {
                    let err = minijinja::Error::from(ErrorKind::UndefinedError);
                    return Err(self.explain(
                        err,
                        &compiled.undeclared_variables(true),
                        expr,
                        scope,
                    ));
                }
                // A condition that renders to a string is evaluated again (Ansible's
                // conditional templating of e.g. `when: flag` where flag = "x == 1").
                if let Some(text) = result.as_str() {
                    // A string the expression computed (not a variable's own
                    // value) is not trusted as a condition, as in Ansible 2.19.
                    if !is_variable_path(expr) {
                        return Err(TemplateError::new(UNTRUSTED));
                    }
                    return Ok(crate::template::truthy_str(text));
                }
                Ok(result.is_true())
            }
            Value::Object(_) => Err(TemplateError::new(
                "a conditional must be an expression, not a mapping",
            )),
        }
    }

    fn context_for(
        &self,
        names: &HashSet<String>,
        scope: &Scope,
        source: &str,
    ) -> Result<taint::Inputs, TemplateError> {
        let mut ctx = self.context_map(names, scope)?;
        self.unguarded_undefined(names, &ctx, source)?;
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
        names: &HashSet<String>,
        ctx: &std::collections::BTreeMap<String, minijinja::Value>,
        source: &str,
    ) -> Result<(), TemplateError> {
        let mut missing: Vec<&String> = names
            .iter()
            .filter(|n| {
                !ctx.contains_key(n.as_str()) && self.env.globals().all(|(g, _)| g != n.as_str())
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
            if let Some(v) = self.resolve(name, scope)? {
                ctx.insert(name.clone(), v);
            }
        }
        Ok(ctx)
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
        let rendered = self.render_value(&raw, scope);
        scope.resolving.borrow_mut().pop();
        let rendered = rendered.map_err(|e| TemplateError {
            message: format!("while templating variable '{name}': {}", e.message),
            undefined: e.undefined,
        })?;
        let value = from_json(&rendered);
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

    /// The undefined name under `path | mandatory` in `source` (the
    /// variable, or the missing attribute), as Ansible's message names it.
    fn mandatory_name(&self, source: &str, scope: &Scope) -> Option<String> {
        static MANDATORY: std::sync::LazyLock<Option<regex::Regex>> =
            std::sync::LazyLock::new(|| {
                regex::Regex::new(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\|\s*mandatory\b").ok()
            });
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
            r#"^\s*[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\s*(?:'[^']*'|"[^"]*"|\d+)\s*\])*\s*$"#,
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
            r#"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)((?:\[\s*(?:'[^'.]*'|"[^".]*")\s*\](?:\.[A-Za-z_]\w*)*)+)"#,
        )
        .ok()
    });
    static KEY: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"\[\s*(?:'([^'.]*)'|"([^".]*)")\s*\]|\.([A-Za-z_]\w*)"#).ok()
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

/// Whether an expression guards against undefined values itself
/// (`x is defined`, `x | default(..)`, `x | d(..)`, `mandatory`, `omit`...).
fn guarded(source: &str) -> bool {
    static GUARD: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    GUARD
        .get_or_init(|| {
            regex::Regex::new(
                r"\bis\s+(not\s+)?(defined|undefined|none)\b|\|\s*(default|d|mandatory)\b|\b(default|mandatory)\s*\(|\bomit\b|\bvars\b|\bhostvars\b",
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
    Some(inner.trim().trim_start_matches('-').trim_end_matches('-'))
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
        }
    }

    /// Adds a value that is exposed as is (already resolved objects like `hostvars`).
    pub fn with_special(mut self, name: &'static str, value: minijinja::Value) -> Self {
        self.specials.insert(name, value);
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
            regex::Regex::new(r#"^\.?([A-Za-z_]\w*)|^\[\s*(?:'([^']*)'|"([^"]*)"|(\d+))\s*\]"#).ok()
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
                    (_, false) => return None,
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
        let low = vars(json!({"flag": "yes", "d": {"k": "no"}}));
        let scope = Scope::new(vec![&low]);
        for cond in ["{{ '1 == 1' }}", "'a' ~ 'b'"] {
            let e = t.eval_condition(&json!(cond), &scope).unwrap_err();
            assert_eq!(e.message, UNTRUSTED, "{cond}");
        }
        assert_eq!(t.eval_condition(&json!("flag"), &scope), Ok(true));
        assert_eq!(t.eval_condition(&json!("{{ d['k'] }}"), &scope), Ok(false));
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
                notrim
            )
            .unwrap(),
            "\nx\n\n"
        );
        assert!(apply_header("#jinja2: bogus: True\n", FileOptions::default()).is_err());
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
