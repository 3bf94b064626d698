//! Reports over SSH, as a reviewer would use them: converge, drift one host,
//! `tend plan` with the Markdown summary, JUnit and JSON: the drifted host's
//! change is shown with its diff, the others say no changes, a `no_log`
//! secret appears nowhere, an unreachable host fails the plan (exit 1).

mod lab;
mod report_outputs;

use report_outputs::Reports;

const PLAYBOOK: &str = r#"
- name: Review
  hosts: lab
  gather_facts: no
  become: yes
  vars:
    db_password: "pw-{{ inventory_hostname }}-Zq9x"
  tasks:
    - name: App directory
      file:
        path: /srv/review
        state: directory
        mode: "0755"

    - name: App config
      copy:
        dest: /srv/review/app.conf
        content: "workers = 4\nport = 80\n"
        mode: "0644"

    - name: Database password
      copy:
        dest: /srv/review/db.conf
        content: "password = {{ db_password }}\n"
        mode: "0600"
      no_log: true
"#;

const SECRET_PART: &str = "Zq9x";

fn plan(lab: &lab::Lab, proj: &std::path::Path) -> Reports {
    let inv = lab.inventory.to_string_lossy().into_owned();
    let mut args = vec!["plan".to_string(), "-i".into(), inv, "site.yml".into()];
    args.extend(report_outputs::options(proj));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = lab.tend_in(proj, &args);
    Reports::read(proj, run.code, run.stdout, run.stderr)
}

fn testcases(r: &Reports) -> usize {
    r.junit.matches("<testcase ").count()
}

#[test]
fn plan_summary_shows_one_drifted_host_and_hides_the_secret() {
    let lab = lab_or_skip!(3);
    let proj = lab::project(&[("site.yml", PLAYBOOK)]);
    let site = proj.path().join("site.yml");
    lab.playbook(&site, &[]).assert_code(0);
    assert_eq!(
        lab.sh_ok(2, "cat /srv/review/db.conf"),
        "password = pw-host2-Zq9x\n"
    );

    // Converged: nothing pending.
    let clean = plan(&lab, proj.path());
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    clean.assert_valid();
    assert!(
        clean
            .markdown
            .starts_with("## ✅ tend plan: 0 changes pending on 0 of 3 hosts\n"),
        "{}",
        clean.markdown
    );

    // Someone edits host2's config and host3's password by hand.
    lab.sh_ok(
        2,
        "sed -i 's/workers = 4/workers = 64/' /srv/review/app.conf",
    );
    lab.sh_ok(3, "echo 'password = old-Zq9x' > /srv/review/db.conf");
    let drift = plan(&lab, proj.path());
    assert_eq!(drift.code, Some(2), "{}{}", drift.stdout, drift.stderr);
    drift.assert_valid();
    let md = &drift.markdown;
    assert!(
        md.starts_with("## 📝 tend plan: 2 changes pending on 2 of 3 hosts\n"),
        "{md}"
    );
    assert!(md.contains("**No changes** on 1 host: `host1`\n"), "{md}");
    assert!(!md.contains("### `host1`"), "{md}");
    assert!(
        md.contains("### `host2`: 1 changed, 2 ok, 0 failed, 0 unreachable, 0 skipped\n\n| Task | Status | Source | Note |\n|---|---|---|---|\n| App config | 📝 would change | `site.yml:15:7` | `/srv/review/app.conf` |\n"),
        "{md}"
    );
    assert!(
        md.contains("| Database password | 📝 would change | `site.yml:21:7` | details hidden (`no_log`) |\n"),
        "{md}"
    );
    // One diff: host2's; host3's is no_log.
    assert!(md.contains("<details><summary>Diffs (1)</summary>"), "{md}");
    assert!(
        md.contains("**App config** · `host2`\n\n```diff\n--- before: /srv/review/app.conf\n+++ after: /srv/review/app.conf\n@@ -1,2 +1,2 @@\n-workers = 64\n+workers = 4\n port = 80\n```"),
        "{md}"
    );
    // A testcase per task per host.
    assert_eq!(testcases(&drift), 9, "{}", drift.junit);
    let results = drift
        .json
        .lines()
        .filter(|l| l.contains("\"event\":\"host_result\""))
        .count();
    assert_eq!(results, 9, "{}", drift.json);
    drift.assert_nowhere(SECRET_PART, "the no_log secret leaked");
    assert_eq!(
        lab.sh_ok(2, "cat /srv/review/app.conf"),
        "workers = 64\nport = 80\n",
        "plan changes nothing"
    );

    // -vvv: the SSH connection and the scripts each task ran; never the secret.
    let vvv = lab.playbook(&site, &["-vvv", "--check", "-l", "host1"]);
    vvv.assert_code(0);
    assert!(
        vvv.stdout.contains("<host1> SSH CONNECT [connected, "),
        "{}",
        vvv.stdout
    );
    assert!(
        vvv.stdout.contains("<host1> EXEC [rc=0, ") && vvv.stdout.contains(", become root]"),
        "{}",
        vvv.stdout
    );
    assert!(!vvv.stdout.contains(SECRET_PART), "{}", vvv.stdout);

    // An unreachable host: the plan fails, and the reports say why.
    lab.stop(3);
    let broken = plan(&lab, proj.path());
    assert_eq!(broken.code, Some(1), "{}{}", broken.stdout, broken.stderr);
    broken.assert_valid();
    assert!(
        broken.junit.contains("<failure type=\"unreachable\""),
        "{}",
        broken.junit
    );
    assert!(
        broken.markdown.contains("❌ unreachable"),
        "{}",
        broken.markdown
    );
    broken.assert_nowhere(SECRET_PART, "the no_log secret leaked");
}
