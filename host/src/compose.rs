//! Stage 4 of the flow: ask the plugins for steps and compose them into one [`Plan`].
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
    methods, Action, Check, Distro, Expect, FileContent, FileStep, Options, Package, Phase,
    PlanRequest, PluginKind, Probe, RenderRequest, RenderResponse, Repository, RuntimePlan,
    ServiceStep, Step, StepKind, TomlEdit, Vulnerability,
};
use serde::Serialize;

use crate::loader::{self, Candidate, Registry};
use crate::options::{check_target_path, check_url, check_value};
use crate::Error;

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
}

/// A plugin that contributed to a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PluginRef {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Runtime or package manager.
    pub kind: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Files later on the plugin path with the same name, not used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadowed: Vec<PathBuf>,
}

impl PluginRef {
    fn new(registry: &Registry, candidate: &Candidate, kind: &str) -> PluginRef {
        let manifest = candidate
            .manifest
            .as_ref()
            .expect("loaded plugins have a manifest");
        PluginRef {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            kind: kind.into(),
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
    /// The plugin(s) that asked for it, comma-separated.
    pub plugin: String,
    /// What it does.
    pub summary: String,
    /// Why.
    pub why: String,
    /// The abstract kind it came from (`file`, `repository`, ...).
    pub kind: StepTag,
    /// What the host does.
    pub actions: Vec<Action>,
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
) -> Result<Plan, Error> {
    let mut plugins = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut facts = BTreeMap::new();
    let mut warnings = Vec::new();

    let request = PlanRequest {
        distro: distro.clone(),
        options: options.clone(),
    };
    let mut runtime_names = vec![options.runtime.clone()];
    runtime_names.extend(with.iter().cloned());
    for (i, name) in runtime_names.iter().enumerate() {
        let candidate = registry
            .find(PluginKind::Runtime, name)
            .ok_or_else(|| unknown_runtime(registry, name, i > 0))?;
        let manifest = candidate
            .manifest
            .as_ref()
            .expect("loaded plugins have a manifest");
        check_family(name, &manifest.families, distro)?;
        let answer: RuntimePlan = loader::call(candidate, methods::PLAN, &request)?;
        plugins.push(PluginRef::new(registry, candidate, "runtime"));
        for mut step in answer.steps {
            step.plugin = name.clone();
            check_step(&step, options)?;
            steps.push(step);
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
    if !repositories.is_empty() || !packages.is_empty() {
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
        let render: RenderResponse = loader::call(
            pm,
            methods::RENDER,
            &RenderRequest {
                distro: distro.clone(),
                options: options.clone(),
                repositories,
                packages,
            },
        )?;
        plugins.push(PluginRef::new(registry, pm, "package-manager"));
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
                )));
            };
            planned.push(PlannedStep {
                phase: step.phase,
                plugin: manifest.name.clone(),
                summary: step.summary,
                why: step.why,
                kind: StepTag::Actions,
                actions: actions.clone(),
            });
        }
    }

    let changers = restart_triggers(&merged);
    for m in &merged {
        let actions = match &m.step.kind {
            StepKind::Repository(_) | StepKind::Packages { .. } => continue,
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
            plugin: m.plugins.join(", "),
            summary: m.step.summary.clone(),
            why: m.step.why.clone(),
            kind: StepTag::of(&m.step.kind),
            actions,
        });
    }
    check_set_keys(registry, options, &plugins)?;
    // Stable: within a phase, the package manager's steps first, then the plugins' order.
    planned.sort_by_key(|s| s.phase);
    // One last look at every action, whoever made it: this is what will run.
    for step in &planned {
        let from = format!("plugin `{}` (step \"{}\")", step.plugin, step.summary);
        for action in &step.actions {
            check_action(action, &from, options)?;
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
            let kind = if plugin.kind == "runtime" {
                PluginKind::Runtime
            } else {
                PluginKind::PackageManager
            };
            let docs = match registry.find(kind, prefix) {
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

/// A step as merged from one or more plugins.
struct Merged {
    step: Step,
    plugins: Vec<String>,
}

/// What identifies "the same thing" across plugins.
fn identity(kind: &StepKind) -> Option<String> {
    Some(match kind {
        StepKind::File(f) => format!("file:{}", f.path),
        // A download installs a file: it and a file step for the same path are one target.
        StepKind::Download(d) => format!("file:{}", d.path),
        StepKind::Repository(r) => format!("repository:{}", r.id),
        StepKind::Service(s) => format!("service:{}", s.unit),
        StepKind::KernelModules { persist_file, .. } => format!("modules:{persist_file}"),
        StepKind::Sysctls { persist_file, .. } => format!("sysctls:{persist_file}"),
        StepKind::Packages { .. } => "packages".to_owned(),
        StepKind::Check(_) | StepKind::Actions { .. } => return None,
    })
}

fn conflict(what: String, first: &[String], second: &str) -> Error {
    Error::input(
        format!(
            "plugins `{}` and `{second}` conflict: {what}",
            first.join("`, `")
        ),
        "drop one of them (--with), or align their options (--set) so they agree",
    )
}

/// Merges duplicate steps and detects conflicts.
fn merge(steps: Vec<Step>) -> Result<Vec<Merged>, Error> {
    let mut out: Vec<Merged> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    // Package pins across plugins: name → (package, plugins).
    let mut pins: BTreeMap<String, (Package, Vec<String>)> = BTreeMap::new();
    // Sysctls across files: one kernel, so one value per key whichever file sets it.
    let mut sysctls: BTreeMap<String, (String, String)> = BTreeMap::new();
    for step in steps {
        if let StepKind::Sysctls { settings, .. } = &step.kind {
            for (key, value) in settings {
                match sysctls.get(key) {
                    Some((v, by)) if v != value => {
                        return Err(conflict(
                            format!("sysctl {key} set to {v} and to {value}"),
                            std::slice::from_ref(by),
                            &step.plugin,
                        ))
                    }
                    Some(_) => {}
                    None => {
                        sysctls.insert(key.clone(), (value.clone(), step.plugin.clone()));
                    }
                }
            }
        }
        if let StepKind::Packages { packages } = &step.kind {
            for p in packages {
                match pins.get_mut(&p.name) {
                    None => {
                        let mut p = p.clone();
                        p.requested_by = vec![step.plugin.clone()];
                        pins.insert(p.name.clone(), (p, vec![step.plugin.clone()]));
                    }
                    Some((existing, by)) => {
                        if existing.version != p.version {
                            return Err(conflict(
                                format!(
                                    "package `{}` pinned to {} and to {}",
                                    p.name,
                                    existing.version.as_deref().unwrap_or("any version"),
                                    p.version.as_deref().unwrap_or("any version")
                                ),
                                by,
                                &step.plugin,
                            ));
                        }
                        existing.hold |= p.hold;
                        for v in &p.vulnerabilities {
                            if !existing.vulnerabilities.iter().any(|e| e.id == v.id) {
                                existing.vulnerabilities.push(v.clone());
                            }
                        }
                        if !by.contains(&step.plugin) {
                            by.push(step.plugin.clone());
                            existing.requested_by.push(step.plugin.clone());
                        }
                    }
                }
            }
            continue;
        }
        let Some(id) = identity(&step.kind) else {
            if let Some(m) = out.iter_mut().find(|m| m.step.kind == step.kind) {
                if !m.plugins.contains(&step.plugin) {
                    m.plugins.push(step.plugin.clone());
                }
            } else {
                let plugin = step.plugin.clone();
                out.push(Merged {
                    step,
                    plugins: vec![plugin],
                });
            }
            continue;
        };
        match index.get(&id) {
            None => {
                index.insert(id, out.len());
                let plugin = step.plugin.clone();
                out.push(Merged {
                    step,
                    plugins: vec![plugin],
                });
            }
            Some(&i) => {
                let m = &mut out[i];
                let combined = combine(&m.step.kind, &step.kind)
                    .map_err(|what| conflict(what, &m.plugins, &step.plugin))?;
                m.step.kind = combined;
                if !m.plugins.contains(&step.plugin) {
                    m.plugins.push(step.plugin.clone());
                }
            }
        }
    }
    if !pins.is_empty() {
        let packages: Vec<Package> = pins.into_values().map(|(p, _)| p).collect();
        let mut plugins: Vec<String> = Vec::new();
        for name in packages.iter().flat_map(|p| &p.requested_by) {
            if !plugins.contains(name) {
                plugins.push(name.clone());
            }
        }
        let summary = format!(
            "install {}",
            packages
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        out.push(Merged {
            step: Step::new(
                Phase::Packages,
                summary,
                "",
                StepKind::Packages { packages },
            ),
            plugins,
        });
    }
    Ok(out)
}

/// Combines two steps with the same identity, or says why they conflict.
fn combine(a: &StepKind, b: &StepKind) -> Result<StepKind, String> {
    if a == b {
        return Ok(a.clone());
    }
    match (a, b) {
        (
            StepKind::KernelModules {
                modules: ma,
                persist_file,
            },
            StepKind::KernelModules { modules: mb, .. },
        ) => {
            let mut modules = ma.clone();
            modules.extend(mb.iter().filter(|m| !ma.contains(m)).cloned());
            Ok(StepKind::KernelModules {
                modules,
                persist_file: persist_file.clone(),
            })
        }
        (
            StepKind::Sysctls {
                settings: sa,
                persist_file,
            },
            StepKind::Sysctls { settings: sb, .. },
        ) => {
            let mut settings = sa.clone();
            for (k, v) in sb {
                match settings.get(k) {
                    Some(existing) if existing != v => {
                        return Err(format!(
                            "sysctl {k} set to {existing} and to {v} in {persist_file}"
                        ))
                    }
                    _ => {
                        settings.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(StepKind::Sysctls {
                settings,
                persist_file: persist_file.clone(),
            })
        }
        (StepKind::Service(x), StepKind::Service(y)) => Ok(StepKind::Service(ServiceStep {
            unit: x.unit.clone(),
            enable: x.enable || y.enable,
            start: x.start || y.start,
            restart_on_change: x.restart_on_change || y.restart_on_change,
            daemon_reload: x.daemon_reload || y.daemon_reload,
        })),
        (StepKind::File(x), StepKind::File(y)) => combine_files(x, y).map(StepKind::File),
        // One download asked for by two plugins: each restart it names.
        (StepKind::Download(x), StepKind::Download(y))
            if (&x.url, &x.sha256, &x.member, &x.path, x.mode)
                == (&y.url, &y.sha256, &y.member, &y.path, y.mode) =>
        {
            let mut merged = x.clone();
            merged.restarts.extend(
                y.restarts
                    .iter()
                    .filter(|r| !x.restarts.contains(r))
                    .cloned(),
            );
            Ok(StepKind::Download(merged))
        }
        (StepKind::Download(x), StepKind::Download(_)) => Err(format!(
            "{} downloaded from different places or with different digests",
            x.path
        )),
        (StepKind::Repository(x), StepKind::Repository(_)) => Err(format!(
            "repository `{}` defined differently (URL, suite or key)",
            x.id
        )),
        _ => Err("two different kinds of step for one target".to_owned()),
    }
}

fn combine_files(x: &FileStep, y: &FileStep) -> Result<FileStep, String> {
    if x.mode != y.mode || x.owner != y.owner || x.group != y.group {
        return Err(format!(
            "file {} wanted with different modes or owners",
            x.path
        ));
    }
    let skip_when = match (&x.skip_when, &y.skip_when) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "file {} guarded by two different conditions",
                x.path
            ))
        }
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    let content = match (&x.content, &y.content) {
        (FileContent::JsonMerge { value: a }, FileContent::JsonMerge { value: b }) => {
            let mut merged = a.clone();
            json_merge_strict(&mut merged, b, "")
                .map_err(|key| format!("file {}: key `{key}` set to different values", x.path))?;
            FileContent::JsonMerge { value: merged }
        }
        (
            FileContent::TomlEdit {
                initial: ia,
                edits: ea,
            },
            FileContent::TomlEdit {
                initial: ib,
                edits: eb,
            },
        ) => {
            if ia.is_some() && ib.is_some() && ia != ib {
                return Err(format!("file {}: different initial contents", x.path));
            }
            // Two edits clash when they set one key to different values, or when one sets a
            // key the other removes values from (the outcome would depend on the order).
            let clash = |a: &TomlEdit, b: &TomlEdit| match (a, b) {
                (
                    TomlEdit::Set { path: p, value: v }
                    | TomlEdit::SetDefault { path: p, value: v },
                    TomlEdit::Set { path: q, value: w }
                    | TomlEdit::SetDefault { path: q, value: w },
                ) => p == q && (v != w || std::mem::discriminant(a) != std::mem::discriminant(b)),
                (
                    TomlEdit::Set { path: p, .. } | TomlEdit::SetDefault { path: p, .. },
                    TomlEdit::RemoveFromArray { path: q, .. },
                )
                | (
                    TomlEdit::RemoveFromArray { path: q, .. },
                    TomlEdit::Set { path: p, .. } | TomlEdit::SetDefault { path: p, .. },
                ) => p == q,
                // Two plugins setting one key of the same runtimes to different values.
                (
                    TomlEdit::SetWhere {
                        tables: t,
                        path: p,
                        value: v,
                        ..
                    },
                    TomlEdit::SetWhere {
                        tables: u,
                        path: q,
                        value: w,
                        ..
                    },
                ) => t == u && p == q && v != w,
                _ => false,
            };
            for e in eb {
                if let Some(other) = ea.iter().find(|o| clash(o, e)) {
                    let key = match other {
                        TomlEdit::Set { path, .. }
                        | TomlEdit::SetDefault { path, .. }
                        | TomlEdit::RemoveFromArray { path, .. } => path.join("."),
                        TomlEdit::SetWhere { tables, path, .. } => {
                            format!("{}.*.{}", tables.join("."), path.join("."))
                        }
                    };
                    return Err(format!(
                        "file {}: `{key}` edited in conflicting ways",
                        x.path
                    ));
                }
            }
            let mut edits = ea.clone();
            edits.extend(eb.iter().filter(|e| !ea.contains(e)).cloned());
            FileContent::TomlEdit {
                initial: ia.clone().or_else(|| ib.clone()),
                edits,
            }
        }
        _ => return Err(format!("file {} wanted with different contents", x.path)),
    };
    let mut restarts = x.restarts.clone();
    restarts.extend(
        y.restarts
            .iter()
            .filter(|r| !x.restarts.contains(r))
            .cloned(),
    );
    Ok(FileStep {
        content,
        restarts,
        skip_when,
        ..x.clone()
    })
}

/// Merges `b` into `a`; objects recursively, equal leaves fine, differing leaves an error
/// naming the key.
fn json_merge_strict(
    a: &mut serde_json::Value,
    b: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    match (a, b) {
        (serde_json::Value::Object(ao), serde_json::Value::Object(bo)) => {
            for (k, bv) in bo {
                let key = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match ao.get_mut(k) {
                    Some(av) => json_merge_strict(av, bv, &key)?,
                    None => {
                        ao.insert(k.clone(), bv.clone());
                    }
                }
            }
            Ok(())
        }
        (a, b) if a == b => Ok(()),
        _ => Err(at.to_owned()),
    }
}

/// For each unit: the files and packages whose change restarts it.
fn restart_triggers(merged: &[Merged]) -> BTreeMap<String, Vec<String>> {
    let mut triggers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let services: Vec<(&str, &[String])> = merged
        .iter()
        .filter_map(|m| match &m.step.kind {
            StepKind::Service(s) if s.restart_on_change => {
                Some((s.unit.as_str(), m.plugins.as_slice()))
            }
            _ => None,
        })
        .collect();
    for m in merged {
        match &m.step.kind {
            StepKind::File(f) => {
                for unit in &f.restarts {
                    triggers
                        .entry(unit.clone())
                        .or_default()
                        .push(f.path.clone());
                }
            }
            StepKind::Download(d) => {
                for unit in &d.restarts {
                    triggers
                        .entry(unit.clone())
                        .or_default()
                        .push(d.path.clone());
                }
            }
            StepKind::Packages { packages } => {
                for (unit, plugins) in &services {
                    for p in packages
                        .iter()
                        .filter(|p| p.requested_by.iter().any(|r| plugins.contains(r)))
                    {
                        triggers
                            .entry((*unit).to_owned())
                            .or_default()
                            .push(format!("package:{}", p.name));
                    }
                }
            }
            _ => {}
        }
    }
    triggers
}

fn module_actions(modules: &[String], persist_file: &str) -> Vec<Action> {
    let mut actions = vec![Action::WriteFile {
        path: persist_file.to_owned(),
        mode: 0o644,
        content: modules.iter().map(|m| format!("{m}\n")).collect(),
        owner: None,
        group: None,
    }];
    actions.extend(modules.iter().map(|m| Action::Run {
        argv: vec!["modprobe".into(), m.clone()],
        env: BTreeMap::new(),
        unless: Some(Probe {
            argv: vec![
                "grep".into(),
                "-q".into(),
                format!("^{m} "),
                "/proc/modules".into(),
            ],
            expect: Expect::Success,
        }),
        transaction: false,
        resolve: Vec::new(),
        audit: None,
    }));
    actions
}

fn sysctl_actions(settings: &BTreeMap<String, String>, persist_file: &str) -> Vec<Action> {
    let mut actions = vec![Action::WriteFile {
        path: persist_file.to_owned(),
        mode: 0o644,
        content: settings
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect(),
        owner: None,
        group: None,
    }];
    actions.extend(settings.iter().map(|(k, v)| Action::Run {
        argv: vec!["sysctl".into(), "-w".into(), format!("{k}={v}")],
        env: BTreeMap::new(),
        unless: Some(Probe {
            argv: vec!["sysctl".into(), "-n".into(), k.clone()],
            expect: Expect::StdoutEquals(v.clone()),
        }),
        transaction: false,
        resolve: Vec::new(),
        audit: None,
    }));
    actions
}

fn file_action(file: &FileStep) -> Action {
    match &file.content {
        FileContent::Full { text } => Action::WriteFile {
            path: file.path.clone(),
            mode: file.mode,
            content: text.clone(),
            owner: file.owner.clone(),
            group: file.group.clone(),
        },
        merge => Action::MergeFile {
            path: file.path.clone(),
            mode: file.mode,
            merge: merge.clone(),
            owner: file.owner.clone(),
            group: file.group.clone(),
        },
    }
}

fn service_action(service: &ServiceStep, triggers: Option<&Vec<String>>) -> Action {
    Action::Service {
        unit: service.unit.clone(),
        daemon_reload: service.daemon_reload,
        enable: service.enable,
        start: service.start,
        restart_when_changed: if service.restart_on_change {
            triggers.cloned().unwrap_or_default()
        } else {
            Vec::new()
        },
    }
}

/// Shape checks on what a runtime plugin returned: plugins are trusted to be correct, not to
/// be safe, so values that reach a file system or a command line are checked here too.
fn check_step(step: &Step, options: &Options) -> Result<(), Error> {
    let from = format!(
        "plugin `{}` ({} step \"{}\")",
        step.plugin,
        step.kind.type_name(),
        step.summary
    );
    match &step.kind {
        StepKind::KernelModules {
            modules,
            persist_file,
        } => {
            check_target_path(persist_file, &from)?;
            modules
                .iter()
                .try_for_each(|m| crate::options::check_token(m, &from, "a kernel module name"))
        }
        StepKind::Sysctls {
            settings,
            persist_file,
        } => {
            check_target_path(persist_file, &from)?;
            settings.iter().try_for_each(|(k, v)| {
                crate::options::check_token(k, &from, "a sysctl key")?;
                check_value(v, &from)
            })
        }
        StepKind::Repository(r) => {
            crate::options::check_token(&r.id, &from, "a repository id")?;
            // yum and zypper expand these variables in a baseurl themselves; they are the
            // only `$` a repository URL may carry.
            let url = ["$releasever", "$basearch", "$arch"]
                .iter()
                .fold(r.url.clone(), |u, var| u.replace(var, "VAR"));
            if r.vendor {
                check_url(
                    &url,
                    &format!("{from}, repository `{}`", r.id),
                    options.allow_insecure_repo,
                )?;
            } else {
                check_value(&url, &from)?;
            }
            if let Some(key) = &r.key {
                check_url(
                    &key.url,
                    &format!("{from}, key of repository `{}`", r.id),
                    options.allow_insecure_repo,
                )?;
            } else if !options.allow_insecure_repo {
                return Err(Error::input(
                    format!("{from}: repository `{}` ({}) has no signing key", r.id, r.url),
                    "packages from it could not be verified; give it a key, or accept that by name with --allow-insecure-repo",
                ));
            }
            Ok(())
        }
        StepKind::Packages { packages } => packages.iter().try_for_each(|p| {
            crate::options::check_token(&p.name, &from, "a package name")?;
            p.version.as_deref().map_or(Ok(()), |v| {
                crate::options::check_token(v, &from, "a package version")
            })
        }),
        StepKind::File(f) => {
            check_target_path(&f.path, &from)?;
            if let Some(owner) = f.owner.as_deref().or(f.group.as_deref()) {
                crate::options::check_token(owner, &from, "a user or group name")?;
            }
            if let FileContent::TomlEdit { edits, .. } = &f.content {
                for edit in edits {
                    if let TomlEdit::SetWhere {
                        when_key,
                        path,
                        aliases,
                        ..
                    } = edit
                    {
                        // The rendered script splits these on dots and spaces.
                        let plain = |k: &String| {
                            !k.is_empty()
                                && k.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        };
                        if let Some(bad) = std::iter::once(when_key)
                            .chain(path)
                            .chain(aliases)
                            .find(|k| !plain(k))
                        {
                            return Err(Error::plugin_bug(format!(
                                "{from}: the set_where key {bad:?} is not a plain TOML name"
                            )));
                        }
                        if path.is_empty() {
                            return Err(Error::plugin_bug(format!(
                                "{from}: a set_where with no key to set"
                            )));
                        }
                    }
                }
            }
            Ok(())
        }
        StepKind::Download(d) => {
            check_download(
                &d.url,
                &d.sha256,
                d.member.as_deref(),
                (&d.path, d.mode),
                &from,
                options,
            )?;
            d.restarts
                .iter()
                .try_for_each(|u| crate::options::check_token(u, &from, "a systemd unit name"))
        }
        StepKind::Service(s) => crate::options::check_token(&s.unit, &from, "a systemd unit name"),
        StepKind::Check(Check { probe, .. }) => check_probe(probe, &from),
        StepKind::Actions { actions } => actions
            .iter()
            .try_for_each(|a| check_action(a, &from, options)),
    }
}

/// A download: its URL as a key's, its digest and member by shape, its path as a file's.
fn check_download(
    url: &str,
    sha256: &str,
    member: Option<&str>,
    (path, mode): (&str, u32),
    from: &str,
    options: &Options,
) -> Result<(), Error> {
    check_url(url, from, options.allow_insecure_repo)?;
    let bug = |e: plugin_api::PluginError| Error::plugin_bug(e.to_string());
    // The host writes no setuid, setgid or sticky bit (`Target::write_atomic`); a mode that
    // asks for one would never match what is written, and each run would install again.
    if mode > 0o777 {
        return Err(Error::plugin_bug(format!(
            "{from}: a download of mode {mode:04o}, with a setuid, setgid or sticky bit"
        )));
    }
    plugin_api::validate::sha256(sha256, from).map_err(bug)?;
    if let Some(member) = member {
        plugin_api::validate::archive_member(member, from).map_err(bug)?;
    }
    check_target_path(path, from).map(drop)
}

fn check_probe(probe: &Probe, from: &str) -> Result<(), Error> {
    if probe.argv.is_empty() {
        return Err(Error::plugin_bug(format!(
            "{from}: a probe with an empty command"
        )));
    }
    probe.argv.iter().try_for_each(|a| check_arg(a, from))
}

/// Command arguments are passed without a shell, so only control characters are refused.
fn check_arg(arg: &str, from: &str) -> Result<(), Error> {
    if arg.chars().any(|c| c.is_control()) {
        return Err(Error::plugin_bug(format!(
            "{from}: the argument {arg:?} contains a control character"
        )));
    }
    Ok(())
}

fn check_action(action: &Action, from: &str, options: &Options) -> Result<(), Error> {
    match action {
        Action::WriteFile { path, .. }
        | Action::MergeFile { path, .. }
        | Action::RemoveFile { path } => check_target_path(path, from).map(drop),
        Action::FetchKey { url, dest, .. } => {
            check_url(url, from, options.allow_insecure_repo)?;
            check_target_path(dest, from).map(drop)
        }
        Action::Download {
            url,
            sha256,
            member,
            path,
            mode,
        } => check_download(url, sha256, member.as_deref(), (path, *mode), from, options),
        Action::Run {
            argv,
            env,
            unless,
            resolve,
            ..
        } => {
            if argv.is_empty() {
                return Err(Error::plugin_bug(format!("{from}: a command with no argv")));
            }
            argv.iter()
                .chain(env.values())
                .try_for_each(|a| check_arg(a, from))?;
            // An environment name that is not a name would be an option to `env` in a script.
            for key in env.keys() {
                let ok = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(Error::plugin_bug(format!(
                        "{from}: {key:?} is not an environment variable name"
                    )));
                }
            }
            for r in resolve {
                if r.query.is_empty() || r.placeholder.is_empty() {
                    return Err(Error::plugin_bug(format!(
                        "{from}: the version resolution of {} has an empty query or placeholder",
                        r.package
                    )));
                }
                r.query.iter().try_for_each(|a| check_arg(a, from))?;
            }
            unless.as_ref().map_or(Ok(()), |p| check_probe(p, from))
        }
        Action::Service { unit, .. } => {
            crate::options::check_token(unit, from, "a systemd unit name")
        }
        Action::Check(c) => check_probe(&c.probe, from),
        Action::SkipIf(guard) => check_probe(&guard.probe, from),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod gate_tests;
