//! Vault secrets on lab hosts: a vault-encrypted group_vars file and an
//! inline `!vault` value converge onto the hosts, and neither plaintext
//! appears in any output of the run (terminal at -vvv, JSON, JUnit,
//! Markdown, the saved plan), in any process's arguments on the targets or
//! the controller sampled during the run, or in any file left on a target
//! other than the managed one.

mod lab;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const FILE_SECRET: &str = "Sup3r-S3cret-Vault-pw";
const INLINE_SECRET: &str = "tok-INLINE-s3cret-42";

const PLAYBOOK: &str = r#"
- hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - name: The application's secrets file
      copy:
        dest: /etc/app.secret
        content: "password={{ db_password }}\ntoken={{ api_token }}\n"
        mode: "0600"
    - name: Values derived from the secrets
      copy:
        dest: /etc/app.derived
        content: "{{ db_password | b64encode }}\n{{ {'token': api_token} | to_json }}\n{{ db_password | upper }}\n"
        mode: "0600"
    - name: Something slow that reads it, while ps looks
      shell: "sleep 1; grep -c password= /etc/app.secret # {{ api_token | b64encode }}"
      register: uses
    - debug:
        var: db_password
"#;

fn tend(cwd: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run tend")
}

#[test]
fn vault_secrets_converge_and_leak_nowhere() {
    let lab = lab_or_skip!(2);
    let proj = lab::project(&[
        ("site.yml", PLAYBOOK),
        ("vault.pw", "correct horse battery staple\n"),
        (
            "group_vars/lab/vault.yml",
            &format!("db_password: {FILE_SECRET}\n"),
        ),
    ]);
    let dir = proj.path();
    // Encrypt with tend itself; the inline value with encrypt_string.
    let enc = tend(
        dir,
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            "vault.pw",
            "group_vars/lab/vault.yml",
        ],
    );
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let vaulted = std::fs::read_to_string(dir.join("group_vars/lab/vault.yml")).unwrap();
    assert!(vaulted.starts_with("$ANSIBLE_VAULT;1.1;AES256\n") && !vaulted.contains(FILE_SECRET));
    let inline = tend(
        dir,
        &[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "vault.pw",
            "--name",
            "api_token",
            INLINE_SECRET,
        ],
    );
    assert!(
        inline.status.success(),
        "{}",
        String::from_utf8_lossy(&inline.stderr)
    );
    std::fs::write(dir.join("group_vars/lab/main.yml"), &inline.stdout).unwrap();

    // Files written during the runs are checked for leftovers afterwards.
    for i in 1..=2 {
        lab.sh_ok(i, "touch /srv/.before-runs; sleep 1");
    }
    // Sample every process's arguments on the targets and here during the runs.
    let done = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<String>::new()));
    let sampler = {
        let (done, samples) = (Arc::clone(&done), Arc::clone(&samples));
        let lab_dir = lab.dir().to_path_buf();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for i in ["1", "2"] {
                    if let Ok(o) = Command::new(lab::lab_script())
                        .args([
                            "exec",
                            lab_dir.to_str().unwrap(),
                            i,
                            "--",
                            "ps",
                            "-eo",
                            "args",
                        ])
                        .output()
                    {
                        samples
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&o.stdout).into());
                    }
                }
                if let Ok(o) = Command::new("ps").args(["-eo", "args"]).output() {
                    samples
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&o.stdout).into());
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    let inv = lab.inventory.display().to_string();
    let plan = lab.tend_in(
        dir,
        &[
            "plan",
            "-i",
            &inv,
            "site.yml",
            "--vault-password-file",
            "vault.pw",
            "-vvv",
            "--out",
            "plan.json",
            "--json",
            "plan.jsonl",
            "--junit",
            "plan.xml",
            "--summary-md",
            "plan.md",
        ],
    );
    plan.assert_code(2);
    let run = lab.tend_in(
        dir,
        &[
            "playbook",
            "-i",
            &inv,
            "site.yml",
            "--vault-password-file",
            "vault.pw",
            "-vvv",
            "--diff",
            "--json",
            "run.jsonl",
            "--junit",
            "run.xml",
            "--summary-md",
            "run.md",
        ],
    );
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    run.assert_code(0);

    // The hosts got the plaintext, in the one managed file.
    for i in 1..=2 {
        assert_eq!(
            lab.sh_ok(i, "cat /etc/app.secret; stat -c '%a %U' /etc/app.secret"),
            format!("password={FILE_SECRET}\ntoken={INLINE_SECRET}\n600 root\n")
        );
        let stray = lab.sh(
            i,
            &format!(
                "find /tmp /var/tmp /root /home /etc /srv -xdev -type f -newer /srv/.before-runs -print0 \
                 | xargs -0 -r grep -lsF -e '{FILE_SECRET}' -e '{INLINE_SECRET}' | grep -vx /etc/app.secret | grep -vx /etc/app.derived"
            ),
        );
        assert_eq!(stray.stdout, "", "host{i}: secret left in files");
    }
    assert!(run.stdout.contains("********"), "{}", run.stdout);
    // No output of either run holds either secret.
    let mut outputs = vec![
        ("plan stdout", plan.stdout.clone()),
        ("plan stderr", plan.stderr.clone()),
        ("run stdout", run.stdout.clone()),
        ("run stderr", run.stderr.clone()),
    ];
    for f in [
        "plan.json",
        "plan.jsonl",
        "plan.xml",
        "plan.md",
        "run.jsonl",
        "run.xml",
        "run.md",
    ] {
        outputs.push((
            f,
            std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")),
        ));
    }
    // What the hosts got derived from the secrets (base64, JSON, upper case).
    let derived = lab.sh_ok(1, "cat /etc/app.derived");
    let mut secrets = vec![FILE_SECRET.to_string(), INLINE_SECRET.to_string()];
    secrets.extend(derived.lines().map(String::from));
    let b64 = Command::new("sh")
        .args(["-c", &format!("printf %s '{INLINE_SECRET}' | base64")])
        .output()
        .unwrap();
    secrets.push(String::from_utf8_lossy(&b64.stdout).trim().to_string());
    assert_eq!(secrets.len(), 6, "{derived}");
    assert_eq!(secrets[4], FILE_SECRET.to_uppercase());
    for (name, text) in &outputs {
        for secret in &secrets {
            assert!(!text.contains(secret), "{secret} in {name}:\n{text}");
        }
    }
    let samples = samples.lock().unwrap();
    assert!(samples.len() > 10, "too few ps samples: {}", samples.len());
    for s in samples.iter() {
        for secret in &secrets {
            assert!(
                !s.contains(secret),
                "{secret} in a process's arguments:\n{s}"
            );
        }
    }
}
