//! Ansible's filters for minijinja.
//!
//! minijinja already ships most of Jinja2's builtin filters; this module adds
//! Ansible's filters and overrides the builtins whose behaviour differs from
//! Jinja2/Ansible (Python semantics for `int`, `bool`, `split`, `sort`, ...).
//!
//! Every filter reports failures as a [`minijinja::Error`] whose message starts
//! with the filter's name, and no input makes a filter panic.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Error, ErrorKind, Value};

pub(crate) mod collections;
pub(crate) mod encode;
pub(crate) mod extra;
mod math;
pub(crate) mod paths;
pub(crate) mod pyregex;
pub(crate) mod text;
pub(crate) mod yaml;

#[cfg(test)]
mod tests;

/// Registers Ansible's filters (and overrides of Jinja2 builtins whose
/// minijinja version differs from Jinja2/Ansible).
pub fn register(env: &mut minijinja::Environment<'_>) {
    text::register(env);
    pyregex::register(env);
    encode::register(env);
    yaml::register(env);
    collections::register(env);
    paths::register(env);
    extra::register(env);
    math::register(env);
}

/// An error of filter (or test) `name`: `name: msg`.
pub(crate) fn fail(name: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{name}: {msg}"))
}

/// Binds positional and keyword arguments to parameter names the way Python
/// does, so that filters accept both `f(1, 2)` and `f(b=2, a=1)`.
pub(crate) struct Params {
    name: &'static str,
    names: &'static [&'static str],
    values: Vec<Option<Value>>,
}

impl Params {
    /// Binds `args` and `kwargs` to `names` for filter `name`.
    pub(crate) fn bind(
        name: &'static str,
        names: &'static [&'static str],
        args: Rest<Value>,
        kwargs: Kwargs,
    ) -> Result<Params, Error> {
        if args.len() > names.len() {
            return Err(fail(
                name,
                format!(
                    "takes at most {} argument(s) ({} given)",
                    names.len(),
                    args.len()
                ),
            ));
        }
        let mut values: Vec<Option<Value>> = vec![None; names.len()];
        for (slot, value) in values.iter_mut().zip(args.0) {
            *slot = Some(value);
        }
        for key in kwargs.args() {
            let Some(idx) = names.iter().position(|n| *n == key) else {
                return Err(fail(name, format!("unexpected keyword argument '{key}'")));
            };
            if values[idx].is_some() {
                return Err(fail(
                    name,
                    format!("got multiple values for argument '{key}'"),
                ));
            }
            values[idx] = Some(kwargs.peek::<Value>(key)?);
        }
        Ok(Params {
            name,
            names,
            values,
        })
    }

    fn idx(&self, key: &str) -> usize {
        self.names
            .iter()
            .position(|n| *n == key)
            .unwrap_or(usize::MAX)
    }

    /// The raw value of a parameter (`None` when not given).
    pub(crate) fn get(&self, key: &str) -> Option<Value> {
        self.values.get(self.idx(key)).cloned().flatten()
    }

    /// A parameter that is given and not `none`.
    pub(crate) fn some(&self, key: &str) -> Option<Value> {
        self.get(key).filter(|v| !v.is_none() && !v.is_undefined())
    }

    /// A boolean parameter (Python truthiness), `default` when not given.
    pub(crate) fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, |v| v.is_true())
    }

    /// A string parameter; numbers are converted like Python's `str()`.
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.some(key) {
            None => Ok(None),
            Some(v) => match v.kind() {
                ValueKind::String | ValueKind::Number | ValueKind::Bool => Ok(Some(py_str(&v))),
                _ => Err(fail(
                    self.name,
                    format!("argument '{key}' must be a string, got {}", py_type(&v)),
                )),
            },
        }
    }

    /// An integer parameter.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.some(key) {
            None => Ok(None),
            Some(v) => as_int(&v).map(Some).ok_or_else(|| {
                fail(
                    self.name,
                    format!("argument '{key}' must be an integer, got {}", py_type(&v)),
                )
            }),
        }
    }
}

/// An integer from an int, a bool, an integral float or a decimal string.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v.kind() {
        ValueKind::Bool => Some(i64::from(v.is_true())),
        ValueKind::Number => {
            if v.is_integer() {
                v.as_i64()
            } else {
                let f = f64::try_from(v.clone()).ok()?;
                (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
            }
        }
        ValueKind::String => v.as_str()?.trim().parse().ok(),
        _ => None,
    }
}

/// Python's type name of a value, as `type_debug` reports it.
pub(crate) fn py_type(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq if v.is_tuple() => "tuple",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::Iterable => "generator",
        _ if v.downcast_object_ref::<extra::PyDateTime>().is_some() => "datetime",
        _ if v.downcast_object_ref::<extra::PyTimeDelta>().is_some() => "timedelta",
        _ => "object",
    }
}

/// Python's `repr()` of a float.
pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Shortest round-trip digits and decimal exponent.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            let int_len = exp + 1;
            if n <= int_len {
                format!("{digits}{}.0", "0".repeat((int_len - n) as usize))
            } else {
                format!(
                    "{}.{}",
                    &digits[..int_len as usize],
                    &digits[int_len as usize..]
                )
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python's `str()` of a value (floats as Python prints them).
pub(crate) fn py_str(v: &Value) -> String {
    if v.kind() == ValueKind::Number
        && !v.is_integer()
        && let Ok(f) = f64::try_from(v.clone())
    {
        return py_float(f);
    }
    v.to_string()
}

/// The string a filter works on: strings as they are, numbers and other
/// scalars through Python's `str()`; undefined values are an error.
pub(crate) fn text_of(name: &str, v: &Value) -> Result<String, Error> {
    match v.kind() {
        ValueKind::Undefined => Err(fail(name, "input is undefined")),
        ValueKind::String | ValueKind::Bytes => {
            Ok(v.to_str().map(|s| s.to_string()).unwrap_or_default())
        }
        _ => Ok(py_str(v)),
    }
}

/// The items of a list-like value (lists, tuples, generators, strings).
pub(crate) fn list_of(name: &str, v: &Value) -> Result<Vec<Value>, Error> {
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::String | ValueKind::Map => v
            .try_iter()
            .map_err(|e| fail(name, e))?
            .checked()
            .collect::<Result<Vec<_>, _>>(),
        ValueKind::Undefined => Err(fail(name, "input is undefined")),
        _ => Err(fail(name, format!("expected a list, got {}", py_type(v)))),
    }
}

/// The key/value pairs of a mapping, in order.
pub(crate) fn map_items(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    let mut rv = Vec::new();
    for key in v.try_iter()? {
        let value = v.get_item(&key)?;
        rv.push((key, value));
    }
    Ok(rv)
}

/// Whether a value is a sequence in Ansible's sense (a list, not a string).
pub(crate) fn is_list(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}
