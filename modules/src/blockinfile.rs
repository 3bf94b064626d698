//! The `blockinfile` module (being written).

use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

/// Arguments of `blockinfile` (being written).
#[derive(Debug, Deserialize)]
pub struct Args {}

/// The `blockinfile` module.
pub struct BlockInFile;

#[async_trait]
impl TypedModule for BlockInFile {
    type Args = Args;
    const NAME: &'static str = "blockinfile";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("blockinfile: not supported yet"))
    }
}
