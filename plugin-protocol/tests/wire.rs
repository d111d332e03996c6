//! Golden JSON of every protocol document, one of each kind and variant: the wire form is the
//! contract between hosts and plugins built apart, so a change of a name, a tag or a default
//! shows here as a snapshot diff to review (and, for a change that is not additive, a protocol
//! bump). Each document also reads back as it was written.

use std::collections::BTreeMap;

use plugin_protocol::*;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::json;

fn golden<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    let text = serde_json::to_string_pretty(value).expect("a document encodes");
    let back: T = serde_json::from_str(&text).expect("a document decodes");
    assert_eq!(&back, value, "{name} reads back as written");
    insta::assert_snapshot!(name, text);
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn distro() -> Distro {
    Distro {
        id: "debian-12".into(),
        name: "Debian 12 (bookworm)".into(),
        family: "debian".into(),
        package_manager: "apt".into(),
        os_id: "debian".into(),
        version_id: Some("12".into()),
        codename: Some("bookworm".into()),
        arch: "amd64".into(),
        vars: BTreeMap::from([("docker.repo_path".into(), "debian".into())]),
    }
}

fn options() -> Options {
    Options {
        runtime: "containerd".into(),
        version: Some("1.7".into()),
        kubernetes_version: Some("1.30".into()),
        cgroup_driver: CgroupDriver::Systemd,
        cgroup_driver_reason: "systemd (as --cgroup-driver says)".into(),
        sandbox_image: Some("registry.k8s.io/pause:3.9".into()),
        source: Source::Upstream,
        mirror: Some("https://mirror.example".into()),
        set: BTreeMap::from([("containerd.config-version".into(), "2".into())]),
        allow_vulnerable: strings(&["CVE-2024-21626"]),
        allow_insecure_repo: false,
    }
}

fn probe() -> Probe {
    Probe {
        argv: strings(&["containerd", "config", "dump"]),
        expect: Expect::StdoutContains("SystemdCgroup = true".into()),
    }
}

fn handler() -> RuntimeHandler {
    RuntimeHandler {
        name: "runsc".into(),
        shim: "io.containerd.runsc.v1".into(),
        binary: Some("/usr/bin/containerd-shim-runsc-v1".into()),
        kind: HandlerKind::Vm,
        config_path: Some("/etc/containerd/runsc.toml".into()),
        options: BTreeMap::from([("TypeUrl".into(), "io.containerd.runsc.v1.options".into())]),
        plugin: "gvisor".into(),
    }
}

#[test]
fn manifests_options_and_errors() {
    golden(
        "manifest",
        &Manifest::runtime("containerd", "0.1.0", &["debian", "rhel"])
            .with_description("containerd")
            .with_capability(Manifest::RUNTIME_HANDLERS),
    );
    golden(
        "manifest-package-manager",
        &Manifest::package_manager("apt", "0.1.0", &["debian"], &["apt"]),
    );
    golden(
        "option-doc",
        &OptionDoc {
            key: "containerd.key-url".into(),
            help: "URL of the signing key".into(),
            default: Some("https://download.docker.com/linux/debian/gpg".into()),
        },
    );
    golden(
        "plugin-error",
        &PluginError::unsupported("no packages for armhf").with_hint("use amd64"),
    );
}

#[test]
fn requests_and_answers() {
    golden(
        "plan-request",
        &PlanRequest {
            distro: distro(),
            options: options(),
            handlers: vec![handler()],
        },
    );
    golden(
        "runtime-plan",
        &RuntimePlan {
            steps: vec![Step::new(
                Phase::Services,
                "enable containerd",
                "why",
                StepKind::Service(ServiceStep {
                    unit: "containerd.service".into(),
                    enable: true,
                    start: true,
                    restart_on_change: true,
                    daemon_reload: false,
                }),
            )],
            facts: BTreeMap::from([(
                "cri_socket".into(),
                "unix:///run/containerd/containerd.sock".into(),
            )]),
            warnings: strings(&["a warning"]),
            handlers: vec![handler()],
        },
    );
    let repository = Repository {
        id: "docker".into(),
        name: "Docker CE".into(),
        url: "https://download.docker.com/linux/debian".into(),
        suite: Some("bookworm".into()),
        components: strings(&["stable"]),
        architectures: strings(&["amd64"]),
        key: Some(SigningKey {
            url: "https://download.docker.com/linux/debian/gpg".into(),
            fingerprints: strings(&["9DC858229FC7DD38854AE2D88D81803C0EBFCD88"]),
        }),
        vendor: true,
        requested_by: strings(&["containerd"]),
    };
    let package = Package {
        name: "containerd.io".into(),
        version: Some("1.7".into()),
        version_match: VersionMatch::Prefix,
        hold: true,
        requested_by: strings(&["containerd"]),
        vulnerabilities: vec![Vulnerability {
            id: "CVE-2024-21626".into(),
            what: "runc leaks a file descriptor".into(),
            affected: vec![("1.4.3".into(), "1.6.28".into())],
        }],
    };
    golden(
        "render-request",
        &RenderRequest {
            distro: distro(),
            options: options(),
            repositories: vec![repository.clone()],
            packages: vec![package.clone()],
            remove: strings(&["docker-ce"]),
        },
    );
    golden(
        "render-response",
        &RenderResponse {
            steps: vec![Step::new(
                Phase::Packages,
                "install",
                "",
                StepKind::Actions {
                    actions: vec![run_action()],
                },
            )],
            warnings: Vec::new(),
        },
    );
    golden("step-kinds", &step_kinds(repository, package));
}

fn run_action() -> Action {
    Action::Run {
        argv: strings(&[
            "apt-get",
            "install",
            "-y",
            "containerd.io=<containerd.io@1.7>",
        ]),
        env: BTreeMap::from([("DEBIAN_FRONTEND".into(), "noninteractive".into())]),
        unless: Some(Probe {
            argv: strings(&["dpkg-query", "--show", "containerd.io"]),
            expect: Expect::StdoutLines(strings(&["containerd.io installed"])),
        }),
        transaction: true,
        resolve: vec![ResolveVersion {
            package: "containerd.io".into(),
            pin: "1.7".into(),
            placeholder: "<containerd.io@1.7>".into(),
            query: strings(&["apt-cache", "madison", "containerd.io"]),
            listing: VersionListing {
                separator: Some("|".into()),
                name_field: 0,
                names: strings(&["containerd.io"]),
                version_field: 1,
            },
        }],
        audit: Some(Audit {
            argv: strings(&["dpkg", "--audit"]),
            hint: "dpkg --configure -a".into(),
        }),
    }
}

fn step_kinds(repository: Repository, package: Package) -> Vec<Step> {
    let file = |content: FileContent| {
        StepKind::File(FileStep {
            path: "/etc/containerd/config.toml".into(),
            mode: 0o644,
            owner: Some("root".into()),
            group: None,
            content,
            restarts: strings(&["containerd.service"]),
            skip_when: Some(SkipWhen {
                probe: Probe {
                    argv: strings(&["test", "-e", "/etc/containerd/keep"]),
                    expect: Expect::Success,
                },
                warning: "the site keeps it".into(),
            }),
        })
    };
    let kinds = vec![
        StepKind::KernelModules {
            modules: strings(&["overlay", "br_netfilter"]),
            persist_file: "/etc/modules-load.d/k8s.conf".into(),
        },
        StepKind::Sysctls {
            settings: BTreeMap::from([("net.ipv4.ip_forward".into(), "1".into())]),
            persist_file: "/etc/sysctl.d/k8s.conf".into(),
        },
        StepKind::Repository(repository),
        StepKind::Packages {
            packages: vec![package],
        },
        file(FileContent::Full {
            text: "x = 1\n".into(),
        }),
        file(FileContent::JsonMerge {
            value: json!({"exec-opts": ["native.cgroupdriver=systemd"]}),
        }),
        file(FileContent::TomlEdit {
            initial: Some("version = 2\n".into()),
            edits: vec![
                TomlEdit::Set {
                    path: strings(&["version"]),
                    value: json!(2),
                },
                TomlEdit::SetDefault {
                    path: strings(&["oom_score"]),
                    value: json!(0),
                },
                TomlEdit::SetWhere {
                    tables: strings(&["plugins", "cri", "runtimes"]),
                    when_key: "runtime_type".into(),
                    when_values: vec![json!("io.containerd.runc.v2")],
                    path: strings(&["options", "SystemdCgroup"]),
                    aliases: strings(&["systemdCgroup"]),
                    value: json!(true),
                },
                TomlEdit::RemoveFromArray {
                    path: strings(&["disabled_plugins"]),
                    values: vec![json!("cri")],
                },
            ],
        }),
        file(FileContent::YamlSet {
            values: BTreeMap::from([("cgroupDriver".into(), "systemd".into())]),
        }),
        file(FileContent::EnvFlags {
            variable: "KUBELET_KUBEADM_ARGS".into(),
            set: BTreeMap::from([(
                "--container-runtime-endpoint".into(),
                "unix:///run/containerd/containerd.sock".into(),
            )]),
            remove: strings(&["--network-plugin"]),
        }),
        StepKind::Download(DownloadStep {
            url: "https://example.com/cri-dockerd.tgz".into(),
            sha256: "a".repeat(64),
            member: Some("cri-dockerd/cri-dockerd".into()),
            path: "/usr/local/bin/cri-dockerd".into(),
            mode: 0o755,
            restarts: strings(&["cri-docker.service"]),
        }),
        StepKind::Check(Check {
            description: "containerd reads it".into(),
            probe: probe(),
        }),
        StepKind::Actions {
            actions: vec![
                Action::WriteFile {
                    path: "/etc/apt/sources.list.d/docker.list".into(),
                    mode: 0o644,
                    content: "deb ...\n".into(),
                    owner: None,
                    group: None,
                },
                Action::MergeFile {
                    path: "/etc/docker/daemon.json".into(),
                    mode: 0o644,
                    merge: FileContent::JsonMerge {
                        value: json!({"log-driver": "json-file"}),
                    },
                    owner: None,
                    group: None,
                },
                Action::RemoveFile {
                    path: "/etc/old".into(),
                },
                Action::FetchKey {
                    url: "https://download.docker.com/linux/debian/gpg".into(),
                    fingerprints: strings(&["9DC858229FC7DD38854AE2D88D81803C0EBFCD88"]),
                    dest: "/etc/apt/keyrings/docker.asc".into(),
                },
                Action::Download {
                    url: "https://example.com/x".into(),
                    sha256: "b".repeat(64),
                    member: None,
                    path: "/usr/local/bin/x".into(),
                    mode: 0o755,
                },
                run_action(),
                Action::Service {
                    unit: "docker.service".into(),
                    daemon_reload: true,
                    enable: false,
                    start: false,
                    restart_when_changed: vec![
                        RestartTrigger::File("/etc/docker/daemon.json".into()),
                        RestartTrigger::Package("docker-ce".into()),
                    ],
                    stop: true,
                    disable: true,
                },
                Action::Check(Check {
                    description: "lacks".into(),
                    probe: Probe {
                        argv: strings(&["true"]),
                        expect: Expect::StdoutLacks("x".into()),
                    },
                }),
                Action::SkipIf(SkipWhen {
                    probe: Probe {
                        argv: strings(&["true"]),
                        expect: Expect::StdoutEquals("y".into()),
                    },
                    warning: "skipped".into(),
                }),
            ],
        },
    ];
    kinds
        .into_iter()
        .map(|kind| Step::new(Phase::Configuration, "a step", "why", kind))
        .collect()
}
