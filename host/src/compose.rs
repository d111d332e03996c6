//! Stage 4 of the flow: ask the plugins for steps and compose them into one [`Plan`].
//!
//! This file calls the plugins and assembles the plan; `combine` merges the steps of several
//! plugins, `lower` turns abstract steps into actions, and `check` checks what plugins
//! returned before anything runs.
//!
//! The runtime plugin (and any `--with` plugins) return abstract steps; repositories and
//! packages from all of them are merged and handed to the distro's package-manager plugin in
//! one request, so that there is one index refresh and one install transaction. Duplicate
//! steps are merged; two plugins wanting different things of one file, package, repository
//! or sysctl are an error naming both. Everything else (files, modules, sysctls, services,
//! checks) the host turns into actions itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plugin_api::{
    methods, validate, Action, Check, Distro, Expect, FileContent, FileStep, Options, Package,
    Phase, PlanRequest, PluginKind, Probe, RenderRequest, RenderResponse, Repository,
    RestartTrigger, RuntimePlan, ServiceStep, Step, StepKind, TomlEdit, Vulnerability,
};
use serde::Serialize;

use crate::loader::{self, Candidate, Registry};
use crate::options::check_url;
use crate::Error;

mod check;
pub use check::check_edit;
mod combine;
pub mod kubelet;
mod lower;
pub mod migrate;

use check::*;
use combine::*;
use lower::*;

/// The composed plan: what `plan` shows, `run` applies and `render` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The distro the plan is for.
    pub distro: Distro,
    /// The runtime plugin's name.
    pub runtime: String,
    /// The plugins that contributed, in the order they were asked.
    pub plugins: Vec<PluginRef>,
    /// The cgroup driver used by every configuration the plan writes, and why.
    pub cgroup_driver: CgroupChoice,
    /// The steps, ordered by phase.
    pub steps: Vec<PlannedStep>,
    /// Facts reported by the runtime plugin (`cri_socket`, ...).
    pub facts: BTreeMap<String, String>,
    /// Warnings from the plugins.
    pub warnings: Vec<String>,
    /// What a version resolved on the target is judged against: each package's known
    /// vulnerabilities, and those the user accepted by name.
    pub vulnerabilities: VulnerabilityGate,
    /// Keys whose value in an existing config file the plan's replaces (`--override`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Whether the plan also aligns the kubelet (`--configure-kubelet`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub configures_kubelet: bool,
    /// The migration this plan carries out (`installer migrate`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<migrate::Migration>,
}

/// Whether a protocol version `major.minor[.patch]` is at least `want`.
fn speaks_at_least(protocol: &str, want: (u64, u64)) -> bool {
    let mut parts = protocol.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= want
}

/// A plugin that contributed to a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PluginRef {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Runtime or package manager.
    pub kind: PluginKind,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Files later on the plugin path with the same name, not used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadowed: Vec<PathBuf>,
}

impl PluginRef {
    fn new(registry: &Registry, candidate: &Candidate, kind: PluginKind) -> PluginRef {
        let manifest = candidate
            .manifest
            .as_ref()
            .expect("loaded plugins have a manifest");
        PluginRef {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            kind,
            path: candidate.path.clone(),
            shadowed: registry
                .candidates
                .iter()
                .filter(|c| {
                    c.status == loader::Status::Shadowed
                        && c.manifest.as_ref().is_some_and(|m| m.name == manifest.name)
                })
                .map(|c| c.path.clone())
                .collect(),
        }
    }
}

/// The cgroup driver and the reason for it.
#[derive(Debug, Clone, Serialize)]
pub struct CgroupChoice {
    /// `systemd` or `cgroupfs`.
    pub driver: plugin_api::CgroupDriver,
    /// Why.
    pub reason: String,
}

/// The CVE gate for versions resolved at run time (`--version 1.6` resolving to 1.6.20):
/// the same judgement the runtime plugins make of an exact pin, made by the host once the
/// version is known, before anything is installed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VulnerabilityGate {
    /// Known vulnerabilities by package name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub packages: BTreeMap<String, Vec<Vulnerability>>,
    /// CVE ids the user accepted with `--allow-vulnerable`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
}

impl VulnerabilityGate {
    /// Why `version` of `package` may not be installed: every vulnerability affecting it
    /// that the user did not accept, with the fix. `None` when it may be.
    pub fn refuse(&self, package: &str, version: &str, pin: &str) -> Option<String> {
        let refused: Vec<&Vulnerability> = self
            .packages
            .get(package)?
            .iter()
            .filter(|v| v.affects(version))
            .filter(|v| {
                !self
                    .allowed
                    .iter()
                    .any(|a| a.trim().eq_ignore_ascii_case(&v.id))
            })
            .collect();
        if refused.is_empty() {
            return None;
        }
        let ids: Vec<&str> = refused.iter().map(|v| v.id.as_str()).collect();
        let whats: Vec<String> = refused
            .iter()
            .map(|v| format!("{}: {}", v.id, v.what))
            .collect();
        Some(format!(
            "{package} {version}, what the pin {pin} resolves to here, is affected by {}; nothing was installed. Pin a fixed release with --version, or accept the risk by name with {}",
            whats.join("; "),
            ids.iter().map(|id| format!("--allow-vulnerable {id}")).collect::<Vec<_>>().join(" ")
        ))
    }
}

/// One step of a composed plan, with the concrete actions that carry it out.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    /// When it runs.
    pub phase: Phase,
    /// The plugins that asked for it, in the order they were asked; in JSON one string,
    /// `plugin`, the names joined by ", ".
    #[serde(rename = "plugin", serialize_with = "comma_joined")]
    pub plugins: Vec<String>,
    /// What it does.
    pub summary: String,
    /// Why.
    pub why: String,
    /// The abstract kind it came from (`file`, `repository`, ...).
    pub kind: StepTag,
    /// What the host does.
    pub actions: Vec<Action>,
    /// On an image root (`--root` that is not the live system): how each command of the
    /// step runs there, as the root is when planned; empty (and absent in JSON) otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_root: Vec<ImageCommand>,
}

/// How one command of a plan runs on an image root.
#[derive(Debug, Clone, Serialize)]
pub struct ImageCommand {
    /// The plan's command, as its action has it.
    pub argv: Vec<String>,
    /// `chroot` (the root has the program: run there, confined by bubblewrap), `build_host` (this host's package manager with
    /// its root option), `installer` (done or answered by installer through the root's
    /// files), or `unavailable` (`run` refuses before changing anything).
    pub way: &'static str,
    /// The line the plan shows: the host command line, or why it cannot run.
    pub detail: String,
}

impl PlannedStep {
    /// The plugins that asked for it, as one line: `containerd, gvisor`.
    pub fn asked_by(&self) -> String {
        self.plugins.join(", ")
    }
}

/// Writes a list of plugin names as one string, the JSON shape of `plugin` since 1.0.
pub(crate) fn comma_joined<S: serde::Serializer>(
    names: &[String],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&names.join(", "))
}

/// The abstract kind a planned step came from; in JSON its `type` tag (`kernel_modules`,
/// `file`, ...), the same words the plugins' step kinds use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepTag {
    /// Kernel modules loaded and persisted.
    KernelModules,
    /// Sysctls set and persisted.
    Sysctls,
    /// A package repository.
    Repository,
    /// Packages installed.
    Packages,
    /// A file written or merged.
    File,
    /// A file fetched and checked.
    Download,
    /// A systemd service.
    Service,
    /// A check.
    Check,
    /// Concrete actions (a package-manager plugin's).
    Actions,
}

impl StepTag {
    /// The tag of a plugin's step kind.
    pub fn of(kind: &StepKind) -> StepTag {
        match kind {
            StepKind::KernelModules { .. } => StepTag::KernelModules,
            StepKind::Sysctls { .. } => StepTag::Sysctls,
            StepKind::Repository(_) => StepTag::Repository,
            StepKind::Packages { .. } => StepTag::Packages,
            StepKind::File(_) => StepTag::File,
            StepKind::Download(_) => StepTag::Download,
            StepKind::Service(_) => StepTag::Service,
            StepKind::Check(_) => StepTag::Check,
            StepKind::Actions { .. } => StepTag::Actions,
            StepKind::Unknown => unreachable!("compose refuses unknown step kinds on arrival"),
        }
    }

    /// Whether its commands change the running kernel (skipped in an image root).
    pub fn changes_the_kernel(self) -> bool {
        matches!(self, StepTag::KernelModules | StepTag::Sysctls)
    }
}

/// Builds the plan for `options` on `distro` with the plugins in `registry`.
pub fn compose(
    registry: &Registry,
    distro: &Distro,
    options: &Options,
    with: &[String],
    remove: &[String],
) -> Result<Plan, Error> {
    let mut plugins = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut facts = BTreeMap::new();
    let mut warnings = Vec::new();

    let request = PlanRequest {
        distro: distro.clone(),
        options: options.clone(),
        handlers: Vec::new(),
    };
    let mut runtime_names = vec![options.runtime.clone()];
    runtime_names.extend(with.iter().cloned());
    let mut candidates = Vec::new();
    for (i, name) in runtime_names.iter().enumerate() {
        let candidate = registry
            .find(PluginKind::Runtime, name)
            .ok_or_else(|| unknown_runtime(registry, name, i > 0))?;
        let manifest = candidate
            .manifest
            .as_ref()
            .expect("loaded plugins have a manifest");
        check_family(name, &manifest.families, distro)?;
        candidates.push((name, candidate, manifest));
    }
    // The plugins added with --with first: the runtime handlers they declare go to the
    // --runtime plugin, which owns the configuration they are added to.
    let mut answers: Vec<Option<RuntimePlan>> = vec![None];
    let mut handlers = Vec::new();
    for (name, candidate, _) in &candidates[1..] {
        let mut answer: RuntimePlan = loader::call(candidate, methods::PLAN, &request)?;
        for mut handler in std::mem::take(&mut answer.handlers) {
            handler.plugin = (*name).clone();
            check::check_handler(&handler).map_err(|e| e.of_plugin(name, &candidate.path))?;
            handlers.push(handler);
        }
        answers.push(Some(answer));
    }
    let (owner, owner_candidate, owner_manifest) = &candidates[0];
    if !handlers.is_empty() && !owner_manifest.can(plugin_api::Manifest::RUNTIME_HANDLERS) {
        let named: Vec<String> = handlers
            .iter()
            .map(|h| format!("`{}` (from {})", h.name, h.plugin))
            .collect();
        return Err(Error::input(
            format!(
                "runtime handler {} must be added to the runtime's configuration, and runtime plugin `{owner}` (protocol {}) cannot add handlers to its configuration",
                named.join(", "),
                owner_manifest.protocol
            ),
            "use a --runtime that owns a CRI configuration and adds handlers (containerd, cri-o), or a version of its plugin that does",
        ));
    }
    let owner_request = PlanRequest {
        handlers: handlers.clone(),
        ..request.clone()
    };
    let owner_answer: RuntimePlan = loader::call(owner_candidate, methods::PLAN, &owner_request)?;
    if let Some(h) = owner_answer.handlers.first() {
        return Err(Error::input(
            format!(
                "plugin `{owner}` declares runtime handler `{}`, which the runtime that owns the CRI configuration adds; `{owner}` was selected as that runtime",
                h.name
            ),
            format!("select the runtime it runs under and add it: --runtime containerd --with {owner} (or --runtime cri-o --with {owner})"),
        ));
    }
    answers[0] = Some(owner_answer);
    for (i, ((name, candidate, manifest), answer)) in candidates.iter().zip(answers).enumerate() {
        let name: &String = name;
        let answer = answer.expect("every plugin answered");
        plugins.push(PluginRef::new(registry, candidate, PluginKind::Runtime));
        for mut step in answer.steps {
            step.plugin = name.clone();
            if step.kind == StepKind::Unknown {
                return Err(Error::plugin_bug(format!(
                    "plugin `{name}` ({}) answered step \"{}\" of a kind this host does not know: the plugin speaks protocol {}, this host {}; upgrade installer to a version that knows it",
                    candidate.path.display(),
                    step.summary,
                    manifest.protocol,
                    plugin_api::PROTOCOL_VERSION
                ))
                .of_plugin(name, &candidate.path));
            }
            check_step(&step, options).map_err(|e| e.of_plugin(&step.plugin, &candidate.path))?;
            steps.push(step);
        }
        if let Some(socket) = answer.facts.get("cri_socket") {
            // It goes into the kubelet's flags and configuration: a unix socket path, no more.
            let path = socket.strip_prefix("unix://").ok_or_else(|| {
                Error::plugin_bug(format!(
                    "plugin `{name}`: the fact cri_socket {socket:?} is not a unix:// socket"
                ))
                .of_plugin(name, &candidate.path)
            })?;
            validate::target_path(path, &format!("plugin `{name}`, fact cri_socket"))
                .map_err(|e| Error::plugin_bug(e.to_string()).of_plugin(name, &candidate.path))?;
            if path.contains(char::is_whitespace) || path.contains('=') {
                return Err(Error::plugin_bug(format!(
                    "plugin `{name}`: the fact cri_socket {socket:?} is not a plain path"
                ))
                .of_plugin(name, &candidate.path));
            }
        }
        if i == 0 {
            facts = answer.facts;
        } else {
            for (k, v) in answer.facts {
                facts.entry(k).or_insert(v);
            }
        }
        warnings.extend(answer.warnings.into_iter().map(|w| format!("{name}: {w}")));
    }

    let merged = merge(steps)?;
    check::ownership(&merged, &options.runtime)?;

    // Known vulnerabilities of the packages, for the host to judge resolved versions by.
    let vulnerable: BTreeMap<String, Vec<Vulnerability>> = merged
        .iter()
        .filter_map(|m| match &m.step.kind {
            StepKind::Packages { packages } => Some(packages),
            _ => None,
        })
        .flatten()
        .filter(|p| !p.vulnerabilities.is_empty())
        .map(|p| (p.name.clone(), p.vulnerabilities.clone()))
        .collect();
    // Repositories and packages go to the package-manager plugin in one request.
    let (repositories, packages): (Vec<Repository>, Vec<Package>) =
        merged.iter().fold((vec![], vec![]), |mut acc, m| {
            match &m.step.kind {
                StepKind::Repository(r) => acc.0.push(Repository {
                    requested_by: m.plugins.clone(),
                    ..r.clone()
                }),
                StepKind::Packages { packages } => acc.1.extend(packages.iter().cloned()),
                _ => {}
            }
            acc
        });
    let mut planned = Vec::new();
    if !repositories.is_empty() || !packages.is_empty() || !remove.is_empty() {
        let pm = registry.package_manager_for(&distro.package_manager).ok_or_else(|| {
            Error::input(
                format!(
                    "no loaded package-manager plugin drives `{}`, which distro pack `{}` uses",
                    distro.package_manager, distro.id
                ),
                format!(
                    "install the plugin for {} on the plugin path (see `installer plugins list`); loaded package managers: {}",
                    distro.package_manager,
                    registry.names(PluginKind::PackageManager).join(", ")
                ),
            )
        })?;
        let manifest = pm
            .manifest
            .as_ref()
            .expect("loaded plugins have a manifest");
        if !remove.is_empty() && !speaks_at_least(&manifest.protocol, (1, 4)) {
            return Err(Error::input(
                format!(
                    "package-manager plugin `{}` speaks protocol {}, which cannot remove packages ({} asked for)",
                    manifest.name,
                    manifest.protocol,
                    remove.join(", ")
                ),
                "install a plugin of protocol 1.4 or later for it, or remove the packages yourself",
            ));
        }
        let render: RenderResponse = loader::call(
            pm,
            methods::RENDER,
            &RenderRequest {
                distro: distro.clone(),
                options: options.clone(),
                repositories,
                packages,
                remove: remove.to_vec(),
            },
        )?;
        plugins.push(PluginRef::new(registry, pm, PluginKind::PackageManager));
        warnings.extend(
            render
                .warnings
                .into_iter()
                .map(|w| format!("{}: {w}", manifest.name)),
        );
        for step in render.steps {
            let StepKind::Actions { actions } = &step.kind else {
                return Err(Error::plugin_bug(format!(
                    "package-manager plugin `{}` returned a `{}` step; it must return concrete actions",
                    manifest.name,
                    step.kind.type_name()
                ))
                .of_plugin(&manifest.name, &pm.path));
            };
            planned.push(PlannedStep {
                phase: step.phase,
                plugins: vec![manifest.name.clone()],
                summary: step.summary,
                why: step.why,
                kind: StepTag::Actions,
                actions: actions.clone(),
                image_root: Vec::new(),
            });
        }
    }

    let changers = restart_triggers(&merged);
    for m in &merged {
        let actions = match &m.step.kind {
            StepKind::Repository(_) | StepKind::Packages { .. } => continue,
            StepKind::Unknown => unreachable!("compose refuses unknown step kinds on arrival"),
            StepKind::KernelModules {
                modules,
                persist_file,
            } => module_actions(modules, persist_file),
            StepKind::Sysctls {
                settings,
                persist_file,
            } => sysctl_actions(settings, persist_file),
            StepKind::File(file) => file
                .skip_when
                .iter()
                .map(|guard| Action::SkipIf(guard.clone()))
                .chain(std::iter::once(file_action(file)))
                .collect(),
            StepKind::Download(d) => vec![Action::Download {
                url: d.url.clone(),
                sha256: d.sha256.clone(),
                member: d.member.clone(),
                path: d.path.clone(),
                mode: d.mode,
            }],
            StepKind::Service(service) => {
                vec![service_action(service, changers.get(&service.unit))]
            }
            StepKind::Check(check) => vec![Action::Check(check.clone())],
            StepKind::Actions { actions } => actions.clone(),
        };
        planned.push(PlannedStep {
            phase: m.step.phase,
            plugins: m.plugins.clone(),
            summary: m.step.summary.clone(),
            why: m.step.why.clone(),
            kind: StepTag::of(&m.step.kind),
            actions,
            image_root: Vec::new(),
        });
    }
    check_set_keys(registry, options, &plugins)?;
    // Stable: within a phase, the package manager's steps first, then the plugins' order;
    // but its steps in the verification phase (removals) last, after every check passed.
    let pm_name = plugins
        .iter()
        .find(|p| p.kind == PluginKind::PackageManager)
        .map(|p| p.name.clone());
    planned.sort_by_key(|s| {
        let pm_late = s.phase == Phase::Verification
            && pm_name.as_ref().is_some_and(|n| s.plugins.contains(n));
        (s.phase, pm_late)
    });
    // One last look at every action, whoever made it: this is what will run.
    for step in &planned {
        let from = format!("plugin `{}` (step \"{}\")", step.asked_by(), step.summary);
        for action in &step.actions {
            check_action(action, &from, options).map_err(|e| {
                match plugins
                    .iter()
                    .find(|p| step.plugins.first() == Some(&p.name))
                {
                    Some(p) => e.of_plugin(&p.name, &p.path),
                    None => e,
                }
            })?;
        }
    }

    Ok(Plan {
        distro: distro.clone(),
        runtime: options.runtime.clone(),
        plugins,
        cgroup_driver: CgroupChoice {
            driver: options.cgroup_driver,
            reason: options.cgroup_driver_reason.clone(),
        },
        steps: planned,
        facts,
        warnings,
        vulnerabilities: VulnerabilityGate {
            packages: vulnerable,
            allowed: options.allow_vulnerable.clone(),
        },
        overrides: Vec::new(),
        configures_kubelet: false,
        migration: None,
    })
}

/// Every `--set` key must belong to a plugin of this plan and, when that plugin documents its
/// options (protocol 1.1), be one of them: a misspelt key must not be silently ignored.
fn check_set_keys(
    registry: &Registry,
    options: &Options,
    plugins: &[PluginRef],
) -> Result<(), Error> {
    let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    let mut documented: BTreeMap<&str, Option<Vec<plugin_api::OptionDoc>>> = BTreeMap::new();
    for key in options.set.keys() {
        let prefix = key.split('.').next().unwrap_or_default();
        let Some(plugin) = plugins.iter().find(|p| p.name == prefix) else {
            return Err(Error::input(
                format!("--set {key}: no plugin named `{prefix}` takes part in this plan"),
                format!(
                    "keys are <plugin>.<option>, for one of: {}",
                    names.join(", ")
                ),
            ));
        };
        if !documented.contains_key(prefix) {
            let docs = match registry.find(plugin.kind, prefix) {
                Some(candidate) => loader::call_optional(candidate, methods::OPTIONS, &())?,
                None => None,
            };
            documented.insert(prefix, docs);
        }
        if let Some(Some(docs)) = documented.get(prefix) {
            if !docs.iter().any(|d| d.key == *key) {
                let known: Vec<&str> = docs.iter().map(|d| d.key.as_str()).collect();
                return Err(Error::input(
                    format!("--set {key}: plugin `{prefix}` has no such option"),
                    if known.is_empty() {
                        format!("plugin `{prefix}` takes no --set options")
                    } else {
                        format!("plugin `{prefix}` takes: {}", known.join(", "))
                    },
                ));
            }
        }
    }
    Ok(())
}

fn unknown_runtime(registry: &Registry, name: &str, via_with: bool) -> Error {
    // A plugin of that name that is there but was refused is a plugin failure (exit 3), not
    // a typo.
    let refused = registry
        .candidates
        .iter()
        .find(|c| c.display_name() == name && c.status == loader::Status::Rejected);
    if let Some(rejected) = refused {
        return Error::Plugin(loader::PluginFailure {
            plugin: name.to_owned(),
            path: rejected.path.display().to_string(),
            kind: loader::FailureKind::Open(rejected.reason.clone().unwrap_or_default()),
        });
    }
    // Files refused before their manifest could be read (permissions, a crash) may be the
    // plugin asked for: say so, as a plugin failure.
    let unknown: Vec<String> = registry
        .candidates
        .iter()
        .filter(|c| c.status == loader::Status::Rejected && c.manifest.is_none())
        .map(|c| {
            format!(
                "{}: {}",
                c.path.display(),
                c.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Error::Plugin(loader::PluginFailure {
            plugin: name.to_owned(),
            path: "(not loaded)".to_owned(),
            kind: loader::FailureKind::Open(format!(
                "no loaded runtime plugin has this name, and {} plugin file(s) were refused before they could say theirs: {}",
                unknown.len(),
                unknown.join("; ")
            )),
        });
    }
    let loaded = registry.names(PluginKind::Runtime);
    let flag = if via_with { "--with" } else { "--runtime" };
    let hint = if loaded.is_empty() {
        "no runtime plugin is loaded; see `installer plugins list` for the plugin path and any rejected files".to_owned()
    } else {
        format!("loaded runtime plugins: {}", loaded.join(", "))
    };
    Error::input(
        format!("{flag} {name}: no runtime plugin of that name is loaded"),
        hint,
    )
}

fn check_family(plugin: &str, families: &[String], distro: &Distro) -> Result<(), Error> {
    if families.is_empty() || families.contains(&distro.family) {
        return Ok(());
    }
    Err(Error::input(
        format!(
            "runtime plugin `{plugin}` supports the {} famil{} and distro pack `{}` is in the `{}` family",
            families.join(", "),
            if families.len() == 1 { "y" } else { "ies" },
            distro.id,
            distro.family
        ),
        "choose another --runtime, or another --distro",
    ))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod gate_tests;
