//! `stat` against the local machine.

mod support;

use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;
use support::LocalSh;
use tend_modules::Context;

async fn stat(args: Value) -> Value {
    let out = tend_modules::lookup("stat")
        .unwrap()
        .run(&args, &Context::default(), &LocalSh)
        .await
        .unwrap();
    assert!(!out.changed);
    out.to_value()["stat"].clone()
}

fn tool(name: &str, path: &std::path::Path) -> String {
    let input = std::fs::File::open(path).unwrap();
    let out = std::process::Command::new(name)
        .stdin(input)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn reports_files_links_and_missing_paths() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a file $(x) 'q'\n");
    std::fs::write(&f, "hello").unwrap();
    let s = stat(json!({"path": f})).await;
    let md = std::fs::metadata(&f).unwrap();
    assert_eq!(s["exists"], true);
    assert_eq!(s["path"], f.to_str().unwrap());
    assert_eq!(s["isreg"], true);
    assert_eq!(s["isdir"], false);
    assert_eq!(s["mode"], "0644");
    assert_eq!(s["size"], 5);
    assert_eq!(s["inode"], md.ino());
    assert_eq!(s["dev"], md.dev());
    assert_eq!(s["nlink"], 1);
    assert_eq!(s["uid"], 0);
    assert_eq!(s["pw_name"], "root");
    assert_eq!(s["readable"], true);
    assert_eq!(s["writeable"], true);
    assert_eq!(s["executable"], false);
    assert_eq!(s["rusr"], true);
    assert_eq!(s["xoth"], false);
    assert_eq!(s["checksum"], tool("sha1sum", &f));
    assert!((s["mtime"].as_f64().unwrap() - md.mtime() as f64).abs() < 1.0);
    assert!(s["mimetype"].is_string());
    let s = stat(json!({"path": f, "checksum_algorithm": "sha256", "get_mime": false})).await;
    assert_eq!(s["checksum"], tool("sha256sum", &f));
    assert!(s.get("mimetype").is_none());
    let s = stat(json!({"path": f, "get_checksum": false})).await;
    assert!(s.get("checksum").is_none());

    let l = dir.path().join("link");
    std::os::unix::fs::symlink(&f, &l).unwrap();
    let s = stat(json!({"path": l})).await;
    assert_eq!(s["islnk"], true);
    assert_eq!(s["isreg"], false);
    assert_eq!(s["lnk_target"], f.to_str().unwrap());
    assert_eq!(s["lnk_source"], f.to_str().unwrap());
    let s = stat(json!({"path": l, "follow": true})).await;
    assert_eq!(s["islnk"], false);
    assert_eq!(s["isreg"], true);
    assert_eq!(s["checksum"], tool("sha1sum", &f));

    let s = stat(json!({"path": dir.path()})).await;
    assert_eq!(s["isdir"], true);
    assert_eq!(s["executable"], true);
    assert_eq!(
        stat(json!({"path": dir.path().join("missing")})).await,
        json!({"exists": false})
    );
    let s = stat(json!({"path": "/dev/null"})).await;
    assert_eq!(s["ischr"], true);
    assert!(s["device_type"].is_number());
}
