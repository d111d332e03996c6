//! The one crate both sides of the plugin boundary link.
//!
//! `installer` loads runtime plugins (docker, containerd, cri-o, ...) and package-manager
//! plugins (apt, yum, zypper) from shared libraries. This crate holds three things:
//!
//! * [`abi`]: the frozen root module every plugin exports. It has two functions that pass
//!   serde-encoded (JSON) documents, and it never grows; new capabilities are new methods
//!   named in [`call`](abi::PluginRoot::call) or new optional fields in the documents.
//! * The versioned documents (from `plugin-protocol`): [`Manifest`], [`Distro`], [`PlanRequest`], [`RuntimePlan`],
//!   [`RenderRequest`], [`RenderResponse`], the step model ([`Step`], [`Action`], ...). Their
//!   compatibility is governed by [`PROTOCOL_VERSION`]: within one major version a newer host
//!   loads older plugins and an older host loads newer ones.
//! * The SDK for plugin authors: the [`RuntimePlugin`] and [`PackageManagerPlugin`] traits and
//!   the [`export_plugin!`] macro, which does the encoding and catches panics.
//!
//! A minimal runtime plugin:
//!
//! ```ignore
//! use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl RuntimePlugin for Hello {
//!     fn manifest(&self) -> Manifest {
//!         Manifest::runtime("hello", env!("CARGO_PKG_VERSION"), &["debian"])
//!     }
//!     fn plan(&self, _request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
//!         Ok(RuntimePlan::default())
//!     }
//! }
//!
//! export_plugin!(runtime: Hello);
//! ```
//!
//! The plugin crate is a `cdylib` depending on `plugin-api` alone (`export_plugin!` writes the
//! library header itself); see `docs/plugin-authors.md` and `templates/runtime-plugin`. The
//! documents live in the `plugin-protocol` crate, re-exported here whole.

#![deny(missing_docs)]

pub mod abi;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod host;
pub mod kit;
mod sdk;

pub use plugin_protocol::*;
pub use sdk::{PackageManagerPlugin, RuntimePlugin};

#[doc(hidden)]
pub mod __private {
    pub use crate::sdk::{dispatch_package_manager, dispatch_runtime, guard};
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, IntoRootModuleResult, LibHeader,
        RootModuleResult,
    };
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RStr, RString};

    /// The symbol abi_stable's loader looks a library's header up by
    /// (`abi_stable::library::ROOT_MODULE_LOADER_NAME`), which `export_plugin!` spells out;
    /// a test holds the two together.
    pub const ROOT_MODULE_LOADER_NAME: &str = "_1as_0lib_1header_0root_bmodule_bloader";

    #[cfg(test)]
    mod tests {
        #[test]
        fn export_plugin_names_the_symbol_abi_stable_loads() {
            assert_eq!(
                super::ROOT_MODULE_LOADER_NAME,
                abi_stable::library::ROOT_MODULE_LOADER_NAME
            );
        }
    }
}
