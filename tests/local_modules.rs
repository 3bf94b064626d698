//! Modules on the local connection, end to end: what they return, the facts
//! they set and what they leave on this machine. Each test pins behaviour of
//! ansible-core 2.19 (its integration targets check the same).

use std::process::{Command, Output};

/// Runs `tend playbook` on `play` in a fresh directory against `localhost`
/// on the local connection; returns the output and the directory.
fn run(play: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("inv.ini"),
        "localhost ansible_connection=local\n",
    )
    .expect("inventory");
    std::fs::write(dir.path().join("play.yml"), play).expect("play");
    let work = format!("work={}", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i", "inv.ini", "play.yml", "-e", &work])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tend");
    (out, dir)
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn getent_sets_facts_as_variables_and_in_ansible_facts() {
    let (out, _dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - getent:
        database: passwd
        key: root
    - assert:
        that:
          - getent_passwd.root[1] == '0'
          - ansible_facts.getent_passwd.root[4] == '/root'
    - getent:
        database: passwd
        key: no-such-user-for-tend
        fail_key: false
      register: missing
    - assert:
        that:
          - missing is not changed
          - missing.msg == 'One or more supplied key could not be found in the database.'
          - "getent_passwd == {'no-such-user-for-tend': None}"
"#);
    ok(&out);
}

#[test]
fn tempfile_creates_a_new_private_file_or_directory_each_run() {
    let (out, dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - tempfile:
        path: "{{ work }}"
        prefix: pre.
        suffix: .txt
      register: f
    - tempfile:
        state: directory
        path: "{{ work }}"
      register: d
    - stat:
        path: "{{ f.path }}"
      register: fs
    - stat:
        path: "{{ d.path }}"
      register: ds
    - assert:
        that:
          - f is changed and d is changed
          - f.path is match(work ~ '/pre\.[^/]{8}\.txt$')
          - d.path is match(work ~ '/ansible\.[^/]{8}$')
          - fs.stat.isreg and fs.stat.mode == '0600'
          - ds.stat.isdir and ds.stat.mode == '0700'
    - tempfile:
        path: "{{ work }}/missing"
      register: bad
      ignore_errors: true
    - assert:
        that:
          - bad is failed
          - "'No such file or directory' in bad.msg"
"#);
    ok(&out);
    let made = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("pre."))
        })
        .count();
    assert_eq!(made, 1);
}
