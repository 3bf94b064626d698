//! `copy` against the local machine through `/bin/sh`.

mod support;

use serde_json::{Value, json};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use support::{Counting, InDir, LocalSh, mode};
use tend_modules::{Host, ModuleError, Outcome};

async fn run(
    args: Value,
    check: bool,
    diff: bool,
    host: &dyn Host,
) -> Result<Outcome, ModuleError> {
    support::run("copy", args, check, diff, host).await
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tend."))
        .collect()
}

#[tokio::test]
async fn creates_then_is_unchanged_with_one_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("conf");
    let host = Counting::default();
    let args = json!({"dest": dest, "content": "hello\nworld\n", "mode": "0640"});

    // Check mode predicts, changes nothing.
    let checked = run(args.clone(), true, true, &host).await.unwrap();
    assert!(checked.changed);
    assert!(!dest.exists());
    assert_eq!(host.take(), 1);

    let out = run(args.clone(), false, true, &host).await.unwrap();
    assert_eq!(host.take(), 2, "a change costs probe + apply");
    assert!(out.changed);
    assert_eq!(out.diff, checked.diff, "check mode predicts the same diff");
    assert_eq!(out.diff[0].before, "");
    assert_eq!(out.diff[0].after, "hello\nworld\n");
    assert_eq!(std::fs::read(&dest).unwrap(), b"hello\nworld\n");
    assert_eq!(mode(&dest), 0o640);
    let v = out.to_value();
    assert_eq!(v["dest"], dest.to_str().unwrap());
    let sum = std::process::Command::new("sha1sum")
        .arg(&dest)
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        v["checksum"],
        String::from_utf8_lossy(&sum).split(' ').next().unwrap()
    );
    assert_eq!(v["size"], 12);
    assert_eq!(v["mode"], "0640");
    assert_eq!(v["state"], "file");
    assert_eq!(v["uid"], 0);
    assert_eq!(v["owner"], "root");

    let again = run(args.clone(), false, true, &host).await.unwrap();
    assert_eq!(
        host.take(),
        1,
        "an unchanged task costs exactly one round trip"
    );
    assert!(!again.changed);
    assert!(again.diff.is_empty());
    assert_eq!(again.to_value()["checksum"], v["checksum"]);
    assert!(leftovers(dir.path()).is_empty());
}

#[tokio::test]
async fn checksum_matches_sha1sum() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f");
    let out = run(
        json!({"dest": dest, "content": "abc"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap();
    // sha1("abc")
    assert_eq!(
        out.to_value()["checksum"],
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(mode(&dest), 0o644, "a new file gets 0666 & ~umask");
}

#[tokio::test]
async fn diff_shows_old_and_new_content_and_check_mode_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("motd");
    std::fs::write(&dest, "old line\n").unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
    let args = json!({"dest": dest, "content": "new line\n"});
    let checked = run(args.clone(), true, true, &LocalSh).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"old line\n");
    let out = run(args.clone(), false, true, &LocalSh).await.unwrap();
    assert_eq!(checked.changed, out.changed);
    assert_eq!(checked.diff, out.diff);
    let d = &out.diff[0];
    assert_eq!(d.before_header.as_deref(), dest.to_str());
    assert_eq!(d.before, "old line\n");
    assert_eq!(d.after, "new line\n");
    assert_eq!(mode(&dest), 0o600, "an existing file keeps its mode");
    // Without --diff there is no diff (and the old content is not fetched).
    std::fs::write(&dest, "other\n").unwrap();
    let out = run(args, false, false, &LocalSh).await.unwrap();
    assert!(out.changed && out.diff.is_empty());
}

#[tokio::test]
async fn odd_file_names_are_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "with space",
        "it's \"quoted\"",
        "$(touch pwned)",
        "`touch pwned2`",
        "new\nline",
        "-leading-dash",
        "ünïcödé ✓",
        "back\\slash",
        "trailing newline\n",
        "*glob?[x]",
    ];
    let host = Counting::default();
    for (i, name) in names.iter().enumerate() {
        let dest = dir.path().join(name);
        let content = format!("content {i}\n$(echo no) 'q' \"d\"\n");
        let args = json!({"dest": dest, "content": content, "backup": true});
        let out = run(args.clone(), false, true, &host).await.unwrap();
        assert!(out.changed, "{name:?}");
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            content.as_bytes(),
            "{name:?}"
        );
        let again = run(args, false, false, &host).await.unwrap();
        assert!(!again.changed, "{name:?}");
        // Replace it (with a backup) to exercise the write path on an existing file.
        let out = run(
            json!({"dest": dest, "content": "v2", "backup": true}),
            false,
            true,
            &host,
        )
        .await
        .unwrap();
        let backup = out.to_value()["backup_file"].as_str().unwrap().to_string();
        assert_eq!(
            std::fs::read(&backup).unwrap(),
            content.as_bytes(),
            "{name:?}"
        );
        assert_eq!(out.diff[0].before, content);
        assert_eq!(std::fs::read(&dest).unwrap(), b"v2");
    }
    assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists());
    assert!(!Path::new("pwned").exists());
    assert!(leftovers(dir.path()).is_empty());
}

#[tokio::test]
async fn failed_validation_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sudoers");
    std::fs::write(&dest, "good\n").unwrap();
    let err = run(
        json!({"dest": dest, "content": "bad\n", "validate": "grep -q good %s"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    match &err {
        ModuleError::Failed { msg, values } => {
            assert_eq!(msg, "failed to validate (exit status 1)");
            assert_eq!(values["rc"], 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&dest).unwrap(), b"good\n");
    assert!(leftovers(dir.path()).is_empty(), "the temp file is removed");

    let out = run(
        json!({"dest": dest, "content": "good too\n", "validate": "grep -q good %s"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap();
    assert!(out.changed);
    assert_eq!(std::fs::read(&dest).unwrap(), b"good too\n");
    let err = run(
        json!({"dest": dest, "content": "x", "validate": "true"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "validate must contain %s: true");
}

#[tokio::test]
async fn owner_group_and_mode_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f");
    std::fs::write(&dest, "same").unwrap();
    let host = Counting::default();
    let args = json!({"dest": dest, "content": "same", "owner": "nobody", "group": "nogroup", "mode": "u=rw,g=r,o="});
    let checked = run(args.clone(), true, true, &host).await.unwrap();
    assert!(checked.changed);
    let out = run(args.clone(), false, true, &host).await.unwrap();
    assert_eq!(host.take(), 3, "check run: probe; real run: probe + apply");
    assert!(out.changed);
    let md = std::fs::metadata(&dest).unwrap();
    assert_eq!(
        (md.uid(), md.gid(), md.mode() & 0o7777),
        (65534, 65534, 0o640)
    );
    let v = out.to_value();
    assert_eq!(
        (v["owner"].as_str(), v["group"].as_str(), v["uid"].as_u64()),
        (Some("nobody"), Some("nogroup"), Some(65534))
    );
    let again = run(args, false, true, &host).await.unwrap();
    assert!(!again.changed);
    assert_eq!(host.take(), 1);
    // Unknown users fail like Ansible.
    let err = run(
        json!({"dest": dest, "content": "same", "owner": "no-such-user-x"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "chown failed: failed to look up user no-such-user-x"
    );
}

#[tokio::test]
async fn directory_destinations_and_controller_sources() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = b"\x00\x01binary\xff".to_vec();
    let args = json!({"src": "files/app.bin", "dest": dir.path(), "_content_b64": b64(&bytes), "_src_mode": "0755", "mode": "preserve"});
    let out = run(args.clone(), false, true, &LocalSh).await.unwrap();
    let dest = dir.path().join("app.bin");
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    assert_eq!(mode(&dest), 0o755);
    // `src` is the file the content went through on the target (Ansible's
    // upload; here the temp file renamed into place).
    let src = out.to_value()["src"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        src.starts_with(&format!("{}/.tend.", dir.path().display())),
        "{src}"
    );
    assert!(!std::path::Path::new(&src).exists());
    assert_eq!(out.diff[0].after, "", "binary content is not diffed");
    assert!(!run(args, false, false, &LocalSh).await.unwrap().changed);

    // A trailing slash creates the directories.
    let nested = format!("{}/a/b/", dir.path().display());
    let args = json!({"src": "x.txt", "dest": nested, "_content_b64": b64(b"x"), "directory_mode": "0700"});
    run(args, false, false, &LocalSh).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("a/b/x.txt")).unwrap(), b"x");
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    assert_eq!(mode(&dir.path().join("a")), 0o700);

    // A missing parent without the trailing slash is an error.
    let err = run(
        json!({"dest": dir.path().join("nope/x"), "content": "x"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Destination directory {}/nope does not exist",
            dir.path().display()
        )
    );
    let err = run(
        json!({"dest": dir.path(), "content": "x"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "can not use content with a dir as dest");
    let err = run(
        json!({"dest": dir.path().join("y"), "src": "y"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("_content_b64"), "{err}");
}

#[tokio::test]
async fn remote_src_force_and_follow() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src file");
    std::fs::write(&src, "remote\n").unwrap();
    let dest = dir.path().join("dest");
    let args = json!({"src": src, "dest": dest, "remote_src": true});
    let out = run(args.clone(), false, true, &LocalSh).await.unwrap();
    assert!(out.changed);
    assert_eq!(out.diff[0].after, "remote\n");
    assert_eq!(std::fs::read(&dest).unwrap(), b"remote\n");
    assert!(!run(args, false, false, &LocalSh).await.unwrap().changed);
    let err = run(
        json!({"src": dir.path().join("missing"), "dest": dest, "remote_src": true}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().starts_with("Source ") && err.to_string().ends_with(" not found"),
        "{err}"
    );

    // force: no leaves an existing file alone.
    let out = run(
        json!({"dest": dest, "content": "other", "force": false}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap();
    assert!(!out.changed);
    assert_eq!(std::fs::read(&dest).unwrap(), b"remote\n");

    // follow: no replaces a symlink; follow: yes writes through it.
    let target = dir.path().join("target");
    std::fs::write(&target, "t").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    run(
        json!({"dest": link, "content": "via link", "follow": true}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"via link");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let out = run(
        json!({"dest": link, "content": "via link", "follow": true}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap();
    assert!(!out.changed);
    run(
        json!({"dest": link, "content": "replaced"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"via link");

    // checksum must match the content.
    let err = run(
        json!({"dest": dest, "content": "abc", "checksum": "0000"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Copied file does not match the expected checksum. Transfer failed."
    );
}

#[tokio::test]
async fn relative_names_with_leading_dashes() {
    let dir = tempfile::tempdir().unwrap();
    let host = InDir(dir.path().to_path_buf());
    let args = json!({"dest": "-n file", "content": "dash\n", "backup": true, "validate": "grep -q dash %s"});
    assert!(
        run(args.clone(), false, false, &host)
            .await
            .unwrap()
            .changed
    );
    assert!(!run(args, false, false, &host).await.unwrap().changed);
    assert_eq!(
        std::fs::read(dir.path().join("-n file")).unwrap(),
        b"dash\n"
    );
    let out = run(
        json!({"dest": "-n file", "content": "dash 2\n", "backup": true}),
        false,
        true,
        &host,
    )
    .await
    .unwrap();
    assert_eq!(out.diff[0].before, "dash\n");
    let backup = out.to_value()["backup_file"].as_str().unwrap().to_string();
    assert!(backup.starts_with("-n file."));
    assert_eq!(std::fs::read(dir.path().join(backup)).unwrap(), b"dash\n");
    run(
        json!({"src": "x", "dest": "-d/-e/", "_content_b64": "eA=="}),
        false,
        false,
        &host,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(dir.path().join("-d/-e/x")).unwrap(), b"x");
}
