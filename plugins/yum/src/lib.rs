//! The `yum` package-manager plugin: yum and dnf: .repo files with gpgcheck, pinned packages,
//! versionlock.
//!
//! [`render`] turns a render request into, in order: one step per repository (its key fetched
//! and checked by fingerprint into `/etc/pki/rpm-gpg/<id>.asc`, imported into rpm, and a
//! `/etc/yum.repos.d/<id>.repo` written directly with `gpgcheck=1`), a description of each
//! partial pin resolved at run time, one install transaction for every package (with the
//! versionlock plugin when a package is held), and one `versionlock add` for the held ones.
//! `yum` drives CentOS 7; `dnf` every later release, as the distro pack says.

use plugin_api::{
    export_plugin, Manifest, PackageManagerPlugin, PluginError, RenderRequest, RenderResponse,
};

mod render;

pub use render::render;

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
        render(request)
    }
}

export_plugin!(package_manager: Yum);
