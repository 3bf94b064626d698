//! The multi-role example (`playbooks/site.yml`) on three lab hosts: the
//! `webserver` role and its `common` dependency (defaults, templates, a
//! handler), a block whose rescue runs on the first run only, an include
//! with a loop and a task delegated to the controller. Each host is then
//! inspected directly; a second run changes nothing; `--list-tasks` prints
//! what ansible-playbook 2.19.14 printed for it.

mod lab;

use std::path::PathBuf;

fn site() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("playbooks/site.yml")
}

#[test]
fn the_multi_role_site_converges_and_reruns_unchanged() {
    let lab = lab_or_skip!(3);
    let report = tempfile::tempdir().unwrap();
    let report_arg = format!("report_dir={}", report.path().display());
    let first = lab.playbook(&site(), &["-e", &report_arg]);
    first.assert_code(0);
    for i in 1..=3 {
        let h = format!("host{i}");
        // The block's command failed (no marker yet) and its rescue wrote it.
        assert_eq!(first.recap(&h, "rescued"), 1, "{}", first.stdout);
        assert_eq!(first.recap(&h, "failed"), 0, "{}", first.stdout);
        assert_eq!(
            lab.sh_ok(i, "cat /etc/motd"),
            format!("{h} is managed by tend; ask the ops team.\n")
        );
        assert_eq!(
            lab.sh_ok(
                i,
                "stat -c '%a %G' /etc/shop.conf /srv/web; tail -n 3 /etc/shop.conf"
            ),
            "640 webadmin\n755 webadmin\nlisten 8080\nroot /srv/web\nname shop\n"
        );
        // The handler ran once, after the configuration changed.
        assert_eq!(lab.sh_ok(i, "cat /srv/web/reloaded"), "reloaded for shop\n");
        assert_eq!(
            lab.sh_ok(
                i,
                "cat /srv/web/RELEASE /srv/web/about.html /srv/web/contact.html"
            ),
            "1.0\n<h1>About</h1>\n<h1>Contact</h1>\n"
        );
        // The delegated task wrote on the controller (as the controller's
        // user: the play's become is off for it).
        assert_eq!(
            std::fs::read_to_string(report.path().join(format!("{h}.txt"))).unwrap(),
            format!("{h} serves shop on 8080\n")
        );
    }
    // Changed on the host: remove the handler's mark to see it stays away.
    for i in 1..=3 {
        lab.sh_ok(i, "rm /srv/web/reloaded");
    }
    let second = lab.playbook(&site(), &["-e", &report_arg]);
    second.assert_code(0);
    for i in 1..=3 {
        let h = format!("host{i}");
        assert_eq!(second.recap(&h, "changed"), 0, "{}", second.stdout);
        assert_eq!(second.recap(&h, "rescued"), 0, "{}", second.stdout);
        assert_eq!(
            lab.sh_ok(i, "test -e /srv/web/reloaded && echo yes || echo no"),
            "no\n"
        );
    }
}

#[test]
fn the_multi_role_site_lists_its_tasks_as_ansible_playbook_does() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let inv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(inv.path(), "[lab]\nweb1 ansible_connection=local\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i"])
        .arg(inv.path())
        .args(["playbooks/site.yml", "--list-tasks"])
        .current_dir(&root)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let expected =
        std::fs::read_to_string(root.join("tests/fixtures/site/list-tasks.ansible-2.19.14.txt"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}
