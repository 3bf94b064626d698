//! Python's `%` string formatting in templates (`'%s-%02d' % (name, n)`),
//! which Jinja inherits from Python and minijinja lacks: a string literal
//! followed by `%` and its operand is rewritten, before the template is
//! compiled, into a filter call that formats as Python does
//! (`('%s-%02d')|__tend_mod_tuple(name, n)`).
//!
//! The operand is what Jinja's grammar binds to `%`: a primary (a literal,
//! a name with its attributes, subscripts and calls, a parenthesized
//! expression) with any filters after it. A filter binds tighter than any
//! operator, so the rewritten call takes the literal's place exactly.

use std::borrow::Cow;

/// The filter for `'...' % (a, b)`: the tuple's items are the arguments.
pub const TUPLE_FILTER: &str = "__tend_mod_tuple";
/// The filter for `'...' % x`: a mapping is formatted by key, anything
/// else is the one argument.
pub const VALUE_FILTER: &str = "__tend_mod";

/// `source` with every `'literal' % operand` inside `{{ }}` and `{% %}`
/// (or anywhere, for a bare expression: `whole_expression`) rewritten.
pub fn rewrite(source: &str, whole_expression: bool) -> Cow<'_, str> {
    if !source.contains('%') || !(source.contains('\'') || source.contains('"')) {
        return Cow::Borrowed(source);
    }
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() + 32);
    let mut i = 0;
    let mut in_expr = whole_expression;
    let mut changed = false;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if !whole_expression && !in_expr {
            if c == '{' && next == Some('#') {
                let end = find_str(&chars, i + 2, "#}").map_or(chars.len(), |e| e + 2);
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            if c == '{' && next == Some('%') && is_raw_block(&chars, i) {
                let end = find_endraw(&chars, i).unwrap_or(chars.len());
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            if c == '{' && (next == Some('{') || next == Some('%')) {
                in_expr = true;
                out.push(c);
                out.push(next.unwrap_or_default());
                i += 2;
                continue;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if !whole_expression && (c == '}' || c == '%') && next == Some('}') {
            in_expr = false;
            out.push(c);
            out.push('}');
            i += 2;
            continue;
        }
        if c == '\'' || c == '"' {
            let end = string_end(&chars, i);
            if let Some((call, after)) = formatted(&chars, i, end) {
                out.push_str(&call);
                i = after;
                changed = true;
            } else {
                out.extend(&chars[i..end]);
                i = end;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(source)
    }
}

/// When the string literal `chars[start..end]` is the left side of `%`,
/// its rewritten call and where the operand ends.
fn formatted(chars: &[char], start: usize, end: usize) -> Option<(String, usize)> {
    let op = skip_space(chars, end);
    if chars.get(op) != Some(&'%') || matches!(chars.get(op + 1), Some('}') | Some('%')) {
        return None;
    }
    // Only the literal can be `%`'s left operand here: what binds tighter
    // than `%` (a subscript, call, attribute or filter) would follow the
    // literal, and then `%` does not.
    let operand_start = skip_space(chars, op + 1);
    let (operand_end, tuple) = operand(chars, operand_start)?;
    let literal: String = chars[start..end].iter().collect();
    let operand: String = chars[operand_start..operand_end].iter().collect();
    let call = match tuple {
        Some(items) => format!("({literal})|{TUPLE_FILTER}({items})"),
        None => format!("({literal})|{VALUE_FILTER}({operand})"),
    };
    Some((call, operand_end))
}

/// The end of `%`'s operand starting at `i`, and, for a parenthesized
/// tuple, its items (without a trailing comma).
fn operand(chars: &[char], i: usize) -> Option<(usize, Option<String>)> {
    let mut j = i;
    if chars.get(j) == Some(&'-') {
        j = skip_space(chars, j + 1);
    }
    let mut tuple = None;
    let first = *chars.get(j)?;
    j = match first {
        '(' => {
            let close = matching(chars, j)?;
            let inner = &chars[j + 1..close];
            if j == i && (inner.iter().all(|c| c.is_whitespace()) || has_top_level_comma(inner)) {
                let items: String = inner.iter().collect();
                tuple = Some(items.trim().trim_end_matches(',').to_string());
            }
            close + 1
        }
        '[' | '{' => matching(chars, j)? + 1,
        '\'' | '"' => string_end(chars, j),
        c if c.is_ascii_digit() => {
            let mut k = j;
            while chars
                .get(k)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            {
                k += 1;
            }
            k
        }
        c if c.is_alphabetic() || c == '_' => postfix(chars, identifier_end(chars, j))?,
        _ => return None,
    };
    if tuple.is_some() {
        let after = skip_space(chars, j);
        if chars.get(after) == Some(&'|') && chars.get(after + 1) != Some(&'|') {
            // `'%s' % (a, b)|f` formats `(a, b)|f`: not a tuple of arguments.
            tuple = None;
        }
    }
    // Filters: `|name`, `|name(args)`, `|ns.name(args)`.
    loop {
        let bar = skip_space(chars, j);
        if chars.get(bar) != Some(&'|') {
            break;
        }
        let name = skip_space(chars, bar + 1);
        if !chars
            .get(name)
            .is_some_and(|c| c.is_alphabetic() || *c == '_')
        {
            break;
        }
        let mut k = identifier_end(chars, name);
        while chars.get(k) == Some(&'.') {
            k = identifier_end(chars, k + 1);
        }
        if chars.get(k) == Some(&'(') {
            k = matching(chars, k)? + 1;
        }
        j = k;
    }
    Some((j, tuple))
}

/// After a name: its `.attr`, `[subscript]` and `(call)` suffixes.
fn postfix(chars: &[char], mut j: usize) -> Option<usize> {
    loop {
        match chars.get(j) {
            Some('.')
                if chars
                    .get(j + 1)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_') =>
            {
                j = identifier_end(chars, j + 1);
            }
            Some('[') | Some('(') => j = matching(chars, j)? + 1,
            _ => return Some(j),
        }
    }
}

fn identifier_end(chars: &[char], mut j: usize) -> usize {
    while chars
        .get(j)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        j += 1;
    }
    j
}

fn skip_space(chars: &[char], mut j: usize) -> usize {
    while chars.get(j).is_some_and(|c| c.is_whitespace()) {
        j += 1;
    }
    j
}

/// The index just past the string literal opening at `i` (the end of the
/// text when it is not closed).
pub(super) fn string_end(chars: &[char], i: usize) -> usize {
    let quote = chars[i];
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

/// Walks `chars` from `from`, string literals skipped, calling `visit` with
/// each other character's index, the character and the bracket depth after
/// it; the first answer `visit` gives is returned.
fn scan_brackets<R>(
    chars: &[char],
    from: usize,
    mut visit: impl FnMut(usize, char, usize) -> Option<R>,
) -> Option<R> {
    let mut depth = 0usize;
    let mut j = from;
    while j < chars.len() {
        let c = chars[j];
        match c {
            '\'' | '"' => {
                j = string_end(chars, j);
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if let Some(found) = visit(j, c, depth) {
            return Some(found);
        }
        j += 1;
    }
    None
}

/// The bracket closing the one at `i` (strings and nesting skipped).
pub(super) fn matching(chars: &[char], i: usize) -> Option<usize> {
    scan_brackets(chars, i, |j, c, depth| {
        (matches!(c, ')' | ']' | '}') && depth == 0).then_some(j)
    })
}

fn has_top_level_comma(chars: &[char]) -> bool {
    scan_brackets(chars, 0, |_, c, depth| {
        (c == ',' && depth == 0).then_some(())
    })
    .is_some()
}

pub(super) fn find_str(chars: &[char], from: usize, needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    (from..chars.len().saturating_sub(needle.len() - 1)).find(|&k| chars[k..].starts_with(&needle))
}

/// Whether the block tag at `i` is `{% raw %}` (with any whitespace control).
pub(super) fn is_raw_block(chars: &[char], i: usize) -> bool {
    let Some(close) = find_str(chars, i + 2, "%}") else {
        return false;
    };
    let tag: String = chars[i + 2..close].iter().collect();
    tag.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw"
}

/// The index just past the `{% endraw %}` that ends the raw block at `i`.
pub(super) fn find_endraw(chars: &[char], i: usize) -> Option<usize> {
    let mut k = find_str(chars, i + 2, "%}")? + 2;
    loop {
        let open = find_str(chars, k, "{%")?;
        let close = find_str(chars, open + 2, "%}")?;
        let tag: String = chars[open + 2..close].iter().collect();
        if tag.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "endraw" {
            return Some(close + 2);
        }
        k = close + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn literals_followed_by_percent_become_filter_calls() {
        let cases = [
            (
                "{{ '%s-%s' % (a, b) }}",
                "{{ ('%s-%s')|__tend_mod_tuple(a, b) }}",
            ),
            ("{{ '%02d' % item }}", "{{ ('%02d')|__tend_mod(item) }}"),
            (
                "{{ 'x%sy' % x.y[0]|int + 1 }}",
                "{{ ('x%sy')|__tend_mod(x.y[0]|int) + 1 }}",
            ),
            (
                "{{ \"%(a)s\" % d ~ 'z' }}",
                "{{ (\"%(a)s\")|__tend_mod(d) ~ 'z' }}",
            ),
            ("{{ '%s' % (a,) }}", "{{ ('%s')|__tend_mod_tuple(a) }}"),
            ("{{ '%s' % (a) }}", "{{ ('%s')|__tend_mod((a)) }}"),
            ("{{ '%d' % -n }}", "{{ ('%d')|__tend_mod(-n) }}"),
            (
                "{{ '%s' % f(1, 2)|ns.g('%') }}",
                "{{ ('%s')|__tend_mod(f(1, 2)|ns.g('%')) }}",
            ),
            (
                "{% set v = '%s.%s' % (a, b) %}{{ v }}",
                "{% set v = ('%s.%s')|__tend_mod_tuple(a, b) %}{{ v }}",
            ),
            ("{{ '%s' % [1, 2] }}", "{{ ('%s')|__tend_mod([1, 2]) }}"),
        ];
        for (source, want) in cases {
            assert_eq!(rewrite(source, false), want, "{source}");
        }
        assert_eq!(rewrite("'%s' % x", true), "('%s')|__tend_mod(x)");
    }

    #[test]
    fn everything_else_is_left_alone() {
        for source in [
            "50% of '%s' % x",
            "{{ 10 % 3 }}",
            "{{ x % 2 }}",
            "{% if '%' in x %}y{% endif %}",
            "{# '%s' % x #}",
            "{% raw %}{{ '%s' % x }}{% endraw %}",
            "{{ d['%s'] }}",
            "{{ '%s'|format(x) }}",
        ] {
            assert_eq!(rewrite(source, false), source, "{source}");
        }
    }
}
