//! Test support: a `Host` that runs scripts locally with `/bin/sh -c`, one
//! that counts its round trips, and helpers shared by the modules' tests.
#![allow(dead_code)]

use async_trait::async_trait;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use tend_modules::{Context, Exec, ExecOutput, Host, HostError, ModuleError, Outcome};
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

/// [`LocalSh`], counting round trips.
#[derive(Default)]
pub struct Counting {
    calls: AtomicUsize,
}

#[async_trait]
impl Host for Counting {
    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        LocalSh.exec(request).await
    }
}

impl Counting {
    /// Round trips since the last call.
    pub fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
}

/// A task's settings.
pub fn ctx(check_mode: bool, diff: bool) -> Context {
    Context { check_mode, diff }
}

/// Runs a module (by any of its names) with already checked arguments.
pub async fn run(
    module: &str,
    args: Value,
    check: bool,
    diff: bool,
    host: &dyn Host,
) -> Result<Outcome, ModuleError> {
    tend_modules::lookup(module)
        .unwrap()
        .run(&args, &ctx(check, diff), host)
        .await
}

/// Permission bits of what a path points to.
pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Permission bits of a path itself (a symlink's own).
pub fn lmode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Runs every script from inside a directory, for relative paths.
pub struct InDir(pub std::path::PathBuf);

#[async_trait]
impl Host for InDir {
    async fn exec(&self, mut request: Exec) -> Result<ExecOutput, HostError> {
        request.script = format!("cd '{}' || exit 1\n{}", self.0.display(), request.script);
        LocalSh.exec(request).await
    }
}
