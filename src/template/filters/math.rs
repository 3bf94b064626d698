//! Ansible's math filters `log`, `pow` and `root`, on Python's `math`
//! functions: real numbers in, a float out, Python's errors for what is out
//! of their domain or range.

use minijinja::value::ValueKind;
use minijinja::{Error, Value};

use super::fail;
use super::text::parse_py_float;

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("log", log);
    env.add_filter("pow", pow);
    env.add_filter("root", root);
}

/// A real number as Python's `math` functions take it (int, float, bool).
fn real(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Ansible's refusal of what Python's `math` refuses as no number (with
/// Python's reason, `must be real number, not str`).
fn not_number(name: &str, v: &Value) -> Error {
    fail(
        name,
        format!(
            "{name}() can only be used on numbers: must be real number, not {}",
            super::py_type(v)
        ),
    )
}

/// A real number, or Ansible's refusal naming the filter.
fn real_of(name: &str, v: &Value) -> Result<f64, Error> {
    real(v).ok_or_else(|| not_number(name, v))
}

/// Python's `ValueError: math domain error`.
fn domain(name: &str) -> Error {
    fail(name, "math domain error")
}

/// Python's `math.pow(x, y)`.
fn py_pow(name: &str, x: f64, y: f64) -> Result<f64, Error> {
    let r = x.powf(y);
    if r.is_nan() && !x.is_nan() && !y.is_nan() || (x == 0.0 && y < 0.0) {
        return Err(domain(name));
    }
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(fail(name, "math range error"));
    }
    Ok(r)
}

/// Ansible's `log(base=math.e)`: `math.log10(x)` for base 10, else
/// `math.log(x, base)`.
fn log(value: &Value, base: Option<Value>) -> Result<f64, Error> {
    let x = real_of("log", value)?;
    let base = match &base {
        Some(b) => real_of("log", b)?,
        None => std::f64::consts::E,
    };
    if x <= 0.0 || x.is_nan() {
        return Err(domain("log"));
    }
    if base == 10.0 {
        return Ok(x.log10());
    }
    if base <= 0.0 || base.is_nan() {
        return Err(domain("log"));
    }
    let den = base.ln();
    if den == 0.0 {
        return Err(fail("log", "float division by zero"));
    }
    Ok(x.ln() / den)
}

/// Ansible's `pow(y)`: `math.pow(x, y)`.
fn pow(value: &Value, y: &Value) -> Result<f64, Error> {
    let x = real_of("pow", value)?;
    let y = real_of("pow", y)?;
    py_pow("pow", x, y)
}

/// Ansible's `root(base=2)`: `math.sqrt(x)`, else `math.pow(x, 1.0 /
/// float(base))` (a text base is read as Python's `float()` reads it).
fn root(value: &Value, base: Option<Value>) -> Result<f64, Error> {
    let x = real_of("root", value)?;
    let domain_error = || {
        fail(
            "root",
            "root() can only be used on numbers: math domain error",
        )
    };
    let base = match &base {
        None => None,
        Some(b) if real(b) == Some(2.0) && b.kind() != ValueKind::Bool => None,
        Some(b) => Some(match b.as_str() {
            Some(text) => parse_py_float(text).ok_or_else(|| {
                fail(
                    "root",
                    format!(
                        "root() can only be used on numbers: could not convert string to float: {}",
                        super::extra::py_repr_str(text, false)
                    ),
                )
            })?,
            None => real_of("root", b)?,
        }),
    };
    match base {
        None if x < 0.0 => Err(domain_error()),
        None => Ok(x.sqrt()),
        Some(0.0) => Err(fail("root", "float division by zero")),
        Some(b) => py_pow("root", x, 1.0 / b).map_err(|e| {
            if e.to_string().contains("domain") {
                domain_error()
            } else {
                e
            }
        }),
    }
}
