//! The `cri-o` runtime plugin: CRI-O from the Kubic or pkgs.k8s.io repositories, or the
//! distro.
//!
//! CRI-O's major.minor must equal the kubelet's, so the version follows
//! `--kubernetes-version` and a mismatch is refused unless the user asks for it by name. The
//! repositories follow the version ([`repos`]): Kubic before 1.28, isv:cri-o from 1.28;
//! SUSE installs its own package. The cgroup driver and pause image go into drop-ins
//! ([`config`]). No repository is ever used without a verified key.

pub mod config;
pub mod repos;

use plugin_api::prerequisites::node_prerequisites;
use plugin_api::{
    export_plugin, Manifest, OptionDoc, Package, Phase, PlanRequest, PluginError, RuntimePlan,
    RuntimePlugin, ServiceStep, Source, Step, StepKind, VersionMatch,
};
use runtime_kit::docker_repo;
use runtime_kit::settings::{self, Settings};
use runtime_kit::version::{Version, KUBERNETES_EXAMPLE};
use runtime_kit::{cve, facts, image};

/// The plugin's name.
pub const PLUGIN: &str = "cri-o";

/// The CRI socket CRI-O serves.
pub const SOCKET: &str = "unix:///var/run/crio/crio.sock";

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct CriO;

impl RuntimePlugin for CriO {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(
            PLUGIN,
            env!("CARGO_PKG_VERSION"),
            &["debian", "rhel", "suse"],
        )
        .with_description("CRI-O from the Kubic or isv:cri-o repositories, or the distro")
        .with_capability(Manifest::RUNTIME_HANDLERS)
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        plan(request, &self.options())
    }

    fn options(&self) -> Vec<OptionDoc> {
        let mut docs = settings::key_options(
            PLUGIN,
            "Kubic's 2472D6D0D2F66AF87ABA8DA34D64390375060AA4, isv:cri-o's \
             85B67D5C50100B1AC8CEFE49CBA9C85640A2B579, pkgs.k8s.io's \
             DE15B14486CD377B9E876E1A234654DA9A296436",
        );
        docs.push(settings::doc(
            PLUGIN,
            "repository",
            "where CRI-O 1.28 and later come from: isv (openSUSE's isv:cri-o, CRI-O's home \
             since February 2025) or pkgs.k8s.io (its home before, no builds since; for sites \
             that mirror it)",
            Some("isv"),
        ));
        docs.push(settings::doc(
            PLUGIN,
            "allow-version-skew",
            "true to install a CRI-O whose major.minor differs from --kubernetes-version \
             (unsupported by CRI-O's compatibility matrix)",
            Some("false"),
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
    let user_version = Version::requested(options, "1.30")?;
    let kubernetes = Version::kubernetes(options)?;
    let mut warnings = Vec::new();
    let mut default_reason = None;
    let format = docker_repo::format(distro);
    let from_distro = options.source == Source::Distro || distro.family == "suse";
    let version = match (&user_version, &kubernetes) {
        (Some(v), Some(k)) => {
            if v.series() != k.series() && !settings.flag("allow-version-skew")? {
                return Err(PluginError::unsupported(format!(
                    "CRI-O {v} does not match Kubernetes {k}: CRI-O's major.minor must equal \
                     the kubelet's ({}.{})",
                    k.major(),
                    k.minor()
                ))
                .with_hint(format!(
                    "use --version {}.{}, or accept the skew by name with --set \
                     {PLUGIN}.allow-version-skew=true",
                    k.major(),
                    k.minor()
                )));
            }
            v.clone()
        }
        (Some(v), None) => {
            warnings.push(format!(
                "the kubelet must be Kubernetes {}.{} to match CRI-O {v}",
                v.major(),
                v.minor()
            ));
            v.clone()
        }
        (None, Some(k)) => Version::parse(
            &format!("{}.{}", k.major(), k.minor()),
            "--kubernetes-version",
            KUBERNETES_EXAMPLE,
        )?,
        (None, None) => match distro.var_opt("crio.default_minor") {
            // The pack names the newest minor its repository is known to publish, with the
            // source beside it.
            Some(minor) => {
                let v = Version::parse(minor, "crio.default_minor", "1.17")?;
                default_reason = Some(format!(
                    "CRI-O {v}: neither --version nor --kubernetes-version was given, and {v} is \
                     the newest minor distro pack {} records its repository publishing \
                     (crio.default_minor); the kubelet must be Kubernetes {v}",
                    distro.id
                ));
                v
            }
            // CRI-O's own repositories serve every deb and rpm distro alike.
            None if !from_distro && format.is_some() => {
                let v = Version::parse(repos::NEWEST_STABLE_MINOR, "CRI-O's newest minor", "1.36")?;
                default_reason = Some(format!(
                    "CRI-O {v}: neither --version nor --kubernetes-version was given, and {v} is \
                     the newest minor CRI-O's own repositories (isv:cri-o) are known to publish \
                     as stable; the kubelet must be Kubernetes {v}"
                ));
                v
            }
            None => {
                return Err(PluginError::invalid_input(format!(
                    "CRI-O's version follows the Kubernetes version, neither was given, and \
                     distro pack {} records no CRI-O minor its repository is known to publish",
                    distro.id
                ))
                .with_hint(
                    "pass --kubernetes-version X.Y (CRI-O X.Y is installed), or --version X.Y",
                ))
            }
        },
    };

    let mut plan = RuntimePlan {
        steps: node_prerequisites(),
        facts: facts::common(PLUGIN, SOCKET, options),
        warnings,
        handlers: Vec::new(),
    };
    plan.facts
        .insert("version".to_owned(), version.text().to_owned());
    if let Some(why) = default_reason {
        plan.facts.insert("version_chosen".to_owned(), why);
    }
    plan.facts.insert(
        "kubernetes_version".to_owned(),
        format!("{}.{}", version.major(), version.minor()),
    );

    let (packages, source) = if from_distro {
        let name = distro.var(PLUGIN, "crio.distro_package")?;
        if user_version.is_none() {
            plan.warnings.push(format!(
                "{}'s {name} must be CRI-O {}.{} to match the kubelet; check `crio --version` \
                 after installing",
                distro.id,
                version.major(),
                version.minor()
            ));
        }
        let package = Package {
            name: name.to_owned(),
            version: user_version.as_ref().map(|v| v.text().to_owned()),
            version_match: VersionMatch::Prefix,
            hold: user_version.is_some(),
            requested_by: Vec::new(),
            vulnerabilities: Vec::new(),
        };
        (vec![package], format!("{}'s archive", distro.id))
    } else {
        let Some(format) = format else {
            return Err(PluginError::unsupported(format!(
                "plugin `{PLUGIN}` knows no CRI-O repository for {} (package manager {})",
                distro.id, distro.package_manager
            ))
            .with_hint("use --source distro if the distro packages CRI-O"));
        };
        plan.warnings.extend(cve::gate(
            &[cve::Pinned {
                name: &format!("CRI-O {version}"),
                version: &version,
                table: cve::CRI_O,
            }],
            options,
        )?);
        let vendor = if version.series() < repos::FIRST_ON_PKGS {
            repos::kubic(format, distro, options, &settings, &version)?
        } else {
            repos::per_minor(format, distro, options, &settings, &version)?
        };
        plan.steps.extend(vendor.repositories);
        plan.warnings.extend(vendor.warnings);
        (vendor.packages, vendor.source)
    };
    plan.facts.insert("source".to_owned(), source);

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
        "the runtime; held at its minor, since CRI-O must move in step with the kubelet, never \
         ahead of it through an unattended upgrade",
        StepKind::Packages { packages },
    ));
    plan.steps.extend(config::steps(&version, options));
    plan.steps
        .extend(config::handler_steps(&version, &request.handlers)?);
    plan.steps.push(Step::new(
        Phase::Services,
        format!(
            "enable and start {}, restart it when its configuration changed",
            config::SERVICE
        ),
        "the kubelet needs CRI-O running at boot; a restart applies the drop-ins, and only when \
         they changed",
        StepKind::Service(ServiceStep {
            unit: config::SERVICE.to_owned(),
            enable: true,
            start: true,
            restart_on_change: true,
            daemon_reload: true,
        }),
    ));
    plan.steps.push(config::check(options));
    Ok(plan)
}

export_plugin!(runtime: CriO);

#[cfg(test)]
mod tests;
