//! Package pins: a package's version spelled for a package manager, the held packages, and
//! how a prefix pin ([`VersionMatch::Prefix`]) becomes a version at run time.

use plugin_api::{Package, Phase, ResolveVersion, Step, StepKind, VersionListing, VersionMatch};

use crate::why::who;

/// Whether `package` is pinned by leading components, so the host resolves its version.
pub fn is_prefix(package: &Package) -> bool {
    package.version.is_some() && package.version_match == VersionMatch::Prefix
}

/// Every prefix-pinned package with its pin, in order.
pub fn prefix_pins(packages: &[Package]) -> impl Iterator<Item = (&Package, &str)> {
    packages
        .iter()
        .filter(|p| is_prefix(p))
        .map(|p| (p, p.version.as_deref().unwrap_or_default()))
}

/// The names of the packages to hold, in order.
pub fn held(packages: &[Package]) -> Vec<&str> {
    packages
        .iter()
        .filter(|p| p.hold)
        .map(|p| p.name.as_str())
        .collect()
}

/// The text standing for a prefix pin's resolved version until the host resolves it.
pub fn placeholder(package: &Package, pin: &str) -> String {
    format!("<{}@{pin}>", package.name)
}

/// The package with its version joined by `separator` (`name=version` for apt and zypper,
/// `name-version` for yum, dnf and `rpm -q`), with a placeholder for a prefix pin.
pub fn spec(package: &Package, separator: char) -> String {
    match (&package.version, package.version_match) {
        (None, _) => package.name.clone(),
        (Some(v), VersionMatch::Exact) => format!("{}{separator}{v}", package.name),
        (Some(v), VersionMatch::Prefix) => {
            format!("{}{separator}{}", package.name, placeholder(package, v))
        }
    }
}

/// How a package reads in a summary, its version joined by `separator`.
pub fn shown(package: &Package, separator: char) -> String {
    match (&package.version, package.version_match) {
        (None, _) => package.name.clone(),
        (Some(v), VersionMatch::Exact) => format!("{}{separator}{v}", package.name),
        (Some(v), VersionMatch::Prefix) => {
            format!(
                "{}{separator}{v}* (whole components, resolved at run time)",
                package.name
            )
        }
    }
}

/// The read-only `query` that lists the versions of `package` the repositories offer, read as
/// `listing` says, for the prefix pin `pin`.
pub fn resolution(
    package: &Package,
    pin: &str,
    query: Vec<String>,
    listing: VersionListing,
) -> ResolveVersion {
    ResolveVersion {
        package: package.name.clone(),
        pin: pin.to_owned(),
        placeholder: placeholder(package, pin),
        query,
        listing,
    }
}

/// Describes, for the plan's reader, how the prefix pin `pin` of `package` becomes a version
/// at run time with `query` (as the reader would type it); the install step carries the query
/// itself.
pub fn resolve_step(package: &Package, pin: &str, query: &str) -> Step {
    Step::new(
        Phase::Packages,
        format!(
            "Resolve {} {pin} to a version at run time with `{query}`",
            package.name
        ),
        format!(
            "{} pins {} to {pin} by its leading components. Only the target's repositories \
             know which versions exist, so the host picks the newest one they offer whose \
             whole components start with {pin} (epoch aside): never {pin}0 or a longer \
             number.",
            who(&package.requested_by),
            package.name
        ),
        StepKind::Actions {
            actions: Vec::new(),
        },
    )
}
