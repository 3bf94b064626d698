//! GitHub Actions annotations: with `GITHUB_ACTIONS=true`, every failure
//! also becomes an `::error file=...,line=...::` workflow command pointing
//! at the task's source line, so it shows on the pull request's diff.

use super::{HostResult, Recap, Reporter, Status, TaskInfo};
use std::io::Write;

/// The annotation printer.
pub struct GithubAnnotations<W: Write> {
    out: W,
    task: Option<(String, Option<String>, u32)>,
    workspace: Option<std::path::PathBuf>,
}

impl<W: Write> GithubAnnotations<W> {
    /// A printer on `out`; source paths are made relative to `GITHUB_WORKSPACE`
    /// (or the current directory) as annotations need.
    pub fn new(out: W) -> Self {
        let workspace = std::env::var_os("GITHUB_WORKSPACE")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::current_dir().ok());
        GithubAnnotations {
            out,
            task: None,
            workspace,
        }
    }

    fn relative(&self, file: &str) -> String {
        let path = std::path::Path::new(file);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match std::env::current_dir() {
                Ok(d) => d.join(path),
                Err(_) => return file.to_string(),
            }
        };
        match &self.workspace {
            Some(ws) => absolute
                .strip_prefix(ws)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| file.to_string()),
            None => file.to_string(),
        }
    }
}

/// Whether annotations are wanted (`GITHUB_ACTIONS=true`).
pub fn wanted() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// A workflow command's message: `%`, CR and LF escaped.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error` line.
pub(crate) fn annotation(file: Option<&str>, line: u32, title: &str, msg: &str) -> String {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", escape_property(f)));
        if line > 0 {
            props.push(format!("line={line}"));
        }
    }
    props.push(format!("title={}", escape_property(title)));
    format!("::error {}::{}", props.join(","), escape_data(msg))
}

impl<W: Write> Reporter for GithubAnnotations<W> {
    fn play_start(&mut self, _name: &str) {}

    fn task_start(&mut self, task: &TaskInfo<'_>) {
        self.task = Some((
            task.name.to_string(),
            task.file().map(|f| self.relative(&f)),
            task.line(),
        ));
    }

    fn host_result(&mut self, r: &HostResult<'_>) {
        if !matches!(r.status, Status::Failed | Status::Unreachable) {
            return;
        }
        let (name, file, line) = self.task.clone().unwrap_or_default();
        let word = if r.status == Status::Unreachable {
            "unreachable"
        } else {
            "failed"
        };
        let item = r
            .item_label
            .as_ref()
            .map(|l| format!(" (item={l})"))
            .unwrap_or_default();
        let title = format!("{name} [{}]{item}: {word}", r.host);
        let msg = r.failure_message();
        let _ = writeln!(
            self.out,
            "{}",
            annotation(file.as_deref(), line, &title, &msg)
        );
        let _ = self.out.flush();
    }

    fn warning(&mut self, _message: &str) {}

    fn recap(&mut self, _recap: &Recap) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_properties_and_message() {
        assert_eq!(
            annotation(
                Some("play,s:1.yml"),
                7,
                "Copy [web1]: failed",
                "50% done\nthen"
            ),
            "::error file=play%2Cs%3A1.yml,line=7,title=Copy [web1]%3A failed::50%25 done%0Athen"
        );
        assert_eq!(annotation(None, 0, "t", "m"), "::error title=t::m");
    }
}
