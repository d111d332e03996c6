//! Runtime and Kubernetes versions as users write them.

use std::cmp::Ordering;
use std::fmt;

use crate::{Options, PluginError};

/// The Kubernetes version messages show as an example.
pub const KUBERNETES_EXAMPLE: &str = "1.30";

/// A version given by the user: `MAJOR.MINOR` (a series, `1.7`, `19.03`) or
/// `MAJOR.MINOR.PATCH` (a release, `19.03.8`, `1.24.6`).
///
/// Components compare by number, but [`Version::text`] keeps the user's spelling, because
/// package versions are matched as text (`19.03` is not `19.3` to apt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    text: String,
    major: u64,
    minor: u64,
    patch: Option<u64>,
}

impl Version {
    /// Parses `value`, given by `flag` (`--version`), or says what is wrong and shows
    /// `example`. A leading `v` (`v1.30`) is accepted and dropped.
    pub fn parse(value: &str, flag: &str, example: &str) -> Result<Self, PluginError> {
        let text = value.strip_prefix('v').unwrap_or(value);
        let parts: Vec<&str> = text.split('.').collect();
        let number = |s: &str| -> Option<u64> {
            if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                s.parse().ok()
            }
        };
        let parsed = match parts.as_slice() {
            [major, minor] => number(major).zip(number(minor)).map(|(a, b)| (a, b, None)),
            [major, minor, patch] => number(major)
                .zip(number(minor))
                .zip(number(patch))
                .map(|((a, b), c)| (a, b, Some(c))),
            _ => None,
        };
        let Some((major, minor, patch)) = parsed else {
            return Err(PluginError::invalid_input(format!(
                "{flag} `{}` is not a version",
                value.escape_debug()
            ))
            .with_hint(format!(
                "write MAJOR.MINOR or MAJOR.MINOR.PATCH in digits, e.g. {flag} {example}"
            )));
        };
        Ok(Version {
            text: text.to_owned(),
            major,
            minor,
            patch,
        })
    }

    /// The user's `--version`, parsed, or `None` when it is not given; `example` (a version
    /// of this runtime) shows how to write one.
    pub fn requested(options: &Options, example: &str) -> Result<Option<Self>, PluginError> {
        options
            .version
            .as_deref()
            .map(|v| Version::parse(v, "--version", example))
            .transpose()
    }

    /// The user's `--kubernetes-version`, parsed, or `None` when it is not given.
    pub fn kubernetes(options: &Options) -> Result<Option<Self>, PluginError> {
        options
            .kubernetes_version
            .as_deref()
            .map(|v| Version::parse(v, "--kubernetes-version", KUBERNETES_EXAMPLE))
            .transpose()
    }

    /// The version as the user wrote it (without a leading `v`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number.
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number, when the user named a release rather than a series.
    pub fn patch(&self) -> Option<u64> {
        self.patch
    }

    /// Whether the user named a release (`19.03.8`) rather than a series (`19.03`).
    pub fn is_release(&self) -> bool {
        self.patch.is_some()
    }

    /// `MAJOR.MINOR` by number (`19.3` for `19.03.8`): for messages and comparisons only.
    pub fn series(&self) -> (u64, u64) {
        (self.major, self.minor)
    }

    /// The release this pin installs, as far as it is known: a series resolves to its newest
    /// release, so the patch counts as unbounded. Used to judge a pin against tables of
    /// releases (fixes, schema changes).
    pub fn resolves_to(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch.unwrap_or(u64::MAX))
    }

    /// Whether the pin installs a release at or above `at`.
    pub fn at_least(&self, at: (u64, u64, u64)) -> bool {
        self.resolves_to().cmp(&at) != Ordering::Less
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_and_releases() {
        let v = Version::parse("19.03.8", "--version", "19.03.8").unwrap();
        assert_eq!(v.text(), "19.03.8");
        assert_eq!(v.series(), (19, 3));
        assert_eq!(v.patch(), Some(8));
        assert!(v.is_release());
        let s = Version::parse("v1.30", "--kubernetes-version", "1.30").unwrap();
        assert_eq!(s.text(), "1.30");
        assert!(!s.is_release());
        assert_eq!(s.resolves_to(), (1, 30, u64::MAX));
    }

    #[test]
    fn a_series_resolves_to_its_newest_release() {
        let series = Version::parse("1.6", "--version", "1.6").unwrap();
        assert!(series.at_least((1, 6, 28)));
        let old = Version::parse("1.6.20", "--version", "1.6").unwrap();
        assert!(!old.at_least((1, 6, 28)));
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for bad in [
            "",
            "1",
            "1.2.3.4",
            "latest",
            "1.x",
            "1.2-rc1",
            "19.03.8-ce",
            " 1.2",
            "1..2",
        ] {
            let e = Version::parse(bad, "--version", "1.7").unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidInput, "{bad}");
            assert!(e.hint.unwrap().contains("--version 1.7"));
        }
    }
}
