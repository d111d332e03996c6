//! A runtime plugin from the future of protocol 1.x (1.9): its manifest and its plan carry
//! fields this host has never heard of. Within a major, the host must ignore them and work.
use abi_stable::{
    export_root_module,
    prefix_type::PrefixTypeTrait,
    std_types::{RResult, RStr, RString},
};
use plugin_api::abi::{PluginRoot, PluginRootRef};

extern "C" fn manifest() -> RResult<RString, RString> {
    RResult::ROk(RString::from(
        r#"{"name":"tomorrow","kind":"runtime","version":"2.4.0","protocol":"1.9.0","families":["debian","rhel","suse"],"description":"from protocol 1.9","homepage":"https://example.invalid","signing":{"sha256":"00"}}"#,
    ))
}

extern "C" fn call(method: RStr<'_>, input: RStr<'_>) -> RResult<RString, RString> {
    match method.as_str() {
        // Asked for it, the plugin uses a step kind from its future: `firmware`.
        "plan" if input.as_str().contains("tomorrow.new-step") => RResult::ROk(RString::from(
            r#"{"steps":[{"phase":"prerequisites","summary":"flash the NIC","type":"firmware","image":"nic.bin"}],"facts":{},"warnings":[]}"#,
        )),
        "plan" => RResult::ROk(RString::from(
            r#"{"steps":[{"phase":"configuration","summary":"write the tomorrow config","why":"tomorrow reads it","type":"file","path":"/etc/tomorrow/config","mode":420,"content":{"how":"full","text":"x = 1\n"},"priority":7}],"facts":{"cri_socket":"unix:///run/tomorrow.sock"},"warnings":[],"telemetry":false}"#,
        )),
        "options" => RResult::ROk(RString::from(
            r#"[{"key":"tomorrow.speed","help":"how fast","default":"1","since":"1.9"},{"key":"tomorrow.new-step","help":"use a step kind from the future"}]"#,
        )),
        other => RResult::RErr(RString::from(format!(
            r#"{{"kind":"unknown_method","message":"method `{other}` is not offered"}}"#
        ))),
    }
}

#[export_root_module]
fn root() -> PluginRootRef {
    PluginRoot { manifest, call }.leak_into_prefix()
}
