//! Platform, user, environment, init system, package manager and assorted
//! small facts.

use serde_json::{Map, Value, json};

use super::FactsError;
use super::raw::{Line, Raw, malformed, shell_assignments};
use crate::vars::Vars;

/// What later collectors need from `uname`.
#[derive(Debug, Default)]
pub(super) struct Platform {
    /// `architecture` fact (`x86_64`, `i386`, `aarch64`, ...).
    pub architecture: String,
}

/// `system`, `kernel`, `kernel_version`, `machine`, `architecture`,
/// `nodename`, `hostname`, `fqdn`, `domain`.
pub(super) fn platform(raw: &Raw<'_>, facts: &mut Vars) -> Result<Platform, FactsError> {
    let (mut system, mut nodename, mut kernel, mut kernel_version, mut machine) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    if let Some(line) = raw
        .section("uname")
        .first()
        .filter(|l| !l.text.trim().is_empty())
    {
        // `uname -s -n -r -v -m`: the version (-v) contains spaces, the
        // others do not.
        let text = line.text.trim();
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() < 4 {
            return Err(malformed(
                line,
                "uname",
                "expected `SYSTEM NODENAME RELEASE VERSION MACHINE`",
            ));
        }
        system = words[0].to_owned();
        nodename = words[1].to_owned();
        kernel = words[2].to_owned();
        machine = words[words.len() - 1].to_owned();
        let after_release = nth_word_end(text, 3);
        let before_machine = text.len() - machine.len();
        if after_release < before_machine {
            kernel_version = text[after_release..before_machine].trim().to_owned();
        }
    }
    let architecture = if is_i386(&machine) {
        "i386".to_owned()
    } else {
        machine.clone()
    };
    let hostname = nodename.split('.').next().unwrap_or_default().to_owned();
    // `ADDRESS NAME ALIAS...` (getent): the first name with a dot, else
    // the name (Python's getfqdn); one word: `hostname -f`.
    let fqdn = match raw
        .first("fqdn")
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
    {
        Some(words) if words.len() == 1 => words[0].to_owned(),
        Some(words) if words.len() > 1 => words[1..]
            .iter()
            .find(|n| n.contains('.'))
            .unwrap_or(&words[1])
            .to_string(),
        _ => nodename.clone(),
    };
    let domain = fqdn
        .split_once('.')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();

    facts.insert("system".into(), json!(system));
    facts.insert("kernel".into(), json!(kernel));
    facts.insert("kernel_version".into(), json!(kernel_version));
    facts.insert("machine".into(), json!(machine));
    facts.insert("architecture".into(), json!(architecture));
    let bits = userspace_bits(raw, &machine);
    facts.insert("userspace_bits".into(), json!(bits));
    // Ansible names the userspace only on x86 machines.
    if machine == "x86_64" || is_i386(&machine) {
        let arch = if bits == "64" { "x86_64" } else { "i386" };
        facts.insert("userspace_architecture".into(), json!(arch));
    }
    facts.insert("nodename".into(), json!(nodename));
    facts.insert("hostname".into(), json!(hostname));
    facts.insert("fqdn".into(), json!(fqdn));
    facts.insert("domain".into(), json!(domain));
    Ok(Platform { architecture })
}

/// `userspace_bits`: the word size of the programs the target runs (Ansible
/// asks its Python). A process's stack starts above 4 GiB exactly when it
/// is 64-bit: `startstack` (field 28) of /proc/self/stat as `grep` read it;
/// without it, the width the machine name says.
fn userspace_bits(raw: &Raw<'_>, machine: &str) -> &'static str {
    let start_stack = raw
        .file_first("/proc/self/stat")
        .and_then(|l| l.rsplit_once(')'))
        .and_then(|(_, rest)| rest.split_whitespace().nth(25)?.parse::<u64>().ok())
        .filter(|&s| s > 0);
    let wide = match start_stack {
        Some(s) => s > u64::from(u32::MAX),
        None => machine.contains("64") || machine == "s390x",
    };
    if wide { "64" } else { "32" }
}

/// Byte offset just past the `n`-th whitespace-separated word of `text`.
fn nth_word_end(text: &str, n: usize) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                count += 1;
                if count == n {
                    return i;
                }
            }
            in_word = false;
        } else {
            in_word = true;
        }
    }
    text.len()
}

fn is_i386(machine: &str) -> bool {
    let b = machine.as_bytes();
    b.len() == 4 && b[0] == b'i' && (b'3'..=b'6').contains(&b[1]) && &b[2..] == b"86"
}

/// `user_id`, `user_uid`, `user_gid`, `user_gecos`, `user_dir`,
/// `user_shell`, `real_user_id`, `effective_user_id`, `real_group_id`,
/// `effective_group_id`.
pub(super) fn user(raw: &Raw<'_>, facts: &mut Vars) -> Result<(), FactsError> {
    let id_line = raw
        .section("id")
        .first()
        .copied()
        .filter(|l| !l.text.trim().is_empty());
    let (mut uid, mut gid, mut euid, mut egid, mut name) = (None, None, None, None, None);
    if let Some(line) = id_line {
        // `uid=1000(alice) gid=1000(alice) [euid=0(root)] groups=...`
        let text = line.text.trim();
        uid = id_field(text, "uid=");
        gid = id_field(text, "gid=");
        euid = id_field(text, "euid=");
        egid = id_field(text, "egid=");
        if uid.is_none() || gid.is_none() {
            return Err(malformed(
                &line,
                "id",
                "expected `uid=N(NAME) gid=N(NAME) ...`",
            ));
        }
        name = uid.as_ref().and_then(|(_, n)| n.clone());
    }
    let passwd: Vec<&str> = raw
        .first("passwd")
        .map(|p| p.split(':').collect())
        .unwrap_or_default();
    let pw = |i: usize| passwd.get(i).map(|s| (*s).to_owned());
    let env = facts.get("env").and_then(Value::as_object);
    let env_var = |k: &str| {
        env.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };

    // Ansible uses getpass.getuser(): the login environment first, then the
    // password database.
    let user_id = ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|k| env_var(k).map(str::to_owned))
        .or(name)
        .or_else(|| pw(0))
        .unwrap_or_default();
    let uid_n = uid.map(|(n, _)| n);
    let gid_n = gid.map(|(n, _)| n);
    let dir = pw(5)
        .or_else(|| env_var("HOME").map(str::to_owned))
        .unwrap_or_default();
    let shell = pw(6)
        .or_else(|| env_var("SHELL").map(str::to_owned))
        .unwrap_or_default();

    facts.insert("user_id".into(), json!(user_id));
    facts.insert("user_uid".into(), json!(uid_n));
    facts.insert("user_gid".into(), json!(gid_n));
    facts.insert("user_gecos".into(), json!(pw(4).unwrap_or_default()));
    facts.insert("user_dir".into(), json!(dir));
    facts.insert("user_shell".into(), json!(shell));
    facts.insert("real_user_id".into(), json!(uid_n));
    facts.insert(
        "effective_user_id".into(),
        json!(euid.map(|(n, _)| n).or(uid_n)),
    );
    facts.insert("real_group_id".into(), json!(gid_n));
    facts.insert(
        "effective_group_id".into(),
        json!(egid.map(|(n, _)| n).or(gid_n)),
    );
    Ok(())
}

/// Finds `key` (`uid=`, `gid=`, ...) at a word start in `id` output and
/// returns its number and optional `(name)`.
fn id_field(text: &str, key: &str) -> Option<(u64, Option<String>)> {
    let mut start = 0;
    let pos = loop {
        let found = text[start..].find(key)? + start;
        if found == 0 || text.as_bytes()[found - 1] == b' ' {
            break found + key.len();
        }
        start = found + key.len();
    };
    let rest = &text[pos..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let n = rest[..digits].parse().ok()?;
    let name = rest[digits..]
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map(|(n, _)| n.to_owned());
    Some((n, name))
}

/// `env`: the remote login environment, from the hex dump of
/// `/proc/$$/environ` or, failing that, plain `env` output.
pub(super) fn environment(raw: &Raw<'_>, facts: &mut Vars) -> Result<(), FactsError> {
    let mut env = Map::new();
    let hex = raw.section("env_hex");
    if !hex.is_empty() {
        let bytes = decode_hex(hex)?;
        for entry in bytes.split(|&b| b == 0) {
            let entry = String::from_utf8_lossy(entry);
            if let Some((k, v)) = entry.split_once('=')
                && !k.is_empty()
            {
                env.insert(k.to_owned(), json!(v));
            }
        }
    } else {
        // `env` output: a line without `=` continues the previous value.
        let mut last: Option<String> = None;
        for line in raw.section("env") {
            match line.text.split_once('=') {
                Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
                    env.insert(k.to_owned(), json!(v));
                    last = Some(k.to_owned());
                }
                _ => {
                    if let Some(k) = &last
                        && let Some(Value::String(v)) = env.get_mut(k)
                    {
                        v.push('\n');
                        v.push_str(line.text);
                    }
                }
            }
        }
    }
    facts.insert("env".into(), Value::Object(env));
    Ok(())
}

/// Decodes `od -An -tx1` output: whitespace-separated two-digit hex bytes.
fn decode_hex(lines: &[Line<'_>]) -> Result<Vec<u8>, FactsError> {
    let mut out = Vec::new();
    for line in lines {
        for word in line.text.split_whitespace() {
            let byte = (word.len() == 2)
                .then(|| u8::from_str_radix(word, 16).ok())
                .flatten()
                .ok_or_else(|| malformed(line, "env_hex", format!("`{word}` is not a hex byte")))?;
            out.push(byte);
        }
    }
    Ok(out)
}

/// `dns`, `cmdline`, `proc_cmdline`, `selinux`, `apparmor`, `fips`,
/// `machine_id`, `uptime_seconds`, `loadavg`.
pub(super) fn misc(raw: &Raw<'_>, facts: &mut Vars) {
    facts.insert(
        "dns".into(),
        Value::Object(dns(raw.file("/etc/resolv.conf"))),
    );

    let cmdline = raw.file_first("/proc/cmdline").unwrap_or_default();
    let (simple, multi) = parse_cmdline(cmdline);
    facts.insert("cmdline".into(), Value::Object(simple));
    facts.insert("proc_cmdline".into(), Value::Object(multi));

    let selinux = if raw.exists("/sys/fs/selinux/enforce") {
        let config = shell_assignments(raw.file("/etc/selinux/config"));
        let mode = match raw.file_first("/sys/fs/selinux/enforce") {
            Some("1") => "enforcing",
            Some(_) => "permissive",
            None => "unknown",
        };
        let mut s = Map::new();
        s.insert("status".into(), json!("enabled"));
        s.insert("mode".into(), json!(mode));
        if let Some(c) = config.get("SELINUX") {
            s.insert("config_mode".into(), json!(c));
        }
        if let Some(t) = config.get("SELINUXTYPE") {
            s.insert("type".into(), json!(t));
        }
        if let Some(p) = raw
            .file_first("/sys/fs/selinux/policyvers")
            .and_then(|p| p.parse::<i64>().ok())
        {
            s.insert("policyvers".into(), json!(p));
        }
        Value::Object(s)
    } else {
        json!({"status": "disabled"})
    };
    facts.insert("selinux".into(), selinux);
    // The SELinux state is read from /sys, as if Ansible's Python bindings
    // were there (what Ansible says on a host that has them).
    facts.insert("selinux_python_present".into(), json!(true));
    let apparmor = if raw.exists("/sys/kernel/security/apparmor") {
        "enabled"
    } else {
        "disabled"
    };
    facts.insert("apparmor".into(), json!({ "status": apparmor }));
    facts.insert(
        "fips".into(),
        json!(raw.file_first("/proc/sys/crypto/fips_enabled") == Some("1")),
    );
    if let Some(id) = raw.file_first("/etc/machine-id") {
        facts.insert("machine_id".into(), json!(id));
    }
    if let Some(up) = raw
        .file_first("/proc/uptime")
        .and_then(|u| u.split_whitespace().next())
    {
        let secs = up.split('.').next().and_then(|s| s.parse::<i64>().ok());
        if let Some(secs) = secs {
            facts.insert("uptime_seconds".into(), json!(secs));
        }
    }
    if let Some(load) = raw.file_first("/proc/loadavg") {
        let v: Vec<f64> = load
            .split_whitespace()
            .take(3)
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [one, five, fifteen] = v[..] {
            facts.insert(
                "loadavg".into(),
                json!({"1m": one, "5m": five, "15m": fifteen}),
            );
        }
    }
}

/// Ansible's `dns` fact from resolv.conf.
fn dns(lines: &[Line<'_>]) -> Map<String, Value> {
    let mut dns = Map::new();
    for line in lines {
        let mut words = line.text.split_whitespace();
        let Some(key) = words.next() else { continue };
        if key.starts_with('#') || key.starts_with(';') {
            continue;
        }
        let list = |dns: &mut Map<String, Value>, k: &str, items: Vec<&str>| {
            let entry = dns.entry(k.to_owned()).or_insert_with(|| json!([]));
            if let Value::Array(a) = entry {
                a.extend(items.into_iter().map(|i| json!(i)));
            }
        };
        match key {
            "nameserver" => list(&mut dns, "nameservers", words.take(1).collect()),
            "domain" => {
                if let Some(d) = words.next() {
                    dns.insert("domain".into(), json!(d));
                }
            }
            "search" => {
                dns.insert("search".into(), json!([]));
                list(&mut dns, "search", words.collect());
            }
            "sortlist" => list(&mut dns, "sortlist", words.collect()),
            "options" => {
                let entry = dns.entry("options").or_insert_with(|| json!({}));
                if let Value::Object(o) = entry {
                    for opt in words {
                        match opt.split_once(':') {
                            Some((k, v)) => o.insert(k.to_owned(), json!(v)),
                            None => o.insert(opt.to_owned(), json!(true)),
                        };
                    }
                }
            }
            _ => {}
        }
    }
    dns
}

/// Splits the kernel command line like Python's `shlex.split(posix=False)`
/// (quotes kept) and builds `cmdline` (last value wins) and `proc_cmdline`
/// (repeated keys become lists).
fn parse_cmdline(cmdline: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in cmdline.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c.is_whitespace() && !quoted {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let (mut simple, mut multi) = (Map::new(), Map::new());
    for word in words {
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k.to_owned(), json!(v)),
            None => (word.clone(), json!(true)),
        };
        simple.insert(k.clone(), v.clone());
        match multi.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => *existing = json!([existing.take(), v]),
            None => {
                multi.insert(k, v);
            }
        }
    }
    (simple, multi)
}

/// `service_mgr` (Ansible's algorithm: PID 1's name, else probes) and
/// `pkg_mgr`.
pub(super) fn service_and_packages(raw: &Raw<'_>, facts: &mut Vars) {
    let proc_1 = raw
        .file_first("/proc/1/comm")
        .or_else(|| raw.exists_with_prefix("init:").next())
        .map(|p| p.rsplit('/').next().unwrap_or(p).trim())
        .filter(|p| !p.is_empty() && *p != "init" && !p.ends_with("sh"));
    let systemctl = raw.exists("cmd:systemctl");
    let service_mgr = match proc_1 {
        Some("procd") => "openwrt_init".to_owned(),
        Some("runit-init") => "runit".to_owned(),
        Some("svscan") => "svc".to_owned(),
        Some("openrc-init") => "openrc".to_owned(),
        Some(other) => other.to_owned(),
        None if systemctl
            && ["/run/systemd/system", "/dev/.run/systemd", "/dev/.systemd"]
                .iter()
                .any(|p| raw.exists(p)) =>
        {
            "systemd".to_owned()
        }
        None if raw.exists("cmd:initctl") && raw.exists("/etc/init") => "upstart".to_owned(),
        None if raw.exists("/sbin/openrc") => "openrc".to_owned(),
        None if systemctl
            && raw
                .exists_with_prefix("init:")
                .any(|t| t.ends_with("systemd")) =>
        {
            "systemd".to_owned()
        }
        None if raw.exists("/etc/init.d") => "sysvinit".to_owned(),
        None => "service".to_owned(),
    };
    facts.insert("service_mgr".into(), json!(service_mgr));

    let pkg_mgr = [
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/dnf5", "dnf5"),
        ("/usr/bin/dnf", "dnf"),
        ("/usr/bin/yum", "yum"),
        ("/sbin/apk", "apk"),
        ("/usr/bin/pacman", "pacman"),
        ("/usr/bin/zypper", "zypper"),
        ("/usr/bin/emerge", "portage"),
        ("/usr/bin/xbps-install", "xbps"),
    ]
    .iter()
    .find(|(path, _)| raw.exists(path))
    .map_or("unknown", |(_, name)| name);
    facts.insert("pkg_mgr".into(), json!(pkg_mgr));
}

/// `is_chroot`, as Ansible decides it: `debian_chroot` in the environment,
/// else `/` versus `/proc/1/root` (readable by root), else whether `/` has
/// its filesystem's root inode number.
pub(super) fn chroot(raw: &Raw<'_>, facts: &mut Vars) {
    let env_chroot = facts
        .get("env")
        .and_then(|e| e.get("debian_chroot"))
        .is_some();
    let stats: Vec<&str> = raw.section("stat").iter().map(|l| l.text.trim()).collect();
    let is_chroot = if env_chroot {
        Some(true)
    } else if let ["same"] = stats[..] {
        Some(false)
    } else if let ["differ"] = stats[..] {
        Some(true)
    } else if let [root, init_root] = stats[..] {
        Some(root != init_root)
    } else if let [root] = stats[..] {
        let root_fstype = raw.file("/proc/mounts").iter().rev().find_map(|l| {
            let mut w = l.text.split_whitespace();
            let (_, mnt, fstype) = (w.next(), w.next()?, w.next()?);
            (mnt == "/").then_some(fstype)
        });
        let root_ino = match root_fstype {
            Some("btrfs") => "256",
            Some("xfs") => "128",
            _ => "2",
        };
        root.split_once(':').map(|(_, ino)| ino != root_ino)
    } else {
        None
    };
    if let Some(c) = is_chroot {
        facts.insert("is_chroot".into(), json!(c));
    }
}

/// `python`: the target's Python (`python3`, else `python`, on `PATH`), as
/// Ansible reports the interpreter that ran its fact module: `executable`,
/// `type`, `has_sslcontext`, `version` and `version_info`. No Python, no fact.
pub(super) fn python(raw: &Raw<'_>, facts: &mut Vars) {
    let lines: Vec<&str> = raw
        .section("python")
        .iter()
        .map(|l| l.text.trim())
        .collect();
    let [executable, version, rest @ ..] = lines.as_slice() else {
        return;
    };
    // `Python 3.11.2`, `Python 3.13.0rc1`, `Python 3.9.18 (...)` + `[PyPy ...]`.
    static VERSION: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^Python (\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?").ok()
    });
    let Some(c) = VERSION.as_ref().and_then(|re| re.captures(version)) else {
        return;
    };
    let num = |i: usize| {
        c.get(i)
            .and_then(|m| m.as_str().parse::<u64>().ok())
            .map_or(Value::from(0), Value::from)
    };
    let level = match c.get(4).map(|m| m.as_str()) {
        Some("a") => "alpha",
        Some("b") => "beta",
        Some("rc") => "candidate",
        _ => "final",
    };
    let pypy = std::iter::once(version)
        .chain(rest)
        .any(|l| l.contains("PyPy"));
    let (major, minor, micro, serial) = (num(1), num(2), num(3), num(5));
    // `platform.python_version()`: "3.11.2", "3.13.0rc1".
    let short = c
        .get(0)
        .map_or("", |m| m.as_str())
        .trim_start_matches("Python ");
    facts.insert("python_version".into(), json!(short));
    facts.insert(
        "python".into(),
        json!({
            "executable": executable,
            "type": if pypy { "PyPy" } else { "CPython" },
            // Every Python 3 build with its ssl module has it; asking would
            // start the interpreter.
            "has_sslcontext": true,
            "version": {
                "major": major,
                "minor": minor,
                "micro": micro,
                "releaselevel": level,
                "serial": serial,
            },
            "version_info": [major, minor, micro, level, serial],
        }),
    );
}

/// `ssh_host_key_<type>_public` and `..._keytype` for each host key in
/// /etc/ssh, `hostnqn`, `iscsi_iqn`, `fibre_channel_wwn`, and `lvm` as
/// `N/A` when LVM's tools are missing (what Ansible says without them).
pub(super) fn identity(raw: &Raw<'_>, facts: &mut Vars) {
    for kind in ["dsa", "rsa", "ecdsa", "ed25519"] {
        let Some(line) = raw.file_first(&format!("/etc/ssh/ssh_host_{kind}_key.pub")) else {
            continue;
        };
        let mut words = line.split_whitespace();
        if let (Some(keytype), Some(key)) = (words.next(), words.next()) {
            facts.insert(format!("ssh_host_key_{kind}_public"), json!(key));
            facts.insert(
                format!("ssh_host_key_{kind}_public_keytype"),
                json!(keytype),
            );
        }
    }
    facts.insert(
        "hostnqn".into(),
        json!(raw.file_first("/etc/nvme/hostnqn").unwrap_or_default()),
    );
    let iqn = raw
        .file("/etc/iscsi/initiatorname.iscsi")
        .iter()
        .find_map(|l| l.text.trim().strip_prefix("InitiatorName="))
        .unwrap_or_default();
    facts.insert("iscsi_iqn".into(), json!(iqn.trim()));
    let wwn: Vec<Value> = raw
        .files_matching("/sys/class/fc_host/", "/port_name")
        .into_iter()
        .filter_map(|l| l.trim().strip_prefix("0x").map(|w| json!(w)))
        .collect();
    facts.insert("fibre_channel_wwn".into(), Value::Array(wwn));
    if !raw.exists("cmd:vgs") {
        facts.insert("lvm".into(), json!("N/A"));
    }
}
