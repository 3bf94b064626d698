//! `distribution*`, `os_family` and `lsb`, following Ansible's rules
//! (os-release via the `distro` library, plus the distribution files it
//! prefers: `/etc/debian_version`, `/etc/alpine-release`,
//! `/etc/redhat-release`).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::raw::{Raw, shell_assignments};
use crate::vars::Vars;

/// os-release `ID` → Ansible's `distribution` name, where it is not simply
/// the capitalized ID.
const NAMES: &[(&str, &str)] = &[
    ("debian", "Debian"),
    ("raspbian", "Debian"),
    ("ubuntu", "Ubuntu"),
    ("linuxmint", "Linux Mint"),
    ("pop", "Pop!_OS"),
    ("neon", "KDE neon"),
    ("rhel", "RedHat"),
    ("centos", "CentOS"),
    ("almalinux", "AlmaLinux"),
    ("ol", "OracleLinux"),
    ("amzn", "Amazon"),
    ("cloudlinux", "CloudLinux"),
    ("euleros", "EulerOS"),
    ("openeuler", "openEuler"),
    ("arch", "Archlinux"),
    ("endeavouros", "EndeavourOS"),
    ("opensuse", "openSUSE"),
    ("opensuse-leap", "openSUSE Leap"),
    ("opensuse-tumbleweed", "openSUSE Tumbleweed"),
    ("opensuse-microos", "openSUSE MicroOS"),
    ("sles", "SLES"),
    ("sles_sap", "SLES_SAP"),
    ("sled", "SLED"),
    ("sl-micro", "SL-Micro"),
    ("clear-linux-os", "ClearLinux"),
    ("nixos", "NixOS"),
    ("tencentos", "TencentOS"),
];

/// Ansible's `OS_FAMILY_MAP`: family → member distributions.
const FAMILIES: &[(&str, &[&str])] = &[
    (
        "RedHat",
        &[
            "RedHat",
            "Fedora",
            "CentOS",
            "Scientific",
            "SLC",
            "Ascendos",
            "CloudLinux",
            "PSBM",
            "OracleLinux",
            "OVS",
            "OEL",
            "Amazon",
            "Virtuozzo",
            "XenServer",
            "Alibaba",
            "EulerOS",
            "openEuler",
            "AlmaLinux",
            "Rocky",
            "TencentOS",
            "EuroLinux",
            "Kylin Linux Advanced Server",
            "MIRACLE",
        ],
    ),
    (
        "Debian",
        &[
            "Debian",
            "Ubuntu",
            "Raspbian",
            "Neon",
            "KDE neon",
            "Linux Mint",
            "SteamOS",
            "Devuan",
            "Kali",
            "Cumulus Linux",
            "Pop!_OS",
            "Parrot",
            "Pardus GNU/Linux",
            "Uos",
            "Deepin",
            "OSMC",
        ],
    ),
    (
        "Suse",
        &[
            "SuSE",
            "SLES",
            "SLED",
            "openSUSE",
            "openSUSE Tumbleweed",
            "SLES_SAP",
            "SUSE_LINUX",
            "openSUSE Leap",
            "ALP-Dolomite",
            "SL-Micro",
            "openSUSE MicroOS",
        ],
    ),
    ("Archlinux", &["Archlinux", "Antergos", "Manjaro"]),
    ("Mandrake", &["Mandrake", "Mandriva"]),
    (
        "Solaris",
        &["Solaris", "Nexenta", "OmniOS", "OpenIndiana", "SmartOS"],
    ),
    ("Slackware", &["Slackware"]),
    ("Altlinux", &["Altlinux"]),
    ("SMGL", &["SMGL"]),
    ("Gentoo", &["Gentoo", "Funtoo"]),
    ("Alpine", &["Alpine"]),
    ("AIX", &["AIX"]),
    ("HP-UX", &["HPUX"]),
    ("Darwin", &["MacOSX"]),
    ("FreeBSD", &["FreeBSD", "TrueOS"]),
    (
        "ClearLinux",
        &["Clear Linux OS", "Clear Linux Mix", "ClearLinux"],
    ),
    (
        "DragonFly",
        &[
            "DragonflyBSD",
            "DragonFlyBSD",
            "Gentoo/DragonflyBSD",
            "DragonFly",
        ],
    ),
    ("NetBSD", &["NetBSD"]),
];

/// Inserts `distribution`, `distribution_version`,
/// `distribution_major_version`, `distribution_release`, `os_family` and,
/// when LSB data exists, `lsb`.
pub(super) fn distribution(raw: &Raw<'_>, facts: &mut Vars) {
    let os_release = {
        let etc = raw.file("/etc/os-release");
        shell_assignments(if etc.is_empty() {
            raw.file("/usr/lib/os-release")
        } else {
            etc
        })
    };
    let osr = |k: &str| {
        os_release
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let id = osr("ID").unwrap_or_default().to_ascii_lowercase();
    let debian_version = raw.file_first("/etc/debian_version");
    let alpine_release = raw.file_first("/etc/alpine-release");
    let redhat_release = raw.file_first("/etc/redhat-release");

    let mut name = if id.is_empty() {
        fallback_name(raw, debian_version, alpine_release, redhat_release)
    } else {
        NAMES
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| capitalize(&id), |(_, n)| (*n).to_owned())
    };
    if name.is_empty() {
        name = "OtherLinux".to_owned();
    }

    let mut version = osr("VERSION_ID").map(str::to_owned);
    if name == "Debian"
        && let Some(v) = debian_version.filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    {
        // Ansible takes the more precise /etc/debian_version ("12.5").
        version = Some(v.to_owned());
    }
    if name == "CentOS"
        && let Some(v) = redhat_release.and_then(release_number)
    {
        // "CentOS Linux release 7.9.2009 (Core)" → "7.9".
        version = Some(v.split('.').take(2).collect::<Vec<_>>().join("."));
    }
    if name == "Alpine"
        && let Some(v) = alpine_release
    {
        version = Some(v.to_owned());
    }
    if version.is_none() && id.is_empty() {
        version = redhat_release.and_then(release_number).map(str::to_owned);
    }
    let version = version.unwrap_or_else(|| "NA".to_owned());
    let major = version
        .split('.')
        .next()
        .filter(|m| !m.is_empty())
        .unwrap_or("NA")
        .to_owned();

    let release = osr("VERSION_CODENAME")
        .or_else(|| osr("UBUNTU_CODENAME"))
        .map(str::to_owned)
        .or_else(|| osr("VERSION").and_then(parenthesized))
        .or_else(|| redhat_release.and_then(parenthesized))
        .unwrap_or_else(|| "NA".to_owned());

    let os_family = FAMILIES
        .iter()
        .find(|(_, members)| members.contains(&name.as_str()))
        .map_or_else(|| name.clone(), |(family, _)| (*family).to_owned());

    facts.insert("distribution".into(), json!(name));
    facts.insert("distribution_version".into(), json!(version));
    facts.insert("distribution_major_version".into(), json!(major));
    if os_family == "Debian" && name == "Debian" {
        // Ansible's Debian rule: the second number of /etc/debian_version.
        static MINOR: std::sync::LazyLock<Option<regex::Regex>> =
            std::sync::LazyLock::new(|| regex::Regex::new(r"(\d+)\.(\d+)").ok());
        if let Some(minor) = raw.file("/etc/debian_version").iter().find_map(|l| {
            MINOR
                .as_ref()
                .and_then(|re| re.captures(l.text.trim()))
                .and_then(|c| c.get(2))
                .map(|m| m.as_str())
        }) {
            facts.insert("distribution_minor_version".into(), json!(minor));
        }
    }
    // Which file told the distribution, for the families whose files
    // Ansible reads the same way.
    let file = match os_family.as_str() {
        "Debian" if !os_release.is_empty() => Some(("/etc/os-release", "Debian")),
        "Alpine" if alpine_release.is_some() => Some(("/etc/alpine-release", "Alpine")),
        _ => None,
    };
    if let Some((path, variety)) = file {
        facts.insert("distribution_file_path".into(), json!(path));
        facts.insert("distribution_file_variety".into(), json!(variety));
        facts.insert("distribution_file_parsed".into(), json!(true));
    }
    facts.insert("distribution_release".into(), json!(release));
    facts.insert("os_family".into(), json!(os_family));

    if let Some(lsb) = lsb(raw, &os_release) {
        facts.insert("lsb".into(), Value::Object(lsb));
    }
}

/// The name when there is no os-release: from distribution files.
fn fallback_name(
    raw: &Raw<'_>,
    debian: Option<&str>,
    alpine: Option<&str>,
    redhat: Option<&str>,
) -> String {
    if debian.is_some() {
        "Debian".into()
    } else if alpine.is_some() {
        "Alpine".into()
    } else if let Some(rh) = redhat {
        let product = rh.split(" release").next().unwrap_or(rh);
        if product.starts_with("Red Hat") {
            "RedHat".into()
        } else if product.starts_with("CentOS") {
            "CentOS".into()
        } else {
            product
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        }
    } else if raw.exists("/etc/arch-release") {
        "Archlinux".into()
    } else {
        String::new()
    }
}

/// The version number after `release` in a redhat-release line.
fn release_number(line: &str) -> Option<&str> {
    let after = line.split_once(" release ")?.1;
    after
        .split_whitespace()
        .next()
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// The text inside the last `( ... )` of `s`, if any.
fn parenthesized(s: &str) -> Option<String> {
    let open = s.rfind('(')?;
    let close = open + s[open..].find(')')?;
    let inner = s[open + 1..close].trim();
    (!inner.is_empty()).then(|| inner.to_owned())
}

/// Python's `str.capitalize`: first character upper, the rest lower.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |f| {
        f.to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect()
    })
}

/// `lsb` from `/etc/lsb-release`, or, when only `lsb_release` is installed,
/// the same data derived from os-release (what modern `lsb_release` prints),
/// to avoid running it.
fn lsb(raw: &Raw<'_>, os_release: &HashMap<&str, String>) -> Option<Map<String, Value>> {
    let file = shell_assignments(raw.file("/etc/lsb-release"));
    let (id, release, codename, description) = if file.contains_key("DISTRIB_ID") {
        let get = |k: &str| file.get(k).cloned();
        (
            get("DISTRIB_ID"),
            get("DISTRIB_RELEASE"),
            get("DISTRIB_CODENAME"),
            get("DISTRIB_DESCRIPTION"),
        )
    } else if raw.exists("cmd:lsb_release") && !os_release.is_empty() {
        let get = |k: &str| os_release.get(k).filter(|v| !v.is_empty()).cloned();
        let id = get("ID").map(|i| match i.as_str() {
            "rhel" => "RedHatEnterprise".to_owned(),
            other => capitalize(other),
        });
        (
            id,
            get("VERSION_ID"),
            get("VERSION_CODENAME"),
            get("PRETTY_NAME"),
        )
    } else {
        return None;
    };
    let mut lsb = Map::new();
    for (key, value) in [
        ("id", &id),
        ("release", &release),
        ("codename", &codename),
        ("description", &description),
    ] {
        if let Some(v) = value {
            lsb.insert(key.into(), json!(v.trim()));
        }
    }
    if let Some(r) = &release {
        lsb.insert(
            "major_release".into(),
            json!(r.split('.').next().unwrap_or(r)),
        );
    }
    Some(lsb)
}
