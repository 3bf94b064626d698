//! Recording the scripts a task runs, for `-vvv`.
//!
//! [`recording`] runs a future with a per-future log; [`crate::connection::Escalated`]
//! appends every script it runs to the log of the future it runs in. Outside
//! [`recording`] nothing is kept, so the cost is paid only at `-vvv`.

use std::cell::RefCell;
use std::time::{Duration, Instant};
use tend_modules::{ExecOutput, HostError};

/// What was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// A script run on the host.
    Exec,
    /// A new SSH connection (its master), described by `script`.
    Connect,
}

/// One script run on a host (or a connection opened to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    /// A script, or a connection.
    pub kind: CommandKind,
    /// The script, before privilege escalation wraps it.
    pub script: String,
    /// The user it ran as through `become`, if any.
    pub become_user: Option<String>,
    /// How many bytes went to its standard input (never the bytes).
    pub stdin_len: usize,
    /// Its exit status, or the error that kept it from running.
    pub outcome: Result<i32, String>,
    /// How long the round trip took.
    pub duration: Duration,
}

impl CommandRecord {
    /// The record with its script hidden (`no_log`).
    pub fn redacted(&self) -> CommandRecord {
        if self.kind == CommandKind::Connect {
            return self.clone();
        }
        CommandRecord {
            script: crate::report::CENSORED_LABEL.into(),
            outcome: self
                .outcome
                .clone()
                .map_err(|_| crate::report::CENSORED_LABEL.to_string()),
            ..self.clone()
        }
    }
}

tokio::task_local! {
    static LOG: RefCell<Vec<CommandRecord>>;
}

/// Runs `fut`, keeping every script it runs on a host.
pub async fn recording<F: std::future::Future>(fut: F) -> (F::Output, Vec<CommandRecord>) {
    LOG.scope(RefCell::new(Vec::new()), async move {
        let out = fut.await;
        let log = LOG.with(|l| l.take());
        (out, log)
    })
    .await
}

/// Runs `fut`, keeping its scripts only when `on` (`-vvv`).
pub async fn recording_if<F: std::future::Future>(
    on: bool,
    fut: F,
) -> (F::Output, Vec<CommandRecord>) {
    if on {
        recording(fut).await
    } else {
        (fut.await, Vec::new())
    }
}

/// When a script starts: its start time, if a log is being kept.
pub fn start() -> Option<Instant> {
    LOG.try_with(|_| Instant::now()).ok()
}

/// Appends a finished script to the current log, if one is being kept.
pub fn finish(
    started: Option<Instant>,
    script: &str,
    become_user: Option<&str>,
    stdin_len: usize,
    result: &Result<ExecOutput, HostError>,
) {
    let Some(started) = started else {
        return;
    };
    let record = CommandRecord {
        kind: CommandKind::Exec,
        script: script.to_string(),
        become_user: become_user.map(str::to_string),
        stdin_len,
        outcome: match result {
            Ok(o) => Ok(o.status),
            Err(e) => Err(e.to_string()),
        },
        duration: started.elapsed(),
    };
    let _ = LOG.try_with(|l| l.borrow_mut().push(record));
}

/// Appends a connection attempt to the current log, if one is being kept.
pub fn connected<T>(started: Option<Instant>, description: &str, result: &Result<T, HostError>) {
    let Some(started) = started else {
        return;
    };
    let record = CommandRecord {
        kind: CommandKind::Connect,
        script: description.to_string(),
        become_user: None,
        stdin_len: 0,
        outcome: match result {
            Ok(_) => Ok(0),
            Err(e) => Err(e.to_string()),
        },
        duration: started.elapsed(),
    };
    let _ = LOG.try_with(|l| l.borrow_mut().push(record));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scripts_are_kept_only_inside_recording() {
        let ok: Result<ExecOutput, HostError> = Ok(ExecOutput::default());
        finish(start(), "outside", None, 0, &ok);
        let ((), log) = recording(async {
            let t = start();
            finish(t, "echo hi", Some("root"), 3, &ok);
        })
        .await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].script, "echo hi");
        assert_eq!(log[0].become_user.as_deref(), Some("root"));
        assert_eq!(log[0].stdin_len, 3);
        assert_eq!(log[0].outcome, Ok(0));
        assert_eq!(log[0].redacted().script, "(censored due to no_log)");
    }
}
