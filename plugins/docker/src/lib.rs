//! The `docker` runtime plugin: Docker Engine, docker-ce from Docker's repository or the
//! distro's package.
//!
//! The plan: node prerequisites; Docker's repository; `docker-ce`, `docker-ce-cli` and the
//! `containerd.io` that goes with that Engine, pinned in the spelling of the distro's
//! repository ([`versions`]); `/etc/docker/daemon.json` merged (`runtime_kit::daemon_json`), after a
//! check that no drop-in passes the same settings as flags; docker.service; and for
//! Kubernetes 1.24 and later, cri-dockerd, through which the kubelet reaches Docker.

pub mod versions;

use plugin_api::prerequisites::node_prerequisites;
use plugin_api::{
    export_plugin, Manifest, OptionDoc, Package, Phase, PlanRequest, PluginError, RuntimePlan,
    RuntimePlugin, Source, Step, StepKind, VersionMatch,
};
use runtime_kit::docker_repo::{self, Format};
use runtime_kit::settings::{self, Settings};
use runtime_kit::version::Version;
use runtime_kit::{cri_dockerd, cve, daemon_json, facts, image};

use crate::versions::Pin;

/// The plugin's name.
pub const PLUGIN: &str = "docker";

/// The socket the kubelet's built-in dockershim served, before Kubernetes 1.24.
pub const DOCKERSHIM_SOCKET: &str = "unix:///var/run/dockershim.sock";

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Docker;

impl RuntimePlugin for Docker {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(
            PLUGIN,
            env!("CARGO_PKG_VERSION"),
            &["debian", "rhel", "suse"],
        )
        .with_description(
            "Docker Engine: docker-ce from Docker's repository or docker.io from the distro",
        )
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        plan(request, &self.options())
    }

    fn options(&self) -> Vec<OptionDoc> {
        let mut docs = settings::key_options(PLUGIN, docker_repo::DEB_KEY_FINGERPRINT);
        docs[1].help.push_str(&format!(
            " (Docker's keys: deb {}, rpm {})",
            docker_repo::DEB_KEY_FINGERPRINT,
            docker_repo::RPM_KEY_FINGERPRINT
        ));
        docs.push(settings::doc(
            PLUGIN,
            "containerd-version",
            "containerd.io to pin instead of the one this plugin pairs with the Docker Engine \
             version: a full package version (1.2.13-2) or a series (1.7)",
            Some("by Docker Engine version (see the plugin's table)"),
        ));
        docs.push(settings::doc(
            PLUGIN,
            "without-cri-dockerd",
            "true to leave cri-dockerd out of the plan, for sites that install and run it \
             themselves (it is installed from Mirantis' release archives otherwise)",
            Some("false"),
        ));
        docs.extend(cri_dockerd::options(PLUGIN));
        docs
    }
}

fn plan(request: &PlanRequest, known: &[OptionDoc]) -> Result<RuntimePlan, PluginError> {
    let distro = &request.distro;
    let options = &request.options;
    let settings = Settings::new(PLUGIN, options, known)?;
    if let Some(reference) = &options.sandbox_image {
        image::check(reference)?;
    }
    let version = Version::requested(options, "28.3.3")?;
    let kubernetes = Version::kubernetes(options)?;
    // Without --kubernetes-version, plan for a Kubernetes that is still supported: all of
    // them are past the dockershim.
    let needs_cri_dockerd = kubernetes.as_ref().is_none_or(|k| k.series() >= (1, 24));
    let site_runs_cri_dockerd = needs_cri_dockerd && settings.flag("without-cri-dockerd")?;
    let with_cri_dockerd = needs_cri_dockerd && !site_runs_cri_dockerd;
    let unused = [
        "cri-dockerd-version",
        "cri-dockerd-url",
        "cri-dockerd-sha256",
    ]
    .into_iter()
    .filter(|k| settings.get(k).is_some())
    .map(|k| format!("{PLUGIN}.{k}"))
    .collect::<Vec<_>>();
    if !with_cri_dockerd && !unused.is_empty() {
        let why = if site_runs_cri_dockerd {
            format!("--set {PLUGIN}.without-cri-dockerd=true leaves cri-dockerd out")
        } else {
            "Kubernetes before 1.24 uses the kubelet's dockershim, not cri-dockerd".to_owned()
        };
        return Err(PluginError::invalid_input(format!(
            "--set {} would do nothing: {why}",
            unused.join(", --set ")
        ))
        .with_hint("drop the setting, or the option that leaves cri-dockerd out"));
    }

    let mut plan = RuntimePlan {
        steps: node_prerequisites(),
        facts: facts::common(
            PLUGIN,
            if needs_cri_dockerd {
                cri_dockerd::SOCKET
            } else {
                DOCKERSHIM_SOCKET
            },
            options,
        ),
        warnings: Vec::new(),
        handlers: Vec::new(),
    };

    let mut packages = Vec::new();
    let mut override_kernel_check = false;
    // Whether the installed dockerd is known to have `--validate` (Docker 23.0 and later).
    let mut validates = false;
    match options.source {
        Source::Upstream => {
            let hint = match distro.var_opt("docker.distro_package") {
                Some(name) => format!("use --source distro to install {}'s `{name}`", distro.id),
                None => "use a distro Docker publishes packages for".to_owned(),
            };
            plan.steps
                .push(docker_repo::repository(distro, options, &settings, &hint)?);
            let format = docker_repo::format(distro).expect("the repository step checked it");
            let repo_path = distro.var(PLUGIN, "docker.repo_path")?;
            let containerd = match settings.get("containerd-version") {
                Some(value) => Some(versions::containerd_override(value)?),
                None => match &version {
                    Some(v) => Some(versions::containerd_for(v, format).ok_or_else(|| {
                        PluginError::invalid_input(format!(
                            "Docker Engine {v} is not a version this plugin knows (18.09, \
                             19.03, 20.10 and 23.0 to 28.x)"
                        ))
                        .with_hint(format!(
                            "pin a known version, or name the containerd.io to install with it: \
                             --set {PLUGIN}.containerd-version=<version>"
                        ))
                    })?),
                    None => None,
                },
            };
            let mut judged = Vec::new();
            let engine_name;
            if let Some(v) = &version {
                versions::check_published(v, distro, format)?;
                if let Some(warning) = versions::unconfirmed(v, repo_path) {
                    plan.warnings.push(warning);
                }
                engine_name = format!("Docker Engine {v}");
                judged.push(cve::Pinned {
                    name: &engine_name,
                    version: v,
                    table: cve::DOCKER_ENGINE,
                });
            }
            let containerd_name;
            if let Some(c) = &containerd {
                containerd_name = format!("containerd.io {}", c.pin.text);
                judged.push(cve::Pinned {
                    name: &containerd_name,
                    version: &c.judged_as,
                    table: cve::CONTAINERD,
                });
            }
            plan.warnings.extend(cve::gate(&judged, options)?);

            let engine_pin = version
                .as_ref()
                .map(|v| versions::engine_pin(v, format, distro, repo_path))
                .transpose()?;
            for name in ["docker-ce", "docker-ce-cli"] {
                packages.push(package(name, engine_pin.as_ref()));
            }
            packages.push(package(
                "containerd.io",
                containerd.as_ref().map(|c| &c.pin),
            ));
            // The CentOS 7 setting of the Kubernetes pages, for Engines that still accept it.
            let el7 = format == Format::Rpm && distro.var_opt("rpm.releasever") == Some("7");
            override_kernel_check = el7 && version.as_ref().is_some_and(|v| v.series() < (24, 0));
            validates = version.as_ref().is_none_or(|v| v.series() >= (23, 0));
            plan.facts.insert(
                "version".to_owned(),
                version.as_ref().map_or_else(
                    || "the newest in Docker's repository".to_owned(),
                    |v| v.text().to_owned(),
                ),
            );
            plan.facts
                .insert("source".to_owned(), "Docker's repository".to_owned());
            if format == Format::Rpm {
                plan.warnings.push(
                    "containerd.io conflicts with the distro's runc and podman packages on \
                     RHEL-family hosts; remove podman/buildah (and runc) first if they are \
                     installed"
                        .to_owned(),
                );
            }
        }
        Source::Distro => {
            let name = distro.var(PLUGIN, "docker.distro_package")?;
            packages.push(package(
                name,
                version
                    .as_ref()
                    .map(|v| Pin {
                        text: v.text().to_owned(),
                        matching: VersionMatch::Prefix,
                    })
                    .as_ref(),
            ));
            plan.facts.insert(
                "version".to_owned(),
                version
                    .as_ref()
                    .map_or_else(|| "the distro's".to_owned(), |v| v.text().to_owned()),
            );
            plan.facts
                .insert("source".to_owned(), format!("{}'s archive", distro.id));
        }
    }

    let cri_dockerd = if with_cri_dockerd {
        Some(cri_dockerd::download(
            distro,
            options.mirror.as_deref(),
            &settings,
        )?)
    } else {
        None
    };
    if let Some((_, chosen)) = &cri_dockerd {
        plan.facts.insert("cri_adapter".to_owned(), chosen.clone());
        plan.facts.insert(
            "cri_socket_unit".to_owned(),
            cri_dockerd::SOCKET_UNIT.to_owned(),
        );
    } else if site_runs_cri_dockerd {
        plan.warnings.push(format!(
            "cri-dockerd is left out (--set {PLUGIN}.without-cri-dockerd=true): the kubelet of \
             Kubernetes 1.24 and later reaches Docker only through it; install and run it \
             yourself, serving {}",
            cri_dockerd::SOCKET
        ));
        plan.facts.insert(
            "cri_adapter".to_owned(),
            "cri-dockerd (installed by the site)".to_owned(),
        );
    } else {
        plan.facts.insert(
            "cri_adapter".to_owned(),
            "dockershim (in the kubelet)".to_owned(),
        );
        if let Some(image) = &options.sandbox_image {
            plan.warnings.push(format!(
                "with the dockershim the pause image is the kubelet's own setting: pass \
                 --pod-infra-container-image={image} to the kubelet"
            ));
        }
    }

    let pinned = packages.iter().any(|p| p.hold);
    plan.steps.push(Step::new(
        Phase::Packages,
        format!(
            "install {}",
            packages
                .iter()
                .map(|p| match &p.version {
                    Some(v) => format!("{} {v}", p.name),
                    None => p.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        if pinned {
            "the engine, its CLI and the containerd it runs containers with, at versions that \
             belong together; held, so that an unattended upgrade does not move one without the \
             others"
        } else {
            "the engine, its CLI and the containerd it runs containers with"
        },
        StepKind::Packages { packages },
    ));
    plan.steps
        .push(daemon_json::step(options, override_kernel_check));
    plan.steps.push(daemon_json::service_step(
        "the kubelet needs Docker running at boot; a restart applies daemon.json, and only when \
         it changed, so a second run disturbs nothing",
    ));
    if validates {
        plan.steps.push(daemon_json::validate_check());
    }
    if let Some((download, chosen)) = cri_dockerd {
        plan.steps.extend(cri_dockerd::release_steps(
            download,
            &chosen,
            options.sandbox_image.as_deref(),
        ));
    }
    Ok(plan)
}

/// A package from Docker's repository; the host judges the release a partial pin resolves
/// to against the engine's and containerd's vulnerabilities.
fn package(name: &str, pin: Option<&Pin>) -> Package {
    let table = match name {
        "docker-ce" => cve::DOCKER_ENGINE,
        "containerd.io" => cve::CONTAINERD,
        _ => &[],
    };
    Package {
        name: name.to_owned(),
        version: pin.map(|p| p.text.clone()),
        version_match: pin.map_or(VersionMatch::Exact, |p| p.matching),
        hold: pin.is_some(),
        requested_by: Vec::new(),
        vulnerabilities: cve::vulnerabilities(table),
    }
}

export_plugin!(runtime: Docker);

#[cfg(test)]
mod tests;
