//! The `replace` module: replace all the matches of a regular expression in a
//! file.
//!
//! `regexp` is a Python regular expression compiled with MULTILINE, so `^` and
//! `$` match at every line; `.` does not match a newline. Every match is
//! replaced by `replace`, which may use the match's groups (`\1`, `\g<1>`,
//! `\g<name>`). `after` and `before` (DOTALL regular expressions) limit the
//! replacement to the text after the first match of `after` and before the
//! next match of `before`. It is up to the task to stay idempotent: after the
//! replacement, `regexp` should no longer match what it produced. The file is
//! read as UTF-8 text; writes are atomic and `validate` checks the new content
//! first. A missing file fails the task.
//!
//! # Examples
//!
//! ```yaml
//! - name: Rename a host everywhere in /etc/hosts
//!   ansible.builtin.replace:
//!     path: /etc/hosts
//!     regexp: '(\s+)old\.example\.com(\s+.*)?$'
//!     replace: '\1new.example.com\2'
//!
//! - name: Comment out every line of one virtual host
//!   ansible.builtin.replace:
//!     path: /etc/apache2/sites-available/default.conf
//!     after: '(?m)^<VirtualHost \*:80>'
//!     before: '</VirtualHost>'
//!     regexp: '^(.+)$'
//!     replace: '# \1'
//!
//! - name: Point the application at the new database, checking the result
//!   ansible.builtin.replace:
//!     path: /etc/app/app.conf
//!     regexp: '^db_host\s*=.*$'
//!     replace: 'db_host = db2.internal'
//!     validate: /usr/local/bin/app-check-config %s
//!     backup: true
//! ```
//!
//! # Return values
//!
//! - `msg` (str): "N replacements made", "ownership, perms or SE linux context changed", a note that `after`/`before` matched nothing, or empty.
//! - `backup_file` (str): The backup of the old file, when `backup` made one.
//! - `rc` (int): 0, as Ansible's module returns it.
//!
//! # Implementation
//!
//! As Ansible's module: the file is read as UTF-8 text; `after` and `before`
//! make one DOTALL pattern `AFTER(?P<subsection>.*?)BEFORE` (or
//! `AFTER(?P<subsection>.*)`, `(?P<subsection>.*)BEFORE`) whose first match
//! bounds the section; `regexp` is compiled with MULTILINE and applied to
//! the section alone with `re.subn`. The edit ([`edit`]) is a pure function;
//! the probe, the attributes and the atomic write (symlinks followed) are
//! shared with `lineinfile`.

use crate::args::{ArgsError, de};
use crate::fileops::{self, ModeSpec, WantAttrs};
use crate::host::{Exec, ExecOutput, Host};
use crate::lineinfile::{Edit, FileState, WRITE_FAILED, plan_edit, probe_file, record_backup};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::Outcome;
use crate::pyregex::{Flags, Regex};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

/// Arguments of `replace`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file to modify.
    #[serde(
        alias = "dest",
        alias = "destfile",
        alias = "name",
        deserialize_with = "de::string"
    )]
    pub path: String,
    /// The Python regular expression to replace (compiled with MULTILINE).
    #[serde(deserialize_with = "de::string")]
    pub regexp: String,
    /// The replacement: a Python template (`\1`, `\g<name>`); matches are removed without it. Default: `""`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub replace: Option<String>,
    /// Only replace after the first match of this regex (DOTALL).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub after: Option<String>,
    /// Only replace before the match of this regex that closes the section (DOTALL).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub before: Option<String>,
    /// Keep a timestamped copy of the original before changing it.
    #[serde(default, deserialize_with = "de::bool")]
    pub backup: bool,
    /// Command validating the new content before it replaces the file; `%s` is the temp file.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub validate: Option<String>,
    /// The file's encoding; only UTF-8 is supported. Default: `utf-8`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub encoding: Option<String>,
    /// Permissions: octal (`'0644'`, `420` as a number) or symbolic (`u=rw,go=r`).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Owner name or uid.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group name or gid.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "de::bool")]
    pub unsafe_writes: bool,
    /// Not supported yet (`chattr` attributes).
    #[serde(default, alias = "attr")]
    pub attributes: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub seuser: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub serole: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub setype: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub selevel: Option<Value>,
}

/// The `replace` module.
pub struct Replace;

/// Whether `encoding` names UTF-8 the way Python's codec lookup does.
fn is_utf8(encoding: &str) -> bool {
    let norm: String = encoding
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(norm.as_str(), "utf8" | "u8" | "utf" | "cp65001")
}

#[async_trait]
impl TypedModule for Replace {
    type Args = Args;
    const NAME: &'static str = "replace";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "replace",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        fileops::reject_preserve(&a.mode)?;
        if let Some(enc) = a.encoding.as_deref()
            && !is_utf8(enc)
        {
            return Err(ArgsError::field(
                "encoding",
                format!("replace: encoding `{enc}` is not supported yet (only utf-8)"),
            ));
        }
        fileops::check_validate(&a.validate)
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        converge(self, &args, ctx, host).await
    }
}

/// What [`edit`] did to the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// `after`/`before` found no section; the message names the pattern.
    NoSection(String),
    /// Nothing matched, or the replacements gave the same text.
    Unchanged,
    /// The new content and the number of replacements.
    Replaced {
        /// The whole new content.
        content: String,
        /// How many matches were replaced.
        count: usize,
    },
}

/// The options of [`edit`].
#[derive(Debug, Clone, Copy)]
pub struct Replacement<'a> {
    /// `regexp`.
    pub regexp: &'a str,
    /// `replace`.
    pub replace: &'a str,
    /// `after` (empty means none).
    pub after: Option<&'a str>,
    /// `before` (empty means none).
    pub before: Option<&'a str>,
}

/// Ansible's `replace` on the file's text. Errors are the module's messages.
pub fn edit(contents: &str, r: &Replacement) -> Result<Edited, String> {
    let after = r.after.filter(|s| !s.is_empty());
    let before = r.before.filter(|s| !s.is_empty());
    let pattern = match (after, before) {
        (Some(a), Some(b)) => format!("{a}(?P<subsection>.*?){b}"),
        (Some(a), None) => format!("{a}(?P<subsection>.*)"),
        (None, Some(b)) => format!("(?P<subsection>.*){b}"),
        (None, None) => String::new(),
    };
    let (start, end) = if pattern.is_empty() {
        (0, contents.len())
    } else {
        let section_re = Regex::new(&pattern, Flags::str().dotall(true))
            .map_err(|e| format!("Unable to compile the before/after pattern '{pattern}': {e}"))?;
        let group = section_re.group_index("subsection").unwrap_or(1);
        match section_re.search(contents)?.and_then(|m| m.get(group)) {
            Some(span) => (span.start, span.end),
            None => {
                return Ok(Edited::NoSection(format!(
                    "Pattern for before/after params did not match the given file: {pattern}"
                )));
            }
        }
    };
    let section = &contents[start..end];
    let mre = Regex::new(r.regexp, Flags::str().multiline(true))
        .map_err(|e| format!("Unable to compile regexp '{}': {e}", r.regexp))?;
    let (result, count) = mre
        .subn(r.replace, section, 0)
        .map_err(|e| format!("Unable to process replace due to error: {e}"))?;
    if count == 0 || result == section {
        return Ok(Edited::Unchanged);
    }
    let mut content = String::with_capacity(contents.len() + result.len());
    content.push_str(&contents[..start]);
    content.push_str(&result);
    content.push_str(&contents[end..]);
    Ok(Edited::Replaced { content, count })
}

impl Converge for Replace {
    type Args = Args;
    type State = FileState;
    const APPLY_FAILED: &'static str = WRITE_FAILED;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        probe_file(&a.path, a.owner.as_deref(), a.group.as_deref(), a.backup)
    }

    fn parse(&self, _args: &Args, out: &ExecOutput) -> Result<FileState, ModuleError> {
        FileState::parse(out)
    }

    fn plan(&self, a: &Args, state: &FileState, ctx: &Context) -> Result<Plan, ModuleError> {
        let path = a.path.as_str();
        if !state.editable(path)? {
            return Err(
                ModuleError::failed(format!("Path {path} does not exist !")).with("rc", 257)
            );
        }
        let contents = std::str::from_utf8(state.content()).map_err(|e| {
            ModuleError::failed(format!(
                "replace: {path} is not valid UTF-8 ({e}); other encodings are not supported yet"
            ))
        })?;
        let r = Replacement {
            regexp: &a.regexp,
            replace: a.replace.as_deref().unwrap_or_default(),
            after: a.after.as_deref(),
            before: a.before.as_deref(),
        };
        let (after, msg) = match edit(contents, &r).map_err(ModuleError::failed)? {
            // Ansible exits right there: attributes are left alone.
            Edited::NoSection(msg) => {
                return Ok(Plan {
                    msg: Some(msg),
                    ..Plan::noop()
                }
                .with("rc", 0));
            }
            Edited::Unchanged => (state.content().to_vec(), String::new()),
            Edited::Replaced { content, count } => {
                (content.into_bytes(), format!("{count} replacements made"))
            }
        };
        let plan = plan_edit(
            state,
            Edit {
                path,
                after,
                msg,
                want: WantAttrs {
                    mode: a.mode.clone(),
                    owner: a.owner.clone(),
                    group: a.group.clone(),
                },
                backup: a.backup,
                validate: a.validate.as_deref(),
                header: path.to_string(),
                attr_diff: false,
                diff_list: false,
                ctx,
            },
        )?;
        Ok(plan.with("rc", 0))
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        record_backup(out, plan, "backup_file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file Ansible's integration test writes (`copy: content: |-`).
    const PANGRAMS: &str = "The quick brown fox jumps over the lazy dog.\n\
        We promptly judged antique ivory buckles for the next prize.\n\
        Jinxed wizards pluck ivy from the big quilt.\n\
        Jaded zombies acted quaintly but kept driving their oxen forward.";

    fn rep<'a>(regexp: &'a str, replace: &'a str) -> Replacement<'a> {
        Replacement {
            regexp,
            replace,
            after: None,
            before: None,
        }
    }

    fn replaced(contents: &str, r: &Replacement) -> (String, usize) {
        match edit(contents, r).unwrap() {
            Edited::Replaced { content, count } => (content, count),
            other => panic!("{other:?}"),
        }
    }

    fn lines(s: &str) -> Vec<&str> {
        s.lines().collect()
    }

    #[test]
    fn attr_is_attributes_alias_and_not_supported_yet() {
        let a: Args =
            crate::args::parse(&serde_json::json!({"path": "/f", "regexp": "a", "attr": "+i"}))
                .unwrap();
        assert!(a.attributes.is_some());
        assert!(
            Replace::validate(&a)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
    }

    #[test]
    fn before_limits_the_section() {
        let r = Replacement {
            before: Some("quilt"),
            ..rep(" ", "")
        };
        let (out, n) = replaced(PANGRAMS, &r);
        assert_eq!(lines(&out)[0], "Thequickbrownfoxjumpsoverthelazydog.");
        assert_eq!(
            lines(&out)[3],
            "Jaded zombies acted quaintly but kept driving their oxen forward."
        );
        assert_eq!(n, 24);
    }

    #[test]
    fn after_limits_the_section() {
        let r = Replacement {
            after: Some("promptly"),
            ..rep(" ", "")
        };
        let (out, _) = replaced(PANGRAMS, &r);
        assert_eq!(
            lines(&out)[0],
            "The quick brown fox jumps over the lazy dog."
        );
        assert_eq!(
            lines(&out)[3],
            "Jadedzombiesactedquaintlybutkeptdrivingtheiroxenforward."
        );
    }

    #[test]
    fn after_and_before_together() {
        // `after` must come first in the file
        let r = Replacement {
            after: Some("quilt"),
            before: Some("promptly"),
            ..rep("e", "3")
        };
        assert_eq!(
            edit(PANGRAMS, &r).unwrap(),
            Edited::NoSection(
                "Pattern for before/after params did not match the given file: \
                 quilt(?P<subsection>.*?)promptly"
                    .into()
            )
        );
        let r = Replacement {
            after: Some("promptly"),
            before: Some("quilt"),
            ..rep("e", "3")
        };
        let (out, _) = replaced(PANGRAMS, &r);
        assert_eq!(
            lines(&out)[1],
            "We promptly judg3d antiqu3 ivory buckl3s for th3 n3xt priz3."
        );
        assert_eq!(lines(&out)[0], lines(PANGRAMS)[0]);
    }

    #[test]
    fn multiline_anchors_and_dot_without_dotall() {
        let (out, n) = replaced(PANGRAMS, &rep(r"^([\S\s]+)$", r#""\1""#));
        assert_eq!(n, 1);
        assert_eq!(
            lines(&out)[0],
            "\"The quick brown fox jumps over the lazy dog."
        );
        assert_eq!(
            lines(&out)[3],
            "Jaded zombies acted quaintly but kept driving their oxen forward.\""
        );
        let (out, n) = replaced(&out, &rep("^(.+)$", r#""\1""#));
        assert_eq!(n, 4);
        assert_eq!(
            lines(&out)[0],
            "\"\"The quick brown fox jumps over the lazy dog.\""
        );
    }

    #[test]
    fn word_boundaries_and_escaped_backslashes() {
        let (out, _) = replaced(PANGRAMS, &rep(r"\b(.+)\b", r#""\1""#));
        assert_eq!(
            lines(&out)[0],
            "\"The quick brown fox jumps over the lazy dog\"."
        );
        // `\\b` is a literal backslash and `b`: nothing to replace
        assert_eq!(
            edit(&out, &rep(r"\\b(.+)\\b", r#""\1""#)).unwrap(),
            Edited::Unchanged
        );
    }

    #[test]
    fn subsection_is_the_first_group_only() {
        let group = "# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n";
        let f = format!("{group}\n{group}\n{group}");
        let r = Replacement {
            after: Some("# start of group"),
            before: Some("# end of group"),
            ..rep("0", "9")
        };
        let (out, n) = replaced(&f, &r);
        assert_eq!(n, 7);
        let l = lines(&out);
        assert_eq!(
            (l[1], l[2], l[7], l[13]),
            ("9.9.9.9", "127.9.9.1", "0.0.0.0", "0.0.0.0")
        );
    }

    #[test]
    fn errors_and_no_change() {
        let r = Replacement {
            after: Some("^"),
            before: Some("$"),
            ..rep(r"\.", r"\D")
        };
        let e = edit("", &r).unwrap_err();
        assert_eq!(
            e,
            "Unable to process replace due to error: bad escape \\D at position 0"
        );
        assert!(
            edit("x", &rep("(a)", r"\2"))
                .unwrap_err()
                .starts_with("Unable to process replace due to error: invalid group reference 2")
        );
        assert!(edit("x", &rep("(", "")).is_err());
        assert_eq!(edit("abc", &rep("x", "y")).unwrap(), Edited::Unchanged);
        // a match replaced by itself is no change
        assert_eq!(edit("abc", &rep("b", "b")).unwrap(), Edited::Unchanged);
        // empty `after`/`before` are ignored, as Python's falsy strings
        let r = Replacement {
            after: Some(""),
            before: Some(""),
            ..rep("a", "b")
        };
        assert_eq!(replaced("aa", &r), ("bb".into(), 2));
    }

    #[test]
    fn python_constructs_in_the_pattern() {
        // backreference: collapse doubled words
        assert_eq!(
            replaced("the the cat", &rep(r"\b(\w+) \1\b", r"\1")).0,
            "the cat"
        );
        // look-behind / look-ahead
        assert_eq!(
            replaced("port=80\n#port=81\n", &rep(r"(?<!#)port=\d+", "port=8080")).0,
            "port=8080\n#port=81\n"
        );
        assert_eq!(
            replaced(
                "Listen 80\nListen 443\n",
                &rep(r"^Listen (?=80$)\d+$", "Listen 8080")
            )
            .0,
            "Listen 8080\nListen 443\n"
        );
        // named groups in the replacement (Ansible's docs)
        assert_eq!(
            replaced(
                "ListenAddress 1.2.3.4\n",
                &rep(
                    r"^(?P<dctv>ListenAddress[ ]+)(?P<host>[^\n]+)$",
                    r"#\g<dctv>\g<host>\n\g<dctv>0.0.0.0"
                )
            )
            .0,
            "#ListenAddress 1.2.3.4\nListenAddress 0.0.0.0\n"
        );
        // `(?m)` in `after` (Ansible's docs)
        let vhost = "x\n<VirtualHost *>\na\nb\n</VirtualHost>\ny\n";
        let r = Replacement {
            after: Some("(?m)^<VirtualHost [*]>"),
            before: Some("</VirtualHost>"),
            ..rep("^(.+)$", r"# \1")
        };
        assert_eq!(
            replaced(vhost, &r).0,
            "x\n<VirtualHost *>\n# a\n# b\n</VirtualHost>\ny\n"
        );
    }

    #[test]
    fn encodings() {
        assert!(is_utf8("utf-8"));
        assert!(is_utf8("UTF8"));
        assert!(is_utf8("utf_8"));
        assert!(!is_utf8("latin-1"));
    }
}
