//! `installer distros list|show`: the known distro packs and where each came from.

use std::process::ExitCode;

use super::json::{print_json, DistroRow as Row, DistroShown as Shown};
use super::Context;
use crate::packs::{LoadedPack, PackSet, PackSource};
use crate::Error;

/// Runs `installer distros list`.
pub fn list(ctx: &Context) -> Result<ExitCode, Error> {
    let packs = PackSet::load(&ctx.distro_dirs())?;
    if ctx.json() {
        let rows: Vec<Row> = packs
            .packs()
            .iter()
            .map(|l| Row {
                id: &l.pack.id,
                name: &l.pack.name,
                family: l.pack.family.clone(),
                package_manager: l.pack.package_manager.clone(),
                source: l.source.to_string(),
                overrides: l.overrides,
                replaces: l.replaces.as_ref().map(ToString::to_string),
            })
            .collect();
        print_json(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    let width = packs
        .packs()
        .iter()
        .map(|l| l.pack.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    println!("{:width$}  {:6}  {:7}  SOURCE", "ID", "FAMILY", "PKG-MGR");
    for l in packs.packs() {
        let overrides = match &l.replaces {
            Some(PackSource::BuiltIn(_)) => " (overrides built-in)".to_owned(),
            Some(other) => format!(" (overrides {other})"),
            None => String::new(),
        };
        println!(
            "{:width$}  {:6}  {:7}  {}{overrides}",
            l.pack.id,
            l.pack.family.to_string(),
            l.pack.package_manager.to_string(),
            l.source
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `installer distros show ID`: the pack file as written (text) or as parsed (json).
pub fn show(ctx: &Context, id: &str) -> Result<ExitCode, Error> {
    let packs = PackSet::load(&ctx.distro_dirs())?;
    let loaded: &LoadedPack = packs.entry(id)?;
    if ctx.json() {
        print_json(&Shown {
            pack: &loaded.pack,
            source: loaded.source.to_string(),
            overrides: loaded.overrides,
            replaces: loaded.replaces.as_ref().map(ToString::to_string),
        });
        return Ok(ExitCode::SUCCESS);
    }
    let origin = match &loaded.source {
        PackSource::BuiltIn(file) => format!("built-in (distros/{file})"),
        PackSource::File(path) => match &loaded.replaces {
            Some(PackSource::BuiltIn(_)) => {
                format!("{} (overrides the built-in pack)", path.display())
            }
            Some(other) => format!("{} (overrides {other})", path.display()),
            None => path.display().to_string(),
        },
    };
    println!("# {id}: {origin}");
    print!("{}", loaded.text);
    if !loaded.text.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}
