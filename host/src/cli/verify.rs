//! `installer verify`: the node against the plan for the selection.

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
        super::print_text(&text(&report));
    }
    Ok(match report.status {
        Verdict::Fail => Exit::Failed,
        Verdict::Pass | Verdict::Skip => Exit::Ok,
    }
    .into())
}

fn text(report: &VerifyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Verify: runtime {} on {} in {}",
        report.runtime,
        report.distro,
        report.root.display()
    );
    for c in &report.checks {
        let label = match c.status {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
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
        "\n{} checks: {} passed, {} failed, {} skipped",
        report.checks.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Skip)
    );
    out
}
