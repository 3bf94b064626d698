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

mod devices;
mod distro;
mod hardware;
mod local;
mod network;
mod raw;
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
