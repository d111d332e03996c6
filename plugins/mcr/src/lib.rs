//! The `mcr` runtime plugin: Mirantis Container Runtime from repos.mirantis.com.

use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Mcr;

impl RuntimePlugin for Mcr {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(
            "mcr",
            env!("CARGO_PKG_VERSION"),
            &["debian", "rhel", "suse"],
        )
        .with_description("Mirantis Container Runtime from repos.mirantis.com")
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        Err(PluginError::unsupported(format!(
            "the mcr plugin cannot plan for {} yet: runtime steps arrive with issue #4",
            request.distro.id
        )))
    }
}

export_plugin!(runtime: Mcr);
