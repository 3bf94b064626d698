//! Block device facts (`devices`, `device_links`) from sysfs and the udev
//! links under /dev/disk, as Ansible's Linux hardware collector builds them,
//! keys in its order (the kernel's directory order for disks, partitions,
//! holders and link targets: a loop over `ansible_devices` visits the disks
//! as Ansible's does).
//!
//! The script's `block` section holds one `ls -fln` (GNU: directory order;
//! else `ls -ln`) of /sys/block/, /dev/disk/by-{id,uuid,label}/, the disks
//! with partitions and the holder directories with device-mapper holders,
//! then `has:PATH` lines (a disk's `device`, the `slaves` of device-mapper
//! devices); `lspci` holds the output of `lspci -D` and `sg_inq NAME` that
//! of `sg_inq /dev/NAME` where those are installed. The attribute files
//! come through the `files` section.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::raw::{Line, Raw};
use crate::template::filters::text::bytes_to_human;
use crate::vars::Vars;

/// The link kinds in Ansible's order, with their /dev/disk directories
/// (`masters` comes from sysfs).
const LINK_DIRS: [(&str, &str); 3] = [
    ("ids", "/dev/disk/by-id"),
    ("uuids", "/dev/disk/by-uuid"),
    ("labels", "/dev/disk/by-label"),
];

/// A listed directory's entries: (name, symlink target), in `ls`'s order.
type Entries<'a> = Vec<(&'a str, Option<&'a str>)>;

/// Splits `ls -l` output into directories (`DIR/:` headers): each
/// directory's links (`NAME -> TARGET`) and subdirectories, without `.`
/// and `..`. A directory listed again (the sorted run after a failed
/// unsorted one) replaces its first listing.
fn listing<'a>(lines: &[Line<'a>]) -> HashMap<&'a str, Entries<'a>> {
    let mut out: HashMap<&str, Entries<'a>> = HashMap::new();
    let mut dir = None;
    for line in lines {
        let text = line.text;
        if let Some(d) = text.strip_suffix(':').filter(|t| t.starts_with('/')) {
            let d = d.trim_end_matches('/');
            out.insert(d, Vec::new());
            dir = Some(d);
            continue;
        }
        let entry = if text.starts_with('l') {
            text.split_once(" -> ")
                .and_then(|(left, target)| Some((left.split_whitespace().last()?, Some(target))))
        } else if text.starts_with('d') {
            text.split_whitespace().last().map(|n| (n, None))
        } else {
            None
        };
        if let (Some(d), Some(entry)) = (dir, entry.filter(|(n, _)| *n != "." && *n != "..")) {
            out.entry(d).or_default().push(entry);
        }
    }
    out
}

/// The NAMEs of the files read at `DIR/NAME/SUFFIX` (one path component),
/// sorted.
fn names_between<'a>(raw: &Raw<'a>, dir: &str, suffix: &str) -> Vec<&'a str> {
    raw.file_paths(&format!("{dir}/"))
        .into_iter()
        .filter_map(|p| p.get(dir.len() + 1..)?.strip_suffix(suffix))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .collect()
}

/// The last path component of a link target.
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Link kind → device → names (sorted), devices in order of appearance.
type Links<'a> = IndexMap<&'static str, IndexMap<&'a str, Vec<&'a str>>>;

/// What every disk's facts draw on.
struct Block<'r, 'a> {
    raw: &'r Raw<'a>,
    /// The listed directories.
    ls: HashMap<&'a str, Entries<'a>>,
    /// `has:` paths: disks' `device`, device-mapper `slaves` entries.
    has: Vec<&'a str>,
    links: Links<'a>,
    /// Whether `ls` listed /sys/block (else the disks come from their
    /// files).
    listed: bool,
}

/// `device_links` and `devices`.
pub(super) fn devices(raw: &Raw<'_>, facts: &mut Vars) {
    let section = raw.section("block");
    let ls = listing(section);
    let has: Vec<&str> = section
        .iter()
        .filter_map(|l| l.text.strip_prefix("has:"))
        .collect();
    // The disks: /sys/block's entries, or without `ls` the disks whose
    // size was read.
    let listed = ls.contains_key("/sys/block");
    let disks: Entries<'_> = match ls.get("/sys/block") {
        Some(entries) => entries.clone(),
        None => names_between(raw, "/sys/block", "/size")
            .into_iter()
            .map(|n| (n, None))
            .collect(),
    };
    let links = links(&ls, &has, &disks);
    let block = Block {
        raw,
        ls,
        has,
        links,
        listed,
    };
    let devices: Map<String, Value> = disks
        .iter()
        .map(|(disk, target)| ((*disk).to_owned(), block.disk(disk, *target)))
        .collect();
    if listed {
        let device_links: Map<String, Value> = block
            .links
            .iter()
            .map(|(kind, by_target)| ((*kind).to_owned(), json!(by_target)))
            .collect();
        facts.insert("device_links".into(), Value::Object(device_links));
    }
    facts.insert("devices".into(), Value::Object(devices));
}

/// The udev links by kind and device (the target's last component), and
/// `masters`: a device → the device-mapper devices built on it (in the
/// order of the disks); each list sorted.
fn links<'a>(
    ls: &HashMap<&'a str, Entries<'a>>,
    has: &[&'a str],
    disks: &Entries<'a>,
) -> Links<'a> {
    let mut links: Links<'a> = IndexMap::new();
    for (kind, dir) in LINK_DIRS {
        let by_target = links.entry(kind).or_default();
        for (name, target) in ls.get(dir).into_iter().flatten() {
            if let Some(target) = target {
                by_target.entry(basename(target)).or_default().push(name);
            }
        }
    }
    let masters = links.entry("masters").or_default();
    for (disk, _) in disks {
        for path in has {
            let parts: Vec<&str> = path.split('/').collect();
            if let ["", "sys", "block", dm, "slaves", under] = parts[..]
                && dm == *disk
            {
                masters.entry(under).or_default().push(dm);
            }
        }
    }
    for by_target in links.values_mut() {
        for names in by_target.values_mut() {
            names.sort_unstable();
            names.dedup();
        }
    }
    links
}

impl<'a> Block<'_, 'a> {
    /// The entries of a listed directory.
    fn entries(&self, dir: &str) -> &[(&'a str, Option<&'a str>)] {
        self.ls.get(dir).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `links` of a device or partition: each kind, a list.
    fn links_of(&self, name: &str) -> Value {
        let map: Map<String, Value> = self
            .links
            .iter()
            .map(|(kind, by_target)| {
                let names = by_target.get(name).cloned().unwrap_or_default();
                ((*kind).to_owned(), json!(names))
            })
            .collect();
        Value::Object(map)
    }

    /// A device's device-mapper holders, by their names (their directory
    /// names where they have none).
    fn holders_of(&self, dev_dir: &str) -> Value {
        let dir = format!("{dev_dir}/holders");
        let names: Vec<&str> = match self.ls.get(dir.as_str()) {
            Some(entries) => entries.iter().map(|(n, _)| *n).collect(),
            None => names_between(self.raw, &dir, "/dm/name"),
        };
        let names: Vec<&str> = names
            .into_iter()
            .filter(|n| n.starts_with("dm-"))
            .map(|n| {
                self.raw
                    .file_first(&format!("{dir}/{n}/dm/name"))
                    .unwrap_or(n)
            })
            .collect();
        json!(names)
    }

    /// The PCI function the disk hangs off (the last one in its sysfs
    /// path), as `lspci -D` describes it; empty without.
    fn host(&self, target: Option<&str>) -> &'a str {
        let Some(id) = target
            .map(|t| format!("/sys/block/{t}"))
            .and_then(|path| pci_address(&path).map(str::to_owned))
        else {
            return "";
        };
        self.raw
            .section("lspci")
            .iter()
            .find_map(|l| {
                let rest = l.text.strip_prefix(id.as_str())?;
                let mut chars = rest.chars();
                chars.next().filter(|c| c.is_whitespace())?;
                Some(chars.as_str())
            })
            .unwrap_or("")
    }

    /// A disk's partitions: the directories with a `start`, in the listed
    /// order of the disk's directory where it was listed.
    fn partitions(&self, disk: &str, sysdir: &str) -> Map<String, Value> {
        let mut folders = names_between(self.raw, sysdir, "/start");
        if let Some(entries) = self.ls.get(sysdir) {
            let at = |f: &str| entries.iter().position(|(n, _)| *n == f);
            folders.sort_by_key(|f| at(f).unwrap_or(usize::MAX));
        }
        folders
            .into_iter()
            .filter_map(|folder| partition_name(disk, folder))
            .map(|part| (part.to_owned(), self.partition(sysdir, part)))
            .collect()
    }

    /// One disk's facts, keys in Ansible's order. `target`: its /sys/block
    /// link's.
    fn disk(&self, disk: &str, target: Option<&str>) -> Value {
        let sysdir = format!("/sys/block/{disk}");
        let attr = |name: &str| self.raw.file_first(&format!("{sysdir}/{name}"));
        let text = |name: &str| attr(name).map_or(Value::Null, |v| json!(v));
        let mut d = Map::new();
        // A disk reached through a /sys/block link counts as virtual, as
        // in Ansible; a real directory only without a `device`. (Without
        // `ls`, the links of any sysfs since Linux 2.6.25 are assumed.)
        let device = format!("{sysdir}/device");
        let virtual_ = !self.listed || target.is_some() || !self.has.contains(&device.as_str());
        d.insert("virtual".into(), json!(i64::from(virtual_)));
        d.insert("links".into(), self.links_of(disk));
        for key in ["vendor", "model", "sas_address", "sas_device_handle"] {
            d.insert(key.into(), text(&format!("device/{key}")));
        }
        if let Some(serial) = serial(self.raw, disk) {
            d.insert("serial".into(), json!(serial));
        }
        d.insert("removable".into(), text("removable"));
        let discard = if attr("queue/discard_max_hw_bytes") == Some("0") {
            json!("0")
        } else {
            text("queue/discard_granularity")
        };
        d.insert("support_discard".into(), discard);
        // The last by-id `wwn-` link to the disk.
        let wwn = self
            .entries("/dev/disk/by-id")
            .iter()
            .rev()
            .find_map(|(name, target)| {
                let wwn = name.strip_prefix("wwn-")?;
                (basename((*target)?) == disk).then_some(wwn)
            });
        if let Some(wwn) = wwn {
            d.insert("wwn".into(), json!(wwn));
        }
        let partitions = self.partitions(disk, &sysdir);
        d.insert("partitions".into(), Value::Object(partitions));
        d.insert("rotational".into(), text("queue/rotational"));
        d.insert(
            "scheduler_mode".into(),
            json!(attr("queue/scheduler").map_or("", scheduler_mode)),
        );
        // `size` counts 512-byte sectors whatever the sector size.
        let sectorsize = attr("queue/logical_block_size").or_else(|| attr("queue/hw_sector_size"));
        let bytes_per_sector = sectorsize.map_or(Some(512), |s| s.parse::<u64>().ok());
        let sectors = attr("size")
            .and_then(|s| s.parse::<u64>().ok())
            .zip(bytes_per_sector.filter(|&b| b > 0))
            .map_or(0, |(n, b)| n.saturating_mul(512) / b);
        d.insert(
            "sectorsize".into(),
            sectorsize.map_or(json!(512), |s| json!(s)),
        );
        d.insert("sectors".into(), json!(sectors));
        let bytes = sectors as f64 * bytes_per_sector.unwrap_or(0) as f64;
        d.insert("size".into(), json!(bytes_to_human(bytes, false, None)));
        d.insert("host".into(), json!(self.host(target)));
        d.insert("holders".into(), self.holders_of(&sysdir));
        Value::Object(d)
    }

    /// One partition's facts, keys in Ansible's order.
    fn partition(&self, sysdir: &str, part: &str) -> Value {
        let part_dir = format!("{sysdir}/{part}");
        let mut p = Map::new();
        p.insert("links".into(), self.links_of(part));
        let start = self.raw.file_first(&format!("{part_dir}/start"));
        p.insert("start".into(), start.map_or(json!(0), |s| json!(s)));
        // A partition has no `queue`: Ansible's default sector size.
        p.insert("sectorsize".into(), json!(512));
        let sectors = self
            .raw
            .file_first(&format!("{part_dir}/size"))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        p.insert("sectors".into(), json!(sectors));
        let bytes = sectors as f64 * 512.0;
        p.insert("size".into(), json!(bytes_to_human(bytes, false, None)));
        // The first by-uuid link that leads to the partition.
        let dev = format!("/dev/{part}");
        let uuid = self
            .entries("/dev/disk/by-uuid")
            .iter()
            .find_map(|(name, target)| {
                (resolve("/dev/disk/by-uuid", (*target)?) == dev).then_some(*name)
            });
        p.insert("uuid".into(), json!(uuid));
        p.insert("holders".into(), self.holders_of(&part_dir));
        Value::Object(p)
    }
}

/// The serial number: from `sg_inq` where it is installed (and answered),
/// else the disk's `device/serial`.
fn serial(raw: &Raw<'_>, disk: &str) -> Option<String> {
    let out = raw.section(&format!("sg_inq {disk}"));
    let Some((status, body)) = out.split_last() else {
        return raw
            .file_first(&format!("/sys/block/{disk}/device/serial"))
            .map(str::to_owned);
    };
    if status.text != "rc:0" {
        return None;
    }
    // The first "Unit serial number:" or "Serial number:" followed by
    // blanks (line breaks too) and a word.
    let text: String = body.iter().map(|l| format!("{}\n", l.text)).collect();
    let mut at: Vec<usize> = ["Unit serial number:", "Serial number:"]
        .iter()
        .flat_map(|k| text.match_indices(k).map(|(i, m)| i + m.len()))
        .collect();
    at.sort_unstable();
    at.into_iter().find_map(|i| {
        let rest = &text[i..];
        let value = rest.trim_start();
        let len = value
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(value.len());
        (value.len() < rest.len() && len > 0).then(|| value[..len].to_owned())
    })
}

/// The name of the partition `folder` holds for `disk`: the disk's name,
/// an optional `p`, digits (`sda1`, `nvme0n1p2`), found anywhere in it.
fn partition_name<'f>(disk: &str, folder: &'f str) -> Option<&'f str> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    folder.match_indices(disk).find_map(|(at, _)| {
        let after = at + disk.len();
        let rest = &folder[after..];
        let len = match rest.strip_prefix('p').map(digits) {
            Some(n) if n > 0 => n + 1,
            _ => digits(rest),
        };
        (len > 0).then(|| &folder[at..after + len])
    })
}

/// The last `DDDD:BB:SS.F` PCI address in `sysdir` followed by a `/`
/// (lower-case hex, as the kernel writes them), not at its very start.
fn pci_address(sysdir: &str) -> Option<&str> {
    const LEN: usize = 12;
    let b = sysdir.as_bytes();
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    (2..b.len().saturating_sub(LEN))
        .rev()
        .find(|&i| {
            let s = &b[i..i + LEN];
            b[i - 1] == b'/'
                && b[i + LEN] == b'/'
                && s[..4].iter().all(|&c| hex(c))
                && s[4] == b':'
                && s[5..7].iter().all(|&c| hex(c))
                && s[7] == b':'
                && matches!(s[8], b'0' | b'1' | b'|')
                && hex(s[9])
                && s[10] == b'.'
                && (b'0'..=b'7').contains(&s[11])
        })
        .map(|i| &sysdir[i..i + LEN])
}

/// `[mq-deadline]` out of `none [mq-deadline] kyber`: from the first `[`
/// to the last `]`; empty without brackets.
fn scheduler_mode(line: &str) -> &str {
    line.find('[')
        .and_then(|start| {
            let end = line.rfind(']').filter(|&e| e > start)?;
            Some(&line[start + 1..end])
        })
        .unwrap_or("")
}

/// `target` (a link's text) made absolute from `dir` and normalised.
fn resolve(dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `system_capabilities` and `system_capabilities_enforced` from
/// `capsh --print`'s `Current:` line; `N/A` without capsh or when it failed.
pub(super) fn capabilities(raw: &Raw<'_>, facts: &mut Vars) {
    let out = raw.section("caps");
    let (mut enforced, mut caps) = (json!("N/A"), json!("N/A"));
    if out.last().map(|l| l.text) == Some("rc:0") {
        enforced = json!("NA");
        caps = json!([]);
        for line in out.iter().map(|l| l.text) {
            if !line.starts_with("Current:") {
                continue;
            }
            let value = line.split(':').nth(1).unwrap_or_default().trim();
            if value == "=ep" {
                enforced = json!("False");
            } else {
                enforced = json!("True");
                let list = line.split('=').nth(1).unwrap_or_default();
                caps = json!(list.split(',').map(str::trim).collect::<Vec<_>>());
            }
        }
    }
    facts.insert("system_capabilities_enforced".into(), enforced);
    facts.insert("system_capabilities".into(), caps);
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
