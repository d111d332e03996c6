//! The `yum` package-manager plugin: yum and dnf: .repo files with gpgcheck, pinned packages, versionlock.

use plugin_api::{
    export_plugin, Manifest, PackageManagerPlugin, PluginError, RenderRequest, RenderResponse,
};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Yum;

impl PackageManagerPlugin for Yum {
    fn manifest(&self) -> Manifest {
        Manifest::package_manager("yum", env!("CARGO_PKG_VERSION"), &["rhel"], &["yum", "dnf"])
            .with_description(
                "yum and dnf: .repo files with gpgcheck, pinned packages, versionlock",
            )
    }

    fn render(&self, request: &RenderRequest) -> Result<RenderResponse, PluginError> {
        Err(PluginError::unsupported(format!(
            "the yum plugin cannot render steps for {} yet: that arrives with issue #3",
            request.distro.id
        )))
    }
}

export_plugin!(package_manager: Yum);
