//! The `docker` runtime plugin: Docker Engine: docker-ce from Docker's repository or docker.io from the distro.

use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Docker;

impl RuntimePlugin for Docker {
    fn manifest(&self) -> Manifest {
        Manifest::runtime("docker", env!("CARGO_PKG_VERSION"), &["debian", "rhel"])
            .with_description(
                "Docker Engine: docker-ce from Docker's repository or docker.io from the distro",
            )
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        Err(PluginError::unsupported(format!(
            "the docker plugin cannot plan for {} yet: runtime steps arrive with issue #4",
            request.distro.id
        )))
    }
}

export_plugin!(runtime: Docker);
