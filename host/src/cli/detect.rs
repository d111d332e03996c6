//! `installer detect`. (Placeholder; being written.)

use std::process::ExitCode;

use super::Context;
use crate::Error;

pub fn run(_ctx: &Context) -> Result<ExitCode, Error> {
    Err(crate::detect::DetectError::NotYet.into())
}
