//! [`PackError`]: a distro pack that is malformed, unreadable, defined twice or unknown, with
//! the hint that fixes it.

use std::path::PathBuf;

/// A malformed, unreadable or unknown distro pack.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A pack file is not valid TOML, does not fit the schema, or breaks a rule.
    #[error("{path}:{line}:{column}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Malformed {
        /// The file (`distros/<file>` for a built-in pack).
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field at fault, dotted (`match.version_prefix`), when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A distro-pack directory could not be listed.
    #[error("cannot read distro-pack directory {}: {source}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A pack file could not be read.
    #[error("cannot read distro pack {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// No pack has this id.
    #[error("no distro pack `{id}`{}; known packs: {}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(), known.join(", "))]
    Unknown {
        /// The id asked for.
        id: String,
        /// A known id spelled nearly the same, if any.
        suggestion: Option<String>,
        /// Every known id.
        known: Vec<String>,
    },
}

impl PackError {
    /// The fix, as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            PackError::Malformed { path, .. } => format!(
                "fix {path} (the pack schema is in docs/distro-packs.md), or remove it from the \
                 distro-pack directory"
            ),
            PackError::ReadDir { .. } => "check the --distro-dir / INSTALLER_DISTRO_PATH \
                 directories exist and are readable"
                .to_owned(),
            PackError::ReadFile { .. } => "check the file's permissions".to_owned(),
            PackError::Unknown { id, .. } => format!(
                "`installer distros list` shows every pack; to add `{id}`, write `{id}.toml` in \
                 /etc/installer/distros or a directory passed with --distro-dir (see \
                 docs/distro-packs.md)"
            ),
        })
    }
}
