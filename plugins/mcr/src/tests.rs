use plugin_api::{ErrorKind, FileContent, VersionMatch};
use runtime_kit::fixtures::{
    assert_well_formed, checks, file, package, packages, repositories, request, services,
};
use serde_json::json;

use super::*;

fn plan_for(request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
    Mcr.plan(request)
}

fn with_version(distro: &str, version: &str) -> PlanRequest {
    let mut r = request(distro, PLUGIN);
    r.options.version = Some(version.into());
    r
}

#[test]
fn ubuntu_channel_from_the_version() {
    let plan = plan_for(&with_version("ubuntu-22.04", "20.10")).unwrap();
    assert_well_formed(&plan);
    let repo = repositories(&plan)[0];
    assert_eq!(repo.url, "https://repos.mirantis.com/ubuntu");
    assert_eq!(repo.suite.as_deref(), Some("jammy"));
    assert_eq!(repo.components, ["stable-20.10"]);
    let key = repo.key.as_ref().unwrap();
    assert_eq!(key.url, "https://repos.mirantis.com/ubuntu/gpg");
    assert_eq!(
        key.fingerprints,
        ["DD911E995A64A202E85907D6BC14F10B6D085F96"]
    );
    let names: Vec<&str> = packages(&plan).iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "docker-ee",
            "docker-ee-cli",
            "docker-ee-rootless-extras",
            "containerd.io",
            "cri-dockerd-ee"
        ]
    );
    let ee = package(&plan, "docker-ee");
    assert_eq!(ee.version.as_deref(), Some("20.10"));
    assert_eq!(ee.version_match, VersionMatch::Prefix);
    assert!(ee.hold);
    assert_eq!(plan.facts["channel"], "stable-20.10");
    assert_eq!(plan.facts["cri_socket"], "unix:///run/cri-dockerd.sock");
    assert_eq!(plan.facts["cri_socket_unit"], "cri-docker.socket");
    // What no source confirms about the -ee package is said, not assumed silently.
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("cri-dockerd-ee") && w.contains("not confirmed")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn rpm_distros_use_the_pack_release_and_the_repo_path() {
    let plan = plan_for(&with_version("rocky-9", "25.0.14")).unwrap();
    assert_eq!(
        repositories(&plan)[0].url,
        "https://repos.mirantis.com/rocky/9/$basearch/stable-25.0.14"
    );
    assert_eq!(
        repositories(&plan)[0].key.as_ref().unwrap().url,
        "https://repos.mirantis.com/rocky/gpg"
    );
    // rpm repositories are signed by the EE rpm key, which no source ties to
    // repos.mirantis.com today: the plan says so, the deb plan does not need to.
    assert_eq!(
        repositories(&plan)[0].key.as_ref().unwrap().fingerprints,
        ["77FEDA131A831D29A418D3E899E5FF2E76682BC9"]
    );
    assert!(plan
        .warnings
        .iter()
        .any(|w| w.contains("77FE DA13") && w.contains("--set mcr.key-fingerprint")));
    let deb = plan_for(&request("ubuntu-22.04", PLUGIN)).unwrap();
    assert!(deb.warnings.iter().all(|w| !w.contains("77FE DA13")));
    let plan = plan_for(&request("centos-7", PLUGIN)).unwrap();
    assert_eq!(
        repositories(&plan)[0].url,
        "https://repos.mirantis.com/centos/7/$basearch/stable"
    );
    assert!(packages(&plan).iter().all(|p| !p.hold));
}

#[test]
fn sles_by_major_release() {
    let plan = plan_for(&with_version("sles-15", "23.0")).unwrap();
    assert_eq!(
        repositories(&plan)[0].url,
        "https://repos.mirantis.com/sles/15/$basearch/stable-23.0"
    );
}

#[test]
fn distros_mirantis_does_not_serve_name_the_missing_variable() {
    let e = plan_for(&request("debian-12", PLUGIN)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingVariable);
    assert!(e.message.contains("mcr.repo_path") && e.message.contains("debian-12"));
}

#[test]
fn daemon_json_cri_dockerd_and_checks() {
    let mut r = with_version("ubuntu-20.04", "23.0");
    r.options.sandbox_image = Some("registry.k8s.io/pause:3.9".into());
    let plan = plan_for(&r).unwrap();
    match &file(&plan, daemon_json::PATH).content {
        FileContent::JsonMerge { value } => {
            assert_eq!(value["exec-opts"], json!(["native.cgroupdriver=systemd"]));
            assert!(value.get("storage-opts").is_none());
        }
        other => panic!("daemon.json should be merged: {other:?}"),
    }
    let FileContent::Full { text } = &file(&plan, cri_dockerd::DROP_IN).content else {
        panic!("a full drop-in")
    };
    assert!(text.contains("--pod-infra-container-image=registry.k8s.io/pause:3.9"));
    let units: Vec<&str> = services(&plan).iter().map(|s| s.unit.as_str()).collect();
    assert_eq!(
        units,
        ["docker.service", "cri-docker.socket", "cri-docker.service"]
    );
    assert!(
        checks(&plan).len() >= 2,
        "dockerd --validate and socket checks"
    );
    assert!(
        file(&plan, daemon_json::PATH).skip_when.is_some(),
        "daemon.json is left alone when a drop-in passes our flags"
    );
}

#[test]
fn bad_version_and_mirror() {
    let e = plan_for(&with_version("ubuntu-20.04", "stable")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    let mut r = with_version("ubuntu-20.04", "25.0");
    r.options.mirror = Some("http://127.0.0.1:9000".into());
    let plan = plan_for(&r).unwrap();
    assert_eq!(repositories(&plan)[0].url, "http://127.0.0.1:9000/ubuntu");
}

#[test]
fn plans_are_deterministic() {
    let r = with_version("ubuntu-24.04", "25.0");
    assert_eq!(plan_for(&r).unwrap(), plan_for(&r).unwrap());
}

#[test]
fn every_fixture_distro_plans_or_is_refused_with_a_reason() {
    runtime_kit::fixtures::assert_matrix(PLUGIN, plan_for, |_| {});
}

#[test]
fn mcr_has_no_distro_source() {
    let mut req = request("ubuntu-22.04", PLUGIN);
    req.options.source = plugin_api::Source::Distro;
    let e = plan(&req, &[]).unwrap_err();
    assert_eq!(e.kind, plugin_api::ErrorKind::Unsupported);
    assert!(e.hint.unwrap().contains("--source distro"));
}
