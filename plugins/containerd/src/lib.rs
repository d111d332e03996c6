//! The `containerd` runtime plugin: containerd.io from Docker's repository, or the distro's
//! containerd.
//!
//! The plan: node prerequisites; Docker's repository (upstream) or nothing (distro); the
//! package, pinned when asked; `/etc/containerd/config.toml` edited in place for the schema
//! the installed major reads ([`config`]); containerd.service enabled and restarted when its
//! configuration changed; a check that containerd reads what was written.

pub mod config;

use plugin_api::prerequisites::node_prerequisites;
use plugin_api::{
    export_plugin, Manifest, OptionDoc, Package, Phase, PlanRequest, PluginError, RuntimePlan,
    RuntimePlugin, ServiceStep, Source, Step, StepKind, VersionMatch,
};
use runtime_kit::settings::{self, Settings};
use runtime_kit::version::Version;
use runtime_kit::{cve, docker_repo, facts, image};

use crate::config::Schema;

/// The plugin's name.
pub const PLUGIN: &str = "containerd";

/// The CRI socket containerd serves.
pub const SOCKET: &str = "unix:///run/containerd/containerd.sock";

/// The containerd.io series installed from Docker's repository when `--version` is not given.
/// containerd 1.7 is the series Docker Engine 26 to 28 ship with; a series pin installs its
/// newest release, which carries every fix of the series.
pub const DEFAULT_SERIES: &str = "1.7";

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Containerd;

impl RuntimePlugin for Containerd {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(
            PLUGIN,
            env!("CARGO_PKG_VERSION"),
            &["debian", "rhel", "suse"],
        )
        .with_description(
            "containerd: containerd.io from Docker's repository or the distro's containerd",
        )
        .with_capability(Manifest::RUNTIME_HANDLERS)
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
            "config-version",
            "schema version (1, 2 or 3) of /etc/containerd/config.toml, when the plan cannot \
             tell which containerd major a distro package is: 2 for containerd 1.3-1.7, 3 for \
             2.x",
            Some("from --version, else 2 (read by containerd 1.3 and later, 2.x included)"),
        ));
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
    let version = Version::requested(options, "1.7.27")?;

    let mut plan = RuntimePlan {
        steps: node_prerequisites(),
        facts: facts::common(PLUGIN, SOCKET, options),
        warnings: Vec::new(),
        handlers: Vec::new(),
    };

    let (package, schema, decided_by) = match options.source {
        Source::Upstream => {
            plan.steps.push(docker_repo::repository(
                distro,
                options,
                &settings,
                "use --source distro to install the distro's own containerd package",
            )?);
            let pin = match &version {
                Some(v) => v.clone(),
                None => Version::parse(DEFAULT_SERIES, "the default series", DEFAULT_SERIES)?,
            };
            plan.warnings.extend(cve::gate(
                &[cve::Pinned {
                    name: &format!("containerd.io {pin}"),
                    version: &pin,
                    table: cve::CONTAINERD,
                }],
                options,
            )?);
            if distro.family == "rhel" {
                plan.warnings.push(
                    "containerd.io conflicts with the distro's runc and podman packages on \
                     RHEL-family hosts; remove podman/buildah (and runc) first if they are \
                     installed"
                        .to_owned(),
                );
            }
            let decided_by = match &version {
                Some(v) => format!("containerd {v} from --version"),
                None => format!("containerd.io {DEFAULT_SERIES}.x, this plugin's default series"),
            };
            plan.facts
                .insert("version".to_owned(), pin.text().to_owned());
            plan.facts
                .insert("source".to_owned(), "Docker's repository".to_owned());
            let package = Package {
                name: "containerd.io".to_owned(),
                version: Some(pin.text().to_owned()),
                version_match: VersionMatch::Prefix,
                hold: version.is_some(),
                requested_by: Vec::new(),
                // Judged again by the host against the release `1.6` resolves to.
                vulnerabilities: cve::vulnerabilities(cve::CONTAINERD),
            };
            (package, Schema::for_version(&pin), decided_by)
        }
        Source::Distro => {
            let name = distro.var(PLUGIN, "containerd.distro_package")?;
            plan.facts
                .insert("source".to_owned(), format!("{}'s archive", distro.id));
            let (schema, decided_by) = match &version {
                Some(v) => (
                    Schema::for_version(v),
                    format!("containerd {v} from --version"),
                ),
                None => match shipped_series(distro) {
                    Some(series) => (
                        Schema::for_version(&Version::parse(
                            series,
                            "the distro's series",
                            series,
                        )?),
                        format!("{} ships containerd {series}", distro.id),
                    ),
                    None => (
                        Schema::V2,
                        format!(
                            "the containerd {} ships is not known to this plugin; schema 2 is \
                             read by containerd 1.3 and later, 2.x included",
                            distro.id
                        ),
                    ),
                },
            };
            plan.facts.insert(
                "version".to_owned(),
                version
                    .as_ref()
                    .map(|v| v.text().to_owned())
                    .or_else(|| shipped_series(distro).map(str::to_owned))
                    .unwrap_or_else(|| "the distro's".to_owned()),
            );
            let package = Package {
                name: name.to_owned(),
                version: version.as_ref().map(|v| v.text().to_owned()),
                version_match: VersionMatch::Prefix,
                hold: version.is_some(),
                requested_by: Vec::new(),
                vulnerabilities: Vec::new(),
            };
            (package, schema, decided_by)
        }
    };

    let (schema, decided_by) = match settings.get("config-version") {
        None => (schema, decided_by),
        Some(n) => match Schema::from_number(n) {
            Some(s) => (s, format!("--set {PLUGIN}.config-version={n}")),
            None => {
                return Err(PluginError::invalid_input(format!(
                    "--set {PLUGIN}.config-version={} is not a containerd config schema",
                    n.escape_debug()
                ))
                .with_hint(format!(
                    "write --set {PLUGIN}.config-version=2 (containerd 1.3-1.7), 3 (2.0-2.2) or 4 (2.3 and later)"
                )))
            }
        },
    };
    plan.facts
        .insert("config_version".to_owned(), schema.number().to_string());

    plan.steps.push(config::schema_check(schema));
    if schema != Schema::V1 {
        plan.steps.push(config::versionless_check(schema));
    }
    if schema == Schema::V2 {
        plan.steps.push(config::imports_check());
    }
    plan.steps.push(Step::new(
        Phase::Packages,
        match &package.version {
            Some(v) => format!("install {} {v}", package.name),
            None => format!("install {}", package.name),
        },
        if package.hold {
            "the runtime itself; held at the pinned version so that an unattended upgrade \
             cannot move it to another release (or another config schema) under a running node"
        } else {
            "the runtime itself"
        },
        StepKind::Packages {
            packages: vec![package],
        },
    ));
    if schema == Schema::V1 && !request.handlers.is_empty() {
        return Err(PluginError::unsupported(format!(
            "runtime handler {} needs containerd 1.3 or later (config schema 2 or later); this plan's containerd reads schema 1",
            request.handlers[0].name
        ))
        .with_hint("pin a newer containerd with --version, or drop the plugin that adds it"));
    }
    plan.steps.push(config::step(
        schema,
        options,
        &request.handlers,
        &decided_by,
    ));
    plan.steps.push(Step::new(
        Phase::Services,
        format!(
            "enable and start {}, restart it when its configuration changed",
            config::SERVICE
        ),
        "the kubelet needs containerd running at boot; a restart applies the new configuration, \
         and only when it changed, so a second run disturbs nothing",
        StepKind::Service(ServiceStep {
            unit: config::SERVICE.to_owned(),
            enable: true,
            start: true,
            restart_on_change: true,
            daemon_reload: false,
        }),
    ));
    plan.steps
        .extend(config::dump_checks(schema, options, &request.handlers));
    Ok(plan)
}

/// The containerd series the distros of the built-in packs ship, where known: the plan's
/// facts and the config schema of `--source distro`.
fn shipped_series(distro: &plugin_api::Distro) -> Option<&'static str> {
    match (distro.os_id.as_str(), distro.version_id.as_deref()) {
        ("debian", Some("11")) => Some("1.4"),
        ("debian", Some("12")) => Some("1.6"),
        ("debian", Some("13")) => Some("1.7"),
        ("ubuntu", Some("20.04")) => Some("1.7"),
        // Ubuntu backports containerd releases to its LTS releases (the SRU exception for the
        // container stack): the source package containerd-app, 2.2.1-0ubuntu1~24.04.3 in
        // noble-updates/-security and 2.2.1-0ubuntu1~22.04.2 in jammy-updates/-security
        // (packages.ubuntu.com); noble's release pocket has 1.7.12. A host with the updates
        // pockets, as installed, gets 2.2.
        ("ubuntu", Some("22.04" | "24.04")) => Some("2.2"),
        _ => None,
    }
}

export_plugin!(runtime: Containerd);

#[cfg(test)]
mod tests;
