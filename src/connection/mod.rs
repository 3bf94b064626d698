//! Connections: how scripts reach a host. The local connection runs them
//! with `/bin/sh` here; the SSH connection (next) over one multiplexed SSH
//! master per host. Both implement [`tend_modules::Host`], so modules and the
//! executor cannot tell them apart. [`Escalated`] adds `become` and
//! `environment` on top of either.

pub mod local;
pub mod record;
pub mod runner;
pub mod speculation;
pub mod ssh;

use async_trait::async_trait;
use std::sync::Arc;
use tend_modules::sh::quote;
use tend_modules::{Exec, ExecOutput, Host, HostError};

/// Privilege escalation for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BecomeSpec {
    /// `become_method`: `sudo` or `su`.
    pub method: String,
    /// `become_user` (default root).
    pub user: String,
    /// `become_flags`.
    pub flags: Option<String>,
    /// `ansible_become_password` / `--ask-become-pass`: sent on the script's
    /// standard input, never in an argument or a file.
    pub password: Option<Password>,
}

/// A password that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(********)")
    }
}

/// Exit status and stderr prefix of the wrapper when sudo refuses the password.
const BECOME_FAILED_STATUS: i32 = 126;
const BECOME_FAILED_MARK: &str = "tend-become-failed: ";

/// A host with a task's `become` and `environment` applied to every script.
pub struct Escalated {
    /// The connection.
    pub inner: Arc<dyn Connection>,
    /// Become settings, if escalating.
    pub escalation: Option<BecomeSpec>,
    /// `environment` for the task.
    pub environment: Vec<(String, String)>,
    /// The task's `timeout`: every script is run under coreutils `timeout`
    /// with what is left of it, so that a hung command and everything it
    /// started (its process group, under `become` too) is killed on the
    /// target, not just abandoned by the controller.
    pub deadline: Option<std::time::Instant>,
}

/// A way to reach a host: runs scripts as the login user, and as another
/// user through `become`. The default [`Connection::exec_as`] wraps each
/// script in `sudo`/`su`; the SSH connection instead keeps one escalated
/// shell per become user and feeds it the scripts (no `sudo` per script).
#[async_trait]
pub trait Connection: Host {
    /// Runs `request` (environment and deadline already applied) as
    /// `escalation` says.
    async fn exec_as(
        &self,
        request: Exec,
        escalation: &BecomeSpec,
    ) -> Result<ExecOutput, HostError> {
        let mut request = escalate(escalation, request)?;
        request.stdin = password_first(escalation, std::mem::take(&mut request.stdin))?;
        let out = self.exec(request).await?;
        refused_escalation(escalation, &out).map_or(Ok(out), Err)
    }

    /// Runs read-only `probes` now, together where the connection can (one
    /// round trip over SSH), and keeps their answers for when they are
    /// asked for in this order ([`speculation`]); an empty list drops what
    /// was kept. Nothing by default: each probe runs when asked.
    async fn prefetch(&self, _probes: Vec<(Exec, Option<BecomeSpec>)>) {}

    /// What the connection cost so far, where it counts (SSH).
    fn traffic(&self) -> Option<Traffic> {
        None
    }
}

/// What a connection to a host cost: round trips (requests sent and
/// answered; probes sent ahead together count once) and channels opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traffic {
    /// Round trips.
    pub round_trips: u64,
    /// SSH channels opened.
    pub channels: u64,
}

/// The request as it runs as `spec`'s user: the escalating command runs
/// [`ssh::BOOTSTRAP`], which reads the wrapped script from stdin
/// ([`ssh::frame`]), so no script is ever in a process's arguments, where
/// `ps` would show a secret in it.
pub fn escalate(spec: &BecomeSpec, request: Exec) -> Result<Exec, HostError> {
    Ok(Exec {
        script: escalation_command(spec, ssh::BOOTSTRAP)?,
        stdin: ssh::frame(&request.script, &request.stdin),
        lingering: request.lingering,
        read_only: request.read_only,
    })
}

/// The channel command that starts a runner's shell as `spec`'s user
/// directly: no bootstrap frame, three processes fewer on the target than
/// [`escalate`]. `None` when the escalation needs a script of its own (a
/// become password, `su`): those start through [`escalate`]. The command
/// is one simple command (`exec` and words without a secret), which any
/// login shell (sh, bash, zsh, csh, fish) runs the same.
pub fn direct_runner(spec: &BecomeSpec) -> Option<String> {
    if spec.method != "sudo" || spec.password.is_some() {
        return None;
    }
    escalation_command(spec, RUNNER_SHELL)
        .ok()
        .map(|c| format!("exec {c}"))
}

/// The shell a runner is: reads its script from stdin (what
/// [`runner::START`], the channel command without become, execs).
const RUNNER_SHELL: &str = "/bin/sh -s";

/// The command that runs `body` (a command line) as `spec`'s user.
fn escalation_command(spec: &BecomeSpec, body: &str) -> Result<String, HostError> {
    let flags = spec.flags.clone().unwrap_or_default();
    let user = quote(&spec.user);
    match (spec.method.as_str(), &spec.password) {
        ("sudo", None) => {
            let flags = if flags.is_empty() {
                "-H -S -n".to_string()
            } else {
                flags
            };
            Ok(format!("sudo {flags} -u {user} {body}"))
        }
        ("sudo", Some(_)) => Ok(sudo_with_password(&flags, &user)),
        ("su", None) => Ok(format!("su {flags} {user} -s /bin/sh -c {}", quote(body))),
        ("su", Some(_)) => Err(HostError::Become(
            "become_method su with a password needs a terminal, which tend never \
             opens: use sudo, or passwordless su (as root)"
                .into(),
        )),
        (other, _) => Err(HostError::Become(format!(
            "become_method `{other}` is not supported yet"
        ))),
    }
}

/// The standard input for [`escalate`]'s command: the password line first
/// when there is one, then `stdin`.
pub fn password_first(spec: &BecomeSpec, stdin: Vec<u8>) -> Result<Vec<u8>, HostError> {
    let Some(Password(pw)) = &spec.password else {
        return Ok(stdin);
    };
    if pw.contains('\n') {
        return Err(HostError::Become(
            "the become password contains a newline".into(),
        ));
    }
    let mut input = Vec::with_capacity(pw.len() + 1 + stdin.len());
    input.extend_from_slice(pw.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(&stdin);
    Ok(input)
}

/// The become error an [`escalate`]d command's output shows, if sudo refused.
pub fn refused_escalation(spec: &BecomeSpec, out: &ExecOutput) -> Option<HostError> {
    let stderr = out.stderr_text();
    if out.status == BECOME_FAILED_STATUS
        && let Some(msg) = stderr
            .lines()
            .find_map(|l| l.strip_prefix(BECOME_FAILED_MARK))
    {
        return Some(HostError::Become(msg.to_string()));
    }
    if spec.method == "sudo"
        && spec.password.is_none()
        && out.status == 1
        && stderr.trim() == "sudo: a password is required"
    {
        return Some(HostError::Become("Missing sudo password".into()));
    }
    None
}

impl Escalated {
    /// The script with the task's environment exported and its deadline
    /// applied; `become` is the connection's part ([`Connection::exec_as`]).
    pub fn body(&self, request: Exec) -> Result<Exec, HostError> {
        let mut body = String::new();
        for (k, v) in &self.environment {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.is_empty() {
                return Err(HostError::Io(format!(
                    "invalid environment variable name `{k}`"
                )));
            }
            body.push_str(&format!("export {k}={}\n", quote(v)));
        }
        body.push_str(&request.script);
        let Some(deadline) = self.deadline else {
            return Ok(Exec {
                script: body,
                stdin: request.stdin,
                lingering: request.lingering,
                read_only: request.read_only,
            });
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        // TERM to the whole process group, KILL a second later; the script
        // travels on stdin ([`ssh::BOOTSTRAP`]), never in `timeout`'s argv.
        Ok(Exec {
            script: format!("timeout -k 1 {} {}", secs.max(1), ssh::BOOTSTRAP),
            stdin: ssh::frame(&body, &request.stdin),
            lingering: request.lingering,
            read_only: request.read_only,
        })
    }

    /// Runs one request with the task's environment, deadline and become.
    async fn exec_wrapped(&self, request: Exec) -> Result<ExecOutput, HostError> {
        let request = if self.environment.is_empty() && self.deadline.is_none() {
            request
        } else {
            self.body(request)?
        };
        if speculation::intercept(
            speculation::connection_id(self.inner.as_ref()),
            &request,
            self.escalation.as_ref(),
        ) {
            return Err(HostError::Io("speculating: not run".into()));
        }
        match &self.escalation {
            None => self.inner.exec(request).await,
            Some(spec) => self.inner.exec_as(request, spec).await,
        }
    }
}

/// The script that escalates with sudo and a password. The password is the
/// first line of the script's standard input; the script reads it into a
/// shell variable (never exported, never in an argument: `printf` is a
/// builtin) and pipes it to `sudo -S` ahead of the rest of the input:
///
/// 1. if sudo needs no password for this user (NOPASSWD), the password is
///    dropped and the body gets standard input untouched;
/// 2. else the password is tried alone first (`-k`: never a cached ticket),
///    so a wrong one is refused before any input is consumed;
/// 3. then sudo reads exactly the password line and the body the rest.
fn sudo_with_password(flags: &str, user: &str) -> String {
    let user_flags: Vec<&str> = flags
        .split_whitespace()
        .filter(|f| !matches!(*f, "-n" | "-S" | "--non-interactive" | "--stdin"))
        .collect();
    let user_flags = if user_flags.is_empty() {
        "-H".to_string()
    } else {
        user_flags.join(" ")
    };
    let body = ssh::BOOTSTRAP;
    format!(
        "IFS= read -r __tend_pw || __tend_pw=\n\
         if sudo -n -u {user} /bin/sh -c : 2>/dev/null; then\n\
         \x20 unset __tend_pw\n\
         \x20 exec sudo {user_flags} -n -u {user} {body}\n\
         fi\n\
         if ! printf '%s\\n' \"$__tend_pw\" | sudo -k -S -p '' -u {user} /bin/sh -c : 2>/dev/null; then\n\
         \x20 unset __tend_pw\n\
         \x20 echo '{BECOME_FAILED_MARK}Incorrect sudo password' >&2\n\
         \x20 exit {BECOME_FAILED_STATUS}\n\
         fi\n\
         {{ printf '%s\\n' \"$__tend_pw\"; exec cat; }} | sudo {user_flags} -k -S -p '' -u {user} {body}\n"
    )
}

#[async_trait]
impl Host for Escalated {
    async fn reset(&self) {
        self.inner.reset().await;
    }

    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        let started = record::start();
        let shown = started.map(|_| (request.script.clone(), request.stdin.len()));
        let result = self.exec_wrapped(request).await;
        if let Some((script, stdin_len)) = shown {
            let user = self.escalation.as_ref().map(|b| b.user.as_str());
            record::finish(started, &script, user, stdin_len, &result);
        }
        result
    }

    fn observer(&self) -> Option<Arc<dyn tend_modules::ConvergeObserver>> {
        crate::plan::current_observer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(method: &str, flags: Option<&str>, password: Option<&str>) -> BecomeSpec {
        BecomeSpec {
            method: method.into(),
            user: "app user".into(),
            flags: flags.map(Into::into),
            password: password.map(|p| Password(p.into())),
        }
    }

    #[test]
    fn a_runner_starts_its_shell_straight_from_the_channel_command() {
        assert_eq!(runner::START, format!("exec {RUNNER_SHELL}"));
        assert_eq!(
            direct_runner(&spec("sudo", None, None)).as_deref(),
            Some("exec sudo -H -S -n -u 'app user' /bin/sh -s")
        );
        assert_eq!(
            direct_runner(&spec("sudo", Some("-E -n"), None)).as_deref(),
            Some("exec sudo -E -n -u 'app user' /bin/sh -s")
        );
        // A password is read by a script first; su gets its command as an
        // argument: both go through the bootstrap frame.
        assert_eq!(direct_runner(&spec("sudo", None, Some("pw"))), None);
        assert_eq!(direct_runner(&spec("su", None, None)), None);
        assert_eq!(direct_runner(&spec("doas", None, None)), None);
    }
}
