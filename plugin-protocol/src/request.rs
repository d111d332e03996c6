use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Distro, Package, Repository, Step};

/// What the host asks a runtime plugin to plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRequest {
    /// The target distro.
    pub distro: Distro,
    /// The user's selection.
    pub options: Options,
    /// For the runtime plugin (`--runtime`) that declares [`crate::Manifest::RUNTIME_HANDLERS`]:
    /// the runtime handlers the plugins added with `--with` declared, to be added to its own
    /// configuration in its own schema, with its own restart (since protocol 1.5). Empty for
    /// every other plugin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<RuntimeHandler>,
}

/// A runtime handler (a RuntimeClass `handler`: gVisor's `runsc`, Kata's `kata`, NVIDIA's
/// `nvidia`) that a plugin adds to the CRI runtime's configuration, in terms of no one schema:
/// the runtime plugin that owns the configuration (containerd for each schema it writes,
/// CRI-O in a drop-in) writes it in its own, and restarts its own service (since protocol 1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeHandler {
    /// Its name, which a RuntimeClass's `handler` names (`runsc`).
    pub name: String,
    /// The containerd shim that runs it (containerd's `runtime_type`): its own
    /// (`io.containerd.runsc.v1`, `io.containerd.kata.v2`), or runc's (`io.containerd.runc.v2`)
    /// for a runc-compatible [`RuntimeHandler::binary`].
    pub shim: String,
    /// The runtime program, an absolute path on the target: what runc's shim runs instead of
    /// runc (containerd's `BinaryName`), what CRI-O runs (`runtime_path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// How CRI-O runs it: an OCI runtime (`oci`, the default) or a shim (`vm`: Kata's, and
    /// gVisor's `containerd-shim-runsc-v1`, per gVisor's CRI-O guide).
    #[serde(default)]
    pub kind: HandlerKind,
    /// The runtime's own configuration file, an absolute path on the target: containerd's
    /// `ConfigPath` option, CRI-O's `runtime_config_path` (for a `vm` handler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// Options for containerd's shim, written in the handler's `options` table (`ConfigPath`,
    /// `TypeUrl`); CRI-O has no such table and does not use them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// The plugin that declared it; filled in by the host.
    #[serde(default)]
    pub plugin: String,
}

/// How CRI-O runs a [`RuntimeHandler`] (its `runtime_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    /// An OCI runtime binary, as runc is.
    #[default]
    Oci,
    /// A VM-based runtime's shim (Kata Containers).
    Vm,
}

/// The user's selection, from the command line and `--config`, already validated by the host
/// for shape (no shell metacharacters, no path escapes); plugins validate meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// The runtime plugin selected (`--runtime`).
    pub runtime: String,
    /// `--version`: the runtime version to pin; `None` lets the plugin choose.
    pub version: Option<String>,
    /// `--kubernetes-version`, as `X.Y`.
    pub kubernetes_version: Option<String>,
    /// The cgroup driver the host resolved (`auto` is resolved before plugins see it).
    pub cgroup_driver: CgroupDriver,
    /// Why the host chose that driver, for the plan's text.
    pub cgroup_driver_reason: String,
    /// `--sandbox-image`.
    pub sandbox_image: Option<String>,
    /// `--source`.
    pub source: Source,
    /// `--mirror`: a base URL replacing the vendor repository.
    pub mirror: Option<String>,
    /// `--set KEY=VALUE` pairs.
    pub set: BTreeMap<String, String>,
    /// CVE ids named by `--allow-vulnerable`.
    pub allow_vulnerable: Vec<String>,
    /// `--allow-insecure-repo`: plain http repositories accepted.
    pub allow_insecure_repo: bool,
}

/// The cgroup driver for the runtime and the kubelet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupDriver {
    /// systemd manages cgroups (systemd is init, or the host is on cgroup v2).
    #[default]
    Systemd,
    /// The runtime manages cgroups through cgroupfs.
    Cgroupfs,
}

impl CgroupDriver {
    /// `systemd` or `cgroupfs`, as the kubelet and the runtimes spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupDriver::Systemd => "systemd",
            CgroupDriver::Cgroupfs => "cgroupfs",
        }
    }
}

impl std::fmt::Display for CgroupDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the runtime's packages come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The vendor's repository (Docker's, Kubic/pkgs.k8s.io, Mirantis').
    #[default]
    Upstream,
    /// The distro's own archive.
    Distro,
}

/// A runtime plugin's answer: abstract steps, and facts about the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimePlan {
    /// The steps, in any order; the host orders them by phase.
    pub steps: Vec<Step>,
    /// Facts about the installed runtime: `cri_socket`, `version`, `cgroup_driver`, ...
    pub facts: BTreeMap<String, String>,
    /// Warnings for the user, shown with the plan.
    pub warnings: Vec<String>,
    /// Runtime handlers this plugin adds to the CRI runtime's configuration, which the runtime
    /// plugin that owns it writes (since protocol 1.5): a plugin joining with `--with` never
    /// edits containerd's or CRI-O's files itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<RuntimeHandler>,
}

/// What the host asks a package-manager plugin to render: every repository and package the
/// plan needs, already merged across plugins, so that the plugin can batch them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderRequest {
    /// The target distro.
    pub distro: Distro,
    /// The user's selection.
    pub options: Options,
    /// Repositories to add, with the plugin that asked for each in [`Repository::requested_by`].
    #[serde(default)]
    pub repositories: Vec<Repository>,
    /// Packages to install in one transaction.
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Packages to remove where they are installed, held or not (since protocol 1.4; a host
    /// sends none to a plugin of an older protocol, which would ignore them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// A package-manager plugin's answer: concrete steps (each a
/// [`StepKind::Actions`](crate::StepKind::Actions)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenderResponse {
    /// The steps in the order they must run.
    pub steps: Vec<Step>,
    /// Warnings for the user.
    pub warnings: Vec<String>,
}
