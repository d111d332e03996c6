//! runc releases with known container escapes, by the version `runc --version` prints.
//!
//! Ranges are half-open over upstream runc versions, release candidates ordered by number
//! (`1.0.0-rc10` after `1.0.0-rc7`, which plain string order gets wrong):
//! - CVE-2019-5736: every release before 1.0.0-rc7, the first tag with the fix (commit
//!   0a8e4117e7f7, opencontainers/runc; GHSA-gxmr-w5mj-v8hh "runc through 1.0-rc6").
//! - CVE-2024-21626: 1.0.0-rc93 up to 1.1.12 (GHSA-xr7r-f8xq-vfvv; runc CHANGELOG 1.1.12).
//! - CVE-2025-31133 and CVE-2025-52881: every release before 1.2.8, 1.3.0-rc1 up to 1.3.3,
//!   1.4.0-rc1 up to 1.4.0-rc3 (GHSA-9493-h29p-rfm2, GHSA-cgrx-mc8f-2prm; runc CHANGELOG
//!   1.2.8, 1.3.3, 1.4.0-rc.3).
//! - CVE-2025-52565: as those, from 1.0.0-rc3 (GHSA-qw9x-cqr3-wc7r).

/// A runc version as `runc --version` prints it on its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Version {
    /// As printed, after `runc version `.
    pub text: String,
    /// `(major, minor, patch, pre)` where `pre` orders release candidates before the release.
    key: (u64, u64, u64, (u8, u64)),
    /// Whether a distribution built it (`1.1.5+ds1`, `1.1.12-0ubuntu3.1`): distributions fix
    /// runc without changing the upstream version.
    pub distro_build: bool,
}

impl Version {
    /// Reads `runc version 1.1.12`, `runc version 1.0.0-rc93`, `runc version 1.1.5+ds1`.
    pub fn parse(first_line: &str) -> Option<Version> {
        let text = first_line.strip_prefix("runc version ")?.trim();
        let (release, rest) = text.split_at(
            text.find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(text.len()),
        );
        let mut parts = release.split('.').map(|p| p.parse::<u64>().ok());
        let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
        // Upstream writes `-rc93` and `-rc.3`; Debian writes `~rc93`.
        let (pre, rest) = match ["-rc.", "-rc", "~rc"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
        {
            Some(after) => {
                let digits = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                ((0, after[..digits].parse().ok()?), &after[digits..])
            }
            None => ((1, 0), rest),
        };
        Some(Version {
            text: text.to_owned(),
            key: (major, minor, patch, pre),
            distro_build: !rest.is_empty() && rest != "+dev",
        })
    }
}

/// One escape and the runc versions it affects.
#[derive(Debug, Clone, Copy)]
pub(super) struct Escape {
    /// The CVE id.
    pub id: &'static str,
    /// What it allows.
    pub what: &'static str,
    affected: &'static [(Key, Key)],
}

type Key = (u64, u64, u64, (u8, u64));

const fn release(major: u64, minor: u64, patch: u64) -> Key {
    (major, minor, patch, (1, 0))
}

const fn rc(major: u64, minor: u64, patch: u64, n: u64) -> Key {
    (major, minor, patch, (0, n))
}

const ZERO: Key = (0, 0, 0, (0, 0));

/// The 2025 escapes' ranges past the 1.2 series.
const LATER_SERIES: [(Key, Key); 2] = [
    (rc(1, 3, 0, 1), release(1, 3, 3)),
    (rc(1, 4, 0, 1), rc(1, 4, 0, 3)),
];

const ESCAPES: &[Escape] = &[
    Escape {
        id: "CVE-2019-5736",
        what: "a container can overwrite the host's runc binary",
        affected: &[(ZERO, rc(1, 0, 0, 7))],
    },
    Escape {
        id: "CVE-2024-21626",
        what: "a leaked file descriptor gives a container the host's filesystem",
        affected: &[(rc(1, 0, 0, 93), release(1, 1, 12))],
    },
    Escape {
        id: "CVE-2025-31133",
        what: "a container can make runc bind-mount a host path over /dev/null's mask",
        affected: &[(ZERO, release(1, 2, 8)), LATER_SERIES[0], LATER_SERIES[1]],
    },
    Escape {
        id: "CVE-2025-52565",
        what: "a container can redirect runc's /dev/console mount to a host path",
        affected: &[
            (rc(1, 0, 0, 3), release(1, 2, 8)),
            LATER_SERIES[0],
            LATER_SERIES[1],
        ],
    },
    Escape {
        id: "CVE-2025-52881",
        what: "a container can redirect runc's writes to /proc to host files",
        affected: &[(ZERO, release(1, 2, 8)), LATER_SERIES[0], LATER_SERIES[1]],
    },
];

/// Every escape affecting `version`.
pub(super) fn affecting(version: &Version) -> Vec<&'static Escape> {
    ESCAPES
        .iter()
        .filter(|e| {
            e.affected
                .iter()
                .any(|(from, to)| *from <= version.key && version.key < *to)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(line: &str) -> Vec<&'static str> {
        affecting(&Version::parse(line).unwrap())
            .iter()
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn versions_read_as_runc_prints_them() {
        let v = Version::parse("runc version 1.1.5+ds1").unwrap();
        assert!(v.distro_build);
        assert_eq!(v.text, "1.1.5+ds1");
        assert!(
            Version::parse("runc version 1.1.12-0ubuntu3.1")
                .unwrap()
                .distro_build
        );
        assert!(!Version::parse("runc version 1.2.8").unwrap().distro_build);
        assert!(
            !Version::parse("runc version 1.0.0-rc6+dev")
                .unwrap()
                .distro_build
        );
        assert!(Version::parse("runc version unknown").is_none());
        assert!(Version::parse("docker version 1.2.3").is_none());
    }

    #[test]
    fn release_candidates_order_by_number_not_by_text() {
        // rc10 came after the rc7 fix for CVE-2019-5736; string order would put it before.
        assert!(!ids("runc version 1.0.0-rc10").contains(&"CVE-2019-5736"));
        assert!(ids("runc version 1.0.0-rc6").contains(&"CVE-2019-5736"));
        assert!(ids("runc version 1.0.0-rc93").contains(&"CVE-2024-21626"));
        assert!(!ids("runc version 1.0.0-rc92").contains(&"CVE-2024-21626"));
    }

    #[test]
    fn each_range_ends_at_its_fixed_release() {
        assert!(ids("runc version 1.1.11").contains(&"CVE-2024-21626"));
        assert!(!ids("runc version 1.1.12").contains(&"CVE-2024-21626"));
        assert_eq!(
            ids("runc version 1.2.7"),
            ["CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"]
        );
        assert!(ids("runc version 1.2.8").is_empty());
        assert!(!ids("runc version 1.3.2").is_empty());
        assert!(ids("runc version 1.3.3").is_empty());
        assert!(!ids("runc version 1.4.0-rc.2").is_empty());
        assert!(ids("runc version 1.4.0-rc.3").is_empty());
        assert!(ids("runc version 1.4.0").is_empty());
    }
}
