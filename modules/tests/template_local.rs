//! `template` against the local machine (the engine's rendering is stood in
//! for by `_content`).

mod support;

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use support::LocalSh;
use tend_modules::{ModuleError, Outcome};

async fn run(args: Value, check: bool, diff: bool) -> Result<Outcome, ModuleError> {
    support::run("template", args, check, diff, &LocalSh).await
}

#[tokio::test]
async fn writes_rendered_content_like_copy() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("nginx.conf");
    std::fs::write(&dest, "old\n").unwrap();
    let args = json!({"src": "templates/nginx.conf.j2", "dest": dest, "_content": "a\nb\n", "mode": "0600", "backup": "yes"});
    let checked = run(args.clone(), true, true).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"old\n");
    let out = run(args.clone(), false, true).await.unwrap();
    assert!(out.changed && checked.changed);
    assert_eq!(out.diff, checked.diff);
    let d = &out.diff[0];
    assert_eq!(d.before_header.as_deref(), dest.to_str());
    assert_eq!(d.after_header.as_deref(), Some("templates/nginx.conf.j2"));
    assert_eq!((d.before.as_str(), d.after.as_str()), ("old\n", "a\nb\n"));
    assert_eq!(std::fs::read(&dest).unwrap(), b"a\nb\n");
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let v = out.to_value();
    // Ansible's `src` is the rendered file on the target, gone since.
    let src = v["src"].as_str().unwrap_or_default();
    assert!(
        src.contains("/.tend.") && !std::path::Path::new(src).exists(),
        "{src}"
    );
    let backup = v["backup_file"].as_str().unwrap();
    assert!(
        backup.starts_with(&format!("{}.", dest.display())) && backup.ends_with('~'),
        "{backup}"
    );
    assert_eq!(std::fs::read(backup).unwrap(), b"old\n");
    assert!(!run(args, false, true).await.unwrap().changed);

    let crlf =
        json!({"src": "t.j2", "dest": dest, "_content": "a\nb\n", "newline_sequence": "\r\n"});
    assert!(run(crlf.clone(), false, false).await.unwrap().changed);
    assert_eq!(std::fs::read(&dest).unwrap(), b"a\r\nb\r\n");
    assert!(!run(crlf, false, false).await.unwrap().changed);

    let err = run(json!({"src": "t.j2", "dest": dest}), false, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`_content`"), "{err}");
    let err = run(
        json!({"src": "t.j2", "dest": dest, "_content": "x", "validate": "false %s"}),
        false,
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "failed to validate (exit status 1)");
    assert_eq!(std::fs::read(&dest).unwrap(), b"a\r\nb\r\n");
}
