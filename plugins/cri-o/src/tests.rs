use plugin_api::{CgroupDriver, ErrorKind, FileContent, Source, TomlEdit, VersionMatch};
use runtime_kit::fixtures::{
    assert_well_formed, checks, file, package, packages, repositories, request, services,
};

use super::*;

const FP: &str = "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333";

fn req(distro: &str, version: Option<&str>, kubernetes: Option<&str>) -> PlanRequest {
    let mut r = request(distro, PLUGIN);
    r.options.version = version.map(str::to_owned);
    r.options.kubernetes_version = kubernetes.map(str::to_owned);
    r.options
        .set
        .insert("cri-o.key-fingerprint".into(), FP.into());
    r
}

fn plan_for(request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
    CriO.plan(request)
}

fn text(plan: &RuntimePlan, path: &str) -> String {
    match &file(plan, path).content {
        FileContent::Full { text } => text.clone(),
        other => panic!("{path} should be a drop-in we own, got {other:?}"),
    }
}

#[test]
fn seed_debian_10_cri_o_1_17_uses_kubic_debian_10_and_the_versioned_package() {
    let plan = plan_for(&req("debian-10", Some("1.17"), Some("1.17"))).unwrap();
    assert_well_formed(&plan);
    let repos = repositories(&plan);
    assert_eq!(repos.len(), 1);
    assert_eq!(
        repos[0].url,
        "https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/Debian_10/"
    );
    assert_eq!(repos[0].suite.as_deref(), Some("/"));
    assert!(repos[0].components.is_empty());
    let key = repos[0].key.as_ref().unwrap();
    assert_eq!(
        key.url,
        "https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/Debian_10/Release.key"
    );
    assert_eq!(key.fingerprints, [FP]);
    let p = package(&plan, "cri-o-1.17");
    assert!(p.hold);
    assert_eq!(plan.facts["cri_socket"], "unix:///var/run/crio/crio.sock");
    // 1.17 predates crio.conf.d: the packaged crio.conf is edited in place.
    let conf = file(&plan, config::MAIN);
    let FileContent::TomlEdit { edits, .. } = &conf.content else {
        panic!("a TOML edit")
    };
    assert!(edits.contains(&TomlEdit::Set {
        path: vec!["crio".into(), "runtime".into(), "cgroup_manager".into()],
        value: serde_json::json!("systemd"),
    }));
}

#[test]
fn seed_centos_7_cri_o_1_24_uses_kubic_centos_7_and_the_cri_o_1_24_repository() {
    let plan = plan_for(&req("centos-7", Some("1.24"), Some("1.24"))).unwrap();
    let urls: Vec<&str> = repositories(&plan).iter().map(|r| r.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/CentOS_7/",
            "https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable:/cri-o:/1.24/CentOS_7/",
        ]
    );
    for repo in repositories(&plan) {
        assert!(repo
            .key
            .as_ref()
            .unwrap()
            .url
            .ends_with("/repodata/repomd.xml.key"));
        assert_eq!(repo.suite, None);
    }
    let p = package(&plan, "cri-o");
    assert_eq!(p.version.as_deref(), Some("1.24"));
    assert_eq!(p.version_match, VersionMatch::Prefix);
    assert!(p.hold);
    assert_eq!(packages(&plan).len(), 1);
}

#[test]
fn ubuntu_kubic_era_uses_both_repositories_and_cri_o_runc() {
    let plan = plan_for(&req("ubuntu-20.04", None, Some("1.24"))).unwrap();
    let urls: Vec<&str> = repositories(&plan).iter().map(|r| r.url.as_str()).collect();
    assert!(urls[0].ends_with("/stable/xUbuntu_20.04/"), "{urls:?}");
    assert!(
        urls[1].ends_with("/stable:/cri-o:/1.24/xUbuntu_20.04/"),
        "{urls:?}"
    );
    package(&plan, "cri-o");
    package(&plan, "cri-o-runc");
    assert!(plan.warnings.iter().any(|w| w.contains("CVE-2024-21626")));
}

#[test]
fn from_1_28_isv_cri_o_for_any_deb_or_rpm_distro() {
    let plan = plan_for(&req("ubuntu-24.04", None, Some("1.30"))).unwrap();
    let repo = repositories(&plan)[0];
    assert_eq!(
        repo.url,
        "https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v1.30/deb/"
    );
    assert_eq!(repo.suite.as_deref(), Some("/"));
    let key = repo.key.as_ref().unwrap();
    assert_eq!(
        key.url,
        "https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v1.30/deb/Release.key"
    );
    assert_eq!(package(&plan, "cri-o").version.as_deref(), Some("1.30"));
    assert_eq!(plan.facts["version"], "1.30");

    let plan = plan_for(&req("rocky-9", Some("1.31.2"), Some("1.31"))).unwrap();
    let repo = repositories(&plan)[0];
    assert_eq!(
        repo.key.as_ref().unwrap().url,
        "https://download.opensuse.org/repositories/isv:/cri-o:/stable:/v1.31/rpm/repodata/repomd.xml.key"
    );
    assert_eq!(package(&plan, "cri-o").version.as_deref(), Some("1.31.2"));
    package(&plan, "container-selinux");
}

#[test]
fn pkgs_k8s_io_stays_selectable_for_sites_that_mirror_it() {
    let mut r = req("ubuntu-24.04", None, Some("1.30"));
    r.options.set.clear();
    r.options
        .set
        .insert("cri-o.repository".into(), "pkgs.k8s.io".into());
    let plan = plan_for(&r).unwrap();
    let repo = repositories(&plan)[0];
    assert_eq!(
        repo.url,
        "https://pkgs.k8s.io/addons:/cri-o:/stable:/v1.30/deb/"
    );
    assert_eq!(
        repo.key.as_ref().unwrap().fingerprints,
        vec![repos::PKGS_KEY.to_owned()]
    );
    assert!(plan
        .warnings
        .iter()
        .any(|w| w.contains("no CRI-O build since")));
    r.options
        .set
        .insert("cri-o.repository".into(), "elsewhere".into());
    let e = plan_for(&r).unwrap_err();
    assert!(e.hint.unwrap().contains("isv"));
}

#[test]
fn version_skew_is_refused_unless_asked_for_by_name() {
    let e = plan_for(&req("ubuntu-24.04", Some("1.29"), Some("1.30"))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(
        e.message
            .contains("CRI-O 1.29 does not match Kubernetes 1.30"),
        "{}",
        e.message
    );
    assert!(e
        .hint
        .unwrap()
        .contains("--set cri-o.allow-version-skew=true"));

    let mut r = req("ubuntu-24.04", Some("1.29"), Some("1.30"));
    r.options
        .set
        .insert("cri-o.allow-version-skew".into(), "true".into());
    assert_eq!(plan_for(&r).unwrap().facts["version"], "1.29");
}

#[test]
fn without_a_fingerprint_the_vendors_own_key_is_pinned() {
    // isv:cri-o's key for 1.28 on, Kubic's before: no --set needed.
    for (distro, kubernetes, key) in [
        ("ubuntu-24.04", "1.30", repos::ISV_KEY),
        ("debian-10", "1.17", repos::KUBIC_KEY),
        ("ubuntu-20.04", "1.22", repos::KUBIC_KEY),
    ] {
        let mut r = req(distro, None, Some(kubernetes));
        r.options.set.clear();
        let plan = plan_for(&r).unwrap();
        for repo in repositories(&plan) {
            let fingerprints = &repo.key.as_ref().expect("a key").fingerprints;
            assert_eq!(fingerprints, &vec![key.to_owned()], "{distro} {}", repo.url);
        }
    }
    // A mirror signed by its own key names it, and only it is accepted.
    let plan = plan_for(&req("ubuntu-24.04", None, Some("1.30"))).unwrap();
    let repo = &repositories(&plan)[0];
    assert_eq!(repo.key.as_ref().unwrap().fingerprints, vec![FP.to_owned()]);
}

#[test]
fn kubic_era_on_a_distro_kubic_never_built_for() {
    // Ubuntu 24.04 came after Kubic; Debian testing lost its builds in 2023 (cri-o/cri-o#7102).
    for distro in ["ubuntu-24.04", "debian-testing"] {
        let e = plan_for(&req(distro, None, Some("1.24"))).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MissingVariable);
        assert!(e.message.contains("kubic.os"), "{}", e.message);
        assert!(e.hint.unwrap().contains("isv:cri-o"));
        // From 1.28 on, isv:cri-o serves it.
        let plan = plan_for(&req(distro, None, Some("1.30"))).unwrap();
        assert!(repositories(&plan)[0].url.contains("isv:/cri-o"));
    }
}

#[test]
fn suse_installs_the_distro_package_with_zypper() {
    let plan = plan_for(&req("opensuse-tumbleweed", None, Some("1.32"))).unwrap();
    assert!(repositories(&plan).is_empty());
    let p = package(&plan, "cri-o");
    assert_eq!(p.version, None);
    assert!(plan.warnings.iter().any(|w| w.contains("crio --version")));
    // Leap's pack names no CRI-O package.
    let e = plan_for(&req("opensuse-leap-15", None, Some("1.32"))).unwrap_err();
    assert!(e.message.contains("crio.distro_package"));

    let mut r = req("fedora-40", None, Some("1.30"));
    r.options.source = Source::Distro;
    assert!(repositories(&plan_for(&r).unwrap()).is_empty());
}

#[test]
fn cgroup_drop_in_for_each_driver_and_the_pause_image() {
    let mut r = req("debian-12", None, Some("1.30"));
    r.options.sandbox_image = Some("registry.k8s.io/pause:3.10".into());
    let plan = plan_for(&r).unwrap();
    let cg = text(&plan, config::CGROUP_DROP_IN);
    assert!(
        cg.contains("[crio.runtime]\ncgroup_manager = \"systemd\"\n"),
        "{cg}"
    );
    assert!(!cg.contains("conmon_cgroup"));
    let pause = text(&plan, config::PAUSE_DROP_IN);
    assert!(
        pause.contains("[crio.image]\npause_image = \"registry.k8s.io/pause:3.10\"\n"),
        "{pause}"
    );
    assert!(checks(&plan)
        .iter()
        .any(|c| c.probe.argv == ["crio", "config"]));
    let svc = services(&plan);
    assert_eq!(svc[0].unit, "crio.service");
    assert!(svc[0].enable && svc[0].start && svc[0].restart_on_change);

    r.options.cgroup_driver = CgroupDriver::Cgroupfs;
    r.options.sandbox_image = None;
    let plan = plan_for(&r).unwrap();
    let cg = text(&plan, config::CGROUP_DROP_IN);
    assert!(
        cg.contains("cgroup_manager = \"cgroupfs\"\nconmon_cgroup = \"pod\"\n"),
        "{cg}"
    );
    assert_eq!(plan.facts["cgroup_driver"], "cgroupfs");
    // The drop-ins parse as TOML.
    cg.parse::<toml_edit::DocumentMut>().unwrap();
    pause.parse::<toml_edit::DocumentMut>().unwrap();
}

#[test]
fn cr8escape_versions_are_refused() {
    let e = plan_for(&req("ubuntu-22.04", Some("1.22.2"), Some("1.22"))).unwrap_err();
    assert!(e.message.contains("CVE-2022-0811"), "{}", e.message);
    let mut r = req("ubuntu-22.04", Some("1.22.2"), Some("1.22"));
    r.options.allow_vulnerable = vec!["CVE-2022-0811".into()];
    assert!(plan_for(&r).is_ok());
    assert!(plan_for(&req("ubuntu-22.04", Some("1.22.3"), Some("1.22"))).is_ok());
}

#[test]
fn mirror_serves_both_kubic_repositories() {
    let mut r = req("centos-7", None, Some("1.24"));
    r.options.mirror = Some("https://mirror.example.com/opensuse".into());
    let plan = plan_for(&r).unwrap();
    for repo in repositories(&plan) {
        assert!(
            repo.url
                .starts_with("https://mirror.example.com/opensuse/repositories/devel:/kubic:"),
            "{}",
            repo.url
        );
        assert!(repo
            .key
            .as_ref()
            .unwrap()
            .url
            .starts_with("https://mirror.example.com/opensuse/"));
    }
}

#[test]
fn plans_are_deterministic_and_options_documented() {
    let r = req("debian-12", None, Some("1.30"));
    assert_eq!(plan_for(&r).unwrap(), plan_for(&r).unwrap());
    let keys: Vec<String> = CriO.options().into_iter().map(|d| d.key).collect();
    assert_eq!(
        keys,
        [
            "cri-o.key-url",
            "cri-o.key-fingerprint",
            "cri-o.repository",
            "cri-o.allow-version-skew"
        ]
    );
}

#[test]
fn every_fixture_distro_plans_or_is_refused_with_a_reason() {
    for kubernetes in ["1.24", "1.30"] {
        runtime_kit::fixtures::assert_matrix(PLUGIN, plan_for, |r| {
            r.options.kubernetes_version = Some(kubernetes.into());
            r.options
                .set
                .insert("cri-o.key-fingerprint".into(), FP.into());
        });
    }
}

#[test]
fn the_design_cards_command_plans_with_no_flag_on_debian_10() {
    // `installer plan --distro debian-10 --runtime cri-o`: no version, no fingerprint.
    let mut r = req("debian-10", None, None);
    r.options.set.clear();
    let plan = plan_for(&r).unwrap();
    assert_well_formed(&plan);
    assert_eq!(package(&plan, "cri-o-1.17").name, "cri-o-1.17");
    let why = &plan.facts["version_chosen"];
    assert!(
        why.contains("debian-10") && why.contains("crio.default_minor"),
        "{why}"
    );
    assert_eq!(plan.facts["kubernetes_version"], "1.17");
}

#[test]
fn a_pack_with_no_known_minor_plans_the_newest_stable_minor_from_cri_os_own_repositories() {
    for id in ["ubuntu-22.04", "debian-12", "rocky-9"] {
        let mut r = req(id, None, None);
        r.options.set.clear();
        let plan = plan_for(&r).unwrap();
        assert_well_formed(&plan);
        assert_eq!(plan.facts["version"], repos::NEWEST_STABLE_MINOR, "{id}");
        assert_eq!(plan.facts["kubernetes_version"], repos::NEWEST_STABLE_MINOR);
        assert!(plan.facts["version_chosen"].contains("isv:cri-o"), "{id}");
        let repo = repositories(&plan)[0];
        assert!(
            repo.url.contains(&format!(
                "isv:/cri-o:/stable:/v{}/",
                repos::NEWEST_STABLE_MINOR
            )),
            "{id}: {}",
            repo.url
        );
    }
}

#[test]
fn a_distros_own_cri_o_with_no_version_still_asks_for_one_naming_the_pack() {
    // SUSE installs the distro's cri-o, whose minor no source records.
    let e = plan_for(&req("sles-15", None, None)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert!(e.message.contains("sles-15"), "{}", e.message);
    assert!(e.hint.unwrap().contains("--kubernetes-version"));
}

#[test]
fn a_kubic_minor_no_source_lists_for_the_os_is_planned_with_a_warning() {
    let warned = |distro: &str, version: &str| {
        let mut r = req(distro, Some(version), None);
        r.options.set.clear();
        plan_for(&r)
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.contains("no source confirms that Kubic published"))
    };
    // CRI-O's own matrix: 1.16 and 1.17 everywhere, 1.18 on a few.
    assert!(!warned("debian-10", "1.17"));
    assert!(!warned("ubuntu-20.04", "1.18"));
    assert!(warned("debian-10", "1.18"));
    assert!(warned("ubuntu-20.04", "1.22"));
    // isv:cri-o is not Kubic: no such warning.
    assert!(!warned("ubuntu-20.04", "1.30"));
}

#[test]
fn a_drop_in_setting_the_other_driver_stops_the_run_first_found_by_the_real_find() {
    let plan = plan_for(&req("ubuntu-24.04", None, Some("1.30"))).unwrap();
    let check = runtime_kit::fixtures::prerequisite_check(&plan, "cgroup_manager");
    assert_eq!(
        check.probe.expect,
        plugin_api::Expect::StdoutEquals(String::new())
    );
    // The probe on a scratch tree standing for /etc/crio, with the real find and grep.
    let scratch = std::env::temp_dir().join(format!("crio-probe-{}", std::process::id()));
    let dir = scratch.join("crio.conf.d");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |files: &[(&str, &str)]| -> String {
        for entry in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let argv: Vec<String> = check
            .probe
            .argv
            .iter()
            .map(|a| a.replacen("/etc/crio", scratch.to_str().unwrap(), 1))
            .collect();
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .expect("find runs");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    // Ours, and a GPU toolkit's drop-in that sets no driver: nothing found.
    let ours = "[crio.runtime]\ncgroup_manager = \"systemd\"\n";
    let nvidia = "[crio.runtime]\n  default_runtime = \"nvidia\"\n";
    assert_eq!(
        run(&[("02-cgroup-manager.conf", ours), ("99-nvidia.toml", nvidia)]),
        ""
    );
    // A site's drop-in with the other driver is named.
    let found = run(&[
        ("02-cgroup-manager.conf", ours),
        (
            "50-site.conf",
            "[crio.runtime]\n  cgroup_manager = 'cgroupfs'\n",
        ),
    ]);
    assert!(
        found.trim_end().ends_with("crio.conf.d/50-site.conf"),
        "{found}"
    );
    // A commented-out line is not a setting.
    assert_eq!(
        run(&[("50-site.conf", "# cgroup_manager = \"cgroupfs\"\n")]),
        ""
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}

#[test]
fn with_cgroupfs_a_drop_in_moving_conmon_out_of_the_pod_is_named_too() {
    let mut r = req("ubuntu-24.04", None, Some("1.30"));
    r.options.cgroup_driver = CgroupDriver::Cgroupfs;
    let plan = plan_for(&r).unwrap();
    let check = runtime_kit::fixtures::prerequisite_check(&plan, "cgroup_manager");
    let grep = |text: &str| runtime_kit::fixtures::grep_pattern_matches(&check.probe, text);
    assert!(grep("[crio.runtime]\nconmon_cgroup = \"system.slice\"\n"));
    assert!(grep("[crio.runtime]\ncgroup_manager = \"systemd\"\n"));
    assert!(!grep("[crio.runtime]\nconmon_cgroup = \"pod\"\n"));
    assert!(!grep("[crio.runtime]\ncgroup_manager = \"cgroupfs\"\n"));
    assert!(check.description.contains("conmon_cgroup"));
}

#[test]
fn the_drop_in_check_reads_what_cri_o_reads_and_passes_where_there_is_no_cri_o_yet() {
    let plan = plan_for(&req("ubuntu-24.04", None, Some("1.30"))).unwrap();
    let check = runtime_kit::fixtures::prerequisite_check(&plan, "cgroup_manager");
    let scratch = std::env::temp_dir().join(format!("crio-recursive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("etc")).unwrap();
    // A fresh host: no /etc/crio at all. Nothing to name, and the check passes.
    assert_eq!(
        runtime_kit::fixtures::probe_stdout_under(&check.probe, &scratch),
        ""
    );
    let dir = scratch.join("etc/crio/crio.conf.d");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let other = "[crio.runtime]\ncgroup_manager = \"cgroupfs\"\n";
    std::fs::write(dir.join("sub/20-nested.conf"), other).unwrap();
    std::fs::write(scratch.join("elsewhere.conf"), other).unwrap();
    std::os::unix::fs::symlink(scratch.join("elsewhere.conf"), dir.join("10-link.conf")).unwrap();
    let found = runtime_kit::fixtures::probe_stdout_under(&check.probe, &scratch);
    assert!(
        found.contains("sub/20-nested.conf") && found.contains("10-link.conf"),
        "{found}"
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}
