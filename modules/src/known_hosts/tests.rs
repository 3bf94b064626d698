//! Fixture tests of `known_hosts`.

use super::*;
use crate::args;
use serde_json::{Value, json};

const ED: &str = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx";
const ED2: &str = "git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAInew";
const RSA: &str = "git.example.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ";
const OTHER: &str = "other.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIot";

fn args(v: Value) -> Args {
    args::parse(&v).unwrap()
}

fn root_file(mode: u32) -> CurAttrs {
    CurAttrs {
        mode,
        uid: 0,
        gid: 0,
        owner: Some("root".into()),
        group: Some("root".into()),
        is_dir: false,
    }
}

fn state(content: Option<&str>) -> HostsState {
    HostsState {
        path: "/root/.ssh/known_hosts".into(),
        content: content.map(str::to_string),
        attrs: content.map(|_| root_file(0o600)),
        new_attrs: root_file(0o644),
        salt: vec![7; 20],
    }
}

fn plan(v: Value, content: Option<&str>) -> Result<Plan, ModuleError> {
    KnownHosts.plan(&args(v), &state(content), &Context::default())
}

fn after(p: &Plan) -> &str {
    &p.diff[0].after
}

#[test]
fn hashes_as_openssh() {
    // `ssh-keygen -H` of "example.com" with this salt gives the same field
    // (checked with the hash from the real tool: salt and hmac in base64).
    let salt = base64::engine::general_purpose::STANDARD
        .decode("i2IlA/v03Q8D6NW5tYjwYVD1EXk=")
        .unwrap();
    assert_eq!(
        hashed_name("example.com", &salt),
        "|1|i2IlA/v03Q8D6NW5tYjwYVD1EXk=|rQoDJxBtovobHWOGGbcxuFLQIjY="
    );
    assert!(host_matches(
        "|1|i2IlA/v03Q8D6NW5tYjwYVD1EXk=|rQoDJxBtovobHWOGGbcxuFLQIjY=",
        "example.com"
    ));
    assert!(!host_matches(
        "|1|i2IlA/v03Q8D6NW5tYjwYVD1EXk=|rQoDJxBtovobHWOGGbcxuFLQIjY=",
        "example.org"
    ));
}

#[test]
fn host_patterns() {
    assert!(host_matches("a.com,1.2.3.4", "1.2.3.4"));
    assert!(host_matches("*.example.com", "git.example.com"));
    assert!(!host_matches(
        "*.example.com,!git.example.com",
        "git.example.com"
    ));
    assert!(host_matches("[h]:2222", "[h]:2222"));
    assert!(!host_matches("[h]:2222", "h"));
    assert!(host_matches("GIT.example.com", "git.example.com"));
    assert!(host_matches("g?t.example.com", "git.example.com"));
}

#[test]
fn adds_to_a_new_file_and_is_idempotent() {
    let p = plan(json!({"name": "git.example.com", "key": ED}), None).unwrap();
    assert_eq!(p.action, Action::Create);
    assert_eq!(after(&p), format!("{ED}\n"));
    assert_eq!(p.diff[0].before_header.as_deref(), Some("/dev/null"));
    assert_eq!(
        p.values["diff"],
        json!({"before_header": "/dev/null", "after_header": "/root/.ssh/known_hosts",
               "before": "", "after": format!("{ED}\n")})
    );
    assert!(p.apply[0].script.contains("chmod -- 0644 \"$tmp\""));
    let content = format!("{OTHER}\n{ED}\n");
    let p = plan(
        json!({"name": "GIT.example.com", "key": ED}),
        Some(&content),
    )
    .unwrap();
    assert_eq!(p.action, Action::NoOp);
    assert_eq!(p.values["path"], "/root/.ssh/known_hosts");
    assert_eq!(p.values["name"], "GIT.example.com");
    assert_eq!(p.values["state"], "file");
    assert_eq!(p.values["mode"], "0600");
    assert_eq!(p.values["size"], content.len());
    assert_eq!(p.values["owner"], "root");
}

#[test]
fn replaces_the_same_type_and_appends_another() {
    let content = format!("{ED}\n{OTHER}\n");
    let p = plan(
        json!({"name": "git.example.com", "key": ED2}),
        Some(&content),
    )
    .unwrap();
    assert_eq!(after(&p), format!("{OTHER}\n{ED2}\n"));
    assert!(p.apply[0].script.contains("chmod -- 0600"));
    assert!(p.apply[0].script.contains("chown -- 0:0 \"$tmp\""));
    let p = plan(
        json!({"name": "git.example.com", "key": RSA}),
        Some(&content),
    )
    .unwrap();
    assert_eq!(after(&p), format!("{ED}\n{OTHER}\n{RSA}\n"));
}

#[test]
fn removes_one_key_or_every_entry() {
    let content = format!("{ED}\n{OTHER}\n{RSA}\n");
    let p = plan(
        json!({"name": "git.example.com", "key": RSA, "state": "absent"}),
        Some(&content),
    )
    .unwrap();
    assert_eq!(p.action, Action::Delete);
    assert_eq!(after(&p), format!("{ED}\n{OTHER}\n"));
    assert!(!p.apply[0].script.contains(".old"));
    let p = plan(
        json!({"name": "git.example.com", "state": "absent"}),
        Some(&content),
    )
    .unwrap();
    // The file keeps the other host only...
    assert_eq!(p.apply[0].stdin, format!("{OTHER}\n").as_bytes());
    assert!(p.apply[0].script.contains("/root/.ssh/known_hosts.old"));
    // ...but Ansible's diff, returned and shown, does not show what
    // `ssh-keygen -R` removed.
    assert_eq!(p.values["diff"]["after"], content);
    assert!(p.diff.is_empty());
    let p = plan(
        json!({"name": "nope.example.com", "state": "absent"}),
        Some(&content),
    )
    .unwrap();
    assert_eq!(p.action, Action::NoOp);
    let p = plan(json!({"name": "git.example.com", "state": "absent"}), None).unwrap();
    assert_eq!(p.action, Action::NoOp);
    assert_eq!(p.values["state"], "absent");
}

#[test]
fn hashed_entries() {
    let p = plan(
        json!({"name": "git.example.com", "key": ED, "hash_host": true}),
        None,
    )
    .unwrap();
    let line = after(&p).to_string();
    assert!(
        line.starts_with("|1|BwcHBwcHBwcHBwcHBwcHBwcHBwc=|"),
        "{line}"
    );
    assert!(line.ends_with(" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx\n"));
    // another salt next time: the hashed entry with the same key is kept
    let mut st = state(Some(&line));
    st.salt = vec![9; 20];
    let a = args(json!({"name": "git.example.com", "key": ED, "hash_host": true}));
    let p = KnownHosts.plan(&a, &st, &Context::default()).unwrap();
    assert_eq!(p.action, Action::NoOp);
    // the plain key is found in the hashed file too
    let p = plan(json!({"name": "git.example.com", "key": ED}), Some(&line)).unwrap();
    assert_eq!(
        p.action,
        Action::Update,
        "a plain name differs from a hashed one"
    );
    // a plain entry is replaced by a hashed one
    let p = plan(
        json!({"name": "git.example.com", "key": ED, "hash_host": true}),
        Some(&format!("{ED}\n")),
    )
    .unwrap();
    assert!(after(&p).starts_with("|1|"));
    assert_eq!(after(&p).lines().count(), 1);
}

#[test]
fn argument_errors() {
    let e = plan(json!({"name": "a"}), None).unwrap_err();
    assert_eq!(e.to_string(), "No key specified when adding a host");
    let e = plan(json!({"name": "a, b", "key": "a ssh-rsa AAA"}), None).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Comma separated list of names is not supported.")
    );
    let e = plan(json!({"name": "b", "key": "a ssh-rsa AAA"}), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Host parameter does not match hashed host field in supplied key"
    );
    let a = args(json!({"host": "x"}));
    assert_eq!(a.path, "~/.ssh/known_hosts");
}

#[test]
fn check_mode_returns_only_changed_and_diff_as_ansible() {
    let check = Context {
        check_mode: true,
        diff: false,
    };
    let keys = |p: &Plan| p.values.keys().cloned().collect::<Vec<_>>();
    let add = KnownHosts
        .plan(
            &args(json!({"name": "git.example.com", "key": ED})),
            &state(None),
            &check,
        )
        .unwrap();
    assert_eq!(add.action, Action::Create);
    assert_eq!(keys(&add), ["diff"]);
    let same = KnownHosts
        .plan(
            &args(json!({"name": "git.example.com", "key": ED})),
            &state(Some(&format!("{ED}\n"))),
            &check,
        )
        .unwrap();
    assert!(same.apply.is_empty());
    assert_eq!(keys(&same), ["diff"]);
    // Removing a key that is not there returns before the check-mode exit.
    let absent = KnownHosts
        .plan(
            &args(json!({"name": "git.example.com", "key": ED, "state": "absent"})),
            &state(Some(&format!("{RSA}\n"))),
            &check,
        )
        .unwrap();
    assert!(absent.values.contains_key("path") && absent.values.contains_key("mode"));
}
