//! What one `tend` run printed and the report files it wrote, for the
//! report tests (`tests/reports.rs`, `tests/ssh_reports.rs`).

#![allow(dead_code)]

use std::path::Path;

/// Report file names, relative to the directory they are written in.
pub const JSON: &str = "report.json";
/// The JUnit file.
pub const JUNIT: &str = "junit.xml";
/// The Markdown file.
pub const MARKDOWN: &str = "summary.md";

/// What one run printed and wrote.
pub struct Reports {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub json: String,
    pub junit: String,
    pub markdown: String,
}

/// The `--json`, `--junit` and `--summary-md` options writing into `dir`.
pub fn options(dir: &Path) -> Vec<String> {
    let at = |f: &str| dir.join(f).display().to_string();
    vec![
        "--json".into(),
        at(JSON),
        "--junit".into(),
        at(JUNIT),
        "--summary-md".into(),
        at(MARKDOWN),
    ]
}

impl Reports {
    /// Reads the files written into `dir` by a run that printed `stdout`/`stderr`.
    pub fn read(dir: &Path, code: Option<i32>, stdout: String, stderr: String) -> Reports {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        Reports {
            code,
            stdout,
            stderr,
            json: read(JSON),
            junit: read(JUNIT),
            markdown: read(MARKDOWN),
        }
    }

    /// Asserts `needle` is in no output.
    pub fn assert_nowhere(&self, needle: &str, why: &str) {
        for (name, body) in [
            ("stdout", &self.stdout),
            ("stderr", &self.stderr),
            ("json", &self.json),
            ("junit", &self.junit),
            ("markdown", &self.markdown),
        ] {
            assert!(
                !body.contains(needle),
                "{why}: `{needle}` in {name}:\n{body}"
            );
        }
    }
}
