//! Integration tests: roles (`roles:`, dependencies, `import_role`,
//! `include_role`) run by the `tend` binary on localhost.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roles")
}

fn tend(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tend"));
    cmd.args(args)
        .current_dir(fixtures())
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_ROLES_PATH")
        .env_remove("ANSIBLE_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run tend")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_ok(playbook: &str, out: &Path, envs: &[(&str, &str)]) -> String {
    run_ok_with_stderr(playbook, out, envs).0
}

/// Runs `playbook` with `out` set, which must succeed: its stdout and stderr.
fn run_ok_with_stderr(playbook: &str, out: &Path, envs: &[(&str, &str)]) -> (String, String) {
    let ev = format!("out={}", out.display());
    let o = tend(
        &["playbook", "-i", "hosts.ini", playbook, "-e", ev.as_str()],
        envs,
    );
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Runs `playbook` on `inventory` with `out` set and `extra` arguments,
/// which must succeed: its stdout.
fn run_on(inventory: &str, playbook: &str, out: &Path, extra: &[&str]) -> String {
    let ev = format!("out={}", out.display());
    let mut args = vec!["playbook", "-i", inventory, playbook, "-e", ev.as_str()];
    args.extend_from_slice(extra);
    let o = tend(&args, &[]);
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", text(&o.stderr));
    stdout
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn roles_run_between_pre_tasks_and_tasks_with_dependencies_once_and_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_ok("site.yml", dir.path(), &[]);
    // pre_tasks and their handlers, then roles (dependencies first, `base`
    // only once, `dup` each time as it allows duplicates, the repeated
    // `roles:` entries with the same params not at all), then tasks, then
    // the role handlers at the end of the section.
    assert_eq!(
        read(dir.path().join("order.log")),
        "pre_task\npre_handler\nbase\ndup\ncommon\ncommon_extra\ndup\nweb\ntask\ncommon_handler\nweb_handler\n"
    );
    assert!(stdout.contains("TASK [common : record common]"), "{stdout}");
    assert!(
        stdout.contains("RUNNING HANDLER [web : restart web]"),
        "{stdout}"
    );
    // Second run: converged; only the shell tasks and their handlers report changes.
    let again = run_ok("site.yml", dir.path(), &[]);
    assert!(again.contains("changed=10"), "{again}");
}

#[test]
fn role_variables_follow_ansible_precedence() {
    let dir = tempfile::tempdir().unwrap();
    run_ok("site.yml", dir.path(), &[]);
    // defaults < inventory < play vars < role vars < task vars; params; magic vars.
    assert_eq!(
        read(dir.path().join("precedence.txt")),
        "d_only=default_value d_vs_inv=inventory d_vs_play=play v_vs_play=role_vars v_vs_task=task param=param_value role_name=common role_dir=common\n"
    );
    // A public role's vars and defaults are seen by the play's tasks too.
    assert_eq!(
        read(dir.path().join("play_sees.txt")),
        "role_vars default_value play\n"
    );
    // Extra vars beat everything.
    let dir2 = tempfile::tempdir().unwrap();
    let ev = format!("out={}", dir2.path().display());
    let o = tend(
        &[
            "playbook",
            "-i",
            "hosts.ini",
            "site.yml",
            "-e",
            ev.as_str(),
            "-e",
            "v_vs_task=extra d_only=extra",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let p = read(dir2.path().join("precedence.txt"));
    assert!(
        p.starts_with("d_only=extra ") && p.contains("v_vs_task=extra "),
        "{p}"
    );
}

#[test]
fn role_files_and_templates_are_searched_before_the_playbooks() {
    let dir = tempfile::tempdir().unwrap();
    run_ok("site.yml", dir.path(), &[]);
    assert_eq!(read(dir.path().join("motd.txt")), "role motd\n");
    assert_eq!(
        read(dir.path().join("only_playbook.txt")),
        "from the playbook's files\n"
    );
    assert_eq!(
        read(dir.path().join("app.conf")),
        "role=common param=param_value\n"
    );
}

#[test]
fn role_tags_are_inherited_by_its_tasks_and_dependencies() {
    let o = tend(
        &["playbook", "-i", "hosts.ini", "site.yml", "--list-tasks"],
        &[],
    );
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
    assert!(
        stdout.contains("      web : record web\tTAGS: [webtag]\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("      common : record common\tTAGS: []\n"),
        "{stdout}"
    );
    let dir = tempfile::tempdir().unwrap();
    let ev = format!("out={}", dir.path().display());
    let o = tend(
        &[
            "playbook",
            "-i",
            "hosts.ini",
            "site.yml",
            "-e",
            &ev,
            "--tags",
            "webtag",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert_eq!(
        read(dir.path().join("order.log")),
        "dup\nweb\nweb_handler\n"
    );
}

#[test]
fn import_role_and_include_role_with_loop_and_roles_path() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_ok(
        "import_include.yml",
        dir.path(),
        &[("ANSIBLE_ROLES_PATH", "/nonexistent:extra_roles")],
    );
    // import_role runs the role's dependencies, then `tasks_from`; the
    // include with `when: false` is skipped; `fromenv` is on the roles path.
    assert_eq!(
        read(dir.path().join("order.log")),
        "first\nbase\ndup\nlooped_a\nlooped_b\nfromenv\n"
    );
    assert_eq!(
        read(dir.path().join("other.txt")),
        "common default_value role_vars\n"
    );
    assert!(stdout.contains("TASK [looped : record item]"), "{stdout}");
    assert!(!stdout.contains("included:"), "{stdout}");
}

#[test]
fn a_missing_role_is_a_compile_error_listing_the_paths_searched() {
    let o = tend(
        &["playbook", "-i", "hosts.ini", "missing_role.yml"],
        &[("ANSIBLE_ROLES_PATH", "/srv/tend-roles")],
    );
    assert_eq!(o.status.code(), Some(4));
    assert!(!text(&o.stdout).contains("PLAY ["), "{}", text(&o.stdout));
    let stderr = text(&o.stderr);
    let expected = "\
error: the role `nosuchrole` was not found
 --> missing_role.yml:4:7
  |
4 |     - nosuchrole
  |       ^^^^^^^^^^ role not found
  |
help: searched: roles/nosuchrole, /srv/tend-roles/nosuchrole, nosuchrole
";
    assert!(stderr.contains(expected), "{stderr}");
    let unsupported = "\
error: task keyword `debugger` is not supported yet
 --> missing_role.yml:8:7
";
    assert!(stderr.contains(unsupported), "{stderr}");
    assert!(
        stderr.ends_with("2 errors found; no host was contacted.\n"),
        "{stderr}"
    );
}

#[test]
fn include_and_import_role_options_actions_and_delegated_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let (_, stderr) = run_ok_with_stderr("role_options.yml", dir.path(), &[]);
    // `public: true`: the role's defaults and vars are seen after it ran.
    assert_eq!(
        read(dir.path().join("public.txt")),
        "from_defaults from_vars\n"
    );
    // allow_duplicates: false skips an instance that ran (include: per
    // host at run time; import: at compile time); the option's default
    // (true) lets the role run again. The include written as `action:` and
    // the one with its options in `args` both run.
    assert_eq!(
        read(dir.path().join("order.log")),
        "pub\ndup\ndup\nspecced\nother\nother\ndup\ndup\n"
    );
    // The imported role's handler has the import's delegate_to.
    assert_eq!(read(dir.path().join("handler.txt")), "True True\n");
    // rolespec_validate: false: no warning that argument_specs are not checked.
    assert!(!stderr.contains("argument_specs"), "{stderr}");
}

#[test]
fn an_include_role_on_some_hosts_reaches_the_whole_play() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_on("pair.ini", "play_wide.yml", dir.path(), &[]);
    // `public: true` included on `one` only: as Ansible adds the role to
    // the play, `two` sees its defaults and vars too (not the next play).
    for host in ["one", "two"] {
        assert_eq!(
            read(dir.path().join(format!("public-{host}.txt"))),
            "from_defaults from_vars\n"
        );
    }
    // dup included on `one`, then imported with allow_duplicates: false:
    // the import runs on `two` only.
    assert_eq!(read(dir.path().join("order.log")), "pub\ndup\ndup\n");
    assert!(
        stdout.contains("one                        : ok=6    changed=3 "),
        "{stdout}"
    );
    assert!(
        stdout.contains("two                        : ok=3    changed=2 "),
        "{stdout}"
    );
}

#[test]
fn a_role_entrys_when_is_judged_per_host() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_on("pair.ini", "role_when.yml", dir.path(), &[]);
    assert_eq!(read(dir.path().join("order.log")), "dup\n");
    assert!(stdout.contains("skipping: [one]"), "{stdout}");
    assert!(stdout.contains("changed: [two]"), "{stdout}");
}

#[test]
fn vars_from_defaults_from_and_include_role_apply() {
    let dir = tempfile::tempdir().unwrap();
    run_on(
        "hosts.ini",
        "from_files.yml",
        dir.path(),
        &["-t", "applied"],
    );
    // The role's defaults/alt.yml and vars/alt.yml, not its main.yml.
    assert_eq!(read(dir.path().join("from.txt")), "alt_default alt_var\n");
    // `apply: tags` reaches the role's task: `-t applied` selects it.
    assert_eq!(read(dir.path().join("order.log")), "pub\n");
}

#[test]
fn argument_specs_are_reported_as_not_validated_unless_rolespec_validate_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("specs.yml");
    let roles = fixtures().join("roles");
    std::fs::write(
        &book,
        format!(
            "- hosts: web\n  gather_facts: false\n  tasks:\n    - import_role:\n        name: {}/specced\n",
            roles.display()
        ),
    )
    .unwrap();
    let (_, stderr) = run_ok_with_stderr(book.to_str().unwrap(), dir.path(), &[]);
    assert!(
        stderr.contains("argument_specs validation is not supported yet"),
        "{stderr}"
    );
}

/// `tend playbook ARGS` run in `dir` (relative to the repository): exit
/// status and stderr.
fn tend_in(dir: &str, args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_tend"))
        .arg("playbook")
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_ROLES_PATH")
        .env_remove("ANSIBLE_CONFIG")
        .output()
        .expect("run tend");
    (o.status.code(), text(&o.stderr))
}

const UNDEFINED: &str = "which nothing defines";

#[test]
fn role_variables_defined_nowhere_are_warned_about_at_compile_time() {
    let check = |extra: &str| {
        let args = [
            "-i",
            "hosts.ini",
            "undefined_vars.yml",
            "--syntax-check",
            "-e",
            extra,
        ];
        tend_in("tests/fixtures/roles", &args)
    };
    let (code, stderr) = check("out=/tmp");
    // A warning: the syntax check passes.
    assert_eq!(code, Some(0), "{stderr}");
    let expected = r#"warning: role `undef` uses the variable `undef_prot`, which nothing defines
 --> roles/undef/tasks/main.yml:3:42
  |
3 |     msg: "{{ undef_user }} listens on {{ undef_prot }}"
  |                                          ^^^^^^^^^^ did you mean `undef_port`?
  |
help: no inventory, play, vars file, role, extra var, `register`, `set_fact` or loop defines it: unless the run defines it some other way, the task fails with "'undef_prot' is undefined"

warning: role `undef` uses the variable `undef_server_name`, which nothing defines
 --> roles/undef/templates/undef.conf.j2:5:16
  |
5 | server_name {{ undef_server_name | upper }};
  |                ^^^^^^^^^^^^^^^^^ defined nowhere
  |
help: no inventory, play, vars file, role, extra var, `register`, `set_fact` or loop defines it: unless the run defines it some other way, the task fails with "'undef_server_name' is undefined"

"#;
    assert_eq!(stderr, expected);
    // Defined by extra vars: nothing to say.
    let (code, stderr) = check("out=/tmp undef_prot=80 undef_server_name=web");
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}

/// The example playbooks and the test fixtures, all valid, give no
/// undefined-variable warning (the check never warns about a valid playbook).
#[test]
fn valid_playbooks_give_no_undefined_variable_warning() {
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    for book in ["demo.yml", "site.yml", "provision/site.yml"] {
        runs.push((
            "playbooks".into(),
            vec!["-i".into(), "../inventory/example".into(), book.into()],
        ));
    }
    let fixtures = fixtures();
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".yml") && name != "undefined_vars.yml" {
            let args = ["-i", "hosts.ini", name.as_str(), "-e", "out=/tmp"];
            runs.push((
                "tests/fixtures/roles".into(),
                args.map(String::from).to_vec(),
            ));
        }
    }
    let args = ["-i", "web.ini", "site.yml", "-e", "out=/tmp"];
    runs.push((
        "tests/fixtures/start_at".into(),
        args.map(String::from).to_vec(),
    ));
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/cases");
    for entry in std::fs::read_dir(cases).expect("compat cases") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".yml") {
            let args = ["-i", "../inventory.ini", name.as_str(), "-e", "work=/tmp"];
            runs.push(("compat/cases".into(), args.map(String::from).to_vec()));
        }
    }
    assert!(runs.len() > 70, "{}", runs.len());
    for (dir, mut args) in runs {
        args.push("--syntax-check".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, stderr) = tend_in(&dir, &args);
        assert!(!stderr.contains(UNDEFINED), "{dir} {args:?}:\n{stderr}");
    }
    // The same check warns when a variable is missing indeed.
    let (_, stderr) = tend_in(
        "tests/fixtures/start_at",
        &["-i", "web.ini", "site.yml", "--syntax-check"],
    );
    assert!(stderr.contains("uses the variable `out`"), "{stderr}");
}
