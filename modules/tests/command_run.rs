//! `command`, `shell` and `raw` against the local machine.

mod support;

use serde_json::{Value, json};
use support::Counting;
use tend_modules::{Context, ModuleError, Outcome, lookup};

async fn run_ctx(module: &str, args: Value, ctx: &Context) -> Result<Outcome, ModuleError> {
    let host = Counting::default();
    let m = lookup(module).unwrap();
    m.check(&args).unwrap();
    let out = m.run(&args, ctx, &host).await;
    assert_eq!(
        host.take(),
        if module == "raw" && ctx.check_mode {
            0
        } else {
            1
        },
        "one round trip"
    );
    out
}

async fn run(module: &str, args: Value) -> Outcome {
    run_ctx(module, args, &Context::default()).await.unwrap()
}

fn check() -> Context {
    Context {
        check_mode: true,
        diff: false,
    }
}

fn v<'a>(o: &'a Outcome, key: &str) -> &'a Value {
    o.values.get(key).unwrap_or(&Value::Null)
}

/// argv as the program saw it, NUL-separated by printf.
fn argv_of(o: &Outcome) -> Vec<String> {
    let out = v(o, "stdout").as_str().unwrap();
    out.split('\0')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn hostile_arguments_reach_the_program_byte_exact() {
    let words = [
        "a b",
        "it's",
        "\"q\"",
        "$(touch /tmp/tend-pwned)",
        "`id`",
        "x\ny",
        "-n",
        "--",
        "*",
        ";",
        "|",
        "&&",
        ">f",
        "$HOME_NOPE",
        "\\",
    ];
    let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
    argv.extend(words.iter().map(|w| w.to_string()));
    let o = run(
        "command",
        json!({"argv": argv, "expand_argument_vars": false}),
    )
    .await;
    assert!(!o.failed, "{o:?}");
    assert_eq!(argv_of(&o), words);
    assert_eq!(v(&o, "cmd"), &json!(argv));
    assert!(!std::path::Path::new("/tmp/tend-pwned").exists());
}

#[tokio::test]
async fn command_line_is_split_like_shlex_and_no_operator_is_interpreted() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out");
    let line = format!(
        r#"printf '%s\0' 'a b' "c\"d" e\ f ; echo > {} | cat $(id) && `x`"#,
        target.display()
    );
    let o = run("command", json!({"_raw_params": line})).await;
    assert!(!o.failed, "{o:?}");
    let expected = [
        "a b",
        "c\"d",
        "e f",
        ";",
        "echo",
        ">",
        &target.display().to_string(),
        "|",
        "cat",
        "$(id)",
        "&&",
        "`x`",
    ];
    assert_eq!(argv_of(&o), expected);
    assert!(!target.exists());
    // the same through the shell: operators work
    let o = run(
        "shell",
        json!({"_raw_params": format!("echo hi > {0} && cat {0} | tr h H", target.display())}),
    )
    .await;
    assert_eq!(v(&o, "stdout"), "Hi");
    assert_eq!(
        v(&o, "cmd"),
        &json!(format!(
            "echo hi > {0} && cat {0} | tr h H",
            target.display()
        ))
    );
    assert!(target.exists());
}

#[tokio::test]
async fn builtins_are_not_used_the_program_is() {
    // /bin/echo (coreutils) does not interpret backslashes, dash's builtin echo does.
    let o = run("command", json!({"cmd": r"echo 'a\nb'"})).await;
    assert_eq!(v(&o, "stdout"), r"a\nb");
    let o = run_ctx("command", json!({"cmd": "cd /tmp"}), &Context::default())
        .await
        .unwrap_err();
    match o {
        ModuleError::Failed { msg, values } => {
            assert_eq!(msg, "Error executing command.");
            assert_eq!(
                values["exception"],
                "FileNotFoundError: [Errno 2] No such file or directory: b'cd'"
            );
            assert_eq!(values["rc"], 2);
            assert_eq!(values["cmd"], "cd /tmp");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn return_values_are_ansibles() {
    let o = run(
        "shell",
        json!({"_raw_params": "printf 'out\\n\\n'; printf 'e1\\ne2\\n\\r\\n' >&2"}),
    )
    .await;
    assert!(o.changed && !o.failed);
    assert_eq!(o.msg.as_deref(), Some(""));
    assert_eq!(v(&o, "rc"), 0);
    assert_eq!(v(&o, "stdout"), "out");
    assert_eq!(v(&o, "stdout_lines"), &json!(["out"]));
    assert_eq!(v(&o, "stderr"), "e1\ne2");
    assert_eq!(v(&o, "stderr_lines"), &json!(["e1", "e2"]));
    let start = v(&o, "start").as_str().unwrap();
    let end = v(&o, "end").as_str().unwrap();
    let delta = v(&o, "delta").as_str().unwrap();
    let stamp = regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$").unwrap();
    assert!(stamp.is_match(start), "{start}");
    assert!(stamp.is_match(end), "{end}");
    assert!(
        regex::Regex::new(r"^0:00:0\d(\.\d{6})?$")
            .unwrap()
            .is_match(delta),
        "{delta}"
    );
    assert!(start <= end);

    // no stripping, output without a trailing newline kept exactly
    let o = run(
        "shell",
        json!({"cmd": "printf 'a\\n\\n'; printf x >&2", "strip_empty_ends": false}),
    )
    .await;
    assert_eq!(v(&o, "stdout"), "a\n\n");
    assert_eq!(v(&o, "stdout_lines"), &json!(["a", ""]));
    assert_eq!(v(&o, "stderr"), "x");
    let o = run("command", json!({"argv": ["printf", "no newline"]})).await;
    assert_eq!(v(&o, "stdout"), "no newline");
}

#[tokio::test]
async fn non_zero_rc_fails() {
    let o = run("shell", json!({"_raw_params": "echo oops >&2; exit 3"})).await;
    assert!(o.failed && o.changed);
    assert_eq!(o.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(v(&o, "rc"), 3);
    assert_eq!(v(&o, "stderr"), "oops");
    let o = run("command", json!({"argv": ["false"]})).await;
    assert!(o.failed);
    assert_eq!(v(&o, "rc"), 1);
}

#[tokio::test]
async fn stdin_is_fed_with_optional_newline() {
    let o = run("command", json!({"cmd": "od -An -c", "stdin": "hi"})).await;
    assert_eq!(
        v(&o, "stdout")
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["h", "i", "\\n"]
    );
    let o = run(
        "command",
        json!({"cmd": "od -An -c", "stdin": "hi", "stdin_add_newline": false}),
    )
    .await;
    assert_eq!(
        v(&o, "stdout")
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["h", "i"]
    );
    let o = run("shell", json!({"cmd": "cat; cat", "stdin": "x\ny"})).await;
    assert_eq!(v(&o, "stdout"), "x\ny");
}

#[tokio::test]
async fn chdir_and_its_failure() {
    let dir = tempfile::tempdir().unwrap();
    let o = run("command", json!({"cmd": "pwd", "chdir": dir.path()})).await;
    assert_eq!(
        v(&o, "stdout").as_str().unwrap(),
        std::fs::canonicalize(dir.path()).unwrap().to_str().unwrap()
    );
    let missing = dir.path().join("nope");
    let err = run_ctx(
        "command",
        json!({"cmd": "pwd", "chdir": missing}),
        &Context::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Unable to change directory before execution: [Errno 2] No such file or directory: b'{}'",
            missing.display()
        )
    );
}

#[tokio::test]
async fn creates_and_removes_with_globs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let marker = format!("{d}/made by task.txt");
    let shell = json!({"cmd": format!("touch '{marker}'"), "creates": format!("{d}/*.txt")});
    let o = run("shell", shell.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let o = run("shell", shell).await;
    assert!(!o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("Did not run command since '{d}/*.txt' exists").as_str())
    );
    assert_eq!(v(&o, "rc"), 0);
    assert_eq!(
        v(&o, "stdout"),
        &json!(format!("skipped, since {d}/*.txt exists"))
    );

    let rm = json!({"argv": ["rm", marker], "removes": format!("{d}/made by task.*")});
    let o = run("command", rm.clone()).await;
    assert!(o.changed && !o.failed, "{o:?}");
    let o = run("command", rm).await;
    assert!(!o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("Did not run command since '{d}/made by task.*' does not exist").as_str())
    );
    // relative to chdir, with a variable expanded on the target
    std::fs::write(dir.path().join("here"), "").unwrap();
    let o = run(
        "command",
        json!({"cmd": "false", "chdir": d, "creates": "her?"}),
    )
    .await;
    assert!(!o.changed && !o.failed);
    let o = run("command", json!({"cmd": "false", "creates": "$HOME"})).await;
    assert!(!o.changed && !o.failed);
}

#[tokio::test]
async fn check_mode_skips_unless_creates_or_removes_decide() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    let o = run_ctx("command", json!({"argv": ["touch", f]}), &check())
        .await
        .unwrap();
    assert!(o.skipped && !o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some("Command would have run if not in check mode")
    );
    assert!(!f.exists());
    let o = run_ctx(
        "shell",
        json!({"cmd": format!("touch {}", f.display()), "creates": f}),
        &check(),
    )
    .await
    .unwrap();
    assert!(!o.skipped && o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some("Command would have run if not in check mode")
    );
    assert!(!f.exists());
    std::fs::write(&f, "").unwrap();
    let o = run_ctx("shell", json!({"cmd": "rm -f x", "creates": f}), &check())
        .await
        .unwrap();
    assert!(!o.skipped && !o.changed);
    assert_eq!(
        o.msg.as_deref(),
        Some(format!("Would not run command since '{}' exists", f.display()).as_str())
    );
    let o = run_ctx(
        "raw",
        json!({"_raw_params": format!("rm {}", f.display())}),
        &check(),
    )
    .await
    .unwrap();
    assert!(o.skipped);
    assert!(f.exists());
}

#[tokio::test]
async fn argument_vars_expand_on_the_target_per_word() {
    let o = run("command", json!({"argv": ["printf", "%s\\0", "$HOME", "${HOME}/x", "~", "$TEND_SURELY_UNSET", "a b"]})).await;
    let home = std::env::var("HOME").unwrap();
    assert_eq!(
        argv_of(&o),
        [
            home.clone(),
            format!("{home}/x"),
            home.clone(),
            "$TEND_SURELY_UNSET".into(),
            "a b".into()
        ]
    );
    assert_eq!(v(&o, "cmd")[2], json!(home));
    let o = run(
        "command",
        json!({"cmd": "printf %s $HOME", "expand_argument_vars": false}),
    )
    .await;
    assert_eq!(v(&o, "stdout"), "$HOME");
}

#[tokio::test]
async fn shell_executable_and_raw() {
    let o = run(
        "shell",
        json!({"cmd": "echo $0", "executable": "/bin/bash"}),
    )
    .await;
    assert_eq!(v(&o, "stdout"), "/bin/bash");
    let o = run(
        "raw",
        json!({"_raw_params": "echo one; echo two >&2; exit 4"}),
    )
    .await;
    assert!(o.failed && o.changed);
    assert_eq!(o.msg.as_deref(), Some("non-zero return code"));
    assert_eq!(v(&o, "rc"), 4);
    assert_eq!(v(&o, "stdout"), "one\n");
    assert_eq!(v(&o, "stdout_lines"), &json!(["one"]));
    assert_eq!(v(&o, "stderr"), "two\n");
    assert!(v(&o, "start").is_null());
}

#[test]
fn arguments_are_checked() {
    let command = lookup("command").unwrap();
    assert!(
        command
            .check(&json!({"_raw_params": "ls", "bogus": 1}))
            .is_err()
    );
    assert!(
        command
            .check(&json!({"cmd": "ls", "argv": ["ls"]}))
            .is_err()
    );
    assert!(command.check(&json!({"chdir": "/"})).is_err());
    // Accepted and ignored with a warning when it runs, as Ansible's.
    assert!(
        command
            .check(&json!({"cmd": "ls", "executable": "/bin/bash"}))
            .is_ok()
    );
    assert!(
        lookup("shell")
            .unwrap()
            .check(&json!({"cmd": "ls", "argv": ["ls"]}))
            .is_err()
    );
    assert!(
        lookup("raw")
            .unwrap()
            .check(&json!({"_raw_params": "ls", "creates": "/x"}))
            .is_err()
    );
    assert!(
        command
            .check(&json!({"cmd": "ls", "stdin_add_newline": "{{ x }}"}))
            .is_ok()
    );
}
