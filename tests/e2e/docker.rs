//! docker.io from Debian's archive, into a root whose daemon.json the site already wrote;
//! then dockerd, started in the root, reports what the plan configured.

use crate::support::mounts::Mounts;
use crate::support::require;
use crate::support::root::DebianRoot;
use crate::support::run::{docker_from_debian, run, strings};

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
    let report = run(root.path(), &docker_from_debian(&[]));
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
    let report = run(root.path(), &docker_from_debian(&[]));
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

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn cri_dockerd_comes_from_a_checked_archive_with_units_systemd_accepts_and_is_fetched_once() {
    require(&["systemd-analyze"]);
    let root = DebianRoot::fresh("docker-cri-dockerd");
    root.seed_apt_cache();
    let (server, cri_dockerd) = crate::support::serve_cri_dockerd_stand_in();
    let selection = strings(&[
        "--runtime",
        "docker",
        "--source",
        "distro",
        "--cgroup-driver",
        "systemd",
        "--kubernetes-version",
        "1.30",
        "--sandbox-image",
        crate::support::run::SANDBOX_IMAGE,
    ])
    .into_iter()
    .chain(cri_dockerd)
    .collect::<Vec<_>>();
    let report = run(root.path(), &selection);
    report.expect_code(0);
    assert_eq!(server.hits(), 1);
    assert_eq!(
        root.sh(&["/usr/local/bin/cri-dockerd"]).trim(),
        "cri-dockerd 0.0.0-stand-in"
    );

    // systemd's own parser takes the units as written, with the program they run.
    crate::support::assert_systemd_accepts(
        root.path(),
        &[
            "/etc/systemd/system/cri-docker.service",
            "/etc/systemd/system/cri-docker.socket",
        ],
        &["/usr/local/bin/cri-dockerd", "/bin/kill"],
    );
    let service = root.read("/etc/systemd/system/cri-docker.service");
    assert!(
        service.contains(&format!(
            "ExecStart=/usr/local/bin/cri-dockerd --container-runtime-endpoint fd:// --pod-infra-container-image={}\n",
            crate::support::run::SANDBOX_IMAGE
        )),
        "{service}"
    );
    // The socket the plan reports to the kubelet is the one the unit creates (%t is /run).
    let socket = root.read("/etc/systemd/system/cri-docker.socket");
    let listen = socket
        .lines()
        .find_map(|l| l.strip_prefix("ListenStream="))
        .expect("a ListenStream");
    let plan = crate::util::Installer::with_defaults()
        .args(["plan", "--output", "json", "--root"])
        .arg_list([root.path()])
        .arg_list(&selection)
        .run()
        .code(0)
        .json();
    assert_eq!(
        format!("unix://{}", listen.replace("%t", "/run")),
        plan["facts"]["cri_socket"]
            .as_str()
            .expect("a cri_socket fact")
    );

    // A second run: nothing to do, nothing fetched.
    let again = run(root.path(), &selection);
    again.expect_code(0);
    assert!(
        again.steps().iter().all(|s| s["status"] != "changed"),
        "{}",
        again.stdout
    );
    assert_eq!(server.hits(), 1, "the second run fetched the archive again");
}
