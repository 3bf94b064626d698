//! Ansible's `key=value` argument strings (`copy: src=a dest="b c"`).

/// Splits an argument string on whitespace, keeping quoted parts and Jinja
/// blocks (`{{ a b }}`) together, as Ansible's `split_args` does.
pub fn split_args(s: &str) -> Result<Vec<String>, String> {
    Ok(split_args_spans(s)?.into_iter().map(|(t, _)| t).collect())
}

/// [`split_args`], with each token's byte range in `s`.
fn split_args_spans(s: &str) -> Result<Vec<(String, std::ops::Range<usize>)>, String> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut start = 0usize;
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let chars: Vec<char> = s.chars().collect();
    let offsets: Vec<usize> = s
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(s.len()))
        .collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if cur.is_empty() {
            start = offsets[i];
        }
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
                    tokens.push((std::mem::take(&mut cur), start..offsets[i]));
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
        tokens.push((cur, start..s.len()));
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

/// A `k=v` value: surrounding quotes removed, Python escapes decoded (`\n`,
/// `\t`, `\\`, `\"`, `\xNN`, `\uNNNN`...), as Ansible's `parse_kv` does.
fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    let inner = if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    };
    decode_escapes(inner)
}

fn decode_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&next) = chars.peek() else {
            out.push('\\');
            break;
        };
        let simple = match next {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(ch) = simple {
            chars.next();
            out.push(ch);
            continue;
        }
        let width = match next {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if width > 0 {
            let hex: String = chars.clone().skip(1).take(width).collect();
            if hex.len() == width
                && let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
            {
                for _ in 0..=width {
                    chars.next();
                }
                out.push(ch);
                continue;
            }
        }
        // Unknown escapes stay as written (Python keeps them too).
        out.push('\\');
    }
    out
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
    // The free-form text keeps its original layout (newlines, repeated
    // spaces): only the `k=v` tokens (and the blanks before them) are cut out.
    let mut raw = String::new();
    let mut last = 0usize;
    let mut any_raw = false;
    for (token, range) in split_args_spans(s)? {
        if token == "\\" {
            // A lone backslash outside quotes continues the line: it goes,
            // and so does the line break after it (Ansible's `split_args`).
            raw.push_str(s[last..range.start].trim_end_matches([' ', '\t']));
            last = range.end;
            let rest = &s[last..];
            let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            if rest[blanks..].starts_with('\n') {
                raw.push(' ');
                last += blanks + 1;
            }
            continue;
        }
        let key_end = token.find('=').filter(|&i| {
            let key = &token[..i];
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        match key_end {
            Some(i) if only.is_none_or(|keys| keys.contains(&&token[..i])) => {
                out.pairs
                    .push((token[..i].to_string(), unquote(&token[i + 1..])));
                raw.push_str(s[last..range.start].trim_end_matches([' ', '\t']));
                last = range.end;
            }
            _ => any_raw = true,
        }
    }
    if any_raw {
        raw.push_str(&s[last..]);
        // Leading blanks go (YAML drops them anyway); trailing ones stay, as Ansible keeps them.
        out.raw = Some(raw.trim_start().to_string());
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
        let kv = parse_kv("x=\"1   2\"\necho  \"$x\"\n", Some(&["chdir"])).unwrap();
        assert_eq!(kv.raw.as_deref(), Some("x=\"1   2\"\necho  \"$x\"\n"));
        let kv = parse_kv("content=\"a\\nb\\t\\x41\" dest='c\\'d'", None).unwrap();
        assert_eq!(
            kv.pairs,
            [
                ("content".into(), "a\nb\tA".into()),
                ("dest".into(), "c'd".into())
            ]
        );
        assert!(split_args("a='b").is_err());
    }

    #[test]
    fn a_lone_backslash_continues_the_line() {
        let text = "echo this is a \\\n\"multi line\" \\\n\"with a new line\nin quotes\" \\\n| wc -c\necho done\n";
        let kv = parse_kv(text, Some(&["chdir"])).unwrap();
        assert_eq!(
            kv.raw.as_deref(),
            Some(
                "echo this is a \"multi line\" \"with a new line\nin quotes\" | wc -c\necho done\n"
            )
        );
        // Escaped characters and backslashes inside words or quotes stay.
        let kv = parse_kv("printf 'a \\\nb' x\\ y", Some(&["chdir"])).unwrap();
        assert_eq!(kv.raw.as_deref(), Some("printf 'a \\\nb' x\\ y"));
    }
}
