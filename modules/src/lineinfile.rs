//! The `lineinfile` module (being written).

use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;

/// Arguments of `lineinfile` (being written).
#[derive(Debug, Deserialize)]
pub struct Args {}

/// The `lineinfile` module.
pub struct LineInFile;

#[async_trait]
impl TypedModule for LineInFile {
    type Args = Args;
    const NAME: &'static str = "lineinfile";
    async fn run(&self, _args: Args, _ctx: &Context, _host: &dyn Host) -> Result<Outcome, ModuleError> {
        Err(ModuleError::failed("lineinfile: not supported yet"))
    }
}
