//! Ansible Vault: the committed ansible-vault vectors, `tend vault`, bad
//! input, and vault data used in playbook runs (local connection).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tend::vault::{Secret, Secrets};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vectors() -> PathBuf {
    root().join("tests/fixtures/vault")
}

fn tend_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run tend")
}

fn tend(args: &[&str], cwd: &Path) -> Output {
    tend_env(args, cwd, &[])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn secret(id: &str, file: &str) -> Secret {
    let pw = std::fs::read(vectors().join(file)).unwrap();
    Secret {
        id: id.into(),
        password: pw.trim_ascii().to_vec().into(),
        origin: file.into(),
    }
}

fn both() -> Secrets {
    Secrets::new(vec![
        secret("default", "default.pw"),
        secret("prod", "prod.pw"),
    ])
}

fn pw(name: &str) -> String {
    vectors().join(name).display().to_string()
}

#[test]
fn committed_vectors_decrypt_under_tend() {
    let secrets = both();
    let mut n = 0;
    for entry in std::fs::read_dir(vectors().join("ansible")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name
            .strip_suffix(".v11.vault")
            .or(name.strip_suffix(".v12-prod.vault"))
        else {
            continue;
        };
        let data = std::fs::read(&path).unwrap();
        let (plain, id) = secrets.decrypt(&data).unwrap();
        let expected = std::fs::read(vectors().join("plain").join(stem)).unwrap();
        assert_eq!(&plain[..], &expected[..], "{name}");
        let want = if name.contains("v12-prod") {
            "prod"
        } else {
            "default"
        };
        assert_eq!(id, want, "{name}");
        n += 1;
    }
    assert_eq!(n, 8, "eight committed vault files");
    // `!vault` strings from encrypt_string, read through tend's YAML layer.
    let yaml = std::fs::read_to_string(vectors().join("ansible/strings.yml")).unwrap();
    let docs = tend::yaml::parse_str("strings.yml", &yaml).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(vectors().join("ansible/strings.expected.json")).unwrap(),
    )
    .unwrap();
    for (k, v) in expected.as_object().unwrap() {
        let node = docs[0].get(k).unwrap();
        assert_eq!(node.tag.as_deref(), Some("!vault"));
        let (plain, _) = secrets.decrypt(node.as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(plain.to_vec()).unwrap(),
            v.as_str().unwrap()
        );
    }
}

#[test]
fn committed_vectors_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let v11 = vectors().join("ansible/multiline.yml.v11.vault");
    let out = tend(
        &[
            "vault",
            "view",
            "--vault-password-file",
            &pw("default.pw"),
            &v11.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        out.stdout,
        std::fs::read(vectors().join("plain/multiline.yml")).unwrap()
    );
    let bin = vectors().join("ansible/binary.bin.v12-prod.vault");
    let out = tend(
        &[
            "vault",
            "decrypt",
            "--vault-id",
            &format!("prod@{}", pw("prod.pw")),
            "--output",
            "-",
            &bin.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        out.stdout,
        std::fs::read(vectors().join("plain/binary.bin")).unwrap()
    );
}

#[test]
fn encrypt_decrypt_rekey_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("secrets.yml");
    std::fs::write(&file, "db_password: hunter2\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let prod = format!("prod@{}", pw("prod.pw"));
    let out = tend(&["vault", "encrypt", "--vault-id", &prod, "secrets.yml"], d);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "Encryption successful\n");
    let enc = std::fs::read_to_string(&file).unwrap();
    assert!(enc.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"), "{enc}");
    assert!(enc.lines().skip(1).all(|l| l.len() <= 80));
    assert!(!enc.contains("hunter2"));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640,
        "the mode is kept"
    );
    // Already encrypted: refused, file unchanged.
    let out = tend(&["vault", "encrypt", "--vault-id", &prod, "secrets.yml"], d);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "ERROR! secrets.yml: input is already encrypted\n"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), enc);
    // Rekey to the default id with another password.
    let out = tend(
        &[
            "vault",
            "rekey",
            "--vault-id",
            &prod,
            "--new-vault-password-file",
            &pw("default.pw"),
            "secrets.yml",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rekeyed = std::fs::read_to_string(&file).unwrap();
    assert!(rekeyed.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    // The old password no longer opens it.
    let out = tend(&["vault", "view", "--vault-id", &prod, "secrets.yml"], d);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "ERROR! secrets.yml: decryption failed: no vault secret could decrypt it (tried vault ids: prod); HMAC verification failed (wrong password, or the data was modified)\n"
    );
    let out = tend(
        &[
            "vault",
            "decrypt",
            "--vault-password-file",
            &pw("default.pw"),
            "secrets.yml",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "db_password: hunter2\n"
    );
    // stdin to stdout.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args([
            "vault",
            "encrypt",
            "--vault-password-file",
            &pw("default.pw"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (plain, _) = both().decrypt(&out.stdout).unwrap();
    assert_eq!(&plain[..], b"from stdin");
}

#[test]
fn encrypt_string_output_is_read_back_as_vars() {
    let dir = tempfile::tempdir().unwrap();
    let out = tend(
        &[
            "vault",
            "encrypt_string",
            "--vault-id",
            &format!("prod@{}", pw("prod.pw")),
            "--name",
            "a",
            "--name",
            "b",
            "first",
            "sécond",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(
        yaml.starts_with("a: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;prod\n          "),
        "{yaml}"
    );
    let docs = tend::yaml::parse_str("s.yml", &yaml).unwrap();
    for (k, want) in [("a", "first"), ("b", "sécond")] {
        let (plain, _) = both()
            .decrypt(docs[0].get(k).unwrap().as_str().unwrap().as_bytes())
            .unwrap();
        assert_eq!(&plain[..], want.as_bytes());
    }
    let out = tend(
        &[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            &pw("default.pw"),
            "",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("was empty, not encrypting"));
}

#[test]
fn ansible_vault_decrypts_what_tend_encrypts() {
    let vault = Path::new("/opt/ansible-ref/bin/ansible-vault");
    if !vault.exists() {
        eprintln!("skipped: no ansible-vault at {}", vault.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = vectors().join("plain/long.txt");
    let out = tend(
        &[
            "vault",
            "encrypt",
            "--vault-id",
            &format!("prod@{}", pw("prod.pw")),
            "--output",
            "enc",
            &plain.display().to_string(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = Command::new(vault)
        .args([
            "decrypt",
            "--vault-id",
            &format!("prod@{}", pw("prod.pw")),
            "--output",
            "-",
            "enc",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, std::fs::read(&plain).unwrap());
}

/// Writes `content` to a fresh vault file (ansible's multiline vector) variant.
fn bad_input(name: &str, content: &[u8]) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), content).unwrap();
    let out = tend(
        &[
            "vault",
            "decrypt",
            "--vault-password-file",
            &pw("default.pw"),
            name,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.path().join(name)).unwrap(),
        content,
        "{name} must not be written"
    );
    assert!(out.stdout.is_empty());
    (dir, out)
}

#[test]
fn bad_input_is_a_clear_error_and_nothing_is_written() {
    let good = std::fs::read_to_string(vectors().join("ansible/multiline.yml.v11.vault")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated.yml",
            format!("{}\n", lines[..lines.len() - 2].join("\n")),
            "ERROR! truncated.yml: the vault data is malformed: the ciphertext has 55 bytes, expected a non-zero multiple of 16 (the data is truncated)\n",
        ),
        (
            "cut.yml",
            good[..good.len() - 2].to_string(),
            "ERROR! cut.yml: the vault data is truncated: the body has an odd number of hex digits\n",
        ),
        (
            "tampered.yml",
            {
                // Flip one hex digit of the ciphertext (the end of the body).
                let mut t = good.trim_end().to_string();
                let last = t.pop().unwrap();
                t.push(if last == '0' { '1' } else { '0' });
                t + "\n"
            },
            "ERROR! tampered.yml: decryption failed: no vault secret could decrypt it (tried vault ids: default); HMAC verification failed (wrong password, or the data was modified)\n",
        ),
        (
            "badhex.yml",
            good.replacen("\n3", "\n3g", 1),
            "ERROR! badhex.yml: bad hex in the vault data: 'g' at line 2, column 2\n",
        ),
        (
            "badheader.yml",
            good.replacen("1.1;AES256", "1.1;AES128", 1),
            "ERROR! badheader.yml: bad vault header `$ANSIBLE_VAULT;1.1;AES128`: unsupported cipher `AES128` (expected `$ANSIBLE_VAULT;1.1;AES256` or `$ANSIBLE_VAULT;1.2;AES256;<vault-id>`)\n",
        ),
        (
            "plain.yml",
            "a: 1\n".to_string(),
            "ERROR! plain.yml: not vault encrypted data (it does not start with `$ANSIBLE_VAULT;`)\n",
        ),
    ];
    for (name, content, message) in cases {
        let (_dir, out) = bad_input(name, content.as_bytes());
        assert_eq!(text(&out.stderr), message, "{name}");
    }
    // A wrong HMAC field (not the ciphertext): same verdict.
    let env = tend::vault::format::parse(good.as_bytes()).unwrap();
    let mut payload = env.payload;
    payload.hmac[0] ^= 0xff;
    let bad = tend::vault::format::serialize(&payload, None);
    let (_dir, out) = bad_input("hmac.yml", bad.as_bytes());
    assert!(
        text(&out.stderr).contains("HMAC verification failed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_password_sources_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = d.join("f.yml");
    std::fs::write(&target, "x: 1\n").unwrap();
    std::fs::write(d.join("empty.pw"), "  \n").unwrap();
    std::fs::write(d.join("script.pw"), "#!/bin/sh\necho pw\n").unwrap();
    std::fs::write(d.join("failing.sh"), "#!/bin/sh\necho nope >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(d.join("failing.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cases = [
        (
            "empty.pw",
            "ERROR! invalid vault password was provided from empty.pw: it is empty\n",
        ),
        (
            "missing.pw",
            "ERROR! the vault password file missing.pw was not found\n",
        ),
        (
            "script.pw",
            "ERROR! the vault password file script.pw is a script (it starts with `#!`) but is not executable: make it executable (chmod +x), or put the password itself in the file\n",
        ),
        (
            "failing.sh",
            "ERROR! the vault password script failing.sh returned non-zero (3): nope\n",
        ),
    ];
    for (file, message) in cases {
        let out = tend(
            &["vault", "encrypt", "--vault-password-file", file, "f.yml"],
            d,
        );
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert_eq!(text(&out.stderr), message, "{file}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "x: 1\n");
    }
    // An executable script prints the password.
    std::fs::write(d.join("ok.sh"), "#!/bin/sh\necho 'default-password'\n").unwrap();
    std::fs::set_permissions(d.join("ok.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = tend(
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            "ok.sh",
            "f.yml",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (plain, _) = both().decrypt(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(&plain[..], b"x: 1\n");
}

fn editor_script(dir: &Path, body: &str) -> String {
    let path = dir.join("editor.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).unwrap().next().is_none()
}

#[test]
fn edit_uses_a_private_temp_file_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmp_s = tmp.display().to_string();
    let pwf = pw("default.pw");
    std::fs::write(d.join("s.yml"), "a: 1\n").unwrap();
    let out = tend(
        &["vault", "encrypt", "--vault-password-file", &pwf, "s.yml"],
        d,
    );
    assert_eq!(out.status.code(), Some(0));
    let before = std::fs::read(d.join("s.yml")).unwrap();
    // An editor that records the modes it sees and changes the file.
    let ed = editor_script(
        d,
        &format!(
            "stat -c '%a' \"$1\" \"$(dirname \"$1\")\" > {0}/modes\necho 'b: 2' >> \"$1\"",
            d.display()
        ),
    );
    let run = |editor: &str| {
        tend_env(
            &["vault", "edit", "--vault-password-file", &pwf, "s.yml"],
            d,
            &[("EDITOR", editor), ("TMPDIR", &tmp_s)],
        )
    };
    let out = run(&ed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(d.join("modes")).unwrap(),
        "600\n700\n"
    );
    let after = std::fs::read(d.join("s.yml")).unwrap();
    assert!(after.starts_with(b"$ANSIBLE_VAULT;1.1;AES256\n"));
    assert_eq!(&both().decrypt(&after).unwrap().0[..], b"a: 1\nb: 2\n");
    assert!(empty_dir(&tmp), "temp dir left behind");
    // Unchanged: the file is not rewritten.
    let out = run("true");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(d.join("s.yml")).unwrap(), after);
    assert!(empty_dir(&tmp));
    // A failing editor: nothing written, temp removed.
    let out = run(&editor_script(d, "echo 'c: 3' >> \"$1\"; exit 1"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("failed (exit status: 1); nothing was changed"));
    assert_eq!(std::fs::read(d.join("s.yml")).unwrap(), after);
    assert!(empty_dir(&tmp));
    assert_ne!(before, after);
}

/// Starts `tend vault edit` in its own process group with an editor that
/// sleeps, waits for the plaintext to appear, sends `signal` to `target`
/// ("tend" or "group", as a terminal's Ctrl-C does), and checks that the
/// plaintext is gone and the vault file unchanged. Returns tend's output.
fn edit_interrupted(signal: &str, target: &str) -> Output {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tmp = d.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let pwf = pw("default.pw");
    std::fs::write(d.join("s.yml"), "a: 1\n").unwrap();
    let out = tend(
        &["vault", "encrypt", "--vault-password-file", &pwf, "s.yml"],
        d,
    );
    assert_eq!(out.status.code(), Some(0));
    let enc = std::fs::read(d.join("s.yml")).unwrap();
    let ed = editor_script(d, "echo 'b: 2' >> \"$1\"; exec sleep 30");
    let child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["vault", "edit", "--vault-password-file", &pwf, "s.yml"])
        .current_dir(d)
        .env("EDITOR", &ed)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while empty_dir(&tmp) && start.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!empty_dir(&tmp), "the editor never started");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    let who = if target == "group" {
        format!("-{pid}")
    } else {
        pid
    };
    let status = Command::new("kill")
        .args([&format!("-{signal}"), "--", &who])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(empty_dir(&tmp), "plaintext left behind");
    assert_eq!(std::fs::read(d.join("s.yml")).unwrap(), enc);
    out
}

#[test]
fn edit_interrupted_by_sigterm_removes_the_plaintext() {
    let out = edit_interrupted("TERM", "tend");
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "ERROR! interrupted by SIGTERM; nothing was changed\n"
    );
}

#[test]
fn edit_interrupted_by_ctrl_c_removes_the_plaintext() {
    // Ctrl-C reaches the whole foreground group: the editor dies of it.
    let out = edit_interrupted("INT", "group");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("failed (signal: 2 (SIGINT)); nothing was changed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn create_refuses_an_existing_file_and_writes_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pwf = pw("default.pw");
    let ed = editor_script(d, "printf 'new: file\\n' > \"$1\"");
    let out = tend_env(
        &["vault", "create", "--vault-password-file", &pwf, "n.yml"],
        d,
        &[("EDITOR", &ed)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let enc = std::fs::read(d.join("n.yml")).unwrap();
    assert_eq!(&both().decrypt(&enc).unwrap().0[..], b"new: file\n");
    assert_eq!(
        std::fs::metadata(d.join("n.yml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let out = tend_env(
        &["vault", "create", "--vault-password-file", &pwf, "n.yml"],
        d,
        &[("EDITOR", &ed)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "ERROR! n.yml exists, please use 'edit' instead\n"
    );
}

// ---- vault data in playbook runs -------------------------------------------

/// A project: vault-encrypted group_vars (made by ansible-vault, vault id
/// `prod`), a vault-encrypted vars_files file (made by tend, default id),
/// and inline `!vault` values (from ansible-vault encrypt_string).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("inventory/group_vars")).unwrap();
    std::fs::write(
        d.join("inventory/local.ini"),
        "[web]\nweb1 ansible_connection=local\n",
    )
    .unwrap();
    std::fs::copy(
        vectors().join("ansible/multiline.yml.v12-prod.vault"),
        d.join("inventory/group_vars/web.yml"),
    )
    .unwrap();
    std::fs::write(d.join("file_vars.yml"), "from_vars_file: filed away\n").unwrap();
    // Vault-encrypted files used by copy, template and lookup('file').
    std::fs::create_dir_all(d.join("files")).unwrap();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::copy(
        vectors().join("ansible/binary.bin.v12-prod.vault"),
        d.join("files/binary.bin"),
    )
    .unwrap();
    std::fs::copy(
        vectors().join("ansible/multiline.yml.v11.vault"),
        d.join("files/looked-up.yml"),
    )
    .unwrap();
    std::fs::write(d.join("templates/t.j2"), "user={{ secret_user }}\n").unwrap();
    let out = tend(
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            &pw("default.pw"),
            "templates/t.j2",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = tend(
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            &pw("default.pw"),
            "file_vars.yml",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let strings = std::fs::read_to_string(vectors().join("ansible/strings.yml")).unwrap();
    let indented: String = strings
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("    {l}\n"))
        .collect();
    // A `!vault` value written directly as a module argument.
    let inline_arg: String = strings
        .split("\nunicode: ")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n      "))
        .collect();
    let inline_arg = inline_arg.trim_end();
    std::fs::write(
        d.join("site.yml"),
        format!(
            "- hosts: web\n  gather_facts: false\n  vars_files: [file_vars.yml]\n  vars:\n{indented}  tasks:\n    - copy:\n        dest: \"{{{{ out }}}}/result.txt\"\n        content: \"{{{{ secret_user }}}}|{{{{ secret_password }}}}|{{{{ from_vars_file }}}}|{{{{ simple }}}}|{{{{ unicode }}}}|{{{{ hostvars[inventory_hostname].secret_user }}}}\"\n    - copy:\n        dest: \"{{{{ out }}}}/inline.txt\"\n        content: {inline_arg}\n    - copy: src=binary.bin dest={{{{ out }}}}/binary.bin\n    - copy: src=binary.bin dest={{{{ out }}}}/raw.bin decrypt=no\n    - template: src=t.j2 dest={{{{ out }}}}/t.txt\n    - copy:\n        dest: \"{{{{ out }}}}/lookup.txt\"\n        content: \"{{{{ lookup('file', 'looked-up.yml') }}}}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("unused.yml"),
        format!(
            "- hosts: web\n  gather_facts: false\n  vars:\n{indented}  tasks:\n    - copy:\n        dest: \"{{{{ out }}}}/plain.txt\"\n        content: no secrets used\n"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn a_run_decrypts_group_vars_vars_files_and_inline_values() {
    let dir = project();
    let d = dir.path();
    let out_dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", out_dir.path().display());
    let prod = format!("prod@{}", pw("prod.pw"));
    let out = tend(
        &[
            "playbook",
            "-i",
            "inventory/local.ini",
            "--vault-id",
            &prod,
            "--vault-password-file",
            &pw("default.pw"),
            "site.yml",
            "-e",
            &ev,
        ],
        d,
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("result.txt")).unwrap(),
        "admin|S3cr3t!|filed away|a plain value|päss wörd ✓ 日本|admin"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("inline.txt")).unwrap(),
        "päss wörd ✓ 日本"
    );
    assert_eq!(
        std::fs::read(out_dir.path().join("binary.bin")).unwrap(),
        std::fs::read(vectors().join("plain/binary.bin")).unwrap()
    );
    assert_eq!(
        std::fs::read(out_dir.path().join("raw.bin")).unwrap(),
        std::fs::read(vectors().join("ansible/binary.bin.v12-prod.vault")).unwrap(),
        "decrypt=no copies the vault file as is"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("t.txt")).unwrap(),
        "user=admin\n"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.path().join("lookup.txt")).unwrap(),
        std::fs::read_to_string(vectors().join("plain/multiline.yml"))
            .unwrap()
            .trim_end()
    );
    assert!(!stdout.contains("$ANSIBLE_VAULT"), "{stdout}");
    // The password file may come from the environment, as in Ansible.
    std::fs::remove_file(out_dir.path().join("result.txt")).unwrap();
    let out = tend_env(
        &[
            "playbook",
            "-i",
            "inventory/local.ini",
            "--vault-id",
            &prod,
            "site.yml",
            "-e",
            &ev,
        ],
        d,
        &[("ANSIBLE_VAULT_PASSWORD_FILE", &pw("default.pw"))],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out_dir.path().join("result.txt").exists());
}

#[test]
fn a_wrong_password_names_the_file_and_the_vault_id() {
    let dir = project();
    let d = dir.path();
    std::fs::write(d.join("wrong.pw"), "not it\n").unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", out_dir.path().display());
    let out = tend(
        &[
            "playbook",
            "-i",
            "inventory/local.ini",
            "--vault-id",
            "prod@wrong.pw",
            "--vault-password-file",
            &pw("default.pw"),
            "site.yml",
            "-e",
            &ev,
        ],
        d,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "inventory/group_vars/web.yml: decryption failed (vault id 'prod'): no vault secret could decrypt it (tried vault ids: prod, default); HMAC verification failed"
        ),
        "{stderr}"
    );
    assert!(!out_dir.path().join("result.txt").exists());
    // No secrets at all: the encrypted template is an error before anything
    // runs, and so is the encrypted group_vars file.
    let out = tend(
        &[
            "playbook",
            "-i",
            "inventory/local.ini",
            "site.yml",
            "-e",
            &ev,
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).contains("error: cannot read template ./templates/t.j2: vault encrypted data but no vault secrets were given"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        d.join("gv.yml"),
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - debug: var=secret_user\n",
    )
    .unwrap();
    let out = tend(&["playbook", "-i", "inventory/local.ini", "gv.yml"], d);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).contains("web.yml: vault encrypted data (vault id 'prod') but no vault secrets were given (use --vault-id, --vault-password-file or --ask-vault-pass)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_inline_value_without_its_secret_fails_at_use_never_as_ciphertext() {
    let dir = project();
    let d = dir.path();
    // The group_vars file is not needed here.
    std::fs::remove_file(d.join("inventory/group_vars/web.yml")).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", out_dir.path().display());
    // Only the default secret: `unicode` (vault id prod) cannot be decrypted.
    std::fs::write(d.join("wrong.pw"), "not it\n").unwrap();
    let out = tend(
        &[
            "playbook",
            "-i",
            "inventory/local.ini",
            "--vault-password-file",
            &pw("default.pw"),
            "--vault-id",
            "prod@wrong.pw",
            "site.yml",
            "-e",
            &ev,
            "-e",
            "secret_user=u secret_password=p",
        ],
        d,
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("while templating variable 'unicode': a !vault value: decryption failed (vault id 'prod'): no vault secret could decrypt it (tried vault ids: prod, default)"),
        "{stdout}"
    );
    assert!(!stdout.contains("$ANSIBLE_VAULT"), "{stdout}");
    assert!(!out_dir.path().join("result.txt").exists());
    // Inline values that are never used need no secret (as in Ansible).
    let out = tend(
        &[
            "playbook",
            "-i",
            "inventory/local.ini",
            "unused.yml",
            "-e",
            &ev,
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(out_dir.path().join("plain.txt").exists());
}

#[test]
fn a_symlink_is_followed_and_stays_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("real.yml"), "a: 1\n").unwrap();
    std::os::unix::fs::symlink("real.yml", d.join("link.yml")).unwrap();
    let out = tend(
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            &pw("default.pw"),
            "link.yml",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(d.join("link.yml").is_symlink());
    let enc = std::fs::read(d.join("real.yml")).unwrap();
    assert_eq!(&both().decrypt(&enc).unwrap().0[..], b"a: 1\n");
}

/// Values from vault files and inline `!vault` values are masked as
/// `********` in every output of a run: the terminal (diffs, `-v` results)
/// and the JSON report, while the files on the host get the plaintext.
#[test]
fn vault_values_never_reach_any_output() {
    let dir = project();
    let d = dir.path();
    let out_dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", out_dir.path().display());
    let prod = format!("prod@{}", pw("prod.pw"));
    let json = out_dir.path().join("report.jsonl");
    let json_arg = json.display().to_string();
    let out = tend(
        &[
            "playbook",
            "-i",
            "inventory/local.ini",
            "--vault-id",
            &prod,
            "--vault-password-file",
            &pw("default.pw"),
            "site.yml",
            "-e",
            &ev,
            "--diff",
            "-v",
            "--json",
            &json_arg,
        ],
        d,
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    // The plaintext reached the files...
    let written = std::fs::read_to_string(out_dir.path().join("result.txt")).unwrap();
    assert!(written.contains("S3cr3t!") && written.contains("päss wörd ✓ 日本"));
    // ...and no output.
    let report = std::fs::read_to_string(&json).unwrap();
    for (name, output) in [
        ("stdout", &stdout),
        ("stderr", &text(&out.stderr)),
        ("json", &report),
    ] {
        for secret in ["S3cr3t!", "päss wörd ✓ 日本", "filed away"] {
            assert!(!output.contains(secret), "{secret} in {name}:\n{output}");
        }
    }
    assert!(stdout.contains("********"), "{stdout}");
}

/// Ad-hoc commands take the same vault options: `-e @vaultfile` decrypts, and
/// what it holds is masked in the output.
#[test]
fn ad_hoc_commands_read_vault_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = tend(
        &[
            "run",
            "-i",
            "localhost,",
            "localhost",
            "-c",
            "local",
            "-m",
            "debug",
            "-a",
            "msg={{ (lookup('file', vars_file) | from_yaml).keys() | list | length }}",
            "-e",
            &format!(
                "vars_file={}",
                vectors()
                    .join("ansible/multiline.yml.v12-prod.vault")
                    .display()
            ),
            "--vault-id",
            &format!("prod@{}", pw("prod.pw")),
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("localhost | SUCCESS => {"),
        "{}",
        text(&out.stdout)
    );
    let wrong = tend(
        &[
            "run",
            "-i",
            "localhost,",
            "all",
            "-m",
            "ping",
            "--vault-password-file",
            "/nonexistent/pw",
        ],
        dir.path(),
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains("/nonexistent/pw"),
        "{}",
        text(&wrong.stderr)
    );
}

/// `vault_password_file` in ansible.cfg is used when no vault option is given.
#[test]
fn ansible_cfg_names_the_vault_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ansible.cfg");
    std::fs::write(
        &cfg,
        format!("[defaults]\nvault_password_file = {}\n", pw("default.pw")),
    )
    .unwrap();
    let vars = format!(
        "@{}",
        vectors().join("ansible/multiline.yml.v11.vault").display()
    );
    let cfg_text = cfg.display().to_string();
    let out = tend_env(
        &[
            "run",
            "-i",
            "localhost,",
            "localhost",
            "-c",
            "local",
            "-m",
            "debug",
            "-a",
            "msg={{ secret_user }}",
            "-e",
            &vars,
        ],
        dir.path(),
        &[("ANSIBLE_CONFIG", &cfg_text)],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // The value is a vault secret: masked in the output.
    assert!(
        text(&out.stdout).contains("\"msg\": \"********\""),
        "{}",
        text(&out.stdout)
    );
}

/// A vault-encrypted `script` source runs decrypted, as Ansible's `script`
/// does (its `decrypt` defaults to yes).
#[test]
fn a_vaulted_script_runs_decrypted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("hello.sh"), "#!/bin/sh\necho \"hello from $1\"\n").unwrap();
    let enc = tend(
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            &pw("default.pw"),
            "hello.sh",
        ],
        d,
    );
    assert!(enc.status.success(), "{}", text(&enc.stderr));
    std::fs::write(
        d.join("site.yml"),
        "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - script: hello.sh tend\n      register: r\n    - copy:\n        dest: \"{{ playbook_dir }}/out.txt\"\n        content: \"{{ r.stdout }}\"\n",
    )
    .unwrap();
    let out = tend(
        &[
            "playbook",
            "-i",
            "localhost,",
            "-c",
            "local",
            "--vault-password-file",
            &pw("default.pw"),
            "site.yml",
        ],
        d,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out.txt")).unwrap(),
        "hello from tend\n"
    );
}

/// What a playbook derives from vault values by templating.
const DERIVED: &[(&str, &str)] = &[
    ("b64", "{{ secret_password | b64encode }}"),
    ("upper", "{{ secret_password | upper }}"),
    ("sha1", "{{ from_vars_file | hash('sha1') }}"),
    (
        "crypt",
        "{{ secret_password | password_hash('sha512', 'fixedsaltz') }}",
    ),
    (
        "json",
        "{{ {'who': secret_user, 'pw': secret_password} | to_json }}",
    ),
    ("reversed", "{{ from_vars_file | reverse | join }}"),
    ("chained", "{{ token | lower }}"),
];

/// Values derived from vault values by templating (`b64encode`, `upper`,
/// `hash`, `password_hash`, `to_json`, through `set_fact` and variables)
/// are masked in every output of a run and of a saved plan, while a
/// templated file's diff shows its other lines; and no process's arguments
/// hold a secret or a derived value while the run goes on.
#[test]
fn values_derived_from_vault_values_reach_no_output_nor_argv() {
    let dir = project();
    let d = dir.path();
    let out_dir = tempfile::tempdir().unwrap();
    let o = out_dir.path();
    let mut tasks = String::from(
        "    - set_fact:\n        token: \"{{ secret_password | b64encode | upper }}\"\n",
    );
    for (name, expr) in DERIVED {
        tasks.push_str(&format!(
            "    - copy:\n        dest: \"{{{{ out }}}}/{name}.txt\"\n        content: \"{expr}\"\n"
        ));
    }
    tasks.push_str(concat!(
        "    - template: src=derived.j2 dest={{ out }}/derived.conf\n",
        "    - debug: var=token\n",
        "    - debug:\n        msg: \"prefix-{{ from_vars_file | upper }}\"\n",
        "    - shell: \"sleep 1; cat {{ out }}/b64.txt # {{ token }}\"\n      register: shown\n",
        "    - debug: var=shown\n",
        "    - block:\n        - name: \"check {{ secret_password | upper }}\"\n          fail:\n            msg: \"bad {{ secret_password | b64encode }}\"\n",
        "      rescue:\n        - debug: msg=rescued\n",
    ));
    std::fs::write(
        d.join("derived.yml"),
        format!(
            "- hosts: web\n  gather_facts: false\n  vars_files: [file_vars.yml]\n  vars:\n    ghost: \"{{{{ secret_password | b64encode }}}}\"\n  tasks:\n{tasks}"
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("templates/derived.j2"),
        "port={{ 40 + 2 }}\nuser={{ secret_user | length }} chars\ntoken={{ ghost }}\n",
    )
    .unwrap();
    // Every process's arguments, sampled during the runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(o) = Command::new("ps").args(["-eo", "args"]).output() {
                    samples.push(text(&o.stdout));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            samples
        })
    };
    let ev = format!("out={}", o.display());
    let prod = format!("prod@{}", pw("prod.pw"));
    let default = pw("default.pw");
    let file = |f: &str| o.join(f).display().to_string();
    let (plan_out, json, junit, md) = (
        file("plan.json"),
        file("r.jsonl"),
        file("r.xml"),
        file("r.md"),
    );
    let common = [
        "-i",
        "inventory/local.ini",
        "--vault-id",
        &prod,
        "--vault-password-file",
        &default,
        "derived.yml",
        "-e",
        &ev,
        "-vvv",
    ];
    let github = [("GITHUB_ACTIONS", "true")];
    let plan = tend_env(
        &[&["plan"][..], &common, &["--out", &plan_out]].concat(),
        d,
        &github,
    );
    let run = tend_env(
        &[
            &["playbook"][..],
            &common,
            &[
                "--diff",
                "--json",
                &json,
                "--junit",
                &junit,
                "--summary-md",
                &md,
            ],
        ]
        .concat(),
        d,
        &github,
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let stdout = text(&run.stdout);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stderr));
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&run.stderr)
    );
    // The derived values, as the host got them, and the secrets themselves.
    let mut secrets: Vec<String> = ["S3cr3t!", "filed away"].map(String::from).to_vec();
    for (name, _) in DERIVED {
        let v = std::fs::read_to_string(o.join(format!("{name}.txt"))).unwrap();
        assert!(v.len() >= 7 && !v.contains("{{"), "{name}: {v}");
        secrets.push(v);
    }
    assert_eq!(secrets[2], "UzNjcjN0IQ==");
    assert_eq!(secrets[3], "S3CR3T!");
    secrets.push("FILED AWAY".into());
    secrets.push("UZNJCJN0IQ==".into());
    let conf = std::fs::read_to_string(o.join("derived.conf")).unwrap();
    assert_eq!(conf, "port=42\nuser=5 chars\ntoken=UzNjcjN0IQ==\n");
    // The diff shows the other lines of the templated file.
    assert!(
        stdout.contains("+port=42\n+user=5 chars\n+token=********\n"),
        "{stdout}"
    );
    let mut outputs = vec![
        ("plan stdout", text(&plan.stdout)),
        ("plan stderr", text(&plan.stderr)),
        ("stdout", stdout.clone()),
        ("stderr", text(&run.stderr)),
    ];
    for f in [&plan_out, &json, &junit, &md] {
        outputs.push((f.as_str(), std::fs::read_to_string(f).unwrap()));
    }
    assert!(stdout.contains("::error"), "{stdout}");
    for (name, output) in &outputs {
        for secret in &secrets {
            assert!(
                !output.contains(secret.as_str()),
                "{secret} in {name}:\n{output}"
            );
        }
    }
    assert!(samples.len() > 10, "too few ps samples: {}", samples.len());
    for s in &samples {
        for secret in &secrets {
            assert!(
                !s.contains(secret.as_str()),
                "{secret} in a process's arguments:\n{s}"
            );
        }
    }
}

/// A compile error in a vault-encrypted file names the place but never shows
/// its (decrypted) source line.
#[test]
fn a_diagnostic_never_shows_a_vault_encrypted_source() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("tasks.yml"),
        "- copy: dest=/nonexistent/x content=Task-S3cret-Value bogus=1\n",
    )
    .unwrap();
    let default = pw("default.pw");
    let enc = tend(
        &[
            "vault",
            "encrypt",
            "--vault-password-file",
            &default,
            "tasks.yml",
        ],
        d,
    );
    assert_eq!(enc.status.code(), Some(0), "{}", text(&enc.stderr));
    std::fs::write(
        d.join("site.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - import_tasks: tasks.yml\n",
    )
    .unwrap();
    let out = tend(
        &["playbook", "--vault-password-file", &default, "site.yml"],
        d,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("error: copy: unsupported parameter `bogus`")
            && stderr.contains("--> tasks.yml:1:9 (vault encrypted: the source is not shown)"),
        "{stderr}"
    );
    assert!(!stderr.contains("S3cret"), "{stderr}");
}
