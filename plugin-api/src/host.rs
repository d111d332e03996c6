//! The host's side of the boundary: opening a plugin library and calling it.
//!
//! The installer only uses this in a short-lived child process (libraries are never unloaded,
//! and a plugin that aborts must not take the host down).

use std::path::Path;

use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::std_types::{RResult, RStr};
use serde::de::DeserializeOwned;

use crate::abi::PluginRootRef;
use crate::{ErrorKind, Manifest, PluginError};

/// Why a library could not be opened as a plugin. Each variant's text is the one-line reason
/// shown by `installer plugins list`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// dlopen refused the file.
    #[error("not a shared library: {0}")]
    NotALibrary(String),
    /// A shared library without the installer's root module.
    #[error("not an installer plugin: it exports no installer root module (symbol `{symbol}`); plugins export one with plugin_api::export_plugin!")]
    NotAPlugin {
        /// The symbol looked for.
        symbol: String,
    },
    /// The library was built with an abi_stable whose ABI differs from the host's.
    #[error("built with an incompatible abi_stable ({0}); rebuild it against plugin-api")]
    IncompatibleAbiStable(String),
    /// The root module's layout differs from the host's.
    #[error(
        "its root module's layout differs from this host's ({0}); rebuild it against plugin-api"
    )]
    LayoutMismatch(String),
    /// Any other loading failure.
    #[error("cannot load: {0}")]
    Other(String),
}

/// An opened plugin library.
pub struct Library {
    root: PluginRootRef,
}

impl Library {
    /// Opens the library at `path` and checks its root module's layout.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let header = lib_header_from_path(path).map_err(classify)?;
        let root = header
            .init_root_module::<PluginRootRef>()
            .map_err(classify)?;
        Ok(Library { root })
    }

    /// The plugin's manifest.
    pub fn manifest(&self) -> Result<Manifest, PluginError> {
        let raw = (self.root.manifest())();
        decode("manifest", raw)
    }

    /// Calls `method` with `request`, returning the raw JSON answer.
    pub fn call_raw(&self, method: &str, request: &str) -> Result<String, PluginError> {
        match (self.root.call())(RStr::from_str(method), RStr::from_str(request)) {
            RResult::ROk(json) => Ok(json.into_string()),
            RResult::RErr(err) => Err(error_document(err.as_str())),
        }
    }
}

fn decode<T: DeserializeOwned>(
    what: &str,
    raw: RResult<abi_stable::std_types::RString, abi_stable::std_types::RString>,
) -> Result<T, PluginError> {
    match raw {
        RResult::ROk(json) => serde_json::from_str(json.as_str())
            .map_err(|e| PluginError::new(ErrorKind::Internal, format!("malformed {what}: {e}"))),
        RResult::RErr(err) => Err(error_document(err.as_str())),
    }
}

/// Decodes an error document; a plugin that sends something else still gets its text shown.
fn error_document(text: &str) -> PluginError {
    serde_json::from_str(text).unwrap_or_else(|_| PluginError::new(ErrorKind::Internal, text))
}

fn classify(error: LibraryError) -> OpenError {
    let one_line = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match error {
        LibraryError::OpenError { err, .. } => OpenError::NotALibrary(one_line(err.to_string())),
        LibraryError::GetSymbolError { symbol, .. } => OpenError::NotAPlugin {
            symbol: String::from_utf8_lossy(&symbol)
                .trim_end_matches('\0')
                .to_owned(),
        },
        LibraryError::InvalidAbiHeader(header) => OpenError::IncompatibleAbiStable(format!(
            "its abi_stable ABI is {}.{}, this host's is {}.{}",
            header.abi_major,
            header.abi_minor,
            abi_stable::library::AbiHeader::VALUE.abi_major,
            abi_stable::library::AbiHeader::VALUE.abi_minor,
        )),
        // abi_stable's report is a multi-page layout dump; the user needs the verdict.
        LibraryError::AbiInstability(_) => {
            OpenError::LayoutMismatch("abi_stable's layout check failed".to_owned())
        }
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => OpenError::LayoutMismatch(format!(
            "root module version {actual_version}, this host expects {expected_version}"
        )),
        other => OpenError::Other(one_line(other.to_string())),
    }
}
