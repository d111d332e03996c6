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
//!
//! Repository files are written with `copy`, byte for byte what the package-manager plugin
//! writes for `run`, rather than through `deb822_repository` (new in ansible-core 2.15, per
//! its documentation page; Debian 12 ships 2.14) or `yum_repository`/`zypper_repository`,
//! which write the file in their own layout: a node then holds the same files whichever way it
//! was installed, and `installer verify` finds them as it expects.

use std::collections::BTreeMap;

use plugin_api::{Action, Expect, Phase, Probe, ResolveVersion, RestartTrigger};

mod actions;
mod commands;

use super::node::Variant;
use super::yaml::{document, map, NOQA, Y};
use crate::compose::{Plan, PlannedStep, StepTag};
use actions::step_tasks;

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
        // A failure after a config change still restarts what read it.
        ("force_handlers".to_owned(), Y::Bool(true)),
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
    /// Directories a task already made sure of.
    dirs: std::collections::BTreeSet<String>,
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
        dirs: Default::default(),
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
                // As run: restarted only when it runs (a socket-activated unit not yet
                // started, an inactive kubelet, are left as they are). The name, which
                // tasks notify, starts with a capital already.
                handlers.insert(
                    unit.clone(),
                    actions::task(
                        &handler_name(unit),
                        "ansible.builtin.command",
                        map([(
                            "argv",
                            Y::texts(["systemctl", "try-restart", unit.as_str()]),
                        )]),
                        vec![
                            ("changed_when", Y::Bool(true)),
                            ("when", Y::jinja("installer_systemd")),
                        ],
                    ),
                );
            }
        }
    }
    let (mut main, mut verify) = (Vec::new(), Vec::new());
    // As run: every prerequisite check is asked before anything changes.
    let is_prerequisite_check =
        |s: &&PlannedStep| s.phase == Phase::Prerequisites && s.kind == StepTag::Check;
    let ordered: Vec<&PlannedStep> = plan
        .steps
        .iter()
        .filter(is_prerequisite_check)
        .chain(plan.steps.iter().filter(|s| !is_prerequisite_check(s)))
        .collect();
    for step in ordered {
        let out = step_tasks(step, &mut ctx);
        if step.phase == Phase::Verification {
            verify.extend(out);
        } else {
            main.extend(out);
        }
    }
    (main, verify)
}
