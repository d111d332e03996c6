//! Where CRI-O comes from: openSUSE's Kubic project up to 1.27; from 1.28 on, CRI-O's own
//! `isv:cri-o` project on openSUSE's build service (where it publishes since February 2025),
//! or, for sites that mirror it, pkgs.k8s.io (its home before).

use plugin_api::{
    Distro, Options, Package, Phase, PluginError, Repository, Step, StepKind, VersionMatch,
};
use runtime_kit::cve;
use runtime_kit::docker_repo::Format;
use runtime_kit::keys;
use runtime_kit::settings::Settings;
use runtime_kit::version::Version;

use crate::PLUGIN;

/// Kubic's origin (openSUSE's build service); `--mirror` replaces it.
pub const KUBIC_ORIGIN: &str = "https://download.opensuse.org";

/// The Kubernetes project's package origin; `--mirror` replaces it.
pub const PKGS_ORIGIN: &str = "https://pkgs.k8s.io";

/// The key of openSUSE's Kubic project (`devel:kubic OBS Project`), which signs
/// `devel:kubic:libcontainers:stable` and its `:cri-o:X.Y` subprojects. Sources:
/// kubic-project/kubic-o-o#46 (`gpg` prints this fingerprint for long id 4D64390375060AA4);
/// cri-o/cri-o#4279 and #6432 (EXPKEYSIG 4D64390375060AA4); pinned by voxpupuli/puppet-k8s
/// manifests/repo.pp (9dbaf16). Its expiry was extended in place in 2020, 2022 and 2025
/// (openSUSE/MirrorCache#576: expires 2027-04-11), so the fingerprint stays.
pub const KUBIC_KEY: &str = "2472D6D0D2F66AF87ABA8DA34D64390375060AA4";

/// The key of pkgs.k8s.io (`isv:kubernetes OBS Project`), for core and `addons:/cri-o`
/// alike. Sources: kubernetes/kubernetes#128609 (gpg output of core:/stable:/v1.27's
/// Release.key); cri-o/packaging#35 (NO_PUBKEY 234654DA9A296436 on addons:/cri-o); pinned by
/// puppetlabs/puppetlabs-kubernetes manifests/repos.pp (54dc7af).
pub const PKGS_KEY: &str = "DE15B14486CD377B9E876E1A234654DA9A296436";

/// The key of CRI-O's `isv:cri-o` project (`isv:cri-o OBS Project`, created 2025-02-11).
/// Source: cri-o/cri-o#9298 (gpg output of stable:/v1.33/deb/Release.key).
pub const ISV_KEY: &str = "85B67D5C50100B1AC8CEFE49CBA9C85640A2B579";

/// The first CRI-O minor published per minor (pkgs.k8s.io, then isv:cri-o); Kubic serves the
/// ones before it.
pub const FIRST_ON_PKGS: (u64, u64) = (1, 28);

/// The newest CRI-O minor that isv:cri-o publishes as stable and a source confirms released:
/// cri-o/packaging's README (b111fe9, 2026-08-20) lists `isv:cri-o:stable:v1.36` (and
/// v1.37, which had no release tag yet: cri-o/cri-o's newest then was v1.36.3, 2026-08-03).
/// The default where a pack records no minor of its own: isv:cri-o's repositories are one
/// per package format, not per distro release.
pub const NEWEST_STABLE_MINOR: &str = "1.36";

/// The last CRI-O minor Kubic published as versioned packages (`cri-o-1.17`) in its stable
/// repository, as the Kubernetes pages install it; later minors have their own repository.
pub const LAST_VERSIONED_PACKAGE: (u64, u64) = (1, 17);

/// The repositories and packages for CRI-O `version` from a vendor.
#[derive(Debug)]
pub struct Vendor {
    /// Repository steps.
    pub repositories: Vec<Step>,
    /// Packages to install.
    pub packages: Vec<Package>,
    /// Where they come from, for the facts.
    pub source: String,
    /// Warnings for the user.
    pub warnings: Vec<String>,
}

fn repo_key(format: Format, url: &str) -> String {
    match format {
        Format::Deb => format!("{url}Release.key"),
        Format::Rpm => format!("{url}repodata/repomd.xml.key"),
    }
}

fn repository(
    format: Format,
    distro: &Distro,
    settings: &Settings<'_>,
    (vendor, fingerprint): (&str, &str),
    id: String,
    url: String,
    why: String,
) -> Result<Step, PluginError> {
    let key = keys::signing_key(settings, vendor, &repo_key(format, &url), &[fingerprint])?;
    let (suite, architectures) = match format {
        // Flat repositories: the entry's suite is `/` and there are no components.
        Format::Deb => (Some("/".to_owned()), vec![distro.arch.clone()]),
        Format::Rpm => (None, Vec::new()),
    };
    Ok(Step::new(
        Phase::Repositories,
        format!("add the {vendor} repository {url}"),
        why,
        StepKind::Repository(Repository {
            id: id.clone(),
            name: id,
            url,
            suite,
            components: Vec::new(),
            architectures,
            key: Some(key),
            vendor: true,
            requested_by: Vec::new(),
        }),
    ))
}

fn cri_o_pin(version: &Version, user_pinned_release: bool) -> Package {
    Package {
        name: "cri-o".to_owned(),
        // The minor (or the user's release) as a prefix of whole components: `1.24` matches
        // `1.24.6~0` and `1.24.6-1.1.el7`, never `1.240`.
        version: Some(if user_pinned_release {
            version.text().to_owned()
        } else {
            format!("{}.{}", version.major(), version.minor())
        }),
        version_match: VersionMatch::Prefix,
        hold: true,
        requested_by: Vec::new(),
        // Judged again by the host against the release the minor resolves to.
        vulnerabilities: cve::vulnerabilities(cve::CRI_O),
    }
}

fn unpinned(name: &str) -> Package {
    Package {
        name: name.to_owned(),
        version: None,
        version_match: VersionMatch::Exact,
        hold: false,
        requested_by: Vec::new(),
        vulnerabilities: Vec::new(),
    }
}

/// Kubic: the `devel:kubic:libcontainers:stable` repository for the distro, plus the
/// `...:stable:cri-o:<X.Y>` one from 1.18 on (the Kubernetes pages' CentOS 7 recipe).
pub fn kubic(
    format: Format,
    distro: &Distro,
    options: &Options,
    settings: &Settings<'_>,
    version: &Version,
) -> Result<Vendor, PluginError> {
    let os =
        distro.var(PLUGIN, "kubic.os").map_err(|e| {
            e.with_hint(format!(
            "Kubic, which published CRI-O before {}.{}, has no builds of it for {}; CRI-O {}.{} \
             and later come from isv:cri-o for any distro: --kubernetes-version {}.{} or later",
            FIRST_ON_PKGS.0, FIRST_ON_PKGS.1, distro.id, FIRST_ON_PKGS.0, FIRST_ON_PKGS.1,
            FIRST_ON_PKGS.0, FIRST_ON_PKGS.1
        ))
        })?;
    let base = keys::base_url(options, KUBIC_ORIGIN)?;
    let minor = format!("{}.{}", version.major(), version.minor());
    let stable = format!("{base}/repositories/devel:/kubic:/libcontainers:/stable/{os}/");
    let mut repositories = vec![repository(
        format,
        distro,
        settings,
        ("Kubic", KUBIC_KEY),
        "devel-kubic-libcontainers-stable".to_owned(),
        stable,
        format!(
            "CRI-O {minor} and the container tools it needs (conmon, runc, containers-common) \
             are published for {os} by openSUSE's Kubic project; over https, with its key \
             pinned by fingerprint (the Kubernetes pages' http and apt-key are not used)"
        ),
    )?];
    let mut packages = Vec::new();
    let versioned_package = format == Format::Deb && version.series() <= LAST_VERSIONED_PACKAGE;
    if versioned_package {
        // The Kubernetes pages: `apt-get install cri-o-1.17` from the stable repository.
        packages.push(Package {
            name: format!("cri-o-{minor}"),
            version: version.is_release().then(|| version.text().to_owned()),
            version_match: VersionMatch::Prefix,
            hold: true,
            requested_by: Vec::new(),
            vulnerabilities: Vec::new(),
        });
    } else {
        repositories.push(repository(
            format,
            distro,
            settings,
            ("Kubic", KUBIC_KEY),
            format!("devel-kubic-libcontainers-stable-cri-o-{minor}"),
            format!(
                "{base}/repositories/devel:/kubic:/libcontainers:/stable:/cri-o:/{minor}/{os}/"
            ),
            format!(
                "Kubic publishes each CRI-O minor in its own repository; only {minor}'s is \
                 added, so an upgrade can never cross to a minor the kubelet does not match"
            ),
        )?);
        packages.push(cri_o_pin(version, version.is_release()));
        if format == Format::Deb {
            packages.push(unpinned("cri-o-runc"));
        }
    }
    let mut warnings = Vec::new();
    if !kubic_confirmed(os, version.series()) {
        warnings.push(format!(
            "no source confirms that Kubic published CRI-O {minor} for {os} (the last matrix \
             CRI-O kept, install.md at 4ff8662ffb, lists 1.16 and 1.17 for every Kubic OS and \
             1.18 for CentOS_8, CentOS_8_Stream, Debian_Testing, Debian_Unstable and \
             xUbuntu_20.04): if the refresh finds no such repository, choose one of those, or \
             CRI-O {}.{} or later from isv:cri-o",
            FIRST_ON_PKGS.0, FIRST_ON_PKGS.1
        ));
    }
    warnings.push(format!(
        "Kubic's CRI-O repositories are frozen and some of their signing keys have expired \
             or gone missing (cri-o #7912, #7915); CRI-O {}.{} and later come from \
             isv:cri-o. Check `runc --version` after installing: runc before 1.1.12 allows \
             CVE-2024-21626",
        FIRST_ON_PKGS.0, FIRST_ON_PKGS.1
    ));
    Ok(Vendor {
        repositories,
        packages,
        source: format!("Kubic ({os})"),
        warnings,
    })
}

/// Whether a source confirms Kubic published CRI-O `series` for `os`: the compatibility
/// matrix of cri-o/cri-o `install.md`, last kept at 4ff8662ffb (2021-02-08), the only
/// per-OS list CRI-O published for Kubic. Later minors were published for some OSes too, but
/// no vendor list says which; those get a warning, not a refusal.
fn kubic_confirmed(os: &str, series: (u64, u64)) -> bool {
    const ALL_1_16_AND_1_17: &[&str] = &[
        "CentOS_8",
        "CentOS_8_Stream",
        "CentOS_7",
        "Debian_Unstable",
        "Debian_Testing",
        "Debian_10",
        "Raspbian_10",
        "xUbuntu_20.04",
        "xUbuntu_19.10",
        "xUbuntu_19.04",
        "xUbuntu_18.04",
    ];
    const WITH_1_18: &[&str] = &[
        "CentOS_8",
        "CentOS_8_Stream",
        "Debian_Unstable",
        "Debian_Testing",
        "xUbuntu_20.04",
    ];
    match series {
        (1, 16 | 17) => ALL_1_16_AND_1_17.contains(&os),
        (1, 18) => WITH_1_18.contains(&os),
        _ => false,
    }
}

/// Where CRI-O 1.28 and later come from (`--set cri-o.repository`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// openSUSE's `isv:cri-o` project: CRI-O's own, since February 2025 (cri-o/packaging
    /// README, commit b133393: "We switched from https://pkgs.k8s.io/addons:/cri-o to a new
    /// subproject https://download.opensuse.org/repositories/isv:/cri-o"). The default.
    Isv,
    /// pkgs.k8s.io `addons:/cri-o`: the home before; no builds since the switch
    /// (cri-o/cri-o#9111, #9101; cri-o/packaging#288: no v1.34). For sites that mirror it.
    PkgsK8sIo,
}

impl Home {
    /// The home `--set cri-o.repository` names, `isv` by default.
    pub fn chosen(settings: &Settings<'_>) -> Result<Home, PluginError> {
        match settings.get("repository") {
            None | Some("isv") => Ok(Home::Isv),
            Some("pkgs.k8s.io") => Ok(Home::PkgsK8sIo),
            Some(other) => Err(PluginError::invalid_input(format!(
                "--set {PLUGIN}.repository={other}: unknown repository"
            ))
            .with_hint("use isv (openSUSE's isv:cri-o, the default) or pkgs.k8s.io")),
        }
    }
}

/// CRI-O 1.28 and later: one repository per minor, the same for every deb or rpm distro, at
/// `isv:cri-o` (or pkgs.k8s.io).
pub fn per_minor(
    format: Format,
    distro: &Distro,
    options: &Options,
    settings: &Settings<'_>,
    version: &Version,
) -> Result<Vendor, PluginError> {
    let minor = format!("{}.{}", version.major(), version.minor());
    let kind = match format {
        Format::Deb => "deb",
        Format::Rpm => "rpm",
    };
    let home = Home::chosen(settings)?;
    let (url, vendor, source) = match home {
        Home::Isv => (
            // cri-o/packaging README (b133393): `.../isv:/cri-o:/stable:/$CRIO_VERSION/deb/`.
            format!(
                "{}/repositories/isv:/cri-o:/stable:/v{minor}/{kind}/",
                keys::base_url(options, KUBIC_ORIGIN)?
            ),
            ("isv:cri-o", ISV_KEY),
            "isv:cri-o (openSUSE's build service)",
        ),
        Home::PkgsK8sIo => (
            format!(
                "{}/addons:/cri-o:/stable:/v{minor}/{kind}/",
                keys::base_url(options, PKGS_ORIGIN)?
            ),
            ("pkgs.k8s.io CRI-O", PKGS_KEY),
            "pkgs.k8s.io",
        ),
    };
    let repositories = vec![repository(
        format,
        distro,
        settings,
        vendor,
        format!("cri-o-stable-v{minor}"),
        url,
        format!(
            "CRI-O {minor} is published at {source}, one repository per minor, so upgrades stay \
             within the minor the kubelet matches; its key is pinned by fingerprint"
        ),
    )?];
    let mut packages = vec![cri_o_pin(version, version.is_release())];
    if format == Format::Rpm {
        // The SELinux policy for container processes comes from the distro, not from the
        // CRI-O repository.
        packages.push(unpinned("container-selinux"));
    }
    let warnings = match home {
        Home::PkgsK8sIo => vec![format!(
            "pkgs.k8s.io has published no CRI-O build since February 2025 (CRI-O moved to \
             isv:cri-o); {minor} there may lack the latest patches"
        )],
        Home::Isv => Vec::new(),
    };
    Ok(Vendor {
        repositories,
        packages,
        source: source.to_owned(),
        warnings,
    })
}
