//! The `zypper` package-manager plugin: repositories with verified keys, pinned packages,
//! addlock.
//!
//! [`render`] turns a render request into, in order: one step per repository (its key fetched
//! and checked by fingerprint, imported into rpm, then `zypper addrepo`), one `zypper refresh`
//! of the repositories added, a description of each partial pin resolved at run time, one
//! `zypper install` transaction for every package, and one `zypper addlock` for the held ones.

use plugin_api::{
    export_plugin, Manifest, PackageManagerPlugin, PluginError, RenderRequest, RenderResponse,
};

mod render;

pub use render::render;

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Zypper;

impl PackageManagerPlugin for Zypper {
    fn manifest(&self) -> Manifest {
        Manifest::package_manager("zypper", env!("CARGO_PKG_VERSION"), &["suse"], &["zypper"])
            .with_description("zypper: repositories with verified keys, pinned packages, addlock")
    }

    fn render(&self, request: &RenderRequest) -> Result<RenderResponse, PluginError> {
        render(request)
    }
}

export_plugin!(package_manager: Zypper);
