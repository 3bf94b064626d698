//! Fleet behaviour on several (local) hosts: `serial` batches, `order`,
//! `max_fail_percentage`, `any_errors_fatal`, `run_once`, and hosts that
//! failed in one play staying out of the next. The playbooks are the compat
//! cases that `compat/run.sh` also runs under ansible-playbook.

use std::path::PathBuf;
use std::process::Command;

struct Run {
    code: Option<i32>,
    stdout: String,
}

fn run_case(case: &str) -> Run {
    let compat = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compat");
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i"])
        .arg(compat.join("inventory-3.ini"))
        .arg(compat.join("cases").join(format!("{case}.yml")))
        .env("NO_COLOR", "1")
        .output()
        .expect("run tend");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// The lines of stdout without banner padding and blank lines.
fn lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| l.trim_end_matches(['*', ' ']).to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn recap(stdout: &str) -> Vec<String> {
    let all = lines(stdout);
    let at = all.iter().position(|l| l == "PLAY RECAP").expect("recap");
    all[at + 1..]
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn serial_runs_rolling_batches_with_their_own_handlers() {
    let run = run_case("serial");
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let got = lines(&run.stdout);
    let msgs: Vec<&String> = got.iter().filter(|l| l.contains("\"msg\"")).collect();
    // [1, "50%"] of 3 hosts: a, then b (50% of 3 is 1), then c.
    assert_eq!(
        msgs,
        [
            r#"    "msg": "['a'] ['a'] ['a', 'b', 'c']""#,
            r#"    "msg": "handled""#,
            r#"    "msg": "['b'] ['b'] ['a', 'b', 'c']""#,
            r#"    "msg": "handled""#,
            r#"    "msg": "['c'] ['c'] ['a', 'b', 'c']""#,
            r#"    "msg": "handled""#,
        ]
    );
    // Each batch prints the play banner again; the second play has 2 batches.
    assert_eq!(got.iter().filter(|l| *l == "PLAY [g]").count(), 5);
    // `order: reverse_inventory` with serial 2: c and b (each prints the
    // batch), then a.
    let second: Vec<&String> = got
        .iter()
        .skip_while(|l| !l.contains("ansible_play_batch"))
        .filter(|l| l.starts_with("        \""))
        .collect();
    assert_eq!(
        second,
        [
            r#"        "c","#,
            r#"        "b""#,
            r#"        "c","#,
            r#"        "b""#,
            r#"        "a""#
        ]
    );
}

#[test]
fn max_fail_percentage_ends_the_play_and_the_run() {
    let run = run_case("max_fail_percentage");
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    let got = lines(&run.stdout);
    assert_eq!(
        got.iter().filter(|l| *l == "NO MORE HOSTS LEFT").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("never"), "{}", run.stdout);
    // c's batch never started: it is not in the recap.
    assert_eq!(
        recap(&run.stdout),
        [
            "a : ok=1 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0",
            "b : ok=0 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
        ]
    );
}

#[test]
fn any_errors_fatal_sends_every_host_to_rescue_and_then_ends_the_run() {
    let run = run_case("any_errors_fatal");
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches(r#""msg": "rescue""#).count(),
        3,
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("after"), "{}", run.stdout);
    assert!(!run.stdout.contains("never"), "{}", run.stdout);
    assert_eq!(
        recap(&run.stdout),
        [
            "a : ok=1 changed=0 unreachable=0 failed=1 skipped=1 rescued=0 ignored=0",
            "b : ok=1 changed=0 unreachable=0 failed=0 skipped=2 rescued=0 ignored=0",
            "c : ok=1 changed=0 unreachable=0 failed=0 skipped=1 rescued=1 ignored=0",
        ]
    );
}

#[test]
fn a_host_that_failed_is_left_out_of_later_plays() {
    let run = run_case("failed_hosts");
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    let got = lines(&run.stdout);
    let second_play: Vec<&String> = got.iter().skip_while(|l| *l != "TASK [debug]").collect();
    assert!(second_play.iter().any(|l| *l == "ok: [b] => {"));
    assert!(
        !second_play.iter().any(|l| l.contains("[a]")),
        "{}",
        run.stdout
    );
}

#[test]
fn run_once_runs_on_the_first_host_and_shares_its_results() {
    let run = run_case("run_once");
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    // The registered stdout and the fact came from `a`, on every host.
    assert_eq!(
        run.stdout
            .matches(r#""msg": "a a ['a', 'b', 'c']""#)
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches(r#""msg": "once""#).count(), 1);
    // The handler it notified runs on `a` alone, as in Ansible 2.19.
    assert_eq!(run.stdout.matches(r#""msg": "handler""#).count(), 1);
    assert_eq!(
        recap(&run.stdout),
        [
            "a : ok=6 changed=2 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "b : ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "c : ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
        ]
    );
}
