//! Integration tests: `ansible.cfg`, `ANSIBLE_*` variables and `tend.toml`
//! change what the real `tend` binary does, and `tend config dump` says why.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// `tend` in `cwd` with `ANSIBLE_CONFIG` (when given) and no other
/// `ANSIBLE_*` variable from the caller's environment.
fn tend(args: &[&str], cwd: &Path, cfg: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tend"));
    c.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("ANSIBLE_") {
            c.env_remove(k);
        }
    }
    // No ~/.ansible.cfg of the person running the tests.
    c.env("HOME", cwd);
    if let Some(cfg) = cfg {
        c.env("ANSIBLE_CONFIG", cfg);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run tend")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A project: an inventory of two local hosts, an `ansible.cfg` elsewhere
/// (`cfg/ansible.cfg`, naming the inventory relative to itself), and a
/// working directory without configuration files.
fn project(cfg: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("cfg/inv")).unwrap();
    std::fs::create_dir_all(p.join("work")).unwrap();
    std::fs::write(
        p.join("cfg/inv/hosts"),
        "[web]\nh1 ansible_connection=local\nh2 ansible_connection=local\n",
    )
    .unwrap();
    let cfg_path = p.join("cfg/ansible.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    (dir, cfg_path)
}

#[test]
fn inventory_list_uses_the_inventory_of_ansible_cfg() {
    let (dir, cfg) = project("[defaults]\ninventory = inv/hosts\n");
    let work = dir.path().join("work");
    let out = tend(&["inventory", "--list"], &work, Some(&cfg), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["web"]["hosts"], serde_json::json!(["h1", "h2"]));
    // -i wins over ansible.cfg; ANSIBLE_INVENTORY over ansible.cfg too.
    std::fs::write(work.join("other"), "[db]\nd1\n").unwrap();
    for out in [
        tend(
            &["inventory", "--list", "-i", "other"],
            &work,
            Some(&cfg),
            &[],
        ),
        tend(
            &["inventory", "--list"],
            &work,
            Some(&cfg),
            &[("ANSIBLE_INVENTORY", "other")],
        ),
    ] {
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(list["db"]["hosts"], serde_json::json!(["d1"]));
        assert!(list.get("web").is_none(), "{list}");
    }
}

#[test]
fn remote_user_of_ansible_cfg_is_the_login_user_below_the_inventory() {
    let (dir, cfg) = project("[defaults]\ninventory = inv/hosts\nremote_user = deploy\n");
    let work = dir.path().join("work");
    std::fs::write(
        work.join("user.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=\"user={{ ansible_user }}\"\n",
    )
    .unwrap();
    let out = tend(
        &["playbook", "user.yml", "--limit", "h1"],
        &work,
        Some(&cfg),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"msg\": \"user=deploy\""),
        "{}",
        text(&out.stdout)
    );
    // The environment beats ansible.cfg, the command line beats both.
    let out = tend(
        &["playbook", "user.yml", "--limit", "h1"],
        &work,
        Some(&cfg),
        &[("ANSIBLE_REMOTE_USER", "envuser")],
    );
    assert!(
        text(&out.stdout).contains("\"msg\": \"user=envuser\""),
        "{}",
        text(&out.stdout)
    );
    let out = tend(
        &["playbook", "user.yml", "--limit", "h1", "-u", "cliuser"],
        &work,
        Some(&cfg),
        &[("ANSIBLE_REMOTE_USER", "envuser")],
    );
    assert!(
        text(&out.stdout).contains("\"msg\": \"user=cliuser\""),
        "{}",
        text(&out.stdout)
    );
    // The inventory's ansible_user beats them all, as in Ansible.
    std::fs::write(
        dir.path().join("cfg/inv/hosts"),
        "[web]\nh1 ansible_connection=local ansible_user=pinned\n",
    )
    .unwrap();
    let out = tend(
        &["playbook", "user.yml", "-u", "cliuser"],
        &work,
        Some(&cfg),
        &[],
    );
    assert!(
        text(&out.stdout).contains("\"msg\": \"user=pinned\""),
        "{}",
        text(&out.stdout)
    );
}

/// Two hosts each sleeping 2 s: with `forks = 1` from ansible.cfg they take
/// turns (at least 4 s); `-f 2` overrides it and they sleep together.
#[test]
fn forks_of_ansible_cfg_limits_the_hosts_worked_on_at_once() {
    let (dir, cfg) = project("[defaults]\ninventory = inv/hosts\nforks = 1\n");
    let work = dir.path().join("work");
    std::fs::write(
        work.join("sleep.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 2\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = tend(&["playbook", "sleep.yml"], &work, Some(&cfg), &[]);
    let one_at_a_time = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(one_at_a_time >= Duration::from_secs(4), "{one_at_a_time:?}");
    let started = Instant::now();
    let out = tend(
        &["playbook", "-f", "2", "sleep.yml"],
        &work,
        Some(&cfg),
        &[],
    );
    let together = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(together < Duration::from_millis(3800), "{together:?}");
}

#[test]
fn config_dump_shows_every_setting_and_its_origin() {
    let (dir, cfg) = project(
        "[defaults]\ninventory = inv/hosts\nforks = 7\nunknown = ignored\n[ssh_connection]\npipelining = True\n",
    );
    let work = dir.path().join("work");
    std::fs::write(
        work.join("tend.toml"),
        "remote_user = \"tomluser\"\n\n[report]\njunit = \"junit.xml\"\n",
    )
    .unwrap();
    let out = tend(
        &["config", "dump"],
        &work,
        Some(&cfg),
        &[("ANSIBLE_TIMEOUT", "33")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "",
        "unknown keys and pipelining are silent"
    );
    let dump = text(&out.stdout);
    let c = cfg.display();
    let toml = work.join("tend.toml");
    let t = toml.display();
    for line in [
        format!("# ansible.cfg: {c}"),
        format!("# tend.toml: {t}"),
        format!(
            "inventory = {}  ({c}:2)",
            dir.path().join("cfg/inv/hosts").display()
        ),
        format!("forks = 7  ({c}:3)"),
        "timeout = 33  (env ANSIBLE_TIMEOUT)".into(),
        format!("remote_user = tomluser  ({t}:1)"),
        format!(
            "report.junit = {}  ({t}:4)",
            work.join("junit.xml").display()
        ),
        "become = false  (default)".into(),
        "host_key_checking = true  (default)".into(),
    ] {
        assert!(dump.lines().any(|l| l == line), "no `{line}` in:\n{dump}");
    }
    let out = tend(
        &["config", "dump", "--only-changed"],
        &work,
        Some(&cfg),
        &[],
    );
    let changed = text(&out.stdout);
    assert!(changed.contains("forks = 7"), "{changed}");
    assert!(!changed.contains("(default)"), "{changed}");
}

#[test]
fn tend_toml_report_settings_write_the_reports() {
    let (dir, cfg) = project("[defaults]\ninventory = inv/hosts\n");
    let work = dir.path().join("work");
    std::fs::write(
        work.join("ok.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    )
    .unwrap();
    std::fs::write(
        work.join("ci.toml"),
        "[report]\njunit = \"out/junit.xml\"\nsummary_md = \"out/summary.md\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(work.join("out")).unwrap();
    let out = tend(
        &["plan", "--config", "ci.toml", "ok.yml"],
        &work,
        Some(&cfg),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let junit = std::fs::read_to_string(work.join("out/junit.xml")).unwrap();
    assert!(junit.contains("<testsuites"), "{junit}");
    assert!(work.join("out/summary.md").is_file());
}

#[test]
fn a_bad_value_is_an_error_naming_the_file_and_line() {
    let (dir, cfg) = project("[defaults]\ninventory = inv/hosts\n\nforks = lots\n");
    let work = dir.path().join("work");
    std::fs::write(work.join("ok.yml"), "- hosts: all\n  tasks: []\n").unwrap();
    let expected = format!(
        "ERROR! {}:4: forks: `lots` is not a whole number",
        cfg.display()
    );
    for (args, code) in [
        (&["playbook", "ok.yml"][..], 5),
        (&["plan", "ok.yml"][..], 1),
        (&["inventory", "--list"][..], 5),
        (&["config", "dump"][..], 5),
    ] {
        let out = tend(args, &work, Some(&cfg), &[]);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(
            text(&out.stderr).contains(&expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "nothing runs: {}", text(&out.stdout));
    }
    let out = tend(
        &["inventory", "--list"],
        &work,
        None,
        &[("ANSIBLE_FORKS", "many")],
    );
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stderr)
            .contains("environment variable ANSIBLE_FORKS: forks: `many` is not a whole number"),
        "{}",
        text(&out.stderr)
    );
}
