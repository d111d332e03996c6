use plugin_api::{CgroupDriver, ErrorKind, FileContent, Source, VersionMatch};
use runtime_kit::fixtures::{
    assert_well_formed, checks, file, package, packages, repositories, request, services,
};
use serde_json::json;

use super::*;

fn plan_for(request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
    Docker.plan(request)
}

fn daemon_json(plan: &RuntimePlan) -> serde_json::Value {
    match &file(plan, daemon_json::PATH).content {
        FileContent::JsonMerge { value } => value.clone(),
        other => panic!("daemon.json should be merged, got {other:?}"),
    }
}

/// The CVE the seed versions involve (containerd.io 1.2.13 predates its fix), so that the
/// seeds' facts can be checked as written.
const SEED_CVES: [&str; 1] = ["CVE-2020-15257"];

fn seed(distro: &str, version: &str) -> PlanRequest {
    let mut req = request(distro, PLUGIN);
    req.options.version = Some(version.into());
    req.options.kubernetes_version = Some("1.18".into());
    req
}

#[test]
fn the_seeds_19_03_8_was_never_published_for_focal() {
    // The seed's pin predates focal: Docker's repository has focal from 19.03.9
    // (docker/docker-ce-packaging a0cdb993), so apt would find nothing.
    let mut req = seed("ubuntu-20.04", "19.03.8");
    req.options.allow_vulnerable = SEED_CVES.map(str::to_owned).to_vec();
    let e = plan_for(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("starts at 19.03.9"), "{}", e.message);
    assert!(e.hint.unwrap().contains("19.03.9 or later"));
    // Bookworm starts at 23.0, trixie at 28.1; bionic ends with 24.0.
    for (distro, version, said) in [
        ("debian-12", "20.10", "starts at 23.0.0"),
        ("debian-13", "28.0", "starts at 28.1.0"),
        ("ubuntu-18.04", "25.0", "ends with 24.0"),
        // EL10: the centos tree from 27.4.0, the rhel tree from 28.5.0.
        ("rocky-10", "27.3", "starts at 27.4.0"),
        ("centos-stream-10", "27.3", "starts at 27.4.0"),
        ("rhel-10", "28.4", "starts at 28.5.0"),
        ("ubuntu-26.04", "28.5", "starts at 29.3.1"),
    ] {
        let e = plan_for(&seed(distro, version)).unwrap_err();
        assert!(
            e.message.contains(said),
            "{distro} {version}: {}",
            e.message
        );
    }
}

#[test]
fn an_el10_packs_bounds_follow_the_tree_it_installs_from_not_its_name() {
    // A site's pack for another rebuild (Oracle Linux 10, say) on Docker's rhel tree.
    let mut req = seed("rocky-10", "28.4");
    req.distro.os_id = "ol".into();
    req.distro
        .vars
        .insert("docker.repo_path".into(), "rhel".into());
    let e = plan_for(&req).unwrap_err();
    assert!(e.message.contains("starts at 28.5.0"), "{}", e.message);
    // On the centos tree, 28.4 was published for EL10.
    req.distro
        .vars
        .insert("docker.repo_path".into(), "centos".into());
    let planned = plan_for(&req);
    assert!(planned.is_ok(), "{:?}", planned.err());
}

#[test]
fn seed_ubuntu_bionic_19_03_8_is_refused_naming_the_cves() {
    let e = plan_for(&seed("ubuntu-18.04", "19.03.8")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("CVE-2020-15257"), "{}", e.message);
    assert!(
        e.message.contains("containerd.io 1.2.13-1"),
        "{}",
        e.message
    );
    // runc's CVE-2024-21626 came with runc 1.0.0-rc93, newer than 1.2.13's runc.
    assert!(!e.message.contains("CVE-2024-21626"), "{}", e.message);
    let hint = e.hint.unwrap();
    assert!(hint.contains("--allow-vulnerable CVE-2020-15257"), "{hint}");
}

#[test]
fn seed_ubuntu_bionic_19_03_8_has_the_seeds_facts_when_allowed() {
    let mut req = seed("ubuntu-18.04", "19.03.8");
    req.options.allow_vulnerable = SEED_CVES.map(str::to_owned).to_vec();
    let plan = plan_for(&req).unwrap();
    assert_well_formed(&plan);
    for name in ["docker-ce", "docker-ce-cli"] {
        let p = package(&plan, name);
        assert_eq!(
            p.version.as_deref(),
            Some("5:19.03.8~3-0~ubuntu-bionic"),
            "{name}"
        );
        assert_eq!(p.version_match, VersionMatch::Exact);
        assert!(p.hold);
    }
    let c = package(&plan, "containerd.io");
    assert_eq!(c.version.as_deref(), Some("1.2.13-1"));
    assert_eq!(c.version_match, VersionMatch::Exact);
    assert!(c.hold);

    let repo = repositories(&plan)[0];
    assert_eq!(repo.url, "https://download.docker.com/linux/ubuntu");
    assert_eq!(repo.suite.as_deref(), Some("bionic"));
    assert_eq!(repo.components, ["stable"]);
    assert_eq!(repo.architectures, ["amd64"]);
    assert_eq!(
        repo.key.as_ref().unwrap().url,
        "https://download.docker.com/linux/ubuntu/gpg"
    );

    assert_eq!(
        daemon_json(&plan),
        json!({
            "exec-opts": ["native.cgroupdriver=systemd"],
            "log-driver": "json-file",
            "log-opts": {"max-size": "100m"},
            "storage-driver": "overlay2"
        })
    );
    // Kubernetes 1.18: the kubelet's dockershim, no cri-dockerd.
    assert_eq!(plan.facts["cri_socket"], DOCKERSHIM_SOCKET);
    assert!(packages(&plan).iter().all(|p| p.name != "cri-dockerd"));
    assert_eq!(
        plan.warnings
            .iter()
            .filter(|w| w.contains("--allow-vulnerable"))
            .count(),
        1
    );
}

#[test]
fn seed_centos_7_19_03_11_pins_and_writes_the_centos_daemon_json() {
    let mut req = seed("centos-7", "19.03.11");
    req.options.allow_vulnerable = SEED_CVES.map(str::to_owned).to_vec();
    let plan = plan_for(&req).unwrap();
    for name in ["docker-ce", "docker-ce-cli"] {
        let p = package(&plan, name);
        assert_eq!(p.version.as_deref(), Some("19.03.11"));
        assert_eq!(
            p.version_match,
            VersionMatch::Prefix,
            "resolved on the target, epoch-aware"
        );
    }
    assert_eq!(
        package(&plan, "containerd.io").version.as_deref(),
        Some("1.2.13")
    );
    let value = daemon_json(&plan);
    assert_eq!(
        value["storage-opts"],
        json!(["overlay2.override_kernel_check=true"])
    );
    assert_eq!(value["exec-opts"], json!(["native.cgroupdriver=systemd"]));
    let repo = repositories(&plan)[0];
    assert_eq!(
        repo.url,
        "https://download.docker.com/linux/centos/7/$basearch/stable"
    );
    assert_eq!(
        repo.key.as_ref().unwrap().url,
        "https://download.docker.com/linux/centos/gpg"
    );
    assert_eq!(
        repo.key.as_ref().unwrap().fingerprints,
        ["060A61C51B558A7F742B77AAC52FEB6B621E9F35"]
    );
}

#[test]
fn seed_19_03_11_on_apt_pins_containerd_1_2_13_2() {
    let mut req = seed("ubuntu-20.04", "19.03.11");
    req.options.allow_vulnerable = SEED_CVES.map(str::to_owned).to_vec();
    let plan = plan_for(&req).unwrap();
    assert_eq!(
        package(&plan, "containerd.io").version.as_deref(),
        Some("1.2.13-2")
    );
    assert_eq!(
        package(&plan, "docker-ce").version.as_deref(),
        Some("5:19.03.11~3-0~ubuntu-focal")
    );
}

#[test]
fn from_23_0_the_deb_version_names_the_release() {
    let mut req = request("ubuntu-24.04", PLUGIN);
    req.options.version = Some("28.3.3".into());
    let plan = plan_for(&req).unwrap();
    assert_eq!(
        package(&plan, "docker-ce").version.as_deref(),
        Some("5:28.3.3-1~ubuntu.24.04~noble")
    );
    let c = package(&plan, "containerd.io");
    assert_eq!(c.version.as_deref(), Some("1.7"));
    assert_eq!(c.version_match, VersionMatch::Prefix);

    let mut req = request("debian-12", PLUGIN);
    req.options.version = Some("28.3.3".into());
    let plan = plan_for(&req).unwrap();
    assert_eq!(
        package(&plan, "docker-ce-cli").version.as_deref(),
        Some("5:28.3.3-1~debian.12~bookworm")
    );
    // Docker 28 would refuse override_kernel_check; it is not written outside CentOS 7 < 24.
    assert!(daemon_json(&plan).get("storage-opts").is_none());
}

#[test]
fn a_series_pin_is_a_prefix_that_never_matches_another_series() {
    let mut req = request("ubuntu-22.04", PLUGIN);
    req.options.version = Some("24.0".into());
    let plan = plan_for(&req).unwrap();
    let p = package(&plan, "docker-ce");
    assert_eq!(p.version.as_deref(), Some("24.0"));
    assert_eq!(p.version_match, VersionMatch::Prefix);
    assert!(!plugin_api::version::matches(
        "24.0",
        "5:24.04.1-1~ubuntu.22.04~jammy"
    ));
}

/// The plan's download step, and the step itself for its summary and reason.
fn download(plan: &RuntimePlan) -> &plugin_api::DownloadStep {
    let mut found = plan.steps.iter().filter_map(|s| match &s.kind {
        StepKind::Download(d) => Some(d),
        _ => None,
    });
    let d = found.next().expect("a download step");
    assert!(found.next().is_none(), "one download step");
    d
}

#[test]
fn kubernetes_1_24_and_later_gets_cri_dockerd_from_mirantis_archive_with_units_of_ours() {
    let mut req = request("debian-12", PLUGIN);
    req.options.kubernetes_version = Some("1.30".into());
    req.options.sandbox_image = Some("registry.k8s.io/pause:3.10".into());
    let plan = plan_for(&req).unwrap();
    assert_well_formed(&plan);
    assert_eq!(plan.facts["cri_socket"], "unix:///run/cri-dockerd.sock");
    assert_eq!(plan.facts["cri_socket_unit"], "cri-docker.socket");
    // No repository carries it: no package, an archive with a pinned digest instead.
    assert!(packages(&plan)
        .iter()
        .all(|p| !p.name.contains("cri-dockerd")));
    let newest = cri_dockerd::RELEASES[0];
    let d = download(&plan);
    assert_eq!(
        d.url,
        format!(
            "https://github.com/Mirantis/cri-dockerd/releases/download/v{v}/cri-dockerd-{v}.amd64.tgz",
            v = newest.version
        )
    );
    assert_eq!(d.sha256, newest.amd64);
    assert_eq!(d.member.as_deref(), Some("cri-dockerd/cri-dockerd"));
    assert_eq!(
        (d.path.as_str(), d.mode),
        ("/usr/local/bin/cri-dockerd", 0o755)
    );
    assert_eq!(d.restarts, ["cri-docker.service"]);
    assert!(plan.facts["cri_adapter"].contains(newest.version));

    // The service runs the binary we install, with the pause image; the socket is the one
    // the kubelet is told about.
    let FileContent::Full { text } = &file(&plan, cri_dockerd::SERVICE_FILE).content else {
        panic!("a whole unit")
    };
    let exec_start = text
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("an ExecStart");
    assert_eq!(
        exec_start,
        "ExecStart=/usr/local/bin/cri-dockerd --container-runtime-endpoint fd:// \
         --pod-infra-container-image=registry.k8s.io/pause:3.10"
    );
    assert!(text.contains("Requires=cri-docker.socket"), "{text}");
    let FileContent::Full { text } = &file(&plan, cri_dockerd::SOCKET_FILE).content else {
        panic!("a whole unit")
    };
    assert!(text.contains("ListenStream=%t/cri-dockerd.sock"), "{text}");
    assert!(text.contains("SocketGroup=docker"), "{text}");

    let units: Vec<(&str, bool)> = services(&plan)
        .iter()
        .map(|s| (s.unit.as_str(), s.daemon_reload))
        .collect();
    assert_eq!(
        units,
        [
            ("docker.service", true),
            ("cri-docker.socket", true),
            ("cri-docker.service", true)
        ]
    );
    assert!(checks(&plan)
        .iter()
        .any(|c| c.probe.expect == plugin_api::Expect::StdoutContains("/cri-dockerd.sock".into())));
}

#[test]
fn the_archive_is_the_nodes_architecture_and_a_mirror_serves_it_under_the_origins_host() {
    let mut req = request("debian-12", PLUGIN);
    req.distro.arch = "arm64".into();
    req.options.mirror = Some("https://mirror.example.com/files/".into());
    req.options
        .set
        .insert("docker.cri-dockerd-version".into(), "0.3.24".into());
    let plan = plan_for(&req).unwrap();
    let d = download(&plan);
    let release = cri_dockerd::RELEASES
        .iter()
        .find(|r| r.version == "0.3.24")
        .unwrap();
    assert_eq!(d.sha256, release.arm64);
    assert_eq!(
        d.url,
        "https://mirror.example.com/files/github.com/Mirantis/cri-dockerd/releases/download/v0.3.24/cri-dockerd-0.3.24.arm64.tgz"
    );

    // rpm spells it aarch64.
    let mut req = request("rocky-9", PLUGIN);
    req.distro.arch = "aarch64".into();
    assert_eq!(
        download(&plan_for(&req).unwrap()).sha256,
        cri_dockerd::RELEASES[0].arm64
    );

    // Mirantis builds no archive for ppc64el: say what to do instead.
    let mut req = request("debian-12", PLUGIN);
    req.distro.arch = "ppc64el".into();
    let err = plan_for(&req).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    let hint = err.hint.clone().unwrap_or_default();
    assert!(
        err.message.contains("ppc64el")
            && hint.contains("cri-dockerd-url")
            && hint.contains("without-cri-dockerd"),
        "{err:?}"
    );
}

#[test]
fn an_archive_of_ones_own_needs_its_digest_and_a_release_we_have_no_digest_for_is_refused() {
    let with = |pairs: &[(&str, &str)]| {
        let mut req = request("debian-12", PLUGIN);
        for (k, v) in pairs {
            req.options.set.insert(format!("docker.{k}"), (*v).into());
        }
        plan_for(&req)
    };
    let own = "0".repeat(63) + "1";
    let plan = with(&[
        (
            "cri-dockerd-url",
            "https://files.example.com/cri-dockerd.tgz",
        ),
        ("cri-dockerd-sha256", &own),
    ])
    .unwrap();
    assert_eq!(
        download(&plan).url,
        "https://files.example.com/cri-dockerd.tgz"
    );
    assert_eq!(download(&plan).sha256, own);

    // A URL alone is a mirror of the pinned release: the pinned digest still applies.
    let plan = with(&[("cri-dockerd-url", "https://files.example.com/c.tgz")]).unwrap();
    assert_eq!(download(&plan).sha256, cri_dockerd::RELEASES[0].amd64);

    for (pairs, names) in [
        (
            vec![("cri-dockerd-sha256", own.as_str())],
            "cri-dockerd-url",
        ),
        (vec![("cri-dockerd-version", "0.2.0")], "0.3.26"),
        (
            vec![
                ("cri-dockerd-url", "https://files.example.com/c.tgz"),
                ("cri-dockerd-sha256", "abc"),
            ],
            "64 hex digits",
        ),
        (
            vec![("cri-dockerd-url", "https://files.example.com/$(reboot).tgz")],
            "cri-dockerd-url",
        ),
        (
            vec![
                ("without-cri-dockerd", "true"),
                ("cri-dockerd-version", "0.3.24"),
            ],
            "would do nothing",
        ),
    ] {
        let err = with(&pairs).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{pairs:?}");
        let text = format!("{} {}", err.message, err.hint.clone().unwrap_or_default());
        assert!(text.contains(names), "{pairs:?}: {text}");
    }
}

#[test]
fn a_site_that_runs_cri_dockerd_itself_gets_a_plan_without_it() {
    // Stock repositories carry no cri-dockerd package: a site that installs it its own way
    // says so, and the plan installs what the repositories have.
    let mut req = request("debian-12", PLUGIN);
    req.options.kubernetes_version = Some("1.30".into());
    req.options
        .set
        .insert("docker.without-cri-dockerd".into(), "true".into());
    let plan = plan_for(&req).unwrap();
    assert_well_formed(&plan);
    assert!(plan
        .steps
        .iter()
        .all(|s| !matches!(s.kind, StepKind::Download(_))));
    let units: Vec<&str> = services(&plan).iter().map(|s| s.unit.as_str()).collect();
    assert_eq!(units, ["docker.service"]);
    // The kubelet still needs cri-dockerd's socket, and the plan says who provides it.
    assert_eq!(plan.facts["cri_socket"], "unix:///run/cri-dockerd.sock");
    assert!(plan
        .warnings
        .iter()
        .any(|w| w.contains("without-cri-dockerd") && w.contains("install and run it")));
    req.options
        .set
        .insert("docker.without-cri-dockerd".into(), "maybe".into());
    assert!(plan_for(&req).is_err());
}

#[test]
fn daemon_json_is_left_alone_with_a_warning_when_a_drop_in_passes_our_flags() {
    let plan = plan_for(&request("debian-12", PLUGIN)).unwrap();
    let file = plan
        .steps
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::File(f) if f.path == "/etc/docker/daemon.json" => Some(f),
            _ => None,
        })
        .expect("daemon.json is merged");
    let guard = file
        .skip_when
        .as_ref()
        .expect("a guard against conflicting flags");
    let argv = &guard.probe.argv;
    assert_eq!(argv[0], "find");
    assert!(argv.contains(&"/etc/systemd/system/docker.service.d/*".to_owned()));
    assert!(argv.contains(&"/etc/sysconfig/docker".to_owned()));
    let pattern = argv.iter().find(|a| a.starts_with("^[^#]*(")).unwrap();
    for flag in [
        "--exec-opt",
        "--log-driver",
        "--log-opt",
        "--storage-driver",
    ] {
        assert!(pattern.contains(flag), "{pattern}");
    }
    assert!(
        !pattern.contains("--storage-opt"),
        "no storage-opts written here: {pattern}"
    );
    // Any file found means "leave daemon.json alone".
    assert_eq!(
        guard.probe.expect,
        plugin_api::Expect::StdoutContains("/etc/".into())
    );
    assert!(guard.warning.contains("dockerd refuses") && guard.warning.contains("Remove the flag"));
}

#[test]
fn cgroupfs_goes_into_exec_opts() {
    let mut req = request("debian-12", PLUGIN);
    req.options.cgroup_driver = CgroupDriver::Cgroupfs;
    let plan = plan_for(&req).unwrap();
    assert_eq!(
        daemon_json(&plan)["exec-opts"],
        json!(["native.cgroupdriver=cgroupfs"])
    );
    assert_eq!(plan.facts["cgroup_driver"], "cgroupfs");
}

#[test]
fn distro_source_installs_the_packs_package() {
    let mut req = request("ubuntu-22.04", PLUGIN);
    req.options.source = Source::Distro;
    let plan = plan_for(&req).unwrap();
    assert!(repositories(&plan).is_empty());
    package(&plan, "docker.io");

    let mut req = request("opensuse-leap-15", PLUGIN);
    req.options.source = Source::Distro;
    req.options.version = Some("24.0".into());
    let plan = plan_for(&req).unwrap();
    let p = package(&plan, "docker");
    assert_eq!(p.version.as_deref(), Some("24.0"));
    assert!(p.hold);
}

#[test]
fn suse_upstream_is_unsupported_with_the_distro_package_as_the_hint() {
    let e = plan_for(&request("sles-15", PLUGIN)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e
        .hint
        .unwrap()
        .contains("--source distro to install sles-15's `docker`"));
}

#[test]
fn versions_docker_never_published_for_the_distro_are_refused() {
    let mut req = request("ubuntu-24.04", PLUGIN);
    req.options.version = Some("20.10.24".into());
    let e = plan_for(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("starts at 26.0"), "{}", e.message);

    let mut req = request("centos-7", PLUGIN);
    req.options.version = Some("27.0.3".into());
    let e = plan_for(&req).unwrap_err();
    assert!(e.message.contains("ends with 26.1"), "{}", e.message);

    let mut req = request("debian-12", PLUGIN);
    req.options.version = Some("17.03.2".into());
    let e = plan_for(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.hint.unwrap().contains("docker.containerd-version"));
}

#[test]
fn an_unknown_series_can_be_paired_with_containerd_by_hand() {
    let mut req = request("debian-12", PLUGIN);
    req.options.version = Some("29.0.1".into());
    req.options
        .set
        .insert("docker.containerd-version".into(), "2.1.5-1".into());
    let plan = plan_for(&req).unwrap();
    let c = package(&plan, "containerd.io");
    assert_eq!(c.version.as_deref(), Some("2.1.5-1"));
    assert_eq!(c.version_match, VersionMatch::Exact);
    assert_eq!(
        package(&plan, "docker-ce").version.as_deref(),
        Some("5:29.0.1-1~debian.12~bookworm")
    );
}

#[test]
fn vulnerable_engines_are_refused() {
    let mut req = request("debian-12", PLUGIN);
    req.options.version = Some("25.0.1".into());
    let e = plan_for(&req).unwrap_err();
    assert!(
        e.message
            .contains("Docker Engine 25.0.1 is affected by CVE-2024-21626"),
        "{}",
        e.message
    );
    req.options.version = Some("25.0.2".into());
    assert!(plan_for(&req).is_ok());
}

#[test]
fn unpinned_plans_install_the_newest_and_hold_nothing() {
    let plan = plan_for(&request("rocky-9", PLUGIN)).unwrap();
    assert!(packages(&plan)
        .iter()
        .all(|p| p.version.is_none() && !p.hold));
    assert_eq!(
        repositories(&plan)[0].url,
        "https://download.docker.com/linux/centos/9/$basearch/stable"
    );
    assert!(checks(&plan)
        .iter()
        .any(|c| c.probe.argv[..2] == ["dockerd", "--validate"]));
}

#[test]
fn bad_input() {
    let mut req = request("debian-12", PLUGIN);
    req.options.kubernetes_version = Some("one.thirty".into());
    assert_eq!(plan_for(&req).unwrap_err().kind, ErrorKind::InvalidInput);
    let mut req = request("debian-12", PLUGIN);
    req.options.sandbox_image = Some("pause:3.10;reboot".into());
    assert_eq!(plan_for(&req).unwrap_err().kind, ErrorKind::InvalidInput);
}

#[test]
fn plans_are_deterministic() {
    let req = request("ubuntu-22.04", PLUGIN);
    assert_eq!(plan_for(&req).unwrap(), plan_for(&req).unwrap());
}

#[test]
fn every_fixture_distro_plans_or_is_refused_with_a_reason() {
    runtime_kit::fixtures::assert_matrix(PLUGIN, plan_for, |_| {});
}

#[test]
fn a_rhel_pin_before_the_repository_is_known_to_have_it_is_planned_with_a_warning() {
    let warned = |distro: &str, version: &str| {
        let mut req = request(distro, PLUGIN);
        req.options.version = Some(version.into());
        plan_for(&req)
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.contains("rhel repository") && w.contains("not confirmed"))
    };
    assert!(warned("rhel-9", "26.1"));
    assert!(!warned("rhel-9", "27.3"));
    // The centos repository, which Rocky uses, is not the one in doubt.
    assert!(!warned("rocky-9", "26.1"));
}
