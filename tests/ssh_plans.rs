//! Saved plans over SSH on a 3-host lab: `tend plan --out`, a managed file
//! edited on one host between plan and apply, `tend apply` refuses that host
//! as drifted while the two others apply; hosts verified directly. Every
//! output of every run (standard output and error, the JSON, JUnit and
//! Markdown reports, the plan file) is valid and holds neither the `no_log`
//! password nor the vault-encrypted token.

mod lab;
mod report_outputs;

use report_outputs::Reports;

const PLAYBOOK: &str = r#"
- name: Plans
  hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - name: Colour
      lineinfile:
        path: /etc/plantest.conf
        regexp: '^color='
        line: "color={{ color }}"

    - name: App directory
      file:
        path: /srv/plantest
        state: directory
        mode: "0755"

    - name: Landing page
      copy:
        dest: /srv/plantest/index.html
        content: "<h1>{{ inventory_hostname }}</h1>\n"

    - name: Secret
      copy:
        dest: /srv/plantest/secret
        content: "{{ secret }}\n"
        mode: "0600"
      no_log: true

    - name: API token
      lineinfile:
        path: /srv/plantest/api.env
        line: "TOKEN={{ api_token }}"
        create: true
        mode: "0600"
"#;

const SECRET: &str = "LabNoLogS3cret-5150";
const VAULT_SECRET: &str = "LabVaultTok3n-8086";

/// Asserts the Markdown summary holds each of `parts`.
fn assert_markdown(r: &Reports, parts: &[&str]) {
    for part in parts {
        assert!(r.markdown.contains(part), "no {part:?} in:\n{}", r.markdown);
    }
}

/// Asserts the run's reports are valid and neither secret is in any output
/// (`extra`: more files to search, e.g. the plan).
fn assert_valid_and_secret(r: &Reports, extra: &[(&str, String)]) {
    r.assert_valid();
    for secret in [SECRET, VAULT_SECRET] {
        r.assert_nowhere(secret, "a secret leaked");
        for (name, text) in extra {
            assert!(!text.contains(secret), "`{secret}` in {name}:\n{text}");
        }
    }
}

#[test]
fn a_drifted_host_is_refused_while_the_others_apply() {
    let lab = lab_or_skip!(3);
    let proj = lab::project(&[("site.yml", PLAYBOOK), ("vault.pw", "lab vault password\n")]);
    let dir = proj.path();
    let inv = lab.inventory.to_string_lossy().into_owned();
    // The token is a vault-encrypted variable of the group.
    let token = lab.tend_in(
        dir,
        &[
            "vault",
            "encrypt_string",
            "--vault-password-file",
            "vault.pw",
            VAULT_SECRET,
            "--name",
            "api_token",
        ],
    );
    token.assert_code(0);
    std::fs::create_dir_all(dir.join("group_vars")).unwrap();
    std::fs::write(
        dir.join("group_vars/lab.yml"),
        format!("color: blue\n{}", token.stdout),
    )
    .unwrap();
    let secret = format!("secret={SECRET}");
    let reports = report_outputs::options(dir);
    let run = |command: &[&str]| {
        let mut args: Vec<&str> = command.to_vec();
        args.extend(["-e", &secret, "--vault-password-file", "vault.pw", "-vvv"]);
        args.extend(reports.iter().map(String::as_str));
        let run = lab.tend_in(dir, &args);
        let r = Reports::read(dir, run.code, run.stdout.clone(), run.stderr.clone());
        (run, r)
    };
    let make_plan = || {
        let (plan, r) = run(&["plan", "-i", &inv, "site.yml", "--out", "plan.json"]);
        let saved = std::fs::read_to_string(dir.join("plan.json")).unwrap_or_default();
        assert_valid_and_secret(&r, &[("plan.json", saved)]);
        (plan, r)
    };
    let apply_plan = || {
        let (apply, r) = run(&["apply", "plan.json"]);
        assert_valid_and_secret(&r, &[]);
        (apply, r)
    };
    for i in 1..=3 {
        lab.sh_ok(
            i,
            "printf 'name=app\\ncolor=red\\n' > /etc/plantest.conf; rm -rf /srv/plantest; mkdir -m 700 /srv/plantest",
        );
    }
    let (plan, r) = make_plan();
    plan.assert_code(2);
    // The token's change is in the plan, masked.
    assert!(r.markdown.contains("+TOKEN=********"), "{}", r.markdown);
    // The three hosts have the same changes: one table, and each diff the
    // hosts share once.
    assert_markdown(
        &r,
        &[
            "### `host1`, `host2`, `host3`: 5 changed, 0 ok, 0 failed, 0 unreachable, 0 skipped each\n",
            "**Colour** · `host1`, `host2`, `host3`\n",
            "**Landing page** · `host2`\n",
        ],
    );
    let raw = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(raw.contains("+TOKEN=********"), "{raw}");
    let saved: serde_json::Value = serde_json::from_str(&raw).unwrap();
    for i in 1..=3 {
        let tasks = saved["hosts"][format!("host{i}")].as_array().unwrap();
        let acts: Vec<&str> = tasks
            .iter()
            .map(|t| t["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            acts,
            ["update", "update", "create", "create", "create"],
            "{raw}"
        );
        assert!(
            tasks[0]["diff"][0]
                .as_str()
                .unwrap()
                .contains("+color=blue")
        );
    }
    // Nothing changed by planning.
    for i in 1..=3 {
        assert_eq!(
            lab.sh_ok(
                i,
                "cat /etc/plantest.conf; stat -c %a /srv/plantest; ls /srv/plantest"
            ),
            "name=app\ncolor=red\n700\n"
        );
    }

    // Someone edits host2's file between plan and apply.
    lab.sh_ok(2, "printf 'name=app\\ncolor=green\\n' > /etc/plantest.conf");

    let (apply, r) = apply_plan();
    apply.assert_code(2);
    let shown = format!("{}\n{}", apply.stdout, apply.stderr);
    assert!(shown.contains("drift"), "{shown}");
    assert!(shown.contains("host2"), "{shown}");
    assert!(shown.contains("'Colour' (site.yml:"), "{shown}");
    assert!(shown.contains("-color=green"), "the new diff: {shown}");
    assert_eq!(apply.recap("host2", "failed"), 1, "{shown}");
    assert_eq!(apply.recap("host2", "changed"), 0, "{shown}");
    // The reviewer's summary of the apply names the refused host and why.
    assert_markdown(
        &r,
        &[
            "### `host2`: 0 changed, 0 ok, 1 failed",
            "drift: the probed state differs on host2 at task 'Colour'",
        ],
    );
    // The table cell keeps the message's first line; the new diff is in the JSON.
    assert_markdown(&r, &["it now plans: update |\n"]);
    for i in [1, 3] {
        assert_eq!(apply.recap(&format!("host{i}"), "changed"), 5, "{shown}");
        assert_eq!(
            lab.sh_ok(i, "cat /etc/plantest.conf /srv/plantest/index.html /srv/plantest/secret /srv/plantest/api.env; stat -c %a /srv/plantest/secret"),
            format!("name=app\ncolor=blue\n<h1>host{i}</h1>\n{SECRET}\nTOKEN={VAULT_SECRET}\n600\n")
        );
    }
    // host2 is untouched.
    assert_eq!(
        lab.sh_ok(
            2,
            "cat /etc/plantest.conf; stat -c %a /srv/plantest; ls /srv/plantest"
        ),
        "name=app\ncolor=green\n700\n"
    );

    // A new plan: only host2 has changes left; applying it converges host2.
    let (plan, _) = make_plan();
    plan.assert_code(2);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["summary"]["changes"], 5, "{saved:#}");
    let (apply, _) = apply_plan();
    apply.assert_code(0);
    assert_eq!(apply.recap("host2", "changed"), 5);
    assert_eq!(apply.recap("host1", "changed"), 0);
    assert_eq!(
        lab.sh_ok(2, "cat /etc/plantest.conf /srv/plantest/index.html"),
        "name=app\ncolor=blue\n<h1>host2</h1>\n"
    );

    // Nothing left: a plan with no change applies with one probe per task
    // for the quiet re-plan and one for the apply.
    let (plan, _) = make_plan();
    plan.assert_code(0);
    let before = lab.sessions();
    let started = std::time::Instant::now();
    apply_plan().0.assert_code(0);
    let took = started.elapsed();
    let after = lab.sessions();
    let channels: Vec<usize> = (0..3).map(|i| after[i] - before[i]).collect();
    eprintln!("no-change apply: ssh channels per host {channels:?} in {took:?}");
    for c in channels {
        assert!(c <= 10, "{c} channels for 5 unchanged tasks");
    }
}
