//! Faults over SSH: a changed host key and a host that is down make those
//! hosts UNREACHABLE (exit code 4) while the others complete; host key
//! checking can be turned off; an sshd killed mid-task makes its host
//! UNREACHABLE and the others finish.

mod lab;

use std::time::{Duration, Instant};

const PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: yes
  tasks:
    - copy:
        dest: /tmp/done
        content: "{{ inventory_hostname }}\n"
"#;

fn unreachable_line<'a>(out: &'a str, host: &str) -> &'a str {
    let prefix = format!("fatal: [{host}]: UNREACHABLE!");
    out.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{host} not reported unreachable:\n{out}"))
}

#[test]
fn changed_host_key_and_down_host_are_unreachable_while_others_complete() {
    let lab = lab_or_skip!(4);
    let proj = lab::project(&[("site.yml", PLAYBOOK)]);
    let site = proj.path().join("site.yml");
    lab.forge_host_key(2);
    lab.stop(3);

    let run = lab.playbook(&site, &[]);
    run.assert_code(4);
    for h in ["host1", "host4"] {
        assert_eq!(run.recap(h, "changed"), 1, "{}", run.stdout);
        assert_eq!(run.recap(h, "unreachable"), 0);
    }
    for h in ["host2", "host3"] {
        assert_eq!(run.recap(h, "unreachable"), 1, "{}", run.stdout);
        assert_eq!(run.recap(h, "ok"), 0);
    }
    assert_eq!(lab.sh_ok(1, "cat /tmp/done"), "host1\n");
    assert_eq!(lab.sh_ok(4, "cat /tmp/done"), "host4\n");
    assert_eq!(
        lab.sh_ok(2, "test -e /tmp/done && echo yes || echo no"),
        "no\n",
        "host2 was reached despite its changed key"
    );
    let key = unreachable_line(&run.stdout, "host2");
    let known_hosts = format!("{}/known_hosts:", lab.dir().display());
    assert!(key.contains("(host2 as deploy@127.0.1.2"), "{key}");
    assert!(key.contains("IDENTIFICATION HAS CHANGED"), "{key}");
    assert!(
        key.contains(&known_hosts),
        "names the known_hosts line: {key}"
    );
    let down = unreachable_line(&run.stdout, "host3");
    assert!(down.contains("host3"), "{down}");
    assert!(down.contains("Connection refused"), "{down}");

    // Opting out of host key checking reaches host2 (host3 is still down).
    let run = lab.playbook_env(&site, &[], &[("ANSIBLE_HOST_KEY_CHECKING", "False")]);
    run.assert_code(4);
    assert_eq!(run.recap("host2", "changed"), 1, "{}", run.stdout);
    assert_eq!(run.recap("host3", "unreachable"), 1);
    assert_eq!(lab.sh_ok(2, "cat /tmp/done"), "host2\n");
}

#[test]
fn host_killed_mid_task_is_unreachable_and_the_others_finish() {
    let lab = lab_or_skip!(3);
    let proj = lab::project(&[(
        "site.yml",
        r#"
- hosts: lab
  gather_facts: no
  tasks:
    - command: sleep 2
    - copy:
        dest: /tmp/after
        content: "{{ inventory_hostname }}\n"
"#,
    )]);
    let site = proj.path().join("site.yml");
    let child = lab.playbook_spawn(&site, &[]);
    // Wait until host2 runs the sleep, then kill the whole host.
    let deadline = Instant::now() + Duration::from_secs(20);
    while lab.sessions()[1] == 0 {
        assert!(Instant::now() < deadline, "host2 never got a session");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    lab.stop(2);
    let run = lab::Lab::finish(child);
    run.assert_code(4);
    assert_eq!(run.recap("host2", "unreachable"), 1, "{}", run.stdout);
    let line = unreachable_line(&run.stdout, "host2");
    assert!(line.contains("host2"), "{line}");
    for i in [1, 3] {
        let h = format!("host{i}");
        assert_eq!(run.recap(&h, "unreachable"), 0, "{}", run.stdout);
        assert_eq!(lab.sh_ok(i, "cat /tmp/after"), format!("{h}\n"));
    }
}

/// A task that hangs past its `timeout` fails on its host, and its remote
/// processes are gone (also those run as root under sudo): nothing is left
/// running on the target. The next task runs.
#[test]
fn a_hung_task_is_killed_on_the_target_at_its_timeout() {
    let lab = lab_or_skip!(2);
    let proj = lab::project(&[(
        "site.yml",
        r#"
- hosts: lab
  gather_facts: no
  tasks:
    - shell: "sleep 389 & echo $! > /tmp/child.pid; echo $$ > /tmp/hang.pid; wait"
      timeout: 2
      ignore_errors: yes
    - shell: "echo $$ > /tmp/root-hang.pid; exec sleep 397"
      become: yes
      timeout: 1
      ignore_errors: yes
    - copy:
        dest: /tmp/after
        content: "next\n"
"#,
    )]);
    let started = Instant::now();
    let run = lab.playbook(&proj.path().join("site.yml"), &[]);
    run.assert_code(0);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        run.stdout
            .contains("Task failed: Timed out after 2 second(s)."),
        "{}",
        run.stdout
    );
    for i in 1..=2 {
        assert_eq!(
            run.recap(&format!("host{i}"), "ignored"),
            2,
            "{}",
            run.stdout
        );
        assert_eq!(lab.sh_ok(i, "cat /tmp/after"), "next\n");
        // Give the target a moment to reap, then nothing may be left.
        std::thread::sleep(Duration::from_millis(300));
        for pidfile in ["/tmp/hang.pid", "/tmp/child.pid", "/tmp/root-hang.pid"] {
            // A zombie waiting for the machine's init to reap it is not running.
            let alive = lab.sh_ok(
                i,
                &format!(
                    "s=$(ps -o stat= -p $(cat {pidfile}) 2>/dev/null); \
                     case \"$s\" in ''|Z*) echo gone ;; *) echo \"alive: $s\" ;; esac"
                ),
            );
            assert_eq!(
                alive, "gone\n",
                "host{i}: {pidfile} still runs\n{}",
                run.stdout
            );
        }
    }
}

/// A full disk on the target during a copy: the task fails on that host with
/// the write error, the old file is intact and no temp file is left beside
/// it; the other host gets the new file.
#[test]
fn a_full_disk_fails_the_copy_and_keeps_the_old_file() {
    let lab = lab_or_skip!(2);
    for i in 1..=2 {
        // Each host has its own mount namespace: the small tmpfs is its alone.
        lab.sh_ok(
            i,
            "mkdir -p /srv/full && mount -t tmpfs -o size=256k tmpfs /srv/full && \
             printf 'old\\n' > /srv/full/app.conf",
        );
    }
    // Fill host1's disk.
    lab.sh(
        1,
        "dd if=/dev/zero of=/srv/full/filler bs=1k count=1024 2>/dev/null; true",
    );
    let big = "x".repeat(100 * 1024);
    let proj = lab::project(&[(
        "site.yml",
        &format!(
            "- hosts: lab\n  gather_facts: no\n  become: yes\n  tasks:\n    - copy:\n        dest: /srv/full/app.conf\n        content: \"{big}\\n\"\n"
        ),
    )]);
    let run = lab.playbook(&proj.path().join("site.yml"), &[]);
    run.assert_code(2);
    assert_eq!(run.recap("host1", "failed"), 1, "{}", run.stdout);
    assert_eq!(run.recap("host2", "changed"), 1, "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("fatal: [host1]: FAILED!")
                && l.contains("No space left on device")),
        "{}",
        run.stdout
    );
    assert_eq!(lab.sh_ok(1, "cat /srv/full/app.conf"), "old\n");
    assert_eq!(lab.sh_ok(1, "ls -A /srv/full"), "app.conf\nfiller\n");
    assert_eq!(
        lab.sh_ok(2, "wc -c < /srv/full/app.conf; ls -A /srv/full"),
        format!("{}\napp.conf\n", big.len() + 1)
    );
    for i in 1..=2 {
        lab.sh(i, "umount /srv/full");
    }
}
