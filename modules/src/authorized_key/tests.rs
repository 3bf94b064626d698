//! Fixture tests of `authorized_key`.

use super::*;
use crate::args;
use crate::module::Module;
use serde_json::json;

const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 alice@laptop";
const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQK2 alice@desk";

fn args(v: Value) -> Args {
    args::parse(&v).unwrap()
}

fn ed(existing: &str, v: Value) -> Option<String> {
    edit(existing, &args(v)).unwrap()
}

#[test]
fn parses_keys_and_options() {
    let l = parse_key("no-pty,from=\"10.0.0.1,10.0.0.2\",permitopen=\"a:1\",permitopen=\"b:2\" ssh-ed25519 AAAA c d\n").unwrap();
    let Line::Key {
        blob,
        kind,
        options,
        comment,
    } = &l
    else {
        panic!()
    };
    assert_eq!(
        (blob.as_str(), kind.as_str(), comment.as_str()),
        ("AAAA", "ssh-ed25519", "c d")
    );
    assert_eq!(
        options,
        &vec![
            ("no-pty".to_string(), None),
            ("from".into(), Some("\"10.0.0.1,10.0.0.2\"".into())),
            ("permitopen".into(), Some("\"a:1\"".into())),
            ("permitopen".into(), Some("\"b:2\"".into())),
        ]
    );
    assert_eq!(
        l.render(),
        "no-pty,from=\"10.0.0.1,10.0.0.2\",permitopen=\"a:1\",permitopen=\"b:2\" ssh-ed25519 AAAA c d\n"
    );
    assert!(parse_key("not a key\n").is_none());
    assert_eq!(parse_key("# hi\n"), Some(Line::Other("# hi\n".into())));
    // no comment: Ansible writes a trailing space
    assert_eq!(
        parse_key("ssh-rsa BBBB").unwrap().render(),
        "ssh-rsa BBBB \n"
    );
}

#[test]
fn adds_after_existing_lines_and_is_idempotent() {
    let existing = "# managed\nssh-rsa OLD bob\n";
    let v = json!({"user": "alice", "key": format!("{K1}\n\n# comment\n{K2}\n")});
    let after = ed(existing, v.clone()).unwrap();
    assert_eq!(after, format!("# managed\nssh-rsa OLD bob\n{K1}\n{K2}\n"));
    assert_eq!(ed(&after, v), None);
}

#[test]
fn replaces_a_key_whose_options_or_comment_differ() {
    let existing = format!("{K1}\nssh-rsa OTHER x\n");
    let after = ed(
        &existing,
        json!({"user": "a", "key": K1, "key_options": "no-pty,from=\"10.0.0.0/8\""}),
    )
    .unwrap();
    assert_eq!(
        after,
        format!("ssh-rsa OTHER x\nno-pty,from=\"10.0.0.0/8\" {K1}\n")
    );
    let after = ed(&existing, json!({"user": "a", "key": K1, "comment": "new"})).unwrap();
    assert!(after.ends_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 new\n"));
    // the same key with the same comment: nothing
    assert_eq!(ed(&existing, json!({"user": "a", "key": K1})), None);
    // options in another order are the same options
    let existing = format!("no-pty,from=\"10.0.0.0/8\" {K1}\n");
    assert_eq!(
        ed(
            &existing,
            json!({"user": "a", "key": K1, "key_options": "from=\"10.0.0.0/8\",no-pty"})
        ),
        None
    );
}

#[test]
fn exclusive_and_absent() {
    let existing = format!("# header\n{K2}\nssh-rsa OTHER x\n{K1}\n");
    let after = ed(
        &existing,
        json!({"user": "a", "key": K1, "exclusive": true}),
    )
    .unwrap();
    assert_eq!(after, format!("{K1}\n"));
    assert_eq!(
        ed(
            &format!("{K1}\n"),
            json!({"user": "a", "key": K1, "exclusive": true})
        ),
        None
    );
    let after = ed(
        &existing,
        json!({"user": "a", "key": K2, "state": "absent"}),
    )
    .unwrap();
    assert_eq!(after, format!("# header\nssh-rsa OTHER x\n{K1}\n"));
    assert_eq!(
        ed(
            "ssh-rsa OTHER x\n",
            json!({"user": "a", "key": K2, "state": "absent"})
        ),
        None
    );
}

#[test]
fn invalid_and_url_keys() {
    let e = edit("", &args(json!({"user": "a", "key": "garbage"}))).unwrap_err();
    assert_eq!(e, "invalid key specified: garbage");
    let e = AuthorizedKey
        .check(&json!({"user": "a", "key": "https://github.com/a.keys"}))
        .unwrap_err();
    assert!(e.message.contains("is not supported yet"), "{}", e.message);
    assert!(
        AuthorizedKey
            .check(&json!({"user": "a", "key": "{{ k }}"}))
            .is_ok()
    );
}

fn state(content: &str) -> KeysState {
    KeysState {
        ids: Some((1001, 1002)),
        keyfile: "/home/alice/.ssh/authorized_keys".into(),
        content: content.as_bytes().to_vec(),
        attrs: None,
        group_name: Some("alice".into()),
    }
}

#[test]
fn plan_writes_atomically_with_owner_and_mode() {
    let a = args(json!({"user": "alice", "key": K1}));
    let p = AuthorizedKey
        .plan(&a, &state(""), &Context::default())
        .unwrap();
    assert_eq!(p.action, Action::Create);
    let s = &p.apply[0].script;
    assert!(
        s.starts_with("d=/home/alice/.ssh\n[ -d \"$d\" ] || mkdir -m 700 -- \"$d\""),
        "{s}"
    );
    assert!(s.contains("chown -- 1001:1002 \"$d\" && chmod 700 \"$d\""));
    assert!(s.contains("chown -- 1001:1002 \"$tmp\""));
    assert!(s.contains("chmod -- 0600 \"$tmp\""));
    assert!(s.contains("mv -fT -- \"$tmp\" \"$dest\""));
    assert_eq!(p.apply[0].stdin, format!("{K1}\n").into_bytes());
    assert_eq!(p.diff[0].before, "");
    assert_eq!(p.diff[0].after, format!("{K1}\n"));
    assert_eq!(p.values["keyfile"], "/home/alice/.ssh/authorized_keys");
    assert_eq!(p.values["path"], Value::Null);
    assert_eq!(p.values["manage_dir"], true);
    // unchanged: no apply
    let p = AuthorizedKey
        .plan(&a, &state(&format!("{K1}\n")), &Context::default())
        .unwrap();
    assert_eq!(p.action, Action::NoOp);
    assert!(p.apply.is_empty());
    // without manage_dir the directory is left alone
    let a = args(
        json!({"user": "alice", "key": K1, "manage_dir": false, "path": "/etc/ssh/keys/alice"}),
    );
    let mut st = state("");
    st.keyfile = "/etc/ssh/keys/alice".into();
    let p = AuthorizedKey.plan(&a, &st, &Context::default()).unwrap();
    assert!(!p.apply[0].script.contains("chmod 700"));
    assert!(
        p.apply[0]
            .script
            .starts_with("[ -d /etc/ssh/keys ] || mkdir -p -- /etc/ssh/keys")
    );
}

#[test]
fn missing_user() {
    let a = args(json!({"user": "nobody2", "key": K1}));
    let st = KeysState {
        ids: None,
        ..state("")
    };
    let e = AuthorizedKey
        .plan(&a, &st, &Context::default())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed to lookup user nobody2: \"getpwnam(): name not found: 'nobody2'\""
    );
    let check = Context {
        check_mode: true,
        ..Context::default()
    };
    let e = AuthorizedKey.plan(&a, &st, &check).unwrap_err();
    assert!(e.to_string().starts_with("Either user must exist"));
    // with a path, check mode needs no user
    let a = args(json!({"user": "nobody2", "key": K1, "path": "/etc/ssh/keys/nobody2"}));
    assert_eq!(
        AuthorizedKey.plan(&a, &st, &check).unwrap().action,
        Action::Create
    );
    assert!(AuthorizedKey.plan(&a, &st, &Context::default()).is_err());
}

#[test]
fn parses_the_probe() {
    let a = args(json!({"user": "alice", "key": K1}));
    let mut stdout = b"@env\0umask=0022\0pid=1\0date=x\0id=uid=0(root) gid=0(root)\0".to_vec();
    stdout.extend_from_slice(b"@user\0line=alice:x:1001:1002::/home/alice:/bin/sh\0group=staff\0");
    stdout.extend_from_slice(b"@keys\0path=/home/alice/.ssh/authorized_keys\0stat=81a4 1001 1002 4 1 2 3 0 0 0 8 4096 0 0 alice alice\0content=4\0abc\n\0");
    let out = ExecOutput {
        status: 0,
        stdout,
        stderr: vec![],
    };
    let st = AuthorizedKey.parse(&a, &out).unwrap();
    assert_eq!(st.ids, Some((1001, 1002)));
    assert_eq!(st.content, b"abc\n");
    assert_eq!(st.keyfile, "/home/alice/.ssh/authorized_keys");
    assert_eq!(st.group_name.as_deref(), Some("staff"));
    assert_eq!(st.attrs.as_ref().map(|a| a.mode), Some(0o644));
}
