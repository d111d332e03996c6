//! Stage 6 of the flow: apply a plan, action by action.
//!
//! Every action checks first and skips what is already done, so a second run changes nothing
//! and starts no package-manager transaction. Files are written atomically and recorded in a
//! journal first; when an action fails, every file the run changed is put back and the
//! failure is reported with its command, exit status and the tail of its output. Commands run
//! as argv, never through a shell, chrooted into `--root` when it is not `/`.
//!
//! `report` holds what a run reports, `preflight` what the target's state means for a plan
//! before anything changes (also for `plan`); `download`, `keys`, `http`, `journal` and
//! `locks` are the pieces a run uses.

mod download;
mod files;
mod http;
mod journal;
mod keys;
mod locks;
mod preflight;
mod report;

pub use preflight::{managed_elsewhere, merge_problems, preflight, Preflight};
pub use report::{
    Failure, LeftBehind, RollbackReport, RunReport, RunStatus, StepReport, StepStatus,
};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use plugin_api::{Action, Expect, Probe, RestartTrigger};
use serde::Serialize;

use journal::Journal;

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
            reports[i].status = StepStatus::Failed;
            let message = match &probe.unavailable {
                Some(why) => format!(
                    "check could not run ({why}): {}; nothing was changed",
                    check.description
                ),
                None => format!("check failed: {}; nothing was changed", check.description),
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
        reports[i].status = status;
        progress(&reports[i], i + 1, total);
    }
    exec.finish(reports, None)
}

/// What a probe said.
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
    live: bool,
    systemd: bool,
    allow_insecure_repo: bool,
    /// Created on the first change, so that a run that changes nothing writes nothing.
    journal: Option<Journal>,
    /// Every command and its output, written into the journal when there is one.
    log: std::cell::RefCell<String>,
    changed: Vec<String>,
    /// What the downloads of this run fetched, checked: (sha256, member) → bytes to install.
    fetched: BTreeMap<(String, Option<String>), Vec<u8>>,
    packages_changed: bool,
    transactions: usize,
    installed: Vec<String>,
}

impl<'t> Executor<'t> {
    fn new(target: &'t Target, opts: &RunOptions) -> Executor<'t> {
        let live = target.is_host();
        Executor {
            target,
            plan_files: Vec::new(),
            vulnerabilities: Default::default(),
            overrides: Vec::new(),
            preexisting: BTreeSet::new(),
            plugins: Vec::new(),
            live,
            systemd: live && target.is_dir("/run/systemd/system"),
            allow_insecure_repo: opts.allow_insecure_repo,
            journal: None,
            log: std::cell::RefCell::new(String::new()),
            changed: Vec::new(),
            fetched: BTreeMap::new(),
            packages_changed: false,
            transactions: 0,
            installed: Vec::new(),
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

    fn apply_write_file(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::WriteFile {
            path,
            mode,
            content,
            owner,
            group,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        let ids = self.ids(path, owner.as_deref(), group.as_deref())?;
        self.write(path, *mode, content.as_bytes(), ids)
    }

    fn apply_merge_file(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::MergeFile {
            path,
            mode,
            merge,
            owner,
            group,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        let ids = self.ids(path, owner.as_deref(), group.as_deref())?;
        let existing = self.current(path)?;
        let bytes = existing.as_ref().map(|f| f.bytes.as_slice());
        // A file the site had before this run is the site's: a value it sets otherwise
        // is a conflict unless overridden. One a package installed during the run
        // (its defaults) takes the plan's values.
        let overrides = if self.preexisting.contains(path) {
            Overrides::Keys(&self.overrides)
        } else {
            Overrides::All
        };
        let merged = crate::merge::apply_to_bytes(path, bytes, merge, overrides).map_err(|e| {
            Failure::plain(format!(
                "{e}; the file was left as it is — fix it by hand, then run again"
            ))
        })?;
        let mode = existing.map_or(*mode, |f| f.mode);
        self.write(path, mode, merged.as_bytes(), ids)
    }

    fn apply_remove_file(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::RemoveFile { path } = action else {
            unreachable!("apply dispatches by kind")
        };
        if self.current(path)?.is_none() {
            return Ok(Outcome::Unchanged);
        }
        self.journal()?
            .record(path)
            .map_err(|e| io_failure(path, e))?;
        self.target
            .remove_file(path)
            .map_err(|e| io_failure(path, e))?;
        self.changed.push(path.clone());
        Ok(Outcome::Changed {
            note: Some(format!("removed {path}")),
            diff: None,
        })
    }

    fn apply_fetch_key(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::FetchKey {
            url,
            fingerprints,
            dest,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        if let Some(file) = self.current(dest)? {
            if keys::verify(&file.bytes, dest, fingerprints).is_ok() {
                return Ok(Outcome::Unchanged);
            }
        }
        let key_failure =
            |e: keys::KeyError| Failure::plain(format!("{e}; nothing was written for it"));
        let bytes = keys::fetch(url, self.allow_insecure_repo).map_err(key_failure)?;
        let fingerprint = keys::verify(&bytes, url, fingerprints).map_err(key_failure)?;
        self.write(dest, 0o644, &bytes, (None, None))?;
        Ok(Outcome::Changed {
            note: Some(format!("stored the key {fingerprint} from {url} at {dest}")),
            diff: None,
        })
    }

    fn apply_download(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let wanted = wanted(action).expect("a download");
        if download::is_installed(self.target, &wanted) {
            return Ok(Outcome::Unchanged);
        }
        let key = (
            wanted.sha256.to_ascii_lowercase(),
            wanted.member.map(str::to_owned),
        );
        let bytes = match self.fetched.remove(&key) {
            Some(bytes) => bytes,
            None => download::fetch(&wanted, self.allow_insecure_repo)
                .map_err(|e| Failure::plain(format!("{e}; nothing was written for it")))?,
        };
        let record = download::record_text(&wanted, &bytes);
        // Root's, whoever owned what was there: systemd runs it as root.
        self.write_file(wanted.path, wanted.mode, &bytes, (Some(0), Some(0)), true)?;
        self.write_file(
            &download::record_path(wanted.path),
            0o644,
            record.as_bytes(),
            (None, None),
            false,
        )?;
        Ok(Outcome::Changed {
            note: Some(format!(
                "installed {} from {} (sha256 {} checked)",
                wanted.path,
                wanted.url,
                wanted.sha256.to_ascii_lowercase()
            )),
            diff: None,
        })
    }

    fn apply_run(&mut self, action: &Action, kernel_step: bool) -> Result<Outcome, Failure> {
        let Action::Run {
            argv,
            env,
            unless,
            transaction,
            resolve,
            audit,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        if kernel_step && !self.live {
            return Ok(Outcome::Skipped(format!(
                "`{}` changes the running kernel, which is not this root's: the settings take effect when the image boots",
                argv.join(" ")
            )));
        }
        let mut argv = argv.clone();
        let mut unless = unless.clone();
        let probe_usable = self.resolve_versions(resolve, &mut argv, &mut unless)?;
        if let Some(probe) = unless.as_ref().filter(|_| probe_usable) {
            if self.probe(probe) {
                return Ok(Outcome::Unchanged);
            }
        }
        let aside_before = if *transaction {
            self.set_aside()
        } else {
            BTreeSet::new()
        };
        let out = self.command(&argv, env)?;
        if !out.status.success() {
            return Err(Failure {
                message: format!("`{}` failed", argv.join(" ")),
                command: Some(argv.clone()),
                exit_status: out.status.code(),
                output_tail: Some(tail(&out.stdout, &out.stderr)),
                left_behind: audit.as_ref().map(|a| Box::new(self.audit(a))),
            });
        }
        let mut notes = vec![format!("ran `{}`", argv.join(" "))];
        if *transaction {
            self.transactions += 1;
            self.packages_changed = true;
            self.installed.push(argv.join(" "));
            for aside in self.set_aside().difference(&aside_before) {
                notes.push(self.keep_site_file(aside)?);
            }
        }
        Ok(Outcome::Changed {
            note: Some(notes.join("; ")),
            diff: None,
        })
    }

    /// Resolves each partial pin on the target and writes the version in place of its
    /// placeholder in `argv` and `unless`; whether `unless` can still vouch for anything.
    fn resolve_versions(
        &self,
        resolve: &[plugin_api::ResolveVersion],
        argv: &mut [String],
        unless: &mut Option<Probe>,
    ) -> Result<bool, Failure> {
        // A version that cannot be resolved is an error when the command needs it;
        // when only the probe does (a refresh that must run before the version can be
        // known), the probe cannot vouch for anything and the command runs.
        let mut probe_usable = true;
        for r in resolve {
            let out = self.command(&r.query, &BTreeMap::new())?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let offered = listed_versions(&text, &r.listing);
            let Some(version) =
                plugin_api::version::pick(&r.pin, offered.iter().map(String::as_str))
            else {
                if !argv.iter().any(|a| a.contains(&r.placeholder)) {
                    probe_usable = false;
                    continue;
                }
                return Err(Failure {
                    message: format!(
                        "no version of {} matches the pin {} (whole components); the repositories offer: {}",
                        r.package,
                        r.pin,
                        if offered.is_empty() { "none".to_owned() } else { offered.join(", ") }
                    ),
                    command: Some(r.query.clone()),
                    exit_status: out.status.code(),
                    output_tail: Some(tail(&out.stdout, &out.stderr)),
                    left_behind: None,
                });
            };
            let version = version.to_owned();
            // The release the pin found here is judged as an exact pin would be.
            if let Some(why) = self.vulnerabilities.refuse(&r.package, &version, &r.pin) {
                return Err(Failure {
                    message: why,
                    command: Some(r.query.clone()),
                    exit_status: out.status.code(),
                    output_tail: None,
                    left_behind: None,
                });
            }
            for a in argv.iter_mut() {
                *a = a.replace(&r.placeholder, &version);
            }
            if let Some(p) = unless.as_mut() {
                substitute_probe(p, &r.placeholder, &version);
            }
        }
        Ok(probe_usable)
    }

    fn apply_service(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::Service {
            unit,
            daemon_reload,
            enable,
            start,
            restart_when_changed,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        if !self.systemd {
            return Ok(Outcome::Skipped(format!(
                "{unit}: systemd is not running in {} (a chroot or an image root); the unit is handled when the system boots",
                self.target.dir().display()
            )));
        }
        let mut did = Vec::new();
        let sys = |args: &[&str]| -> Vec<String> {
            std::iter::once("systemctl")
                .chain(args.iter().copied())
                .map(str::to_owned)
                .collect()
        };
        if *daemon_reload && self.changed.iter().any(|p| p.starts_with("/etc/systemd/")) {
            self.must(&sys(&["daemon-reload"]))?;
            did.push("daemon-reload".to_owned());
        }
        if *enable
            && !self.probe(&Probe {
                argv: sys(&["is-enabled", "--quiet", unit]),
                expect: Expect::Success,
            })
        {
            self.must(&sys(&["enable", unit]))?;
            did.push(format!("enabled {unit}"));
        }
        let changed = restart_when_changed.iter().any(|t| match t {
            RestartTrigger::Package(_) => self.packages_changed,
            RestartTrigger::File(path) => self.changed.contains(path),
        });
        let active = self.probe(&Probe {
            argv: sys(&["is-active", "--quiet", unit]),
            expect: Expect::Success,
        });
        if changed && active {
            self.must(&sys(&["restart", unit]))?;
            did.push(format!(
                "restarted {unit} (its configuration or packages changed)"
            ));
        } else if *start && !active {
            self.must(&sys(&["start", unit]))?;
            did.push(format!("started {unit}"));
        }
        if did.is_empty() {
            Ok(Outcome::Unchanged)
        } else {
            Ok(Outcome::Changed {
                note: Some(did.join("; ")),
                diff: None,
            })
        }
    }

    fn apply_skip_if(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::SkipIf(guard) = action else {
            unreachable!("apply dispatches by kind")
        };
        let (yes, stdout) = self.probe_with_output(&guard.probe);
        if yes {
            let found = stdout.trim();
            let reason = if found.is_empty() {
                format!("warning: {}", guard.warning)
            } else {
                format!(
                    "warning: {} (found: {})",
                    guard.warning,
                    found.lines().collect::<Vec<_>>().join(", ")
                )
            };
            tracing::warn!("{reason}");
            Ok(Outcome::SkipRest(reason))
        } else {
            Ok(Outcome::Unchanged)
        }
    }

    fn apply_check(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::Check(check) = action else {
            unreachable!("apply dispatches by kind")
        };
        let run = self.probe_run(&check.probe);
        if run.yes {
            return Ok(Outcome::Unchanged);
        }
        // A probe whose command is missing did not check anything: say that, not that
        // the thing checked is wrong.
        let message = match &run.unavailable {
            Some(why) => format!("check could not run ({why}): {}", check.description),
            None => format!("check failed: {}", check.description),
        };
        Err(Failure {
            message,
            command: Some(check.probe.argv.clone()),
            exit_status: run.status,
            output_tail: Some(run.tail),
            left_behind: None,
        })
    }

    /// The uid and gid named by a file action, looked up in the target's own account files.
    fn ids(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> Result<(Option<u32>, Option<u32>), Failure> {
        let lookup = |name: &str, file: &str| -> Result<u32, Failure> {
            let table = self
                .target
                .read(file, FILE_LIMIT)
                .map_err(|e| Failure::plain(format!("{e}; nothing was written for {path}")))?
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .unwrap_or_default();
            table
                .lines()
                .find_map(|line| {
                    let mut fields = line.split(':');
                    (fields.next() == Some(name)).then(|| fields.nth(1).and_then(|id| id.parse().ok())).flatten()
                })
                .ok_or_else(|| Failure::plain(format!("{path} should belong to `{name}`, which is not in {file} under {}; nothing was written for it", self.target.dir().display())))
        };
        Ok((
            owner.map(|o| lookup(o, "/etc/passwd")).transpose()?,
            group.map(|g| lookup(g, "/etc/group")).transpose()?,
        ))
    }

    /// Writes a text file when its content, mode or asked-for owner differ, recording the
    /// old one first.
    fn write(
        &mut self,
        path: &str,
        mode: u32,
        bytes: &[u8],
        ids: (Option<u32>, Option<u32>),
    ) -> Result<Outcome, Failure> {
        self.write_file(path, mode, bytes, ids, false)
    }

    /// As [`Executor::write`]; a `binary` file (a program) may be as large as a download and
    /// gets no diff.
    fn write_file(
        &mut self,
        path: &str,
        mode: u32,
        bytes: &[u8],
        ids: (Option<u32>, Option<u32>),
        binary: bool,
    ) -> Result<Outcome, Failure> {
        let limit = if binary { DOWNLOAD_LIMIT } else { FILE_LIMIT };
        let before = self
            .target
            .read(path, limit)
            .map_err(|e| Failure::plain(format!("{e}; nothing was changed for it")))?;
        if let Some(old) = &before {
            let owned = ids.0.is_none_or(|u| u == old.uid) && ids.1.is_none_or(|g| g == old.gid);
            if old.bytes == bytes && old.mode == mode && owned {
                return Ok(Outcome::Unchanged);
            }
        }
        let journal = self.journal()?;
        journal.record(path).map_err(|e| io_failure(path, e))?;
        let created = self
            .target
            .write_atomic(path, bytes, mode, ids)
            .map_err(|e| io_failure(path, e))?;
        self.journal()?
            .created(created)
            .map_err(|e| io_failure(path, e))?;
        self.changed.push(path.to_owned());
        let diff = before.filter(|_| !binary).map(|old| {
            files::diff(
                path,
                &String::from_utf8_lossy(&old.bytes),
                &String::from_utf8_lossy(bytes),
            )
        });
        let backup = self.journal.as_ref().and_then(|j| j.backup_of(path));
        let note = match backup {
            Some(b) => format!(
                "wrote {path} (the previous version is kept at {})",
                b.display()
            ),
            None => format!("wrote {path}"),
        };
        Ok(Outcome::Changed {
            note: Some(note),
            diff: diff.filter(|d| !d.is_empty()),
        })
    }

    /// The copies package managers leave beside the configuration files this plan writes,
    /// as they are now: when a package ships a file the site already has, dpkg (with
    /// `--force-confold`) keeps the site's and leaves the package's as `.dpkg-dist`; rpm
    /// does the same with `.rpmnew` for `%config(noreplace)`, but for plain `%config` moves
    /// the site's aside as `.rpmorig` and installs its own (rpm-spec(5), `%config`;
    /// rpm lib/transaction.cc, FA_ALTNAME and FA_BACKUP).
    fn set_aside(&self) -> BTreeSet<String> {
        self.plan_files
            .iter()
            .flat_map(|p| SET_ASIDE.iter().map(move |suffix| format!("{p}{suffix}")))
            .filter(|p| self.target.exists(p))
            .collect()
    }

    /// What a package transaction's set-aside copy means for the site's file, put right
    /// where rpm replaced it: the site's file goes back (journaled), the package's version
    /// is kept as `.rpmnew`, and the plan then edits the site's file as it would have.
    fn keep_site_file(&mut self, aside: &str) -> Result<String, Failure> {
        let Some(path) = aside.strip_suffix(".rpmorig") else {
            let path = SET_ASIDE
                .iter()
                .find_map(|s| aside.strip_suffix(s))
                .unwrap_or(aside);
            return Ok(format!(
                "the package manager kept {path} as it was; the package's version is at {aside}"
            ));
        };
        let site = self
            .current(aside)?
            .ok_or_else(|| Failure::plain(format!("{aside} went away while it was read")))?;
        if let Some(package) = self.current(path)? {
            self.write(
                &format!("{path}.rpmnew"),
                package.mode,
                &package.bytes,
                (None, None),
            )?;
        }
        self.write(
            path,
            site.mode,
            &site.bytes,
            (Some(site.uid), Some(site.gid)),
        )?;
        Ok(format!(
            "rpm set the site's {path} aside as {aside} and installed the package's; the site's file was put back (the package's version is at {path}.rpmnew)"
        ))
    }

    /// What a failed transaction left, as the package manager tells it.
    fn audit(&self, audit: &plugin_api::Audit) -> LeftBehind {
        let state = match self.command(&audit.argv, &BTreeMap::new()) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
            Err(f) => f.message,
        };
        LeftBehind {
            state,
            query: audit.argv.clone(),
            fix: audit.hint.clone(),
        }
    }

    /// The regular file at `path` on the target, if there is one; anything else there (a
    /// FIFO, a device, a file too large to be ours) is refused.
    fn current(&self, path: &str) -> Result<Option<FileState>, Failure> {
        self.target
            .read(path, FILE_LIMIT)
            .map_err(|e| Failure::plain(format!("{e}; nothing was changed for it")))
    }

    /// Runs a command on the target (chrooted unless the root is `/`), logging its output.
    fn command(
        &self,
        argv: &[String],
        env: &BTreeMap<String, String>,
    ) -> Result<std::process::Output, Failure> {
        let mut cmd = if self.live {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        } else {
            let mut c = Command::new("chroot");
            c.arg(self.target.dir()).args(argv);
            c
        };
        cmd.env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("LC_ALL", "C")
        .envs(env);
        cmd.stdin(std::process::Stdio::null());
        let started = std::time::Instant::now();
        let out = cmd.output().map_err(|e| Failure {
            message: format!("cannot run `{}`: {e}", argv.join(" ")),
            command: Some(argv.to_vec()),
            exit_status: None,
            output_tail: None,
            left_behind: None,
        })?;
        let entry = format!(
            "$ {}\n{}{}[exit {}, {:.2} s]\n",
            argv.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
                .code()
                .map_or("signal".to_owned(), |c| c.to_string()),
            started.elapsed().as_secs_f64()
        );
        tracing::debug!("{}", entry.trim_end());
        self.log.borrow_mut().push_str(&entry);
        Ok(out)
    }

    /// Runs a command that must succeed.
    fn must(&self, argv: &[String]) -> Result<(), Failure> {
        let out = self.command(argv, &BTreeMap::new())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Failure {
                message: format!("`{}` failed", argv.join(" ")),
                command: Some(argv.to_vec()),
                exit_status: out.status.code(),
                output_tail: Some(tail(&out.stdout, &out.stderr)),
                left_behind: None,
            })
        }
    }

    /// Whether a probe says "yes". A probe that cannot even start says "no".
    fn probe(&self, probe: &Probe) -> bool {
        self.probe_run(probe).yes
    }

    /// Whether a probe says "yes", and what it printed.
    fn probe_with_output(&self, probe: &Probe) -> (bool, String) {
        let run = self.probe_run(probe);
        (run.yes, run.stdout)
    }

    /// Runs a probe and reads its answer.
    fn probe_run(&self, probe: &Probe) -> ProbeRun {
        let out = match self.command(&probe.argv, &BTreeMap::new()) {
            Ok(out) => out,
            Err(failure) => {
                return ProbeRun {
                    yes: false,
                    stdout: String::new(),
                    status: None,
                    tail: String::new(),
                    unavailable: Some(failure.message),
                }
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let yes = out.status.success()
            && match &probe.expect {
                Expect::Success => true,
                Expect::StdoutContains(t) => stdout.contains(t.as_str()),
                Expect::StdoutLacks(t) => !stdout.contains(t.as_str()),
                Expect::StdoutEquals(t) => stdout.trim() == t.trim(),
                Expect::StdoutLines(lines) => lines.iter().all(|l| stdout.lines().any(|s| s == l)),
            };
        // chroot and the shell say 127 when the command is not there.
        let unavailable = (out.status.code() == Some(127)).then(|| {
            format!(
                "`{}` is not installed in {}",
                probe.argv[0],
                self.target.dir().display()
            )
        });
        ProbeRun {
            yes,
            status: out.status.code(),
            tail: tail(&out.stdout, &out.stderr),
            stdout,
            unavailable,
        }
    }
}

fn substitute_probe(probe: &mut Probe, placeholder: &str, version: &str) {
    for a in probe.argv.iter_mut() {
        *a = a.replace(placeholder, version);
    }
    match &mut probe.expect {
        Expect::Success => {}
        Expect::StdoutContains(t) | Expect::StdoutLacks(t) | Expect::StdoutEquals(t) => {
            *t = t.replace(placeholder, version)
        }
        Expect::StdoutLines(lines) => {
            for l in lines.iter_mut() {
                *l = l.replace(placeholder, version);
            }
        }
    }
}

/// The versions a query lists for the package, per the plugin's description of the listing.
fn listed_versions(text: &str, listing: &plugin_api::VersionListing) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = match &listing.separator {
                Some(sep) => line.split(sep.as_str()).map(str::trim).collect(),
                None => line.split_whitespace().collect(),
            };
            let name = fields.get(listing.name_field)?;
            let version = fields.get(listing.version_field)?;
            (listing.names.iter().any(|n| n == name) && !version.is_empty())
                .then(|| (*version).to_owned())
        })
        .collect()
}

fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// What a `download` action asks for.
fn wanted(action: &Action) -> Option<download::Wanted<'_>> {
    match action {
        Action::Download {
            url,
            sha256,
            member,
            path,
            mode,
        } => Some(download::Wanted {
            url,
            sha256,
            member: member.as_deref(),
            path,
            mode: *mode,
        }),
        _ => None,
    }
}

fn io_failure(path: &str, e: std::io::Error) -> Failure {
    Failure::plain(format!("cannot write {path}: {e}"))
}
