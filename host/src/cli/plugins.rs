//! `installer plugins list`: every candidate file on the plugin path and its fate.

use std::process::ExitCode;

use super::json::print_json;
use super::Context;
use crate::loader::{CandidateRow, Status};
use crate::Error;

/// Lists every candidate. Exits 3 when a candidate was rejected, so that a script notices a
/// broken plugin directory; the loaded plugins are listed all the same.
pub fn list(ctx: &Context) -> Result<ExitCode, Error> {
    let dirs = ctx.plugin_dirs();
    let registry = crate::loader::Registry::discover(&dirs, &ctx.trust()?, ctx.manifest_cache());
    if ctx.json() {
        let rows: Vec<CandidateRow> = registry.candidates.iter().map(CandidateRow::from).collect();
        print_json(&rows);
    } else {
        println!(
            "plugin path: {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        );
        if registry.candidates.is_empty() {
            println!("no plugin files found");
        }
        // The name column as wide as the longest name (nvidia-container-toolkit).
        let width = registry
            .candidates
            .iter()
            .map(|c| c.display_name().chars().count())
            .max()
            .unwrap_or(0)
            .max(12);
        for c in &registry.candidates {
            match (&c.manifest, c.status) {
                (Some(m), Status::Loaded) => println!(
                    "loaded    {:<width$} {:<16} {:<8} protocol {:<7} {}",
                    m.name,
                    m.kind.to_string(),
                    m.version,
                    m.protocol,
                    c.path.display()
                ),
                (_, status) => println!(
                    "{:<9} {:<width$} {}: {}",
                    if status == Status::Shadowed {
                        "shadowed"
                    } else {
                        "rejected"
                    },
                    c.display_name(),
                    c.path.display(),
                    c.reason.as_deref().unwrap_or("")
                ),
            }
        }
    }
    let rejected = registry
        .candidates
        .iter()
        .filter(|c| c.status == Status::Rejected)
        .count();
    if rejected > 0 {
        tracing::warn!("{rejected} plugin file(s) rejected; see the reasons above");
        return Ok(crate::error::Exit::Plugin.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `installer plugins show NAME`.
pub fn show(ctx: &Context, name: &str) -> Result<ExitCode, Error> {
    let registry = ctx.registry()?;
    let candidate = registry
        .loaded()
        .find(|c| c.manifest.as_ref().is_some_and(|m| m.name == name))
        .ok_or_else(|| {
            let mut names: Vec<String> = registry
                .loaded()
                .filter_map(|c| c.manifest.as_ref().map(|m| m.name.clone()))
                .collect();
            names.sort();
            Error::input(
                format!("no loaded plugin is named `{name}`"),
                format!(
                    "loaded plugins: {} (`installer plugins list` shows every file and why one was not loaded)",
                    names.join(", ")
                ),
            )
        })?;
    let manifest = candidate
        .manifest
        .as_ref()
        .expect("loaded plugins have a manifest");
    let options: Vec<plugin_api::OptionDoc> =
        crate::loader::call_optional(candidate, plugin_api::methods::OPTIONS, &())?
            .unwrap_or_default();
    if ctx.json() {
        print_json(&super::json::PluginShown {
            manifest,
            path: &candidate.path,
            options,
        });
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{} {} ({} plugin, protocol {})\n",
        manifest.name, manifest.version, manifest.kind, manifest.protocol
    );
    if let Some(d) = &manifest.description {
        out.push_str(&format!("{d}\n"));
    }
    out.push_str(&format!("file: {}\n", candidate.path.display()));
    if !manifest.families.is_empty() {
        out.push_str(&format!("families: {}\n", manifest.families.join(", ")));
    }
    if !manifest.package_managers.is_empty() {
        out.push_str(&format!(
            "package managers: {}\n",
            manifest.package_managers.join(", ")
        ));
    }
    if !manifest.capabilities.is_empty() {
        out.push_str(&format!(
            "capabilities: {}\n",
            manifest.capabilities.join(", ")
        ));
    }
    if options.is_empty() {
        out.push_str("options: none documented\n");
    } else {
        out.push_str("options (--set KEY=VALUE):\n");
        for o in &options {
            out.push_str(&format!("  {}\n      {}\n", o.key, o.help));
            if let Some(default) = &o.default {
                out.push_str(&format!("      default: {default}\n"));
            }
        }
    }
    super::print_text(&out);
    Ok(ExitCode::SUCCESS)
}
