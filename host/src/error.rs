//! The host's errors and the exit codes they map to (CLI.md): 1 a step failed while running,
//! 2 bad input or an unsupported combination, 3 a plugin failed to load or misbehaved, 4 the
//! user declined at the prompt.

use crate::{detect::DetectError, loader::PluginFailure, packs::PackError};

/// The exit codes of CLI.md, the only place they are numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// A step failed while running (what it changed is rolled back), or `verify` found a
    /// problem, or another run holds the root.
    Failed = 1,
    /// Bad input or an unsupported combination, or a target the plan cannot handle; nothing
    /// changed.
    Input = 2,
    /// A plugin failed to load or misbehaved.
    Plugin = 3,
    /// The user declined at the prompt; nothing changed.
    Declined = 4,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

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
    /// A plugin answered something no correct plugin would (a path outside the target, a
    /// malformed digest): its bug, not the user's input.
    #[error("{message}")]
    PluginBug {
        /// The plugin, when the check that caught it knew which one.
        plugin: Option<String>,
        /// Its library.
        file: Option<String>,
        /// What it answered, naming the plugin.
        message: String,
    },
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

    /// A plugin's answer no correct plugin would give; `message` names the plugin.
    pub fn plugin_bug(message: impl Into<String>) -> Self {
        Error::PluginBug {
            plugin: None,
            file: None,
            message: message.into(),
        }
    }

    /// The same error, saying which plugin it concerns (for `--output json`) when it is a
    /// plugin's bug that did not say so yet.
    pub fn of_plugin(self, name: &str, library: &std::path::Path) -> Self {
        match self {
            Error::PluginBug {
                plugin: None,
                message,
                ..
            } => Error::PluginBug {
                plugin: Some(name.to_owned()),
                file: Some(library.display().to_string()),
                message,
            },
            other => other,
        }
    }

    /// The exit code of CLI.md.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Detect(_) | Error::Pack(_) | Error::Input { .. } => Exit::Input,
            Error::PluginBug { .. } => Exit::Plugin,
            Error::Plugin(failure) if failure.refused_the_input() => Exit::Input,
            Error::Plugin(_) => Exit::Plugin,
        }
    }

    /// The exit code as a number.
    pub fn exit_code(&self) -> u8 {
        self.exit() as u8
    }

    /// A `hint:` line telling the fix, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Detect(e) => e.hint(),
            Error::Pack(e) => e.hint(),
            Error::Plugin(e) => e.hint(),
            Error::PluginBug { .. } => Some(
                "this is a bug in the plugin named above; report it to its authors, or remove it from the plugin path"
                    .to_owned(),
            ),
            Error::Input { hint, .. } => hint.clone(),
        }
    }
}

/// A failure as data: the document `--output json` prints instead of `error:`/`hint:` lines,
/// so that the Ansible module and other tools never parse text.
#[derive(Debug, serde::Serialize)]
pub struct ErrorReport {
    /// What kind of failure: `input`, `os_release`, `distro_pack`, `plugin_refused` (a plugin
    /// refused the selection), `plugin_failed` (it did not load, crashed, timed out or
    /// answered garbage) or `plugin_bug` (it answered something no correct plugin would).
    pub kind: &'static str,
    /// What went wrong, in words.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// The exit code the process ends with (CLI.md).
    pub exit_code: u8,
    /// The plugin it concerns, when it concerns one.
    pub plugin: Option<String>,
    /// The file it concerns: the plugin's library, the distro pack, os-release.
    pub file: Option<String>,
}

impl Error {
    /// This error as data.
    pub fn report(&self) -> ErrorReport {
        use crate::detect::DetectError as D;
        use crate::packs::PackError as P;
        let (kind, plugin, file) = match self {
            Error::Input { .. } => ("input", None, None),
            Error::Detect(e) => (
                "os_release",
                None,
                match e {
                    D::NotFound { tried } => tried.first().map(|p| p.display().to_string()),
                    D::Read { path, .. } | D::NoId { path } => Some(path.display().to_string()),
                    D::Unmatched { .. } => None,
                },
            ),
            Error::Pack(e) => (
                "distro_pack",
                None,
                match e {
                    P::Malformed { path, .. } => Some(path.clone()),
                    P::ReadDir { dir: path, .. } | P::ReadFile { path, .. } => {
                        Some(path.display().to_string())
                    }
                    P::Unknown { .. } => None,
                },
            ),
            Error::Plugin(failure) => (
                if failure.refused_the_input() {
                    "plugin_refused"
                } else {
                    "plugin_failed"
                },
                Some(failure.plugin.clone()),
                Some(failure.path.clone()),
            ),
            Error::PluginBug { plugin, file, .. } => ("plugin_bug", plugin.clone(), file.clone()),
        };
        ErrorReport {
            kind,
            message: self.to_string(),
            hint: self.hint(),
            exit_code: self.exit_code(),
            plugin,
            file,
        }
    }
}
