//! `local: true` of `user`: the libuser tools (`luseradd`, `lusermod`,
//! `luserdel`, `lchage`, `lgroupmod`) instead of the shadow tools, and the
//! account's existence read from `/etc/passwd` itself, as Ansible does on
//! hosts whose accounts also come from a directory (LDAP, SSSD).
//!
//! The tools are looked up on the target as Ansible's `get_bin_path` does
//! (`PATH`, then `/sbin`, `/usr/sbin`, `/usr/local/sbin`); a missing one
//! fails the task with Ansible's message, at the point Ansible looks it up.

use super::{Args, UserState};
use crate::account::{self, Entry};
use crate::module::ModuleError;

/// The file a local account is looked up in.
pub const PASSWD_FILE: &str = "/etc/passwd";

/// The libuser tools, in the order the probe reports them.
const TOOLS: [&str; 5] = ["luseradd", "lusermod", "luserdel", "lchage", "lgroupmod"];

/// What the probe found for `local: true`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalState {
    /// `/etc/passwd` exists.
    pub passwd_file: bool,
    /// The user has a line in it.
    pub in_passwd: bool,
    /// The libuser tools not found on the target.
    pub missing: Vec<String>,
    /// The directories searched, joined with `:` (for the message).
    pub bin_paths: String,
}

/// Whether the task asks for the libuser tools.
pub fn wanted(a: &Args) -> bool {
    a.local == Some(true)
}

/// The arguments Ansible refuses together with `local: true`, and its messages.
pub fn conflicts(a: &Args) -> Option<&'static str> {
    if !wanted(a) {
        return None;
    }
    [
        (a.umask.is_some(), "'umask' can not be used with 'local'"),
        (
            a.uid_min.is_some(),
            "'uid_min' can not be used with 'local'",
        ),
        (
            a.uid_max.is_some(),
            "'uid_max' can not be used with 'local'",
        ),
    ]
    .into_iter()
    .find_map(|(given, msg)| given.then_some(msg))
}

/// sh text of the probe's part for `local: true` (`$n` is the user name).
pub fn probe_script() -> String {
    let tools = TOOLS.join(" ");
    format!(
        "if [ -e {PASSWD_FILE} ]; then printf 'passwd_file=1\\n'; \
         awk -F: -v n=\"$n\" '$1==n{{print \"in_passwd=1\"; exit}}' {PASSWD_FILE}; fi\n\
         bp=$PATH\n\
         for d in /sbin /usr/sbin /usr/local/sbin; do case \":$bp:\" in *\":$d:\"*) ;; *) [ -e \"$d\" ] && bp=\"$bp:$d\" ;; esac; done\n\
         printf 'bin_paths=%s\\n' \"$bp\"\n\
         set -f\n\
         for t in {tools}; do f=; IFS=:; for d in $bp; do [ -n \"$d\" ] && [ -f \"$d/$t\" ] && [ -x \"$d/$t\" ] && {{ f=1; break; }}; done; unset IFS; \
         [ -n \"$f\" ] || printf 'missing=%s\\n' \"$t\"; done\n\
         set +f\n"
    )
}

/// Reads the probe's `key=value` lines for `local: true`.
pub fn parse(fields: &[(&str, &str)]) -> LocalState {
    LocalState {
        passwd_file: account::field(fields, "passwd_file") == Some("1"),
        in_passwd: account::field(fields, "in_passwd") == Some("1"),
        missing: fields
            .iter()
            .filter(|(k, _)| *k == "missing")
            .map(|(_, v)| v.to_string())
            .collect(),
        bin_paths: account::field(fields, "bin_paths")
            .unwrap_or_default()
            .to_string(),
    }
}

/// Fails as Ansible's `get_bin_path(tool, required=True)` for the first of
/// `tools` (in Ansible's lookup order) that the target lacks.
pub fn require(st: &UserState, tools: &[&str]) -> Result<(), ModuleError> {
    match tools
        .iter()
        .find(|t| st.local.missing.iter().any(|m| m == *t))
    {
        Some(tool) => Err(ModuleError::failed(format!(
            "Failed to find required executable \"{tool}\" in paths: {}",
            st.local.bin_paths
        ))),
        None => Ok(()),
    }
}

/// Fails as Ansible when `/etc/passwd` is missing.
pub fn require_passwd_file(st: &UserState) -> Result<(), ModuleError> {
    if st.local.passwd_file {
        Ok(())
    } else {
        Err(ModuleError::failed(format!(
            "'local: true' specified but unable to find local account file {PASSWD_FILE} to parse."
        )))
    }
}

/// `lchage -E DAYS NAME`: `-1` removes the expiry.
pub fn lchage_expire(a: &Args, day: Option<i64>) -> Vec<String> {
    vec![
        "lchage".into(),
        "-E".into(),
        day.unwrap_or(-1).to_string(),
        a.name.clone(),
    ]
}

/// `lgroupmod -M NAME GROUP` (add) or `-m` (remove) for each group.
pub fn lgroupmod(a: &Args, groups: &[String], add: bool) -> Vec<Vec<String>> {
    let flag = if add { "-M" } else { "-m" };
    groups
        .iter()
        .map(|g| vec!["lgroupmod".into(), flag.into(), a.name.clone(), g.clone()])
        .collect()
}

/// The groups `lgroupmod` adds and removes: `wanted` not yet joined, and
/// (unless `append`) `current` not wanted, each sorted.
pub fn membership_changes(
    current: &[String],
    wanted: &[String],
    append: bool,
) -> (Vec<String>, Vec<String>) {
    let mut add: Vec<String> = wanted
        .iter()
        .filter(|g| !current.contains(g))
        .cloned()
        .collect();
    let mut del: Vec<String> = if append {
        Vec::new()
    } else {
        current
            .iter()
            .filter(|g| !wanted.contains(g))
            .cloned()
            .collect()
    };
    add.sort();
    add.dedup();
    del.sort();
    del.dedup();
    (add, del)
}

/// The passwd entry of a local account: only when `/etc/passwd` lists it.
pub fn entry(st: &LocalState, found: Option<Entry>) -> Option<Entry> {
    found.filter(|_| st.in_passwd)
}
