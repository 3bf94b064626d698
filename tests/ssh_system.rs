//! The system modules over SSH on lab hosts: cron, hostname, sysctl, find,
//! slurp, wait_for. Each converges, is verified on the host directly
//! (crontab -l, /etc/cron.d, hostname in the host's UTS namespace, sysctl
//! files and values, files created on the host, a port opened on the host),
//! re-runs with changed=0 at one SSH channel per task, and check mode
//! predicts without changing anything.

mod lab;

use lab::Lab;

/// A stand-in for Debian's `crontab` (the test machine has no cron): the
/// same command line (`-u USER`, `-l`, `-` or a file) and messages, storing
/// crontabs in /var/spool/cron/crontabs as Debian's does.
const CRONTAB_SHIM: &str = r#"#!/bin/sh
u=$(id -un); op=
while [ $# -gt 0 ]; do
  case $1 in -u) u=$2; shift 2 ;; -l) op=l; shift ;; -r) op=r; shift ;; *) op=i; f=$1; shift ;; esac
done
if [ "$(id -u)" != 0 ] && [ "$u" != "$(id -un)" ]; then echo "must be privileged to use -u" >&2; exit 1; fi
getent passwd "$u" >/dev/null || { echo "crontab: user \`$u' unknown" >&2; exit 1; }
d=/var/spool/cron/crontabs
case $op in
  l) [ -f "$d/$u" ] || { echo "no crontab for $u" >&2; exit 1; }; cat "$d/$u" ;;
  r) rm -f "$d/$u" ;;
  i) if [ "$f" = - ]; then cat > "$d/.$u.new"; else cat "$f" > "$d/.$u.new"; fi && mv "$d/.$u.new" "$d/$u" ;;
  *) echo "usage: crontab [-u user] {-l | -r | file}" >&2; exit 1 ;;
esac
"#;

fn install_crontab_shim(lab: &Lab, i: usize) {
    if lab.sh(i, "command -v crontab").code == Some(0) {
        return; // a real cron is installed
    }
    let script = format!(
        "mkdir -p /usr/local/bin /var/spool/cron/crontabs && chmod 1777 /var/spool/cron/crontabs && \
         cat > /usr/local/bin/crontab <<'EOF'\n{CRONTAB_SHIM}EOF\nchmod 755 /usr/local/bin/crontab"
    );
    lab.sh_ok(i, &script);
}

/// The start of a playbook for every lab host, as root, without facts.
const AS_ROOT: &str = "- hosts: lab\n  gather_facts: no\n  become: yes\n  tasks:\n";

fn write(dir: &std::path::Path, name: &str, content: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// Re-runs `play`: nothing changes on any host, each host gets exactly
/// `requests` round trips (one per task: the probe) on one SSH channel.
fn rerun_unchanged(lab: &Lab, play: &std::path::Path, requests: usize) {
    let lab::Cost {
        run,
        requests: sent,
        channels,
    } = lab.playbook_cost(play, &[]);
    run.assert_code(0);
    for i in 1..=lab.n {
        assert_eq!(
            run.recap(&format!("host{i}"), "changed"),
            0,
            "{}",
            run.stdout
        );
        assert_eq!(sent[i - 1], requests, "host{i}");
        assert_eq!(channels[i - 1], 1, "host{i}");
    }
}

/// Runs `play` with `extra` flags: it succeeds, host1 reports `changed`
/// changes, and the output holds all of `needles` (diff lines...).
fn runs(lab: &Lab, play: &std::path::Path, extra: &[&str], changed: usize, needles: &[&str]) {
    let run = lab.playbook(play, extra);
    run.assert_code(0);
    assert_eq!(run.recap("host1", "changed"), changed, "{}", run.stdout);
    for n in needles {
        assert!(run.stdout.contains(n), "no `{n}` in:\n{}", run.stdout);
    }
}

/// The run failed (exit 2) with all of `needles` in its output.
fn fails_with(run: &lab::Run, needles: &[&str]) {
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    for n in needles {
        assert!(run.stdout.contains(n), "no `{n}` in:\n{}", run.stdout);
    }
}

const CRON_PLAY: &str = r#"
- hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - name: Root job
      cron:
        name: nightly backup
        minute: "30"
        hour: "2"
        job: /usr/local/bin/backup > /dev/null 2>&1
    - name: Root PATH
      cron:
        name: PATH
        env: yes
        job: /usr/local/bin:/usr/bin:/bin
    - name: Deploy's job
      cron:
        name: cleanup
        special_time: hourly
        user: deploy
        job: rm -rf /tmp/deploy-cache
    - name: cron.d job
      cron:
        name: rotate
        user: root
        weekday: "1-5"
        hour: "4"
        minute: "0"
        job: /usr/sbin/logrotate /etc/logrotate.conf
        cron_file: tend-rotate
"#;

const ROOT_CRONTAB: &str = "PATH=\"/usr/local/bin:/usr/bin:/bin\"\n#Ansible: nightly backup\n30 2 * * * /usr/local/bin/backup > /dev/null 2>&1\n";

#[test]
fn cron_user_crontabs_and_cron_d() {
    let lab = lab_or_skip!(1);
    let dir = tempfile::tempdir().unwrap();
    let play = write(dir.path(), "cron.yml", CRON_PLAY);

    // Without a crontab command, the module says what is missing.
    if lab.sh(1, "command -v crontab").code != Some(0) {
        fails_with(
            &lab.playbook(&play, &[]),
            &["Failed to find required executable \\\"crontab\\\" on the target"],
        );
    }
    install_crontab_shim(&lab, 1);
    // The host's /var starts as this machine's: start from no crontab (on
    // the host's private overlay; the machine's own are untouched).
    lab.sh_ok(
        1,
        "rm -f /var/spool/cron/crontabs/* /etc/cron.d/tend-rotate",
    );

    // Check mode: four changes predicted, nothing written.
    runs(&lab, &play, &["--check"], 4, &[]);
    assert_eq!(lab.sh(1, "crontab -l").code, Some(1));
    assert_eq!(lab.sh(1, "test -e /etc/cron.d/tend-rotate").code, Some(1));

    runs(&lab, &play, &["--diff"], 4, &["+#Ansible: nightly backup"]);
    assert_eq!(lab.sh_ok(1, "crontab -l"), ROOT_CRONTAB);
    assert_eq!(
        lab.sh_ok(1, "crontab -l -u deploy"),
        "#Ansible: cleanup\n@hourly rm -rf /tmp/deploy-cache\n"
    );
    assert_eq!(
        lab.sh_ok(
            1,
            "cat /etc/cron.d/tend-rotate; stat -c '%a %U' /etc/cron.d/tend-rotate"
        ),
        "#Ansible: rotate\n0 4 * * 1-5 root /usr/sbin/logrotate /etc/logrotate.conf\n644 root\n"
    );

    // Re-run: nothing to do, one SSH channel per task.
    rerun_unchanged(&lab, &play, 4);

    // A manual edit: check mode shows exactly it, the run restores.
    lab.sh_ok(1, "crontab -l | sed 's/^30 2 /15 3 /' | crontab -");
    runs(
        &lab,
        &play,
        &["--check", "--diff"],
        1,
        &[
            "-15 3 * * * /usr/local/bin/backup",
            "+30 2 * * * /usr/local/bin/backup",
        ],
    );
    assert!(lab.sh_ok(1, "crontab -l").contains("15 3 * * *"));
    lab.playbook(&play, &[]).assert_code(0);
    assert_eq!(lab.sh_ok(1, "crontab -l"), ROOT_CRONTAB);

    // Removal: the last job of a cron file removes the file; a backup of
    // the user crontab is kept and reported.
    let rm = write(
        dir.path(),
        "rm.yml",
        r#"
- hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - cron: {name: rotate, cron_file: tend-rotate, state: absent}
    - cron: {name: nightly backup, state: absent, backup: yes}
      register: r
    - copy: {content: "{{ r.backup_file }}\n{{ r.jobs | to_json }}\n", dest: /tmp/cron-result}
      when: r.changed
"#,
    );
    let r = lab.playbook(&rm, &[]);
    r.assert_code(0);
    assert_eq!(lab.sh(1, "test -e /etc/cron.d/tend-rotate").code, Some(1));
    assert_eq!(
        lab.sh_ok(1, "crontab -l"),
        "PATH=\"/usr/local/bin:/usr/bin:/bin\"\n"
    );
    let result = lab.sh_ok(1, "cat /tmp/cron-result");
    let mut lines = result.lines();
    let backup = lines.next().unwrap();
    assert!(backup.starts_with("/tmp/crontab"), "{result}");
    assert_eq!(lines.next(), Some("[]"));
    assert_eq!(lab.sh_ok(1, &format!("cat {backup}")), ROOT_CRONTAB);
    // Nothing left to remove: no change, no backup kept.
    runs(&lab, &rm, &[], 0, &[]);
}

const HOSTNAME_PLAY: &str = r#"
- hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - hostname:
        name: "web-{{ inventory_hostname }}.example.test"
      register: h
    - copy:
        content: "{{ h.name }} {{ h.ansible_facts.ansible_hostname }} {{ h.ansible_facts.ansible_domain }}\n"
        dest: /tmp/hostname-result
"#;

#[test]
fn hostname_sets_the_running_and_permanent_name() {
    let lab = lab_or_skip!(2);
    let dir = tempfile::tempdir().unwrap();
    let play = write(dir.path(), "hostname.yml", HOSTNAME_PLAY);
    let state = "hostname; cat /etc/hostname";

    let check = lab.playbook(&play, &["--check", "--diff"]);
    check.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            2,
            "{}",
            check.stdout
        );
        assert_eq!(lab.sh_ok(i, "hostname"), format!("host{i}\n"));
    }
    assert!(
        check.stdout.contains("-hostname = host1") || check.stdout.contains("hostname = host1"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("hostname = web-host1.example.test"),
        "{}",
        check.stdout
    );

    let run = lab.playbook(&play, &[]);
    run.assert_code(0);
    for i in 1..=2 {
        let name = format!("web-host{i}.example.test");
        assert_eq!(lab.sh_ok(i, state), format!("{name}\n{name}\n"));
        assert_eq!(
            lab.sh_ok(i, "cat /tmp/hostname-result"),
            format!("{name} web-host{i} example.test\n")
        );
    }
    // The test machine's own name is untouched (own UTS namespace per host).
    let own = std::process::Command::new("hostname").output().unwrap();
    assert!(!String::from_utf8_lossy(&own.stdout).contains("web-host"));

    rerun_unchanged(&lab, &play, 2);

    // Only the running name drifted: check mode sees it, the run fixes it.
    lab.sh_ok(2, "hostname drifted");
    let drift = lab.playbook(&play, &["--check"]);
    assert_eq!(drift.recap("host1", "changed"), 0);
    assert_eq!(drift.recap("host2", "changed"), 1);
    assert_eq!(lab.sh_ok(2, "hostname"), "drifted\n");
    lab.playbook(&play, &[]).assert_code(0);
    assert_eq!(
        lab.sh_ok(2, state),
        "web-host2.example.test\nweb-host2.example.test\n"
    );

    // use: alpine sets the running name from the file (hostname -F).
    let alpine = write(
        dir.path(),
        "alpine.yml",
        &format!("{AS_ROOT}    - hostname: {{name: alp, use: alpine}}\n"),
    );
    runs(&lab, &alpine, &[], 1, &[]);
    assert_eq!(lab.sh_ok(1, state), "alp\nalp\n");
    runs(&lab, &alpine, &[], 0, &[]);
}

fn machine_sysctl(key: &str) -> String {
    let out = std::process::Command::new("sysctl")
        .args(["-n", key])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sysctl_sets_network_namespace_values_and_files() {
    let lab = lab_or_skip!(1);
    let dir = tempfile::tempdir().unwrap();
    // net.* values belong to the lab's network namespace; vm.swappiness is
    // global to the kernel, so it is only ever written to a file here.
    let play = write(
        dir.path(),
        "sysctl.yml",
        &format!(
            "{AS_ROOT}{}",
            r#"    - sysctl:
        name: net.ipv4.ip_forward
        value: "1"
        sysctl_set: yes
        sysctl_file: /etc/sysctl.d/90-tend.conf
    - sysctl:
        name: vm.swappiness
        value: "11"
        reload: no
"#
        ),
    );
    let machine_forward = machine_sysctl("net.ipv4.ip_forward");
    let machine_swap = machine_sysctl("vm.swappiness");
    let conf_before = lab.sh_ok(1, "cat /etc/sysctl.conf");
    assert_eq!(lab.sh_ok(1, "sysctl -n net.ipv4.ip_forward"), "0\n");

    runs(&lab, &play, &["--check"], 2, &[]);
    assert_eq!(lab.sh_ok(1, "sysctl -n net.ipv4.ip_forward"), "0\n");
    assert_eq!(
        lab.sh(1, "test -e /etc/sysctl.d/90-tend.conf").code,
        Some(1)
    );

    runs(&lab, &play, &["--diff"], 2, &["+vm.swappiness=11"]);
    assert_eq!(lab.sh_ok(1, "sysctl -n net.ipv4.ip_forward"), "1\n");
    assert_eq!(
        lab.sh_ok(1, "cat /etc/sysctl.d/90-tend.conf"),
        "net.ipv4.ip_forward=1\n"
    );
    let conf = lab.sh_ok(1, "cat /etc/sysctl.conf");
    assert!(conf.ends_with("vm.swappiness=11\n"), "{conf}");
    assert_eq!(conf.lines().count(), conf_before.lines().count() + 1);
    // The machine running the lab is untouched.
    assert_eq!(machine_sysctl("net.ipv4.ip_forward"), machine_forward);
    assert_eq!(machine_sysctl("vm.swappiness"), machine_swap);

    rerun_unchanged(&lab, &play, 2);

    // The kernel value drifted, the file is right: a change (reload).
    lab.sh_ok(1, "sysctl -qw net.ipv4.ip_forward=0");
    runs(&lab, &play, &[], 1, &[]);
    assert_eq!(lab.sh_ok(1, "sysctl -n net.ipv4.ip_forward"), "1\n");
    lab.sh_ok(1, "sysctl -qw net.ipv4.ip_forward=0");

    // The kernel refuses a value: a clear failure.
    let refused = write(
        dir.path(),
        "refused.yml",
        &format!(
            "{AS_ROOT}{}",
            r#"    - sysctl:
        name: net.ipv4.tcp_available_congestion_control
        value: bogus
        sysctl_set: yes
        reload: no
        sysctl_file: /etc/sysctl.d/91-tend.conf
"#
        ),
    );
    fails_with(
        &lab.playbook(&refused, &[]),
        &[
            "setting net.ipv4.tcp_available_congestion_control failed",
            "set sysctl_set: false and reload: false",
        ],
    );
}

#[test]
fn find_and_slurp_report_what_is_on_the_host() {
    let lab = lab_or_skip!(1);
    let dir = tempfile::tempdir().unwrap();
    lab.sh_ok(
        1,
        "set -e; mkdir -p /srv/f/sub/deep /srv/f/.hidden; cd /srv/f; \
         echo 'server = old.example.com' > a.conf; printf 'x' > b.log; \
         echo '# nothing' > sub/c.conf; echo 'server=old.example.com' > sub/deep/d.conf; \
         echo h > .hidden/e.conf; echo h > .f.conf; ln -s sub link; \
         touch -d '2020-01-01' b.log sub/c.conf; head -c 3000 /dev/zero > sub/big.bin; \
         printf 'bin\\000\\377ary' > /srv/blob; ln -s /srv/f /srv/flink; touch ~deploy/mark.tendmark",
    );
    let play = write(
        dir.path(),
        "find.yml",
        r#"
- hosts: lab
  gather_facts: no
  tasks:
    - find: {paths: /srv/f, patterns: "*.conf", recurse: yes}
      register: confs
    - find: {paths: /srv/f/, recurse: yes, depth: 1, file_type: any, hidden: yes}
      register: top
    - find: {paths: /srv/f, recurse: yes, contains: '^server\s*=', patterns: '.*\.conf$', use_regex: yes}
      register: servers
    - find: {paths: [/srv/f, /nonexistent], age: 1w, size: "-1k", recurse: yes, get_checksum: yes}
      register: old
    - find: {paths: /srv/f, size: 2k, recurse: yes, follow: yes}
      register: big
    - find: {paths: /srv/flink, patterns: a.conf}
      register: linked
    - find: {paths: "~", patterns: "*.tendmark"}
      register: home
    - slurp: {src: /srv/blob}
      register: blob
    - copy:
        dest: /tmp/find-result.json
        content: |
          {{ {'confs': confs.files | map(attribute='path') | list, 'confs_examined': confs.examined,
              'top': top.files | map(attribute='path') | list, 'top_examined': top.examined,
              'servers': servers.files | map(attribute='path') | list,
              'old': old.files | map(attribute='path') | list, 'old_msg': old.msg,
              'old_sums': old.files | map(attribute='checksum') | list,
              'old_skipped': old.skipped_paths,
              'big': big.files | map(attribute='path') | list, 'big_matched': big.matched,
              'linked': linked.files | map(attribute='path') | list,
              'home': home.files | map(attribute='path') | list,
              'blob': blob.content, 'blob_encoding': blob.encoding, 'blob_source': blob.source,
              'first': confs.files[0]} | to_json }}
"#,
    );
    let check = lab.playbook(&play, &["--check"]);
    check.assert_code(0);
    let run = lab.playbook(&play, &[]);
    run.assert_code(0);
    let text = lab.sh_ok(1, "cat /tmp/find-result.json");
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let strs = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap_or_else(|| panic!("{k}: {text}"))
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let sorted = |mut l: Vec<String>| {
        l.sort();
        l
    };
    // Every .conf not itself hidden (a hidden directory's files count).
    assert_eq!(
        sorted(strs("confs")),
        [
            "/srv/f/.hidden/e.conf",
            "/srv/f/a.conf",
            "/srv/f/sub/c.conf",
            "/srv/f/sub/deep/d.conf"
        ]
    );
    // The root's own entries come first.
    assert_eq!(strs("confs")[0], "/srv/f/a.conf");
    // Entries in every directory walked: 7 in /srv/f, 1 + 3 + 1 below (the link not followed).
    let examined = lab.sh_ok(1, "find /srv/f -mindepth 1 ! -path '/srv/f/link/*' | wc -l");
    assert_eq!(v["confs_examined"], examined.trim().parse::<u64>().unwrap());
    assert_eq!(
        sorted(strs("top")),
        [
            "/srv/f/.f.conf",
            "/srv/f/.hidden",
            "/srv/f/a.conf",
            "/srv/f/b.log",
            "/srv/f/link",
            "/srv/f/sub"
        ]
    );
    assert_eq!(
        sorted(strs("servers")),
        ["/srv/f/a.conf", "/srv/f/sub/deep/d.conf"]
    );
    assert_eq!(sorted(strs("old")), ["/srv/f/b.log", "/srv/f/sub/c.conf"]);
    assert_eq!(
        v["old_msg"],
        "Not all paths examined, check warnings for details"
    );
    assert_eq!(
        v["old_skipped"]["/nonexistent"],
        "'/nonexistent' is not a directory"
    );
    let sums = lab.sh_ok(1, "sha1sum /srv/f/b.log /srv/f/sub/c.conf | cut -d' ' -f1");
    assert_eq!(
        sorted(strs("old_sums")),
        sorted(sums.lines().map(String::from).collect())
    );
    // Following the link finds the big file twice.
    assert_eq!(
        sorted(strs("big")),
        ["/srv/f/link/big.bin", "/srv/f/sub/big.bin"]
    );
    assert_eq!(v["big_matched"], 2);
    let first = &v["first"];
    let stat = lab.sh_ok(1, "stat -c '%s %i %U %a' /srv/f/a.conf");
    assert_eq!(
        format!(
            "{} {} {} {}\n",
            first["size"],
            first["inode"],
            first["pw_name"].as_str().unwrap(),
            first["mode"].as_str().unwrap().trim_start_matches('0')
        ),
        stat
    );
    assert_eq!(first["isreg"], true);
    assert_eq!(strs("linked"), ["/srv/flink/a.conf"]);
    // `~` is the connecting user's home on the target.
    assert_eq!(strs("home"), ["/home/deploy/mark.tendmark"]);
    assert_eq!(v["blob"], lab.sh_ok(1, "base64 -w0 /srv/blob"));
    assert_eq!(v["blob_encoding"], "base64");
    assert_eq!(v["blob_source"], "/srv/blob");

    let missing = write(
        dir.path(),
        "missing.yml",
        "- hosts: lab\n  gather_facts: no\n  tasks:\n    - slurp: {src: /srv/none}\n",
    );
    fails_with(&lab.playbook(&missing, &[]), &["File not found: /srv/none"]);
}

#[test]
fn wait_for_ports_and_files_opened_on_the_host() {
    let lab = lab_or_skip!(1);
    let dir = tempfile::tempdir().unwrap();
    // A listener that binds after 2 s, greets, and exits by itself after 20 s;
    // a file that gets its line after 2 s.
    lab.sh_ok(
        1,
        "umask 022; rm -f /tmp/ready; \
         (sleep 2; echo 'booting' > /tmp/ready; sleep 1; echo 'state: up v=3' >> /tmp/ready) >/dev/null 2>&1 & \
         nohup python3 -c 'import socket,time\ntime.sleep(2)\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind((\"127.0.0.1\",18765))\ns.listen()\ns.settimeout(20)\nend=time.time()+20\nwhile time.time()<end:\n  try:\n    c,_=s.accept()\n    c.sendall(b\"HELLO tend 1.2\\n\")\n    c.close()\n  except OSError:\n    break\n' >/dev/null 2>&1 &",
    );
    let play = write(
        dir.path(),
        "wait.yml",
        r#"
- hosts: lab
  gather_facts: no
  tasks:
    - wait_for: {port: 18765, timeout: 20}
      register: port
    - wait_for: {port: 18765, search_regex: 'HELLO tend (\d+)\.(\d+)', timeout: 10}
      register: banner
    - wait_for: {path: /tmp/ready, search_regex: 'v=(?P<v>\d+)', timeout: 20}
      register: file
    - wait_for: {port: 18799, state: stopped, timeout: 5}
      register: stopped
    - wait_for: {path: /tmp/none, state: absent, timeout: 5}
    - copy:
        dest: /tmp/wait-result.json
        content: "{{ {'port_elapsed': port.elapsed, 'port': port.port, 'state': port.state,
                      'banner': banner.match_groups, 'banner_elapsed': banner.elapsed,
                      'groups': file.match_groups, 'file_state': file.state, 'file_mode': file.mode,
                      'dict': file.match_groupdict, 'path': file.path,
                      'stopped': stopped.elapsed} | to_json }}"
    - wait_for: {port: 18799, timeout: 2}
"#,
    );
    fails_with(
        &lab.playbook(&play, &[]),
        &["Timeout when waiting for 127.0.0.1:18799"],
    );
    let text = lab.sh_ok(1, "cat /tmp/wait-result.json");
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(v["port_elapsed"].as_u64().unwrap() >= 1, "{text}");
    assert_eq!(v["port"], 18765);
    assert_eq!(v["state"], "started");
    // As Ansible: a port's match reports no groups; the greeting comes
    // back on the first read, not after connect_timeout.
    assert_eq!(v["banner"], serde_json::json!([]));
    assert!(v["banner_elapsed"].as_u64().unwrap() < 3, "{text}");
    assert_eq!(v["file_state"], "file");
    assert_eq!(v["file_mode"], "0644");
    assert_eq!(v["groups"], serde_json::json!(["3"]));
    assert_eq!(v["dict"], serde_json::json!({"v": "3"}));
    assert_eq!(v["path"], "/tmp/ready");
    assert_eq!(v["stopped"], 0);
    // Check mode skips it, as Ansible does.
    let skip = write(
        dir.path(),
        "skip.yml",
        "- hosts: lab\n  gather_facts: no\n  tasks:\n    - wait_for: {port: 18799, timeout: 30}\n",
    );
    let check = lab.playbook(&skip, &["--check"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "skipped"), 1, "{}", check.stdout);
}

#[test]
fn local_facts_and_host_identity_facts_come_from_the_host() {
    let lab = lab_or_skip!(2);
    let dir = tempfile::tempdir().unwrap();
    // Host 1 has local facts: JSON, INI, an executable and a broken one.
    lab.sh_ok(
        1,
        "set -e; mkdir -p /etc/ansible/facts.d; cd /etc/ansible/facts.d; \
         echo '{\"role\": \"web\", \"n\": 3}' > app.fact; \
         printf '[db]\\nHost = db1\\n' > conf.fact; \
         printf '#!/bin/sh\\necho \"{\\\\\"from\\\\\": \\\\\"$(hostname)\\\\\"}\"\\n' > dyn.fact; \
         chmod +x dyn.fact; echo 'neither json nor ini' > bad.fact",
    );
    let key1 = lab.sh_ok(
        1,
        "cat /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null || true",
    );
    let play = write(
        dir.path(),
        "facts.yml",
        r#"
- hosts: lab
  tasks:
    - copy:
        dest: /tmp/facts.json
        content: "{{ {'local': ansible_local, 'key': ansible_facts.ssh_host_key_ed25519_public | default('none'), 'reach': ansible_facts.locally_reachable_ips, 'setup': ansible_facts.module_setup, 'fqdn': ansible_facts.fqdn} | to_json }}"
"#,
    );
    runs(&lab, &play, &[], 1, &[]);
    let facts = |i: usize| -> serde_json::Value {
        serde_json::from_str(&lab.sh_ok(i, "cat /tmp/facts.json")).unwrap()
    };
    let f1 = facts(1);
    assert_eq!(
        f1["local"]["app"],
        serde_json::json!({"role": "web", "n": 3})
    );
    assert_eq!(
        f1["local"]["conf"],
        serde_json::json!({"db": {"host": "db1"}})
    );
    assert_eq!(f1["local"]["dyn"], serde_json::json!({"from": "host1"}));
    assert_eq!(
        f1["local"]["bad"],
        "error loading facts as JSON or ini - please check content: /etc/ansible/facts.d/bad.fact"
    );
    assert_eq!(f1["setup"], true);
    // `fqdn` is what Python's socket.getfqdn() says on the host (Ansible's
    // source for it), found without Python.
    let getfqdn = lab.sh_ok(1, "python3 -c 'import socket; print(socket.getfqdn())'");
    assert_eq!(f1["fqdn"], getfqdn.trim());
    let expected_key = key1.split_whitespace().nth(1).unwrap_or("none");
    assert_eq!(f1["key"], expected_key);
    // The host's own address is locally reachable, and only on that host.
    let addr1 = lab.sh_ok(1, "hostname -I 2>/dev/null || true");
    let reach = f1["reach"]["ipv4"].as_array().unwrap().clone();
    assert!(reach.iter().any(|a| a == "127.0.0.1"), "{reach:?}");
    for a in addr1.split_whitespace().filter(|a| !a.contains(':')) {
        assert!(reach.iter().any(|r| r == a), "{a} not in {reach:?}");
    }
    // Host 2 has no local facts.
    assert_eq!(facts(2)["local"], serde_json::json!({}));
}

#[test]
fn device_capability_and_userspace_facts_are_ansibles() {
    let lab = lab_or_skip!(1);
    let dir = tempfile::tempdir().unwrap();
    let play = write(
        dir.path(),
        "devices.yml",
        r#"
- hosts: lab
  become: yes
  tasks:
    - copy:
        dest: "/tmp/{{ out }}.json"
        content: "{{ ansible_facts | dict2items | selectattr('key', 'match', '^(device|system_cap|userspace)') | items2dict | to_json }}"
"#,
    );
    lab.playbook(&play, &["-e", "out=tend"]).assert_code(0);
    let interpreter = "ansible_python_interpreter=/usr/bin/python3";
    let Some(ansible) = lab.ansible_playbook(&play, &["-e", "out=ansible", "-e", interpreter])
    else {
        assert!(
            std::env::var_os("TEND_REQUIRE_ANSIBLE").is_none(),
            "TEND_REQUIRE_ANSIBLE is set but there is no ansible-playbook at /opt/ansible-ref"
        );
        eprintln!("SKIPPED: no ansible-playbook at /opt/ansible-ref");
        return;
    };
    ansible.assert_code(0);
    let facts = |name: &str| -> serde_json::Value {
        let json = lab.sh(1, &format!("cat /tmp/{name}.json"));
        serde_json::from_str(&json.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}: {json:?}\nansible: {}", ansible.stdout))
    };
    let tend = facts("tend");
    for key in [
        "devices",
        "device_links",
        "system_capabilities",
        "userspace_bits",
    ] {
        assert!(tend.get(key).is_some(), "no {key} in {tend}");
    }
    assert_eq!(tend, facts("ansible"));
}

#[test]
fn gather_subset_fact_path_and_the_setup_task_choose_the_facts() {
    let lab = lab_or_skip!(1);
    let dir = tempfile::tempdir().unwrap();
    // Local facts in two other directories: one absolute, one under the
    // login user's (deploy's) home (`~`, expanded on the host).
    lab.sh_ok(
        1,
        "set -e; mkdir -p /srv/facts; echo '{\"n\": 1}' > /srv/facts/srv.fact; \
         h=$(getent passwd deploy | cut -d: -f6); mkdir -p $h/.facts; \
         printf '[s]\\nk = v\\n' > $h/.facts/home.fact; chown -R deploy $h/.facts",
    );
    let play = write(
        dir.path(),
        "subset.yml",
        r#"
- hosts: lab
  gather_subset: ['!all', '!min', 'local']
  gather_timeout: 30
  fact_path: /srv/facts
  tasks:
    - set_fact:
        play_keys: "{{ ansible_facts.keys() | sort }}"
        play_local: "{{ ansible_local }}"
- hosts: lab
  gather_facts: no
  tasks:
    - meta: clear_facts
    - setup:
        fact_path: ~/.facts
        filter: [local, 'ansible_host*']
        gather_subset: '!all'
      check_mode: yes
      register: home
    - setup:
        gather_subset: [network, '!min']
        filter: 'ansible_default_ipv4'
      register: net
    - copy:
        dest: /tmp/subset.json
        content: "{{ {'play_keys': play_keys, 'play_local': play_local,
                      'home_keys': home.ansible_facts.keys() | sort,
                      'home_local': ansible_local, 'host_keys': ansible_facts.keys() | sort,
                      'net_keys': net.ansible_facts.keys() | sort, 'changed': home.changed} | to_json }}"
"#,
    );
    runs(&lab, &play, &[], 1, &[]);
    let v: serde_json::Value = serde_json::from_str(&lab.sh_ok(1, "cat /tmp/subset.json")).unwrap();
    assert_eq!(
        v["play_keys"],
        serde_json::json!([
            "_ansible_facts_gathered",
            "ansible_local",
            "gather_subset",
            "module_setup"
        ])
    );
    assert_eq!(v["play_local"], serde_json::json!({"srv": {"n": 1}}));
    // The filter keeps `ansible_local` and `ansible_hostname`; the fact
    // `gather_subset` has no `ansible_` and is filtered out.
    assert_eq!(
        v["home_keys"],
        serde_json::json!(["ansible_hostname", "ansible_local"])
    );
    assert_eq!(
        v["home_local"],
        serde_json::json!({"home": {"s": {"k": "v"}}})
    );
    assert_eq!(v["changed"], false);
    // Each setup task's facts add to the host's.
    assert_eq!(
        v["host_keys"],
        serde_json::json!(["ansible_local", "default_ipv4", "hostname"])
    );
    assert_eq!(v["net_keys"], serde_json::json!(["ansible_default_ipv4"]));
}
