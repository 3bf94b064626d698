//! `ansible.cfg` as Ansible reads it: Python's `configparser` with `;` as
//! the inline comment prefix and values taken raw (no `%` interpolation).

/// One `key = value` of an INI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The section, as written (`defaults`, `ssh_connection`, ...).
    pub section: String,
    /// The key, lowercased (configparser's default).
    pub key: String,
    /// The value: trimmed, continuation lines joined with `\n`.
    pub value: String,
    /// The line of the key (1-based).
    pub line: usize,
}

/// A line configparser refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Strips an inline `;` comment: one preceded by whitespace, as configparser.
fn strip_inline_comment(s: &str) -> &str {
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b';' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return &s[..i];
        }
    }
    s
}

/// Parses an INI text into its entries, in order.
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let mut out: Vec<Entry> = Vec::new();
    let mut section: Option<String> = None;
    let mut sections_seen: Vec<String> = Vec::new();
    // The indentation of the current key's line, for continuation lines.
    let mut key_indent: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let content = strip_inline_comment(raw);
        if content.trim().is_empty() {
            // A blank line ends a multi-line value's indentation run only
            // for configparser's empty_lines_in_values=True: it keeps going.
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let (Some(ki), Some(last)) = (key_indent, out.last_mut())
            && indent > ki
        {
            if !last.value.is_empty() {
                last.value.push('\n');
            }
            last.value.push_str(content.trim());
            continue;
        }
        let t = content.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            if sections_seen.iter().any(|s| s == name) {
                return Err(ParseError {
                    line,
                    message: format!("section [{name}] already exists"),
                });
            }
            sections_seen.push(name.to_string());
            section = Some(name.to_string());
            key_indent = None;
            continue;
        }
        let Some(current) = &section else {
            return Err(ParseError {
                line,
                message: "a key before any [section] header".into(),
            });
        };
        let Some(pos) = t.find(['=', ':']) else {
            return Err(ParseError {
                line,
                message: format!("expected `key = value`, got `{t}`"),
            });
        };
        let key = t[..pos].trim().to_lowercase();
        if key.is_empty() {
            return Err(ParseError {
                line,
                message: format!("expected `key = value`, got `{t}`"),
            });
        }
        if out.iter().any(|e| &e.section == current && e.key == key) {
            return Err(ParseError {
                line,
                message: format!("`{key}` is already set in section [{current}]"),
            });
        }
        out.push(Entry {
            section: current.clone(),
            key,
            value: t[pos + 1..].trim().to_string(),
            line,
        });
        key_indent = Some(indent);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(section: &str, key: &str, value: &str, line: usize) -> Entry {
        Entry {
            section: section.into(),
            key: key.into(),
            value: value.into(),
            line,
        }
    }

    #[test]
    fn parses_as_ansibles_configparser() {
        let text = "\
# a comment
[defaults]
forks = 7 ; inline comment
Remote_User = bob # not a comment
timeout: 12
roles_path = a:
  b
empty =

[privilege_escalation]
become=yes
";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                entry("defaults", "forks", "7", 3),
                entry("defaults", "remote_user", "bob # not a comment", 4),
                entry("defaults", "timeout", "12", 5),
                entry("defaults", "roles_path", "a:\nb", 6),
                entry("defaults", "empty", "", 8),
                entry("privilege_escalation", "become", "yes", 11),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_errors_with_their_line() {
        assert_eq!(
            parse("forks = 3\n").unwrap_err(),
            ParseError {
                line: 1,
                message: "a key before any [section] header".into()
            }
        );
        assert_eq!(parse("[defaults]\n\nnonsense\n").unwrap_err().line, 3);
        assert_eq!(parse("[defaults]\nforks=1\nFORKS=2\n").unwrap_err().line, 3);
        assert_eq!(parse("[a]\n[a]\n").unwrap_err().line, 2);
    }
}
