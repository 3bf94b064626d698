//! `replace` against real files through the local host.

mod support;

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use support::{Counting, LocalSh, mode};
use tend_modules::{Context, Diff, ModuleError, Outcome, lookup};

async fn run(args: Value, ctx: &Context) -> Result<Outcome, ModuleError> {
    let m = lookup("ansible.builtin.replace").unwrap();
    m.check(&args).map_err(ModuleError::Args)?;
    m.run(&args, ctx, &LocalSh).await
}

fn diff_ctx(check_mode: bool) -> Context {
    support::ctx(check_mode, true)
}

const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost6\n";

#[tokio::test]
async fn converges_check_mode_predicts_and_diff_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("hosts");
    std::fs::write(&f, HOSTS).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let args = json!({
        "path": f,
        "regexp": r"\b(localhost)(\d*)\b",
        "replace": r"\1\2.localdomain\2 \1\2",
    });
    let after = "127.0.0.1 localhost.localdomain localhost\n\
                 ::1 localhost6.localdomain6 localhost6\n";

    let predicted = run(args.clone(), &diff_ctx(true)).await.unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), HOSTS, "check mode");
    let done = run(args.clone(), &diff_ctx(false)).await.unwrap();
    assert_eq!(predicted, done);
    assert!(done.changed);
    assert_eq!(done.msg.as_deref(), Some("2 replacements made"));
    assert_eq!(done.values["rc"], 0);
    assert!(done.values.get("backup_file").is_none());
    let header = f.display().to_string();
    assert_eq!(
        done.diff,
        vec![Diff {
            before_header: Some(header.clone()),
            after_header: Some(header),
            before: HOSTS.into(),
            after: after.into(),
            prepared: None,
            dicts: None,
        }]
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), after);
    assert_eq!(mode(&f), 0o640, "mode of the replaced file is kept");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp file left");

    // Not idempotent by itself (as Ansible documents); a guarded pattern is.
    let guarded = json!({
        "path": f,
        "regexp": r"\blocalhost\b(?!\.)(?<!\.localhost)",
        "replace": "LOCAL",
    });
    let o = run(guarded.clone(), &diff_ctx(false)).await.unwrap();
    assert_eq!(o.msg.as_deref(), Some("1 replacements made"));
    let again = run(guarded, &diff_ctx(false)).await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.msg.as_deref(), Some(""));
    assert!(again.diff.is_empty());
}

#[tokio::test]
async fn one_probe_and_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, "a\n").unwrap();
    let host = Counting::default();
    let args = json!({"path": f, "regexp": "a", "replace": "b"});
    support::run("replace", args.clone(), false, false, &host)
        .await
        .unwrap();
    assert_eq!(host.take(), 2);
    support::run("replace", args, false, false, &host)
        .await
        .unwrap();
    assert_eq!(host.take(), 1, "unchanged: the probe only");
}

#[tokio::test]
async fn missing_file_directory_and_section_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("missing");
    match run(json!({"path": f, "regexp": "^(.+)$"}), &Context::default())
        .await
        .unwrap_err()
    {
        ModuleError::Failed { msg, values } => {
            assert_eq!(msg, format!("Path {} does not exist !", f.display()));
            assert_eq!(values["rc"], 257);
        }
        other => panic!("{other:?}"),
    }
    match run(
        json!({"path": dir.path(), "regexp": "^(.+)$"}),
        &Context::default(),
    )
    .await
    .unwrap_err()
    {
        ModuleError::Failed { msg, values } => {
            assert_eq!(
                msg,
                format!("Path {} is a directory !", dir.path().display())
            );
            assert_eq!(values["rc"], 256);
        }
        other => panic!("{other:?}"),
    }
    let f = dir.path().join("f");
    std::fs::write(&f, "a\nb\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    // No section: Ansible exits before looking at attributes.
    let o = run(
        json!({"path": f, "regexp": "a", "after": "b", "before": "a", "mode": "0600"}),
        &diff_ctx(false),
    )
    .await
    .unwrap();
    assert!(!o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some("Pattern for before/after params did not match the given file: b(?P<subsection>.*?)a")
    );
    assert_eq!(o.values["rc"], 0);
    assert_eq!(mode(&f), 0o644);
}

#[tokio::test]
async fn bad_replacement_escape_fails() {
    // Ansible's issue 79364: `replace: '\D'`.
    let o = run(
        json!({"path": "/dev/null", "after": "^", "before": "$", "regexp": r"\.", "replace": r"\D"}),
        &Context::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        o.to_string(),
        "Unable to process replace due to error: bad escape \\D at position 0"
    );
}

#[tokio::test]
async fn attributes_backup_validate_and_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let link = dir.path().join("link");
    std::fs::write(&real, "a=1\nb=2\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();

    // attributes alone: message, no diff of their own
    let o = run(
        json!({"path": link, "regexp": "^c=.*$", "mode": "0600"}),
        &diff_ctx(false),
    )
    .await
    .unwrap();
    assert!(o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some("ownership, perms or SE linux context changed")
    );
    assert!(o.diff.is_empty());
    assert_eq!(mode(&real), 0o600);

    // content and attributes, with a backup, through the symlink
    let o = run(
        json!({"path": link, "regexp": r"^(\w)=(\d)$", "replace": r"\g<1>: \2", "backup": true, "mode": "0640"}),
        &diff_ctx(false),
    )
    .await
    .unwrap();
    assert_eq!(
        o.msg.as_deref(),
        Some("2 replacements made and ownership, perms or SE linux context changed")
    );
    assert_eq!(o.diff.len(), 1);
    let backup = o.values["backup_file"].as_str().unwrap().to_string();
    assert!(
        backup.starts_with(&format!("{}.", link.display())),
        "{backup}"
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), "a=1\nb=2\n");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "a: 1\nb: 2\n");
    assert_eq!(mode(&real), 0o640);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is kept"
    );

    // validation failure leaves the file alone
    let err = run(
        json!({"path": real, "regexp": "a", "replace": "c", "validate": "sh -c 'echo bad >&2; grep -q nothing \"$1\"' x %s"}),
        &Context::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "failed to validate: rc:1 error:bad\n");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "a: 1\nb: 2\n");
    let o = run(
        json!({"path": real, "regexp": "a", "replace": "c", "validate": "grep -q c %s"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert!(o.changed);
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "c: 1\nb: 2\n");
}

#[tokio::test]
async fn lookaround_and_backreferences_on_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sshd_config");
    std::fs::write(
        &f,
        "#PermitRootLogin yes\nPermitRootLogin yes\nAllowUsers bob bob alice\n",
    )
    .unwrap();
    let o = run(
        json!({"path": f, "regexp": r"^(?<!#)(?!#)PermitRootLogin\s+\w+$", "replace": "PermitRootLogin no"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(o.msg.as_deref(), Some("1 replacements made"));
    let o = run(
        json!({"path": f, "regexp": r"\b(\w+)( \1\b)+", "replace": r"\1"}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(o.msg.as_deref(), Some("1 replacements made"));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "#PermitRootLogin yes\nPermitRootLogin no\nAllowUsers bob alice\n"
    );
}

#[tokio::test]
async fn hostile_paths_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("it's a $(file) `x`");
    std::fs::write(&f, "X\n").unwrap();
    let text = "quote ' \" $(rm -rf /) `x` \\\\ end";
    let o = run(
        json!({"path": f, "regexp": "X", "replace": text}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert!(o.changed);
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "quote ' \" $(rm -rf /) `x` \\ end\n"
    );
}

#[tokio::test]
async fn non_utf8_file_is_refused_without_change() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("latin1");
    std::fs::write(&f, b"caf\xe9\n").unwrap();
    let err = run(
        json!({"path": f, "regexp": "caf", "replace": "bar"}),
        &Context::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    assert_eq!(std::fs::read(&f).unwrap(), b"caf\xe9\n");
}

#[test]
fn arguments() {
    let m = lookup("replace").unwrap();
    for ok in [
        json!({"path": "/x", "regexp": "a"}),
        json!({"dest": "/x", "regexp": "a", "replace": "b"}),
        json!({"destfile": "/x", "regexp": "a", "unsafe_writes": true}),
        json!({"name": "/x", "regexp": "a", "encoding": "UTF-8", "after": "x", "before": "y"}),
        json!({"path": "/x", "regexp": "a", "owner": "root", "group": "0", "mode": "u=rw"}),
    ] {
        assert!(m.check(&ok).is_ok(), "{ok}");
    }
    for bad in [
        json!({"path": "/x"}),
        json!({"regexp": "a"}),
        json!({"path": "/x", "regexp": "a", "encoding": "latin-1"}),
        json!({"path": "/x", "regexp": "a", "validate": "visudo -c"}),
        json!({"path": "/x", "regexp": "a", "seuser": "u"}),
        json!({"path": "/x", "regexp": "a", "bogus": 1}),
    ] {
        assert!(m.check(&bad).is_err(), "{bad}");
    }
}
