//! Merging the steps of several plugins: what counts as the same step, how two copies
//! combine or conflict, and which files and packages restart which services.

use super::*;

/// A step as merged from one or more plugins.
pub(super) struct Merged {
    pub(super) step: Step,
    pub(super) plugins: Vec<String>,
}

/// What identifies "the same thing" across plugins.
pub(super) fn identity(kind: &StepKind) -> Option<String> {
    Some(match kind {
        StepKind::File(f) => format!("file:{}", f.path),
        // A download installs a file: it and a file step for the same path are one target.
        StepKind::Download(d) => format!("file:{}", d.path),
        StepKind::Repository(r) => format!("repository:{}", r.id),
        StepKind::Service(s) => format!("service:{}", s.unit),
        StepKind::KernelModules { persist_file, .. } => format!("modules:{persist_file}"),
        StepKind::Sysctls { persist_file, .. } => format!("sysctls:{persist_file}"),
        StepKind::Packages { .. } => "packages".to_owned(),
        StepKind::Check(_) | StepKind::Actions { .. } | StepKind::Unknown => return None,
    })
}

pub(super) fn conflict(what: String, first: &[String], second: &str) -> Error {
    Error::input(
        format!(
            "plugins `{}` and `{second}` conflict: {what}",
            first.join("`, `")
        ),
        "drop one of them (--with), or align their options (--set) so they agree",
    )
}

/// Merges duplicate steps and detects conflicts.
pub(super) fn merge(steps: Vec<Step>) -> Result<Vec<Merged>, Error> {
    let mut out: Vec<Merged> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    // Package pins across plugins: name → (package, plugins).
    let mut pins: BTreeMap<String, (Package, Vec<String>)> = BTreeMap::new();
    // Sysctls across files: one kernel, so one value per key whichever file sets it.
    let mut sysctls: BTreeMap<String, (String, String)> = BTreeMap::new();
    for step in steps {
        if let StepKind::Sysctls { settings, .. } = &step.kind {
            for (key, value) in settings {
                match sysctls.get(key) {
                    Some((v, by)) if v != value => {
                        return Err(conflict(
                            format!("sysctl {key} set to {v} and to {value}"),
                            std::slice::from_ref(by),
                            &step.plugin,
                        ))
                    }
                    Some(_) => {}
                    None => {
                        sysctls.insert(key.clone(), (value.clone(), step.plugin.clone()));
                    }
                }
            }
        }
        if let StepKind::Packages { packages } = &step.kind {
            for p in packages {
                match pins.get_mut(&p.name) {
                    None => {
                        let mut p = p.clone();
                        p.requested_by = vec![step.plugin.clone()];
                        pins.insert(p.name.clone(), (p, vec![step.plugin.clone()]));
                    }
                    Some((existing, by)) => {
                        if existing.version != p.version {
                            return Err(conflict(
                                format!(
                                    "package `{}` pinned to {} and to {}",
                                    p.name,
                                    existing.version.as_deref().unwrap_or("any version"),
                                    p.version.as_deref().unwrap_or("any version")
                                ),
                                by,
                                &step.plugin,
                            ));
                        }
                        existing.hold |= p.hold;
                        for v in &p.vulnerabilities {
                            if !existing.vulnerabilities.iter().any(|e| e.id == v.id) {
                                existing.vulnerabilities.push(v.clone());
                            }
                        }
                        if !by.contains(&step.plugin) {
                            by.push(step.plugin.clone());
                            existing.requested_by.push(step.plugin.clone());
                        }
                    }
                }
            }
            continue;
        }
        let Some(id) = identity(&step.kind) else {
            if let Some(m) = out.iter_mut().find(|m| m.step.kind == step.kind) {
                if !m.plugins.contains(&step.plugin) {
                    m.plugins.push(step.plugin.clone());
                }
            } else {
                let plugin = step.plugin.clone();
                out.push(Merged {
                    step,
                    plugins: vec![plugin],
                });
            }
            continue;
        };
        match index.get(&id) {
            None => {
                index.insert(id, out.len());
                let plugin = step.plugin.clone();
                out.push(Merged {
                    step,
                    plugins: vec![plugin],
                });
            }
            Some(&i) => {
                let m = &mut out[i];
                let combined = combine(&m.step.kind, &step.kind)
                    .map_err(|what| conflict(what, &m.plugins, &step.plugin))?;
                m.step.kind = combined;
                if !m.plugins.contains(&step.plugin) {
                    m.plugins.push(step.plugin.clone());
                }
            }
        }
    }
    if !pins.is_empty() {
        let packages: Vec<Package> = pins.into_values().map(|(p, _)| p).collect();
        let mut plugins: Vec<String> = Vec::new();
        for name in packages.iter().flat_map(|p| &p.requested_by) {
            if !plugins.contains(name) {
                plugins.push(name.clone());
            }
        }
        let summary = format!(
            "install {}",
            packages
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        out.push(Merged {
            step: Step::new(
                Phase::Packages,
                summary,
                "",
                StepKind::Packages { packages },
            ),
            plugins,
        });
    }
    Ok(out)
}

/// Combines two steps with the same identity, or says why they conflict.
pub(super) fn combine(a: &StepKind, b: &StepKind) -> Result<StepKind, String> {
    if a == b {
        return Ok(a.clone());
    }
    match (a, b) {
        (
            StepKind::KernelModules {
                modules: ma,
                persist_file,
            },
            StepKind::KernelModules { modules: mb, .. },
        ) => {
            let mut modules = ma.clone();
            modules.extend(mb.iter().filter(|m| !ma.contains(m)).cloned());
            Ok(StepKind::KernelModules {
                modules,
                persist_file: persist_file.clone(),
            })
        }
        (
            StepKind::Sysctls {
                settings: sa,
                persist_file,
            },
            StepKind::Sysctls { settings: sb, .. },
        ) => {
            let mut settings = sa.clone();
            for (k, v) in sb {
                match settings.get(k) {
                    Some(existing) if existing != v => {
                        return Err(format!(
                            "sysctl {k} set to {existing} and to {v} in {persist_file}"
                        ))
                    }
                    _ => {
                        settings.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(StepKind::Sysctls {
                settings,
                persist_file: persist_file.clone(),
            })
        }
        (StepKind::Service(x), StepKind::Service(y)) => Ok(StepKind::Service(ServiceStep {
            unit: x.unit.clone(),
            enable: x.enable || y.enable,
            start: x.start || y.start,
            restart_on_change: x.restart_on_change || y.restart_on_change,
            daemon_reload: x.daemon_reload || y.daemon_reload,
        })),
        (StepKind::File(x), StepKind::File(y)) => combine_files(x, y).map(StepKind::File),
        // One download asked for by two plugins: each restart it names.
        (StepKind::Download(x), StepKind::Download(y))
            if (&x.url, &x.sha256, &x.member, &x.path, x.mode)
                == (&y.url, &y.sha256, &y.member, &y.path, y.mode) =>
        {
            let mut merged = x.clone();
            merged.restarts.extend(
                y.restarts
                    .iter()
                    .filter(|r| !x.restarts.contains(r))
                    .cloned(),
            );
            Ok(StepKind::Download(merged))
        }
        (StepKind::Download(x), StepKind::Download(_)) => Err(format!(
            "{} downloaded from different places or with different digests",
            x.path
        )),
        (StepKind::Repository(x), StepKind::Repository(_)) => Err(format!(
            "repository `{}` defined differently (URL, suite or key)",
            x.id
        )),
        _ => Err("two different kinds of step for one target".to_owned()),
    }
}

pub(super) fn combine_files(x: &FileStep, y: &FileStep) -> Result<FileStep, String> {
    if x.mode != y.mode || x.owner != y.owner || x.group != y.group {
        return Err(format!(
            "file {} wanted with different modes or owners",
            x.path
        ));
    }
    let skip_when = match (&x.skip_when, &y.skip_when) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "file {} guarded by two different conditions",
                x.path
            ))
        }
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    let content = match (&x.content, &y.content) {
        (FileContent::YamlSet { values: a }, FileContent::YamlSet { values: b }) => {
            let mut values = a.clone();
            for (k, v) in b {
                match values.get(k) {
                    Some(w) if w != v => {
                        return Err(format!(
                            "file {}: key `{k}` set to different values",
                            x.path
                        ))
                    }
                    _ => {
                        values.insert(k.clone(), v.clone());
                    }
                }
            }
            FileContent::YamlSet { values }
        }
        (FileContent::JsonMerge { value: a }, FileContent::JsonMerge { value: b }) => {
            let mut merged = a.clone();
            json_merge_strict(&mut merged, b, "")
                .map_err(|key| format!("file {}: key `{key}` set to different values", x.path))?;
            FileContent::JsonMerge { value: merged }
        }
        (
            FileContent::TomlEdit {
                initial: ia,
                edits: ea,
            },
            FileContent::TomlEdit {
                initial: ib,
                edits: eb,
            },
        ) => {
            if ia.is_some() && ib.is_some() && ia != ib {
                return Err(format!("file {}: different initial contents", x.path));
            }
            // Two edits clash when they set one key to different values, or when one sets a
            // key the other removes values from (the outcome would depend on the order).
            let clash = |a: &TomlEdit, b: &TomlEdit| match (a, b) {
                (
                    TomlEdit::Set { path: p, value: v }
                    | TomlEdit::SetDefault { path: p, value: v },
                    TomlEdit::Set { path: q, value: w }
                    | TomlEdit::SetDefault { path: q, value: w },
                ) => p == q && (v != w || std::mem::discriminant(a) != std::mem::discriminant(b)),
                (
                    TomlEdit::Set { path: p, .. } | TomlEdit::SetDefault { path: p, .. },
                    TomlEdit::RemoveFromArray { path: q, .. },
                )
                | (
                    TomlEdit::RemoveFromArray { path: q, .. },
                    TomlEdit::Set { path: p, .. } | TomlEdit::SetDefault { path: p, .. },
                ) => p == q,
                // Two plugins setting one key of the same runtimes to different values.
                (
                    TomlEdit::SetWhere {
                        tables: t,
                        path: p,
                        value: v,
                        ..
                    },
                    TomlEdit::SetWhere {
                        tables: u,
                        path: q,
                        value: w,
                        ..
                    },
                ) => t == u && p == q && v != w,
                _ => false,
            };
            for e in eb {
                if let Some(other) = ea.iter().find(|o| clash(o, e)) {
                    let key = match other {
                        TomlEdit::Set { path, .. }
                        | TomlEdit::SetDefault { path, .. }
                        | TomlEdit::RemoveFromArray { path, .. } => path.join("."),
                        TomlEdit::SetWhere { tables, path, .. } => {
                            format!("{}.*.{}", tables.join("."), path.join("."))
                        }
                    };
                    return Err(format!(
                        "file {}: `{key}` edited in conflicting ways",
                        x.path
                    ));
                }
            }
            let mut edits = ea.clone();
            edits.extend(eb.iter().filter(|e| !ea.contains(e)).cloned());
            FileContent::TomlEdit {
                initial: ia.clone().or_else(|| ib.clone()),
                edits,
            }
        }
        _ => return Err(format!("file {} wanted with different contents", x.path)),
    };
    let mut restarts = x.restarts.clone();
    restarts.extend(
        y.restarts
            .iter()
            .filter(|r| !x.restarts.contains(r))
            .cloned(),
    );
    Ok(FileStep {
        content,
        restarts,
        skip_when,
        ..x.clone()
    })
}

/// Merges `b` into `a`; objects recursively, equal leaves fine, differing leaves an error
/// naming the key.
pub(super) fn json_merge_strict(
    a: &mut serde_json::Value,
    b: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    match (a, b) {
        (serde_json::Value::Object(ao), serde_json::Value::Object(bo)) => {
            for (k, bv) in bo {
                let key = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match ao.get_mut(k) {
                    Some(av) => json_merge_strict(av, bv, &key)?,
                    None => {
                        ao.insert(k.clone(), bv.clone());
                    }
                }
            }
            Ok(())
        }
        (a, b) if a == b => Ok(()),
        _ => Err(at.to_owned()),
    }
}

/// For each unit: the files and packages whose change restarts it.
pub(super) fn restart_triggers(merged: &[Merged]) -> BTreeMap<String, Vec<RestartTrigger>> {
    let mut triggers: BTreeMap<String, Vec<RestartTrigger>> = BTreeMap::new();
    let services: Vec<(&str, &[String])> = merged
        .iter()
        .filter_map(|m| match &m.step.kind {
            StepKind::Service(s) if s.restart_on_change => {
                Some((s.unit.as_str(), m.plugins.as_slice()))
            }
            _ => None,
        })
        .collect();
    for m in merged {
        match &m.step.kind {
            StepKind::File(f) => {
                for unit in &f.restarts {
                    triggers
                        .entry(unit.clone())
                        .or_default()
                        .push(RestartTrigger::File(f.path.clone()));
                }
            }
            StepKind::Download(d) => {
                for unit in &d.restarts {
                    triggers
                        .entry(unit.clone())
                        .or_default()
                        .push(RestartTrigger::File(d.path.clone()));
                }
            }
            StepKind::Packages { packages } => {
                for (unit, plugins) in &services {
                    for p in packages
                        .iter()
                        .filter(|p| p.requested_by.iter().any(|r| plugins.contains(r)))
                    {
                        triggers
                            .entry((*unit).to_owned())
                            .or_default()
                            .push(RestartTrigger::Package(p.name.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    triggers
}
