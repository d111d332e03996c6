//! `acme`: a runtime plugin for installer, from templates/runtime-plugin. It joins a runtime's
//! plan with `--with acme`: it writes a site file, restarts nothing, and declares a runtime
//! handler that the runtime owning the CRI configuration (containerd, CRI-O) writes in its
//! own schema. Rename it, then replace what it plans.

use std::collections::BTreeMap;

use plugin_api::{
    export_plugin, FileContent, FileStep, HandlerKind, Manifest, OptionDoc, Phase, PlanRequest,
    PluginError, RuntimeHandler, RuntimePlan, RuntimePlugin, Step, StepKind,
};

/// The name users pass to `--with` (or `--runtime`).
pub const PLUGIN: &str = "acme";

#[derive(Default)]
pub struct Acme;

impl RuntimePlugin for Acme {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(PLUGIN, env!("CARGO_PKG_VERSION"), &["debian", "rhel", "suse"])
            .with_description("ACME's site settings and runtime handler")
    }

    // Every `--set acme.<option>` the plugin reads, with help and default:
    // `installer plugins show acme` prints them, and a key not listed is refused.
    fn options(&self) -> Vec<OptionDoc> {
        vec![OptionDoc {
            key: format!("{PLUGIN}.team"),
            help: "the team named in the site file".into(),
            default: Some("platform".into()),
        }]
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        // Read request.distro (the matched distro pack) and request.options (the user's
        // selection); return steps. Do not touch the system: no files, no commands.
        let team = request
            .options
            .set
            .get(&format!("{PLUGIN}.team"))
            .cloned()
            .unwrap_or_else(|| "platform".into());
        if team.is_empty() {
            return Err(PluginError::invalid_input(format!("--set {PLUGIN}.team is empty"))
                .with_hint(format!("name a team, e.g. --set {PLUGIN}.team=platform")));
        }
        // A handler goes to the runtime that owns the CRI configuration: only when this plugin
        // joins one (`--runtime containerd --with acme`), not when it is selected alone.
        let joins_a_runtime = request.options.runtime != PLUGIN;
        Ok(RuntimePlan {
            steps: vec![Step::new(
                Phase::Configuration,
                "/etc/acme/runtime.conf names the team that runs this node",
                "site policy: every node says who runs it",
                StepKind::File(FileStep::new(
                    "/etc/acme/runtime.conf",
                    FileContent::Full {
                        text: format!("team = {team}\n"),
                    },
                )),
            )],
            facts: BTreeMap::new(),
            warnings: Vec::new(),
            handlers: if !joins_a_runtime { Vec::new() } else { vec![RuntimeHandler {
                name: "runsc".into(),                  // what a RuntimeClass's `handler` names
                shim: "io.containerd.runsc.v1".into(), // containerd's runtime_type
                binary: Some("/usr/bin/containerd-shim-runsc-v1".into()), // what CRI-O runs
                kind: HandlerKind::Vm,                 // CRI-O's runtime_type: oci or vm
                config_path: Some("/etc/containerd/runsc.toml".into()),
                options: BTreeMap::from([("TypeUrl".into(), "io.containerd.runsc.v1.options".into())]),
                plugin: String::new(),                 // the host fills it in
            }] },
        })
    }
}

export_plugin!(runtime: Acme);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{Distro, Options};

    #[test]
    fn writes_the_team_and_declares_the_handler() {
        let request = PlanRequest {
            distro: Distro::new("debian-12", "debian", "apt").with_codename("bookworm"),
            options: Options {
                runtime: "containerd".into(),
                set: BTreeMap::from([(format!("{PLUGIN}.team"), "storage".into())]),
                ..Options::default()
            },
            handlers: Vec::new(),
        };
        let plan = Acme.plan(&request).unwrap();
        let StepKind::File(file) = &plan.steps[0].kind else {
            panic!("{:?}", plan.steps[0])
        };
        assert_eq!(file.content, FileContent::Full { text: "team = storage\n".into() });
        assert_eq!(plan.handlers[0].name, "runsc");
    }
}
