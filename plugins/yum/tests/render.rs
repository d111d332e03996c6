//! The yum plugin's render, on example requests for CentOS 7 (yum) and Rocky 9 (dnf).

use std::collections::BTreeMap;

use installer_plugin_yum::Yum;
use package_kit::action::strings;
use package_kit::fixtures::{self, actions, all_actions, run_action};
use plugin_api::{
    Action, Distro, ErrorKind, Expect, Options, Package, PackageManagerPlugin, Phase, Probe,
    RenderRequest, RenderResponse, Repository, SigningKey, VersionMatch,
};

const DOCKER_RPM_FPR: &str = "060A 61C5 1B55 8A7F 742B  77AA C52F EB6B 621E 9F35";
const DOCKER_RPM_FPR_COMPACT: &str = "060A61C51B558A7F742B77AAC52FEB6B621E9F35";
const K8S_FPR: &str = "DE15 B144 86CD 377B 9E87  6E1A 2346 54DA 9A29 6436";

fn distro(id: &str, os_id: &str, version: &str, pm: &str) -> Distro {
    Distro {
        id: id.to_owned(),
        name: id.to_owned(),
        family: "rhel".to_owned(),
        package_manager: pm.to_owned(),
        os_id: os_id.to_owned(),
        version_id: Some(version.to_owned()),
        codename: None,
        arch: "x86_64".to_owned(),
        vars: BTreeMap::new(),
    }
}

fn centos_7() -> Distro {
    distro("centos-7", "centos", "7", "yum")
}

fn rocky_9() -> Distro {
    distro("rocky-9", "rocky", "9", "dnf")
}

fn docker_repo() -> Repository {
    Repository {
        id: "docker-ce-stable".to_owned(),
        name: "Docker CE Stable - $basearch".to_owned(),
        url: "https://download.docker.com/linux/centos/$releasever/$basearch/stable".to_owned(),
        suite: None,
        components: Vec::new(),
        architectures: Vec::new(),
        key: Some(SigningKey {
            url: "https://download.docker.com/linux/centos/gpg".to_owned(),
            fingerprints: vec![DOCKER_RPM_FPR.to_owned()],
        }),
        vendor: true,
        requested_by: vec!["docker".to_owned()],
    }
}

fn cri_o_repo() -> Repository {
    let base = "https://pkgs.k8s.io/addons:/cri-o:/stable:/v1.30/rpm/";
    Repository {
        id: "cri-o".to_owned(),
        name: "CRI-O".to_owned(),
        url: base.to_owned(),
        suite: None,
        components: Vec::new(),
        architectures: Vec::new(),
        key: Some(SigningKey {
            url: format!("{base}repodata/repomd.xml.key"),
            fingerprints: vec![K8S_FPR.to_owned()],
        }),
        vendor: true,
        requested_by: vec!["cri-o".to_owned()],
    }
}

fn package(name: &str, version: Option<&str>, version_match: VersionMatch, hold: bool) -> Package {
    fixtures::package(name, version, version_match, hold, "docker")
}

fn docker_on_centos_7() -> RenderRequest {
    RenderRequest {
        distro: centos_7(),
        options: Options::default(),
        remove: Vec::new(),
        repositories: vec![docker_repo()],
        packages: vec![
            package("containerd.io", Some("1.2.13"), VersionMatch::Exact, true),
            package("docker-ce", Some("19.03.8"), VersionMatch::Exact, true),
            package("docker-ce-cli", Some("19.03.8"), VersionMatch::Exact, true),
        ],
    }
}

fn cri_o_on_rocky_9() -> RenderRequest {
    RenderRequest {
        distro: rocky_9(),
        options: Options::default(),
        remove: Vec::new(),
        repositories: vec![cri_o_repo()],
        packages: vec![
            package("container-selinux", None, VersionMatch::Exact, false),
            package("cri-o", Some("1.30"), VersionMatch::Prefix, true),
        ],
    }
}

fn render(request: &RenderRequest) -> RenderResponse {
    Yum.render(request).expect("render succeeds")
}

#[test]
fn docker_on_centos_7_writes_a_repo_file_installs_once_and_locks() {
    let response = render(&docker_on_centos_7());
    let phases: Vec<Phase> = response.steps.iter().map(|s| s.phase).collect();
    assert_eq!(
        phases,
        [Phase::Repositories, Phase::Packages, Phase::Packages],
        "{:#?}",
        response.steps
    );

    let repo = actions(&response.steps[0]);
    assert_eq!(
        repo[0],
        Action::FetchKey {
            url: "https://download.docker.com/linux/centos/gpg".to_owned(),
            fingerprints: vec![DOCKER_RPM_FPR_COMPACT.to_owned()],
            dest: "/etc/pki/rpm-gpg/docker-ce-stable.asc".to_owned(),
        }
    );
    let (argv, unless, transaction) = run_action(&repo[1]);
    assert_eq!(
        argv,
        &strings(&["rpm", "--import", "/etc/pki/rpm-gpg/docker-ce-stable.asc"])
    );
    assert_eq!(
        unless.as_ref().unwrap().argv,
        strings(&["rpm", "-q", "gpg-pubkey-621e9f35"])
    );
    assert!(!transaction);
    assert_eq!(
        repo[2],
        Action::WriteFile {
            path: "/etc/yum.repos.d/docker-ce-stable.repo".to_owned(),
            mode: 0o644,
            content: "[docker-ce-stable]\n\
                      name=Docker CE Stable - $basearch\n\
                      baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable\n\
                      enabled=1\n\
                      gpgcheck=1\n\
                      gpgkey=file:///etc/pki/rpm-gpg/docker-ce-stable.asc\n"
                .to_owned(),
            owner: None,
            group: None,
        }
    );

    // One transaction, with the versionlock plugin for the holds.
    let specs = [
        "containerd.io-1.2.13",
        "docker-ce-19.03.8",
        "docker-ce-cli-19.03.8",
        "yum-plugin-versionlock",
    ];
    let (argv, unless, transaction) = run_action(&actions(&response.steps[1])[0]);
    let mut expected = strings(&["yum", "install", "-y"]);
    expected.extend(strings(&specs));
    assert_eq!(argv, &expected);
    assert!(transaction);
    let mut probe = strings(&["rpm", "-q"]);
    probe.extend(strings(&specs));
    assert_eq!(
        unless,
        &Some(Probe {
            argv: probe,
            expect: Expect::Success
        })
    );
    assert!(response.steps[1].why.contains("yum-plugin-versionlock"));

    let (argv, unless, transaction) = run_action(&actions(&response.steps[2])[0]);
    assert_eq!(
        argv,
        &strings(&[
            "yum",
            "versionlock",
            "add",
            "containerd.io",
            "docker-ce",
            "docker-ce-cli"
        ])
    );
    assert!(!transaction);
    assert_eq!(
        unless,
        &Some(Probe {
            argv: strings(&[
                "sed",
                "-n",
                "-r",
                "-e",
                "s/^([0-9]+:)?(containerd\\.io|docker-ce|docker-ce-cli)-([0-9]+:)?[^-]+-[^-]+$/\\2/p",
                "/etc/yum/pluginconf.d/versionlock.list",
            ]),
            expect: Expect::StdoutLines(strings(&["containerd.io", "docker-ce", "docker-ce-cli"])),
        })
    );
}

#[test]
fn cri_o_on_rocky_9_uses_dnf_checks_signed_metadata_and_resolves_the_prefix_pin() {
    let response = render(&cri_o_on_rocky_9());
    let Action::WriteFile { content, .. } = &actions(&response.steps[0])[2] else {
        panic!()
    };
    assert!(content.contains("\nrepo_gpgcheck=1\n"), "{content}");
    assert!(content.contains("\ngpgcheck=1\n"), "{content}");
    assert!(
        content.contains("gpgkey=file:///etc/pki/rpm-gpg/cri-o.asc\n"),
        "{content}"
    );

    assert_eq!(
        response.steps[1].summary,
        "Resolve cri-o 1.30 to a version at run time with `dnf list --showduplicates cri-o`"
    );
    assert!(actions(&response.steps[1]).is_empty());

    let install = &response.steps[2];
    assert!(install
        .summary
        .contains("cri-o-1.30* (whole components, resolved at run time)"));
    let Action::Run {
        argv,
        unless,
        transaction,
        resolve,
        ..
    } = &actions(install)[0]
    else {
        panic!()
    };
    assert!(transaction);
    assert_eq!(
        argv,
        &strings(&[
            "dnf",
            "install",
            "-y",
            "container-selinux",
            "cri-o-<cri-o@1.30>",
            "python3-dnf-plugin-versionlock"
        ])
    );
    assert_eq!(
        unless.as_ref().unwrap().argv[2..],
        strings(&[
            "container-selinux",
            "cri-o-<cri-o@1.30>",
            "python3-dnf-plugin-versionlock"
        ])
    );
    assert_eq!(resolve.len(), 1);
    assert_eq!(resolve[0].placeholder, "<cri-o@1.30>");
    assert_eq!(
        resolve[0].query,
        strings(&["dnf", "list", "--showduplicates", "cri-o"])
    );
    assert_eq!(resolve[0].listing.separator, None);
    assert_eq!(
        resolve[0].listing.names,
        strings(&["cri-o.x86_64", "cri-o.noarch"])
    );
    assert_eq!(
        (
            resolve[0].listing.name_field,
            resolve[0].listing.version_field
        ),
        (0, 1)
    );

    let (argv, unless, _) = run_action(&actions(&response.steps[3])[0]);
    assert_eq!(argv, &strings(&["dnf", "versionlock", "add", "cri-o"]));
    let probe = unless.as_ref().unwrap();
    assert_eq!(
        probe.argv.last().map(String::as_str),
        Some("/etc/dnf/plugins/versionlock.list")
    );
    assert_eq!(probe.expect, Expect::StdoutLines(strings(&["cri-o"])));
    assert_eq!(response.steps.len(), 4);
}

#[test]
fn every_repository_comes_before_the_single_transaction() {
    let mut request = cri_o_on_rocky_9();
    request.repositories.insert(0, docker_repo());
    let response = render(&request);
    let first_package = response
        .steps
        .iter()
        .position(|s| s.phase == Phase::Packages)
        .unwrap();
    assert_eq!(first_package, 2);
    assert!(response.steps[first_package..]
        .iter()
        .all(|s| s.phase == Phase::Packages));
    let transactions = all_actions(&response)
        .into_iter()
        .filter(|a| {
            matches!(
                a,
                Action::Run {
                    transaction: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(transactions, 1);
}

#[test]
fn never_nogpgcheck_nor_gpgcheck_0_nor_yum_config_manager() {
    let mut insecure = docker_on_centos_7();
    insecure.options.allow_insecure_repo = true;
    insecure.repositories[0].key = None;
    for request in [docker_on_centos_7(), cri_o_on_rocky_9(), insecure] {
        for action in all_actions(&render(&request)) {
            let text = match action {
                Action::Run { argv, .. } => argv.join(" "),
                Action::WriteFile { content, .. } => content.clone(),
                _ => continue,
            };
            for forbidden in ["nogpgcheck", "yum-config-manager"] {
                assert!(!text.contains(forbidden), "{forbidden} in {text}");
            }
            assert!(!text.lines().any(|l| l.ends_with("gpgcheck=0")), "{text}");
        }
    }
}

#[test]
fn the_versionlock_plugin_comes_only_with_holds_and_follows_the_pack() {
    let mut request = docker_on_centos_7();
    for p in &mut request.packages {
        p.hold = false;
    }
    let response = render(&request);
    assert_eq!(response.steps.len(), 2);
    let (argv, _, _) = run_action(&actions(&response.steps[1])[0]);
    assert!(!argv.iter().any(|a| a.contains("versionlock")));

    // A release whose dnf has versionlock built in says so in its pack.
    let mut request = cri_o_on_rocky_9();
    request
        .distro
        .vars
        .insert("yum.versionlock_package".to_owned(), String::new());
    let response = render(&request);
    let (argv, _, _) = run_action(&actions(&response.steps[2])[0]);
    assert!(!argv.iter().any(|a| a.contains("versionlock")), "{argv:?}");
}

#[test]
fn several_fingerprints_import_without_a_probe() {
    let mut request = docker_on_centos_7();
    request.repositories[0]
        .key
        .as_mut()
        .unwrap()
        .fingerprints
        .push(K8S_FPR.to_owned());
    let response = render(&request);
    let (_, unless, _) = run_action(&actions(&response.steps[0])[1]);
    assert_eq!(unless, &None);
}

fn refused(request: &RenderRequest) -> plugin_api::PluginError {
    let err = Yum.render(request).expect_err("render refuses");
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    err
}

#[test]
fn bad_input_is_refused_naming_value_and_origin() {
    for bad in ["19.03.8;reboot", "$(id)", "19.03.8\n", "19 03"] {
        let mut request = docker_on_centos_7();
        request.packages[1].version = Some(bad.to_owned());
        let err = refused(&request);
        assert!(
            err.message
                .contains("package `docker-ce` (requested by docker)"),
            "{}",
            err.message
        );
    }
    let mut request = docker_on_centos_7();
    request.repositories[0].name = "Docker\ngpgcheck=0".to_owned();
    refused(&request);

    let mut request = docker_on_centos_7();
    request.repositories[0].url = "https://download.docker.com/$HOME/x".to_owned();
    refused(&request);

    let mut request = docker_on_centos_7();
    request.repositories[0].id = "x/../../etc/profile.d/evil".to_owned();
    refused(&request);

    let mut request = docker_on_centos_7();
    request.repositories[0].url =
        "http://download.docker.com/linux/centos/7/x86_64/stable".to_owned();
    let err = refused(&request);
    assert!(err.message.contains("docker-ce-stable"), "{}", err.message);
    assert!(err.hint.unwrap().contains("--allow-insecure-repo"));

    let mut request = docker_on_centos_7();
    request.repositories[0].key = None;
    let err = refused(&request);
    assert!(err.hint.unwrap().contains("--allow-insecure-repo"));

    let mut request = docker_on_centos_7();
    request.repositories[0].key.as_mut().unwrap().fingerprints = vec!["621E9F35".to_owned()];
    refused(&request);
}

#[test]
fn a_repository_without_a_key_keeps_gpgcheck_when_allowed() {
    let mut request = docker_on_centos_7();
    request.repositories[0].key = None;
    request.options.allow_insecure_repo = true;
    let response = render(&request);
    let repo = actions(&response.steps[0]);
    assert_eq!(repo.len(), 1);
    let Action::WriteFile { content, .. } = &repo[0] else {
        panic!()
    };
    assert!(
        content.contains("gpgcheck=1\n") && !content.contains("gpgkey="),
        "{content}"
    );
}

#[test]
fn zypper_distros_are_not_ours() {
    let mut request = docker_on_centos_7();
    request.distro.package_manager = "zypper".to_owned();
    let err = Yum.render(&request).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(err.message.contains("centos-7"), "{}", err.message);
}

#[test]
fn removals_use_the_distros_package_manager_and_skip_what_is_not_installed() {
    let mut request = docker_on_centos_7();
    request.remove = vec!["docker-ce".to_owned()];
    let response = Yum.render(&request).expect("render succeeds");
    let step = response.steps.last().unwrap();
    let acts = package_kit::fixtures::actions(step);
    assert_eq!(acts.len(), 1, "a versionlock does not stop a removal");
    let (argv, unless, _) = package_kit::fixtures::run_action(&acts[0]);
    assert_eq!(argv, &strings(&["yum", "remove", "-y", "docker-ce"]));
    assert!(unless.as_ref().unwrap().argv[2].contains("rpm -q --quiet"));
}
