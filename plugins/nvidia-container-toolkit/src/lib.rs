//! The `nvidia-container-toolkit` plugin: NVIDIA's container runtime as the runtime handler
//! `nvidia` beside runc, added with `--with nvidia-container-toolkit`, so that pods of a
//! RuntimeClass naming `nvidia` get the node's GPUs. It installs `nvidia-container-toolkit`
//! from NVIDIA's apt repository, its key pinned by fingerprint, and declares the handler; the
//! runtime plugin writes it into its own configuration (for containerd with runc's cgroup
//! driver, which `nvidia-ctk runtime configure` only copies when runc already has it).
//!
//! Facts, each with its source (checked 2026-11-29; docs/upstream-facts.md has the rows):
//! * Repository: the flat repository `https://nvidia.github.io/libnvidia-container/stable/deb/
//!   $(ARCH) /` (the list file NVIDIA's install guide fetches, libnvidia-container's gh-pages
//!   `stable/deb/nvidia-container-toolkit.list`), with `amd64` and `arm64` directories.
//! * Key `https://nvidia.github.io/libnvidia-container/gpgkey` (NVIDIA/cloud-native-docs
//!   container-toolkit/install-guide.md); its fingerprint `C95B321B61E88C1809C4F759DDCAE044
//!   F796ECB0` is the issuer of the signature on `stable/deb/amd64/InRelease`, matching the
//!   long id `DDCAE044F796ECB0` of NVIDIA/nvidia-container-runtime#88; no NVIDIA document
//!   prints it, so the plan says so.
//! * Package `nvidia-container-toolkit` (install-guide.md).
//! * Handler: `nvidia`, runc's shim with `BinaryName = "/usr/bin/nvidia-container-runtime"`
//!   (nvidia-container-toolkit pkg/config/engine/containerd); CRI-O: `runtime_path` that
//!   program, `runtime_type = "oci"` (pkg/config/engine/crio).

use std::collections::BTreeMap;

use plugin_api::kit::keys;
use plugin_api::kit::settings::{self, Settings};
use plugin_api::{
    export_plugin, HandlerKind, Manifest, OptionDoc, Package, Phase, PlanRequest, PluginError,
    Repository, RuntimeHandler, RuntimePlan, RuntimePlugin, Step, StepKind, VersionMatch,
};

/// The plugin's name.
pub const PLUGIN: &str = "nvidia-container-toolkit";

/// NVIDIA's flat apt repository, without the architecture directory.
pub const REPOSITORY: &str = "https://nvidia.github.io/libnvidia-container/stable/deb";

/// NVIDIA's signing key.
pub const KEY_URL: &str = "https://nvidia.github.io/libnvidia-container/gpgkey";

/// The key's fingerprint (see the crate doc).
pub const KEY_FINGERPRINT: &str = "C95B321B61E88C1809C4F759DDCAE044F796ECB0";

/// The program runc's shim runs for the `nvidia` handler.
pub const RUNTIME: &str = "/usr/bin/nvidia-container-runtime";

/// The plugin; stateless, as every plugin is.
#[derive(Default)]
pub struct NvidiaContainerToolkit;

impl RuntimePlugin for NvidiaContainerToolkit {
    fn manifest(&self) -> Manifest {
        Manifest::runtime(PLUGIN, env!("CARGO_PKG_VERSION"), &["debian"]).with_description(
            "NVIDIA's container runtime as the runtime handler `nvidia`: --with nvidia-container-toolkit",
        )
    }

    fn options(&self) -> Vec<OptionDoc> {
        // The SDK's helpers document and read the usual repository options.
        let mut docs = vec![settings::doc(
            PLUGIN,
            "repo-url",
            "base URL of NVIDIA's apt repository (without the architecture), or of a mirror of it",
            Some(REPOSITORY),
        )];
        docs.extend(settings::key_options(PLUGIN, KEY_FINGERPRINT));
        docs.push(settings::doc(
            PLUGIN,
            "version",
            "the toolkit release to pin and hold (1.17, 1.17.8-1); default: the newest",
            None,
        ));
        docs
    }

    fn plan(&self, request: &PlanRequest) -> Result<RuntimePlan, PluginError> {
        let distro = &request.distro;
        if !matches!(distro.arch.as_str(), "amd64" | "arm64") {
            return Err(PluginError::unsupported(format!(
                "NVIDIA's repository publishes the toolkit for amd64 and arm64 here, not {}",
                distro.arch
            ))
            .with_hint("leave out --with nvidia-container-toolkit on this node"));
        }
        // The SDK's helpers: unknown --set keys refused, the key's URL and fingerprint checked.
        let settings = Settings::new(PLUGIN, &request.options, &self.options())?;
        let base = keys::url_setting(&settings, "repo-url", REPOSITORY)?;
        let key = keys::signing_key(&settings, "NVIDIA", KEY_URL, &[KEY_FINGERPRINT])?;
        let version = settings.get("version").map(str::to_owned);
        let repository = Repository {
            id: "nvidia-container-toolkit".into(),
            name: "NVIDIA Container Toolkit".into(),
            // A flat repository per architecture: `deb <url>/<arch> /`.
            url: format!("{base}/{}", distro.arch),
            suite: Some("/".into()),
            components: Vec::new(),
            architectures: Vec::new(),
            key: Some(key),
            vendor: true,
            requested_by: Vec::new(),
        };
        Ok(RuntimePlan {
            steps: vec![
                Step::new(
                    Phase::Repositories,
                    "NVIDIA's apt repository",
                    "the toolkit comes from NVIDIA's own repository, its key checked by fingerprint",
                    StepKind::Repository(repository),
                ),
                Step::new(
                    Phase::Packages,
                    match &version {
                        Some(v) => format!("install nvidia-container-toolkit {v}"),
                        None => "install nvidia-container-toolkit".to_owned(),
                    },
                    "nvidia-container-runtime, which gives containers the node's GPUs (the NVIDIA driver itself is the node's)",
                    StepKind::Packages {
                        packages: vec![Package {
                            name: "nvidia-container-toolkit".into(),
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
            warnings: vec![format!(
                "NVIDIA's key fingerprint {KEY_FINGERPRINT} was read from the signature on its \
                 repository's InRelease; no NVIDIA document prints it"
            )],
            handlers: vec![RuntimeHandler {
                name: "nvidia".into(),
                shim: "io.containerd.runc.v2".into(),
                binary: Some(RUNTIME.into()),
                kind: HandlerKind::Oci,
                config_path: None,
                options: BTreeMap::new(),
                plugin: String::new(),
            }],
        })
    }
}

export_plugin!(runtime: NvidiaContainerToolkit);
