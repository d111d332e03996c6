//! The plugin author's side: traits to implement and the machinery behind [`export_plugin!`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::std_types::{RResult, RString};
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    methods, ErrorKind, Manifest, OptionDoc, PlanRequest, PluginError, RenderRequest,
    RenderResponse, RuntimePlan,
};

/// A runtime plugin: turns a distro and the user's options into abstract steps.
///
/// Implementations must be pure: no files written, no commands run. The host does every side
/// effect, which is what makes plans exact and dry runs truthful.
pub trait RuntimePlugin: Default {
    /// Who the plugin is. Build it with [`Manifest::runtime`].
    fn manifest(&self) -> Manifest;

    /// The steps that install and configure the runtime on `request.distro`.
    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError>;

    /// The `--set` keys this plugin understands.
    fn options(&self) -> Vec<OptionDoc> {
        Vec::new()
    }
}

/// A package-manager plugin: turns repositories and packages into concrete actions.
pub trait PackageManagerPlugin: Default {
    /// Who the plugin is. Build it with [`Manifest::package_manager`].
    fn manifest(&self) -> Manifest;

    /// Concrete steps adding every repository, refreshing the index once and installing every
    /// package in one transaction.
    fn render(&self, request: &RenderRequest) -> Result<RenderResponse, PluginError>;

    /// The `--set` keys this plugin understands.
    fn options(&self) -> Vec<OptionDoc> {
        Vec::new()
    }
}

/// Runs `f`, turning a panic into a [`PluginError`] of kind [`ErrorKind::Panic`], and encodes
/// the result for the boundary. A panic must never unwind into the host: abi_stable would turn
/// it into `process::exit`.
pub fn guard(f: impl FnOnce() -> Result<String, PluginError>) -> RResult<RString, RString> {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
        Err(PluginError::new(
            ErrorKind::Panic,
            format!("panicked: {message}"),
        ))
    });
    match outcome {
        Ok(json) => RResult::ROk(RString::from(json)),
        Err(error) => RResult::RErr(RString::from(encode(&error).unwrap_or_else(|e| e.message))),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String, PluginError> {
    serde_json::to_string(value).map_err(|e| {
        PluginError::new(
            ErrorKind::Internal,
            format!("cannot encode the answer: {e}"),
        )
    })
}

fn decode<T: DeserializeOwned>(method: &str, input: &str) -> Result<T, PluginError> {
    serde_json::from_str(input).map_err(|e| {
        PluginError::new(
            ErrorKind::BadRequest,
            format!("cannot decode the `{method}` request: {e}"),
        )
    })
}

fn unknown(method: &str, kind: &str) -> PluginError {
    PluginError::new(
        ErrorKind::UnknownMethod,
        format!("method `{method}` is not offered by this {kind} plugin"),
    )
}

/// Dispatches a call to a runtime plugin.
pub fn dispatch_runtime<P: RuntimePlugin>(
    method: &str,
    input: &str,
) -> Result<String, PluginError> {
    let plugin = P::default();
    match method {
        "manifest" => encode(&plugin.manifest()),
        methods::PLAN => encode(&plugin.plan(&decode::<PlanRequest>(method, input)?)?),
        methods::OPTIONS => encode(&plugin.options()),
        other => Err(unknown(other, "runtime")),
    }
}

/// Dispatches a call to a package-manager plugin.
pub fn dispatch_package_manager<P: PackageManagerPlugin>(
    method: &str,
    input: &str,
) -> Result<String, PluginError> {
    let plugin = P::default();
    match method {
        "manifest" => encode(&plugin.manifest()),
        methods::RENDER => encode(&plugin.render(&decode::<RenderRequest>(method, input)?)?),
        methods::OPTIONS => encode(&plugin.options()),
        other => Err(unknown(other, "package-manager")),
    }
}

/// Exports a plugin type from a `cdylib` crate: `export_plugin!(runtime: MyRuntime)` or
/// `export_plugin!(package_manager: MyPackageManager)`. The type must implement `Default` and
/// the matching trait. Use it once per crate.
///
/// Every entry point is wrapped so that a panic becomes an error document naming the panic,
/// never an unwind across the boundary.
#[macro_export]
macro_rules! export_plugin {
    (runtime: $plugin:ty) => {
        $crate::export_plugin!(@export $plugin, $crate::__private::dispatch_runtime::<$plugin>);
    };
    (package_manager: $plugin:ty) => {
        $crate::export_plugin!(@export $plugin, $crate::__private::dispatch_package_manager::<$plugin>);
    };
    (@export $plugin:ty, $dispatch:expr) => {
        // What abi_stable's `#[export_root_module]` writes, spelled out with paths into this
        // crate, so that a plugin needs no abi_stable dependency of its own: the library
        // header under the symbol abi_stable's loader looks up
        // (`__private::ROOT_MODULE_LOADER_NAME`, held to abi_stable's by a test).
        #[no_mangle]
        #[allow(unsafe_code, non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            pub extern "C" fn _sabi_erased_module() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(__installer_plugin_root)
            }
            type __SabiModule = <$crate::abi::PluginRootRef as $crate::__private::IntoRootModuleResult>::Module;
            // SAFETY: abi_stable's own construction for a root module, with its layout check.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<__SabiModule>(
                    _sabi_erased_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };

        fn __installer_plugin_root() -> $crate::abi::PluginRootRef {
            use $crate::__private::PrefixTypeTrait as _;

            extern "C" fn manifest() -> $crate::__private::RResult<
                $crate::__private::RString,
                $crate::__private::RString,
            > {
                $crate::__private::guard(|| $dispatch("manifest", ""))
            }

            extern "C" fn call(
                method: $crate::__private::RStr<'_>,
                input: $crate::__private::RStr<'_>,
            ) -> $crate::__private::RResult<$crate::__private::RString, $crate::__private::RString>
            {
                $crate::__private::guard(|| $dispatch(method.as_str(), input.as_str()))
            }

            $crate::abi::PluginRoot { manifest, call }.leak_into_prefix()
        }
    };
}
