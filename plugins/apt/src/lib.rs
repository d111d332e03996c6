//! The `apt` package-manager plugin: apt: sources with signed-by keyrings, pinned and held packages.

use plugin_api::{
    export_plugin, Manifest, PackageManagerPlugin, PluginError, RenderRequest, RenderResponse,
};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Apt;

impl PackageManagerPlugin for Apt {
    fn manifest(&self) -> Manifest {
        Manifest::package_manager("apt", env!("CARGO_PKG_VERSION"), &["debian"], &["apt"])
            .with_description("apt: sources with signed-by keyrings, pinned and held packages")
    }

    fn render(&self, request: &RenderRequest) -> Result<RenderResponse, PluginError> {
        Err(PluginError::unsupported(format!(
            "the apt plugin cannot render steps for {} yet: that arrives with issue #3",
            request.distro.id
        )))
    }
}

export_plugin!(package_manager: Apt);
