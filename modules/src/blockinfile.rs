//! The `blockinfile` module: insert, update or remove a block of lines
//! surrounded by marker lines.
//!
//! The block is delimited by two marker lines made from `marker` with
//! `{mark}` replaced by `marker_begin` and `marker_end`, so later runs find
//! and update it in place. When the markers are not in the file, the block is
//! inserted after the last line matching `insertafter` (or at the end, `EOF`),
//! or before the last line matching `insertbefore` (or at the beginning,
//! `BOF`). `state: absent`, or an empty `block`, removes the block with its
//! markers. Writes are atomic and `validate` checks the new content first.
//! Use a different `marker` for each block managed in the same file.
//!
//! # Examples
//!
//! ```yaml
//! - name: Add the bastion's SSH settings
//!   ansible.builtin.blockinfile:
//!     path: /etc/ssh/sshd_config
//!     block: |
//!       Match User deploy
//!         PasswordAuthentication no
//!         AllowTcpForwarding no
//!     validate: /usr/sbin/sshd -t -f %s
//!     backup: true
//!
//! - name: Manage a group of hosts entries
//!   ansible.builtin.blockinfile:
//!     path: /etc/hosts
//!     marker: '# {mark} INTERNAL HOSTS'
//!     block: |
//!       10.0.0.5 db.internal
//!       10.0.0.6 cache.internal
//!
//! - name: Put a block in an HTML file
//!   ansible.builtin.blockinfile:
//!     path: /var/www/html/index.html
//!     marker: '<!-- {mark} MAINTENANCE -->'
//!     insertafter: '<body>'
//!     block: |
//!       <p>Maintenance tonight from 22:00.</p>
//!
//! - name: Remove the block
//!   ansible.builtin.blockinfile:
//!     path: /etc/hosts
//!     marker: '# {mark} INTERNAL HOSTS'
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `msg` (str): What changed: "Block inserted", "Block removed", "File created", "ownership, perms or SE linux context changed", or empty.
//! - `backup_file` (str): The backup of the old file, when `backup` made one.
//!
//! # Implementation
//!
//! The edit ([`edit`]) is a pure function following Ansible's module line by
//! line; the probe, attributes and the atomic write are shared with
//! `lineinfile`.

use crate::args::{ArgsError, de, mutually_exclusive};
use crate::fileops::{self, ModeSpec, WantAttrs};
use crate::host::{Exec, ExecOutput, Host};
use crate::lineinfile::{
    Edit, FileState, State, WRITE_FAILED, plan_edit, present_state, probe_file, py_regex,
    record_backup,
};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

/// Arguments of `blockinfile`.
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
    /// Whether the block should be there.
    #[serde(default = "present_state")]
    pub state: State,
    /// The marker line template; `{mark}` becomes `marker_begin` / `marker_end`.
    #[serde(default = "default_marker", deserialize_with = "de::string")]
    pub marker: String,
    /// The text between the markers; empty removes the block.
    #[serde(default, alias = "content", deserialize_with = "de::string")]
    pub block: String,
    /// Without markers in the file, insert after the last line matching this regex, or at the end (`EOF`). Default: `EOF`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub insertafter: Option<String>,
    /// Without markers in the file, insert before the last line matching this regex, or at the beginning (`BOF`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub insertbefore: Option<String>,
    /// Create the file when it is missing (else the task fails).
    #[serde(default, deserialize_with = "de::bool")]
    pub create: bool,
    /// Keep a timestamped copy of the original before changing it.
    #[serde(default, deserialize_with = "de::bool")]
    pub backup: bool,
    /// Command validating the new content before it replaces the file; `%s` is the temp file.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub validate: Option<String>,
    /// Replaces `{mark}` in the opening marker.
    #[serde(default = "default_begin", deserialize_with = "de::string")]
    pub marker_begin: String,
    /// Replaces `{mark}` in the closing marker.
    #[serde(default = "default_end", deserialize_with = "de::string")]
    pub marker_end: String,
    /// Add a blank line after the block unless one (or the end of file) is there.
    #[serde(default, deserialize_with = "de::bool")]
    pub append_newline: bool,
    /// Add a blank line before the block unless one (or the start of file) is there.
    #[serde(default, deserialize_with = "de::bool")]
    pub prepend_newline: bool,
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
    #[serde(default)]
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

fn default_marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}

fn default_begin() -> String {
    "BEGIN".into()
}

fn default_end() -> String {
    "END".into()
}

/// The `blockinfile` module.
pub struct BlockInFile;

#[async_trait]
impl TypedModule for BlockInFile {
    type Args = Args;
    const NAME: &'static str = "blockinfile";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "blockinfile",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        fileops::reject_preserve(&a.mode)?;
        mutually_exclusive(&[(
            "insertbefore",
            a.insertbefore.is_some(),
            "insertafter",
            a.insertafter.is_some(),
        )])?;
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

/// The block edit's options.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// The block text (without markers).
    pub block: &'a str,
    /// Marker template with `{mark}`.
    pub marker: &'a str,
    /// `{mark}` of the opening marker.
    pub marker_begin: &'a str,
    /// `{mark}` of the closing marker.
    pub marker_end: &'a str,
    /// `insertafter` as given.
    pub insertafter: Option<&'a str>,
    /// `insertbefore` as given.
    pub insertbefore: Option<&'a str>,
    /// `state=present`.
    pub present: bool,
    /// `append_newline`.
    pub append_newline: bool,
    /// `prepend_newline`.
    pub prepend_newline: bool,
}

/// Python's `bytes.splitlines(keepends=True)`: lines end at `\n`, `\r\n` or `\r`.
pub fn splitlines_keepends(content: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < content.len() {
        match content[i] {
            b'\n' => {
                lines.push(content[start..=i].to_vec());
                start = i + 1;
            }
            b'\r' => {
                if content.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                lines.push(content[start..=i].to_vec());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < content.len() {
        lines.push(content[start..].to_vec());
    }
    lines
}

/// Ansible's `blockinfile` edit. `original` is `None` for a missing file.
/// Returns the new content and `msg` (`Block inserted`, `Block removed`,
/// `File created`, or empty when unchanged).
pub fn edit(original: Option<&[u8]>, b: &Block) -> Result<(Vec<u8>, String), String> {
    let sep = b"\n".to_vec();
    let mut lines = original.map(splitlines_keepends).unwrap_or_default();
    let (insertafter, insertbefore) = match (b.insertafter, b.insertbefore) {
        (None, None) => (Some("EOF"), None),
        x => x,
    };
    let insert_pattern = match (insertafter, insertbefore) {
        (Some(a), _) if a != "EOF" => Some(a),
        (_, Some(bf)) if bf != "BOF" => Some(bf),
        _ => None,
    };
    let insertre = insert_pattern.map(py_regex).transpose()?;
    let mut marker0 = b.marker.replace("{mark}", b.marker_begin).into_bytes();
    marker0.extend_from_slice(&sep);
    let mut marker1 = b.marker.replace("{mark}", b.marker_end).into_bytes();
    marker1.extend_from_slice(&sep);
    let blocklines: Vec<Vec<u8>> = if b.present && !b.block.is_empty() {
        let mut block = b.block.as_bytes().to_vec();
        if !block.ends_with(&sep) {
            block.extend_from_slice(&sep);
        }
        let mut v = vec![marker0.clone()];
        v.extend(splitlines_keepends(&block));
        v.push(marker1.clone());
        v
    } else {
        Vec::new()
    };
    let (mut n0, mut n1) = (None, None);
    for (i, line) in lines.iter().enumerate() {
        if *line == marker0 {
            n0 = Some(i);
        }
        if *line == marker1 {
            n1 = Some(i);
        }
    }
    let mut n0 = match (n0, n1) {
        (Some(a), Some(z)) if a < z => {
            lines.drain(a..=z);
            a
        }
        (Some(a), Some(z)) => {
            lines.drain(z..=a);
            z
        }
        _ => match &insertre {
            Some(re) => {
                let mut found = None;
                if re.multiline() {
                    let text = original.unwrap_or_default();
                    if let Some(m) = re.search(text)? {
                        let upto = if insertafter.is_some() {
                            m.end()
                        } else {
                            m.start()
                        };
                        found = Some(text[..upto].iter().filter(|c| **c == b'\n').count());
                    }
                } else {
                    for (i, line) in lines.iter().enumerate() {
                        if re.is_match(line.as_slice())? {
                            found = Some(i);
                        }
                    }
                }
                match found {
                    None => lines.len(),
                    Some(n) if insertafter.is_some() => n + 1,
                    Some(n) => n,
                }
            }
            _ if insertbefore.is_some() => 0,
            _ => lines.len(),
        },
    };
    if n0 > 0 && !lines[n0 - 1].ends_with(&sep) {
        lines[n0 - 1].extend_from_slice(&sep);
    }
    if b.prepend_newline && b.present && n0 != 0 && lines[n0 - 1] != sep {
        lines.insert(n0, sep.clone());
        n0 += 1;
    }
    let count = blocklines.len();
    let removed = blocklines.is_empty();
    lines.splice(n0..n0, blocklines);
    if b.append_newline && b.present {
        let after = n0 + count;
        if after < lines.len() && lines[after] != sep {
            lines.insert(after, sep.clone());
        }
    }
    let result = lines.concat();
    let msg = match original {
        Some(o) if o == result.as_slice() => "",
        None => "File created",
        Some(_) if removed => "Block removed",
        Some(_) => "Block inserted",
    };
    Ok((result, msg.to_string()))
}

impl Converge for BlockInFile {
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
        let exists = state.editable(path)?;
        if !exists && !a.create {
            return Err(
                ModuleError::failed(format!("Path {path} does not exist !")).with("rc", 257)
            );
        }
        if !exists && a.state == State::Absent {
            return Ok(Plan {
                msg: Some(format!("File {path} not present")),
                ..Plan::noop()
            });
        }
        let block = Block {
            block: &a.block,
            marker: &a.marker,
            marker_begin: &a.marker_begin,
            marker_end: &a.marker_end,
            insertafter: a.insertafter.as_deref(),
            insertbefore: a.insertbefore.as_deref(),
            present: a.state == State::Present,
            append_newline: a.append_newline,
            prepend_newline: a.prepend_newline,
        };
        let original = exists.then_some(state.content());
        let (after, msg) = edit(original, &block).map_err(ModuleError::failed)?;
        plan_edit(
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
                header: Edit::content_header(path),
                attr_diff: true,
                diff_list: true,
                ctx,
            },
        )
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        record_backup(out, plan, "backup_file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<'a>(text: &'a str) -> Block<'a> {
        Block {
            block: text,
            marker: "# {mark} ANSIBLE MANAGED BLOCK",
            marker_begin: "BEGIN",
            marker_end: "END",
            insertafter: None,
            insertbefore: None,
            present: true,
            append_newline: false,
            prepend_newline: false,
        }
    }

    fn run(original: &str, b: Block) -> (String, String) {
        let (out, msg) = edit(Some(original.as_bytes()), &b).unwrap();
        (String::from_utf8(out).unwrap(), msg)
    }

    const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK\n";
    const E: &str = "# END ANSIBLE MANAGED BLOCK\n";

    #[test]
    fn inserts_at_eof_then_converges() {
        let (out, msg) = run("a\nb", block("x\ny"));
        assert_eq!(out, format!("a\nb\n{B}x\ny\n{E}"));
        assert_eq!(msg, "Block inserted");
        assert_eq!(run(&out, block("x\ny\n")), (out.clone(), String::new()));
        // an update replaces the block in place
        let (updated, msg) = run(&format!("{out}tail\n"), block("z"));
        assert_eq!(updated, format!("a\nb\n{B}z\n{E}tail\n"));
        assert_eq!(msg, "Block inserted");
    }

    #[test]
    fn removes_with_empty_block_or_absent() {
        let f = format!("a\n{B}x\n{E}b\n");
        assert_eq!(
            run(&f, block("")),
            ("a\nb\n".into(), "Block removed".into())
        );
        let mut b = block("x");
        b.present = false;
        assert_eq!(run(&f, b), ("a\nb\n".into(), "Block removed".into()));
        assert_eq!(run("a\n", b), ("a\n".into(), String::new()));
    }

    #[test]
    fn insertafter_and_insertbefore() {
        let mut b = block("<h1>hi</h1>");
        b.marker = "<!-- {mark} ANSIBLE MANAGED BLOCK -->";
        b.insertafter = Some("<body>");
        let (out, _) = run("<html>\n<body>\n</body>\n", b);
        assert_eq!(
            out,
            "<html>\n<body>\n<!-- BEGIN ANSIBLE MANAGED BLOCK -->\n<h1>hi</h1>\n<!-- END ANSIBLE MANAGED BLOCK -->\n</body>\n"
        );
        let mut b = block("x");
        b.insertbefore = Some("BOF");
        assert_eq!(run("a\n", b).0, format!("{B}x\n{E}a\n"));
        b.insertbefore = Some("^b");
        assert_eq!(run("a\nb\nc\nb\n", b).0, format!("a\nb\nc\n{B}x\n{E}b\n"));
        b.insertbefore = Some("^nomatch");
        assert_eq!(run("a", b).0, format!("a\n{B}x\n{E}"));
    }

    #[test]
    fn insert_patterns_with_lookaround_and_backreferences() {
        let mut b = block("x");
        // after the last live (uncommented) Listen line
        b.insertafter = Some(r"^(?!#)Listen ");
        assert_eq!(
            run("Listen 80\n#Listen 81\n", b).0,
            format!("Listen 80\n{B}x\n{E}#Listen 81\n")
        );
        // before a line whose two words are the same
        b.insertafter = None;
        b.insertbefore = Some(r"^(\w+) \1$");
        assert_eq!(run("a b\nc c\n", b).0, format!("a b\n{B}x\n{E}c c\n"));
    }

    #[test]
    fn multiline_insertafter() {
        let mut b = block("        new");
        b.marker = "    <!-- {mark} -->";
        b.insertafter = Some(r"(?m)SID_LIST_LISTENER_DG =\n.*\(SID_LIST =");
        let f = "x\nSID_LIST_LISTENER_DG =\n  (SID_LIST =\n  )\n";
        let (out, _) = run(f, b);
        assert_eq!(
            out,
            "x\nSID_LIST_LISTENER_DG =\n  (SID_LIST =\n    <!-- BEGIN -->\n        new\n    <!-- END -->\n  )\n"
        );
    }

    #[test]
    fn prepend_and_append_newline() {
        let mut b = block("x");
        b.prepend_newline = true;
        b.append_newline = true;
        b.insertafter = Some("^a");
        let (out, _) = run("a\nb\n", b);
        assert_eq!(out, format!("a\n\n{B}x\n{E}\nb\n"));
        assert_eq!(run(&out, b).1, "");
        // not at the beginning or end of the file
        b.insertafter = None;
        b.insertbefore = Some("BOF");
        assert_eq!(run("", b).0, format!("{B}x\n{E}"));
    }

    #[test]
    fn missing_file_and_markers_in_reverse() {
        let (out, msg) = edit(None, &block("x")).unwrap();
        assert_eq!(
            (String::from_utf8(out).unwrap(), msg.as_str()),
            (format!("{B}x\n{E}"), "File created")
        );
        let f = format!("{E}old\n{B}");
        assert_eq!(run(&f, block("x")).0, format!("{B}x\n{E}"));
    }

    #[test]
    fn splitlines_keeps_ends() {
        assert_eq!(
            splitlines_keepends(b"a\r\nb\rc\nd"),
            [
                b"a\r\n".to_vec(),
                b"b\r".to_vec(),
                b"c\n".to_vec(),
                b"d".to_vec()
            ]
        );
    }
}
