//! Integration tests: the `tend` binary on the example playbooks and inventories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tend(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run tend")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn recap_line(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with("localhost "))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn three_mistakes_are_all_reported_with_positions_and_no_host_is_contacted() {
    let out = tend(
        &["playbook", "-i", "localhost,", "three_mistakes.yml"],
        &root().join("tests/fixtures"),
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(
        !text(&out.stdout).contains("PLAY ["),
        "nothing may run: {}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    let expected_module = "\
error: couldn't resolve module/action `cpy`
 --> three_mistakes.yml:5:7
  |
5 |       cpy:
  |       ^^^ did you mean `copy`?
";
    assert!(stderr.contains(expected_module), "{stderr}");
    let expected_arg_head =
        "error: file: unsupported parameter `colour`; supported parameters include: ";
    assert!(stderr.contains(expected_arg_head), "{stderr}");
    let expected_arg_snippet = "\
  --> three_mistakes.yml:13:9
   |
13 |         colour: blue
   |         ^^^^^^
";
    assert!(stderr.contains(expected_arg_snippet), "{stderr}");
    let expected_notify = "\
error: the task notifies `Restart nginx`, but this play has no handler with that name or `listen` topic
  --> three_mistakes.yml:17:15
   |
17 |       notify: Restart nginx
   |               ^^^^^^^^^^^^^ no such handler
";
    assert!(stderr.contains(expected_notify), "{stderr}");
    assert!(
        stderr.ends_with("3 errors found; no host was contacted.\n"),
        "{stderr}"
    );
}

#[test]
fn syntax_check_passes_on_the_demo() {
    let out = tend(
        &[
            "playbook",
            "--syntax-check",
            "-i",
            "inventory/local.ini",
            "playbooks/demo.yml",
        ],
        &root(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("playbook: playbooks/demo.yml"));
}

#[test]
fn demo_converges_then_is_idempotent_and_plan_shows_exact_diff() {
    let dir = tempfile::tempdir().unwrap();
    let demo_root = dir.path().join("demo root");
    let ev = format!("{{\"demo_root\": \"{}\"}}", demo_root.display());
    let args = [
        "playbook",
        "-i",
        "inventory/local.ini",
        "playbooks/demo.yml",
        "-e",
        ev.as_str(),
    ];
    let first = tend(&args, &root());
    let stdout = text(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&first.stderr)
    );
    assert!(recap_line(&stdout).contains("failed=0"), "{stdout}");
    assert!(!recap_line(&stdout).contains("changed=0"), "{stdout}");
    let conf = demo_root.join("etc/app.conf");
    let content = std::fs::read_to_string(&conf).unwrap();
    assert!(
        content.contains("workers = 4\nlog_level = info\nfeature.gzip = on\nfeature.cache = on\n"),
        "{content}"
    );
    assert_eq!(
        std::fs::read_to_string(demo_root.join("etc/environment")).unwrap(),
        "LOG_LEVEL=debug\n"
    );
    assert_eq!(
        std::fs::read_to_string(demo_root.join("etc/maintenance.conf")).unwrap(),
        "# BEGIN TEND MANAGED BLOCK\n[maintenance]\nwindow = sunday 03:00\n# END TEND MANAGED BLOCK\n"
    );
    assert_eq!(
        std::fs::read_to_string(demo_root.join("srv/www/robots.txt")).unwrap(),
        "User-agent: *\nDisallow: /private/\n"
    );
    assert_eq!(
        std::fs::read_to_string(demo_root.join("log/reloads"))
            .unwrap()
            .lines()
            .count(),
        1
    );

    let second = tend(&args, &root());
    let stdout = text(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{stdout}");
    assert!(recap_line(&stdout).contains("changed=0"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(demo_root.join("log/reloads"))
            .unwrap()
            .lines()
            .count(),
        1,
        "handler must not run again"
    );

    // Someone edits a managed file; `tend plan` shows exactly that and changes nothing.
    let edited = content.replace("workers = 4", "workers = 64");
    std::fs::write(&conf, &edited).unwrap();
    let plan_args = [
        "plan",
        "-i",
        "inventory/local.ini",
        "playbooks/demo.yml",
        "-e",
        ev.as_str(),
    ];
    let plan = tend(&plan_args, &root());
    let stdout = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "changes pending: {stdout}");
    let path = conf.display().to_string();
    let expected = format!(
        "--- before: {path}\n+++ after: app.conf.j2\n@@ -2,7 +2,7 @@\n [app]\n name = hello\n listen = 0.0.0.0:8080\n-workers = 64\n+workers = 4\n log_level = info\n feature.gzip = on\n feature.cache = on\n"
    );
    assert!(
        stdout.contains(&expected),
        "expected diff:\n{expected}\nin:\n{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        edited,
        "plan must not change anything"
    );
}

#[test]
fn bad_options_exit_5() {
    let out = tend(&["playbook", "--no-such-flag", "x.yml"], &root());
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn delegate_to_localhost_sequences_and_looped_includes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let ev = format!("out={out}");
    let run = tend(
        &[
            "playbook",
            "-i",
            "web.ini",
            "delegate_and_loops.yml",
            "-e",
            ev.as_str(),
        ],
        &root().join("tests/fixtures"),
    );
    let stdout = text(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&run.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("web1-delegated")).unwrap(),
        "frontend\n"
    );
    for n in ["01", "02", "03"] {
        assert!(dir.path().join(format!("seq-{n}")).exists(), "seq-{n}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("inc-a")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("inc-b")).unwrap(),
        "b\n"
    );
    assert!(stdout.contains("included: "), "{stdout}");
    assert!(
        stdout.contains("inc_item.yml for web1 => (item=a)\n"),
        "{stdout}"
    );
    let recap = stdout
        .lines()
        .find(|l| l.starts_with("web1 "))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        recap,
        "web1 : ok=6 changed=4 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0"
    );
}

#[test]
fn a_task_past_its_timeout_fails_and_the_play_goes_on() {
    let run = tend(
        &["playbook", "-i", "web.ini", "timeout.yml"],
        &root().join("tests/fixtures"),
    );
    let stdout = text(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&run.stderr)
    );
    assert!(
        stdout.contains("Task failed: Timed out after 1 second(s)."),
        "{stdout}"
    );
    let recap = stdout
        .lines()
        .find(|l| l.starts_with("web1 "))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        recap,
        "web1 : ok=2 changed=0 unreachable=0 failed=0 skipped=0 rescued=0 ignored=1"
    );
}

#[test]
fn connection_options_on_the_command_line() {
    // `-c local` overrides the default (ssh) for a host whose inventory says nothing.
    let dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", dir.path().display());
    let run = tend(
        &[
            "playbook",
            "-i",
            "web_ssh.ini",
            "-c",
            "local",
            "delegate_and_loops.yml",
            "-e",
            ev.as_str(),
        ],
        &root().join("tests/fixtures"),
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    assert!(dir.path().join("web1-delegated").exists());
    // SSH password prompts are refused up front, like any bad option.
    let run = tend(
        &[
            "playbook",
            "-i",
            "web_ssh.ini",
            "-k",
            "delegate_and_loops.yml",
        ],
        &root().join("tests/fixtures"),
    );
    assert_eq!(run.status.code(), Some(5));
    assert!(
        text(&run.stderr).contains("SSH password prompts (-k/--ask-pass) are not supported yet")
    );
}

#[test]
fn an_undefined_variable_names_the_variable_the_host_and_the_place() {
    let run = tend(
        &["playbook", "-i", "web.ini", "undefined.yml"],
        &root().join("tests/fixtures"),
    );
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("fatal: [web1]: FAILED! => {\"changed\": false, \"msg\": \"Task failed: Error while evaluating conditional: 'not_defined_anywhere' is undefined (in undefined.yml:7:13)\"}"),
        "{stdout}"
    );
}

#[test]
fn script_and_unarchive_sources_are_checked_before_any_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: localhost
  gather_facts: no
  tasks:
    - script: missing.sh --flag
    - unarchive:
        src: missing.tgz
        dest: /tmp
    - unarchive:
        src: /on/the/host.tgz
        dest: /tmp
        remote_src: yes
",
    )
    .unwrap();
    let out = tend(&["playbook", "-i", "localhost,", "site.yml"], dir.path());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: could not find src file `missing.sh`\n --> site.yml:4:7"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: could not find src file `missing.tgz`\n --> site.yml:6:9"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("2 errors found; no host was contacted.\n"),
        "{stderr}"
    );
}

#[test]
fn script_and_fetch_run_on_the_local_connection() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("hello.sh"), "#!/bin/sh\necho \"hello $1\"\n").unwrap();
    std::fs::write(dir.path().join("data.txt"), "data\n").unwrap();
    std::fs::write(
        dir.path().join("inv"),
        "localhost ansible_connection=local\n",
    )
    .unwrap();
    let data = dir.path().join("data.txt");
    std::fs::write(
        dir.path().join("site.yml"),
        format!(
            "- hosts: localhost
  gather_facts: no
  tasks:
    - script: hello.sh world
      register: s
    - assert:
        that: s.stdout_lines == ['hello world']
    - fetch:
        src: {}
        dest: out/x.txt
        flat: yes
",
            data.display()
        ),
    )
    .unwrap();
    let out = tend(&["playbook", "-i", "inv", "site.yml"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        recap_line(&text(&out.stdout)).contains("changed=2"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/x.txt")).unwrap(),
        "data\n"
    );
    let out = tend(&["playbook", "-i", "inv", "site.yml"], dir.path());
    assert!(
        recap_line(&text(&out.stdout)).contains("changed=1"),
        "{}",
        text(&out.stdout)
    );
}

/// Writes `site.yml` into `dir`, runs it (it must not compile: exit 4) and
/// returns stderr.
fn compile_errors(dir: &std::path::Path, site: &str) -> String {
    std::fs::write(dir.join("site.yml"), site).unwrap();
    let run = tend(&["playbook", "-i", "localhost,", "site.yml"], dir);
    assert_eq!(run.status.code(), Some(4), "{}", text(&run.stdout));
    text(&run.stderr)
}

#[test]
fn an_ansible_module_tend_lacks_is_named_not_supported_yet() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = compile_errors(
        dir.path(),
        "- hosts: localhost\n  tasks:\n    - ansible.builtin.reboot:\n    - dnf: name=httpd\n",
    );
    assert!(
        stderr.contains(
            "error: module `ansible.builtin.reboot` is not supported yet\n --> site.yml:3:7\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: module `dnf` is not supported yet"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 errors found; no host was contacted."),
        "{stderr}"
    );
}

/// Runs `start_at/site.yml` with these arguments; the tasks it logged.
fn start_at_run(args: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", dir.path().display());
    let mut all = vec!["playbook", "-i", "web.ini", "site.yml", "-e", ev.as_str()];
    all.extend_from_slice(args);
    let out = tend(&all, &root().join("tests/fixtures/start_at"));
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    (out, log.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[test]
fn start_at_task_skips_to_the_first_match_as_ansible_does() {
    // (pattern, the tasks that run): checked against ansible-playbook 2.19.
    let cases = [
        // The role-prefixed name, as a glob; earlier plays run nothing,
        // later plays run whole.
        (
            "logrole : role t*",
            "role-two after-role block always imported included handler p3",
        ),
        // The bare name of a role's task matches too.
        (
            "role one",
            "role-one role-two after-role block always imported included handler p3",
        ),
        (
            "after*",
            "after-role block always imported included handler p3",
        ),
        // Into a block's `always`, and an imported file.
        ("in always", "always imported included p3"),
        ("imported task", "imported included p3"),
        // An include itself can be the start.
        ("include", "included p3"),
    ];
    for (pattern, expected) in cases {
        let (out, log) = start_at_run(&["--start-at-task", pattern]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{pattern}: {}",
            text(&out.stdout)
        );
        assert_eq!(log, expected, "{pattern}");
        assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    }
    let (out, log) = start_at_run(&["--start-at-task", "in always"]);
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("TASK [in block]"), "{stdout}");
    assert!(stdout.contains("TASK [in always]"), "{stdout}");
    assert_eq!(log, "always imported included p3");
}

#[test]
fn start_at_task_cannot_start_inside_an_include_or_a_rescue() {
    // Ansible reads an include_tasks file only when it runs; a rescue only
    // runs on a failure: neither holds a start, nothing runs, and the run
    // says so on standard error (exit 0, as ansible-playbook).
    for pattern in ["included task", "in rescue", "no such task"] {
        let (out, log) = start_at_run(&["--start-at-task", pattern]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(log, "", "{pattern}");
        let stdout = text(&out.stdout);
        assert_eq!(stdout.matches("PLAY [web]").count(), 3, "{stdout}");
        assert!(!stdout.contains("TASK ["), "{stdout}");
        assert!(
            text(&out.stderr).contains(&format!(
                "No matching task \"{pattern}\" found. Note: --start-at-task can only follow static includes."
            )),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn list_tasks_shows_what_ansible_lists() {
    // --start-at-task does not change the listing (as ansible-playbook);
    // a block's rescue and always and an include's file are not listed.
    let (out, log) = start_at_run(&["--list-tasks", "--start-at-task", "in always"]);
    assert_eq!(log, "");
    assert_eq!(
        text(&out.stdout),
        "
playbook: site.yml

  play #1 (web): web\tTAGS: []
    tasks:
      first play task\tTAGS: []

  play #2 (web): web\tTAGS: []
    tasks:
      logrole : role one\tTAGS: []
      logrole : role two\tTAGS: []
      after role\tTAGS: []
      in block\tTAGS: []
      imported task\tTAGS: []
      include\tTAGS: []

  play #3 (web): web\tTAGS: []
    tasks:
      last play\tTAGS: []
"
    );
}

#[test]
fn step_needs_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(["playbook", "-i", "web.ini", "site.yml", "-e", &ev, "--step"])
        .current_dir(root().join("tests/fixtures/start_at"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tend");
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stderr).contains("--step asks before each task on a terminal"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("log").exists());
}

#[test]
fn step_asks_before_each_task_on_a_terminal() {
    // A pseudo-terminal from util-linux `script`; answers typed ahead.
    let have_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_script {
        eprintln!("skipped: no `script` to make a pseudo-terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // (`timeout`: a question too many would wait for an answer forever.
    // `--foreground`, or timeout moves tend out of the terminal's foreground
    // process group whenever the shell does not exec it, and the first read
    // of the terminal stops tend with SIGTTIN.)
    let cmd = format!(
        "timeout --foreground 60 {} playbook -i web.ini site.yml -e out={} --step --start-at-task 'after role'",
        env!("CARGO_BIN_EXE_tend"),
        dir.path().display()
    );
    // after role: y; in block: n; in always: yes; imported task: N;
    // include: c (yes, and no more questions in this play); the last play
    // asks again: y.
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(root().join("tests/fixtures/start_at"))
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"y\nn\nyes\nN\nc\ny\n").unwrap();
        // Keep the terminal open until tend is done with it.
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    assert_eq!(
        log.split_whitespace().collect::<Vec<_>>(),
        ["after-role", "always", "included", "handler", "p3"],
        "{stdout}"
    );
    for q in [
        "Perform task: TASK: after role (N)o/(y)es/(c)ontinue: ",
        "Perform task: TASK: in block (N)o/(y)es/(c)ontinue: ",
        "Perform task: TASK: include (N)o/(y)es/(c)ontinue: ",
        "Perform task: TASK: last play (N)o/(y)es/(c)ontinue: ",
    ] {
        assert!(stdout.contains(q), "{q}: {stdout}");
    }
    // After `c`, the play's other tasks and its handler run unasked.
    assert!(!stdout.contains("TASK: included task"), "{stdout}");
    assert!(!stdout.contains("HANDLER: log handler"), "{stdout}");
}

#[test]
fn a_python_module_plugin_is_named_as_not_supported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("library")).unwrap();
    std::fs::write(dir.path().join("library/my_mod.py"), "# a module\n").unwrap();
    let stderr = compile_errors(
        dir.path(),
        "- hosts: localhost\n  tasks:\n    - my_mod: a=1\n    - other_mod: b=2\n",
    );
    assert!(
        stderr.contains(
            "error: module `my_mod` is a Python plugin (./library/my_mod.py): Python plugins are not supported\n --> site.yml:3:7\n"
        ),
        "{stderr}"
    );
    // An action with no plugin file stays unresolved, with a note on the directory.
    assert!(
        stderr.contains("error: couldn't resolve module/action `other_mod`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "./library holds Python plugins, which tend does not load: Python plugins are not supported"
        ),
        "{stderr}"
    );
}

#[test]
fn list_hosts_tasks_and_tags_show_what_ansible_shows() {
    let cases = root().join("compat/cases");
    let list = |extra: &[&str]| {
        let mut args = vec!["playbook", "-i", "../inventory.ini", "tags_select.yml"];
        args.extend_from_slice(extra);
        let out = tend(&args, &cases);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // As ansible-core 2.19: --list-tags without tag options takes `never`
    // tasks too (and so does --list-tasks beside it); an unnamed include
    // shows as `include_tasks`.
    assert_eq!(
        list(&["--list-hosts", "--list-tasks", "--list-tags"]),
        "
playbook: tags_select.yml

  play #1 (local): local\tTAGS: [playtag]
    pattern: ['local']
    hosts (1):
      localhost
    tasks:
      debug\tTAGS: [playtag]
      debug\tTAGS: [playtag, web]
      debug\tTAGS: [db, playtag]
      debug\tTAGS: [db, playtag, web]
      debug\tTAGS: [always, playtag]
      debug\tTAGS: [never, playtag]
      debug\tTAGS: [never, never_b, playtag]
      debug\tTAGS: [always, never, playtag]
      debug\tTAGS: [playtag, web]
      debug\tTAGS: [extra, playtag, web]
      include_tasks\tTAGS: [playtag, web]
      debug\tTAGS: [db, playtag]
      command\tTAGS: [db, playtag]
      TASK TAGS: [always, db, extra, never, never_b, playtag, web]
"
    );
    // With tag options, only what they select.
    assert!(
        list(&["--list-tags", "--skip-tags", "web"])
            .ends_with("      TASK TAGS: [always, db, never, playtag]\n")
    );
}

#[test]
fn ignore_unreachable_counts_ok_and_ignored_and_the_host_goes_on() {
    // Nothing listens on loopback port 1: the connection is refused.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inv.ini"),
        "[g]\ndead ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_common_args='-o ConnectTimeout=2'\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("play.yml"),
        "- hosts: g\n  gather_facts: no\n  tasks:\n    - command: echo one\n      ignore_unreachable: true\n    - command: echo two\n",
    )
    .unwrap();
    let run = tend(&["playbook", "-i", "inv.ini", "play.yml"], dir.path());
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(4), "{stdout}");
    // The first task's unreachable is ignored; the second task is tried
    // (and is unreachable): the host was not dropped after the first.
    assert_eq!(stdout.matches("UNREACHABLE!").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("...ignoring").count(), 1, "{stdout}");
    let recap = stdout
        .lines()
        .find(|l| l.starts_with("dead "))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        recap.contains("ok=1 changed=0 unreachable=1 failed=0 skipped=0 rescued=0 ignored=1"),
        "{stdout}"
    );
}
