//! `installer migrate` as a plan: the flags it sets and drops by kubelet version, and the
//! selections it refuses before anything changes.

use std::path::Path;

use serde_json::Value;

use crate::run::scratch_root;
use crate::util::{Installer, PluginDir};

/// A scratch root kubeadm set up, as far as migrate reads it.
fn kubeadm_root() -> tempfile::TempDir {
    let root = scratch_root();
    let kubelet = root.path().join("var/lib/kubelet");
    std::fs::create_dir_all(&kubelet).unwrap();
    std::fs::write(
        kubelet.join("kubeadm-flags.env"),
        "KUBELET_KUBEADM_ARGS=\"--network-plugin=cni\"\n",
    )
    .unwrap();
    root
}

fn migrate(root: &Path, extra: &[&str]) -> crate::util::Output {
    Installer::isolated(PluginDir::new().with_workspace_plugins().path())
        .args([
            "migrate",
            "--from",
            "docker",
            "--to",
            "containerd",
            "--root",
        ])
        .arg_list([root])
        .args(["--source", "distro", "--cgroup-driver", "systemd"])
        .args(extra)
        .run()
}

/// The `env_flags` edit the plan makes of kubeadm-flags.env.
fn flags_edit(plan: &Value) -> Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .find(|a| a["merge"]["how"] == "env_flags")
        .unwrap_or_else(|| panic!("no kubeadm-flags.env edit in {plan:#}"))["merge"]
        .clone()
}

#[test]
fn the_kubelets_flags_follow_its_version() {
    let root = kubeadm_root();
    let plan = |version: &str| {
        migrate(
            root.path(),
            &[
                "--drained",
                "--node",
                "worker-1",
                "--kubernetes-version",
                version,
                "--dry-run",
                "--output",
                "json",
            ],
        )
        .code(0)
        .json()
    };
    let old = flags_edit(&plan("1.23"));
    assert_eq!(old["set"]["--container-runtime"], "remote");
    assert_eq!(
        old["set"]["--container-runtime-endpoint"],
        "unix:///run/containerd/containerd.sock"
    );
    assert!(!old["remove"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "--network-plugin"));

    let new = flags_edit(&plan("1.27"));
    assert!(new["set"].get("--container-runtime").is_none(), "{new:#}");
    let removed: Vec<&str> = new["remove"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(removed.contains(&"--container-runtime"), "{removed:?}");
    assert!(
        removed.contains(&"--network-plugin"),
        "1.24 removed dockershim's flags"
    );
    // The kubelet's configuration takes the endpoint from 1.27 on, not before.
    let endpoint_in_config = |plan: &Value| {
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["actions"].as_array().unwrap())
            .any(|a| {
                a["merge"]["how"] == "yaml_set"
                    && a["merge"]["values"]
                        .get("containerRuntimeEndpoint")
                        .is_some()
            })
    };
    let new_plan = plan("1.27");
    assert_eq!(new_plan["migration"]["to"], "containerd");
    assert!(endpoint_in_config(&new_plan));
    assert!(!endpoint_in_config(&plan("1.23")));
}

#[test]
fn what_migrate_cannot_do_safely_is_refused_with_the_fix() {
    // Not a kubeadm node: nothing would point the kubelet anywhere.
    let bare = scratch_root();
    let out = migrate(
        bare.path(),
        &["--drained", "--node", "w", "--kubernetes-version", "1.23"],
    )
    .code(2);
    assert!(
        out.stderr.contains("kubeadm-flags.env does not exist"),
        "{}",
        out.stderr
    );
    // A node name Kubernetes would not have.
    for node in ["Worker-1", "worker_1"] {
        let out = migrate(
            bare.path(),
            &["--drained", "--node", node, "--kubernetes-version", "1.23"],
        )
        .code(2);
        assert!(
            out.stderr.contains("--node") && out.stderr.contains(node),
            "{}",
            out.stderr
        );
    }
    // Flags in KUBELET_EXTRA_ARGS would win over the ones migrate edits.
    let root = kubeadm_root();
    std::fs::create_dir_all(root.path().join("etc/default")).unwrap();
    std::fs::write(
        root.path().join("etc/default/kubelet"),
        "KUBELET_EXTRA_ARGS=--container-runtime-endpoint=unix:///var/run/dockershim.sock\n",
    )
    .unwrap();
    let out = migrate(
        root.path(),
        &["--drained", "--node", "w", "--kubernetes-version", "1.23"],
    )
    .code(2);
    assert!(
        out.stderr.contains("/etc/default/kubelet"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(root.path().join("etc/default/kubelet")).unwrap();

    let out = migrate(root.path(), &["--drained", "--node", "w"]).code(2);
    assert!(
        out.stderr.contains("--kubernetes-version"),
        "{}",
        out.stderr
    );

    let out = migrate(root.path(), &["--drained", "--kubernetes-version", "1.23"]).code(2);
    assert!(
        out.stderr.contains("--node NAME"),
        "no hostname: {}",
        out.stderr
    );

    let out = migrate(
        root.path(),
        &[
            "--node",
            "w",
            "--kubernetes-version",
            "1.23",
            "--runtime",
            "cri-o",
        ],
    )
    .code(2);
    assert!(out.stderr.contains("--to containerd"), "{}", out.stderr);

    let out = migrate(
        root.path(),
        &["--node", "w", "--kubernetes-version", "1.23"],
    )
    .code(2);
    assert!(
        out.stderr.contains("kubectl cordon w") && out.stderr.contains("--drained"),
        "{}",
        out.stderr
    );
    // A dry run still shows the plan, with what the run will ask for.
    let out = migrate(
        root.path(),
        &["--node", "w", "--kubernetes-version", "1.23", "--dry-run"],
    )
    .code(0);
    assert!(
        out.stdout.contains("the run will refuse")
            && out.stdout.contains("stop the kubelet and docker"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_migration_to_cri_o_points_the_kubelet_at_cri_os_socket() {
    let root = kubeadm_root();
    let plan = Installer::isolated(PluginDir::new().with_workspace_plugins().path())
        .args([
            "migrate",
            "--from",
            "docker",
            "--to",
            "cri-o",
            "--drained",
            "--node",
            "w",
        ])
        .args(["--kubernetes-version", "1.30", "--cgroup-driver", "systemd"])
        .args(["--dry-run", "--output", "json", "--root"])
        .arg_list([root.path()])
        .run()
        .code(0)
        .json();
    assert_eq!(plan["runtime"], "cri-o");
    let flags = flags_edit(&plan);
    assert_eq!(
        flags["set"]["--container-runtime-endpoint"],
        "unix:///var/run/crio/crio.sock"
    );
    // CRI-O's own plan is in it: its packages and its cgroup manager drop-in.
    let text = plan.to_string();
    assert!(text.contains("crio.conf.d"), "{plan:#}");
}
