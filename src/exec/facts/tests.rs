//! Parser tests on fixed outputs, and a live run of the script on this host.

use std::process::Command;

use serde_json::{Value, json};

use super::{FactsError, gather_script, parse};

/// Builds script output from `(section, body)` pairs, the way the script
/// frames them.
fn output(sections: &[(&str, &str)]) -> String {
    let mut out = String::from("Welcome to the banner\n\n::tend-facts:: begin 1\n");
    for (name, body) in sections {
        out.push_str(&format!("\n::tend-facts:: {name}\n{body}"));
    }
    out.push_str("\n::tend-facts:: end\n");
    out
}

/// The `files` section for `(path, content)` pairs.
fn files(list: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (path, content) in list {
        for line in content.lines() {
            out.push_str(&format!("{path}:{line}\n"));
        }
    }
    out
}

/// `od -An -v -tx1` of NUL-terminated `KEY=VALUE` entries.
fn env_hex(entries: &[&str]) -> String {
    let bytes: Vec<u8> = entries.iter().flat_map(|e| e.bytes().chain([0])).collect();
    bytes
        .chunks(16)
        .map(|c| c.iter().map(|b| format!(" {b:02x}")).collect::<String>() + "\n")
        .collect()
}

const DEBIAN_OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"#;

const CPUINFO_2X2: &str = "processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold
physical id\t: 0
siblings\t: 4
core id\t\t: 0
cpu cores\t: 2

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold
physical id\t: 0
siblings\t: 4
core id\t\t: 0
cpu cores\t: 2

processor\t: 2
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold
physical id\t: 0
siblings\t: 4
core id\t\t: 1
cpu cores\t: 2

processor\t: 3
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold
physical id\t: 0
siblings\t: 4
core id\t\t: 1
cpu cores\t: 2
";

const MEMINFO: &str = "MemTotal:        4030000 kB
MemFree:          512000 kB
Buffers:          102400 kB
Cached:          1024000 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        2097148 kB
";

const IP_ADDR: &str =
    "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host
       valid_lft forever preferred_lft forever
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 10.0.2.15/24 brd 10.0.2.255 scope global dynamic eth0
       valid_lft 86000sec preferred_lft 86000sec
    inet 10.0.2.99/24 brd 10.0.2.255 scope global secondary eth0:1
       valid_lft forever preferred_lft forever
    inet6 2001:db8::15/64 scope global dynamic mngtmpaddr
       valid_lft 86000sec preferred_lft 14000sec
    inet6 fe80::5054:ff:fe12:3456/64 scope link
       valid_lft forever preferred_lft forever
";

fn debian_output() -> String {
    let files = files(&[
        ("/etc/os-release", DEBIAN_OS_RELEASE),
        ("/etc/debian_version", "12.5"),
        ("/etc/machine-id", "0123456789abcdef0123456789abcdef"),
        (
            "/etc/resolv.conf",
            "# generated\nnameserver 10.0.2.3\nnameserver 10.0.2.4\nsearch example.com corp.example\noptions ndots:2 rotate\n",
        ),
        ("/proc/cpuinfo", CPUINFO_2X2),
        ("/proc/meminfo", MEMINFO),
        (
            "/proc/mounts",
            "sysfs /sys sysfs rw,nosuid 0 0\nproc /proc proc rw 0 0\n/dev/vda1 / ext4 rw,relatime 0 0\n/dev/vdb1 /srv/my\\040data xfs rw 0 0\nnfs.example:/export /mnt/nfs nfs4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n",
        ),
        ("/proc/uptime", "12345.67 23456.78"),
        ("/proc/loadavg", "0.50 0.25 0.10 1/234 5678"),
        (
            "/proc/cmdline",
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=abcd ro quiet console=tty0 console=ttyS0",
        ),
        ("/proc/1/comm", "systemd"),
        (
            "/proc/self/status",
            "Name:\tgrep\nCpus_allowed_list:\t0-3\n",
        ),
        ("/sys/class/dmi/id/sys_vendor", "QEMU"),
        (
            "/sys/class/dmi/id/product_name",
            "Standard PC (Q35 + ICH9, 2009)",
        ),
        ("/sys/class/dmi/id/chassis_type", "1"),
        ("/sys/class/net/eth0/address", "52:54:00:12:34:56"),
        ("/sys/class/net/eth0/mtu", "1500"),
        ("/sys/class/net/eth0/type", "1"),
        ("/sys/class/net/eth0/operstate", "up"),
        ("/sys/class/net/eth0/flags", "0x1003"),
        ("/sys/class/net/lo/address", "00:00:00:00:00:00"),
        ("/sys/class/net/lo/mtu", "65536"),
        ("/sys/class/net/lo/type", "772"),
        ("/sys/class/net/lo/operstate", "unknown"),
        ("/sys/class/net/lo/flags", "0x9"),
    ]);
    output(&[
        (
            "uname",
            "Linux web1.example.com 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64\n",
        ),
        ("fqdn", "10.0.2.15       web1 web1.example.com\n"),
        (
            "id",
            "uid=1000(deploy) gid=1000(deploy) groups=1000(deploy),27(sudo)\n",
        ),
        (
            "passwd",
            "deploy:x:1000:1000:Deploy User,,,:/home/deploy:/bin/bash\n",
        ),
        (
            "date",
            "2024|03|05|14|07|09|1709644029|123456789|+0100|CET|Tuesday|2|10\n",
        ),
        ("tzrule", "CET-1CEST,M3.5.0,M10.5.0/3\n"),
        ("stat", "same\n"),
        (
            "statfs",
            "4096 4096 2621440 1310720 1200000 655360 600000 /\n4096 4096 100 50 40 10 5 /mnt/nfs\n",
        ),
        (
            "exists",
            "/usr/bin/apt-get\n/run/systemd/system\n/etc/init.d\n/sys/kernel/security/apparmor\ncmd:systemctl\ncmd:ip\n",
        ),
        ("files", &files),
        // One `ip -batch` run: addresses, then the two routes.
        (
            "ip",
            &format!(
                "{IP_ADDR}8.8.8.8 via 10.0.2.2 dev eth0 src 10.0.2.15 uid 1000 \n    cache \n\
                 2404:6800:400a:800::1012 from :: via fe80::2 dev eth0 src 2001:db8::15 metric 100 pref medium\n"
            ),
        ),
        (
            "env_hex",
            &env_hex(&[
                "HOME=/home/deploy",
                "USER=deploy",
                "LANG=C.UTF-8",
                "MULTI=line one\nline=two",
                "EMPTY=",
            ]),
        ),
    ])
}

#[test]
fn debian_host() {
    let f = parse(&debian_output()).unwrap();
    assert_eq!(f["hostname"], "web1");
    assert_eq!(f["nodename"], "web1.example.com");
    assert_eq!(f["fqdn"], "web1.example.com");
    assert_eq!(f["domain"], "example.com");
    assert_eq!(f["system"], "Linux");
    assert_eq!(f["kernel"], "6.1.0-18-amd64");
    assert_eq!(
        f["kernel_version"],
        "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)"
    );
    assert_eq!(f["machine"], "x86_64");
    assert_eq!(f["architecture"], "x86_64");
    assert_eq!(f["distribution"], "Debian");
    assert_eq!(f["os_family"], "Debian");
    assert_eq!(f["distribution_version"], "12.5");
    assert_eq!(f["distribution_major_version"], "12");
    assert_eq!(f["distribution_release"], "bookworm");
    assert!(f.get("lsb").is_none());
    assert_eq!(f["pkg_mgr"], "apt");
    assert_eq!(f["service_mgr"], "systemd");

    assert_eq!(f["user_id"], "deploy");
    assert_eq!(f["user_uid"], 1000);
    assert_eq!(f["user_gid"], 1000);
    assert_eq!(f["user_gecos"], "Deploy User,,,");
    assert_eq!(f["user_dir"], "/home/deploy");
    assert_eq!(f["user_shell"], "/bin/bash");
    assert_eq!(f["effective_user_id"], 1000);

    assert_eq!(f["env"]["MULTI"], "line one\nline=two");
    assert_eq!(f["env"]["EMPTY"], "");
    assert_eq!(f["env"]["LANG"], "C.UTF-8");

    assert_eq!(f["processor_count"], 1);
    assert_eq!(f["processor_cores"], 2);
    assert_eq!(f["processor_threads_per_core"], 2);
    assert_eq!(f["processor_vcpus"], 4);
    assert_eq!(f["processor_nproc"], 4);
    assert_eq!(f["processor"][0], "0");
    assert_eq!(f["processor"][1], "GenuineIntel");
    assert_eq!(f["processor"][2], "Intel(R) Xeon(R) Gold");
    assert_eq!(f["processor"].as_array().unwrap().len(), 12);

    assert_eq!(f["memtotal_mb"], 3935);
    assert_eq!(f["memfree_mb"], 500);
    assert_eq!(f["swaptotal_mb"], 2047);
    assert_eq!(f["memory_mb"]["nocache"]["free"], 500 + 100 + 1000);

    let dt = &f["date_time"];
    assert_eq!(dt["year"], "2024");
    assert_eq!(dt["weekday"], "Tuesday");
    assert_eq!(dt["weekday_number"], "2");
    assert_eq!(dt["weeknumber"], "10");
    assert_eq!(dt["epoch"], "1709644029");
    assert_eq!(dt["epoch_int"], "1709644029");
    assert_eq!(dt["date"], "2024-03-05");
    assert_eq!(dt["time"], "14:07:09");
    assert_eq!(dt["iso8601"], "2024-03-05T13:07:09Z");
    assert_eq!(dt["iso8601_micro"], "2024-03-05T13:07:09.123456Z");
    assert_eq!(dt["iso8601_basic"], "20240305T140709123456");
    assert_eq!(dt["iso8601_basic_short"], "20240305T140709");
    assert_eq!(dt["tz"], "CET");
    assert_eq!(dt["tz_dst"], "CEST");
    assert_eq!(dt["tz_offset"], "+0100");

    assert_eq!(f["interfaces"], json!(["eth0", "eth0_1", "lo"]));
    assert_eq!(f["all_ipv4_addresses"], json!(["10.0.2.15", "10.0.2.99"]));
    assert_eq!(
        f["all_ipv6_addresses"],
        json!(["2001:db8::15", "fe80::5054:ff:fe12:3456"])
    );
    assert_eq!(
        f["default_ipv4"],
        json!({
            "interface": "eth0", "address": "10.0.2.15", "gateway": "10.0.2.2",
            "broadcast": "10.0.2.255", "netmask": "255.255.255.0", "network": "10.0.2.0",
            "prefix": "24", "macaddress": "52:54:00:12:34:56", "mtu": 1500, "type": "ether",
            "alias": "eth0",
        })
    );
    assert_eq!(f["default_ipv6"]["gateway"], "fe80::2");
    assert_eq!(f["default_ipv6"]["prefix"], "64");
    assert_eq!(f["default_ipv6"]["scope"], "global");
    let eth0 = &f["eth0"];
    assert_eq!(eth0["device"], "eth0");
    assert_eq!(eth0["active"], true);
    assert_eq!(eth0["promisc"], false);
    assert_eq!(eth0["mtu"], 1500);
    assert_eq!(eth0["ipv4"]["address"], "10.0.2.15");
    assert_eq!(eth0["ipv4_secondaries"][0]["address"], "10.0.2.99");
    assert_eq!(eth0["ipv6"][1]["scope"], "link");
    assert_eq!(f["eth0_1"]["ipv4_secondaries"][0]["address"], "10.0.2.99");
    assert_eq!(f["lo"]["type"], "loopback");
    assert!(f["lo"].get("macaddress").is_none());

    let mounts = f["mounts"].as_array().unwrap();
    let points: Vec<&str> = mounts
        .iter()
        .map(|m| m["mount"].as_str().unwrap())
        .collect();
    assert_eq!(points, ["/", "/srv/my data", "/mnt/nfs"]);
    assert_eq!(mounts[0]["device"], "/dev/vda1");
    assert_eq!(mounts[0]["fstype"], "ext4");
    assert_eq!(mounts[0]["options"], "rw,relatime");
    assert_eq!(mounts[0]["size_total"], 4096_i64 * 2_621_440);
    assert_eq!(mounts[0]["size_available"], 4096_i64 * 1_200_000);
    assert_eq!(mounts[0]["block_used"], 2_621_440 - 1_200_000);
    assert_eq!(mounts[0]["inode_used"], 55_360);
    assert!(mounts[1].get("size_total").is_none());

    assert_eq!(f["selinux"], json!({"status": "disabled"}));
    assert_eq!(f["apparmor"], json!({"status": "enabled"}));
    assert_eq!(f["is_chroot"], false);
    assert_eq!(f["fips"], false);
    assert_eq!(f["uptime_seconds"], 12345);
    assert_eq!(f["loadavg"]["1m"], 0.5);
    assert_eq!(f["machine_id"], "0123456789abcdef0123456789abcdef");
    assert_eq!(f["dns"]["nameservers"], json!(["10.0.2.3", "10.0.2.4"]));
    assert_eq!(f["dns"]["search"], json!(["example.com", "corp.example"]));
    assert_eq!(f["dns"]["options"], json!({"ndots": "2", "rotate": true}));
    assert_eq!(f["cmdline"]["ro"], true);
    assert_eq!(f["cmdline"]["root"], "UUID=abcd");
    assert_eq!(f["cmdline"]["console"], "ttyS0");
    assert_eq!(f["proc_cmdline"]["console"], json!(["tty0", "ttyS0"]));
    assert_eq!(f["virtualization_type"], "kvm");
    assert_eq!(f["virtualization_role"], "guest");
    assert_eq!(f["system_vendor"], "QEMU");
    assert_eq!(f["product_serial"], "NA");
    assert_eq!(f["form_factor"], "Other");
    assert!(f.get("python").is_none());

    // Keys are sorted and carry no `ansible_` prefix.
    let keys: Vec<&String> = f.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(
        keys.iter()
            .all(|k| !k.starts_with("ansible_") || *k == "ansible_local")
    );
    assert_eq!(f["ansible_local"], json!({}));
}

#[test]
fn ubuntu_host() {
    let os_release = r#"PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
"#;
    let lsb = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.4 LTS\"\n";
    let files = files(&[
        ("/etc/os-release", os_release),
        ("/etc/debian_version", "bookworm/sid"),
        ("/etc/lsb-release", lsb),
        ("/sys/fs/selinux/enforce", "0"),
        (
            "/etc/selinux/config",
            "SELINUX=permissive\nSELINUXTYPE=default\n",
        ),
    ]);
    let out = output(&[
        (
            "uname",
            "Linux ubuntu 5.15.0-97-generic #107-Ubuntu SMP Wed Feb 7 13:26:48 UTC 2024 aarch64\n",
        ),
        ("fqdn", "ubuntu\n"),
        ("id", "uid=0(root) gid=0(root) groups=0(root)\n"),
        ("passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        (
            "date",
            "2024|12|31|23|59|59|1735689599|000000001|+0000|UTC|Tuesday|2|52\n",
        ),
        ("stat", "2049:2\n2049:2\n"),
        (
            "exists",
            "/usr/bin/apt-get\n/sys/fs/selinux/enforce\n/etc/init.d\ncmd:systemctl\n",
        ),
        ("files", &files),
        ("env", "HOME=/root\nLOGNAME=root\n"),
    ]);
    let f = parse(&out).unwrap();
    assert_eq!(f["distribution"], "Ubuntu");
    assert_eq!(f["os_family"], "Debian");
    assert_eq!(f["distribution_version"], "22.04");
    assert_eq!(f["distribution_major_version"], "22");
    assert_eq!(f["distribution_release"], "jammy");
    assert_eq!(
        f["lsb"],
        json!({"id": "Ubuntu", "release": "22.04", "codename": "jammy", "description": "Ubuntu 22.04.4 LTS", "major_release": "22"})
    );
    assert_eq!(f["architecture"], "aarch64");
    assert_eq!(f["hostname"], "ubuntu");
    assert_eq!(f["domain"], "");
    assert_eq!(f["user_id"], "root");
    assert_eq!(f["user_uid"], 0);
    assert_eq!(f["date_time"]["iso8601"], "2024-12-31T23:59:59Z");
    assert_eq!(f["date_time"]["tz_dst"], "UTC");
    assert_eq!(
        f["selinux"],
        json!({"status": "enabled", "mode": "permissive", "config_mode": "permissive", "type": "default"})
    );
    assert_eq!(f["is_chroot"], false);
    // No `ip`: empty network facts, not errors.
    assert_eq!(f["default_ipv4"], json!({}));
    assert_eq!(f["all_ipv4_addresses"], json!([]));
    assert_eq!(f["interfaces"], json!([]));
    // /proc/1/comm missing, systemctl present but no /run/systemd/system.
    assert_eq!(f["service_mgr"], "sysvinit");
    assert_eq!(f["mounts"], json!([]));
    assert_eq!(f["virtualization_type"], "NA");
}

#[test]
fn alpine_like_host() {
    let os_release =
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n";
    let files = files(&[
        ("/etc/os-release", os_release),
        ("/etc/alpine-release", "3.19.1"),
        (
            "/proc/cpuinfo",
            "processor\t: 0\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 48.00\n",
        ),
        ("/proc/1/comm", "sh"),
        ("/proc/1/cgroup", "0::/docker/0123abcd\n"),
        ("/proc/mounts", "overlay / overlay rw,lowerdir=/a 0 0\n"),
    ]);
    let out = output(&[
        // busybox uname -v has no spaces problem; busybox id prints no euid.
        ("uname", "Linux 0123abcd 6.6.12-linuxkit #1 SMP aarch64\n"),
        ("fqdn", ""),
        ("id", "uid=100(app) gid=101(app) groups=101(app)\n"),
        (
            "passwd",
            "app:x:100:101:Linux User,,,:/home/app:/sbin/nologin\n",
        ),
        // busybox date without %N support prints it literally.
        (
            "date",
            "2024|01|01|00|00|00|1704067200|%N|+0000|UTC|Monday|1|01\n",
        ),
        ("stat", "123:4567\n"),
        (
            "exists",
            "/sbin/apk\n/sbin/openrc\n/etc/init.d\n/.dockerenv\n",
        ),
        ("files", &files),
        (
            "env",
            "HOME=/home/app\nPS1=multi\nline prompt\nPATH=/usr/bin:/bin\n",
        ),
    ]);
    let f = parse(&out).unwrap();
    assert_eq!(f["distribution"], "Alpine");
    assert_eq!(f["os_family"], "Alpine");
    assert_eq!(f["distribution_version"], "3.19.1");
    assert_eq!(f["distribution_major_version"], "3");
    assert_eq!(f["distribution_release"], "NA");
    assert_eq!(f["pkg_mgr"], "apk");
    assert_eq!(f["service_mgr"], "openrc");
    assert_eq!(f["fqdn"], "0123abcd");
    assert_eq!(f["kernel_version"], "#1 SMP");
    assert_eq!(f["user_id"], "app");
    assert_eq!(f["user_gid"], 101);
    assert_eq!(f["user_shell"], "/sbin/nologin");
    assert_eq!(f["env"]["PS1"], "multi\nline prompt");
    assert_eq!(f["env"]["PATH"], "/usr/bin:/bin");
    assert_eq!(
        f["date_time"]["iso8601_micro"],
        "2024-01-01T00:00:00.000000Z"
    );
    assert_eq!(f["processor_vcpus"], 2);
    assert_eq!(f["processor_count"], 2);
    assert_eq!(f["processor_cores"], 1);
    // overlay is not a device mount (Ansible's filter).
    assert_eq!(f["mounts"], json!([]));
    // Non-root: inode heuristic says chroot on overlay, as Ansible does.
    assert_eq!(f["is_chroot"], true);
    assert_eq!(f["virtualization_type"], "docker");
    assert_eq!(f["virtualization_role"], "guest");
    assert_eq!(f["virtualization_tech_guest"], json!(["docker"]));
    assert_eq!(f["product_name"], "NA");
}

#[test]
fn redhat_family_names() {
    for (os_release, redhat_release, name, version, release) in [
        (
            "ID=\"rocky\"\nVERSION_ID=\"9.3\"\nVERSION=\"9.3 (Blue Onyx)\"\n",
            "Rocky Linux release 9.3 (Blue Onyx)",
            "Rocky",
            "9.3",
            "Blue Onyx",
        ),
        (
            "ID=\"centos\"\nVERSION_ID=\"7\"\nVERSION=\"7 (Core)\"\n",
            "CentOS Linux release 7.9.2009 (Core)",
            "CentOS",
            "7.9",
            "Core",
        ),
        (
            "ID=\"rhel\"\nVERSION_ID=\"8.9\"\nVERSION=\"8.9 (Ootpa)\"\n",
            "",
            "RedHat",
            "8.9",
            "Ootpa",
        ),
        (
            "ID=almalinux\nVERSION_ID=9.4\n",
            "",
            "AlmaLinux",
            "9.4",
            "NA",
        ),
        ("ID=fedora\nVERSION_ID=40\n", "", "Fedora", "40", "NA"),
        ("", "CentOS release 6.10 (Final)", "CentOS", "6.10", "Final"),
    ] {
        let mut list = vec![("/etc/os-release", os_release)];
        if !redhat_release.is_empty() {
            list.push(("/etc/redhat-release", redhat_release));
        }
        let out = output(&[
            ("exists", "/usr/bin/dnf\n/usr/bin/yum\n"),
            ("files", &files(&list)),
        ]);
        let f = parse(&out).unwrap();
        assert_eq!(f["distribution"], name, "{os_release}");
        assert_eq!(f["os_family"], "RedHat", "{os_release}");
        assert_eq!(f["distribution_version"], version, "{os_release}");
        assert_eq!(f["distribution_release"], release, "{os_release}");
        assert_eq!(f["pkg_mgr"], "dnf");
    }
    let other = parse(&output(&[(
        "files",
        &files(&[("/etc/os-release", "ID=opensuse-leap\nVERSION_ID=15.5\n")]),
    )]));
    let other = other.unwrap();
    assert_eq!(other["distribution"], "openSUSE Leap");
    assert_eq!(other["os_family"], "Suse");
    let arch = parse(&output(&[(
        "files",
        &files(&[(
            "/etc/os-release",
            "NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n",
        )]),
    )]));
    let arch = arch.unwrap();
    assert_eq!(arch["distribution"], "Archlinux");
    assert_eq!(arch["os_family"], "Archlinux");
    assert_eq!(arch["distribution_version"], "NA");
    assert_eq!(arch["distribution_major_version"], "NA");
}

#[test]
fn missing_tools_give_empty_values() {
    // Every probe failed: only the markers are there.
    let f = parse(&output(&[])).unwrap();
    assert_eq!(f["distribution"], "OtherLinux");
    assert_eq!(f["os_family"], "OtherLinux");
    assert_eq!(f["distribution_version"], "NA");
    assert_eq!(f["hostname"], "");
    assert_eq!(f["user_uid"], Value::Null);
    assert_eq!(f["env"], json!({}));
    assert_eq!(f["date_time"], json!({}));
    assert_eq!(f["default_ipv4"], json!({}));
    assert_eq!(f["default_ipv6"], json!({}));
    assert_eq!(f["pkg_mgr"], "unknown");
    assert_eq!(f["service_mgr"], "service");
    assert_eq!(f["mounts"], json!([]));
    assert_eq!(f["processor_vcpus"], 0);
    assert!(f.get("memtotal_mb").is_none());
    assert!(f.get("is_chroot").is_none());
    assert!(f.get("python").is_none());
}

#[test]
fn python_is_the_interpreter_on_the_path() {
    let f = parse(&output(&[("python", "/usr/bin/python3\nPython 3.11.2\n")])).unwrap();
    assert_eq!(
        f["python"],
        json!({
            "executable": "/usr/bin/python3",
            "type": "CPython",
            "has_sslcontext": true,
            "version": {"major": 3, "minor": 11, "micro": 2, "releaselevel": "final", "serial": 0},
            "version_info": [3, 11, 2, "final", 0],
        })
    );
    let f = parse(&output(&[(
        "python",
        "/opt/pypy/bin/python3\nPython 3.10.14 (75b3de9d9035, Apr 21 2024)\n[PyPy 7.3.16]\n",
    )]))
    .unwrap();
    assert_eq!(f["python"]["type"], "PyPy");
    assert_eq!(f["python"]["version_info"], json!([3, 10, 14, "final", 0]));
    let f = parse(&output(&[(
        "python",
        "/usr/bin/python3\nPython 3.13.0rc2\n",
    )]))
    .unwrap();
    assert_eq!(
        f["python"]["version_info"],
        json!([3, 13, 0, "candidate", 2])
    );
    let f = parse(&output(&[("python", "/usr/bin/python3\n")])).unwrap();
    assert!(f.get("python").is_none());
    let f = parse(&output(&[("python", "/usr/bin/python3\nnot a version\n")])).unwrap();
    assert!(f.get("python").is_none());
}

#[test]
fn malformed_output_is_an_error() {
    let err = |out: &str| parse(out).unwrap_err();
    assert!(matches!(err(""), FactsError::MissingBegin));
    assert!(matches!(
        err("bash: sh: command not found\n"),
        FactsError::MissingBegin
    ));
    assert!(
        matches!(err("::tend-facts:: begin 9\n::tend-facts:: end\n"), FactsError::UnsupportedVersion(v) if v == "9")
    );
    let full = debian_output();
    let cut = &full[..full.len() / 2];
    assert!(matches!(err(cut), FactsError::Truncated { .. }));

    let bad_files = output(&[("files", "/etc/os-release:ID=debian\nno colon here\n")]);
    match err(&bad_files) {
        FactsError::Malformed { line, section, .. } => {
            assert_eq!(section, "files");
            assert_eq!(bad_files.lines().nth(line - 1), Some("no colon here"));
        }
        other => panic!("{other:?}"),
    }
    let bad_hex = output(&[("env_hex", " 41 3d zz\n")]);
    match err(&bad_hex) {
        FactsError::Malformed {
            section, reason, ..
        } => {
            assert_eq!(section, "env_hex");
            assert!(reason.contains("zz"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let bad_date = output(&[("date", "Tue Mar  5 14:07:09 CET 2024\n")]);
    assert!(matches!(err(&bad_date), FactsError::Malformed { section, .. } if section == "date"));
    let bad_date = output(&[("date", "2024|3|05|14|07|09|1|2|+0100|CET|Tuesday|2|10\n")]);
    assert!(matches!(err(&bad_date), FactsError::Malformed { section, .. } if section == "date"));
    let bad_uname = output(&[("uname", "Linux\n")]);
    assert!(matches!(err(&bad_uname), FactsError::Malformed { section, .. } if section == "uname"));
    let bad_id = output(&[("id", "you are nobody\n")]);
    assert!(matches!(err(&bad_id), FactsError::Malformed { section, .. } if section == "id"));
    let e = err(&bad_id).to_string();
    assert!(e.contains("line") && e.contains("`id`"), "{e}");
}

#[test]
fn never_panics_on_damaged_output() {
    let full = debian_output();
    let mut cut = 0;
    while cut < full.len() {
        let _ = parse(&full[..cut]);
        // Drop one line to shift everything.
        let dropped: String = full
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != cut % 200)
            .map(|(_, l)| l.to_owned() + "\n")
            .collect();
        let _ = parse(&dropped);
        cut += 7;
        while cut < full.len() && !full.is_char_boundary(cut) {
            cut += 1;
        }
    }
    let _ = parse(
        "::tend-facts:: begin 1\n::tend-facts:: uname\n\u{0}\u{ff}é x y z\n::tend-facts:: date\n|||||||||||||\n::tend-facts:: end",
    );
    let _ = parse(
        "::tend-facts:: begin 1\n::tend-facts:: ip_addr\n    inet\n1:\n    inet 1.2.3.4/99 x\n    inet6 a b c\n::tend-facts:: end",
    );
}

/// Runs the script with `sh -c`, optionally with extra environment.
fn run(shell: &str, env: &[(&str, &str)], clear_path: bool) -> String {
    let mut cmd = Command::new(shell);
    cmd.arg("-c").arg(gather_script());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if clear_path {
        cmd.env("PATH", "/nonexistent");
    }
    let out = cmd.output().expect("run the fact script");
    assert!(out.status.success(), "script failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn sh_out(cmd: &str) -> String {
    let out = Command::new("/bin/sh").arg("-c").arg(cmd).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn live_run_matches_this_host() {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let f = parse(&run("/bin/sh", &[("TEND_FACTS_TEST", "a\nb=c d")], false)).unwrap();
    let machine = sh_out("uname -m");
    assert_eq!(f["machine"], machine.as_str());
    if machine == "x86_64" || machine.starts_with("aarch") {
        assert_eq!(f["architecture"], machine.as_str());
    }
    assert_eq!(f["system"], sh_out("uname -s").as_str());
    assert_eq!(f["kernel"], sh_out("uname -r").as_str());
    assert_eq!(f["nodename"], sh_out("uname -n").as_str());
    assert_eq!(f["user_uid"], sh_out("id -u").parse::<i64>().unwrap());
    assert_eq!(f["user_gid"], sh_out("id -g").parse::<i64>().unwrap());
    assert_eq!(f["env"]["TEND_FACTS_TEST"], "a\nb=c d");
    if let Ok(home) = std::env::var("HOME") {
        assert_eq!(f["env"]["HOME"], home.as_str());
    }

    let os_id = sh_out(". /etc/os-release 2>/dev/null && echo \"$ID\"");
    let version_id = sh_out(". /etc/os-release 2>/dev/null && echo \"$VERSION_ID\"");
    match os_id.as_str() {
        "debian" => {
            assert_eq!(f["distribution"], "Debian");
            assert_eq!(f["os_family"], "Debian");
            let dv = sh_out("cat /etc/debian_version");
            if dv.starts_with(|c: char| c.is_ascii_digit()) {
                assert_eq!(f["distribution_version"], dv.as_str());
            }
            assert_eq!(f["distribution_major_version"], version_id.as_str());
        }
        "ubuntu" => {
            assert_eq!(f["distribution"], "Ubuntu");
            assert_eq!(f["distribution_version"], version_id.as_str());
        }
        _ => {}
    }
    if !os_id.is_empty() {
        let codename = sh_out(". /etc/os-release && echo \"$VERSION_CODENAME\"");
        if !codename.is_empty() {
            assert_eq!(f["distribution_release"], codename.as_str());
        }
    }

    let vcpus = f["processor_vcpus"].as_i64().unwrap();
    assert!(vcpus >= 1);
    let online = sh_out("grep -c ^processor /proc/cpuinfo")
        .parse::<i64>()
        .unwrap();
    assert_eq!(vcpus, online);
    let mem_kb: i64 = sh_out("awk '/^MemTotal:/ {print $2}' /proc/meminfo")
        .parse()
        .unwrap();
    assert_eq!(f["memtotal_mb"], mem_kb / 1024);

    let epoch: u64 = f["date_time"]["epoch"].as_str().unwrap().parse().unwrap();
    assert!(epoch >= start && epoch <= start + 30, "{epoch} vs {start}");
    assert_eq!(f["date_time"]["tz_offset"], sh_out("date +%z").as_str());
    assert!(
        f["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mount"] == "/")
            || !std::path::Path::new("/proc/mounts").exists()
    );

    if std::path::Path::new("/usr/bin/apt-get").exists() {
        assert_eq!(f["pkg_mgr"], "apt");
    }
    if std::path::Path::new("/run/systemd/system").exists()
        && sh_out("cat /proc/1/comm") == "systemd"
    {
        assert_eq!(f["service_mgr"], "systemd");
    }
    let has_ip = !sh_out("command -v ip").is_empty();
    if has_ip {
        let addrs =
            sh_out("ip -4 -o addr show | awk '{print $4}' | cut -d/ -f1 | grep -v '^127\\.'");
        for a in addrs.lines() {
            assert!(
                f["all_ipv4_addresses"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(a)),
                "{a}"
            );
        }
        let route = sh_out("ip -4 route get 8.8.8.8 2>/dev/null | head -n 1");
        if let Some(dev) = route.split_whitespace().skip_while(|w| *w != "dev").nth(1) {
            assert_eq!(f["default_ipv4"]["interface"], dev);
        }
    }
    for iface in sh_out("ls /sys/class/net").lines() {
        assert!(
            f["interfaces"].as_array().unwrap().contains(&json!(iface)),
            "{iface}"
        );
    }
}

#[test]
fn live_run_without_any_tools() {
    // PATH points nowhere: only shell builtins work. The script must still
    // frame its output and the parser must accept it.
    let f = parse(&run("/bin/sh", &[], true)).unwrap();
    // uname's fields come from the kernel's files when it has `arch`.
    let from_files = std::path::Path::new("/proc/sys/kernel/arch").exists();
    assert_eq!(f["system"], if from_files { "Linux" } else { "" });
    if from_files {
        assert_eq!(f["kernel"], sh_out("uname -r"));
        assert_eq!(f["architecture"], sh_out("uname -m"));
    }
    assert_eq!(
        f["pkg_mgr"],
        if std::path::Path::new("/usr/bin/apt-get").exists() {
            "apt"
        } else {
            f["pkg_mgr"].as_str().unwrap()
        }
    );
    assert_eq!(f["date_time"], json!({}));
    assert_eq!(f["default_ipv4"], json!({}));
    // The builtin-only fallback still reads files.
    if std::path::Path::new("/proc/meminfo").exists() {
        assert!(f["memtotal_mb"].as_i64().unwrap() > 0);
    }
}

#[test]
fn live_run_under_other_shells() {
    for shell in ["/bin/bash", "/bin/dash", "/bin/busybox"] {
        if !std::path::Path::new(shell).exists() {
            continue;
        }
        let out = if shell.ends_with("busybox") {
            let out = Command::new(shell)
                .args(["sh", "-c", gather_script()])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        } else {
            run(shell, &[], false)
        };
        let f = parse(&out).unwrap_or_else(|e| panic!("{shell}: {e}"));
        assert_eq!(
            f["user_uid"],
            sh_out("id -u").parse::<i64>().unwrap(),
            "{shell}"
        );
    }
}

#[test]
fn live_run_with_busybox_applets_only() {
    // Only busybox's own applets on PATH, run by busybox sh: the
    // "busybox-ish" target. Skipped where busybox is not installed.
    let busybox = std::path::Path::new("/bin/busybox");
    if !busybox.exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        std::os::unix::fs::symlink(busybox, dir.path().join(applet)).unwrap();
    }
    let out = Command::new(busybox)
        .args(["sh", "-c", gather_script()])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    let f = parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(f["user_uid"], sh_out("id -u").parse::<i64>().unwrap());
    assert_eq!(f["machine"], sh_out("uname -m").as_str());
    assert_eq!(f["date_time"]["iso8601_micro"].as_str().unwrap().len(), 27);
    assert!(f["processor_vcpus"].as_i64().unwrap() >= 1);
}

/// The local facts the request's script finds, run with `env`.
fn local_facts_of(request: &super::Request, env: &[(&str, &str)]) -> Value {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(request.script())
        .envs(env.iter().copied())
        .output()
        .expect("run the fact script");
    let facts = parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
    facts["ansible_local"].clone()
}

#[test]
fn fact_path_is_expanded_on_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let odd = dir.path().join("it's $here");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("a.fact"), "{\"n\": 1}\n").unwrap();
    let want = json!({"a": {"n": 1}});
    let with = |path: &str| super::Request {
        fact_path: Some(path.to_string()),
        ..super::Request::default()
    };
    // Quoted as it is: a quote, a space and an unset `$here` stay text.
    let literal = format!("{root}/it's $here");
    assert_eq!(local_facts_of(&with(&literal), &[]), want);
    // `~` is the target's home, `$VAR` and `${VAR}` its variables.
    assert_eq!(
        local_facts_of(&with("~/it's $here"), &[("HOME", root)]),
        want
    );
    assert_eq!(
        local_facts_of(&with("${TOP}/it's $here"), &[("TOP", root)]),
        want
    );
    assert_eq!(
        local_facts_of(&with("$TOP/it's $here"), &[("TOP", root)]),
        want
    );
    // A directory that does not exist: no local facts.
    assert_eq!(
        local_facts_of(&with("/nonexistent/facts.d"), &[]),
        json!({})
    );
}

#[test]
fn a_request_selects_names_and_filters() {
    let f = parse(&run("/bin/sh", &[], false)).unwrap();
    let request = super::Request {
        gather_subset: vec!["!all".into(), "!min".into(), "virtual".into()],
        filter: vec!["virtualization_t*".into(), "gather_subset".into()],
        ..super::Request::default()
    };
    let got = request.select(f.clone()).unwrap();
    let keys: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "ansible_virtualization_tech_guest",
            "ansible_virtualization_tech_host",
            "ansible_virtualization_type",
            "gather_subset"
        ]
    );
    assert_eq!(got["gather_subset"], json!(["!all", "!min", "virtual"]));
    // Everything, named as setup names it; no `_ansible_` mark.
    let all = super::Request::default().select(f).unwrap();
    assert_eq!(all["gather_subset"], json!(["all"]));
    assert_eq!(all["module_setup"], json!(true));
    assert!(all.contains_key("ansible_hostname") && all.contains_key("ansible_local"));
    assert!(!all.keys().any(|k| k.starts_with('_')));
    let bad = super::Request {
        gather_subset: vec!["nope".into()],
        ..super::Request::default()
    };
    assert!(
        bad.select(crate::vars::Vars::new())
            .unwrap_err()
            .starts_with("Bad subset 'nope'")
    );
}
