//! A plugin built with abi_stable 0.10, whose ABI differs from the host's 0.11: the host must
//! refuse it as "built with an incompatible abi_stable".

use abi_stable::{
    export_root_module,
    library::RootModule,
    package_version_strings,
    prefix_type::PrefixTypeTrait,
    sabi_types::VersionStrings,
    std_types::{RResult, RStr, RString},
    StableAbi,
};

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = "PluginRootRef")))]
#[sabi(missing_field(panic))]
pub struct PluginRoot {
    pub manifest: extern "C" fn() -> RResult<RString, RString>,
    #[sabi(last_prefix_field)]
    pub call: extern "C" fn(RStr<'_>, RStr<'_>) -> RResult<RString, RString>,
}

impl RootModule for PluginRootRef {
    abi_stable::declare_root_module_statics! {PluginRootRef}
    const BASE_NAME: &'static str = "installer_plugin";
    const NAME: &'static str = "installer_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

extern "C" fn manifest() -> RResult<RString, RString> {
    RResult::ROk(RString::from(
        r#"{"name":"old-abi","kind":"runtime","version":"0.1.0","protocol":"1.1.0"}"#,
    ))
}

extern "C" fn call(_: RStr<'_>, _: RStr<'_>) -> RResult<RString, RString> {
    RResult::RErr(RString::from("unused"))
}

#[export_root_module]
fn root() -> PluginRootRef {
    PluginRoot { manifest, call }.leak_into_prefix()
}
