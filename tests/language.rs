//! The playbook language on the local connection: delegation, loop
//! control, lookup loops, play keywords. Each test pins behaviour checked
//! against ansible-core 2.19 (see the matching `compat/cases/`).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const INVENTORY: &str = "[g]\na\nb\nc\n[g:vars]\nansible_connection=local\n";

/// Runs `tend playbook` on `play` in a fresh directory (with `files` written
/// into it first); returns the output and the directory.
fn run(play: &str, files: &[(&str, &str)], args: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("inv.ini"), INVENTORY).expect("inventory");
    std::fs::write(dir.path().join("play.yml"), play).expect("play");
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("file");
    }
    let work = format!("work={}", dir.path().display());
    // One fork unless the test asks for more.
    let forks: &[&str] = if args.contains(&"-f") {
        &[]
    } else {
        &["-f", "1"]
    };
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i", "inv.ini", "play.yml", "-e", &work])
        .args(forks)
        .args(args)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tend");
    (out, dir)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard output and standard error together.
fn all_output(o: &Output) -> String {
    format!("{}{}", stdout(o), String::from_utf8_lossy(&o.stderr))
}

fn json_file(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("results file");
    serde_json::from_str(&text).expect("json")
}

/// How many results show `"msg": "M"`.
fn count_msgs(text: &str, m: &str) -> usize {
    text.matches(&format!("\"msg\": \"{m}\"")).count()
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn local_action_runs_on_the_controller_and_delegate_facts_go_to_the_delegate() {
    let (out, dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - local_action: command echo {{ inventory_hostname }}
      register: r_local
    - local_action:
        module: command
        cmd: echo mapping
      register: r_map
    - set_fact:
        from_{{ inventory_hostname }}: yes
      delegate_to: b
      delegate_facts: true
    - set_fact:
        stays: "{{ inventory_hostname }}"
      delegate_to: c
    - set_fact:
        for_c: "from {{ inventory_hostname }}"
      delegate_to: c
      delegate_facts: yes
    - copy:
        dest: "{{ work }}/{{ inventory_hostname }}.json"
        content: "{{ {'out': r_local.stdout, 'map': r_map.stdout, 'stays': stays,
                      'from_a': from_a | default('unset'), 'from_b': from_b | default('unset')} | to_json }}"
- hosts: c
  gather_facts: no
  tasks:
    - copy:
        dest: "{{ work }}/c.json"
        content: "{{ {'for_c': for_c | default('unset'), 'stays': stays | default('unset')} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("changed: [a -> localhost]"), "{text}");
    assert!(text.contains("ok: [a -> b]"), "{text}");
    assert!(text.contains("ok: [b -> c]"), "{text}");
    let a = json_file(dir.path(), "a.json");
    assert_eq!(a["out"], "a");
    assert_eq!(a["map"], "mapping");
    assert_eq!(a["stays"], "a", "without delegate_facts the fact stays");
    assert_eq!(a["from_a"], "unset", "delegated to b, not set on a");
    let b = json_file(dir.path(), "b.json");
    assert_eq!(b["from_a"], true);
    assert_eq!(b["from_b"], true);
    let c = json_file(dir.path(), "c.json");
    assert_eq!(c["for_c"], "from b", "the last delegating host wins");
    assert_eq!(c["stays"], "unset");
}

#[test]
fn loop_control_extended_pause_and_break_when() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - set_fact:
        seen: "{{ (seen | default([])) + [[item, ansible_loop.index0, ansible_loop.first, ansible_loop.last,
                  ansible_loop.revindex, ansible_loop.previtem | default(none), ansible_loop.nextitem | default(none),
                  ansible_loop.allitems | length, i]] }}"
      loop: [x, y, z]
      loop_control:
        extended: yes
        index_var: i
      register: r_ext
    - debug: msg="{{ ansible_loop.allitems is defined }}"
      loop: [1]
      loop_control:
        extended: yes
        extended_allitems: no
      register: r_noall
    - debug: msg="{{ item }}"
      loop: [1, 2, 3, 4]
      loop_control:
        break_when: r_break.msg == 2
        pause: 0.3
      register: r_break
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'seen': seen, 'ext0': r_ext.results[0].ansible_loop, 'noall': r_noall.results[0].msg,
                      'break': r_break.results | map(attribute='item') | list} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    assert_eq!(
        r["seen"],
        serde_json::json!([
            ["x", 0, true, false, 3, null, "y", 3, 0],
            ["y", 1, false, false, 2, "x", "z", 3, 1],
            ["z", 2, false, true, 1, "y", null, 3, 2]
        ])
    );
    assert_eq!(
        r["ext0"],
        serde_json::json!({"index": 1, "index0": 0, "first": true, "last": false, "length": 3,
                           "revindex": 3, "revindex0": 2, "allitems": ["x", "y", "z"], "nextitem": "y"})
    );
    assert_eq!(r["noall"], false);
    assert_eq!(
        r["break"],
        serde_json::json!([1, 2]),
        "break_when stops after the item"
    );
}

#[test]
fn loop_control_pause_waits_between_items() {
    let started = std::time::Instant::now();
    let (out, _dir) = run(
        "- hosts: a\n  gather_facts: no\n  tasks:\n    - debug: msg={{ item }}\n      loop: [1, 2, 3]\n      loop_control:\n        pause: 0.5\n",
        &[],
        &[],
    );
    ok(&out);
    let took = started.elapsed().as_secs_f64();
    assert!(took >= 1.0, "two pauses of 0.5s, took {took}");
}

#[test]
fn lookup_loops_and_lookup_plugins() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  vars:
    greeting: hi
    users:
      - {name: alice, groups: [wheel, docker]}
      - {name: bob}
  tasks:
    - set_fact:
        globbed: "{{ (globbed | default([])) + [item | basename] }}"
      with_fileglob: ["files/*.txt"]
    - set_fact:
        first: "{{ item | basename }}"
      with_first_found:
        - files: [missing.txt, two.txt]
          paths: [files]
    - set_fact:
        subs: "{{ (subs | default([])) + [[item.0, item.1]] }}"
      with_subelements:
        - "{{ users }}"
        - groups
        - skip_missing: true
    - set_fact:
        lines: "{{ (lines | default([])) + [item] }}"
      with_lines: printf 'l1\nl2\n'
    - set_fact:
        contents: "{{ (contents | default([])) + [item] }}"
      with_file: [one.txt, files/two.txt]
    - set_fact:
        rendered: "{{ item }}"
      with_template: t.j2
    - set_fact:
        hosts: "{{ (hosts | default([])) + [item] }}"
      with_inventory_hostnames: "g:!b"
    - set_fact:
        picked: "{{ item }}"
      with_random_choice: [p, q]
    - set_fact:
        q_glob: "{{ query('fileglob', 'files/*.txt') | map('basename') | sort }}"
        q_first: "{{ query('first_found', ['nope'], skip=True) }}"
        q_sub: "{{ query('subelements', users, 'groups', {'skip_missing': True}) | map(attribute='1') | list }}"
        q_lines: "{{ query('lines', 'echo x') }}"
        q_hosts: "{{ query('inventory_hostnames', 'g') }}"
        q_file: "{{ lookup('file', 'one.txt', rstrip=False) }}"
        q_template: "{{ lookup('template', 't.j2') }}"
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'globbed': globbed | sort, 'first': first, 'subs': subs, 'lines': lines, 'contents': contents,
                      'rendered': rendered, 'hosts': hosts, 'picked': picked, 'q_glob': q_glob, 'q_first': q_first,
                      'q_sub': q_sub, 'q_lines': q_lines, 'q_hosts': q_hosts, 'q_file': q_file, 'q_template': q_template} | to_json }}"
"#,
        &[
            ("files/one.txt", "one\n"),
            ("files/two.txt", "two"),
            ("files/skip.conf", "x"),
            (
                "templates/t.j2",
                "{{ greeting }} {{ inventory_hostname }}\n",
            ),
        ],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    let j = |v: serde_json::Value| v;
    assert_eq!(r["globbed"], j(serde_json::json!(["one.txt", "two.txt"])));
    assert_eq!(r["first"], "two.txt");
    assert_eq!(
        r["subs"],
        j(serde_json::json!([[{"name": "alice"}, "wheel"], [{"name": "alice"}, "docker"]])),
        "the element comes without its subelements; bob is skipped"
    );
    assert_eq!(r["lines"], j(serde_json::json!(["l1", "l2"])));
    assert_eq!(r["contents"], j(serde_json::json!(["one", "two"])));
    assert_eq!(r["rendered"], "hi a\n");
    assert_eq!(r["hosts"], j(serde_json::json!(["a", "c"])));
    assert!(r["picked"] == "p" || r["picked"] == "q");
    assert_eq!(r["q_glob"], j(serde_json::json!(["one.txt", "two.txt"])));
    assert_eq!(r["q_first"], j(serde_json::json!([])));
    assert_eq!(r["q_sub"], j(serde_json::json!(["wheel", "docker"])));
    assert_eq!(r["q_lines"], j(serde_json::json!(["x"])));
    assert_eq!(r["q_hosts"], j(serde_json::json!(["a", "b", "c"])));
    assert_eq!(r["q_file"], "one\n");
    assert_eq!(r["q_template"], "hi a\n");
}

#[test]
fn first_found_without_a_file_fails_the_task() {
    let (out, _dir) = run(
        "- hosts: a\n  gather_facts: no\n  tasks:\n    - debug: msg={{ item }}\n      with_first_found: [nope.yml]\n",
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("No file was found when using first_found."),
        "{}",
        stdout(&out)
    );
}

#[test]
fn play_force_handlers_runs_handlers_on_failed_hosts() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  force_handlers: true
  tasks:
    - command: echo notify
      notify: h
    - fail: msg=boom
  handlers:
    - name: h
      copy: {dest: "{{ work }}/forced", content: ran}
- hosts: b
  gather_facts: no
  tasks:
    - command: echo notify
      notify: h
    - fail: msg=boom
  handlers:
    - name: h
      copy: {dest: "{{ work }}/not-forced", content: ran}
"#,
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(dir.path().join("forced").exists(), "{}", stdout(&out));
    assert!(!dir.path().join("not-forced").exists());
}

#[test]
fn vars_prompt_without_a_terminal_takes_defaults_and_extra_vars_win() {
    let play = r#"
- hosts: a
  gather_facts: no
  vars_prompt:
    - name: who
      prompt: Who are you
      default: nobody
      private: no
    - name: given
      default: from-prompt
    - name: none_given
  tasks:
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'who': who, 'given': given, 'none_given': none_given} | to_json }}"
"#;
    let (out, dir) = run(play, &[], &["-e", "given=from-cli"]);
    ok(&out);
    assert!(
        stdout(&out).contains("[WARNING]: Not prompting as we are not in interactive mode"),
        "{}",
        stdout(&out)
    );
    let r = json_file(dir.path(), "out.json");
    assert_eq!(
        r,
        serde_json::json!({"who": "nobody", "given": "from-cli", "none_given": "None"})
    );
}

#[test]
fn vars_prompt_encrypt_is_a_compile_error() {
    let (out, _dir) = run(
        "- hosts: a\n  vars_prompt:\n    - name: pw\n      encrypt: sha512_crypt\n  tasks: []\n",
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vars_prompt `encrypt` is not supported yet") && err.contains("play.yml:4:7"),
        "{err}"
    );
}

#[test]
fn include_vars_file_dir_and_name() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - include_vars: main.yml
    - include_vars:
        file: main.yml
        name: under
    - include_vars:
        dir: confd
        ignore_unknown_extensions: yes
      register: r_dir
    - include_vars: dir=confd depth=1 files_matching=^1 name=shallow
    - include_vars: missing.yml
      register: r_missing
      ignore_errors: yes
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'a': a, 'b': b, 'under': under, 'shared': shared, 'deep': deep, 'shallow': shallow,
                      'files': r_dir.ansible_included_var_files | map('basename') | list,
                      'missing': r_missing is failed} | to_json }}"
"#,
        &[
            ("vars/main.yml", "a: 1\nb: \"{{ a + 1 }}\"\n"),
            ("confd/1-one.yml", "shared: one\n"),
            ("confd/2-two.json", "{\"shared\": \"two\"}\n"),
            ("confd/notes.txt", "not vars\n"),
            ("confd/sub/3-deep.yml", "deep: yes\n"),
        ],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    assert_eq!(r["a"], 1);
    assert_eq!(r["b"], 2, "values are templated");
    assert_eq!(r["under"], serde_json::json!({"a": 1, "b": 2}));
    assert_eq!(r["shared"], "two", "files load in name order");
    assert_eq!(r["deep"], true, "subdirectories are read");
    assert_eq!(r["shallow"], serde_json::json!({"shared": "one"}));
    assert_eq!(
        r["files"],
        serde_json::json!(["1-one.yml", "2-two.json", "3-deep.yml"])
    );
    assert_eq!(r["missing"], true);
}

#[test]
fn loop_details_follow_ansible() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - debug: msg="{{ item }}"
      loop: "{{ undefined_list }}"
      when: false
      register: r_skip
    - set_fact:
        got: "{{ templated_name }}"
      loop: [v]
      loop_control:
        loop_var: "{{ name_of_var }}"
      vars:
        name_of_var: templated_name
    - debug: msg="{{ item }}"
      with_dict: [1, 2]
      ignore_errors: yes
      register: r_dict
    - set_fact:
        one: "{{ item }}"
      with_list: {k: v}
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'skipped': r_skip is skipped, 'got': got, 'dict_msg': r_dict.msg, 'one': one,
                      'idx': [3, 4].index(4), 'search': ansible_search_path | length} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    assert_eq!(r["skipped"], true);
    assert_eq!(r["got"], "v");
    assert_eq!(
        r["dict_msg"],
        "the 'dict' lookup plugin expects a dictionary, got '[1, 2]' of type <class 'list'>)"
    );
    assert_eq!(r["one"], serde_json::json!({"k": "v"}));
    assert_eq!(r["idx"], 1);
    assert_eq!(r["search"], 1);
}

#[test]
fn templated_tags_are_rendered_with_play_variables() {
    let play = r#"
- hosts: a
  gather_facts: no
  vars:
    listed: [web, db]
    csv: "app,extra"
  tags: "{{ play_tag }}"
  tasks:
    - name: from_a_list
      debug: msg=from_a_list
      tags: "{{ listed }}"
    - name: from_a_csv
      debug: msg=from_a_csv
      tags: "{{ csv }}"
    - block:
        - name: in_block
          debug: msg=in_block
      tags: "{{ ['blk'] }}"
    - name: plain
      debug: msg=plain
      tags: plain
"#;
    let extra = ["-e", "play_tag=outer"];
    let picked = |sel: &[&str]| {
        let args: Vec<&str> = extra.iter().chain(sel).copied().collect();
        let (out, _dir) = run(play, &[], &args);
        ok(&out);
        let text = stdout(&out);
        ["from_a_list", "from_a_csv", "in_block", "plain"]
            .into_iter()
            .filter(|n| text.contains(&format!("\"msg\": \"{n}\"")))
            .collect::<Vec<_>>()
    };
    assert_eq!(picked(&["--tags", "db"]), ["from_a_list"]);
    assert_eq!(picked(&["--tags", "extra"]), ["from_a_csv"]);
    assert_eq!(picked(&["--tags", "blk"]), ["in_block"]);
    assert_eq!(picked(&["--skip-tags", "web,blk"]), ["from_a_csv", "plain"]);
    // The play's templated tag is every task's.
    assert_eq!(
        picked(&["--tags", "outer"]),
        ["from_a_list", "from_a_csv", "in_block", "plain"]
    );
    assert!(picked(&["--skip-tags", "outer"]).is_empty());
}

#[test]
fn an_undefined_variable_in_tags_fails_the_run() {
    let (out, _dir) = run(
        "- hosts: a\n  gather_facts: no\n  tasks:\n    - debug: msg=never_shown\n      tags: \"{{ nope }}\"\n",
        &[],
        &[],
    );
    assert_ne!(out.status.code(), Some(0));
    let all = all_output(&out);
    assert!(all.contains("nope"), "{all}");
    assert!(!all.contains("never_shown"), "{all}");
}

#[test]
fn reset_connection_on_the_local_connection_is_ok() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - meta: reset_connection
    - command: echo after
      register: after
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'after': after.stdout} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let v = json_file(dir.path(), "out.json");
    assert_eq!(v["after"], "after");
}

#[test]
fn a_templated_strategy_is_rendered_with_play_and_extra_vars() {
    // Under `free`, `b` runs both of its tasks before `a` runs its second
    // (it sleeps first); under `linear`, every host ends a task first.
    let play = r#"
- hosts: a,b
  gather_facts: no
  strategy: "{{ how | default('linear') }}"
  tasks:
    - command: sleep {{ '0.5' if inventory_hostname == 'a' else '0' }}
    - shell: date +%s%N > {{ work }}/{{ inventory_hostname }}
"#;
    let ends = |args: &[&str]| {
        let (out, dir) = run(play, &[], args);
        ok(&out);
        let at = |h: &str| -> u128 {
            let t = std::fs::read_to_string(dir.path().join(h)).expect("stamp");
            t.trim().parse().expect("nanoseconds")
        };
        (at("a"), at("b"))
    };
    let (a, b) = ends(&["-e", "how=free", "-f", "2"]);
    assert!(b + 300_000_000 < a, "free: b did not go ahead ({a} {b})");
    let (a, b) = ends(&["-f", "2"]);
    assert!(b + 300_000_000 > a, "linear: b went ahead ({a} {b})");
    let (out, _dir) = run(play, &[], &["-e", "how=debug"]);
    assert_ne!(out.status.code(), Some(0));
    let all = all_output(&out);
    assert!(
        all.contains("strategy `debug` is not supported yet"),
        "{all}"
    );
}

#[test]
fn clear_host_errors_in_always_lets_the_host_go_on() {
    // Also after a failure under `any_errors_fatal` in a nested block (as
    // ansible-core 2.19, blocks target, issue 35148): the run goes on.
    for failing in [
        "        - fail: msg=boom\n",
        "        - block:\n            - fail: msg=boom\n          any_errors_fatal: true\n",
    ] {
        let play = format!(
            "- hosts: a\n  gather_facts: no\n  tasks:\n    - block:\n{failing}      always:\n        - meta: clear_host_errors\n    - debug: msg=went_on\n- hosts: a\n  gather_facts: no\n  tasks:\n    - debug: msg=next_play\n"
        );
        let (out, _dir) = run(&play, &[], &[]);
        ok(&out);
        let text = stdout(&out);
        assert!(text.contains("\"msg\": \"went_on\""), "{text}");
        assert!(text.contains("\"msg\": \"next_play\""), "{text}");
    }
    // Without it, the failure stays.
    let (out, _dir) = run(
        "- hosts: a\n  gather_facts: no\n  tasks:\n    - block:\n        - fail: msg=boom\n      always:\n        - debug: msg=always\n    - debug: msg=went_on\n",
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!stdout(&out).contains("went_on"));
}

#[test]
fn a_blocks_notify_is_its_tasks_and_failed_hosts_leave_play_hosts() {
    let (out, _dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - block:
        - debug: msg=trigger
          changed_when: true
        - debug: msg=own
          changed_when: true
          notify: other
      notify: from_block
    - fail:
      when: inventory_hostname == 'a'
    - debug:
        msg: "left {{ ansible_play_hosts | join(',') }} batch {{ ansible_play_batch | join(',') }} all {{ ansible_play_hosts_all | join(',') }}"
  handlers:
    - name: from_block
      debug: msg=from_block_ran
    - name: other
      debug: msg=other_ran
"#,
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.contains("left b batch b all a,b"), "{text}");
    assert!(text.contains("from_block_ran"), "{text}");
    assert!(text.contains("other_ran"), "{text}");
}

#[test]
fn templated_import_names_use_the_vars_known_when_parsing() {
    let files = [
        ("tasks/one.yml", "- debug: msg=one_ran\n"),
        ("tasks/two.yml", "- debug: msg=two_ran\n"),
        ("tasks/three.yml", "- debug: msg=three_ran\n"),
        ("tasks/four.yml", "- debug: msg=four_ran\n"),
        (
            "other.yml",
            "- hosts: a\n  gather_facts: no\n  tasks:\n    - debug: msg={{ greeting }}\n",
        ),
    ];
    let (out, _dir) = run(
        r#"
- import_playbook: "{{ which }}.yml"
  vars:
    which: other
    greeting: imported_play_ran
- hosts: a
  gather_facts: no
  vars:
    dir: "{{ playbook_dir }}/tasks"
  tasks:
    - import_tasks: "{{ dir }}/one.yml"
    - ansible.builtin.import_tasks:
        file: "tasks/{{ n }}.yml"
      vars:
        n: two
    - import_tasks: "tasks/{{ from_cli }}.yml"
    - include_tasks: "{{ playbook_dir }}/tasks/{{ from_cli2 }}.yml"
"#,
        &files,
        &["-e", "from_cli=three", "-e", "from_cli2=four"],
    );
    ok(&out);
    let text = stdout(&out);
    for m in [
        "imported_play_ran",
        "one_ran",
        "two_ran",
        "three_ran",
        "four_ran",
    ] {
        assert!(text.contains(&format!("\"msg\": \"{m}\"")), "{m}: {text}");
    }
}

#[test]
fn import_names_that_need_run_time_values_are_compile_errors() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - set_fact:
        late: x
    - import_tasks: "{{ late }}.yml"
    - import_tasks:
        file: x.yml
        apply:
          tags: [t]
"#,
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("import_tasks: cannot template the file name `{{ late }}.yml`"),
        "{err}"
    );
    assert!(err.contains("play.yml:7:"), "{err}");
    assert!(
        err.contains("Invalid options for import_tasks: apply"),
        "{err}"
    );
}

#[test]
fn import_playbook_when_and_vars_apply_to_the_imported_plays() {
    let files = [
        (
            "skipped.yml",
            "- hosts: a\n  tasks:\n    - debug: msg=skipped_ran\n",
        ),
        (
            "taken.yml",
            "- hosts: a\n  gather_facts: no\n  vars:\n    who: play\n  roles:\n    - role: r\n  tasks:\n    - debug: msg=taken_{{ who }}\n    - import_role:\n        name: \"{{ role_name_var }}\"\n        tasks_from: \"{{ from }}\"\n",
        ),
        ("roles/r/tasks/main.yml", "- debug: msg=role_main_ran\n"),
        ("roles/r/tasks/other.yml", "- debug: msg=role_other_ran\n"),
    ];
    let (out, _dir) = run(
        r#"
- import_playbook: skipped.yml
  when: go == 'no'
- ansible.legacy.import_playbook: taken.yml
  when: go == 'yes'
  vars:
    who: import
    role_name_var: r
    from: other.yml
"#,
        &files,
        &["-e", "go=yes"],
    );
    ok(&out);
    let text = stdout(&out);
    assert!(!text.contains("skipped_ran"), "{text}");
    // The skipped play gathers no facts either.
    assert!(!text.contains("Gathering Facts"), "{text}");
    for m in ["taken_import", "role_main_ran", "role_other_ran"] {
        assert!(text.contains(&format!("\"msg\": \"{m}\"")), "{m}: {text}");
    }
}

#[test]
fn collection_roles_and_handler_name_resolution() {
    let files = [
        (
            "collections/ansible_collections/ns/col/roles/r/tasks/main.yml",
            "- debug: msg=in_{{ role_name }}\n",
        ),
        (
            "collections/ansible_collections/ns/col/roles/r/handlers/main.yml",
            "- name: role_handler\n  debug: msg=by_fqcn_prefix\n  listen: topic\n",
        ),
    ];
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: no
  roles:
    - ns.col.r
  tasks:
    - command: "true"
      notify:
        - dup
        - "r : topic"
    - meta: flush_handlers
    - command: "true"
      notify: "ns.col.r : role_handler"
  handlers:
    - name: dup
      debug: msg=first_dup
    - name: dup
      debug: msg=second_dup
    - name: listener
      debug: msg=listener_ran
      listen: dup
"#,
        &files,
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    let count = |m: &str| count_msgs(&text, m);
    assert_eq!(count("in_r"), 1, "{text}");
    // A name triggers its first handler only; listeners all run.
    assert_eq!(count("first_dup"), 1, "{text}");
    assert_eq!(count("second_dup"), 0, "{text}");
    assert_eq!(count("listener_ran"), 1, "{text}");
    // `role : topic` and `ns.col.role : name` both reach the role's handler.
    assert_eq!(count("by_fqcn_prefix"), 2, "{text}");
}

#[test]
fn a_missing_collection_role_lists_where_it_was_searched() {
    let (out, _dir) = run(
        "- hosts: a\n  gather_facts: no\n  roles:\n    - ns.col.nope\n",
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("collections/ansible_collections/ns/col/roles/nope"),
        "{err}"
    );
}

#[test]
fn meta_flush_handlers_and_end_play_honour_when() {
    let (out, _dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - command: "true"
      notify: h
    - meta: flush_handlers
      when: inventory_hostname == 'a'
    - debug: msg=between
    - meta: end_play
      when: false
    - debug: msg=after_end_play_false
    - meta: end_play
      when: inventory_hostname == 'b'
    - debug: msg=never
  handlers:
    - name: h
      debug: msg=handler_on_{{ inventory_hostname }}
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    // `a` flushed at the meta task, before `between`; `b` only at the end
    // of the play (end_play's `when` judged on `a` was false).
    let at = |m: &str| {
        text.find(&format!("\"msg\": \"{m}\""))
            .unwrap_or(usize::MAX)
    };
    assert!(at("handler_on_a") < at("between"), "{text}");
    assert!(at("handler_on_b") > at("after_end_play_false"), "{text}");
    assert!(at("handler_on_b") != usize::MAX, "{text}");
    assert!(text.contains("\"msg\": \"never\""), "{text}");
}

#[test]
fn an_include_tasks_handler_runs_its_files_tasks() {
    let files = [(
        "h.yml",
        "- name: first_included\n  debug: msg=inc1_{{ who }}\n- debug: msg=inc2_{{ who }}\n",
    )];
    let play = r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - command: "true"
      notify: via_include
      when: inventory_hostname == 'a'
  handlers:
    - name: via_include
      include_tasks: h.yml
      vars:
        who: "{{ inventory_hostname }}"
"#;
    let (out, _dir) = run(play, &files, &[]);
    ok(&out);
    let text = stdout(&out);
    for m in ["inc1_a", "inc2_a"] {
        assert!(text.contains(&format!("\"msg\": \"{m}\"")), "{m}: {text}");
    }
    assert!(!text.contains("_b\""), "{text}");
    // As Ansible: the include runs as a handler (its header, `included:`,
    // counted as ok), then its tasks as handlers.
    assert!(text.contains("RUNNING HANDLER [via_include]"), "{text}");
    assert!(text.contains("h.yml for a\n"), "{text}");
    assert!(text.contains("RUNNING HANDLER [first_included]"), "{text}");
    assert!(
        text.contains("a                          : ok=4    changed=1 "),
        "{text}"
    );
    // The included tasks are not handlers of their own: notifying one
    // fails the run when it happens (as ansible-core 2.19).
    let (out, _dir) = run(
        &play.replace("notify: via_include", "notify: first_included"),
        &files,
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let all = all_output(&out);
    assert!(
        all.contains("The requested handler 'first_included' was not found"),
        "{all}"
    );
}

#[test]
fn failed_when_keeps_the_overridden_exception_and_bad_conditions_fail_the_task() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - command: "false"
      ignore_errors: yes
      register: r_fail
    - command: "false"
      failed_when: false
      register: r_suppressed
    - command: echo hi
      changed_when: no_such_var
      ignore_errors: yes
      register: r_changed
    - command: echo hi
      failed_when: no_such_var
      ignore_errors: yes
      register: r_failed
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'fail': r_fail, 'suppressed': r_suppressed, 'changed': r_changed,
                      'failed': r_failed} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    assert!(r["fail"]["exception"].is_string(), "{r}");
    assert!(r["suppressed"].get("exception").is_none(), "{r}");
    assert!(
        r["suppressed"]["failed_when_suppressed_exception"].is_string(),
        "{r}"
    );
    assert_eq!(r["suppressed"]["failed"], false);
    for (key, word) in [("changed", "changed_when"), ("failed", "failed_when")] {
        assert_eq!(r[key]["failed"], true, "{r}");
        assert_eq!(r[key]["stdout"], "hi", "{r}");
        let why = r[key][format!("{word}_result")]
            .as_str()
            .unwrap_or_default();
        assert!(
            why == "Error while evaluating conditional: 'no_such_var' is undefined",
            "{r}"
        );
    }
    // The default output does not show `exception`, as Ansible's.
    assert!(!stdout(&out).contains("\"exception\""), "{}", stdout(&out));
}

#[test]
fn conditions_from_templates_and_untrusted_text() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  vars:
    false_conditions: [1 == 0]
    true_conditions: [1 == 1, "{{ 2 == 2 }}"]
  tasks:
    - action:
        module: assert
        args:
          that: "{{ true_conditions }}"
    - assert:
        that: "{{ false_conditions }}"
      ignore_errors: yes
      register: r_false
    - debug:
      when: !unsafe 1 == 1
      ignore_errors: yes
      register: r_unsafe
    - assert:
        that: "{{ '1 == 1' }}"
      ignore_errors: yes
      register: r_computed
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'false': r_false, 'unsafe': r_unsafe.msg, 'computed': r_computed.msg} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    assert_eq!(r["false"]["failed"], true, "{r}");
    assert_eq!(r["false"]["assertion"], "1 == 0", "{r}");
    let unsafe_msg = r["unsafe"].as_str().unwrap_or_default();
    assert!(
        unsafe_msg.starts_with("Task failed: Encountered untrusted template or expression."),
        "{r}"
    );
    assert!(
        r["computed"]
            .as_str()
            .unwrap_or_default()
            .contains("Encountered untrusted template or expression."),
        "{r}"
    );
}

#[test]
fn set_fact_names_must_render_to_text() {
    let (out, dir) = run(
        r#"
- name: templated fact names
  hosts: b
  gather_facts: false
  tasks:
    - set_fact:
        "{{ 1 }}": value
      ignore_errors: yes
      register: r_int
    - set_fact:
        "{{ 'fact_' ~ 'name' }}": value
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'int': r_int.msg, 'named': fact_name} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    assert_eq!(r["int"], "Invalid variable name '1' of type 'int'.", "{r}");
    assert_eq!(r["named"], "value", "{r}");
}

#[test]
fn loop_label_sees_the_item_result_and_its_error_fails_the_item() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - command: "echo {{ item }}"
      register: r
      loop: [ran, skipped]
      loop_control:
        label: "{{ r.stdout }}"
      when: item == "ran"
      ignore_errors: true
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ r | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    assert!(stdout(&out).contains("(item=ran)"), "{}", stdout(&out));
    let r = json_file(dir.path(), "out.json");
    assert_eq!(r["results"][0]["stdout"], "ran", "{r}");
    assert_eq!(r["results"][1]["failed"], true, "{r}");
    assert_eq!(
        r["results"][1]["msg"], "object of type 'dict' has no attribute 'stdout'",
        "{r}"
    );
}

#[test]
fn template_syntax_errors_in_vars_or_expected_failures_show_when_rendered() {
    let (out, dir) = run(
        r#"
- name: lazy syntax errors
  hosts: c
  gather_facts: false
  tasks:
    - debug:
        msg: "{{ broken }}"
      vars:
        broken: "{{ #'"
      ignore_errors: yes
      register: r_var
    - debug:
        msg: "{{ {{ 1 }} }}"
      register: r_inline
      ignore_errors: true
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'var': r_var is failed, 'inline': r_inline is failed} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("warning: template syntax error").count(),
        2,
        "{stderr}"
    );
    let r = json_file(dir.path(), "out.json");
    assert_eq!(r, serde_json::json!({"var": true, "inline": true}));
}

#[test]
fn any_errors_fatal_runs_the_failed_hosts_always_and_forced_handlers() {
    // Both plays fail (exit 2); returns the output.
    let failing = |play: &str| {
        let (out, _dir) = run(play, &[], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        stdout(&out)
    };
    let text = failing(
        r#"
- name: fatal with always
  hosts: a
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - block:
            - fail:
      always:
        - debug:
            msg: ALWAYS-RAN
- name: never reached
  hosts: a
  gather_facts: false
  tasks:
    - debug:
        msg: NEXT-PLAY
"#,
    );
    assert!(text.contains("ALWAYS-RAN"), "{text}");
    assert!(!text.contains("NEXT-PLAY"), "{text}");
    let text = failing(
        r#"
- name: fatal with forced handlers
  hosts: a
  gather_facts: false
  any_errors_fatal: true
  force_handlers: true
  tasks:
    - command: "true"
      notify: h
    - fail:
    - debug:
        msg: AFTER-FAIL
  handlers:
    - name: h
      debug:
        msg: HANDLER-RAN
"#,
    );
    assert_eq!(
        text.matches("\"msg\": \"HANDLER-RAN\"").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("AFTER-FAIL"), "{text}");
}

#[test]
fn debug_var_trust_omit_and_errors_as_ansible_2_19() {
    let (out, dir) = run(
        r#"
- name: debug edge cases
  hosts: b
  gather_facts: false
  vars:
    plain: hi
    holds_omit: "{{ omit }}"
  tasks:
    - debug:
        var: !unsafe plain
      ignore_errors: true
      register: r_unsafe
    - debug:
        var: '{{ "plain" }}'
      ignore_errors: true
      register: r_computed
    - debug:
        var: "{{ item }}"
      loop: [plain]
      register: r_indirect
    - debug:
        var: holds_omit
      register: r_omit
    - debug:
        var: not_defined_anywhere
      register: r_undef
    - debug:
        var: {nested: 1}
      ignore_errors: true
      register: r_type
    - debug:
        msg: "{{ 5 / 0 }}"
      ignore_errors: true
      register: r_zero
    - debug:
      args: "{{ omit }}"
      register: r_no_args
    - copy:
        dest: "{{ work }}/out.json"
        content: "{{ {'unsafe': r_unsafe.msg, 'computed': r_computed.msg,
                      'indirect': r_indirect.results[0].plain, 'omit': r_omit.holds_omit,
                      'omit_warned': r_omit.warnings | length, 'undef': r_undef.warnings[0],
                      'type': r_type.msg, 'zero': r_zero.msg, 'no_args': r_no_args.msg} | to_json }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let r = json_file(dir.path(), "out.json");
    let untrusted = "Task failed: Error while resolving `var` expression: Encountered untrusted template or expression.";
    assert_eq!(r["unsafe"], untrusted, "{r}");
    assert_eq!(r["computed"], untrusted, "{r}");
    assert_eq!(r["indirect"], "hi", "{r}");
    assert_eq!(r["omit"], "<<Omit>>", "{r}");
    assert_eq!(r["omit_warned"], 1, "{r}");
    assert!(
        r["undef"]
            .as_str()
            .is_some_and(|w| w.contains("'not_defined_anywhere' is undefined")),
        "{r}"
    );
    assert!(
        r["type"]
            .as_str()
            .is_some_and(|m| m.contains("is not a string and conversion is not allowed")),
        "{r}"
    );
    assert!(
        r["zero"]
            .as_str()
            .is_some_and(|m| m.starts_with("Task failed: Finalization of task args for 'ansible.builtin.debug' failed: Error while resolving value for 'msg': Error rendering template: division by zero (in ")),
        "{r}"
    );
    assert_eq!(r["no_args"], "Hello world!", "{r}");
}

#[test]
fn include_tasks_and_include_role_names_are_templated_per_host_when_they_run() {
    let (out, dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - include_tasks: "{{ item }}"
      loop:
        - one.yml
        - "{{ inventory_hostname }}.yml"
    - include_role:
        name: "{{ item }}"
      loop: [r1]
    - include_role:
        name: r2
        tasks_from: "{{ omit }}"
    - block:
        - include_tasks: "{{ missing_on_b }}"
          vars:
            missing_on_b: "{{ 'one.yml' if inventory_hostname == 'a' else 'nope.yml' }}"
      rescue:
        - copy:
            dest: "{{ work }}/rescued_{{ inventory_hostname }}"
            content: "{{ ansible_failed_result.msg }}"
"#,
        &[
            (
                "one.yml",
                "- copy:\n    dest: \"{{ work }}/one_{{ inventory_hostname }}\"\n    content: one\n",
            ),
            (
                "a.yml",
                "- copy:\n    dest: \"{{ work }}/own_a\"\n    content: a\n",
            ),
            (
                "b.yml",
                "- copy:\n    dest: \"{{ work }}/own_b\"\n    content: b\n",
            ),
            (
                "roles/r2/tasks/main.yml",
                "- copy:\n    dest: \"{{ work }}/omitted_{{ inventory_hostname }}\"\n    content: r\n",
            ),
            (
                "roles/r1/tasks/main.yml",
                "- copy:\n    dest: \"{{ work }}/role_{{ inventory_hostname }}_{{ role_name }}\"\n    content: r\n",
            ),
        ],
        &[],
    );
    ok(&out);
    let d = dir.path();
    for f in [
        "one_a",
        "one_b",
        "own_a",
        "own_b",
        "role_a_r1",
        "role_b_r1",
        "omitted_a",
    ] {
        assert!(d.join(f).exists(), "{f} missing\n{}", stdout(&out));
    }
    assert!(!d.join("rescued_a").exists(), "{}", stdout(&out));
    let why = std::fs::read_to_string(d.join("rescued_b")).expect("b rescued");
    assert!(why.contains("nope.yml"), "{why}");
}

#[test]
fn handlers_notified_by_later_handlers_or_again_run_at_the_next_flush() {
    // As ansible-core 2.19: a handler notified by a later handler (or by
    // itself) runs at the next flush (here after post_tasks), once per flush.
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - command: echo
      notify: [h2, self]
  post_tasks:
    - debug: msg=post
  handlers:
    - name: h1
      debug: msg=h1_ran
    - name: h2
      debug: msg=h2_ran
      changed_when: true
      notify: h1
    - name: self
      debug: msg=self_ran
      changed_when: true
      notify: self
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"msg\": \""))
        .map(|m| m.trim_end_matches('"'))
        .collect();
    assert_eq!(
        order,
        ["h2_ran", "self_ran", "post", "h1_ran", "self_ran"],
        "{text}"
    );
}

#[test]
fn templated_handler_names_and_unknown_notifications() {
    let play = r#"
- hosts: a
  gather_facts: no
  tasks:
    - command: echo
      notify: handler x
      tags: [var]
    - command: echo
      notify: plain
      tags: [plain]
    - command: echo
      notify: nowhere
      tags: [unknown]
    - debug: msg=after_unknown
      tags: [unknown]
  handlers:
    - name: "handler {{ which }}"
      debug: msg=templated_ran
    - name: plain
      debug: msg=plain_ran
"#;
    // With `which` known (extra vars), the name is rendered; every handler
    // name is then known before the run, and a notification none answers
    // to is an error found before any host is contacted.
    let (out, _dir) = run(play, &[], &["--tags", "var", "-e", "which=x"]);
    assert_eq!(out.status.code(), Some(4), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("error: the task notifies `nowhere`"),
        "{}",
        all_output(&out)
    );
    let known = play.replace("notify: nowhere", "notify: plain");
    let (out, _dir) = run(&known, &[], &["--tags", "var", "-e", "which=x"]);
    ok(&out);
    assert!(stdout(&out).contains("templated_ran"), "{}", stdout(&out));
    // Without it, the handler is unusable (a warning), the others work, and
    // which names a notification may reach is known only when it runs.
    let (out, _dir) = run(play, &[], &["--tags", "plain"]);
    ok(&out);
    let all = all_output(&out);
    assert!(all.contains("plain_ran"), "{all}");
    assert!(
        all.contains("is unusable because it has no listen topics"),
        "{all}"
    );
    // A task that notifies a handler the play lacks ends the run.
    let (out, _dir) = run(play, &[], &["--tags", "unknown"]);
    let all = all_output(&out);
    let error = "The requested handler 'nowhere' was not found";
    assert_eq!(
        (
            out.status.code(),
            all.contains(error),
            all.contains("after_unknown\"")
        ),
        (Some(2), true, false),
        "{all}"
    );
}

#[test]
fn failures_show_the_error_and_its_origin_as_ansible_2_19() {
    let (out, _dir) = run(
        "- hosts: a\n  gather_facts: no\n  tasks:\n    - name: boom\n      fail: msg=went_wrong\n      ignore_errors: true\n    - command: \"false\"\n      ignore_errors: true\n",
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    let expected = "[ERROR]: Task failed: Action failed: went_wrong\nOrigin: play.yml:4:7\n\n2   gather_facts: no\n3   tasks:\n4     - name: boom\n        ^ column 7\n\nfatal: [a]: FAILED!";
    assert!(text.contains(expected), "{text}");
    assert!(
        text.contains(
            "[ERROR]: Task failed: Module failed: non-zero return code\nOrigin: play.yml:7:7\n"
        ),
        "{text}"
    );
}

#[test]
fn a_templated_run_once_is_rendered_per_task() {
    let play = r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - debug:
      changed_when: true
      notify: handler
  handlers:
    - name: handler
      debug:
        msg: "handler {{ inventory_hostname }}"
      run_once: "{{ once | default(False) }}"
"#;
    let (out, _dir) = run(play, &[], &[]);
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("\"msg\": \"handler a\""), "{text}");
    assert!(text.contains("\"msg\": \"handler b\""), "{text}");
    let (out, _dir) = run(play, &[], &["-e", "once=true"]);
    ok(&out);
    assert!(
        !stdout(&out).contains("\"msg\": \"handler b\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_looping_or_per_host_include_tasks_handler_runs_as_an_include() {
    let (out, _dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - command: echo
      notify: [looping, per host]
  handlers:
    - name: looping
      include_tasks: "{{ item }}"
      with_first_found:
        - missing.yml
        - h.yml
    - name: per host
      include_tasks: "{{ inventory_hostname }}.yml"
"#,
        &[
            ("h.yml", "- debug: msg=h_{{ inventory_hostname }}\n"),
            ("a.yml", "- debug: msg=own_a\n"),
            ("b.yml", "- debug: msg=own_b\n"),
        ],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    for m in ["h_a", "h_b", "own_a", "own_b"] {
        assert!(text.contains(&format!("\"msg\": \"{m}\"")), "{m}: {text}");
    }
}

#[test]
fn includes_register_skip_fail_and_inherit_keywords_from_above() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - name: skipped include with an undefined loop
      include_tasks: nowhere.yml
      loop: "{{ not_defined_anywhere }}"
      when: false
      register: skipped_include
    - include_tasks: nowhere.yml
      ignore_errors: true
      register: failed_include
      when: not_defined_either == 'yes'
    - include_tasks: nowhere.yml
      when: false
    - name: check_mode reaches the included tasks
      check_mode: true
      block:
        - include_tasks: inc.yml
    - copy:
        dest: "{{ work }}/results.json"
        content: "{{ {'skipped': skipped_include, 'failed': failed_include, 'inner': inner} | to_json }}"
    - include_tasks: nowhere.yml
"#,
        &[(
            "inc.yml",
            "- command: touch {{ work }}/touched\n  register: inner\n",
        )],
        &[],
    );
    // The last include fails when it runs: its file is missing.
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    let all = all_output(&out);
    assert!(all.contains("could not find `nowhere.yml` now"), "{all}");
    let r = json_file(dir.path(), "results.json");
    assert_eq!(r["skipped"]["skipped"], true, "{r}");
    assert!(r["skipped"].get("results").is_none(), "{r}");
    assert_eq!(r["failed"]["failed"], true, "{r}");
    assert_eq!(r["inner"]["skipped"], true, "{r}");
    assert!(!dir.path().join("touched").exists());
}

#[test]
fn a_failed_include_under_any_errors_fatal_stops_the_play() {
    let (out, _dir) = run(
        "- hosts: a,b\n  gather_facts: no\n  any_errors_fatal: yes\n  tasks:\n    - include_tasks: missing.yml\n      when: inventory_hostname == 'b'\n    - debug: msg=never_reached\n",
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(
        !stdout(&out).contains("never_reached\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn retries_count_runs_and_attempts_as_ansible() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - name: until never holds; 1 run + 5 retries, attempts reported as 5
      shell: echo run >> {{ work }}/runs
      until: 1 == 0
      retries: 5
      delay: 0
      register: r
      ignore_errors: true
    - shell: wc -l < {{ work }}/runs
      register: lines
    - assert:
        that:
          - r is failed
          - r.attempts == 5
          - lines.stdout | int == 6
    - name: attempts is visible to failed_when
      command: "true"
      register: a
      until: 1 == 0
      retries: 2
      delay: 0
      failed_when: a.attempts > 6
    - assert:
        that:
          - a.attempts == 2
          - a.failed
    - name: retries without until retries until the task succeeds
      fail:
      retries: 3
      delay: 0
      register: f
      ignore_errors: true
    - assert:
        that: f.attempts == 3
    - name: fail once, then succeed
      shell: "[ -f {{ work }}/flag ] || (touch {{ work }}/flag && false)"
      retries: 5
      delay: 0
      register: s
    - assert:
        that: s.attempts == 2
"#,
        &[],
        &[],
    );
    ok(&out);
}

#[test]
fn assert_conditions_listed_in_a_variable_keep_their_trust() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - name: an !unsafe condition reached through a template is refused
      vars:
        conds:
          - true
          - !unsafe 1 == 0
      assert:
        that: '{{ conds }}'
      register: r
      ignore_errors: true
    - assert:
        that:
          - r is failed
          - r.msg is contains 'untrusted template or expression'
          - r.assertion == '1 == 0'
    - name: trusted conditions listed in a variable are evaluated
      vars:
        nested:
          conds: ['1 == 1', '{{ 2 == 2 }}']
      assert:
        that: '{{ nested.conds }}'
"#,
        &[],
        &[],
    );
    ok(&out);
}

#[test]
fn assert_refuses_missing_and_empty_conditions_with_ansibles_messages() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: no
  tasks:
    - assert: {that: }
      register: r1
      ignore_errors: true
    - assert: {}
      register: r2
      ignore_errors: true
    - assert: {that: ""}
      register: r3
      ignore_errors: true
    - assert:
        that:
          - r1.msg is contains 'Empty conditional expressions are not allowed.'
          - r2.msg is contains 'missing required arguments'
          - r3.msg is contains 'Empty conditional expressions are not allowed.'
"#,
        &[],
        &[],
    );
    ok(&out);
}

/// The template module as Ansible 2.19: a play's `ansible_managed`,
/// `template_destpath`, `{% include %}` beside the template, delimiters
/// from the task, `md5sum`, an `output_encoding`, and `lookup('template')`
/// of one expression giving its value.
#[test]
fn template_module_variables_includes_delimiters_and_encodings() {
    let play = r#"
- hosts: a
  gather_facts: false
  tasks:
    - template: {src: managed.j2, dest: "{{ work }}/managed.txt"}
      vars:
        ansible_managed: '{{ "a " ~ "dynamic" }}'
      register: managed
    - template: {src: main.j2, dest: "{{ work }}/main.txt"}
    - template:
        src: angle.j2
        dest: "{{ work }}/angle.txt"
        variable_start_string: '<<'
        variable_end_string: '>>'
        output_encoding: windows-1252
    - set_fact:
        data: "{{ lookup('template', 'data.j2') }}"
    - assert:
        that:
          - managed.md5sum | length == 32
          - data.foo == 'bar'
"#;
    let (o, dir) = run(
        play,
        &[
            (
                "templates/managed.j2",
                "{{ ansible_managed }} {{ template_destpath }}\n",
            ),
            ("templates/main.j2", "{% include 'part.j2' %}\n"),
            ("templates/part.j2", "part"),
            ("templates/angle.j2", "<< '\u{20AC}' >> {{ kept }}\n"),
            ("templates/data.j2", "{{ {'foo': 'bar'} }}\n"),
        ],
        &["-l", "a"],
    );
    ok(&o);
    let read = |n: &str| std::fs::read(dir.path().join(n)).expect(n);
    let dest = dir.path().join("managed.txt");
    assert_eq!(
        String::from_utf8(read("managed.txt")).unwrap(),
        format!("a dynamic {}\n", dest.display())
    );
    assert_eq!(read("main.txt"), b"part\n");
    assert_eq!(read("angle.txt"), b"\x80 {{ kept }}\n");
}

/// `assert` as Ansible 2.19: `that` is evaluated as conditionals, not
/// templated as an argument first (a lookup's term templates are the
/// lookup's), and a condition inside `{{ }}` is reported as deprecated.
#[test]
fn assert_conditions_and_their_deprecations() {
    let play = r#"
- hosts: a
  gather_facts: false
  tasks:
    - assert:
        that: "{{ true }}"
      register: wrapped
    - assert:
        that: '{{ thats }}'
      vars:
        thats: ['{{ 1 == 1 }}', '2 == 2']
      register: listed
    - assert:
        that: lookup('nonesuch', '{{ never_defined }}') == 1
      ignore_errors: true
      register: missing
    - assert:
        that:
          - wrapped.deprecations | length == 1
          - wrapped.deprecations[0].msg is contains 'should not be surrounded by templating delimiters'
          - listed.deprecations | length == 1
          - missing.msg is contains "The lookup plugin 'nonesuch' was not found."
          - (false | ternary(never_defined, 'seven')) == 'seven'
"#;
    let (o, _dir) = run(play, &[], &["-l", "a"]);
    ok(&o);
}

/// Loop items written in the playbook keep their trust: `that: "{{ item }}"`
/// evaluates an item as the expression it is; an item that was a template
/// where it was written, rendered to text, is refused as a condition.
#[test]
fn loop_items_keep_the_trust_of_where_they_were_written() {
    let play = r#"
- hosts: a
  gather_facts: false
  tasks:
    - assert:
        that: '{{ item }}'
      loop: ["1 == 1", "1 == 42"]
      ignore_errors: true
      register: cond
    - assert: '{{ item }}'
      loop:
        - that: |
            "hi" == '{{ "hi" }}'
        - that: '{{ 1 == 1 }}'
      ignore_errors: true
      register: splat
    - assert:
        that:
          - cond.results[0] is success
          - cond.results[1] is failed
          - cond.results[1].msg is contains 'Assertion failed'
          - splat.results[0].msg is contains 'untrusted'
          - splat.results[1] is success
"#;
    let (o, _dir) = run(play, &[], &["-l", "a"]);
    ok(&o);
}

#[test]
fn meta_end_batch_ends_the_serial_batch_not_the_play() {
    let (out, _dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  serial: 1
  tasks:
    - debug: msg="one {{ inventory_hostname }}"
    - meta: end_batch
      when: inventory_hostname == 'a'
    - debug: msg="two {{ inventory_hostname }}"
- hosts: a,b
  gather_facts: no
  tasks:
    - meta: end_batch
    - debug: msg=never
- hosts: a
  gather_facts: no
  tasks:
    - debug: msg=next_play
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    for seen in ["one a", "one b", "two b", "next_play"] {
        assert!(
            text.contains(&format!("\"msg\": \"{seen}\"")),
            "{seen}: {text}"
        );
    }
    for unseen in ["two a", "never"] {
        assert!(
            !text.contains(&format!("\"msg\": \"{unseen}\"")),
            "{unseen}: {text}"
        );
    }
    // As Ansible: the meta task's header, and `skipping` for the batch
    // whose host's condition is false.
    assert!(text.contains("TASK [meta]"), "{text}");
    assert!(text.contains("skipping: [b]"), "{text}");
}

#[test]
fn meta_refresh_inventory_runs_a_dynamic_inventory_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = dir.path().join("inv.sh");
    // Lists h1, then h1 and h2 once `second` exists.
    std::fs::write(
        &inv,
        r#"#!/bin/sh
d=$(dirname "$0")
if [ "$1" = "--list" ]; then
  if [ -f "$d/second" ]; then
    echo '{"web": {"hosts": ["h1", "h2"]}, "_meta": {"hostvars": {"h1": {"ansible_connection": "local"}, "h2": {"ansible_connection": "local"}}}}'
  else
    echo '{"web": {"hosts": ["h1"]}, "_meta": {"hostvars": {"h1": {"ansible_connection": "local"}}}}'
  fi
else echo '{}'; fi
"#,
    )
    .expect("inventory");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&inv, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(
        dir.path().join("play.yml"),
        r#"
- hosts: web
  gather_facts: no
  tasks:
    - command: touch {{ playbook_dir }}/second
    - meta: refresh_inventory
    - debug: msg="still play 1 on {{ inventory_hostname }}"
- hosts: web
  gather_facts: no
  tasks:
    - debug: msg="play 2 on {{ inventory_hostname }}"
"#,
    )
    .expect("play");
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i", "inv.sh", "play.yml"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tend");
    ok(&out);
    let text = stdout(&out);
    // The running play keeps its hosts; the next one sees the new inventory.
    assert!(text.contains("\"msg\": \"still play 1 on h1\""), "{text}");
    assert!(!text.contains("still play 1 on h2"), "{text}");
    assert!(text.contains("\"msg\": \"play 2 on h1\""), "{text}");
    assert!(text.contains("\"msg\": \"play 2 on h2\""), "{text}");
}

#[test]
fn hosts_that_no_task_counted_are_left_out_of_the_recap() {
    let (out, _dir) = run(
        r#"
- hosts: a,b
  gather_facts: no
  tasks:
    - meta: end_play
    - debug: msg=never
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    let recap = &text[text.find("PLAY RECAP").expect("recap")..];
    // As Ansible: the banner, and no row for a host nothing was counted for.
    assert!(!recap.contains(" : ok="), "{text}");
    assert!(text.contains("TASK [meta]"), "{text}");
}

#[test]
fn end_play_and_end_batch_in_an_included_handler_file_end_them() {
    let (out, _dir) = run(
        r#"
- hosts: a,b
  gather_facts: false
  tasks:
    - name: notify both
      command: "true"
      notify: [h, later]
    - meta: flush_handlers
    - debug: msg=after_flush
  handlers:
    - name: h
      include_tasks: h.yml
    - name: later
      debug: msg=later_handler
- hosts: a,b
  gather_facts: no
  serial: 1
  tasks:
    - command: "true"
      notify: hb
    - meta: flush_handlers
    - debug: msg="after_flush2 {{ inventory_hostname }}"
  handlers:
    - name: hb
      include_tasks: hb.yml
- hosts: a,b
  gather_facts: no
  tasks:
    - command: "true"
      notify: dropped
    - meta: end_play
  handlers:
    - name: dropped
      debug: msg=dropped_handler
- hosts: a,b
  gather_facts: no
  serial: 1
  tasks:
    - command: "true"
      notify: dropped
    - meta: end_batch
  handlers:
    - name: dropped
      debug: msg=dropped_handler
- hosts: a
  gather_facts: no
  tasks:
    - debug: msg=next_play
"#,
        &[
            (
                "h.yml",
                "- debug: msg=handler_file\n- meta: end_play\n- debug: msg=not_reached\n",
            ),
            (
                "hb.yml",
                "- debug: msg=\"hb {{ inventory_hostname }}\"\n- meta: end_batch\n",
            ),
        ],
        &["--force-handlers"],
    );
    ok(&out);
    let text = stdout(&out);
    // As ansible-core 2.19: the meta task of the handler's file ends the
    // play (or the batch) for every host; the handlers after it, the rest
    // of the play and the notified handlers (even with --force-handlers)
    // do not run.
    let expected = [
        ("handler_file", 2),
        ("hb a", 1),
        ("hb b", 1),
        ("next_play", 1),
        ("not_reached", 0),
        ("later_handler", 0),
        ("after_flush", 0),
        ("after_flush2 a", 0),
        ("dropped_handler", 0),
    ];
    for (m, n) in expected {
        assert_eq!(count_msgs(&text, m), n, "{m}: {text}");
    }
    assert!(text.contains("RUNNING HANDLER [meta]"), "{text}");
}

#[test]
fn delegated_vars_follow_a_delegate_to_that_depends_on_the_item() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: false
  tasks:
    - debug:
        msg: "{{ item }}:{{ ansible_delegated_vars.keys() | list | join(',') }}:{{ ansible_delegated_vars[item].inventory_hostname }}"
      delegate_to: "{{ item }}"
      loop: [b, c]
    - debug:
        msg: "after:{{ ansible_delegated_vars | default('none') }}"
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    // As ansible-core 2.19: each item's delegate, rendered with the item.
    for (m, n) in [("b:b:b", 1), ("c:c:c", 1), ("after:none", 1)] {
        assert_eq!(count_msgs(&text, m), n, "{m}: {text}");
    }
}

#[test]
fn tags_in_tags_that_nothing_has_are_warned_about() {
    let play = r#"
- hosts: a
  gather_facts: false
  tags: [playtag]
  tasks:
    - block:
        - debug: msg=in_block
      tags: blocktag
    - include_tasks: inc.yml
      tags: inctag
  handlers:
    - name: h
      debug: msg=h
      tags: handlertag
"#;
    let files = [("inc.yml", "- debug: msg=inner\n  tags: innertag\n")];
    let warning = |tag: &str| {
        format!(
            "warning: --tags `{tag}`: no play, role, block or task of the playbook has this tag, it selects nothing"
        )
    };
    let tags = "--tags=playtag,blocktag,inctag,innertag,handlertag,always,never,tagged,untagged,all,nosuch";
    let (out, _dir) = run(play, &files, &[tags]);
    ok(&out);
    let all = all_output(&out);
    assert_eq!(all.matches("warning: --tags").count(), 1, "{all}");
    assert!(all.contains(&warning("nosuch")), "{all}");
    // A tag known only when the play runs: no warning.
    let templated = play.replace("tags: blocktag", "tags: \"{{ 'blocktag' }}\"");
    let (out, _dir) = run(&templated, &files, &[tags]);
    ok(&out);
    assert!(
        !all_output(&out).contains("warning: --tags"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn import_include_and_role_loops_are_compile_errors() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: false
  roles: [x]
  tasks:
    - import_tasks: a.yml
    - include_tasks: c.yml
    - include_role:
        name: z
- import_playbook: again.yml
"#,
        &[
            ("a.yml", "- import_tasks: b.yml\n"),
            ("b.yml", "- debug: msg=b\n- import_tasks: a.yml\n"),
            ("c.yml", "- include_tasks: c.yml\n  when: false\n"),
            ("again.yml", "- import_playbook: again.yml\n"),
            ("roles/x/meta/main.yml", "dependencies: [y]\n"),
            ("roles/x/tasks/main.yml", "- debug: msg=x\n"),
            ("roles/y/meta/main.yml", "dependencies:\n  - role: x\n"),
            (
                "roles/z/tasks/main.yml",
                "- include_role:\n    name: z\n  when: false\n",
            ),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", all_output(&out));
    let all = all_output(&out);
    // Role files are shown with the roles directory's full path.
    for (message, at) in [
        (
            "import_tasks: `a.yml` imports itself (import loop)",
            " b.yml:2:17",
        ),
        (
            "include_tasks: `c.yml` includes itself (include loop): a recursive include is not supported yet",
            " c.yml:1:18",
        ),
        (
            "import_playbook: `again.yml` imports itself (import loop)",
            " again.yml:1:20",
        ),
        (
            "role `x` depends on itself (dependency loop)",
            "/roles/y/meta/main.yml:2:11",
        ),
        (
            "include_role: role `z` includes itself (include loop): a recursive include is not supported yet",
            "/roles/z/tasks/main.yml:2:5",
        ),
    ] {
        let expected = format!("error: {message}\n --> ");
        let found = all
            .find(&expected)
            .unwrap_or_else(|| panic!("{message}\n{all}"));
        let location = all[found + expected.len() - 1..]
            .lines()
            .next()
            .unwrap_or("");
        assert!(location.ends_with(at), "{message}: {location}");
    }
    assert!(
        all.contains("5 errors found; no host was contacted."),
        "{all}"
    );
}

#[test]
fn play_connection_wins_over_dash_c_but_not_over_the_inventory() {
    let (out, _dir) = run(
        r#"
- hosts: far,pinned
  gather_facts: false
  connection: "{{ 'lo' + 'cal' }}"
  tasks:
    - command: echo ran_on_{{ inventory_hostname }}
      register: r
    - debug:
        msg: "{{ r.stdout }} {{ ansible_connection }}"
"#,
        &[(
            "remote.ini",
            "far ansible_host=192.0.2.1 ansible_user=nobody\npinned ansible_connection=telnet\n",
        )],
        &["-i", "remote.ini", "-c", "ssh"],
    );
    let text = stdout(&out);
    // As Ansible: `far` (no ansible_connection) runs locally although its
    // address is unreachable and -c says ssh; `pinned` keeps its own.
    assert_eq!(count_msgs(&text, "ran_on_far local"), 1, "{text}");
    assert!(
        text.contains("connection type `telnet` is not supported yet"),
        "{text}"
    );
    assert!(
        text.contains("far                        : ok=2    changed=1 "),
        "{text}"
    );
}

#[test]
fn dict_vars_and_password_lookups_as_ansible() {
    let (out, dir) = run(
        r#"
- hosts: a
  gather_facts: false
  vars:
    d: {x: 1, y: two}
    myv: hello
  tasks:
    - debug:
        msg: "{{ lookup('dict', d) | map(attribute='key') | join('+') }}={{ query('dict', d)[1].value }}"
    - debug:
        msg: "{{ lookup('vars', 'myv') }}:{{ lookup('vars', 'nosuch', default='dflt') }}:{{ lookup('vars', 'myv', 'myv') }}"
    - set_fact:
        first: "{{ lookup('password', 'secrets/pw length=12') }}"
        digits: "{{ lookup('password', 'secrets/pin length=6 chars=digits') }}"
    - debug:
        msg: "same={{ first == lookup('password', 'secrets/pw length=12') }} len={{ first | length }} pin={{ digits is match('^[0-9]{6}$') }}"
    - debug:
        msg: "{{ lookup('vars', 'nosuch') }}"
      ignore_errors: true
    - debug:
        msg: "{{ lookup('password', 'other encrypt=sha512_crypt') }}"
      ignore_errors: true
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    for m in [
        "x+y=two",
        "hello:dflt:hello,hello",
        "same=True len=12 pin=True",
    ] {
        assert_eq!(count_msgs(&text, m), 1, "{m}: {text}");
    }
    assert!(
        text.contains("No variable named 'nosuch' was found."),
        "{text}"
    );
    assert!(
        text.contains("password lookup: `encrypt` is not supported yet"),
        "{text}"
    );
    // The password is kept in the file (one line, only its owner may read it).
    use std::os::unix::fs::PermissionsExt;
    let pw = dir.path().join("secrets/pw");
    let content = std::fs::read_to_string(&pw).expect("password file");
    assert_eq!(content.len(), 13, "{content:?}");
    assert!(content.ends_with('\n'), "{content:?}");
    let mode = std::fs::metadata(&pw).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second run reads it back.
    let first = content.trim_end().to_string();
    std::fs::write(&pw, format!("{first} salt=abc\n")).expect("rewrite");
    let play = format!(
        "- hosts: a\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"again={{{{ lookup('password', '{}') }}}}\"\n",
        pw.display()
    );
    let (out, _dir2) = run(&play, &[], &[]);
    ok(&out);
    assert_eq!(
        count_msgs(&stdout(&out), &format!("again={first}")),
        1,
        "{}",
        stdout(&out)
    );
}

#[test]
fn rescue_sees_the_failed_task_and_result_and_the_recap_counts_it() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: false
  tasks:
    - name: guarded
      block:
        - name: breaks
          command: /bin/false
      rescue:
        - debug:
            msg: "rescued {{ ansible_failed_task.name }} rc={{ ansible_failed_result.rc }}"
      always:
        - debug:
            msg: always_ran
"#,
        &[],
        &[],
    );
    ok(&out);
    let text = stdout(&out);
    for m in ["rescued breaks rc=1", "always_ran"] {
        assert_eq!(count_msgs(&text, m), 1, "{m}: {text}");
    }
    assert!(
        text.contains("a                          : ok=2    changed=0    unreachable=0    failed=0    skipped=0    rescued=1    ignored=0"),
        "{text}"
    );
}

#[test]
fn vars_files_take_the_first_alternative_that_exists() {
    let files = [
        ("vars/b.yml", "fv: from_b\n"),
        ("vars/os_linux.yml", "fv2: from_linux\n"),
    ];
    let play = r#"
- hosts: a
  gather_facts: false
  vars:
    osname: linux
  vars_files:
    - [vars/missing.yml, "vars/{{ osname }}_none.yml", "os_{{ osname }}.yml"]
    - vars/b.yml
  tasks:
    - debug:
        msg: "{{ fv }} {{ fv2 }}"
"#;
    let (out, _dir) = run(play, &files, &[]);
    ok(&out);
    // As Ansible: names are looked up under the playbook's vars/ too.
    assert_eq!(
        count_msgs(&stdout(&out), "from_b from_linux"),
        1,
        "{}",
        stdout(&out)
    );
    // None exists: the play fails, naming them.
    let (out, _dir) = run(&play.replace("os_{{ osname }}", "nope"), &files, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        all_output(&out).contains(
            "play.yml:7:8: vars_files: vars file vars/missing.yml, vars/linux_none.yml, nope.yml was not found"
        ),
        "{}",
        all_output(&out)
    );
    // A name that needs host variables is read per host.
    let host_files = [files[0], files[1], ("vars/a.yml", "fv2: from_host_a\n")];
    let (out, _dir) = run(
        &play.replace("{{ osname }}_none", "{{ inventory_hostname }}"),
        &host_files,
        &[],
    );
    ok(&out);
    assert_eq!(
        count_msgs(&stdout(&out), "from_b from_host_a"),
        1,
        "{}",
        stdout(&out)
    );
}

#[test]
fn vars_files_named_after_facts_are_read_once_facts_are_known() {
    let files = [
        (
            "vars/Linux.yml",
            "kernel_family: linux-file\nshared: from_os\n",
        ),
        ("vars/common.yml", "shared: from_common\n"),
    ];
    let play = r#"
- hosts: a
  gather_facts: true
  vars_files:
    - vars/common.yml
    - "vars/{{ ansible_system }}.yml"
  tasks:
    - debug:
        msg: "{{ kernel_family }} {{ shared }} {{ hostvars[inventory_hostname].shared | default('not in hostvars') }}"
"#;
    let (out, _dir) = run(play, &files, &[]);
    ok(&out);
    // The later file wins, as the list's order says; play-level files are
    // not in hostvars (Ansible 2.19).
    assert_eq!(
        count_msgs(&stdout(&out), "linux-file from_os not in hostvars"),
        1,
        "{}",
        all_output(&out)
    );
    // Before facts are gathered the entry is skipped, with Ansible's warning.
    assert!(
        all_output(&out).contains("skipping vars_files item due to an undefined variable"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn force_handlers_runs_an_include_tasks_handler_on_a_failed_host() {
    let (out, _dir) = run(
        r#"
- hosts: a
  gather_facts: false
  tasks:
    - command: echo
      notify: handler
    - name: breaks
      fail:
  handlers:
    - name: handler
      include_tasks: h.yml
"#,
        &[("h.yml", "- debug:\n    msg: included handler ran\n")],
        &["--force-handlers"],
    );
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert_eq!(count_msgs(&text, "included handler ran"), 1, "{text}");
    assert!(
        text.contains(
            "a                          : ok=3    changed=1    unreachable=0    failed=1 "
        ),
        "{text}"
    );
}

#[test]
fn block_keywords_reach_its_tasks() {
    let (out, _dir) = run(
        r#"
- hosts: a,b
  gather_facts: false
  tasks:
    - block:
        - command: echo {{ who }}
          register: r
        - debug:
            msg: "{{ r.stdout }} on {{ inventory_hostname }}"
        - fail:
            msg: broken
        - debug:
            msg: after_fail
      delegate_to: c
      vars:
        who: block_var
      when: inventory_hostname == 'a'
      ignore_errors: true
      tags: [blk]
    - debug:
        msg: untagged_after
"#,
        &[],
        &["-t", "blk"],
    );
    ok(&out);
    let text = stdout(&out);
    // As ansible-core 2.19: delegated to c, the block's vars, its `when`
    // per host, its failure ignored, its tag selecting every task.
    for m in ["block_var on a", "after_fail"] {
        assert_eq!(count_msgs(&text, m), 1, "{m}: {text}");
    }
    assert_eq!(count_msgs(&text, "untagged_after"), 0, "{text}");
    assert!(text.contains("changed: [a -> c]"), "{text}");
    assert!(text.contains("fatal: [a -> c]: FAILED!"), "{text}");
    assert_eq!(text.matches("skipping: [b]").count(), 4, "{text}");
    assert!(text.contains("ignored=1"), "{text}");
}

#[test]
fn a_task_connection_is_used_unless_the_inventory_sets_one() {
    let (out, _dir) = run(
        r#"
- hosts: pinned,near
  gather_facts: false
  tasks:
    - command: echo {{ inventory_hostname }}
      connection: "{{ 'lo' + 'cal' }}"
    - block:
        - command: echo in_block
      connection: local
"#,
        &[(
            "hosts2.ini",
            "pinned ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\nnear ansible_host=192.0.2.1 ansible_port=1 ansible_user=nobody\n",
        )],
        &["-i", "hosts2.ini"],
    );
    let text = stdout(&out);
    // As Ansible: `near` runs on the controller; `pinned` keeps the
    // inventory's ssh (nothing listens there: unreachable).
    assert!(
        text.contains("near                       : ok=2    changed=2    unreachable=0"),
        "{text}"
    );
    assert!(text.contains("fatal: [pinned]: UNREACHABLE!"), "{text}");
}

#[test]
fn gather_timeout_ends_a_gathering_that_takes_longer() {
    // An executable local fact that takes 5 s: gather_timeout 1 ends the
    // play's gathering (the host fails) and a setup task's (ignored here).
    let facts = tempfile::tempdir().unwrap();
    let slow = facts.path().join("slow.fact");
    std::fs::write(&slow, "#!/bin/sh\nsleep 5\necho '{}'\n").unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let (out, dir) = run(
        r#"
- hosts: b
  gather_facts: no
  tasks:
    - setup:
        gather_timeout: 1
        fact_path: "{{ slow }}"
      register: r
      ignore_errors: true
    - copy: {dest: "{{ work }}/out.json", content: "{{ r | to_json }}"}
- hosts: a
  gather_timeout: 1
  fact_path: "{{ slow }}"
  tasks:
    - debug: msg=never
"#,
        &[],
        &["-e", &format!("slow={}", facts.path().display())],
    );
    // Two gatherings of a second each, not of 5 s.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let fatal = text
        .lines()
        .find_map(|l| l.strip_prefix("fatal: [a]: FAILED! => "))
        .unwrap_or_else(|| panic!("no failure for a: {text}"));
    let fatal: Value = serde_json::from_str(fatal).unwrap();
    assert_eq!(
        fatal["msg"],
        "The following modules failed to execute: ansible.legacy.setup."
    );
    assert_eq!(
        fatal["failed_modules"]["ansible.legacy.setup"]["msg"],
        "Timeout exceeded"
    );
    assert!(!text.contains("never"), "{text}");
    let r = json_file(dir.path(), "out.json");
    assert_eq!(r["failed"], true);
    assert_eq!(r["msg"], "Timeout exceeded");
}

#[test]
fn setup_keywords_the_run_cannot_honour_are_compile_errors() {
    let (out, _dir) = run(
        "- hosts: a\n  gather_timeout: soon\n  tasks: []\n",
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(4));
    let err = all_output(&out);
    assert!(
        err.contains("`gather_timeout` must be an integer number of seconds, got `'soon'`")
            && err.contains("play.yml:2:19"),
        "{err}"
    );
    let (out, _dir) = run(
        "- hosts: a\n  gather_facts: no\n  tasks:\n    - setup:\n      delegate_to: b\n      delegate_facts: true\n",
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(4));
    let err = all_output(&out);
    assert!(
        err.contains("`delegate_facts` on a `setup` task is not supported yet")
            && err.contains("play.yml:4:7"),
        "{err}"
    );
}
