//! Stage 2 of the flow: distro packs and matching facts to one. (Placeholder; being written.)

/// A malformed or unknown distro pack.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Placeholder.
    #[error("packs are not written yet")]
    NotYet,
}

impl PackError {
    /// The fix, as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        None
    }
}
