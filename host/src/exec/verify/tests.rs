use super::node::flag_driver;
use super::*;

fn pin(package: &str, pin: &str) -> plugin_api::ResolveVersion {
    plugin_api::ResolveVersion {
        package: package.to_owned(),
        pin: pin.to_owned(),
        placeholder: format!("<{package}@{pin}>"),
        query: vec!["apt-cache".into(), "madison".into(), package.into()],
        listing: plugin_api::VersionListing {
            names: vec![package.to_owned()],
            name_field: 0,
            version_field: 1,
            separator: Some("|".to_owned()),
        },
    }
}

#[test]
fn a_pinned_line_matches_any_installed_version_the_pin_covers() {
    let r = [pin("containerd.io", "1.7")];
    let want = "containerd.io=<containerd.io@1.7>";
    assert!(line_matches(want, "containerd.io=1.7.27-1", &r));
    assert!(line_matches(want, "containerd.io=1.7.13-1", &r));
    assert!(
        !line_matches(want, "containerd.io=1.70.1-1", &r),
        "whole components"
    );
    assert!(!line_matches(want, "containerd.io=1.6.33-1", &r));
    assert!(!line_matches(want, "runc=1.7.1", &r));
    assert!(line_matches(
        "containerd.io installed",
        "containerd.io installed",
        &r
    ));
    assert!(!line_matches(
        "containerd.io installed",
        "containerd.io half-installed",
        &r
    ));
}

#[test]
fn the_kubelet_flag_is_read_from_kubeadm_flags_in_either_spelling() {
    assert_eq!(
        flag_driver("KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock --cgroup-driver=systemd\"\n"),
        Some("systemd".to_owned())
    );
    assert_eq!(
        flag_driver("KUBELET_KUBEADM_ARGS=\"--cgroup-driver cgroupfs --v=2\"\n"),
        Some("cgroupfs".to_owned())
    );
    assert_eq!(
        flag_driver("# --cgroup-driver=systemd\nKUBELET_KUBEADM_ARGS=\"\"\n"),
        None
    );
    // Given twice, the kubelet takes the last.
    assert_eq!(
        flag_driver("KUBELET_KUBEADM_ARGS=\"--cgroup-driver=cgroupfs --cgroup-driver=systemd\"\n"),
        Some("systemd".to_owned())
    );
}
