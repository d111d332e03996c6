//! Docker's package repository (download.docker.com), which serves `docker-ce`,
//! `docker-ce-cli` and `containerd.io`: the docker plugin and the containerd plugin both add
//! it, in identical steps, so the host merges them.

use plugin_api::{Distro, ErrorKind, Options, Phase, PluginError, Repository, Step, StepKind};

use crate::keys;
use crate::settings::Settings;

/// Docker's origin; `--mirror` replaces it.
pub const ORIGIN: &str = "https://download.docker.com";

/// The fingerprint of the key signing Docker's apt repositories.
pub const DEB_KEY_FINGERPRINT: &str = "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88";

/// The fingerprint of the key signing Docker's rpm repositories.
pub const RPM_KEY_FINGERPRINT: &str = "060A 61C5 1B55 8A7F 742B  77AA C52F EB6B 621E 9F35";

/// How a distro consumes packages, as far as a vendor repository cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// apt and `.deb`.
    Deb,
    /// yum/dnf and `.rpm` (not SUSE: its zypper repositories are a separate case).
    Rpm,
}

/// The format of `distro`'s packages, or `None` for SUSE and package managers we do not know.
pub fn format(distro: &Distro) -> Option<Format> {
    match (distro.family.as_str(), distro.package_manager.as_str()) {
        ("debian", "apt") => Some(Format::Deb),
        ("rhel", "yum" | "dnf") => Some(Format::Rpm),
        _ => None,
    }
}

/// The major release (`9` for `9.4`), from os-release's `VERSION_ID`.
pub fn major_release(distro: &Distro) -> Option<&str> {
    distro
        .version_id
        .as_deref()
        .and_then(|v| v.split('.').next())
        .filter(|v| !v.is_empty())
}

/// The repository step for `distro`, on behalf of `settings.plugin()`. `source_hint` tells
/// the user what to do where Docker publishes nothing (SUSE): e.g. `--source distro`.
pub fn repository(
    distro: &Distro,
    options: &Options,
    settings: &Settings<'_>,
    source_hint: &str,
) -> Result<Step, PluginError> {
    let plugin = settings.plugin();
    let Some(format) = format(distro) else {
        return Err(PluginError::unsupported(format!(
            "Docker publishes no {} repository for {} (family {}, {}), so plugin `{plugin}` \
             cannot install from it",
            distro.package_manager, distro.id, distro.family, distro.package_manager
        ))
        .with_hint(source_hint.to_owned()));
    };
    let repo_path = distro.var(plugin, "docker.repo_path")?;
    let base = keys::base_url(options, ORIGIN)?;
    let tree = format!("{base}/linux/{repo_path}");
    let key_url = format!("{tree}/gpg");
    match format {
        Format::Deb => {
            let codename = distro.codename.as_deref().ok_or_else(|| {
                PluginError::new(
                    ErrorKind::MissingVariable,
                    format!(
                        "distro pack `{}` has no codename, which Docker's apt repository is \
                         keyed by (plugin `{plugin}`)",
                        distro.id
                    ),
                )
                .with_hint(source_hint.to_owned())
            })?;
            let key = keys::signing_key(settings, "Docker", &key_url, &[DEB_KEY_FINGERPRINT])?;
            Ok(Step::new(
                Phase::Repositories,
                format!("add Docker's apt repository {tree} {codename} stable"),
                "containerd.io and docker-ce come from Docker's own repository; its key is \
                 checked against Docker's published fingerprint and referenced with signed-by \
                 rather than trusted for every repository (apt-key is deprecated and gone in \
                 current releases)",
                StepKind::Repository(Repository {
                    id: "docker".to_owned(),
                    name: "Docker CE stable".to_owned(),
                    url: tree,
                    suite: Some(codename.to_owned()),
                    components: vec!["stable".to_owned()],
                    architectures: vec![distro.arch.clone()],
                    key: Some(key),
                    vendor: true,
                    requested_by: Vec::new(),
                }),
            ))
        }
        Format::Rpm => {
            let releasever = distro.var(plugin, "rpm.releasever")?;
            let key = keys::signing_key(settings, "Docker", &key_url, &[RPM_KEY_FINGERPRINT])?;
            let url = format!("{tree}/{releasever}/$basearch/stable");
            Ok(Step::new(
                Phase::Repositories,
                format!("add Docker's rpm repository {url}"),
                format!(
                    "containerd.io and docker-ce come from Docker's own repository, with \
                     gpgcheck on and Docker's key pinned by fingerprint; the release is the \
                     pack's `{releasever}`, not `$releasever`, which RHEL can expand to names \
                     such as 7Server that Docker does not publish"
                ),
                StepKind::Repository(Repository {
                    id: "docker-ce-stable".to_owned(),
                    name: "Docker CE stable".to_owned(),
                    url,
                    suite: None,
                    components: Vec::new(),
                    architectures: Vec::new(),
                    key: Some(key),
                    vendor: true,
                    requested_by: Vec::new(),
                }),
            ))
        }
    }
}
