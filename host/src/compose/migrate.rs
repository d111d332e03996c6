//! `installer migrate --from docker --to containerd|cri-o`: the steps the host adds around the
//! new runtime's own plan, as seed 004 walks them: cordon and drain, stop the kubelet and
//! Docker, point the kubelet's flags at the new runtime's socket (its configuration is
//! aligned by [`super::kubelet`]), start the kubelet again, uncordon.

use std::collections::BTreeMap;

use plugin_api::{Action, FileContent, Phase};
use serde::Serialize;

use super::kubelet::HOST;
use super::{Plan, PlannedStep, StepTag};

/// The flags kubeadm writes for the kubelet (seed 004: `KUBELET_KUBEADM_ARGS` in
/// /var/lib/kubelet/kubeadm-flags.env).
pub const KUBEADM_FLAGS: &str = "/var/lib/kubelet/kubeadm-flags.env";
const FLAGS_VARIABLE: &str = "KUBELET_KUBEADM_ARGS";

/// Kubelet flags that went with dockershim in 1.24 (CHANGELOG-1.24, kubernetes#106907): a
/// kubelet of 1.24 or later refuses to start with any of them.
const DOCKERSHIM_FLAGS: &[&str] = &[
    "--experimental-dockershim-root-directory",
    "--docker-endpoint",
    "--image-pull-progress-deadline",
    "--network-plugin",
    "--cni-conf-dir",
    "--cni-bin-dir",
    "--cni-cache-dir",
    "--network-plugin-mtu",
];

/// How a migration was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    /// The runtime the node leaves (`docker`).
    pub from: String,
    /// The runtime it moves to.
    pub to: String,
    /// The node's name in the cluster.
    pub node: String,
    /// The kubelet's minor version, `(1, 23)`.
    pub kubelet: (u64, u64),
    /// How the node is drained.
    pub drain: Drain,
}

/// Who drains the node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Drain {
    /// The plan does, with kubectl and this kubeconfig on the node.
    Kubectl {
        /// The kubeconfig's path on the node.
        kubeconfig: String,
    },
    /// The operator did, and said so with `--drained`.
    ByHand,
}

/// The commands an operator runs to drain `node` (also shown when the plan cannot).
pub fn drain_commands(node: &str) -> [String; 2] {
    [
        format!("kubectl cordon {node}"),
        format!("kubectl drain {node} --ignore-daemonsets --delete-emptydir-data"),
    ]
}

fn step(
    phase: Phase,
    summary: String,
    why: &str,
    kind: StepTag,
    actions: Vec<Action>,
) -> PlannedStep {
    PlannedStep {
        phase,
        plugins: vec![HOST.to_owned()],
        summary,
        why: why.to_owned(),
        kind,
        actions,
        image_root: Vec::new(),
    }
}

fn kubectl(kubeconfig: &str, args: &[&str]) -> Action {
    Action::Run {
        argv: ["kubectl", "--kubeconfig", kubeconfig]
            .iter()
            .chain(args)
            .map(|s| (*s).to_owned())
            .collect(),
        env: BTreeMap::new(),
        unless: None,
        transaction: false,
        resolve: Vec::new(),
        audit: None,
    }
}

fn service(unit: &str, stop: bool, disable: bool, start: bool) -> Action {
    Action::Service {
        unit: unit.to_owned(),
        daemon_reload: false,
        enable: false,
        start,
        restart_when_changed: Vec::new(),
        stop,
        disable,
    }
}

/// Adds the migration's steps to `plan`, the new runtime's plan. `flags_now` is the
/// kubeadm-flags.env the node has, to keep a `--cgroup-driver` it sets in line.
pub fn extend(plan: &mut Plan, m: &Migration, flags_now: Option<&str>) {
    let node = &m.node;
    let endpoint = plan.facts.get("cri_socket").cloned().unwrap_or_default();
    // A node whose kubelet already talks to the new runtime was migrated: draining it again
    // and stopping its kubelet would only disturb it.
    let migrated = flags_now.is_some_and(|text| {
        text.split(|c: char| c.is_whitespace() || c == '"')
            .any(|w| w == format!("--container-runtime-endpoint={endpoint}"))
    });
    if migrated {
        plan.warnings.push(format!(
            "the kubelet already uses {endpoint}: the node is not drained and nothing is stopped; the rest of the plan only puts back what drifted"
        ));
    }
    if let (Drain::Kubectl { kubeconfig }, false) = (&m.drain, migrated) {
        plan.steps.push(step(
            Phase::Prerequisites,
            format!("cordon and drain node {node}"),
            "pods leave the node before its runtime changes under them (seed 004); DaemonSet pods stay, as kubectl drain leaves them",
            StepTag::Actions,
            vec![
                kubectl(kubeconfig, &["cordon", node]),
                kubectl(kubeconfig, &["drain", node, "--ignore-daemonsets", "--delete-emptydir-data"]),
            ],
        ));
    }
    if !migrated {
        plan.steps.push(stop_step(m));
    }
    let mut set = BTreeMap::from([("--container-runtime-endpoint".to_owned(), endpoint.clone())]);
    let mut remove: Vec<String> = Vec::new();
    // kubelet 1.27 removed --container-runtime (kubernetes.io blog 2023-03-17, "Upcoming
    // changes in Kubernetes v1.27"; minikube#16112: "unknown flag: --container-runtime");
    // before it, `remote` is what selects a CRI runtime other than dockershim (seed 004).
    if m.kubelet < (1, 27) {
        set.insert("--container-runtime".to_owned(), "remote".to_owned());
    } else {
        remove.push("--container-runtime".to_owned());
    }
    if m.kubelet >= (1, 24) {
        remove.extend(DOCKERSHIM_FLAGS.iter().map(|f| (*f).to_owned()));
    }
    // A --cgroup-driver flag wins over the configuration file: keep it in line too.
    if flags_now.is_some_and(|text| text.contains("--cgroup-driver")) {
        set.insert(
            "--cgroup-driver".to_owned(),
            plan.cgroup_driver.driver.to_string(),
        );
    }
    plan.steps.push(step(
        Phase::Configuration,
        format!("point the kubelet at {} ({endpoint})", m.to),
        "the kubelet finds its runtime through --container-runtime-endpoint in the flags kubeadm wrote; its other flags are kept as they are",
        StepTag::File,
        vec![Action::MergeFile {
            path: KUBEADM_FLAGS.to_owned(),
            mode: 0o644,
            merge: FileContent::EnvFlags {
                variable: FLAGS_VARIABLE.to_owned(),
                set,
                remove,
            },
            owner: None,
            group: None,
        }],
    ));
    plan.steps.push(step(
        Phase::Services,
        "start the kubelet on the new runtime".to_owned(),
        "with its flags and configuration pointing at the new runtime, the kubelet comes back (seed 004)",
        StepTag::Service,
        vec![service("kubelet.service", false, false, true)],
    ));
    match &m.drain {
        Drain::Kubectl { kubeconfig } => plan.steps.push(step(
            Phase::Verification,
            format!("uncordon node {node}"),
            "the node takes pods again, now on the new runtime",
            StepTag::Actions,
            vec![kubectl(kubeconfig, &["uncordon", node])],
        )),
        Drain::ByHand => plan.warnings.push(format!(
            "when the kubelet is Ready again on {}, let the node take pods: kubectl uncordon {node}",
            m.to
        )),
    }
    // Stable: each phase keeps the plugins' steps first, then these.
    plan.steps.sort_by_key(|s| s.phase);
}

/// Stopping the kubelet and the runtime the node leaves.
fn stop_step(m: &Migration) -> PlannedStep {
    step(
        Phase::Prerequisites,
        format!("stop the kubelet and {}", m.from),
        "the kubelet must not start pods while its runtime changes; Docker (and cri-dockerd) are stopped and disabled so that they do not come back at boot beside the new runtime; a run that fails after this starts and enables them again",
        StepTag::Service,
        vec![
            service("kubelet.service", true, false, false),
            // cri-dockerd, where the kubelet (1.24 and later) reached Docker through it.
            service("cri-docker.socket", true, true, false),
            service("cri-docker.service", true, true, false),
            service("docker.socket", true, true, false),
            service("docker.service", true, true, false),
        ],
    )
}
