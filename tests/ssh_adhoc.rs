//! Ad-hoc commands over SSH: `tend ping` checks login on every host and names
//! the one that is down; `tend run` runs a module everywhere, with become,
//! check mode and one-line output, as `ansible` does.

mod lab;

#[test]
fn ping_reports_every_host_and_the_one_that_is_down() {
    let lab = lab_or_skip!(10);
    lab.stop(7);
    let inv = lab.inventory.to_string_lossy().into_owned();
    let run = lab.tend_in(lab.dir(), &["ping", "-i", &inv, "lab", "-o"]);
    run.assert_code(4);
    for i in (1..=10).filter(|i| *i != 7) {
        let line = format!("host{i} | SUCCESS => {{\"changed\": false,\"ping\": \"pong\"}}");
        assert!(
            run.stdout.lines().any(|l| l == line),
            "{line} missing:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("host7 | UNREACHABLE!: ")),
        "{}",
        run.stdout
    );
}

#[test]
fn run_applies_a_module_with_become_and_check_mode_predicts_it() {
    let lab = lab_or_skip!(3);
    let inv = lab.inventory.to_string_lossy().into_owned();
    let args = "path=/srv/adhoc state=directory mode=0750";
    // Check mode: predicted changed, nothing made.
    let check = lab.tend_in(
        lab.dir(),
        &[
            "run", "-i", &inv, "lab", "-m", "file", "-a", args, "-b", "-C",
        ],
    );
    check.assert_code(0);
    assert_eq!(
        check.stdout.matches("| CHANGED => {").count(),
        3,
        "{}",
        check.stdout
    );
    for i in 1..=3 {
        assert_eq!(
            lab.sh_ok(i, "test -e /srv/adhoc && echo yes || echo no"),
            "no\n"
        );
    }
    let apply = lab.tend_in(
        lab.dir(),
        &[
            "run", "-i", &inv, "lab", "-m", "file", "-a", args, "--become",
        ],
    );
    apply.assert_code(0);
    for i in 1..=3 {
        assert_eq!(lab.sh_ok(i, "stat -c '%a %U' /srv/adhoc"), "750 root\n");
    }
    let again = lab.tend_in(
        lab.dir(),
        &["run", "-i", &inv, "lab", "-m", "file", "-a", args, "-b"],
    );
    assert_eq!(
        again.stdout.matches("| SUCCESS => {").count(),
        3,
        "{}",
        again.stdout
    );
    // The default module is `command`; its output is text, per host, and a
    // failing host is FAILED with exit code 2 (stdout, stderr and msg run
    // together, as ansible prints them).
    let cmd = lab.tend_in(
        lab.dir(),
        &[
            "run",
            "-i",
            &inv,
            "lab",
            "-a",
            "sh -c 'hostname; test $(hostname) != host2'",
        ],
    );
    cmd.assert_code(2);
    assert!(
        cmd.stdout.contains("host1 | CHANGED | rc=0 >>\nhost1\n"),
        "{}",
        cmd.stdout
    );
    assert!(
        cmd.stdout
            .contains("host2 | FAILED | rc=1 >>\nhost2non-zero return code\n"),
        "{}",
        cmd.stdout
    );
}
