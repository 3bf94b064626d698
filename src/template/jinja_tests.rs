//! Ansible's Jinja tests for minijinja.
//!
//! Adds Ansible's tests (`match`, `version`, `changed`, `subset`, path tests,
//! ...) and overrides the builtins whose minijinja behaviour differs from
//! Jinja2 (`sequence`, `iterable`). Failures are [`minijinja::Error`]s whose
//! message starts with the test's name.

use std::cmp::Ordering;
use std::path::Path;

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, Value};

use super::filters::pyregex;
use super::filters::{Params, fail, is_list, list_of, py_str, py_type, text_of};

/// Registers Ansible's tests.
pub fn register(env: &mut minijinja::Environment<'_>) {
    env.add_test("match", |v: &Value, a: Rest<Value>, k: Kwargs| {
        regex_test("match", v, a, k, Some("match"))
    });
    env.add_test("search", |v: &Value, a: Rest<Value>, k: Kwargs| {
        regex_test("search", v, a, k, Some("search"))
    });
    env.add_test("regex", |v: &Value, a: Rest<Value>, k: Kwargs| {
        regex_test("regex", v, a, k, None)
    });
    env.add_test("version", |v: &Value, a: Rest<Value>, k: Kwargs| {
        version_test("version", v, a, k)
    });
    env.add_test("version_compare", |v: &Value, a: Rest<Value>, k: Kwargs| {
        version_test("version_compare", v, a, k)
    });
    for name in ["changed", "change"] {
        env.add_test(name, move |v: &Value| changed(name, v));
    }
    for name in ["failed", "failure"] {
        env.add_test(name, move |v: &Value| result_flag(name, v, "failed"));
    }
    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, move |v: &Value| {
            result_flag(name, v, "failed").map(|f| !f)
        });
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, move |v: &Value| result_flag(name, v, "skipped"));
    }
    env.add_test("unreachable", |v: &Value| {
        result_flag("unreachable", v, "unreachable")
    });
    env.add_test("reachable", |v: &Value| {
        result_flag("reachable", v, "unreachable").map(|f| !f)
    });
    env.add_test("finished", finished);
    env.add_test("started", started);
    env.add_test("contains", |seq: &Value, item: &Value| {
        contains("contains", seq, item)
    });
    env.add_test("subset", |a: &Value, b: &Value| subset("subset", a, b));
    env.add_test("superset", |a: &Value, b: &Value| subset("superset", b, a));
    env.add_test("truthy", |v: &Value, a: Rest<Value>, k: Kwargs| {
        truthy("truthy", v, a, k)
    });
    env.add_test("falsy", |v: &Value, a: Rest<Value>, k: Kwargs| {
        truthy("falsy", v, a, k).map(|t| !t)
    });
    env.add_test("any", |v: &Value| {
        list_of("any", v).map(|l| l.iter().any(Value::is_true))
    });
    env.add_test("all", |v: &Value| {
        list_of("all", v).map(|l| l.iter().all(Value::is_true))
    });
    env.add_test("sequence", is_sequence);
    env.add_test("iterable", is_iterable);
    env.add_test("nan", |v: &Value| {
        v.kind() == ValueKind::Number && f64::try_from(v.clone()).is_ok_and(f64::is_nan)
    });
    env.add_test("abs", |v: &Value| {
        text_of("abs", v).map(|p| p.starts_with('/'))
    });
    env.add_test("file", |v: &Value| path_test("file", v, |p| p.is_file()));
    env.add_test("directory", |v: &Value| {
        path_test("directory", v, |p| p.is_dir())
    });
    env.add_test("exists", |v: &Value| path_test("exists", v, |p| p.exists()));
    env.add_test("link", |v: &Value| path_test("link", v, |p| p.is_symlink()));
    env.add_test("mount", |v: &Value| path_test("mount", v, is_mount));
    env.add_test("same_file", same_file);
}

/// Ansible's `regex(pattern='', ignorecase=False, multiline=False,
/// match_type='search')` and its `match` (anchored at the start) and
/// `search` forms.
fn regex_test(
    name: &'static str,
    value: &Value,
    args: Rest<Value>,
    kwargs: Kwargs,
    fixed: Option<&str>,
) -> Result<bool, Error> {
    let names: &'static [&'static str] = if fixed.is_some() {
        &["pattern", "ignorecase", "multiline"]
    } else {
        &["pattern", "ignorecase", "multiline", "match_type"]
    };
    let p = Params::bind(name, names, args, kwargs)?;
    let text = text_of(name, value)?;
    let pattern = p.string("pattern")?.unwrap_or_default();
    let re = pyregex::compile(
        name,
        &pattern,
        p.flag("ignorecase", false),
        p.flag("multiline", false),
    )?;
    let match_type = match fixed {
        Some(m) => m.to_string(),
        None => p.string("match_type")?.unwrap_or_else(|| "search".into()),
    };
    match match_type.as_str() {
        "search" => Ok(re.is_match(&text)),
        "match" => Ok(re.find_iter(&text).next().is_some_and(|m| m.start() == 0)),
        "fullmatch" => {
            let full = pyregex::compile(
                name,
                &format!("\\A(?:{pattern})\\Z"),
                p.flag("ignorecase", false),
                p.flag("multiline", false),
            )?;
            Ok(full.is_match(&text))
        }
        other => Err(fail(
            name,
            format!("invalid match_type '{other}' (expected match, search or fullmatch)"),
        )),
    }
}

// ---------------------------------------------------------------- versions

/// A component of a loose version.
#[derive(Debug, Clone, PartialEq)]
enum Loose {
    Num(u128),
    Str(String),
}

/// Python's `LooseVersion` components.
fn loose_parse(s: &str) -> Vec<Loose> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut other = String::new();
    let mut i = 0;
    let flush = |other: &mut String, out: &mut Vec<Loose>| {
        if !other.is_empty() {
            let s = std::mem::take(other);
            out.push(match s.parse::<u128>() {
                Ok(n) => Loose::Num(n),
                Err(_) => Loose::Str(s),
            });
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            flush(&mut other, &mut out);
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let d: String = chars[start..i].iter().collect();
            out.push(d.parse().map_or(Loose::Str(d), Loose::Num));
        } else if c.is_ascii_lowercase() {
            flush(&mut other, &mut out);
            let start = i;
            while i < chars.len() && chars[i].is_ascii_lowercase() {
                i += 1;
            }
            out.push(Loose::Str(chars[start..i].iter().collect()));
        } else if c == '.' {
            flush(&mut other, &mut out);
            i += 1;
        } else {
            other.push(c);
            i += 1;
        }
    }
    flush(&mut other, &mut out);
    out
}

fn loose_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (loose_parse(a), loose_parse(b));
    for (x, y) in a.iter().zip(&b) {
        let o = match (x, y) {
            (Loose::Num(x), Loose::Num(y)) => x.cmp(y),
            (Loose::Str(x), Loose::Str(y)) => x.cmp(y),
            (Loose::Num(_), Loose::Str(_)) => {
                return Err("'<' not supported between instances of 'int' and 'str'".into());
            }
            (Loose::Str(_), Loose::Num(_)) => {
                return Err("'<' not supported between instances of 'str' and 'int'".into());
            }
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(a.len().cmp(&b.len()))
}

/// Python's `StrictVersion`: `(major, minor, patch, prerelease)`.
/// A strict version: `(major, minor, patch, prerelease)`.
type Strict = (u128, u128, u128, Option<(char, u128)>);

fn strict_parse(s: &str) -> Result<Strict, String> {
    let invalid = || format!("invalid version number '{s}'");
    let re = regex::Regex::new(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$")
        .map_err(|e| e.to_string())?;
    let c = re.captures(s).ok_or_else(invalid)?;
    let num = |i: usize| -> Result<u128, String> {
        c.get(i)
            .map_or(Ok(0), |m| m.as_str().parse().map_err(|_| invalid()))
    };
    let pre = match (c.get(4), c.get(5)) {
        (Some(l), Some(n)) => Some((
            l.as_str().chars().next().unwrap_or('a'),
            n.as_str().parse().map_err(|_| invalid())?,
        )),
        _ => None,
    };
    Ok((num(1)?, num(2)?, num(3)?, pre))
}

fn strict_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (strict_parse(a)?, strict_parse(b)?);
    let core = (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2));
    if core != Ordering::Equal {
        return Ok(core);
    }
    Ok(match (a.3, b.3) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    })
}

/// A semantic version: core numbers and prerelease identifiers.
type Semver = ((u128, u128, u128), Vec<String>);

fn semver_parse(s: &str) -> Result<Semver, String> {
    let re = regex::Regex::new(
        r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
    )
    .map_err(|e| e.to_string())?;
    let invalid = || format!("invalid semantic version '{s}'");
    let c = re.captures(s).ok_or_else(invalid)?;
    let n = |i: usize| -> Result<u128, String> {
        c.get(i)
            .map_or(Ok(0), |m| m.as_str().parse().map_err(|_| invalid()))
    };
    let pre = c
        .get(4)
        .map(|m| m.as_str().split('.').map(String::from).collect())
        .unwrap_or_default();
    Ok(((n(1)?, n(2)?, n(3)?), pre))
}

fn semver_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (semver_parse(a)?, semver_parse(b)?);
    let core = a.0.cmp(&b.0);
    if core != Ordering::Equal {
        return Ok(core);
    }
    Ok(match (a.1.is_empty(), b.1.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (x, y) in a.1.iter().zip(&b.1) {
                let o = match (x.parse::<u128>(), y.parse::<u128>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            a.1.len().cmp(&b.1.len())
        }
    })
}

/// Ansible's `version(version, operator='eq', strict=None,
/// version_type=None)`.
fn version_test(
    name: &'static str,
    value: &Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let p = Params::bind(
        name,
        &["version", "operator", "strict", "version_type"],
        args,
        kwargs,
    )?;
    let left = text_of(name, value)?;
    let right = p.some("version").map(|v| py_str(&v)).unwrap_or_default();
    if p.some("strict").is_some() && p.some("version_type").is_some() {
        return Err(fail(
            name,
            "Cannot specify both 'strict' and 'version_type'",
        ));
    }
    if left.is_empty() {
        return Err(fail(name, "Input version value cannot be empty"));
    }
    if right.is_empty() {
        return Err(fail(
            name,
            "Version parameter to compare against cannot be empty",
        ));
    }
    let vtype = if p.flag("strict", false) {
        "strict".to_string()
    } else {
        p.string("version_type")?.unwrap_or_else(|| "loose".into())
    };
    let op = p.string("operator")?.unwrap_or_else(|| "eq".into());
    let cmp: fn(Ordering) -> bool = match op.as_str() {
        "==" | "=" | "eq" => |o| o == Ordering::Equal,
        "<" | "lt" => |o| o == Ordering::Less,
        "<=" | "le" => |o| o != Ordering::Greater,
        ">" | "gt" => |o| o == Ordering::Greater,
        ">=" | "ge" => |o| o != Ordering::Less,
        "!=" | "<>" | "ne" => |o| o != Ordering::Equal,
        other => {
            return Err(fail(
                name,
                format!(
                    "Invalid operator type ({other}). Must be one of '==', '=', 'eq', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'"
                ),
            ));
        }
    };
    let ordering = match vtype.as_str() {
        "loose" => loose_cmp(&left, &right),
        "strict" => strict_cmp(&left, &right),
        "semver" | "semantic" => semver_cmp(&left, &right),
        "pep440" => return Err(fail(name, "the 'pep440' version type is not supported")),
        other => {
            return Err(fail(
                name,
                format!("Invalid version type ({other}). Must be one of 'loose', 'strict', 'semver', 'semantic', 'pep440'"),
            ));
        }
    }
    .map_err(|e| fail(name, format!("Version comparison failed: {e}")))?;
    Ok(cmp(ordering))
}

// ---------------------------------------------------------------- results

fn expect_dict(name: &str, v: &Value) -> Result<(), Error> {
    if v.kind() == ValueKind::Map {
        Ok(())
    } else {
        Err(fail(
            name,
            format!("The '{name}' test expects a dictionary, got {}", py_type(v)),
        ))
    }
}

fn key_true(v: &Value, key: &str) -> bool {
    v.get_attr(key).is_ok_and(|x| x.is_true())
}

fn result_flag(name: &str, v: &Value, key: &str) -> Result<bool, Error> {
    expect_dict(name, v)?;
    Ok(key_true(v, key))
}

/// Ansible's `changed`: the `changed` key, or any changed loop result.
fn changed(name: &str, v: &Value) -> Result<bool, Error> {
    expect_dict(name, v)?;
    let c = v.get_attr("changed")?;
    if !c.is_undefined() {
        return Ok(c.is_true());
    }
    let results = v.get_attr("results")?;
    if is_list(&results) {
        return Ok(list_of(name, &results)?
            .iter()
            .any(|r| r.kind() == ValueKind::Map && key_true(r, "changed")));
    }
    Ok(false)
}

/// Ansible's `finished` (async jobs): `finished == 1`, true when absent.
fn finished(v: &Value) -> Result<bool, Error> {
    expect_dict("finished", v)?;
    let f = v.get_attr("finished")?;
    Ok(f.is_undefined() || f == Value::from(1))
}

/// Ansible's `started` (async jobs): `started == 1`, true when absent.
fn started(v: &Value) -> Result<bool, Error> {
    expect_dict("started", v)?;
    let f = v.get_attr("started")?;
    Ok(f.is_undefined() || f == Value::from(1))
}

// ---------------------------------------------------------------- membership

/// Python's `item in seq`.
fn contains(name: &str, seq: &Value, item: &Value) -> Result<bool, Error> {
    match seq.kind() {
        ValueKind::String => {
            let needle = text_of(name, item)?;
            Ok(seq.as_str().unwrap_or("").contains(needle.as_str()))
        }
        ValueKind::Map => Ok(seq.get_item(item).is_ok_and(|v| !v.is_undefined())),
        ValueKind::Seq | ValueKind::Iterable => Ok(list_of(name, seq)?.contains(item)),
        _ => Err(fail(
            name,
            format!("argument of type '{}' is not iterable", py_type(seq)),
        )),
    }
}

/// `set(a) <= set(b)`.
fn subset(name: &str, a: &Value, b: &Value) -> Result<bool, Error> {
    let b = list_of(name, b)?;
    Ok(list_of(name, a)?.iter().all(|x| b.contains(x)))
}

/// Ansible's `truthy(convert_bool=False)`: Python truthiness.
fn truthy(name: &'static str, v: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<bool, Error> {
    let p = Params::bind(name, &["convert_bool"], args, kwargs)?;
    if v.is_undefined() {
        return Err(fail(name, "input is undefined"));
    }
    if p.flag("convert_bool", false) {
        let known = match v.kind() {
            ValueKind::String => match v.as_str().unwrap_or("").to_lowercase().as_str() {
                "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
                "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
                _ => None,
            },
            ValueKind::Number => f64::try_from(v.clone())
                .ok()
                .and_then(|f| (f == 1.0).then_some(true).or((f == 0.0).then_some(false))),
            _ => None,
        };
        if let Some(b) = known {
            return Ok(b);
        }
    }
    Ok(v.is_true())
}

/// Jinja2's `sequence`: anything with a length and item access (strings,
/// lists, dicts).
fn is_sequence(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Bytes
    )
}

/// Jinja2's `iterable`.
fn is_iterable(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
    )
}

// ---------------------------------------------------------------- paths

fn path_test(name: &str, v: &Value, f: impl Fn(&Path) -> bool) -> Result<bool, Error> {
    let p = text_of(name, v)?;
    Ok(f(Path::new(&super::filters::paths::expanduser(&p))))
}

fn is_mount(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return false;
    };
    if meta.file_type().is_symlink() {
        return false;
    }
    let parent = p.join("..");
    let Ok(pmeta) = std::fs::metadata(&parent) else {
        return false;
    };
    meta.dev() != pmeta.dev() || meta.ino() == pmeta.ino()
}

/// `os.path.samefile(a, b)`.
fn same_file(a: &Value, b: &Value) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (text_of("same_file", a)?, text_of("same_file", b)?);
    match (std::fs::metadata(&a), std::fs::metadata(&b)) {
        (Ok(x), Ok(y)) => Ok(x.dev() == y.dev() && x.ino() == y.ino()),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use minijinja::{Environment, UndefinedBehavior, Value, context};

    fn env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        crate::template::filters::register(&mut env);
        super::register(&mut env);
        env
    }

    fn t(expr: &str) -> bool {
        let env = env();
        let e = env
            .compile_expression(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e:#}"));
        let v = e
            .eval(context! {})
            .unwrap_or_else(|e| panic!("{expr}: {e:#}"));
        assert!(
            v.kind() == minijinja::value::ValueKind::Bool,
            "{expr}: {v:?}"
        );
        v.is_true()
    }

    fn err(expr: &str) -> String {
        let env = env();
        match env
            .compile_expression(expr)
            .and_then(|e| e.eval(context! {}))
        {
            Ok(v) => panic!("{expr}: expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defined_undefined_none() {
        assert!(t("x is undefined"));
        assert!(!t("x is defined"));
        assert!(t("1 is defined"));
        assert!(t("none is none"));
        assert!(!t("0 is none"));
        assert!(t("{'a': 1}.b is undefined"));
        assert!(t("(x | default(none)) is none"));
    }

    #[test]
    fn regex_tests() {
        assert!(t("'abc' is match('a')"));
        assert!(!t("'abc' is match('b')"));
        assert!(t("'abc' is search('b')"));
        assert!(t("'ABC' is search('b', ignorecase=true)"));
        assert!(t("'a\\nb' is search('^b', multiline=true)"));
        assert!(!t("'a\\nb' is search('^b')"));
        assert!(t("'abc' is regex('c$')"));
        assert!(!t("'abc' is regex('b', match_type='match')"));
        assert!(t("'abc' is regex('a.c', match_type='fullmatch')"));
        assert!(!t("'abcd' is regex('a.c', match_type='fullmatch')"));
        assert!(t("123 is match('\\\\d+')"));
        assert!(err("'a' is match('(')").contains("match: invalid regular expression '('"));
    }

    #[test]
    fn version() {
        assert_eq!(
            env()
                .render_str("{{ '1.10' is version('1.9', '>') }}", context! {})
                .unwrap(),
            Value::from(true).to_string()
        );
        assert!(t("'1.10' is version('1.9', '>')"));
        assert!(t("'1.10' is version_compare('1.9', 'gt')"));
        assert!(!t("'1.0' is version('1.0.0', '==')"));
        assert!(t("'1.0.0' is version('1.0', '>')"));
        assert!(t("'1.0' is version('1.0')"));
        for (op, want) in [
            ("<", true),
            ("lt", true),
            ("<=", true),
            ("le", true),
            (">", false),
            ("gt", false),
            (">=", false),
            ("ge", false),
            ("==", false),
            ("=", false),
            ("eq", false),
            ("!=", true),
            ("<>", true),
            ("ne", true),
        ] {
            assert_eq!(
                t(&format!("'2.4' is version('2.10', '{op}')")),
                want,
                "{op}"
            );
        }
        assert!(t(
            "'2.0.0' is version('2.0.0-rc1', '>', version_type='semver')"
        ));
        assert!(t(
            "'1.0.0-alpha.1' is version('1.0.0-alpha.beta', '<', version_type='semver')"
        ));
        assert!(t(
            "'1.0.0-2' is version('1.0.0-10', '<', version_type='semantic')"
        ));
        assert!(t(
            "'1.0.0+b1' is version('1.0.0+b2', '==', version_type='semver')"
        ));
        assert!(t("'1.2' is version('1.2.0', 'eq', strict=true)"));
        assert!(t("'1.2a1' is version('1.2', '<', strict=true)"));
        assert!(t("'1.2b1' is version('1.2a2', '>', version_type='strict')"));
        assert!(t("'1.0a' is version('1.0', '>')"));
        assert!(t("'12.04' is version('12.04', '>=')"));
        assert!(
            err("'1.2' is version('1.x', strict=true)").contains("invalid version number '1.x'")
        );
        assert!(
            err("'1.2' is version('1.2.3', version_type='semver')")
                .contains("invalid semantic version")
        );
        assert!(err("'1.2' is version('1.x', '>')").contains("Version comparison failed"));
        assert!(err("'1.2' is version('1.2', 'foo')").contains("Invalid operator type (foo)"));
        assert!(
            err("'1' is version('1', strict=true, version_type='loose')")
                .contains("Cannot specify both")
        );
        assert!(err("'1' is version('1', version_type='x')").contains("Invalid version type (x)"));
        assert!(err("'' is version('1')").contains("cannot be empty"));
    }

    #[test]
    fn results() {
        assert!(t("{'changed': true} is changed"));
        assert!(!t("{} is changed"));
        assert!(t(
            "{'results': [{'changed': false}, {'changed': true}]} is changed"
        ));
        assert!(t("{'failed': true} is failed"));
        assert!(!t("{} is failed"));
        assert!(t("{} is succeeded"));
        assert!(t("{'failed': false} is success"));
        assert!(!t("{'failed': true} is successful"));
        assert!(t("{'skipped': true} is skipped"));
        assert!(!t("{} is skipped"));
        assert!(t("{'unreachable': true} is unreachable"));
        assert!(t("{} is reachable"));
        assert!(t("{'finished': 1} is finished"));
        assert!(!t("{'finished': 0} is finished"));
        assert!(err("1 is changed").contains("changed"));
        assert!(err("'x' is failed").contains("failed"));
    }

    #[test]
    fn membership() {
        assert!(t("1 in [1, 2]"));
        assert!(t("'b' in 'abc'"));
        assert!(t("[1, 2] is contains(2)"));
        assert!(!t("[1, 2] is contains('a')"));
        assert!(t("'abc' is contains('b')"));
        assert!(t("{'a': 1} is contains('a')"));
        assert!(t("[1] is subset([1, 2])"));
        assert!(!t("[3] is subset([1, 2])"));
        assert!(t("[1, 2] is superset([1])"));
        assert!(t("[true, false] is any"));
        assert!(!t("[true, false] is all"));
        assert!(t("[] is all"));
        assert!(!t("[] is any"));
    }

    #[test]
    fn truthiness() {
        assert!(t("'a' is truthy"));
        assert!(t("'' is falsy"));
        assert!(t("[] is falsy"));
        assert!(t("'no' is truthy"));
        assert!(!t("'no' is truthy(convert_bool=true)"));
        assert!(t("'off' is falsy(convert_bool=true)"));
        assert!(t("0 is falsy"));
        assert!(t("none is falsy"));
    }

    #[test]
    fn types() {
        assert!(t("'a' is string"));
        assert!(!t("1 is string"));
        assert!(t("1 is number"));
        assert!(t("1.5 is number"));
        assert!(t("1 is integer"));
        assert!(!t("1.0 is integer"));
        assert!(t("1.0 is float"));
        assert!(!t("1 is float"));
        assert!(t("true is boolean"));
        assert!(!t("1 is boolean"));
        assert!(t("{} is mapping"));
        assert!(!t("[] is mapping"));
        assert!(t("[] is sequence"));
        assert!(t("'a' is sequence"));
        assert!(t("{} is sequence"));
        assert!(!t("1 is sequence"));
        assert!(!t("x is sequence"));
        assert!(t("[] is iterable"));
        assert!(t("'a' is iterable"));
        assert!(!t("1 is iterable"));
        assert!(t("('nan' | float) is nan"));
        assert!(!t("1.0 is nan"));
    }

    #[test]
    fn paths() {
        assert!(t("'/etc' is abs"));
        assert!(!t("'etc' is abs"));
        assert!(t("'/' is directory"));
        assert!(!t("'/' is file"));
        assert!(t("'/' is exists"));
        assert!(!t("'/nonexistent-path-for-tests' is exists"));
        assert!(!t("'/' is link"));
        assert!(t("'/' is mount"));
        assert!(t("'/' is same_file('/')"));
        let dir = std::env::temp_dir().join(format!("tend-jinja-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, "x").unwrap();
        let link = dir.join("l");
        let _ = std::os::unix::fs::symlink(&file, &link);
        assert!(t(&format!("'{}' is file", file.display())));
        assert!(t(&format!("'{}' is link", link.display())));
        assert!(!t(&format!("'{}' is directory", file.display())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
