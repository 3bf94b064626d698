//! The account modules (`group`, `user`, `authorized_key`, `known_hosts`)
//! over SSH on real lab hosts: converge with per-host attributes, verify on
//! each host directly (getent, id, cat), re-run unchanged, check mode
//! predicts exactly and changes nothing, --diff shows a manual change.

mod lab;

use serde_json::Value;

const ALICE_HASH: &str = "$6$tendsalt$/RvLvwQ9vjcAUAt34/WTWW/n2lSxqtvvkGJ1WRXbgy4LIyMhIwfE/34.ejzjaZZaC3J2lcFmN7cbl/XLVAeCT.";

const USERS: &str = r#"
- name: Accounts
  hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - name: Team group
      group:
        name: devs
        gid: "{{ devs_gid }}"

    - name: System group
      group:
        name: ops
        system: yes

    - name: Alice
      user:
        name: alice
        uid: "{{ alice_uid }}"
        group: devs
        groups: [ops, adm]
        shell: "{{ alice_shell }}"
        comment: "Alice on {{ inventory_hostname }}"
        password: "{{ alice_hash }}"
        expires: 1893456000
        generate_ssh_key: yes
        ssh_key_type: ed25519
        ssh_key_comment: "alice@{{ inventory_hostname }}"
        ssh_key_passphrase: "open sesame"
      register: alice

    - name: Service account
      user:
        name: svc
        system: yes
        create_home: no
        shell: /usr/sbin/nologin
        password_lock: yes

    - name: Former user
      user:
        name: gone
        state: absent
        remove: yes

    - name: Keep alice's result
      copy:
        dest: /root/alice.json
        content: "{{ alice | to_json }}"
"#;

fn project(n: usize) -> tempfile::TempDir {
    let mut files: Vec<(String, String)> = vec![
        ("users.yml".into(), USERS.into()),
        (
            "group_vars/lab.yml".into(),
            format!("alice_hash: '{ALICE_HASH}'\n"),
        ),
    ];
    for i in 1..=n {
        files.push((
            format!("host_vars/host{i}.yml"),
            format!(
                "devs_gid: {}\nalice_uid: {}\nalice_shell: {}\n",
                3100 + i,
                3200 + i,
                if i == 1 { "/bin/bash" } else { "/bin/sh" }
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    lab::project(&refs)
}

/// The account state of a host, read directly.
const STATE: &str = "getent passwd alice svc gone; getent group devs ops | cut -d: -f1,3,4; \
    id -Gn alice 2>/dev/null; getent shadow alice svc | cut -d: -f1,2,8; \
    ls -a /home/alice/.ssh 2>/dev/null; test -d /home/gone && echo gone-home; true";

#[test]
fn users_and_groups_converge_per_host() {
    let n = 2;
    let lab = lab_or_skip!(n);
    let proj = project(n);
    let site = proj.path().join("users.yml");
    for i in 1..=n {
        lab.sh_ok(i, "useradd -m gone && test -d /home/gone");
    }
    let fresh: Vec<String> = (1..=n).map(|i| lab.sh_ok(i, STATE)).collect();
    assert!(fresh[0].contains("gone-home"), "{}", fresh[0]);

    // Check mode: every task but the last would change; nothing does.
    let check = lab.playbook(&site, &["--check"]);
    check.assert_code(0);
    for i in 1..=n {
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            6,
            "{}",
            check.stdout
        );
        assert_eq!(
            lab.sh_ok(i, STATE),
            fresh[i - 1],
            "host{i}: check mode changed it"
        );
    }

    const TEMPS: &str = "find /tmp -maxdepth 1 -name 'tmp.*' | sort";
    let temps: Vec<String> = (1..=n).map(|i| lab.sh_ok(i, TEMPS)).collect();
    let first = lab.playbook(&site, &[]);
    first.assert_code(0);
    for i in 1..=n {
        let h = format!("host{i}");
        assert_eq!(first.recap(&h, "changed"), 6, "{}", first.stdout);
        let shell = if i == 1 { "/bin/bash" } else { "/bin/sh" };
        let gid = 3100 + i;
        let uid = 3200 + i;
        assert_eq!(
            lab.sh_ok(i, "getent passwd alice"),
            format!("alice:x:{uid}:{gid}:Alice on {h}:/home/alice:{shell}\n")
        );
        assert_eq!(
            lab.sh_ok(i, "getent group devs | cut -d: -f1,3"),
            format!("devs:{gid}\n")
        );
        let ops_gid: u32 = lab
            .sh_ok(i, "getent group ops | cut -d: -f3")
            .trim()
            .parse()
            .unwrap();
        assert!(ops_gid < 1000, "ops is a system group: {ops_gid}");
        let mut groups: Vec<String> = lab
            .sh_ok(i, "id -Gn alice")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        groups.sort();
        assert_eq!(groups, ["adm", "devs", "ops"]);
        // The hash and the expiry day (2030-01-01) in the shadow file.
        assert_eq!(
            lab.sh_ok(i, "getent shadow alice | cut -d: -f2,8"),
            format!("{ALICE_HASH}:21915\n")
        );
        // The key: owned by alice, protected by the passphrase.
        assert_eq!(
            lab.sh_ok(
                i,
                "stat -c '%U %a' /home/alice/.ssh /home/alice/.ssh/id_ed25519"
            ),
            "alice 700\nalice 600\n"
        );
        let public = lab.sh_ok(
            i,
            "ssh-keygen -y -P 'open sesame' -f /home/alice/.ssh/id_ed25519",
        );
        assert!(public.starts_with("ssh-ed25519 "), "{public}");
        assert!(
            lab.sh(i, "ssh-keygen -y -P 'wrong' -f /home/alice/.ssh/id_ed25519")
                .code
                != Some(0)
        );
        // svc: a locked system account without a home.
        let svc = lab.sh_ok(i, "getent passwd svc; getent shadow svc | cut -d: -f2");
        let mut lines = svc.lines();
        let pw: Vec<&str> = lines.next().unwrap().split(':').collect();
        assert!(pw[2].parse::<u32>().unwrap() < 1000, "{svc}");
        assert_eq!(pw[6], "/usr/sbin/nologin");
        assert!(lines.next().unwrap().starts_with('!'), "{svc}");
        lab.sh_ok(i, "test ! -e /home/svc");
        // gone, with its home.
        assert_eq!(lab.sh(i, "getent passwd gone").code, Some(2));
        lab.sh_ok(i, "test ! -e /home/gone");
        // Ansible's return values.
        let result: Value = serde_json::from_str(&lab.sh_ok(i, "cat /root/alice.json")).unwrap();
        assert_eq!(result["uid"], uid);
        assert_eq!(result["group"], gid);
        assert_eq!(result["groups"], "ops,adm");
        assert_eq!(result["shell"], shell);
        assert_eq!(result["home"], "/home/alice");
        assert_eq!(result["comment"], format!("Alice on {h}"));
        assert_eq!(result["password"], "NOT_LOGGING_PASSWORD");
        assert_eq!(result["state"], "present");
        assert_eq!(result["system"], false);
        assert_eq!(result["create_home"], true);
        assert_eq!(result["changed"], true);
        assert_eq!(result["ssh_key_file"], "/home/alice/.ssh/id_ed25519");
        assert_eq!(result["ssh_public_key"].as_str().unwrap(), public.trim());
        assert!(
            result["ssh_fingerprint"]
                .as_str()
                .unwrap()
                .starts_with("256 SHA256:"),
            "{result}"
        );
        let text = result.to_string();
        assert!(!text.contains("open sesame") && !text.contains("tendsalt"));
    }
    assert!(
        !first.stdout.contains("tendsalt") && !first.stdout.contains("open sesame"),
        "a secret in the output"
    );
    for i in 1..=n {
        // No askpass helper or temp file left behind (the host's /tmp is
        // layered over this machine's: compare with before).
        assert_eq!(lab.sh_ok(i, TEMPS), temps[i - 1], "host{i}");
        assert_eq!(
            lab.sh_ok(i, "find /home/alice /root -name 'tmp.*' -o -name '.tend.*'"),
            ""
        );
    }

    // Re-run: nothing changes (the copy of the result differs: `changed`).
    let converged: Vec<String> = (1..=n).map(|i| lab.sh_ok(i, STATE)).collect();
    let second = lab.playbook(&site, &[]);
    second.assert_code(0);
    for i in 1..=n {
        assert_eq!(
            second.recap(&format!("host{i}"), "changed"),
            1,
            "only the result copy: {}",
            second.stdout
        );
        assert_eq!(lab.sh_ok(i, STATE), converged[i - 1]);
    }

    // Drift on host2: check --diff shows exactly it and leaves it.
    lab.sh_ok(
        2,
        "usermod -s /bin/dash -c Drifted alice && gpasswd -d alice ops >/dev/null",
    );
    let drifted = lab.sh_ok(2, STATE);
    let check = lab.playbook(&site, &["--check", "--diff"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 0, "{}", check.stdout);
    assert_eq!(
        check.recap("host2", "changed"),
        2,
        "alice and the result copy: {}",
        check.stdout
    );
    for want in [
        "-    \"comment\": \"Drifted\",",
        "+    \"comment\": \"Alice on host2\",",
        "-    \"groups\": \"adm\",",
        "+    \"groups\": \"adm,ops\",",
        "-    \"shell\": \"/bin/dash\"",
        "+    \"shell\": \"/bin/sh\"",
    ] {
        assert!(check.stdout.contains(want), "{want}\n{}", check.stdout);
    }
    assert_eq!(lab.sh_ok(2, STATE), drifted);
    let fix = lab.playbook(&site, &[]);
    fix.assert_code(0);
    assert_eq!(
        fix.recap("host2", "changed"),
        2,
        "alice and the result copy"
    );
    assert_eq!(lab.sh_ok(2, STATE), converged[1]);
}

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM1AkKQ6jhhEWH3ZU0R9XODTEzRjzxLfvjQFowb97fW9";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsnAUCgj/u6wlsLNmIbYCWM9siyyLS5YnoGsiBF6O0S";
const KEY_C: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPCin+u0sU39XW3WyFBVfLsXb5cpX9GaOPmnmsZOusTr";
const KEY_D: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKwvkFMbeieZ5yMoc4S9VCLAHqbxUhiC1+3plPxGunvk";

const KEYS: &str = r#"
- name: Keys
  hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - name: Carol
      user:
        name: carol
        shell: /bin/bash

    - name: Carol's keys
      authorized_key:
        user: carol
        key: "{{ carol_keys }}"
        key_options: "{{ carol_options | default(omit) }}"

    - name: Revoke the old key of app
      authorized_key:
        user: app
        key: "{{ key_d }} old@lab"
        state: absent

    - name: Only the CI key for deploy, in a central place
      authorized_key:
        user: deploy
        path: /srv/keys/deploy
        manage_dir: no
        exclusive: yes
        key: "{{ key_c }} ci@lab"

    - name: The git server, system-wide
      known_hosts:
        path: /etc/ssh/ssh_known_hosts
        name: git.lab
        key: "git.lab {{ key_a }}"

    - name: The backup server, hashed, for root
      known_hosts:
        name: "[backup.lab]:2222"
        key: "[backup.lab]:2222 {{ key_b }}"
        hash_host: yes

    - name: Forget the old server
      known_hosts:
        path: /etc/ssh/ssh_known_hosts
        name: old.lab
        state: absent
"#;

fn keys_project() -> tempfile::TempDir {
    let group_vars =
        format!("key_c: '{KEY_C}'\nkey_d: '{KEY_D}'\nkey_a: '{KEY_A}'\nkey_b: '{KEY_B}'\n");
    let host1 = format!("carol_keys: '{KEY_A} carol@laptop'\n");
    let host2 = format!(
        "carol_keys: |\n  {KEY_A} carol@laptop\n  {KEY_B} carol@desk\ncarol_options: 'no-pty,from=\"127.0.0.0/8\"'\n"
    );
    lab::project(&[
        ("keys.yml", KEYS),
        ("group_vars/lab.yml", &group_vars),
        ("host_vars/host1.yml", &host1),
        ("host_vars/host2.yml", &host2),
    ])
}

/// Everything the keys play touches on a host.
const KEY_STATE: &str = "cat /home/carol/.ssh/authorized_keys /home/app/.ssh/authorized_keys \
    /srv/keys/deploy /etc/ssh/ssh_known_hosts /root/.ssh/known_hosts 2>&1; \
    stat -c '%n %U %a' /home/carol/.ssh /home/carol/.ssh/authorized_keys /srv/keys/deploy 2>&1; true";

#[test]
fn authorized_keys_and_known_hosts() {
    let n = 2;
    let lab = lab_or_skip!(n);
    let proj = keys_project();
    let site = proj.path().join("keys.yml");
    for i in 1..=n {
        lab.sh_ok(
            i,
            &format!(
                "useradd -m -s /bin/sh carol && mkdir -p -m 700 /home/app/.ssh /srv/keys && \
                 printf '%s\\n' '{KEY_A} app@lab' '{KEY_D} old@lab' > /home/app/.ssh/authorized_keys && \
                 printf '%s\\n' '# stale' '{KEY_D} stale@lab' > /srv/keys/deploy && \
                 printf '%s\\n' 'old.lab {KEY_D}' 'old.lab,10.0.0.9 {KEY_C}' 'other.lab {KEY_C}' > /etc/ssh/ssh_known_hosts && \
                 rm -f /root/.ssh/known_hosts"
            ),
        );
    }
    let fresh: Vec<String> = (1..=n).map(|i| lab.sh_ok(i, KEY_STATE)).collect();

    let check = lab.playbook(&site, &["--check"]);
    check.assert_code(0);
    for i in 1..=n {
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            7,
            "{}",
            check.stdout
        );
        assert_eq!(
            lab.sh_ok(i, KEY_STATE),
            fresh[i - 1],
            "host{i}: check mode wrote"
        );
    }

    let first = lab.playbook(&site, &[]);
    first.assert_code(0);
    for i in 1..=n {
        let h = format!("host{i}");
        assert_eq!(first.recap(&h, "changed"), 7, "{}", first.stdout);
        let carol = if i == 1 {
            format!("{KEY_A} carol@laptop\n")
        } else {
            format!(
                "no-pty,from=\"127.0.0.0/8\" {KEY_A} carol@laptop\nno-pty,from=\"127.0.0.0/8\" {KEY_B} carol@desk\n"
            )
        };
        assert_eq!(lab.sh_ok(i, "cat /home/carol/.ssh/authorized_keys"), carol);
        assert_eq!(
            lab.sh_ok(
                i,
                "stat -c '%U:%G %a' /home/carol/.ssh /home/carol/.ssh/authorized_keys"
            ),
            "carol:carol 700\ncarol:carol 600\n"
        );
        assert_eq!(
            lab.sh_ok(i, "cat /home/app/.ssh/authorized_keys"),
            format!("{KEY_A} app@lab\n")
        );
        assert_eq!(
            lab.sh_ok(
                i,
                "cat /srv/keys/deploy; stat -c '%U %a' /srv/keys/deploy /srv/keys"
            ),
            format!("{KEY_C} ci@lab\ndeploy 600\nroot 700\n")
        );
        assert_eq!(
            lab.sh_ok(i, "cat /etc/ssh/ssh_known_hosts"),
            format!("other.lab {KEY_C}\ngit.lab {KEY_A}\n")
        );
        // The hashed entry is found by OpenSSH's own lookup.
        let kh = lab.sh_ok(i, "cat /root/.ssh/known_hosts");
        assert!(
            kh.starts_with("|1|") && kh.ends_with(&format!(" {KEY_B}\n")),
            "{kh}"
        );
        assert!(
            lab.sh_ok(
                i,
                "ssh-keygen -F '[backup.lab]:2222' -f /root/.ssh/known_hosts"
            )
            .contains(KEY_B)
        );
        lab.sh_ok(i, "test -f /etc/ssh/ssh_known_hosts.old");
    }

    let converged: Vec<String> = (1..=n).map(|i| lab.sh_ok(i, KEY_STATE)).collect();
    let second = lab.playbook(&site, &[]);
    second.assert_code(0);
    for i in 1..=n {
        assert_eq!(
            second.recap(&format!("host{i}"), "changed"),
            0,
            "{}",
            second.stdout
        );
        assert_eq!(lab.sh_ok(i, KEY_STATE), converged[i - 1]);
    }

    // Drift on host2: carol's desk key is gone; check --diff shows it back.
    lab.sh_ok(2, "sed -i '/carol@desk/d' /home/carol/.ssh/authorized_keys");
    let drifted = lab.sh_ok(2, KEY_STATE);
    let check = lab.playbook(&site, &["--check", "--diff"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 0, "{}", check.stdout);
    assert_eq!(check.recap("host2", "changed"), 1, "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains(&format!("+no-pty,from=\"127.0.0.0/8\" {KEY_B} carol@desk")),
        "{}",
        check.stdout
    );
    assert_eq!(lab.sh_ok(2, KEY_STATE), drifted);
    let fix = lab.playbook(&site, &[]);
    fix.assert_code(0);
    assert_eq!(fix.recap("host2", "changed"), 1);
    assert_eq!(lab.sh_ok(2, KEY_STATE), converged[1]);
}

const FAILING: &str = r#"
- name: Failures
  hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - name: Team
      group:
        name: team
    - name: Dan in the team
      user:
        name: dan
        group: team
    - name: The team cannot go while it is dan's group
      group:
        name: team
        state: absent
      register: gone
      ignore_errors: yes
    - name: A user in a group that does not exist
      user:
        name: erin
        groups: [nope]
      register: erin
      ignore_errors: yes
    - name: Keep the results
      copy:
        dest: /root/failures.json
        content: "{{ {'gone': gone, 'erin': erin} | to_json }}"
"#;

#[test]
fn failing_tools_fail_the_task_as_ansible() {
    let lab = lab_or_skip!(1);
    let proj = lab::project(&[("fail.yml", FAILING)]);
    let run = lab.playbook(&proj.path().join("fail.yml"), &[]);
    run.assert_code(0);
    assert_eq!(run.recap("host1", "ignored"), 2, "{}", run.stdout);
    let r: Value = serde_json::from_str(&lab.sh_ok(1, "cat /root/failures.json")).unwrap();
    // groupdel's own message, as Ansible returns it.
    assert_eq!(
        r["gone"]["msg"],
        "groupdel: cannot remove the primary group of user 'dan'\n"
    );
    assert_eq!(r["gone"]["name"], "team");
    assert_eq!(r["gone"]["failed"], true);
    assert_eq!(r["erin"]["msg"], "Group nope does not exist");
    lab.sh_ok(1, "getent group team && getent passwd dan");
    assert_eq!(lab.sh(1, "getent passwd erin").code, Some(2));
}
