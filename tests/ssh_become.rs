//! `become` over SSH on lab hosts: the `deploy` user escalates to root with
//! passwordless sudo and to another user with `become_user`; ownership is
//! checked on each host directly.

mod lab;

const PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - command: id -un
      register: plain
    - command: id -un
      become: yes
      register: as_root
    - command: id -un
      become: yes
      become_user: app
      register: as_app
    - name: As root, with what each identity saw
      copy:
        dest: /etc/tend-become.txt
        content: "{{ plain.stdout }} {{ as_root.stdout }} {{ as_app.stdout }} {{ greeting }}\n"
      become: yes
    - name: As app
      copy:
        dest: /home/app/note.txt
        content: "from app\n"
        mode: "0600"
      become: yes
      become_user: app
    - name: Without become
      file:
        path: /home/deploy/plain.txt
        state: touch
    - name: Without become, root's files are out of reach
      copy:
        dest: /etc/not-allowed.txt
        content: "no\n"
      ignore_errors: yes
"#;

#[test]
fn become_root_and_another_user_from_the_deploy_user() {
    let lab = lab_or_skip!(3);
    let proj = lab::project(&[
        ("site.yml", PLAYBOOK),
        ("host_vars/host1.yml", "greeting: hello\n"),
        ("host_vars/host2.yml", "greeting: bonjour\n"),
        ("host_vars/host3.yml", "greeting: hallo\n"),
    ]);
    let site = proj.path().join("site.yml");
    let run = lab.playbook(&site, &[]);
    run.assert_code(0);
    for (i, greeting) in [(1, "hello"), (2, "bonjour"), (3, "hallo")] {
        let h = format!("host{i}");
        assert_eq!(run.recap(&h, "failed"), 0);
        assert_eq!(run.recap(&h, "ignored"), 1, "{}", run.stdout);
        assert_eq!(
            lab.sh_ok(
                i,
                "cat /etc/tend-become.txt; stat -c '%U %a' /etc/tend-become.txt"
            ),
            format!("deploy root app {greeting}\nroot 644\n")
        );
        assert_eq!(
            lab.sh_ok(
                i,
                "cat /home/app/note.txt; stat -c '%U:%G %a' /home/app/note.txt"
            ),
            "from app\napp:app 600\n"
        );
        assert_eq!(
            lab.sh_ok(i, "stat -c '%U:%G' /home/deploy/plain.txt"),
            "deploy:deploy\n"
        );
        assert_eq!(
            lab.sh_ok(i, "test -e /etc/not-allowed.txt && echo yes || echo no"),
            "no\n"
        );
    }
}

const PASSWORD_PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - command: id -un
      become: yes
      register: who
    - name: Standard input reaches the escalated script intact
      shell: "ps -eo args > /tmp/ps.txt; cat"
      args:
        stdin: "payload line"
      become: yes
      register: piped
    - copy:
        dest: /root/escalated.txt
        content: "{{ who.stdout }} {{ piped.stdout }}\n"
      become: yes
"#;

/// sudo that wants a password: the right one works (and stdin still reaches
/// the script), a wrong one and a missing one fail that host with Ansible's
/// messages, and the password is in no process's arguments on the target
/// nor in tend's output.
#[test]
fn become_password_goes_through_stdin_only() {
    let lab = lab_or_skip!(3);
    let password = "s3cret-Become-pw";
    for i in 1..=3 {
        lab.sh_ok(
            i,
            &format!(
                "echo 'deploy ALL=(ALL:ALL) ALL' >/etc/sudoers.d/tend-lab; \
                 echo 'deploy:{password}' | chpasswd"
            ),
        );
    }
    let proj = lab::project(&[
        ("site.yml", PASSWORD_PLAYBOOK),
        (
            "host_vars/host1.yml",
            &format!("ansible_become_password: {password}\n"),
        ),
        (
            "host_vars/host2.yml",
            "ansible_become_password: wrong-one\n",
        ),
    ]);
    let run = lab.playbook(&proj.path().join("site.yml"), &[]);
    run.assert_code(2);
    assert_eq!(run.recap("host1", "failed"), 0, "{}", run.stdout);
    assert_eq!(
        lab.sh_ok(1, "cat /root/escalated.txt"),
        "root payload line\n"
    );
    let ps = lab.sh_ok(1, "cat /tmp/ps.txt");
    assert!(ps.contains("sudo"), "ps ran under sudo: {ps}");
    assert!(!ps.contains(password), "the password is in an argv: {ps}");
    assert!(
        run.stdout.contains(
            r#"fatal: [host2]: FAILED! => {"changed": false, "msg": "Incorrect sudo password"}"#
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            r#"fatal: [host3]: FAILED! => {"changed": false, "msg": "Missing sudo password"}"#
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));
}

/// A task-level `remote_user` logs in as that user (its own SSH master),
/// once per host and user for the play, not once per task; a play-level
/// one applies to every task.
#[test]
fn remote_user_logs_in_once_per_user() {
    let lab = lab_or_skip!(2);
    for i in 1..=2 {
        // Let `app` log in with the lab's client key (on the host only).
        lab.sh_ok(
            i,
            "mkdir -p /home/app/.ssh && cp /home/deploy/.ssh/authorized_keys /home/app/.ssh/ \
             && chown -R app:app /home/app/.ssh && chmod 700 /home/app/.ssh",
        );
    }
    let playbook = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - command: id -un
      register: a
    - command: id -un
      remote_user: app
      register: b
    - command: id -un
      remote_user: app
      register: c
    - copy:
        dest: /tmp/users.txt
        content: "{{ a.stdout }} {{ b.stdout }} {{ c.stdout }}\n"
- hosts: lab
  gather_facts: no
  remote_user: app
  tasks:
    - command: id -un
      register: d
    - copy:
        dest: /tmp/play-user.txt
        content: "{{ d.stdout }}\n"
"#;
    // The inventory's `ansible_user` would win over `remote_user` (as in
    // Ansible): this one leaves the login user to `-u` and the keywords.
    let inventory = std::fs::read_to_string(&lab.inventory).expect("inventory");
    assert!(inventory.contains("ansible_user=deploy\n"), "{inventory}");
    let inventory = inventory.replace("ansible_user=deploy\n", "");
    let proj = lab::project(&[("site.yml", playbook), ("hosts.ini", &inventory)]);
    let logins = |user: &str| lab.logins(user);
    let (deploy0, app0) = (logins("deploy"), logins("app"));
    let run = lab.tend_in(
        proj.path(),
        &["playbook", "-i", "hosts.ini", "site.yml", "-u", "deploy"],
    );
    run.assert_code(0);
    let (deploy1, app1) = (logins("deploy"), logins("app"));
    for i in 1..=2 {
        assert_eq!(lab.sh_ok(i, "cat /tmp/users.txt"), "deploy app app\n");
        assert_eq!(lab.sh_ok(i, "stat -c %U /tmp/users.txt"), "deploy\n");
        assert_eq!(lab.sh_ok(i, "cat /tmp/play-user.txt"), "app\n");
        assert_eq!(lab.sh_ok(i, "stat -c %U /tmp/play-user.txt"), "app\n");
        // deploy: the first play; app: the two tasks, then the second play.
        assert_eq!(deploy1[i - 1] - deploy0[i - 1], 1, "host{i}: deploy logins");
        assert_eq!(app1[i - 1] - app0[i - 1], 2, "host{i}: app logins");
    }
}

/// Facts are gathered under the play's become, as Ansible's implicit setup
/// task: the become user's identity and environment; a become that sudo
/// refuses fails the host at fact gathering with Ansible's message (failed,
/// not unreachable) while the others go on.
#[test]
fn facts_are_gathered_as_the_play_become_user() {
    let lab = lab_or_skip!(2);
    lab.sh_ok(
        2,
        "rm -f /etc/sudoers.d/*; echo 'deploy ALL=(ALL:ALL) ALL' >/etc/sudoers.d/tend-lab",
    );
    let play = r#"
- hosts: lab
  become: yes
  tasks:
    - copy:
        dest: /root/facts.txt
        content: "{{ ansible_facts.user_id }} {{ ansible_facts.user_dir }} {{ ansible_facts.env.HOME }}\n"
"#;
    let proj = lab::project(&[("site.yml", play)]);
    let run = lab.playbook(&proj.path().join("site.yml"), &[]);
    run.assert_code(2);
    assert_eq!(lab.sh_ok(1, "cat /root/facts.txt"), "root /root /root\n");
    assert_eq!(run.recap("host2", "failed"), 1, "{}", run.stdout);
    assert_eq!(run.recap("host2", "unreachable"), 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            r#"fatal: [host2]: FAILED! => {"changed": false, "msg": "Missing sudo password"}"#
        ),
        "{}",
        run.stdout
    );
}
