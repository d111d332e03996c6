//! The `mcr` runtime plugin: Mirantis Container Runtime from repos.mirantis.com.
//!
//! The plan: node prerequisites; Mirantis' repository for the distro and the channel named by
//! `--version` (`20.10` → `stable-20.10`, `25.0.14` → `stable-25.0.14`); docker-ee, its CLI,
//! rootless extras, containerd.io and cri-dockerd-ee; daemon.json merged as for Docker Engine
//! (MCR is dockerd); docker.service; and cri-dockerd's socket, the one the kubelet uses.

use plugin_api::prerequisites::node_prerequisites;
use plugin_api::{
    export_plugin, Manifest, OptionDoc, Package, Phase, PlanRequest, PluginError, Repository,
    RuntimePlan, RuntimePlugin, Step, StepKind, VersionMatch,
};
use runtime_kit::docker_repo::{self, Format};
use runtime_kit::settings::{self, Settings};
use runtime_kit::version::Version;
use runtime_kit::{cri_dockerd, daemon_json, facts, image, keys};

/// The plugin's name.
pub const PLUGIN: &str = "mcr";

/// Mirantis' origin; `--mirror` replaces it.
pub const ORIGIN: &str = "https://repos.mirantis.com";

/// The key signing Mirantis' apt repository (`repos.mirantis.com/ubuntu/gpg`), "Docker Release
/// (EE deb)": Docker's EE install guide (docker/docs `install/linux/docker-ee/ubuntu.md`,
/// 5c8b79ba: "the key with the fingerprint DD91 1E99 ...") and, for repos.mirantis.com, notes
/// that follow Mirantis' MCR 20.10 and 29 Ubuntu guides (`apt-key fingerprint 6D085F96`;
/// "Expected value = DD91 1E99 ..."). Mirantis' launchpad pins no key at all.
pub const DEB_KEY_FINGERPRINT: &str = "DD91 1E99 5A64 A202 E859  07D6 BC14 F10B 6D08 5F96";

/// The key of the rpm (and SLES) repositories, "Docker Release (EE rpm)": docker/docs
/// `install/linux/docker-ee/rhel.md` (4c95d161, `gpg-fingerprint = "77FE DA13 ..."`), for
/// Docker EE's repositories before Mirantis; no public source ties it to repos.mirantis.com
/// today, and the plan says so ([`RPM_KEY_UNCONFIRMED`]).
pub const RPM_KEY_FINGERPRINT: &str = "77FE DA13 1A83 1D29 A418  D3E8 99E5 FF2E 7668 2BC9";

/// What the plan says about [`RPM_KEY_FINGERPRINT`].
pub const RPM_KEY_UNCONFIRMED: &str = "the rpm key pinned for repos.mirantis.com (77FE DA13 1A83 \
     1D29 A418 D3E8 99E5 FF2E 7668 2BC9, \"Docker Release (EE rpm)\") is confirmed only for Docker \
     EE's repositories before Mirantis; if the run refuses the key, check the fingerprint Mirantis \
     publishes and pass it with --set mcr.key-fingerprint=...";

/// The channel used without `--version`: the newest MCR.
pub const DEFAULT_CHANNEL: &str = "stable";

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Mcr;

impl RuntimePlugin for Mcr {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(
            PLUGIN,
            env!("CARGO_PKG_VERSION"),
            &["debian", "rhel", "suse"],
        )
        .with_description("Mirantis Container Runtime from repos.mirantis.com")
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        plan(request, &self.options())
    }

    fn options(&self) -> Vec<OptionDoc> {
        let mut docs = settings::key_options(PLUGIN, DEB_KEY_FINGERPRINT);
        docs[1].help.push_str(&format!(
            " (Mirantis' keys: deb {DEB_KEY_FINGERPRINT}, rpm {RPM_KEY_FINGERPRINT})"
        ));
        docs
    }
}

fn plan(request: &PlanRequest, known: &[OptionDoc]) -> Result<RuntimePlan, PluginError> {
    let distro = &request.distro;
    let options = &request.options;
    let settings = Settings::new(PLUGIN, options, known)?;
    if options.source == plugin_api::Source::Distro {
        return Err(PluginError::unsupported(format!(
            "Mirantis Container Runtime is not in {}'s archive; it comes only from repos.mirantis.com",
            distro.name
        ))
        .with_hint("drop --source distro (MCR comes from Mirantis' repository), or choose --runtime docker --source distro"));
    }
    if let Some(reference) = &options.sandbox_image {
        image::check(reference)?;
    }
    let version = Version::requested(options, "25.0")?;
    let channel = version
        .as_ref()
        .map_or_else(|| DEFAULT_CHANNEL.to_owned(), |v| format!("stable-{v}"));

    let mut plan = RuntimePlan {
        steps: node_prerequisites(),
        facts: facts::common(PLUGIN, cri_dockerd::SOCKET, options),
        warnings: vec![
            "MCR carries Mirantis' own runc and containerd fixes, so this plan judges no MCR \
             version by Docker Engine's CVE table; check `runc --version` (1.1.12 or later, \
             CVE-2024-21626) after installing"
                .to_owned(),
            cri_dockerd::EE_UNCONFIRMED.to_owned(),
        ],
        handlers: Vec::new(),
    };
    plan.steps
        .push(repository(distro, options, &settings, &channel)?);
    if docker_repo::format(distro) != Some(Format::Deb) && settings.get("key-fingerprint").is_none()
    {
        plan.warnings.push(RPM_KEY_UNCONFIRMED.to_owned());
    }
    plan.facts.insert("channel".to_owned(), channel.clone());
    plan.facts.insert(
        "version".to_owned(),
        version.as_ref().map_or_else(
            || format!("the newest in {channel}"),
            |v| v.text().to_owned(),
        ),
    );
    plan.facts
        .insert("source".to_owned(), "Mirantis' repository".to_owned());
    plan.facts.insert(
        "cri_socket_unit".to_owned(),
        cri_dockerd::SOCKET_UNIT.to_owned(),
    );

    let pinned = |name: &str| Package {
        name: name.to_owned(),
        version: version.as_ref().map(|v| v.text().to_owned()),
        version_match: VersionMatch::Prefix,
        hold: version.is_some(),
        requested_by: Vec::new(),
        vulnerabilities: Vec::new(),
    };
    let unpinned = |name: &str| Package {
        name: name.to_owned(),
        version: None,
        version_match: VersionMatch::Exact,
        hold: false,
        requested_by: Vec::new(),
        vulnerabilities: Vec::new(),
    };
    let packages = vec![
        pinned("docker-ee"),
        pinned("docker-ee-cli"),
        unpinned("docker-ee-rootless-extras"),
        unpinned("containerd.io"),
        cri_dockerd::package(cri_dockerd::EE_PACKAGE),
    ];
    plan.steps.push(Step::new(
        Phase::Packages,
        format!(
            "install docker-ee{}, docker-ee-cli, docker-ee-rootless-extras, containerd.io, {}",
            version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            cri_dockerd::EE_PACKAGE
        ),
        "MCR's engine, CLI and the containerd it runs containers with, and cri-dockerd, which \
         MCR includes for Kubernetes (the kubelet has had no dockershim since 1.24)",
        StepKind::Packages { packages },
    ));
    plan.steps.push(daemon_json::step(options, false));
    plan.steps.push(daemon_json::service_step(
        "the kubelet needs MCR running at boot; a restart applies daemon.json, and only when it \
         changed",
    ));
    plan.steps.push(daemon_json::validate_check());
    plan.steps
        .extend(cri_dockerd::steps(options.sandbox_image.as_deref()));
    Ok(plan)
}

/// Mirantis' repository for `distro` and `channel`.
fn repository(
    distro: &plugin_api::Distro,
    options: &plugin_api::Options,
    settings: &Settings<'_>,
    channel: &str,
) -> Result<Step, PluginError> {
    let repo_path = distro.var(PLUGIN, "mcr.repo_path")?;
    let base = keys::base_url(options, ORIGIN)?;
    let tree = format!("{base}/{repo_path}");
    let fingerprint = match docker_repo::format(distro) {
        Some(Format::Deb) => DEB_KEY_FINGERPRINT,
        _ => RPM_KEY_FINGERPRINT,
    };
    let key = keys::signing_key(settings, "Mirantis", &format!("{tree}/gpg"), &[fingerprint])?;
    let why = "MCR is published only in Mirantis' repository, one channel per release line, so \
               upgrades stay on the line asked for; the key is checked against the fingerprint \
               pinned for the repository's format (deb or rpm)";
    let repository =
        |url: String, suite: Option<String>, components: Vec<String>, architectures| Repository {
            id: "mirantis-mcr".to_owned(),
            name: format!("Mirantis Container Runtime {channel}"),
            url,
            suite,
            components,
            architectures,
            key: Some(key.clone()),
            vendor: true,
            requested_by: Vec::new(),
        };
    let (summary, repo) = match (docker_repo::format(distro), distro.family.as_str()) {
        (Some(Format::Deb), _) => {
            let codename = distro.codename.as_deref().ok_or_else(|| {
                PluginError::unsupported(format!(
                    "distro pack `{}` has no codename, which Mirantis' apt repository is keyed by",
                    distro.id
                ))
            })?;
            (
                format!("add Mirantis' apt repository {tree} {codename} {channel}"),
                repository(
                    tree.clone(),
                    Some(codename.to_owned()),
                    vec![channel.to_owned()],
                    vec![distro.arch.clone()],
                ),
            )
        }
        (Some(Format::Rpm), _) => {
            let releasever = distro.var(PLUGIN, "rpm.releasever")?;
            let url = format!("{tree}/{releasever}/$basearch/{channel}");
            (
                format!("add Mirantis' rpm repository {url}"),
                repository(url, None, Vec::new(), Vec::new()),
            )
        }
        (None, "suse") => {
            let major = docker_repo::major_release(distro).ok_or_else(|| {
                PluginError::unsupported(format!(
                    "distro pack `{}` has no version_id, whose major release Mirantis' SLES \
                     repository is keyed by",
                    distro.id
                ))
            })?;
            let url = format!("{tree}/{major}/$basearch/{channel}");
            (
                format!("add Mirantis' zypper repository {url}"),
                repository(url, None, Vec::new(), Vec::new()),
            )
        }
        _ => {
            return Err(PluginError::unsupported(format!(
                "Mirantis publishes no MCR repository for {} ({})",
                distro.id, distro.package_manager
            )))
        }
    };
    Ok(Step::new(
        Phase::Repositories,
        summary,
        why,
        StepKind::Repository(repo),
    ))
}

export_plugin!(runtime: Mcr);

#[cfg(test)]
mod tests;
