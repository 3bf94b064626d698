//! `service` over SSH against a lab host without systemd: a tiny daemon
//! with an `/etc/init.d` script is started, restarted, stopped, enabled and
//! disabled; each step is checked on the host itself (the pid file,
//! `kill -0`, the `/etc/rc?.d` links), re-runs report no change and check
//! mode changes nothing.

mod lab;

use lab::TENDD_SETUP as SETUP;

/// Stops the daemon whatever happens, so no `sleep` outlives the test.
struct StopDaemon<'a>(&'a lab::Lab);

impl Drop for StopDaemon<'_> {
    fn drop(&mut self) {
        let _ = self.0.sh(1, "/etc/init.d/tendd stop");
    }
}

fn play(task: &str) -> String {
    format!("- hosts: host1\n  gather_facts: no\n  become: yes\n  tasks:\n    - service:\n{task}")
}

/// The daemon's pid if it runs (`kill -0`), read on the host.
fn pid(lab: &lab::Lab) -> Option<String> {
    let out = lab.sh_ok(
        1,
        "if [ -s /run/tendd.pid ] && kill -0 \"$(cat /run/tendd.pid)\" 2>/dev/null; then cat /run/tendd.pid; fi",
    );
    Some(out.trim().to_string()).filter(|p| !p.is_empty())
}

/// Whether process `pid` runs (a zombie left to an init that does not reap
/// it does not count).
fn alive(lab: &lab::Lab, pid: &str) -> bool {
    lab.sh(
        1,
        &format!("kill -0 {pid} 2>/dev/null && [ \"$(ps -o stat= -p {pid} | cut -c1)\" != Z ]"),
    )
    .code
        == Some(0)
}

fn links(lab: &lab::Lab) -> String {
    lab.sh_ok(1, "cd /etc && ls -d rc?.d/[SK]??tendd 2>/dev/null | sed 's/[0-9][0-9]tendd$//' | sort | tr '\\n' ' '")
}

#[test]
fn init_script_service_start_restart_stop_enable() {
    let lab = lab_or_skip!(1);
    lab.sh_ok(1, SETUP);
    let _guard = StopDaemon(&lab);
    let proj = lab::project(&[
        (
            "start.yml",
            &play(
                "        name: tendd\n        state: started\n        enabled: yes\n        arguments: fast\n",
            ),
        ),
        (
            "restart.yml",
            &play("        name: tendd\n        state: restarted\n        sleep: 1\n"),
        ),
        (
            "reload.yml",
            &play("        name: tendd\n        state: reloaded\n"),
        ),
        (
            "stop.yml",
            &play("        name: tendd\n        state: stopped\n        enabled: no\n"),
        ),
        (
            "pattern.yml",
            &play("        name: tendd\n        pattern: sleep 100000\n        state: started\n"),
        ),
        (
            "systemd.yml",
            "- hosts: host1\n  gather_facts: no\n  become: yes\n  tasks:\n    - systemd:\n        name: tendd\n        state: started\n",
        ),
    ]);
    let run = |name: &str, extra: &[&str]| {
        let r = lab.playbook(&proj.path().join(name), extra);
        eprintln!("{}", r.stdout);
        r
    };

    // Check mode predicts, changes nothing.
    let check = run("start.yml", &["--check"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 1);
    assert_eq!(pid(&lab), None);
    assert_eq!(links(&lab), "");

    // Start and enable.
    let first = run("start.yml", &[]);
    first.assert_code(0);
    assert_eq!(first.recap("host1", "changed"), 1);
    let started = pid(&lab).expect("the daemon runs");
    assert_eq!(
        lab.sh_ok(1, "cat /run/tendd.log"),
        "start fast\n",
        "arguments passed"
    );
    assert_eq!(
        links(&lab),
        "rc0.d/K rc1.d/K rc2.d/S rc3.d/S rc4.d/S rc5.d/S rc6.d/K "
    );
    assert!(
        first.stdout.contains("\"state\": \"started\"")
            || first.stdout.contains("changed: [host1]")
    );

    // Again: nothing to do, in one round trip.
    let lab::Cost {
        run: second,
        requests,
        channels,
    } = lab.playbook_cost(&proj.path().join("start.yml"), &[]);
    second.assert_code(0);
    assert_eq!(second.recap("host1", "changed"), 0);
    assert_eq!(requests[0], 1, "one round trip for an unchanged service");
    assert_eq!(channels[0], 1, "one SSH channel for the whole run");
    assert_eq!(pid(&lab).as_deref(), Some(started.as_str()));

    // Restart (stop, sleep, start): a new process, every time.
    let restart = run("restart.yml", &[]);
    restart.assert_code(0);
    assert_eq!(restart.recap("host1", "changed"), 1);
    let restarted = pid(&lab).expect("running after restart");
    assert_ne!(restarted, started);
    assert!(!alive(&lab, &started), "the old process is gone");

    // Reload: the same process.
    let reload = run("reload.yml", &[]);
    assert_eq!(reload.recap("host1", "changed"), 1);
    assert_eq!(pid(&lab).as_deref(), Some(restarted.as_str()));
    assert!(
        lab.sh_ok(1, "tail -n 1 /run/tendd.log")
            .starts_with("reload")
    );

    // `pattern` sees the running daemon: nothing to do.
    let pattern = run("pattern.yml", &[]);
    pattern.assert_code(0);
    assert_eq!(pattern.recap("host1", "changed"), 0);

    // Stop and disable; check mode first.
    let check = run("stop.yml", &["--check"]);
    assert_eq!(check.recap("host1", "changed"), 1);
    assert_eq!(pid(&lab).as_deref(), Some(restarted.as_str()));
    let stop = run("stop.yml", &[]);
    stop.assert_code(0);
    assert_eq!(stop.recap("host1", "changed"), 1);
    assert_eq!(pid(&lab), None);
    assert!(!alive(&lab, &restarted));
    assert_eq!(
        links(&lab),
        "rc0.d/K rc1.d/K rc2.d/K rc3.d/K rc4.d/K rc5.d/K rc6.d/K "
    );
    assert_eq!(run("stop.yml", &[]).recap("host1", "changed"), 0);

    // pattern, stopped daemon: started through the init script.
    let pattern = run("pattern.yml", &[]);
    assert_eq!(pattern.recap("host1", "changed"), 1);
    assert!(pid(&lab).is_some());

    // The systemd module on a host without systemd: a clear error.
    let sd = run("systemd.yml", &[]);
    assert_eq!(sd.recap("host1", "failed"), 1);
    assert!(
        sd.stdout.contains("systemd is not running on the target"),
        "{}",
        sd.stdout
    );
}
