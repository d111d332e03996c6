use serde::{Deserialize, Serialize};

/// What went wrong inside a plugin, as the plugin tells the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct PluginError {
    /// The class of failure; the host maps it to an exit code.
    pub kind: ErrorKind,
    /// What was wrong, naming the value, variable or option involved.
    pub message: String,
    /// How to fix it, when the plugin knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Classes of plugin failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The user asked for something this plugin does not support (a distro, a version).
    Unsupported,
    /// An option or version given by the user is malformed.
    InvalidInput,
    /// The distro pack lacks a variable this plugin needs.
    MissingVariable,
    /// The method is not offered by this plugin (an older protocol minor, or the wrong kind).
    UnknownMethod,
    /// The request document could not be decoded.
    BadRequest,
    /// The plugin panicked; the message carries the panic payload.
    Panic,
    /// Anything else.
    #[serde(other)]
    Internal,
}

impl PluginError {
    /// A new error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// The user asked for something unsupported.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// An input value is malformed.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Adds a hint that tells the user how to fix it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
