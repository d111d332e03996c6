//! `installer preflight` and the same checks at the start of `run`, on scratch roots: a node
//! that is not ready is refused before anything changes (exit 2) unless `--force`.

use std::path::Path;

use serde_json::Value;

use crate::run::{run, scratch_root, tree};
use crate::util::{check_named, node_report, Installer, PluginDir};

fn plugins() -> PluginDir {
    PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
}

fn preflight(dir: &PluginDir, root: &Path, driver: &str) -> (i32, Value) {
    node_report(dir, "preflight", root, driver, &[])
}

fn status_of<'a>(report: &'a Value, part: &str) -> &'a str {
    check_named(report, part)["status"].as_str().unwrap()
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn a_kubelet_on_the_other_driver_is_refused_before_anything_changes() {
    let dir = plugins();
    let root = scratch_root();
    write(
        root.path(),
        "var/lib/kubelet/config.yaml",
        "kind: KubeletConfiguration\ncgroupDriver: cgroupfs\n",
    );
    let (code, report) = preflight(&dir, root.path(), "systemd");
    assert_eq!(status_of(&report, "kubelet"), "fail", "{report:#}");
    assert_eq!(code, 2);
    // The kubelet's own driver passes.
    let (code, report) = preflight(&dir, root.path(), "cgroupfs");
    assert_eq!(status_of(&report, "kubelet"), "pass", "{report:#}");
    assert_eq!(code, 0, "{report:#}");

    let before = tree(root.path());
    let out = run(&dir, root.path(), &[]).code(2);
    assert!(
        out.stderr.contains("preflight") && out.stderr.contains("cgroupfs"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--force"),
        "the hint names the way past it"
    );
    assert_eq!(tree(root.path()), before, "a refused run changes nothing");

    let out = run(&dir, root.path(), &["--force"]).code(0);
    assert!(
        out.stderr.contains("--force: running despite"),
        "{}",
        out.stderr
    );
}

#[test]
fn pods_on_the_node_refuse_a_plan_that_changes_the_runtimes_cgroup_driver() {
    let dir = plugins();
    let root = scratch_root();
    run(&dir, root.path(), &[]).code(0);
    write(
        root.path(),
        "var/lib/kubelet/pods/0b1c/containers/app/0",
        "",
    );
    // The same driver again: nothing changes, the pods are no matter.
    run(&dir, root.path(), &[]).code(0);

    // The other driver, overriding the site's value: the pods' sandboxes would break.
    let out = Installer::isolated(dir.path())
        .args([
            "run",
            "--yes",
            "--runtime",
            "test-runtime",
            "--set",
            "test-runtime.files-only=true",
            "--cgroup-driver",
            "cgroupfs",
            "--override",
            "cgroup-driver",
            "--root",
        ])
        .arg_list([root.path()])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("pod(s)") && out.stderr.contains("/etc/test-engine/daemon.json"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("drain"), "{}", out.stderr);
    let daemon = std::fs::read_to_string(root.path().join("etc/test-engine/daemon.json")).unwrap();
    assert!(daemon.contains("systemd"), "unchanged: {daemon}");
}

#[test]
fn node_tools_missing_from_an_image_root_are_a_warning_and_found_ones_pass() {
    let dir = plugins();
    let root = scratch_root();
    let (code, report) = preflight(&dir, root.path(), "systemd");
    assert_eq!(status_of(&report, "iptables"), "warn", "{report:#}");
    assert_eq!(code, 0, "an image root may get them later: {report:#}");
    for tool in [
        "usr/sbin/iptables",
        "usr/bin/mount",
        "usr/bin/nsenter",
        "usr/sbin/ip",
    ] {
        write(root.path(), tool, "");
    }
    let (_, report) = preflight(&dir, root.path(), "systemd");
    assert_eq!(status_of(&report, "iptables"), "pass", "{report:#}");
    assert_ne!(status_of(&report, "room"), "fail", "{report:#}");
    assert_eq!(status_of(&report, "swap"), "skip", "not this root's kernel");
}
