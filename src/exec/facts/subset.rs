//! `gather_subset` and `filter`: which of the gathered facts a play's
//! fact gathering or a `setup` task returns.
//!
//! tend gathers every fact in one command; the subsets are a selection
//! afterwards. Ansible's `setup` module resolves `gather_subset` to a set
//! of *collectors*: each has a name (`hardware`, `network`, `platform`...)
//! and fact ids it also answers to (`mounts` selects `hardware`); `all` is
//! every name and id, `min` the minimal collectors, `!x` removes `x` (and,
//! for a collector name, its fact ids) unless it was asked for by name, and
//! the minimal set is always there unless `!min` removes it. The collectors
//! a chosen one requires come with it (`network` needs `distribution` and
//! `platform`). [`COLLECTORS`] lists Ansible's Linux collectors as
//! ansible-core 2.19 defines them, and [`FACT_KEYS`] which collector yields
//! each fact tend gathers; an interface's own fact (`eth0`) is `network`'s.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use tend_modules::find::fnmatch;

use crate::vars::Vars;

/// One of Ansible's fact collectors (on Linux).
struct Collector {
    /// Its name: a `gather_subset` value.
    name: &'static str,
    /// The fact ids that select it too.
    ids: &'static [&'static str],
    /// The collectors it needs (gathered with it).
    requires: &'static [&'static str],
}

/// Ansible's collectors on a Linux target.
const COLLECTORS: &[Collector] = &[
    Collector {
        name: "apparmor",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "caps",
        ids: &["system_capabilities", "system_capabilities_enforced"],
        requires: &[],
    },
    Collector {
        name: "chroot",
        ids: &["is_chroot"],
        requires: &[],
    },
    Collector {
        name: "cmdline",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "date_time",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "distribution",
        ids: &[
            "distribution_version",
            "distribution_release",
            "distribution_major_version",
            "os_family",
        ],
        requires: &[],
    },
    Collector {
        name: "dns",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "env",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "facter",
        ids: &["facter"],
        requires: &[],
    },
    Collector {
        name: "fibre_channel_wwn",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "fips",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "hardware",
        ids: &[
            "devices",
            "mounts",
            "processor",
            "processor_cores",
            "processor_count",
        ],
        requires: &["platform"],
    },
    Collector {
        name: "iscsi",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "loadavg",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "local",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "lsb",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "network",
        ids: &[
            "interfaces",
            "default_ipv4",
            "default_ipv6",
            "all_ipv4_addresses",
            "all_ipv6_addresses",
        ],
        requires: &["distribution", "platform"],
    },
    Collector {
        name: "nvme",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "ohai",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "pkg_mgr",
        ids: &[],
        requires: &["distribution"],
    },
    Collector {
        name: "platform",
        ids: &[
            "system",
            "kernel",
            "kernel_version",
            "machine",
            "python_version",
            "architecture",
            "machine_id",
        ],
        requires: &[],
    },
    Collector {
        name: "python",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "selinux",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "service_mgr",
        ids: &[],
        requires: &["distribution", "platform"],
    },
    Collector {
        name: "ssh_pub_keys",
        ids: &[
            "ssh_host_pub_keys",
            "ssh_host_key_dsa_public",
            "ssh_host_key_rsa_public",
            "ssh_host_key_ecdsa_public",
            "ssh_host_key_ed25519_public",
        ],
        requires: &[],
    },
    Collector {
        name: "systemd",
        ids: &[],
        requires: &[],
    },
    Collector {
        name: "user",
        ids: &[
            "user_id",
            "user_uid",
            "user_gid",
            "user_gecos",
            "user_dir",
            "user_shell",
            "real_user_id",
            "effective_user_id",
            "effective_group_ids",
        ],
        requires: &[],
    },
    Collector {
        name: "virtual",
        ids: &[
            "virtualization_type",
            "virtualization_role",
            "virtualization_tech_guest",
            "virtualization_tech_host",
        ],
        requires: &[],
    },
];

/// The collectors `setup` always runs (its `min`), unless `!min` says not.
const MINIMAL: &[&str] = &[
    "apparmor",
    "caps",
    "cmdline",
    "date_time",
    "distribution",
    "dns",
    "env",
    "fips",
    "local",
    "lsb",
    "pkg_mgr",
    "platform",
    "python",
    "selinux",
    "service_mgr",
    "ssh_pub_keys",
    "user",
];

/// The collector that yields each fact tend gathers (keys as in
/// `ansible_facts`). `gather_subset` and `module_setup` are no collector's:
/// every gathering returns them.
const FACT_KEYS: &[(&str, &str)] = &[
    ("all_ipv4_addresses", "network"),
    ("all_ipv6_addresses", "network"),
    ("ansible_local", "local"),
    ("apparmor", "apparmor"),
    ("architecture", "platform"),
    ("bios_date", "hardware"),
    ("bios_vendor", "hardware"),
    ("bios_version", "hardware"),
    ("board_asset_tag", "hardware"),
    ("board_name", "hardware"),
    ("board_serial", "hardware"),
    ("board_vendor", "hardware"),
    ("board_version", "hardware"),
    ("chassis_asset_tag", "hardware"),
    ("chassis_serial", "hardware"),
    ("chassis_vendor", "hardware"),
    ("chassis_version", "hardware"),
    ("cmdline", "cmdline"),
    ("date_time", "date_time"),
    ("default_ipv4", "network"),
    ("default_ipv6", "network"),
    ("device_links", "hardware"),
    ("devices", "hardware"),
    ("distribution", "distribution"),
    ("distribution_file_parsed", "distribution"),
    ("distribution_file_path", "distribution"),
    ("distribution_file_variety", "distribution"),
    ("distribution_major_version", "distribution"),
    ("distribution_minor_version", "distribution"),
    ("distribution_release", "distribution"),
    ("distribution_version", "distribution"),
    ("dns", "dns"),
    ("domain", "platform"),
    ("effective_group_id", "user"),
    ("effective_user_id", "user"),
    ("env", "env"),
    ("fibre_channel_wwn", "fibre_channel_wwn"),
    ("fips", "fips"),
    ("flags", "hardware"),
    ("form_factor", "hardware"),
    ("fqdn", "platform"),
    ("hostname", "platform"),
    ("hostnqn", "nvme"),
    ("interfaces", "network"),
    ("is_chroot", "chroot"),
    ("iscsi_iqn", "iscsi"),
    ("kernel", "platform"),
    ("kernel_version", "platform"),
    ("loadavg", "loadavg"),
    ("locally_reachable_ips", "network"),
    ("lsb", "lsb"),
    ("lvm", "hardware"),
    ("machine", "platform"),
    ("machine_id", "platform"),
    ("memfree_mb", "hardware"),
    ("memory_mb", "hardware"),
    ("memtotal_mb", "hardware"),
    ("mounts", "hardware"),
    ("nodename", "platform"),
    ("os_family", "distribution"),
    ("pkg_mgr", "pkg_mgr"),
    ("proc_cmdline", "cmdline"),
    ("processor", "hardware"),
    ("processor_cores", "hardware"),
    ("processor_count", "hardware"),
    ("processor_nproc", "hardware"),
    ("processor_threads_per_core", "hardware"),
    ("processor_vcpus", "hardware"),
    ("product_name", "hardware"),
    ("product_serial", "hardware"),
    ("product_uuid", "hardware"),
    ("product_version", "hardware"),
    ("python", "python"),
    ("python_version", "platform"),
    ("real_group_id", "user"),
    ("real_user_id", "user"),
    ("selinux", "selinux"),
    ("selinux_python_present", "selinux"),
    ("service_mgr", "service_mgr"),
    ("ssh_host_key_dsa_public", "ssh_pub_keys"),
    ("ssh_host_key_dsa_public_keytype", "ssh_pub_keys"),
    ("ssh_host_key_ecdsa_public", "ssh_pub_keys"),
    ("ssh_host_key_ecdsa_public_keytype", "ssh_pub_keys"),
    ("ssh_host_key_ed25519_public", "ssh_pub_keys"),
    ("ssh_host_key_ed25519_public_keytype", "ssh_pub_keys"),
    ("ssh_host_key_rsa_public", "ssh_pub_keys"),
    ("ssh_host_key_rsa_public_keytype", "ssh_pub_keys"),
    ("swapfree_mb", "hardware"),
    ("swaptotal_mb", "hardware"),
    ("system", "platform"),
    ("system_capabilities", "caps"),
    ("system_capabilities_enforced", "caps"),
    ("system_vendor", "hardware"),
    ("systemd", "systemd"),
    ("uptime_seconds", "hardware"),
    ("user_dir", "user"),
    ("user_gecos", "user"),
    ("user_gid", "user"),
    ("user_id", "user"),
    ("user_shell", "user"),
    ("user_uid", "user"),
    ("userspace_architecture", "platform"),
    ("userspace_bits", "platform"),
    ("virtualization_role", "virtual"),
    ("virtualization_tech_guest", "virtual"),
    ("virtualization_tech_host", "virtual"),
    ("virtualization_type", "virtual"),
];

/// The facts every gathering returns, whatever the subset.
const META_KEYS: &[&str] = &["gather_subset", "module_setup"];

/// Every value `gather_subset` accepts besides `all` and `min`: the
/// collectors' names and fact ids, sorted.
fn valid_subsets() -> BTreeSet<&'static str> {
    COLLECTORS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.ids.iter().copied()))
        .collect()
}

/// The collectors a `gather_subset` selects, with those they require, as
/// `setup` resolves it. An unknown subset to add is an error with
/// Ansible's message; an unknown one to exclude is ignored.
pub fn collectors(gather_subset: &[String]) -> Result<BTreeSet<&'static str>, String> {
    let valid = valid_subsets();
    let minimal: BTreeSet<&str> = MINIMAL.iter().copied().collect();
    let all = if gather_subset.is_empty() {
        &["all".to_string()][..]
    } else {
        gather_subset
    };
    let mut added: BTreeSet<&str> = BTreeSet::new();
    let mut excluded: BTreeSet<&str> = BTreeSet::new();
    let mut explicit: BTreeSet<&str> = BTreeSet::new();
    added.extend(&minimal);
    for subset in all {
        match subset.strip_prefix('!') {
            Some("min") => excluded.extend(&minimal),
            Some("all") => excluded.extend(valid.difference(&minimal)),
            Some(name) => {
                if let Some(c) = COLLECTORS.iter().find(|c| c.name == name) {
                    excluded.extend(c.ids);
                }
                excluded.extend(valid.get(name));
            }
            None if subset == "min" => added.extend(&minimal),
            None if subset == "all" => added.extend(&valid),
            None => match valid.get(subset.as_str()) {
                Some(name) => {
                    explicit.insert(name);
                    added.insert(name);
                }
                None => {
                    return Err(format!(
                        "Bad subset '{subset}' given to Ansible. gather_subset options allowed: all, {}",
                        valid.iter().copied().collect::<Vec<_>>().join(", ")
                    ));
                }
            },
        }
    }
    let names = added
        .into_iter()
        .filter(|n| !excluded.contains(n) || explicit.contains(n));
    // A name is a collector's or one of its fact ids.
    let mut chosen: BTreeSet<&'static str> = names
        .filter_map(|n| {
            COLLECTORS
                .iter()
                .find(|c| c.name == n || c.ids.contains(&n))
                .map(|c| c.name)
        })
        .collect();
    loop {
        let needed: Vec<&'static str> = chosen
            .iter()
            .filter_map(|n| COLLECTORS.iter().find(|c| c.name == *n))
            .flat_map(|c| c.requires.iter().copied())
            .filter(|r| !chosen.contains(r))
            .collect();
        if needed.is_empty() {
            return Ok(chosen);
        }
        chosen.extend(needed);
    }
}

/// The collector that yields the fact `key` (as in `ansible_facts`):
/// [`FACT_KEYS`], else `network` for an interface's own fact (named in
/// `interfaces`, `-` written `_` as Ansible's fact names have it).
fn collector_of(key: &str, interfaces: &[&str]) -> Option<&'static str> {
    if let Some((_, c)) = FACT_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(c);
    }
    interfaces
        .iter()
        .any(|i| i.replace('-', "_") == key)
        .then_some("network")
}

/// Keeps the facts of the chosen collectors (and the facts about the
/// gathering itself); a fact no collector is known for goes too.
pub fn select(facts: Vars, chosen: &BTreeSet<&str>) -> Vars {
    let interfaces: Vec<String> = match facts.get("interfaces") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let interfaces: Vec<&str> = interfaces.iter().map(String::as_str).collect();
    facts
        .into_iter()
        .filter(|(k, _)| {
            META_KEYS.contains(&k.as_str())
                || collector_of(k, &interfaces).is_some_and(|c| chosen.contains(c))
        })
        .collect()
}

/// A fact's name as `setup` returns it: `ansible_` before every fact's
/// name but those about the gathering itself (and `ansible_local`, which
/// has it already).
pub fn module_name(key: &str) -> String {
    if META_KEYS.contains(&key) || key.starts_with("ansible_") || key.starts_with("_ansible_") {
        key.to_string()
    } else {
        format!("ansible_{key}")
    }
}

/// `setup`'s `filter`: the facts (named as `setup` returns them) whose
/// name matches one of the shell patterns; a pattern not starting with
/// `ansible_` (nor `facter`, `ohai`) also matches with `ansible_` before
/// it. No pattern, or `*` alone, keeps everything.
pub fn filter(facts: Map<String, Value>, patterns: &[String]) -> Map<String, Value> {
    if patterns.is_empty() || (patterns.len() == 1 && patterns[0] == "*") {
        return facts;
    }
    facts
        .into_iter()
        .filter(|(name, _)| {
            patterns.iter().any(|p| {
                p.is_empty()
                    || fnmatch(name, p)
                    || (!p.starts_with("ansible_")
                        && !p.starts_with("facter")
                        && !p.starts_with("ohai")
                        && fnmatch(name, &format!("ansible_{p}")))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(subset: &[&str]) -> Vec<&'static str> {
        let subset: Vec<String> = subset.iter().map(|s| s.to_string()).collect();
        collectors(&subset).unwrap().into_iter().collect()
    }

    fn every_collector() -> Vec<&'static str> {
        let mut all: Vec<&str> = COLLECTORS.iter().map(|c| c.name).collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn all_and_nothing_select_every_collector() {
        assert_eq!(names(&["all"]), every_collector());
        assert_eq!(names(&[]), every_collector());
    }

    #[test]
    fn not_all_leaves_the_minimal_collectors() {
        assert_eq!(names(&["!all"]), MINIMAL.to_vec());
        assert_eq!(names(&["min"]), MINIMAL.to_vec());
    }

    #[test]
    fn a_named_subset_comes_with_what_it_requires() {
        let mut want = MINIMAL.to_vec();
        want.push("network");
        want.sort_unstable();
        assert_eq!(names(&["!all", "network"]), want);
        // `!min` drops the minimal set, but network still needs these two.
        assert_eq!(
            names(&["network", "!min"]),
            ["distribution", "network", "platform"]
        );
        assert_eq!(names(&["hardware", "!min"]), ["hardware", "platform"]);
        assert!(names(&["!all", "!min"]).is_empty());
    }

    #[test]
    fn exclusions_take_from_what_was_added() {
        // Only `min` is there unless `all` is asked for: `!x` alone leaves it.
        assert_eq!(names(&["!hardware"]), MINIMAL.to_vec());
        assert_eq!(names(&["!nonsense"]), MINIMAL.to_vec());
        // Excluding a collector excludes its fact ids too.
        let got = names(&["all", "!hardware"]);
        assert!(!got.contains(&"hardware"));
        assert_eq!(got.len(), COLLECTORS.len() - 1);
        // A fact id alone leaves its collector in (it is still named).
        assert!(names(&["all", "!mounts"]).contains(&"hardware"));
        // Asked for by name, it stays despite an exclusion.
        assert!(names(&["!all", "!hardware", "hardware"]).contains(&"hardware"));
        // A fact id selects its collector.
        assert!(names(&["!all", "mounts"]).contains(&"hardware"));
    }

    #[test]
    fn an_unknown_subset_is_ansibles_error() {
        let err = collectors(&["bogus".to_string()]).unwrap_err();
        assert!(
            err.starts_with(
                "Bad subset 'bogus' given to Ansible. gather_subset options allowed: all, \
                 all_ipv4_addresses, all_ipv6_addresses, apparmor, architecture, caps,"
            ),
            "{err}"
        );
        assert!(err.ends_with("virtualization_tech_host, virtualization_type"));
    }

    #[test]
    fn every_table_entry_names_a_collector() {
        for (key, c) in FACT_KEYS {
            assert!(COLLECTORS.iter().any(|x| x.name == *c), "{key}: {c}");
        }
        for (k, c) in COLLECTORS
            .iter()
            .flat_map(|c| c.requires.iter().map(move |r| (c.name, *r)))
        {
            assert!(COLLECTORS.iter().any(|x| x.name == c), "{k} requires {c}");
        }
        for m in MINIMAL {
            assert!(COLLECTORS.iter().any(|x| x.name == *m), "{m}");
        }
    }

    #[test]
    fn every_fact_gathered_here_belongs_to_a_collector() {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(super::super::gather_script())
            .output()
            .unwrap();
        let facts = super::super::parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
        let interfaces: Vec<&str> = facts["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for key in facts.keys() {
            if META_KEYS.contains(&key.as_str()) || key.starts_with('_') {
                continue;
            }
            assert!(
                collector_of(key, &interfaces).is_some(),
                "fact `{key}` belongs to no collector"
            );
        }
    }

    #[test]
    fn select_keeps_the_chosen_collectors_facts() {
        let facts: Vars = [
            ("hostname", json!("h")),
            ("mounts", json!([])),
            ("interfaces", json!(["lo", "br-x"])),
            ("lo", json!({})),
            ("br_x", json!({})),
            ("gather_subset", json!(["x"])),
            ("module_setup", json!(true)),
            ("ansible_local", json!({})),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let chosen = collectors(&["!all".into(), "!min".into(), "network".into()]).unwrap();
        let kept: Vec<String> = select(facts.clone(), &chosen).keys().cloned().collect();
        let mut kept = kept;
        kept.sort();
        assert_eq!(
            kept,
            [
                "br_x",
                "gather_subset",
                "hostname",
                "interfaces",
                "lo",
                "module_setup"
            ]
        );
        let chosen = collectors(&["!all".into(), "!min".into(), "local".into()]).unwrap();
        let mut kept: Vec<String> = select(facts, &chosen).keys().cloned().collect();
        kept.sort();
        assert_eq!(kept, ["ansible_local", "gather_subset", "module_setup"]);
    }

    #[test]
    fn module_names_carry_the_prefix() {
        assert_eq!(module_name("hostname"), "ansible_hostname");
        assert_eq!(module_name("ansible_local"), "ansible_local");
        assert_eq!(module_name("gather_subset"), "gather_subset");
        assert_eq!(module_name("module_setup"), "module_setup");
    }

    #[test]
    fn filter_matches_as_setup_does() {
        let facts: Map<String, Value> = [
            "ansible_distribution",
            "ansible_kernel",
            "ansible_kernel_version",
            "ansible_memtotal_mb",
            "ansible_local",
            "gather_subset",
            "module_setup",
        ]
        .iter()
        .map(|k| (k.to_string(), json!(1)))
        .collect();
        let keys = |p: &[&str]| -> Vec<String> {
            let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
            filter(facts.clone(), &p).keys().cloned().collect()
        };
        assert_eq!(keys(&[]).len(), 7);
        assert_eq!(keys(&["*"]).len(), 7);
        assert_eq!(
            keys(&["ansible_distribution", "kernel*", "gather_subset"]),
            [
                "ansible_distribution",
                "ansible_kernel",
                "ansible_kernel_version",
                "gather_subset"
            ]
        );
        assert_eq!(keys(&["ansible_*_mb"]), ["ansible_memtotal_mb"]);
        assert_eq!(keys(&["local"]), ["ansible_local"]);
        // An `ansible_` pattern gets no second prefix.
        assert!(keys(&["ansible_setup"]).is_empty());
        assert_eq!(keys(&["module_setu?"]), ["module_setup"]);
    }
}
