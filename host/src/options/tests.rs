use super::*;

#[test]
fn injection_attempts_are_refused_naming_the_value_and_origin() {
    for bad in [
        "1.7; rm -rf /",
        "$(reboot)",
        "`id`",
        "1.7\nrm",
        "a|b",
        "x && y",
    ] {
        let err = check_value(bad, "--version").unwrap_err().to_string();
        assert!(
            err.starts_with("--version:") && err.contains(&format!("{bad:?}")),
            "{err}"
        );
    }
    assert!(check_value(
        "https://pkgs.k8s.io/addons:/cri-o:/stable:/v1.30/deb/",
        "--mirror"
    )
    .is_ok());
    assert!(check_value(
        "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88",
        "--set"
    )
    .is_ok());
}

#[test]
fn tokens_allow_debian_and_rpm_versions_only() {
    for good in [
        "5:19.03.8~3-0~ubuntu-focal",
        "1.2.13-1",
        "3:28.3.3-1.el9",
        "cri-o",
        "debian-10",
    ] {
        assert!(
            check_token(good, "--version", &plugin_api::validate::VERSION).is_ok(),
            "{good}"
        );
    }
    for bad in ["", "-rf", "1.0 2.0", "a/b", "../x"] {
        assert!(
            check_token(bad, "--version", &plugin_api::validate::VERSION).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn urls_need_https_except_on_loopback_or_when_allowed_by_name() {
    assert!(check_url(
        "https://download.docker.com/linux/debian",
        "--mirror",
        false
    )
    .is_ok());
    assert!(check_url("http://127.0.0.1:8080/debian", "--mirror", false).is_ok());
    assert!(check_url("http://[::1]:8080/debian", "--mirror", false).is_ok());
    let err = check_url("http://mirror.example.com/debian", "--mirror", false).unwrap_err();
    assert!(err.hint().unwrap().contains("--allow-insecure-repo"));
    assert!(check_url("http://mirror.example.com/debian", "--mirror", true).is_ok());
    assert!(check_url("file:///etc/passwd", "--mirror", true).is_err());
}

#[test]
fn target_paths_stay_absolute_and_inside() {
    assert!(check_target_path("/etc/containerd/config.toml", "plugin").is_ok());
    for bad in ["etc/x", "/etc/../../x", "/etc/x\n", "/etc/$(x)"] {
        assert!(check_target_path(bad, "plugin").is_err(), "{bad}");
    }
}

#[test]
fn auto_cgroup_driver_follows_systemd_then_cgroup_v2() {
    let root = tempfile::tempdir().unwrap();
    let target = Target::open(root.path()).unwrap();
    let absent = root.path().join("no-such-marker");
    let (driver, why) = auto_cgroup_driver(&target, &absent);
    assert_eq!(driver, CgroupDriver::Cgroupfs, "{why}");
    let marker = root.path().join("cgroup.controllers");
    std::fs::write(&marker, "").unwrap();
    assert_eq!(
        auto_cgroup_driver(&target, &marker).0,
        CgroupDriver::Systemd
    );
    std::fs::create_dir_all(root.path().join("run/systemd/system")).unwrap();
    let (driver, why) = auto_cgroup_driver(&target, &absent);
    assert_eq!(driver, CgroupDriver::Systemd);
    assert!(why.contains("systemd is init"), "{why}");
}

#[test]
fn credentials_in_a_url_are_refused() {
    let err = check_url(
        "https://me:hunter2xyz@mirror.example.com/docker",
        "--mirror",
        false,
    )
    .unwrap_err();
    let text = format!("{err} {}", err.hint().unwrap());
    assert!(
        text.contains("credentials") && text.contains("auth.conf.d"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2xyz"),
        "the password is echoed: {text}"
    );
    assert!(check_url("https://token@mirror.example.com/", "--mirror", false).is_err());
}

#[test]
fn a_mirror_with_the_distros_own_packages_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let target = Target::open(root.path()).unwrap();
    let selection = Selection {
        runtime: Some("containerd".into()),
        source: Some("distro".into()),
        mirror: Some("https://mirror.example.com/docker".into()),
        cgroup_driver: Some("systemd".into()),
        ..Selection::default()
    };
    let err = resolve(&selection, &target).unwrap_err();
    assert!(err.to_string().contains("--source distro"), "{err}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn cve_ids_are_checked() {
    assert!(check_cve("CVE-2024-21626").is_ok());
    assert!(check_cve("cve-2024-21626").is_err());
    assert!(check_cve("CVE-24-1").is_err());
}
