//! How a change to a file is shown: a unified diff.

/// A unified diff from `old` to `new`, labelled with `path`.
pub fn diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path} (now)"), &format!("{path} (planned)"))
        .to_string()
}
