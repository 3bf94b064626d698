//! Secret values redacted as `********` in every report.
//!
//! Whatever knows a value is secret (a decrypted vault value, say) calls
//! [`register`]; from then on [`super::Reporters`] replaces that text
//! wherever it appears in an event (results, diffs, loop labels, messages,
//! the scripts shown at `-vvv`) before any printer sees it.

use serde_json::Value;
use std::borrow::Cow;
use std::sync::RwLock;
use tend_modules::Diff;

/// What a secret is replaced with.
pub const MASK: &str = "********";

/// Secrets shorter than this are not redacted: they would mask common words.
pub const MIN_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Marks `secret` as a value never to show. A multi-line secret's lines are
/// masked on their own too, as diffs show them line by line, and so are the
/// forms it takes inside a shell script (quoted for sh, as `-vvv` shows
/// scripts) and inside a JSON string (escaped).
pub fn register(secret: &str) {
    if secret.len() < MIN_LEN {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if all.iter().any(|k| k == secret) {
        return;
    }
    let lines = secret.lines().map(str::trim).filter(|l| l.len() >= 8);
    let quoted = tend_modules::sh::quote(secret).into_owned();
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or_default();
    let forms = std::iter::once(secret)
        .chain(lines)
        .chain([quoted.as_str(), json]);
    for s in forms {
        if s.len() >= MIN_LEN && !all.iter().any(|k| k == s) {
            all.push(s.to_string());
        }
    }
    // Longest first, so a secret containing another is masked whole.
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Whether any secret is registered.
pub fn active() -> bool {
    !SECRETS.read().unwrap_or_else(|e| e.into_inner()).is_empty()
}

/// Whether `text` holds a registered secret.
pub fn contains(text: &str) -> bool {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    all.iter().any(|s| text.contains(s.as_str()))
}

/// Whether `text` is exactly a registered secret.
fn is_secret(text: &str) -> bool {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    all.iter().any(|s| s == text)
}

/// `text` with every registered secret masked.
pub fn text(text: &str) -> Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), MASK));
        }
    }
    out
}

/// `v` with every string in it masked, and every number whose digits are a
/// secret (a secret PIN converted by `| int`).
pub fn value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(text(s).into_owned()),
        Value::Number(n) if is_secret(&n.to_string()) => Value::String(MASK.into()),
        Value::Array(items) => Value::Array(items.iter().map(value).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), value(x))).collect()),
        other => other.clone(),
    }
}

/// `d` with its texts and headers masked.
pub fn diff(d: &Diff) -> Diff {
    let header = |h: &Option<String>| h.as_deref().map(|h| text(h).into_owned());
    Diff {
        before_header: header(&d.before_header),
        after_header: header(&d.after_header),
        before: text(&d.before).into_owned(),
        after: text(&d.after).into_owned(),
        prepared: d.prepared.as_deref().map(|p| text(p).into_owned()),
        dicts: d
            .dicts
            .as_ref()
            .map(|b| Box::new((value(&b.0), value(&b.1)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registered_secrets_are_masked_in_text_values_and_diffs() {
        register("s3cr3t-pass");
        register("abc");
        register("-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END KEY-----\n");
        assert_eq!(text("pw=s3cr3t-pass;"), "pw=********;");
        assert_eq!(text("abc is too short to mask"), "abc is too short to mask");
        assert_eq!(
            value(&json!({"cmd": ["echo", "s3cr3t-pass"], "rc": 0})),
            json!({"cmd": ["echo", "********"], "rc": 0})
        );
        let d = diff(&Diff {
            before_header: Some("/etc/key".into()),
            after_header: None,
            before: String::new(),
            after: "x\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n".into(),
            prepared: None,
            dicts: None,
        });
        assert_eq!(d.after, "x\n********\n");
        assert!(active());
    }

    #[test]
    fn a_secret_is_masked_in_the_forms_scripts_and_json_give_it() {
        register("it's \"quoted\"\tpw");
        // As a script quotes it for sh, and as JSON text escapes it.
        let quoted = tend_modules::sh::quote("it's \"quoted\"\tpw");
        assert_eq!(text(&format!("printf %s {quoted}")), "printf %s ********");
        assert_eq!(
            text(r#"{"msg": "it's \"quoted\"\tpw"}"#),
            r#"{"msg": "********"}"#
        );
        assert!(contains("a it's \"quoted\"\tpw b"));
        // A number whose digits are a secret (`{{ pin | int }}`), only whole.
        register("80417265");
        assert_eq!(
            value(&json!([80417265, 180417265])),
            json!(["********", 180417265])
        );
    }
}
