//! The `authorized_key` module: add or remove SSH public keys in a user's
//! `authorized_keys` file.
//!
//! As `ansible.posix.authorized_key`: `key` holds one or more public keys,
//! one a line (blank lines and `#` lines are skipped). Keys are told apart by
//! their base64 blob; a key already in the file with another type, other
//! options or another comment is replaced (and moves to the end), a new key
//! is appended, `state: absent` removes the given keys, and `exclusive`
//! removes every other line. `key_options` replaces the options of the given
//! keys, `comment` their comments. The file is only written when it changes:
//! atomically, owned by the user, mode 0600; with `manage_dir` its directory
//! (`~/.ssh` by default) is created or set to mode 0700, owned by the user.
//! `follow` writes through a symlink instead of replacing it. A `key` that is
//! a URL is not supported yet (tend does not download on targets); the file
//! may be read with a lookup on the controller instead. `--diff` shows the
//! file's content before and after.
//!
//! # Examples
//!
//! ```yaml
//! - name: Let alice in with her laptop key
//!   authorized_key:
//!     user: alice
//!     key: "{{ lookup('file', 'keys/alice.pub') }}"
//!
//! - name: Only the deploy keys, restricted to the CI network
//!   authorized_key:
//!     user: deploy
//!     exclusive: true
//!     key_options: 'from="10.0.0.0/8",no-agent-forwarding'
//!     key: |
//!       ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc ci-1
//!       ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIXyz ci-2
//!
//! - name: A key in a central directory
//!   authorized_key:
//!     user: bob
//!     path: /etc/ssh/authorized_keys/bob
//!     manage_dir: false
//!     key: "{{ bob_key }}"
//!
//! - name: Revoke an old key
//!   authorized_key:
//!     user: alice
//!     state: absent
//!     key: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0ld alice@old"
//! ```
//!
//! # Return values
//!
//! - `user` (string): the `user` argument.
//! - `key` (string): the `key` argument.
//! - `keyfile` (string): the file that was checked (and written).
//! - `path` (string): the `path` argument (null when not given).
//! - `state` (string): the `state` argument; with `path`, `file` when the file exists afterwards (Ansible adds its attributes), else `absent`.
//! - `uid` (integer): the file's owner's UID, when `path` is given and the file exists.
//! - `gid` (integer): the file's group's GID, when `path` is given and the file exists.
//! - `owner` (string): the file's owner's name, when `path` is given and the file exists.
//! - `group` (string): the file's group's name, when `path` is given and the file exists.
//! - `mode` (string): the file's permissions (`0600`), when `path` is given and the file exists.
//! - `size` (integer): the file's size in bytes, when `path` is given and the file exists.
//! - `exclusive` (boolean): the `exclusive` argument.
//! - `key_options` (string): the `key_options` argument (null when not given).
//! - `comment` (string): the `comment` argument (null when not given).
//! - `manage_dir` (boolean): the `manage_dir` argument.
//! - `follow` (boolean): the `follow` argument.
//! - `validate_certs` (boolean): the `validate_certs` argument.

use crate::account;
use crate::args::{ArgsError, de, is_templated};
use crate::fileops::{
    self, AtomicWrite, CurAttrs, Fetch, Probe, ProbeOutput, Source, StatOpts, dirname,
};
use crate::group::{State, present};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

fn yes() -> bool {
    true
}

/// Arguments of `authorized_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The user whose `authorized_keys` file is managed.
    #[serde(deserialize_with = "de::string")]
    pub user: String,
    /// One or more SSH public keys, one a line (a URL is not supported yet).
    #[serde(deserialize_with = "de::string")]
    pub key: String,
    /// The file (default `~USER/.ssh/authorized_keys`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub path: Option<String>,
    /// Create the file's directory, or set it to mode 0700 owned by the user, when writing.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub manage_dir: bool,
    /// Whether the keys should be in the file (`present`) or not (`absent`).
    #[serde(default = "present")]
    pub state: State,
    /// Options put before the given keys (`no-pty,from="10.0.0.1"`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub key_options: Option<String>,
    /// Remove every key (and line) that is not one of the given keys.
    #[serde(default, deserialize_with = "de::bool")]
    pub exclusive: bool,
    /// Only for a URL `key`; accepted and unused (URLs are not supported yet).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub validate_certs: bool,
    /// The comment the given keys get (default: the comment in `key`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment: Option<String>,
    /// Write through a symlink at the file's path instead of replacing it.
    #[serde(default, deserialize_with = "de::bool")]
    pub follow: bool,
}

/// The `authorized_key` module.
pub struct AuthorizedKey;

fn is_url(key: &str) -> bool {
    key.starts_with("http")
}

#[async_trait]
impl TypedModule for AuthorizedKey {
    type Args = Args;
    const NAME: &'static str = "authorized_key";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        if is_url(&a.key) && !is_templated(&a.key) {
            return Err(ArgsError::field(
                "key",
                "authorized_key: a `key` that is a URL is not supported yet (tend does not \
                 download on targets); read the key on the controller, e.g. with lookup('file', ...)",
            ));
        }
        Ok(())
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

/// Key options, in order (a name may repeat, e.g. `permitopen`).
pub type Options = Vec<(String, Option<String>)>;

/// One line of an `authorized_keys` file, as Ansible reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A public key.
    Key {
        /// The base64 blob: the key's identity.
        blob: String,
        /// `ssh-ed25519`...
        kind: String,
        /// The options before the type.
        options: Options,
        /// Everything after the blob, joined by single spaces.
        comment: String,
    },
    /// A comment, blank or unreadable line, kept as it is.
    Other(String),
}

/// Options as Ansible compares them: each name's values in order; the
/// order of the names does not matter.
fn option_map(options: &Options) -> std::collections::BTreeMap<&str, Vec<Option<&str>>> {
    let mut map: std::collections::BTreeMap<&str, Vec<Option<&str>>> = Default::default();
    for (k, v) in options {
        map.entry(k.as_str()).or_default().push(v.as_deref());
    }
    map
}

/// Whether two lines are the same entry for Ansible (blob, type, options, comment).
fn same_entry(a: &Line, b: &Line) -> bool {
    match (a, b) {
        (
            Line::Key {
                blob,
                kind,
                options,
                comment,
            },
            Line::Key {
                blob: blob2,
                kind: kind2,
                options: options2,
                comment: comment2,
            },
        ) => {
            blob == blob2
                && kind == kind2
                && comment == comment2
                && option_map(options) == option_map(options2)
        }
        _ => a == b,
    }
}

impl Line {
    /// The identity under which Ansible files the line: the blob, or the raw line.
    fn id(&self) -> &str {
        match self {
            Line::Key { blob, .. } => blob,
            Line::Other(raw) => raw,
        }
    }

    /// The line as written back.
    fn render(&self) -> String {
        match self {
            Line::Other(raw) => raw.clone(),
            Line::Key {
                blob,
                kind,
                options,
                comment,
            } => {
                let opts = if options.is_empty() {
                    String::new()
                } else {
                    let parts: Vec<String> = options
                        .iter()
                        .map(|(k, v)| match v {
                            Some(v) => format!("{k}={v}"),
                            None => k.clone(),
                        })
                        .collect();
                    format!("{} ", parts.join(","))
                };
                format!("{opts}{kind} {blob} {comment}\n")
            }
        }
    }
}

/// Key types Ansible recognises.
const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
];

/// Splits options on the commas outside quotes (Ansible's `parseoptions`).
pub fn parse_options(text: &str) -> Options {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            // A quote opens a quoted part only when it is closed later.
            None if (c == '"' || c == '\'') && text[i + 1..].contains(c) => {
                quote = Some(c);
                cur.push(c);
            }
            None if c == ',' => parts.push(std::mem::take(&mut cur)),
            None => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p, None),
        })
        .collect()
}

/// Reads one line (or one given key) as Ansible's `parsekey`; `None` when it
/// holds no key of a known type.
pub fn parse_key(raw: &str) -> Option<Line> {
    let raw_key = raw.replace("\\#", "#");
    let parts: Vec<&str> = raw_key.split_whitespace().collect();
    if parts.first() == Some(&"#") {
        return Some(Line::Other(raw.to_string()));
    }
    let ti = parts.iter().position(|p| KEY_TYPES.contains(p))?;
    let blob = parts.get(ti + 1)?;
    Some(Line::Key {
        blob: blob.to_string(),
        kind: parts[ti].to_string(),
        options: parse_options(&parts[..ti].join(" ")),
        comment: parts.get(ti + 2..).unwrap_or_default().join(" "),
    })
}

/// The lines of a file under their identities, in file order; a repeated
/// identity keeps its first place and its last content and rank.
fn parse_file(content: &str) -> Vec<(Line, usize)> {
    let mut out: Vec<(Line, usize)> = Vec::new();
    for (rank, line) in content.split_inclusive('\n').enumerate() {
        let parsed = parse_key(line).unwrap_or_else(|| Line::Other(line.to_string()));
        match out.iter_mut().find(|(l, _)| l.id() == parsed.id()) {
            Some(slot) => *slot = (parsed, rank),
            None => out.push((parsed, rank)),
        }
    }
    out
}

/// The file's new content, or `None` when it stays as it is. Errors are
/// Ansible's messages.
pub fn edit(existing: &str, a: &Args) -> Result<Option<String>, String> {
    let mut keys = parse_file(existing);
    let max_rank = keys.len();
    let mut to_exist: Vec<String> = Vec::new();
    let mut write = false;
    let wanted = a
        .key
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    for (rank, new) in wanted.enumerate() {
        let mut parsed = match parse_key(new) {
            Some(k @ Line::Key { .. }) => k,
            _ => return Err(format!("invalid key specified: {new}")),
        };
        if let Line::Key {
            options, comment, ..
        } = &mut parsed
        {
            if let Some(o) = &a.key_options {
                *options = parse_options(o);
            }
            if let Some(c) = &a.comment {
                *comment = c.clone();
            }
        }
        let id = parsed.id().to_string();
        let pos = keys.iter().position(|(l, _)| l.id() == id);
        let matched = match pos {
            Some(i) => a.state == State::Absent || same_entry(&keys[i].0, &parsed),
            None => false,
        };
        match a.state {
            State::Present => {
                to_exist.push(id.clone());
                if let Some(i) = pos.filter(|_| !matched) {
                    keys.remove(i);
                }
                if !matched {
                    keys.push((parsed, max_rank + rank));
                    write = true;
                }
            }
            State::Absent => {
                if let Some(i) = pos {
                    keys.remove(i);
                    write = true;
                }
            }
        }
    }
    if a.state == State::Present && a.exclusive {
        let before = keys.len();
        keys.retain(|(l, _)| to_exist.iter().any(|id| id == l.id()));
        write |= keys.len() != before;
    }
    if !write {
        return Ok(None);
    }
    keys.sort_by_key(|(_, rank)| *rank);
    Ok(Some(keys.iter().map(|(l, _)| l.render()).collect()))
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysState {
    /// The user's uid and primary gid (`None`: no such user).
    pub ids: Option<(u32, u32)>,
    /// The file's path (after `follow`).
    pub keyfile: String,
    /// The file's current content (empty when missing).
    pub content: Vec<u8>,
    /// The file's attributes, when it exists.
    pub attrs: Option<CurAttrs>,
    /// The name of the user's primary group.
    pub group_name: Option<String>,
}

impl Converge for AuthorizedKey {
    type Args = Args;
    type State = KeysState;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        let mut p = Probe::new();
        p.set("n", &a.user)
            .raw(&account::lookup("passwd", "\"$n\"", "pw"))
            .raw("printf '@user\\0line=%s\\0group=%s\\0' \"$pw\" \"$(id -gn -- \"$n\" 2>/dev/null)\"")
            .set("kf", a.path.as_deref().unwrap_or(""))
            .raw("[ -n \"$kf\" ] || kf=$(printf '%s' \"$pw\" | cut -d: -f6)/.ssh/authorized_keys");
        if a.follow {
            p.raw("kf=$(readlink -m -- \"$kf\")");
        }
        p.path_word(
            "keys",
            "\"$kf\"",
            &StatOpts {
                follow: true,
                fetch: Fetch::Whole,
                ..StatOpts::default()
            },
        );
        p.finish()
    }

    fn parse(&self, _a: &Args, out: &ExecOutput) -> Result<KeysState, ModuleError> {
        let probe = ProbeOutput::parse(out)?;
        let user = probe.record("user")?;
        let line = user.get("line").unwrap_or_default();
        let ids = account::Entry::parse(&line).and_then(|e| {
            let uid = u32::try_from(e.num(2)?).ok()?;
            let gid = u32::try_from(e.num(3)?).ok()?;
            Some((uid, gid))
        });
        let info = probe.path("keys")?;
        Ok(KeysState {
            ids,
            keyfile: info.path.clone(),
            attrs: info.exists().then(|| CurAttrs::of(&info)),
            content: info.content.unwrap_or_default(),
            group_name: user.get("group").filter(|g| !g.is_empty()),
        })
    }

    fn plan(&self, a: &Args, st: &KeysState, ctx: &Context) -> Result<Plan, ModuleError> {
        // In check mode a given `path` needs no user, as Ansible's `keyfile`.
        let ids = st
            .ids
            .or((ctx.check_mode && a.path.is_some()).then_some((0, 0)));
        let Some((uid, gid)) = ids else {
            if ctx.check_mode && a.path.is_none() {
                return Err(ModuleError::failed(
                    "Either user must exist or you must provide full path to key file in check mode",
                ));
            }
            return Err(ModuleError::failed(format!(
                "Failed to lookup user {}: \"getpwnam(): name not found: '{}'\"",
                a.user, a.user
            )));
        };
        let before = String::from_utf8(st.content.clone())
            .map_err(|_| ModuleError::failed(format!("{} is not valid UTF-8 text", st.keyfile)))?;
        let values = [
            ("user", Value::from(a.user.as_str())),
            ("key", a.key.as_str().into()),
            ("keyfile", st.keyfile.as_str().into()),
            ("path", a.path.clone().into()),
            ("state", a.state.as_str().into()),
            ("exclusive", a.exclusive.into()),
            ("key_options", a.key_options.clone().into()),
            ("comment", a.comment.clone().into()),
            ("manage_dir", a.manage_dir.into()),
            ("follow", a.follow.into()),
            ("validate_certs", a.validate_certs.into()),
        ];
        let after = edit(&before, a).map_err(ModuleError::failed)?;
        // Ansible adds the file's attributes to a result with a `path`.
        let written = CurAttrs {
            mode: 0o600,
            uid,
            gid,
            owner: Some(a.user.clone()),
            group: st.group_name.clone(),
            is_dir: false,
        };
        let file_attrs = match &after {
            Some(after) => Some((&written, after.len())),
            None => st.attrs.as_ref().map(|at| (at, before.len())),
        };
        let mut path_values = serde_json::Map::new();
        if a.path.is_some() {
            match file_attrs {
                Some((at, size)) => at.file_values(size as u64, &mut path_values),
                None => {
                    path_values.insert("state".into(), "absent".into());
                }
            }
        }
        let mut plan = match after {
            None => Plan::noop(),
            Some(after) => {
                let dir = dirname(&st.keyfile);
                let mut script = String::new();
                if a.manage_dir {
                    let ssh_dir = match &a.path {
                        None => dir.clone(),
                        Some(p) => dirname(p),
                    };
                    script.push_str(&format!(
                        "d={}\n[ -d \"$d\" ] || mkdir -m 700 -- \"$d\" || exit 1\n\
                         chown -- {uid}:{gid} \"$d\" && chmod 700 \"$d\" || exit 1\n",
                        quote(&ssh_dir)
                    ));
                }
                if !dir.is_empty() {
                    script.push_str(&format!(
                        "[ -d {d} ] || mkdir -p -- {d} || exit 1\n",
                        d = quote(&dir)
                    ));
                }
                let write = AtomicWrite {
                    dest: st.keyfile.clone(),
                    source: Source::Bytes(after.clone().into_bytes()),
                    mode: 0o600,
                    uid: Some(uid),
                    gid: Some(gid),
                    ..AtomicWrite::default()
                }
                .exec()?;
                let exec = Exec::with_stdin(script + &write.script, write.stdin);
                let action = if st.content.is_empty() {
                    Action::Create
                } else {
                    Action::Update
                };
                Plan::change(action, vec![exec]).with_diff(Diff::content(
                    &st.keyfile,
                    before,
                    after,
                ))
            }
        };
        for (k, v) in values {
            plan = plan.with(k, v);
        }
        plan.values.extend(path_values);
        Ok(plan)
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, _plan: &mut Plan) -> Result<(), ModuleError> {
        fileops::written(out).map(|_| ())
    }
}

#[cfg(test)]
mod tests;
