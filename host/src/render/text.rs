//! The plan as text for people: grouped by phase, each step with who asked for it and why,
//! and under each file the plan changes the diff [`crate::exec::preflight`] found.

use std::fmt::Write as _;

use plugin_api::{Action, Expect, FileContent, Probe, TomlEdit};

use super::{by_phase, plugin_files, sh_quote};
use crate::compose::Plan;
use crate::exec::{Preflight, Verdict};

/// The plan as readable text, grouped by phase; each step says who asked for it and why.
/// Under each file write or merge that would change a file that exists on the target, the
/// unified diff `seen` holds; the problems `seen` found are warnings.
pub fn text(plan: &Plan, seen: &Preflight) -> String {
    let mut out = String::new();
    let d = &plan.distro;
    let _ = writeln!(
        out,
        "Plan: runtime {} on {} ({}), {} family, package manager {}",
        plan.runtime, d.id, d.name, d.family, d.package_manager
    );
    let plugins: Vec<String> = plan
        .plugins
        .iter()
        .map(|p| format!("{} {} ({})", p.name, p.version, p.kind))
        .collect();
    let _ = writeln!(out, "Plugins: {}", plugins.join(", "));
    out.push_str(&plugin_files(&plan.plugins));
    let _ = writeln!(out, "cgroup driver: {}", plan.cgroup_driver.reason);
    for (k, v) in &plan.facts {
        let _ = writeln!(out, "{}: {v}", k.replace('_', " "));
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for problem in &seen.problems {
        let _ = writeln!(
            out,
            "warning: {problem}; `run` will refuse to start until it is fixed"
        );
    }
    for check in &seen.node {
        let detail = check.detail.as_deref().unwrap_or("");
        match check.status {
            Verdict::Fail => {
                let _ = writeln!(
                    out,
                    "warning: {detail}; `run` will refuse (fix: {})",
                    check.fix.as_deref().unwrap_or("")
                );
            }
            Verdict::Warn => {
                let _ = writeln!(out, "warning: {}: {detail}", check.check);
            }
            Verdict::Pass | Verdict::Skip => {}
        }
    }
    let mut n = 0;
    for (phase, steps) in by_phase(plan) {
        let _ = writeln!(out, "\n== {}", phase.as_str());
        for step in steps {
            n += 1;
            let _ = writeln!(out, "{n:>2}. {}  [{}]", step.summary, step.asked_by());
            if !step.why.is_empty() {
                let _ = writeln!(out, "    why: {}", step.why);
            }
            for action in &step.actions {
                for (i, line) in describe(action).lines().enumerate() {
                    let _ = writeln!(out, "    {}{line}", if i == 0 { "- " } else { "  " });
                }
                if let Action::Run { argv, .. } = action {
                    if let Some(c) = step.image_root.iter().find(|c| &c.argv == argv) {
                        let _ = writeln!(out, "      {}", c.detail);
                    }
                }
                if let Some(diff) = seen.diff(action) {
                    for line in diff.lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                }
            }
        }
    }
    if n == 0 {
        out.push_str("\n(no steps)\n");
    }
    out
}

/// A command line for reading: arguments quoted only where a reader would misparse them.
fn display_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^~<>".contains(c));
            if plain {
                a.clone()
            } else {
                sh_quote(a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn probe_text(probe: &Probe) -> String {
    let cmd = display_argv(&probe.argv);
    match &probe.expect {
        Expect::Success => format!("`{cmd}` succeeds"),
        Expect::StdoutContains(t) => format!("`{cmd}` prints {t:?}"),
        Expect::StdoutLacks(t) => format!("`{cmd}` succeeds and never prints {t:?}"),
        Expect::StdoutEquals(t) => format!("`{cmd}` prints exactly {t:?}"),
        Expect::StdoutLines(lines) => format!(
            "`{cmd}` prints the lines {}",
            lines
                .iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  | {l}\n")).collect()
}

/// One action in words.
pub(super) fn describe(action: &Action) -> String {
    match action {
        Action::WriteFile {
            path,
            mode,
            content,
            owner,
            group,
        } => format!(
            "write {path} (mode {mode:04o}{}):\n{}",
            owner_text(owner, group),
            indent(content)
        ),
        Action::MergeFile { path, merge, .. } => match merge {
            FileContent::EnvFlags {
                variable,
                set,
                remove,
            } => {
                let mut s = format!(
                    "edit the flags {variable} holds in {path} (other flags and lines kept):\n"
                );
                for (k, v) in set {
                    let _ = writeln!(s, "  set {k}={v}");
                }
                for k in remove {
                    let _ = writeln!(s, "  drop {k}");
                }
                s.trim_end().to_owned()
            }
            FileContent::YamlSet { values } => {
                let mut s =
                    format!("set in {path} (an existing YAML document; other keys and comments kept):\n");
                for (k, v) in values {
                    let _ = writeln!(s, "  {k}: {v}");
                }
                s.trim_end().to_owned()
            }
            FileContent::JsonMerge { value } => format!(
                "merge into {path} (other keys kept):\n{}",
                indent(&serde_json::to_string_pretty(value).unwrap_or_default())
            ),
            FileContent::TomlEdit { edits, initial } => {
                let mut s = format!("edit {path} in place (other settings and comments kept):\n");
                for e in edits {
                    match e {
                        TomlEdit::Set { path, value } => {
                            let _ =
                                writeln!(s, "  set {} = {value}", crate::merge::toml_dotted(path));
                        }
                        TomlEdit::SetDefault { path, value } => {
                            let _ = writeln!(
                                s,
                                "  set {} = {value} where the file has no value (one there stays)",
                                crate::merge::toml_dotted(path)
                            );
                        }
                        TomlEdit::SetWhere {
                            tables,
                            when_key,
                            when_values,
                            path,
                            aliases,
                            value,
                        } => {
                            let _ = writeln!(
                                s,
                                "  set {} = {value} in every table of {} whose {when_key} is {}{}",
                                crate::merge::toml_dotted(path),
                                crate::merge::toml_dotted(tables),
                                when_values
                                    .iter()
                                    .map(|v| v.to_string())
                                    .collect::<Vec<_>>()
                                    .join(" or "),
                                if aliases.is_empty() {
                                    String::new()
                                } else {
                                    format!(" (or its spelling {})", aliases.join(", "))
                                }
                            );
                        }
                        TomlEdit::RemoveFromArray { path, values } => {
                            let vals: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                            let _ = writeln!(
                                s,
                                "  remove {} from {}",
                                vals.join(", "),
                                crate::merge::toml_dotted(path)
                            );
                        }
                    }
                }
                if initial.is_some() {
                    s.push_str("  (a minimal valid file is written first when none exists)\n");
                }
                s
            }
            FileContent::Full { text } => format!("write {path}:\n{}", indent(text)),
        },
        Action::RemoveFile { path } => format!("remove {path}"),
        Action::Download {
            url,
            sha256,
            member,
            path,
            mode,
        } => match member {
            Some(member) => format!(
                "install {member} from the archive {url} (sha256 {}, checked before the run changes anything) at {path} (mode {mode:04o})",
                sha256.to_ascii_lowercase()
            ),
            None => format!(
                "install {url} (sha256 {}, checked before the run changes anything) at {path} (mode {mode:04o})",
                sha256.to_ascii_lowercase()
            ),
        },
        Action::FetchKey {
            url,
            fingerprints,
            dest,
        } => {
            format!(
                "fetch the signing key {url}, check its fingerprint is {}, store it at {dest}",
                fingerprints.join(" or ")
            )
        }
        Action::Run {
            argv,
            env,
            unless,
            resolve,
            ..
        } => {
            let envs: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
            let mut s = format!("run: {envs}{}", display_argv(argv));
            for r in resolve {
                let _ = write!(
                    s,
                    "\n  where {} is the newest {} version matching {} (whole components) in `{}`",
                    r.placeholder,
                    r.package,
                    r.pin,
                    r.query.join(" ")
                );
            }
            if let Some(p) = unless {
                let _ = write!(s, "\n  skipped when {}", probe_text(p));
            }
            s
        }
        Action::Service {
            unit,
            daemon_reload,
            enable,
            start,
            restart_when_changed,
            stop,
            disable,
        } => {
            let mut parts = Vec::new();
            if *stop {
                parts.push(format!("stop {unit} if active"));
            }
            if *disable {
                parts.push(format!("disable {unit}"));
            }
            if *daemon_reload {
                parts.push("daemon-reload".to_owned());
            }
            if *enable {
                parts.push(format!("enable {unit}"));
            }
            if *start {
                parts.push(format!("start {unit} if inactive"));
            }
            if !restart_when_changed.is_empty() {
                parts.push(format!(
                    "restart {unit} only if {} changed in this run",
                    restart_when_changed
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
            format!(
                "systemd: {} (skipped where systemd is not running)",
                parts.join("; ")
            )
        }
        Action::Check(c) => format!("check: {} ({})", c.description, probe_text(&c.probe)),
        Action::SkipIf(guard) => format!(
            "when {}: skip the rest of this step and warn: {}",
            probe_text(&guard.probe),
            guard.warning
        ),
        Action::Unknown => unreachable!("compose refuses unknown action kinds"),
    }
}

/// ", owner u:g" for the plan's text, when named.
fn owner_text(owner: &Option<String>, group: &Option<String>) -> String {
    match (owner, group) {
        (None, None) => String::new(),
        (o, g) => format!(
            ", owner {}:{}",
            o.as_deref().unwrap_or("-"),
            g.as_deref().unwrap_or("-")
        ),
    }
}
