//! An add-on plugin (`--with test-addon`) that composes with test-runtime: it repeats some of
//! test-runtime's steps (to be merged) and adds its own. `--set test-addon.conflict=file` makes it
//! want another value for one of test-runtime's daemon.json keys, `--set test-addon.conflict=pin`
//! another pin for test-engine, `--set test-addon.conflict=sysctl` another value for ip_forward.
use std::collections::BTreeMap;

use plugin_api::{
    export_plugin, FileContent, FileStep, Manifest, Package, Phase, PlanRequest, PluginError,
    RuntimePlan, RuntimePlugin, Step, StepKind, VersionMatch,
};

#[derive(Default)]
struct Addon;

impl RuntimePlugin for Addon {
    fn manifest(&self) -> Manifest {
        Manifest::runtime("test-addon", "0.2.0", &["debian", "rhel", "suse"])
    }

    fn options(&self) -> Vec<plugin_api::OptionDoc> {
        vec![plugin_api::OptionDoc {
            key: "test-addon.conflict".into(),
            help: "file, pin or sysctl".into(),
            default: None,
        }]
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        let conflict = request
            .options
            .set
            .get("test-addon.conflict")
            .map(String::as_str);
        let log_size = if conflict == Some("file") {
            "10m"
        } else {
            "100m"
        };
        let forward = if conflict == Some("sysctl") { "0" } else { "1" };
        let pin = if conflict == Some("pin") {
            Some("9.9".to_owned())
        } else {
            request.options.version.clone()
        };
        let steps = vec![
            Step::new(
                Phase::Prerequisites,
                "load overlay",
                "the add-on needs it too",
                StepKind::KernelModules {
                    modules: vec!["overlay".into()],
                    persist_file: "/etc/modules-load.d/k8s.conf".into(),
                },
            ),
            Step::new(
                Phase::Prerequisites,
                "forwarding",
                "the add-on routes",
                StepKind::Sysctls {
                    settings: BTreeMap::from([(
                        "net.ipv4.ip_forward".to_owned(),
                        forward.to_owned(),
                    )]),
                    persist_file: "/etc/sysctl.d/k8s.conf".into(),
                },
            ),
            Step::new(
                Phase::Packages,
                "install test-engine and addon-tools",
                "the add-on's tools",
                StepKind::Packages {
                    packages: vec![
                        Package {
                            name: "test-engine".into(),
                            version: pin.clone(),
                            version_match: VersionMatch::Prefix,
                            hold: false,
                            requested_by: vec![],
                            vulnerabilities: Vec::new(),
                        },
                        Package {
                            name: "addon-tools".into(),
                            version: None,
                            version_match: VersionMatch::Exact,
                            hold: false,
                            requested_by: vec![],
                            vulnerabilities: Vec::new(),
                        },
                    ],
                },
            ),
            Step::new(
                Phase::Configuration,
                "registry mirror for test-engine",
                "site policy",
                StepKind::File(FileStep {
                    path: "/etc/test-engine/daemon.json".into(),
                    mode: 0o644,
                    owner: None,
                    group: None,
                    content: FileContent::JsonMerge {
                        value: serde_json::json!({"registry-mirrors": ["https://mirror.example.com"], "log": {"max-size": log_size}}),
                    },
                    restarts: vec!["test-engine.service".into()],
                    skip_when: None,
                }),
            ),
        ];
        Ok(RuntimePlan {
            steps,
            facts: BTreeMap::new(),
            warnings: vec![],
            handlers: Vec::new(),
        })
    }
}

export_plugin!(runtime: Addon);
