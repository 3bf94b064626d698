//! The `command` module (being written).

use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

/// Arguments of `command` (being written).
#[derive(Debug, Deserialize)]
pub struct Args {}

/// The `command` module.
pub struct Command;

#[async_trait]
impl TypedModule for Command {
    type Args = Args;
    const NAME: &'static str = "command";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("command: not supported yet"))
    }
}

/// The `shell` module.
pub struct Shell;

#[async_trait]
impl TypedModule for Shell {
    type Args = Args;
    const NAME: &'static str = "shell";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("shell: not supported yet"))
    }
}

/// The `raw` module.
pub struct Raw;

#[async_trait]
impl TypedModule for Raw {
    type Args = Args;
    const NAME: &'static str = "raw";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("raw: not supported yet"))
    }
}
