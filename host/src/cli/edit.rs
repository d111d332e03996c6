//! `installer edit-file`: one config edit of a plan applied to one file, as `run` applies it.
//! The Ansible collection's `config_edit` module calls it on the node, so that a rendered
//! playbook edits containerd's config.toml, daemon.json or a CRI-O drop-in with run's own
//! code (in place, user keys kept, backed up, atomic) rather than with a second editor.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use plugin_api::{Action, CgroupDriver, Distro, FileContent, Phase};

use super::args::EditFileArgs;
use super::json::print_json;
use super::Context;
use crate::compose::{self, CgroupChoice, Plan, PlannedStep, StepTag, VulnerabilityGate};
use crate::exec::{self, RunOptions, StepStatus};
use crate::{render, Error};

/// What `edit-file --dry-run --output json` prints.
#[derive(serde::Serialize)]
pub struct EditPreview {
    /// Whether the edit would change the file.
    pub changed: bool,
    /// The unified diff, when the file exists and would change.
    pub diff: Option<String>,
    /// Why the edit would be skipped (the file is one another tool writes, and it is not
    /// there yet), as run reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Runs `installer edit-file`.
pub fn run(ctx: &Context, args: &EditFileArgs) -> Result<ExitCode, Error> {
    let merge: FileContent = serde_json::from_str(&args.merge).map_err(|e| {
        Error::input(
            format!("--merge is not an edit: {e}"),
            "give the `merge` object of a `merge_file` action as `plan --output json` prints it, e.g. '{\"how\":\"json_merge\",\"value\":{\"log-driver\":\"json-file\"}}'",
        )
    })?;
    let mode = u32::from_str_radix(args.mode.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| {
            Error::input(
                format!("--mode {:?} is not octal permission bits", args.mode),
                "write it as 0644",
            )
        })?;
    // An edit of a document another tool writes (kubeadm's kubelet configuration) is skipped
    // while the file is missing: run says so, and so does the preview.
    let skipped_when_missing = exec::yaml_document_missing(&args.path, &merge);
    let action = Action::MergeFile {
        path: args.path.clone(),
        mode,
        merge,
        owner: args.owner.clone(),
        group: args.group.clone(),
    };
    compose::check_edit(&action)?;
    for key in &args.overrides {
        crate::options::check_value(key, "--override")?;
    }
    let target = ctx.target()?;
    let plan = one_edit(action, &args.overrides);
    let seen = exec::preflight(&plan, &target);
    if !seen.problems.is_empty() {
        return Err(Error::input(
            format!("cannot edit {}: {}", args.path, seen.problems.join("; ")),
            "fix the file (it must parse), or name a conflicting key with --override; nothing was changed",
        ));
    }
    if args.dry_run {
        let diff = seen.diffs.get(&args.path).cloned();
        let missing = !target.exists(&args.path);
        let skipped = skipped_when_missing.filter(|_| missing);
        let changed = diff.is_some() || (missing && skipped.is_none());
        if ctx.json() {
            print_json(&EditPreview {
                changed,
                diff,
                skipped,
            });
        } else {
            match (diff, skipped) {
                (_, Some(why)) => println!("skipped: {}", render::printable(&why)),
                (Some(d), None) => print!("{}", render::printable(&d)),
                (None, None) if changed => println!("{} would be created", args.path),
                (None, None) => println!("{}: no change", args.path),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let opts = RunOptions {
        lock_timeout: Duration::from_secs(args.lock_timeout),
        allow_insecure_repo: false,
    };
    let report = exec::run(&plan, &target, &opts, &mut |_, _, _| {});
    if ctx.json() {
        print_json(&report);
    } else if let Some(step) = report.steps.first() {
        match step.status {
            StepStatus::Changed => println!("changed: {}", args.path),
            // The reason is the step's note (the file another tool writes is not there).
            StepStatus::Skipped => {
                let why = step.notes.join("; ");
                println!("skipped: {}", render::printable(&why));
            }
            _ => println!("unchanged: {}", args.path),
        }
        for d in &step.diffs {
            print!("{}", render::printable(d));
        }
    }
    match &report.error {
        None => Ok(ExitCode::SUCCESS),
        Some(failure) => {
            eprintln!("error: {}", render::printable(&failure.message));
            Ok(crate::error::Exit::Failed.into())
        }
    }
}

/// A plan of one step: the edit.
fn one_edit(action: Action, overrides: &[String]) -> Plan {
    let Action::MergeFile { path, .. } = &action else {
        unreachable!("built above as a merge_file action")
    };
    Plan {
        distro: Distro {
            id: String::new(),
            name: String::new(),
            family: String::new(),
            package_manager: String::new(),
            os_id: String::new(),
            version_id: None,
            codename: None,
            arch: String::new(),
            vars: BTreeMap::new(),
        },
        runtime: String::new(),
        plugins: Vec::new(),
        cgroup_driver: CgroupChoice {
            driver: CgroupDriver::default(),
            reason: String::new(),
        },
        steps: vec![PlannedStep {
            phase: Phase::Configuration,
            plugins: vec!["edit-file".to_owned()],
            summary: format!("edit {path}"),
            why: String::new(),
            kind: StepTag::File,
            actions: vec![action],
            image_root: Vec::new(),
        }],
        facts: BTreeMap::new(),
        warnings: Vec::new(),
        vulnerabilities: VulnerabilityGate::default(),
        overrides: overrides.to_vec(),
        configures_kubelet: false,
        migration: None,
    }
}
