//! The host's errors and the exit codes they map to (CLI.md): 1 a step failed while running,
//! 2 bad input or an unsupported combination, 3 a plugin failed to load or misbehaved, 4 the
//! user declined at the prompt.

use crate::{detect::DetectError, loader::PluginFailure, packs::PackError};

/// The user declined at the prompt; nothing was changed (CLI.md).
pub const EXIT_DECLINED: u8 = 4;

/// Every error the host reports, each carrying what the user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// os-release could not be read or matched.
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// A distro pack is malformed or unknown.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// A plugin failed to load, crashed or answered badly.
    #[error(transparent)]
    Plugin(#[from] PluginFailure),
    /// Bad input from the user: a flag, a config file, a value.
    #[error("{message}")]
    Input {
        /// What was wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
}

impl Error {
    /// Bad input with a hint.
    pub fn input(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// The exit code of CLI.md.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Detect(_) | Error::Pack(_) | Error::Input { .. } => 2,
            Error::Plugin(failure) => failure.exit_code(),
        }
    }

    /// A `hint:` line telling the fix, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Detect(e) => e.hint(),
            Error::Pack(e) => e.hint(),
            Error::Plugin(e) => e.hint(),
            Error::Input { hint, .. } => hint.clone(),
        }
    }
}
