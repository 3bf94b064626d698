//! `--summary-md FILE`: Markdown for a pull-request comment. A headline
//! (hosts, tasks, changes), a table per host of what changed or failed, and
//! the diffs in a collapsible `<details>`, each in a ```diff block; huge
//! diffs are cut with a pointer to the full JSON report.

use super::{RunEnd, Status, SummaryFormat, Tally};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Lines of one diff shown before it is cut.
const DIFF_LINES: usize = 200;
/// Hosts named in one list (a table's, a diff's, the hosts without changes).
const LISTED_HOSTS: usize = 50;
/// Characters of diffs in the whole summary (GitHub comments hold 65536).
const DIFF_BUDGET: usize = 40_000;

/// The Markdown format (a [`super::SummaryFile`]).
pub struct Markdown {
    /// Where the full report is, for the pointer under cut diffs.
    json_hint: String,
}

impl Markdown {
    /// `json_hint` says where the full JSON report is (a file name, or how to get one).
    pub fn new(json_hint: String) -> Self {
        Markdown { json_hint }
    }
}

impl SummaryFormat for Markdown {
    fn render(&self, tally: &Tally, end: &RunEnd) -> String {
        let check = tally.run.as_ref().is_some_and(|r| r.check);
        let command = tally
            .run
            .as_ref()
            .map_or("playbook", |r| r.command.as_str());
        let tasks: Vec<_> = tally
            .plays
            .iter()
            .flat_map(|p| p.tasks.iter().map(move |t| (p, t)))
            .collect();
        let changes = tally
            .recap
            .values()
            .map(|c| c.changed as usize)
            .sum::<usize>();
        let failures = tasks
            .iter()
            .flat_map(|(_, t)| &t.hosts)
            .filter(|h| h.status.is_failure())
            .count();
        let count = |f: fn(&super::HostTally) -> bool| {
            tasks
                .iter()
                .flat_map(|(_, t)| &t.hosts)
                .filter(|h| f(h))
                .count()
        };
        let runs = count(|h| h.would_run);
        let unknown = count(|h| h.unknown);
        let mut more = Vec::new();
        if runs > 0 {
            more.push(format!("+{runs} command{} to run", plural(runs)));
        }
        if unknown > 0 {
            more.push(format!("{unknown} unknown until applied"));
        }
        let hosts = tally.recap.len();
        let changed_hosts = tally.recap.values().filter(|c| c.changed > 0).count();
        let mut md = String::new();
        let icon = if failures > 0 {
            "❌"
        } else if changes > 0 {
            "📝"
        } else {
            "✅"
        };
        let what = if check { "pending" } else { "made" };
        let _ = writeln!(
            md,
            "## {icon} tend {command}: {changes} change{} {what} on {changed_hosts} of {hosts} host{}{}{}\n",
            plural(changes),
            plural(hosts),
            if more.is_empty() {
                String::new()
            } else {
                format!(" ({})", more.join(", "))
            },
            if failures > 0 {
                format!(", {failures} failure{}", plural(failures))
            } else {
                String::new()
            }
        );
        let playbooks = tally
            .run
            .as_ref()
            .map(|r| r.playbooks.join(", "))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "{} task{} on {hosts} host{} · `{playbooks}`{} · {:.1}s · exit code {}\n",
            tasks.len(),
            plural(tasks.len()),
            plural(hosts),
            if check { " · check mode" } else { "" },
            end.elapsed.as_secs_f64(),
            end.exit_code
        );
        // A table per host: what changed or failed; the rest counted.
        let mut per_host: BTreeMap<&str, Vec<(String, &str, &super::HostTally)>> = BTreeMap::new();
        for (_, t) in &tasks {
            let name = if t.handler {
                format!("{} (handler)", t.name)
            } else {
                t.name.clone()
            };
            for h in &t.hosts {
                per_host.entry(h.host.as_str()).or_default().push((
                    name.clone(),
                    t.location.as_str(),
                    h,
                ));
            }
        }
        let mut quiet = Vec::new();
        // Hosts with the same rows and counts share one table.
        let mut groups: Vec<(String, String, Vec<&str>)> = Vec::new();
        for (host, c) in &tally.recap {
            let rows = per_host.remove(host.as_str()).unwrap_or_default();
            let notable: Vec<_> = rows
                .iter()
                .filter(|(_, _, h)| {
                    h.would_run || !matches!(h.status, Status::Ok | Status::Skipped)
                })
                .collect();
            if notable.is_empty() {
                quiet.push(host.as_str());
                continue;
            }
            let counts = format!(
                "{} changed, {} ok, {} failed, {} unreachable, {} skipped",
                c.changed,
                c.ok - c.changed.min(c.ok),
                c.failed,
                c.unreachable,
                c.skipped
            );
            let mut table = String::from("| Task | Status | Source | Note |\n|---|---|---|---|\n");
            for (task, location, h) in notable {
                let status = match h.status {
                    _ if h.would_run => "▶️ would run",
                    _ if h.unknown => "❔ unknown until applied",
                    Status::Changed if check => "📝 would change",
                    Status::Changed => "📝 changed",
                    Status::Failed => "❌ failed",
                    Status::Unreachable => "❌ unreachable",
                    Status::Ignored => "⚠️ failed (ignored)",
                    Status::Ok | Status::Skipped => "",
                };
                let note = if h.would_run {
                    "runs on apply; check mode cannot predict it".to_string()
                } else if h.no_log && h.status == Status::Changed {
                    "details hidden (`no_log`)".to_string()
                } else if h.status == Status::Changed {
                    let code = |t: &String| {
                        if t.contains('`') {
                            t.clone()
                        } else {
                            format!("`{t}`")
                        }
                    };
                    // `path (content)` and `path (file attributes)`: the path, once.
                    let mut paths: Vec<String> = Vec::new();
                    for t in &h.targets {
                        let path = t
                            .strip_suffix(')')
                            .and_then(|t| t.rsplit_once(" ("))
                            .map_or(t.as_str(), |(p, _)| p);
                        if !paths.iter().any(|p| p == path) {
                            paths.push(path.to_string());
                        }
                    }
                    paths.iter().map(code).collect::<Vec<_>>().join(", ")
                } else {
                    // The first line of each: the rest (a drift's new diff,
                    // a command's output) is in the JSON report.
                    h.messages
                        .iter()
                        .map(|m| m.lines().next().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let source = if location.is_empty() {
                    "—".to_string()
                } else {
                    format!("`{}`", cell(location))
                };
                let _ = writeln!(
                    table,
                    "| {} | {status} | {source} | {} |",
                    cell(task),
                    cell(&truncate_chars(&note, 300))
                );
            }
            match groups.iter_mut().find(|g| g.0 == counts && g.1 == table) {
                Some(g) => g.2.push(host),
                None => groups.push((counts, table, vec![host])),
            }
        }
        for (counts, table, hosts) in &groups {
            let each = if hosts.len() > 1 { " each" } else { "" };
            let _ = writeln!(md, "### {}: {counts}{each}\n", names(hosts));
            md.push_str(table);
            md.push('\n');
        }
        if !quiet.is_empty() {
            let _ = writeln!(
                md,
                "**No changes** on {} host{}: {}\n",
                quiet.len(),
                plural(quiet.len()),
                names(&quiet)
            );
        }
        // Diffs, collapsed; the same diff of the same task on several hosts once.
        let mut diffs: Vec<(Vec<&str>, &str, &String)> = Vec::new();
        for (_, t) in &tasks {
            for h in &t.hosts {
                for d in h.diffs.iter().filter(|d| !d.trim().is_empty()) {
                    match diffs
                        .iter_mut()
                        .find(|(_, task, diff)| *task == t.name.as_str() && *diff == d)
                    {
                        Some((hosts, ..)) => hosts.push(h.host.as_str()),
                        None => diffs.push((vec![h.host.as_str()], t.name.as_str(), d)),
                    }
                }
            }
        }
        if !diffs.is_empty() {
            let _ = writeln!(md, "<details><summary>Diffs ({})</summary>\n", diffs.len());
            let mut budget = DIFF_BUDGET;
            let mut omitted = 0;
            for (hosts, task, diff) in &diffs {
                if budget == 0 {
                    omitted += 1;
                    continue;
                }
                let (shown, cut) = cut_diff(diff, DIFF_LINES, budget);
                budget = budget.saturating_sub(shown.len());
                let fence = fence_for(&shown);
                let _ = writeln!(
                    md,
                    "**{}** · {}\n\n{fence}diff\n{}{}{fence}\n",
                    cell(task),
                    names(hosts),
                    shown,
                    if shown.ends_with('\n') { "" } else { "\n" }
                );
                if cut > 0 {
                    let _ = writeln!(
                        md,
                        "_… {cut} more line{} not shown; the full diff is in {}._\n",
                        plural(cut),
                        self.json_hint
                    );
                }
            }
            if omitted > 0 {
                let _ = writeln!(
                    md,
                    "_… {omitted} more diff{} not shown; see {}._\n",
                    plural(omitted),
                    self.json_hint
                );
            }
            md.push_str("</details>\n");
        }
        md
    }
}

/// Host names in code spans, the first [`LISTED_HOSTS`], then how many more.
fn names(hosts: &[&str]) -> String {
    let shown: Vec<String> = hosts
        .iter()
        .take(LISTED_HOSTS)
        .map(|h| format!("`{h}`"))
        .collect();
    let more = hosts.len() - shown.len();
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Text for a table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The first `max_lines` lines of a diff within `budget` bytes, and how many lines were cut.
fn cut_diff(diff: &str, max_lines: usize, budget: usize) -> (String, usize) {
    let total = diff.lines().count();
    let mut out = String::new();
    let mut kept = 0;
    for line in diff.lines() {
        if kept >= max_lines || out.len() + line.len() + 1 > budget {
            break;
        }
        out.push_str(line);
        out.push('\n');
        kept += 1;
    }
    (out, total - kept)
}

/// A code fence longer than any run of backticks in the text.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Counts, HostResult, RunInfo, TaskInfo};
    use serde_json::json;
    use tend_modules::Diff;

    #[test]
    fn hosts_with_the_same_changes_share_a_table_and_a_diff() {
        let mut tally = Tally {
            run: Some(RunInfo {
                command: "plan".into(),
                playbooks: vec!["site.yml".into()],
                check: true,
                diff: true,
            }),
            ..Tally::default()
        };
        tally.play("web");
        tally.task(&TaskInfo {
            name: "Config",
            span: None,
            action: "copy",
            handler: false,
            hosts: 3,
        });
        let result = json!({"changed": true});
        for (host, after) in [("web1", "a\n"), ("web2", "a\n"), ("web3", "b\n")] {
            let diffs = [Diff {
                before_header: Some("/etc/app.conf".into()),
                after_header: Some("/etc/app.conf".into()),
                before: String::new(),
                after: after.into(),
                prepared: None,
                dicts: None,
            }];
            tally.result(&HostResult {
                diffs: &diffs,
                ..HostResult::simple(host, Status::Changed, &result)
            });
            let counts = Counts {
                ok: 1,
                changed: 1,
                ..Counts::default()
            };
            tally.recap.insert(host.into(), counts);
        }
        let end = RunEnd {
            exit_code: 2,
            elapsed: std::time::Duration::ZERO,
        };
        let md = Markdown::new("`r.json`".into()).render(&tally, &end);
        assert!(
            md.contains("### `web1`, `web2`, `web3`: 1 changed, 0 ok, 0 failed, 0 unreachable, 0 skipped each\n\n| Task | Status | Source | Note |\n|---|---|---|---|\n| Config | 📝 would change | — | `/etc/app.conf` |\n\n"),
            "{md}"
        );
        assert_eq!(md.matches("### ").count(), 1, "{md}");
        assert!(md.contains("<details><summary>Diffs (2)</summary>"), "{md}");
        assert!(
            md.contains("**Config** · `web1`, `web2`\n\n```diff\n"),
            "{md}"
        );
        assert!(md.contains("**Config** · `web3`\n\n```diff\n"), "{md}");
        let many: Vec<String> = (0..LISTED_HOSTS + 2).map(|i| format!("h{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(names(&many).ends_with(&format!("`h{}` and 2 more", LISTED_HOSTS - 1)));
    }

    #[test]
    fn fences_outgrow_backticks_in_the_diff() {
        assert_eq!(fence_for("+a\n-b\n"), "```");
        assert_eq!(fence_for("+```\n"), "````");
    }

    #[test]
    fn long_diffs_are_cut_by_lines_and_budget() {
        let diff: String = (0..10).map(|i| format!("+line {i}\n")).collect();
        assert_eq!(
            cut_diff(&diff, 3, 10_000),
            ("+line 0\n+line 1\n+line 2\n".into(), 7)
        );
        assert_eq!(cut_diff(&diff, 100, 17), ("+line 0\n+line 1\n".into(), 8));
    }

    #[test]
    fn cells_stay_on_one_line() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
