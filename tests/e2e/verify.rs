//! `installer verify` on a root `run` installed containerd into from the loopback mirror,
//! with containerd started there: it passes, CRI answered for real over the socket; then each
//! way a node goes wrong is named with its fix and exits 1.

use std::path::Path;

use serde_json::Value;

use crate::containerd::MirrorSetup;
use crate::support::apt_repo::Variant;
use crate::support::mounts::Mounts;
use crate::support::root::DebianRoot;
use crate::util::Installer;

const SOCKET: &str = "/run/containerd/containerd.sock";

/// A KubeletConfiguration as kubeadm writes it (seed 004's node), with `driver`.
fn kubelet_config(driver: &str) -> String {
    format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: false\ncgroupDriver: {driver}\nclusterDNS:\n- 10.96.0.10\n"
    )
}

pub(crate) fn verify(root: &Path, selection: &[String]) -> (i32, Value) {
    let out = Installer::with_defaults()
        .args(["verify", "--output", "json", "--root"])
        .arg_list([root.as_os_str()])
        .arg_list(selection)
        .run();
    let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}):\n{}\n{}",
            out.stdout, out.stderr
        )
    });
    (out.code, json)
}

fn failed(report: &Value) -> Vec<&Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect()
}

/// The one failed check whose name contains `part`, with a fix.
#[track_caller]
fn failed_about<'a>(report: &'a Value, part: &str) -> &'a Value {
    let hit = failed(report)
        .into_iter()
        .find(|c| c["check"].as_str().unwrap().contains(part))
        .unwrap_or_else(|| panic!("no failed check about {part:?}: {report:#}"));
    assert!(
        hit["fix"].as_str().is_some_and(|f| !f.is_empty()),
        "{hit:#}"
    );
    hit
}

fn start_containerd(mounts: &mut Mounts, name: &str) {
    mounts.start(name, &["containerd"]);
    mounts.wait_for_socket(name, SOCKET);
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn verify_passes_on_the_installed_node_then_names_each_thing_that_breaks() {
    let setup = MirrorSetup::new("verify", Variant::Working);
    let root: &DebianRoot = &setup.root;
    let selection = setup.selection();
    setup.run().expect_code(0);
    root.write("/var/lib/kubelet/config.yaml", &kubelet_config("systemd"));
    let mut mounts = Mounts::new(root);
    start_containerd(&mut mounts, "containerd");

    let (code, report) = verify(root.path(), &selection);
    assert_eq!(failed(&report), Vec::<&Value>::new(), "{report:#}");
    assert_eq!(code, 0);
    let cri = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap().contains("answers CRI"))
        .unwrap();
    assert_eq!(cri["status"], "pass", "{cri:#}");
    let detail = cri["detail"].as_str().unwrap();
    assert!(
        detail.contains("containerd") && detail.contains("RuntimeReady=true"),
        "containerd's own answer over CRI: {detail}"
    );

    // A CRI-O plan on this node: containerd already serves CRI, so preflight (and run)
    // refuse before anything changes.
    let out = Installer::with_defaults()
        .args(["preflight", "--output", "json", "--root"])
        .arg_list([root.path().as_os_str()])
        .args(["--runtime", "cri-o", "--cgroup-driver", "systemd"])
        .run();
    let pre: Value = serde_json::from_str(&out.stdout).unwrap();
    let other = failed_about(&pre, "containerd at");
    assert!(
        other["detail"].as_str().unwrap().contains("answers CRI"),
        "{other:#}"
    );
    assert_eq!(out.code, 2, "{pre:#}");

    // The pin: the plan for another series is not what is installed.
    let other: Vec<String> = selection
        .iter()
        .map(|a| {
            if a == "1.6" {
                "1.7".to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let (code, report) = verify(root.path(), &other);
    let pin = failed_about(&report, "containerd.io");
    assert!(
        pin["detail"].as_str().unwrap().contains("1.6.20"),
        "{pin:#}"
    );
    assert_eq!(code, 1);

    // Not held any more: unattended upgrades may move it.
    root.sh(&["apt-mark", "unhold", "containerd.io"]);
    let (code, report) = verify(root.path(), &selection);
    assert!(
        failed(&report)
            .iter()
            .any(|c| c["detail"].as_str().unwrap_or("").contains("containerd.io")),
        "{report:#}"
    );
    assert_eq!(code, 1);
    root.sh(&["apt-mark", "hold", "containerd.io"]);

    // The kubelet on the other driver (kubeadm's flags win over its config file).
    root.write(
        "/var/lib/kubelet/kubeadm-flags.env",
        "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock --cgroup-driver=cgroupfs\"\n",
    );
    let (code, report) = verify(root.path(), &selection);
    let kubelet = failed_about(&report, "kubelet");
    assert!(kubelet["detail"].as_str().unwrap().contains("cgroupfs"));
    assert_eq!(code, 1);
    std::fs::remove_file(root.join("/var/lib/kubelet/kubeadm-flags.env")).unwrap();

    // CRI disabled in the config, containerd restarted on it: the socket still answers
    // containerd's own API, not CRI.
    let config = root.read("/etc/containerd/config.toml");
    let disabled = if config.contains("disabled_plugins = []") {
        config.replace(
            "disabled_plugins = []",
            "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]",
        )
    } else {
        format!("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n{config}")
    };
    root.write("/etc/containerd/config.toml", &disabled);
    mounts.signal_and_wait("containerd", "TERM");
    start_containerd(&mut mounts, "containerd-without-cri");
    let (code, report) = verify(root.path(), &selection);
    let cri = failed_about(&report, "answers CRI");
    assert!(
        cri["detail"].as_str().unwrap().contains("CRI"),
        "the refusal says CRI is not served: {cri:#}"
    );
    let file = failed_about(&report, "/etc/containerd/config.toml");
    assert!(
        file["diff"].as_str().unwrap().contains("disabled_plugins"),
        "{file:#}"
    );
    assert_eq!(code, 1);

    // A GPU node's drop-in makes its runc-shim runtime the default, on the other driver:
    // containerd's own view (`config dump`) is what verify judges, not config.toml alone.
    root.write(
        "/etc/containerd/config.toml",
        &format!("imports = [\"/etc/containerd/conf.d/*.toml\"]\n{config}"),
    );
    root.write(
        "/etc/containerd/conf.d/gpu.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\ndefault_runtime_name = \"nvidia\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]\nruntime_type = \"io.containerd.runc.v2\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia.options]\nBinaryName = \"/usr/bin/nvidia-container-runtime\"\nSystemdCgroup = false\n",
    );
    let (code, report) = verify(root.path(), &selection);
    let dump = failed_about(&report, "merged configuration");
    assert!(
        dump["detail"]
            .as_str()
            .unwrap()
            .contains("containerd config dump"),
        "{dump:#}"
    );
    assert_eq!(code, 1);
    std::fs::remove_file(root.join("/etc/containerd/conf.d/gpu.toml")).unwrap();
    root.write("/etc/containerd/config.toml", &config);

    // The runtime gone, its socket file left behind.
    mounts.signal_and_wait("containerd-without-cri", "KILL");
    assert!(root.join(SOCKET).exists());
    let (code, report) = verify(root.path(), &selection);
    let cri = failed_about(&report, "answers CRI");
    assert!(
        cri["detail"].as_str().unwrap().contains("connect"),
        "{cri:#}"
    );
    assert_eq!(code, 1);
}
