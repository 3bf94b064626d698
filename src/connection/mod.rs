//! Connections: how scripts reach a host. The local connection runs them
//! with `/bin/sh` here; the SSH connection (next) over one multiplexed SSH
//! master per host. Both implement [`tend_modules::Host`], so modules and the
//! executor cannot tell them apart. [`Escalated`] adds `become` and
//! `environment` on top of either.

pub mod local;
pub mod record;
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
}

/// A host with a task's `become` and `environment` applied to every script.
pub struct Escalated {
    /// The connection.
    pub inner: Arc<dyn Host>,
    /// Become settings, if escalating.
    pub escalation: Option<BecomeSpec>,
    /// `environment` for the task.
    pub environment: Vec<(String, String)>,
}

impl Escalated {
    /// The script as it will run: environment exported, then escalated.
    pub fn wrap(&self, script: &str) -> Result<String, HostError> {
        let mut body = String::new();
        for (k, v) in &self.environment {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.is_empty() {
                return Err(HostError::Io(format!(
                    "invalid environment variable name `{k}`"
                )));
            }
            body.push_str(&format!("export {k}={}\n", quote(v)));
        }
        body.push_str(script);
        let Some(spec) = &self.escalation else {
            return Ok(body);
        };
        let flags = spec.flags.clone().unwrap_or_default();
        Ok(match spec.method.as_str() {
            "sudo" => {
                let flags = if flags.is_empty() {
                    "-H -S -n".to_string()
                } else {
                    flags
                };
                format!(
                    "sudo {flags} -u {} /bin/sh -c {}",
                    quote(&spec.user),
                    quote(&body)
                )
            }
            "su" => format!(
                "su {flags} {} -s /bin/sh -c {}",
                quote(&spec.user),
                quote(&body)
            ),
            other => {
                return Err(HostError::Become(format!(
                    "become_method `{other}` is not supported yet"
                )));
            }
        })
    }
}

#[async_trait]
impl Host for Escalated {
    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        let started = record::start();
        let shown = started.map(|_| (request.script.clone(), request.stdin.len()));
        let result = if self.escalation.is_none() && self.environment.is_empty() {
            self.inner.exec(request).await
        } else {
            match self.wrap(&request.script) {
                Ok(script) => {
                    self.inner
                        .exec(Exec {
                            script,
                            stdin: request.stdin,
                        })
                        .await
                }
                Err(e) => Err(e),
            }
        };
        if let Some((script, stdin_len)) = shown {
            let user = self.escalation.as_ref().map(|b| b.user.as_str());
            record::finish(started, &script, user, stdin_len, &result);
        }
        result
    }
}
