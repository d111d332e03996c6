//! The `containerd` runtime plugin: containerd: containerd.io from Docker's repository or the distro's containerd.

use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Containerd;

impl RuntimePlugin for Containerd {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(
            "containerd",
            env!("CARGO_PKG_VERSION"),
            &["debian", "rhel", "suse"],
        )
        .with_description(
            "containerd: containerd.io from Docker's repository or the distro's containerd",
        )
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        Err(PluginError::unsupported(format!(
            "the containerd plugin cannot plan for {} yet: runtime steps arrive with issue #4",
            request.distro.id
        )))
    }
}

export_plugin!(runtime: Containerd);
