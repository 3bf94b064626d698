//! The `copy` module (being written).

use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

/// Arguments of `copy` (being written).
#[derive(Debug, Deserialize)]
pub struct Args {}

/// The `copy` module.
pub struct Copy;

#[async_trait]
impl TypedModule for Copy {
    type Args = Args;
    const NAME: &'static str = "copy";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("copy: not supported yet"))
    }
}
