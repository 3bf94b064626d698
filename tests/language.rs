//! The playbook language on the local connection: delegation, loop
//! control, lookup loops, play keywords. Each test pins behaviour checked
//! against ansible-core 2.19 (see the matching `compat/cases/`).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const INVENTORY: &str = "[g]\na\nb\nc\n[g:vars]\nansible_connection=local\n";

/// Runs `tend playbook` on `play` in a fresh directory (with `files` written
/// into it first); returns the output and the directory.
fn run(play: &str, files: &[(&str, &str)], args: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("inv.ini"), INVENTORY).expect("inventory");
    std::fs::write(dir.path().join("play.yml"), play).expect("play");
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("file");
    }
    let work = format!("work={}", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args([
            "playbook", "-i", "inv.ini", "play.yml", "-f", "1", "-e", &work,
        ])
        .args(args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tend");
    (out, dir)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_file(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("results file");
    serde_json::from_str(&text).expect("json")
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn local_action_runs_on_the_controller_and_delegate_facts_go_to_the_delegate() {
    let (out, dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - local_action: command echo {{ inventory_hostname }}
      register: r_local
    - local_action:
        module: command
        cmd: echo mapping
      register: r_map
    - set_fact:
        from_{{ inventory_hostname }}: yes
      delegate_to: b
      delegate_facts: true
    - set_fact:
        stays: "{{ inventory_hostname }}"
      delegate_to: c
    - set_fact:
        for_c: "from {{ inventory_hostname }}"
      delegate_to: c
      delegate_facts: yes
    - copy:
        dest: "{{ work }}/{{ inventory_hostname }}.json"
        content: "{{ {'out': r_local.stdout, 'map': r_map.stdout, 'stays': stays,
                      'from_a': from_a | default('unset'), 'from_b': from_b | default('unset')} | to_json }}"
- hosts: c
  gather_facts: no
  tasks:
    - copy:
        dest: "{{ work }}/c.json"
        content: "{{ {'for_c': for_c | default('unset'), 'stays': stays | default('unset')} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("changed: [a -> localhost]"), "{text}");
    assert!(text.contains("ok: [a -> b]"), "{text}");
    assert!(text.contains("ok: [b -> c]"), "{text}");
    let a = json_file(dir.path(), "a.json");
    assert_eq!(a["out"], "a");
    assert_eq!(a["map"], "mapping");
    assert_eq!(a["stays"], "a", "without delegate_facts the fact stays");
    assert_eq!(a["from_a"], "unset", "delegated to b, not set on a");
    let b = json_file(dir.path(), "b.json");
    assert_eq!(b["from_a"], true);
    assert_eq!(b["from_b"], true);
    let c = json_file(dir.path(), "c.json");
    assert_eq!(c["for_c"], "from b", "the last delegating host wins");
    assert_eq!(c["stays"], "unset");
}
