//! `apt_repository`, `apt` and `package` over SSH against a lab host, with a
//! local repository of tiny packages the test builds on the host
//! (`dpkg-deb --build`), listed as `[trusted=yes] file:` so apt never
//! touches the network. Package state is read with `dpkg-query` directly on
//! the host, not through tend.

mod lab;

use lab::APT_REPO_SETUP as SETUP;

const REPO: &str = "deb [trusted=yes] file:/srv/repo ./";

fn playbook(tasks: &str) -> String {
    format!("- hosts: host1\n  gather_facts: no\n  become: yes\n  tasks:\n{tasks}")
}

const INSTALL: &str = r#"
    - name: Local repository
      apt_repository:
        repo: deb [trusted=yes] file:/srv/repo ./
        filename: tendtest

    - name: The app, pinned, with its dependency
      apt:
        name: tendapp=1.0
        state: present

    - name: A package file on the host
      apt:
        deb: /srv/local/tendlocal_1.0_all.deb

    - name: Through package
      package:
        name: tendlib
        state: present
"#;

const UPGRADE: &str = r#"
    - name: Latest app
      apt:
        name: tendapp
        state: latest
        cache_valid_time: 3600
"#;

const REMOVE: &str = r#"
    - name: Remove the app and what only it needed
      apt:
        name: [tendapp, tendlocal]
        state: absent
        purge: yes
        autoremove: yes
"#;

/// `package version` for each installed package, read on the host.
fn installed(lab: &lab::Lab) -> String {
    lab.sh_ok(
        1,
        "dpkg-query -W -f='${db:Status-Abbrev}${Package} ${Version}\\n' tendlib tendapp tendlocal 2>/dev/null | sed -n 's/^ii //p' || true",
    )
}

#[test]
fn packages_from_a_local_repository() {
    let lab = lab_or_skip!(1);
    lab.sh_ok(1, SETUP);
    let proj = lab::project(&[
        ("install.yml", &playbook(INSTALL)),
        ("upgrade.yml", &playbook(UPGRADE)),
        ("remove.yml", &playbook(REMOVE)),
    ]);
    let install = proj.path().join("install.yml");

    // Check mode: the repository is not there yet, so apt cannot know the
    // packages: the repository task is predicted, the first apt task fails
    // as it would in Ansible. Nothing changes.
    let check = lab.playbook(&install, &["--check"]);
    assert!(
        check
            .stdout
            .contains("No package matching 'tendapp' is available"),
        "{}",
        check.stdout
    );
    assert_eq!(
        lab.sh_ok(1, "ls /etc/apt/sources.list.d/ | wc -l").trim(),
        "0"
    );

    // Converge.
    let first = lab.playbook(&install, &["--diff"]);
    first.assert_code(0);
    assert_eq!(first.recap("host1", "changed"), 3, "{}", first.stdout);
    assert_eq!(
        lab.sh_ok(1, "cat /etc/apt/sources.list.d/tendtest.list"),
        format!("{REPO}\n")
    );
    assert_eq!(
        lab.sh_ok(1, "stat -c %a /etc/apt/sources.list.d/tendtest.list")
            .trim(),
        "644"
    );
    assert_eq!(
        installed(&lab),
        "tendapp 1.0\ntendlib 1.0\ntendlocal 1.0\n",
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("The following NEW packages will be installed:"),
        "--diff shows apt's summary: {}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("+deb [trusted=yes] file:/srv/repo ./")
    );
    // tendlib came in as a dependency, then `package` asked for it: marked manual.
    assert_eq!(lab.sh_ok(1, "apt-mark showauto tendlib"), "");

    // Re-run: nothing to do, one round trip per task.
    let lab::Cost {
        run: second,
        requests,
        channels,
    } = lab.playbook_cost(&install, &[]);
    second.assert_code(0);
    assert_eq!(second.recap("host1", "changed"), 0, "{}", second.stdout);
    assert_eq!(requests[0], 4, "round trips for 4 unchanged package tasks");
    assert_eq!(channels[0], 1, "one SSH channel for the whole run");

    // latest: check mode predicts the upgrade (apt-get --simulate), changes nothing.
    let upgrade = proj.path().join("upgrade.yml");
    let check = lab.playbook(&upgrade, &["--check", "--diff"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 1, "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("The following packages will be upgraded:\n  tendapp"),
        "{}",
        check.stdout
    );
    assert_eq!(installed(&lab), "tendapp 1.0\ntendlib 1.0\ntendlocal 1.0\n");
    let up = lab.playbook(&upgrade, &[]);
    up.assert_code(0);
    assert_eq!(up.recap("host1", "changed"), 1, "{}", up.stdout);
    assert_eq!(installed(&lab), "tendapp 2.0\ntendlib 1.0\ntendlocal 1.0\n");
    assert_eq!(lab.playbook(&upgrade, &[]).recap("host1", "changed"), 0);

    // The pinned task now asks for 1.0 again: a downgrade, which apt-get
    // refuses without allow_downgrade, in check mode as in a real run.
    let check = lab.playbook(&install, &["--check"]);
    assert_eq!(check.recap("host1", "failed"), 1, "{}", check.stdout);
    assert!(
        check.stdout.contains("--allow-downgrades"),
        "{}",
        check.stdout
    );

    // absent + purge + autoremove: tendlib is manual now, so it stays.
    let remove = proj.path().join("remove.yml");
    let check = lab.playbook(&remove, &["--check"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 1);
    assert_eq!(installed(&lab), "tendapp 2.0\ntendlib 1.0\ntendlocal 1.0\n");
    let gone = lab.playbook(&remove, &[]);
    gone.assert_code(0);
    assert_eq!(gone.recap("host1", "changed"), 1, "{}", gone.stdout);
    assert_eq!(installed(&lab), "tendlib 1.0\n");
    assert_eq!(
        lab.sh_ok(1, "dpkg -s tendapp >/dev/null 2>&1; echo $?")
            .trim(),
        "1",
        "purged: dpkg no longer knows it"
    );
    assert_eq!(lab.playbook(&remove, &[]).recap("host1", "changed"), 0);
}

#[test]
fn upgrade_and_autoremove_are_simulated_first() {
    let lab = lab_or_skip!(1);
    lab.sh_ok(1, SETUP);
    let proj = lab::project(&[
        (
            "old.yml",
            &playbook(
                "    - apt_repository:\n        repo: deb [trusted=yes] file:/srv/repo ./\n    - apt:\n        name: tendapp=1.0\n",
            ),
        ),
        (
            "upgrade.yml",
            &playbook("    - apt:\n        upgrade: dist\n"),
        ),
        (
            "remove.yml",
            &playbook("    - apt:\n        name: tendapp\n        state: absent\n"),
        ),
        (
            "autoremove.yml",
            &playbook("    - apt:\n        autoremove: yes\n"),
        ),
    ]);
    let pb = |name: &str| proj.path().join(name);
    lab.playbook(&pb("old.yml"), &[]).assert_code(0);
    assert_eq!(installed(&lab), "tendapp 1.0\ntendlib 1.0\n");
    assert_eq!(
        lab.sh_ok(1, "cat /etc/apt/sources.list.d/file_srv_repo.list"),
        format!("{REPO}\n"),
        "Ansible's file name from the URI"
    );

    // upgrade: dist. Check mode predicts from apt-get's simulation.
    let check = lab.playbook(&pb("upgrade.yml"), &["--check", "--diff"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 1, "{}", check.stdout);
    assert!(check.stdout.contains("tendapp"), "{}", check.stdout);
    assert_eq!(installed(&lab), "tendapp 1.0\ntendlib 1.0\n");
    let up = lab.playbook(&pb("upgrade.yml"), &[]);
    up.assert_code(0);
    assert_eq!(up.recap("host1", "changed"), 1);
    assert_eq!(installed(&lab), "tendapp 2.0\ntendlib 1.0\n");
    let lab::Cost {
        run: again,
        requests,
        channels,
    } = lab.playbook_cost(&pb("upgrade.yml"), &[]);
    assert_eq!(again.recap("host1", "changed"), 0, "{}", again.stdout);
    assert_eq!(requests[0], 1, "an unchanged upgrade is one round trip");
    assert_eq!(channels[0], 1, "one SSH channel for the whole run");

    // Removing the app leaves its automatically installed dependency...
    lab.playbook(&pb("remove.yml"), &[]).assert_code(0);
    assert_eq!(installed(&lab), "tendlib 1.0\n");
    // ...which autoremove removes; check mode first.
    let check = lab.playbook(&pb("autoremove.yml"), &["--check"]);
    assert_eq!(check.recap("host1", "changed"), 1, "{}", check.stdout);
    assert_eq!(installed(&lab), "tendlib 1.0\n");
    let auto = lab.playbook(&pb("autoremove.yml"), &[]);
    assert_eq!(auto.recap("host1", "changed"), 1, "{}", auto.stdout);
    assert_eq!(installed(&lab), "");
    assert_eq!(
        lab.playbook(&pb("autoremove.yml"), &[])
            .recap("host1", "changed"),
        0
    );
}

#[test]
fn package_fails_clearly_without_apt() {
    let lab = lab_or_skip!(1);
    // The host's /usr is its own overlay: hide apt, give it a (stub) dnf.
    lab.sh_ok(
        1,
        "mv /usr/bin/apt-get /usr/bin/apt-get.hidden && printf '#!/bin/sh\\n' >/usr/local/bin/dnf && chmod 755 /usr/local/bin/dnf",
    );
    let proj = lab::project(&[(
        "p.yml",
        "- hosts: host1\n  gather_facts: no\n  tasks:\n    - package:\n        name: curl\n        state: present\n",
    )]);
    let run = lab.playbook(&proj.path().join("p.yml"), &[]);
    assert_eq!(run.recap("host1", "failed"), 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("package: the dnf package manager is not supported yet (only apt)"),
        "{}",
        run.stdout
    );
    assert!(std::path::Path::new("/usr/bin/apt-get").exists());
}
