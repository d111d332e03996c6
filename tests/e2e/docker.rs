//! docker.io from Debian's archive, into a root whose daemon.json the site already wrote;
//! then dockerd, started in the root, reports what the plan configured.

use crate::support::mounts::Mounts;
use crate::support::require;
use crate::support::root::DebianRoot;
use crate::support::run::{run, strings};

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn docker_from_debians_archive_keeps_the_sites_daemon_json_and_dockerd_agrees() {
    require(&[]);
    let root = DebianRoot::fresh("docker-distro");
    root.seed_apt_cache();
    let users = r#"{
  "data-root": "/var/lib/docker-site",
  "registry-mirrors": ["https://registry-mirror.example.com"]
}
"#;
    root.write("/etc/docker/daemon.json", users);

    // Kubernetes 1.23: from 1.24 the plan adds cri-dockerd, which Mirantis publishes on
    // GitHub (out of reach here) and Debian does not package.
    let report = run(
        root.path(),
        &strings(&[
            "--runtime",
            "docker",
            "--source",
            "distro",
            "--cgroup-driver",
            "systemd",
            "--kubernetes-version",
            "1.23",
        ]),
    );
    report.expect_code(0);
    assert!(root.installed_version("docker.io").is_some());

    let merged: serde_json::Value =
        serde_json::from_str(&root.read("/etc/docker/daemon.json")).expect("daemon.json parses");
    assert_eq!(merged["data-root"], "/var/lib/docker-site", "{merged}");
    assert_eq!(
        merged["registry-mirrors"],
        serde_json::json!(["https://registry-mirror.example.com"]),
        "{merged}"
    );
    let journal = report
        .journal(&root)
        .unwrap_or_else(|| panic!("no journal directory in {}", report.stdout));
    assert!(
        crate::support::snapshot(&journal)
            .values()
            .any(|(bytes, _)| bytes == users.as_bytes()),
        "no backup of daemon.json in {}",
        journal.display()
    );

    let mut mounts = Mounts::new(&root);
    mounts.start("dockerd", &["dockerd"]);
    mounts.wait_for_socket("dockerd", "/run/docker.sock");
    let info = root.sh(&["docker", "info"]);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("docker info has no {name}:\n{info}"))
    };
    assert_eq!(field("Cgroup Driver"), "systemd", "{info}");
    assert_eq!(field("Storage Driver"), "overlay2", "{info}");
    assert_eq!(field("Docker Root Dir"), "/var/lib/docker-site", "{info}");
    assert!(
        info.contains("https://registry-mirror.example.com"),
        "the registry mirror is gone:\n{info}"
    );
    drop(mounts);
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_drop_in_passing_exec_opt_leaves_daemon_json_alone_with_a_warning() {
    require(&[]);
    let root = DebianRoot::fresh("docker-drop-in");
    root.seed_apt_cache();
    // A guide's drop-in already sets the cgroup driver by flag: dockerd would refuse to start
    // if daemon.json set it too.
    root.write(
        "/etc/systemd/system/docker.service.d/10-cgroup.conf",
        "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// --exec-opt native.cgroupdriver=systemd\n",
    );
    let report = run(
        root.path(),
        &strings(&[
            "--runtime",
            "docker",
            "--source",
            "distro",
            "--cgroup-driver",
            "systemd",
            "--kubernetes-version",
            "1.23",
        ]),
    );
    report.expect_code(0);
    assert!(root.installed_version("docker.io").is_some());
    assert!(
        !root.path().join("etc/docker/daemon.json").exists(),
        "daemon.json must not be written beside a conflicting flag"
    );
    let step = report
        .steps()
        .iter()
        .find(|s| s["summary"].as_str().unwrap_or("").contains("daemon.json"))
        .expect("the daemon.json step");
    assert_eq!(step["status"], "skipped", "{step:#}");
    let note = step["notes"][0].as_str().unwrap();
    assert!(
        note.starts_with("warning:")
            && note.contains("10-cgroup.conf")
            && note.contains("Remove the flag"),
        "{note}"
    );
}
