//! The `gvisor` plugin: gVisor's `runsc` as a runtime handler beside runc, added with
//! `--runtime containerd --with gvisor` (or `--runtime cri-o --with gvisor`). It installs the
//! `runsc` package from gVisor's apt repository, its key pinned by fingerprint, and declares
//! the handler `runsc`; the runtime plugin writes it into its own configuration.
//!
//! Facts, each with its source (checked 2026-11-29; docs/upstream-facts.md has the rows):
//! * Repository `https://storage.googleapis.com/gvisor/releases`, suite `release`, component
//!   `main`, key `https://gvisor.dev/archive.key`: gVisor's g3doc/user_guide/install.md.
//! * The key's fingerprint `6F1DF85E3A71C24918E727D56FC6D554E32BD943` (rsa4096, 2019-07-10,
//!   no expiry): read with `gpg --show-keys` from google/gvisor's website/archive.key (commit
//!   b6baa377, "Update gVisor release signing key to a version that does not expire"); no
//!   gVisor document prints it, so the plan says so.
//! * The `runsc` package installs `/usr/bin/runsc`, `/usr/bin/containerd-shim-runsc-v1` and
//!   the conffile `/etc/containerd/runsc.toml` (gvisor's debian/BUILD), for amd64 and arm64
//!   only (`select_arch(amd64=..., arm64=...)`).
//! * containerd: `runtime_type = "io.containerd.runsc.v1"`, options `TypeUrl =
//!   "io.containerd.runsc.v1.options"` and `ConfigPath` (g3doc/user_guide/containerd/
//!   quick_start.md and configuration.md).
//! * CRI-O: `runtime_type = "vm"` with the shim as `runtime_path` and `runtime_config_path`;
//!   CRI-O 1.37 or later, "not officially supported" (g3doc/user_guide/containerd/crio.md).

use std::collections::BTreeMap;

use plugin_api::kit::keys;
use plugin_api::kit::settings::{self, Settings};
use plugin_api::{
    export_plugin, HandlerKind, Manifest, OptionDoc, Package, Phase, PlanRequest, PluginError,
    Repository, RuntimeHandler, RuntimePlan, RuntimePlugin, Step, StepKind, VersionMatch,
};

/// The plugin's name.
pub const PLUGIN: &str = "gvisor";

/// gVisor's apt repository (install.md).
pub const REPOSITORY: &str = "https://storage.googleapis.com/gvisor/releases";

/// gVisor's signing key (install.md).
pub const KEY_URL: &str = "https://gvisor.dev/archive.key";

/// The key's fingerprint, read from google/gvisor's website/archive.key (see the crate doc).
pub const KEY_FINGERPRINT: &str = "6F1DF85E3A71C24918E727D56FC6D554E32BD943";

/// The shim the `runsc` package installs (gvisor's debian/BUILD).
pub const SHIM: &str = "/usr/bin/containerd-shim-runsc-v1";

/// runsc's configuration file, a conffile of the `runsc` package.
pub const CONFIG: &str = "/etc/containerd/runsc.toml";

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct Gvisor;

impl RuntimePlugin for Gvisor {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(PLUGIN, env!("CARGO_PKG_VERSION"), &["debian"]).with_description(
            "gVisor (runsc) as a runtime handler beside runc: --runtime containerd --with gvisor",
        )
    }

    fn options(&self) -> Vec<OptionDoc> {
        // The SDK's helpers document and read the usual repository options.
        let mut docs = vec![settings::doc(
            PLUGIN,
            "repo-url",
            "base URL of gVisor's apt repository, or of a mirror of it",
            Some(REPOSITORY),
        )];
        docs.extend(settings::key_options(PLUGIN, KEY_FINGERPRINT));
        docs.push(settings::doc(
            PLUGIN,
            "version",
            "the runsc release to pin and hold (gVisor's date-named releases, e.g. 20240212); default: the newest",
            None,
        ));
        docs
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        plan(request, &self.options())
    }
}

fn plan(request: &PlanRequest, known: &[OptionDoc]) -> Result<RuntimePlan, PluginError> {
    let distro = &request.distro;
    if !matches!(distro.arch.as_str(), "amd64" | "arm64") {
        return Err(PluginError::unsupported(format!(
            "gVisor publishes runsc for amd64 and arm64, not {}",
            distro.arch
        ))
        .with_hint("run gVisor on an amd64 or arm64 node, or leave out --with gvisor"));
    }
    // The SDK's helpers: unknown --set keys refused, the key's URL and fingerprint checked.
    let settings = Settings::new(PLUGIN, &request.options, known)?;
    let url = keys::url_setting(&settings, "repo-url", REPOSITORY)?;
    let key = keys::signing_key(&settings, "gVisor", KEY_URL, &[KEY_FINGERPRINT])?;
    let version = settings.get("version").map(str::to_owned);
    let repository = Repository {
        id: "gvisor".into(),
        name: "gVisor".into(),
        url,
        suite: Some("release".into()),
        components: vec!["main".into()],
        architectures: vec![distro.arch.clone()],
        key: Some(key),
        vendor: true,
        requested_by: Vec::new(),
    };
    let mut warnings = vec![format!(
        "gVisor's key fingerprint {KEY_FINGERPRINT} was read from the key gVisor's repository \
         publishes (google/gvisor website/archive.key); no gVisor document states it"
    )];
    if request.options.runtime == "cri-o" {
        warnings.push(
            "gVisor's CRI-O guide needs CRI-O 1.37 or later and says CRI-O is not officially \
             supported nor covered by gVisor's tests"
                .into(),
        );
    }
    Ok(RuntimePlan {
        steps: vec![
            Step::new(
                Phase::Repositories,
                "gVisor's apt repository",
                "runsc comes from gVisor's own repository, its key checked by fingerprint",
                StepKind::Repository(repository),
            ),
            Step::new(
                Phase::Packages,
                match &version {
                    Some(v) => format!("install runsc {v}"),
                    None => "install runsc".to_owned(),
                },
                "runsc, its containerd shim and its configuration file",
                StepKind::Packages {
                    packages: vec![Package {
                        name: "runsc".into(),
                        hold: version.is_some(),
                        version,
                        version_match: VersionMatch::Prefix,
                        requested_by: Vec::new(),
                        vulnerabilities: Vec::new(),
                    }],
                },
            ),
        ],
        facts: BTreeMap::new(),
        warnings,
        handlers: vec![RuntimeHandler {
            name: "runsc".into(),
            shim: "io.containerd.runsc.v1".into(),
            binary: Some(SHIM.into()),
            kind: HandlerKind::Vm,
            config_path: Some(CONFIG.into()),
            options: BTreeMap::from([("TypeUrl".into(), "io.containerd.runsc.v1.options".into())]),
            plugin: String::new(),
        }],
    })
}

export_plugin!(runtime: Gvisor);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::{Distro, Options};

    fn request(arch: &str, runtime: &str) -> PlanRequest {
        PlanRequest {
            distro: Distro::new("debian-12", "debian", "apt")
                .with_version_id("12")
                .with_codename("bookworm")
                .with_arch(arch),
            options: Options {
                runtime: runtime.into(),
                ..Options::default()
            },
            handlers: Vec::new(),
        }
    }

    #[test]
    fn declares_runsc_for_the_runtime_to_add_and_installs_it_from_gvisors_repository() {
        let plan = plan(&request("arm64", "containerd"), &Gvisor.options()).unwrap();
        let h = &plan.handlers[0];
        assert_eq!(
            (h.name.as_str(), h.shim.as_str()),
            ("runsc", "io.containerd.runsc.v1")
        );
        assert_eq!(h.config_path.as_deref(), Some(CONFIG));
        let StepKind::Repository(repo) = &plan.steps[0].kind else {
            panic!("{:?}", plan.steps[0])
        };
        assert_eq!(repo.architectures, vec!["arm64".to_owned()]);
        assert_eq!(
            repo.key.as_ref().unwrap().fingerprints,
            vec![KEY_FINGERPRINT.to_owned()]
        );
        assert!(plan.warnings.iter().all(|w| !w.contains("CRI-O")));
        let under_crio = plan_of("amd64", "cri-o");
        assert!(under_crio.warnings.iter().any(|w| w.contains("CRI-O 1.37")));
        let refused = super::plan(&request("armhf", "containerd"), &Gvisor.options()).unwrap_err();
        assert!(refused.message.contains("amd64 and arm64"), "{refused:?}");
    }

    fn plan_of(arch: &str, runtime: &str) -> RuntimePlan {
        super::plan(&request(arch, runtime), &Gvisor.options()).unwrap()
    }
}
