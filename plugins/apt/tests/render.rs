//! The apt plugin's render, on example requests for Debian 10 and Ubuntu 20.04.

use std::collections::BTreeMap;

use installer_plugin_apt::Apt;
use package_kit::action::strings;
use package_kit::fixtures::{self, actions, all_actions};
use plugin_api::{
    Action, Distro, ErrorKind, Expect, Options, Package, PackageManagerPlugin, Phase, Probe,
    RenderRequest, RenderResponse, Repository, SigningKey, VersionMatch,
};

const DOCKER_FPR: &str = "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88";
const DOCKER_FPR_COMPACT: &str = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
const KUBIC_FPR: &str = "2472 d6d0 d2f6 6af8 7aba  8da3 4d64 3903 5cd2 5f3e";

fn distro(id: &str, name: &str, os_id: &str, version: &str, codename: &str) -> Distro {
    Distro {
        id: id.to_owned(),
        name: name.to_owned(),
        family: "debian".to_owned(),
        package_manager: "apt".to_owned(),
        os_id: os_id.to_owned(),
        version_id: Some(version.to_owned()),
        codename: Some(codename.to_owned()),
        arch: "amd64".to_owned(),
        vars: BTreeMap::new(),
    }
}

fn ubuntu_20_04() -> Distro {
    distro(
        "ubuntu-20.04",
        "Ubuntu 20.04 (focal)",
        "ubuntu",
        "20.04",
        "focal",
    )
}

fn debian_10() -> Distro {
    distro("debian-10", "Debian 10 (buster)", "debian", "10", "buster")
}

fn docker_repo() -> Repository {
    Repository {
        id: "docker".to_owned(),
        name: "Docker CE stable".to_owned(),
        url: "https://download.docker.com/linux/ubuntu".to_owned(),
        suite: Some("focal".to_owned()),
        components: vec!["stable".to_owned()],
        architectures: vec!["amd64".to_owned()],
        key: Some(SigningKey {
            url: "https://download.docker.com/linux/ubuntu/gpg".to_owned(),
            fingerprints: vec![DOCKER_FPR.to_owned()],
        }),
        vendor: true,
        requested_by: vec!["docker".to_owned()],
    }
}

fn kubic_repo(id: &str, path: &str) -> Repository {
    let url = format!("https://download.opensuse.org/repositories/{path}/Debian_10/");
    Repository {
        id: id.to_owned(),
        name: String::new(),
        url: url.clone(),
        suite: Some("/".to_owned()),
        components: Vec::new(),
        architectures: Vec::new(),
        key: Some(SigningKey {
            url: format!("{url}Release.key"),
            fingerprints: vec![KUBIC_FPR.to_owned()],
        }),
        vendor: true,
        requested_by: vec!["cri-o".to_owned()],
    }
}

fn package(name: &str, version: Option<&str>, version_match: VersionMatch, hold: bool) -> Package {
    fixtures::package(name, version, version_match, hold, "docker")
}

fn docker_on_focal() -> RenderRequest {
    RenderRequest {
        distro: ubuntu_20_04(),
        options: Options::default(),
        remove: Vec::new(),
        repositories: vec![docker_repo()],
        packages: vec![
            package("containerd.io", Some("1.2.13-2"), VersionMatch::Exact, true),
            package(
                "docker-ce",
                Some("5:19.03.8~3-0~ubuntu-focal"),
                VersionMatch::Exact,
                true,
            ),
            package(
                "docker-ce-cli",
                Some("5:19.03.8~3-0~ubuntu-focal"),
                VersionMatch::Exact,
                true,
            ),
        ],
    }
}

fn render(request: &RenderRequest) -> RenderResponse {
    Apt.render(request).expect("render succeeds")
}

/// The argv of every `Run` action, in order.
fn argvs(response: &RenderResponse) -> Vec<Vec<String>> {
    all_actions(response)
        .into_iter()
        .filter_map(|a| match a {
            Action::Run { argv, .. } => Some(argv.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn docker_on_ubuntu_focal_adds_a_signed_by_source_then_refreshes_installs_and_holds() {
    let response = render(&docker_on_focal());
    let summaries: Vec<&str> = response.steps.iter().map(|s| s.summary.as_str()).collect();
    assert_eq!(response.steps.len(), 4, "{summaries:#?}");
    let phases: Vec<Phase> = response.steps.iter().map(|s| s.phase).collect();
    assert_eq!(
        phases,
        [
            Phase::Repositories,
            Phase::Repositories,
            Phase::Packages,
            Phase::Packages
        ]
    );

    // The repository: the key, pinned by fingerprint, then the one-line source naming it.
    let repo = actions(&response.steps[0]);
    assert_eq!(
        repo[1],
        Action::FetchKey {
            url: "https://download.docker.com/linux/ubuntu/gpg".to_owned(),
            fingerprints: vec![DOCKER_FPR_COMPACT.to_owned()],
            dest: "/etc/apt/keyrings/docker.asc".to_owned(),
        }
    );
    assert_eq!(
        repo[2],
        Action::WriteFile {
            path: "/etc/apt/sources.list.d/docker.list".to_owned(),
            mode: 0o644,
            content: "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] \
                      https://download.docker.com/linux/ubuntu focal stable\n"
                .to_owned(),
            owner: None,
            group: None,
        }
    );
    assert!(response.steps[0].why.contains(DOCKER_FPR_COMPACT));

    // The keyrings directory is created where apt is too old to ship it.
    let Action::Run { argv, unless, .. } = &repo[0] else {
        panic!("{:?}", repo[0])
    };
    assert_eq!(
        argv,
        &strings(&["install", "-d", "-m", "0755", "/etc/apt/keyrings"])
    );
    assert_eq!(
        unless.as_ref().unwrap().argv,
        strings(&["test", "-d", "/etc/apt/keyrings"])
    );

    let installed = Probe {
        argv: strings(&[
            "dpkg-query",
            "--show",
            "--showformat=${Package} ${db:Status-Status}\\n${Package}=${Version}\\n",
            "containerd.io",
            "docker-ce",
            "docker-ce-cli",
        ]),
        expect: Expect::StdoutLines(strings(&[
            "containerd.io installed",
            "containerd.io=1.2.13-2",
            "docker-ce installed",
            "docker-ce=5:19.03.8~3-0~ubuntu-focal",
            "docker-ce-cli installed",
            "docker-ce-cli=5:19.03.8~3-0~ubuntu-focal",
        ])),
    };

    // One refresh, skipped when everything is installed already.
    assert_eq!(
        actions(&response.steps[1]),
        [Action::Run {
            argv: strings(&["apt-get", "-o", "DPkg::Lock::Timeout=120", "update"]),
            env: BTreeMap::new(),
            unless: Some(installed.clone()),
            transaction: false,
            resolve: Vec::new(),
            audit: None,
        }]
    );

    // One transaction for every package.
    assert_eq!(
        actions(&response.steps[2]),
        [Action::Run {
            argv: strings(&[
                "apt-get",
                "-o",
                "DPkg::Lock::Timeout=120",
                // The site's configuration files stay, with no conffile prompt.
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
                "install",
                "-y",
                "--no-install-recommends",
                "containerd.io=1.2.13-2",
                "docker-ce=5:19.03.8~3-0~ubuntu-focal",
                "docker-ce-cli=5:19.03.8~3-0~ubuntu-focal",
            ]),
            env: BTreeMap::from([("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())]),
            unless: Some(installed),
            transaction: true,
            resolve: Vec::new(),
            // A failure reports each package's state as dpkg records it, and the fix.
            audit: Some(plugin_api::Audit {
                argv: strings(&[
                    "dpkg-query",
                    "--show",
                    "--showformat=${Package} ${db:Status-Status}\\n",
                    "containerd.io",
                    "docker-ce",
                    "docker-ce-cli",
                ]),
                hint: "`dpkg --configure -a` finishes configuring what was unpacked (once its cause is fixed), `apt-get remove containerd.io docker-ce docker-ce-cli` removes it".to_owned(),
            }),
        }]
    );

    // Holds, skipped when already held.
    assert_eq!(
        actions(&response.steps[3]),
        [Action::Run {
            argv: strings(&[
                "apt-mark",
                "-o",
                "DPkg::Lock::Timeout=120",
                "hold",
                "containerd.io",
                "docker-ce",
                "docker-ce-cli",
            ]),
            env: BTreeMap::new(),
            unless: Some(Probe {
                argv: strings(&[
                    "dpkg-query",
                    "--show",
                    "--showformat=${Package} ${db:Status-Want}\\n",
                    "containerd.io",
                    "docker-ce",
                    "docker-ce-cli"
                ]),
                expect: Expect::StdoutLines(strings(&[
                    "containerd.io hold",
                    "docker-ce hold",
                    "docker-ce-cli hold"
                ])),
            }),
            transaction: false,
            resolve: Vec::new(),
            audit: None,
        }]
    );
}

#[test]
fn never_apt_key_nor_trusted_yes() {
    let mut insecure = docker_on_focal();
    insecure.options.allow_insecure_repo = true;
    insecure.repositories[0].key = None;
    insecure.repositories[0].url = "http://mirror.example/docker".to_owned();
    for request in [docker_on_focal(), insecure] {
        let response = render(&request);
        for action in all_actions(&response) {
            let text = match action {
                Action::Run { argv, .. } => argv.join(" "),
                Action::WriteFile { content, .. } => content.clone(),
                _ => continue,
            };
            for forbidden in [
                "apt-key",
                "trusted=",
                "allow-unauthenticated",
                "AllowInsecure",
            ] {
                assert!(!text.contains(forbidden), "{forbidden} in {text}");
            }
        }
    }
}

#[test]
fn cri_o_on_debian_10_adds_every_flat_repository_before_one_refresh() {
    let mut request = RenderRequest {
        distro: debian_10(),
        options: Options::default(),
        remove: Vec::new(),
        repositories: vec![
            kubic_repo(
                "devel-kubic-libcontainers-stable",
                "devel:/kubic:/libcontainers:/stable",
            ),
            kubic_repo(
                "devel-kubic-libcontainers-stable-cri-o-1.17",
                "devel:/kubic:/libcontainers:/stable:/cri-o:/1.17",
            ),
        ],
        packages: vec![package("cri-o", Some("1.17"), VersionMatch::Prefix, true)],
    };
    request
        .packages
        .push(package("cri-o-runc", None, VersionMatch::Exact, false));
    request
        .options
        .set
        .insert("apt.lock-timeout".to_owned(), "300".to_owned());
    let response = render(&request);
    let summaries: Vec<&str> = response.steps.iter().map(|s| s.summary.as_str()).collect();

    // Both repositories, then the single refresh, then packages.
    assert!(summaries[0].starts_with("Add apt repository devel-kubic-libcontainers-stable:"));
    assert!(
        summaries[1].starts_with("Add apt repository devel-kubic-libcontainers-stable-cri-o-1.17:")
    );
    assert_eq!(summaries[2], "Refresh the apt package index");
    let updates = argvs(&response)
        .into_iter()
        .filter(|a| a.last().map(String::as_str) == Some("update"))
        .count();
    assert_eq!(updates, 1);
    let Action::WriteFile { path, content, .. } = &actions(&response.steps[0])[2] else {
        panic!()
    };
    assert_eq!(
        path,
        "/etc/apt/sources.list.d/devel-kubic-libcontainers-stable.list"
    );
    assert_eq!(
        content,
        "deb [signed-by=/etc/apt/keyrings/devel-kubic-libcontainers-stable.asc] \
         https://download.opensuse.org/repositories/devel:/kubic:/libcontainers:/stable/Debian_10/ /\n"
    );

    // The refresh is skipped once the pinned version is installed; its probe needs the prefix
    // pin resolved, which before the first refresh fails, so the host then runs it.
    let Action::Run {
        argv,
        unless,
        resolve,
        ..
    } = &actions(&response.steps[2])[0]
    else {
        panic!()
    };
    assert_eq!(
        argv,
        &strings(&["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"])
    );
    let probe = unless.as_ref().expect("the install probe");
    assert!(
        matches!(&probe.expect, Expect::StdoutLines(lines) if lines.contains(&"cri-o=<cri-o@1.17>".to_owned()))
    );
    assert_eq!(resolve.len(), 1);
    assert_eq!(resolve[0].placeholder, "<cri-o@1.17>");
    assert!(
        !argv.iter().any(|a| a.contains("<cri-o@1.17>")),
        "the refresh itself needs no version"
    );

    // The partial pin is described, then resolved by the install action at run time.
    assert_eq!(
        response.steps[3].summary,
        "Resolve cri-o 1.17 to a version at run time with `apt-cache madison cri-o`"
    );
    assert!(actions(&response.steps[3]).is_empty());
    let install = &response.steps[4];
    assert!(install
        .summary
        .contains("cri-o=1.17* (whole components, resolved at run time)"));
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
    assert_eq!(&argv[10..], &strings(&["cri-o=<cri-o@1.17>", "cri-o-runc"]));
    assert_eq!(resolve.len(), 1);
    assert_eq!(resolve[0].package, "cri-o");
    assert_eq!(resolve[0].pin, "1.17");
    assert_eq!(resolve[0].placeholder, "<cri-o@1.17>");
    assert_eq!(
        resolve[0].query,
        strings(&["apt-cache", "madison", "cri-o"])
    );
    assert_eq!(resolve[0].listing.separator.as_deref(), Some("|"));
    assert_eq!(
        (
            resolve[0].listing.name_field,
            resolve[0].listing.version_field
        ),
        (0, 1)
    );
    // The probe waits for the same resolution; an unpinned package only has to be installed.
    assert_eq!(
        unless.as_ref().unwrap().expect,
        Expect::StdoutLines(strings(&[
            "cri-o installed",
            "cri-o=<cri-o@1.17>",
            "cri-o-runc installed"
        ]))
    );
    let holds = &response.steps[5];
    assert_eq!(
        argvs(&RenderResponse {
            steps: vec![holds.clone()],
            warnings: vec![]
        })[0],
        strings(&["apt-mark", "-o", "DPkg::Lock::Timeout=300", "hold", "cri-o"])
    );
    assert_eq!(response.steps.len(), 6);
}

#[test]
fn exactly_one_transaction() {
    let mut cri_o = docker_on_focal();
    cri_o.packages[0].version_match = VersionMatch::Prefix;
    cri_o.packages[0].version = Some("1.2".to_owned());
    for request in [docker_on_focal(), cri_o] {
        let transactions = all_actions(&render(&request))
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
}

#[test]
fn no_holds_without_held_packages_and_nothing_for_an_empty_request() {
    let mut request = docker_on_focal();
    for p in &mut request.packages {
        p.hold = false;
    }
    let response = render(&request);
    assert!(argvs(&response).iter().all(|a| a[0] != "apt-mark"));
    request.repositories.clear();
    request.packages.clear();
    assert!(render(&request).steps.is_empty());
}

#[test]
fn repositories_without_packages_still_refresh_and_never_skip_it() {
    let mut request = docker_on_focal();
    request.packages.clear();
    let response = render(&request);
    assert_eq!(response.steps.len(), 2);
    let Action::Run { unless, .. } = &actions(&response.steps[1])[0] else {
        panic!()
    };
    assert_eq!(unless, &None);
}

#[test]
fn a_missing_suite_falls_back_to_the_codename() {
    let mut request = docker_on_focal();
    request.distro = debian_10();
    request.repositories[0].suite = None;
    request.repositories[0].url = "https://download.docker.com/linux/debian".to_owned();
    let response = render(&request);
    let Action::WriteFile { content, .. } = &actions(&response.steps[0])[2] else {
        panic!()
    };
    assert!(content.ends_with("https://download.docker.com/linux/debian buster stable\n"));
}

fn refused(request: &RenderRequest) -> plugin_api::PluginError {
    let err = Apt.render(request).expect_err("render refuses");
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    err
}

#[test]
fn injected_values_are_refused_naming_value_and_origin() {
    for bad in ["1.0;reboot", "$(curl x|sh)", "1.0\nrm", "1 2", "`id`"] {
        let mut request = docker_on_focal();
        request.packages[1].version = Some(bad.to_owned());
        let err = refused(&request);
        assert!(
            err.message
                .contains("package `docker-ce` (requested by docker)"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains(&bad.escape_debug().to_string()),
            "{}",
            err.message
        );
    }
    let mut request = docker_on_focal();
    request.packages[0].name = "containerd.io;reboot".to_owned();
    refused(&request);

    let mut request = docker_on_focal();
    request.repositories[0].id = "../../etc/cron.d/evil".to_owned();
    refused(&request);

    let mut request = docker_on_focal();
    request.repositories[0].url = "https://download.docker.com/linux/../../etc".to_owned();
    refused(&request);

    let mut request = docker_on_focal();
    request.repositories[0].suite = Some("focal stable\ndeb http://evil/".to_owned());
    refused(&request);

    let mut request = docker_on_focal();
    request.repositories[0].url = "https://download.docker.com/$releasever".to_owned();
    refused(&request);
}

#[test]
fn plain_http_vendor_repositories_need_allow_insecure_repo() {
    let mut request = docker_on_focal();
    request.repositories[0].url = "http://download.docker.com/linux/ubuntu".to_owned();
    let err = refused(&request);
    assert!(err.message.contains("`docker`"), "{}", err.message);
    assert!(
        err.message
            .contains("http://download.docker.com/linux/ubuntu"),
        "{}",
        err.message
    );
    assert!(err
        .hint
        .as_deref()
        .unwrap()
        .contains("--allow-insecure-repo"));
    request.options.allow_insecure_repo = true;
    render(&request);
}

#[test]
fn a_repository_without_a_key_needs_allow_insecure_repo_and_gets_no_signed_by() {
    let mut request = docker_on_focal();
    request.repositories[0].key = None;
    let err = refused(&request);
    assert!(err
        .hint
        .as_deref()
        .unwrap()
        .contains("--allow-insecure-repo"));
    request.options.allow_insecure_repo = true;
    let response = render(&request);
    let repo = actions(&response.steps[0]);
    assert_eq!(repo.len(), 1, "no key fetched: {repo:?}");
    let Action::WriteFile { content, .. } = &repo[0] else {
        panic!()
    };
    assert_eq!(
        content,
        "deb [arch=amd64] https://download.docker.com/linux/ubuntu focal stable\n"
    );
}

#[test]
fn fingerprints_must_be_forty_hex_digits() {
    let mut request = docker_on_focal();
    request.repositories[0].key.as_mut().unwrap().fingerprints = vec!["0EBFCD88".to_owned()];
    let err = refused(&request);
    assert!(err.message.contains("0EBFCD88"), "{}", err.message);
}

#[test]
fn flat_and_component_suites_are_consistent() {
    let mut request = docker_on_focal();
    request.repositories[0].suite = Some("/".to_owned());
    refused(&request);
    let mut request = docker_on_focal();
    request.repositories[0].components.clear();
    refused(&request);
}

#[test]
fn lock_timeout_must_be_a_bounded_number() {
    for bad in ["soon", "-1", "1e3", "999999", ""] {
        let mut request = docker_on_focal();
        request
            .options
            .set
            .insert("apt.lock-timeout".to_owned(), bad.to_owned());
        let err = refused(&request);
        assert!(err.message.contains("apt.lock-timeout"), "{}", err.message);
    }
}

#[test]
fn manifest_and_options_describe_the_plugin() {
    let manifest = Apt.manifest();
    assert_eq!(manifest.name, "apt");
    assert_eq!(manifest.package_managers, ["apt"]);
    let options = Apt.options();
    assert_eq!(options[0].key, "apt.lock-timeout");
    assert_eq!(options[0].default.as_deref(), Some("120"));
}

/// Whether the probe's grep pattern matches `sources` (one file's text), with the real grep:
/// the file would be named, stopping the run.
fn stops_on(probe: &Probe, sources: &str) -> bool {
    runtime_kit::fixtures::grep_pattern_matches(probe, sources)
}

#[test]
fn an_archived_release_gets_a_check_of_its_sources_before_anything_else() {
    let mut buster = debian_10();
    buster
        .vars
        .insert("apt.archived_suite".to_owned(), "buster".to_owned());
    let mut request = docker_on_focal();
    request.distro = buster;
    let response = render(&request);
    let first = &response.steps[0];
    assert_eq!(first.phase, Phase::Prerequisites);
    let Some(Action::Check(check)) = actions(first).first() else {
        panic!("a check first: {first:?}")
    };
    assert_eq!(check.probe.argv[0], "find");
    assert_eq!(check.probe.expect, Expect::StdoutEquals(String::new()));
    assert!(
        check.description.contains("archive.debian.org"),
        "{}",
        check.description
    );

    for line in [
        "deb http://deb.debian.org/debian buster main",
        "deb http://security.debian.org/debian-security buster/updates main",
        "deb http://deb.debian.org/debian buster-updates main",
        "  deb [arch=amd64] https://ftp.de.debian.org/debian/ buster main contrib",
        "deb-src http://httpredir.debian.org/debian buster main",
    ] {
        assert!(
            stops_on(&check.probe, &format!("# site\n{line}\n")),
            "{line}"
        );
    }
    for line in [
        "deb http://archive.debian.org/debian buster main",
        "deb http://archive.debian.org/debian-security buster/updates main",
        "# deb http://deb.debian.org/debian buster main",
        "deb http://mirror.example.com/debian buster main",
        "deb http://deb.debian.org/debian bullseye main",
        "deb http://deb.debian.org/debian busterx main",
    ] {
        assert!(!stops_on(&check.probe, &format!("{line}\n")), "{line}");
    }

    // Other releases get no such check.
    let plain = render(&docker_on_focal());
    assert!(plain.steps.iter().all(|s| s.phase != Phase::Prerequisites));
}

#[test]
fn removals_come_after_the_installs_unheld_first_and_skipped_where_not_installed() {
    let mut request = docker_on_focal();
    request.remove = vec!["docker-ce".to_owned(), "docker.io".to_owned()];
    let response = render(&request);
    let last = &response.steps[response.steps.len() - 2..];
    for (step, name) in last.iter().zip(["docker-ce", "docker.io"]) {
        assert_eq!(step.phase, Phase::Verification, "after the plan's checks");
        let acts = actions(step);
        let (unhold, unless, _) = fixtures::run_action(&acts[0]);
        assert_eq!(unhold, &strings(&["apt-mark", "unhold", name]));
        let probe = unless.as_ref().expect("skipped where not installed");
        assert_eq!(probe.argv.last().map(String::as_str), Some(name));
        assert!(probe.argv[2].contains("dpkg-query"), "{probe:?}");
        let (remove, _, _) = fixtures::run_action(&acts[1]);
        assert_eq!(remove.last().map(String::as_str), Some(name));
        assert!(remove.contains(&"remove".to_owned()) && remove.contains(&"-y".to_owned()));
    }
    // A name that is not a package name is refused, naming it.
    request.remove = vec!["docker;reboot".to_owned()];
    let err = Apt.render(&request).unwrap_err();
    assert!(err.message.contains("docker;reboot"), "{err}");
}
