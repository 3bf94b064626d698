//! The `template` module (being written).

use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

/// Arguments of `template` (being written).
#[derive(Debug, Deserialize)]
pub struct Args {}

/// The `template` module.
pub struct Template;

#[async_trait]
impl TypedModule for Template {
    type Args = Args;
    const NAME: &'static str = "template";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("template: not supported yet"))
    }
}
