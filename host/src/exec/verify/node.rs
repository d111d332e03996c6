//! What only the node can say: the runtime answering CRI on its socket, the kubelet's cgroup
//! driver, and the runc binary's version.

use super::*;

/// The node's own checks, after the plan's.
pub(super) fn checks(plan: &Plan, node: &Executor<'_>) -> Vec<CheckReport> {
    vec![
        cri(plan, node),
        kubelet_driver(plan, node),
        kubelet_endpoint(plan, node),
        runc(plan, node),
    ]
}

/// The runtime answers CRI `Version` and `Status` (RuntimeReady) on the socket the plan
/// names.
fn cri(plan: &Plan, node: &Executor<'_>) -> CheckReport {
    let Some(endpoint) = plan.facts.get("cri_socket") else {
        return CheckReport::skip(
            "the runtime answers CRI",
            format!("plugin `{}` names no CRI socket", plan.runtime),
        );
    };
    let check = format!("the runtime answers CRI Version and Status on {endpoint}");
    let Some(path) = endpoint.strip_prefix("unix://") else {
        return CheckReport::skip(check, "not a unix socket");
    };
    let socket = match node.target.open_socket(path) {
        Ok(Some(socket)) => socket,
        Ok(None) if !node.live && !node.systemd => {
            return CheckReport::skip(
                check,
                format!(
                    "nothing listens at {path} in {}: no runtime runs in this root (an image root?); start it there to check CRI",
                    node.target.dir().display()
                ),
            )
        }
        Ok(None) => {
            return CheckReport::fail(
                check,
                format!("there is no socket at {path}: the runtime is not running"),
                "start the runtime (`systemctl enable --now` its unit); `journalctl -u` it says why it stopped",
            )
        }
        Err(e) => {
            return CheckReport::fail(
                check,
                e.to_string(),
                "the path must be the runtime's socket",
            )
        }
    };
    match crate::cri::ask(&socket) {
        Ok(answer) if answer.runtime_ready() => CheckReport::pass(
            check,
            format!(
                "{} {} (CRI {}); {}",
                answer.runtime_name,
                answer.runtime_version,
                answer.api_version,
                conditions(&answer)
            ),
        ),
        Ok(answer) => CheckReport::fail(
            check,
            format!(
                "{} {} answers but is not ready: {}",
                answer.runtime_name,
                answer.runtime_version,
                conditions(&answer)
            ),
            "read the runtime's log for why RuntimeReady is false",
        ),
        Err(e) => CheckReport::fail(
            check,
            e,
            "make sure the runtime runs and its CRI plugin is enabled (containerd: no \"cri\" in disabled_plugins), then check again",
        ),
    }
}

fn conditions(answer: &crate::cri::Answer) -> String {
    answer
        .conditions
        .iter()
        .map(|c| {
            if c.holds || c.reason.is_empty() {
                format!("{}={}", c.kind, c.holds)
            } else {
                format!("{}={} ({})", c.kind, c.holds, c.reason)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kubelet's configuration file, as kubeadm writes it (Kubernetes docs, "Configuring a
/// cgroup driver": kubeadm writes the KubeletConfiguration to /var/lib/kubelet/config.yaml).
pub(in crate::exec) const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";
/// The kubelet flags kubeadm writes, `KUBELET_KUBEADM_ARGS="..."` (seed 004).
pub(in crate::exec) const KUBEADM_FLAGS: &str = "/var/lib/kubelet/kubeadm-flags.env";

/// The fields of a KubeletConfiguration read here.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(in crate::exec) struct KubeletConfiguration {
    /// `systemd` or `cgroupfs`.
    pub cgroup_driver: Option<String>,
    /// The CRI endpoint (from 1.27).
    pub container_runtime_endpoint: Option<String>,
    /// Whether the kubelet refuses to start with swap on (its default: true).
    pub fail_swap_on: Option<bool>,
}

/// The kubelet's cgroup driver as its files on the node say, and which file says it;
/// `None` when there is no kubelet configuration.
pub(in crate::exec) fn kubelet_driver_of(
    node: &Executor<'_>,
) -> Result<Option<(String, String)>, String> {
    let read = |path: &str| match node.current(path) {
        Ok(file) => Ok(file.map(|f| String::from_utf8_lossy(&f.bytes).into_owned())),
        Err(e) => Err(e.message),
    };
    let config = read(KUBELET_CONFIG)?;
    let flags = read(KUBEADM_FLAGS)?;
    // A flag wins over the configuration file (kubelet reads flags last).
    if let Some(d) = flags.as_deref().and_then(flag_driver) {
        return Ok(Some((d, format!("--cgroup-driver in {KUBEADM_FLAGS}"))));
    }
    let Some(text) = config else {
        return Ok(None);
    };
    let parsed = serde_yaml_ng::from_str::<KubeletConfiguration>(&text)
        .map_err(|e| format!("{KUBELET_CONFIG} is not YAML the kubelet reads: {e}"))?;
    Ok(Some(match parsed.cgroup_driver {
        Some(d) => (d, format!("cgroupDriver in {KUBELET_CONFIG}")),
        // The kubelet's own default, for a configuration that does not say (Kubernetes
        // docs, "Configuring a cgroup driver": "the kubelet's default cgroupfs driver").
        None => (
            "cgroupfs".to_owned(),
            format!("the kubelet's default: {KUBELET_CONFIG} sets no cgroupDriver"),
        ),
    }))
}

/// The kubelet uses the cgroup driver the runtime was given.
fn kubelet_driver(plan: &Plan, node: &Executor<'_>) -> CheckReport {
    let want = plan.cgroup_driver.driver.to_string();
    let check = format!("the kubelet's cgroup driver is the runtime's ({want})");
    let (driver, source) = match kubelet_driver_of(node) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return CheckReport::skip(
                check,
                format!("no kubelet configuration here ({KUBELET_CONFIG}, {KUBEADM_FLAGS})"),
            )
        }
        Err(e) => return CheckReport::fail(check, e, "fix the kubelet's files"),
    };
    if driver == want {
        CheckReport::pass(check, source)
    } else {
        CheckReport::fail(
            check,
            format!("the kubelet uses {driver} ({source}) and the runtime {want}: pods fail to start or are killed under pressure (kubernetes#43805)"),
            format!("set cgroupDriver: {want} in {KUBELET_CONFIG} (and no other --cgroup-driver in {KUBEADM_FLAGS}), then restart the kubelet; or give `installer run` --cgroup-driver {driver}"),
        )
    }
}

/// The kubelet talks to the runtime the plan installs: `--container-runtime-endpoint` in
/// kubeadm's flags (which win), else `containerRuntimeEndpoint` in its configuration.
fn kubelet_endpoint(plan: &Plan, node: &Executor<'_>) -> CheckReport {
    let Some(want) = plan.facts.get("cri_socket") else {
        return CheckReport::skip(
            "the kubelet uses the runtime's socket",
            "no CRI socket in the plan",
        );
    };
    let check = format!("the kubelet uses the runtime's socket ({want})");
    let read = |path: &str| {
        node.current(path)
            .ok()
            .flatten()
            .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
    };
    let from_flag = read(KUBEADM_FLAGS)
        .and_then(|t| flag_value(&t, "--container-runtime-endpoint"))
        .map(|e| {
            (
                e,
                format!("--container-runtime-endpoint in {KUBEADM_FLAGS}"),
            )
        });
    let from_config = || {
        read(KUBELET_CONFIG)
            .and_then(|t| serde_yaml_ng::from_str::<KubeletConfiguration>(&t).ok())
            .and_then(|c| c.container_runtime_endpoint)
            .map(|e| (e, format!("containerRuntimeEndpoint in {KUBELET_CONFIG}")))
    };
    let Some((endpoint, source)) = from_flag.or_else(from_config) else {
        return CheckReport::skip(
            check,
            "the kubelet's files name no endpoint (no kubelet here, or its built-in default)",
        );
    };
    // `/var/run` is a link to `/run` on every distro we pack.
    let norm = |e: &str| e.replacen("unix:///var/run/", "unix:///run/", 1);
    if norm(&endpoint) == norm(want) {
        CheckReport::pass(check, source)
    } else {
        CheckReport::fail(
            check,
            format!(
                "the kubelet talks to {endpoint} ({source}), not to {}",
                plan.runtime
            ),
            format!("`installer migrate` moves a kubeadm node's kubelet; or set --container-runtime-endpoint={want} in {KUBEADM_FLAGS} and restart the kubelet"),
        )
    }
}

/// The value of `--cgroup-driver` in a kubeadm-flags.env.
pub(super) fn flag_driver(text: &str) -> Option<String> {
    flag_value(text, "--cgroup-driver")
}

/// The value of `flag` in a kubeadm-flags.env.
fn flag_value(text: &str, flag: &str) -> Option<String> {
    let words: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == '"' || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    // The kubelet takes the last of a repeated flag.
    words.iter().enumerate().rev().find_map(|(i, w)| {
        let w = w.strip_prefix("KUBELET_KUBEADM_ARGS=").unwrap_or(w);
        match w.strip_prefix(flag) {
            Some(rest) if rest.starts_with('=') => Some(rest[1..].to_owned()),
            Some("") => words.get(i + 1).map(|v| (*v).to_owned()),
            _ => None,
        }
    })
}

/// The runc on the node is not in a range of a known container escape.
fn runc(plan: &Plan, node: &Executor<'_>) -> CheckReport {
    let check = "runc is not a release with a known container escape".to_owned();
    let argv = ["runc", "--version"].map(str::to_owned).to_vec();
    let run = node.probe_run(&Probe {
        argv: argv.clone(),
        expect: Expect::Success,
    });
    if let Some(why) = run.unavailable {
        // CRI-O may run containers with crun (Fedora's default) and no runc at all.
        if plan.runtime == "cri-o" {
            return CheckReport::skip(check, format!("{why} (CRI-O may use crun instead)"));
        }
        return CheckReport::fail(
            check,
            why,
            "containerd and Docker run containers through runc: reinstall the runtime's packages",
        );
    }
    let first = run.stdout.lines().next().unwrap_or_default();
    let Some(version) = runc::Version::parse(first) else {
        return CheckReport::fail(
            check,
            format!("`runc --version` said {first:?}, not a version this check reads"),
            "check which runc this is",
        );
    };
    let hits = runc::affecting(&version);
    if hits.is_empty() {
        return CheckReport::pass(check, format!("runc {}", version.text));
    }
    let ids: Vec<String> = hits
        .iter()
        .map(|c| format!("{} ({})", c.id, c.what))
        .collect();
    if version.distro_build {
        // Distros fix runc without changing the upstream version: Debian 12's
        // 1.1.5+ds1-1+deb12u1 carries the fix for CVE-2024-21626 (DSA-5615-1).
        return CheckReport::skip(
            check,
            format!(
                "runc {} is a distribution's build: by its upstream version it would be affected by {}, but distributions backport fixes; check your distribution's security tracker for it",
                version.text,
                ids.join("; ")
            ),
        );
    }
    CheckReport::fail(
        check,
        format!("runc {} is affected by {}", version.text, ids.join("; ")),
        "install a fixed runtime release (`installer run` with a fixed --version), or accept the risk knowingly",
    )
}

mod runc;
