//! The SELECTION of CLI.md: what to install, as the flags (and `--config` file) give it.
//! `options::resolve` turns it into the plugins' [`plugin_api::Options`].
// The doc comments are `--help` text, where <placeholders> are plain words, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::Args;

/// What to install: the SELECTION of CLI.md.
#[derive(Debug, Clone, Args, Default)]
pub struct Selection {
    /// Distro pack id (debian-10, ubuntu-20.04, centos-7, ...); default: detected from
    /// <root>/etc/os-release.
    #[arg(long, value_name = "ID")]
    pub distro: Option<String>,

    /// The runtime plugin: docker, containerd, cri-o, mcr, or any loaded runtime plugin.
    #[arg(long, value_name = "NAME")]
    pub runtime: Option<String>,

    /// Runtime version to pin; default: the plugin's choice for the distro.
    #[arg(long, value_name = "VER")]
    pub version: Option<String>,

    /// Target Kubernetes version, X.Y (CRI-O's minor must match it).
    #[arg(long, value_name = "X.Y")]
    pub kubernetes_version: Option<String>,

    /// cgroup driver for the runtime and kubelet: systemd, cgroupfs, or auto (systemd when
    /// systemd is init or the host is on cgroup v2).
    #[arg(long, value_name = "DRIVER", value_parser = ["systemd", "cgroupfs", "auto"])]
    pub cgroup_driver: Option<String>,

    /// Machine architecture of the target (x86_64, aarch64, ... or dpkg's amd64, arm64);
    /// default: this machine's. `render` without it decides on the node, when the script or
    /// playbook runs.
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,

    /// Pause (sandbox) image for the runtime.
    #[arg(long, value_name = "REF")]
    pub sandbox_image: Option<String>,

    /// Vendor repository (upstream) or the distro's own archive (distro).
    #[arg(long, value_name = "SOURCE", value_parser = ["upstream", "distro"])]
    pub source: Option<String>,

    /// Base URL replacing the vendor repository (air-gapped sites).
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,

    /// Plugin option KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Another runtime-kind plugin whose steps are composed with the runtime's (an in-house
    /// plugin adding site configuration, say) (repeatable).
    #[arg(long = "with", value_name = "PLUGIN")]
    pub with: Vec<String>,

    /// Accept a runtime version with this known container-escape CVE (repeatable; name each
    /// CVE, e.g. CVE-2020-15257).
    #[arg(long = "allow-vulnerable", value_name = "CVE-ID")]
    pub allow_vulnerable: Vec<String>,

    /// Accept plain-http repositories (other than loopback mirrors) and repositories without a
    /// signing key.
    #[arg(long)]
    pub allow_insecure_repo: bool,

    /// Where a configuration file on the target already sets KEY to another value than the
    /// plan's, the plan's wins (repeatable). Without it such a file is a conflict: plan shows
    /// it and run refuses. KEY as the conflict names it (`storage-driver`,
    /// `log-opts.max-size`, `exec-opts`) or its last part.
    #[arg(long = "override", value_name = "KEY")]
    pub overrides: Vec<String>,

    /// Also align the kubelet with the runtime: set cgroupDriver and containerRuntimeEndpoint
    /// in /var/lib/kubelet/config.yaml in place (other settings and comments kept), and
    /// restart the kubelet if it runs. A node kubeadm has not joined yet is left alone, with a
    /// warning.
    #[arg(long)]
    pub configure_kubelet: bool,

    /// Packages the plan removes where installed (set by `migrate --remove-docker`).
    #[arg(skip)]
    pub remove_packages: Vec<String>,

    /// Set by `render` composing one plan per kind of node: the cgroup driver given here is
    /// the one the rendered script or playbook finds on the node, not the user's flag (the
    /// plan's reasons say so).
    #[arg(skip)]
    pub for_node: bool,

    /// TOML file holding any of the above (same names, `set` as a table); flags win.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}
