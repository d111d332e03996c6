//! Stage 6 of the flow: apply a plan, action by action.
//!
//! Every action checks first and skips what is already done, so a second run changes nothing
//! and starts no package-manager transaction. Files are written atomically and recorded in a
//! journal first; when an action fails, every file the run changed is put back and the
//! failure is reported with its command, exit status and the tail of its output. Commands run
//! as argv, never through a shell, in `--root` when it is not `/` (see `image`).
//!
//! This file runs a plan and rolls it back; `actions` carries out each kind of action and
//! `commands` what they are made of (journaled writes, chrooted commands, probes). `report`
//! holds what a run reports, `preflight` what the target's state means for a plan before
//! anything changes (also for `plan`); `download`, `keys`, `http`, `journal` and `locks` are
//! the pieces a run uses.

mod actions;
mod commands;
mod download;
mod files;
mod http;
mod image;
mod image_run;
mod journal;
mod keys;
mod locks;
mod preflight;
mod readiness;
mod report;
mod sandbox;
mod verify;

pub use image_run::describe_image_commands;
pub use preflight::{managed_elsewhere, preflight, preflight_with_node, Preflight};
pub use readiness::readiness;
pub use report::{
    Failure, LeftBehind, RollbackReport, RunReport, RunStatus, StepReport, StepStatus,
};
pub use verify::{prerequisites, verify, CheckReport, Verdict, VerifyReport};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use plugin_api::{Action, Expect, Probe, RestartTrigger};
use serde::Serialize;

use journal::Journal;

use actions::wanted;
pub use actions::yaml_document_missing;
use commands::{io_failure, tail};

use crate::compose::Plan;
use crate::merge::Overrides;
use crate::target::{FileState, Target, DOWNLOAD_LIMIT, FILE_LIMIT};

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long to wait for another package manager to finish.
    pub lock_timeout: Duration,
    /// Plain-http keys accepted beyond loopback.
    pub allow_insecure_repo: bool,
}

/// Puts back what a run changed, from its journal: `name` (a journal directory's name, as
/// `run` printed it), or else the run that was interrupted. Takes the run lock first, so it
/// never interleaves with a run.
pub fn roll_back(
    target: &Target,
    name: Option<&str>,
    lock_timeout: Duration,
) -> Result<RollbackReport, String> {
    let _lock = locks::RunLock::acquire(target, lock_timeout)?;
    let dir = match name {
        Some(name) => {
            // Only the last component counts: a journal is always one of ours.
            let base = std::path::Path::new(name)
                .file_name()
                .ok_or_else(|| format!("{name:?} does not name a journal"))?;
            std::path::Path::new(journal::JOURNALS).join(base)
        }
        None => match journal::interrupted(target).pop() {
            Some((dir, _)) => dir,
            None => {
                return Err(format!(
                    "no interrupted run in {}: nothing to roll back (name a journal of {} to undo a finished run)",
                    target.dir().display(),
                    target.display(journal::JOURNALS.as_ref()).display()
                ))
            }
        },
    };
    let mut journal = Journal::load(target, &dir).map_err(|e| e.to_string())?;
    if journal.status() == journal::JournalStatus::RolledBack {
        return Err(format!(
            "{} was already rolled back",
            journal.display_dir().display()
        ));
    }
    let (restored, failed) = journal.roll_back();
    Ok(RollbackReport {
        journal: journal.display_dir(),
        restored,
        failed,
    })
}

/// A warning when an image root's setuid programs and device nodes would be usable by users
/// of this host other than root (see `sandbox::exposed`); never for this system or `/`.
pub fn exposed_root(target: &Target) -> Option<String> {
    if target.is_host() || target.dir() == std::path::Path::new("/") {
        return None;
    }
    sandbox::exposed(target.dir())
}

/// Suffixes of the copies package managers leave beside a configuration file when one
/// version stays and the other is set aside (see `Executor::set_aside`).
const SET_ASIDE: [&str; 3] = [".dpkg-dist", ".rpmnew", ".rpmorig"];

/// Applies `plan` to `target`. `progress` receives one line per step as it completes.
pub fn run(
    plan: &Plan,
    target: &Target,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&StepReport, usize, usize),
) -> RunReport {
    let mut exec = Executor::new(target, opts);
    exec.plugins = plan.plugins.clone();
    exec.distro = Some(plan.distro.clone());
    exec.vulnerabilities = plan.vulnerabilities.clone();
    exec.overrides = plan.overrides.clone();
    exec.preexisting = plan
        .steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| match a {
            Action::MergeFile { path, .. } if target.exists(path) => Some(path.clone()),
            _ => None,
        })
        .collect();
    exec.plan_files = plan
        .steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| match a {
            Action::WriteFile { path, .. } | Action::MergeFile { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    let total = plan.steps.len();
    let mut reports: Vec<StepReport> = plan
        .steps
        .iter()
        .map(|s| StepReport {
            phase: s.phase,
            plugins: s.plugins.clone(),
            summary: s.summary.clone(),
            status: StepStatus::NotRun,
            notes: Vec::new(),
            diffs: Vec::new(),
        })
        .collect();

    let failed = |reports: Vec<StepReport>, exec: Executor, error: Failure| {
        exec.finish(reports, Some(error))
    };

    // One run at a time per root, and none while an earlier one's changes are half-made.
    let _lock = match locks::RunLock::acquire(target, opts.lock_timeout) {
        Ok(lock) => lock,
        Err(holder) => {
            let error = Failure::plain(format!(
                "{holder}, still after {} s; nothing was changed. Let it finish, or raise the bound with --lock-timeout",
                opts.lock_timeout.as_secs()
            ));
            return failed(reports, exec, error);
        }
    };
    if let Some((dir, pid)) = journal::interrupted(target).into_iter().last() {
        let error = Failure::plain(format!(
            "an earlier run (pid {pid}) was interrupted before it finished: its journal {} says it is still running; nothing was changed. Roll its changes back with `installer rollback --root {}`, then run again",
            target.display(&dir).display(),
            target.dir().display()
        ));
        return failed(reports, exec, error);
    }

    // Another apt/dnf at work: wait with a bound, before anything changes.
    let needs_pm = plan.steps.iter().flat_map(|s| &s.actions).any(|a| {
        matches!(
            a,
            Action::Run {
                transaction: true,
                ..
            }
        )
    });
    if needs_pm {
        if let Err(holder) = locks::wait_for_package_managers(target, opts.lock_timeout) {
            let error = Failure::plain(format!(
                    "{holder}, still after {} s; nothing was changed. Let it finish, or raise the bound with --lock-timeout",
                    opts.lock_timeout.as_secs()
                ));
            return failed(reports, exec, error);
        }
    }

    // On an image root, a command neither the root nor this host can run (or may not: see
    // `Executor::way` for what is mounted inside the root) would stop the run half-way: it is
    // refused now, before anything changes.
    if !exec.live {
        for (i, step) in plan.steps.iter().enumerate() {
            if step.kind.changes_the_kernel() {
                continue;
            }
            for action in &step.actions {
                let Action::Run { argv, .. } = action else {
                    continue;
                };
                let image::Way::Unavailable(why) = exec.way(argv, false) else {
                    continue;
                };
                reports[i].status = StepStatus::Failed;
                let error = Failure {
                    message: format!("{why}; nothing was changed"),
                    command: Some(argv.clone()),
                    exit_status: None,
                    output_tail: None,
                    left_behind: None,
                };
                let mut report = failed(reports, exec, error);
                report.status = RunStatus::Refused;
                return report;
            }
        }
    }

    // The checks of the prerequisites phase guard what follows (a config of another schema, a
    // drop-in with the other driver, sources that no longer serve the release): all of them
    // are asked now, so that the run is refused before anything changes.
    for (i, step) in plan.steps.iter().enumerate() {
        if step.phase != plugin_api::Phase::Prerequisites {
            continue;
        }
        for action in &step.actions {
            let Action::Check(check) = action else {
                continue;
            };
            let probe = exec.probe_run(&check.probe);
            if probe.yes {
                continue;
            }
            let mut not_checked = None;
            // An image root without the check's program (an empty root being filled from
            // this host) cannot be asked; what the check reads can: when no file or
            // directory its command names is in the root, there is nothing for it to find.
            // Said in the report, never passed silently; any of them there, the run refuses.
            if let (false, Some(why)) = (exec.live, &probe.unavailable) {
                let named = image::named_paths(&check.probe.argv);
                if !named.is_empty() && !named.iter().any(|p| target.exists(p)) {
                    reports[i].notes.push(format!(
                        "not asked ({why}): none of what it reads is in {} ({}), so there is nothing for it to find",
                        target.dir().display(),
                        named.join(", ")
                    ));
                    continue;
                }
                // What it reads is there: asked with this host's program on a copy of it.
                // Not asked faithfully, it is not checked, and the run is refused.
                match exec.probe_on_copy(&check.probe, &named) {
                    image_run::CopyCheck::Passed => {
                        reports[i].notes.push(format!(
                            "asked with this host's `{}`, confined by bubblewrap, on a copy of {} from {} ({why})",
                            check.probe.argv[0],
                            named.join(", "),
                            target.dir().display()
                        ));
                        continue;
                    }
                    image_run::CopyCheck::Failed => {}
                    image_run::CopyCheck::NotChecked(reason) => {
                        not_checked =
                            Some(format!("{why}; not checked on a copy either: {reason}"));
                    }
                }
            }
            reports[i].status = StepStatus::Failed;
            let message = match (&not_checked, &probe.unavailable) {
                (Some(why), _) => format!(
                    "check not checked ({why}): {}; nothing was changed",
                    check.description
                ),
                (None, Some(why)) => format!(
                    "check could not run ({why}): {}; nothing was changed",
                    check.description
                ),
                (None, None) => format!("check failed: {}; nothing was changed", check.description),
            };
            let error = Failure {
                message,
                command: Some(check.probe.argv.clone()),
                exit_status: probe.status,
                output_tail: Some(probe.tail),
                left_behind: None,
            };
            let mut report = failed(reports, exec, error);
            report.status = RunStatus::Refused;
            return report;
        }
    }

    // Every download is fetched and checked now, so that a wrong file stops the run before
    // anything changes (a package installed cannot be rolled back).
    for action in plan.steps.iter().flat_map(|s| &s.actions) {
        let Some(wanted) = wanted(action) else {
            continue;
        };
        let key = (
            wanted.sha256.to_ascii_lowercase(),
            wanted.member.map(str::to_owned),
        );
        if exec.fetched.contains_key(&key) || download::is_installed(target, &wanted) {
            continue;
        }
        match download::fetch(&wanted, opts.allow_insecure_repo) {
            Ok(bytes) => {
                exec.fetched.insert(key, bytes);
            }
            Err(e) => {
                let error = Failure::plain(format!("{e}; nothing was changed"));
                let mut report = failed(reports, exec, error);
                report.status = RunStatus::Refused;
                return report;
            }
        }
    }

    for (i, step) in plan.steps.iter().enumerate() {
        let kernel_step = step.kind.changes_the_kernel();
        let mut status = StepStatus::Unchanged;
        for action in &step.actions {
            // The prerequisites' checks were asked, and passed, before anything changed.
            if step.phase == plugin_api::Phase::Prerequisites && matches!(action, Action::Check(_))
            {
                continue;
            }
            match exec.apply(action, kernel_step) {
                Ok(Outcome::Changed { note, diff }) => {
                    status = StepStatus::Changed;
                    reports[i].notes.extend(note);
                    reports[i].diffs.extend(diff);
                }
                Ok(Outcome::Unchanged) => {}
                Ok(Outcome::SkipRest(reason)) => {
                    status = StepStatus::Skipped;
                    reports[i].notes.push(reason);
                    break;
                }
                Ok(Outcome::Skipped(reason)) => {
                    if status == StepStatus::Unchanged {
                        status = StepStatus::Skipped;
                    }
                    if !reports[i].notes.contains(&reason) {
                        reports[i].notes.push(reason);
                    }
                }
                Err(error) => {
                    reports[i].status = StepStatus::Failed;
                    progress(&reports[i], i + 1, total);
                    return failed(reports, exec, error);
                }
            }
        }
        // A prerequisite not asked on an image root (above) says so.
        if status == StepStatus::Unchanged && !reports[i].notes.is_empty() {
            status = StepStatus::Skipped;
        }
        reports[i].status = status;
        progress(&reports[i], i + 1, total);
    }
    exec.finish(reports, None)
}

/// What a probe said.
#[derive(Clone)]
struct ProbeRun {
    yes: bool,
    stdout: String,
    status: Option<i32>,
    tail: String,
    /// Why the probe could not check anything (its command is missing).
    unavailable: Option<String>,
}

enum Outcome {
    Changed {
        note: Option<String>,
        diff: Option<String>,
    },
    Unchanged,
    Skipped(String),
    /// A guard said yes: the rest of the step is left alone, with this warning.
    SkipRest(String),
}

struct Executor<'t> {
    target: &'t Target,
    /// The files the plan writes or edits.
    plan_files: Vec<String>,
    /// What versions resolved here are judged against.
    vulnerabilities: crate::compose::VulnerabilityGate,
    /// Keys whose value in an existing file the plan's replaces.
    overrides: Vec<String>,
    /// The files the plan merges into that existed when the run started: the site's.
    preexisting: BTreeSet<String>,
    plugins: Vec<crate::compose::PluginRef>,
    /// The distro the plan is for: how an image root's commands run depends on it
    /// (`rpm.releasever`, the versionlock list).
    distro: Option<plugin_api::Distro>,
    /// Where a host dnf run's configuration is written (made on first use, removed after).
    scratch: std::cell::OnceCell<Result<image_run::Scratch, String>>,
    /// What is mounted inside an image root, read once (on first use).
    mounted: std::cell::OnceCell<Result<Vec<std::path::PathBuf>, String>>,
    /// Whether a command of this run ran as the build host's package manager: the root is
    /// being filled from this host, and may lack what a check runs.
    host_filled: std::cell::Cell<bool>,
    live: bool,
    systemd: bool,
    allow_insecure_repo: bool,
    /// Created on the first change, so that a run that changes nothing writes nothing.
    journal: Option<Journal>,
    /// Every command and its output, written into the journal when there is one.
    log: std::cell::RefCell<String>,
    /// The command line of the last command run, as this host ran it.
    last_ran: std::cell::RefCell<Option<Vec<String>>>,
    changed: Vec<String>,
    /// What the downloads of this run fetched, checked: (sha256, member) → bytes to install.
    fetched: BTreeMap<(String, Option<String>), Vec<u8>>,
    packages_changed: bool,
    transactions: usize,
    installed: Vec<String>,
    /// What puts back the services this run stopped or disabled, in the order they were
    /// changed (undone in reverse when the run fails).
    undo_services: Vec<(String, &'static str)>,
    /// The answers of the checks asked since the last action that could change anything:
    /// two checks reading the same command's output (`containerd config dump`) run it once.
    check_answers: Vec<(plugin_api::Probe, ProbeRun)>,
}

impl<'t> Executor<'t> {
    /// An executor that only asks (probes, reads): what preflight and verify use.
    fn asking(target: &'t Target) -> Executor<'t> {
        Executor::new(
            target,
            &RunOptions {
                lock_timeout: Duration::ZERO,
                allow_insecure_repo: false,
            },
        )
    }

    fn new(target: &'t Target, opts: &RunOptions) -> Executor<'t> {
        let live = target.is_host();
        Executor {
            target,
            plan_files: Vec::new(),
            vulnerabilities: Default::default(),
            overrides: Vec::new(),
            preexisting: BTreeSet::new(),
            plugins: Vec::new(),
            distro: None,
            scratch: std::cell::OnceCell::new(),
            mounted: std::cell::OnceCell::new(),
            host_filled: std::cell::Cell::new(false),
            live,
            systemd: live && target.is_dir("/run/systemd/system"),
            allow_insecure_repo: opts.allow_insecure_repo,
            journal: None,
            log: std::cell::RefCell::new(String::new()),
            last_ran: std::cell::RefCell::new(None),
            changed: Vec::new(),
            fetched: BTreeMap::new(),
            packages_changed: false,
            transactions: 0,
            installed: Vec::new(),
            undo_services: Vec::new(),
            check_answers: Vec::new(),
        }
    }

    fn finish(mut self, reports: Vec<StepReport>, error: Option<Failure>) -> RunReport {
        let journal_dir = self.journal.as_ref().map(Journal::display_dir);
        let mut restored = Vec::new();
        if let Some(journal) = &mut self.journal {
            journal.log(&self.log.borrow());
            if error.is_some() {
                let (ok, bad) = journal.roll_back();
                restored = ok;
                for b in bad {
                    tracing::error!("could not restore {b}");
                }
                // Files first, then the services that read them, as they were.
                for (unit, verb) in self.undo_services.iter().rev() {
                    let argv: Vec<String> = ["systemctl", verb, unit.as_str()]
                        .map(str::to_owned)
                        .to_vec();
                    match self.command(&argv, &BTreeMap::new()) {
                        Ok(out) if out.status.success() => restored.push(format!(
                            "{unit} ({} again)",
                            if *verb == "start" {
                                "started"
                            } else {
                                "enabled"
                            }
                        )),
                        _ => tracing::error!("could not {verb} {unit} again: `{}`", argv.join(" ")),
                    }
                }
            } else if let Err(e) = journal.finish() {
                tracing::error!("could not mark the journal finished: {e}");
            }
        }
        RunReport {
            status: if error.is_some() {
                RunStatus::Failed
            } else {
                RunStatus::Ok
            },
            plugins: self.plugins,
            steps: reports,
            transactions: self.transactions,
            files_changed: self.changed,
            journal: journal_dir,
            error,
            restored,
            installed_before_failure: self.installed,
        }
    }

    fn journal(&mut self) -> Result<&mut Journal, Failure> {
        if self.journal.is_none() {
            let journal = Journal::create(self.target).map_err(|e| {
                Failure::plain(format!(
                    "cannot create the run journal under {}: {e}; nothing was changed",
                    self.target.dir().display()
                ))
            })?;
            self.journal = Some(journal);
        }
        Ok(self.journal.as_mut().expect("created just above"))
    }

    /// Carries out one action; each kind has its own function below.
    fn apply(&mut self, action: &Action, kernel_step: bool) -> Result<Outcome, Failure> {
        // Anything but a check may change what a check reads: earlier answers are forgotten.
        if !matches!(action, Action::Check(_)) {
            self.check_answers.clear();
        }
        match action {
            Action::WriteFile { .. } => self.apply_write_file(action),
            Action::MergeFile { .. } => self.apply_merge_file(action),
            Action::RemoveFile { .. } => self.apply_remove_file(action),
            Action::FetchKey { .. } => self.apply_fetch_key(action),
            Action::Download { .. } => self.apply_download(action),
            Action::Run { .. } => self.apply_run(action, kernel_step),
            Action::Service { .. } => self.apply_service(action),
            Action::SkipIf(_) => self.apply_skip_if(action),
            Action::Check(_) => self.apply_check(action),
            Action::Unknown => unreachable!("compose refuses unknown action kinds"),
        }
    }
}
