//! Fixture tests of `user`: arguments and probed state in, plan out.

use super::*;
use crate::args;
use crate::module::Module;
use serde_json::json;

fn args(v: Value) -> Args {
    args::parse(&v).unwrap()
}

const ALICE: &str = "alice:x:2001:2001:Alice:/home/alice:/bin/bash";
const HASH: &str = "$6$salt$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./abcdefghijklmnopqrstuv";

fn probe_text(extra: &str) -> String {
    format!(
        "passwd={ALICE}\nhome=/home/alice\nhome_exists=1\nshadow=alice:{HASH}:19000:0:99999:7:::\nown_group=1\nmember=adm\nmember=web\n{extra}hostname=host1\n"
    )
}

fn state(a: &Args, text: &str) -> UserState {
    let out = ExecOutput {
        status: 0,
        stdout: text.as_bytes().to_vec(),
        stderr: vec![],
    };
    User.parse(a, &out).unwrap()
}

fn plan(v: Value, text: &str) -> Plan {
    let a = args(v);
    let st = state(&a, text);
    User.plan(&a, &st, &Context::default()).unwrap()
}

fn script(p: &Plan) -> &str {
    &p.apply[0].script
}

#[test]
fn parses_the_probe() {
    let a = args(json!({"name": "alice", "group": "web", "groups": ["adm", "nope"]}));
    let st = state(&a, &probe_text("g0=web:x:3000:\ng1=adm:x:4:syslog\ng2=\n"));
    assert_eq!(st.passwd.as_ref().unwrap().num(2), Some(2001));
    assert_eq!(st.shadow.as_ref().unwrap().field(1), HASH);
    assert_eq!(st.members, ["adm", "web"]);
    assert_eq!(st.group.as_ref().unwrap().num(2), Some(3000));
    assert_eq!(st.groups.len(), 2);
    assert!(st.groups[1].is_none());
    assert!(st.own_group && st.home_exists);
    assert_eq!(st.hostname, "host1");
}

#[test]
fn probe_failure_never_returns_stdout() {
    let a = args(json!({"name": "alice"}));
    let out = ExecOutput {
        status: 2,
        stdout: format!("shadow=alice:{HASH}").into_bytes(),
        stderr: b"boom".to_vec(),
    };
    let e = User.parse(&a, &out).unwrap_err();
    let ModuleError::Failed { msg, values } = e else {
        panic!()
    };
    assert!(!msg.contains(HASH) && values.is_empty(), "{msg}");
}

#[test]
fn unchanged_user_is_a_noop_with_ansible_values() {
    let p = plan(
        json!({"name": "alice", "uid": 2001, "shell": "/bin/bash", "comment": "Alice",
               "groups": "web,adm", "password": HASH, "password_lock": false}),
        &probe_text("g0=web:x:3000:alice\ng1=adm:x:4:alice\n"),
    );
    assert_eq!(p.action, Action::NoOp, "{:?}", p.diff);
    assert!(p.apply.is_empty());
    assert_eq!(p.values["uid"], 2001);
    assert_eq!(p.values["group"], 2001);
    assert_eq!(p.values["home"], "/home/alice");
    assert_eq!(p.values["groups"], "web,adm");
    assert_eq!(p.values["password"], "NOT_LOGGING_PASSWORD");
    assert_eq!(p.values["append"], false);
    assert_eq!(p.values["state"], "present");
}

#[test]
fn creates_with_useradd_and_password_on_stdin() {
    let p = plan(
        json!({"name": "bob", "uid": "2002", "group": "web", "groups": ["adm"], "comment": "Bob B",
               "home": "/srv/homes/bob", "shell": "/bin/sh", "system": "no", "password": HASH,
               "password_lock": true, "expires": 1893456000.5}),
        "passwd=\nhome=/srv/homes/bob\nshadow=\ng0=web:x:3000:\ng1=adm:x:4:\nhostname=h\n",
    );
    assert_eq!(p.action, Action::Create);
    let s = script(&p);
    assert!(
        s.contains("useradd -u 2002 -g web -G adm -c 'Bob B' -d /srv/homes/bob -s /bin/sh -e 2030-01-01 -m bob >/dev/null"),
        "{s}"
    );
    assert!(s.contains("[ -d /srv/homes ] || mkdir -p -- /srv/homes"));
    assert!(s.contains("chpasswd -e"));
    assert!(!s.contains(HASH), "the hash never is in the script (argv)");
    assert_eq!(p.apply[0].stdin, format!("bob:!{HASH}\n").into_bytes());
    assert_eq!(p.values["system"], false);
    assert_eq!(p.values["create_home"], true);
    assert!(p.diff[0].after.contains("\"password\": \"(hidden)\""));
    assert!(!p.diff[0].after.contains(HASH));
}

#[test]
fn create_uses_no_user_group_when_one_exists_and_fails_on_missing_groups() {
    let p = plan(
        json!({"name": "bob", "create_home": false, "system": true}),
        "passwd=\nown_group=1\nhostname=h\n",
    );
    assert!(
        script(&p).contains("useradd -N -M -r bob"),
        "{}",
        script(&p)
    );
    let a = args(json!({"name": "bob", "groups": ["nope"]}));
    let st = state(&a, "passwd=\ng0=\n");
    let e = User.plan(&a, &st, &Context::default()).unwrap_err();
    assert_eq!(e.to_string(), "Group nope does not exist");
    // check mode predicts the creation (an earlier task may make the group)
    let check = Context {
        check_mode: true,
        ..Context::default()
    };
    assert_eq!(User.plan(&a, &st, &check).unwrap().action, Action::Create);
    let a = args(json!({"name": "alice", "group": "nope"}));
    let st = state(&a, &probe_text("g0=\n"));
    let e = User.plan(&a, &st, &Context::default()).unwrap_err();
    assert_eq!(e.to_string(), "Group nope does not exist");
}

#[test]
fn modifies_only_what_differs() {
    let p = plan(
        json!({"name": "alice", "uid": 2005, "group": "web", "shell": "/bin/zsh",
               "comment": "Alice", "home": "/home/alice"}),
        &probe_text("g0=web:x:3000:\n"),
    );
    assert_eq!(p.action, Action::Update);
    assert!(
        script(&p).contains("usermod -u 2005 -g 3000 -s /bin/zsh alice"),
        "{}",
        script(&p)
    );
    assert_eq!(
        p.diff[0].before,
        "{\n    \"group\": 2001,\n    \"shell\": \"/bin/bash\",\n    \"uid\": \"2001\"\n}\n"
    );
    assert_eq!(p.values["uid"], 2005);
    assert_eq!(p.values["shell"], "/bin/zsh");
    // Check mode: the same change, and the account as it is (Ansible's module
    // reads the passwd entry it did not change).
    let a = args(json!({"name": "alice", "uid": 2005, "shell": "/bin/zsh"}));
    let st = state(&a, &probe_text(""));
    let check = Context {
        check_mode: true,
        ..Context::default()
    };
    let p = User.plan(&a, &st, &check).unwrap();
    assert_eq!(p.action, Action::Update);
    assert_eq!(p.values["uid"], 2001);
    assert_eq!(p.values["shell"], "/bin/bash");
    // Creating or removing: Ansible's module exits with `changed` alone.
    let a = args(json!({"name": "bob", "uid": 2005}));
    let p = User.plan(&a, &state(&a, "passwd=\n"), &check).unwrap();
    assert_eq!(p.action, Action::Create);
    assert!(p.values.is_empty(), "{:?}", p.values);
    let a = args(json!({"name": "alice", "state": "absent"}));
    let p = User.plan(&a, &state(&a, &probe_text("")), &check).unwrap();
    assert_eq!(p.action, Action::Delete);
    assert!(p.values.is_empty(), "{:?}", p.values);
}

#[test]
fn groups_replace_or_append() {
    let text = probe_text("g0=web:x:3000:alice\ng1=docker:x:5000:\n");
    // replace: adm goes, docker comes
    let p = plan(json!({"name": "alice", "groups": ["web", "docker"]}), &text);
    assert!(script(&p).contains("usermod -G web,docker alice"));
    assert_eq!(p.diff[0].before, "{\n    \"groups\": \"adm,web\"\n}\n");
    assert_eq!(p.diff[0].after, "{\n    \"groups\": \"docker,web\"\n}\n");
    // append: only adds
    let p = plan(
        json!({"name": "alice", "groups": ["web", "docker"], "append": true}),
        &text,
    );
    assert!(script(&p).contains("usermod -a -G web,docker alice"));
    assert_eq!(
        p.diff[0].after,
        "{\n    \"groups\": \"adm,docker,web\"\n}\n"
    );
    // append of groups already held: nothing
    let p = plan(
        json!({"name": "alice", "groups": ["web"], "append": true}),
        &probe_text("g0=web:x:3000:alice\n"),
    );
    assert_eq!(p.action, Action::NoOp);
    // empty groups: removed from all
    let p = plan(json!({"name": "alice", "groups": ""}), &probe_text(""));
    assert!(script(&p).contains("usermod -G '' alice"));
    let p = plan(
        json!({"name": "alice", "groups": [], "append": true}),
        &probe_text(""),
    );
    assert_eq!(p.action, Action::NoOp);
    // a gid resolves to its name
    let p = plan(
        json!({"name": "alice", "groups": ["3000", "adm"]}),
        &probe_text("g0=web:x:3000:alice\ng1=adm:x:4:alice\n"),
    );
    assert_eq!(p.action, Action::NoOp);
}

#[test]
fn password_update_lock_and_on_create() {
    let other =
        "$6$x$yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
    let p = plan(json!({"name": "alice", "password": other}), &probe_text(""));
    assert!(!script(&p).contains("usermod"));
    assert!(script(&p).contains("chpasswd -e"));
    assert_eq!(p.apply[0].stdin, format!("alice:{other}\n").into_bytes());
    assert_eq!(
        p.diff[0].after,
        "{\n    \"password\": \"(hidden, changed)\"\n}\n"
    );
    let p = plan(
        json!({"name": "alice", "password": other, "update_password": "on_create"}),
        &probe_text(""),
    );
    assert_eq!(p.action, Action::NoOp);
    // lock without a new password: usermod -L
    let p = plan(
        json!({"name": "alice", "password_lock": true}),
        &probe_text(""),
    );
    assert!(script(&p).contains("usermod -L alice"));
    // lock with a new password: the hash carries the `!`, no -L
    let p = plan(
        json!({"name": "alice", "password_lock": true, "password": other}),
        &probe_text(""),
    );
    assert!(!script(&p).contains("usermod"));
    assert_eq!(p.apply[0].stdin, format!("alice:!{other}\n").into_bytes());
    // a locked account with the same hash is unchanged
    let locked = probe_text("").replace(&format!(":{HASH}:"), &format!(":!{HASH}:"));
    let p = plan(
        json!({"name": "alice", "password_lock": true, "password": HASH}),
        &locked,
    );
    assert_eq!(p.action, Action::NoOp);
    let p = plan(json!({"name": "alice", "password_lock": false}), &locked);
    assert!(script(&p).contains("usermod -U alice"));
}

#[test]
fn expires_by_day_and_removal() {
    let with = |field: &str| probe_text("").replace(":99999:7:::", &format!(":99999:7::{field}:"));
    // 2030-01-01 is day 21915
    let p = plan(
        json!({"name": "alice", "expires": 1893456000}),
        &with("21915"),
    );
    assert_eq!(p.action, Action::NoOp);
    let p = plan(
        json!({"name": "alice", "expires": 1893542399.9}),
        &with("21915"),
    );
    assert_eq!(p.action, Action::NoOp, "same day");
    let p = plan(
        json!({"name": "alice", "expires": 1893542400}),
        &with("21915"),
    );
    assert!(script(&p).contains("usermod -e 2030-01-02 alice"));
    let p = plan(json!({"name": "alice", "expires": -1}), &with("21915"));
    assert!(script(&p).contains("usermod -e '' alice"));
    let p = plan(json!({"name": "alice", "expires": -1}), &with(""));
    assert_eq!(p.action, Action::NoOp);
    // No shadow entry at all: Ansible reads the expiry as 0, so `usermod -e ''`
    // runs (and makes the entry); then the empty field is -1.
    let no_shadow =
        probe_text("").replace(&format!("shadow=alice:{HASH}:19000:0:99999:7:::\n"), "");
    let p = plan(json!({"name": "alice", "expires": -1}), &no_shadow);
    assert!(script(&p).contains("usermod -e '' alice"), "{}", script(&p));
    assert_eq!(ymd(0), "1970-01-01");
    assert_eq!(ymd(19782), "2024-02-29");
}

#[test]
fn missing_home_is_made_from_the_skeleton() {
    let text = probe_text("").replace("home_exists=1\n", "");
    let p = plan(json!({"name": "alice"}), &text);
    assert_eq!(p.action, Action::Update);
    let s = script(&p);
    assert!(s.contains("h=/home/alice\nsk=/etc/skel\n"), "{s}");
    assert!(s.contains("cp -a -- \"$sk\" \"$h\""));
    assert!(s.contains("chown -R -- \"$u:$g\" \"$h\""));
    let p = plan(json!({"name": "alice", "create_home": false}), &text);
    assert_eq!(p.action, Action::NoOp);
    // moved by usermod -m: not made again
    let p = plan(
        json!({"name": "alice", "home": "/srv/alice", "move_home": true}),
        &text.replace("home=/home/alice", "home=/srv/alice"),
    );
    assert!(script(&p).contains("usermod -d /srv/alice -m alice"));
    assert!(!script(&p).contains("cp -a"));
}

#[test]
fn removes_with_userdel() {
    let a = json!({"name": "alice", "state": "absent", "remove": true, "force": "yes"});
    let p = plan(a.clone(), &format!("passwd={ALICE}\n"));
    assert_eq!(p.action, Action::Delete);
    assert!(script(&p).contains("userdel -f -r alice"));
    assert_eq!(p.values["remove"], true);
    assert_eq!(p.values["force"], true);
    let p = plan(a, "passwd=\n");
    assert_eq!(p.action, Action::NoOp);
    assert!(!p.values.contains_key("remove"));
}

#[test]
fn ssh_key_generation() {
    let a = json!({"name": "alice", "generate_ssh_key": true, "ssh_key_type": "ed25519",
                   "ssh_key_passphrase": "s3cret pass"});
    let text = probe_text("key=/home/alice/.ssh/id_ed25519\n");
    let p = plan(a.clone(), &text);
    assert_eq!(p.action, Action::Update);
    let s = script(&p);
    assert!(s.contains("mkdir -m 700 -- \"$d\""), "{s}");
    assert!(
        s.contains("test -d /home/alice || { printf '%s' 'User alice home directory does not exist' >&2; false; }"),
        "{s}"
    );
    assert!(
        s.contains("SSH_ASKPASS=\"$ap\" env SSH_ASKPASS_REQUIRE=force 'DISPLAY=:0' ssh-keygen -q -t ed25519 -C 'ansible-generated on host1' -f /home/alice/.ssh/id_ed25519 </dev/null"),
        "{s}"
    );
    assert!(!s.contains("s3cret"), "passphrase never in the script");
    assert_eq!(p.apply[0].stdin, b"s3cret pass\n");
    assert_eq!(p.values["ssh_key_file"], "/home/alice/.ssh/id_ed25519");
    // an existing key is kept, and reported
    let text = probe_text(
        "key=/home/alice/.ssh/id_ed25519\nkey_dir=1\nkey_exists=1\nfp=256 SHA256:abc c (ED25519)\npub_exists=1\npub=ssh-ed25519 AAAA c \n",
    );
    let p = plan(a.clone(), &text);
    assert_eq!(p.action, Action::NoOp);
    assert_eq!(
        p.values["warnings"],
        json!([
            "Found existing ssh key private file \"/home/alice/.ssh/id_ed25519\", no force, so skipping ssh-keygen generation"
        ])
    );
    assert_eq!(p.values["ssh_fingerprint"], "256 SHA256:abc c (ED25519)");
    assert_eq!(p.values["ssh_public_key"], "ssh-ed25519 AAAA c");
    // force regenerates
    let mut forced = a.clone();
    forced["force"] = json!(true);
    let p = plan(forced, &text);
    assert_eq!(p.action, Action::Update);
    // without a passphrase: -N ''
    let p = plan(
        json!({"name": "alice", "generate_ssh_key": true, "ssh_key_bits": 2048}),
        &probe_text("key=/home/alice/.ssh/id_rsa\nkey_dir=1\n"),
    );
    assert!(
        script(&p).contains("ssh-keygen -q -t rsa -b 2048 -C 'ansible-generated on host1' -f /home/alice/.ssh/id_rsa -N ''")
    );
    assert!(p.apply[0].stdin.is_empty());
}

#[test]
fn reads_the_account_after_applying() {
    let a = args(json!({"name": "bob", "generate_ssh_key": true}));
    let mut p = plan(
        json!({"name": "bob", "generate_ssh_key": true}),
        "passwd=\nkey=/home/bob/.ssh/id_rsa\n",
    );
    let out = ExecOutput {
        status: 0,
        stdout: b"passwd=bob:x:1001:1001::/home/bob:/bin/sh\nhome=/home/bob\nkey=/home/bob/.ssh/id_rsa\nfp=3072 SHA256:x c (RSA)\npub=ssh-rsa AAA c \n".to_vec(),
        stderr: vec![],
    };
    User.applied(&a, &out, &mut p).unwrap();
    assert_eq!(p.values["uid"], 1001);
    assert_eq!(p.values["shell"], "/bin/sh");
    assert_eq!(p.values["comment"], "");
    assert_eq!(p.values["ssh_public_key"], "ssh-rsa AAA c");
    assert_eq!(p.values["ssh_fingerprint"], "3072 SHA256:x c (RSA)");
}

#[test]
fn argument_names_and_unsupported() {
    let a = args(json!({"user": "x", "createhome": "no", "groups": "a, b", "expires": "12.5"}));
    assert_eq!(a.name, "x");
    assert!(!a.create_home);
    assert_eq!(a.groups, Some(vec!["a".into(), "b".into()]));
    assert_eq!(a.expires, Some(12.5));
    assert!(User.check(&json!({"name": "x", "local": true})).is_ok());
    let e = User
        .check(&json!({"name": "x", "local": true, "uid_max": 9}))
        .unwrap_err();
    assert_eq!(e.message, "'uid_max' can not be used with 'local'");
    let e = User
        .check(&json!({"name": "x", "login_class": "a"}))
        .unwrap_err();
    assert!(e.message.contains("login_class"));
    assert!(
        User.check(&json!({"name": "x", "update_password": "never"}))
            .is_err()
    );
    assert!(
        User.check(&json!({"name": "{{ n }}", "uid": "{{ u }}", "expires": "{{ e }}"}))
            .is_ok()
    );
}

#[test]
fn warns_as_ansible() {
    assert!(looks_crypted(HASH));
    assert!(looks_crypted("!"));
    assert!(!looks_crypted("secret"));
    assert!(!looks_crypted("$6$salt$short"));
    let p = plan(
        json!({"name": "alice", "password": "secret", "update_password": "on_create"}),
        &probe_text(""),
    );
    assert!(
        p.values["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("The input password appears not to have been hashed.")
    );
    let p = plan(json!({"name": "alice", "append": true}), &probe_text(""));
    assert!(
        p.values["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("'append' is set, but no 'groups'")
    );
    let p = plan(json!({"name": "alice"}), &probe_text(""));
    assert!(!p.values.contains_key("warnings"));
}

#[test]
fn password_ageing_with_chage() {
    // shadow: min 0, max 99999, warn 7
    let p = plan(
        json!({"name": "alice", "password_expire_min": 0, "password_expire_max": 90, "password_expire_warn": 7}),
        &probe_text(""),
    );
    assert!(script(&p).contains("chage -M 90 alice"), "{}", script(&p));
    assert_eq!(
        p.diff[0].after,
        "{\n    \"password_expire_max\": \"90\"\n}\n"
    );
    let p = plan(
        json!({"name": "alice", "password_expire_max": 99999}),
        &probe_text(""),
    );
    assert_eq!(p.action, Action::NoOp);
    // on creation every given value is set
    let p = plan(
        json!({"name": "bob", "password_expire_min": 1, "uid_min": 5000, "umask": "077", "skeleton": "/etc/skel.web"}),
        "passwd=\nhostname=h\n",
    );
    let s = script(&p);
    assert!(
        s.contains("useradd -m -k /etc/skel.web -K UMASK=077 -K UID_MIN=5000 bob"),
        "{s}"
    );
    assert!(s.contains("chage -m 1 bob"));
}

#[test]
fn account_disable_days_are_the_shadow_inactive_field() {
    // shadow: inactive empty
    let p = plan(
        json!({"name": "alice", "password_expire_account_disable": 15}),
        &probe_text(""),
    );
    assert!(script(&p).contains("chage -I 15 alice"), "{}", script(&p));
    let set = probe_text("").replace(":99999:7:::", ":99999:7:15::");
    let p = plan(
        json!({"name": "alice", "password_expire_account_disable": 15}),
        &set,
    );
    assert_eq!(p.action, Action::NoOp);
    let p = plan(
        json!({"name": "bob", "password_expire_account_disable": 10}),
        "passwd=\nhostname=h\n",
    );
    assert!(script(&p).contains("chage -I 10 bob"));
}

/// The probe lines of `local: true` on a host with every libuser tool.
const LOCAL: &str = "passwd_file=1\nbin_paths=/usr/bin:/usr/sbin\n";

#[test]
fn local_creates_with_luseradd_then_lchage_and_lgroupmod() {
    let p = plan(
        json!({"name": "lu", "local": true, "groups": ["g1", "g2", "g1"], "expires": 2529881062u64}),
        &format!(
            "{LOCAL}passwd=\nown_group=1\ng0=g1:x:3001:\ng1=g2:x:3002:\ng2=g1:x:3001:\nhostname=h\n"
        ),
    );
    assert_eq!(p.action, Action::Create);
    let s = script(&p);
    // `-n` (not `-N`), no `-G`, `-e` or `-m`: those go through the other tools.
    assert!(s.contains("luseradd -n lu >/dev/null"), "{s}");
    assert!(!s.contains("\nuseradd ") && !s.contains(" -G "), "{s}");
    let chage = s.find("lchage -E 29281 lu").expect(s);
    let g1 = s.find("lgroupmod -M lu g1").expect(s);
    let g2 = s.find("lgroupmod -M lu g2").expect(s);
    assert!(chage < g1 && g1 < g2, "{s}");
    assert_eq!(s.matches("lgroupmod").count(), 2, "{s}");
    // a home luseradd did not make is made afterwards, read from /etc/passwd
    assert!(
        s.contains("' /etc/passwd)\nif [ -n \"$h\" ] && [ ! -e \"$h\" ]"),
        "{s}"
    );
}

#[test]
fn local_reads_existence_from_etc_passwd_only() {
    // getent finds the account (a directory user), /etc/passwd does not: created locally
    let a = args(json!({"name": "alice", "local": true}));
    let st = state(&a, &format!("{LOCAL}{}", probe_text("")));
    assert!(st.passwd.is_none());
    let p = User.plan(&a, &st, &Context::default()).unwrap();
    assert_eq!(p.action, Action::Create);
    let st = state(&a, &format!("{LOCAL}in_passwd=1\n{}", probe_text("")));
    assert!(st.passwd.is_some());
    assert_eq!(
        User.plan(&a, &st, &Context::default()).unwrap().action,
        Action::NoOp
    );
    // without /etc/passwd: Ansible's failure
    let st = state(&a, &probe_text(""));
    let e = User.plan(&a, &st, &Context::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "'local: true' specified but unable to find local account file /etc/passwd to parse."
    );
}

#[test]
fn local_modifies_memberships_and_expiry_with_lgroupmod_and_lchage() {
    let text = format!(
        "{LOCAL}in_passwd=1\n{}",
        probe_text("g0=web:x:3000:alice\ng1=docker:x:5000:\n")
    )
    .replace("19000:0:99999:7:::", "19000:0:99999:7::29281:");
    // replace: adm removed, docker added; the expiry removed
    let p = plan(
        json!({"name": "alice", "local": true, "groups": ["web", "docker"], "expires": -1, "shell": "/bin/sh"}),
        &text,
    );
    let s = script(&p);
    assert!(s.contains("lusermod -s /bin/sh alice"), "{s}");
    let e = s.find("lchage -E -1 alice").expect(s);
    let add = s.find("lgroupmod -M alice docker").expect(s);
    let del = s.find("lgroupmod -m alice adm").expect(s);
    assert!(
        s.find("lusermod").unwrap() < e && e < add && add < del,
        "{s}"
    );
    assert!(!s.contains(" -G "), "{s}");
    // append: only adds; again: nothing
    let p = plan(
        json!({"name": "alice", "local": true, "groups": ["web", "docker"], "append": true}),
        &text,
    );
    let s = script(&p);
    assert!(
        s.contains("lgroupmod -M alice docker") && !s.contains("lgroupmod -m"),
        "{s}"
    );
    assert!(!s.contains("lusermod"), "{s}");
    let p = plan(
        json!({"name": "alice", "local": true, "groups": ["web"], "append": true, "expires": 2529881062u64}),
        &text,
    );
    assert_eq!(p.action, Action::NoOp, "{:?}", p.diff);
}

#[test]
fn local_removes_with_luserdel_without_force() {
    let p = plan(
        json!({"name": "alice", "state": "absent", "local": true, "remove": true, "force": true}),
        &format!("{LOCAL}in_passwd=1\npasswd={ALICE}\n"),
    );
    assert!(
        script(&p).contains("luserdel -r alice >/dev/null"),
        "{}",
        script(&p)
    );
}

#[test]
fn local_fails_as_ansible_without_the_tools_or_with_shadow_only_options() {
    let missing = "passwd_file=1\nbin_paths=/usr/bin:/sbin\nmissing=luseradd\nmissing=lchage\n";
    let a = args(json!({"name": "bob", "local": true}));
    let st = state(&a, &format!("{missing}passwd=\n"));
    let e = User.plan(&a, &st, &Context::default()).unwrap_err();
    // lchage is looked up before luseradd
    assert_eq!(
        e.to_string(),
        "Failed to find required executable \"lchage\" in paths: /usr/bin:/sbin"
    );
    // check mode predicts the creation without looking the tools up
    let check = Context {
        check_mode: true,
        ..Context::default()
    };
    assert_eq!(User.plan(&a, &st, &check).unwrap().action, Action::Create);
    // an existing account is checked with them, even with nothing to change
    let a = args(json!({"name": "alice", "local": true}));
    let st = state(&a, &format!("{missing}in_passwd=1\n{}", probe_text("")));
    assert!(User.plan(&a, &st, &check).is_err());
    for (arg, msg) in [
        ("umask", "'umask' can not be used with 'local'"),
        ("uid_min", "'uid_min' can not be used with 'local'"),
        ("uid_max", "'uid_max' can not be used with 'local'"),
    ] {
        let a = args(
            json!({"name": "x", "local": true, arg: if arg == "umask" { json!("077") } else { json!(1000) }}),
        );
        assert_eq!(User::validate(&a).unwrap_err().to_string(), msg);
    }
    let a = args(json!({"name": "x", "local": false, "umask": "077"}));
    assert!(User::validate(&a).is_ok());
}

#[test]
fn local_probe_looks_in_etc_passwd_and_for_the_tools() {
    let a = args(json!({"name": "bob", "local": true}));
    let s = User.probe(&a, &Context::default()).script;
    assert!(
        s.contains("awk -F: -v n=\"$n\" '$1==n{print \"in_passwd=1\"; exit}' /etc/passwd"),
        "{s}"
    );
    assert!(
        s.contains("for t in luseradd lusermod luserdel lchage lgroupmod"),
        "{s}"
    );
    let a = args(json!({"name": "bob"}));
    assert!(
        !User
            .probe(&a, &Context::default())
            .script
            .contains("luseradd")
    );
}

/// Runs each script with `/bin/sh -c` here, with `HOME` and `TEND_T` set.
struct Sh;

#[async_trait::async_trait]
impl Host for Sh {
    async fn exec(&self, request: Exec) -> Result<ExecOutput, crate::host::HostError> {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&request.script)
            .env("HOME", "/home/t")
            .env("TEND_T", "a b")
            .env_remove("TEND_UNSET")
            .output()
            .map_err(|e| crate::host::HostError::Io(e.to_string()))?;
        Ok(ExecOutput {
            status: out.status.code().unwrap_or(1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

#[test]
fn path_arguments_are_expanded_on_the_target_as_ansible_paths() {
    let mut a = args(
        json!({"name": "t", "shell": "~/custom_shell", "home": "$TEND_T/${TEND_T}x",
                            "ssh_key_file": "$TEND_UNSET/k"}),
    );
    crate::host::Replay::block_on(expand_paths(&mut a, &Sh)).unwrap();
    assert_eq!(a.shell.as_deref(), Some("/home/t/custom_shell"));
    assert_eq!(a.home.as_deref(), Some("a b/a bx"));
    // an unset variable stays as written, as Python's expandvars leaves it
    assert_eq!(a.ssh_key_file.as_deref(), Some("$TEND_UNSET/k"));
    // nothing to expand: no round trip (a host that fails would fail it)
    let mut a = args(json!({"name": "t", "shell": "/bin/sh"}));
    let none = crate::host::Replay::new(&[]);
    crate::host::Replay::block_on(expand_paths(&mut a, &none)).unwrap();
    assert_eq!(a.shell.as_deref(), Some("/bin/sh"));
}
