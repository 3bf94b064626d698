//! Device, capability and userspace facts: the script's output on real and
//! made-up machines against what ansible-core 2.19's `setup` reported there
//! (tests/fixtures/facts; `compat/facts_devices.sh` regenerates the made-up
//! ones), and the parsing rules one by one.

use serde_json::{Value, json};

use super::super::parse;
use super::{partition_name, pci_address, resolve, scheduler_mode};

/// Parses a fixture of script output.
fn facts(out: &str) -> serde_json::Map<String, Value> {
    parse(out).unwrap_or_else(|e| panic!("{e}"))
}

/// Each key of Ansible's JSON (`expected`) has the same value in `facts`.
fn assert_as_ansible(facts: &serde_json::Map<String, Value>, expected: &str) {
    let expected: serde_json::Map<String, Value> = serde_json::from_str(expected).unwrap();
    assert!(!expected.is_empty());
    for (key, value) in &expected {
        assert_eq!(
            facts.get(key),
            Some(value),
            "{key}: tend {}\nansible {}",
            serde_json::to_string_pretty(&facts.get(key)).unwrap(),
            serde_json::to_string_pretty(value).unwrap()
        );
    }
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/facts/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap()
}

#[test]
fn a_virtual_machine_as_ansible_saw_it() {
    // A VM with a virtio disk (no lspci: `host` stays empty), loop and zram
    // devices, no /dev/disk, root with capsh.
    let f = facts(&fixture("devices_vm.out"));
    assert_as_ansible(&f, &fixture("devices_vm.json"));
    assert_eq!(f["devices"]["vda"]["size"], "256.00 GB");
    assert_eq!(f["userspace_bits"], "64");
    // Keys in Ansible's order: the disks as the kernel lists them (what
    // `ansible_devices.keys() | list` gave), each disk's as it adds them.
    assert_eq!(
        keys(&f["devices"]),
        "loop1 loop6 loop4 loop2 loop0 loop7 zram0 loop5 vda loop3"
    );
    assert_eq!(
        keys(&f["devices"]["vda"]),
        "virtual links vendor model sas_address sas_device_handle removable support_discard \
         partitions rotational scheduler_mode sectorsize sectors size host holders"
    );
    assert_eq!(
        keys(&f["devices"]["vda"]["links"]),
        "ids uuids labels masters"
    );
    assert_eq!(keys(&f["device_links"]), "ids uuids labels masters");
}

/// An object's keys in order, space-separated.
fn keys(v: &Value) -> String {
    v.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn partitions_links_holders_and_pci_hosts_as_ansible_saw_them() {
    // sda (SATA, partitions, LVM on sda2), nvme0n1 (serial from sysfs),
    // dm-0/dm-1, loop0, and hda, a directory rather than a link.
    let f = facts(&fixture("devices_made_up.out"));
    assert_as_ansible(&f, &fixture("devices_made_up.json"));
    let sda = &f["devices"]["sda"];
    assert_eq!(
        sda["host"],
        "SATA controller: Intel Corporation Device a352 (rev 10)"
    );
    assert_eq!(sda["wwn"], "0x5002538e40a1b2c3");
    assert_eq!(sda["scheduler_mode"], "bfq");
    assert_eq!(sda["partitions"]["sda1"]["uuid"], "7A1B-2C3D");
    assert_eq!(sda["partitions"]["sda1"]["sectorsize"], 512);
    assert_eq!(sda["partitions"]["sda2"]["uuid"], Value::Null);
    // dm-1's name is empty: its directory name stands in.
    assert_eq!(
        sda["partitions"]["sda2"]["holders"],
        json!(["vg-root", "dm-1"])
    );
    assert_eq!(
        f["device_links"]["masters"]["sda2"],
        json!(["dm-0", "dm-1"])
    );
    assert_eq!(f["devices"]["nvme0n1"]["serial"], "S4EWNX0R123456");
    assert_eq!(f["devices"]["hda"]["virtual"], 0);
    assert_eq!(f["devices"]["sda"]["virtual"], 1);
    // The orders Ansible's dicts had (compat/facts_devices.sh compares
    // them): directory order of /sys/block, of the disk's directory, of
    // /dev/disk/by-id; a partition's keys as Ansible adds them.
    assert_eq!(keys(&f["devices"]), "hda loop0 dm-1 dm-0 nvme0n1 sda");
    assert_eq!(keys(&sda["partitions"]), "sda2 sda1");
    assert_eq!(
        keys(&sda["partitions"]["sda1"]),
        "links start sectorsize sectors size uuid holders"
    );
    assert_eq!(
        keys(&f["device_links"]["ids"]),
        "dm-0 nvme0n1p1 nvme0n1 sda1 sda sda2"
    );
    assert_eq!(keys(&f["device_links"]["uuids"]), "nvme0n1p1 dm-0 sda1");
}

#[test]
fn serials_from_sg_inq_where_it_is_installed() {
    let f = facts(&fixture("devices_sg_inq.out"));
    assert_as_ansible(&f, &fixture("devices_sg_inq.json"));
    let devices = &f["devices"];
    assert_eq!(devices["sda"]["serial"], "S3Z9NB0K123456A");
    // The number on the next line still counts; a blank one does not, nor
    // does sysfs once sg_inq failed.
    assert_eq!(devices["nvme0n1"]["serial"], "S4EWNX0R123456");
    assert!(devices["hda"].get("serial").is_none());
    assert!(devices["loop0"].get("serial").is_none());
}

/// Script output with the given sections (`files` as a whole section).
fn output(sections: &[(&str, &str)]) -> String {
    let mut out = String::from("::tend-facts:: begin 1\n");
    for (name, body) in sections {
        out.push_str(&format!("\n::tend-facts:: {name}\n{body}\n"));
    }
    out + "\n::tend-facts:: end\n"
}

#[test]
fn capabilities_from_capsh() {
    let caps = |body: Option<&str>| {
        let sections: Vec<(&str, &str)> = body.map(|b| ("caps", b)).into_iter().collect();
        let f = facts(&output(&sections));
        (
            f["system_capabilities_enforced"].clone(),
            f["system_capabilities"].clone(),
        )
    };
    // No capsh, or capsh failed.
    assert_eq!(caps(None), (json!("N/A"), json!("N/A")));
    assert_eq!(caps(Some("rc:1")), (json!("N/A"), json!("N/A")));
    // Root with every capability.
    assert_eq!(
        caps(Some("Current: =ep\nBounding set =cap_chown\nrc:0")),
        (json!("False"), json!([]))
    );
    // A user without any (Ansible: "True", [""]); root without one.
    assert_eq!(
        caps(Some("Current: =\nBounding set =cap_chown\nrc:0")),
        (json!("True"), json!([""]))
    );
    assert_eq!(
        caps(Some("Current: =ep cap_sys_resource-ep\nrc:0")),
        (json!("True"), json!(["ep cap_sys_resource-ep"]))
    );
    // Older libcap's list form: the text between the first two `=`, split
    // at commas.
    assert_eq!(
        caps(Some("Current: = cap_chown,cap_kill+ep\nrc:0")),
        (json!("True"), json!(["cap_chown", "cap_kill+ep"]))
    );
    // No `Current:` line at all.
    assert_eq!(caps(Some("rc:0")), (json!("NA"), json!([])));
}

/// /proc/self/stat of a process whose stack starts at `stack`.
fn stat(stack: u64) -> String {
    let mut fields = vec!["0"; 49];
    let stack = stack.to_string();
    fields[24] = &stack;
    format!("/proc/self/stat:42 (gr ep) R {}", fields.join(" "))
}

#[test]
fn userspace_bits_from_where_the_stack_starts() {
    let user = |machine: &str, files: &str| {
        let uname = format!("Linux h 6.1.0 #1 SMP {machine}");
        let f = facts(&output(&[("uname", &uname), ("files", files)]));
        (
            f["userspace_bits"].clone(),
            f.get("userspace_architecture").cloned(),
        )
    };
    assert_eq!(
        user("x86_64", &stat(140_736_624_183_072)),
        (json!("64"), Some(json!("x86_64")))
    );
    // 32-bit programs on a 64-bit kernel.
    assert_eq!(
        user("x86_64", &stat(4_290_000_000)),
        (json!("32"), Some(json!("i386")))
    );
    assert_eq!(
        user("i686", &stat(3_221_000_000)),
        (json!("32"), Some(json!("i386")))
    );
    // Ansible names the userspace architecture on x86 only.
    assert_eq!(user("armv7l", &stat(3_221_000_000)), (json!("32"), None));
    assert_eq!(
        user("aarch64", &stat(281_474_000_000_000)),
        (json!("64"), None)
    );
    // Unreadable stack address (0) or no file: the machine's width.
    assert_eq!(user("aarch64", &stat(0)), (json!("64"), None));
    assert_eq!(user("x86_64", ""), (json!("64"), Some(json!("x86_64"))));
    assert_eq!(user("armv7l", ""), (json!("32"), None));
}

#[test]
fn without_ls_the_disks_come_from_their_files() {
    let files = "/sys/block/sda/size:2097152\n/sys/block/sda/queue/logical_block_size:4096\n\
                 /sys/block/sda/queue/scheduler:none\n/sys/block/sda/sda1/start:2048\n\
                 /sys/block/sda/sda1/size:4096\n";
    let f = facts(&output(&[("files", files)]));
    let sda = &f["devices"]["sda"];
    assert_eq!(sda["sectors"], 262_144);
    assert_eq!(sda["sectorsize"], "4096");
    assert_eq!(sda["size"], "1.00 GB");
    assert_eq!(sda["scheduler_mode"], "");
    assert_eq!(sda["support_discard"], Value::Null);
    assert_eq!(sda["partitions"]["sda1"]["size"], "2.00 MB");
    assert_eq!(sda["partitions"]["sda1"]["start"], "2048");
    assert_eq!(sda["virtual"], 1);
    // Ansible lists /sys/block before reading links: nothing to go on.
    assert!(f.get("device_links").is_none());
    // Nothing at all: no devices.
    let f = facts(&output(&[]));
    assert_eq!(f["devices"], json!({}));
}

#[test]
fn partition_names() {
    assert_eq!(partition_name("sda", "sda1"), Some("sda1"));
    assert_eq!(partition_name("nvme0n1", "nvme0n1p12"), Some("nvme0n1p12"));
    assert_eq!(partition_name("mmcblk0", "mmcblk0p1"), Some("mmcblk0p1"));
    // `p` without digits after it: the digits-only reading fails too.
    assert_eq!(partition_name("sda", "sdap"), None);
    assert_eq!(partition_name("sda", "queue"), None);
    // Found anywhere in the name, first place that fits.
    assert_eq!(partition_name("sda", "xsdaysda3"), Some("sda3"));
}

#[test]
fn pci_addresses_in_sysfs_paths() {
    let path = "/sys/block/../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1";
    assert_eq!(pci_address(path), Some("0000:3d:00.0"));
    assert_eq!(
        pci_address("/sys/block/../devices/virtual/block/loop0"),
        None
    );
    // Upper-case hex and a slot from 0x20 on are not addresses to Ansible.
    assert_eq!(pci_address("/x/0000:00:1F.2/block/sda"), None);
    assert_eq!(pci_address("/x/0000:00:20.0/block/sda"), None);
    // It must be followed by `/`.
    assert_eq!(pci_address("/x/0000:00:1f.2"), None);
}

#[test]
fn scheduler_modes() {
    assert_eq!(
        scheduler_mode("none [mq-deadline] kyber bfq"),
        "mq-deadline"
    );
    assert_eq!(scheduler_mode("[none] mq-deadline"), "none");
    assert_eq!(scheduler_mode("none"), "");
    assert_eq!(scheduler_mode("a ] [b"), "");
}

#[test]
fn link_targets_resolved() {
    assert_eq!(resolve("/dev/disk/by-uuid", "../../sda1"), "/dev/sda1");
    assert_eq!(
        resolve("/dev/disk/by-uuid", "/dev/./mapper/../dm-0"),
        "/dev/dm-0"
    );
}

#[test]
fn live_run_lists_this_hosts_block_devices() {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", super::super::gather_script()])
        .output()
        .unwrap();
    let f = facts(&String::from_utf8_lossy(&out.stdout));
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().into_string().unwrap();
        let dev = &f["devices"][&name];
        let size: u64 = std::fs::read_to_string(entry.path().join("size"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let sectorsize: u64 = dev["sectorsize"].as_str().unwrap().parse().unwrap();
        assert_eq!(dev["sectors"], size * 512 / sectorsize, "{name}");
    }
    let capsh = ["/sbin", "/usr/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join("capsh").exists());
    assert_eq!(f["system_capabilities"] != "N/A", capsh);
}

#[test]
fn busybox_listings_and_a_directory_listed_twice() {
    // An unsorted GNU listing cut short, then busybox-style sorted lines:
    // the later listing of /sys/block/ replaces the first.
    let block = "crw-rw-rw- 1 0 0 1, 3 Nov 19 22:07 /dev/null\n\n/sys/block/:\n\
        lrwxrwxrwx  1 0 0 0 Nov 27 13:17 vdb -> ../devices/virtual/block/vdb\n\
        crw-rw-rw-    1 0        0           1,   3 Nov 19 22:07 /dev/null\n\n\
        /sys/block/:\ntotal 0\n\
        lrwxrwxrwx    1 0        0               29 Nov 27 13:02 dm-0 -> ../devices/virtual/block/dm-0\n\
        lrwxrwxrwx    1 0        0               29 Nov 27 13:02 vdb -> ../devices/virtual/block/vdb\n\n\
        /dev/disk/by-uuid/:\n\
        lrwxrwxrwx    1 0        0               10 Nov 27 13:02 0b1c -> ../../dm-0\n\
        has:/sys/block/dm-0/slaves/vdb";
    let f = facts(&output(&[("block", block)]));
    assert_eq!(keys(&f["devices"]), "dm-0 vdb");
    assert_eq!(f["device_links"]["uuids"], json!({"dm-0": ["0b1c"]}));
    assert_eq!(f["device_links"]["masters"], json!({"vdb": ["dm-0"]}));
    assert_eq!(f["devices"]["vdb"]["links"]["masters"], json!(["dm-0"]));
    // Files unread: Ansible's defaults.
    assert_eq!(f["devices"]["vdb"]["sectorsize"], 512);
    assert_eq!(f["devices"]["vdb"]["removable"], Value::Null);
}
