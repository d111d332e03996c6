//! Describes itself properly, then dereferences a null pointer when asked to plan.
use plugin_api::{export_plugin, Manifest, PlanRequest, PluginError, RuntimePlan, RuntimePlugin};

#[derive(Default)]
struct Segv;

impl RuntimePlugin for Segv {
    fn manifest(&self) -> Manifest {
        Manifest::runtime("segv", "0.1.0", &["debian", "rhel", "suse"])
    }
    fn plan(&self, _: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        let null: *mut u32 = std::hint::black_box(std::ptr::null_mut());
        // SAFETY: none; this fixture crashes on purpose to prove the host survives it.
        unsafe { null.write_volatile(1) };
        unreachable!()
    }
}

export_plugin!(runtime: Segv);
