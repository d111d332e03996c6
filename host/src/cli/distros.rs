//! `installer distros list|show`. (Placeholder; being written.)

use std::process::ExitCode;

use super::Context;
use crate::Error;

pub fn list(_ctx: &Context) -> Result<ExitCode, Error> {
    Err(crate::packs::PackError::NotYet.into())
}

pub fn show(_ctx: &Context, _id: &str) -> Result<ExitCode, Error> {
    Err(crate::packs::PackError::NotYet.into())
}
