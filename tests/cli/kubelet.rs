//! `--configure-kubelet` on scratch roots: the KubeletConfiguration kubeadm wrote gets the
//! runtime's cgroup driver and endpoint in place, comments and other settings kept; a node
//! kubeadm has not joined yet is left alone with a warning.

use std::path::Path;

use crate::run::{run, scratch_root, tree};
use crate::util::{node_report, PluginDir};

fn plugins() -> PluginDir {
    PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
}

const KUBEADMS: &str = "apiVersion: kubelet.config.k8s.io/v1beta1\nauthentication:\n  anonymous:\n    enabled: false\n# written by kubeadm join\ncgroupDriver: cgroupfs\nclusterDNS:\n- 10.96.0.10\nkind: KubeletConfiguration\n";

fn config(root: &Path) -> std::path::PathBuf {
    root.join("var/lib/kubelet/config.yaml")
}

#[test]
fn the_kubelets_driver_and_endpoint_are_set_in_place_once() {
    let dir = plugins();
    let root = scratch_root();
    std::fs::create_dir_all(config(root.path()).parent().unwrap()).unwrap();
    std::fs::write(config(root.path()), KUBEADMS).unwrap();

    // Without the flag the mismatch is refused; with it, it is what the plan fixes.
    run(&dir, root.path(), &[]).code(2);
    let out = run(&dir, root.path(), &["--configure-kubelet"]).code(0);
    let text = std::fs::read_to_string(config(root.path())).unwrap();
    assert_eq!(
        text,
        KUBEADMS.replace("cgroupDriver: cgroupfs\n", "cgroupDriver: systemd\n")
            + "containerRuntimeEndpoint: unix:///run/test-engine.sock\n",
        "{}",
        out.stdout
    );
    let backups: Vec<_> = tree(root.path())
        .into_keys()
        .filter(|p| p.to_string_lossy().contains("config.yaml") && p != &config(root.path()))
        .collect();
    assert!(
        !backups.is_empty(),
        "the file it replaced is kept in the journal"
    );

    // A second run changes nothing there.
    let before = std::fs::metadata(config(root.path()))
        .unwrap()
        .modified()
        .unwrap();
    run(&dir, root.path(), &["--configure-kubelet"]).code(0);
    let after = std::fs::metadata(config(root.path()))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);

    // And verify agrees.
    let (_, report) = node_report(
        &dir,
        "verify",
        root.path(),
        "systemd",
        &["--configure-kubelet"],
    );
    let kubelet: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let check = c["check"].as_str().unwrap();
            check.contains("kubelet/config.yaml") || check.contains("kubelet's cgroup driver")
        })
        .collect();
    assert_eq!(kubelet.len(), 2, "{report:#}");
    assert!(kubelet.iter().all(|c| c["status"] == "pass"), "{report:#}");
}

#[test]
fn a_node_kubeadm_has_not_joined_is_left_alone_with_a_warning() {
    let dir = plugins();
    let root = scratch_root();
    let out = run(&dir, root.path(), &["--configure-kubelet"]).code(0);
    assert!(
        !config(root.path()).exists(),
        "no KubeletConfiguration is written from nothing"
    );
    assert!(out.stdout.contains("kubeadm writes it"), "{}", out.stdout);
}

#[test]
fn edit_file_previews_a_missing_kubelet_config_as_skipped_as_run_skips_it() {
    let dir = plugins();
    let root = scratch_root();
    let edit = |path: &str, merge: &str, extra: &[&str]| {
        crate::util::Installer::isolated(dir.path())
            .args(["edit-file", "--path", path, "--merge", merge, "--root"])
            .arg_list([root.path()])
            .args(extra)
            .run()
            .code(0)
    };
    let yaml_set = r#"{"how":"yaml_set","values":{"cgroupDriver":"systemd"}}"#;
    let kubelet = "/var/lib/kubelet/config.yaml";
    let preview = edit(kubelet, yaml_set, &["--dry-run", "--output", "json"]).json();
    assert_eq!(preview["changed"], false, "{preview:#}");
    assert!(
        preview["skipped"]
            .as_str()
            .unwrap()
            .contains("kubeadm writes it"),
        "{preview:#}"
    );
    let text = edit(kubelet, yaml_set, &["--dry-run"]).stdout;
    assert!(text.starts_with("skipped: "), "{text}");
    // And the edit itself skips it, saying why, as the preview said.
    let done = edit(kubelet, yaml_set, &[]).stdout;
    assert!(
        done.starts_with("skipped: ") && done.contains("kubeadm writes it"),
        "{done}"
    );
    assert!(!config(root.path()).exists());
    // A file installer does write from nothing is previewed as created.
    let json_merge = r#"{"how":"json_merge","value":{"log-driver":"json-file"}}"#;
    let preview = edit(
        "/etc/docker/daemon.json",
        json_merge,
        &["--dry-run", "--output", "json"],
    )
    .json();
    assert_eq!(preview["changed"], true, "{preview:#}");
    assert!(preview.get("skipped").is_none(), "{preview:#}");
}

#[test]
fn a_kubelet_config_that_is_not_yaml_is_refused_before_anything_changes() {
    let dir = plugins();
    let root = scratch_root();
    std::fs::create_dir_all(config(root.path()).parent().unwrap()).unwrap();
    std::fs::write(config(root.path()), "cgroupDriver: [systemd\n").unwrap();
    let before = tree(root.path());
    let out = run(&dir, root.path(), &["--configure-kubelet", "--force"]).code(2);
    assert!(out.stderr.contains("config.yaml"), "{}", out.stderr);
    assert_eq!(tree(root.path()), before);
}
