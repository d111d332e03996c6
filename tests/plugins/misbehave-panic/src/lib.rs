//! Describes itself properly, then panics when asked to plan.
use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

#[derive(Default)]
struct Panicky;

impl RuntimePlugin for Panicky {
    fn manifest(&self) -> Manifest {
        Manifest::runtime("panicky", "0.1.0", &["debian", "rhel", "suse"])
    }
    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        panic!("no plan for {} today", request.distro.id)
    }
}

export_plugin!(runtime: Panicky);
