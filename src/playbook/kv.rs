//! Ansible's `key=value` argument strings (`copy: src=a dest="b c"`).

/// Splits an argument string on whitespace, keeping quoted parts and Jinja
/// blocks (`{{ a b }}`) together, as Ansible's `split_args` does.
pub fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if quote.is_none() && c == '{' && matches!(next, Some('{') | Some('%') | Some('#')) {
            depth += 1;
            cur.push(c);
            cur.push(next.unwrap_or_default());
            i += 2;
            continue;
        }
        if quote.is_none() && depth > 0 && matches!(c, '}' | '%' | '#') && next == Some('}') {
            depth -= 1;
            cur.push(c);
            cur.push('}');
            i += 2;
            continue;
        }
        match quote {
            Some(q) if c == q && !escaped(&chars, i) => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if (c == '"' || c == '\'') && !escaped(&chars, i) => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(format!("unbalanced quotes in arguments: {s}"));
    }
    if depth > 0 {
        return Err(format!(
            "unbalanced jinja2 block or quotes in arguments: {s}"
        ));
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    Ok(tokens)
}

fn escaped(chars: &[char], i: usize) -> bool {
    let mut n = 0;
    let mut j = i;
    while j > 0 && chars[j - 1] == '\\' {
        n += 1;
        j -= 1;
    }
    n % 2 == 1
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let inner = &v[1..v.len() - 1];
        let q = b[0] as char;
        return inner.replace(&format!("\\{q}"), &q.to_string());
    }
    v.to_string()
}

/// A parsed argument string: the `k=v` pairs and the rest (free-form text).
#[derive(Debug, Default, PartialEq)]
pub struct KeyValues {
    /// `key=value` pairs in order.
    pub pairs: Vec<(String, String)>,
    /// The remaining words, re-joined with single spaces (`_raw_params`).
    pub raw: Option<String>,
}

/// Parses an argument string. With `only` given (command/shell), only those
/// keys are split off; everything else stays in the free-form text.
pub fn parse_kv(s: &str, only: Option<&[&str]>) -> Result<KeyValues, String> {
    let mut out = KeyValues::default();
    let mut raw = Vec::new();
    for token in split_args(s)? {
        let key_end = token.find('=').filter(|&i| {
            let key = &token[..i];
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        match key_end {
            Some(i) if only.is_none_or(|keys| keys.contains(&&token[..i])) => {
                out.pairs
                    .push((token[..i].to_string(), unquote(&token[i + 1..])));
            }
            _ => raw.push(token),
        }
    }
    if !raw.is_empty() {
        out.raw = Some(raw.join(" "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_ansible() {
        assert_eq!(
            split_args("a=1 b='x y' c={{ d | e }}").unwrap(),
            ["a=1", "b='x y'", "c={{ d | e }}"]
        );
        let kv = parse_kv("src=a dest=\"b c\" mode=0644", None).unwrap();
        assert_eq!(
            kv.pairs,
            [
                ("src".into(), "a".into()),
                ("dest".into(), "b c".into()),
                ("mode".into(), "0644".into())
            ]
        );
        let kv = parse_kv("echo a=b chdir=/tmp", Some(&["chdir", "creates"])).unwrap();
        assert_eq!(kv.pairs, [("chdir".into(), "/tmp".into())]);
        assert_eq!(kv.raw.as_deref(), Some("echo a=b"));
        assert!(split_args("a='b").is_err());
    }
}
