//! The one crate both sides of the plugin boundary link.
//!
//! `installer` loads runtime plugins (docker, containerd, cri-o, ...) and package-manager
//! plugins (apt, yum, zypper) from shared libraries. This crate holds three things:
//!
//! * [`abi`]: the frozen root module every plugin exports. It has two functions that pass
//!   serde-encoded (JSON) documents, and it never grows; new capabilities are new methods
//!   named in [`call`](abi::PluginRoot::call) or new optional fields in the documents.
//! * The versioned documents: [`Manifest`], [`Distro`], [`PlanRequest`], [`RuntimePlan`],
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
//! The plugin crate is a `cdylib` depending on `plugin-api` and on `abi_stable` (the export
//! attribute refers to it by name); see `docs/plugin-authors.md`.

#![deny(missing_docs)]

pub mod abi;
mod distro;
mod error;
pub mod host;
mod manifest;
pub mod prerequisites;
mod request;
mod sdk;
mod steps;
pub mod validate;
pub mod version;

pub use distro::Distro;
pub use error::{ErrorKind, PluginError};
pub use manifest::{Manifest, OptionDoc, PluginKind};
pub use request::{
    CgroupDriver, HandlerKind, Options, PlanRequest, RenderRequest, RenderResponse, RuntimeHandler,
    RuntimePlan, Source,
};
pub use sdk::{PackageManagerPlugin, RuntimePlugin};
pub use steps::{
    Action, Audit, Check, DownloadStep, Expect, FileContent, FileStep, Package, Phase, Probe,
    Repository, ResolveVersion, RestartTrigger, ServiceStep, SigningKey, SkipWhen, Step, StepKind,
    TomlEdit, VersionListing, VersionMatch, Vulnerability,
};

/// The protocol version this crate speaks: the version of the documents, not of the ABI.
///
/// A host accepts a plugin whose protocol has the same major version, whatever its minor.
/// Minor versions only add optional fields and optional methods; a reader ignores fields it
/// does not know and a caller treats [`ErrorKind::UnknownMethod`] as "not offered".
///
/// History (keep it; plugin authors read it):
/// * 1.0: `manifest`, the `plan` and `render` methods, the step model.
/// * 1.1: the optional `options` method (documented `--set` keys) and the optional
///   `description` field of the manifest; probes that compare stdout exactly or by whole
///   lines; `resolve` on `run` actions (partial pins resolved on the target); the
///   host-emitted `service`, `check` and `skip_if` actions; `skip_when` on file steps.
/// * 1.2: the optional `vulnerabilities` of a package, judged by the host against the version
///   a partial pin resolves to on the target; the optional `audit` of a `run` action, asked
///   when a package transaction fails.
/// * 1.3: the `download` step kind and action (a file or tar member pinned by sha256,
///   fetched and checked by the host before a run changes anything); the `set_default` TOML
///   edit (a key set only where the file has none) and `set_where` (a key set in every table
///   of a table of tables that a key selects); probes that expect stdout to lack a text.
/// * 1.4: the `yaml_set` and `env_flags` file contents (top-level scalar keys of an existing
///   YAML document set in place, comments kept; the flags an environment file's variable
///   holds), which the host uses to align and migrate the kubelet; `stop` and `disable` on
///   the service action; `remove` in a render request (packages to remove).
/// * 1.5: runtime handlers: a plugin's plan may declare `handlers` (a RuntimeClass handler in
///   no one schema's terms), and the host hands them in the plan request's `handlers` to the
///   `--runtime` plugin whose manifest declares the `runtime-handlers` capability, which adds
///   them to its own configuration; the manifest's optional `capabilities`.
pub const PROTOCOL_VERSION: &str = "1.5.0";

/// Method names understood by [`abi::PluginRoot::call`].
pub mod methods {
    /// Runtime plugins: [`PlanRequest`](crate::PlanRequest) in, [`RuntimePlan`](crate::RuntimePlan) out.
    pub const PLAN: &str = "plan";
    /// Package-manager plugins: [`RenderRequest`](crate::RenderRequest) in,
    /// [`RenderResponse`](crate::RenderResponse) out.
    pub const RENDER: &str = "render";
    /// Any plugin, since protocol 1.1: no input, a list of [`OptionDoc`](crate::OptionDoc) out.
    pub const OPTIONS: &str = "options";
}

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
