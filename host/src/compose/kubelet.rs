//! `--configure-kubelet`: a step the host adds to any plan, setting the kubelet's cgroup
//! driver and runtime endpoint to the runtime's, in the KubeletConfiguration kubeadm wrote.

use std::collections::BTreeMap;

use plugin_api::{Action, FileContent, Phase, RestartTrigger};

use super::{Plan, PlannedStep, StepTag};

/// Where kubeadm writes the KubeletConfiguration (Kubernetes docs, "Configuring a cgroup
/// driver": kubeadm writes it to /var/lib/kubelet/config.yaml at init, join and upgrade).
pub const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";

/// The name the host signs its own steps with.
pub const HOST: &str = "installer";

/// The first Kubernetes minor whose KubeletConfiguration has `containerRuntimeEndpoint`
/// (kubelet v1.27 moved `--container-runtime-endpoint` into the configuration file; the
/// same page: kubeadm patches `containerRuntimeEndpoint` into config.yaml).
const ENDPOINT_IN_CONFIG: (u64, u64) = (1, 27);

/// The step aligning the kubelet with `plan`'s runtime. Where kubeadm has not written the
/// file yet, the edit is skipped with a warning (a YAML edit never creates its document).
pub fn align(plan: &Plan, kubernetes_version: Option<&str>) -> PlannedStep {
    let driver = plan.cgroup_driver.driver.to_string();
    let mut values = BTreeMap::from([("cgroupDriver".to_owned(), driver.clone())]);
    let endpoint = plan.facts.get("cri_socket");
    let older = kubernetes_version
        .and_then(minor)
        .is_some_and(|v| v < ENDPOINT_IN_CONFIG);
    let mut why = format!(
        "the kubelet and the runtime must use one cgroup driver, or pods fail under pressure (kubernetes#43805); {KUBELET_CONFIG} is edited in place, its other settings and comments kept, and the kubelet restarted only when it changed"
    );
    match endpoint {
        Some(endpoint) if !older => {
            values.insert("containerRuntimeEndpoint".to_owned(), endpoint.clone());
        }
        Some(endpoint) => why.push_str(&format!(
            "; kubelets before 1.27 read the endpoint only from --container-runtime-endpoint ({endpoint}), not from this file"
        )),
        None => {}
    }
    PlannedStep {
        // With the services: the kubelet restarts after the runtime it talks to.
        phase: Phase::Services,
        plugins: vec![HOST.to_owned()],
        summary: format!(
            "align the kubelet with {}: {}",
            plan.runtime,
            values
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        why,
        kind: StepTag::File,
        actions: vec![
            Action::MergeFile {
                path: KUBELET_CONFIG.to_owned(),
                mode: 0o644,
                merge: FileContent::YamlSet { values },
                owner: None,
                group: None,
            },
            Action::Service {
                unit: "kubelet.service".to_owned(),
                daemon_reload: false,
                enable: false,
                start: false,
                restart_when_changed: vec![RestartTrigger::File(KUBELET_CONFIG.to_owned())],
                stop: false,
                disable: false,
            },
        ],
        image_root: Vec::new(),
    }
}

/// `1.30` or `v1.30.2` as (1, 30).
pub fn minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
