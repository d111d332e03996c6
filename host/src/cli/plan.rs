//! `installer plan` and `installer render`: compose the plan and print it.

use std::process::ExitCode;

use plugin_api::Distro;

use super::json::print_json;
use super::{Context, Selection};
use crate::compose::{self, Plan};
use crate::detect;
use crate::packs::PackSet;
use crate::target::Target;
use crate::{options, render, Error};

/// The distro the selection names, or the one detected under `--root`; and a line saying
/// how it was chosen.
pub fn resolve_distro(
    ctx: &Context,
    target: &Target,
    id: Option<&str>,
    arch: Option<&str>,
) -> Result<(Distro, String, Option<String>), Error> {
    let packs = PackSet::load(&ctx.distro_dirs())?;
    match id {
        Some(id) => {
            let pack = packs.get(id)?;
            Ok((
                pack.to_distro(arch.unwrap_or(&detect::target_arch(target))),
                format!("distro pack {id}, as --distro says"),
                pack.end_of_life.clone(),
            ))
        }
        None => {
            let (source, facts) = detect::read(target)?;
            let matched = packs.match_facts(&facts)?;
            let how = format!(
                "distro pack {} detected from {}: {}",
                matched.pack.id,
                source.display(),
                matched.note
            );
            Ok((
                matched.pack.to_distro(arch.unwrap_or(&facts.arch)),
                how,
                matched.pack.end_of_life.clone(),
            ))
        }
    }
}

/// Resolves the selection, loads the plugins and composes the plan.
pub fn build(ctx: &Context, target: &Target, selection: &Selection) -> Result<Plan, Error> {
    build_with_options(ctx, target, selection).map(|(plan, _)| plan)
}

/// [`build`], also returning the resolved selection.
pub fn build_with_options(
    ctx: &Context,
    target: &Target,
    selection: &Selection,
) -> Result<(Plan, options::Resolved), Error> {
    let resolved = options::resolve(selection, target)?;
    let (distro, how, end_of_life) = resolve_distro(
        ctx,
        target,
        resolved.distro.as_deref(),
        resolved.arch.as_deref(),
    )?;
    tracing::info!("{how}");
    let registry = ctx.registry()?;
    for bad in registry.misbehaving() {
        tracing::warn!(
            "plugin file {} was not loaded: {}",
            bad.path.display(),
            bad.reason.as_deref().unwrap_or("")
        );
    }
    let composed = compose::compose(
        &registry,
        &distro,
        &resolved.options,
        &resolved.with,
        &selection.remove_packages,
    );
    let mut plan = match composed {
        Err(Error::Plugin(mut failure)) if needs_a_variable(&failure) => {
            // A pack without the variable a vendor repository needs may still plan with the
            // distro's own packages: say so when it does.
            let distro_source = plugin_api::Options {
                source: plugin_api::Source::Distro,
                ..resolved.options.clone()
            };
            let upstream = resolved.options.source == plugin_api::Source::Upstream
                && resolved.options.mirror.is_none();
            if upstream
                && compose::compose(
                    &registry,
                    &distro,
                    &distro_source,
                    &resolved.with,
                    &selection.remove_packages,
                )
                .is_ok()
            {
                if let crate::loader::FailureKind::Refused(e) = &mut failure.kind {
                    let also = "or pass --source distro: the distro's own packages plan here";
                    e.hint = Some(match e.hint.take() {
                        Some(hint) => format!("{hint}; {also}"),
                        None => also.to_owned(),
                    });
                }
            }
            return Err(Error::Plugin(failure));
        }
        other => other?,
    };
    plan.overrides = resolved.overrides.clone();
    if resolved.configure_kubelet {
        let step = compose::kubelet::align(&plan, resolved.options.kubernetes_version.as_deref());
        plan.steps.push(step);
        // Stable: the kubelet after the runtime's own service step.
        plan.steps.sort_by_key(|s| s.phase);
        plan.configures_kubelet = true;
    }
    crate::exec::describe_image_commands(&mut plan, target);
    let managed = crate::exec::managed_elsewhere(&plan, target);
    plan.warnings.extend(managed);
    plan.warnings.extend(crate::exec::exposed_root(target));
    // The pack's day is the last one supported (UTC): the warning starts the day after, on
    // its own; a day still to come is not said.
    if let Some(day) = end_of_life.filter(|day| *day < crate::day::today()) {
        plan.warnings.push(format!(
            "{} reached its vendor's end of life on {day}: its regular archive gets no more \
             security updates (paid extended support aside), and its packages may have moved to \
             an archive; plan the move to a supported release",
            distro.name
        ));
    }
    Ok((plan, resolved))
}

/// `installer plan`.
pub fn run(ctx: &Context, selection: &Selection) -> Result<ExitCode, Error> {
    let target = ctx.target()?;
    let plan = build(ctx, &target, selection)?;
    if ctx.json() {
        print_json(&plan);
    } else {
        super::print_text(&render::text(
            &plan,
            &crate::exec::preflight(&plan, &target),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `installer render --format sh|json|cloud-init|ansible`.
pub fn render(
    ctx: &Context,
    selection: &Selection,
    format: super::args::RenderFormat,
) -> Result<ExitCode, Error> {
    use super::args::RenderFormat;
    let target = ctx.target()?;
    match format {
        // The plan as data is this machine's plan, as `plan --output json` shows it.
        RenderFormat::Json => print_json(&build(ctx, &target, selection)?),
        RenderFormat::Sh => print!(
            "{}",
            render::sh_for_node(&variants(ctx, &target, selection)?)
        ),
        RenderFormat::Ansible => print!("{}", render::ansible(&variants(ctx, &target, selection)?)),
        RenderFormat::CloudInit => {
            let variants = variants(ctx, &target, selection)?;
            let script = render::sh_for_node(&variants);
            let plan = variants
                .iter()
                .find_map(|v| v.plan.as_ref().ok())
                .expect("variants() returns an error when no plan composes");
            print!("{}", render::cloud_init(plan, &script));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Architectures a rendered script carries a plan for when `--arch` does not fix one: the
/// two Kubernetes node architectures that matter in practice. Others take `--arch`.
const NODE_ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// The plan once per value of each node fact the user left `auto` (architecture, cgroup
/// driver), for a script that decides on the node. A plugin refusing one kind of node (no
/// packages for that architecture, say) makes that variant a refusal in the script; when
/// every variant fails, the first error is the command's.
pub fn variants(
    ctx: &Context,
    target: &Target,
    selection: &Selection,
) -> Result<Vec<render::Variant>, Error> {
    let resolved = options::resolve(selection, target)?;
    let arches: Vec<Option<&str>> = match resolved.arch {
        Some(_) => vec![None],
        None => NODE_ARCHES.iter().map(|a| Some(*a)).collect(),
    };
    let drivers: Vec<Option<plugin_api::CgroupDriver>> = if resolved.cgroup_driver_fixed {
        vec![None]
    } else {
        vec![
            Some(plugin_api::CgroupDriver::Systemd),
            Some(plugin_api::CgroupDriver::Cgroupfs),
        ]
    };
    let mut out = Vec::new();
    let mut first_error = None;
    for arch in &arches {
        for driver in &drivers {
            let mut s = selection.clone();
            if let Some(a) = arch {
                s.arch = Some((*a).to_owned());
            }
            if let Some(d) = driver {
                s.cgroup_driver = Some(d.as_str().to_owned());
                s.for_node = true;
            }
            let plan = match build(ctx, target, &s) {
                Ok(plan) => Ok(plan),
                // The user's own mistakes are the same for every node: stop at once.
                Err(e @ (Error::Input { .. } | Error::Pack(_) | Error::Detect(_))) => {
                    return Err(e)
                }
                Err(e) => {
                    let why = e.to_string();
                    first_error.get_or_insert(e);
                    Err(why)
                }
            };
            out.push(render::Variant {
                arch: arch.map(str::to_owned),
                driver: *driver,
                plan,
            });
        }
    }
    match first_error {
        Some(e) if out.iter().all(|v| v.plan.is_err()) => Err(e),
        _ => Ok(out),
    }
}

/// Whether a plugin refused because the pack lacks a variable it needs.
fn needs_a_variable(failure: &crate::loader::PluginFailure) -> bool {
    matches!(
        &failure.kind,
        crate::loader::FailureKind::Refused(e) if e.kind == plugin_api::ErrorKind::MissingVariable
    )
}
