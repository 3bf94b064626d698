//! `blockinfile` against real files through the local host.

mod support;

use serde_json::{Value, json};
use support::Counting;
use tend_modules::{Context, Diff, ModuleError, Outcome, lookup};

async fn run_counted(args: Value, ctx: &Context) -> (Result<Outcome, ModuleError>, usize) {
    let m = lookup("blockinfile").unwrap();
    m.check(&args).unwrap();
    let host = Counting::default();
    let out = m.run(&args, ctx, &host).await;
    (out, host.take())
}

async fn run(args: Value, ctx: &Context) -> Result<Outcome, ModuleError> {
    run_counted(args, ctx).await.0
}

const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK\n";
const E: &str = "# END ANSIBLE MANAGED BLOCK\n";

#[tokio::test]
async fn insert_update_remove_with_exact_diffs_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sshd_config");
    std::fs::write(&f, "Port 22\n").unwrap();
    let args = json!({"path": f, "block": "Match User ansible-agent\nPasswordAuthentication no\n"});
    let check = Context {
        check_mode: true,
        diff: true,
    };
    let real = Context {
        check_mode: false,
        diff: true,
    };

    let (predicted, trips) = run_counted(args.clone(), &check).await;
    let predicted = predicted.unwrap();
    assert_eq!(trips, 1, "check mode only probes");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "Port 22\n");
    let (done, trips) = run_counted(args.clone(), &real).await;
    let done = done.unwrap();
    assert_eq!(trips, 2, "probe + one write");
    assert_eq!(predicted, done);
    assert_eq!(done.msg.as_deref(), Some("Block inserted"));
    let expected = format!("Port 22\n{B}Match User ansible-agent\nPasswordAuthentication no\n{E}");
    let header = format!("{} (content)", f.display());
    assert_eq!(
        done.diff,
        vec![Diff {
            before_header: Some(header.clone()),
            after_header: Some(header),
            before: "Port 22\n".into(),
            after: expected.clone(),
            prepared: None,
            dicts: None,
        }]
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), expected);
    assert!(!done.values.contains_key("backup_file"));

    let (again, trips) = run_counted(args, &real).await;
    let again = again.unwrap();
    assert_eq!(trips, 1);
    assert!(!again.changed);
    assert_eq!(again.msg.as_deref(), Some(""));

    let o = run(
        json!({"path": f, "block": "PasswordAuthentication yes", "backup": true}),
        &real,
    )
    .await
    .unwrap();
    assert_eq!(o.msg.as_deref(), Some("Block inserted"));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        format!("Port 22\n{B}PasswordAuthentication yes\n{E}")
    );
    let backup = o.values["backup_file"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(backup).unwrap(), expected);

    let o = run(json!({"path": f, "state": "absent"}), &real)
        .await
        .unwrap();
    assert_eq!(o.msg.as_deref(), Some("Block removed"));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "Port 22\n");
    assert!(
        !run(json!({"path": f, "state": "absent"}), &real)
            .await
            .unwrap()
            .changed
    );
}

#[tokio::test]
async fn missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("new/file");
    let err = run(json!({"path": f, "block": "x"}), &Context::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Path {} does not exist !", f.display())
    );
    let o = run(
        json!({"path": f, "block": "x", "state": "absent", "create": true}),
        &Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(o.msg, Some(format!("File {} not present", f.display())));
    let args = json!({"path": f, "block": "x", "create": true, "marker": "// {mark}", "marker_begin": "start", "marker_end": "stop"});
    let predicted = run(
        args.clone(),
        &Context {
            check_mode: true,
            diff: false,
        },
    )
    .await
    .unwrap();
    assert!(!f.exists());
    let done = run(args.clone(), &Context::default()).await.unwrap();
    assert_eq!(
        (predicted.changed, &predicted.msg),
        (done.changed, &done.msg)
    );
    // As Ansible's: a file check mode would create gets the content diff
    // alone, a real run the list with the file attributes.
    assert!(predicted.values["diff"].is_object(), "{predicted:?}");
    assert_eq!(done.values["diff"].as_array().map(Vec::len), Some(2));
    assert_eq!(done.msg.as_deref(), Some("File created"));
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "// start\nx\n// stop\n"
    );
    assert!(!run(args, &Context::default()).await.unwrap().changed);
}

#[test]
fn arguments() {
    let m = lookup("blockinfile").unwrap();
    assert!(
        m.check(&json!({"path": "/x", "content": "a", "insertafter": "a", "insertbefore": "b"}))
            .is_err()
    );
    assert!(
        m.check(&json!({"dest": "/x", "content": "a", "mode": 420, "owner": "root"}))
            .is_ok()
    );
    assert!(
        m.check(&json!({"path": "/x", "selevel": "s0"}))
            .unwrap_err()
            .message
            .contains("not supported yet")
    );
    assert!(m.check(&json!({"path": "/x", "bogus": 1})).is_err());
}
