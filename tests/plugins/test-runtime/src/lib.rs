//! A small runtime plugin that drives composition and the package-manager plugins in tests:
//! one of every abstract step kind, with values taken from the request so tests can steer it.
//!
//! `--set test-runtime.repo-url=URL` (default https://packages.example.com/test), `--set
//! test-runtime.fingerprint=HEX` (default a fixed 40-digit value), `--version V` pins `test-engine`.
//! `--set test-runtime.download-url=URL` with `download-sha256=HEX` (and `download-member=M` for
//! a .tgz) adds a download of /usr/local/bin/test-engine-helper. `--set test-runtime.key-url=URL`
//! and `--set test-runtime.package=NAME` replace the key's URL and the package installed.
use std::collections::BTreeMap;

use plugin_api::{
    export_plugin, FileContent, FileStep, Manifest, Package, Phase, PlanRequest,
    PluginError, Repository, RuntimePlan, RuntimePlugin, ServiceStep, SigningKey, Step, StepKind,
    VersionMatch,
};

#[derive(Default)]
struct TestRuntime;

pub const DEFAULT_FINGERPRINT: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

impl RuntimePlugin for TestRuntime {
    fn manifest(&self) -> Manifest {
        // Tests of the host's manifest cache count how often the manifest is asked for.
        if let Some(log) = std::env::var_os("FIXTURE_MANIFEST_LOG") {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
                let _ = writeln!(f, "test-runtime");
            }
        }
        Manifest::runtime("test-runtime", "0.1.0", &["debian", "rhel", "suse"])
    }

    fn options(&self) -> Vec<plugin_api::OptionDoc> {
        [
            "repo-url",
            "fingerprint",
            "files-only",
            "fail",
            "owner",
            "download-url",
            "download-sha256",
            "download-member",
            "key-url",
            "package",
        ]
            .iter()
            .map(|k| plugin_api::OptionDoc {
                key: format!("test-runtime.{k}"),
                help: "a test knob".into(),
                default: None,
            })
            .collect()
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        let set = &request.options.set;
        let url = set
            .get("test-runtime.repo-url")
            .cloned()
            .unwrap_or_else(|| "https://packages.example.com/test".into());
        let fingerprint = set
            .get("test-runtime.fingerprint")
            .cloned()
            .unwrap_or_else(|| DEFAULT_FINGERPRINT.into());
        let driver = match request.options.cgroup_driver {
            plugin_api::CgroupDriver::Systemd => "systemd",
            plugin_api::CgroupDriver::Cgroupfs => "cgroupfs",
        };
        let steps = vec![
            Step::new(
                Phase::Prerequisites,
                "load overlay and br_netfilter",
                "the runtime needs them",
                StepKind::KernelModules {
                    modules: vec!["overlay".into(), "br_netfilter".into()],
                    persist_file: "/etc/modules-load.d/k8s.conf".into(),
                },
            ),
            Step::new(
                Phase::Prerequisites,
                "bridge and forwarding sysctls",
                "pods need forwarding",
                StepKind::Sysctls {
                    settings: BTreeMap::from([("net.ipv4.ip_forward".to_owned(), "1".to_owned())]),
                    persist_file: "/etc/sysctl.d/k8s.conf".into(),
                },
            ),
            Step::new(
                Phase::Repositories,
                "the test repository",
                "test-engine comes from it",
                StepKind::Repository(Repository {
                    id: "test".into(),
                    name: "Test packages".into(),
                    url,
                    suite: Some(
                        request
                            .distro
                            .codename
                            .clone()
                            .unwrap_or_else(|| "stable".into()),
                    ),
                    components: vec!["main".into()],
                    architectures: vec![request.distro.arch.clone()],
                    key: Some(SigningKey {
                        url: set
                            .get("test-runtime.key-url")
                            .cloned()
                            .unwrap_or_else(|| "https://packages.example.com/test/key.asc".into()),
                        fingerprints: vec![fingerprint],
                    }),
                    vendor: true,
                    requested_by: vec![],
                }),
            ),
            Step::new(
                Phase::Packages,
                "install test-engine",
                "the runtime itself",
                StepKind::Packages {
                    packages: vec![Package {
                        name: set
                            .get("test-runtime.package")
                            .cloned()
                            .unwrap_or_else(|| "test-engine".into()),
                        version: request.options.version.clone(),
                        version_match: VersionMatch::Prefix,
                        hold: request.options.version.is_some(),
                        requested_by: vec![],
                        vulnerabilities: vec![],
                    }],
                },
            ),
            Step::new(
                Phase::Configuration,
                "test-engine daemon settings",
                "the cgroup driver must match the kubelet's",
                StepKind::File(FileStep {
                    path: "/etc/test-engine/daemon.json".into(),
                    mode: 0o644,
                    // `--set test-runtime.owner=NAME`: user and group NAME own it.
                    owner: set.get("test-runtime.owner").cloned(),
                    group: set.get("test-runtime.owner").cloned(),
                    content: FileContent::JsonMerge {
                        value: serde_json::json!({"cgroup-driver": driver, "log": {"max-size": "100m"}}),
                    },
                    restarts: vec!["test-engine.service".into()],
                    skip_when: None,
                }),
            ),
            Step::new(
                Phase::Services,
                "enable and start test-engine",
                "kubelet talks to it",
                StepKind::Service(ServiceStep {
                    unit: "test-engine.service".into(),
                    enable: true,
                    start: true,
                    restart_on_change: true,
                    daemon_reload: false,
                }),
            ),
        ];
        // `test-runtime.files-only=true`: only what a bare root can take (files, skipped kernel and
        // service steps); `test-runtime.fail=true` adds a check that fails, to exercise rollback.
        let mut steps = steps;
        if set.get("test-runtime.files-only").map(String::as_str) == Some("true") {
            steps
                .retain(|s| !matches!(s.kind, StepKind::Repository(_) | StepKind::Packages { .. }));
        }
        if let Some(url) = set.get("test-runtime.download-url") {
            steps.push(Step::new(
                Phase::Packages,
                "install test-engine-helper",
                "no repository carries it",
                StepKind::Download(plugin_api::DownloadStep {
                    url: url.clone(),
                    sha256: set
                        .get("test-runtime.download-sha256")
                        .cloned()
                        .unwrap_or_default(),
                    member: set.get("test-runtime.download-member").cloned(),
                    path: "/usr/local/bin/test-engine-helper".into(),
                    mode: 0o755,
                    restarts: vec!["test-engine.service".into()],
                }),
            ));
        }
        if set.get("test-runtime.fail").map(String::as_str) == Some("true") {
            steps.push(Step::new(
                Phase::Verification,
                "test-engine answers",
                "a broken install must not stay",
                StepKind::Check(plugin_api::Check {
                    description: "test-engine --version succeeds".into(),
                    probe: plugin_api::Probe {
                        argv: vec!["test-engine".into(), "--version".into()],
                        expect: plugin_api::Expect::Success,
                    },
                }),
            ));
        }
        Ok(RuntimePlan {
            steps,
            facts: BTreeMap::from([(
                "cri_socket".to_owned(),
                "unix:///run/test-engine.sock".to_owned(),
            )]),
            warnings: vec![],
            handlers: Vec::new(),
        })
    }
}

export_plugin!(runtime: TestRuntime);
