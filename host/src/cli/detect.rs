//! `installer detect`: the os-release facts under `--root` and the distro pack they match.

use std::process::ExitCode;

use std::fmt::Write as _;

use super::json::{print_json, DetectReport as Report};
use super::Context;
use crate::detect::{self, Facts};
use crate::packs::{MatchedBy, PackSet};
use crate::Error;

/// Runs `installer detect`. An unknown distro exits 2; with `--output json` the document is
/// still printed (with `"pack": null` and the `error`) so scripts get the facts.
pub fn run(ctx: &Context) -> Result<ExitCode, Error> {
    let (source, facts) = detect::read(&ctx.target()?)?;
    let packs = PackSet::load(&ctx.distro_dirs())?;
    let matched = packs.match_facts(&facts);

    if ctx.json() {
        let (report, failure) = match matched {
            Ok(m) => (
                Report {
                    source,
                    facts: &facts,
                    pack: Some(&m.pack.id),
                    matched_by: Some(m.matched_by),
                    note: Some(m.note.clone()),
                    error: None,
                },
                None,
            ),
            Err(e) => {
                let error = Error::from(e);
                let report = Report {
                    source,
                    facts: &facts,
                    pack: None,
                    matched_by: None,
                    note: Some("no distro pack matches these facts".to_owned()),
                    error: Some(error.report()),
                };
                (report, Some(error))
            }
        };
        print_json(&report);
        return Ok(match failure {
            Some(error) => {
                super::print_error(&error);
                error.exit().into()
            }
            None => ExitCode::SUCCESS,
        });
    }
    if let Ok(m) = &matched {
        let mut out = facts_text(&source, &facts);
        let origin = packs
            .entry(&m.pack.id)
            .ok()
            .map(|l| l.source.to_string())
            .unwrap_or_default();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "pack:        {} ({}; {origin})",
            m.pack.id, m.pack.name
        );
        let _ = writeln!(
            out,
            "             family {}, package manager {}",
            m.pack.family, m.pack.package_manager
        );
        let why = match m.matched_by {
            MatchedBy::Exact => "exact (ID and VERSION_ID)",
            MatchedBy::VersionPrefix => "exact ID, VERSION_ID under the pack's version prefix",
            MatchedBy::WithoutVersionId => "exact ID, no VERSION_ID",
            MatchedBy::Rolling => "exact ID, rolling release",
            MatchedBy::UbuntuCodename => "derivative, via UBUNTU_CODENAME",
            MatchedBy::DebianCodename => "derivative, via DEBIAN_CODENAME",
            MatchedBy::IdLike => "derivative, via ID_LIKE",
        };
        let _ = writeln!(out, "matched by:  {} ({why})", m.matched_by);
        let _ = writeln!(out, "note:        {}", m.note);
        super::print_text(&out);
    }
    matched?;
    Ok(ExitCode::SUCCESS)
}

fn facts_text(source: &std::path::Path, facts: &Facts) -> String {
    let mut out = String::new();
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let _ = writeln!(out, "source:           {}", source.display());
    let _ = writeln!(out, "ID:               {}", facts.id);
    let _ = writeln!(
        out,
        "ID_LIKE:          {}",
        if facts.id_like.is_empty() {
            "-".to_owned()
        } else {
            facts.id_like.join(" ")
        }
    );
    let _ = writeln!(out, "VERSION_ID:       {}", show(&facts.version_id));
    let _ = writeln!(out, "VERSION_CODENAME: {}", show(&facts.version_codename));
    if facts.ubuntu_codename.is_some() {
        let _ = writeln!(out, "UBUNTU_CODENAME:  {}", show(&facts.ubuntu_codename));
    }
    if facts.debian_codename.is_some() {
        let _ = writeln!(out, "DEBIAN_CODENAME:  {}", show(&facts.debian_codename));
    }
    let _ = writeln!(out, "PRETTY_NAME:      {}", show(&facts.pretty_name));
    let _ = writeln!(out, "arch:             {}", facts.arch);
    out
}
