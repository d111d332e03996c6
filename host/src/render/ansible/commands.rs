//! Commands as tasks: a plugin's probes, version resolution on the node, and the commands
//! Ansible has a module for (packages, holds, keys, kernel settings) or runs as they are.

use super::actions::{task, with_when};
use super::*;

/// A probe as a read-only task, and the Jinja condition true when it says "yes", with the
/// task vars the condition reads (the expected text, kept out of the template).
pub(super) fn probe_tasks(
    summary: &str,
    probe: &Probe,
    versions: &BTreeMap<String, String>,
    ctx: &mut Ctx,
) -> (Vec<Y>, String, Y) {
    let register = ctx.var("probe");
    let t = task(
        &format!("{summary}: already done?"),
        "ansible.builtin.command",
        map([(
            "argv",
            Y::Seq(probe.argv.iter().map(|a| arg(a, versions)).collect()),
        )]),
        vec![
            ("register", Y::text(register.clone())),
            ("changed_when", Y::Bool(false)),
            ("failed_when", Y::Bool(false)),
            ("check_mode", Y::Bool(false)),
        ],
    );
    let ok = format!("{register}.rc == 0");
    let (cond, vars) = match &probe.expect {
        Expect::Success => (ok, vec![]),
        Expect::StdoutContains(s) => (
            format!("{ok} and installer_expect in {register}.stdout"),
            vec![("installer_expect".to_owned(), arg(s, versions))],
        ),
        Expect::StdoutLacks(s) => (
            format!("{ok} and installer_expect not in {register}.stdout"),
            vec![("installer_expect".to_owned(), arg(s, versions))],
        ),
        Expect::StdoutEquals(s) => (
            format!("{ok} and {register}.stdout | trim == installer_expect | trim"),
            vec![("installer_expect".to_owned(), arg(s, versions))],
        ),
        Expect::StdoutLines(lines) => (
            format!(
                "{ok} and installer_expect | difference({register}.stdout_lines) | length == 0"
            ),
            vec![(
                "installer_expect".to_owned(),
                Y::Seq(lines.iter().map(|l| arg(l, versions)).collect()),
            )],
        ),
    };
    (vec![t], format!("({cond})"), Y::Map(vars))
}

/// An argument from a plan: literal, or a Jinja expression where it holds a version
/// placeholder the node resolves (`'containerd.io=' ~ installer_version1`).
pub(super) fn arg(a: &str, versions: &BTreeMap<String, String>) -> Y {
    let mut rest = a;
    let mut parts: Vec<String> = Vec::new();
    loop {
        let next = versions
            .iter()
            .filter_map(|(ph, var)| rest.find(ph.as_str()).map(|i| (i, ph, var)))
            .min_by_key(|(i, ..)| *i);
        match next {
            Some((i, ph, var)) => {
                if i > 0 {
                    parts.push(jinja_literal(&rest[..i]));
                }
                parts.push(var.clone());
                rest = &rest[i + ph.len()..];
            }
            None => break,
        }
    }
    if parts.is_empty() {
        return Y::text(a);
    }
    if !rest.is_empty() {
        parts.push(jinja_literal(rest));
    }
    Y::jinja(format!("{{{{ {} }}}}", parts.join(" ~ ")))
}

/// A string literal inside a Jinja expression.
pub(super) fn jinja_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The words after `install` that are not options: the package specs of an install command.
pub(super) fn install_specs(argv: &[String]) -> Option<Vec<String>> {
    let at = argv.iter().position(|a| a == "install")?;
    Some(
        argv[at + 1..]
            .iter()
            .filter(|a| !a.starts_with('-'))
            .cloned()
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run_tasks(
    step: &PlannedStep,
    argv: &[String],
    env: &BTreeMap<String, String>,
    unless: Option<&Probe>,
    transaction: bool,
    resolve: &[ResolveVersion],
    kernel: bool,
    ctx: &mut Ctx,
) -> Vec<Y> {
    let summary = step.summary.as_str();
    let mut out = Vec::new();
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    let mut resolved_conditions: Vec<String> = Vec::new();
    // Versions only the probe needs: unresolved, the probe cannot vouch (as in run).
    let mut probe_only: Vec<String> = Vec::new();
    for r in resolve {
        let needed = argv.iter().any(|a| a.contains(&r.placeholder));
        let (tasks, var) = resolve_tasks(r, needed, ctx);
        out.extend(tasks);
        if needed {
            resolved_conditions.push(format!("{var} != ''"));
        } else {
            probe_only.push(format!("{var} != ''"));
        }
        versions.insert(r.placeholder.clone(), var);
    }
    let program = argv.first().map(String::as_str).unwrap_or("");
    let pm = ctx.plan.distro.package_manager.as_str();
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    // As in run: only a package transaction changes packages (a refresh does not).
    let packages_changed: Vec<RestartTrigger> = if transaction {
        resolve
            .iter()
            .map(|r| RestartTrigger::Package(r.package.clone()))
            .chain(
                install_specs(argv)
                    .unwrap_or_default()
                    .into_iter()
                    .map(RestartTrigger::Package),
            )
            .collect()
    } else {
        Vec::new()
    };

    let mut check_mode_skips = false;
    // Ansible's own module where one does what the command does.
    let native: Option<(&str, Y)> = match (program, pm) {
        ("modprobe", _) if kernel && argv.len() == 2 => Some((
            "community.general.modprobe",
            map([
                ("name", Y::text(argv[1].clone())),
                ("state", Y::text("present")),
            ]),
        )),
        ("sysctl", _) if kernel && argv.len() == 3 && argv[1] == "-w" => {
            argv[2].split_once('=').map(|(k, v)| {
                (
                    "ansible.posix.sysctl",
                    map([
                        ("name", Y::text(k)),
                        ("value", Y::text(v)),
                        ("sysctl_set", Y::Bool(true)),
                        ("reload", Y::Bool(false)),
                        (
                            "sysctl_file",
                            Y::text(persist_file(step).unwrap_or_default()),
                        ),
                    ]),
                )
            })
        }
        ("install", _) if words.get(1) == Some(&"-d") && argv.len() == 5 && argv[2] == "-m" => {
            // As the plugin's probe (`test -d`): made when missing, an existing one left as
            // it is.
            let register = ctx.var("dir");
            let dir = argv[4].clone();
            out.push(task(
                &format!("{summary}: is {dir} there"),
                "ansible.builtin.stat",
                map([("path", Y::text(dir.clone()))]),
                vec![("register", Y::text(register.clone()))],
            ));
            out.push(task(
                summary,
                "ansible.builtin.file",
                map([
                    ("path", Y::text(dir.clone())),
                    ("state", Y::text("directory")),
                    ("mode", Y::text(argv[3].clone())),
                ]),
                vec![("when", Y::jinja(format!("not {register}.stat.exists")))],
            ));
            ctx.dirs.insert(dir);
            return out;
        }
        ("apt-get", "apt") if words.last() == Some(&"update") => Some((
            "ansible.builtin.apt",
            map([("update_cache", Y::Bool(true))]),
        )),
        ("apt-get", "apt") if words.contains(&"install") => install_specs(argv).map(|specs| {
            (
                "ansible.builtin.apt",
                map([
                    (
                        "name",
                        Y::Seq(specs.iter().map(|s| arg(s, &versions)).collect()),
                    ),
                    ("state", Y::text("present")),
                    ("install_recommends", Y::Bool(false)),
                    ("dpkg_options", Y::text("force-confdef,force-confold")),
                    ("lock_timeout", Y::Int(120)),
                ]),
            )
        }),
        ("dnf" | "yum", "dnf" | "yum") if words.contains(&"install") => {
            install_specs(argv).map(|specs| {
                (
                    if program == "dnf" {
                        "ansible.builtin.dnf"
                    } else {
                        "ansible.builtin.yum"
                    },
                    map([
                        (
                            "name",
                            Y::Seq(specs.iter().map(|s| arg(s, &versions)).collect()),
                        ),
                        ("state", Y::text("present")),
                        ("allow_downgrade", Y::Bool(true)),
                    ]),
                )
            })
        }
        // Both need what check mode does not install or fetch (the versionlock plugin, the
        // key file): they run for real only.
        ("dnf" | "yum", _) if words.get(1..3) == Some(&["versionlock", "add"]) => {
            check_mode_skips = true;
            Some((
                "community.general.yum_versionlock",
                map([
                    ("name", Y::texts(argv[3..].iter().cloned())),
                    ("state", Y::text("present")),
                ]),
            ))
        }
        ("rpm", _) if argv.len() == 3 && argv[1] == "--import" => {
            check_mode_skips = true;
            Some((
                "ansible.builtin.rpm_key",
                map([
                    ("key", Y::text(argv[2].clone())),
                    ("state", Y::text("present")),
                ]),
            ))
        }
        _ => None,
    };
    // apt-mark hold: one dpkg_selections task per package.
    if program == "apt-mark" && words.contains(&"hold") {
        let at = words.iter().position(|w| *w == "hold").unwrap_or(0);
        for p in &argv[at + 1..] {
            out.push(task(
                &format!("{summary}: {p}"),
                "ansible.builtin.dpkg_selections",
                map([("name", Y::text(p.clone())), ("selection", Y::text("hold"))]),
                vec![],
            ));
        }
        return out;
    }
    let mut conditions = resolved_conditions;
    if check_mode_skips {
        conditions.push("not ansible_check_mode".to_owned());
    }
    if kernel {
        // As run --root does: the running kernel is not an image root's.
        conditions.push("installer_live".to_owned());
    }
    let mut extra: Vec<(&str, Y)> = Vec::new();
    if !env.is_empty() {
        extra.push((
            "environment",
            Y::Map(
                env.iter()
                    .map(|(k, v)| (k.clone(), Y::text(v.clone())))
                    .collect(),
            ),
        ));
    }
    if let Some(n) = ctx.notify(&packages_changed) {
        extra.push(("notify", n));
    }
    // The plugin's own "already done?" decides whether a refresh or a command of its own
    // runs; Ansible's modules decide for themselves.
    let guarded = native.is_none() || words.last() == Some(&"update");
    let mut probe_vars = None;
    if let (true, Some(p)) = (guarded, unless) {
        let (probe, yes, vars) = probe_tasks(summary, p, &versions, ctx);
        out.extend(probe);
        let vouch: Vec<String> = probe_only.iter().cloned().chain([yes]).collect();
        conditions.push(format!("not ({})", vouch.join(" and ")));
        probe_vars = Some(vars);
    }
    if let Some(vars) = probe_vars {
        extra.push(("vars", vars));
    }
    let t = match native {
        Some((module, args)) => task(summary, module, args, extra),
        None => {
            extra.push(("changed_when", Y::Bool(true)));
            task(
                summary,
                "ansible.builtin.command",
                map([(
                    "argv",
                    Y::Seq(argv.iter().map(|a| arg(a, &versions)).collect()),
                )]),
                extra,
            )
        }
    };
    out.push(with_when(t, &conditions));
    out
}

/// The persist file of a sysctl step (the file it writes), for ansible.posix.sysctl.
pub(super) fn persist_file(step: &PlannedStep) -> Option<String> {
    (step.kind == StepTag::Sysctls)
        .then(|| {
            step.actions.iter().find_map(|a| match a {
                Action::WriteFile { path, .. } => Some(path.clone()),
                _ => None,
            })
        })
        .flatten()
}

/// Resolving a pin on the node: the plugin's query, then installer's own pick
/// (`installer.runtime.pick_version`: whole components, epoch-aware, dpkg's order) and the
/// plan's known-vulnerability gate. A version only a probe needs may stay unresolved (the
/// repository is not there yet, so the probe cannot vouch and the refresh runs), as in run.
pub(super) fn resolve_tasks(r: &ResolveVersion, needed: bool, ctx: &mut Ctx) -> (Vec<Y>, String) {
    let listing = ctx.var("listing");
    let var = ctx.var("version");
    let l = &r.listing;
    let missing_ok = if needed { "ansible_check_mode" } else { "true" };
    let mut vars = vec![
        ("installer_pin".to_owned(), Y::text(r.pin.clone())),
        ("installer_names".to_owned(), Y::texts(l.names.clone())),
        ("installer_package".to_owned(), Y::text(r.package.clone())),
    ];
    if let Some(sep) = &l.separator {
        vars.push(("installer_separator".to_owned(), Y::text(sep.clone())));
    }
    let separator = if l.separator.is_some() {
        "installer_separator"
    } else {
        "none"
    };
    let mut out = vec![
        task(
            &format!("List the versions of {} the repositories offer", r.package),
            "ansible.builtin.command",
            map([("argv", Y::texts(r.query.clone()))]),
            vec![
                ("register", Y::text(listing.clone())),
                ("changed_when", Y::Bool(false)),
                ("check_mode", Y::Bool(false)),
                (
                    "failed_when",
                    Y::jinja(format!("{listing}.rc != 0 and not ansible_check_mode")),
                ),
            ],
        ),
        task(
            &format!("Resolve {} {} to a version (whole components)", r.package, r.pin),
            "ansible.builtin.set_fact",
            map([(
                var.as_str(),
                Y::jinja(format!(
                    "{{{{ {listing}.stdout | installer.runtime.pick_version(installer_pin, installer_names, {}, {}, {separator}, installer_package, {missing_ok}) }}}}",
                    l.name_field, l.version_field
                )),
            )]),
            vec![("vars", Y::Map(vars))],
        ),
    ];
    let gate = &ctx.plan.vulnerabilities;
    let vulns: Vec<Y> = gate
        .packages
        .get(&r.package)
        .into_iter()
        .flatten()
        .filter(|v| {
            !gate
                .allowed
                .iter()
                .any(|a| a.trim().eq_ignore_ascii_case(&v.id))
        })
        .map(|v| {
            map([
                ("id", Y::text(v.id.clone())),
                (
                    "affected",
                    Y::Seq(
                        v.affected
                            .iter()
                            .map(|(a, b)| Y::texts([a.clone(), b.clone()]))
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    if needed && !vulns.is_empty() {
        out.push(task(
            &format!("The version {} {} resolves to has no known container escape", r.package, r.pin),
            "ansible.builtin.assert",
            map([
                (
                    "that",
                    Y::Seq(vec![Y::jinja(format!(
                        "{var} | installer.runtime.vulnerable_to(installer_vulnerabilities) | length == 0"
                    ))]),
                ),
                (
                    "fail_msg",
                    // The plugin's words stay data (task vars), out of the template.
                    Y::jinja(format!(
                        "{{{{ installer_package }}}} {{{{ {var} }}}}, what the pin {{{{ installer_pin }}}} resolves to here, is affected by {{{{ {var} | installer.runtime.vulnerable_to(installer_vulnerabilities) | join(', ') }}}}; nothing was installed. Pin a fixed release, or accept the risk by name (--allow-vulnerable)"
                    )),
                ),
            ]),
            vec![
                (
                    "vars",
                    map([
                        ("installer_vulnerabilities", Y::Seq(vulns)),
                        ("installer_package", Y::text(r.package.clone())),
                        ("installer_pin", Y::text(r.pin.clone())),
                    ]),
                ),
                ("when", Y::jinja(format!("{var} != ''"))),
            ],
        ));
    }
    (out, var)
}
