//! `delegate_to` over SSH on lab hosts: a task delegated to another
//! inventory host runs there (over that host's own connection), one
//! delegated to `localhost` runs on the controller, both with the
//! original host's variables.

mod lab;

const PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - name: Runs on host1 for every host
      command: hostname
      delegate_to: host1
      register: where
    - name: Runs on the controller, with each host's variables
      copy:
        dest: "{{ out }}/{{ inventory_hostname }}.txt"
        content: "{{ where.stdout }} {{ greeting }}\n"
      delegate_to: localhost
    - name: Runs on the host itself
      command: hostname
      register: own
    - copy:
        dest: "/tmp/delegate-check-{{ out | basename }}.txt"
        content: "{{ own.stdout }}\n"
"#;

#[test]
fn delegate_to_another_host_and_to_the_controller() {
    let lab = lab_or_skip!(3);
    let proj = lab::project(&[
        ("site.yml", PLAYBOOK),
        ("host_vars/host1.yml", "greeting: hello\n"),
        ("host_vars/host2.yml", "greeting: bonjour\n"),
        ("host_vars/host3.yml", "greeting: hallo\n"),
    ]);
    let out = tempfile::tempdir().unwrap();
    let ev = format!("out={}", out.path().display());
    let run = lab.playbook(&proj.path().join("site.yml"), &["-e", ev.as_str()]);
    run.assert_code(0);
    for (i, greeting) in [(1, "hello"), (2, "bonjour"), (3, "hallo")] {
        let h = format!("host{i}");
        // Delegated to host1: every host registered host1's hostname.
        assert_eq!(
            std::fs::read_to_string(out.path().join(format!("{h}.txt"))).unwrap(),
            format!("host1 {greeting}\n")
        );
        // Not delegated: each host ran it itself, and the file stayed there.
        let tag = out
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let host_file = format!("/tmp/delegate-check-{tag}.txt");
        assert_eq!(lab.sh_ok(i, &format!("cat {host_file}")), format!("{h}\n"));
        assert!(!std::path::Path::new(&host_file).exists());
    }
}
