//! `installer verify`: the node against the plan for the selection; and `installer
//! preflight`: the node before the plan runs.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::json::print_json;
use super::{plan, Context, Selection};
use crate::error::Exit;
use crate::exec::{self, Verdict, VerifyReport};
use crate::Error;

/// Composes the plan as `plan` does, checks the target against it, and prints one line per
/// check. Exit 0 when none failed, 1 when one did.
pub fn run(ctx: &Context, selection: &Selection) -> Result<ExitCode, Error> {
    let target = ctx.target()?;
    let built = plan::build(ctx, &target, selection)?;
    let report = exec::verify(&built, &target);
    if ctx.json() {
        print_json(&report);
    } else {
        super::print_text(&text("Verify", &report));
    }
    Ok(match report.status {
        Verdict::Fail => Exit::Failed,
        Verdict::Pass | Verdict::Skip | Verdict::Warn => Exit::Ok,
    }
    .into())
}

/// Composes the plan and asks what `run` asks before it changes anything: the files it must
/// merge, the plugins' prerequisites checks, the node's readiness. Exit 0 when run would go
/// ahead, 2 when it would refuse.
pub fn preflight(ctx: &Context, selection: &Selection) -> Result<ExitCode, Error> {
    let target = ctx.target()?;
    let built = plan::build(ctx, &target, selection)?;
    let seen = exec::preflight_with_node(&built, &target);
    let mut checks: Vec<exec::CheckReport> = seen
        .problems
        .iter()
        .map(|p| exec::CheckReport {
            check: "the plan's files can be merged and owned here".to_owned(),
            status: Verdict::Fail,
            detail: Some(p.clone()),
            fix: Some("fix what is named, then run again".to_owned()),
            diff: None,
            node: false,
        })
        .collect();
    checks.extend(exec::prerequisites(&built, &target));
    checks.extend(
        seen.node
            .into_iter()
            .map(|c| exec::CheckReport { node: true, ..c }),
    );
    let report = VerifyReport {
        status: if checks.iter().any(|c| c.status == Verdict::Fail) {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        root: target.dir().to_path_buf(),
        runtime: built.runtime.clone(),
        distro: built.distro.id.clone(),
        checks,
    };
    if ctx.json() {
        print_json(&report);
    } else {
        super::print_text(&text("Preflight", &report));
    }
    Ok(match report.status {
        Verdict::Fail => Exit::Input,
        _ => Exit::Ok,
    }
    .into())
}

fn text(title: &str, report: &VerifyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{title}: runtime {} on {} in {}",
        report.runtime,
        report.distro,
        report.root.display()
    );
    for c in &report.checks {
        let label = match c.status {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
            Verdict::Warn => "warn",
        };
        let _ = writeln!(out, "{label}  {}", c.check);
        if let Some(detail) = &c.detail {
            let _ = writeln!(out, "      {detail}");
        }
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "      fix: {fix}");
        }
        if let Some(diff) = &c.diff {
            for line in diff.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    let count = |v: Verdict| report.checks.iter().filter(|c| c.status == v).count();
    let _ = writeln!(
        out,
        "\n{} checks: {} passed, {} failed, {} warned, {} skipped",
        report.checks.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Warn),
        count(Verdict::Skip)
    );
    out
}
