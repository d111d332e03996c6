//! Shape checks on what plugins returned: plugins are trusted to be correct, not to be safe,
//! so every value that reaches a file system or a command line is checked here.

use super::*;

use plugin_api::validate;

/// A value a plugin made up that the shared checks refuse: the plugin's bug (exit 3), not
/// the user's input. (Values from the user were checked as input before they reached it.)
fn bug(e: plugin_api::PluginError) -> Error {
    Error::plugin_bug(e.to_string())
}

/// A name or version of `kind` from a plugin.
fn token(value: &str, from: &str, kind: &validate::Kind) -> Result<(), Error> {
    validate::check(value, kind, from).map_err(bug)
}

/// A path on the target from a plugin.
fn target_path(path: &str, from: &str) -> Result<(), Error> {
    validate::target_path(path, from).map_err(bug)
}

/// A free-form value from a plugin.
fn value(value: &str, from: &str) -> Result<(), Error> {
    validate::value(value, from).map_err(bug)
}

/// The shape checks of a plugin's `merge_file` action, on one given by the user
/// (`installer edit-file`): a path inside the target, keys and values that are plain.
pub fn check_edit(action: &Action) -> Result<(), Error> {
    check_action(action, "--merge", &Options::default()).map_err(|e| Error::Input {
        message: e.to_string(),
        hint: Some(
            "give the `merge` object of a `merge_file` action as `plan --output json` prints it"
                .to_owned(),
        ),
    })
}

/// Shape checks on a runtime handler a plugin declared: every value of it lands in the
/// runtime's configuration file.
pub(super) fn check_handler(h: &plugin_api::RuntimeHandler) -> Result<(), Error> {
    let from = format!("plugin `{}` (runtime handler \"{}\")", h.plugin, h.name);
    token(&h.name, &from, &validate::RUNTIME_HANDLER)?;
    if h.name.starts_with('-')
        || h.name.ends_with('-')
        || h.name.chars().any(|c| c.is_ascii_uppercase())
    {
        return Err(Error::plugin_bug(format!(
            "{from}: `{}` is not a DNS label (lower-case letters, digits, `-` inside)",
            h.name
        )));
    }
    token(&h.shim, &from, &validate::SHIM)?;
    for path in h.binary.iter().chain(&h.config_path) {
        target_path(path, &from)?;
    }
    for (key, value) in &h.options {
        token(key, &from, &validate::OPTION_KEY)?;
        self::value(value, &from)?;
    }
    Ok(())
}

/// Shape checks on what a runtime plugin returned: plugins are trusted to be correct, not to
/// be safe, so values that reach a file system or a command line are checked here too.
pub(super) fn check_step(step: &Step, options: &Options) -> Result<(), Error> {
    let from = format!(
        "plugin `{}` ({} step \"{}\")",
        step.plugin,
        step.kind.type_name(),
        step.summary
    );
    match &step.kind {
        StepKind::Unknown => unreachable!("compose refuses unknown step kinds on arrival"),
        StepKind::KernelModules {
            modules,
            persist_file,
        } => {
            target_path(persist_file, &from)?;
            modules
                .iter()
                .try_for_each(|m| token(m, &from, &validate::KERNEL_MODULE))
        }
        StepKind::Sysctls {
            settings,
            persist_file,
        } => {
            target_path(persist_file, &from)?;
            settings.iter().try_for_each(|(k, v)| {
                token(k, &from, &validate::SYSCTL_KEY)?;
                value(v, &from)
            })
        }
        StepKind::Repository(r) => {
            token(&r.id, &from, &validate::REPOSITORY_ID)?;
            // yum and zypper expand these variables in a baseurl themselves; they are the
            // only `$` a repository URL may carry.
            let url = ["$releasever", "$basearch", "$arch"]
                .iter()
                .fold(r.url.clone(), |u, var| u.replace(var, "VAR"));
            if r.vendor {
                check_url(
                    &url,
                    &format!("{from}, repository `{}`", r.id),
                    options.allow_insecure_repo,
                )?;
            } else {
                value(&url, &from)?;
            }
            if let Some(key) = &r.key {
                check_url(
                    &key.url,
                    &format!("{from}, key of repository `{}`", r.id),
                    options.allow_insecure_repo,
                )?;
            } else if !options.allow_insecure_repo {
                return Err(Error::input(
                    format!("{from}: repository `{}` ({}) has no signing key", r.id, r.url),
                    "packages from it could not be verified; give it a key, or accept that by name with --allow-insecure-repo",
                ));
            }
            Ok(())
        }
        StepKind::Packages { packages } => packages.iter().try_for_each(|p| {
            token(&p.name, &from, &validate::PACKAGE)?;
            p.version
                .as_deref()
                .map_or(Ok(()), |v| token(v, &from, &validate::VERSION))
        }),
        StepKind::File(f) => {
            target_path(&f.path, &from)?;
            if let Some(owner) = f.owner.as_deref().or(f.group.as_deref()) {
                token(owner, &from, &validate::ACCOUNT)?;
            }
            if let FileContent::YamlSet { values } = &f.content {
                yaml_values(values, &from)?;
            }
            if let FileContent::TomlEdit { edits, .. } = &f.content {
                for edit in edits {
                    if let TomlEdit::SetWhere {
                        when_key,
                        path,
                        aliases,
                        ..
                    } = edit
                    {
                        // The rendered script splits these on dots and spaces.
                        let plain = |k: &String| {
                            !k.is_empty()
                                && k.chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        };
                        if let Some(bad) = std::iter::once(when_key)
                            .chain(path)
                            .chain(aliases)
                            .find(|k| !plain(k))
                        {
                            return Err(Error::plugin_bug(format!(
                                "{from}: the set_where key {bad:?} is not a plain TOML name"
                            )));
                        }
                        if path.is_empty() {
                            return Err(Error::plugin_bug(format!(
                                "{from}: a set_where with no key to set"
                            )));
                        }
                    }
                }
            }
            Ok(())
        }
        StepKind::Download(d) => {
            check_download(
                &d.url,
                &d.sha256,
                d.member.as_deref(),
                (&d.path, d.mode),
                &from,
                options,
            )?;
            d.restarts
                .iter()
                .try_for_each(|u| token(u, &from, &validate::UNIT))
        }
        StepKind::Service(s) => token(&s.unit, &from, &validate::UNIT),
        StepKind::Check(Check { probe, .. }) => check_probe(probe, &from),
        StepKind::Actions { actions } => actions
            .iter()
            .try_for_each(|a| check_action(a, &from, options)),
    }
}

/// A download: its URL as a key's, its digest and member by shape, its path as a file's.
pub(super) fn check_download(
    url: &str,
    sha256: &str,
    member: Option<&str>,
    (path, mode): (&str, u32),
    from: &str,
    options: &Options,
) -> Result<(), Error> {
    check_url(url, from, options.allow_insecure_repo)?;
    // The host writes no setuid, setgid or sticky bit (`Target::write_atomic`); a mode that
    // asks for one would never match what is written, and each run would install again.
    if mode > 0o777 {
        return Err(Error::plugin_bug(format!(
            "{from}: a download of mode {mode:04o}, with a setuid, setgid or sticky bit"
        )));
    }
    plugin_api::validate::sha256(sha256, from).map_err(bug)?;
    if let Some(member) = member {
        plugin_api::validate::archive_member(member, from).map_err(bug)?;
    }
    target_path(path, from)
}

pub(super) fn check_probe(probe: &Probe, from: &str) -> Result<(), Error> {
    if probe.argv.is_empty() {
        return Err(Error::plugin_bug(format!(
            "{from}: a probe with an empty command"
        )));
    }
    probe.argv.iter().try_for_each(|a| check_arg(a, from))
}

/// Command arguments are passed without a shell, so only control characters are refused.
pub(super) fn check_arg(arg: &str, from: &str) -> Result<(), Error> {
    if arg.chars().any(|c| c.is_control()) {
        return Err(Error::plugin_bug(format!(
            "{from}: the argument {arg:?} contains a control character"
        )));
    }
    Ok(())
}

pub(super) fn check_action(action: &Action, from: &str, options: &Options) -> Result<(), Error> {
    match action {
        Action::WriteFile { path, .. }
        | Action::MergeFile { path, .. }
        | Action::RemoveFile { path } => target_path(path, from),
        Action::FetchKey { url, dest, .. } => {
            check_url(url, from, options.allow_insecure_repo)?;
            target_path(dest, from)
        }
        Action::Download {
            url,
            sha256,
            member,
            path,
            mode,
        } => check_download(url, sha256, member.as_deref(), (path, *mode), from, options),
        Action::Run {
            argv,
            env,
            unless,
            resolve,
            ..
        } => {
            if argv.is_empty() {
                return Err(Error::plugin_bug(format!("{from}: a command with no argv")));
            }
            argv.iter()
                .chain(env.values())
                .try_for_each(|a| check_arg(a, from))?;
            // An environment name that is not a name would be an option to `env` in a script.
            for key in env.keys() {
                let ok = key
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(Error::plugin_bug(format!(
                        "{from}: {key:?} is not an environment variable name"
                    )));
                }
            }
            for r in resolve {
                if r.query.is_empty() || r.placeholder.is_empty() {
                    return Err(Error::plugin_bug(format!(
                        "{from}: the version resolution of {} has an empty query or placeholder",
                        r.package
                    )));
                }
                r.query.iter().try_for_each(|a| check_arg(a, from))?;
            }
            unless.as_ref().map_or(Ok(()), |p| check_probe(p, from))
        }
        Action::Service { unit, .. } => {
            token(unit, from, &validate::UNIT)
        }
        Action::Check(c) => check_probe(&c.probe, from),
        Action::SkipIf(guard) => check_probe(&guard.probe, from),
        Action::Unknown => Err(Error::plugin_bug(format!(
            "{from}: an action of a kind this host does not know (host protocol {}); the plugin speaks a newer protocol: upgrade installer to a version that knows it",
            plugin_api::PROTOCOL_VERSION
        ))),
    }
}

/// Keys and values of a YAML edit: names and plain scalars the script can write as `run`
/// does (no quotes, no `: ` or ` #` that YAML would read otherwise, no leading indicator).
pub(super) fn yaml_values(
    values: &std::collections::BTreeMap<String, String>,
    from: &str,
) -> Result<(), Error> {
    for (key, value) in values {
        let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let value_ok = value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._/:@".contains(c))
            && !value.contains(": ");
        if !key_ok || !value_ok {
            return Err(Error::plugin_bug(format!(
                "{from}: YAML key {key:?} = {value:?} is not a plain name and scalar"
            )));
        }
    }
    Ok(())
}

/// What a plugin may only do with an owner in the plan: restart a unit (some plugin's service
/// step must manage it) and edit a TOML file in place (some plugin must write it when it is
/// missing). Without one the restart or the file would be lost, or the file written without
/// what its owner puts in it (containerd's `version`): an error naming the plugin, never a
/// silent drop. The `--runtime` plugin itself may edit a file its own package installs.
pub(super) fn ownership(merged: &[super::combine::Merged], runtime: &str) -> Result<(), Error> {
    let managed: Vec<&str> = merged
        .iter()
        .filter_map(|m| match &m.step.kind {
            StepKind::Service(s) => Some(s.unit.as_str()),
            _ => None,
        })
        .collect();
    for m in merged {
        let restarts = match &m.step.kind {
            StepKind::File(f) => &f.restarts,
            StepKind::Download(d) => &d.restarts,
            _ => continue,
        };
        if let Some(unit) = restarts.iter().find(|u| !managed.contains(&u.as_str())) {
            return Err(Error::input(
                format!(
                    "plugin `{}` restarts {unit} when \"{}\" changes, and no plugin of this plan manages {unit}: the restart would be lost",
                    m.plugins.join(", "),
                    m.step.summary
                ),
                format!("select the runtime that runs {unit} too (with --runtime, adding this plugin with --with), or a plugin that manages it"),
            ));
        }
        // The runtime plugin may edit a file its own package installs (CRI-O's crio.conf).
        let by_owner = m.plugins.iter().any(|p| p == runtime);
        if let (
            false,
            StepKind::File(FileStep {
                path,
                content: FileContent::TomlEdit { initial: None, .. },
                ..
            }),
        ) = (by_owner, &m.step.kind)
        {
            return Err(Error::input(
                format!(
                    "plugin `{}` edits {path} in place, and no plugin of this plan writes that file when it is missing: its owner is not selected",
                    m.plugins.join(", ")
                ),
                "select the runtime that owns the file with --runtime and add this plugin with --with",
            ));
        }
    }
    Ok(())
}
