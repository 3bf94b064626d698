//! CPU, memory, mounts, DMI and virtualization facts.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::raw::Raw;
use super::system::Platform;
use crate::vars::Vars;

/// `processor`, `processor_count`, `processor_cores`,
/// `processor_threads_per_core`, `processor_vcpus`, `processor_nproc`, with
/// Ansible's /proc/cpuinfo arithmetic.
pub(super) fn cpu(raw: &Raw<'_>, platform: &Platform, facts: &mut Vars) {
    // `flags`: the first processor's flags line (x86).
    if let Some(flags) = raw
        .first("cpuflags")
        .and_then(|l| l.split_once(':'))
        .map(|(_, f)| f.split_whitespace().map(Value::from).collect::<Vec<_>>())
    {
        facts.insert("flags".into(), Value::Array(flags));
    }
    let mut processor = Vec::new();
    let (mut i, mut vendor_ids, mut model_names, mut processors) = (0_i64, 0_i64, 0_i64, 0_i64);
    // Insertion-ordered maps: physical id → cores per socket, core id → siblings.
    let mut sockets: Vec<(String, i64)> = Vec::new();
    let mut cores: Vec<(String, i64)> = Vec::new();
    let (mut physid, mut coreid) = (String::from("0"), String::from("0"));
    let set = |map: &mut Vec<(String, i64)>, key: &str, value: i64| match map
        .iter_mut()
        .find(|(k, _)| k == key)
    {
        Some(entry) => entry.1 = value,
        None => map.push((key.to_owned(), value)),
    };
    for line in raw.file("/proc/cpuinfo") {
        let Some((key, value)) = line.text.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processor.push(json!(value));
                match key {
                    "model name" => model_names += 1,
                    "processor" => processors += 1,
                    "vendor_id" => vendor_ids += 1,
                    _ => {}
                }
                i += 1;
            }
            "physical id" => {
                physid = value.to_owned();
                if !sockets.iter().any(|(k, _)| *k == physid) {
                    sockets.push((physid.clone(), 1));
                }
            }
            "core id" => {
                coreid = value.to_owned();
                if !cores.iter().any(|(k, _)| *k == coreid) {
                    cores.push((coreid.clone(), 1));
                }
            }
            "cpu cores" => set(&mut sockets, &physid, value.parse().unwrap_or(1)),
            "siblings" => set(&mut cores, &coreid, value.parse().unwrap_or(1)),
            _ => {}
        }
    }
    if vendor_ids > 0 && vendor_ids == model_names {
        i = vendor_ids;
    }
    if ["armv", "aarch", "ppc"]
        .iter()
        .any(|p| platform.architecture.starts_with(p))
    {
        i = processors;
    }
    let count = if sockets.is_empty() {
        i
    } else {
        sockets.len() as i64
    };
    let per_socket = sockets.first().map_or(1, |(_, c)| (*c).max(1));
    let threads = cores
        .first()
        .map_or(1, |(_, siblings)| (siblings / per_socket).max(1));
    let vcpus = threads * count * per_socket;
    let nproc = raw
        .file("/proc/self/status")
        .iter()
        .find_map(|l| l.text.strip_prefix("Cpus_allowed_list:"))
        .and_then(|list| count_cpu_list(list.trim()))
        .unwrap_or(vcpus);

    facts.insert("processor".into(), Value::Array(processor));
    facts.insert("processor_count".into(), json!(count));
    facts.insert("processor_cores".into(), json!(per_socket));
    facts.insert("processor_threads_per_core".into(), json!(threads));
    facts.insert("processor_vcpus".into(), json!(vcpus));
    facts.insert("processor_nproc".into(), json!(nproc));
}

/// Counts the CPUs in a list like `0-3,8,10-11`.
fn count_cpu_list(list: &str) -> Option<i64> {
    let mut n = 0;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<i64>().ok()? - a.parse::<i64>().ok()? + 1,
            None => part.parse::<i64>().map(|_| 1).ok()?,
        };
    }
    (n > 0).then_some(n)
}

/// `memtotal_mb`, `memfree_mb`, `swaptotal_mb`, `swapfree_mb`, `memory_mb`.
pub(super) fn memory(raw: &Raw<'_>, facts: &mut Vars) {
    let kb: HashMap<&str, i64> = raw
        .file("/proc/meminfo")
        .iter()
        .filter_map(|l| {
            let (key, rest) = l.text.split_once(':')?;
            Some((key.trim(), rest.split_whitespace().next()?.parse().ok()?))
        })
        .collect();
    if kb.is_empty() {
        return;
    }
    let mb = |k: &str| kb.get(k).copied().unwrap_or(0) / 1024;
    let (total, free, buffers, cached) =
        (mb("MemTotal"), mb("MemFree"), mb("Buffers"), mb("Cached"));
    let (swap_total, swap_free, swap_cached) = (mb("SwapTotal"), mb("SwapFree"), mb("SwapCached"));
    facts.insert("memtotal_mb".into(), json!(total));
    facts.insert("memfree_mb".into(), json!(free));
    facts.insert("swaptotal_mb".into(), json!(swap_total));
    facts.insert("swapfree_mb".into(), json!(swap_free));
    let nocache_free = free + buffers + cached;
    facts.insert(
        "memory_mb".into(),
        json!({
            "real": {"total": total, "used": total - free, "free": free},
            "nocache": {"free": nocache_free, "used": total - nocache_free},
            "swap": {"total": swap_total, "free": swap_free, "used": swap_total - swap_free, "cached": swap_cached},
        }),
    );
}

/// `mounts`: the device-backed and network entries of /proc/mounts (as
/// Ansible filters them), with sizes from `stat -f`.
pub(super) fn mounts(raw: &Raw<'_>, facts: &mut Vars) {
    // "%S %s %b %f %a %c %d %n": frsize bsize blocks bfree bavail files ffree name
    let statfs: HashMap<&str, Vec<i64>> = raw
        .section("statfs")
        .iter()
        .filter_map(|l| {
            let mut parts = l.text.splitn(8, ' ');
            let nums: Option<Vec<i64>> = parts.by_ref().take(7).map(|n| n.parse().ok()).collect();
            Some((parts.next()?, nums?))
        })
        .collect();
    let mut mounts = Vec::new();
    for line in raw.file("/proc/mounts") {
        let fields: Vec<String> = line.text.split_whitespace().map(unescape_octal).collect();
        if fields.len() < 4 {
            continue;
        }
        let (device, mount, fstype, options) = (&fields[0], &fields[1], &fields[2], &fields[3]);
        if (!device.starts_with(['/', '\\']) && !device.contains(":/")) || fstype == "none" {
            continue;
        }
        let int = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let mut entry = serde_json::Map::new();
        entry.insert("mount".into(), json!(mount));
        entry.insert("device".into(), json!(device));
        entry.insert("fstype".into(), json!(fstype));
        entry.insert("options".into(), json!(options));
        entry.insert("dump".into(), json!(int(4)));
        entry.insert("passno".into(), json!(int(5)));
        if let Some(&[frsize, bsize, blocks, _bfree, bavail, files, ffree]) =
            statfs.get(mount.as_str()).map(Vec::as_slice)
        {
            entry.insert("size_total".into(), json!(frsize * blocks));
            entry.insert("size_available".into(), json!(frsize * bavail));
            entry.insert("block_size".into(), json!(bsize));
            entry.insert("block_total".into(), json!(blocks));
            entry.insert("block_available".into(), json!(bavail));
            entry.insert("block_used".into(), json!(blocks - bavail));
            entry.insert("inode_total".into(), json!(files));
            entry.insert("inode_available".into(), json!(ffree));
            entry.insert("inode_used".into(), json!(files - ffree));
        }
        entry.insert("uuid".into(), json!("N/A"));
        mounts.push(Value::Object(entry));
    }
    facts.insert("mounts".into(), Value::Array(mounts));
}

/// Decodes the `\040`-style octal escapes of /proc/mounts fields.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = bytes[i + 1..i + 4]
                .iter()
                .fold(0_u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Ansible's chassis type names, indexed by the SMBIOS chassis type number.
const FORM_FACTORS: &[&str] = &[
    "Unknown",
    "Other",
    "Unknown",
    "Desktop",
    "Low Profile Desktop",
    "Pizza Box",
    "Mini Tower",
    "Tower",
    "Portable",
    "Laptop",
    "Notebook",
    "Hand Held",
    "Docking Station",
    "All In One",
    "Sub Notebook",
    "Space-saving",
    "Lunch Box",
    "Main Server Chassis",
    "Expansion Chassis",
    "Sub Chassis",
    "Bus Expansion Chassis",
    "Peripheral Chassis",
    "RAID Chassis",
    "Rack Mount Chassis",
    "Sealed-case PC",
    "Multi-system",
    "CompactPCI",
    "AdvancedTCA",
    "Blade",
    "Blade Enclosure",
    "Tablet",
    "Convertible",
    "Detachable",
    "IoT Gateway",
    "Embedded PC",
    "Mini PC",
    "Stick PC",
];

/// DMI facts (`system_vendor`, `product_name`, `bios_version`, ...); `"NA"`
/// when unreadable (the serials and UUID need root).
pub(super) fn dmi(raw: &Raw<'_>, facts: &mut Vars) {
    let dmi = |file: &str| {
        raw.file_first(&format!("/sys/class/dmi/id/{file}"))
            .unwrap_or("NA")
    };
    for (fact, file) in [
        ("bios_date", "bios_date"),
        ("bios_vendor", "bios_vendor"),
        ("bios_version", "bios_version"),
        ("board_asset_tag", "board_asset_tag"),
        ("board_name", "board_name"),
        ("board_serial", "board_serial"),
        ("board_vendor", "board_vendor"),
        ("board_version", "board_version"),
        ("chassis_asset_tag", "chassis_asset_tag"),
        ("chassis_serial", "chassis_serial"),
        ("chassis_vendor", "chassis_vendor"),
        ("chassis_version", "chassis_version"),
        ("product_name", "product_name"),
        ("product_serial", "product_serial"),
        ("product_uuid", "product_uuid"),
        ("product_version", "product_version"),
        ("system_vendor", "sys_vendor"),
    ] {
        facts.insert(fact.into(), json!(dmi(file)));
    }
    let form_factor = dmi("chassis_type")
        .parse::<usize>()
        .ok()
        .and_then(|n| FORM_FACTORS.get(n))
        .unwrap_or(&"NA");
    facts.insert("form_factor".into(), json!(form_factor));
}

/// `virtualization_type`, `virtualization_role`,
/// `virtualization_tech_guest`, `virtualization_tech_host`: a best-effort
/// subset of Ansible's Linux probes (containers first, then hypervisors).
pub(super) fn virtualization(raw: &Raw<'_>, facts: &mut Vars) {
    let mut found: Option<(String, &str)> = None;
    let mut guest: Vec<String> = Vec::new();
    let mut host: Vec<String> = Vec::new();
    let mut note = |kind: &str, role: &'static str, found: &mut Option<(String, &str)>| {
        let list = if role == "host" {
            &mut host
        } else {
            &mut guest
        };
        if !list.iter().any(|k| k == kind) {
            list.push(kind.to_owned());
        }
        if found.is_none() {
            *found = Some((kind.to_owned(), role));
        }
    };

    for line in raw.file("/proc/1/cgroup") {
        let t = line.text;
        if t.contains("/docker/") || t.contains("/ecs/") {
            note("docker", "guest", &mut found);
        } else if t.contains("/lxc/") || t.contains("/machine.slice/machine-lxc") {
            note("lxc", "guest", &mut found);
        } else if t.contains("/system.slice/containerd.service") {
            note("containerd", "guest", &mut found);
        }
    }
    if raw.exists("/proc/vz") && !raw.exists("/proc/lve") {
        note(
            "openvz",
            if raw.exists("/proc/bc") {
                "host"
            } else {
                "guest"
            },
            &mut found,
        );
    }
    if let Some(container) = raw.file_first("/run/systemd/container") {
        note(container, "guest", &mut found);
    }
    if raw.exists("/.dockerenv") {
        note("docker", "guest", &mut found);
    }
    if raw.exists("/run/.containerenv") {
        note("podman", "guest", &mut found);
    }

    let product = raw
        .file_first("/sys/class/dmi/id/product_name")
        .unwrap_or_default();
    let sys_vendor = raw
        .file_first("/sys/class/dmi/id/sys_vendor")
        .unwrap_or_default();
    let bios_vendor = raw
        .file_first("/sys/class/dmi/id/bios_vendor")
        .unwrap_or_default();
    if ["KVM", "KVM Server", "Bochs", "AHV"].contains(&product) {
        note("kvm", "guest", &mut found);
    } else if product.starts_with("OpenStack") {
        note("openstack", "guest", &mut found);
    } else if product.starts_with("VMware") {
        note("VMware", "guest", &mut found);
    } else if product == "VirtualBox" || bios_vendor == "innotek GmbH" {
        note("virtualbox", "guest", &mut found);
    } else if product.starts_with("RHEV Hypervisor") || product.starts_with("RHV") {
        note("RHEV", "guest", &mut found);
    } else if product == "HVM domU" || bios_vendor == "Xen" {
        note("xen", "guest", &mut found);
    } else if product.starts_with("Parallels") || sys_vendor.starts_with("Parallels") {
        note("parallels", "guest", &mut found);
    } else if sys_vendor == "Microsoft Corporation" && product == "Virtual Machine" {
        note("VirtualPC", "guest", &mut found);
    } else if [
        "QEMU",
        "Amazon EC2",
        "Google",
        "DigitalOcean",
        "Hetzner",
        "Scaleway",
        "Nutanix",
    ]
    .contains(&sys_vendor)
        || product == "Google Compute Engine"
    {
        note("kvm", "guest", &mut found);
    } else if sys_vendor == "oVirt" {
        note("oVirt", "guest", &mut found);
    } else if sys_vendor == "OpenStack Foundation" {
        note("openstack", "guest", &mut found);
    }
    if raw.exists("/proc/xen") {
        let dom0 = raw
            .file("/proc/xen/capabilities")
            .iter()
            .any(|l| l.text.contains("control_d"));
        note("xen", if dom0 { "host" } else { "guest" }, &mut found);
    } else if raw.file_first("/sys/hypervisor/type") == Some("xen") {
        note("xen", "guest", &mut found);
    }
    if raw
        .file("/proc/cpuinfo")
        .iter()
        .any(|l| l.text.starts_with("model name") && l.text.contains("QEMU"))
    {
        note("kvm", "guest", &mut found);
    }

    let (kind, role) = found.unwrap_or_else(|| ("NA".to_owned(), "NA"));
    facts.insert("virtualization_type".into(), json!(kind));
    facts.insert("virtualization_role".into(), json!(role));
    facts.insert("virtualization_tech_guest".into(), json!(guest));
    facts.insert("virtualization_tech_host".into(), json!(host));
}
