//! `installer distros list|show`: the known distro packs and where each came from.

use std::process::ExitCode;

use super::json::{print_json, DistroChecked, DistroRow as Row, DistroShown as Shown};
use super::Context;
use crate::packs::{DistroPack, LoadedPack, PackSet, PackSource};
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

/// Runs `installer distros check FILE`.
pub fn check(ctx: &Context, file: &std::path::Path) -> Result<ExitCode, Error> {
    let text = std::fs::read_to_string(file).map_err(|source| {
        Error::Pack(crate::packs::PackError::ReadFile {
            path: file.to_owned(),
            source,
        })
    })?;
    let file_name = file.file_name().unwrap_or_default().to_string_lossy();
    let pack = crate::packs::parse_pack(&text, &file.display().to_string(), &file_name)?;
    let packs = PackSet::load(&ctx.distro_dirs())?;
    let overrides = packs
        .entry(&pack.id)
        .ok()
        .filter(|l| !matches!(&l.source, PackSource::File(p) if same_file(p, file)))
        .map(|l| l.source.to_string());
    let registry = ctx.registry()?;
    let pm_plugin = registry
        .package_manager_for(pack.package_manager.as_str())
        .map(|c| c.path.clone());
    let runtimes: Vec<String> = registry
        .loaded()
        .filter_map(|c| c.manifest.as_ref())
        .filter(|m| {
            m.kind == plugin_api::PluginKind::Runtime
                && (m.families.is_empty() || m.families.iter().any(|f| f == pack.family.as_str()))
        })
        .map(|m| m.name.clone())
        .collect();
    let doc = DistroChecked {
        file: file.to_owned(),
        id: &pack.id,
        family: &pack.family,
        package_manager: &pack.package_manager,
        matches: match_rules_in_words(&pack),
        overrides,
        package_manager_plugin: pm_plugin,
        runtimes,
    };
    if ctx.json() {
        print_json(&doc);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{}: a valid distro pack `{}` ({}), family {}, package manager {}\n",
        file.display(),
        pack.id,
        pack.name,
        pack.family,
        pack.package_manager
    );
    out.push_str("detection chooses it for:\n");
    for rule in &doc.matches {
        out.push_str(&format!("  {rule}\n"));
    }
    match &doc.overrides {
        Some(source) if source == "built-in" => {
            out.push_str("installed, it overrides the built-in pack of that id\n")
        }
        Some(source) => out.push_str(&format!("installed, it overrides the pack from {source}\n")),
        None => out.push_str("installed, it adds a new pack\n"),
    }
    match &doc.package_manager_plugin {
        Some(path) => out.push_str(&format!(
            "package manager {}: driven by {}\n",
            pack.package_manager,
            path.display()
        )),
        None => out.push_str(&format!(
            "package manager {}: no loaded plugin drives it (loaded: {}); plans need one on the plugin path\n",
            pack.package_manager,
            registry.names(plugin_api::PluginKind::PackageManager).join(", ")
        )),
    }
    if doc.runtimes.is_empty() {
        out.push_str(&format!(
            "runtimes: no loaded runtime plugin declares the {} family\n",
            pack.family
        ));
    } else {
        out.push_str(&format!(
            "runtimes for its family: {}\n",
            doc.runtimes.join(", ")
        ));
    }
    super::print_text(&out);
    Ok(ExitCode::SUCCESS)
}

/// Whether two paths name one file.
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The pack's `[match]` rules in words, one line each.
fn match_rules_in_words(pack: &DistroPack) -> Vec<String> {
    let rules = &pack.rules;
    let ids = pack.ids().join(" or ");
    let mut out = Vec::new();
    if rules.manual {
        out.push("nothing: `manual`, chosen only by --distro".to_owned());
        return out;
    }
    if !rules.version_ids.is_empty() {
        out.push(format!(
            "ID={ids} with VERSION_ID {}",
            rules.version_ids.join(" or ")
        ));
    }
    if let Some(prefix) = &rules.version_prefix {
        out.push(format!(
            "ID={ids} with VERSION_ID {prefix} or {prefix}.<anything>"
        ));
    }
    if rules.without_version_id {
        out.push(format!("ID={ids} without VERSION_ID"));
    }
    if rules.rolling {
        out.push(format!("ID={ids}, any VERSION_ID (rolling)"));
    }
    if rules.id_like {
        out.push(format!(
            "a derivative whose ID_LIKE names {ids}, by the same version rules"
        ));
    }
    if let (true, Some(c)) = (rules.ubuntu_codename, &pack.codename) {
        out.push(format!("a derivative with UBUNTU_CODENAME={c}"));
    }
    if let (true, Some(c)) = (rules.debian_codename, &pack.codename) {
        out.push(format!("a derivative with DEBIAN_CODENAME={c}"));
    }
    if out.is_empty() {
        out.push("nothing: no rule lets detection choose it (use --distro)".to_owned());
    }
    out
}
