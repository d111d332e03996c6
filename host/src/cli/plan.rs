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
) -> Result<(Distro, String, Option<String>), Error> {
    let packs = PackSet::load(&ctx.distro_dirs())?;
    match id {
        Some(id) => {
            let pack = packs.get(id)?;
            Ok((
                pack.to_distro(&detect::host_arch()),
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
                matched.pack.to_distro(&facts.arch),
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
    let (distro, how, end_of_life) = resolve_distro(ctx, target, resolved.distro.as_deref())?;
    tracing::info!("{how}");
    let registry = ctx.registry()?;
    for bad in registry.misbehaving() {
        tracing::warn!(
            "plugin file {} was not loaded: {}",
            bad.path.display(),
            bad.reason.as_deref().unwrap_or("")
        );
    }
    let mut plan = compose::compose(
        &registry,
        &distro,
        &resolved.options,
        &resolved.with,
        &selection.remove_packages,
    )?;
    plan.overrides = resolved.overrides.clone();
    if resolved.configure_kubelet {
        let step = compose::kubelet::align(&plan, resolved.options.kubernetes_version.as_deref());
        plan.steps.push(step);
        // Stable: the kubelet after the runtime's own service step.
        plan.steps.sort_by_key(|s| s.phase);
        plan.configures_kubelet = true;
    }
    let managed = crate::exec::managed_elsewhere(&plan, target);
    plan.warnings.extend(managed);
    if let Some(day) = end_of_life {
        plan.warnings.push(format!(
            "{} reached its vendor's end of life on {day}: it gets no security updates, and its \
             packages may have moved to an archive; plan the move to a supported release",
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

/// `installer render --format sh|json`.
pub fn render(
    ctx: &Context,
    selection: &Selection,
    format: super::args::RenderFormat,
) -> Result<ExitCode, Error> {
    let plan = build(ctx, &ctx.target()?, selection)?;
    match format {
        super::args::RenderFormat::Sh => print!("{}", render::sh(&plan)),
        super::args::RenderFormat::Json => print_json(&plan),
        super::args::RenderFormat::CloudInit => print!("{}", render::cloud_init(&plan)),
    }
    Ok(ExitCode::SUCCESS)
}
