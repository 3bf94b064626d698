//! `lineinfile` against real files through the local host.

mod support;

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use support::{LocalSh, mode};
use tend_modules::{Context, Diff, ModuleError, Outcome, lookup};

async fn run(args: Value, ctx: &Context) -> Result<Outcome, ModuleError> {
    let m = lookup("lineinfile").unwrap();
    m.check(&args).map_err(ModuleError::Args)?;
    m.run(&args, ctx, &LocalSh).await
}

fn diff_ctx(check_mode: bool) -> Context {
    support::ctx(check_mode, true)
}

#[tokio::test]
async fn converges_check_mode_predicts_and_diff_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("config");
    std::fs::write(&f, "# comment\nSELINUX=permissive\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let args = json!({"path": f, "regexp": "^SELINUX=", "line": "SELINUX=enforcing"});

    let predicted = run(args.clone(), &diff_ctx(true)).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "# comment\nSELINUX=permissive\n"
    );
    let done = run(args.clone(), &diff_ctx(false)).await.unwrap();
    assert_eq!(predicted, done);
    assert!(done.changed);
    assert_eq!(done.msg.as_deref(), Some("line replaced"));
    assert_eq!(done.values["backup"], "");
    let header = format!("{} (content)", f.display());
    assert_eq!(
        done.diff,
        vec![Diff {
            before_header: Some(header.clone()),
            after_header: Some(header),
            before: "# comment\nSELINUX=permissive\n".into(),
            after: "# comment\nSELINUX=enforcing\n".into(),
            prepared: None,
            dicts: None,
        }]
    );
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "# comment\nSELINUX=enforcing\n"
    );
    assert_eq!(mode(&f), 0o640, "mode of the replaced file is kept");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp file left");

    let again = run(args, &diff_ctx(false)).await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.msg.as_deref(), Some(""));
    assert!(again.diff.is_empty());
}

#[tokio::test]
async fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sub/dir/new");
    let err = run(json!({"path": f, "line": "x"}), &Context::default())
        .await
        .unwrap_err();
    match err {
        ModuleError::Failed { msg, values } => {
            assert_eq!(msg, format!("Destination {} does not exist !", f.display()));
            assert_eq!(values["rc"], 257);
        }
        other => panic!("{other:?}"),
    }
    let o = run(
        json!({"path": f, "line": "x", "state": "absent"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert!(!o.changed);
    assert_eq!(o.msg.as_deref(), Some("file not present"));

    let args = json!({"path": f, "line": "x", "create": true, "mode": "0600"});
    let predicted = run(
        args.clone(),
        &Context {
            check_mode: true,
            diff: false,
        },
    )
    .await
    .unwrap();
    assert!(!f.exists() && !f.parent().unwrap().exists());
    let done = run(args.clone(), &Context::default()).await.unwrap();
    assert!(predicted.changed && done.changed);
    // As Ansible's: check mode returns before the attributes when the file
    // would be created.
    assert_eq!(predicted.msg.as_deref(), Some("line added"));
    assert_eq!(
        done.msg.as_deref(),
        Some("line added and ownership, perms or SE linux context changed")
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x\n");
    assert_eq!(mode(&f), 0o600);
    assert!(!run(args, &Context::default()).await.unwrap().changed);
}

#[tokio::test]
async fn directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(
        json!({"path": dir.path(), "line": "x"}),
        &Context::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Path {} is a directory !", dir.path().display())
    );
}

#[tokio::test]
async fn absent_removes_and_reports_found() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sudoers");
    std::fs::write(&f, "%wheel ALL\nroot ALL\n%wheel x\n").unwrap();
    let args = json!({"dest": f, "state": "absent", "regexp": "^%wheel"});
    let o = run(args.clone(), &Context::default()).await.unwrap();
    assert!(o.changed);
    assert_eq!(o.msg.as_deref(), Some("2 line(s) removed"));
    assert_eq!(o.values["found"], 2);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "root ALL\n");
    let o = run(args, &Context::default()).await.unwrap();
    assert!(!o.changed);
    assert_eq!(o.values["found"], 0);
}

#[tokio::test]
async fn attributes_only_change_and_symbolic_mode() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, "x\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = json!({"path": f, "line": "x", "mode": "go-r"});
    let o = run(args.clone(), &diff_ctx(false)).await.unwrap();
    assert!(o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some("ownership, perms or SE linux context changed")
    );
    assert_eq!(o.diff.len(), 1);
    assert_eq!(o.diff[0].before, "{\n    \"mode\": \"0644\"\n}\n");
    assert_eq!(o.diff[0].after, "{\n    \"mode\": \"0600\"\n}\n");
    assert_eq!(mode(&f), 0o600);
    assert!(!run(args, &Context::default()).await.unwrap().changed);
}

#[tokio::test]
async fn backup_validate_and_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let link = dir.path().join("link");
    std::fs::write(&real, "a\n").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let o = run(
        json!({"path": link, "line": "b", "backup": true}),
        &Context::default(),
    )
    .await
    .unwrap();
    let backup = o.values["backup"].as_str().unwrap().to_string();
    assert!(
        backup.starts_with(&format!("{}.", link.display())),
        "{backup}"
    );
    assert!(backup.ends_with('~'));
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), "a\n");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "a\nb\n");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is kept"
    );

    // validation failure leaves the file alone
    let err = run(
        json!({"path": real, "line": "c", "validate": "sh -c 'echo bad >&2; grep -q nothing \"$1\"' x %s"}),
        &Context::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "failed to validate: rc:1 error:bad\n");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "a\nb\n");
    let o = run(
        json!({"path": real, "line": "c", "validate": "grep -q c %s"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "a\nb\nc\n");
}

#[tokio::test]
async fn hostile_paths_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("it's a $(file) `x`");
    std::fs::write(&f, "").unwrap();
    let line = "quote ' \" $(rm -rf /) `x` \\ end";
    let o = run(json!({"path": f, "line": line}), &Context::default())
        .await
        .unwrap();
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), format!("{line}\n"));
}

#[test]
fn arguments() {
    let m = lookup("lineinfile").unwrap();
    assert!(
        m.check(&json!({"path": "/x", "line": "a", "seuser": "u"}))
            .unwrap_err()
            .message
            .contains("not supported yet")
    );
    assert!(
        m.check(&json!({"path": "/x", "line": "a", "unsafe_writes": true}))
            .is_ok()
    );
    assert!(m.check(&json!({"path": "/x", "regexp": "a"})).is_err());
    assert!(m.check(&json!({"path": "/x", "state": "absent"})).is_err());
    assert!(
        m.check(&json!({"path": "/x", "line": "a", "insertafter": "a", "insertbefore": "b"}))
            .is_err()
    );
    assert!(
        m.check(&json!({"path": "/x", "line": "a", "backrefs": true}))
            .is_err()
    );
    assert!(
        m.check(&json!({"path": "/x", "line": "a", "validate": "visudo -c"}))
            .is_err()
    );
    assert!(
        m.check(&json!({"name": "/x", "value": "a", "regex": "^a"}))
            .is_ok()
    );
}

#[tokio::test]
async fn backreferences_and_lookaround_in_regexp() {
    // Ansible's lineinfile test: `regexp: '^(REF) .* \1$'` with backrefs.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("refs");
    std::fs::write(&f, "REF this is a line for backrefs REF\nREF keep XYZ\n").unwrap();
    let args = json!({
        "path": f,
        "regexp": r"^(REF) .* \1$",
        "line": r"\1 replaced \1",
        "backrefs": true,
    });
    let o = run(args.clone(), &Context::default()).await.unwrap();
    assert!(o.changed);
    assert_eq!(o.msg.as_deref(), Some("line replaced"));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "REF replaced REF\nREF keep XYZ\n"
    );
    assert!(!run(args, &Context::default()).await.unwrap().changed);

    // look-ahead: remove the live setting, keep the commented one
    let o = run(
        json!({"path": f, "state": "absent", "regexp": r"^(?!#)REF (?=keep)"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(o.values["found"], 1);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "REF replaced REF\n");

    // look-behind in insertafter
    let o = run(
        json!({"path": f, "line": "after", "insertafter": r"(?<=replaced )REF"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(o.msg.as_deref(), Some("line added"));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "REF replaced REF\nafter\n"
    );
}

#[tokio::test]
async fn empty_regexp_and_search_string_warn() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, "a\nb\n").unwrap();
    let o = run(
        json!({"path": f, "regexp": "", "line": "c"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "a\nc\n");
    assert_eq!(
        o.values["warnings"],
        json!([
            "The regular expression is an empty string, which will match every line in the file. \
             This may have unintended consequences, such as replacing the last line in the file rather than appending. \
             If this is desired, use '^' to match every line in the file and avoid this warning."
        ])
    );
    let o = run(
        json!({"path": f, "search_string": "", "line": "d"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "a\nd\n");
    assert!(
        o.values["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("The search string is an empty string")
    );
    let o = run(json!({"path": f, "line": "d"}), &Context::default())
        .await
        .unwrap();
    assert!(o.values.get("warnings").is_none());
}
