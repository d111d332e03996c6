//! The `apt` package-manager plugin: sources with signed-by keyrings, pinned and held packages.
//!
//! [`render`] turns a render request into, in order: one step per repository (its key fetched
//! and checked by fingerprint into `/etc/apt/keyrings/<id>.asc`, a one-line
//! `/etc/apt/sources.list.d/<id>.list` naming that key with `signed-by=`), one `apt-get
//! update`, a description of each partial pin resolved at run time, one `apt-get install`
//! transaction for every package, and one `apt-mark hold` for the held ones.

use plugin_api::{
    export_plugin, Manifest, OptionDoc, PackageManagerPlugin, PluginError, RenderRequest,
    RenderResponse,
};

mod render;

pub use render::{render, DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_KEY};

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Apt;

impl PackageManagerPlugin for Apt {
    fn manifest(&self) -> Manifest {
        Manifest::package_manager("apt", env!("CARGO_PKG_VERSION"), &["debian"], &["apt"])
            .with_description("apt: sources with signed-by keyrings, pinned and held packages")
    }

    fn render(&self, request: &RenderRequest) -> Result<RenderResponse, PluginError> {
        render(request)
    }

    fn options(&self) -> Vec<OptionDoc> {
        vec![OptionDoc {
            key: LOCK_TIMEOUT_KEY.to_owned(),
            help: "seconds apt waits for the dpkg lock (held by unattended-upgrades, say) before \
                   giving up"
                .to_owned(),
            default: Some(DEFAULT_LOCK_TIMEOUT.to_string()),
        }]
    }
}

export_plugin!(package_manager: Apt);
