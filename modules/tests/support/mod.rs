//! Test support: a `Host` that runs scripts locally with `/bin/sh -c`.
#![allow(dead_code)]

use async_trait::async_trait;
use std::process::Stdio;
use tend_modules::{Exec, ExecOutput, Host, HostError};
use tokio::io::AsyncWriteExt;

/// Runs each script as `/bin/sh -c SCRIPT`, feeding `stdin`.
pub struct LocalSh;

#[async_trait]
impl Host for LocalSh {
    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&request.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| HostError::Io(e.to_string()))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let data = request.stdin;
        let writer = tokio::spawn(async move {
            // The script may exit without reading its input: ignore EPIPE.
            let _ = stdin.write_all(&data).await;
        });
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| HostError::Io(e.to_string()))?;
        let _ = writer.await;
        let status = match out.status.code() {
            Some(code) => code,
            None => {
                use std::os::unix::process::ExitStatusExt;
                128 + out.status.signal().unwrap_or(0)
            }
        };
        Ok(ExecOutput {
            status,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
