//! The node's readiness for a plan, asked before anything changes (`installer preflight`, and
//! the start of every `run`): what would make the install fail or harm a node that already
//! does work. Each check passes, fails (run refuses, exit 2, unless `--force`) or warns.

use super::verify::node::{kubelet_driver_of, KubeletConfiguration, KUBELET_CONFIG};
use super::verify::{CheckReport, Verdict};
use super::*;

/// CRI sockets by runtime, where each listens by default (seed 001, the Kubernetes
/// "Container runtimes" page: containerd `/run/containerd/containerd.sock`, CRI-O
/// `/var/run/crio/crio.sock`, cri-dockerd `/run/cri-dockerd.sock`).
const CRI_SOCKETS: &[(&str, &str)] = &[
    ("containerd", "/run/containerd/containerd.sock"),
    ("CRI-O", "/var/run/crio/crio.sock"),
    ("cri-dockerd", "/run/cri-dockerd.sock"),
];

/// Runtime plugins whose daemon runs on containerd (dockerd does), so that containerd's
/// socket serving is part of their runtime, not another one.
const ON_CONTAINERD: &[&str] = &["docker", "mcr"];

/// Commands the kubelet and kube-proxy need on a node: kubeadm's preflight has them as
/// mandatory `InPathCheck`s (kubernetes `cmd/kubeadm/app/preflight`, `checks_linux.go`).
const NODE_TOOLS: &[&str] = &["iptables", "mount", "nsenter", "ip"];

/// Below this, `/var/lib` cannot hold a runtime and its first images: refuse.
const DISK_REFUSE: u64 = 1 << 30;
/// Below this, warn: the kubelet's default hard eviction is at 10% free, and a few images
/// fill a small disk fast. (Our thresholds, not an upstream figure.)
const DISK_WARN: u64 = 5 << 30;

/// The node checks of a preflight. `seen` is what [`super::preflight`] found of the plan's
/// files (a cgroup driver changing in one of them matters when pods run).
pub fn readiness(plan: &Plan, target: &Target, seen: &super::Preflight) -> Vec<CheckReport> {
    let node = Executor::asking(target);
    let mut checks = other_cri(plan, &node);
    checks.push(kubelet_driver(plan, &node));
    checks.push(running_pods(plan, &node, seen));
    checks.push(swap(&node));
    checks.push(tools(&node));
    checks.push(disk(&node));
    checks
}

/// Another runtime already serving CRI on the node.
fn other_cri(plan: &Plan, node: &Executor<'_>) -> Vec<CheckReport> {
    let ours = plan
        .facts
        .get("cri_socket")
        .and_then(|s| s.strip_prefix("unix://"))
        .unwrap_or("");
    CRI_SOCKETS
        .iter()
        .filter(|(runtime, path)| {
            let part_of_ours =
                *runtime == "containerd" && ON_CONTAINERD.contains(&plan.runtime.as_str());
            // A migration leaves Docker, which serves CRI through cri-dockerd (1.24 and
            // later) and runs on containerd: those sockets are the runtime it replaces.
            let leaving = plan.migration.as_ref().is_some_and(|m| m.from == "docker")
                && matches!(*runtime, "cri-dockerd" | "containerd");
            !same_socket(path, ours) && !part_of_ours && !leaving
        })
        .map(|(runtime, path)| {
            let check = format!("no other runtime serves CRI ({runtime} at {path})");
            match node.target.open_socket(path) {
                Ok(Some(socket)) => match crate::cri::ask(&socket) {
                    Ok(answer) => CheckReport::fail(
                        check,
                        format!(
                            "{} {} answers CRI at {path}: this node already has a container runtime",
                            answer.runtime_name, answer.runtime_version
                        ),
                        format!(
                            "move the node off it first (`installer migrate --from ...`), or remove {runtime}; pass --force to install {} beside it anyway",
                            plan.runtime
                        ),
                    ),
                    Err(_) => CheckReport::pass(check, format!("{path} does not answer CRI")),
                },
                Ok(None) => CheckReport::pass(check, ""),
                Err(e) => CheckReport::pass(check, e.to_string()),
            }
        })
        .collect()
}

/// `/run/x` and `/var/run/x` are one socket on every distro we pack (`/var/run` links to
/// `/run`).
fn same_socket(a: &str, b: &str) -> bool {
    let norm = |p: &str| p.strip_prefix("/var").unwrap_or(p).to_owned();
    norm(a) == norm(b)
}

/// A kubelet already configured with the other driver.
fn kubelet_driver(plan: &Plan, node: &Executor<'_>) -> CheckReport {
    let want = plan.cgroup_driver.driver.to_string();
    let check = format!("the kubelet, if configured, uses the plan's cgroup driver ({want})");
    match kubelet_driver_of(node) {
        Ok(None) => CheckReport::pass(check, "no kubelet configuration yet"),
        Ok(Some((driver, source))) if driver == want => CheckReport::pass(check, source),
        // --configure-kubelet sets the file's value; a flag would still win over it.
        // (A migration rewrites a --cgroup-driver flag as well.)
        Ok(Some((driver, source)))
            if plan.configures_kubelet
                && (plan.migration.is_some() || !source.contains("--cgroup-driver")) =>
        {
            CheckReport::pass(
                check,
                format!("the kubelet uses {driver} ({source}); this plan sets it to {want}"),
            )
        }
        Ok(Some((driver, source))) => CheckReport::fail(
            check,
            format!("the kubelet uses {driver} ({source}); the plan gives the runtime {want}, and a mismatch breaks pods (kubernetes#43805)"),
            format!("give the runtime the kubelet's driver with --cgroup-driver {driver}, or change the kubelet's ({KUBELET_CONFIG}) first"),
        ),
        Err(e) => CheckReport::fail(check, e, "fix the kubelet's files"),
    }
}

/// Whether a changed line of a runtime's configuration touches its cgroup settings
/// (`SystemdCgroup`, `cgroup_manager`, `conmon_cgroup`, `native.cgroupdriver`, ...).
fn touches_cgroups(line: &str) -> bool {
    line.to_ascii_lowercase().contains("cgroup")
}

/// Pods running on a node whose runtime's cgroup driver the plan changes: the seeds' warning
/// (changing the driver of a node in a cluster breaks its pod sandboxes).
fn running_pods(plan: &Plan, node: &Executor<'_>, seen: &super::Preflight) -> CheckReport {
    let check = "no running pods would see their cgroup driver change".to_owned();
    let pods = node
        .target
        .list_dir("/var/lib/kubelet/pods")
        .map(|names| names.len())
        .unwrap_or(0);
    let changes: Vec<&String> = seen
        .diffs
        .iter()
        .filter(|(_, diff)| {
            diff.lines().any(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
                    && touches_cgroups(l)
            })
        })
        .map(|(path, _)| path)
        .collect();
    if plan.migration.is_some() {
        return CheckReport::pass(
            check,
            "a migration drains the node first (its DaemonSet pods are restarted with the kubelet)",
        );
    }
    match (pods, changes.is_empty()) {
        (0, _) => CheckReport::pass(check, "no pods on this node (/var/lib/kubelet/pods)"),
        (_, true) => CheckReport::pass(check, "the plan keeps the runtime's cgroup driver"),
        (n, false) => CheckReport::fail(
            check,
            format!(
                "{n} pod(s) under /var/lib/kubelet/pods, and the plan changes the cgroup driver in {}: their sandboxes would break",
                changes.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            ),
            format!(
                "drain the node first (`kubectl drain <node> --ignore-daemonsets`), then run with --force; or keep the driver the node has ({} is what the plan would set)",
                plan.cgroup_driver.driver
            ),
        ),
    }
}

/// Swap on, which the kubelet refuses by default (`failSwapOn: true`).
fn swap(node: &Executor<'_>) -> CheckReport {
    let check = "swap is off (or the kubelet allows it)".to_owned();
    if !node.live {
        return CheckReport::skip(check, "the running kernel's swap is not this root's");
    }
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    let active = active_swaps(&swaps);
    if active.is_empty() {
        return CheckReport::pass(check, "");
    }
    let allowed = node
        .current(KUBELET_CONFIG)
        .ok()
        .flatten()
        .and_then(|f| serde_yaml_ng::from_slice::<KubeletConfiguration>(&f.bytes).ok())
        .and_then(|c| c.fail_swap_on)
        == Some(false);
    if allowed {
        return CheckReport::pass(check, format!("failSwapOn: false in {KUBELET_CONFIG}"));
    }
    CheckReport::fail(
        check,
        format!("swap is on ({}): the kubelet refuses to start with it by default", active.join(", ")),
        "`swapoff -a` and remove the swap entries from /etc/fstab, or allow swap in the kubelet (failSwapOn: false with memorySwap set)",
    )
}

/// The commands a node needs, found in the root's system directories.
fn tools(node: &Executor<'_>) -> CheckReport {
    let check = format!("{} are installed", NODE_TOOLS.join(", "));
    let dirs = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    let missing: Vec<&str> = NODE_TOOLS
        .iter()
        .copied()
        .filter(|tool| {
            !dirs
                .iter()
                .any(|d| node.target.exists(&format!("{d}/{tool}")))
        })
        .collect();
    if missing.is_empty() {
        return CheckReport::pass(check, "");
    }
    let detail = format!(
        "not found in {}: {}",
        node.target.dir().display(),
        missing.join(", ")
    );
    if node.live {
        CheckReport::fail(
            check,
            detail,
            "install them (Debian: iptables, mount, util-linux, iproute2; RHEL: iptables-nft, util-linux, iproute)",
        )
    } else {
        // An image being built may get them in a later layer.
        CheckReport {
            status: Verdict::Warn,
            ..CheckReport::skip(
                check,
                format!("{detail}; the node needs them before it joins a cluster"),
            )
        }
    }
}

/// Room under /var/lib for the runtime's images and containers.
fn disk(node: &Executor<'_>) -> CheckReport {
    let check = "/var/lib has room for the runtime's images".to_owned();
    // The runtime's directories go under /var/lib, or where it will be made.
    let at = ["/var/lib", "/var", "/"]
        .into_iter()
        .find(|p| node.target.is_dir(p))
        .unwrap_or("/");
    let free = match node.target.free_bytes(at) {
        Ok(free) => free,
        Err(e) => return CheckReport::skip(check, format!("cannot tell: {e}")),
    };
    let gib = free as f64 / f64::from(1u32 << 30);
    let detail = format!("{gib:.1} GiB free under {at}");
    if free < DISK_REFUSE {
        CheckReport::fail(
            check,
            detail,
            "free space under /var/lib (or mount a larger disk there) before installing a runtime",
        )
    } else if free < DISK_WARN {
        CheckReport {
            status: Verdict::Warn,
            ..CheckReport::pass(
                check,
                format!("{detail}: a few images fill it; the kubelet evicts pods below 10% free"),
            )
        }
    } else {
        CheckReport::pass(check, detail)
    }
}

/// The swap devices `/proc/swaps` lists (a header line, then one line per device).
fn active_swaps(text: &str) -> Vec<&str> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_swaps_lists_devices_after_its_header() {
        assert!(active_swaps("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
        assert_eq!(
            active_swaps("Filename\tType\tSize\tUsed\tPriority\n/swap.img file 2097148 0 -2\n"),
            ["/swap.img"]
        );
    }

    #[test]
    fn a_socket_under_var_run_is_the_one_under_run() {
        assert!(same_socket(
            "/var/run/crio/crio.sock",
            "/run/crio/crio.sock"
        ));
        assert!(!same_socket(
            "/run/containerd/containerd.sock",
            "/run/crio/crio.sock"
        ));
    }

    #[test]
    fn any_cgroup_setting_counts_as_a_driver_change() {
        for line in [
            "-            SystemdCgroup = false",
            "+cgroup_manager = \"systemd\"",
            "+conmon_cgroup = \"pod\"",
            "+  \"exec-opts\": [\"native.cgroupdriver=systemd\"]",
        ] {
            assert!(touches_cgroups(line), "{line}");
        }
        assert!(!touches_cgroups(
            "+sandbox_image = \"registry.k8s.io/pause:3.10\""
        ));
    }
}
