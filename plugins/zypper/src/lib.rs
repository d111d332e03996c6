//! The `zypper` package-manager plugin: zypper: repositories with verified keys, pinned packages, addlock.

use plugin_api::{
    export_plugin, Manifest, PackageManagerPlugin, PluginError, RenderRequest, RenderResponse,
};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Zypper;

impl PackageManagerPlugin for Zypper {
    fn manifest(&self) -> Manifest {
        Manifest::package_manager("zypper", env!("CARGO_PKG_VERSION"), &["suse"], &["zypper"])
            .with_description("zypper: repositories with verified keys, pinned packages, addlock")
    }

    fn render(&self, request: &RenderRequest) -> Result<RenderResponse, PluginError> {
        Err(PluginError::unsupported(format!(
            "the zypper plugin cannot render steps for {} yet: that arrives with issue #3",
            request.distro.id
        )))
    }
}

export_plugin!(package_manager: Zypper);
