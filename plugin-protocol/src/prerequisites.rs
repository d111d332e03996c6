//! Node prerequisites: what every Kubernetes node needs whatever its runtime.
//!
//! Runtime plugins call [`node_prerequisites`] and add its steps to their plan. The steps are
//! the same for every plugin and every call (same order, same text), so the host's composition
//! merges the copies several plugins ask for into one.
//!
//! ```
//! use plugin_protocol::prerequisites::node_prerequisites;
//!
//! let steps = node_prerequisites();
//! assert_eq!(steps.len(), 2);
//! ```

use std::collections::BTreeMap;

use crate::{Phase, Step, StepKind};

/// The `modules-load.d` file listing the modules, so they are loaded again at boot.
pub const MODULES_FILE: &str = "/etc/modules-load.d/k8s.conf";

/// The `sysctl.d` file holding the settings, so they hold again at boot.
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/k8s.conf";

/// Kernel modules a node needs: `overlay` for the runtimes' overlay snapshotter or storage
/// driver, `br_netfilter` so that bridged pod traffic passes through iptables.
pub const MODULES: [&str; 2] = ["overlay", "br_netfilter"];

/// Sysctls a node needs, all set to `1`.
pub const SYSCTLS: [&str; 3] = [
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.ipv4.ip_forward",
];

/// The prerequisite steps: load and persist [`MODULES`], set and persist [`SYSCTLS`].
///
/// Both are in [`Phase::Prerequisites`]; the sysctl step comes second because the
/// `net.bridge.*` keys only exist once `br_netfilter` is loaded.
pub fn node_prerequisites() -> Vec<Step> {
    vec![kernel_modules(), sysctls()]
}

fn kernel_modules() -> Step {
    Step::new(
        Phase::Prerequisites,
        format!(
            "load kernel modules {} now and at boot ({MODULES_FILE})",
            MODULES.join(", ")
        ),
        "container runtimes mount image layers with overlayfs, and kube-proxy and network \
         plugins need br_netfilter so that traffic crossing the pod bridge is seen by iptables; \
         a module loaded by hand only is gone after a reboot, leaving the node broken then",
        StepKind::KernelModules {
            modules: MODULES.iter().map(|m| (*m).to_owned()).collect(),
            persist_file: MODULES_FILE.to_owned(),
        },
    )
}

fn sysctls() -> Step {
    let settings: BTreeMap<String, String> = SYSCTLS
        .iter()
        .map(|k| ((*k).to_owned(), "1".to_owned()))
        .collect();
    Step::new(
        Phase::Prerequisites,
        format!(
            "set {} = 1 now and at boot ({SYSCTL_FILE})",
            SYSCTLS.join(", ")
        ),
        "pods reach services and other nodes only when the node forwards IPv4 and bridged \
         traffic goes through iptables (and ip6tables); kubeadm's preflight refuses a node \
         without ip_forward",
        StepKind::Sysctls {
            settings,
            persist_file: SYSCTL_FILE.to_owned(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_then_sysctls_in_prerequisites() {
        let steps = node_prerequisites();
        assert_eq!(steps.len(), 2);
        assert!(steps.iter().all(|s| s.phase == Phase::Prerequisites));
        match &steps[0].kind {
            StepKind::KernelModules {
                modules,
                persist_file,
            } => {
                assert_eq!(modules, &["overlay", "br_netfilter"]);
                assert_eq!(persist_file, "/etc/modules-load.d/k8s.conf");
            }
            other => panic!("expected kernel modules, got {other:?}"),
        }
        match &steps[1].kind {
            StepKind::Sysctls {
                settings,
                persist_file,
            } => {
                assert_eq!(persist_file, "/etc/sysctl.d/k8s.conf");
                assert_eq!(settings.len(), 3);
                for key in [
                    "net.bridge.bridge-nf-call-iptables",
                    "net.bridge.bridge-nf-call-ip6tables",
                    "net.ipv4.ip_forward",
                ] {
                    assert_eq!(settings.get(key).map(String::as_str), Some("1"), "{key}");
                }
            }
            other => panic!("expected sysctls, got {other:?}"),
        }
    }

    #[test]
    fn the_steps_cross_the_plugin_boundary_unchanged_so_the_host_can_merge_them() {
        // Plugins send steps as JSON; two plugins' copies are merged when they arrive equal.
        let steps = node_prerequisites();
        let sent = serde_json::to_string(&steps).unwrap();
        let received: Vec<Step> = serde_json::from_str(&sent).unwrap();
        assert_eq!(received, steps);
    }

    #[test]
    fn every_step_says_why() {
        for step in node_prerequisites() {
            assert!(!step.why.is_empty(), "{}", step.summary);
            assert!(!step.summary.contains('\n'), "{}", step.summary);
        }
    }
}
