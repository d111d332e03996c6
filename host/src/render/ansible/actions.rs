//! The tasks of one step: files, edits, keys, downloads, services, checks and guards.

use super::commands::{probe_tasks, run_tasks};
use super::*;

/// A task name: the step's summary, capitalised as ansible-lint wants.
pub(super) fn title(summary: &str) -> String {
    let mut c = summary.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => "Step".to_owned(),
    }
}

/// Programs ansible-lint's command-instead-of-module rule names (its
/// rules/command_instead_of_module.py, 6.13). A command task runs one only as a plugin's
/// read-only probe or version query, or as a command no module reproduces; those tasks say so.
pub(super) const LINT_MODULE_PROGRAMS: &[&str] = &[
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
pub(super) fn task(name: &str, module: &str, args: Y, extra: Vec<(&str, Y)>) -> Y {
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
pub(super) fn with_when(mut t: Y, conditions: &[String]) -> Y {
    if conditions.is_empty() {
        return t;
    }
    if let Y::Map(pairs) = &mut t {
        let mut all: Vec<String> = Vec::new();
        if let Some(i) = pairs.iter().position(|(k, _)| k == "when") {
            match pairs.remove(i).1 {
                Y::Jinja(existing) => all.push(existing),
                Y::Seq(existing) => all.extend(existing.into_iter().filter_map(|c| match c {
                    Y::Jinja(c) => Some(c),
                    _ => None,
                })),
                _ => unreachable!("conditions are ours"),
            }
        }
        all.extend(conditions.iter().cloned());
        pairs.push((
            "when".to_owned(),
            Y::Seq(all.into_iter().map(Y::Jinja).collect()),
        ));
    }
    t
}

pub(super) fn mode(m: u32) -> Y {
    Y::text(format!("{m:04o}"))
}

/// Tasks creating the directory `path` goes in (and its parents, 0755) as run does, only
/// when it is missing, once per plan: `copy` and `get_url` need it, and an existing
/// directory's mode is the site's to keep, which `file` with a mode would change.
pub(super) fn parent_dir(path: &str, ctx: &mut Ctx) -> Vec<Y> {
    let Some(dir) = std::path::Path::new(path).parent() else {
        return Vec::new();
    };
    let dir = dir.to_string_lossy().into_owned();
    if dir == "/" || !ctx.dirs.insert(dir.clone()) {
        return Vec::new();
    }
    let register = ctx.var("dir");
    vec![
        task(
            &format!("Is {dir} there"),
            "ansible.builtin.stat",
            map([("path", Y::text(dir.clone()))]),
            vec![("register", Y::text(register.clone()))],
        ),
        task(
            &format!("Make {dir}"),
            "ansible.builtin.file",
            map([
                ("path", Y::text(dir.clone())),
                ("state", Y::text("directory")),
                ("mode", Y::text("0755")),
            ]),
            vec![("when", Y::jinja(format!("not {register}.stat.exists")))],
        ),
    ]
}

/// Whether a file sits in a drop-in directory, where a backup beside it would be read (or
/// warned about) as one more drop-in.
pub(super) fn in_drop_in_dir(path: &str) -> bool {
    std::path::Path::new(path)
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|d| d.to_string_lossy().ends_with(".d"))
}

pub(super) fn step_tasks(step: &PlannedStep, ctx: &mut Ctx) -> Vec<Y> {
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
pub(super) fn action_tasks(
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
            out.extend(parent_dir(path, ctx));
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
                    out.extend(parent_dir(path, ctx));
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
                    // The scratch directories first (their parents too): get_url needs its
                    // destination's directory. In check mode nothing is fetched or unpacked.
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
                        &format!("{summary}: fetch the archive, checked by its sha256"),
                        "ansible.builtin.get_url",
                        map([
                            ("url", Y::text(url.clone())),
                            ("dest", Y::text(archive.clone())),
                            ("checksum", Y::text(format!("sha256:{sha}"))),
                            ("mode", Y::text("0600")),
                        ]),
                        vec![("when", Y::jinja("not ansible_check_mode"))],
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
                    out.extend(parent_dir(path, ctx));
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
            transaction,
            ..
        } => out.extend(run_tasks(
            step,
            argv,
            env,
            unless.as_ref(),
            *transaction,
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
            if !(*enable || *disable || *start || *stop || *daemon_reload) {
                // Only restarts when something changed: the handler does that.
                return out;
            }
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

pub(super) fn push_owner(
    args: &mut Vec<(String, Y)>,
    owner: &Option<String>,
    group: &Option<String>,
) {
    if let Some(o) = owner {
        args.push(("owner".to_owned(), Y::text(o.clone())));
    }
    if let Some(g) = group {
        args.push(("group".to_owned(), Y::text(g.clone())));
    }
}

/// A JSON value (a merge) as YAML, types kept.
pub(super) fn json_to_y(v: &serde_json::Value) -> Y {
    match v {
        serde_json::Value::Null => Y::Raw("null".to_owned()),
        serde_json::Value::Bool(b) => Y::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Y::Int(i),
            // YAML 1.1 reads `1e20` as a string: the tag says what it is.
            None => Y::Raw(format!("!!float {n}")),
        },
        serde_json::Value::String(s) => Y::text(s.clone()),
        serde_json::Value::Array(a) => Y::Seq(a.iter().map(json_to_y).collect()),
        serde_json::Value::Object(o) => {
            Y::Map(o.iter().map(|(k, v)| (yaml_key(k), json_to_y(v))).collect())
        }
    }
}

/// A mapping key from a plan, quoted unless plain.
pub(super) fn yaml_key(k: &str) -> String {
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
        super::super::yaml::double_quoted_line(k)
    }
}

/// The key checked by fingerprint before it is stored, as run does: a key already stored
/// that is exactly one of the expected keys, unexpired, is kept and nothing is fetched;
/// otherwise it is fetched to installer's scratch directory, its fingerprints read with gpg
/// (in that directory as gpg's home, never root's ~/.gnupg), and stored only when it is
/// exactly one of the expected keys and has not expired.
pub(super) fn key_tasks(
    summary: &str,
    url: &str,
    fingerprints: &[String],
    dest: &str,
    ctx: &mut Ctx,
) -> Vec<Y> {
    let keys = format!("{SCRATCH}/keys");
    let fetched = format!("{keys}/{}", dest.trim_start_matches('/').replace('/', "_"));
    let stored = ctx.var("stored_key");
    let register = ctx.var("key");
    let wanted: Vec<String> = fingerprints
        .iter()
        .map(|f| f.replace(' ', "").to_ascii_uppercase())
        .collect();
    // gpg's `--with-colons` listing of one key: its primary key's `pub` line (field 2 the
    // validity, `e` when expired) and the `fpr` line after it (field 10).
    let pub_line = |reg: &str| format!("({reg}.stdout_lines | select('match', '^pub:') | first)");
    let one_key =
        |reg: &str| format!("{reg}.stdout_lines | select('match', '^pub:') | list | length == 1");
    let expected = |reg: &str| {
        format!("({reg}.stdout_lines | select('match', '^fpr:') | first).split(':')[9] in installer_fingerprints")
    };
    let unexpired = |reg: &str| format!("{}.split(':')[1] != 'e'", pub_line(reg));
    // Fetched only when the stored key is missing, another, or expired; never in check mode
    // (the directory may not be there yet). Jinja's `and` stops at the first false part.
    let fetch_when = Y::jinja(format!(
        "not ansible_check_mode and not ({stored}.rc == 0 and {} and {} and {})",
        one_key(&stored),
        expected(&stored),
        unexpired(&stored)
    ));
    let pinned = || {
        (
            "vars",
            map([("installer_fingerprints", Y::texts(wanted.clone()))]),
        )
    };
    let gpg = |file: &str| {
        Y::texts([
            "gpg",
            "--homedir",
            keys.as_str(),
            "--show-keys",
            "--with-colons",
            file,
        ])
    };
    let mut store_extra = vec![pinned(), ("when", fetch_when.clone())];
    if let Some(n) = ctx.notify(&[RestartTrigger::File(dest.to_owned())]) {
        store_extra.push(("notify", n));
    }
    let dest_dir = parent_dir(dest, ctx);
    let mut tasks = vec![
        task(
            &format!("{summary}: a directory for the fetched key"),
            "ansible.builtin.file",
            map([
                ("path", Y::text(keys.clone())),
                ("state", Y::text("directory")),
                ("mode", Y::text("0700")),
            ]),
            vec![],
        ),
        // A missing file makes gpg fail: then the key is fetched.
        task(
            &format!("{summary}: read the stored key's fingerprints"),
            "ansible.builtin.command",
            map([("argv", gpg(dest))]),
            vec![
                ("register", Y::text(stored.clone())),
                ("changed_when", Y::Bool(false)),
                ("failed_when", Y::Bool(false)),
                ("check_mode", Y::Bool(false)),
                ("when", Y::jinja("not ansible_check_mode")),
            ],
        ),
        // `force`: a copy fetched by an earlier play (an expired one, say) is fetched again;
        // changed only when it differs.
        task(
            &format!("{summary}: fetch the signing key"),
            "ansible.builtin.get_url",
            map([
                ("url", Y::text(url)),
                ("dest", Y::text(fetched.clone())),
                ("mode", Y::text("0644")),
                ("force", Y::Bool(true)),
            ]),
            vec![pinned(), ("when", fetch_when.clone())],
        ),
        task(
            &format!("{summary}: read the key's fingerprints"),
            "ansible.builtin.command",
            map([("argv", gpg(&fetched))]),
            vec![
                ("register", Y::text(register.clone())),
                ("changed_when", Y::Bool(false)),
                ("check_mode", Y::Bool(false)),
                pinned(),
                ("when", fetch_when.clone()),
            ],
        ),
        task(
            &format!("{summary}: the key is exactly one of those expected"),
            "ansible.builtin.assert",
            map([
                (
                    "that",
                    Y::Seq(vec![Y::jinja(one_key(&register)), Y::jinja(expected(&register))]),
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
            vec![pinned(), ("when", fetch_when.clone())],
        ),
        task(
            &format!("{summary}: the key has not expired"),
            "ansible.builtin.assert",
            map([
                ("that", Y::Seq(vec![Y::jinja(unexpired(&register))])),
                (
                    "fail_msg",
                    Y::text(format!(
                        "the key at {url} is the pinned key, but its self-signature says it has expired, so apt and dnf would refuse what it signs; nothing stored. Fetch it again from the vendor (or refresh your mirror's copy), then run again"
                    )),
                ),
                ("quiet", Y::Bool(true)),
            ]),
            vec![pinned(), ("when", fetch_when.clone())],
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
    ];
    let at = tasks.len() - 1;
    tasks.splice(at..at, dest_dir);
    tasks
}

/// The register name of a probe task list (its first task).
pub(super) fn probe_register(tasks: &[Y]) -> String {
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
