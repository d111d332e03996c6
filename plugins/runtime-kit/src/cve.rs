//! Container-escape vulnerabilities: a pinned version whose runc, containerd or
//! CRI-O lets a container take over its host is refused, naming each CVE, unless the user
//! accepts every one of them by name with `--allow-vulnerable <CVE-ID>`.
//!
//! The tables judge vendor packages by their version. A series pin (`1.6`) installs the
//! newest release of the series, so it is judged by that: refused only when no release of the
//! series is fixed. Distro packages are not judged here: distros backport fixes without
//! changing the upstream version.

use plugin_api::{Options, PluginError};

use crate::version::Version;

/// A release, `(major, minor, patch)`.
pub type Release = (u64, u64, u64);

/// One vulnerability and the releases it affects.
#[derive(Debug, Clone, Copy)]
pub struct Cve {
    /// `CVE-2019-5736`.
    pub id: &'static str,
    /// What it allows, in a few words.
    pub what: &'static str,
    /// Affected releases as half-open ranges `[from, to)` of `(major, minor, patch)`.
    pub affected: &'static [(Release, Release)],
}

impl Cve {
    /// Whether the release `version` resolves to is affected.
    pub fn affects(&self, version: &Version) -> bool {
        let v = version.resolves_to();
        self.affected.iter().any(|(from, to)| *from <= v && v < *to)
    }
}

const ZERO: Release = (0, 0, 0);

/// runc CVE-2019-5736 (a container overwrites the host's runc binary).
const RUNC_2019_5736: &str = "CVE-2019-5736";
/// runc CVE-2024-21626 (a leaked file descriptor gives a container the host's filesystem).
const RUNC_2024_21626: &str = "CVE-2024-21626";

/// Docker Engine (`docker-ce`) releases, by the runc they shipped with.
pub const DOCKER_ENGINE: &[Cve] = &[
    Cve {
        id: RUNC_2019_5736,
        what: "runc lets a container overwrite the host's runc binary and run as root on the host (fixed in Docker 18.06.3 and 18.09.2)",
        affected: &[(ZERO, (18, 6, 3)), ((18, 9, 0), (18, 9, 2))],
    },
    Cve {
        id: RUNC_2024_21626,
        what: "runc leaks a host file descriptor that lets a container reach the host's filesystem (fixed in Docker 24.0.9 and 25.0.2)",
        // The bug came with runc 1.0.0-rc93 (February 2021); Docker 19.03 and earlier shipped
        // an older runc.
        affected: &[((20, 10, 0), (24, 0, 9)), ((25, 0, 0), (25, 0, 2))],
    },
];

/// containerd (`containerd.io`, which bundles runc) releases.
pub const CONTAINERD: &[Cve] = &[
    Cve {
        id: RUNC_2019_5736,
        what: "the bundled runc lets a container overwrite the host's runc binary (fixed in containerd 1.1.6 and 1.2.4)",
        affected: &[(ZERO, (1, 1, 6)), ((1, 2, 0), (1, 2, 4))],
    },
    Cve {
        id: "CVE-2020-15257",
        what: "containerd-shim's abstract socket lets a host-network container take over the shim (fixed in containerd 1.3.9 and 1.4.3)",
        affected: &[(ZERO, (1, 3, 9)), ((1, 4, 0), (1, 4, 3))],
    },
    Cve {
        id: RUNC_2024_21626,
        what: "the bundled runc leaks a host file descriptor that lets a container reach the host's filesystem (fixed in containerd 1.6.28 and 1.7.13)",
        // The bug affects runc from 1.0.0-rc93 (GHSA-xr7r-f8xq-vfvv), first bundled in
        // containerd.io 1.4.3-2 (deb) and 1.4.3-3.2 (rpm): docker/containerd-packaging 8ef8167,
        // "Update runc to v1.0.0-rc93". These ranges compare upstream releases, so 1.4.3-1
        // (runc rc92) is judged affected too: a refusal the user can lift by name, never a
        // vulnerable release let through.
        affected: &[((1, 4, 3), (1, 6, 28)), ((1, 7, 0), (1, 7, 13))],
    },
];

/// CRI-O releases.
pub const CRI_O: &[Cve] = &[Cve {
    id: "CVE-2022-0811",
    what: "kernel parameters set through a pod's sysctls let a container run code as root on the host (\"cr8escape\"; fixed in CRI-O 1.19.6, 1.20.7, 1.21.6, 1.22.3, 1.23.2 and 1.24.0)",
    affected: &[
        ((1, 19, 0), (1, 19, 6)),
        ((1, 20, 0), (1, 20, 7)),
        ((1, 21, 0), (1, 21, 6)),
        ((1, 22, 0), (1, 22, 3)),
        ((1, 23, 0), (1, 23, 2)),
    ],
}];

/// A table as the plan carries it on a package, so that the host judges the version a
/// partial pin resolves to on the target (`--version 1.6` resolving to 1.6.20) as it would
/// judge `--version 1.6.20`.
pub fn vulnerabilities(table: &[Cve]) -> Vec<plugin_api::Vulnerability> {
    let text = |(a, b, c): Release| format!("{a}.{b}.{c}");
    table
        .iter()
        .map(|cve| plugin_api::Vulnerability {
            id: cve.id.to_owned(),
            what: cve.what.to_owned(),
            affected: cve
                .affected
                .iter()
                .map(|(from, to)| (text(*from), text(*to)))
                .collect(),
        })
        .collect()
}

/// A component of a plan judged against a table.
#[derive(Debug, Clone, Copy)]
pub struct Pinned<'a> {
    /// What it is, for messages: `Docker Engine 19.03.8`, `containerd.io 1.2.13`.
    pub name: &'a str,
    /// Its version.
    pub version: &'a Version,
    /// The vulnerabilities known for it.
    pub table: &'a [Cve],
}

/// Refuses the plan when any component is affected by a CVE the user did not accept by name.
/// Returns a warning for each accepted one, to be shown with the plan.
pub fn gate(components: &[Pinned<'_>], options: &Options) -> Result<Vec<String>, PluginError> {
    let allowed = |id: &str| {
        options
            .allow_vulnerable
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(id))
    };
    let mut refused: Vec<String> = Vec::new();
    let mut refused_ids: Vec<&str> = Vec::new();
    let mut warnings = Vec::new();
    for component in components {
        for cve in component
            .table
            .iter()
            .filter(|c| c.affects(component.version))
        {
            if allowed(cve.id) {
                warnings.push(format!(
                    "{} is affected by {}: {}; installed anyway because --allow-vulnerable names it",
                    component.name, cve.id, cve.what
                ));
            } else {
                refused.push(format!(
                    "{} is affected by {}: {}",
                    component.name, cve.id, cve.what
                ));
                if !refused_ids.contains(&cve.id) {
                    refused_ids.push(cve.id);
                }
            }
        }
    }
    if refused.is_empty() {
        return Ok(warnings);
    }
    Err(PluginError::unsupported(format!(
        "refusing a version with a known container escape: {}",
        refused.join("; ")
    ))
    .with_hint(format!(
        "pin a fixed version, or accept the risk by name: {}",
        refused_ids
            .iter()
            .map(|id| format!("--allow-vulnerable {id}"))
            .collect::<Vec<_>>()
            .join(" ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text, "--version", "1.0").unwrap()
    }

    fn ids(table: &[Cve], version: &str) -> Vec<&'static str> {
        let version = v(version);
        table
            .iter()
            .filter(|c| c.affects(&version))
            .map(|c| c.id)
            .collect()
    }

    #[test]
    fn docker_engine_releases() {
        assert_eq!(ids(DOCKER_ENGINE, "19.03.8"), Vec::<&str>::new());
        assert_eq!(ids(DOCKER_ENGINE, "20.10.24"), ["CVE-2024-21626"]);
        assert_eq!(ids(DOCKER_ENGINE, "24.0.9"), Vec::<&str>::new());
        assert_eq!(ids(DOCKER_ENGINE, "25.0.1"), ["CVE-2024-21626"]);
        assert_eq!(ids(DOCKER_ENGINE, "25.0.2"), Vec::<&str>::new());
        // A series is judged by its newest release: 24.0 has fixed ones, 19.03 has none.
        assert_eq!(ids(DOCKER_ENGINE, "24.0"), Vec::<&str>::new());
        assert_eq!(ids(DOCKER_ENGINE, "19.03"), Vec::<&str>::new());
        assert_eq!(ids(DOCKER_ENGINE, "18.09.1"), ["CVE-2019-5736"]);
    }

    #[test]
    fn containerd_releases() {
        assert_eq!(ids(CONTAINERD, "1.2.13"), ["CVE-2020-15257"]);
        assert_eq!(
            ids(CONTAINERD, "1.2.3"),
            ["CVE-2019-5736", "CVE-2020-15257"]
        );
        assert_eq!(ids(CONTAINERD, "1.4.2"), ["CVE-2020-15257"]);
        // containerd.io 1.4.3-2 already bundled runc rc93 (docker/containerd-packaging 8ef8167).
        assert_eq!(ids(CONTAINERD, "1.4.3"), ["CVE-2024-21626"]);
        assert_eq!(ids(CONTAINERD, "1.4.4"), ["CVE-2024-21626"]);
        assert_eq!(ids(CONTAINERD, "1.6.28"), Vec::<&str>::new());
        assert_eq!(ids(CONTAINERD, "1.7.12"), ["CVE-2024-21626"]);
        assert_eq!(ids(CONTAINERD, "1.7"), Vec::<&str>::new());
        assert_eq!(ids(CONTAINERD, "2.0.0"), Vec::<&str>::new());
    }

    #[test]
    fn cri_o_releases() {
        assert_eq!(ids(CRI_O, "1.17"), Vec::<&str>::new());
        assert_eq!(ids(CRI_O, "1.22.2"), ["CVE-2022-0811"]);
        assert_eq!(ids(CRI_O, "1.22.3"), Vec::<&str>::new());
        assert_eq!(ids(CRI_O, "1.22"), Vec::<&str>::new());
        assert_eq!(ids(CRI_O, "1.24.0"), Vec::<&str>::new());
    }

    #[test]
    fn refused_unless_every_cve_is_named() {
        let containerd = v("1.2.3");
        let pinned = [Pinned {
            name: "containerd.io 1.2.3",
            version: &containerd,
            table: CONTAINERD,
        }];
        let e = gate(&pinned, &Options::default()).unwrap_err();
        assert_eq!(e.kind, plugin_api::ErrorKind::Unsupported);
        assert!(e.message.contains("CVE-2020-15257"), "{}", e.message);
        let hint = e.hint.unwrap();
        assert!(hint.contains("--allow-vulnerable CVE-2020-15257"), "{hint}");
        assert!(hint.contains("--allow-vulnerable CVE-2019-5736"), "{hint}");

        let one = Options {
            allow_vulnerable: vec!["CVE-2020-15257".into()],
            ..Options::default()
        };
        let e = gate(&pinned, &one).unwrap_err();
        assert!(!e.hint.unwrap().contains("15257"));

        let both = Options {
            allow_vulnerable: vec!["cve-2020-15257".into(), "CVE-2019-5736".into()],
            ..Options::default()
        };
        let warnings = gate(&pinned, &both).unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("--allow-vulnerable"));
    }
}
