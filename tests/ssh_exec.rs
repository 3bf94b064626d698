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

/// `meta: reset_connection` closes the host's connection: the tasks before
/// it share one SSH connection (the same client port), the task after it
/// connects anew.
#[test]
fn reset_connection_reconnects() {
    let lab = lab_or_skip!(1);
    let play = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - shell: echo $SSH_CONNECTION
      register: first
    - shell: echo $SSH_CONNECTION
      register: second
    - meta: reset_connection
    - shell: echo $SSH_CONNECTION
      register: third
    - copy:
        dest: /tmp/reset
        content: "{{ first.stdout == second.stdout }} {{ second.stdout == third.stdout }}\n"
"#;
    let proj = lab::project(&[("site.yml", play)]);
    let run = lab.playbook(&proj.path().join("site.yml"), &[]);
    run.assert_code(0);
    assert_eq!(lab.sh_ok(1, "cat /tmp/reset"), "True False\n");
}

/// Read-only probes sent ahead together are one round trip, and each is
/// answered when asked for in order; any other request drops the answers
/// still kept (it may change what they read), and a script that is not
/// read-only is never sent ahead.
#[test]
fn probes_sent_ahead_cost_one_round_trip() {
    if let Some(dir) = lab::inside() {
        return sent_ahead(&dir);
    }
    let lab = lab_or_skip!(1);
    lab.rerun_inside(
        "probes_sent_ahead_cost_one_round_trip",
        std::time::Duration::from_secs(120),
    );
}

fn sent_ahead(dir: &std::path::Path) {
    use tend::connection::Connection;
    use tend::connection::ssh::{Ssh, SshOptions};
    use tend_modules::{Exec, Host};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = SshOptions::from_vars("host1", &lab::host_vars(dir, 1)).unwrap();
        let ssh = Ssh::new(opts);
        let probe = |n: u32| {
            Exec::script(format!(
                "echo probe {n}; cat /tmp/ahead 2>/dev/null; hostname"
            ))
            .read_only()
        };
        let answer = |out: tend_modules::ExecOutput| (out.status, out.stdout_text());
        ssh.exec(Exec::script("rm -f /tmp/ahead /tmp/w1"))
            .await
            .unwrap();
        let base = ssh.round_trips();
        ssh.prefetch((1..=3).map(|n| (probe(n), None)).collect())
            .await;
        assert_eq!(ssh.round_trips(), base + 1);
        for n in 1..=2 {
            let out = ssh.exec(probe(n)).await.unwrap();
            assert_eq!(answer(out), (0, format!("probe {n}\nhost1\n")));
        }
        assert_eq!(
            ssh.round_trips(),
            base + 1,
            "answered from what was sent ahead"
        );
        ssh.exec(Exec::script("echo changed > /tmp/ahead"))
            .await
            .unwrap();
        let out = ssh.exec(probe(3)).await.unwrap();
        assert_eq!(answer(out), (0, "probe 3\nchanged\nhost1\n".to_string()));
        assert_eq!(ssh.round_trips(), base + 3, "asked again after a change");
        ssh.prefetch(vec![
            (Exec::script("echo x > /tmp/w1"), None),
            (Exec::script("echo x > /tmp/w1"), None),
        ])
        .await;
        assert_eq!(
            ssh.round_trips(),
            base + 3,
            "nothing but probes is sent ahead"
        );
        let out = ssh.exec(Exec::script("test -e /tmp/w1")).await.unwrap();
        assert_eq!(out.status, 1);
        ssh.close().await;
    });
}

/// Hosts in the stress lab, and how many times each runs the whole mix.
const STRESS_HOSTS: usize = 5;
const STRESS_ROUNDS: usize = 3;

/// Many scripts at once on every host, through tend's SSH connection
/// directly (as many channels as a host allows, on 2 cores): every byte of
/// stdout and stderr arrives, the request's stdin reaches the script
/// byte-exact whatever its size and the script's, and the exit status is the
/// script's. Fact gathering parses every time.
#[test]
fn every_byte_and_status_arrive_under_load() {
    if let Some(dir) = lab::inside() {
        return stress(&dir);
    }
    let lab = lab_or_skip!(STRESS_HOSTS);
    lab.rerun_inside(
        "every_byte_and_status_arrive_under_load",
        std::time::Duration::from_secs(600),
    );
}

/// Deterministic bytes (every value, newlines and NULs included) that show
/// any shift, loss or duplication.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn lines(from: usize, to: usize) -> Vec<u8> {
    (from..=to)
        .map(|n| format!("{n}\n"))
        .collect::<String>()
        .into_bytes()
}

/// What differs between two byte strings, briefly.
fn diff(what: &str, got: &[u8], want: &[u8]) -> Option<String> {
    if got == want {
        return None;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    Some(format!(
        "{what}: {} bytes instead of {}, first difference at byte {at}",
        got.len(),
        want.len()
    ))
}

/// One script and what it must leave.
struct Case {
    name: String,
    exec: tend_modules::Exec,
    status: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn cases() -> Vec<Case> {
    use tend_modules::Exec;
    let mut cases = Vec::new();
    // Large outputs on both streams, then a status: nothing may be lost when
    // the status arrives while output is still on its way.
    cases.push(Case {
        name: "large output".into(),
        exec: Exec::script("seq 1 200000; seq 1 30000 >&2; exit 7"),
        status: 7,
        stdout: lines(1, 200000),
        stderr: lines(1, 30000),
    });
    cases.push(Case {
        name: "small output".into(),
        exec: Exec::script("echo out; echo err >&2; exit 3"),
        status: 3,
        stdout: b"out\n".to_vec(),
        stderr: b"err\n".to_vec(),
    });
    // Output written after a lingering script's shell has exited (by a
    // process that still holds stdout and stderr): the exit status reaches
    // tend first, the output must still be waited for, as ssh does.
    cases.push(Case {
        name: "output after exit".into(),
        exec: Exec::script("(sleep 0.3; seq 1 5000; echo late >&2) & echo early; exit 4")
            .lingering(),
        status: 4,
        stdout: [b"early\n".to_vec(), lines(1, 5000)].concat(),
        stderr: b"late\n".to_vec(),
    });
    // The request's stdin, byte-exact, at sizes around pipe and buffer
    // boundaries, inline in the request (up to 1 MiB) and on a channel of
    // its own (beyond), where the bootstrap must read the script and
    // nothing more.
    for (k, len) in [
        0,
        1,
        4095,
        4096,
        4097,
        65535,
        65536,
        65537,
        1 << 20,
        (4 << 20) + 3,
    ]
    .into_iter()
    .enumerate()
    {
        let input = noise(len, k as u64 + 1);
        cases.push(Case {
            name: format!("{len} bytes of stdin"),
            exec: Exec::with_stdin("cat", input.clone()),
            status: 0,
            stdout: input,
            stderr: Vec::new(),
        });
    }
    // A large script (longer than a pipe holds) followed by stdin, and one
    // without a final newline.
    let input = noise(100_000, 99);
    cases.push(Case {
        name: "large script with stdin".into(),
        exec: Exec::with_stdin(
            format!("# {}\ncat; exit 5", "x".repeat(300_000)),
            input.clone(),
        ),
        status: 5,
        stdout: input,
        stderr: Vec::new(),
    });
    // A script that ignores a large stdin.
    cases.push(Case {
        name: "unread stdin".into(),
        exec: Exec::with_stdin("echo done", noise(3 << 20, 7)),
        status: 0,
        stdout: b"done\n".to_vec(),
        stderr: Vec::new(),
    });
    cases
}

fn stress(dir: &std::path::Path) {
    use std::sync::Arc;
    use tend::connection::ssh::{Ssh, SshOptions};
    use tend_modules::{Exec, Host};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let hosts: Vec<Arc<Ssh>> = (1..=STRESS_HOSTS)
            .map(|i| {
                let name = format!("host{i}");
                let opts = SshOptions::from_vars(&name, &lab::host_vars(dir, i)).unwrap();
                Arc::new(Ssh::new(opts))
            })
            .collect();
        let cases = Arc::new(cases());
        let mut jobs = tokio::task::JoinSet::new();
        let mut runs = 0;
        for _ in 0..STRESS_ROUNDS {
            for (i, host) in hosts.iter().enumerate() {
                let name = format!("host{}", i + 1);
                // Fact gathering, as many at once as the host takes.
                for _ in 0..tend::connection::ssh::MAX_CHANNELS {
                    let (host, name) = (host.clone(), name.clone());
                    runs += 1;
                    jobs.spawn(async move {
                        let exec = Exec::script(tend::exec::facts::gather_script());
                        let o = host
                            .exec(exec)
                            .await
                            .map_err(|e| format!("{name}: facts: {e}"))?;
                        if o.status != 0 {
                            return Err(format!("{name}: facts: exit status {}", o.status));
                        }
                        let text = String::from_utf8_lossy(&o.stdout);
                        let facts = tend::exec::facts::parse(&text).map_err(|e| {
                            format!("{name}: facts: {e} ({} bytes)", o.stdout.len())
                        })?;
                        match facts.get("hostname").and_then(|h| h.as_str()) {
                            Some(h) if h == name => Ok(()),
                            h => Err(format!("{name}: facts: hostname {h:?}")),
                        }
                    });
                }
                for k in 0..cases.len() {
                    let (host, name, cases) = (host.clone(), name.clone(), cases.clone());
                    runs += 1;
                    jobs.spawn(async move {
                        let case = &cases[k];
                        let what = format!("{name}: {}", case.name);
                        let o = host
                            .exec(case.exec.clone())
                            .await
                            .map_err(|e| format!("{what}: {e}"))?;
                        let mut wrong = Vec::new();
                        if o.status != case.status {
                            wrong.push(format!(
                                "exit status {} instead of {}",
                                o.status, case.status
                            ));
                        }
                        wrong.extend(diff("stdout", &o.stdout, &case.stdout));
                        wrong.extend(diff("stderr", &o.stderr, &case.stderr));
                        if wrong.is_empty() {
                            Ok(())
                        } else {
                            Err(format!("{what}: {}", wrong.join("; ")))
                        }
                    });
                }
            }
        }
        let mut failures = Vec::new();
        while let Some(r) = jobs.join_next().await {
            if let Err(e) = r.expect("job panicked") {
                failures.push(e);
            }
        }
        for h in &hosts {
            h.close().await;
        }
        eprintln!("{runs} scripts, {} wrong", failures.len());
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}
