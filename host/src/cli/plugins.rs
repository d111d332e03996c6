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
    let registry = crate::loader::Registry::discover(&dirs, &ctx.trust()?);
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
