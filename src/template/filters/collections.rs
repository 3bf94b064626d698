//! List and dict filters: `combine`, `dict2items`, `items2dict`, `union`,
//! `intersect`, `difference`, `symmetric_difference`, `flatten`, `zip`,
//! `zip_longest`, `product`, `sort`, `dict`, `unique`.

use minijinja::value::{Kwargs, Rest, ValueKind, ValueOrKwargs};
use minijinja::{Error, ErrorKind, State, Value};

use super::{Params, fail, is_list, list_of, map_items, py_type};

/// Registers the filters of this module.
pub(crate) fn register(env: &mut minijinja::Environment<'_>) {
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("unique", unique);
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("difference", difference);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("flatten", flatten);
    env.add_filter("zip", zip);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("product", product);
    env.add_filter("sort", sort);
    env.add_filter("dict", dict);
    // Ansible wraps Jinja's `map`, `select`, `reject`, `selectattr` and
    // `rejectattr` so that an undefined input stays undefined (and can be
    // tested or defaulted) instead of iterating as an empty list.
    env.add_filter(
        "map",
        |state: &mut State, v: Value, args: Rest<ValueOrKwargs>| {
            keep_undefined(v, |v| minijinja::filters::map(state, v, args))
        },
    );
    env.add_filter("select", test_filter(false));
    env.add_filter("reject", test_filter(true));
    env.add_filter("selectattr", attr_filter(false));
    env.add_filter("rejectattr", attr_filter(true));
}

type Tail = Rest<ValueOrKwargs>;

/// `select` (or `reject`) keeping an undefined input undefined.
fn test_filter(
    reject: bool,
) -> impl Fn(&mut State, Value, Option<String>, Tail) -> Result<Value, Error> {
    move |state, v, test, args| {
        keep_undefined(v, |v| {
            let test = test.map(Into::into);
            if reject {
                minijinja::filters::reject(state, v, test, args)
            } else {
                minijinja::filters::select(state, v, test, args)
            }
        })
    }
}

/// `selectattr` (or `rejectattr`) keeping an undefined input undefined.
fn attr_filter(
    reject: bool,
) -> impl Fn(&mut State, Value, String, Option<String>, Tail) -> Result<Value, Error> {
    move |state, v, attr, test, args| {
        keep_undefined(v, |v| {
            let test = test.map(Into::into);
            if reject {
                minijinja::filters::rejectattr(state, v, attr.into(), test, args)
            } else {
                minijinja::filters::selectattr(state, v, attr.into(), test, args)
            }
        })
    }
}

/// Runs a Jinja builtin list filter, except on an undefined input, which
/// stays undefined.
fn keep_undefined(
    v: Value,
    f: impl FnOnce(Value) -> Result<Vec<Value>, Error>,
) -> Result<Value, Error> {
    if v.is_undefined() {
        return Ok(Value::UNDEFINED);
    }
    f(v).map(Value::from)
}

type Pairs = Vec<(Value, Value)>;

fn set_pair(pairs: &mut Pairs, k: Value, v: Value) {
    match pairs.iter_mut().find(|(pk, _)| *pk == k) {
        Some(slot) => slot.1 = v,
        None => pairs.push((k, v)),
    }
}

/// Ansible's `merge_hash(x, y, recursive, list_merge)`.
fn merge_hash(
    x: Pairs,
    y: Pairs,
    recursive: bool,
    list_merge: &str,
    depth: usize,
) -> Result<Pairs, Error> {
    if depth > 200 {
        return Err(fail("combine", "maximum recursion depth exceeded"));
    }
    if x.is_empty() {
        return Ok(y);
    }
    let mut x = x;
    for (key, y_value) in y {
        let Some(x_value) = x.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()) else {
            x.push((key, y_value));
            continue;
        };
        let new = if x_value.kind() == ValueKind::Map && y_value.kind() == ValueKind::Map {
            if recursive {
                Value::from_pairs(merge_hash(
                    map_items(&x_value)?,
                    map_items(&y_value)?,
                    recursive,
                    list_merge,
                    depth + 1,
                )?)
            } else {
                y_value
            }
        } else if is_list(&x_value) && is_list(&y_value) {
            let xs = list_of("combine", &x_value)?;
            let ys = list_of("combine", &y_value)?;
            match list_merge {
                "replace" => y_value,
                "keep" => x_value,
                "append" => Value::from(xs.into_iter().chain(ys).collect::<Vec<_>>()),
                "prepend" => Value::from(ys.into_iter().chain(xs).collect::<Vec<_>>()),
                "append_rp" => Value::from(
                    xs.into_iter()
                        .filter(|z| !ys.contains(z))
                        .chain(ys.iter().cloned())
                        .collect::<Vec<_>>(),
                ),
                _ => {
                    let kept: Vec<Value> = xs.into_iter().filter(|z| !ys.contains(z)).collect();
                    Value::from(ys.into_iter().chain(kept).collect::<Vec<_>>())
                }
            }
        } else {
            y_value
        };
        set_pair(&mut x, key, new);
    }
    Ok(x)
}

/// `combine(*dicts, recursive=False, list_merge='replace')`.
fn combine(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let mut recursive = false;
    let mut list_merge = String::from("replace");
    for key in kwargs.args() {
        match key {
            "recursive" => recursive = kwargs.peek::<Value>(key)?.is_true(),
            "list_merge" => list_merge = kwargs.peek::<String>(key)?,
            other => {
                return Err(fail(
                    "combine",
                    format!(
                        "unexpected keyword argument '{other}': 'recursive' and 'list_merge' are the only valid keyword arguments"
                    ),
                ));
            }
        }
    }
    if ![
        "replace",
        "keep",
        "append",
        "prepend",
        "append_rp",
        "prepend_rp",
    ]
    .contains(&list_merge.as_str())
    {
        return Err(fail(
            "combine",
            "'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'",
        ));
    }
    // Ansible's `flatten(terms, levels=1)`: `[d1, d2] | combine` works,
    // and null items (`None`, 'None', 'null') are dropped.
    let null = |v: &Value| v.is_none() || matches!(v.as_str(), Some("None" | "null"));
    let mut dicts = Vec::new();
    for term in std::iter::once(value.clone()).chain(args.0) {
        if null(&term) {
            continue;
        }
        if is_list(&term) {
            dicts.extend(list_of("combine", &term)?.into_iter().filter(|v| !null(v)));
        } else {
            dicts.push(term);
        }
    }
    // Merged from the highest precedence (last) to the lowest, as Ansible.
    let mut high_to_low = dicts.into_iter().rev();
    let Some(mut result) = high_to_low.next() else {
        return Ok(Value::from_pairs(Pairs::new()));
    };
    for d in high_to_low {
        if d.kind() != ValueKind::Map || result.kind() != ValueKind::Map {
            return Err(fail(
                "combine",
                format!(
                    "failed to combine variables, expected dicts but got a '{}' and a '{}': \n{d}\n{result}",
                    py_type(&d),
                    py_type(&result)
                ),
            ));
        }
        result = Value::from_pairs(merge_hash(
            map_items(&d)?,
            map_items(&result)?,
            recursive,
            &list_merge,
            0,
        )?);
    }
    Ok(result)
}

/// `dict2items(key_name='key', value_name='value')`.
fn dict2items(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("dict2items", &["key_name", "value_name"], args, kwargs)?;
    if value.kind() != ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "dict2items requires a dictionary, got <class '{}'> instead.",
                py_type(value)
            ),
        ));
    }
    let kn = p.string("key_name")?.unwrap_or_else(|| "key".into());
    let vn = p.string("value_name")?.unwrap_or_else(|| "value".into());
    let rv: Vec<Value> = map_items(value)?
        .into_iter()
        .map(|(k, v)| Value::from_pairs([(kn.as_str(), k), (vn.as_str(), v)]))
        .collect();
    Ok(Value::from(rv))
}

/// `items2dict(key_name='key', value_name='value')`.
fn items2dict(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    const NAME: &str = "items2dict";
    let p = Params::bind(NAME, &["key_name", "value_name"], args, kwargs)?;
    if !is_list(value) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "items2dict requires a list, got <class '{}'> instead.",
                py_type(value)
            ),
        ));
    }
    let kn = p.string("key_name")?.unwrap_or_else(|| "key".into());
    let vn = p.string("value_name")?.unwrap_or_else(|| "value".into());
    let mut pairs = Vec::new();
    for item in list_of(NAME, value)? {
        if item.kind() != ValueKind::Map {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("items2dict requires a list of dictionaries, got {value} instead."),
            ));
        }
        let k = item.get_attr(&kn)?;
        let v = item.get_attr(&vn)?;
        if k.is_undefined() || v.is_undefined() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "items2dict requires each dictionary in the list to contain the keys '{kn}' and '{vn}', got {value} instead."
                ),
            ));
        }
        set_pair(&mut pairs, k, v);
    }
    Ok(Value::from_pairs(pairs))
}

/// The comparison key of `unique` (lower-cased strings unless case-sensitive).
fn fold(v: &Value, case_sensitive: bool) -> Value {
    match v.as_str() {
        Some(s) if !case_sensitive && v.kind() == ValueKind::String => {
            Value::from(s.to_lowercase())
        }
        _ => v.clone(),
    }
}

fn unique_items(items: Vec<Value>, case_sensitive: bool, attribute: Option<&str>) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let mut rv = Vec::new();
    for item in items {
        let key = match attribute {
            Some(a) => item.get_attr(a).unwrap_or(Value::UNDEFINED),
            None => item.clone(),
        };
        let key = fold(&key, case_sensitive);
        if !seen.contains(&key) {
            seen.push(key);
            rv.push(item);
        }
    }
    rv
}

/// Jinja2's `unique(case_sensitive=False, attribute=None)`.
fn unique(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("unique", &["case_sensitive", "attribute"], args, kwargs)?;
    let items = list_of("unique", value)?;
    let attr = p.string("attribute")?;
    Ok(Value::from(unique_items(
        items,
        p.flag("case_sensitive", false),
        attr.as_deref(),
    )))
}

fn two_lists(name: &str, a: &Value, b: &Value) -> Result<(Vec<Value>, Vec<Value>), Error> {
    Ok((list_of(name, a)?, list_of(name, b)?))
}

/// Ansible's `union(b)`: unique items of both lists.
fn union(a: &Value, b: &Value) -> Result<Value, Error> {
    let (a, b) = two_lists("union", a, b)?;
    Ok(Value::from(unique_items(
        a.into_iter().chain(b).collect(),
        false,
        None,
    )))
}

/// Ansible's `intersect(b)`: unique items of `a` that are in `b`.
fn intersect(a: &Value, b: &Value) -> Result<Value, Error> {
    let (a, b) = two_lists("intersect", a, b)?;
    Ok(Value::from(unique_items(
        a.into_iter().filter(|x| b.contains(x)).collect(),
        true,
        None,
    )))
}

/// Ansible's `difference(b)`: unique items of `a` that are not in `b`.
fn difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let (a, b) = two_lists("difference", a, b)?;
    Ok(Value::from(unique_items(
        a.into_iter().filter(|x| !b.contains(x)).collect(),
        true,
        None,
    )))
}

/// Ansible's `symmetric_difference(b)`.
fn symmetric_difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let (a, b) = two_lists("symmetric_difference", a, b)?;
    let isect: Vec<Value> = a.iter().filter(|x| b.contains(x)).cloned().collect();
    let all = unique_items(a.into_iter().chain(b).collect(), false, None);
    Ok(Value::from(
        all.into_iter()
            .filter(|x| !isect.contains(x))
            .collect::<Vec<_>>(),
    ))
}

fn flatten_into(
    items: Vec<Value>,
    levels: Option<i64>,
    skip_nulls: bool,
    out: &mut Vec<Value>,
    depth: usize,
) -> Result<(), Error> {
    if depth > 500 {
        return Err(fail("flatten", "maximum recursion depth exceeded"));
    }
    for el in items {
        let is_null = el.is_none() || matches!(el.as_str(), Some("None" | "null"));
        if skip_nulls && is_null {
            continue;
        }
        if is_list(&el) {
            match levels {
                None => flatten_into(list_of("flatten", &el)?, None, skip_nulls, out, depth + 1)?,
                Some(l) if l >= 1 => flatten_into(
                    list_of("flatten", &el)?,
                    Some(l - 1),
                    skip_nulls,
                    out,
                    depth + 1,
                )?,
                Some(_) => out.push(el),
            }
        } else {
            out.push(el);
        }
    }
    Ok(())
}

/// Ansible's `flatten(levels=None, skip_nulls=True)`.
fn flatten(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind("flatten", &["levels", "skip_nulls"], args, kwargs)?;
    if !is_list(value) {
        return Err(fail(
            "flatten",
            format!("expected a list, got {}", py_type(value)),
        ));
    }
    let mut out = Vec::new();
    flatten_into(
        list_of("flatten", value)?,
        p.int("levels")?,
        p.flag("skip_nulls", true),
        &mut out,
        0,
    )?;
    Ok(Value::from(out))
}

fn lists_of(name: &str, first: &Value, rest: Vec<Value>) -> Result<Vec<Vec<Value>>, Error> {
    std::iter::once(first.clone())
        .chain(rest)
        .map(|v| list_of(name, &v))
        .collect()
}

fn tuple(items: Vec<Value>) -> Value {
    Value::from(minijinja::value::Tuple::from(items))
}

/// Python's `zip(*lists)` as a list of tuples.
fn zip(value: &Value, others: Rest<Value>) -> Result<Value, Error> {
    let lists = lists_of("zip", value, others.0)?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| tuple(lists.iter().map(|l| l[i].clone()).collect()))
            .collect::<Vec<_>>(),
    ))
}

/// Python's `itertools.zip_longest(*lists, fillvalue=None)`.
fn zip_longest(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let fill = kwargs
        .get::<Option<Value>>("fillvalue")?
        .unwrap_or(Value::from(()));
    kwargs.assert_all_used().map_err(|e| {
        fail(
            "zip_longest",
            e.detail().unwrap_or("unexpected keyword argument"),
        )
    })?;
    let lists = lists_of("zip_longest", value, others.0)?;
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| {
                tuple(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                        .collect(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// Python's `itertools.product(*lists, repeat=1)`.
fn product(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let repeat = kwargs.get::<Option<i64>>("repeat")?.unwrap_or(1);
    kwargs.assert_all_used().map_err(|e| {
        fail(
            "product",
            e.detail().unwrap_or("unexpected keyword argument"),
        )
    })?;
    let lists = lists_of("product", value, others.0)?;
    let pools: Vec<Vec<Value>> = (0..repeat.max(0))
        .flat_map(|_| lists.iter().cloned())
        .collect();
    let total: usize = pools
        .iter()
        .map(Vec::len)
        .try_fold(1usize, |a, n| a.checked_mul(n))
        .unwrap_or(usize::MAX);
    if total > 1_000_000 {
        return Err(fail("product", "result too large"));
    }
    let mut result: Vec<Vec<Value>> = vec![vec![]];
    for pool in &pools {
        let mut next = Vec::with_capacity(result.len() * pool.len());
        for prefix in &result {
            for item in pool {
                let mut t = prefix.clone();
                t.push(item.clone());
                next.push(t);
            }
        }
        result = next;
    }
    Ok(Value::from(
        result.into_iter().map(tuple).collect::<Vec<_>>(),
    ))
}

/// Jinja2's `sort(reverse=False, case_sensitive=False, attribute=None)`,
/// accepting the arguments positionally as well.
fn sort(state: &State, value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let p = Params::bind(
        "sort",
        &["reverse", "case_sensitive", "attribute"],
        args,
        kwargs,
    )?;
    let mut kw: Vec<(&str, Value)> = vec![
        ("reverse", Value::from(p.flag("reverse", false))),
        (
            "case_sensitive",
            Value::from(p.flag("case_sensitive", false)),
        ),
    ];
    if let Some(a) = p.some("attribute") {
        kw.push(("attribute", Value::from(super::py_str(&a))));
    }
    minijinja::filters::sort(state, value, Kwargs::from_iter(kw)).map_err(|e| fail("sort", e))
}

/// Python's `dict()`: a dict from a dict or from a list of pairs.
fn dict(value: &Value) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Map => Ok(Value::from_pairs(map_items(value)?)),
        ValueKind::Seq | ValueKind::Iterable => {
            let mut pairs = Vec::new();
            for item in list_of("dict", value)? {
                let kv = list_of("dict", &item)
                    .ok()
                    .filter(|kv| kv.len() == 2 && item.kind() != ValueKind::String)
                    .ok_or_else(|| {
                        fail(
                            "dict",
                            format!("expected a list of pairs, got an element {item}"),
                        )
                    })?;
                set_pair(&mut pairs, kv[0].clone(), kv[1].clone());
            }
            Ok(Value::from_pairs(pairs))
        }
        _ => Err(fail(
            "dict",
            format!("cannot convert {} to a dict", py_type(value)),
        )),
    }
}
