//! `file` against the local machine through `/bin/sh`.

mod support;

use serde_json::{Value, json};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use support::{Counting, InDir, LocalSh, lmode as mode};
use tend_modules::{Host, ModuleError, Outcome};

async fn run(
    args: Value,
    check: bool,
    diff: bool,
    host: &dyn Host,
) -> Result<Outcome, ModuleError> {
    support::run("ansible.builtin.file", args, check, diff, host).await
}

/// Runs in check mode, then for real, then again: the check run predicts the
/// real one, the second real run is unchanged and costs one round trip.
async fn converges(args: Value) -> Outcome {
    let host = Counting::default();
    let checked = run(args.clone(), true, true, &host).await.unwrap();
    assert_eq!(host.take(), 1);
    let out = run(args.clone(), false, true, &host).await.unwrap();
    assert_eq!(host.take(), if out.changed { 2 } else { 1 });
    assert_eq!(checked.changed, out.changed, "{args}");
    assert_eq!(checked.diff, out.diff, "{args}");
    let again = run(args.clone(), false, true, &host).await.unwrap();
    assert_eq!(host.take(), 1);
    assert!(
        !again.changed,
        "second run of {args} changed: {:?}",
        again.diff
    );
    out
}

#[tokio::test]
async fn directories_with_parents_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b c/d");
    let out = converges(json!({"path": path, "state": "directory", "mode": "0750"})).await;
    assert!(out.changed);
    assert!(path.is_dir());
    assert_eq!(mode(&path), 0o750);
    assert_eq!(
        mode(&dir.path().join("a")),
        0o750,
        "created parents get the mode too"
    );
    assert_eq!(
        out.diff[0].before,
        format!(
            "{{\n    \"path\": \"{}\",\n    \"state\": \"absent\"\n}}\n",
            path.display()
        )
    );
    assert_eq!(
        out.diff[0].after,
        format!(
            "{{\n    \"path\": \"{}\",\n    \"state\": \"directory\"\n}}\n",
            path.display()
        )
    );
    let v = out.to_value();
    assert_eq!(v["state"], "directory");
    assert_eq!(v["mode"], "0750");

    // Symbolic mode on the existing directory: X applies to directories.
    let out = converges(json!({"path": path, "mode": "a+X,o-r"})).await;
    assert_eq!(mode(&path), 0o751);
    assert_eq!(
        out.diff[0].before,
        format!(
            "{{\n    \"mode\": \"0750\",\n    \"path\": \"{}\"\n}}\n",
            path.display()
        )
    );
    assert_eq!(
        out.diff[0].after,
        format!(
            "{{\n    \"mode\": \"0751\",\n    \"path\": \"{}\"\n}}\n",
            path.display()
        )
    );

    let err = run(
        json!({"path": dir.path().join("a"), "state": "file"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "file ({}) is directory, cannot continue",
            dir.path().join("a").display()
        )
    );
}

#[tokio::test]
async fn recurse_sets_owner_and_mode_below() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir_all(root.join("x/y")).unwrap();
    std::fs::write(root.join("x/y/f"), "f").unwrap();
    std::fs::write(root.join("g"), "g").unwrap();
    // A link to a file outside the tree (never a system file: with the
    // default `follow`, its target is changed too, as Ansible does).
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "o").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let out = converges(json!({"path": root, "state": "directory", "recurse": true, "owner": "nobody", "mode": "u=rwX,g=rX,o="})).await;
    assert!(out.changed);
    for p in ["x", "x/y", "x/y/f", "g"] {
        let md = std::fs::metadata(root.join(p)).unwrap();
        assert_eq!(md.uid(), 65534, "{p}");
    }
    assert_eq!(mode(&root.join("x/y")), 0o750);
    assert_eq!(mode(&root.join("x/y/f")), 0o640);
    assert_eq!(
        std::fs::symlink_metadata(root.join("link")).unwrap().uid(),
        65534,
        "links are chowned themselves"
    );
    assert_eq!(
        std::fs::metadata(&outside).unwrap().uid(),
        65534,
        "and, following them, their targets"
    );
    // A change deep down is seen by the probe.
    std::fs::set_permissions(root.join("x/y/f"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = converges(
        json!({"path": root, "recurse": true, "owner": "nobody", "mode": "u=rwX,g=rX,o="}),
    )
    .await;
    assert!(out.changed);
    assert_eq!(mode(&root.join("x/y/f")), 0o640);
}

#[tokio::test]
async fn touch_absent_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t");
    let host = Counting::default();
    let out = run(
        json!({"path": path, "state": "touch", "mode": "0600"}),
        false,
        true,
        &host,
    )
    .await
    .unwrap();
    assert!(out.changed);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(out.to_value()["dest"], path.to_str().unwrap());
    // Touch always updates times (changed), unless told to preserve them.
    assert!(
        run(json!({"path": path, "state": "touch"}), false, false, &host)
            .await
            .unwrap()
            .changed
    );
    // With --diff, the times before and the clock after, as Ansible shows them.
    let old = std::fs::metadata(&path).unwrap().modified().unwrap();
    let old = old
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let out = run(json!({"path": path, "state": "touch"}), false, true, &host)
        .await
        .unwrap();
    let v = out.to_value();
    let (before, after) = (&v["diff"]["before"], &v["diff"]["after"]);
    assert!(
        (before["mtime"].as_f64().unwrap() - old).abs() < 1e-6,
        "{v}"
    );
    assert!(
        after["mtime"].as_f64().unwrap() >= before["mtime"].as_f64().unwrap(),
        "{v}"
    );
    assert!(after["atime"].is_f64() && before["atime"].is_f64(), "{v}");
    assert!(
        out.diff[0].after.contains("\"mtime\": 1"),
        "{}",
        out.diff[0].after
    );
    let keep = json!({"path": path, "state": "touch", "mode": "0600", "modification_time": "preserve", "access_time": "preserve"});
    converges(keep).await;

    let out = converges(json!({"path": path, "owner": "nobody", "group": "nogroup"})).await;
    let v = out.to_value();
    assert_eq!(
        (v["uid"].as_u64(), v["gid"].as_u64(), v["owner"].as_str()),
        (Some(65534), Some(65534), Some("nobody"))
    );
    assert_eq!(
        out.diff[0].before,
        format!(
            "{{\n    \"group\": 0,\n    \"owner\": 0,\n    \"path\": \"{}\"\n}}\n",
            path.display()
        )
    );

    // Absent: file, then a whole tree.
    let out = converges(json!({"path": path, "state": "absent"})).await;
    assert!(out.changed && !path.exists());
    assert_eq!(
        out.diff[0].after,
        format!(
            "{{\n    \"path\": \"{}\",\n    \"state\": \"absent\"\n}}\n",
            path.display()
        )
    );
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::write(tree.join("a/b/c"), "c").unwrap();
    converges(json!({"path": tree, "state": "absent"})).await;
    assert!(!tree.exists());

    let err = run(
        json!({"path": path, "state": "file"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("file ({}) is absent, cannot continue", path.display())
    );
    // Default state of a missing path is file.
    assert!(
        run(
            json!({"path": path, "mode": "0644"}),
            false,
            false,
            &LocalSh
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn symlinks_and_hard_links() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target file");
    std::fs::write(&target, "t").unwrap();
    let link = dir.path().join("lnk");
    let out = converges(json!({"src": target, "dest": link, "state": "link"})).await;
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    let v = out.to_value();
    assert_eq!(v["state"], "link");
    assert_eq!(v["src"], target.to_str().unwrap());

    // Relative source, resolved against the link's directory; relink.
    let out = converges(json!({"src": "target file", "dest": link, "state": "link"})).await;
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("target file"));
    assert!(
        out.diff[0]
            .before
            .contains(&format!("\"src\": \"{}\"", target.display()))
    );

    // Mode through the link (follow) changes the target.
    converges(json!({"src": "target file", "dest": link, "state": "link", "mode": "0600"})).await;
    assert_eq!(mode(&target), 0o600);

    let err = run(
        json!({"src": "missing", "dest": dir.path().join("l2"), "state": "link"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("src file does not exist, use \"force=yes\""),
        "{err}"
    );
    converges(
        json!({"src": "missing", "dest": dir.path().join("l2"), "state": "link", "force": true}),
    )
    .await;

    let err = run(
        json!({"src": target, "dest": dir.path().join("target file"), "state": "link"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("refusing to convert from file to symlink"),
        "{err}"
    );

    let hard = dir.path().join("hard");
    converges(json!({"src": target, "dest": hard, "state": "hard"})).await;
    assert_eq!(
        std::fs::metadata(&hard).unwrap().ino(),
        std::fs::metadata(&target).unwrap().ino()
    );
    let other = dir.path().join("other");
    std::fs::write(&other, "o").unwrap();
    let err = run(
        json!({"src": other, "dest": hard, "state": "hard"}),
        false,
        false,
        &LocalSh,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot link, different hard link exists at destination"
    );
    converges(json!({"src": other, "dest": hard, "state": "hard", "force": true})).await;
    assert_eq!(std::fs::read(&hard).unwrap(), b"o");
}

#[tokio::test]
async fn odd_names() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "a b",
        "it's",
        "$(touch pwned)",
        "new\nline",
        "-dash",
        "ünï ✓",
        "x\\y",
        "tab\there",
    ] {
        let d = dir.path().join(format!("d {name}"));
        converges(json!({"path": d, "state": "directory", "mode": "0700"})).await;
        assert!(d.is_dir(), "{name:?}");
        let f = d.join(name);
        let out = run(
            json!({"path": f, "state": "touch", "mode": "0640"}),
            false,
            false,
            &LocalSh,
        )
        .await
        .unwrap();
        assert!(out.changed);
        assert_eq!(mode(&f), 0o640, "{name:?}");
        let l = d.join(format!("{name}.lnk"));
        converges(json!({"src": name, "path": l, "state": "link"})).await;
        assert_eq!(std::fs::read_link(&l).unwrap(), Path::new(name));
        converges(json!({"path": d, "state": "absent"})).await;
        assert!(!d.exists());
    }
    assert!(!dir.path().join("pwned").exists());
}

#[tokio::test]
async fn relative_names_with_leading_dashes() {
    let dir = tempfile::tempdir().unwrap();
    let host = InDir(dir.path().to_path_buf());
    for args in [
        json!({"path": "-d/-e", "state": "directory", "mode": "0700"}),
        json!({"path": "-d", "state": "directory", "recurse": true, "mode": "u=rwX,go=", "owner": "nobody"}),
        json!({"path": "-d/-e/-f", "state": "touch", "modification_time": "preserve", "access_time": "preserve"}),
        json!({"path": "-d/-l", "src": "-e", "state": "link"}),
        json!({"path": "-d/-h", "src": "-d/-e/-f", "state": "hard"}),
        json!({"path": "-d", "state": "absent"}),
    ] {
        let out = run(args.clone(), false, false, &host).await.unwrap();
        assert!(out.changed, "{args}");
        assert!(
            !run(args.clone(), false, false, &host)
                .await
                .unwrap()
                .changed,
            "{args}"
        );
    }
    assert!(!dir.path().join("-d").exists());
}
