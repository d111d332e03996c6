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
