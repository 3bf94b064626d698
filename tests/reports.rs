//! Reports: the real `tend` binary on `tests/fixtures/reports.yml` (local
//! connection): JSON lines, JUnit XML, the Markdown summary, GitHub
//! annotations, verbosity, `no_log` in every output, `tend plan` exit codes.

mod report_outputs;

use report_outputs::Reports;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

const SECRET: &str = "hunter2-s3cr3t";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn tend(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tend"));
    cmd.args(args)
        .current_dir(fixtures())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run tend")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch directory for one run and its report files.
struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Self {
        Run {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn work(&self) -> String {
        format!("work={}", self.dir.path().display())
    }
    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// `tend COMMAND` on the fixture, on localhost, with its work directory.
fn on_fixture(run: &Run, command: &str, extra: &[&str], envs: &[(&str, &str)]) -> Output {
    let work = run.work();
    let mut args = vec![
        command,
        "-i",
        "localhost,",
        "-c",
        "local",
        "reports.yml",
        "-e",
        &work,
    ];
    args.extend_from_slice(extra);
    tend(&args, envs)
}

/// `tend COMMAND` on the fixture, writing every report file.
fn run_with_reports(run: &Run, command: &str, extra: &[&str], envs: &[(&str, &str)]) -> Reports {
    let options = report_outputs::options(run.dir.path());
    let mut args: Vec<&str> = options.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    let out = on_fixture(run, command, &args, envs);
    Reports::read(
        run.dir.path(),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn events<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == kind).collect()
}

/// Checks the JUnit structure, then returns (element name, attributes) in order.
fn parse_xml(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    report_outputs::assert_junit_valid(xml);
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event().expect("valid XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let attrs = e
                    .attributes()
                    .flatten()
                    .map(|a| {
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            a.unescape_value().expect("attribute value").into_owned(),
                        )
                    })
                    .collect();
                out.push((name, attrs));
            }
            _ => {}
        }
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

#[test]
fn plan_writes_json_junit_and_markdown_and_never_the_secret() {
    let run = Run::new();
    let r = run_with_reports(&run, "plan", &["-vvv"], &[]);
    let stdout = &r.stdout;
    assert_eq!(r.code, Some(2), "changes pending: {stdout}{}", r.stderr);
    r.assert_valid();

    // JSON lines: every line parses and carries the documented fields.
    let lines = json_lines(&r.json);
    assert!(lines.iter().all(|l| l["schema_version"] == 1), "{lines:?}");
    assert_eq!(lines[0]["event"], "run_start");
    assert_eq!(lines[0]["command"], "plan");
    assert_eq!(lines[0]["check"], true);
    assert_eq!(lines[1]["event"], "play_start");
    assert_eq!(lines[1]["play"], "Reports <&> \"demo\"");
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "run_end");
    assert_eq!(last["exit_code"], 2);
    assert!(last["duration"].as_f64().is_some());
    assert_eq!(events(&lines, "recap").len(), 1);
    assert_eq!(
        events(&lines, "recap")[0]["hosts"]["localhost"]["changed"],
        5
    );
    let starts = events(&lines, "task_start");
    assert_eq!(starts[0]["task"]["name"], "Write the app config");
    assert_eq!(starts[0]["task"]["action"], "copy");
    assert_eq!(starts[0]["task"]["path"], "reports.yml:9:7");
    assert_eq!(starts[0]["task"]["file"], "reports.yml");
    assert_eq!(starts[0]["task"]["line"], 9);
    assert_eq!(starts[0]["hosts"], 1);
    assert_eq!(events(&lines, "handler_start").len(), 1);
    let results = events(&lines, "host_result");
    let first = results[0];
    for key in [
        "play", "task", "host", "status", "changed", "failed", "item", "no_log", "duration", "msg",
        "diff", "result",
    ] {
        assert!(first.get(key).is_some(), "host_result lacks {key}: {first}");
    }
    assert_eq!(first["host"], "localhost");
    assert_eq!(first["status"], "changed");
    assert_eq!(first["changed"], true);
    assert!(first["duration"].as_f64().unwrap() >= 0.0);
    let unified = first["diff"][0]["unified"].as_str().unwrap();
    assert!(unified.contains("+workers = 4\n"), "{unified}");
    let password = results
        .iter()
        .find(|r| r["task"]["name"] == "Write the password file")
        .unwrap();
    assert_eq!(password["no_log"], true);
    assert_eq!(password["diff"], Value::Array(vec![]));
    assert!(password["result"]["censored"].is_string(), "{password}");
    let items: Vec<_> = results
        .iter()
        .filter(|r| r["task"]["name"] == "Write one file per item")
        .collect();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|r| r["item"] == "(censored due to no_log)")
    );
    let private = results
        .iter()
        .find(|r| r["task"]["name"] == "Write a file whose diff is private")
        .unwrap();
    assert_eq!(private["status"], "changed");
    assert_eq!(private["diff"], Value::Array(vec![]), "diff: false");
    let never = results
        .iter()
        .find(|r| r["task"]["name"] == "Never runs")
        .unwrap();
    assert_eq!(never["status"], "skipped");

    // JUnit: well-formed, a suite for the play, a case per task per host.
    let junit = &r.junit;
    let elements = parse_xml(junit);
    let suites: Vec<_> = elements.iter().filter(|(n, _)| n == "testsuite").collect();
    assert_eq!(suites.len(), 1);
    assert_eq!(attr(&suites[0].1, "name"), "Reports <&> \"demo\"");
    let cases: Vec<_> = elements.iter().filter(|(n, _)| n == "testcase").collect();
    assert_eq!(cases.len(), 9, "8 tasks and a handler: {junit}");
    assert_eq!(attr(&suites[0].1, "tests"), "9");
    assert_eq!(
        attr(&cases[0].1, "name"),
        "[localhost] task: Write the app config"
    );
    assert_eq!(attr(&cases[0].1, "file"), "reports.yml");
    let skipped = elements.iter().filter(|(n, _)| n == "skipped").count();
    // check mode skips commands: the secret check, "Never runs", the failure, the handler.
    assert_eq!(skipped, 4, "{junit}");
    assert_eq!(attr(&suites[0].1, "skipped"), "4");
    assert_eq!(attr(&suites[0].1, "failures"), "0");

    // Markdown: the headline, a table for the host, the diff in a diff block.
    let summary = &r.markdown;
    assert!(
        summary.starts_with(
            "## 📝 tend plan: 5 changes pending on 1 of 1 host (+2 commands to run)\n"
        ),
        "{summary}"
    );
    // Commands check mode skips are shown as what they are: they will run.
    assert!(
        summary.contains("| Reload app (handler) | ▶️ would run | `reports.yml:57:7` | runs on apply; check mode cannot predict it |"),
        "{summary}"
    );
    assert!(
        summary.contains("| Check the secret \\| grep | ▶️ would run |"),
        "{summary}"
    );
    assert!(
        !summary.contains("| Never runs |"),
        "skipped by `when`: {summary}"
    );
    // The changed file is named by its path, also without a diff.
    assert!(
        summary.contains(&format!(
            "| Write a file whose diff is private | 📝 would change | `reports.yml:36:7` | `{}` |",
            run.file("private")
        )),
        "{summary}"
    );
    assert!(summary.contains("9 tasks on 1 host"), "{summary}");
    assert!(summary.contains("exit code 2"), "{summary}");
    assert!(
        summary.contains("| Write the app config | 📝 would change | `reports.yml:9:7` |"),
        "{summary}"
    );
    assert!(summary.contains("<details><summary>Diffs (2)</summary>"));
    assert!(
        // A new file: no old side to name, as Ansible prints it.
        summary.contains("```diff\n--- before\n+++ after: ") && summary.contains("+workers = 4\n"),
        "{summary}"
    );
    // The 600-line diff is cut, with a pointer to the full JSON.
    assert!(summary.contains("+line 190\n"), "{summary}");
    assert!(!summary.contains("+line 590\n"), "{summary}");
    let pointer = format!(
        "more lines not shown; the full diff is in `{}`",
        run.file(report_outputs::JSON)
    );
    assert!(summary.contains(&pointer), "{summary}");
    assert!(!summary.contains("nodiff-marker"), "diff: false: {summary}");

    // -vvv shows the scripts run, never a no_log task's.
    assert!(stdout.contains("<localhost> EXEC [rc=0, "), "{stdout}");
    assert!(stdout.contains("task path: "), "{stdout}");
    r.assert_nowhere(SECRET, "the secret leaked");
}

#[test]
fn a_failing_run_is_reported_in_every_format_without_the_secret() {
    let run = Run::new();
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let r = run_with_reports(
        &run,
        "playbook",
        &["-e", "fail_at_end=true", "--diff", "-vvv"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKSPACE", ws.to_str().unwrap()),
        ],
    );
    let stdout = &r.stdout;
    assert_eq!(r.code, Some(2), "ansible-playbook's code: {stdout}");
    r.assert_valid();
    // The no_log loop's labels are censored as Ansible does.
    assert!(
        stdout.contains("changed: [localhost] => (item=(censored due to no_log)) ("),
        "{stdout}"
    );
    // -v and up: task paths and durations.
    assert!(stdout.contains("task path: reports.yml:9:7\n"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("changed: [localhost] (") && l.contains("s) => {")),
        "{stdout}"
    );
    // The GitHub annotation points at the failing task's line.
    let annotation = "::error file=tests/fixtures/reports.yml,line=51,title=Fail on request [localhost]%3A failed::broken <&> \"quoted\" ]]> |\n";
    assert!(stdout.contains(annotation), "{stdout}");
    assert_eq!(
        stdout.matches("::error ").count(),
        1,
        "ignored failures are not annotated"
    );

    let elements = parse_xml(&r.junit);
    let failures: Vec<_> = elements.iter().filter(|(n, _)| n == "failure").collect();
    assert_eq!(failures.len(), 1, "{}", r.junit);
    assert_eq!(attr(&failures[0].1, "type"), "failed");
    assert_eq!(
        attr(&failures[0].1, "message"),
        "broken <&> \"quoted\" ]]> |"
    );

    let summary = &r.markdown;
    assert!(summary.starts_with("## ❌ tend playbook: "), "{summary}");
    assert!(
        summary.contains(
            "| Fail on request | ❌ failed | `reports.yml:51:7` | broken <&> \"quoted\" ]]> \\| |"
        ),
        "{summary}"
    );
    assert!(summary.contains("⚠️ failed (ignored)"), "{summary}");

    let lines = json_lines(&r.json);
    let failed: Vec<_> = events(&lines, "host_result")
        .into_iter()
        .filter(|r| r["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["msg"], "broken <&> \"quoted\" ]]> |");
    let ignored: Vec<_> = events(&lines, "host_result")
        .into_iter()
        .filter(|r| r["status"] == "ignored")
        .collect();
    assert_eq!(ignored.len(), 1);
    assert!(ignored[0]["result"]["censored"].is_string());

    r.assert_nowhere(SECRET, "the secret leaked");
    r.assert_nowhere("nodiff-marker", "diff: false");
    // The secret did reach the host: no_log hides, it does not skip.
    assert_eq!(
        std::fs::read_to_string(run.dir.path().join("password")).unwrap(),
        format!("password = {SECRET}\n")
    );
}

#[test]
fn format_json_puts_only_json_lines_on_stdout() {
    let run = Run::new();
    let out = on_fixture(
        &run,
        "playbook",
        &["--format", "json"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    report_outputs::assert_json_lines_valid(&text(&out.stdout));
    let lines = json_lines(&text(&out.stdout));
    assert_eq!(lines.first().unwrap()["event"], "run_start");
    assert_eq!(lines.last().unwrap()["event"], "run_end");
    assert!(!text(&out.stdout).contains(SECRET));
}

fn plan_code(run: &Run, extra: &[&str]) -> Option<i32> {
    on_fixture(run, "plan", extra, &[]).status.code()
}

#[test]
fn plan_exit_codes_are_terraforms_detailed_exit_codes() {
    let run = Run::new();
    assert_eq!(plan_code(&run, &[]), Some(2), "changes pending");
    let apply = on_fixture(&run, "playbook", &[], &[]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stdout));
    assert_eq!(plan_code(&run, &[]), Some(0), "nothing to change");
    assert_eq!(
        plan_code(&run, &["-e", "fail_at_end=true"]),
        Some(1),
        "a task failed"
    );
    // Errors before any host is contacted are 1 too (ansible-playbook says 4 and 5).
    let compile = tend(&["plan", "-i", "localhost,", "three_mistakes.yml"], &[]);
    assert_eq!(compile.status.code(), Some(1));
    let playbook = tend(&["playbook", "-i", "localhost,", "three_mistakes.yml"], &[]);
    assert_eq!(playbook.status.code(), Some(4));
    assert_eq!(
        tend(&["plan", "--no-such-flag", "x.yml"], &[])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        tend(&["playbook", "--no-such-flag", "x.yml"], &[])
            .status
            .code(),
        Some(5)
    );
}

/// Runs tend on a pseudo-terminal (util-linux `script`), stdout and stderr
/// merged as a terminal shows them; `None` without `script`.
fn on_terminal(run: &Run, extra: &str, envs: &[(&str, &str)]) -> Option<String> {
    book_on_terminal("reports.yml", run, extra, envs)
}

/// [`on_terminal`] with another playbook.
fn book_on_terminal(book: &str, run: &Run, extra: &str, envs: &[(&str, &str)]) -> Option<String> {
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("SKIPPED: no /usr/bin/script for a pseudo-terminal");
        return None;
    }
    let command = format!(
        "{} playbook -i localhost, -c local {book} -e {} {extra}",
        env!("CARGO_BIN_EXE_tend"),
        run.work()
    );
    let mut cmd = Command::new("/usr/bin/script");
    cmd.args(["-qfec", &command, "/dev/null"])
        .current_dir(fixtures())
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run script");
    assert!(out.status.success(), "{}", text(&out.stdout));
    Some(text(&out.stdout))
}

/// The text lines a terminal ends up showing: each line's content after the
/// progress display was last cleared on it.
fn shown_lines(raw: &str) -> Vec<String> {
    let mut lines: Vec<String> = raw
        .split('\n')
        .map(|l| {
            let l = l.trim_end_matches('\r');
            l.rsplit("\x1b[2K")
                .next()
                .unwrap_or_default()
                .trim_start_matches('\r')
                .trim_end()
                .to_string()
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

#[test]
fn the_progress_display_shows_on_a_terminal_and_never_garbles_lines() {
    let on_tty = Run::new();
    let Some(raw) = on_terminal(&on_tty, "", &[]) else {
        return;
    };
    assert!(raw.contains("/1 hosts"), "a progress display: {raw:?}");
    assert!(raw.contains("Write the app config"), "{raw:?}");
    // Every line the human output prints is intact once the display is cleared.
    let piped = on_fixture(&Run::new(), "playbook", &[], &[]);
    assert_eq!(piped.status.code(), Some(0));
    let expected: Vec<String> = text(&piped.stdout)
        .trim_end()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    assert_eq!(shown_lines(&raw), expected, "raw: {raw:?}");

    // Off in CI, with --no-progress, and with JSON on stdout.
    for (extra, envs) in [
        ("", &[("CI", "true")][..]),
        ("--no-progress", &[][..]),
        ("--format json", &[][..]),
    ] {
        let raw = on_terminal(&Run::new(), extra, envs).unwrap();
        assert!(!raw.contains("/1 hosts"), "{extra} {envs:?}: {raw:?}");
        assert!(!raw.contains("\x1b[2K"), "{extra} {envs:?}: {raw:?}");
    }
}

#[test]
fn the_validators_reject_reports_that_break_the_schema() {
    use serde_json::json;
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/json-report.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The published schema is the version tend writes.
    let run = Run::new();
    let out = on_fixture(&run, "plan", &["--format", "json"], &[]);
    let first = json_lines(&text(&out.stdout)).remove(0);
    assert_eq!(
        schema["properties"]["schema_version"]["const"],
        first["schema_version"]
    );

    let task = json!({"name": "t", "action": "copy", "path": "a.yml:3:7", "file": "a.yml", "line": 3, "handler": false});
    let good = json!({
        "schema_version": 1, "event": "host_result", "play": "p", "task": task,
        "host": "web1", "status": "changed", "changed": true, "failed": false,
        "item": null, "loop_summary": false, "no_log": true, "duration": 0.5,
        "msg": null, "diff": [],
        "result": {"censored": "hidden", "changed": true},
    });
    let errors = report_outputs::json_schema_errors(&good);
    assert!(errors.is_empty(), "{errors:?}");
    let broken = |path: &[&str], value: Value| {
        let mut v = good.clone();
        let mut at = &mut v;
        for k in &path[..path.len() - 1] {
            at = &mut at[*k];
        }
        at[path[path.len() - 1]] = value;
        v
    };
    for (what, bad) in [
        ("another version", broken(&["schema_version"], json!(2))),
        ("an unknown event", broken(&["event"], json!("surprise"))),
        ("an unknown status", broken(&["status"], json!("great"))),
        ("a task without line", broken(&["task", "line"], json!("3"))),
        (
            "a no_log result with more than the censored fields",
            broken(&["result", "stdout"], json!("leak")),
        ),
        (
            "a no_log result with a diff",
            broken(
                &["diff"],
                json!([{"before_header": null, "after_header": null, "unified": "+x"}]),
            ),
        ),
        ("a missing field", {
            let mut v = good.clone();
            v.as_object_mut().unwrap().shift_remove("duration");
            v
        }),
    ] {
        assert!(
            !report_outputs::json_schema_errors(&bad).is_empty(),
            "{what} passed the schema: {bad}"
        );
    }

    let junit = "<?xml version=\"1.0\"?>\n<testsuites tests=\"1\" failures=\"0\">\n  <testsuite name=\"p\" tests=\"1\" failures=\"0\">\n    <testcase name=\"t\" classname=\"h\" time=\"0.1\"/>\n  </testsuite>\n</testsuites>\n";
    report_outputs::assert_junit_valid(junit);
    for (what, bad) in [
        (
            "a wrong count",
            junit.replace("failures=\"0\">\n    <", "failures=\"1\">\n    <"),
        ),
        (
            "a case outside a suite",
            junit.replace(
                "<testsuite name=\"p\" tests=\"1\" failures=\"0\">",
                "<testcase name=\"x\"/><testsuite name=\"p\" tests=\"1\" failures=\"0\">",
            ),
        ),
        ("an unknown attribute", junit.replace("classname=", "host=")),
        ("a case without name", junit.replace("name=\"t\" ", "")),
        ("a time that is no number", junit.replace("0.1", "fast")),
        ("bad XML", junit.replace("</testsuites>", "")),
    ] {
        let result = std::panic::catch_unwind(|| report_outputs::assert_junit_valid(&bad));
        assert!(result.is_err(), "{what} passed as JUnit: {bad}");
    }
}

#[test]
fn the_progress_display_names_the_slowest_host_in_flight() {
    let run = Run::new();
    let book = run.file("slow.yml");
    std::fs::write(
        &book,
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: Take a while\n      command: sleep 1.5\n",
    )
    .unwrap();
    let Some(raw) = book_on_terminal(&book, &run, "", &[]) else {
        return;
    };
    // The host in flight, and how long it has been at it, growing.
    let seconds: Vec<f64> = raw
        .split("0/1 hosts · slowest: localhost (")
        .skip(1)
        .filter_map(|rest| rest.split_once("s)")?.0.parse().ok())
        .collect();
    assert!(
        seconds.iter().any(|s| *s >= 0.5) && seconds.windows(2).all(|w| w[0] <= w[1]),
        "{seconds:?} in {raw:?}"
    );
    assert!(raw.contains("changed: [localhost]"), "{raw:?}");
}
