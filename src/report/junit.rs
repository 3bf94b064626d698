//! `--junit FILE`: JUnit XML, written when the run ends. A `testsuite` per
//! play, a `testcase` per task per host (loop items merged); failures and
//! unreachable hosts are `<failure>`s, skipped tasks `<skipped/>`.

use super::{RunEnd, Status, SummaryFormat, Tally};
use std::fmt::Write as _;

/// The JUnit format (a [`super::SummaryFile`]).
pub struct Junit;

impl SummaryFormat for Junit {
    fn render(&self, tally: &Tally, _end: &RunEnd) -> String {
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let all: Vec<_> = tally
            .plays
            .iter()
            .flat_map(|p| p.tasks.iter().flat_map(|t| &t.hosts))
            .collect();
        let count = |f: fn(Status) -> bool| all.iter().filter(|h| f(h.status)).count();
        let _ = writeln!(
            x,
            "<testsuites name=\"tend\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{:.3}\">",
            all.len(),
            count(Status::is_failure),
            count(|s| s == Status::Skipped),
            all.iter().map(|h| h.duration.as_secs_f64()).sum::<f64>()
        );
        for (n, play) in tally.plays.iter().enumerate() {
            let cases: Vec<_> = play.tasks.iter().flat_map(|t| &t.hosts).collect();
            let name = if play.name.is_empty() {
                format!("play {}", n + 1)
            } else {
                play.name.clone()
            };
            let _ = writeln!(
                x,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{:.3}\">",
                escape(&name),
                cases.len(),
                cases.iter().filter(|h| h.status.is_failure()).count(),
                cases.iter().filter(|h| h.status == Status::Skipped).count(),
                cases.iter().map(|h| h.duration.as_secs_f64()).sum::<f64>()
            );
            for task in &play.tasks {
                let kind = if task.handler { "handler" } else { "task" };
                for h in &task.hosts {
                    let _ = write!(
                        x,
                        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
                        escape(&h.host),
                        escape(&format!("[{}] {kind}: {}", h.host, task.name)),
                        escape(task.location.rsplitn(3, ':').last().unwrap_or_default()),
                        h.duration.as_secs_f64()
                    );
                    let mut body = String::new();
                    match h.status {
                        Status::Failed | Status::Unreachable => {
                            let word = if h.status == Status::Failed {
                                "failed"
                            } else {
                                "unreachable"
                            };
                            let msg = h.messages.join("\n");
                            let _ = writeln!(
                                body,
                                "      <failure type=\"{word}\" message=\"{}\">{}</failure>",
                                escape(first_line(&msg)),
                                escape(&format!("{}\n{msg}", task.location))
                            );
                        }
                        Status::Skipped => body.push_str("      <skipped/>\n"),
                        Status::Ignored => {
                            let _ = writeln!(
                                body,
                                "      <system-out>{}</system-out>",
                                escape(&format!("failed (ignored): {}", h.messages.join("\n")))
                            );
                        }
                        Status::Changed if !h.diffs.is_empty() => {
                            let _ = writeln!(
                                body,
                                "      <system-out>{}</system-out>",
                                escape(&format!("changed\n{}", h.diffs.concat()))
                            );
                        }
                        Status::Changed => {
                            body.push_str("      <system-out>changed</system-out>\n");
                        }
                        Status::Ok => {}
                    }
                    if body.is_empty() {
                        x.push_str("/>\n");
                    } else {
                        x.push_str(">\n");
                        x.push_str(&body);
                        x.push_str("    </testcase>\n");
                    }
                }
            }
            x.push_str("  </testsuite>\n");
        }
        x.push_str("</testsuites>\n");
        x
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// XML text or attribute: the five markup characters escaped, and characters
/// XML 1.0 cannot carry (control characters) replaced.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c\" 'd'\u{1b}[0m\n"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;\u{FFFD}[0m\n"
        );
    }
}
