//! The `template` module: render a Jinja2 template into a file on the target.
//!
//! The template at `src` is rendered on the controller with the host's
//! variables (plus `template_path`, `template_fullpath`, `template_host`,
//! `template_uid` and `ansible_managed`), then written
//! exactly as `copy` writes inline content: atomically, with `owner`, `group` and
//! `mode`, `validate` and `backup`; an unchanged result changes nothing. Check
//! mode renders and compares, and `--diff` shows the old and new content.
//!
//! # Examples
//!
//! ```yaml
//! - name: Render the nginx site configuration
//!   ansible.builtin.template:
//!     src: templates/site.conf.j2
//!     dest: /etc/nginx/sites-available/app.conf
//!     owner: root
//!     group: root
//!     mode: '0644'
//!   notify: reload nginx
//!
//! - name: Render a configuration and check it before installing it
//!   ansible.builtin.template:
//!     src: templates/sshd_config.j2
//!     dest: /etc/ssh/sshd_config
//!     mode: '0600'
//!     validate: /usr/sbin/sshd -t -f %s
//!     backup: true
//!
//! - name: Render a file with Windows line endings
//!   ansible.builtin.template:
//!     src: templates/readme.txt.j2
//!     dest: /srv/share/README.txt
//!     newline_sequence: '\r\n'
//! ```
//!
//! # Return values
//!
//! - `dest` (str): The file written.
//! - `src` (str): The template, as given.
//! - `checksum` (str): SHA-1 checksum of the rendered file.
//! - `size` (int): Size of the rendered file, in bytes.
//! - `state` (str): `file`.
//! - `mode` (str): Permissions of the file after the task, in octal (`0644`).
//! - `owner` (str): Owner of the file after the task.
//! - `group` (str): Group of the file after the task.
//! - `uid` (int): Owner id of the file after the task.
//! - `gid` (int): Group id of the file after the task.
//! - `backup_file` (str): The backup of the old file, when `backup` made one.
//!
//! # Implementation
//!
//! The engine renders `src` on the controller and passes the result in
//! `_content`; from there it behaves exactly like `copy` with content (same
//! probe, plan and atomic write, see [`crate::copy`]).

use crate::args::{ArgsError, de, is_templated};
use crate::copy::{Desired, converge_content};
use crate::fileops::{self, ModeSpec, WantAttrs};
use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

fn yes() -> bool {
    true
}

fn lf() -> String {
    "\n".to_string()
}

/// Arguments of `template` (Ansible's names). The Jinja options
/// (`trim_blocks`, `*_string`...) are used by the engine when it renders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The Jinja2 template on the controller (a relative path is looked for in `templates/`).
    #[serde(deserialize_with = "de::string")]
    pub src: String,
    /// Where to write the result on the target.
    #[serde(deserialize_with = "de::string")]
    pub dest: String,
    /// Internal, set by the engine: the rendered template.
    #[serde(default, rename = "_content", deserialize_with = "de::opt_string")]
    pub content: Option<String>,
    /// Internal, set by the engine: the template file's mode (octal), for `mode: preserve`.
    #[serde(default, rename = "_src_mode", deserialize_with = "de::opt_string")]
    pub src_mode: Option<String>,
    /// Permissions: octal, symbolic, or `preserve` (the template file's mode).
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Owner (name or uid).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// Group (name or gid).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Keep the old file as `dest.PID.YYYY-MM-DD@HH:MM:SS~`.
    #[serde(default, deserialize_with = "de::bool")]
    pub backup: bool,
    /// Command that must accept the new file (`%s`) before it replaces `dest`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub validate: Option<String>,
    /// Replace a file whose content differs; with `false`, only create missing files.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub force: bool,
    /// Follow a symlink at `dest` and write to its target.
    #[serde(default, deserialize_with = "de::bool")]
    pub follow: bool,
    /// Newline sequence of the written file: `\n`, `\r` or `\r\n`.
    #[serde(default = "lf", deserialize_with = "de::string")]
    pub newline_sequence: String,
    /// Remove the first newline after a Jinja block tag.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub trim_blocks: bool,
    /// Strip spaces and tabs before a Jinja block tag at the start of a line.
    #[serde(default, deserialize_with = "de::bool")]
    pub lstrip_blocks: bool,
    /// Jinja's block start marker, e.g. `<%`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub block_start_string: Option<String>,
    /// Jinja's block end marker.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub block_end_string: Option<String>,
    /// Jinja's variable start marker, e.g. `<<`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub variable_start_string: Option<String>,
    /// Jinja's variable end marker.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub variable_end_string: Option<String>,
    /// Jinja's comment start marker, e.g. `[#`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment_start_string: Option<String>,
    /// Jinja's comment end marker.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment_end_string: Option<String>,
    /// Encoding of the written file: only `utf-8` is supported. Default: `utf-8`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub output_encoding: Option<String>,
    /// Accepted for compatibility; writes are always atomic.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub unsafe_writes: Option<bool>,
    /// Not supported yet (`chattr` attributes).
    #[serde(default, alias = "attr")]
    pub attributes: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub selevel: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub serole: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub setype: Option<Value>,
    /// Not supported yet (SELinux).
    #[serde(default)]
    pub seuser: Option<Value>,
}

/// `newline_sequence` as given, with the escaped spellings (`'\r\n'` written
/// in single quotes) decoded, as Ansible's template action does.
fn newline_seq(given: &str) -> &str {
    match given {
        "\\n" => "\n",
        "\\r" => "\r",
        "\\r\\n" => "\r\n",
        other => other,
    }
}

/// Windows-1252's characters at 0x80..=0x9F (`None`: unassigned).
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

/// `text` in `output_encoding` (empty: utf-8): utf-8, latin-1 or
/// windows-1252; a character the encoding lacks is an error, as Python's.
pub fn encode(text: &str, encoding: &str) -> Result<Vec<u8>, String> {
    let name = encoding.to_ascii_lowercase().replace('_', "-");
    let cp1252 = match name.as_str() {
        "" | "utf-8" | "utf8" => return Ok(text.as_bytes().to_vec()),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => false,
        "windows-1252" | "cp1252" => true,
        _ => {
            return Err(format!(
                "template: output_encoding `{encoding}` is not supported yet"
            ));
        }
    };
    text.char_indices()
        .map(|(i, c)| {
            let code = c as u32;
            let high = cp1252
                .then(|| CP1252_HIGH.iter().position(|h| *h == Some(c)))
                .flatten();
            match high {
                Some(n) => Ok(0x80 + n as u8),
                None if code < 0x80 || (code < 0x100 && !(cp1252 && code < 0xA0)) => Ok(code as u8),
                None => Err(format!(
                    "'{encoding}' codec can't encode character '\\u{code:04x}' in position {i}"
                )),
            }
        })
        .collect()
}

/// Converts `\n` line ends of rendered text to `newline_sequence`.
pub fn apply_newlines(text: &str, seq: &str) -> String {
    let seq = newline_seq(seq);
    if seq == "\n" {
        text.to_string()
    } else {
        text.replace('\n', seq)
    }
}

/// The `template` module.
pub struct Template;

#[async_trait]
impl TypedModule for Template {
    type Args = Args;
    const NAME: &'static str = "template";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "template",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        if !matches!(newline_seq(&a.newline_sequence), "\n" | "\r" | "\r\n")
            && !is_templated(&a.newline_sequence)
        {
            return Err(ArgsError::field(
                "newline_sequence",
                format!(
                    "value of newline_sequence must be one of: \\n, \\r, \\r\\n, got: {:?}",
                    a.newline_sequence
                ),
            ));
        }
        if let Some(enc) = &a.output_encoding
            && encode("", enc).is_err()
            && !is_templated(enc)
        {
            return Err(ArgsError::field(
                "output_encoding",
                format!(
                    "template: output_encoding `{enc}` is not supported yet (utf-8, latin-1 and windows-1252 are)"
                ),
            ));
        }
        fileops::check_validate(&a.validate)
    }

    async fn run(&self, a: Args, ctx: &Context, host: &dyn Host) -> Result<Outcome, ModuleError> {
        let rendered = a.content.as_deref().ok_or_else(|| {
            ModuleError::failed(format!(
                "template: {} was not rendered by the engine (`_content` is missing)",
                a.src
            ))
        })?;
        let content = encode(
            &apply_newlines(rendered, &a.newline_sequence),
            a.output_encoding.as_deref().unwrap_or(""),
        )
        .map_err(ModuleError::failed)?;
        let want = WantAttrs {
            mode: a.mode.clone(),
            owner: a.owner.clone(),
            group: a.group.clone(),
        };
        let desired = Desired::for_template(
            &a.dest,
            &a.src,
            content,
            want,
            &a.src_mode,
            a.force,
            a.follow,
            a.backup,
            a.validate.clone(),
        )?;
        converge_content(&desired, ctx, host).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    #[test]
    fn output_encodings() {
        assert_eq!(encode("a\u{20AC}é", "").unwrap(), "a\u{20AC}é".as_bytes());
        assert_eq!(encode("a\u{20AC}é", "windows-1252").unwrap(), b"a\x80\xe9");
        assert_eq!(encode("é", "latin-1").unwrap(), b"\xe9");
        assert!(encode("\u{20AC}", "latin-1").is_err());
        assert!(
            encode("x", "ebcdic")
                .unwrap_err()
                .contains("not supported yet")
        );
    }

    #[test]
    fn arguments() {
        let a: Args = args::parse(
            &json!({"src": "t.j2", "dest": "/x", "_content": "a\n", "newline_sequence": "\r\n"}),
        )
        .unwrap();
        Template::validate(&a).unwrap();
        assert_eq!(
            apply_newlines(a.content.as_deref().unwrap(), &a.newline_sequence),
            "a\r\n"
        );
        let a: Args =
            args::parse(&json!({"src": "t", "dest": "/x", "output_encoding": "ebcdic"})).unwrap();
        assert!(
            Template::validate(&a)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
        let a: Args =
            args::parse(&json!({"src": "t", "dest": "/x", "output_encoding": "UTF-8"})).unwrap();
        assert!(Template::validate(&a).is_ok());
        assert!(
            args::parse::<Args>(&json!({"src": "t", "dest": "/x", "remote_src": true})).is_err()
        );
    }
}
