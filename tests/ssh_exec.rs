//! What a script leaves over SSH is exact: exit status (127 included),
//! stdout, stderr, and the request's own stdin reaches the script intact;
//! a script killed by a signal is a failed task (128 + signal), not an
//! unreachable host.

mod lab;

const PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - shell: "printf 'out\\n'; printf 'err\\n' >&2; cat; exit 127"
      args:
        stdin: "in: {{ inventory_hostname }}"
      register: r
      failed_when: false
    - shell: "kill -TERM $$"
      register: k
      failed_when: false
    - copy:
        dest: /tmp/result
        content: "{{ r.rc }}|{{ r.stdout }}|{{ r.stderr }}|{{ k.rc }}\n"
"#;

#[test]
fn status_output_and_stdin_are_exact() {
    let lab = lab_or_skip!(3);
    let proj = lab::project(&[("site.yml", PLAYBOOK)]);
    let run = lab.playbook(&proj.path().join("site.yml"), &[]);
    run.assert_code(0);
    for i in 1..=3 {
        assert_eq!(run.recap(&format!("host{i}"), "unreachable"), 0);
        assert_eq!(
            lab.sh_ok(i, "cat /tmp/result"),
            format!("127|out\nin: host{i}|err|143\n")
        );
    }
}
