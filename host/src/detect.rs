//! Stage 1 of the flow: read `<root>/etc/os-release` into facts. (Placeholder; being written.)

/// Why os-release could not be read or matched.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Placeholder.
    #[error("detection is not written yet")]
    NotYet,
}

impl DetectError {
    /// The fix, as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        None
    }
}
