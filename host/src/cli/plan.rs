//! `installer plan`: the composed plan. (Until the plan issues land: the matched pack and the
//! loaded plugins.)

use std::process::ExitCode;

use super::{Context, Selection};
use crate::Error;

pub fn run(ctx: &Context, _selection: &Selection) -> Result<ExitCode, Error> {
    let registry = ctx.registry();
    for c in registry.loaded() {
        if let Some(m) = &c.manifest {
            println!("{} {} {}", m.name, m.kind, m.version);
        }
    }
    Ok(ExitCode::SUCCESS)
}
