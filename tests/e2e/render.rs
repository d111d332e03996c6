//! The rendered script does what `run` does: the same selection applied to two fresh roots,
//! one by `installer run`, one by `render --format sh` run with `sh` inside the root; then
//! every file under /etc compared. Config files are compared as the runtime reads them
//! (TOML and JSON parsed: the script's jq and awk do not keep spacing byte for byte), every
//! other file byte for byte.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::containerd::assert_containerd_reads_our_config;
use crate::support::root::DebianRoot;
use crate::support::run::{containerd_from_debian, plugins_built, run, strings, SANDBOX_IMAGE};
use crate::support::{require, snapshot};
use crate::util::Installer;

/// What each root holds under /etc, config files parsed.
#[derive(Debug, PartialEq)]
enum Seen {
    Toml(toml::Table),
    Json(serde_json::Value),
    Bytes(Vec<u8>, u32),
}

fn etc(root: &DebianRoot) -> BTreeMap<PathBuf, Seen> {
    snapshot(&root.join("/etc"))
        .into_iter()
        .map(|(p, (bytes, mode))| {
            let text = String::from_utf8_lossy(&bytes);
            let seen = match p.extension().and_then(|e| e.to_str()) {
                Some("toml") => Seen::Toml(text.parse().expect("TOML")),
                Some("json") => Seen::Json(serde_json::from_str(&text).expect("JSON")),
                _ => Seen::Bytes(bytes, mode),
            };
            (p, seen)
        })
        .collect()
}

/// Applies `selection` to a fresh root by run and to another by the rendered script (after
/// `prepare` on each), and asserts /etc ends up the same.
fn run_and_script_agree(name: &str, selection: &[String], prepare: &dyn Fn(&DebianRoot)) {
    require(&[]);
    plugins_built();
    let by_run = DebianRoot::fresh(&format!("{name}-run"));
    by_run.seed_apt_cache();
    prepare(&by_run);
    run(by_run.path(), selection).expect_code(0);

    let by_script = DebianRoot::fresh(&format!("{name}-script"));
    by_script.seed_apt_cache();
    prepare(&by_script);
    let script = Installer::with_defaults()
        .args(["render", "--format", "sh", "--root"])
        .arg_list([by_script.path()])
        .arg_list(selection)
        .run()
        .code(0)
        .stdout;
    by_script.write("/root/install.sh", &script);
    let out = by_script
        .chroot(&["sh", "/root/install.sh"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the script failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (ran, scripted) = (etc(&by_run), etc(&by_script));
    let mut differences = Vec::new();
    for path in ran.keys().chain(scripted.keys()) {
        if ran.get(path) != scripted.get(path) && !differences.contains(path) {
            differences.push(path.clone());
        }
    }
    let show = |root: &DebianRoot, p: &Path| {
        fs::read_to_string(root.join("/etc").join(p)).unwrap_or_else(|_| "(absent)".into())
    };
    assert!(
        differences.is_empty(),
        "run and the script disagree on /etc:\n{}",
        differences
            .iter()
            .map(|p| format!(
                "--- {} after run:\n{}\n--- after the script:\n{}",
                p.display(),
                show(&by_run, p),
                show(&by_script, p)
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Programs the plan installs (downloads) land in /usr/local, byte for byte the same.
    assert_eq!(
        snapshot(&by_run.join("/usr/local")),
        snapshot(&by_script.join("/usr/local")),
        "run and the script disagree on /usr/local"
    );
    // And the runtime reads what the script wrote.
    if selection.iter().any(|a| a == "containerd") {
        assert_containerd_reads_our_config(&by_script);
    }
    // A second pass of the script changes nothing.
    let before = (
        snapshot(&by_script.join("/etc")),
        snapshot(&by_script.join("/usr/local")),
    );
    let again = by_script
        .chroot(&["sh", "/root/install.sh"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(
        (
            snapshot(&by_script.join("/etc")),
            snapshot(&by_script.join("/usr/local")),
        ),
        before,
        "the second pass changed /etc or /usr/local"
    );
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn the_script_edits_the_packaged_containerd_config_as_run_does() {
    // Debian's containerd package installs its own config.toml (with `bin_dir`); both must
    // edit it where it stands, keeping every key.
    run_and_script_agree(
        "render-containerd",
        &containerd_from_debian(&["--sandbox-image", SANDBOX_IMAGE]),
        &|_| {},
    );
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn the_script_merges_a_sites_daemon_json_and_installs_cri_dockerd_as_run_does() {
    // cri-dockerd from a checked archive (a stand-in for Mirantis', served on loopback): the
    // script fetches and checks it in its preflight, as run does.
    let (_server, cri_dockerd) = crate::support::serve_cri_dockerd_stand_in();
    run_and_script_agree(
        "render-docker",
        &strings(&[
            "--runtime",
            "docker",
            "--source",
            "distro",
            "--cgroup-driver",
            "systemd",
            "--kubernetes-version",
            "1.30",
        ])
        .into_iter()
        .chain(cri_dockerd)
        .collect::<Vec<_>>(),
        &|root| {
            // The script merges JSON with jq and fetches with curl, as its preflight says.
            root.sh(&["apt-get", "-q", "update"]);
            root.sh(&[
                "apt-get",
                "-q",
                "install",
                "-y",
                "--no-install-recommends",
                "jq",
                "curl",
            ]);
            root.write(
                "/etc/docker/daemon.json",
                "{\n  \"data-root\": \"/srv/docker\",\n  \"exec-opts\": [\"native.umask=normal\"]\n}\n",
            );
        },
    );
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn the_script_decides_the_cgroup_driver_on_the_node_it_runs_on() {
    // Rendered here, where neither systemd is init nor the cgroups are v2 (a build container),
    // with the driver left `auto`: the script must not bake in this machine's cgroupfs. The
    // node it runs on has cgroup v2 (cgroup.controllers, as the kernel shows it at
    // /sys/fs/cgroup), so runc must get the systemd driver there.
    require(&[]);
    plugins_built();
    let selection = strings(&[
        "--runtime",
        "containerd",
        "--source",
        "distro",
        "--sandbox-image",
        SANDBOX_IMAGE,
    ]);
    let script = Installer::with_defaults()
        .args(["render", "--format", "sh", "--distro", "debian-12"])
        .arg_list(&selection)
        .run()
        .code(0)
        .stdout;
    let node = DebianRoot::fresh("render-node-driver");
    node.seed_apt_cache();
    node.write(
        "/sys/fs/cgroup/cgroup.controllers",
        "cpuset cpu io memory pids\n",
    );
    node.write("/root/install.sh", &script);
    let out = node.chroot(&["sh", "/root/install.sh"]).output().unwrap();
    assert!(
        out.status.success(),
        "the script failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // containerd itself reads SystemdCgroup = true from what the script wrote.
    assert_containerd_reads_our_config(&node);
}
