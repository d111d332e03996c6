//! A runtime plugin as it was built against protocol 1.0: its manifest has no `description`
//! and it offers no `options` method (both came with 1.1). It speaks the wire format directly,
//! the way a plugin compiled against the 1.0 SDK does, so that the documents it sends are
//! exactly 1.0 documents whatever the current types hold.
use abi_stable::{
    export_root_module,
    prefix_type::PrefixTypeTrait,
    std_types::{RResult, RStr, RString},
};
use plugin_api::abi::{PluginRoot, PluginRootRef};

extern "C" fn manifest() -> RResult<RString, RString> {
    RResult::ROk(RString::from(
        r#"{"name":"vintage","kind":"runtime","version":"1.0.3","protocol":"1.0.0","families":["debian","rhel","suse"]}"#,
    ))
}

extern "C" fn call(method: RStr<'_>, _input: RStr<'_>) -> RResult<RString, RString> {
    match method.as_str() {
        // A 1.0 plan: one file step and a fact; no field added after 1.0.
        "plan" => RResult::ROk(RString::from(
            r#"{"steps":[{"phase":"configuration","summary":"write the vintage config","why":"vintage reads it at start","type":"file","path":"/etc/vintage/vintage.conf","mode":420,"content":{"how":"full","text":"mode = classic\n"}}],"facts":{"cri_socket":"unix:///run/vintage.sock"},"warnings":[]}"#,
        )),
        other => RResult::RErr(RString::from(format!(
            r#"{{"kind":"unknown_method","message":"method `{other}` is not offered by this runtime plugin"}}"#
        ))),
    }
}

#[export_root_module]
fn root() -> PluginRootRef {
    PluginRoot { manifest, call }.leak_into_prefix()
}
