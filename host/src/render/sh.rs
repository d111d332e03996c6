//! The plan as a POSIX shell script that does what `run` does, less the rollback; the
//! shell helpers it carries are the `.sh` files beside this one, which shellcheck checks
//! on their own.

use std::fmt::Write as _;

use plugin_api::{Action, Expect, FileContent, Probe, RestartTrigger, TomlEdit};

use super::{by_phase, sh_quote};
use crate::compose::Plan;

fn sh_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shell functions every rendered script carries.
const PRELUDE: &str = include_str!("prelude.sh");

/// The functions a script with downloads needs; `$downloads` is the directory they go to.
const DOWNLOADS: &str = include_str!("downloads.sh");

/// The plan as a POSIX shell script: run by `sh` as root on the target, it does what `run`
/// does, less the rollback. Every value is single-quoted.
pub fn sh(plan: &Plan) -> String {
    let mut out = head(plan);
    // Every comment is one line, whatever a path or plugin put in the text.
    let _ = writeln!(
        out,
        "# cgroup driver: {}",
        one_line(&plan.cgroup_driver.reason)
    );
    out.push_str(&libraries(&[plan]));
    out.push_str(&body(plan));
    out
}

/// The first lines: what rendered the script, for what, and how to use it.
pub(super) fn head(plan: &Plan) -> String {
    let mut out = String::new();
    out.push_str("#!/bin/sh\n");
    out.push_str("# Values are single-quoted on purpose, so that nothing in them expands:\n");
    out.push_str("# shellcheck disable=SC2016\n");
    let _ = writeln!(
        out,
        "# Rendered by installer {} from the plan for runtime {} on {}.",
        env!("CARGO_PKG_VERSION"),
        one_line(&plan.runtime),
        one_line(&plan.distro.id)
    );
    out.push_str("# Review it, then run it as root on the target. Each step checks first and skips what is\n");
    out.push_str("# already done, so running it twice changes nothing the second time.\n");
    out
}

/// The shell functions the plans' steps call: the prelude, and the config-edit and download
/// helpers when any of them needs them.
pub(super) fn libraries(plans: &[&Plan]) -> String {
    let any = |pick: &dyn Fn(&Action) -> bool| {
        plans
            .iter()
            .flat_map(|p| &p.steps)
            .flat_map(|s| &s.actions)
            .any(pick)
    };
    let mut out = String::from(PRELUDE);
    if any(&|a| matches!(a, Action::MergeFile { .. })) {
        out.push('\n');
        out.push_str(CONFIG_EDITS);
    }
    if any(&|a| matches!(a, Action::Download { .. })) {
        out.push_str(DOWNLOADS);
    }
    out
}

/// What the plan does: the preflight (tools, downloads, config files checked before any
/// change), then every step in order.
pub(super) fn body(plan: &Plan) -> String {
    let mut out = String::new();
    // Preflight: tools the script needs, and merges it cannot do, checked before any change.
    out.push_str("\n# Preflight: nothing has changed yet.\n");
    let mut tools = vec!["awk", "grep", "mktemp", "sort"];
    let actions: Vec<&Action> = plan.steps.iter().flat_map(|s| &s.actions).collect();
    if actions.iter().any(|a| matches!(a, Action::FetchKey { .. })) {
        tools.extend(["curl", "gpg"]);
    }
    let downloads: Vec<(&String, &String, &Option<String>)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Download {
                url,
                sha256,
                member,
                ..
            } => Some((url, sha256, member)),
            _ => None,
        })
        .collect();
    if !downloads.is_empty() {
        for tool in ["curl", "sha256sum", "tar", "cmp"] {
            if !tools.contains(&tool) {
                tools.push(tool);
            }
        }
    }
    if actions.iter().any(|a| {
        matches!(
            a,
            Action::MergeFile {
                merge: FileContent::JsonMerge { .. },
                ..
            }
        )
    }) {
        tools.push("jq");
    }
    let _ = writeln!(
        out,
        "for tool in {}; do command -v \"$tool\" >/dev/null 2>&1 || {{ say \"this script needs $tool; install it, or use 'installer run'\"; exit 2; }}; done",
        tools.join(" ")
    );
    // Downloads are fetched and checked now, as `run` does, so that a wrong file changes
    // nothing.
    if !downloads.is_empty() {
        out.push_str("downloads=$(mktemp -d)\ntrap 'rm -rf -- \"$downloads\"' EXIT\n");
        let mut seen = Vec::new();
        for (url, sha256, member) in downloads {
            let sha256 = sha256.to_ascii_lowercase();
            if !seen.contains(&(sha256.clone(), member)) {
                let _ = writeln!(
                    out,
                    "fetch_verified {} {} {}",
                    sh_quote(url),
                    sh_quote(&sha256),
                    sh_quote(member.as_deref().unwrap_or(""))
                );
                seen.push((sha256, member));
            }
        }
    }
    // Config files the site already has are edited where they stand, as `run` does: check
    // now, before any change, that each can be (no conflict, no form the script cannot edit).
    for a in &actions {
        if let Action::MergeFile { path, merge, .. } = a {
            let _ = writeln!(
                out,
                "[ ! -f {p} ] || {check} >/dev/null",
                p = sh_quote(path),
                check = sh_merge_call(path, merge, &plan.overrides, true)
            );
        }
    }

    let mut n = 0;
    for (phase, steps) in by_phase(plan) {
        let _ = writeln!(out, "\n# ==== {}", phase.as_str());
        for step in steps {
            n += 1;
            let _ = writeln!(
                out,
                "\n# {n}. {} [{}]",
                one_line(&step.summary),
                one_line(&step.asked_by())
            );
            if !step.why.is_empty() {
                let _ = writeln!(out, "#    why: {}", one_line(&step.why));
            }
            let _ = writeln!(
                out,
                "say {}",
                sh_quote(&format!("step {n}: {}", step.summary))
            );
            // A guard wraps the rest of the step: `if conflict; then warn; else ...; fi`.
            let mut guards = 0;
            let kernel_step = step.kind.changes_the_kernel();
            for action in &step.actions {
                if let Action::SkipIf(guard) = action {
                    let _ = writeln!(
                        out,
                        "if {}; then\n  say {}\nelse",
                        sh_probe(&guard.probe),
                        sh_quote(&format!("warning: {}", guard.warning))
                    );
                    guards += 1;
                } else if kernel_step && matches!(action, Action::Run { .. }) {
                    // As `run --root` does: the running kernel is not an image root's.
                    let _ = write!(
                        out,
                        "if on_this_kernel; then\n{}else\n  say {}\nfi\n",
                        sh_action(action, &plan.overrides),
                        sh_quote("skipped: not on the running system (a chroot or an image root); the setting takes effect when it boots")
                    );
                } else {
                    out.push_str(&sh_action(action, &plan.overrides));
                }
            }
            out.push_str(&"fi\n".repeat(guards));
        }
    }
    out.push_str("\nsay 'done'\n");
    out
}

/// Comments stay one line whatever a plugin put in a summary.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Quotes `a`, turning each placeholder in it into a reference to its shell variable:
/// `'docker-ce='"$v0"''`.
fn splice_quote(a: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut rest = a;
    loop {
        let next = vars
            .iter()
            .filter_map(|(ph, var)| rest.find(ph).map(|i| (i, *ph, var)))
            .min_by_key(|(i, ..)| *i);
        match next {
            Some((i, ph, var)) => {
                out.push_str(&sh_quote(&rest[..i]));
                out.push_str(&format!("\"${var}\""));
                rest = &rest[i + ph.len()..];
            }
            None => {
                out.push_str(&sh_quote(rest));
                return out;
            }
        }
    }
}

fn sh_probe(probe: &Probe) -> String {
    sh_test(probe, &|a: &String| sh_quote(a))
}

/// A shell test that succeeds when the probe says "yes"; `q` quotes each word.
fn sh_test(probe: &Probe, q: &dyn Fn(&String) -> String) -> String {
    let cmd = probe.argv.iter().map(q).collect::<Vec<_>>().join(" ");
    match &probe.expect {
        Expect::Success => format!("quiet {cmd}"),
        Expect::StdoutContains(t) => format!("{cmd} 2>/dev/null | grep -qF -- {}", q(t)),
        Expect::StdoutLacks(t) => format!("prints_no {} {cmd}", q(t)),
        Expect::StdoutEquals(t) => format!("[ \"$({cmd} 2>/dev/null)\" = {} ]", q(t)),
        Expect::StdoutLines(lines) => {
            format!(
                "have_lines \"$({cmd} 2>/dev/null)\" {}",
                lines.iter().map(q).collect::<Vec<_>>().join(" ")
            )
        }
    }
}

/// The shell functions that edit config files as `run` does (edits.sh).
const CONFIG_EDITS: &str = include_str!("edits.sh");

/// A merge in shell, with `run`'s semantics: an existing file is edited where it stands
/// (`json_file` with jq, `toml_apply` with awk); a missing one is written as `run` would
/// write it.
fn sh_merge(path: &str, mode: u32, merge: &FileContent, overrides: &[String]) -> String {
    let p = sh_quote(path);
    let m = sh_quote(&format!("{mode:04o}"));
    match merge {
        FileContent::JsonMerge { value } => format!(
            "json_file {p} {m} {}{}\n",
            sh_quote(&serde_json::to_string_pretty(value).unwrap_or_default()),
            overrides_args(overrides)
        ),
        FileContent::TomlEdit { .. } => match crate::merge::apply(path, None, merge) {
            Ok(fresh) => format!(
                "if [ -f {p} ]; then\n  text=$({edit})\n  write_file {p} {m} \"$text\n\"\nelse\n  write_file {p} {m} {fresh}\nfi\n",
                // The preflight checked the site's file for conflicts; one a package put
                // there since takes the plan's values, as in `run`.
                edit = sh_merge_call(path, merge, overrides, false),
                fresh = sh_quote(&fresh)
            ),
            Err(e) => format!("say {}; exit 2\n", sh_quote(&e.to_string())),
        },
        FileContent::Full { text } => format!("write_file {p} {m} {}\n", sh_quote(text)),
        FileContent::YamlSet { values } => format!("kubeadm_file yaml_set {p} {m}{}\n", yaml_args(values)),
        FileContent::EnvFlags {
            variable,
            set,
            remove,
        } => format!(
            "kubeadm_file env_flags {p} {m} {}{}\n",
            sh_quote(variable),
            flag_args(set, remove)
        ),
    }
}

/// `set FLAG VALUE ... drop FLAG ...` for `env_flags`, quoted.
fn flag_args(set: &std::collections::BTreeMap<String, String>, remove: &[String]) -> String {
    set.iter()
        .map(|(k, v)| format!(" set {} {}", sh_quote(k), sh_quote(v)))
        .chain(remove.iter().map(|k| format!(" drop {}", sh_quote(k))))
        .collect()
}

/// `KEY VALUE ...` for `yaml_set`, quoted.
fn yaml_args(values: &std::collections::BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(k, v)| format!(" {} {}", sh_quote(k), sh_quote(v)))
        .collect()
}

fn overrides_args(overrides: &[String]) -> String {
    overrides
        .iter()
        .map(|o| format!(" {}", sh_quote(o)))
        .collect()
}

/// The command printing the file at `path` with `merge` applied (it stops the script,
/// naming the file, when the merge cannot be done).
fn sh_merge_call(path: &str, merge: &FileContent, overrides: &[String], strict: bool) -> String {
    match merge {
        FileContent::YamlSet { values } => {
            format!("yaml_set {}{}", sh_quote(path), yaml_args(values))
        }
        FileContent::EnvFlags {
            variable,
            set,
            remove,
        } => format!(
            "env_flags {} {}{}",
            sh_quote(path),
            sh_quote(variable),
            flag_args(set, remove)
        ),
        FileContent::JsonMerge { value } => format!(
            "json_merge_or_stop {} {}{}",
            sh_quote(path),
            sh_quote(&serde_json::to_string_pretty(value).unwrap_or_default()),
            overrides_args(overrides)
        ),
        FileContent::TomlEdit { edits, .. } => {
            let mut call = format!(
                "toml_apply {} {} {}",
                sh_quote(path),
                if strict { "strict" } else { "lenient" },
                sh_quote(&overrides.join("\n"))
            );
            for edit in edits {
                if let TomlEdit::SetWhere {
                    tables,
                    when_key,
                    when_values,
                    path: below,
                    aliases,
                    value,
                } = edit
                {
                    // `each TABLES WHEN_KEY WHEN_VALUES 'BELOW<tab>ALIASES<tab>VALUE'`, expanded
                    // by the script into a set per selected table (edits.sh).
                    let _ = write!(
                        call,
                        " each {} {} {} {}",
                        sh_quote(&crate::merge::toml_dotted(tables)),
                        sh_quote(&crate::merge::toml_dotted(std::slice::from_ref(when_key))),
                        sh_quote(
                            &when_values
                                .iter()
                                .map(toml_literal)
                                .collect::<Vec<_>>()
                                .join("\n")
                        ),
                        sh_quote(&format!(
                            "{}\t{}\t{}",
                            crate::merge::toml_dotted(below),
                            aliases.join(" "),
                            toml_literal(value)
                        ))
                    );
                    continue;
                }
                let (op, keys, value) = match edit {
                    TomlEdit::SetWhere { .. } => unreachable!("written above"),
                    TomlEdit::Set { path, value } => ("set", path, toml_literal(value)),
                    TomlEdit::SetDefault { path, value } => ("default", path, toml_literal(value)),
                    TomlEdit::RemoveFromArray { path, values } => (
                        "remove",
                        path,
                        values
                            .iter()
                            .map(toml_literal)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                };
                let Some((key, tables)) = keys.split_last() else {
                    continue;
                };
                // Where each next table could already be defined as a dotted key or an
                // inline table of the one before.
                let guards: Vec<String> = (0..tables.len())
                    .map(|i| {
                        format!(
                            "{}\t{}",
                            crate::merge::toml_dotted(&tables[..i]),
                            crate::merge::toml_dotted(&tables[i..=i])
                        )
                    })
                    .collect();
                let _ = write!(
                    call,
                    " {op} {} {} {} {}",
                    sh_quote(&crate::merge::toml_dotted(tables)),
                    sh_quote(&crate::merge::toml_dotted(std::slice::from_ref(key))),
                    sh_quote(&value),
                    sh_quote(&guards.join("\n"))
                );
            }
            call
        }
        FileContent::Full { text } => format!("printf '%s' {}", sh_quote(text)),
    }
}

/// A value as TOML writes it, as the in-place edit of `run` would.
fn toml_literal(value: &serde_json::Value) -> String {
    crate::merge::toml_value(value)
        .map(|v| v.to_string().trim().to_owned())
        .unwrap_or_default()
}

/// `chown` after a write, when the plan names an owner or group.
fn sh_chown(path: &str, owner: &Option<String>, group: &Option<String>) -> String {
    match (owner, group) {
        (None, None) => String::new(),
        (o, g) => format!(
            "chown {} {}\n",
            sh_quote(&format!(
                "{}{}",
                o.as_deref().unwrap_or(""),
                g.as_ref().map(|g| format!(":{g}")).unwrap_or_default()
            )),
            sh_quote(path)
        ),
    }
}

fn sh_action(action: &Action, overrides: &[String]) -> String {
    match action {
        Action::WriteFile {
            path,
            mode,
            content,
            owner,
            group,
        } => {
            format!(
                "write_file {} {} {}\n{}",
                sh_quote(path),
                sh_quote(&format!("{mode:04o}")),
                sh_quote(content),
                sh_chown(path, owner, group)
            )
        }
        Action::MergeFile {
            path,
            mode,
            merge,
            owner,
            group,
        } => sh_merge(path, *mode, merge, overrides) + &sh_chown(path, owner, group),
        Action::RemoveFile { path } => format!(
            "if [ -e {p} ]; then backup {p}; rm -f -- {p}; note_changed {p}; fi\n",
            p = sh_quote(path),
        ),
        Action::Download {
            sha256,
            member,
            path,
            mode,
            ..
        } => format!(
            "install_download {} {} {} {}\n",
            sh_quote(&sha256.to_ascii_lowercase()),
            sh_quote(member.as_deref().unwrap_or("")),
            sh_quote(path),
            sh_quote(&format!("{mode:04o}"))
        ),
        Action::FetchKey {
            url,
            fingerprints,
            dest,
        } => {
            let fprs: Vec<String> = fingerprints
                .iter()
                .map(|f| f.replace(' ', "").to_uppercase())
                .collect();
            format!(
                "key_is {d} {f} || fetch_key {u} {d} {f}\n",
                d = sh_quote(dest),
                u = sh_quote(url),
                f = sh_argv(&fprs)
            )
        }
        Action::Run {
            argv,
            env,
            unless,
            transaction,
            resolve,
            audit: _,
        } => {
            let mut s = String::new();
            let mut vars = Vec::new();
            let mut probe_guard: Vec<String> = Vec::new();
            for (i, r) in resolve.iter().enumerate() {
                let var = format!("v{i}");
                let _ = writeln!(
                    s,
                    "{var}=$({q} | resolve_version {pin} {nf} {vf} {sep} {names})",
                    q = sh_argv(&r.query),
                    pin = sh_quote(&r.pin),
                    nf = r.listing.name_field,
                    vf = r.listing.version_field,
                    sep = sh_quote(r.listing.separator.as_deref().unwrap_or("")),
                    names = sh_argv(&r.listing.names),
                );
                // Needed by the command: no version is an error. Needed only by the probe
                // (a refresh that comes before the version can be known): run the command.
                if argv.iter().any(|a| a.contains(&r.placeholder)) {
                    let _ = writeln!(
                        s,
                        "[ -n \"${var}\" ] || {{ say {}; exit 1; }}",
                        sh_quote(&format!(
                            "no version of {} matches {} in the repositories",
                            r.package, r.pin
                        ))
                    );
                } else {
                    probe_guard.push(format!("[ -n \"${var}\" ]"));
                }
                vars.push((r.placeholder.as_str(), var));
            }
            // Each placeholder becomes a variable reference outside the quotes.
            let q = |a: &String| splice_quote(a, &vars);
            let envs: Vec<String> = env
                .iter()
                .map(|(k, v)| sh_quote(&format!("{k}={v}")))
                .collect();
            let args: Vec<String> = argv.iter().map(q).collect();
            let cmd = if envs.is_empty() {
                args.join(" ")
            } else {
                format!("env {} {}", envs.join(" "), args.join(" "))
            };
            let after = if *transaction {
                "; note_changed packages"
            } else {
                ""
            };
            match unless {
                Some(p) => {
                    let test = if probe_guard.is_empty() {
                        sh_test(p, &q)
                    } else {
                        format!("{{ {} && {}; }}", probe_guard.join(" && "), sh_test(p, &q))
                    };
                    let _ = writeln!(s, "if ! {test}; then {cmd}{after}; fi");
                }
                None => {
                    let _ = writeln!(s, "{cmd}{after}");
                }
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
            let u = sh_quote(unit);
            let mut s = String::from("if [ -d /run/systemd/system ]; then\n");
            if *stop {
                let _ = writeln!(
                    s,
                    "  ! systemctl is-active --quiet {u} || systemctl stop {u}"
                );
            }
            if *disable {
                let _ = writeln!(
                    s,
                    "  ! systemctl is-enabled --quiet {u} || systemctl disable {u}"
                );
            }
            if *daemon_reload {
                s.push_str("  systemctl daemon-reload\n");
            }
            if *enable {
                let _ = writeln!(
                    s,
                    "  systemctl is-enabled --quiet {u} || systemctl enable {u}"
                );
            }
            if !restart_when_changed.is_empty() {
                let conds: Vec<String> = restart_when_changed
                    .iter()
                    .map(|c| match c {
                        RestartTrigger::Package(_) => "was_changed packages".to_owned(),
                        RestartTrigger::File(path) => format!("was_changed {}", sh_quote(path)),
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "  if {}; then systemctl restart {u}; fi",
                    conds.join(" || ")
                );
            }
            if *start {
                let _ = writeln!(
                    s,
                    "  systemctl is-active --quiet {u} || systemctl start {u}"
                );
            }
            let _ = writeln!(
                s,
                "else\n  say {}\nfi",
                sh_quote(&format!(
                    "skipped {unit}: systemd is not running here (a chroot or an image root)"
                ))
            );
            s
        }
        // Rendered by the step loop, which wraps the rest of the step.
        Action::SkipIf(_) => String::new(),
        Action::Unknown => unreachable!("compose refuses unknown action kinds"),
        Action::Check(c) => format!(
            "if ! {}; then say {}; exit 1; fi\n",
            sh_probe(&c.probe),
            sh_quote(&format!("check failed: {}", c.description))
        ),
    }
}

#[cfg(test)]
mod tests;

/// The script's config edits against `run`'s, on the files sites really have: the same
/// TOML, key for key, or a refusal where the script cannot edit safely.
#[cfg(test)]
mod config_edit_parity;
