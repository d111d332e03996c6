//! `installer run`: apply the plan to the root.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use super::args::{RollbackArgs, RunArgs};
use super::json::print_json;
use super::{plan, Context};
use crate::error::Exit;
use crate::exec::{self, RunOptions, StepStatus};
use crate::{render, Error};

/// Runs the plan; exit 1 when a step failed (files rolled back).
pub fn run(ctx: &Context, args: &RunArgs) -> Result<ExitCode, Error> {
    let target = ctx.target()?;
    let (built, resolved) = plan::build_with_options(ctx, &target, &args.selection)?;
    apply(ctx, &target, &built, &resolved, args)
}

/// What `run` does with a plan once it is built (and `migrate` with its own): preflight,
/// the prompt, the run, the report.
pub fn apply(
    ctx: &Context,
    target: &crate::target::Target,
    built: &crate::compose::Plan,
    resolved: &crate::options::Resolved,
    args: &RunArgs,
) -> Result<ExitCode, Error> {
    // The plan's warnings (an end of life, a file another tool manages) are said on a run too.
    if !args.dry_run {
        for warning in &built.warnings {
            eprintln!("warning: {}", render::printable(warning));
        }
    }
    let seen = exec::preflight_with_node(built, target);
    if args.dry_run {
        if ctx.json() {
            print_json(built);
        } else {
            super::print_text(&render::text(built, &seen));
            println!("\n(dry run: nothing was changed)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A file we merge into that does not parse, an owner the target lacks: bad input, refused
    // before anything changes rather than half-way with packages installed.
    if !seen.problems.is_empty() {
        return Err(Error::input(
            format!(
                "the target is not ready for this plan: {}",
                seen.problems.join("; ")
            ),
            "fix what is named (a file that must parse, a user the target must have), then run again; nothing was changed",
        ));
    }
    // The node's readiness (another runtime serving CRI, the kubelet on another driver, pods
    // whose driver would change, swap, missing tools, a full disk): refused before any change.
    let refusals: Vec<String> = seen
        .refusals()
        .map(|c| {
            format!(
                "{} (fix: {})",
                c.detail.as_deref().unwrap_or(&c.check),
                c.fix.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !refusals.is_empty() && !args.force {
        return Err(Error::input(
            format!(
                "preflight: the node is not ready for this plan: {}",
                refusals.join("; ")
            ),
            "fix what is named, or pass --force to run anyway; nothing was changed (`installer preflight` lists every check)",
        ));
    }
    for c in seen.node.iter().filter(|c| c.status == exec::Verdict::Warn) {
        eprintln!(
            "warning: {}: {}",
            render::printable(&c.check),
            render::printable(c.detail.as_deref().unwrap_or(""))
        );
    }
    for refused in refusals.iter().filter(|_| args.force) {
        eprintln!(
            "warning: --force: running despite {}",
            render::printable(refused)
        );
    }
    if !args.yes {
        // As apt-get does: with nobody at a terminal to answer, asking is not consent.
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(Error::input(
                "run asks before it changes anything, and stdin is not a terminal to answer on; nothing was changed",
                "pass --yes to apply without a prompt (or --dry-run to see the plan)",
            ));
        }
        eprint!("{}", render::printable(&render::text(built, &seen)));
        eprint!("\nApply this plan to {}? [y/N] ", target.dir().display());
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("declined: nothing was changed");
            return Ok(Exit::Declined.into());
        }
    }

    let opts = RunOptions {
        lock_timeout: Duration::from_secs(args.lock_timeout),
        allow_insecure_repo: resolved.options.allow_insecure_repo,
    };
    // A bar on a terminal; plain lines for logs and pipes.
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(built.steps.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut progress = |step: &exec::StepReport, n: usize, total: usize| {
        let status = match step.status {
            StepStatus::Changed => "changed",
            StepStatus::Unchanged => "unchanged",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "FAILED",
            StepStatus::NotRun => "not run",
        };
        match &bar {
            Some(bar) => {
                bar.set_position(n as u64);
                bar.set_message(format!("{status}: {}", step.summary));
            }
            None => eprintln!("[{n}/{total}] {status:<9} {}", step.summary),
        }
    };
    let report = exec::run(built, target, &opts, &mut progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    if ctx.json() {
        print_json(&report);
    } else {
        let mut out = format!("plugins:\n{}", render::plugin_files(&report.plugins));
        for (i, step) in report.steps.iter().enumerate() {
            if step.status == StepStatus::NotRun {
                continue;
            }
            let status = format!("{:?}", step.status).to_lowercase();
            let _ = writeln!(
                out,
                "{:>2}. {status:<9} {}  [{}]",
                i + 1,
                step.summary,
                step.plugins.join(", ")
            );
            for note in &step.notes {
                let _ = writeln!(out, "    {note}");
            }
            for d in &step.diffs {
                for line in d.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        let changed = report
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Changed)
            .count();
        let _ = writeln!(
            out,
            "\n{} step(s) changed, {} unchanged, {} skipped; {} package transaction(s)",
            changed,
            report
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Unchanged)
                .count(),
            report
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Skipped)
                .count(),
            report.transactions
        );
        if let Some(dir) = &report.journal {
            let _ = writeln!(out, "journal and backups: {}", dir.display());
        }
        super::print_text(&out);
    }
    match &report.error {
        None => Ok(ExitCode::SUCCESS),
        Some(failure) => {
            let mut err = format!("error: {}\n", failure.message);
            if let Some(cmd) = &failure.command {
                let _ = writeln!(err, "  command: {}", cmd.join(" "));
            }
            if let Some(code) = failure.exit_status {
                let _ = writeln!(err, "  exit status: {code}");
            }
            if let Some(tail) = &failure.output_tail {
                for line in tail.lines() {
                    let _ = writeln!(err, "  | {line}");
                }
            }
            if let Some(left) = &failure.left_behind {
                let _ = writeln!(
                    err,
                    "the package manager left (`{}`):",
                    left.query.join(" ")
                );
                for line in left.state.lines() {
                    let _ = writeln!(err, "  {line}");
                }
                let _ = writeln!(err, "hint: {}", left.fix);
            }
            if !report.restored.is_empty() {
                let _ = writeln!(err, "rolled back: {}", report.restored.join(", "));
            }
            for t in &report.installed_before_failure {
                let _ = writeln!(
                    err,
                    "note: packages installed before the failure stay installed (`{t}`)"
                );
            }
            eprint!("{}", render::printable(&err));
            // Refused before any change: the target is in a state this plan cannot handle.
            Ok(if report.status == exec::RunStatus::Refused {
                Exit::Input
            } else {
                Exit::Failed
            }
            .into())
        }
    }
}

/// `installer rollback`: exit 0 when every file was put back, 1 when some could not be, 2
/// when there is nothing to roll back.
pub fn rollback(ctx: &Context, args: &RollbackArgs) -> Result<ExitCode, Error> {
    let target = ctx.target()?;
    let report = exec::roll_back(
        &target,
        args.journal.as_deref(),
        Duration::from_secs(args.lock_timeout),
    )
    .map_err(|e| {
        Error::input(
            e,
            "`installer rollback` with no argument rolls back an interrupted run; name a journal directory to undo another",
        )
    })?;
    if ctx.json() {
        print_json(&report);
    } else {
        let mut out = format!("rolled back {}\n", report.journal.display());
        for path in &report.restored {
            let _ = writeln!(out, "  restored {path}");
        }
        super::print_text(&out);
    }
    for f in &report.failed {
        eprintln!("error: could not restore {}", render::printable(f));
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        Exit::Failed.into()
    })
}
