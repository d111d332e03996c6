//! The four runtime plugins through the real binary: every built-in distro × runtime × source
//! either plans (and renders a script that passes shellcheck) or exits 2 with a reason and a
//! hint; and the seeds' scenarios produce the seeds' facts.

use std::process::Command;

use serde_json::Value;

use crate::util::{Installer, PluginDir};

const FPR: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

fn plugins() -> PluginDir {
    PluginDir::new().with_workspace_plugins()
}

fn plan_json(dir: &PluginDir, args: &[&str]) -> Value {
    Installer::isolated(dir.path())
        .arg_list(["plan", "--output", "json", "--cgroup-driver", "systemd"])
        .arg_list(args)
        .run()
        .code(0)
        .json()
}

fn packages(plan: &Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap().iter())
        .filter(|a| a["type"] == "run" && a["transaction"] == true)
        .flat_map(|a| {
            a["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
        })
        .collect()
}

/// The action of the plan that writes or merges `path`.
fn action_at<'a>(plan: &'a Value, path: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap().iter())
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no action writes {path}"))
}

fn all_text(plan: &Value) -> String {
    plan.to_string()
}

#[test]
fn every_builtin_distro_and_runtime_plans_or_refuses_with_a_reason() {
    let dir = plugins();
    let distros = Installer::with_defaults()
        .args(["distros", "list", "--output", "json"])
        .run()
        .code(0)
        .json();
    assert!(
        Command::new("shellcheck").arg("--version").output().is_ok(),
        "this test needs shellcheck: apt-get install shellcheck (scripts/test-all does)"
    );
    let mut planned: Vec<String> = Vec::new();
    for distro in distros
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
    {
        for runtime in ["containerd", "docker", "cri-o", "mcr"] {
            for source in ["upstream", "distro"] {
                let mut args = vec![
                    "--distro",
                    distro,
                    "--runtime",
                    runtime,
                    "--source",
                    source,
                    "--cgroup-driver",
                    "systemd",
                    "--kubernetes-version",
                    "1.30",
                ];
                let fpr = format!("cri-o.key-fingerprint={FPR}");
                if runtime == "cri-o" {
                    args.extend(["--set", &fpr]);
                }
                let out = Installer::isolated(dir.path())
                    .arg_list(["render", "--format", "sh"])
                    .arg_list(&args)
                    .run();
                let case = format!("{distro} × {runtime} × {source}");
                match out.code {
                    0 => {
                        planned.push(case.clone());
                        let file = tempfile::NamedTempFile::new().unwrap();
                        std::fs::write(file.path(), &out.stdout).unwrap();
                        let sh = Command::new("sh")
                            .arg("-n")
                            .arg(file.path())
                            .output()
                            .unwrap();
                        assert!(
                            sh.status.success(),
                            "{case}: sh -n: {}",
                            String::from_utf8_lossy(&sh.stderr)
                        );
                        let sc = Command::new("shellcheck")
                            .args(["--shell=sh"])
                            .arg(file.path())
                            .output()
                            .unwrap();
                        assert!(
                            sc.status.success(),
                            "{case}: shellcheck:\n{}",
                            String::from_utf8_lossy(&sc.stdout)
                        );
                    }
                    2 => {
                        assert!(
                            out.stderr.contains("error:") && out.stderr.contains("hint:"),
                            "{case}: a refusal says why and how to fix it:\n{}",
                            out.stderr
                        );
                        assert!(out.stdout.is_empty(), "{case}: nothing on stdout");
                    }
                    other => panic!("{case}: exit {other}\n{}", out.stderr),
                }
            }
        }
    }
    for must in [
        "debian-12 × containerd × upstream",
        "debian-12 × containerd × distro",
        "ubuntu-22.04 × docker × upstream",
        "rocky-9 × containerd × upstream",
        "centos-7 × docker × upstream",
        "ubuntu-22.04 × cri-o × upstream",
        "opensuse-leap-15 × containerd × distro",
        "ubuntu-22.04 × mcr × upstream",
        "rhel-9 × mcr × upstream",
    ] {
        assert!(
            planned.iter().any(|p| p == must),
            "{must} should plan; planned: {planned:#?}"
        );
    }
}

#[test]
fn seed_ubuntu_bionic_docker_19_03_8_is_refused_naming_the_cve_then_has_the_seeds_pins() {
    let dir = plugins();
    let args = [
        "--distro",
        "ubuntu-18.04",
        "--runtime",
        "docker",
        "--version",
        "19.03.8",
        "--kubernetes-version",
        "1.18",
    ];
    let out = Installer::isolated(dir.path())
        .arg_list(["plan"])
        .arg_list(args)
        .run()
        .code(2);
    assert!(
        out.stderr.contains("CVE-2020-15257")
            && out.stderr.contains("--allow-vulnerable CVE-2020-15257"),
        "{}",
        out.stderr
    );

    let plan = plan_json(
        &dir,
        &[&args[..], &["--allow-vulnerable", "CVE-2020-15257"]].concat(),
    );
    let pkgs = packages(&plan);
    for want in [
        "docker-ce=5:19.03.8~3-0~ubuntu-bionic",
        "docker-ce-cli=5:19.03.8~3-0~ubuntu-bionic",
        "containerd.io=1.2.13-1",
    ] {
        assert!(pkgs.iter().any(|p| p == want), "{want} in {pkgs:?}");
    }
    let text = all_text(&plan);
    assert!(
        text.contains("https://download.docker.com/linux/ubuntu") && text.contains("bionic"),
        "Docker's ubuntu repo, bionic suite"
    );
    assert!(
        text.contains("9DC858229FC7DD38854AE2D88D81803C0EBFCD88"),
        "Docker's deb key fingerprint"
    );
    assert!(
        text.contains("native.cgroupdriver=systemd")
            && text.contains("100m")
            && text.contains("overlay2")
    );
    assert!(text.contains("apt-mark"), "pins are held");
}

#[test]
fn seed_centos_7_docker_19_03_11_pins_docker_ce_and_writes_the_centos_daemon_json() {
    let dir = plugins();
    let plan = plan_json(
        &dir,
        &[
            "--distro",
            "centos-7",
            "--runtime",
            "docker",
            "--version",
            "19.03.11",
            "--kubernetes-version",
            "1.18",
            "--allow-vulnerable",
            "CVE-2020-15257",
        ],
    );
    let pkgs = packages(&plan);
    assert!(
        pkgs.iter()
            .any(|p| p.starts_with("docker-ce-") && p.contains("19.03.11")),
        "{pkgs:?}"
    );
    let daemon = action_at(&plan, "/etc/docker/daemon.json");
    let value = &daemon["merge"]["value"];
    assert_eq!(
        value["storage-opts"][0],
        "overlay2.override_kernel_check=true"
    );
    assert_eq!(value["exec-opts"][0], "native.cgroupdriver=systemd");
    assert_eq!(value["log-opts"]["max-size"], "100m");
    assert!(all_text(&plan).contains("gpgcheck=1"));
}

#[test]
fn seed_debian_10_cri_o_1_17_uses_the_kubic_debian_10_repository() {
    let dir = plugins();
    let fpr = format!("cri-o.key-fingerprint={FPR}");
    let plan = plan_json(
        &dir,
        &[
            "--distro",
            "debian-10",
            "--runtime",
            "cri-o",
            "--version",
            "1.17",
            "--kubernetes-version",
            "1.17",
            "--set",
            &fpr,
        ],
    );
    let text = all_text(&plan);
    assert!(text.contains("https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/Debian_10/"), "{text}");
    assert_eq!(
        plan["facts"]["cri_socket"],
        "unix:///var/run/crio/crio.sock"
    );
    // CRI-O before 1.18 reads no drop-ins: its crio.conf is edited in place, with the
    // cgroup manager the plan uses everywhere.
    let edits = &action_at(&plan, "/etc/crio/crio.conf")["merge"]["edits"];
    assert!(
        edits.as_array().unwrap().iter().any(|e| e["op"] == "set"
            && e["path"] == serde_json::json!(["crio", "runtime", "cgroup_manager"])
            && e["value"] == "systemd"),
        "{edits:#}"
    );
}

#[test]
fn seed_centos_7_cri_o_1_24_uses_kubic_centos_7_and_the_cri_o_1_24_repository() {
    let dir = plugins();
    let fpr = format!("cri-o.key-fingerprint={FPR}");
    let plan = plan_json(
        &dir,
        &[
            "--distro",
            "centos-7",
            "--runtime",
            "cri-o",
            "--version",
            "1.24",
            "--kubernetes-version",
            "1.24",
            "--set",
            &fpr,
        ],
    );
    let text = all_text(&plan);
    assert!(text.contains("libcontainers:/stable/CentOS_7/"), "{text}");
    assert!(
        text.contains("libcontainers:/stable:/cri-o:/1.24/CentOS_7/"),
        "{text}"
    );
    let pkgs = packages(&plan);
    assert!(
        !pkgs.iter().any(|a| a.contains("nogpgcheck")),
        "signatures are never skipped: {pkgs:?}"
    );
    assert!(text.contains("gpgcheck=1"));
    assert!(
        pkgs.iter().any(|p| p == "cri-o" || p.starts_with("cri-o-")),
        "{pkgs:?}"
    );
}

#[test]
fn cri_o_refuses_a_minor_that_differs_from_kubernetes_unless_allowed() {
    let dir = plugins();
    let fpr = format!("cri-o.key-fingerprint={FPR}");
    let args = [
        "--distro",
        "ubuntu-22.04",
        "--runtime",
        "cri-o",
        "--version",
        "1.29",
        "--kubernetes-version",
        "1.30",
        "--set",
        &fpr,
    ];
    let out = Installer::isolated(dir.path())
        .arg_list(["plan"])
        .arg_list(args)
        .run()
        .code(2);
    assert!(
        out.stderr.contains("1.29")
            && out.stderr.contains("1.30")
            && out.stderr.contains("cri-o.allow-version-skew"),
        "{}",
        out.stderr
    );
    plan_json(
        &dir,
        &[&args[..], &["--set", "cri-o.allow-version-skew=true"]].concat(),
    );
}

#[test]
fn containerd_config_keeps_cri_and_follows_the_cgroup_driver_everywhere() {
    let dir = plugins();
    for (driver, expected) in [("systemd", true), ("cgroupfs", false)] {
        let out = Installer::isolated(dir.path())
            .args([
                "plan",
                "--output",
                "json",
                "--distro",
                "debian-12",
                "--runtime",
                "containerd",
                "--cgroup-driver",
                driver,
                "--sandbox-image",
                "registry.k8s.io/pause:3.9",
            ])
            .run()
            .code(0);
        let plan = out.json();
        let edit = action_at(&plan, "/etc/containerd/config.toml");
        let edits = edit["merge"]["edits"].as_array().unwrap();
        let set = |key: &str| {
            edits
                .iter()
                .find(|e| e["op"] == "set" && e["path"].as_array().unwrap().last().unwrap() == key)
                .map(|e| e["value"].clone())
        };
        assert_eq!(
            set("SystemdCgroup"),
            Some(Value::Bool(expected)),
            "{driver}"
        );
        assert_eq!(
            set("sandbox_image"),
            Some(Value::String("registry.k8s.io/pause:3.9".into()))
        );
        assert!(
            edits
                .iter()
                .any(|e| e["op"] == "remove_from_array"
                    && e["values"].to_string().contains("\"cri\"")),
            "cri is taken out of disabled_plugins"
        );
        assert_eq!(
            plan["facts"]["cri_socket"],
            "unix:///run/containerd/containerd.sock"
        );
    }
}

#[test]
fn bad_runtime_input_exits_2_with_the_fix() {
    let dir = plugins();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--runtime", "containerd", "--version", "one.two"],
            "--version",
        ),
        (
            &["--runtime", "containerd", "--sandbox-image", "Not A Ref"],
            "sandbox",
        ),
        (&["--runtime", "docker", "--version", "12.0.0"], "12.0.0"),
    ];
    for (args, word) in cases {
        let out = Installer::isolated(dir.path())
            .args(["plan", "--distro", "debian-12"])
            .arg_list(args)
            .run()
            .code(2);
        assert!(
            out.stderr.contains(word) && out.stderr.contains("hint:"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn no_runtime_needs_a_version_flag_where_its_vendor_publishes_for_the_distro() {
    // Issue 9: the defaults are facts with sources, so a plan never stops for want of
    // --version or --kubernetes-version on a deb or rpm distro.
    let dir = plugins();
    let distros = Installer::with_defaults()
        .args(["distros", "list", "--output", "json"])
        .run()
        .code(0)
        .json();
    for distro in distros.as_array().unwrap() {
        let (id, family) = (
            distro["id"].as_str().unwrap(),
            distro["family"].as_str().unwrap(),
        );
        for runtime in ["containerd", "docker", "cri-o", "mcr"] {
            let out = Installer::isolated(dir.path())
                .arg_list([
                    "render",
                    "--format",
                    "sh",
                    "--distro",
                    id,
                    "--runtime",
                    runtime,
                ])
                .run();
            if out.code != 0 && family != "suse" {
                assert!(
                    !out.stderr.contains("neither was given") && out.code == 2,
                    "{id} × {runtime} wants a version flag, or fails otherwise:\n{}",
                    out.stderr
                );
            }
            // The defaults render into a script shellcheck accepts.
            if out.code == 0 {
                let file = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(file.path(), &out.stdout).unwrap();
                let sc = Command::new("shellcheck")
                    .args(["--shell=sh"])
                    .arg(file.path())
                    .output()
                    .expect("shellcheck (scripts/test-all installs it)");
                assert!(
                    sc.status.success(),
                    "{id} × {runtime}: shellcheck:\n{}",
                    String::from_utf8_lossy(&sc.stdout)
                );
            }
        }
    }
}

#[test]
fn the_new_defaults_show_where_they_come_from() {
    let dir = plugins();
    // CRI-O on a distro with no recorded minor: the newest stable minor of isv:cri-o.
    let plan = plan_json(&dir, &["--distro", "ubuntu-24.04", "--runtime", "cri-o"]);
    let chosen = plan["facts"]["version_chosen"].as_str().unwrap_or_default();
    assert!(chosen.contains("isv:cri-o"), "{chosen}");
    assert!(all_text(&plan).contains("isv:/cri-o:/stable:/v"));

    // Docker with cri-dockerd: Mirantis' archive for the node's architecture, checked by a
    // digest the plan shows, and an unknown release refused naming the known ones.
    let plan = plan_json(&dir, &["--distro", "debian-12", "--runtime", "docker"]);
    let download = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap().iter())
        .find(|a| a["type"] == "download")
        .expect("a download action");
    assert!(download["url"]
        .as_str()
        .unwrap()
        .starts_with("https://github.com/Mirantis/cri-dockerd/releases/download/v"));
    assert!(download["url"].as_str().unwrap().ends_with(".amd64.tgz"));
    assert_eq!(download["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(download["path"], "/usr/local/bin/cri-dockerd");
    let out = Installer::isolated(dir.path())
        .arg_list([
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "docker",
            "--set",
            "docker.cri-dockerd-version=0.2.0",
        ])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("0.2.0") && out.stderr.contains("cri-dockerd-sha256"),
        "{}",
        out.stderr
    );

    // containerd 2.3 reads schema 4.
    let plan = plan_json(
        &dir,
        &[
            "--distro",
            "rocky-9",
            "--runtime",
            "containerd",
            "--version",
            "2.3",
        ],
    );
    assert_eq!(plan["facts"]["config_version"], "4");

    // MCR on rpm: the key no source ties to repos.mirantis.com is pinned with a warning.
    let plan = plan_json(&dir, &["--distro", "rocky-9", "--runtime", "mcr"]);
    assert!(plan["warnings"].as_array().unwrap().iter().any(|w| w
        .as_str()
        .unwrap_or_default()
        .contains("--set mcr.key-fingerprint")));
}
