//! `verify`: every action of the plan asked "is this done?" without doing any of it, then
//! what only the node itself can say: the runtime answering CRI on its socket, the kubelet's
//! cgroup driver against the runtime's, and the runc on the node against known escapes.
//!
//! A check that cannot be asked here (a service where systemd does not run, a kernel setting
//! of an image root) is skipped with the reason; a failure says what is wrong and the fix.

use std::path::PathBuf;

use serde::Serialize;

use super::*;
use crate::compose::PlannedStep;

pub(super) mod node;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It does not: the node differs from what the plan wants.
    Fail,
    /// It cannot be asked here; the detail says why.
    Skip,
    /// (preflight) Not a reason to refuse, but something to know before running.
    Warn,
}

/// One line of `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// What is checked.
    pub check: String,
    /// How it came out.
    pub status: Verdict,
    /// What was found (on a pass, what vouches for it; otherwise why not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// On a failure: how to put it right.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// For a file that drifted: the unified diff from what is there to what the plan wants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Whether it is a check of the node itself (CRI, the kubelet, runc, preflight's), which
    /// running the plan again would not put right, rather than of one of the plan's actions.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub node: bool,
}

impl CheckReport {
    pub(super) fn pass(check: impl Into<String>, detail: impl Into<String>) -> CheckReport {
        CheckReport {
            check: check.into(),
            status: Verdict::Pass,
            detail: Some(detail.into()).filter(|d: &String| !d.is_empty()),
            fix: None,
            diff: None,
            node: false,
        }
    }

    pub(super) fn fail(
        check: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> CheckReport {
        CheckReport {
            check: check.into(),
            status: Verdict::Fail,
            detail: Some(detail.into()),
            fix: Some(fix.into()),
            diff: None,
            node: false,
        }
    }

    pub(super) fn skip(check: impl Into<String>, why: impl Into<String>) -> CheckReport {
        CheckReport {
            check: check.into(),
            status: Verdict::Skip,
            detail: Some(why.into()),
            fix: None,
            diff: None,
            node: false,
        }
    }
}

/// What `verify` reports (`--output json`).
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// `pass` when no check failed, else `fail`.
    pub status: Verdict,
    /// The root checked.
    pub root: PathBuf,
    /// The runtime plugin whose plan was checked.
    pub runtime: String,
    /// The distro pack.
    pub distro: String,
    /// Every check, in plan order, then the node's own.
    pub checks: Vec<CheckReport>,
}

/// Rerunning the plan puts back what drifted; the words every such failure ends with.
const RERUN: &str = "run `installer run` with the same selection: it redoes only what is not done";

/// Checks the target against the plan. Changes nothing.
pub fn verify(plan: &Plan, target: &Target) -> VerifyReport {
    let probe = Executor::asking(target);
    let mut checks = Vec::new();
    for step in &plan.steps {
        let mut skipping: Option<String> = None;
        for action in &step.actions {
            if let Some(why) = &skipping {
                checks.push(CheckReport::skip(short(action, step), why.clone()));
                continue;
            }
            if let Action::SkipIf(guard) = action {
                let (yes, found) = probe.probe_with_output(&guard.probe);
                if yes {
                    skipping = Some(format!(
                        "{} (found: {})",
                        guard.warning,
                        found.trim().lines().collect::<Vec<_>>().join(", ")
                    ));
                }
                continue;
            }
            checks.push(probe.is_done(action, step, &plan.overrides));
        }
    }
    checks.extend(
        node::checks(plan, &probe)
            .into_iter()
            .map(|c| CheckReport { node: true, ..c }),
    );
    let status = if checks.iter().any(|c| c.status == Verdict::Fail) {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    VerifyReport {
        status,
        root: target.dir().to_path_buf(),
        runtime: plan.runtime.clone(),
        distro: plan.distro.id.clone(),
        checks,
    }
}

/// The plan's prerequisites-phase checks asked on the target (what `run` asks first, before
/// it changes anything).
pub fn prerequisites(plan: &Plan, target: &Target) -> Vec<CheckReport> {
    let probe = Executor::asking(target);
    plan.steps
        .iter()
        .filter(|s| s.phase == plugin_api::Phase::Prerequisites)
        .flat_map(|step| {
            step.actions
                .iter()
                .filter(|a| matches!(a, Action::Check(_)))
                .map(|a| probe.is_done(a, step, &plan.overrides))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An action as a check, in a few words.
fn short(action: &Action, step: &PlannedStep) -> String {
    match action {
        Action::WriteFile { path, .. } | Action::MergeFile { path, .. } => {
            format!("{path} holds what the plan writes")
        }
        Action::RemoveFile { path } => format!("{path} is absent"),
        Action::FetchKey {
            dest, fingerprints, ..
        } => format!(
            "{dest} holds the signing key {}",
            fingerprints.first().map_or("", String::as_str)
        ),
        Action::Download { path, url, .. } => format!("{path} is what {url} serves"),
        // A command is named by its step, and by itself where it is short and plain.
        Action::Run { argv, resolve, .. } if resolve.is_empty() && argv.len() <= 4 => {
            format!("{}: `{}` is done", step.summary, argv.join(" "))
        }
        Action::Run { .. } => format!("{}: done", step.summary),
        Action::Service {
            unit,
            enable,
            start,
            ..
        } => match (enable, start) {
            (true, true) => format!("{unit} is enabled and active"),
            (true, false) => format!("{unit} is enabled"),
            (false, true) => format!("{unit} is active"),
            (false, false) => format!("{unit} restarts when what it reads changes"),
        },
        Action::Check(_) => step.summary.clone(),
        Action::SkipIf(g) => g.warning.clone(),
        Action::Unknown => unreachable!("compose refuses unknown action kinds"),
    }
}

impl Executor<'_> {
    /// One action asked whether it is done.
    fn is_done(&self, action: &Action, step: &PlannedStep, overrides: &[String]) -> CheckReport {
        let check = short(action, step);
        match action {
            Action::WriteFile { path, content, .. } => {
                self.file_holds(check, path, |_| Ok(content.clone()))
            }
            Action::MergeFile { path, merge, .. } => self.file_holds(check, path, |bytes| {
                // Another tool's file not written yet: `run` skips it too.
                if bytes.is_none() {
                    if let Some(why) = yaml_document_missing(path, merge) {
                        return Err(Skipped(why));
                    }
                }
                crate::merge::apply_to_bytes(path, bytes, merge, Overrides::Keys(overrides))
                    .map_err(|e| Problem(e.to_string()))
            }),
            Action::RemoveFile { path } => match self.current(path) {
                Ok(None) => CheckReport::pass(check, ""),
                Ok(Some(_)) => CheckReport::fail(check, format!("{path} exists"), RERUN),
                Err(e) => CheckReport::fail(check, e.message, "make the file readable"),
            },
            Action::FetchKey {
                dest, fingerprints, ..
            } => match self.current(dest) {
                Ok(Some(file)) => match keys::verify(&file.bytes, dest, fingerprints) {
                    Ok(fingerprint) => CheckReport::pass(check, fingerprint),
                    Err(e) => CheckReport::fail(check, e.to_string(), RERUN),
                },
                Ok(None) => CheckReport::fail(check, format!("{dest} is missing"), RERUN),
                Err(e) => CheckReport::fail(check, e.message, "make the file readable"),
            },
            Action::Download { .. } => {
                let wanted = wanted(action).expect("a download");
                if download::is_installed(self.target, &wanted) {
                    CheckReport::pass(check, format!("sha256 {}", wanted.sha256))
                } else {
                    CheckReport::fail(
                        check,
                        format!(
                            "{} is missing, or not what was installed from {}",
                            wanted.path, wanted.url
                        ),
                        RERUN,
                    )
                }
            }
            Action::Run {
                argv,
                unless,
                resolve,
                ..
            } => {
                if step.kind.changes_the_kernel() && !self.live {
                    return CheckReport::skip(
                        check,
                        "a setting of the running kernel, which is not this root's",
                    );
                }
                let Some(probe) = unless else {
                    return CheckReport::skip(check, "the command runs each time; nothing to ask");
                };
                self.run_is_done(check, argv, probe, resolve)
            }
            Action::Service {
                unit,
                enable,
                start,
                ..
            } => {
                if !enable && !start {
                    return CheckReport::skip(
                        check,
                        "a restart belongs to the run that changed it; nothing to ask now",
                    );
                }
                if !self.systemd {
                    return CheckReport::skip(
                        check,
                        format!(
                            "systemd is not running in {} (a chroot or an image root)",
                            self.target.dir().display()
                        ),
                    );
                }
                let ask = |what: &str| {
                    self.probe(&Probe {
                        argv: ["systemctl", what, "--quiet", unit.as_str()]
                            .map(str::to_owned)
                            .to_vec(),
                        expect: Expect::Success,
                    })
                };
                let mut wrong = Vec::new();
                if *enable && !ask("is-enabled") {
                    wrong.push("not enabled");
                }
                if *start && !ask("is-active") {
                    wrong.push("not active");
                }
                if wrong.is_empty() {
                    CheckReport::pass(check, "")
                } else {
                    CheckReport::fail(
                        check,
                        format!("{unit} is {}", wrong.join(" and ")),
                        format!("`systemctl enable --now {unit}`; `journalctl -u {unit}` says why it stopped"),
                    )
                }
            }
            Action::Check(c) => {
                let run = self.probe_run(&c.probe);
                match (run.yes, run.unavailable) {
                    (true, _) => CheckReport::pass(check, ""),
                    (false, Some(why)) => CheckReport::fail(
                        check,
                        format!("could not ask: {why}"),
                        "install what the check runs in the target, then ask again",
                    ),
                    (false, None) => CheckReport::fail(
                        check,
                        format!("`{}` said no: {}", c.probe.argv.join(" "), run.tail.trim()),
                        c.description.clone(),
                    ),
                }
            }
            Action::SkipIf(_) => unreachable!("guards are evaluated by verify's loop"),
            Action::Unknown => unreachable!("compose refuses unknown action kinds"),
        }
    }

    /// Whether the file at `path` is what `wanted` makes of it (given its bytes, or `None`
    /// when it is missing); a diff when not.
    fn file_holds(
        &self,
        check: String,
        path: &str,
        wanted: impl Fn(Option<&[u8]>) -> Result<String, Unwanted>,
    ) -> CheckReport {
        let current = match self.current(path) {
            Ok(current) => current,
            Err(e) => return CheckReport::fail(check, e.message, "make the file readable"),
        };
        let bytes = current.as_ref().map(|f| f.bytes.as_slice());
        let want = match wanted(bytes) {
            Ok(want) => want,
            Err(Skipped(why)) => return CheckReport::skip(check, why),
            Err(Problem(why)) => {
                return CheckReport::fail(
                    check,
                    why,
                    "resolve the conflict named (or pass --override KEY to `installer run`)",
                )
            }
        };
        match current {
            None => CheckReport::fail(check, format!("{path} is missing"), RERUN),
            Some(file) if file.bytes == want.as_bytes() => CheckReport::pass(check, ""),
            Some(file) => CheckReport {
                diff: Some(files::diff(
                    path,
                    &String::from_utf8_lossy(&file.bytes),
                    &want,
                )),
                ..CheckReport::fail(
                    check,
                    format!("{path} differs from the plan (diff below)"),
                    RERUN,
                )
            },
        }
    }

    /// Whether a command's `unless` probe says it is done. A probe that names a version pin
    /// resolved at run time is satisfied by any installed version matching the pin: what
    /// `run` would pick today may be newer than what it installed, which is no drift.
    fn run_is_done(
        &self,
        check: String,
        argv: &[String],
        probe: &Probe,
        resolve: &[plugin_api::ResolveVersion],
    ) -> CheckReport {
        let pinned = |text: &str| resolve.iter().any(|r| text.contains(&r.placeholder));
        if probe.argv.iter().any(|a| pinned(a)) {
            return CheckReport::skip(
                check,
                "its probe names a version resolved only when `run` runs",
            );
        }
        let loose = Probe {
            argv: probe.argv.clone(),
            expect: Expect::Success,
        };
        let run = self.probe_run(&loose);
        if let Some(why) = run.unavailable {
            return CheckReport::fail(
                check,
                format!("could not ask: {why}"),
                format!("{RERUN} (it would run `{}`)", argv.join(" ")),
            );
        }
        let holds = run.status == Some(0)
            && match &probe.expect {
                Expect::StdoutLines(lines) => lines.iter().all(|want| {
                    run.stdout
                        .lines()
                        .any(|line| line_matches(want, line, resolve))
                }),
                Expect::StdoutEquals(want) => {
                    let (want, got): (Vec<&str>, Vec<&str>) = (
                        want.trim().lines().collect(),
                        run.stdout.trim().lines().collect(),
                    );
                    want.len() == got.len()
                        && want
                            .iter()
                            .zip(&got)
                            .all(|(w, g)| line_matches(w, g, resolve))
                }
                Expect::Success => true,
                Expect::StdoutContains(t) if !pinned(t) => run.stdout.contains(t.as_str()),
                Expect::StdoutLacks(t) if !pinned(t) => !run.stdout.contains(t.as_str()),
                Expect::StdoutContains(_) | Expect::StdoutLacks(_) => {
                    return CheckReport::skip(
                        check,
                        "its probe names a version resolved only when `run` runs",
                    )
                }
            };
        if holds {
            CheckReport::pass(check, format!("`{}`", probe.argv.join(" ")))
        } else {
            CheckReport::fail(
                check,
                format!(
                    "`{}` says it is not done: {}",
                    probe.argv.join(" "),
                    run.stdout.trim().lines().collect::<Vec<_>>().join("; ")
                ),
                format!("{RERUN} (it would run `{}`)", argv.join(" ")),
            )
        }
    }
}

/// Why a file has no content the plan wants: nothing to ask (another tool's file not written
/// yet), or a merge that cannot be made.
enum Unwanted {
    Skipped(String),
    Problem(String),
}

use Unwanted::{Problem, Skipped};

/// Whether `line` is `want`, where a placeholder for a pin in `want` stands for any version
/// that matches the pin (whole components, as `run` resolves it).
fn line_matches(want: &str, line: &str, resolve: &[plugin_api::ResolveVersion]) -> bool {
    let Some(r) = resolve.iter().find(|r| want.contains(&r.placeholder)) else {
        return want == line;
    };
    let Some((before, after)) = want.split_once(&r.placeholder) else {
        return false;
    };
    if after.contains('<') && resolve.iter().any(|o| after.contains(&o.placeholder)) {
        // Two pins on one line: not a shape any package manager plugin writes.
        return false;
    }
    line.len() >= before.len() + after.len()
        && line.starts_with(before)
        && line.ends_with(after)
        && plugin_api::version::matches(&r.pin, &line[before.len()..line.len() - after.len()])
}

#[cfg(test)]
mod tests;
