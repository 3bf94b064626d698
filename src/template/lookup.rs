//! `lookup()` and `query()`: the lookups that need no plugin code on the target.
//!
//! The same plugins feed the `with_<lookup>` loops ([`run_lookup`]).

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

static SEARCH_DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
static INVENTORY: std::sync::Mutex<Option<crate::inventory::Inventory>> =
    std::sync::Mutex::new(None);

/// Directories searched for relative paths in `lookup('file')` (the
/// playbook's `files/`, then the playbook's directory), set at run start.
pub fn set_search_dirs(dirs: Vec<PathBuf>) {
    if let Ok(mut d) = SEARCH_DIRS.lock() {
        *d = dirs;
    }
}

/// The inventory `lookup('inventory_hostnames')` selects from, set at run start.
pub fn set_inventory(inventory: crate::inventory::Inventory) {
    if let Ok(mut i) = INVENTORY.lock() {
        *i = Some(inventory);
    }
}

/// The directories [`set_search_dirs`] set last.
pub fn search_dirs() -> Vec<PathBuf> {
    SEARCH_DIRS.lock().map(|d| d.clone()).unwrap_or_default()
}

/// A controller file by name: absolute, or the first of the search
/// directories (the task's role `files/`, the role, the playbook's
/// `files/`, the playbook's directory) that has it.
pub fn find_file(term: &str) -> Option<PathBuf> {
    let p = Path::new(term);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    search_dirs().iter().map(|d| d.join(p)).find(|c| c.exists())
}

fn term_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn flag(opts: &Map<String, Value>, key: &str, default: bool) -> bool {
    match opts.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => tend_modules::args::parse_bool(s).unwrap_or(default),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(_) => default,
    }
}

/// Terms flattened one level (`query('file', 'a', ['b', 'c'])`).
fn flat(terms: &[Value]) -> Vec<Value> {
    terms
        .iter()
        .flat_map(|t| match t {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        })
        .collect()
}

/// Runs lookup plugin `name` over `terms` with keyword options.
pub fn run_lookup(
    name: &str,
    terms: &[Value],
    opts: &Map<String, Value>,
) -> Result<Vec<Value>, String> {
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let mut out = Vec::new();
    match short {
        "env" => {
            for t in flat(terms) {
                out.push(match std::env::var(term_text(&t)) {
                    Ok(v) => Value::String(v),
                    Err(_) => opts
                        .get("default")
                        .cloned()
                        .unwrap_or_else(|| Value::String(String::new())),
                });
            }
        }
        "file" => {
            for t in flat(terms) {
                let term = term_text(&t);
                let path = find_file(&term).ok_or_else(|| {
                    format!("The 'file' lookup had an issue accessing the file '{term}'. file not found, use -vvvvv to see paths searched")
                })?;
                let bytes = std::fs::read(&path)
                    .map_err(|e| format!("lookup('file'): could not read '{term}': {e}"))?;
                // A vault-encrypted file is decrypted, as Ansible's file lookup does.
                let bytes = crate::vault::decrypt_file(&path, bytes)
                    .map_err(|e| format!("lookup('file'): {e}"))?;
                let mut text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| format!("lookup('file'): '{term}' is not UTF-8 text"))?;
                if flag(opts, "lstrip", false) {
                    text = text.trim_start().to_string();
                }
                if flag(opts, "rstrip", true) {
                    text = text.trim_end().to_string();
                }
                out.push(Value::String(text));
            }
        }
        "pipe" | "lines" => {
            for t in flat(terms) {
                let term = term_text(&t);
                let output = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&term)
                    .output()
                    .map_err(|e| format!("lookup('{short}'): could not run '{term}': {e}"))?;
                if !output.status.success() {
                    return Err(format!(
                        "lookup_plugin.{short}(\"{term}\") returned {}",
                        output.status.code().unwrap_or(-1)
                    ));
                }
                let text = String::from_utf8_lossy(&output.stdout);
                if short == "pipe" {
                    out.push(Value::String(text.trim_end().to_string()));
                } else {
                    out.extend(text.lines().map(|l| Value::String(l.to_string())));
                }
            }
        }
        "items" | "list" => out = flat(terms),
        "sequence" => {
            for term in terms {
                out.extend(sequence(&term_text(term))?);
            }
        }
        "dict" => {
            for term in terms {
                let Value::Object(m) = term else {
                    return Err(format!(
                        "the 'dict' lookup plugin expects a dictionary, got '{}'",
                        term_text(term)
                    ));
                };
                out.extend(
                    m.iter()
                        .map(|(k, v)| serde_json::json!({"key": k, "value": v})),
                );
            }
        }
        "password" => {
            for t in flat(terms) {
                out.push(Value::String(password(&term_text(&t))?));
            }
        }
        "fileglob" => {
            for t in flat(terms) {
                out.extend(fileglob(&term_text(&t))?);
            }
        }
        "first_found" => out.extend(first_found(terms, opts)?),
        "subelements" => out = subelements(terms)?,
        "random_choice" => {
            if !terms.is_empty() {
                let i = crate::template::filters::extra::PyRandom::unseeded()
                    .randbelow(terms.len() as u64) as usize;
                out.push(terms[i].clone());
            }
        }
        "inventory_hostnames" => {
            let pattern = flat(terms)
                .iter()
                .map(term_text)
                .collect::<Vec<_>>()
                .join(":");
            let inventory = INVENTORY.lock().map_err(|e| e.to_string())?;
            let hosts = match inventory.as_ref() {
                Some(inv) => inv.select(&pattern).map_err(|e| e.to_string())?,
                None => Vec::new(),
            };
            out.extend(hosts.into_iter().map(Value::String));
        }
        other if ANSIBLE_LOOKUPS.contains(&other) => {
            return Err(format!("lookup plugin '{other}' is not supported yet"));
        }
        other => return Err(format!("The lookup plugin '{other}' was not found.")),
    }
    Ok(out)
}

/// `password`: `PATH [length=N] [chars=SETS]`. The file's password when it
/// exists (its first line, before any ` salt=`), else a new random one
/// written to it (mode 0600, directories made), as Ansible's; a relative
/// path is under the playbook's directory; `/dev/null` gives a new one each time.
fn password(term: &str) -> Result<String, String> {
    let mut parts = term.split_whitespace();
    let path = parts
        .next()
        .ok_or("the 'password' lookup needs a file path")?;
    let (mut length, mut chars) = (20usize, None::<String>);
    for part in parts {
        match part.split_once('=') {
            Some(("length", v)) => {
                length = v
                    .parse()
                    .map_err(|_| format!("password lookup: length={v} is not a number"))?
            }
            Some(("chars", v)) => chars = Some(v.to_string()),
            Some((k @ ("encrypt" | "ident" | "seed"), _)) => {
                return Err(format!("password lookup: `{k}` is not supported yet"));
            }
            _ => {
                return Err(format!(
                    "Unrecognized value after key=value parameters given to password lookup: {part}"
                ));
            }
        }
    }
    let alphabet: Vec<char> = match chars.as_deref() {
        None => "ascii_letters,digits,.,:-_"
            .split(',')
            .flat_map(char_set)
            .collect(),
        // `,,` stands for a comma.
        Some(list) => list
            .replace(",,", "\0")
            .split(',')
            .flat_map(|s| char_set(&s.replace('\0', ",")))
            .collect(),
    };
    let file = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        search_dirs().last().cloned().unwrap_or_default().join(path)
    };
    if path != "/dev/null"
        && let Ok(text) = std::fs::read_to_string(&file)
    {
        let line = text.lines().next().unwrap_or_default();
        return Ok(line.split(" salt=").next().unwrap_or_default().to_string());
    }
    if alphabet.is_empty() {
        return Err("password lookup: `chars` gives no characters".into());
    }
    let mut random = vec![0u8; length * 4];
    getrandom::fill(&mut random).map_err(|e| format!("password lookup: {e}"))?;
    let secret: String = random
        .chunks(4)
        .map(|c| {
            let n = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
            alphabet[n % alphabet.len()]
        })
        .collect();
    if path != "/dev/null" {
        write_private(&file, &format!("{secret}\n"))
            .map_err(|e| format!("password lookup: could not write {}: {e}", file.display()))?;
    }
    Ok(secret)
}

/// A `chars` entry of the password lookup: a Python `string` constant's
/// characters, or the text itself.
fn char_set(name: &str) -> Vec<char> {
    let set = match name {
        "ascii_letters" => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "ascii_lowercase" => "abcdefghijklmnopqrstuvwxyz",
        "ascii_uppercase" => "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "digits" => "0123456789",
        "hexdigits" => "0123456789abcdefABCDEF",
        "octdigits" => "01234567",
        "punctuation" => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        other => other,
    };
    set.chars().collect()
}

/// Writes a new file only its owner can read, making its directories.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}

/// `fileglob`: files (not directories) matching a pattern; a pattern
/// with a directory is searched for under the search path, a bare one
/// in each search directory (`files/` first), first match wins.
fn fileglob(term: &str) -> Result<Vec<Value>, String> {
    let p = Path::new(term);
    let base = p
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dirs: Vec<PathBuf> = match p.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => find_file(&dir.to_string_lossy()).into_iter().collect(),
        None => search_dirs(),
    };
    let matcher = globset::GlobBuilder::new(&base)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("fileglob: bad pattern '{term}': {e}"))?
        .compile_matcher();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let found: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                // Python's glob: a leading dot is matched only explicitly.
                (!name.starts_with('.') || base.starts_with('.'))
                    && matcher.is_match(&*name)
                    && e.path().is_file()
            })
            .map(|e| e.path().display().to_string())
            .collect();
        // Directory order, as Python's glob.
        if !found.is_empty() {
            return Ok(found.into_iter().map(Value::String).collect());
        }
    }
    Ok(Vec::new())
}

/// `first_found`: the first existing file of `files` (in each of `paths`).
fn first_found(terms: &[Value], opts: &Map<String, Value>) -> Result<Vec<Value>, String> {
    let split = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(a) => a.iter().map(term_text).collect(),
            Value::String(s) => s
                .split([',', ';'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Value::Null => Vec::new(),
            other => vec![term_text(other)],
        }
    };
    let mut skip = flag(opts, "skip", false);
    let mut candidates: Vec<String> = Vec::new();
    let mut add = |files: Vec<String>, paths: Vec<String>| {
        if paths.is_empty() {
            candidates.extend(files);
        } else {
            for p in &paths {
                for f in &files {
                    candidates.push(Path::new(p).join(f).display().to_string());
                }
            }
        }
    };
    let global_files = opts.get("files").map(split).unwrap_or_default();
    let global_paths = opts.get("paths").map(split).unwrap_or_default();
    for t in flat(terms) {
        match &t {
            Value::Object(m) => {
                skip |= flag(m, "skip", false);
                let files = m.get("files").map(split).unwrap_or_default();
                let paths = m.get("paths").map(split).unwrap_or_default();
                add(files, paths);
            }
            Value::String(s) => add(split(&Value::String(s.clone())), global_paths.clone()),
            other => add(vec![term_text(other)], global_paths.clone()),
        }
    }
    if !global_files.is_empty() {
        add(global_files, global_paths);
    }
    for c in candidates {
        if let Some(path) = find_file(&c).filter(|p| p.is_file()) {
            return Ok(vec![Value::String(path.display().to_string())]);
        }
    }
    if skip {
        Ok(Vec::new())
    } else {
        Err("No file was found when using first_found.".into())
    }
}

/// `subelements`: `[list, 'key.subkey', {skip_missing: bool}]` → `[item, subitem]`.
fn subelements(terms: &[Value]) -> Result<Vec<Value>, String> {
    let bad = || {
        "subelements lookup expects a list of two or three items, the first a list or dict of dicts, the second a key".to_string()
    };
    let (list, key) = match terms {
        [list, Value::String(key)] | [list, Value::String(key), _] => (list, key),
        _ => return Err(bad()),
    };
    let skip_missing = match terms.get(2) {
        None => false,
        Some(Value::Object(m)) => {
            if let Some(k) = m.keys().find(|k| *k != "skip_missing") {
                return Err(format!(
                    "the optional third item must contain only the flag 'skip_missing', found '{k}'"
                ));
            }
            flag(m, "skip_missing", false)
        }
        Some(_) => {
            return Err(
                "the optional third item must be a dict with the flag 'skip_missing'".into(),
            );
        }
    };
    let elements: Vec<&Value> = match list {
        Value::Array(a) => a.iter().collect(),
        Value::Object(m) => m.values().collect(),
        _ => return Err(bad()),
    };
    let mut out = Vec::new();
    for element in elements {
        let Value::Object(_) = element else {
            return Err(bad());
        };
        if element.get("skipped") == Some(&Value::Bool(true)) {
            continue;
        }
        let mut sub = Some(element);
        for part in key.split('.') {
            sub = sub.and_then(|v| v.get(part));
        }
        match sub {
            Some(Value::Array(items)) => {
                // The element is given without its subelements, as Ansible's.
                let mut shown = element.clone();
                let mut parts: Vec<&str> = key.split('.').collect();
                let last = parts.pop().unwrap_or_default();
                let mut inner = Some(&mut shown);
                for part in parts {
                    inner = inner.and_then(|v| v.get_mut(part));
                }
                if let Some(Value::Object(m)) = inner {
                    m.shift_remove(last);
                }
                for i in items {
                    out.push(Value::Array(vec![shown.clone(), i.clone()]));
                }
            }
            Some(_) => {
                return Err(format!(
                    "the key {key} should point to a list, got '{}'",
                    term_text(sub.unwrap_or(&Value::Null))
                ));
            }
            None if skip_missing => {}
            None => {
                return Err(format!(
                    "could not find '{key}' key in iterated item '{element}'"
                ));
            }
        }
    }
    Ok(out)
}

/// Whether an expression calls the `template` or `vars` lookup (which need
/// every variable of the task, not only those the expression names).
pub(crate) fn wants_all_variables(source: &str) -> bool {
    ["template", "vars"].iter().any(|l| {
        [
            format!("'{l}'"),
            format!("\"{l}\""),
            format!("ansible.builtin.{l}"),
        ]
        .iter()
        .any(|n| source.contains(n.as_str()))
    })
}

/// `lookup('template', name)`: the file from the task's role `templates/`
/// or the playbook's, rendered with the expression's variables.
fn template(state: &minijinja::State<'_, '_>, terms: &[Value]) -> Result<Vec<Value>, Error> {
    let dirs: Vec<PathBuf> = search_dirs()
        .into_iter()
        .map(|d| match d.file_name() {
            Some(n) if n == "files" => d.with_file_name("templates"),
            _ => d,
        })
        .collect();
    let mut ctx = std::collections::BTreeMap::new();
    for name in state.known_variables() {
        if let Some(v) = state.lookup(&name) {
            ctx.insert(name.to_string(), v);
        }
    }
    let mut out = Vec::new();
    for t in flat(terms) {
        let name = term_text(&t);
        let p = Path::new(&name);
        let path = if p.is_absolute() {
            Some(p.to_path_buf())
        } else {
            dirs.iter().map(|d| d.join(p)).find(|c| c.is_file())
        }
        .ok_or_else(|| {
            fail(format!(
                "the template file {name} could not be found for the lookup"
            ))
        })?;
        let source = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("could not read '{}': {e}", path.display())))?;
        let (options, source) = super::apply_header(&source, super::FileOptions::default())
            .map_err(|e| fail(format!("{}: {}", path.display(), e.message)))?;
        let (env, loaded) = super::file_environment(&options, super::include_dirs(&path))
            .map_err(|e| fail(e.message))?;
        let rendered = env
            .render_str(&super::macro_closures(source), &ctx)
            .map_err(|e| {
                match super::undefined_included(&env, &loaded, |n| ctx.contains_key(n)) {
                    Some(name) if super::caused_by_undefined(&e) => {
                        fail(format!("'{name}' is undefined"))
                    }
                    _ => e,
                }
            })?;
        let rendered = super::trailing_newlines(source, rendered);
        out.push(native_result(source, rendered));
    }
    Ok(out)
}

/// What a rendered template file is as a value: as in Ansible 2.19, a
/// template that outputs one expression (macros aside) gives its value, a
/// list or dict; other output is text.
fn native_result(source: &str, rendered: String) -> Value {
    static MACRO: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?s)\{%-?\s*macro\b.*?\{%-?\s*endmacro\s*-?%\}").ok()
    });
    static TAG: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?s)\{%.*?%\}|\{#.*?#\}").ok());
    let (Some(m), Some(tag)) = (MACRO.as_ref(), TAG.as_ref()) else {
        return Value::String(rendered);
    };
    let body = m.replace_all(source, "");
    let body = tag.replace_all(&body, "");
    let body = body.trim();
    let single = body.starts_with("{{") && body.ends_with("}}") && body.matches("{{").count() == 1;
    if !single {
        return Value::String(rendered);
    }
    match crate::inventory::pyliteral::literal_eval(rendered.trim_end_matches('\n')) {
        Some(v @ (Value::Array(_) | Value::Object(_))) => v,
        _ => Value::String(rendered),
    }
}

/// ansible-core's lookup plugins (those tend lacks are "not supported yet";
/// any other name is not found, as in Ansible).
const ANSIBLE_LOOKUPS: &[&str] = &[
    "config",
    "csvfile",
    "dict",
    "env",
    "file",
    "fileglob",
    "first_found",
    "indexed_items",
    "ini",
    "inventory_hostnames",
    "items",
    "lines",
    "list",
    "nested",
    "password",
    "pipe",
    "random_choice",
    "sequence",
    "subelements",
    "template",
    "together",
    "unvault",
    "url",
    "varnames",
    "vars",
];

/// A lookup term: a string holding a template (`'echo {{ "x" }}'`) is
/// rendered with the expression's variables first, as Ansible 2.19 still
/// does for lookup terms (deprecated there).
fn embedded_template(
    state: &minijinja::State<'_, '_>,
    term: &minijinja::Value,
) -> Result<Value, Error> {
    match term.as_str() {
        Some(text) if super::is_template(text) => {
            let mut ctx = std::collections::BTreeMap::new();
            for name in state.known_variables() {
                if let Some(v) = state.lookup(&name) {
                    ctx.insert(name.to_string(), v);
                }
            }
            state.env().render_str(text, ctx).map(Value::String)
        }
        _ => Ok(crate::template::to_json(term)),
    }
}

/// `lookup('vars', name, ...)`: the variables' values (`default` for a
/// missing one); the expression was given every variable
/// ([`wants_all_variables`]).
fn variables(
    state: &minijinja::State<'_, '_>,
    terms: &[Value],
    kwargs: &Kwargs,
) -> Result<Vec<Value>, Error> {
    let default: Option<minijinja::Value> = kwargs.get("default")?;
    terms
        .iter()
        .map(|term| {
            let Value::String(name) = term else {
                return Err(fail(format!(
                    "Invalid setting identifier, \"{}\" is not a string, it is a {}",
                    term_text(term),
                    crate::compile::actions::python_type(term)
                )));
            };
            match state.lookup(name).filter(|v| !v.is_undefined()) {
                Some(v) => Ok(crate::template::to_json(&v)),
                None => match &default {
                    Some(d) => Ok(crate::template::to_json(d)),
                    None => Err(fail(format!("No variable named '{name}' was found."))),
                },
            }
        })
        .collect()
}

fn fail(msg: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg)
}

fn call(
    state: &minijinja::State<'_, '_>,
    name: &str,
    terms: &Rest<minijinja::Value>,
    kwargs: &Kwargs,
) -> Result<Vec<Value>, Error> {
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    if !ANSIBLE_LOOKUPS.contains(&short) {
        return Err(fail(format!("The lookup plugin '{name}' was not found.")));
    }
    let terms = terms
        .iter()
        .map(|t| embedded_template(state, t))
        .collect::<Result<Vec<Value>, Error>>()?;
    if short == "vars" {
        return variables(state, &terms, kwargs);
    }
    if matches!(name, "template" | "ansible.builtin.template") {
        for key in kwargs.args() {
            let _: minijinja::Value = kwargs.get(key)?;
        }
        return template(state, &terms);
    }
    let mut opts = Map::new();
    for key in kwargs.args() {
        let v: minijinja::Value = kwargs.get(key)?;
        if key != "wantlist" {
            opts.insert(key.to_string(), crate::template::to_json(&v));
        }
    }
    match run_lookup(name, &terms, &opts) {
        // `errors='ignore'` / `'warn'`: a failed lookup yields nothing.
        Err(_)
            if matches!(
                opts.get("errors").and_then(Value::as_str),
                Some("ignore" | "warn")
            ) =>
        {
            Ok(Vec::new())
        }
        other => other.map_err(fail),
    }
}

/// Registers `lookup`, `query` and `q`.
pub fn register(env: &mut Environment<'_>) {
    env.add_function(
        "lookup",
        |state: &minijinja::State<'_, '_>,
         name: String,
         terms: Rest<minijinja::Value>,
         kwargs: Kwargs|
         -> Result<minijinja::Value, Error> {
            let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
            let values = call(state, &name, &terms, &kwargs)?;
            if wantlist {
                return Ok(crate::template::from_json(&Value::Array(values)));
            }
            // Python's `",".join(ran)`, which fails (the list is kept) when
            // an item is not a string.
            Ok(match values.len() {
                1 => crate::template::from_json(&values[0]),
                _ if values.iter().all(Value::is_string) => minijinja::Value::from(
                    values.iter().map(term_text).collect::<Vec<_>>().join(","),
                ),
                _ => crate::template::from_json(&Value::Array(values)),
            })
        },
    );
    let query = |state: &minijinja::State<'_, '_>,
                 name: String,
                 terms: Rest<minijinja::Value>,
                 kwargs: Kwargs|
     -> Result<minijinja::Value, Error> {
        Ok(crate::template::from_json(&Value::Array(call(
            state, &name, &terms, &kwargs,
        )?)))
    };
    env.add_function("query", query);
    env.add_function("q", query);
}

/// The most items `with_sequence` makes.
const MAX_SEQUENCE: i128 = 10_000_000;

/// `with_sequence`: `start=1 end=10 stride=2 format=host%02d`, `count=3`, or `1-10/2`.
pub fn sequence(spec: &str) -> Result<Vec<Value>, String> {
    let (mut start, mut end, mut stride, mut count, mut format) =
        (1i64, None, 1i64, None, None::<String>);
    let num = |k: &str, v: &str| -> Result<i64, String> {
        let v = v.trim();
        let parsed = if let Some(h) = v.strip_prefix("0x") {
            i64::from_str_radix(h, 16)
        } else if let Some(o) = v.strip_prefix("0o") {
            i64::from_str_radix(o, 8)
        } else {
            v.parse()
        };
        parsed.map_err(|_| format!("with_sequence: can't parse {k}={v} as an integer"))
    };
    for part in spec.split_whitespace() {
        match part.split_once('=') {
            Some(("start", v)) => start = num("start", v)?,
            Some(("end", v)) => end = Some(num("end", v)?),
            Some(("stride", v)) => stride = num("stride", v)?,
            Some(("count", v)) => count = Some(num("count", v)?),
            Some(("format", v)) => format = Some(v.to_string()),
            Some((k, _)) => return Err(format!("with_sequence: unrecognized parameter `{k}`")),
            None => {
                // shortcut: [start-]end[/stride][:format]
                let (body, fmt) = part
                    .split_once(':')
                    .map_or((part, None), |(b, f)| (b, Some(f.to_string())));
                let (range, st) = body
                    .split_once('/')
                    .map_or((body, None), |(r, s)| (r, Some(s)));
                match range.split_once('-') {
                    Some((a, b)) => {
                        start = num("start", a)?;
                        end = Some(num("end", b)?);
                    }
                    None => end = Some(num("end", range)?),
                }
                if let Some(st) = st {
                    stride = num("stride", st)?;
                }
                if fmt.is_some() {
                    format = fmt;
                }
            }
        }
    }
    let end = match (count, end) {
        (Some(_), Some(_)) => return Err("with_sequence: can't specify both count and end".into()),
        (Some(c), None) => {
            if c == 0 {
                return Ok(Vec::new());
            }
            (c - 1)
                .checked_mul(stride)
                .and_then(|span| start.checked_add(span))
                .ok_or_else(|| format!("with_sequence: too many items ({c})"))?
        }
        (None, Some(e)) => e,
        (None, None) => return Err("with_sequence: must specify count or end".into()),
    };
    if stride == 0 {
        return Err("with_sequence: stride must not be 0".into());
    }
    if (stride > 0 && end < start) || (stride < 0 && end > start) {
        return Err("with_sequence: to count backwards make stride negative".into());
    }
    // Ansible would build the list whatever its size; one that could not
    // fit in memory is refused.
    let items = (i128::from(end) - i128::from(start)) / i128::from(stride) + 1;
    if items > MAX_SEQUENCE {
        return Err(format!("with_sequence: too many items ({items})"));
    }
    let mut out = Vec::new();
    let mut i = i128::from(start);
    for _ in 0..items {
        let n = i64::try_from(i).unwrap_or_default();
        out.push(Value::String(match &format {
            Some(f) => python_int_format(f, n)?,
            None => n.to_string(),
        }));
        i += i128::from(stride);
    }
    Ok(out)
}

/// `%d`, `%02d`, `%x`, `%o` formats of `with_sequence` (one integer conversion).
fn python_int_format(f: &str, n: i64) -> Result<String, String> {
    let Some(pos) = f.find('%') else {
        return Ok(f.to_string());
    };
    let rest = &f[pos + 1..];
    let spec_len = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("with_sequence: bad format `{f}`"))?;
    let (flags, conv) = (&rest[..spec_len], &rest[spec_len..spec_len + 1]);
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let body = match conv {
        "d" | "i" => n.to_string(),
        "x" => format!("{n:x}"),
        "X" => format!("{n:X}"),
        "o" => format!("{n:o}"),
        other => {
            return Err(format!(
                "with_sequence: format conversion `%{other}` is not supported yet"
            ));
        }
    };
    let padded = if zero {
        format!("{body:0>width$}")
    } else {
        format!("{body:>width$}")
    };
    Ok(format!("{}{}{}", &f[..pos], padded, &rest[spec_len + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A sequence too long for memory, or whose end overflows, is refused;
    /// ends near the integer limits still count as Ansible's.
    #[test]
    fn sequences_that_cannot_be_built_are_refused() {
        assert_eq!(
            sequence("start=1 end=100000000000").unwrap_err(),
            "with_sequence: too many items (100000000000)"
        );
        assert!(
            sequence("start=0 count=9223372036854775807 stride=2")
                .unwrap_err()
                .contains("too many items")
        );
        assert_eq!(
            sequence("start=9223372036854775806 end=9223372036854775807").unwrap(),
            vec![json!("9223372036854775806"), json!("9223372036854775807")]
        );
        assert_eq!(
            sequence("start=10 end=1 stride=-4").unwrap(),
            vec![json!("10"), json!("6"), json!("2")]
        );
    }

    #[test]
    fn a_template_of_one_expression_is_its_value() {
        let macro_src = "{% macro m() %}{{ {\"foo\":\"bar\"} }}{% endmacro %}\n{{ m() }}\n";
        assert_eq!(
            native_result(macro_src, "{'foo': 'bar'}\n".into()),
            json!({"foo": "bar"})
        );
        assert_eq!(
            native_result("{{ [1,2] }}\n", "[1, 2]\n".into()),
            json!([1, 2])
        );
        // Text around the expression, or text that is no literal: a string.
        assert_eq!(
            native_result("a: {{ 1 }}\n", "a: 1\n".into()),
            json!("a: 1\n")
        );
        assert_eq!(
            native_result("{{ x }}{{ y }}", "[1][2]".into()),
            json!("[1][2]")
        );
        assert_eq!(native_result("{{ s }}", "text".into()), json!("text"));
    }
}
