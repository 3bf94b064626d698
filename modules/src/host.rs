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
}

impl Exec {
    /// A script with an empty standard input.
    pub fn script(script: impl Into<String>) -> Self {
        Exec {
            script: script.into(),
            stdin: Vec::new(),
        }
    }

    /// A script with the given bytes on its standard input.
    pub fn with_stdin(script: impl Into<String>, stdin: impl Into<Vec<u8>>) -> Self {
        Exec {
            script: script.into(),
            stdin: stdin.into(),
        }
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
}

/// A scripted host for fixture tests: answers each request with the next
/// canned output and records the scripts it was given.
#[cfg(test)]
pub(crate) mod replay {
    use super::{Exec, ExecOutput, Host, HostError};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Canned answers, in order; the requests seen.
    #[derive(Default)]
    pub struct Replay {
        answers: Mutex<Vec<ExecOutput>>,
        /// The requests received, in order.
        pub seen: Mutex<Vec<Exec>>,
    }

    /// An answer with this exit status and stdout.
    pub fn out(status: i32, stdout: &str) -> ExecOutput {
        ExecOutput {
            status,
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
        }
    }

    impl Replay {
        /// A host giving these answers in order.
        pub fn new(answers: Vec<ExecOutput>) -> Self {
            let mut answers = answers;
            answers.reverse();
            Replay {
                answers: Mutex::new(answers),
                seen: Mutex::default(),
            }
        }

        /// The scripts received so far.
        pub fn scripts(&self) -> Vec<String> {
            self.seen
                .lock()
                .map(|s| s.iter().map(|e| e.script.clone()).collect())
                .unwrap_or_default()
        }
    }

    #[async_trait]
    impl Host for Replay {
        async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(request);
            }
            self.answers
                .lock()
                .ok()
                .and_then(|mut a| a.pop())
                .ok_or_else(|| HostError::Io("no more canned answers".into()))
        }
    }
}
