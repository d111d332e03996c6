//! Aborts the process as soon as the host asks who it is.
use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

#[derive(Default)]
struct Aborter;

impl RuntimePlugin for Aborter {
    fn manifest(&self) -> Manifest {
        eprintln!("aborter: giving up");
        std::process::abort()
    }
    fn plan(&self, _: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        std::process::abort()
    }
}

export_plugin!(runtime: Aborter);
