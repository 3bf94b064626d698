//! Saved plans over SSH on a 3-host lab: `tend plan --out`, a managed file
//! edited on one host between plan and apply, `tend apply` refuses that host
//! as drifted while the two others apply; hosts verified directly.

mod lab;

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
"#;

const SECRET: &str = "LabNoLogS3cret-5150";

#[test]
fn a_drifted_host_is_refused_while_the_others_apply() {
    let lab = lab_or_skip!(3);
    let proj = lab::project(&[
        ("site.yml", PLAYBOOK),
        ("group_vars/lab.yml", "color: blue\n"),
    ]);
    let dir = proj.path();
    let inv = lab.inventory.to_string_lossy().into_owned();
    let secret = format!("secret={SECRET}");
    let make_plan = || {
        lab.tend_in(
            dir,
            &[
                "plan",
                "-i",
                &inv,
                "site.yml",
                "-e",
                &secret,
                "--out",
                "plan.json",
            ],
        )
    };
    for i in 1..=3 {
        lab.sh_ok(
            i,
            "printf 'name=app\\ncolor=red\\n' > /etc/plantest.conf; rm -rf /srv/plantest; mkdir -m 700 /srv/plantest",
        );
    }
    let plan = make_plan();
    plan.assert_code(2);
    let raw = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(!raw.contains(SECRET), "the no_log value is in the plan");
    let saved: serde_json::Value = serde_json::from_str(&raw).unwrap();
    for i in 1..=3 {
        let tasks = saved["hosts"][format!("host{i}")].as_array().unwrap();
        let acts: Vec<&str> = tasks
            .iter()
            .map(|t| t["action"].as_str().unwrap())
            .collect();
        assert_eq!(acts, ["update", "update", "create", "create"], "{raw}");
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

    let apply = lab.tend_in(dir, &["apply", "plan.json", "-e", &secret]);
    apply.assert_code(2);
    let shown = format!("{}\n{}", apply.stdout, apply.stderr);
    assert!(shown.contains("drift"), "{shown}");
    assert!(shown.contains("host2"), "{shown}");
    assert!(shown.contains("'Colour' (site.yml:"), "{shown}");
    assert!(shown.contains("-color=green"), "the new diff: {shown}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(apply.recap("host2", "failed"), 1, "{shown}");
    assert_eq!(apply.recap("host2", "changed"), 0, "{shown}");
    for i in [1, 3] {
        assert_eq!(apply.recap(&format!("host{i}"), "changed"), 4, "{shown}");
        assert_eq!(
            lab.sh_ok(i, "cat /etc/plantest.conf /srv/plantest/index.html /srv/plantest/secret; stat -c %a /srv/plantest/secret"),
            format!("name=app\ncolor=blue\n<h1>host{i}</h1>\n{SECRET}\n600\n")
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
    let plan = make_plan();
    plan.assert_code(2);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["summary"]["changes"], 4, "{saved:#}");
    let apply = lab.tend_in(dir, &["apply", "plan.json", "-e", &secret]);
    apply.assert_code(0);
    assert_eq!(apply.recap("host2", "changed"), 4);
    assert_eq!(apply.recap("host1", "changed"), 0);
    assert_eq!(
        lab.sh_ok(2, "cat /etc/plantest.conf /srv/plantest/index.html"),
        "name=app\ncolor=blue\n<h1>host2</h1>\n"
    );

    // Nothing left: a plan with no change applies with one probe per task
    // for the quiet re-plan and one for the apply.
    let plan = make_plan();
    plan.assert_code(0);
    let before = lab.sessions();
    let started = std::time::Instant::now();
    lab.tend_in(dir, &["apply", "plan.json", "-e", &secret])
        .assert_code(0);
    let took = started.elapsed();
    let after = lab.sessions();
    let channels: Vec<usize> = (0..3).map(|i| after[i] - before[i]).collect();
    eprintln!("no-change apply: ssh channels per host {channels:?} in {took:?}");
    for c in channels {
        assert!(c <= 8, "{c} channels for 4 unchanged tasks");
    }
}
