//! Lowering abstract steps (modules, sysctls, files, services) to the actions the host runs.

use super::*;

pub(super) fn module_actions(modules: &[String], persist_file: &str) -> Vec<Action> {
    let mut actions = vec![Action::WriteFile {
        path: persist_file.to_owned(),
        mode: 0o644,
        content: modules.iter().map(|m| format!("{m}\n")).collect(),
        owner: None,
        group: None,
    }];
    actions.extend(modules.iter().map(|m| Action::Run {
        argv: vec!["modprobe".into(), m.clone()],
        env: BTreeMap::new(),
        unless: Some(Probe {
            argv: vec![
                "grep".into(),
                "-q".into(),
                format!("^{m} "),
                "/proc/modules".into(),
            ],
            expect: Expect::Success,
        }),
        transaction: false,
        resolve: Vec::new(),
        audit: None,
    }));
    actions
}

pub(super) fn sysctl_actions(
    settings: &BTreeMap<String, String>,
    persist_file: &str,
) -> Vec<Action> {
    let mut actions = vec![Action::WriteFile {
        path: persist_file.to_owned(),
        mode: 0o644,
        content: settings
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect(),
        owner: None,
        group: None,
    }];
    actions.extend(settings.iter().map(|(k, v)| Action::Run {
        argv: vec!["sysctl".into(), "-w".into(), format!("{k}={v}")],
        env: BTreeMap::new(),
        unless: Some(Probe {
            argv: vec!["sysctl".into(), "-n".into(), k.clone()],
            expect: Expect::StdoutEquals(v.clone()),
        }),
        transaction: false,
        resolve: Vec::new(),
        audit: None,
    }));
    actions
}

pub(super) fn file_action(file: &FileStep) -> Action {
    match &file.content {
        FileContent::Full { text } => Action::WriteFile {
            path: file.path.clone(),
            mode: file.mode,
            content: text.clone(),
            owner: file.owner.clone(),
            group: file.group.clone(),
        },
        merge => Action::MergeFile {
            path: file.path.clone(),
            mode: file.mode,
            merge: merge.clone(),
            owner: file.owner.clone(),
            group: file.group.clone(),
        },
    }
}

pub(super) fn service_action(
    service: &ServiceStep,
    triggers: Option<&Vec<RestartTrigger>>,
) -> Action {
    Action::Service {
        unit: service.unit.clone(),
        daemon_reload: service.daemon_reload,
        enable: service.enable,
        start: service.start,
        restart_when_changed: if service.restart_on_change {
            triggers.cloned().unwrap_or_default()
        } else {
            Vec::new()
        },
        stop: false,
        disable: false,
    }
}
