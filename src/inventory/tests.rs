//! End-to-end tests of the inventory stage: the example inventory's
//! `--list`/`--graph`/`--host` output, variable precedence, patterns, every
//! kind of source, and garbage input.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/example/hosts.ini")
}

fn example() -> Inventory {
    Inventory::load(&[example_path()]).expect("example inventory loads")
}

fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn obj(v: Value) -> Vars {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

const ALL_EXAMPLE_HOSTS: [&str; 7] = [
    "bastion.example.com",
    "web01.example.com",
    "web02.example.com",
    "web03.example.com",
    "lb.example.com",
    "db1.example.com",
    "db2.example.com",
];

#[test]
fn example_list_json_is_exactly_ansible_inventorys() {
    let got = example().to_list_json();
    let web = json!({
        "admin_users": ["alice", "bob"],
        "document_root": "/var/www/html",
        "env": "production",
        "http_port": 80,
        "max_clients": 200,
        "nginx_worker_processes": 4,
        "ntp_server": "time.example.com"
    });
    let expected = json!({
        "_meta": {
            "hostvars": {
                "bastion.example.com": {
                    "admin_users": ["alice", "bob"],
                    "ansible_user": "admin",
                    "ntp_server": "time.example.com"
                },
                "db1.example.com": {
                    "admin_users": ["alice", "bob"],
                    "ansible_host": "10.0.0.21",
                    "env": "production",
                    "ntp_server": "time.example.com",
                    "postgres_max_connections": 500
                },
                "db2.example.com": {
                    "admin_users": ["alice", "bob"],
                    "ansible_host": "10.0.0.22",
                    "env": "production",
                    "ntp_server": "time.example.com"
                },
                "lb.example.com": {
                    "admin_users": ["alice", "bob"],
                    "ansible_port": 2222,
                    "document_root": "/var/www/html",
                    "env": "production",
                    "http_port": 8443,
                    "max_clients": 200,
                    "nginx_worker_processes": 4,
                    "ntp_server": "time.example.com"
                },
                "web01.example.com": web,
                "web02.example.com": web,
                "web03.example.com": web
            }
        },
        "all": {"children": ["ungrouped", "prod"]},
        "db": {"hosts": ["db1.example.com", "db2.example.com"]},
        "prod": {"children": ["web", "db"]},
        "ungrouped": {"hosts": ["bastion.example.com"]},
        "web": {"hosts": ["web01.example.com", "web02.example.com", "web03.example.com", "lb.example.com"]}
    });
    assert_eq!(got, expected);
    // Keys come out sorted, as `json.dumps(sort_keys=True)` prints them.
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["_meta", "all", "db", "prod", "ungrouped", "web"]);
}

#[test]
fn example_graph_is_exactly_ansible_inventorys() {
    let inv = example();
    assert_eq!(
        inv.graph(None, false).unwrap(),
        "\
@all:
  |--@ungrouped:
  |  |--bastion.example.com
  |--@prod:
  |  |--@web:
  |  |  |--web01.example.com
  |  |  |--web02.example.com
  |  |  |--web03.example.com
  |  |  |--lb.example.com
  |  |--@db:
  |  |  |--db1.example.com
  |  |  |--db2.example.com"
    );
    assert_eq!(
        inv.graph(Some("db"), true).unwrap(),
        "\
@db:
  |--db1.example.com
  |  |--{admin_users = ['alice', 'bob']}
  |  |--{ansible_host = 10.0.0.21}
  |  |--{env = production}
  |  |--{ntp_server = time.example.com}
  |  |--{postgres_max_connections = 500}
  |--db2.example.com
  |  |--{admin_users = ['alice', 'bob']}
  |  |--{ansible_host = 10.0.0.22}
  |  |--{env = production}
  |  |--{ntp_server = time.example.com}"
    );
    let prod = inv.graph(Some("prod"), true).unwrap();
    assert_eq!(prod.lines().last().unwrap(), "  |--{env = production}");
    assert!(prod.contains("\n  |  |--{document_root = /var/www/html}\n  |  |--{http_port = 80}\n  |  |--{max_clients = 200}\n  |  |--{nginx_worker_processes = 4}\n  |--@db:\n"));
    assert_eq!(
        inv.graph(Some("nope"), false).unwrap_err().to_string(),
        "'nope' is not a group in the inventory (--graph expects a group name)"
    );
}

#[test]
fn example_host_json_groups_and_names() {
    let inv = example();
    assert_eq!(
        inv.host_json("lb.example.com").unwrap(),
        json!({
            "admin_users": ["alice", "bob"],
            "ansible_port": 2222,
            "document_root": "/var/www/html",
            "env": "production",
            "http_port": 8443,
            "max_clients": 200,
            "nginx_worker_processes": 4,
            "ntp_server": "time.example.com"
        })
    );
    assert_eq!(
        inv.host_json("web*").unwrap_err().to_string(),
        "'web*' matches 4 hosts; expected exactly one host"
    );
    assert_eq!(
        inv.host_json("localhost").unwrap(),
        json!({"admin_users": ["alice", "bob"], "ansible_connection": "local", "ntp_server": "time.example.com"})
    );
    assert_eq!(inv.group_names("web01.example.com"), vec!["prod", "web"]);
    assert_eq!(inv.group_names("bastion.example.com"), vec!["ungrouped"]);
    assert_eq!(inv.group_names("localhost"), Vec::<String>::new());
    let groups = inv.groups();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["all", "ungrouped", "web", "db", "prod"]
    );
    assert_eq!(groups["all"], ALL_EXAMPLE_HOSTS);
    assert_eq!(groups["ungrouped"], ["bastion.example.com"]);
    assert_eq!(groups["prod"], ALL_EXAMPLE_HOSTS[1..]);
    assert_eq!(inv.hosts(), ALL_EXAMPLE_HOSTS);
    assert!(inv.contains_host("db2.example.com"));
    assert!(!inv.contains_host("localhost"));
    assert!(inv.contains_group("prod"));
    let m = inv.magic_vars("web01.example.com");
    assert_eq!(m["inventory_hostname_short"], json!("web01"));
    assert_eq!(m["group_names"], json!(["prod", "web"]));
    assert_eq!(
        m["inventory_file"],
        json!(example_path().display().to_string())
    );
    assert_eq!(
        m["inventory_dir"],
        json!(example_path().parent().unwrap().display().to_string())
    );
    assert_eq!(
        inv.magic_vars("10.1.2.3")["inventory_hostname_short"],
        json!("10.1.2.3")
    );
    assert!(inv.warnings().is_empty());
}

#[test]
fn local_example_inventory() {
    let inv = Inventory::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/local.ini")])
        .unwrap();
    assert_eq!(inv.select("local").unwrap(), ["localhost"]);
    assert!(!inv.is_implicit_localhost("localhost"));
    assert_eq!(
        inv.host_vars("localhost"),
        obj(json!({"ansible_connection": "local"}))
    );
}

#[test]
fn patterns_follow_ansibles_rules() {
    let inv = example();
    let s = |p: &str| inv.select(p).unwrap();
    assert_eq!(s("all"), ALL_EXAMPLE_HOSTS);
    assert_eq!(s("*"), ALL_EXAMPLE_HOSTS);
    assert_eq!(s(""), ALL_EXAMPLE_HOSTS, "no regular pattern means 'all'");
    assert_eq!(s("web"), ALL_EXAMPLE_HOSTS[1..5]);
    assert_eq!(s("ungrouped"), ["bastion.example.com"]);
    assert_eq!(s("db1.example.com"), ["db1.example.com"]);
    // Unions keep the order of the pattern.
    assert_eq!(
        s("db,web"),
        [
            "db1.example.com",
            "db2.example.com",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "lb.example.com"
        ]
    );
    assert_eq!(s("web:db"), ALL_EXAMPLE_HOSTS[1..]);
    // `&` and `!` apply after every union, wherever they are written.
    assert_eq!(s("prod:!web"), ["db1.example.com", "db2.example.com"]);
    assert_eq!(s("!web:prod"), ["db1.example.com", "db2.example.com"]);
    assert_eq!(s("!db"), ALL_EXAMPLE_HOSTS[..5]);
    assert_eq!(s("prod:&db"), ["db1.example.com", "db2.example.com"]);
    assert_eq!(s("&db:web:db"), ["db1.example.com", "db2.example.com"]);
    assert_eq!(s("web:&db"), Vec::<String>::new());
    assert_eq!(s("web,!lb.example.com,&prod"), ALL_EXAMPLE_HOSTS[1..4]);
    // Globs match groups and hosts; regexes match at the start.
    assert_eq!(s("web*"), ALL_EXAMPLE_HOSTS[1..5]);
    assert_eq!(
        s("*.example.com:!lb*"),
        [
            "bastion.example.com",
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "db1.example.com",
            "db2.example.com"
        ]
    );
    assert_eq!(s("web0[13]*"), ["web01.example.com", "web03.example.com"]);
    assert_eq!(s("web0[!13]*"), ["web02.example.com"]);
    assert_eq!(s("~db[12]"), ["db1.example.com", "db2.example.com"]);
    assert_eq!(
        s("~(web|db)$"),
        [
            "web01.example.com",
            "web02.example.com",
            "web03.example.com",
            "lb.example.com",
            "db1.example.com",
            "db2.example.com"
        ]
    );
    // Subscripts.
    assert_eq!(s("web[0]"), ["web01.example.com"]);
    assert_eq!(s("web[-1]"), ["lb.example.com"]);
    assert_eq!(s("web[1:2]"), ["web02.example.com", "web03.example.com"]);
    assert_eq!(s("web[2:]"), ["web03.example.com", "lb.example.com"]);
    assert_eq!(s("web[0]:db[-1]"), ["web01.example.com", "db2.example.com"]);
    assert_eq!(
        s("prod:!web[0:2]"),
        ["lb.example.com", "db1.example.com", "db2.example.com"]
    );
    // Matching nothing is not an error.
    assert_eq!(s("nomatch"), Vec::<String>::new());
    assert_eq!(s("nomatch[3]"), Vec::<String>::new());
    assert_eq!(
        s("Web"),
        Vec::<String>::new(),
        "patterns are case-sensitive"
    );
    // The implicit localhost.
    assert_eq!(s("localhost"), ["localhost"]);
    assert_eq!(s("localhost:web[0]"), ["localhost", "web01.example.com"]);
    assert!(!s("all").contains(&"localhost".to_string()));
    // Malformed patterns are errors.
    assert_eq!(
        inv.select("web[7]").unwrap_err().to_string(),
        "invalid host pattern 'web[7]': no host at index 7: the pattern matches 4 hosts"
    );
    let e = inv.select("~(").unwrap_err().to_string();
    assert!(
        e.starts_with("invalid host pattern '~(': not a valid regular expression"),
        "{e}"
    );
    assert_eq!(
        inv.select("@/nonexistent/limit").unwrap_err().to_string(),
        "invalid host pattern '@/nonexistent/limit': the file '/nonexistent/limit' does not exist"
    );
}

#[test]
fn at_file_patterns_and_limits() {
    let inv = example();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("retry");
    write(&f, "db2.example.com\n\n  web[0]  \n");
    let at = format!("@{}", f.display());
    assert_eq!(
        inv.select(&at).unwrap(),
        ["db2.example.com", "web01.example.com"]
    );
    assert_eq!(
        inv.select_with_limit("all", Some(&at)).unwrap(),
        ["web01.example.com", "db2.example.com"]
    );
    assert_eq!(
        inv.select_with_limit("prod", Some("web:!lb*")).unwrap(),
        ALL_EXAMPLE_HOSTS[1..4]
    );
    assert_eq!(
        inv.select_with_limit("db", None).unwrap(),
        ["db1.example.com", "db2.example.com"]
    );
}

#[test]
fn empty_inventory() {
    let inv = Inventory::load(&[]).unwrap();
    assert_eq!(inv.select("all").unwrap(), Vec::<String>::new());
    assert_eq!(inv.select("*").unwrap(), Vec::<String>::new());
    assert_eq!(inv.select("localhost").unwrap(), ["localhost"]);
    assert_eq!(inv.select("127.0.0.1").unwrap(), ["127.0.0.1"]);
    assert!(inv.is_implicit_localhost("localhost"));
    assert_eq!(
        inv.host_vars("localhost"),
        obj(json!({"ansible_connection": "local"}))
    );
    assert_eq!(inv.host_vars("elsewhere"), Vars::new());
    let list = inv.to_list_json();
    assert_eq!(
        list,
        json!({"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped"]}})
    );
    assert_eq!(
        ansible_json(&list),
        "{\n    \"_meta\": {\n        \"hostvars\": {}\n    },\n    \"all\": {\n        \"children\": [\n            \"ungrouped\"\n        ]\n    }\n}"
    );
    assert_eq!(inv.graph(None, true).unwrap(), "@all:\n  |--@ungrouped:");
}

/// Ansible's documented order: inventory file group vars < inventory
/// group_vars/all < playbook group_vars/all < inventory group_vars/* <
/// playbook group_vars/* < inventory file host vars < inventory host_vars <
/// playbook host_vars; groups by depth, priority, name.
#[test]
fn variable_precedence() {
    let tmp = tempfile::tempdir().unwrap();
    let inv_dir = tmp.path().join("inv");
    let pb = tmp.path().join("pb");
    let hosts_text = "\
[all:vars]
a=from_all_ini
b=from_all_ini

[parent:children]
child

[child]
h1 h=host_ini hv=host_ini

[other]
h1

[parent:vars]
b=parent_ini
p=parent_ini
same=parent_ini

[child:vars]
p=child_ini

[other:vars]
same=other_ini
";
    write(&inv_dir.join("hosts"), hosts_text);
    write(
        &inv_dir.join("group_vars/all.yml"),
        "b: gv_all_inv\ng: gv_all_inv\n",
    );
    write(
        &inv_dir.join("group_vars/parent.yml"),
        "gp: inv_parent\ngc: inv_parent\n",
    );
    write(&inv_dir.join("group_vars/child.yml"), "gc: inv_child\n");
    write(
        &inv_dir.join("group_vars/nobody.yml"),
        "- not even a mapping\n",
    );
    write(&inv_dir.join("host_vars/h1.yml"), "hv: inv_hv\nhh: inv\n");
    write(&pb.join("group_vars/all.yml"), "g: gv_all_pb\n");
    write(
        &pb.join("group_vars/parent/10-a.yml"),
        "gp: pb_parent_a\nd: a\n",
    );
    write(&pb.join("group_vars/parent/20-b.yaml"), "d: b\n");
    write(&pb.join("group_vars/parent/30-c.txt"), "d: txt\n");
    write(&pb.join("group_vars/parent/.40-hidden.yml"), "d: hidden\n");
    write(&pb.join("group_vars/parent/50-backup.yml~"), "d: backup\n");
    write(
        &pb.join("group_vars/parent.yml"),
        "d: shadowed_by_the_directory\n",
    );
    write(&pb.join("host_vars/h1.json"), "{\"hh\": \"pb\"}\n");
    let mut inv = Inventory::load(&[inv_dir.join("hosts")]).unwrap();
    inv.load_vars_dirs(&pb).unwrap();
    let expected = json!({
        "a": "from_all_ini",
        "b": "gv_all_inv",
        "same": "parent_ini",
        "p": "child_ini",
        "g": "gv_all_pb",
        "gp": "pb_parent_a",
        "gc": "inv_child",
        "d": "b",
        "h": "host_ini",
        "hv": "inv_hv",
        "hh": "pb"
    });
    assert_eq!(Value::Object(inv.host_vars("h1")), expected);

    // ansible_group_priority moves `other` after `parent` at the same depth,
    // and is not a variable itself.
    write(
        &inv_dir.join("hosts"),
        &format!("{hosts_text}ansible_group_priority=10\n"),
    );
    let inv2 = Inventory::load(&[inv_dir.join("hosts")]).unwrap();
    let v = inv2.host_vars("h1");
    assert_eq!(v["same"], json!("other_ini"));
    assert!(!v.contains_key("ansible_group_priority"));
    assert!(
        inv2.graph(Some("other"), true)
            .unwrap()
            .ends_with("  |--{ansible_group_priority = 10}\n  |--{same = other_ini}")
    );
    // Without the playbook dir, the inventory-side files win.
    assert_eq!(v["gp"], json!("inv_parent"));
    assert_eq!(v["hh"], json!("inv"));
}

#[test]
fn vars_file_errors_name_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("hosts"), "[web]\nw1\n");
    write(
        &tmp.path().join("group_vars/web.yml"),
        "a: 1\nb: [unclosed\n",
    );
    let e = Inventory::load(&[tmp.path().join("hosts")])
        .unwrap_err()
        .to_string();
    let f = tmp.path().join("group_vars/web.yml").display().to_string();
    assert!(e.starts_with(&format!("{f}:2:")), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
    write(&tmp.path().join("group_vars/web.yml"), "- a\n- b\n");
    let e = Inventory::load(&[tmp.path().join("hosts")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{f}:1: expected a mapping of variables at the top level, found a list")
    );
    write(&tmp.path().join("group_vars/web.yml"), "");
    let inv = Inventory::load(&[tmp.path().join("hosts")]).unwrap();
    assert_eq!(inv.host_vars("w1"), Vars::new());
}

#[test]
fn yaml_source_and_multiple_sources_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let ini = tmp.path().join("a.ini");
    let yml = tmp.path().join("b.yml");
    write(&ini, "[web]\nw1 x=1\n[web:vars]\nrole=web\n");
    write(
        &yml,
        "all:\n  children:\n    prod:\n      children:\n        web:\n          hosts:\n            w[2:3]:\n              x: 2\n      vars:\n        env: prod\n",
    );
    let inv = Inventory::load(&[
        ini.clone(),
        yml.clone(),
        PathBuf::from("extra1,extra2:2200,"),
    ])
    .unwrap();
    assert_eq!(
        inv.select("all").unwrap(),
        ["extra1", "extra2", "w1", "w2", "w3"]
    );
    assert_eq!(inv.select("prod").unwrap(), ["w1", "w2", "w3"]);
    assert_eq!(
        inv.host_vars("w3"),
        obj(json!({"role": "web", "env": "prod", "x": 2}))
    );
    assert_eq!(inv.host_vars("extra2"), obj(json!({"ansible_port": 2200})));
    let list = inv.to_list_json();
    assert_eq!(list["all"], json!({"children": ["ungrouped", "prod"]}));
    assert_eq!(list["ungrouped"], json!({"hosts": ["extra1", "extra2"]}));
    assert_eq!(inv.magic_vars("extra1")["inventory_file"], Value::Null);
    assert_eq!(
        inv.magic_vars("w2")["inventory_file"],
        json!(yml.display().to_string())
    );
}

#[test]
fn directory_source_skips_what_ansible_skips() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("inventory");
    write(&d.join("01-web.ini"), "[web]\nw1\n");
    write(
        &d.join("02-more.yml"),
        "all:\n  children:\n    web:\n      hosts:\n        w2:\n",
    );
    write(&d.join("sub/03-db"), "[db]\nd1\n");
    for junk in [
        "README.md",
        "notes.txt",
        "old.retry",
        ".hidden",
        "hosts~",
        "x.orig",
        "ansible.cfg",
        "y.bak",
    ] {
        write(
            &d.join(junk),
            "[[[ this is not an inventory ]]] : : :\n- {\n",
        );
    }
    write(&d.join("group_vars/web.yml"), "tier: front\n");
    write(&d.join("host_vars/d1.yml"), "db: true\n");
    let inv = Inventory::load(std::slice::from_ref(&d)).unwrap();
    assert_eq!(inv.select("all").unwrap(), ["w1", "w2", "d1"]);
    assert_eq!(inv.host_vars("w2"), obj(json!({"tier": "front"})));
    assert_eq!(inv.host_vars("d1"), obj(json!({"db": true})));
}

#[test]
fn executable_without_shebang_is_still_a_static_file() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("hosts");
    write_exec(&f, "[g]\nh1\n");
    let inv = Inventory::load(&[f]).unwrap();
    assert_eq!(inv.select("g").unwrap(), ["h1"]);
}

#[test]
fn dynamic_inventory_script_with_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("dyn.sh");
    write_exec(
        &s,
        r#"#!/bin/sh
if [ "$1" = "--list" ]; then
cat <<'JSON'
{
  "web": {"hosts": ["w1", "w2"], "vars": {"http_port": 80}, "children": ["canary"]},
  "canary": ["w3"],
  "legacy": {"x": 1},
  "all": {"vars": {"dc": "east"}},
  "_meta": {"hostvars": {"w1": {"ansible_host": "10.1.1.1"}, "w3": {"http_port": 81}}}
}
JSON
else
  echo "called with $*" >&2
  exit 9
fi
"#,
    );
    let inv = Inventory::load(&[s]).unwrap();
    assert_eq!(inv.select("web").unwrap(), ["w1", "w2", "w3"]);
    assert_eq!(inv.select("all").unwrap(), ["w1", "w2", "legacy", "w3"]);
    assert_eq!(
        inv.host_vars("w1"),
        obj(json!({"dc": "east", "http_port": 80, "ansible_host": "10.1.1.1"}))
    );
    assert_eq!(
        inv.host_vars("w3"),
        obj(json!({"dc": "east", "http_port": 81}))
    );
    assert_eq!(inv.host_vars("legacy"), obj(json!({"dc": "east", "x": 1})));
    assert_eq!(
        inv.to_list_json()["web"],
        json!({"hosts": ["w1", "w2"], "children": ["canary"]})
    );
}

#[test]
fn dynamic_inventory_script_without_meta_asks_per_host() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("dyn");
    write_exec(
        &s,
        r#"#!/bin/sh
case "$1" in
  --list) echo '{"app": {"hosts": ["a1", "a2"]}}' ;;
  --host) if [ "$2" = "a1" ]; then echo '{"who": "a1"}'; fi ;;
esac
"#,
    );
    let inv = Inventory::load(&[s]).unwrap();
    assert_eq!(inv.host_vars("a1"), obj(json!({"who": "a1"})));
    assert_eq!(inv.host_vars("a2"), Vars::new());
}

#[test]
fn dynamic_inventory_script_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("bad");
    write_exec(&s, "#!/bin/sh\necho boom >&2\nexit 3\n");
    let e = Inventory::load(std::slice::from_ref(&s))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{p}: '{p} --list' failed (exit status: 3): boom",
            p = s.display()
        )
    );
    write_exec(&s, "#!/bin/sh\necho '{\"g\": ['\n");
    let e = Inventory::load(std::slice::from_ref(&s))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}: the output of '--list' is not valid JSON (line 2, column 0)",
            s.display()
        )),
        "{e}"
    );
    write_exec(&s, "#!/bin/sh\necho '[1]'\n");
    let e = Inventory::load(std::slice::from_ref(&s))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: '--list' must print a JSON object of groups, found a list",
            s.display()
        )
    );
    write_exec(&s, "#!/bin/sh\necho '{\"g\": {\"hosts\": \"h1\"}}'\n");
    let e = Inventory::load(std::slice::from_ref(&s))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: group 'g': 'hosts' must be a list of host names, found a string",
            s.display()
        )
    );
}

#[test]
fn host_list_and_missing_sources() {
    let inv = Inventory::load(&[PathBuf::from("a.example.com, b:2201 ,10.0.0.5,")]).unwrap();
    assert_eq!(
        inv.select("all").unwrap(),
        ["a.example.com", "b", "10.0.0.5"]
    );
    assert_eq!(
        inv.select("ungrouped").unwrap(),
        ["a.example.com", "b", "10.0.0.5"]
    );
    assert_eq!(inv.host_vars("b"), obj(json!({"ansible_port": 2201})));
    let single = Inventory::load(&[PathBuf::from("solo,")]).unwrap();
    assert_eq!(single.select("all").unwrap(), ["solo"]);
    assert_eq!(
        Inventory::load(&[PathBuf::from("/no/such/inventory")])
            .unwrap_err()
            .to_string(),
        "/no/such/inventory: inventory source not found (expected a file, a directory, or a comma-separated host list such as 'host1,host2,')"
    );
}

#[test]
fn port_shorthand_applies_when_the_host_is_first_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("hosts");
    write(&f, "[a]\nh:2222\n[b]\nh:3333\nk:2200 ansible_port=22\n");
    let inv = Inventory::load(&[f]).unwrap();
    assert_eq!(inv.host_vars("h")["ansible_port"], json!(2222));
    assert_eq!(inv.host_vars("k")["ansible_port"], json!(22));
}

#[test]
fn runtime_add_host_and_group_by() {
    let mut inv = example();
    let mut vars = Vars::new();
    vars.insert("k".into(), json!("v"));
    assert!(inv.add_host("new1", &["fresh".to_string()], &vars).unwrap());
    assert_eq!(inv.select("fresh").unwrap(), ["new1"]);
    assert_eq!(inv.host_vars("new1")["k"], json!("v"));
    assert_eq!(
        inv.host_vars("new1")["ntp_server"],
        json!("time.example.com")
    );
    assert!(
        inv.to_list_json()["all"]["children"]
            .as_array()
            .unwrap()
            .contains(&json!("fresh"))
    );
    // The same again changes nothing; another value does.
    assert!(!inv.add_host("new1", &["fresh".to_string()], &vars).unwrap());
    vars.insert("k".into(), json!("w"));
    assert!(inv.add_host("new1", &[], &vars).unwrap());
    assert_eq!(inv.host_vars("new1")["k"], json!("w"));
    assert!(inv.add_to_group("db1.example.com", "web", &[]).unwrap());
    assert_eq!(
        inv.host_vars("db1.example.com")["nginx_worker_processes"],
        json!(4)
    );
    assert!(!inv.add_to_group("db1.example.com", "web", &[]).unwrap());
    assert!(inv.add_to_group("ghost", "web", &[]).is_err());
}

#[test]
fn add_host_without_groups_is_first_in_all_and_ungrouped() {
    // As Ansible: the new host is a direct member of `all`, so `all` lists
    // it before the hosts of its child groups; it is also `ungrouped`.
    let mut inv = example();
    let before = inv.select("all").unwrap();
    assert!(inv.add_host("late", &[], &Vars::new()).unwrap());
    let after = inv.select("all").unwrap();
    assert_eq!(after[0], "late");
    assert_eq!(&after[1..], &before[..]);
    assert!(
        inv.select("ungrouped")
            .unwrap()
            .contains(&"late".to_string())
    );
    assert_eq!(inv.group_names("late"), ["ungrouped"]);
}

#[test]
fn group_by_creates_group_under_its_parents() {
    let mut inv = example();
    let parents = vec!["by_os".to_string()];
    assert!(
        inv.add_to_group("db1.example.com", "debian", &parents)
            .unwrap()
    );
    assert_eq!(inv.select("by_os").unwrap(), ["db1.example.com"]);
    assert_eq!(inv.select("debian").unwrap(), ["db1.example.com"]);
    let groups = inv.groups();
    assert_eq!(groups["debian"], ["db1.example.com"]);
    // `by_os` is top-level (under `all`); `debian` is only under `by_os`.
    let list = inv.to_list_json();
    let all_children = list["all"]["children"].as_array().unwrap();
    assert!(all_children.contains(&json!("by_os")));
    assert!(!all_children.contains(&json!("debian")));
    // A loop through parents is refused.
    assert!(
        inv.add_to_group("db1.example.com", "by_os", &["debian".to_string()])
            .is_err()
    );
}

#[test]
fn conflicting_names_warn() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("hosts");
    write(&f, "[web]\nweb\n");
    let inv = Inventory::load(&[f]).unwrap();
    assert_eq!(
        inv.warnings(),
        ["Found both group and host with same name: web"]
    );
    assert_eq!(inv.select("web").unwrap(), ["web"]);
}

/// A tiny deterministic generator for garbage input.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn text(&mut self, len: usize) -> String {
        const ALPHABET: &[&str] = &[
            "[", "]", ":", "=", "#", ";", "'", "\"", "\\", " ", "\n", "\t", "a", "b", "web", "0",
            "1", "-", "_", ".", "*", "!", "&", "~", "{", "}", "@", ",", "|", "é", "vars",
            "children", "hosts", "all", "---", "- ", ": ", "&a", "*a", "<<", "%", "?", "\u{0}",
            "\r",
        ];
        (0..len)
            .map(|_| ALPHABET[(self.next() as usize) % ALPHABET.len()])
            .collect()
    }
}

#[test]
fn garbage_input_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Lcg(42);
    let mut errors = 0;
    for i in 0..400 {
        let ext = ["ini", "yml", "", "json"][i % 4];
        let name = if ext.is_empty() {
            format!("g{i}")
        } else {
            format!("g{i}.{ext}")
        };
        let path = tmp.path().join(name);
        let len = (rng.next() % 120) as usize;
        let text = rng.text(len);
        std::fs::write(&path, &text).unwrap();
        match Inventory::load(std::slice::from_ref(&path)) {
            Ok(inv) => {
                let _ = inv.to_list_json();
                let _ = inv.graph(None, true);
                for h in inv.hosts() {
                    let _ = inv.host_vars(&h);
                }
            }
            Err(e) => {
                errors += 1;
                assert!(
                    e.to_string().starts_with(&path.display().to_string()),
                    "{e}"
                );
            }
        }
    }
    assert!(
        errors > 100,
        "garbage should mostly be rejected, got {errors} errors"
    );
    let inv = example();
    for _ in 0..400 {
        let len = (rng.next() % 20) as usize;
        let p = rng.text(len);
        if !p.contains('@') {
            let _ = inv.select(&p);
        }
    }
    // Binary junk.
    let bin = tmp.path().join("binary");
    std::fs::write(&bin, [0xffu8, 0xfe, 0x00, 0x5b, 0x0a, 0x80]).unwrap();
    let e = Inventory::load(std::slice::from_ref(&bin))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&bin.display().to_string()), "{e}");
}

#[test]
fn format_detection_for_files_without_extension() {
    let d = |name: &str, text: &str| detect(Path::new(name), text.as_bytes());
    assert_eq!(d("hosts", "all:\n  hosts:\n"), Format::Yaml);
    assert_eq!(d("hosts", "# c\n\n---\nall:\n"), Format::Yaml);
    assert_eq!(d("hosts", "\"all\": {}\n"), Format::Yaml);
    assert_eq!(d("hosts", "{\"all\": {}}"), Format::Yaml);
    assert_eq!(d("hosts", "web1 note=\"a: b\"\n"), Format::Ini);
    assert_eq!(d("hosts", "host:22\n"), Format::Ini);
    assert_eq!(d("hosts", "; c\n[web]\nw1\n"), Format::Ini);
    assert_eq!(d("hosts", ""), Format::Ini);
    assert_eq!(d("hosts.yml", "[web]\n"), Format::Yaml);
    assert_eq!(d("hosts.ini", "all:\n"), Format::Ini);
}

#[test]
fn var_names_cover_every_host_group_and_vars_file() {
    let tmp = tempfile::tempdir().unwrap();
    let files = [
        (
            "inv/hosts.ini",
            "[web]\nw1 from_host=1\n[web:vars]\nfrom_group=1\n",
        ),
        ("inv/group_vars/web.yml", "from_group_file: 1\n"),
        // A group that only `group_by` makes at run time has its file too.
        ("inv/group_vars/os_Debian/main.yml", "from_later_group: 1\n"),
        ("pb/host_vars/w2.yml", "from_later_host: 1\n"),
        ("pb/host_vars/broken.yml", "[not, a, mapping]\n"),
    ];
    for (path, text) in files {
        write(&tmp.path().join(path), text);
    }
    let mut inv = Inventory::load(&[tmp.path().join("inv/hosts.ini")]).unwrap();
    inv.load_vars_dirs(&tmp.path().join("pb")).unwrap();
    let mut names: Vec<String> = inv.var_names().into_iter().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "from_group",
            "from_group_file",
            "from_host",
            "from_later_group",
            "from_later_host"
        ]
    );
}
