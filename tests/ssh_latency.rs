//! The lab's added latency (`lab/lab up --latency-ms`): hosts behind the
//! delaying relay work as without it (a copy arrives byte-exact, a re-run
//! changes nothing), the inventory says so, and every round trip really
//! costs the added time.

mod lab;

use std::time::{Duration, Instant};

/// Added each way: a round trip costs 2 * MS more.
const MS: u64 = 100;

const PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - copy:
        src: data.txt
        dest: /tmp/data.txt
"#;

#[test]
fn hosts_behind_the_delaying_relay() {
    if let Some(why) = lab::unavailable() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let lab = lab::Lab::up_with_latency(2, MS);
    let inventory = std::fs::read_to_string(lab.dir().join("inventory.ini")).expect("inventory");
    assert!(
        inventory.contains(&format!("lab_latency_ms={MS}\n")),
        "{inventory}"
    );
    // Large enough to need many TCP segments and SSH window updates.
    let data: String = (0..20_000)
        .map(|i| format!("line {i} {}\n", i * 7919))
        .collect();
    let proj = lab::project(&[("site.yml", PLAYBOOK), ("data.txt", &data)]);
    let started = Instant::now();
    let run = lab.playbook(&proj.path().join("site.yml"), &[]);
    let took = started.elapsed();
    run.assert_code(0);
    for i in 1..=2 {
        assert_eq!(run.recap(&format!("host{i}"), "changed"), 1);
        assert_eq!(lab.sh_ok(i, "cat /tmp/data.txt"), data, "host{i}");
    }
    // A lower bound, so a busy machine cannot break it: TCP connect, the SSH
    // key exchange and authentication take at least 4 round trips, the copy's
    // probe and write one each.
    let floor = Duration::from_millis(6 * 2 * MS);
    assert!(
        took >= floor,
        "took {took:?}, less than {floor:?}: no latency added"
    );
    let again = lab.playbook(&proj.path().join("site.yml"), &[]);
    again.assert_code(0);
    for i in 1..=2 {
        assert_eq!(again.recap(&format!("host{i}"), "changed"), 0);
    }
}
