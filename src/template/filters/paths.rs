//! Path filters with Python's `os.path` (posixpath) semantics: `basename`,
//! `dirname`, `splitext`, `expanduser`, `realpath`, `relpath`, `path_join`.
//! Paths are evaluated on the controller.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, Value};

use super::{Params, fail, list_of, py_type, text_of};

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("basename", |v: &Value| {
        text_of("basename", v).map(|p| basename(&p).to_string())
    });
    env.add_filter("dirname", |v: &Value| {
        text_of("dirname", v).map(|p| dirname(&p))
    });
    env.add_filter("splitext", splitext);
    env.add_filter("expanduser", |v: &Value| {
        text_of("expanduser", v).map(|p| expanduser(&p))
    });
    env.add_filter("realpath", |v: &Value| {
        text_of("realpath", v).map(|p| realpath(&p))
    });
    env.add_filter("relpath", relpath);
    env.add_filter("path_join", path_join);
    env.add_filter("commonpath", commonpath);
    env.add_filter("fileglob", |v: &Value| {
        let pattern = text_of("fileglob", v)?;
        fileglob(&pattern).map(|found| found.into_iter().map(Value::from).collect::<Vec<_>>())
    });
}

/// Ansible's `fileglob` filter: the regular files Python's `glob.glob`
/// matches (relative patterns against the working directory), sorted.
fn fileglob(pattern: &str) -> Result<Vec<String>, Error> {
    let wild = |c: &str| c.contains(['*', '?', '[']);
    let mut paths = vec![if pattern.starts_with('/') {
        "/".to_string()
    } else {
        String::new()
    }];
    for part in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &paths {
            if !wild(part) {
                next.push(format!("{base}{part}/"));
                continue;
            }
            let matcher = globset::GlobBuilder::new(part)
                .literal_separator(true)
                .build()
                .map_err(|e| fail("fileglob", format!("bad pattern '{pattern}': {e}")))?
                .compile_matcher();
            let dir = if base.is_empty() { "." } else { base.as_str() };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                // Python's glob: a leading dot is matched only explicitly.
                if (!name.starts_with('.') || part.starts_with('.')) && matcher.is_match(&name) {
                    next.push(format!("{base}{name}/"));
                }
            }
        }
        paths = next;
    }
    let mut found: Vec<String> = paths
        .into_iter()
        .map(|p| p.trim_end_matches('/').to_string())
        .filter(|p| !p.is_empty() && std::path::Path::new(p).is_file())
        .collect();
    found.sort();
    Ok(found)
}

/// `os.path.basename`.
pub(crate) fn basename(p: &str) -> &str {
    p.rfind('/').map_or(p, |i| &p[i + 1..])
}

/// `os.path.dirname`.
pub(crate) fn dirname(p: &str) -> String {
    let head = p.rfind('/').map_or("", |i| &p[..=i]);
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

/// `os.path.splitext` as a list `[root, ext]`.
fn splitext(v: &Value) -> Result<Value, Error> {
    let p = text_of("splitext", v)?;
    let sep = p.rfind('/').map_or(0, |i| i + 1);
    let (root, ext) = match p[sep..].rfind('.') {
        Some(dot) if p[sep..sep + dot].chars().any(|c| c != '.') => p.split_at(sep + dot),
        _ => (p.as_str(), ""),
    };
    Ok(Value::from(minijinja::value::Tuple::from(vec![
        Value::from(root),
        Value::from(ext),
    ])))
}

fn home_of(user: &str) -> Option<String> {
    if user.is_empty()
        && let Ok(h) = std::env::var("HOME")
    {
        return Some(h);
    }
    let uid_user = if user.is_empty() {
        std::env::var("USER").ok()?
    } else {
        user.to_string()
    };
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 6 && f[0] == uid_user).then(|| f[5].to_string())
    })
}

/// `os.path.expanduser`.
pub(crate) fn expanduser(p: &str) -> String {
    let Some(rest) = p.strip_prefix('~') else {
        return p.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (user, tail) = rest.split_at(end);
    match home_of(user) {
        Some(home) => {
            let home = if home == "/" {
                String::new()
            } else {
                home.trim_end_matches('/').to_string()
            };
            let joined = format!("{home}{tail}");
            if joined.is_empty() {
                "/".into()
            } else {
                joined
            }
        }
        None => p.to_string(),
    }
}

/// `os.path.normpath`.
pub(crate) fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for c in p.split('/') {
        if c.is_empty() || c == "." {
            continue;
        }
        if c != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(c);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let joined = comps.join("/");
    let rv = format!("{}{joined}", "/".repeat(initial));
    if rv.is_empty() { ".".into() } else { rv }
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into())
}

/// `os.path.abspath`.
pub(crate) fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        normpath(&format!("{}/{p}", cwd()))
    }
}

/// `os.path.realpath` (non-strict: missing components are kept).
pub(crate) fn realpath(p: &str) -> String {
    let abs = abspath(p);
    let mut resolved = String::from("/");
    let mut parts: Vec<String> = abs
        .split('/')
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    parts.reverse();
    let mut hops = 0;
    while let Some(part) = parts.pop() {
        if part == ".." {
            resolved = dirname(&resolved);
            if resolved.is_empty() {
                resolved = "/".into();
            }
            continue;
        }
        let candidate = if resolved == "/" {
            format!("/{part}")
        } else {
            format!("{resolved}/{part}")
        };
        match std::fs::read_link(&candidate) {
            Ok(target) if hops < 40 => {
                hops += 1;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved = "/".into();
                }
                for c in target
                    .split('/')
                    .filter(|c| !c.is_empty() && *c != ".")
                    .rev()
                {
                    parts.push(c.to_string());
                }
            }
            _ => resolved = candidate,
        }
    }
    resolved
}

/// `os.path.relpath(path, start=os.curdir)`.
fn relpath(v: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let p = Params::bind("relpath", &["start"], args, kwargs)?;
    let path = text_of("relpath", v)?;
    if path.is_empty() {
        return Err(fail("relpath", "no path specified"));
    }
    let start = p.string("start")?.unwrap_or_else(|| ".".into());
    let a = abspath(&start);
    let b = abspath(&path);
    let sa: Vec<&str> = a.split('/').filter(|c| !c.is_empty()).collect();
    let sb: Vec<&str> = b.split('/').filter(|c| !c.is_empty()).collect();
    let common = sa.iter().zip(&sb).take_while(|(x, y)| x == y).count();
    let mut rel: Vec<&str> = vec![".."; sa.len() - common];
    rel.extend(&sb[common..]);
    Ok(if rel.is_empty() {
        ".".into()
    } else {
        rel.join("/")
    })
}

/// `os.path.join(*parts)`.
pub(crate) fn join(parts: &[String]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if part.starts_with('/') || i == 0 {
            out = part.clone();
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(part);
        } else {
            out.push('/');
            out.push_str(part);
        }
    }
    out
}

/// Ansible's `path_join`: a string is returned as is, a list is joined.
/// `os.path.commonpath` of a list of paths.
fn commonpath(v: &Value) -> Result<String, Error> {
    if !matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
        return Err(Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!(
                "|commonpath expects sequence, got <class '{}'> instead.",
                py_type(v)
            ),
        ));
    }
    let paths = list_of("commonpath", v)?
        .iter()
        .map(|p| text_of("commonpath", p))
        .collect::<Result<Vec<_>, _>>()?;
    common_path(&paths).map_err(|e| fail("commonpath", e))
}

/// The longest common sub-path, as Python's `posixpath.commonpath`.
fn common_path(paths: &[String]) -> Result<String, String> {
    let Some(first) = paths.first() else {
        return Err("commonpath() arg is an empty sequence".into());
    };
    let absolute = first.starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err("Can't mix absolute and relative paths".into());
    }
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    let split: Vec<Vec<String>> = paths.iter().map(|p| parts(p)).collect();
    let mut common = split[0].clone();
    for other in &split[1..] {
        let n = common.iter().zip(other).take_while(|(a, b)| a == b).count();
        common.truncate(n);
    }
    let prefix = if absolute { "/" } else { "" };
    Ok(format!("{prefix}{}", common.join("/")))
}

fn path_join(v: &Value) -> Result<String, Error> {
    match v.kind() {
        ValueKind::String => text_of("path_join", v),
        ValueKind::Seq | ValueKind::Iterable => {
            let parts = list_of("path_join", v)?
                .iter()
                .map(|p| text_of("path_join", p))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(join(&parts))
        }
        _ => Err(fail(
            "path_join",
            format!("expects string or sequence, got {} instead", py_type(v)),
        )),
    }
}
