//! The local connection: scripts run with `/bin/sh` on the controller,
//! read from stdin by the same bootstrap as over SSH ([`super::ssh::BOOTSTRAP`]).

use async_trait::async_trait;
use std::process::Stdio;
use tend_modules::{Exec, ExecOutput, Host, HostError};
use tokio::io::AsyncWriteExt;

/// Runs scripts on this machine, in `cwd` when given: Ansible runs a local
/// connection's commands in the playbook's directory (its loader's basedir).
#[derive(Debug, Default, Clone)]
pub struct Local {
    cwd: Option<std::path::PathBuf>,
}

impl Local {
    /// A local connection whose scripts start in `dir`.
    pub fn in_dir(dir: &std::path::Path) -> Local {
        // A playbook named without a directory is in the current one.
        Local {
            cwd: (!dir.as_os_str().is_empty()).then(|| dir.to_path_buf()),
        }
    }
}

impl super::Connection for Local {}

#[async_trait]
impl Host for Local {
    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        // The script travels on stdin, as over SSH: what it holds (a secret
        // in a module's arguments) never shows in a process's arguments.
        let mut command = tokio::process::Command::new("/bin/sh");
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        let mut child = command
            .arg("-c")
            .arg(super::ssh::BOOTSTRAP)
            // Its own process group, so that an abandoned request (a task past
            // its `timeout`) takes every process it started with it.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HostError::Io(format!("cannot start /bin/sh: {e}")))?;
        let _group = child.id().map(GroupGuard::new);
        let mut stdin = child.stdin.take();
        let input = super::ssh::frame(&request.script, &request.stdin);
        let feed = async move {
            if let Some(mut s) = stdin.take() {
                // A script that does not read its stdin closes the pipe early; that is fine.
                let _ = s.write_all(&input).await;
                let _ = s.shutdown().await;
            }
        };
        let (_, output) = tokio::join!(feed, child.wait_with_output());
        let output = output.map_err(|e| HostError::Io(format!("waiting for /bin/sh: {e}")))?;
        if let Some(g) = &_group {
            g.finished();
        }
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

/// Kills a request's whole process group if the request is dropped before
/// its script finished (the future was cancelled, e.g. by a task timeout).
struct GroupGuard {
    pgid: i32,
    done: std::sync::atomic::AtomicBool,
}

impl GroupGuard {
    fn new(pid: u32) -> Self {
        GroupGuard {
            pgid: pid as i32,
            done: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn finished(&self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if !self.done.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(self.pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_script_with_stdin() {
        let out = Local::default()
            .exec(Exec::with_stdin("cat; echo err >&2; exit 3", "hi"))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hi");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status, 3);
    }

    #[tokio::test]
    async fn scripts_start_in_the_playbooks_directory_as_ansible() {
        let dir = tempfile::tempdir().unwrap();
        let out = Local::in_dir(dir.path())
            .exec(Exec::script("pwd -P"))
            .await
            .unwrap();
        let want = dir.path().canonicalize().unwrap();
        assert_eq!(out.stdout_text().trim_end(), want.to_str().unwrap());
        // No directory (a playbook named on its own): the current one.
        let out = Local::in_dir(std::path::Path::new(""))
            .exec(Exec::script("pwd -P"))
            .await
            .unwrap();
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert_eq!(out.stdout_text().trim_end(), cwd.to_str().unwrap());
    }

    #[tokio::test]
    async fn the_script_is_in_no_process_arguments() {
        // The shell running the script shows its own arguments.
        let out = Local::default()
            .exec(Exec::script(
                "x=argv-canary-71; tr '\\0' ' ' < /proc/$$/cmdline; ps -o args= -p $PPID",
            ))
            .await
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("/bin/sh"), "{shown}");
        assert!(!shown.contains("argv-canary-71"), "{shown}");
    }

    #[tokio::test]
    async fn a_cancelled_request_kills_everything_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 60 & echo $! > '{}'; wait", pidfile.display());
        let cancelled = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            Local::default().exec(Exec::script(script)),
        )
        .await;
        assert!(cancelled.is_err(), "the request should still be running");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Give the kernel a moment to deliver SIGKILL and the init process to reap.
        let mut alive = true;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
                alive = false;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            !alive,
            "the background sleep {pid} survived the cancelled request"
        );
    }
}
