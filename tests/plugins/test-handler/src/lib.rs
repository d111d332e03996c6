//! A runtime-handler plugin as a platform team would write one (`--with test-handler`): it
//! declares the handler `testsc` in no one schema's terms and leaves it to the runtime that
//! owns the configuration. `--set test-handler.raw-edit=true` makes it do what such plugins
//! did before protocol 1.5: edit containerd's config.toml itself and restart containerd
//! (`=toml`: the edit without the restart).
use std::collections::BTreeMap;

use plugin_api::{
    export_plugin, FileContent, FileStep, HandlerKind, Manifest, Phase, PlanRequest, PluginError,
    RuntimeHandler, RuntimePlan, RuntimePlugin, Step, StepKind, TomlEdit,
};

#[derive(Default)]
struct Handler;

impl RuntimePlugin for Handler {
    fn manifest(&self) -> Manifest {
        Manifest::runtime("test-handler", "0.1.0", &["debian", "rhel", "suse"])
    }

    fn options(&self) -> Vec<plugin_api::OptionDoc> {
        vec![plugin_api::OptionDoc {
            key: "test-handler.raw-edit".into(),
            help: "true: edit containerd's config.toml and restart containerd; toml: the edit only".into(),
            default: None,
        }]
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        let raw_edit = request.options.set.get("test-handler.raw-edit").map(String::as_str);
        let raw = raw_edit.is_some();
        let mut steps = Vec::new();
        if raw {
            steps.push(Step::new(
                Phase::Configuration,
                "add testsc to containerd's config.toml",
                "",
                StepKind::File(FileStep {
                    path: "/etc/containerd/config.toml".into(),
                    mode: 0o644,
                    owner: None,
                    group: None,
                    content: FileContent::TomlEdit {
                        initial: None,
                        edits: vec![TomlEdit::Set {
                            path: ["plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "testsc", "runtime_type"]
                                .map(str::to_owned)
                                .to_vec(),
                            value: serde_json::json!("io.containerd.runsc.v1"),
                        }],
                    },
                    // `toml`: the edit alone, without the restart.
                    restarts: if raw_edit == Some("toml") {
                        vec![]
                    } else {
                        vec!["containerd.service".into()]
                    },
                    skip_when: None,
                }),
            ));
        }
        Ok(RuntimePlan {
            steps,
            facts: BTreeMap::new(),
            warnings: vec![],
            handlers: if raw {
                Vec::new()
            } else {
                vec![RuntimeHandler {
                    name: "testsc".into(),
                    shim: "io.containerd.runsc.v1".into(),
                    binary: Some("/usr/bin/containerd-shim-testsc-v1".into()),
                    kind: HandlerKind::Vm,
                    config_path: Some("/etc/testsc/testsc.toml".into()),
                    options: BTreeMap::from([("TypeUrl".into(), "io.containerd.runsc.v1.options".into())]),
                    plugin: String::new(),
                }]
            },
        })
    }
}

export_plugin!(runtime: Handler);
