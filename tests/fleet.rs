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
    run_playbook(&compat.join("cases").join(format!("{case}.yml")), &[])
}

/// Runs a playbook on the three local hosts of `compat/inventory-3.ini`,
/// with `-e work=DIR` (a fresh directory) and more arguments.
fn run_playbook(playbook: &std::path::Path, args: &[&str]) -> Run {
    let compat = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compat");
    let work = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i"])
        .arg(compat.join("inventory-3.ini"))
        .arg(playbook)
        .arg("-e")
        .arg(format!("work={}", work.path().display()))
        .args(args)
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

/// The banners under which a host's results show, in order (one per result line).
fn host_banners(stdout: &str, host: &str) -> Vec<String> {
    let mut banner = String::new();
    let mut out = Vec::new();
    let tag = format!("[{host}]");
    for l in lines(stdout) {
        if l.starts_with("TASK [") || l.starts_with("RUNNING HANDLER [") {
            banner = l;
        } else if l.contains(&tag) && !l.starts_with("included:") && out.last() != Some(&banner) {
            out.push(banner.clone());
        }
    }
    out
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

/// A playbook in a temp dir: three tasks that each write when they end
/// (nanoseconds) to DIR/HOST-N; task 1 is slow on host `a`.
fn timed_play(strategy: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let play = format!(
        "- hosts: g
  gather_facts: no
  strategy: {strategy}
  tasks:
    - name: one
      shell: sleep {{{{ 2 if inventory_hostname == 'a' else 0 }}}}; date +%s%N > {d}/{{{{ inventory_hostname }}}}-1
    - name: two
      command: \"true\"
    - name: three
      shell: date +%s%N > {d}/{{{{ inventory_hostname }}}}-3
",
        d = dir.path().display()
    );
    let path = dir.path().join("play.yml");
    std::fs::write(&path, play).expect("write the playbook");
    (dir, path)
}

fn ended(dir: &std::path::Path, host: &str, task: u32) -> u128 {
    let p = dir.join(format!("{host}-{task}"));
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .expect("a timestamp")
}

#[test]
fn free_strategy_a_slow_host_holds_back_no_other() {
    let (dir, play) = timed_play("free");
    let run = run_playbook(&play, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    // b and c were done with task 3 while a was still in task 1.
    for fast in ["b", "c"] {
        assert!(
            ended(dir.path(), fast, 3) < ended(dir.path(), "a", 1),
            "{fast} waited for a"
        );
    }
    // A banner before each host's results (hosts interleave); a's come last.
    let got = lines(&run.stdout);
    let a_one = got.iter().position(|l| l == "changed: [a]").expect("a");
    assert!(got[..a_one].iter().any(|l| l == "changed: [b]"));
    assert_eq!(got[a_one - 1], "TASK [one]");
    assert_eq!(
        recap(&run.stdout),
        [
            "a : ok=3 changed=3 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "b : ok=3 changed=3 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
            "c : ok=3 changed=3 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0",
        ]
    );
}

#[test]
fn linear_strategy_waits_for_the_slow_host() {
    // The same play under `linear`: the counterpart of the test above.
    let (dir, play) = timed_play("linear");
    let run = run_playbook(&play, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(ended(dir.path(), "b", 3) > ended(dir.path(), "a", 1));
}

#[test]
fn free_strategy_forks_bound_the_tasks_running_at_once() {
    // One fork: a task at a time, whatever the host; b's task 3 cannot
    // run while a sleeps in task 1 (it waits for the fork).
    let (dir, play) = timed_play("free");
    let run = run_playbook(&play, &["-f", "1"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let a1 = ended(dir.path(), "a", 1);
    // Whoever got the fork first, no host's task 3 ended while a slept.
    let b3 = ended(dir.path(), "b", 3);
    let c3 = ended(dir.path(), "c", 3);
    assert!(b3 > a1 || b3 < a1 - 1_500_000_000, "b3={b3} a1={a1}");
    assert!(c3 > a1 || c3 < a1 - 1_500_000_000, "c3={c3} a1={a1}");
}

#[test]
fn host_pinned_runs_at_most_forks_hosts_through_the_play() {
    // One fork: a goes through the whole play before b starts.
    let (dir, play) = timed_play("host_pinned");
    let run = run_playbook(&play, &["-f", "1"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    assert!(ended(dir.path(), "a", 3) < ended(dir.path(), "b", 1));
    assert!(ended(dir.path(), "b", 3) < ended(dir.path(), "c", 1));
}

#[test]
fn free_strategy_handlers_failures_and_run_once_as_ansible() {
    // compat/cases/free.yml (compared with ansible-playbook by compat/run.sh).
    let run = run_case("free");
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    let out = &run.stdout;
    // run_once is not honoured: a warning, and it runs on every host.
    assert_eq!(
        out.matches("[WARNING]: Using run_once with the free strategy is not currently supported.")
            .count(),
        1,
        "{out}"
    );
    // Each host: the handler at the flush, after `once` and before the rest.
    for h in ["a", "b", "c"] {
        let seq = host_banners(out, h);
        assert_eq!(
            seq[..4],
            [
                "TASK [slow on a]",
                "TASK [once]",
                "RUNNING HANDLER [h]",
                "TASK [fail on b]"
            ],
            "{h}: {out}"
        );
    }
    assert_eq!(host_banners(out, "b").len(), 4, "{out}");
    // b failed alone; meta tasks are neither shown nor counted, except a
    // skipped one (`end a` on c).
    assert_eq!(
        recap(out),
        [
            "a : ok=10 changed=5 unreachable=0 failed=0 skipped=2 rescued=0 ignored=0",
            "b : ok=3 changed=3 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
            "c : ok=11 changed=4 unreachable=0 failed=0 skipped=1 rescued=1 ignored=0",
        ]
    );
}

#[test]
fn free_strategy_ignores_any_errors_fatal_and_max_fail_percentage() {
    // compat/cases/free_fatal.yml: serial 2 with a failure on b; a goes on;
    // the batch did not wholly fail, so c's batch runs, then host_pinned.
    let run = run_case("free_fatal");
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    for w in [
        "[WARNING]: Using any_errors_fatal with the free strategy is not supported",
        "[WARNING]: Using max_fail_percentage with the free strategy is not supported",
    ] {
        assert_eq!(run.stdout.matches(w).count(), 1, "{w}: {}", run.stdout);
    }
    assert_eq!(
        recap(&run.stdout),
        [
            "a : ok=11 changed=3 unreachable=0 failed=0 skipped=2 rescued=0 ignored=0",
            "b : ok=1 changed=1 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0",
            "c : ok=9 changed=2 unreachable=0 failed=1 skipped=1 rescued=0 ignored=0",
        ]
    );
}
