//! The zypper plugin's render, on example requests for openSUSE Leap 15.

use std::collections::BTreeMap;

use installer_plugin_zypper::Zypper;
use package_kit::action::strings;
use package_kit::fixtures::{self, actions, all_actions, run_action};
use plugin_api::{
    Action, Distro, ErrorKind, Expect, Options, Package, PackageManagerPlugin, Phase, Probe,
    RenderRequest, RenderResponse, Repository, SigningKey, VersionMatch,
};

const KUBIC_FPR: &str = "2472 D6D0 D2F6 6AF8 7ABA  8DA3 4D64 3903 5CD2 5F3E";
const KUBIC_FPR_COMPACT: &str = "2472D6D0D2F66AF87ABA8DA34D6439035CD25F3E";

fn leap_15() -> Distro {
    Distro {
        id: "opensuse-leap-15".to_owned(),
        name: "openSUSE Leap 15".to_owned(),
        family: "suse".to_owned(),
        package_manager: "zypper".to_owned(),
        os_id: "opensuse-leap".to_owned(),
        version_id: Some("15.5".to_owned()),
        codename: None,
        arch: "x86_64".to_owned(),
        vars: BTreeMap::new(),
    }
}

fn kubic_repo(id: &str, path: &str) -> Repository {
    let url = format!("https://download.opensuse.org/repositories/{path}/openSUSE_Leap_15.5/");
    Repository {
        id: id.to_owned(),
        name: format!("Kubic {id}"),
        url: url.clone(),
        suite: None,
        components: Vec::new(),
        architectures: Vec::new(),
        key: Some(SigningKey {
            url: format!("{url}repodata/repomd.xml.key"),
            fingerprints: vec![KUBIC_FPR.to_owned()],
        }),
        vendor: true,
        requested_by: vec!["cri-o".to_owned()],
    }
}

fn package(name: &str, version: Option<&str>, version_match: VersionMatch, hold: bool) -> Package {
    fixtures::package(name, version, version_match, hold, "cri-o")
}

fn cri_o_on_leap() -> RenderRequest {
    RenderRequest {
        distro: leap_15(),
        options: Options::default(),
        remove: Vec::new(),
        repositories: vec![
            kubic_repo("kubic-stable", "devel:/kubic:/libcontainers:/stable"),
            kubic_repo(
                "kubic-cri-o-1.24",
                "devel:/kubic:/libcontainers:/stable:/cri-o:/1.24",
            ),
        ],
        packages: vec![
            package(
                "cri-o",
                Some("1.24.6-150500.1.1"),
                VersionMatch::Exact,
                true,
            ),
            package("cri-tools", None, VersionMatch::Exact, false),
        ],
    }
}

/// SUSE's own docker from the distro archive, with a partial pin.
fn docker_on_leap() -> RenderRequest {
    RenderRequest {
        distro: leap_15(),
        options: Options::default(),
        remove: Vec::new(),
        repositories: Vec::new(),
        packages: vec![package("docker", Some("24.0"), VersionMatch::Prefix, true)],
    }
}

fn render(request: &RenderRequest) -> RenderResponse {
    Zypper.render(request).expect("render succeeds")
}

#[test]
fn cri_o_on_leap_adds_verified_repositories_refreshes_once_installs_and_locks() {
    let response = render(&cri_o_on_leap());
    let summaries: Vec<&str> = response.steps.iter().map(|s| s.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "Add repository kubic-stable: https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/openSUSE_Leap_15.5/",
            "Add repository kubic-cri-o-1.24: https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable:/cri-o:/1.24/openSUSE_Leap_15.5/",
            "Refresh repositories kubic-stable, kubic-cri-o-1.24",
            "Install cri-o=1.24.6-150500.1.1, cri-tools",
            "Lock cri-o against changes",
        ]
    );
    let phases: Vec<Phase> = response.steps.iter().map(|s| s.phase).collect();
    assert_eq!(
        phases,
        [
            Phase::Repositories,
            Phase::Repositories,
            Phase::Repositories,
            Phase::Packages,
            Phase::Packages
        ]
    );

    // The key is verified, then imported, then the repository added.
    let repo = actions(&response.steps[0]);
    assert_eq!(
        repo[1],
        Action::FetchKey {
            url: "https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/openSUSE_Leap_15.5/repodata/repomd.xml.key".to_owned(),
            fingerprints: vec![KUBIC_FPR_COMPACT.to_owned()],
            dest: "/etc/pki/rpm-gpg/kubic-stable.asc".to_owned(),
        }
    );
    let (argv, unless, _) = run_action(&repo[2]);
    assert_eq!(
        argv,
        &strings(&["rpm", "--import", "/etc/pki/rpm-gpg/kubic-stable.asc"])
    );
    assert_eq!(
        unless.as_ref().unwrap().argv,
        strings(&["rpm", "-q", "gpg-pubkey-5cd25f3e"])
    );
    let (argv, unless, transaction) = run_action(&repo[3]);
    assert_eq!(
        argv,
        &strings(&[
            "zypper",
            "--non-interactive",
            "addrepo",
            "--refresh",
            "--gpgcheck",
            "--name",
            "Kubic kubic-stable",
            "https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/openSUSE_Leap_15.5/",
            "kubic-stable",
        ])
    );
    assert!(!transaction);
    assert_eq!(
        unless.as_ref().unwrap().argv,
        strings(&["test", "-f", "/etc/zypp/repos.d/kubic-stable.repo"])
    );

    let installed = Probe {
        argv: strings(&["rpm", "-q", "cri-o-1.24.6-150500.1.1", "cri-tools"]),
        expect: Expect::Success,
    };
    let (argv, unless, transaction) = run_action(&actions(&response.steps[2])[0]);
    assert_eq!(
        argv,
        &strings(&[
            "zypper",
            "--non-interactive",
            "refresh",
            "kubic-stable",
            "kubic-cri-o-1.24"
        ])
    );
    assert_eq!(unless, &Some(installed.clone()));
    assert!(!transaction);

    let (argv, unless, transaction) = run_action(&actions(&response.steps[3])[0]);
    assert_eq!(
        argv,
        &strings(&[
            "zypper",
            "--non-interactive",
            "install",
            "cri-o=1.24.6-150500.1.1",
            "cri-tools"
        ])
    );
    assert_eq!(unless, &Some(installed));
    assert!(transaction);

    let (argv, unless, _) = run_action(&actions(&response.steps[4])[0]);
    assert_eq!(
        argv,
        &strings(&["zypper", "--non-interactive", "addlock", "cri-o"])
    );
    assert_eq!(
        unless,
        &Some(Probe {
            argv: strings(&[
                "grep",
                "-x",
                "-F",
                "-e",
                "solvable_name: cri-o",
                "/etc/zypp/locks"
            ]),
            expect: Expect::StdoutLines(strings(&["solvable_name: cri-o"])),
        })
    );
}

#[test]
fn exactly_one_transaction_and_one_refresh() {
    for request in [cri_o_on_leap(), docker_on_leap()] {
        let response = render(&request);
        let runs: Vec<(&Vec<String>, bool)> = all_actions(&response)
            .into_iter()
            .filter_map(|a| match a {
                Action::Run {
                    argv, transaction, ..
                } => Some((argv, *transaction)),
                _ => None,
            })
            .collect();
        assert_eq!(runs.iter().filter(|(_, t)| *t).count(), 1);
        assert!(
            runs.iter()
                .filter(|(a, _)| a.contains(&"refresh".to_owned()))
                .count()
                <= 1
        );
    }
}

#[test]
fn keys_are_never_auto_imported() {
    let argvs: Vec<Vec<String>> = all_actions(&render(&cri_o_on_leap()))
        .into_iter()
        .filter_map(|action| match action {
            Action::Run { argv, .. } => Some(argv.clone()),
            _ => None,
        })
        .collect();
    // zypper is run (refresh, install): an empty list would prove nothing.
    assert!(argvs.iter().any(|a| a[0] == "zypper"), "{argvs:?}");
    for argv in argvs {
        assert!(
            !argv
                .iter()
                .any(|a| a.contains("gpg-auto-import-keys") || a.contains("no-gpg-checks")),
            "{argv:?}"
        );
    }
}

#[test]
fn a_prefix_pin_from_the_distro_archive_is_resolved_at_run_time() {
    let response = render(&docker_on_leap());
    assert_eq!(response.steps.len(), 3, "{:#?}", response.steps);
    assert_eq!(
        response.steps[0].summary,
        "Resolve docker 24.0 to a version at run time with `zypper search -s docker`"
    );
    assert!(response.steps[1]
        .summary
        .contains("docker=24.0* (whole components, resolved at run time)"));
    let Action::Run {
        argv,
        unless,
        resolve,
        ..
    } = &actions(&response.steps[1])[0]
    else {
        panic!()
    };
    assert_eq!(argv[3], "docker=<docker@24.0>");
    assert_eq!(
        unless.as_ref().unwrap().argv,
        strings(&["rpm", "-q", "docker-<docker@24.0>"])
    );
    assert_eq!(resolve.len(), 1);
    assert_eq!(resolve[0].pin, "24.0");
    assert_eq!(
        resolve[0].query,
        strings(&[
            "zypper",
            "--non-interactive",
            "search",
            "--details",
            "--match-exact",
            "--type",
            "package",
            "docker"
        ])
    );
    assert_eq!(resolve[0].listing.separator.as_deref(), Some("|"));
    assert_eq!(
        (
            resolve[0].listing.name_field,
            resolve[0].listing.version_field
        ),
        (1, 3)
    );
}

#[test]
fn the_refresh_probe_carries_the_pin_to_resolve_and_the_refresh_needs_no_version() {
    let mut request = cri_o_on_leap();
    request.packages[0].version = Some("1.24".to_owned());
    request.packages[0].version_match = VersionMatch::Prefix;
    let response = render(&request);
    let Action::Run {
        argv,
        unless,
        resolve,
        ..
    } = &actions(&response.steps[2])[0]
    else {
        panic!("a run action")
    };
    // Skipped once the pinned version is installed; before the first refresh the pin cannot
    // be resolved, and the host runs the refresh.
    assert!(unless
        .as_ref()
        .is_some_and(|p| p.argv.iter().any(|a| a.contains("<cri-o@1.24>"))));
    assert_eq!(resolve.len(), 1);
    assert!(!argv.iter().any(|a| a.contains("<cri-o@1.24>")));
}

fn refused(request: &RenderRequest) -> plugin_api::PluginError {
    let err = Zypper.render(request).expect_err("render refuses");
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    err
}

#[test]
fn bad_input_is_refused_naming_value_and_origin() {
    for bad in ["1.24;reboot", "$(id)", "1.24\n", "1 24", "1.24|sh"] {
        let mut request = cri_o_on_leap();
        request.packages[0].version = Some(bad.to_owned());
        let err = refused(&request);
        assert!(
            err.message.contains("package `cri-o` (requested by cri-o)"),
            "{}",
            err.message
        );
    }
    let mut request = cri_o_on_leap();
    request.repositories[0].id = "--root=/".to_owned();
    refused(&request);

    let mut request = cri_o_on_leap();
    request.repositories[0].url = "http://download.opensuse.org/repositories/x/".to_owned();
    let err = refused(&request);
    assert!(err.message.contains("kubic-stable"), "{}", err.message);
    assert!(err
        .message
        .contains("http://download.opensuse.org/repositories/x/"));
    assert!(err.hint.unwrap().contains("--allow-insecure-repo"));

    let mut request = cri_o_on_leap();
    request.repositories[1].key = None;
    let err = refused(&request);
    assert!(err.message.contains("kubic-cri-o-1.24"), "{}", err.message);

    let mut request = cri_o_on_leap();
    request.repositories[0].key.as_mut().unwrap().fingerprints = vec!["not hex".to_owned()];
    refused(&request);
}

#[test]
fn a_repository_without_a_key_is_added_without_fetching_one_when_allowed() {
    let mut request = cri_o_on_leap();
    request.repositories[0].key = None;
    request.options.allow_insecure_repo = true;
    let response = render(&request);
    let repo = actions(&response.steps[0]);
    assert_eq!(repo.len(), 1);
    let (argv, _, _) = run_action(&repo[0]);
    assert!(argv.contains(&"--gpgcheck".to_owned()));
}

#[test]
fn other_package_managers_are_not_ours() {
    let mut request = cri_o_on_leap();
    request.distro.package_manager = "apt".to_owned();
    assert_eq!(
        Zypper.render(&request).unwrap_err().kind,
        ErrorKind::Unsupported
    );
}

#[test]
fn removals_release_zyppers_lock_first() {
    let mut request = docker_on_leap();
    request.remove = vec!["docker".to_owned()];
    let response = Zypper.render(&request).expect("render succeeds");
    let acts = package_kit::fixtures::actions(response.steps.last().unwrap());
    let (unlock, _, _) = package_kit::fixtures::run_action(&acts[0]);
    assert_eq!(
        unlock,
        &strings(&["zypper", "--non-interactive", "removelock", "docker"])
    );
    let (remove, unless, _) = package_kit::fixtures::run_action(&acts[1]);
    assert_eq!(
        remove,
        &strings(&["zypper", "--non-interactive", "remove", "docker"])
    );
    assert!(unless.is_some());
}
