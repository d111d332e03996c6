//! The documents `installer` and its plugins exchange, and nothing else: the manifest, the
//! distro, plan and render requests and answers, the step model, errors, the shared checks of
//! values, and version pins. Serde-encoded as JSON across the plugin boundary; versioned by
//! [`PROTOCOL_VERSION`]; no ABI type in them (plugin-api holds the ABI and the SDK, and
//! re-exports all of this). `tests/wire.rs` keeps golden JSON of every document.

#![deny(missing_docs)]

mod distro;
mod error;
mod manifest;
pub mod prerequisites;
mod request;
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

/// Method names a plugin answers (plugin-api's `abi::PluginRoot::call`).
pub mod methods {
    /// Runtime plugins: [`PlanRequest`](crate::PlanRequest) in, [`RuntimePlan`](crate::RuntimePlan) out.
    pub const PLAN: &str = "plan";
    /// Package-manager plugins: [`RenderRequest`](crate::RenderRequest) in,
    /// [`RenderResponse`](crate::RenderResponse) out.
    pub const RENDER: &str = "render";
    /// Any plugin, since protocol 1.1: no input, a list of [`OptionDoc`](crate::OptionDoc) out.
    pub const OPTIONS: &str = "options";
}
