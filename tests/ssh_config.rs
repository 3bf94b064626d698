//! `ansible.cfg` over SSH on lab hosts: an inventory that names only the
//! hosts' addresses, and an `ansible.cfg` in the working directory that gives
//! everything else (inventory, login user, key, timeout, ssh_args with
//! Ansible's usual ControlMaster options, become to another user). What the
//! run did is checked on each host directly.

mod lab;

const PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - name: A file made as the become user of ansible.cfg
      copy:
        dest: /tmp/from_cfg
        content: "made with ansible.cfg\n"
    - name: The login user, without become
      command: id -un
      become: false
      register: login
      changed_when: false
    - debug:
        msg: "login={{ login.stdout }}"
"#;

#[test]
fn ansible_cfg_alone_says_how_to_reach_and_escalate() {
    let lab = lab_or_skip!(2);
    let dir = lab.dir().display().to_string();
    let hosts = "[lab]\nhost1 ansible_host=127.0.1.1\nhost2 ansible_host=127.0.1.2\n";
    let cfg = format!(
        "[defaults]
inventory = hosts
remote_user = deploy
private_key_file = {dir}/client_key
timeout = 5
some_unknown_key = ignored

[privilege_escalation]
become = True
become_user = app

[ssh_connection]
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={dir}/known_hosts -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes
pipelining = True
"
    );
    let proj = lab::project(&[
        ("site.yml", PLAYBOOK),
        ("hosts", hosts),
        ("ansible.cfg", &cfg),
    ]);
    let run = lab.tend_in(proj.path(), &["playbook", "site.yml"]);
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "no warning: {}", run.stderr);
    for (i, h) in [(1, "host1"), (2, "host2")] {
        assert_eq!(run.recap(h, "changed"), 1, "{}", run.stdout);
        assert_eq!(
            lab.sh_ok(i, "stat -c %U /tmp/from_cfg; cat /tmp/from_cfg"),
            "app\nmade with ansible.cfg\n"
        );
    }
    assert_eq!(
        run.stdout.matches("\"msg\": \"login=deploy\"").count(),
        2,
        "{}",
        run.stdout
    );

    // Again: nothing to change; `tend plan` says so with exit code 0.
    let run = lab.tend_in(proj.path(), &["plan", "site.yml"]);
    run.assert_code(0);
    assert_eq!(run.recap("host1", "changed"), 0, "{}", run.stdout);

    // The command line beats ansible.cfg: made again as root, and
    // logged in as root.
    lab.sh_ok(1, "rm /tmp/from_cfg");
    let run = lab.tend_in(
        proj.path(),
        &[
            "playbook",
            "site.yml",
            "--become-user",
            "root",
            "-u",
            "root",
            "-l",
            "host1",
        ],
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains("\"msg\": \"login=root\""),
        "{}",
        run.stdout
    );
    assert_eq!(lab.sh_ok(1, "stat -c %U /tmp/from_cfg"), "root\n");
    assert_eq!(lab.sh_ok(2, "stat -c %U /tmp/from_cfg"), "app\n");
}

#[test]
fn the_play_port_keyword_applies_where_the_inventory_sets_no_port() {
    let lab = lab_or_skip!(2);
    let dir = lab.dir().display().to_string();
    // host1 has no port of its own; host2's inventory port wins.
    let hosts =
        "[lab]\nhost1 ansible_host=127.0.1.1\nhost2 ansible_host=127.0.1.2 ansible_port=22\n";
    let cfg = format!(
        "[defaults]\ninventory = hosts\nremote_user = root\nprivate_key_file = {dir}/client_key\n\
         [ssh_connection]\nssh_args = -o UserKnownHostsFile={dir}/known_hosts -o GlobalKnownHostsFile=/dev/null\n"
    );
    let play = |port: u16| {
        format!(
            "- hosts: lab\n  gather_facts: no\n  port: {port}\n  tasks:\n    - command: hostname\n      changed_when: false\n"
        )
    };
    let proj = lab::project(&[
        ("closed.yml", &play(2)),
        ("open.yml", &play(22)),
        ("hosts", hosts),
        ("ansible.cfg", &cfg),
    ]);
    let run = lab.tend_in(proj.path(), &["playbook", "closed.yml"]);
    run.assert_code(4);
    assert_eq!(run.recap("host1", "unreachable"), 1, "{}", run.stdout);
    assert!(run.stdout.contains("port 2"), "{}", run.stdout);
    assert_eq!(run.recap("host2", "ok"), 1, "{}", run.stdout);
    let run = lab.tend_in(proj.path(), &["playbook", "open.yml"]);
    run.assert_code(0);
    assert_eq!(run.recap("host1", "ok"), 1, "{}", run.stdout);
}
