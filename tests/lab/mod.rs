//! Test harness for the SSH tests: a lab of real OpenSSH hosts (`lab/lab`),
//! the real `tend` binary run against it, and direct access to each host's
//! state (its own mount namespace, entered with `nsenter`), never through tend.
//!
//! The lab needs root (network, mount and UTS namespaces) and sshd. Without
//! them a test prints why and returns (skips); under CI (`CI` set) a missing
//! sshd is a failure, since `.ci/run` installs it.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lab script.
pub fn lab_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lab/lab")
}

/// Why the lab cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root {
        return Some("the lab's namespaced hosts need root".into());
    }
    for bin in [
        "/usr/sbin/sshd",
        "/usr/bin/ssh",
        "/usr/bin/sudo",
        "/usr/bin/nsenter",
    ] {
        if !Path::new(bin).exists() {
            let why = format!("{bin} is missing (apt-get install -y openssh-server sudo iproute2)");
            if std::env::var_os("CI").is_some() {
                panic!("CI must install the lab's packages: {why}");
            }
            return Some(why);
        }
    }
    None
}

/// Skips the calling test (returns) when the lab cannot run, saying why.
#[macro_export]
macro_rules! lab_or_skip {
    ($n:expr) => {
        match $crate::lab::unavailable() {
            Some(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
            None => $crate::lab::Lab::up($n),
        }
    };
}

/// A running lab; torn down on drop.
pub struct Lab {
    dir: tempfile::TempDir,
    /// `DIR/inventory.ini`.
    pub inventory: PathBuf,
    /// Number of hosts.
    pub n: usize,
}

/// A run and what it cost each host (index 0 = host1).
pub struct Cost {
    /// The run (with `-vvv` output).
    pub run: Run,
    /// Requests sent: one round trip each.
    pub requests: Vec<usize>,
    /// SSH channels opened.
    pub channels: Vec<usize>,
}

/// What a finished command left.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The PLAY RECAP counters of one host, e.g. `changed` → 0.
    pub fn recap(&self, host: &str, counter: &str) -> usize {
        let line = self
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(host) && l.contains(" : "))
            .unwrap_or_else(|| panic!("no recap line for {host}:\n{}", self.stdout));
        let needle = format!("{counter}=");
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&needle))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {counter} in `{line}`"))
    }

    /// Asserts success with a readable dump.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn wait_output(mut child: std::process::Child, timeout: Duration) -> Run {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    assert!(
        status.is_some(),
        "timed out after {timeout:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    Run {
        code: status.unwrap().code(),
        stdout,
        stderr,
    }
}

impl Lab {
    /// Starts `n` hosts.
    pub fn up(n: usize) -> Lab {
        Lab::up_with_latency(n, 0)
    }

    /// Starts `n` hosts behind the lab's delaying relay: every byte to and
    /// from a host is delayed `ms` milliseconds each way (0: no relay).
    pub fn up_with_latency(n: usize, ms: u64) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("tend-lab-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let started = Instant::now();
        let out = Command::new(lab_script())
            .arg("up")
            .arg(n.to_string())
            .arg(dir.path())
            .arg(format!("--latency-ms={ms}"))
            .stdin(Stdio::null())
            .output()
            .expect("run lab/lab");
        assert!(
            out.status.success(),
            "lab up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("lab: {n} hosts up in {:?}", started.elapsed());
        let inventory = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(
            inventory.exists(),
            "no inventory at {}",
            inventory.display()
        );
        Lab { dir, inventory, n }
    }

    /// The lab directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the real `tend` binary inside the lab's network namespace.
    pub fn tend_in(&self, cwd: &Path, args: &[&str]) -> Run {
        let child = Command::new(lab_script())
            .arg("run")
            .arg(self.dir())
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tend"))
            .args(args)
            .current_dir(cwd)
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_HOST_KEY_CHECKING")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tend");
        wait_output(child, Duration::from_secs(120))
    }

    /// Ansible's own `ansible-playbook` (`/opt/ansible-ref`, or
    /// `$ANSIBLE_PLAYBOOK`) with the lab inventory, from the playbook's
    /// directory; `None` when it is not installed.
    pub fn ansible_playbook(&self, playbook: &Path, extra: &[&str]) -> Option<Run> {
        let bin = std::env::var("ANSIBLE_PLAYBOOK")
            .unwrap_or_else(|_| "/opt/ansible-ref/bin/ansible-playbook".into());
        if !Path::new(&bin).exists() {
            return None;
        }
        let child = Command::new(lab_script())
            .arg("run")
            .arg(self.dir())
            .arg("--")
            .arg(&bin)
            .arg("-i")
            .arg(&self.inventory)
            .arg(playbook)
            .args(extra)
            .current_dir(playbook.parent().unwrap())
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_STDOUT_CALLBACK", "default")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
            // Ansible's SSH masters in this lab's own directory: in the
            // shared ~/.ansible/cp, another lab's master for the same
            // address (other labs reuse the addresses) would be used.
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", self.dir().join("cp"))
            .env_remove("ANSIBLE_HOST_KEY_CHECKING")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ansible-playbook");
        Some(wait_output(child, Duration::from_secs(300)))
    }

    /// `tend playbook -i <lab inventory> <playbook> <extra...>`, from the
    /// playbook's directory.
    pub fn playbook(&self, playbook: &Path, extra: &[&str]) -> Run {
        let inv = self.inventory.to_string_lossy().into_owned();
        let pb = playbook.to_string_lossy().into_owned();
        let mut args = vec!["playbook", "-i", &inv, &pb];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let run = self.tend_in(playbook.parent().unwrap(), &args);
        eprintln!(
            "tend {extra:?} on {} hosts: {:?}",
            self.n,
            started.elapsed()
        );
        run
    }

    /// Like [`Lab::playbook`] with environment variables set for tend.
    pub fn playbook_env(&self, playbook: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(lab_script());
        cmd.arg("run")
            .arg(self.dir())
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tend"))
            .arg("playbook")
            .arg("-i")
            .arg(&self.inventory)
            .arg(playbook)
            .args(extra)
            .current_dir(playbook.parent().unwrap())
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_HOST_KEY_CHECKING")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        wait_output(cmd.spawn().expect("run tend"), Duration::from_secs(120))
    }

    /// Starts tend in the background (for faults injected mid-run).
    pub fn playbook_spawn(&self, playbook: &Path, extra: &[&str]) -> std::process::Child {
        Command::new(lab_script())
            .arg("run")
            .arg(self.dir())
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tend"))
            .arg("playbook")
            .arg("-i")
            .arg(&self.inventory)
            .arg(playbook)
            .args(extra)
            .current_dir(playbook.parent().unwrap())
            .env("NO_COLOR", "1")
            .env_remove("ANSIBLE_HOST_KEY_CHECKING")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tend")
    }

    /// Waits for a spawned tend.
    pub fn finish(child: std::process::Child) -> Run {
        wait_output(child, Duration::from_secs(120))
    }

    /// Runs `sh -c script` as root on host `i` (1-based), directly in its
    /// namespaces: the host's real state, not tend's view of it.
    pub fn sh(&self, i: usize, script: &str) -> Run {
        let child = Command::new(lab_script())
            .arg("exec")
            .arg(self.dir())
            .arg(i.to_string())
            .args(["--", "/bin/sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lab exec");
        wait_output(child, Duration::from_secs(30))
    }

    /// stdout of [`Lab::sh`], asserting it succeeded.
    pub fn sh_ok(&self, i: usize, script: &str) -> String {
        let r = self.sh(i, script);
        assert_eq!(r.code, Some(0), "host{i}: `{script}` failed: {r:?}");
        r.stdout
    }

    /// Re-runs test `name` of the current test binary inside the lab's
    /// network namespace, where the hosts are reachable, with [`IN_LAB`]
    /// naming the lab directory; the re-run's output is echoed and it must
    /// pass. For tests that drive tend's library (a connection) directly.
    pub fn rerun_inside(&self, name: &str, timeout: Duration) {
        let exe = std::env::current_exe().expect("test binary");
        let child = Command::new(lab_script())
            .arg("run")
            .arg(self.dir())
            .arg("--")
            .arg(exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(IN_LAB, self.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("re-run the test in the lab");
        let run = wait_output(child, timeout);
        eprintln!("--- {name} inside the lab\n{}{}", run.stdout, run.stderr);
        assert!(
            run.code == Some(0) && run.stdout.contains("1 passed"),
            "{name} failed inside the lab ({:?})",
            run.code
        );
    }

    /// Kills host `i` (its sshd and every session).
    pub fn stop(&self, i: usize) {
        let st = Command::new(lab_script())
            .arg("stop")
            .arg(self.dir())
            .arg(i.to_string())
            .status()
            .expect("lab stop");
        assert!(st.success());
    }

    /// SSH sessions (channels) each host has served, from sshd's logs.
    pub fn sessions(&self) -> Vec<usize> {
        let out = Command::new(lab_script())
            .arg("sessions")
            .arg(self.dir())
            .output()
            .expect("lab sessions");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
            .collect()
    }

    /// SSH logins each host has accepted for `user`, from sshd's logs.
    pub fn logins(&self, user: &str) -> Vec<usize> {
        let needle = format!("Accepted publickey for {user} ");
        (1..=self.n)
            .map(|i| {
                let log = self.dir().join(format!("hosts/{i}/sshd.log"));
                std::fs::read_to_string(log)
                    .unwrap_or_default()
                    .matches(&needle)
                    .count()
            })
            .collect()
    }

    /// Runs `playbook` with `-vvv` and counts what it cost each host: the
    /// requests tend sent (its `<hostN> EXEC` lines: one round trip each)
    /// and the SSH channels the host's sshd served.
    pub fn playbook_cost(&self, playbook: &Path, extra: &[&str]) -> Cost {
        let before = self.sessions();
        let mut args = extra.to_vec();
        args.push("-vvv");
        let run = self.playbook(playbook, &args);
        let after = self.sessions();
        let requests = (1..=self.n)
            .map(|i| run.stdout.matches(&format!("<host{i}> EXEC [")).count())
            .collect();
        let channels = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        Cost {
            run,
            requests,
            channels,
        }
    }

    /// Replaces host `i`'s key in the lab's known_hosts with a fresh one, as
    /// if the host had been reinstalled (or impersonated).
    pub fn forge_host_key(&self, i: usize) {
        let tmp = self.dir().join("forged_key");
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(tmp.with_extension("pub"));
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&tmp)
            .status()
            .expect("ssh-keygen");
        assert!(st.success());
        let forged = std::fs::read_to_string(self.dir().join("forged_key.pub")).unwrap();
        let forged: Vec<&str> = forged.split_whitespace().take(2).collect();
        let addr = std::fs::read_to_string(self.dir().join(format!("hosts/{i}/address")))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let kh = self.dir().join("known_hosts");
        let text = std::fs::read_to_string(&kh).unwrap();
        let mut found = false;
        let new: Vec<String> = text
            .lines()
            .map(|l| {
                if l.split_whitespace().next() == Some(addr.as_str()) {
                    found = true;
                    format!("{addr} {} {}", forged[0], forged[1])
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(found, "host{i} ({addr}) not in known_hosts");
        std::fs::write(&kh, new.join("\n") + "\n").unwrap();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(lab_script())
            .arg("down")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
    }
}

/// Set (to the lab directory) in a test re-run by [`Lab::rerun_inside`].
pub const IN_LAB: &str = "TEND_TEST_IN_LAB";

/// In a test re-run by [`Lab::rerun_inside`]: the lab's directory.
pub fn inside() -> Option<PathBuf> {
    std::env::var_os(IN_LAB).map(PathBuf::from)
}

/// The inventory variables of host `i` (1-based) of the lab in `dir`, as
/// `lab/lab up` writes them: for building a connection directly.
pub fn host_vars(dir: &Path, i: usize) -> serde_json::Map<String, serde_json::Value> {
    let address = std::fs::read_to_string(dir.join(format!("hosts/{i}/address")))
        .unwrap_or_else(|e| panic!("no host {i} in {}: {e}", dir.display()));
    let mut words = address.split_whitespace();
    let (host, port) = (words.next().unwrap(), words.next().unwrap());
    let mut vars = serde_json::Map::new();
    for (k, v) in [
        ("ansible_host", host.to_string()),
        ("ansible_port", port.to_string()),
        ("ansible_user", "deploy".to_string()),
        (
            "ansible_ssh_private_key_file",
            dir.join("client_key").display().to_string(),
        ),
        (
            "ansible_ssh_common_args",
            format!(
                "-o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes",
                dir.join("known_hosts").display()
            ),
        ),
    ] {
        vars.insert(k.into(), serde_json::Value::String(v));
    }
    vars
}

/// Writes `files` (relative path, content) under a fresh directory.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// sh for a host: a local apt repository of tiny packages built there
/// (reproducibly: the same bytes on every host) — `tendlib` 1.0, `tendapp`
/// 1.0 and 2.0 (depending on `tendlib`) in `/srv/repo` with its `Packages`
/// index, `tendlocal` 1.0 alone in `/srv/local` — and no other apt source
/// (the host's /etc and /var are its own overlays).
pub const APT_REPO_SETUP: &str = r#"set -e
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
mkdir -p /srv/build /srv/repo /srv/local
mk() { # name version depends dest
    d=/srv/build/$1_$2
    mkdir -p "$d/DEBIAN" "$d/usr/share/tendtest"
    printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: tend <tend@example.invalid>\n' "$1" "$2" >"$d/DEBIAN/control"
    if [ -n "$3" ]; then printf 'Depends: %s\n' "$3" >>"$d/DEBIAN/control"; fi
    printf 'Description: tend test package\n' >>"$d/DEBIAN/control"
    echo "$1 $2" >"$d/usr/share/tendtest/$1"
    # The same bytes on every host (apt prints the sizes).
    find "$d" -exec touch -h -d @1577836800 {} +
    SOURCE_DATE_EPOCH=1577836800 dpkg-deb --root-owner-group --build "$d" "$4/$1_$2_all.deb" >/dev/null
}
mk tendlib 1.0 "" /srv/repo
mk tendapp 1.0 tendlib /srv/repo
mk tendapp 2.0 tendlib /srv/repo
mk tendlocal 1.0 "" /srv/local
cd /srv/repo
for f in *.deb; do
    dpkg-deb -f "$f"
    printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
done >Packages
"#;

/// sh for a host: `tendd`, a tiny daemon with an `/etc/init.d` script
/// (start, stop, restart, reload, status; pid in `/run/tendd.pid`, each
/// action logged to `/run/tendd.log`).
pub const TENDD_SETUP: &str = r#"set -e
cat >/etc/init.d/tendd <<'EOS'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          tendd
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: tend test daemon
### END INIT INFO
PID=/run/tendd.pid
running() { [ -s $PID ] && kill -0 "$(cat $PID)" 2>/dev/null; }
case "$1" in
    start)
        running && exit 0
        setsid sh -c 'echo $$ >/run/tendd.pid; exec sleep 100000' </dev/null >/dev/null 2>&1 &
        i=0; while [ ! -s $PID ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        echo "start $2" >>/run/tendd.log ;;
    stop)
        if running; then kill "$(cat $PID)"; fi
        rm -f $PID; echo stop >>/run/tendd.log ;;
    restart) "$0" stop; "$0" start ;;
    reload) running || exit 7; echo reload >>/run/tendd.log ;;
    status) running || exit 3 ;;
    *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
EOS
chmod 755 /etc/init.d/tendd
"#;
