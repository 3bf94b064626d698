//! The host interface: the only way a module touches a target.
//!
//! A module never sees SSH, inventories or playbooks. It hands the host a
//! POSIX `sh` script (and optionally bytes for its standard input) and gets
//! back the exit status and output. Everything else (file reads, atomic
//! writes) is built on that one call, so the local connection and the SSH
//! connection behave identically and every module costs a known number of
//! round trips.

use async_trait::async_trait;
use thiserror::Error;

/// One request to the target: a POSIX sh script and the bytes for its stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exec {
    /// The script, run by `/bin/sh` on the target.
    pub script: String,
    /// Bytes fed to the script's standard input (content to write, secrets).
    pub stdin: Vec<u8>,
    /// The script may leave processes running that keep its output open
    /// (user commands, init scripts starting daemons): the connection waits
    /// for their output to end, as `ssh` waits for a channel to close, so
    /// none of it is taken for a later script's. The engine's own scripts
    /// leave nothing running and are answered as soon as they exit.
    pub lingering: bool,
    /// The script only reads the host's state (a probe): running it early,
    /// or once more, changes nothing. The engine may send such scripts
    /// ahead, several in one round trip.
    pub read_only: bool,
}

impl Exec {
    /// A script with an empty standard input.
    pub fn script(script: impl Into<String>) -> Self {
        Exec {
            script: script.into(),
            stdin: Vec::new(),
            lingering: false,
            read_only: false,
        }
    }

    /// A script with the given bytes on its standard input.
    pub fn with_stdin(script: impl Into<String>, stdin: impl Into<Vec<u8>>) -> Self {
        Exec {
            script: script.into(),
            stdin: stdin.into(),
            lingering: false,
            read_only: false,
        }
    }

    /// The same request, marked [`Exec::lingering`]: it runs user commands
    /// or init scripts, which may leave processes holding its output.
    #[must_use]
    pub fn lingering(mut self) -> Self {
        self.lingering = true;
        self
    }

    /// The same request, marked [`Exec::read_only`].
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
}

/// What a script left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; a script killed by a signal reports 128 + the signal number.
    pub status: i32,
    /// Standard output, raw bytes.
    pub stdout: Vec<u8>,
    /// Standard error, raw bytes.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Standard output as text (lossy UTF-8).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (lossy UTF-8).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A failure to run a script at all (as opposed to a script that failed).
#[derive(Debug, Error)]
pub enum HostError {
    /// The host could not be reached or the connection dropped.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The request could not be sent or its answer not read.
    #[error("{0}")]
    Io(String),
    /// Privilege escalation was refused (wrong or missing password).
    #[error("{0}")]
    Become(String),
}

/// A target that runs scripts: the local machine or an SSH host.
#[async_trait]
pub trait Host: Send + Sync {
    /// Runs one script on the target: one round trip.
    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError>;

    /// Closes the connection (`meta: reset_connection`): the next request
    /// opens a new one. Nothing to close by default (the local machine).
    async fn reset(&self) {}

    /// Who watches [`crate::module::converge`] on this host for the engine
    /// (saved plans: `tend plan --out`, `tend apply`). None by default.
    fn observer(&self) -> Option<std::sync::Arc<dyn crate::module::ConvergeObserver>> {
        None
    }
}

/// A scripted [`Host`] for module tests: answers each request with the
/// next canned output and records the requests.
#[cfg(test)]
pub(crate) struct Replay {
    /// Outputs still to give, in order.
    pub outputs: std::sync::Mutex<std::collections::VecDeque<ExecOutput>>,
    /// The requests received.
    pub requests: std::sync::Mutex<Vec<Exec>>,
}

/// An answer with this exit status and stdout, for [`Replay::outputs`].
#[cfg(test)]
pub(crate) fn out(status: i32, stdout: &str) -> ExecOutput {
    ExecOutput {
        status,
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    }
}

#[cfg(test)]
impl Replay {
    /// A host that answers with these stdouts (status 0), in order.
    pub fn new(stdouts: &[&[u8]]) -> Replay {
        Replay {
            outputs: std::sync::Mutex::new(
                stdouts
                    .iter()
                    .map(|s| ExecOutput {
                        status: 0,
                        stdout: s.to_vec(),
                        stderr: Vec::new(),
                    })
                    .collect(),
            ),
            requests: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A host that answers with these outputs, in order.
    pub fn outputs(outputs: Vec<ExecOutput>) -> Replay {
        Replay {
            outputs: std::sync::Mutex::new(outputs.into()),
            requests: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs a future to completion (module tests have no runtime).
    pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a test runtime")
            .block_on(f)
    }

    /// Runs `module` with `args` against this host.
    pub fn run(
        &self,
        module: &dyn crate::module::Module,
        args: serde_json::Value,
        check_mode: bool,
    ) -> Result<crate::outcome::Outcome, crate::module::ModuleError> {
        let ctx = crate::module::Context {
            check_mode,
            diff: false,
        };
        Replay::block_on(module.run(&args, &ctx, self))
    }

    /// The scripts received so far.
    pub fn scripts(&self) -> Vec<String> {
        self.requests
            .lock()
            .map(|r| r.iter().map(|e| e.script.clone()).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[async_trait]
impl Host for Replay {
    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(request);
        }
        self.outputs
            .lock()
            .ok()
            .and_then(|mut o| o.pop_front())
            .ok_or_else(|| HostError::Io("no more canned outputs".into()))
    }
}
