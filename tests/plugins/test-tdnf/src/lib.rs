//! A vendor's package-manager plugin, as a distro vendor would ship one beside its pack: it
//! drives `tdnf` (Photon OS's), which no built-in plugin knows, so a pack naming
//! `package_manager = "tdnf"` plans only when this plugin is loaded.
use plugin_api::{
    export_plugin, Action, Expect, Manifest, PackageManagerPlugin, Phase, PluginError, Probe,
    RenderRequest, RenderResponse, Step, StepKind,
};

#[derive(Default)]
struct Tdnf;

impl PackageManagerPlugin for Tdnf {
    fn manifest(&self) -> Manifest {
        Manifest::package_manager("tdnf", "0.1.0", &["rhel"], &["tdnf"])
            .with_description("tdnf (a test fixture): packages, no repositories")
    }

    fn render(&self, request: &RenderRequest) -> Result<RenderResponse, PluginError> {
        let names: Vec<String> = request.packages.iter().map(|p| p.name.clone()).collect();
        let mut argv = vec!["tdnf".to_owned(), "install".to_owned(), "-y".to_owned()];
        argv.extend(names.iter().cloned());
        let mut probe = vec!["rpm".to_owned(), "-q".to_owned()];
        probe.extend(names.iter().cloned());
        Ok(RenderResponse {
            steps: vec![Step::new(
                Phase::Packages,
                format!("Install {} with tdnf", names.join(", ")),
                "",
                StepKind::Actions {
                    actions: vec![Action::Run {
                        argv,
                        env: Default::default(),
                        unless: Some(Probe {
                            argv: probe,
                            expect: Expect::Success,
                        }),
                        transaction: true,
                        resolve: Vec::new(),
                        audit: None,
                    }],
                },
            )],
            warnings: Vec::new(),
        })
    }
}

export_plugin!(package_manager: Tdnf);
