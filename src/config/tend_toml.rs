//! `tend.toml`: tend's own settings.
//!
//! ```toml
//! forks = 20                     # hosts worked on at once
//! inventory = ["inventory/prod"] # or one string; relative to this file
//! host_key_checking = true       # true, false or "accept-new"
//! remote_user = "deploy"
//! private_key_file = "~/.ssh/deploy"
//! timeout = 10                   # connection timeout, seconds
//!
//! [report]                       # reports every run writes
//! format = "human"               # standard output: "human" or "json"
//! json = "out/run.jsonl"
//! junit = "out/junit.xml"
//! summary_md = "out/summary.md"
//! ```

use serde::Deserialize;
use toml::{Spanned, Value};

/// One setting of the file, as text for the common parsers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key: `forks`, or `report.format` for the `[report]` table.
    pub key: String,
    /// The value as text (a list joined with commas).
    pub value: String,
    /// The line of the value (1-based).
    pub line: usize,
}

/// A file that is not valid TOML, or not tend's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

type Field = Option<Spanned<Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    forks: Field,
    inventory: Field,
    host_key_checking: Field,
    remote_user: Field,
    private_key_file: Field,
    timeout: Field,
    report: Option<Report>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    format: Field,
    json: Field,
    junit: Field,
    summary_md: Field,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// A scalar or a list of scalars as text.
fn as_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        Value::Array(items) => Ok(items
            .iter()
            .map(as_text)
            .collect::<Result<Vec<_>, _>>()?
            .join(",")),
        other => Err(format!(
            "expected a string, number, boolean or list, got {other}"
        )),
    }
}

/// Parses the file into its settings.
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let file: File = toml::from_str(text).map_err(|e| ParseError {
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })?;
    let mut out = Vec::new();
    let mut push = |key: &str, field: Field| -> Result<(), ParseError> {
        if let Some(f) = field {
            let line = line_of(text, f.span().start);
            let value = as_text(f.get_ref()).map_err(|m| ParseError {
                line,
                message: format!("{key}: {m}"),
            })?;
            out.push(Entry {
                key: key.to_string(),
                value,
                line,
            });
        }
        Ok(())
    };
    push("forks", file.forks)?;
    push("inventory", file.inventory)?;
    push("host_key_checking", file.host_key_checking)?;
    push("remote_user", file.remote_user)?;
    push("private_key_file", file.private_key_file)?;
    push("timeout", file.timeout)?;
    if let Some(r) = file.report {
        push("report.format", r.format)?;
        push("report.json", r.json)?;
        push("report.junit", r.junit)?;
        push("report.summary_md", r.summary_md)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_text_with_their_lines() {
        let text = "forks = 20\ninventory = [\"a\", \"b\"]\nhost_key_checking = false\n\n[report]\nformat = \"json\"\n";
        let e = parse(text).unwrap();
        let got: Vec<(&str, &str, usize)> = e
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("forks", "20", 1),
                ("inventory", "a,b", 2),
                ("host_key_checking", "false", 3),
                ("report.format", "json", 6),
            ]
        );
    }

    #[test]
    fn unknown_keys_and_bad_toml_are_errors_with_lines() {
        let e = parse("forks = 2\nforkz = 3\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("forkz"), "{}", e.message);
        assert_eq!(parse("forks = 2\n[report\n").unwrap_err().line, 2);
        assert_eq!(parse("\nforks = {a = 1}\n").unwrap_err().line, 2);
    }
}
