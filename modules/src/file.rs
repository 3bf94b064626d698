//! The `file` module (being written).

use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

/// Arguments of `file` (being written).
#[derive(Debug, Deserialize)]
pub struct Args {}

/// The `file` module.
pub struct File;

#[async_trait]
impl TypedModule for File {
    type Args = Args;
    const NAME: &'static str = "file";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("file: not supported yet"))
    }
}
