//! The `known_hosts` module: add or remove a host's key in an SSH
//! `known_hosts` file.
//!
//! As Ansible's module: the file's entries for `name` are found as
//! `ssh-keygen -F` finds them (plain names and `*`/`?`/`!` patterns, case
//! insensitive, and hashed `|1|salt|hash` names), here in tend itself so that
//! the target needs no `ssh-keygen`. With `state: present` and a `key`, an
//! entry with exactly that key is left alone, one of the same key type is
//! replaced, otherwise the key is appended. With `state: absent` and a `key`
//! the matching entry is removed; without a `key` every entry of the host is
//! (as `ssh-keygen -R`, keeping the old file as `PATH.old`). `hash_host`
//! writes the name hashed (an already hashed entry with the same key is kept).
//! The file is replaced atomically, keeping its owner and mode (a new file
//! gets 0644 less the umask); `~` in `path` is the remote user's home. The
//! directory must exist. `--diff` shows the file before and after.
//!
//! # Examples
//!
//! ```yaml
//! - name: Trust the git server's host key
//!   known_hosts:
//!     name: git.example.com
//!     key: "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx"
//!
//! - name: System-wide, hashed
//!   known_hosts:
//!     path: /etc/ssh/ssh_known_hosts
//!     name: "[backup.example.com]:2222"
//!     key: "[backup.example.com]:2222 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ"
//!     hash_host: true
//!
//! - name: Forget a decommissioned host
//!   known_hosts:
//!     name: old.example.com
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `name` (string): the `name` argument.
//! - `key` (string): the `key` argument (null when not given).
//! - `path` (string): the file, `~` expanded.
//! - `hash_host` (boolean): the `hash_host` argument.
//! - `diff` (dictionary): the file's `before` and `after` content with their headers, always (as Ansible's module).
//! - `state` (string): `file` when the file exists afterwards (Ansible adds the file's attributes to a result with a `path`), else `absent`.
//! - `uid` (integer): the file's owner's UID, when the file exists afterwards.
//! - `gid` (integer): the file's group's GID, when the file exists afterwards.
//! - `owner` (string): the file's owner's name, when the file exists afterwards.
//! - `group` (string): the file's group's name, when the file exists afterwards.
//! - `mode` (string): the file's permissions (`0600`), when the file exists afterwards.
//! - `size` (integer): the file's size in bytes, when the file exists afterwards.

use crate::args::de;
use crate::fileops::{self, AtomicWrite, CurAttrs, Fetch, Probe, ProbeOutput, Source, StatOpts};
use crate::group::{State, present};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use sha1::{Digest, Sha1};

fn default_path() -> String {
    "~/.ssh/known_hosts".into()
}

/// Arguments of `known_hosts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The host to add or remove (one name, as `ssh-keygen -F` takes it; `[host]:port` for a port).
    #[serde(alias = "host", deserialize_with = "de::string")]
    pub name: String,
    /// The entry, as a `known_hosts` line (`host keytype base64key`); required for `present`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub key: Option<String>,
    /// The file to edit; its directory must exist.
    #[serde(default = "default_path", deserialize_with = "de::string")]
    pub path: String,
    /// Write the host name hashed.
    #[serde(default, deserialize_with = "de::bool")]
    pub hash_host: bool,
    /// Whether the entry should be in the file (`present`) or not (`absent`).
    #[serde(default = "present")]
    pub state: State,
}

/// The `known_hosts` module.
pub struct KnownHosts;

#[async_trait]
impl TypedModule for KnownHosts {
    type Args = Args;
    const NAME: &'static str = "known_hosts";

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        converge(self, &args, ctx, host).await
    }
}

/// HMAC-SHA1, as OpenSSH hashes known host names.
fn hmac_sha1(key: &[u8], msg: &[u8]) -> [u8; 20] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let mut inner = Sha1::new();
    inner.update(pad(0x36));
    inner.update(msg);
    let mut outer = Sha1::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// `|1|salt|hash` of `host` with this salt.
pub fn hashed_name(host: &str, salt: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "|1|{}|{}",
        b64.encode(salt),
        b64.encode(hmac_sha1(salt, host.as_bytes()))
    )
}

/// OpenSSH's `match_pattern`: `*` and `?` wildcards.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// Whether a `known_hosts` host field names `host` (as `ssh-keygen -F`).
pub fn host_matches(field: &str, host: &str) -> bool {
    if let Some(rest) = field.strip_prefix("|1|") {
        let b64 = base64::engine::general_purpose::STANDARD;
        let Some((salt, hash)) = rest.split_once('|') else {
            return false;
        };
        return match (b64.decode(salt), b64.decode(hash)) {
            (Ok(salt), Ok(hash)) => hmac_sha1(&salt, host.as_bytes())[..] == hash[..],
            _ => false,
        };
    }
    let host = host.to_ascii_lowercase();
    let mut matched = false;
    for pat in field.split(',') {
        let pat = pat.to_ascii_lowercase();
        if let Some(neg) = pat.strip_prefix('!') {
            if glob(neg.as_bytes(), host.as_bytes()) {
                return false;
            }
        } else if glob(pat.as_bytes(), host.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// A key line's parts, as Ansible's `normalize_known_hosts_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    marker: Option<String>,
    host: String,
    kind: String,
    key: String,
}

fn normalize(line: &str) -> Option<Entry> {
    let k: Vec<&str> = line.split_whitespace().collect();
    let (marker, rest) = match k.first() {
        Some(m) if m.starts_with('@') => (Some(m.to_string()), &k[1..]),
        _ => (None, &k[..]),
    };
    match rest {
        [host, kind, key, ..] => Some(Entry {
            marker,
            host: host.to_string(),
            kind: kind.to_string(),
            key: key.to_string(),
        }),
        _ => None,
    }
}

/// What the search found: Ansible's `(found, replace_or_add, found_line)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// The host has an entry.
    pub found: bool,
    /// The wanted key differs from the host's entries.
    pub replace_or_add: bool,
    /// The 1-based line of the entry of the same key (type).
    pub line: Option<usize>,
}

/// The 1-based numbers of the lines whose entry names `host`.
fn matching_lines(content: &str, host: &str) -> Vec<(usize, Entry)> {
    content
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') {
                return None;
            }
            let e = normalize(t)?;
            host_matches(&e.host, host).then_some((i + 1, e))
        })
        .collect()
}

/// Ansible's `search_for_host_key`, on the file's content.
pub fn search(content: Option<&str>, host: &str, key: Option<&str>) -> Found {
    let none = Found {
        found: false,
        replace_or_add: false,
        line: None,
    };
    let Some(content) = content else { return none };
    let lines = matching_lines(content, host);
    if lines.is_empty() {
        return none;
    }
    let Some(new) = key.and_then(normalize) else {
        return Found {
            found: true,
            replace_or_add: false,
            line: None,
        };
    };
    for (n, found) in lines {
        let same = |replace| Found {
            found: true,
            replace_or_add: replace,
            line: Some(n),
        };
        let marker = found.marker.as_deref().unwrap_or("");
        if marker.starts_with("@cert-authority") || marker.starts_with("@revoke") {
            if new == found {
                return same(false);
            }
            continue;
        }
        let mut new = new.clone();
        if new.host.starts_with("|1|") && found.host.starts_with("|1|") {
            new.host = found.host.clone();
        }
        if new == found {
            return same(false);
        }
        if new.kind == found.kind {
            return same(true);
        }
    }
    Found {
        found: true,
        replace_or_add: true,
        line: None,
    }
}

/// The key as written: hashed if asked, ending in a newline.
pub fn entry_line(a: &Args, host: &str, salt: &[u8]) -> Option<String> {
    let key = a.key.as_deref().filter(|k| !k.is_empty())?;
    let mut line = if a.hash_host {
        let mut parts: Vec<String> = key.split_whitespace().map(str::to_string).collect();
        let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
        if let Some(p) = parts.get_mut(i) {
            *p = hashed_name(host, salt);
        }
        parts.join(" ")
    } else {
        key.to_string()
    };
    if !line.ends_with('\n') {
        line.push('\n');
    }
    Some(line)
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsState {
    /// The file, `~` expanded.
    pub path: String,
    /// Its content, when it exists.
    pub content: Option<String>,
    /// Its attributes, when it exists.
    pub attrs: Option<CurAttrs>,
    /// The attributes a new file gets (the writer's, mode from the umask).
    pub new_attrs: CurAttrs,
    /// 20 random bytes for a hashed name.
    pub salt: Vec<u8>,
}

impl Converge for KnownHosts {
    type Args = Args;
    type State = HostsState;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        let mut p = Probe::new();
        p.set("p", &a.path)
            .raw("case $p in '~'|'~/'*) p=$HOME${p#\\~} ;; esac")
            .raw("printf '@salt\\0hex=%s\\0' \"$(od -An -tx1 -N20 /dev/urandom | tr -d ' \\n')\"")
            .path_word(
                "file",
                "\"$p\"",
                &StatOpts {
                    follow: true,
                    fetch: Fetch::Whole,
                    ..StatOpts::default()
                },
            );
        p.finish()
    }

    fn parse(&self, _a: &Args, out: &ExecOutput) -> Result<HostsState, ModuleError> {
        let probe = ProbeOutput::parse(out)?;
        let env = probe.env()?;
        let info = probe.path("file")?;
        let hex = probe.record("salt")?.get("hex").unwrap_or_default();
        let salt: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect();
        let content = match &info.content {
            Some(bytes) => Some(String::from_utf8(bytes.clone()).map_err(|_| {
                ModuleError::failed(format!("{} is not valid UTF-8 text", info.path))
            })?),
            None => None,
        };
        Ok(HostsState {
            path: info.path.clone(),
            attrs: info.exists().then(|| CurAttrs::of(&info)),
            content,
            new_attrs: env.new_attrs(false),
            salt,
        })
    }

    fn plan(&self, a: &Args, st: &HostsState, ctx: &Context) -> Result<Plan, ModuleError> {
        let mut plan = self.plan_run(a, st)?;
        // In check mode Ansible's module exits early with only `changed` and
        // `diff`, except for an absent key that is not there.
        let nothing_to_remove = a.state == State::Absent
            && a.key.as_deref().is_some_and(|k| !k.is_empty())
            && plan.apply.is_empty();
        if ctx.check_mode && !nothing_to_remove {
            plan.values.retain(|k, _| k == "diff");
        }
        Ok(plan)
    }

    fn applied(&self, _a: &Args, out: &ExecOutput, _plan: &mut Plan) -> Result<(), ModuleError> {
        fileops::written(out).map(|_| ())
    }
}

impl KnownHosts {
    /// The plan of a real run, with every value Ansible's module returns.
    fn plan_run(&self, a: &Args, st: &HostsState) -> Result<Plan, ModuleError> {
        let host = a.name.to_ascii_lowercase();
        let key = a.key.as_deref().filter(|k| !k.is_empty());
        if key.is_none() && a.state == State::Present {
            return Err(ModuleError::failed("No key specified when adding a host"));
        }
        if let Some(k) = key {
            if regex_comma(&host) {
                return Err(ModuleError::failed(
                    "Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file.",
                ));
            }
            if !a.hash_host && matching_lines(k, &host).is_empty() {
                return Err(ModuleError::failed(
                    "Host parameter does not match hashed host field in supplied key",
                ));
            }
        }
        let line = entry_line(a, &host, &st.salt);
        let found = search(st.content.as_deref(), &host, line.as_deref());
        let present = a.state == State::Present;
        let before = st.content.clone().unwrap_or_default();
        let mut plan = Plan::noop()
            .with("name", a.name.as_str())
            .with("key", a.key.clone())
            .with("path", st.path.as_str())
            .with("hash_host", a.hash_host)
            .with("state", a.state.as_str());
        let unchanged = (!present && found.line.is_none() && key.is_some())
            || !(found.replace_or_add || found.found != present);
        if unchanged {
            plan = plan.with("diff", diff_value(st, &before, &before));
            match &st.attrs {
                Some(attrs) => attrs.file_values(before.len() as u64, &mut plan.values),
                None => {
                    plan = plan.with("state", "absent");
                }
            }
            return Ok(plan);
        }
        // Without a key every entry of the host goes, as `ssh-keygen -R`.
        let remove_all = found.found && key.is_none() && !present;
        let drop: Vec<usize> = if remove_all {
            matching_lines(&before, &host)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        } else if found.replace_or_add || !present {
            found.line.into_iter().collect()
        } else {
            Vec::new()
        };
        let mut after: String = before
            .split_inclusive('\n')
            .enumerate()
            .filter(|(i, _)| !drop.contains(&(i + 1)))
            .map(|(_, l)| l)
            .collect();
        if present && let Some(l) = &line {
            after.push_str(l);
        }
        let attrs = st.attrs.as_ref().unwrap_or(&st.new_attrs);
        attrs.file_values(after.len() as u64, &mut plan.values);
        let (mode, keep) = (
            attrs.mode & 0o7777,
            st.attrs.as_ref().map(|a| (a.uid, a.gid)),
        );
        let write = AtomicWrite {
            dest: st.path.clone(),
            source: Source::Bytes(after.clone().into_bytes()),
            mode,
            keep_ids: keep,
            backup: remove_all.then(|| format!("{}.old", st.path)),
            ..AtomicWrite::default()
        }
        .exec()?;
        let action = match (st.content.is_some(), present) {
            (false, _) => Action::Create,
            (true, false) => Action::Delete,
            (true, true) => Action::Update,
        };
        // Ansible's `diff` (returned and shown) leaves out what `ssh-keygen
        // -R` removed.
        let shown = if remove_all { &before } else { &after };
        plan = plan.with("diff", diff_value(st, &before, shown));
        let mut diff = Diff::content(&st.path, before.clone(), after);
        if st.content.is_none() {
            diff.before_header = Some("/dev/null".into());
        }
        plan.action = action;
        plan.apply = vec![write];
        if !remove_all {
            plan.diff.push(diff);
        }
        Ok(plan)
    }
}

/// The `diff` Ansible's module always returns.
fn diff_value(st: &HostsState, before: &str, after: &str) -> serde_json::Value {
    let before_header = if st.content.is_some() {
        st.path.as_str()
    } else {
        "/dev/null"
    };
    serde_json::json!({
        "before_header": before_header,
        "after_header": st.path,
        "before": before,
        "after": after,
    })
}

/// Ansible's `\S+(\s+)?,(\s+)?` test for a list of names.
fn regex_comma(host: &str) -> bool {
    host.char_indices()
        .any(|(i, c)| c == ',' && host[..i].trim_end().chars().next_back().is_some())
}

#[cfg(test)]
mod tests;
