//! Modules (and the task forms that reach them) on the local connection,
//! end to end: what they return, the facts they set and what they leave on
//! this machine. Each test pins behaviour of
//! ansible-core 2.19 (its integration targets check the same).

use std::process::{Command, Output};

/// Runs `tend playbook` on `play` in a fresh directory against `localhost`
/// on the local connection; returns the output and the directory.
fn run(play: &str) -> (Output, tempfile::TempDir) {
    run_with(play, &[])
}

/// [`run`], with `files` written into the directory first.
fn run_with(play: &str, files: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("file");
    }
    std::fs::write(
        dir.path().join("inv.ini"),
        "localhost ansible_connection=local\n",
    )
    .expect("inventory");
    std::fs::write(dir.path().join("play.yml"), play).expect("play");
    let work = format!("work={}", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i", "inv.ini", "play.yml", "-e", &work])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tend");
    (out, dir)
}

fn ok(o: &Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn getent_sets_facts_as_variables_and_in_ansible_facts() {
    let (out, _dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - getent:
        database: passwd
        key: root
    - assert:
        that:
          - getent_passwd.root[1] == '0'
          - ansible_facts.getent_passwd.root[4] == '/root'
    - getent:
        database: passwd
        key: no-such-user-for-tend
        fail_key: false
      register: missing
    - assert:
        that:
          - missing is not changed
          - missing.msg == 'One or more supplied key could not be found in the database.'
          - "getent_passwd == {'no-such-user-for-tend': None}"
"#);
    ok(&out);
}

#[test]
fn tempfile_creates_a_new_private_file_or_directory_each_run() {
    let (out, dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - tempfile:
        path: "{{ work }}"
        prefix: pre.
        suffix: .txt
      register: f
    - tempfile:
        state: directory
        path: "{{ work }}"
      register: d
    - stat:
        path: "{{ f.path }}"
      register: fs
    - stat:
        path: "{{ d.path }}"
      register: ds
    - assert:
        that:
          - f is changed and d is changed
          - f.path is match(work ~ '/pre\.[^/]{8}\.txt$')
          - d.path is match(work ~ '/ansible\.[^/]{8}$')
          - fs.stat.isreg and fs.stat.mode == '0600'
          - ds.stat.isdir and ds.stat.mode == '0700'
    - tempfile:
        path: "{{ work }}/missing"
      register: bad
      ignore_errors: true
    - assert:
        that:
          - bad is failed
          - "'No such file or directory' in bad.msg"
"#);
    ok(&out);
    let made = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("pre."))
        })
        .count();
    assert_eq!(made, 1);
}

#[test]
fn include_and_import_tasks_take_their_file_as_k_v_text() {
    let (out, _dir) = run_with(
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - include_tasks: file=inc.yml
      vars:
        who: included
    - import_tasks: file=inc.yml
      vars:
        who: imported
    - assert:
        that:
          - seen == ['included', 'imported']
"#,
        &[(
            "inc.yml",
            "- set_fact:\n    seen: \"{{ (seen | default([])) + [who] }}\"\n",
        )],
    );
    ok(&out);
}

#[test]
fn include_vars_free_form_template_is_the_file_name() {
    let (out, _dir) = run_with(
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - include_vars: "{{ lookup('first_found', search) }}"
      vars:
        search:
          files:
            - 'no-such-system.yml'
            - default.yml
          paths:
            - vars
    - assert:
        that:
          - from_default == 'yes'
"#,
        &[("vars/default.yml", "from_default: 'yes'\n")],
    );
    ok(&out);
}

#[test]
fn a_templated_module_name_is_resolved_when_the_task_runs() {
    let (out, _dir) = run(r#"
- hosts: localhost
  gather_facts: false
  vars:
    which: stat
  tasks:
    - action: "{{ which }}"
      args:
        path: "{{ work }}"
      register: st
    - action: "{{ 'no_such_' ~ which }}"
      args:
        path: /
      register: bad
      ignore_errors: true
    - assert:
        that:
          - st.stat.isdir
          - bad is failed
          - "bad.msg is search(\"couldn't resolve module/action 'no_such_stat'\")"
"#);
    ok(&out);
}

#[test]
fn failed_when_judges_an_argument_error_found_at_compile_time() {
    let (out, _dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - group:
        name: tend_never_created
        gid_min: 1000
        local: true
      register: r
      failed_when: not r.failed
    - assert:
        that:
          - r.msg == "'gid_min' can not be used with 'local'"
          - r is not failed
"#);
    ok(&out);
}

#[test]
fn chdir_resolves_symlinks_as_pythons_chdir() {
    let (out, _dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - file: {path: "{{ work }}/real/site", state: directory}
    - file: {path: "{{ work }}/link", src: "{{ work }}/real", state: link}
    - shell: dirname "$PWD"
      args:
        chdir: "{{ work }}/link/site"
      register: via_chdir
    - command: pwd
      args:
        chdir: "{{ work }}/link/site"
      register: pwd
    - assert:
        that:
          - via_chdir.stdout.endswith('/real')
          - pwd.stdout.endswith('/real/site')
"#);
    ok(&out);
}

#[test]
fn a_command_that_leaves_a_process_in_the_background_returns() {
    let start = std::time::Instant::now();
    let (out, _dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - shell: "sleep 20 & echo started; echo oops >&2"
      register: bg
      timeout: 10
    - assert:
        that:
          - bg.stdout == 'started'
          - bg.stderr == 'oops'
"#);
    ok(&out);
    assert!(start.elapsed() < std::time::Duration::from_secs(8));
}

/// A play copying a controller file that does not exist, then `extra` task keywords.
fn copy_missing_src(extra: &str) -> String {
    format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy:\n        src: no_such_file_for_tend\n        dest: \"{{{{ work }}}}/x\"\n{extra}"
    )
}

#[test]
fn a_missing_src_fails_when_the_task_runs_if_it_expects_failure() {
    let (out, _dir) = run(&copy_missing_src(
        r#"      register: r
      ignore_errors: true
    - assert:
        that:
          - r is failed
          - "'no_such_file_for_tend' in r.msg"
"#,
    ));
    ok(&out);
    let (out, _dir) = run(&copy_missing_src(""));
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not find src file"));
}

/// `file: state=link force=yes` replaces an empty directory by the link,
/// and refuses a directory holding anything (a dot file counts).
#[test]
fn a_link_replaces_only_an_empty_directory() {
    let (out, dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - file: path={{ work }}/empty state=directory
    - file: path={{ work }}/dotted state=directory
    - copy: dest={{ work }}/dotted/.hidden content=x
    - file: path={{ work }}/empty src=/tmp state=link force=yes
    - file: path={{ work }}/dotted src=/tmp state=link force=yes
      register: refused
      ignore_errors: true
    - assert:
        that:
          - refused is failed
          - "'is not empty' in refused.msg"
"#);
    ok(&out);
    let empty = dir.path().join("empty");
    assert!(empty.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(dir.path().join("dotted/.hidden").is_file());
}

#[test]
fn file_sets_attributes_and_explicit_times_once() {
    let (out, dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - copy:
        content: "x\n"
        dest: "{{ work }}/f"
    - file:
        path: "{{ work }}/f"
        modification_time: "202202081414.00"
      register: first
      diff: true
    - file:
        path: "{{ work }}/f"
        modification_time: "202202081414.00"
      register: again
      diff: true
    - assert:
        that:
          - first is changed
          - first.diff.after.mtime is defined
          - again is not changed
          - again.diff.after | length == 1
    - command: lsattr -d "{{ work }}/f"
      register: probe
      ignore_errors: true
      changed_when: false
    - block:
        - file:
            path: "{{ work }}/f"
            attributes: +A
          register: add
        - command: lsattr -d "{{ work }}/f"
          register: flags
          changed_when: false
        - file:
            path: "{{ work }}/f"
            attributes: -A
          register: remove
        - assert:
            that:
              - add is changed
              - add.diff is not defined
              - "'A' in flags.stdout.split()[0]"
              - remove is changed
      when: probe is success
"#);
    ok(&out);
    let meta = std::fs::metadata(dir.path().join("f")).expect("f");
    let local = Command::new("date")
        .args(["-d", "2022-02-08 14:14:00", "+%s"])
        .output()
        .expect("date");
    let want: i64 = String::from_utf8_lossy(&local.stdout)
        .trim()
        .parse()
        .expect("epoch");
    assert_eq!(std::os::unix::fs::MetadataExt::mtime(&meta), want);
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

/// `copy` of a controller directory: `src` copies the directory itself,
/// `src/` its content; links to files are copied as files (`local_follow`),
/// or kept as links without it; directories get `directory_mode`; a second
/// run changes nothing.
#[test]
fn copy_copies_a_controller_directory_recursively() {
    let (out, dir) = run_with(
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - file: path=files/tree/empty state=directory
    - file: path=files/tree/sub/link src=../top.txt state=link
    - copy: src=tree dest={{ work }}/out directory_mode=0700
      register: first
    - copy: src=tree dest={{ work }}/out directory_mode=0700
      register: again
    - copy: src=tree/ dest={{ work }}/flat/ local_follow=false mode=0600
      register: flat
    - copy: src=tree/ dest={{ work }}/flat/ local_follow=false mode=0600
      check_mode: true
      register: flat_check
    - assert:
        that:
          - first is changed
          - again is not changed
          - flat is changed
          - flat_check is not changed
          - flat.dest == work + '/flat/'
"#,
        &[
            ("files/tree/top.txt", "top\n"),
            ("files/tree/sub/deep/f.txt", "deep\n"),
        ],
    );
    ok(&out);
    let root = dir.path();
    let out_tree = root.join("out/tree");
    assert_eq!(
        std::fs::read_to_string(out_tree.join("sub/deep/f.txt")).unwrap(),
        "deep\n"
    );
    // Followed: the link became a file with the target's content.
    let link = out_tree.join("sub/link");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&link).unwrap(), "top\n");
    for d in ["", "empty", "sub", "sub/deep"] {
        assert_eq!(mode_of(&out_tree.join(d)), 0o700, "{d}");
    }
    // `src/`: the content only, links kept, files with `mode`.
    let flat = root.join("flat");
    assert!(!flat.join("tree").exists());
    assert_eq!(
        std::fs::read_link(flat.join("sub/link")).unwrap(),
        std::path::PathBuf::from("../top.txt")
    );
    assert_eq!(mode_of(&flat.join("top.txt")), 0o600);
    assert!(flat.join("empty").is_dir());
}

/// `copy` with `remote_src` and a directory: mirrors it (links stay links
/// unless `local_follow`), keeps the source's modes, predicts in check mode
/// and changes nothing the second time.
#[test]
fn copy_copies_a_directory_on_the_target() {
    let (out, dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - file: path={{ work }}/src/sub state=directory
    - copy: content=one dest={{ work }}/src/sub/one mode=0751
    - file: path={{ work }}/src/ln src=sub/one state=link
    - copy: src={{ work }}/src/ dest={{ work }}/dst remote_src=true
      check_mode: true
      register: predicted
    - stat: path={{ work }}/dst
      register: before
    - copy: src={{ work }}/src/ dest={{ work }}/dst remote_src=true
      register: made
    - copy: src={{ work }}/src/ dest={{ work }}/dst remote_src=true
      register: again
    - copy: src={{ work }}/src dest={{ work }}/followed remote_src=true local_follow=true
    - assert:
        that:
          - predicted is changed
          - not before.stat.exists
          - made is changed
          - again is not changed
"#);
    ok(&out);
    let root = dir.path();
    assert_eq!(
        std::fs::read_to_string(root.join("dst/sub/one")).unwrap(),
        "one"
    );
    assert_eq!(mode_of(&root.join("dst/sub/one")), 0o751);
    assert_eq!(
        std::fs::read_link(root.join("dst/ln")).unwrap(),
        std::path::PathBuf::from("sub/one")
    );
    let followed = root.join("followed/src/ln");
    assert!(std::fs::symlink_metadata(&followed).unwrap().is_file());
}

/// A literal `src` that an earlier task creates on the controller is looked
/// for when the task runs; one that nothing creates stays a compile error.
#[test]
fn a_src_made_by_an_earlier_task_is_looked_for_at_run_time() {
    let (out, dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - file: path=made_here state=directory
    - copy: content=x dest=made_here/f
    - copy: src=made_here dest={{ work }}/copied
"#);
    ok(&out);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copied/made_here/f")).unwrap(),
        "x"
    );
}

#[test]
fn command_output_files_are_gone_before_the_command_starts() {
    let (out, dir) = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - file:
        path: "{{ work }}/tmp"
        state: directory
        mode: "0755"
    - shell: echo out; echo err >&2; ls -A "$TMPDIR"
      environment:
        TMPDIR: "{{ work }}/tmp"
      register: r
    - assert:
        that:
          - r.stdout_lines == ['out']
          - r.stderr == 'err'
"#);
    ok(&out);
    let left: Vec<_> = std::fs::read_dir(dir.path().join("tmp"))
        .expect("tmp")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
