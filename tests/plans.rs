//! Saved plans on the local connection: `tend plan --out`, then `tend apply`
//! (applies, then nothing is left to plan), drift between plan and apply
//! (refused, file untouched, exit 2; `--replan` applies), a changed playbook
//! (refused), and no secret in the plan file.

mod report_outputs;

use std::path::Path;
use std::process::{Command, Output};

const NO_LOG_SECRET: &str = "NoLogPassw0rd-7731";
const FILE_SECRET: &str = "ExistingS3cretContent-4242";

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: app config
      copy:
        dest: "{{ work }}/app.conf"
        content: "port = 8080\n"
    - name: admin password
      lineinfile:
        path: "{{ work }}/users.conf"
        line: "admin_password = {{ admin_password }}"
        create: true
      no_log: true
    - name: harden the token file
      lineinfile:
        path: "{{ work }}/vault.txt"
        line: "mode=strict"
      diff: false
    - name: data directory
      file:
        path: "{{ work }}/data"
        state: directory
    - name: a secret command not for this host
      command: "true"
      when: false
      no_log: true
    - name: a command
      command: "true"
      changed_when: false
"#;

/// The inventory options of a local run.
const LOCAL: &[&str] = &["-i", "localhost,", "-c", "local"];

/// A scratch project: the playbook, its managed files, the plan.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
        std::fs::write(dir.path().join("app.conf"), "port = 80\n").unwrap();
        std::fs::write(
            dir.path().join("vault.txt"),
            format!("token={FILE_SECRET}\n"),
        )
        .unwrap();
        Project { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    fn vars(&self) -> Vec<String> {
        vec![
            "-e".into(),
            format!("work={}", self.dir.path().display()),
            "-e".into(),
            format!("admin_password={NO_LOG_SECRET}"),
        ]
    }

    fn tend(&self, args: &[String]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tend"))
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("TEND_PLAN_KEY")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("CI")
            .output()
            .expect("run tend")
    }

    /// `tend plan` of site.yml on `inventory` (its options) with the
    /// project's variables, saving plan.json, with `extra` options.
    fn plan_on(&self, inventory: &[&str], extra: &[&str]) -> Output {
        let mut args = vec!["plan".to_string()];
        args.extend(inventory.iter().map(|s| s.to_string()));
        args.push("site.yml".into());
        args.extend(self.vars());
        args.extend(["--out".into(), "plan.json".into()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        self.tend(&args)
    }

    fn plan(&self) -> Output {
        self.plan_on(LOCAL, &[])
    }

    fn apply(&self, extra: &[&str]) -> Output {
        let mut args = vec!["apply".to_string(), "plan.json".into()];
        args.extend(self.vars());
        args.extend(extra.iter().map(|s| s.to_string()));
        self.tend(&args)
    }

    fn plan_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.read("plan.json")).expect("plan.json is JSON")
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn actions(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["hosts"]["localhost"]
        .as_array()
        .expect("localhost's tasks")
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap_or_default().to_string(),
                t["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn plan_apply_then_nothing_left_to_plan() {
    let p = Project::new();
    let out = p.plan();
    assert_eq!(
        out.status.code(),
        Some(2),
        "changes pending: {}",
        text(&out)
    );
    let plan = p.plan_json();
    assert_eq!(plan["format_version"], 1);
    assert_eq!(
        actions(&plan),
        vec![
            ("app config".to_string(), "update".to_string()),
            ("admin password".into(), "create".into()),
            ("harden the token file".into(), "update".into()),
            ("data directory".into(), "create".into()),
            // Skipped by its `when`, even with its result censored.
            ("a secret command not for this host".into(), "skip".into()),
            ("a command".into(), "run".into()),
        ],
        "{plan:#}"
    );
    let tasks = plan["hosts"]["localhost"].as_array().unwrap();
    assert_eq!(tasks[0]["fingerprints"].as_array().unwrap().len(), 1);
    assert!(
        tasks[0]["diff"][0]
            .as_str()
            .unwrap()
            .contains("+port = 8080")
    );
    assert!(
        tasks[5].get("fingerprints").is_none(),
        "a command has no probe"
    );
    assert_eq!(plan["summary"]["changes"], 5);
    // Planning changed nothing.
    assert_eq!(p.read("app.conf"), "port = 80\n");
    assert!(!p.path("data").exists());
    let key = p.path(".tend/plan.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.read("app.conf"), "port = 8080\n");
    assert_eq!(
        p.read("users.conf"),
        format!("admin_password = {NO_LOG_SECRET}\n")
    );
    assert_eq!(
        p.read("vault.txt"),
        format!("token={FILE_SECRET}\nmode=strict\n")
    );
    assert!(p.path("data").is_dir());
    // The no_log task's secret shows nowhere in apply's output either.
    assert!(!text(&out).contains(NO_LOG_SECRET), "{}", text(&out));

    // Nothing is left to do: a new plan has no changes but the command.
    let out = p.plan();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = p.plan_json();
    let left: Vec<_> = actions(&plan)
        .into_iter()
        .filter(|(_, a)| a != "ok" && a != "skip")
        .collect();
    assert_eq!(left, vec![("a command".to_string(), "run".to_string())]);
    // Applying a plan again (nothing to change) is fine too.
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_managed_file_edited_after_the_plan_is_refused_as_drift() {
    let p = Project::new();
    let out = p.plan();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // Someone edits the managed file between plan and apply.
    std::fs::write(p.path("app.conf"), "port = 81\n").unwrap();
    let out = p.apply(&[]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("drift"), "{shown}");
    assert!(shown.contains("localhost"), "{shown}");
    assert!(shown.contains("app config"), "{shown}");
    assert!(
        shown.contains("site.yml:5:"),
        "names the task's line: {shown}"
    );
    assert!(
        shown.contains("-port = 81"),
        "shows what the task would do now: {shown}"
    );
    // The host stopped there: nothing was written.
    assert_eq!(p.read("app.conf"), "port = 81\n");
    assert!(!p.path("users.conf").exists());
    assert!(!p.path("data").exists());

    // --replan applies what the probe says now.
    let out = p.apply(&["--replan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.read("app.conf"), "port = 8080\n");
    assert!(p.path("data").is_dir());
}

#[test]
fn a_plan_is_refused_when_its_inputs_changed() {
    let p = Project::new();
    assert_eq!(p.plan().status.code(), Some(2));
    // Different variables.
    let out = p.tend(&[
        "apply".into(),
        "plan.json".into(),
        "-e".into(),
        format!("work={}", p.dir.path().display()),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("variables"), "{}", text(&out));
    // A changed playbook.
    std::fs::write(
        p.path("site.yml"),
        PLAYBOOK.replace("port = 8080", "port = 9090"),
    )
    .unwrap();
    let out = p.apply(&[]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("the plan is out of date"), "{shown}");
    assert!(shown.contains("playbooks"), "{shown}");
    assert_eq!(p.read("app.conf"), "port = 80\n", "nothing applied");
    // Another key.
    std::fs::write(p.path("site.yml"), PLAYBOOK).unwrap();
    std::fs::write(p.path(".tend/plan.key"), "another key\n").unwrap();
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("another fingerprint key"),
        "{}",
        text(&out)
    );
    // Not a plan.
    std::fs::write(p.path("plan.json"), "{\"format_version\": 99}").unwrap();
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("format_version 99"), "{}", text(&out));
}

#[test]
fn the_plan_file_holds_no_secret() {
    let p = Project::new();
    assert_eq!(p.plan().status.code(), Some(2));
    let raw = p.read("plan.json");
    assert!(!raw.is_empty());
    assert!(!raw.contains(NO_LOG_SECRET), "no_log value leaked: {raw}");
    assert!(
        !raw.contains(FILE_SECRET),
        "probed file content leaked: {raw}"
    );
    let plan = p.plan_json();
    let tasks = plan["hosts"]["localhost"].as_array().unwrap();
    assert_eq!(tasks[1]["no_log"], true);
    assert!(tasks[1].get("diff").is_none());
    // The probe of the secret file is fingerprinted, not kept.
    assert_eq!(tasks[2]["fingerprints"].as_array().unwrap().len(), 1);
    assert!(tasks[2].get("diff").is_none(), "diff: false is respected");
    // Nor is the key.
    let key = p.read(".tend/plan.key");
    assert!(!raw.contains(key.trim()));
}

#[test]
fn tend_playbook_rejects_out() {
    let p = Project::new();
    let out = p.tend(&[
        "playbook".into(),
        "-i".into(),
        "localhost,".into(),
        "site.yml".into(),
        "--out".into(),
        "x.json".into(),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(!Path::new(&p.path("x.json")).exists());
}

#[test]
fn drift_in_a_later_task_refuses_the_whole_host() {
    let p = Project::new();
    assert_eq!(p.plan().status.code(), Some(2));
    // The third task's file changes: tasks before it change things, so
    // only planning again before applying can tell.
    std::fs::write(p.path("vault.txt"), "token=rotated\n").unwrap();
    let out = p.apply(&[]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("harden the token file"), "{shown}");
    assert!(shown.contains("the probed state differs"), "{shown}");
    assert!(shown.contains("failed=1"), "{shown}");
    // Nothing was applied on the host, not even the tasks before.
    assert_eq!(p.read("app.conf"), "port = 80\n");
    assert_eq!(p.read("vault.txt"), "token=rotated\n");
    assert!(!p.path("data").exists());
}

#[test]
fn with_format_json_standard_output_stays_json_lines() {
    let p = Project::new();
    let out = p.plan_on(LOCAL, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    report_outputs::assert_json_lines_valid(&String::from_utf8_lossy(&out.stdout));
    // The note that the plan was saved goes to standard error.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Plan saved to plan.json: 5 changes"),
        "{stderr}"
    );
    assert!(p.path("plan.json").exists());
}

#[test]
fn a_task_failing_after_pending_changes_is_unknown_and_the_plan_applies() {
    // The config goes into a directory the task before creates: check mode
    // cannot copy into it, as ansible-playbook --check cannot.
    let book = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: app directory
      file:
        path: "{{ work }}/d"
        state: directory
    - name: app config
      copy:
        dest: "{{ work }}/d/app.conf"
        content: "x = 1\n"
    - name: app secret
      copy:
        dest: "{{ work }}/d/secret.conf"
        content: "pw = {{ admin_password }}\n"
      no_log: true
    - name: other config
      copy:
        dest: "{{ work }}/other.conf"
        content: "y = 2\n"
    - name: a line
      lineinfile:
        path: "{{ work }}/app.conf"
        line: "z = 3"
"#;
    let p = Project::new();
    std::fs::write(p.path("site.yml"), book).unwrap();
    let out = p.plan_on(LOCAL, &["--summary-md", "plan.md", "--json", "plan.jsonl"]);
    let shown = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "changes pending, no error: {shown}"
    );
    assert!(
        shown.contains("\"unknown\": \"unknown until applied"),
        "{shown}"
    );
    assert!(shown.contains("...ignoring"), "{shown}");
    assert_eq!(
        actions(&p.plan_json()),
        vec![
            ("app directory".to_string(), "create".to_string()),
            ("app config".into(), "unknown".into()),
            ("app secret".into(), "unknown".into()),
            ("other config".into(), "create".into()),
            ("a line".into(), "update".into()),
        ]
    );
    assert_eq!(p.plan_json()["summary"]["unknown"], 2);
    let md = p.read("plan.md");
    assert!(
        md.starts_with(
            "## 📝 tend plan: 3 changes pending on 1 of 1 host (2 unknown until applied)\n"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "| app config | ❔ unknown until applied | `site.yml:9:7` | Destination directory "
        ),
        "{md}"
    );
    // no_log hides the details, not that the outcome is unknown.
    assert!(
        md.contains(
            "| app secret | ❔ unknown until applied | `site.yml:13:7` | the output has been hidden"
        ),
        "{md}"
    );
    // A file the task edits is named once, by its path.
    let conf = p.path("app.conf").display().to_string();
    assert!(
        md.contains(&format!(
            "| a line | 📝 would change | `site.yml:22:7` | `{conf}` |"
        )),
        "{md}"
    );
    report_outputs::assert_json_lines_valid(&p.read("plan.jsonl"));
    for f in ["plan.md", "plan.jsonl", "plan.json"] {
        assert!(!p.read(f).contains(NO_LOG_SECRET), "{f}");
    }
    assert!(!shown.contains(NO_LOG_SECRET), "{shown}");
    // ansible-playbook's --check keeps Ansible's semantics: a failure.
    let mut check: Vec<String> = ["playbook", "--check", "site.yml"]
        .iter()
        .chain(LOCAL)
        .map(|s| s.to_string())
        .collect();
    check.extend(p.vars());
    let out = p.tend(&check);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("failed=1"), "{}", text(&out));

    // The plan applies: the directory, then the config in it.
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(p.read("d/app.conf"), "x = 1\n");
    assert_eq!(p.read("other.conf"), "y = 2\n");
    assert_eq!(p.read("d/secret.conf"), format!("pw = {NO_LOG_SECRET}\n"));

    // With nothing pending before it, a failure is an error of the plan.
    std::fs::remove_dir_all(p.path("d")).unwrap();
    std::fs::write(p.path("d"), "a file where the directory goes\n").unwrap();
    let out = p.plan();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn a_deletion_is_planned_and_a_changed_inventory_refuses_the_plan() {
    let p = Project::new();
    std::fs::write(
        p.path("site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: old config\n      file:\n        path: \"{{ work }}/app.conf\"\n        state: absent\n",
    )
    .unwrap();
    let inventory = "[web]\nlocalhost ansible_connection=local\n";
    std::fs::write(p.path("hosts.ini"), inventory).unwrap();
    let out = p.plan_on(&["-i", "hosts.ini"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        actions(&p.plan_json()),
        vec![("old config".to_string(), "delete".to_string())]
    );
    assert_eq!(p.plan_json()["summary"]["delete"], 1);
    assert_eq!(p.plan_json()["inputs"]["inventory"][0], "hosts.ini");

    // A variable added to the inventory after the plan.
    std::fs::write(
        p.path("hosts.ini"),
        format!("{inventory}[web:vars]\nport=81\n"),
    )
    .unwrap();
    let out = p.apply(&[]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("the plan is out of date: the inventory changed since it was made"),
        "{shown}"
    );
    assert!(p.path("app.conf").exists(), "nothing applied");

    std::fs::write(p.path("hosts.ini"), inventory).unwrap();
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!p.path("app.conf").exists());
}
