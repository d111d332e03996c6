//! `installer verify` on scratch roots with file-only plans: each file checked against the
//! plan with the drift shown, the kubelet's cgroup driver, and a CRI socket that is only a
//! link out of the root. (Packages, the runtime's parse and CRI answered for real: tests/e2e.)

use std::os::unix::net::UnixListener;
use std::path::Path;

use serde_json::Value;

use crate::run::{run, scratch_root};
use crate::util::{check_named, node_report, Installer, PluginDir};

fn plugins() -> PluginDir {
    PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
}

/// `verify` with the selection `run` used, as JSON.
fn verify(dir: &PluginDir, root: &Path) -> (i32, Value) {
    node_report(dir, "verify", root, "systemd", &[])
}

/// The check whose name contains `part`.
fn check<'a>(report: &'a Value, part: &str) -> &'a Value {
    check_named(report, part)
}

/// test-runtime's file-only plan run into a scratch root, and its kubelet directory made.
fn installed_with_kubelet_dir() -> (PluginDir, tempfile::TempDir, std::path::PathBuf) {
    let dir = plugins();
    let root = scratch_root();
    run(&dir, root.path(), &[]).code(0);
    let kubelet = root.path().join("var/lib/kubelet");
    std::fs::create_dir_all(&kubelet).unwrap();
    (dir, root, kubelet)
}

#[test]
fn files_the_plan_wrote_pass_and_a_drifted_one_fails_with_its_diff() {
    let dir = plugins();
    let root = scratch_root();
    run(&dir, root.path(), &[]).code(0);
    let (code, report) = verify(&dir, root.path());
    for file in [
        "/etc/test-engine/daemon.json",
        "/etc/modules-load.d/",
        "/etc/sysctl.d/",
    ] {
        assert_eq!(check(&report, file)["status"], "pass", "{report:#}");
    }
    // Nothing runs in a scratch root: the service and CRI cannot be asked; runc is missing.
    assert_eq!(check(&report, "test-engine.service")["status"], "skip");
    assert_eq!(check(&report, "answers CRI")["status"], "skip");
    assert_eq!(check(&report, "kubelet")["status"], "skip");
    let runc = check(&report, "runc");
    assert_eq!(runc["status"], "fail");
    assert!(runc["detail"].as_str().unwrap().contains("not installed"));
    assert_eq!(code, 1, "a failed check exits 1: {report:#}");
    assert_eq!(report["status"], "fail");

    // Someone drops a key the plan sets.
    let daemon = root.path().join("etc/test-engine/daemon.json");
    std::fs::write(&daemon, "{\"cgroup-driver\": \"systemd\"}\n").unwrap();
    let (code, report) = verify(&dir, root.path());
    let drifted = check(&report, "/etc/test-engine/daemon.json");
    assert_eq!(drifted["status"], "fail", "{report:#}");
    assert!(drifted["fix"].as_str().unwrap().contains("installer run"));
    let diff = drifted["diff"].as_str().unwrap();
    assert!(
        diff.lines()
            .any(|l| l.starts_with('+') && l.contains("max-size")),
        "the diff shows what the plan would put back:\n{diff}"
    );
    assert_eq!(code, 1);
    // verify changed nothing.
    assert_eq!(
        std::fs::read_to_string(&daemon).unwrap(),
        "{\"cgroup-driver\": \"systemd\"}\n"
    );
}

#[test]
fn the_kubelets_cgroup_driver_must_be_the_runtimes() {
    let (dir, root, kubelet) = installed_with_kubelet_dir();

    std::fs::write(
        kubelet.join("config.yaml"),
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# ours\ncgroupDriver: systemd\n",
    )
    .unwrap();
    let (_, report) = verify(&dir, root.path());
    assert_eq!(check(&report, "kubelet")["status"], "pass", "{report:#}");

    // A config that does not say means the kubelet's default, cgroupfs.
    std::fs::write(
        kubelet.join("config.yaml"),
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n",
    )
    .unwrap();
    let (_, report) = verify(&dir, root.path());
    let c = check(&report, "kubelet");
    assert_eq!(c["status"], "fail", "{report:#}");
    assert!(c["detail"].as_str().unwrap().contains("cgroupfs"), "{c:#}");

    // kubeadm's flags win over the file.
    std::fs::write(
        kubelet.join("config.yaml"),
        "kind: KubeletConfiguration\ncgroupDriver: systemd\n",
    )
    .unwrap();
    std::fs::write(
        kubelet.join("kubeadm-flags.env"),
        "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/test-engine.sock --cgroup-driver=cgroupfs\"\n",
    )
    .unwrap();
    let (code, report) = verify(&dir, root.path());
    let c = check(&report, "kubelet");
    assert_eq!(c["status"], "fail", "{report:#}");
    assert!(c["detail"].as_str().unwrap().contains("kubeadm-flags.env"));
    assert!(c["fix"].as_str().unwrap().contains("cgroupDriver: systemd"));
    assert_eq!(code, 1);
}

#[test]
fn a_cri_socket_that_links_out_of_the_root_is_never_asked() {
    let dir = plugins();
    let root = scratch_root();
    run(&dir, root.path(), &[]).code(0);
    // A socket of the host's, and the image's socket path a link to it.
    let host = tempfile::tempdir().unwrap();
    let host_socket = host.path().join("host.sock");
    let listener = UnixListener::bind(&host_socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::fs::create_dir_all(root.path().join("run")).unwrap();
    std::os::unix::fs::symlink(&host_socket, root.path().join("run/test-engine.sock")).unwrap();

    let (_, report) = verify(&dir, root.path());
    let cri = check(&report, "answers CRI");
    assert_ne!(cri["status"], "pass", "{report:#}");
    assert!(
        listener.accept().is_err(),
        "verify connected to the host's socket through the image's link"
    );
}

#[test]
fn verify_with_a_runtime_nobody_knows_exits_2_and_says_so() {
    let dir = plugins();
    let root = scratch_root();
    let out = Installer::isolated(dir.path())
        .args(["verify", "--runtime", "nope", "--root"])
        .arg_list([root.path()])
        .run()
        .code(2);
    assert!(out.stderr.contains("nope"), "{}", out.stderr);
}

#[test]
fn a_socket_that_exists_but_does_not_speak_cri_fails() {
    let dir = plugins();
    let root = scratch_root();
    run(&dir, root.path(), &[]).code(0);
    std::fs::create_dir_all(root.path().join("run")).unwrap();
    let listener = UnixListener::bind(root.path().join("run/test-engine.sock")).unwrap();
    // Accepts and hangs up at once, as a daemon that is not a CRI server would.
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let (code, report) = verify(&dir, root.path());
    let cri = check(&report, "answers CRI");
    assert_eq!(cri["status"], "fail", "{report:#}");
    assert!(cri["fix"].as_str().unwrap().contains("CRI"), "{cri:#}");
    assert_eq!(code, 1);
}

#[test]
fn a_kubelet_pointed_at_another_runtime_fails_naming_both() {
    let (dir, root, kubelet) = installed_with_kubelet_dir();
    std::fs::write(
        kubelet.join("kubeadm-flags.env"),
        "KUBELET_KUBEADM_ARGS=\"--container-runtime=remote --container-runtime-endpoint=unix:///var/run/dockershim.sock\"\n",
    )
    .unwrap();
    let (code, report) = verify(&dir, root.path());
    let c = check(&report, "the kubelet uses the runtime's socket");
    assert_eq!(c["status"], "fail", "{report:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("dockershim.sock"),
        "{c:#}"
    );
    assert_eq!(code, 1);

    // `/var/run/...` and `/run/...` are one socket.
    std::fs::write(
        kubelet.join("kubeadm-flags.env"),
        "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/test-engine.sock\"\n",
    )
    .unwrap();
    let (_, report) = verify(&dir, root.path());
    assert_eq!(
        check(&report, "the kubelet uses the runtime's socket")["status"],
        "pass",
        "{report:#}"
    );
}
