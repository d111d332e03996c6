//! The plan as an Ansible playbook that does what `run` does with Ansible's own modules:
//! `copy` for the files the plan writes, `community.general.modprobe` and `ansible.posix.sysctl`
//! for the running kernel, `get_url` with the pinned sha256 for downloads, `apt`/`dnf`/`yum`
//! for packages at the versions pins resolve to on the node, `dpkg_selections` and
//! `community.general.yum_versionlock` for holds, `rpm_key`, `systemd` with handlers so that a
//! service restarts only when what it reads changed, and `assert` for the plan's checks. The
//! config edits that no Ansible module does faithfully (a TOML table edited in place, a JSON
//! merge, a kubelet flag) go through the collection's `installer.runtime.config_edit`, which
//! runs run's own editor on the node. A command no module stands for (a plugin's own) runs
//! as `ansible.builtin.command`, guarded by the plugin's own "already done?" probe.
//!
//! Facts the user left `auto` are decided on the node, as for the shell script: one block of
//! tasks per kind of node (architecture × cgroup driver), chosen by facts the play reads first.

use std::collections::BTreeMap;

use plugin_api::{Action, Expect, Phase, Probe, ResolveVersion, RestartTrigger};

use super::node::Variant;
use super::yaml::{document, map, NOQA, Y};
use crate::compose::{Plan, PlannedStep, StepTag};

/// The directory on the node for what the playbook fetches before installing it (keys to
/// check, archives to unpack): installer's own, never a drop-in directory.
const SCRATCH: &str = "/var/lib/installer/ansible";

/// The playbook for `variants` (at least one with a plan).
pub fn ansible(variants: &[Variant]) -> String {
    let plans: Vec<&Plan> = variants
        .iter()
        .filter_map(|v| v.plan.as_ref().ok())
        .collect();
    let first = plans
        .first()
        .expect("the caller returns the error when no variant has a plan");

    // Each variant's tasks, before and after the handlers run; identical ones shared.
    let mut groups: Vec<(Vec<Y>, Vec<Y>, Vec<usize>)> = Vec::new();
    let mut handlers: BTreeMap<String, Y> = BTreeMap::new();
    for (i, v) in variants.iter().enumerate() {
        let Ok(plan) = &v.plan else { continue };
        let (main, verify) = tasks(plan, &mut handlers);
        match groups.iter_mut().find(|g| g.0 == main && g.1 == verify) {
            Some(g) => g.2.push(i),
            None => groups.push((main, verify, vec![i])),
        }
    }

    let mut tasks_out = facts_tasks();
    let several = variants.len() > 1;
    let condition = |indices: &[usize]| -> String {
        indices
            .iter()
            .map(|&i| variant_condition(&variants[i]))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    if several {
        let known: Vec<String> = variants.iter().map(variant_condition).collect();
        tasks_out.push(map([
            ("name", Y::text("Stop on a kind of node no plan was rendered for")),
            (
                "ansible.builtin.fail",
                map([(
                    "msg",
                    Y::jinja("no plan was rendered for architecture {{ installer_arch }}; render the playbook with --arch {{ installer_arch }}"),
                )]),
            ),
            ("when", Y::jinja(format!("not ({})", known.join(" or ")))),
        ]));
        for v in variants {
            if let Err(why) = &v.plan {
                tasks_out.push(map([
                    (
                        "name",
                        Y::text(format!("Stop: no plan for {}", v.describe())),
                    ),
                    ("ansible.builtin.fail", map([("msg", Y::text(why.clone()))])),
                    ("when", Y::jinja(variant_condition(v))),
                ]));
            }
        }
    }
    let wrap = |name: String, tasks: Vec<Y>, indices: &[usize]| -> Y {
        if several {
            map([
                ("name", Y::text(name)),
                ("when", Y::jinja(condition(indices))),
                ("block", Y::Seq(tasks)),
            ])
        } else {
            map([("name", Y::text(name)), ("block", Y::Seq(tasks))])
        }
    };
    let describe = |indices: &[usize]| -> String {
        indices
            .iter()
            .map(|&i| variants[i].describe())
            .collect::<Vec<_>>()
            .join("; ")
    };
    for (main, _, indices) in &groups {
        if !main.is_empty() {
            let name = if several {
                format!("The plan for {}", describe(indices))
            } else {
                "The plan".to_owned()
            };
            tasks_out.push(wrap(name, main.clone(), indices));
        }
    }
    if groups.iter().any(|g| !g.1.is_empty()) {
        // Services restart where what they read changed, before the checks look at them.
        tasks_out.push(map([
            ("name", Y::text("Restart what changed, before the checks")),
            ("ansible.builtin.meta", Y::text("flush_handlers")),
        ]));
        for (_, verify, indices) in &groups {
            if !verify.is_empty() {
                let name = if several {
                    format!("Checks for {}", describe(indices))
                } else {
                    "Checks".to_owned()
                };
                tasks_out.push(wrap(name, verify.clone(), indices));
            }
        }
    }

    let header = format!(
        "Rendered by installer {} from the plan for runtime {} on {}.\n\
         Review it, then run it with ansible-playbook; each task checks first, so a second run\n\
         reports no change. It needs the collections installer.runtime (for config_edit and\n\
         the version filters), community.general and ansible.posix on the controller, and\n\
         the installer binary on the node for config edits (installer_binary; the role\n\
         installer.runtime.node puts it there). Facts left auto (the architecture, the cgroup\n\
         driver) are decided on each node, as installer run decides them there.",
        env!("CARGO_PKG_VERSION"),
        first.runtime,
        first.distro.id
    );
    let mut play = vec![
        ("#".to_owned(), Y::text(header)),
        (
            "name".to_owned(),
            Y::text(format!(
                "Install {} as installer plans it for {}",
                first.runtime, first.distro.id
            )),
        ),
        (
            "hosts".to_owned(),
            Y::jinja("{{ installer_hosts | default('all') }}"),
        ),
        ("become".to_owned(), Y::Bool(true)),
        ("gather_facts".to_owned(), Y::Bool(true)),
        (
            "vars".to_owned(),
            map([
                ("installer_binary", Y::text("installer")),
                ("installer_root", Y::text("/")),
            ]),
        ),
        ("tasks".to_owned(), Y::Seq(tasks_out)),
    ];
    if !handlers.is_empty() {
        play.push((
            "handlers".to_owned(),
            Y::Seq(handlers.into_values().collect()),
        ));
    }
    document(&Y::Seq(vec![Y::Map(play)]))
}

/// The Jinja condition true on the node `v` was composed for.
fn variant_condition(v: &Variant) -> String {
    let mut parts = Vec::new();
    if let Some(arch) = &v.arch {
        let spellings: Vec<&str> = if arch == "aarch64" {
            vec!["aarch64", "arm64"]
        } else {
            vec![arch.as_str()]
        };
        parts.push(format!(
            "installer_arch in [{}]",
            spellings
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(d) = v.driver {
        parts.push(format!("installer_driver == '{}'", d.as_str()));
    }
    if parts.is_empty() {
        "true".to_owned()
    } else {
        format!("({})", parts.join(" and "))
    }
}

/// The tasks that read the node's facts, as `run` reads them there.
fn facts_tasks() -> Vec<Y> {
    vec![map([
        ("name", Y::text("Read what the plan depends on here")),
        (
            "block",
            Y::Seq(vec![
                map([
                    ("name", Y::text("Is systemd init here")),
                    ("ansible.builtin.stat", map([("path", Y::text("/run/systemd/system"))])),
                    ("register", Y::text("installer_systemd_dir")),
                ]),
                map([
                    ("name", Y::text("Are the cgroups v2 here")),
                    (
                        "ansible.builtin.stat",
                        map([("path", Y::text("/sys/fs/cgroup/cgroup.controllers"))]),
                    ),
                    ("register", Y::text("installer_cgroup_v2")),
                ]),
                map([
                    (
                        "name",
                        Y::text("Is this the running system, not a chroot or an image root"),
                    ),
                    (
                        "ansible.builtin.command",
                        map([(
                            "argv",
                            Y::texts(["stat", "-Lc", "%d:%i", "/proc/1/root/", "/"]),
                        )]),
                    ),
                    ("register", Y::text("installer_roots")),
                    ("changed_when", Y::Bool(false)),
                    ("failed_when", Y::Bool(false)),
                    ("check_mode", Y::Bool(false)),
                ]),
                map([
                    ("name", Y::text("Decide the architecture, the cgroup driver, and where services run")),
                    (
                        "ansible.builtin.set_fact",
                        map([
                            ("installer_arch", Y::jinja("{{ ansible_facts['architecture'] }}")),
                            (
                                "installer_systemd",
                                Y::jinja("{{ installer_systemd_dir.stat.isdir | default(false) }}"),
                            ),
                            (
                                "installer_driver",
                                Y::jinja("{{ 'systemd' if (installer_systemd_dir.stat.isdir | default(false)) or installer_cgroup_v2.stat.exists else 'cgroupfs' }}"),
                            ),
                            (
                                "installer_live",
                                Y::jinja("{{ installer_roots.rc == 0 and installer_roots.stdout_lines | unique | length == 1 }}"),
                            ),
                        ]),
                    ),
                ]),
            ]),
        ),
    ])]
}

/// What the tasks of one plan need to share.
struct Ctx<'a> {
    plan: &'a Plan,
    /// Register names handed out, for unique names within the plan.
    next: usize,
    /// unit → the files and packages whose change restarts it.
    restarts: BTreeMap<String, Vec<RestartTrigger>>,
}

impl Ctx<'_> {
    fn var(&mut self, what: &str) -> String {
        self.next += 1;
        format!("installer_{what}{}", self.next)
    }

    /// The handlers to notify when `trigger` changed.
    fn notify(&self, triggers: &[RestartTrigger]) -> Option<Y> {
        let units: Vec<String> = self
            .restarts
            .iter()
            .filter(|(_, t)| t.iter().any(|x| triggers.contains(x)))
            .map(|(unit, _)| handler_name(unit))
            .collect();
        (!units.is_empty()).then(|| Y::texts(units))
    }
}

fn handler_name(unit: &str) -> String {
    format!("Restart {unit}")
}

/// One plan's tasks: those before the verification phase, and the verification phase's.
fn tasks(plan: &Plan, handlers: &mut BTreeMap<String, Y>) -> (Vec<Y>, Vec<Y>) {
    let mut ctx = Ctx {
        plan,
        next: 0,
        restarts: BTreeMap::new(),
    };
    for action in plan.steps.iter().flat_map(|s| &s.actions) {
        if let Action::Service {
            unit,
            restart_when_changed,
            ..
        } = action
        {
            if !restart_when_changed.is_empty() {
                ctx.restarts
                    .insert(unit.clone(), restart_when_changed.clone());
                handlers.insert(
                    unit.clone(),
                    map([
                        ("name", Y::text(handler_name(unit))),
                        (
                            "ansible.builtin.systemd",
                            map([
                                ("name", Y::text(unit.clone())),
                                ("state", Y::text("restarted")),
                            ]),
                        ),
                        ("when", Y::jinja("installer_systemd")),
                    ]),
                );
            }
        }
    }
    let (mut main, mut verify) = (Vec::new(), Vec::new());
    for step in &plan.steps {
        let out = step_tasks(step, &mut ctx);
        if step.phase == Phase::Verification {
            verify.extend(out);
        } else {
            main.extend(out);
        }
    }
    (main, verify)
}

/// A task name: the step's summary, capitalised as ansible-lint wants.
fn title(summary: &str) -> String {
    let mut c = summary.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => "Step".to_owned(),
    }
}

/// Programs ansible-lint's command-instead-of-module rule names (its
/// rules/command_instead_of_module.py, 6.13). A command task runs one only as a plugin's
/// read-only probe or version query, or as a command no module reproduces; those tasks say so.
const LINT_MODULE_PROGRAMS: &[&str] = &[
    "apt-get",
    "chkconfig",
    "curl",
    "git",
    "hg",
    "letsencrypt",
    "mktemp",
    "mount",
    "patch",
    "rpm",
    "rsync",
    "sed",
    "service",
    "supervisorctl",
    "svn",
    "systemctl",
    "tar",
    "unzip",
    "wget",
    "yum",
];

/// A task: name, module and arguments, then the other keys.
fn task(name: &str, module: &str, args: Y, extra: Vec<(&str, Y)>) -> Y {
    let mut pairs = vec![("name".to_owned(), Y::text(title(name)))];
    if module == "ansible.builtin.command" {
        if let Y::Map(a) = &args {
            let program = a.iter().find_map(|(k, v)| match (k.as_str(), v) {
                ("argv", Y::Seq(argv)) => argv.first(),
                _ => None,
            });
            if let Some(Y::Text(p)) = program {
                let base = p.rsplit('/').next().unwrap_or(p);
                if LINT_MODULE_PROGRAMS.contains(&base) {
                    pairs.push((NOQA.to_owned(), Y::text("command-instead-of-module")));
                }
            }
        }
    }
    pairs.push((module.to_owned(), args));
    pairs.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    Y::Map(pairs)
}

/// Adds `when` conditions (and-ed) to a task.
fn with_when(mut t: Y, conditions: &[String]) -> Y {
    if conditions.is_empty() {
        return t;
    }
    if let Y::Map(pairs) = &mut t {
        let mut all: Vec<String> = conditions.to_vec();
        if let Some(i) = pairs.iter().position(|(k, _)| k == "when") {
            if let (_, Y::Jinja(existing)) = pairs.remove(i) {
                all.insert(0, existing);
            }
        }
        pairs.push((
            "when".to_owned(),
            Y::Seq(all.into_iter().map(Y::Jinja).collect()),
        ));
    }
    t
}

fn mode(m: u32) -> Y {
    Y::text(format!("{m:04o}"))
}

/// Whether a file sits in a drop-in directory, where a backup beside it would be read (or
/// warned about) as one more drop-in.
fn in_drop_in_dir(path: &str) -> bool {
    std::path::Path::new(path)
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|d| d.to_string_lossy().ends_with(".d"))
}

fn step_tasks(step: &PlannedStep, ctx: &mut Ctx) -> Vec<Y> {
    let mut out = Vec::new();
    // Conditions every later task of the step carries: a guard said "skip the rest".
    let mut guards: Vec<String> = Vec::new();
    let kernel = step.kind.changes_the_kernel();
    let why = if step.why.is_empty() {
        format!("[{}]", step.asked_by())
    } else {
        format!("{} [{}]", step.why, step.asked_by())
    };
    let first_at = out.len();
    for action in &step.actions {
        let produced = action_tasks(step, action, kernel, &mut guards, ctx);
        out.extend(produced);
    }
    // The step's reason as a comment on its first task.
    if let Some(Y::Map(pairs)) = out.get_mut(first_at) {
        pairs.insert(0, ("#".to_owned(), Y::text(format!("why: {why}"))));
    }
    out
}

#[allow(clippy::too_many_lines)]
fn action_tasks(
    step: &PlannedStep,
    action: &Action,
    kernel: bool,
    guards: &mut Vec<String>,
    ctx: &mut Ctx,
) -> Vec<Y> {
    let summary = step.summary.as_str();
    let mut out = Vec::new();
    match action {
        Action::WriteFile {
            path,
            mode: m,
            content,
            owner,
            group,
        } => {
            let mut args = vec![
                ("dest".to_owned(), Y::text(path.clone())),
                ("content".to_owned(), Y::text(content.clone())),
                ("mode".to_owned(), mode(*m)),
                ("backup".to_owned(), Y::Bool(!in_drop_in_dir(path))),
            ];
            push_owner(&mut args, owner, group);
            let mut extra = vec![];
            if let Some(n) = ctx.notify(&[RestartTrigger::File(path.clone())]) {
                extra.push(("notify", n));
            }
            out.push(task(summary, "ansible.builtin.copy", Y::Map(args), extra));
        }
        Action::MergeFile {
            path,
            mode: m,
            merge,
            owner,
            group,
        } => {
            let value = serde_json::to_value(merge).expect("a merge encodes");
            let mut args = vec![
                ("path".to_owned(), Y::text(path.clone())),
                ("merge".to_owned(), json_to_y(&value)),
                ("mode".to_owned(), mode(*m)),
                ("root".to_owned(), Y::jinja("{{ installer_root }}")),
                ("binary".to_owned(), Y::jinja("{{ installer_binary }}")),
            ];
            if !ctx.plan.overrides.is_empty() {
                args.push(("overrides".to_owned(), Y::texts(ctx.plan.overrides.clone())));
            }
            push_owner(&mut args, owner, group);
            let mut extra = vec![];
            if let Some(n) = ctx.notify(&[RestartTrigger::File(path.clone())]) {
                extra.push(("notify", n));
            }
            out.push(task(
                summary,
                "installer.runtime.config_edit",
                Y::Map(args),
                extra,
            ));
        }
        Action::RemoveFile { path } => out.push(task(
            summary,
            "ansible.builtin.file",
            map([
                ("path", Y::text(path.clone())),
                ("state", Y::text("absent")),
            ]),
            vec![],
        )),
        Action::FetchKey {
            url,
            fingerprints,
            dest,
        } => out.extend(key_tasks(summary, url, fingerprints, dest, ctx)),
        Action::Download {
            url,
            sha256,
            member,
            path,
            mode: m,
        } => {
            let sha = sha256.to_ascii_lowercase();
            let notify = ctx.notify(&[RestartTrigger::File(path.clone())]);
            match member {
                None => {
                    let mut extra = vec![];
                    if let Some(n) = notify {
                        extra.push(("notify", n));
                    }
                    out.push(task(
                        summary,
                        "ansible.builtin.get_url",
                        map([
                            ("url", Y::text(url.clone())),
                            ("dest", Y::text(path.clone())),
                            ("checksum", Y::text(format!("sha256:{sha}"))),
                            ("mode", mode(*m)),
                        ]),
                        extra,
                    ));
                }
                Some(member) => {
                    let archive = format!("{SCRATCH}/downloads/{sha}.tar.gz");
                    let dir = format!("{SCRATCH}/downloads/{sha}");
                    out.push(task(
                        &format!("{summary}: fetch the archive, checked by its sha256"),
                        "ansible.builtin.get_url",
                        map([
                            ("url", Y::text(url.clone())),
                            ("dest", Y::text(archive.clone())),
                            ("checksum", Y::text(format!("sha256:{sha}"))),
                            ("mode", Y::text("0600")),
                        ]),
                        vec![],
                    ));
                    out.push(task(
                        &format!("{summary}: a directory to unpack it in"),
                        "ansible.builtin.file",
                        map([
                            ("path", Y::text(dir.clone())),
                            ("state", Y::text("directory")),
                            ("mode", Y::text("0700")),
                        ]),
                        vec![],
                    ));
                    out.push(task(
                        &format!("{summary}: unpack {member}"),
                        "ansible.builtin.unarchive",
                        map([
                            ("src", Y::text(archive)),
                            ("dest", Y::text(dir.clone())),
                            ("remote_src", Y::Bool(true)),
                            ("include", Y::texts([member.clone()])),
                        ]),
                        vec![("when", Y::jinja("not ansible_check_mode"))],
                    ));
                    let mut extra = vec![("when", Y::jinja("not ansible_check_mode"))];
                    if let Some(n) = notify {
                        extra.push(("notify", n));
                    }
                    out.push(task(
                        &format!("{summary}: install {member}"),
                        "ansible.builtin.copy",
                        map([
                            ("src", Y::text(format!("{dir}/{member}"))),
                            ("dest", Y::text(path.clone())),
                            ("remote_src", Y::Bool(true)),
                            ("mode", mode(*m)),
                        ]),
                        extra,
                    ));
                }
            }
        }
        Action::Run {
            argv,
            env,
            unless,
            resolve,
            ..
        } => out.extend(run_tasks(
            step,
            argv,
            env,
            unless.as_ref(),
            resolve,
            kernel,
            ctx,
        )),
        Action::Service {
            unit,
            daemon_reload,
            enable,
            start,
            stop,
            disable,
            ..
        } => {
            let mut args = vec![("name".to_owned(), Y::text(unit.clone()))];
            if *enable || *disable {
                args.push(("enabled".to_owned(), Y::Bool(*enable)));
            }
            if *start || *stop {
                args.push((
                    "state".to_owned(),
                    Y::text(if *start { "started" } else { "stopped" }),
                ));
            }
            if *daemon_reload {
                args.push(("daemon_reload".to_owned(), Y::Bool(true)));
            }
            // As run: where systemd does not run (a chroot, an image root) it is skipped.
            out.push(task(
                summary,
                "ansible.builtin.systemd",
                Y::Map(args),
                vec![("when", Y::jinja("installer_systemd"))],
            ));
        }
        Action::Check(check) => {
            let (probe, yes, vars) = probe_tasks(summary, &check.probe, &BTreeMap::new(), ctx);
            out.extend(probe);
            let mut extra = vec![("vars", vars)];
            if step.phase == Phase::Verification {
                // The runtime is not installed in check mode: nothing to check yet.
                extra.push(("when", Y::jinja("not ansible_check_mode")));
            }
            out.push(task(
                &format!("Check: {summary}"),
                "ansible.builtin.assert",
                map([
                    ("that", Y::Seq(vec![Y::jinja(yes)])),
                    (
                        "fail_msg",
                        Y::text(format!("check failed: {}", check.description)),
                    ),
                    ("quiet", Y::Bool(true)),
                ]),
                extra,
            ));
            if step.phase == Phase::Verification {
                if let Some(Y::Map(pairs)) = out.first_mut() {
                    pairs.push(("when".to_owned(), Y::jinja("not ansible_check_mode")));
                }
            }
        }
        Action::SkipIf(guard) => {
            let (probe, yes, vars) = probe_tasks(summary, &guard.probe, &BTreeMap::new(), ctx);
            let register = probe_register(&probe);
            out.extend(probe);
            let flag = format!("{register}_skip");
            out.push(task(
                &format!("{summary}: decide whether to skip"),
                "ansible.builtin.set_fact",
                map([(flag.as_str(), Y::jinja(format!("{{{{ {yes} }}}}")))]),
                vec![("vars", vars)],
            ));
            out.push(task(
                &format!("{summary}: skipped"),
                "ansible.builtin.debug",
                map([("msg", Y::text(format!("warning: {}", guard.warning)))]),
                vec![("when", Y::jinja(flag.clone()))],
            ));
            guards.push(format!("not {flag}"));
            return out;
        }
        Action::Unknown => unreachable!("compose refuses unknown actions"),
    }
    out.into_iter().map(|t| with_when(t, guards)).collect()
}

fn push_owner(args: &mut Vec<(String, Y)>, owner: &Option<String>, group: &Option<String>) {
    if let Some(o) = owner {
        args.push(("owner".to_owned(), Y::text(o.clone())));
    }
    if let Some(g) = group {
        args.push(("group".to_owned(), Y::text(g.clone())));
    }
}

/// A JSON value (a merge) as YAML, types kept.
fn json_to_y(v: &serde_json::Value) -> Y {
    match v {
        serde_json::Value::Null => Y::Raw("null".to_owned()),
        serde_json::Value::Bool(b) => Y::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Y::Int(i),
            None => Y::Raw(n.to_string()),
        },
        serde_json::Value::String(s) => Y::text(s.clone()),
        serde_json::Value::Array(a) => Y::Seq(a.iter().map(json_to_y).collect()),
        serde_json::Value::Object(o) => {
            Y::Map(o.iter().map(|(k, v)| (yaml_key(k), json_to_y(v))).collect())
        }
    }
}

/// A mapping key from a plan, quoted unless plain.
fn yaml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
    {
        k.to_owned()
    } else {
        serde_json::to_string(k).expect("a key encodes")
    }
}

/// The key checked by fingerprint before it is stored, as run does: fetched to installer's
/// scratch directory, its fingerprints read with gpg, stored only when it is exactly one of
/// the expected keys.
fn key_tasks(
    summary: &str,
    url: &str,
    fingerprints: &[String],
    dest: &str,
    ctx: &mut Ctx,
) -> Vec<Y> {
    let fetched = format!(
        "{SCRATCH}/keys/{}",
        dest.trim_start_matches('/').replace('/', "_")
    );
    let register = ctx.var("key");
    let wanted: Vec<String> = fingerprints
        .iter()
        .map(|f| f.replace(' ', "").to_ascii_uppercase())
        .collect();
    let not_check = Y::jinja("not ansible_check_mode");
    let mut store_extra = vec![("when", not_check.clone())];
    if let Some(n) = ctx.notify(&[RestartTrigger::File(dest.to_owned())]) {
        store_extra.push(("notify", n));
    }
    vec![
        task(
            &format!("{summary}: fetch the signing key"),
            "ansible.builtin.get_url",
            map([
                ("url", Y::text(url)),
                ("dest", Y::text(fetched.clone())),
                ("mode", Y::text("0644")),
            ]),
            vec![],
        ),
        task(
            &format!("{summary}: read the key's fingerprints"),
            "ansible.builtin.command",
            map([(
                "argv",
                Y::texts(["gpg", "--show-keys", "--with-colons", fetched.as_str()]),
            )]),
            vec![
                ("register", Y::text(register.clone())),
                ("changed_when", Y::Bool(false)),
                ("check_mode", Y::Bool(false)),
                ("when", not_check.clone()),
            ],
        ),
        task(
            &format!("{summary}: the key is exactly one of those expected"),
            "ansible.builtin.assert",
            map([
                (
                    "that",
                    Y::Seq(vec![
                        Y::jinja(format!("{register}.stdout_lines | select('match', '^pub:') | list | length == 1")),
                        Y::jinja(format!("({register}.stdout_lines | select('match', '^fpr:') | first).split(':')[9] in installer_fingerprints")),
                    ]),
                ),
                (
                    "fail_msg",
                    Y::text(format!(
                        "the key at {url} is not the one expected ({}); nothing stored",
                        wanted.join(" or ")
                    )),
                ),
                ("quiet", Y::Bool(true)),
            ]),
            vec![
                ("vars", map([("installer_fingerprints", Y::texts(wanted))])),
                ("when", not_check.clone()),
            ],
        ),
        task(
            &format!("{summary}: store the key"),
            "ansible.builtin.copy",
            map([
                ("src", Y::text(fetched)),
                ("dest", Y::text(dest)),
                ("remote_src", Y::Bool(true)),
                ("mode", Y::text("0644")),
            ]),
            store_extra,
        ),
    ]
}

/// The register name of a probe task list (its first task).
fn probe_register(tasks: &[Y]) -> String {
    let Some(Y::Map(pairs)) = tasks.last() else {
        unreachable!("a probe is one task")
    };
    pairs
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("register", Y::Text(r)) => Some(r.clone()),
            _ => None,
        })
        .expect("a probe registers its result")
}

/// A probe as a read-only task, and the Jinja condition true when it says "yes", with the
/// task vars the condition reads (the expected text, kept out of the template).
fn probe_tasks(
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
            format!("{ok} and {register}.stdout | trim == installer_expect"),
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
fn arg(a: &str, versions: &BTreeMap<String, String>) -> Y {
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
fn jinja_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The words after `install` that are not options: the package specs of an install command.
fn install_specs(argv: &[String]) -> Option<Vec<String>> {
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
fn run_tasks(
    step: &PlannedStep,
    argv: &[String],
    env: &BTreeMap<String, String>,
    unless: Option<&Probe>,
    resolve: &[ResolveVersion],
    kernel: bool,
    ctx: &mut Ctx,
) -> Vec<Y> {
    let summary = step.summary.as_str();
    let mut out = Vec::new();
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    let mut resolved_conditions: Vec<String> = Vec::new();
    for r in resolve {
        let needed = argv.iter().any(|a| a.contains(&r.placeholder));
        let (tasks, var) = resolve_tasks(r, needed, ctx);
        out.extend(tasks);
        if needed {
            resolved_conditions.push(format!("{var} != ''"));
        }
        versions.insert(r.placeholder.clone(), var);
    }
    let program = argv.first().map(String::as_str).unwrap_or("");
    let pm = ctx.plan.distro.package_manager.as_str();
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    let packages_changed: Vec<RestartTrigger> = resolve
        .iter()
        .map(|r| RestartTrigger::Package(r.package.clone()))
        .chain(
            install_specs(argv)
                .unwrap_or_default()
                .into_iter()
                .map(RestartTrigger::Package),
        )
        .collect();

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
            Some((
                "ansible.builtin.file",
                map([
                    ("path", Y::text(argv[4].clone())),
                    ("state", Y::text("directory")),
                    ("mode", Y::text(argv[3].clone())),
                ]),
            ))
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
        ("dnf" | "yum", _) if words.get(1..3) == Some(&["versionlock", "add"]) => Some((
            "community.general.yum_versionlock",
            map([
                ("name", Y::texts(argv[3..].iter().cloned())),
                ("state", Y::text("present")),
            ]),
        )),
        ("rpm", _) if argv.len() == 3 && argv[1] == "--import" => Some((
            "ansible.builtin.rpm_key",
            map([
                ("key", Y::text(argv[2].clone())),
                ("state", Y::text("present")),
            ]),
        )),
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
        conditions.push(format!("not {yes}"));
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
fn persist_file(step: &PlannedStep) -> Option<String> {
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
fn resolve_tasks(r: &ResolveVersion, needed: bool, ctx: &mut Ctx) -> (Vec<Y>, String) {
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
                    Y::jinja(format!(
                        "{} {{{{ {var} }}}}, what the pin {} resolves to here, is affected by {{{{ {var} | installer.runtime.vulnerable_to(installer_vulnerabilities) | join(', ') }}}}; nothing was installed. Pin a fixed release, or accept the risk by name (--allow-vulnerable)",
                        r.package, r.pin
                    )),
                ),
            ]),
            vec![
                ("vars", map([("installer_vulnerabilities", Y::Seq(vulns))])),
                ("when", Y::jinja(format!("{var} != ''"))),
            ],
        ));
    }
    (out, var)
}
