//! What the built-in runtime plugins (containerd, docker, cri-o, mcr) share beyond the SDK's
//! helpers (`plugin_api::kit`, re-exported here).
//!
//! * [`version`]: the user's `--version` and `--kubernetes-version`, parsed once, compared by
//!   number but spelled as the user wrote them (Docker's `19.03` keeps its zero).
//! * [`image`]: `--sandbox-image` checked against the image-reference grammar.
//! * [`settings`]: the `--set <plugin>.<key>` options, with unknown keys refused.
//! * [`keys`]: `--mirror`, `--set <plugin>.key-url` and `--set <plugin>.key-fingerprint`
//!   applied to a vendor repository and its signing key.
//! * [`cve`]: refusing versions with known container-escape vulnerabilities unless the user
//!   names each one with `--allow-vulnerable`.
//! * [`docker_repo`]: Docker's package repository, which serves both `docker-ce` and
//!   `containerd.io`.
//! * [`facts`]: the facts every plan reports (CRI socket, cgroup driver).
//! * [`daemon_json`]: `/etc/docker/daemon.json` for Docker Engine and MCR.
//! * [`cri_dockerd`]: the CRI adapter that Docker Engine and MCR need from Kubernetes 1.24 on.
//!
//! This is a plain library linked into each plugin; it exports no plugin root module.

pub mod cri_dockerd;
pub mod cve;
pub mod daemon_json;
pub mod docker_repo;

// The general parts now live in the SDK, for every plugin author: kept here under their old
// names for the built-in plugins.
#[cfg(feature = "fixtures")]
pub use plugin_api::fixtures;
pub use plugin_api::kit::{facts, image, keys, settings, version};
