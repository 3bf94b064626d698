//! The `stat` module (being written).

use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

/// Arguments of `stat` (being written).
#[derive(Debug, Deserialize)]
pub struct Args {}

/// The `stat` module.
pub struct Stat;

#[async_trait]
impl TypedModule for Stat {
    type Args = Args;
    const NAME: &'static str = "stat";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("stat: not supported yet"))
    }
}
