//! The `ping` module: check that tend can log in to the host and run a
//! command there.
//!
//! Unlike Ansible's `ping`, which proves a usable Python, this proves what
//! tend needs: a login, a POSIX shell, and (under `become`) privilege
//! escalation. It costs one round trip and changes nothing. As Ansible's
//! module, `data: crash` makes it fail on purpose.
//!
//! # Examples
//!
//! ```yaml
//! - name: Check every web server answers
//!   ansible.builtin.ping:
//!
//! - name: Make the task fail, to test error handling
//!   ansible.builtin.ping:
//!     data: crash
//! ```
//!
//! # Return values
//!
//! - `ping` (str): the `data` argument, `pong` by default.

use crate::args::de;
use crate::host::{Exec, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

fn pong() -> String {
    "pong".into()
}

/// Arguments of `ping`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// What to return as `ping` (default `pong`); `crash` makes the module fail.
    #[serde(default = "pong", deserialize_with = "de::string")]
    pub data: String,
}

/// The `ping` module.
pub struct Ping;

#[async_trait]
impl TypedModule for Ping {
    type Args = Args;
    const NAME: &'static str = "ping";

    async fn run(
        &self,
        args: Args,
        _ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        if args.data == "crash" {
            return Err(ModuleError::failed("boom"));
        }
        let out = host.exec(Exec::script(":")).await?;
        if out.status != 0 {
            return Err(ModuleError::script("the host's shell failed", &out));
        }
        Ok(Outcome::ok().with("ping", args.data))
    }
}
