//! The `cri-o` runtime plugin: CRI-O from the Kubic or pkgs.k8s.io repositories, or the distro.

use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct CriO;

impl RuntimePlugin for CriO {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(
            "cri-o",
            env!("CARGO_PKG_VERSION"),
            &["debian", "rhel", "suse"],
        )
        .with_description("CRI-O from the Kubic or pkgs.k8s.io repositories, or the distro")
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        Err(PluginError::unsupported(format!(
            "the cri-o plugin cannot plan for {} yet: runtime steps arrive with issue #4",
            request.distro.id
        )))
    }
}

export_plugin!(runtime: CriO);
