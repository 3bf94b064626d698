//! Shared pieces of the account modules (`user`, `group`): reading the
//! account databases in a probe, and running the shadow tools in an apply
//! script so that a failure gives the tool's own message, as Ansible does.

use crate::sh::quote;

/// sh text that sets `$var` to the `db` (`passwd`, `group`, `shadow`) entry
/// whose name is exactly the value of the sh word `name` (a lookup of a
/// numeric name through `getent` that finds an id instead is not taken),
/// falling back to reading `/etc/<db>` when `getent` is missing.
pub fn lookup(db: &str, name: &str, var: &str) -> String {
    format!(
        "{var}=$(getent {db} -- {name} 2>/dev/null | head -n 1)\n\
         case ${var} in {name}:*) ;; *) {var}=$(awk -F: -v n={name} '$1==n{{print;exit}}' /etc/{db} 2>/dev/null) ;; esac\n"
    )
}

/// sh text that runs `words` (already quoted) and, when they fail, stops the
/// script with their exit status and their output as the `tend:` message.
pub fn step(words: &str) -> String {
    format!(
        "_o=$({words} 2>&1) || {{ _r=$?; printf '%s\\n' \"$_o\" >&2; \
         printf 'tend: %s\\n' \"$(printf '%s' \"$_o\" | tr '\\n' ' ' | sed 's/ *$//')\" >&2; exit $_r; }}\n"
    )
}

/// Quotes each word and joins them into one command line.
pub fn command(words: &[String]) -> String {
    words
        .iter()
        .map(|w| quote(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `name:...` line of a colon-separated database, split into fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry(pub Vec<String>);

impl Entry {
    /// Parses a line; `None` when it is empty.
    pub fn parse(line: &str) -> Option<Entry> {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            return None;
        }
        Some(Entry(line.split(':').map(str::to_string).collect()))
    }

    /// Field `i` (0-based), empty when missing.
    pub fn field(&self, i: usize) -> &str {
        self.0.get(i).map(String::as_str).unwrap_or("")
    }

    /// Field `i` as a number.
    pub fn num(&self, i: usize) -> Option<i64> {
        self.field(i).trim().parse().ok()
    }
}

/// Reads `key=value` lines of a probe; the first `=` splits.
pub fn fields(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .collect::<Vec<_>>()
}

/// The value of the first `key=` line.
pub fn field<'a>(fields: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_fields() {
        let e = Entry::parse("alice:x:1001:1001:Alice,,,:/home/alice:/bin/bash\n").unwrap();
        assert_eq!(e.field(0), "alice");
        assert_eq!(e.num(2), Some(1001));
        assert_eq!(e.field(9), "");
        assert!(Entry::parse("").is_none());
        let f = fields("a=1\nb=x=y\nnoeq\n");
        assert_eq!(field(&f, "b"), Some("x=y"));
        assert_eq!(field(&f, "c"), None);
    }

    #[test]
    fn scripts_quote_and_report() {
        assert_eq!(
            command(&["groupadd".into(), "-g".into(), "a b".into()]),
            "groupadd -g 'a b'"
        );
        let s = step("groupdel x");
        assert!(s.starts_with("_o=$(groupdel x 2>&1) || {"));
        assert!(s.contains("exit $_r"));
        let l = lookup("group", "\"$n\"", "g");
        assert!(l.contains("getent group -- \"$n\""));
        assert!(l.contains("/etc/group"));
    }
}
