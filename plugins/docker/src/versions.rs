//! Docker Engine versions: how Docker's repositories spell them, which containerd.io goes with
//! each, and which releases Docker published for which distro release.

use plugin_api::{Distro, ErrorKind, PluginError, VersionMatch};
use runtime_kit::docker_repo::Format;
use runtime_kit::version::Version;

use crate::PLUGIN;

/// A pin: the version text and how it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The version text given to the package manager.
    pub text: String,
    /// Exact (a full package version) or a prefix of whole components.
    pub matching: VersionMatch,
}

impl Pin {
    fn exact(text: impl Into<String>) -> Pin {
        Pin {
            text: text.into(),
            matching: VersionMatch::Exact,
        }
    }

    fn prefix(text: impl Into<String>) -> Pin {
        Pin {
            text: text.into(),
            matching: VersionMatch::Prefix,
        }
    }
}

/// The `docker-ce`/`docker-ce-cli` pin for `version` on `distro`.
///
/// * apt, a release: the exact string Docker's repository uses. Before 23.0 it is
///   `5:<ver>~3-0~<distro>-<codename>` (`5:19.03.8~3-0~ubuntu-focal`); from 23.0 on,
///   `5:<ver>-1~<distro>.<version_id>~<codename>` (`5:28.3.3-1~ubuntu.24.04~noble`).
/// * apt, a series (`24.0`), and every rpm pin: a prefix of whole components, resolved on the
///   target against what the repository offers (rpm releases vary: `19.03.8-3.el7`,
///   `3:28.3.3-1.el9`, and the cli has another epoch than the engine).
pub fn engine_pin(
    version: &Version,
    format: Format,
    distro: &Distro,
    repo_path: &str,
) -> Result<Pin, PluginError> {
    if format == Format::Rpm || !version.is_release() {
        return Ok(Pin::prefix(version.text()));
    }
    let codename = distro.codename.as_deref().unwrap_or_default();
    if version.series() < (23, 0) {
        return Ok(Pin::exact(format!(
            "5:{version}~3-0~{repo_path}-{codename}"
        )));
    }
    let version_id = distro.version_id.as_deref().ok_or_else(|| {
        PluginError::new(
            ErrorKind::MissingVariable,
            format!(
                "distro pack `{}` has no version_id, which Docker's package versions from 23.0 \
                 on name (`5:{version}-1~{repo_path}.<version_id>~{codename}`); plugin `{PLUGIN}`",
                distro.id
            ),
        )
        .with_hint(format!(
            "pin a series instead, e.g. --version {}.{}",
            version.major(),
            version.minor()
        ))
    })?;
    Ok(Pin::exact(format!(
        "5:{version}-1~{repo_path}.{version_id}~{codename}"
    )))
}

/// The containerd.io to pin beside a Docker Engine, and the containerd release it is judged
/// as for vulnerabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerdPin {
    /// The pin.
    pub pin: Pin,
    /// The containerd version the pin installs, for the CVE table.
    pub judged_as: Version,
}

fn containerd(apt: Pin, rpm: Pin, judged: &str, format: Format) -> ContainerdPin {
    ContainerdPin {
        pin: if format == Format::Deb { apt } else { rpm },
        judged_as: Version::parse(judged, "containerd.io", "1.7").expect("table versions parse"),
    }
}

/// containerd.io by Docker Engine release, as Docker shipped and documented them:
///
/// | Docker Engine       | containerd.io (apt)  | (rpm)             |
/// |---------------------|----------------------|-------------------|
/// | 18.09.x             | 1.2 (newest, 1.2.13) | 1.2               |
/// | 19.03.0 – 19.03.10  | = 1.2.13-1           | 1.2.13            |
/// | 19.03.11 – 19.03.13 | = 1.2.13-2           | 1.2.13            |
/// | 19.03.14 – 19.03.15 | 1.4 (newest)         | 1.4               |
/// | 20.10.x             | 1.6 (newest)         | 1.6               |
/// | 23.0 – 28.x         | 1.7 (newest)         | 1.7               |
///
/// The 19.03 rows are the Kubernetes pages' pins (19.03.8 with 1.2.13-1, 19.03.11 with
/// 1.2.13-2); 19.03.14 was the release that moved to a containerd fixed for CVE-2020-15257.
/// A series pin (`19.03`) installs the newest release of the series and gets that row.
pub fn containerd_for(engine: &Version, format: Format) -> Option<ContainerdPin> {
    let (series, patch) = (engine.series(), engine.resolves_to().2);
    Some(match series {
        (18, 9) => containerd(Pin::prefix("1.2"), Pin::prefix("1.2"), "1.2.13", format),
        (19, 3) if patch <= 10 => containerd(
            Pin::exact("1.2.13-1"),
            Pin::prefix("1.2.13"),
            "1.2.13",
            format,
        ),
        (19, 3) if patch <= 13 => containerd(
            Pin::exact("1.2.13-2"),
            Pin::prefix("1.2.13"),
            "1.2.13",
            format,
        ),
        (19, 3) => containerd(Pin::prefix("1.4"), Pin::prefix("1.4"), "1.4", format),
        (20, 10) => containerd(Pin::prefix("1.6"), Pin::prefix("1.6"), "1.6", format),
        (23..=28, _) => containerd(Pin::prefix("1.7"), Pin::prefix("1.7"), "1.7", format),
        _ => return None,
    })
}

/// `--set docker.containerd-version`: a full package version (with a `-` revision) is exact,
/// a version without one is a prefix.
pub fn containerd_override(value: &str) -> Result<ContainerdPin, PluginError> {
    let numeric = value.split(['-', '~', '+']).next().unwrap_or_default();
    let judged_as = Version::parse(numeric, "--set docker.containerd-version", "1.7.27-1")?;
    let pin = if value.contains('-') {
        Pin::exact(value)
    } else {
        Pin::prefix(value)
    };
    plugin_api::validate::check(
        value,
        &plugin_api::validate::VERSION,
        "--set docker.containerd-version",
    )?;
    Ok(ContainerdPin { pin, judged_as })
}

/// The first Engine release Docker published for a distro release and the last series,
/// either open where this plugin knows no bound.
type Bounds = (Option<(u64, u64, u64)>, Option<(u64, u64)>);

/// Where Docker's repository starts and ends for each distro release. Sources are
/// docker/docker-ce-packaging commits adding or removing the release from the Makefiles (the
/// first and last versions they shipped in), noted per row.
fn published(distro: &Distro, format: Format) -> Bounds {
    match format {
        Format::Deb => match distro.codename.as_deref() {
            // Removed before 24.0.3: 77c4f7fd ("remove Ubuntu 18.04 Bionic Beaver LTS").
            Some("bionic") => (None, Some((24, 0))),
            // Added in 19.03.9 (a0cdb993; v19.03.8's deb/Makefile has no focal), so
            // 5:19.03.8~3-0~ubuntu-focal never existed; removed before 28.2.0 (a69db2ef, PR #1200).
            Some("focal") => (Some((19, 3, 9)), Some((28, 1))),
            // Added in 20.10.13 (d4a3088d, merged as ee95869f, PR #645).
            Some("jammy") => (Some((20, 10, 13)), None),
            // Added for 26.0 (d9898f6e, PR #1006); there was no 25.0 branch build for noble.
            Some("noble") => (Some((26, 0, 0)), None),
            // Added by d683f507 (PR #1296, 2026-03-17: the Dockerfile), buildable from 5d2c9c47
            // ("deb: Add missing ubuntu-resolute target", PR #1304, merged 2026-03-25, three
            // minutes after docker/cli's v29.3.1 tag; master built 29.x until the 29.4 branch
            // of 2026-04-20). 29.3.1 if it was packaged after that merge, else 29.4.0: which
            // is not confirmed; the earlier one is taken, so no pin that exists is refused.
            Some("resolute") => (Some((29, 3, 1)), None),
            // Removed at its end of life (d0b87a16, "remove Debian and Raspbian 10 Buster").
            Some("buster") => (None, Some((26, 1))),
            // Not re-checked this round (kept from the first version of this table).
            Some("bullseye") => (Some((20, 10, 0)), None),
            // Added for 23.0 only (0348022b, PR #838); the 20.10 branch never built it.
            Some("bookworm") => (Some((23, 0, 0)), None),
            // Added before 28.1.0 (6364c951, merged as e16f46b8, PR #1181).
            Some("trixie") => (Some((28, 1, 0)), None),
            _ => (None, None),
        },
        // By the tree the pack installs from (`docker.repo_path`), not the distro's name: a
        // site's pack for another EL10 rebuild that points at the rhel tree gets its bounds.
        Format::Rpm => match (
            distro
                .vars
                .get("docker.repo_path")
                .map_or("", String::as_str),
            distro.vars.get("rpm.releasever").map(String::as_str),
        ) {
            // Removed at its end of life (88a6cdca, "remove CentOS 7 (EOL 2024-06-30)").
            (_, Some("7")) => (None, Some((26, 1))),
            // First: not re-checked this round. Last: removed before 28.2.0 (c6aefccb, PR #1201).
            ("fedora", Some("40")) => (Some((26, 0, 0)), Some((28, 1))),
            // RHEL 10 in the rhel tree: added by 590ca163 (PR #1252, merged 2025-09-16), after
            // 28.4.0 (2025-09-03); 28.5.0 (2025-10-02) is the first release with it, as a
            // Docker maintainer confirmed in rocky-linux/documentation#2927 ("the 28.5.0
            // release got there before v29").
            ("rhel", Some("10")) => (Some((28, 5, 0)), None),
            // EL10 in the centos tree: CentOS Stream 10 added by beae6320 (PR #1104, merged
            // 2024-11-13; on the 27.x branch by PR #1107), after 27.3.1, so 27.4.0
            // (2024-12-09) is the first release (by date).
            (_, Some("10")) => (Some((27, 4, 0)), None),
            _ => (None, None),
        },
    }
}

/// The first Engine release of Docker's `rhel` repository for x86_64 and aarch64 (before it,
/// it held s390x builds only): packages were announced for RHEL 8 and 9 in mid-2024
/// (docker/docker-install 9f22ef3b, PR #436, 2024-07-22; docker/docs PR #20174, 2024-06-07)
/// and the build recipe landed as "rpm: minimal RHEL support" (docker/docker-ce-packaging
/// 6013e44b, PR #991, backported to 27.x in PR #1054). Which release was first is not
/// confirmed: 27.0 is the first series whose branch carries the recipe.
const RHEL_FIRST_CONFIRMED: (u64, u64, u64) = (27, 0, 0);

/// A warning for a pin whose availability no source confirms.
pub fn unconfirmed(version: &Version, repo_path: &str) -> Option<String> {
    (repo_path == "rhel" && version.resolves_to() < RHEL_FIRST_CONFIRMED).then(|| {
        format!(
            "Docker's rhel repository has x86_64 and aarch64 packages only since mid-2024; \
             whether Docker Engine {version} is among them is not confirmed (27.0 is the first \
             series known to be built for it): if the install finds no such version, pin 27.0 \
             or later"
        )
    })
}

/// Refuses an Engine version Docker never published for `distro`.
pub fn check_published(
    version: &Version,
    distro: &Distro,
    format: Format,
) -> Result<(), PluginError> {
    let (first, last) = published(distro, format);
    let series = version.series();
    let fmt = |(a, b): (u64, u64)| {
        if a >= 23 {
            format!("{a}.{b}")
        } else {
            format!("{a}.{b:02}")
        }
    };
    // A series pin installs its newest release, so only a whole series before the first
    // release, or a release before it, was never there.
    if let Some(first) = first.filter(|f| version.resolves_to() < *f) {
        let shown = format!("{}.{}", fmt((first.0, first.1)), first.2);
        return Err(PluginError::invalid_input(format!(
            "Docker Engine {version} was never published for {}: Docker's repository for it \
             starts at {shown}",
            distro.id
        ))
        .with_hint(format!(
            "pin {shown} or later, or leave --version out for the newest"
        )));
    }
    if let Some(last) = last.filter(|l| series > *l) {
        return Err(PluginError::invalid_input(format!(
            "Docker Engine {version} was never published for {}: Docker's repository for it \
             ends with {}",
            distro.id,
            fmt(last)
        ))
        .with_hint(format!(
            "pin {} or earlier, or leave --version out for the newest",
            fmt(last)
        )));
    }
    Ok(())
}
