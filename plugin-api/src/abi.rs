//! The frozen root module: the only thing that crosses the boundary as machine code.
//!
//! Do not add fields here. abi_stable refuses a library whose root module has fewer prefix
//! fields than the host's, so every added field would break every plugin already built.
//! Grow the protocol through new method names passed to [`PluginRoot::call`] and new optional
//! fields in the documents instead.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    sabi_types::VersionStrings,
    std_types::{RResult, RStr, RString},
    StableAbi,
};

/// What every plugin library exports.
///
/// Both functions return a JSON document on success and a JSON-encoded
/// [`PluginError`](crate::PluginError) on failure.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginRootRef)))]
#[sabi(missing_field(panic))]
pub struct PluginRoot {
    /// The plugin's [`Manifest`](crate::Manifest), as JSON.
    pub manifest: extern "C" fn() -> RResult<RString, RString>,
    /// Calls the method named by the first argument (see [`crate::methods`]) with the JSON
    /// document in the second.
    #[sabi(last_prefix_field)]
    pub call: extern "C" fn(RStr<'_>, RStr<'_>) -> RResult<RString, RString>,
}

impl RootModule for PluginRootRef {
    declare_root_module_statics! {PluginRootRef}
    const BASE_NAME: &'static str = "installer_plugin";
    const NAME: &'static str = "installer_plugin";
    // The version of the root module's shape, fixed forever: the protocol version travels in
    // the manifest, so abi_stable's own version check must never reject a plugin for it.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
}
