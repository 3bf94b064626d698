//! The local connection: scripts run with `/bin/sh` on the controller.

use async_trait::async_trait;
use std::process::Stdio;
use tend_modules::{Exec, ExecOutput, Host, HostError};
use tokio::io::AsyncWriteExt;

/// Runs scripts on this machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Local;

#[async_trait]
impl Host for Local {
    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&request.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HostError::Io(format!("cannot start /bin/sh: {e}")))?;
        let mut stdin = child.stdin.take();
        let input = request.stdin;
        let feed = async move {
            if let Some(mut s) = stdin.take() {
                // A script that does not read its stdin closes the pipe early; that is fine.
                let _ = s.write_all(&input).await;
                let _ = s.shutdown().await;
            }
        };
        let (_, output) = tokio::join!(feed, child.wait_with_output());
        let output = output.map_err(|e| HostError::Io(format!("waiting for /bin/sh: {e}")))?;
        let status = output.status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            128 + output.status.signal().unwrap_or(0)
        });
        Ok(ExecOutput {
            status,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_script_with_stdin() {
        let out = Local
            .exec(Exec::with_stdin("cat; echo err >&2; exit 3", "hi"))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hi");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status, 3);
    }
}
