//! A plugin that declares protocol 2.0: a major this host does not speak.
use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

#[derive(Default)]
struct Future;

impl RuntimePlugin for Future {
    fn manifest(&self) -> Manifest {
        Manifest {
            protocol: "2.0.0".into(),
            ..Manifest::runtime("future", "3.0.0", &["debian"])
        }
    }
    fn plan(&self, _: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        Ok(RuntimePlan::default())
    }
}

export_plugin!(runtime: Future);
