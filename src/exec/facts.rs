//! Fact gathering: one POSIX sh script prints raw system data in a single run
//! (one SSH round trip) and [`parse`] turns its output into Ansible's fact
//! names, types and formats (`ansible_facts` keys, without the `ansible_`
//! prefix).
//!
//! # Wire format
//!
//! The script prints sections, each introduced by a marker line
//! `::tend-facts:: NAME` (preceded by an empty line so that a section whose
//! content lacks a final newline still ends cleanly). The first marker is
//! `begin VERSION`, the last `end`; anything before `begin` (a login banner,
//! `.bashrc` noise) and after `end` is ignored. Most sections hold a tool's
//! output verbatim; the `files` section holds `PATH:LINE` lines (one `grep`
//! over every interesting file, so a missing file costs nothing; the bulky
//! `flags`/`bugs` lines of /proc/cpuinfo are dropped); the environment is
//! hex-dumped with `od` from `/proc/$$/environ` so values may contain
//! newlines (plain `env` output is the fallback). Block devices add a few
//! sections of their own (`block`, `caps`, `lspci`, `sg_inq
//! NAME`; see `facts/devices.rs`). The script is `facts/gather.sh`,
//! embedded with `include_str!`.
//!
//! What a gathering returns (`gather_subset`, `filter`, `fact_path`: the
//! play's keywords and the `setup` task's arguments) is a [`Request`]: the
//! script reads `fact_path` from a variable set before it, and the subsets
//! and the filter pick from what it gathered ([`subset`]).

mod devices;
mod distro;
mod hardware;
mod local;
mod network;
mod raw;
pub mod subset;
mod system;
mod time;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::vars::Vars;
use raw::Raw;

/// Version number printed in the script's `begin` marker; [`parse`] rejects
/// any other version.
const FORMAT_VERSION: &str = "1";

/// The POSIX sh script that prints every fact in one run (one SSH round trip).
///
/// It works under dash, busybox ash and bash with coreutils (or busybox) and
/// tolerates missing tools (no `ip`, no `/etc/os-release`, no `hostname -f`,
/// no `grep`): such probes print empty sections and the script still exits
/// normally. Standard error is discarded. Run it as `sh -c "$SCRIPT"`; it
/// reads no arguments and writes nothing on the target.
pub fn gather_script() -> &'static str {
    include_str!("facts/gather.sh")
}

/// What to gather: Ansible's `setup` arguments (the play's `gather_subset`,
/// `gather_timeout` and `fact_path` for its fact gathering).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `gather_subset`, as given (empty: `all`).
    pub gather_subset: Vec<String>,
    /// `gather_timeout`: seconds the whole gathering may take.
    pub gather_timeout: Option<u64>,
    /// `filter`: shell patterns on the returned facts' names.
    pub filter: Vec<String>,
    /// `fact_path`: the directory of local facts (default
    /// `/etc/ansible/facts.d`).
    pub fact_path: Option<String>,
}

impl Request {
    /// The command that gathers for this request: [`gather_script`], with
    /// `fact_path` (`~` and `$VAR` expanded on the target, as Ansible's
    /// `path` arguments are) set before it.
    pub fn script(&self) -> String {
        match self.fact_path.as_deref().filter(|p| !p.is_empty()) {
            None => gather_script().to_string(),
            Some(path) => format!("__tend_fact_path={}\n{}", path_word(path), gather_script()),
        }
    }

    /// The facts the request returns, named as `setup` returns them (each
    /// with `ansible_` before it but `gather_subset` and `module_setup`),
    /// from everything [`parse`] found: the subsets' facts, filtered, sorted
    /// by name; `gather_subset` is the subsets as asked. An unknown subset
    /// is Ansible's error.
    pub fn select(&self, all: Vars) -> Result<serde_json::Map<String, Value>, String> {
        let chosen = subset::collectors(&self.gather_subset)?;
        let mut facts = subset::select(all, &chosen);
        if self.fact_path.as_deref() == Some("") && facts.contains_key("ansible_local") {
            facts.insert("ansible_local".into(), serde_json::json!({}));
        }
        let asked = if self.gather_subset.is_empty() {
            vec!["all".to_string()]
        } else {
            self.gather_subset.clone()
        };
        facts.insert("gather_subset".into(), serde_json::json!(asked));
        let mut named: Vec<(String, Value)> = facts
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| (subset::module_name(&k), v))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(subset::filter(named.into_iter().collect(), &self.filter))
    }
}

/// `path` as the value of a shell assignment: a leading `~` is the
/// target's `$HOME`, and `$NAME`/`${NAME}` the target's variable (left as
/// written when unset, as Python's `expandvars` does); the rest is quoted.
/// (An assignment's value is neither split nor globbed.)
fn path_word(path: &str) -> String {
    if path == "~" || path.starts_with("~/") {
        return format!("${{HOME}}{}", vars_word(&path[1..]));
    }
    vars_word(path)
}

/// [`path_word`] without the `~`.
fn vars_word(text: &str) -> String {
    use tend_modules::sh::quote;
    let is_name = |n: &str| {
        n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut out = String::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix('$') {
            let (name, len) = match after.strip_prefix('{') {
                Some(braced) => braced.find('}').map_or(("", 0), |e| (&braced[..e], e + 3)),
                None => {
                    let n = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..n], n + 1)
                }
            };
            if is_name(name) {
                if !literal.is_empty() {
                    out.push_str(&quote(&literal));
                    literal.clear();
                }
                out.push_str(&format!("${{{name}-{}}}", quote(&rest[..len])));
                rest = &rest[len..];
                continue;
            }
        }
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() || out.is_empty() {
        out.push_str(&quote(&literal));
    }
    out
}

/// Parses the output of [`gather_script`] into the facts map.
///
/// Keys carry no `ansible_` prefix, exactly as in `ansible_facts` (e.g.
/// `hostname`, `distribution`, `date_time`); integers are JSON numbers where
/// Ansible has ints (`memtotal_mb`, `processor_vcpus`, `user_uid`, ...) and
/// strings elsewhere. Top-level keys are sorted.
///
/// Probes that found nothing yield Ansible's placeholder values (`"NA"`,
/// `{}`, `[]`) rather than errors; structural damage (no begin/end marker, a
/// `files` line without a path, a bad hex dump, a garbled `date` line) is a
/// [`FactsError`].
pub fn parse(stdout: &str) -> Result<Vars, FactsError> {
    let raw = Raw::parse(stdout)?;
    let mut facts = Vars::new();

    let platform = system::platform(&raw, &mut facts)?;
    distro::distribution(&raw, &mut facts);
    system::environment(&raw, &mut facts)?;
    system::user(&raw, &mut facts)?;
    time::date_time(&raw, &mut facts)?;
    system::misc(&raw, &mut facts);
    system::service_and_packages(&raw, &mut facts);
    hardware::cpu(&raw, &platform, &mut facts);
    hardware::memory(&raw, &mut facts);
    hardware::mounts(&raw, &mut facts);
    hardware::dmi(&raw, &mut facts);
    hardware::virtualization(&raw, &mut facts);
    devices::devices(&raw, &mut facts);
    devices::capabilities(&raw, &mut facts);
    system::chroot(&raw, &mut facts);
    system::python(&raw, &mut facts);
    network::network(&raw, &mut facts);
    system::identity(&raw, &mut facts);
    local::local_facts(&raw, &mut facts);
    // What Ansible's `setup` and `gather_facts` add about the run itself.
    facts.insert("module_setup".into(), Value::Bool(true));
    facts.insert("gather_subset".into(), serde_json::json!(["all"]));
    facts.insert("_ansible_facts_gathered".into(), Value::Bool(true));

    let mut entries: Vec<(String, Value)> = facts.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries.into_iter().collect())
}

/// Why the fact script's output could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// No `::tend-facts:: begin` marker: the script did not run, or its
    /// output was swallowed.
    #[error("fact output has no `::tend-facts:: begin` marker (did the fact script run?)")]
    MissingBegin,
    /// The output stops before the `end` marker (connection dropped, script
    /// killed).
    #[error("fact output is truncated: no `::tend-facts:: end` marker (last line {last_line})")]
    Truncated {
        /// Number of the last line received (1-based).
        last_line: usize,
    },
    /// The `begin` marker names a format version this parser does not know.
    #[error("fact output format version `{0}` is not supported (expected `{FORMAT_VERSION}`)")]
    UnsupportedVersion(String),
    /// A line of a section does not have the expected shape.
    #[error("malformed fact output at line {line} (section `{section}`): {reason}")]
    Malformed {
        /// Line number in the script's stdout (1-based).
        line: usize,
        /// The section (`uname`, `files`, `date`, ...) the line belongs to.
        section: String,
        /// What was wrong with it.
        reason: String,
    },
}
