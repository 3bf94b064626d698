//! `add_host` and `group_by` change the run's inventory: later tasks and
//! plays see the new hosts and groups (checked against ansible-core 2.19).

use serde_json::Value;
use std::process::Command;

/// Runs `play` with a two-host local inventory; returns the exit code, the
/// output (stdout, then stderr) and the JSON the play wrote to `out.json`.
fn play(text: &str) -> (Option<i32>, String, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = "[web]\nw1\nw2\n[web:vars]\nansible_connection=local\n";
    std::fs::write(dir.path().join("inv.ini"), inv).expect("inventory");
    std::fs::write(dir.path().join("play.yml"), text).expect("play");
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i", "inv.ini", "play.yml"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tend");
    let stdout = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_to_string(dir.path().join("out.json"))
        .map(|t| serde_json::from_str(&t).expect("json"))
        .unwrap_or(Value::Null);
    (out.status.code(), stdout, json)
}

#[test]
fn add_host_runs_once_and_later_plays_target_the_new_host() {
    let (code, out, json) = play(
        r#"
- hosts: web
  gather_facts: no
  tasks:
    - add_host:
        name: "new_{{ item }}"
        groups: [fresh]
        ansible_connection: local
        color: "{{ item }}"
      loop: [red, blue]
      register: added
    - add_host: name=new_red groups=fresh color=red
      register: again
- hosts: fresh
  gather_facts: no
  tasks:
    - set_fact:
        seen: "{{ color }}"
- hosts: w1
  gather_facts: no
  tasks:
    - copy:
        dest: out.json
        content: "{{ {'added': added, 'again': again, 'w2_added': hostvars['w2'].added is defined,
                      'groups': groups, 'red': hostvars['new_red'].seen,
                      'blue_groups': hostvars['new_blue'].group_names} | to_json }}"
"#,
    );
    assert_eq!(code, Some(0), "{out}");
    // Once for the play, not once per host: two items, on w1 only.
    assert_eq!(out.matches("changed: [w1] => (item=").count(), 2, "{out}");
    assert!(!out.contains("[w2] => (item="), "{out}");
    let first = &json["added"]["results"][0];
    assert_eq!(first["changed"], true);
    assert_eq!(first["add_host"]["host_name"], "new_red");
    assert_eq!(first["add_host"]["groups"], serde_json::json!(["fresh"]));
    assert_eq!(first["add_host"]["host_vars"]["color"], "red");
    assert_eq!(json["again"]["changed"], false);
    // add_host bypasses the host loop: its result is registered on the
    // host that ran it only (ansible-core 2.19: `hostvars['w2'].added` is
    // undefined).
    assert_eq!(json["w2_added"], false);
    assert_eq!(
        json["groups"]["fresh"],
        serde_json::json!(["new_red", "new_blue"])
    );
    assert_eq!(json["red"], "red");
    assert_eq!(json["blue_groups"], serde_json::json!(["fresh"]));
}

#[test]
fn group_by_groups_each_host_and_changed_when_overrides() {
    let (code, out, json) = play(
        r#"
- hosts: web
  gather_facts: no
  tasks:
    - group_by:
        key: "kind_{{ inventory_hostname }}"
        parents: kinds
      register: g
    - group_by:
        key: "kind_{{ inventory_hostname }}"
      changed_when: true
      register: g_again
    - assert:
        that:
          - g is changed
          - g.add_group == 'kind_' ~ inventory_hostname
          - g.parent_groups == ['kinds']
          - g_again is changed
          - groups['kinds'] == ['w1', 'w2']
          - group_names == ['kind_' ~ inventory_hostname, 'kinds', 'web']
- hosts: kind_w2
  gather_facts: no
  tasks:
    - copy:
        dest: out.json
        content: "{{ {'host': inventory_hostname, 'play': ansible_play_hosts_all} | to_json }}"
"#,
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(json["play"], serde_json::json!(["w2"]));
}

#[test]
fn add_host_under_the_free_strategy_is_a_compile_error() {
    let (code, out, _) = play(
        "- hosts: web\n  strategy: free\n  gather_facts: no\n  tasks:\n    - add_host: name=x\n",
    );
    assert_eq!(code, Some(4), "{out}");
    assert!(
        out.contains("error: The 'add_host' module bypasses the host loop, which is currently not supported in the free strategy")
            && out.contains("play.yml:5:7"),
        "{out}"
    );
    assert!(!out.contains("PLAY ["), "{out}");
}
