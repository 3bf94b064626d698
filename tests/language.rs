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
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args([
            "playbook", "-i", "inv.ini", "play.yml", "-f", "1", "-e", &work,
        ])
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

fn json_file(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("results file");
    serde_json::from_str(&text).expect("json")
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
            why.contains("The conditional check 'no_such_var' failed"),
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
        unsafe_msg.starts_with("The conditional check '1 == 1' failed.")
            && unsafe_msg.contains("Encountered untrusted template or expression."),
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
            .is_some_and(|m| m.starts_with("division by zero")),
        "{r}"
    );
    assert_eq!(r["no_args"], "Hello world!", "{r}");
}
