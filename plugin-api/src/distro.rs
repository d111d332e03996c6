use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ErrorKind, PluginError};

/// The distro a plan is for: the matched distro pack and the facts read from os-release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// The distro pack id (`debian-10`, `ubuntu-20.04`, `centos-7`).
    pub id: String,
    /// A human name (`Debian 10 (buster)`).
    pub name: String,
    /// The family: `debian`, `rhel` or `suse`.
    pub family: String,
    /// The package manager named by the pack: `apt`, `yum`, `dnf` or `zypper`.
    pub package_manager: String,
    /// os-release `ID` of the pack's distro (`debian`, `ubuntu`, `centos`).
    pub os_id: String,
    /// os-release `VERSION_ID`; absent on rolling releases.
    #[serde(default)]
    pub version_id: Option<String>,
    /// The release codename (`buster`, `focal`), where the distro has one.
    #[serde(default)]
    pub codename: Option<String>,
    /// The machine architecture in the package manager's spelling (`amd64`, `x86_64`).
    pub arch: String,
    /// The pack's variables for plugins, keyed `<plugin>.<name>` (`docker.repo_path`) or by a
    /// plain name shared by several plugins.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

impl Distro {
    /// The pack variable `key`, or an error naming the pack, the variable and `plugin`, which
    /// the host shows as is.
    pub fn var(&self, plugin: &str, key: &str) -> Result<&str, PluginError> {
        self.vars.get(key).map(String::as_str).ok_or_else(|| {
            PluginError::new(
                ErrorKind::MissingVariable,
                format!(
                    "distro pack `{}` has no variable `{key}`, which plugin `{plugin}` needs",
                    self.id
                ),
            )
            .with_hint(format!(
                "add `{key} = \"...\"` under [vars] in a pack for `{}` (see docs/distro-packs.md), \
                 or choose a runtime that supports this distro",
                self.id
            ))
        })
    }

    /// The pack variable `key` if the pack has it.
    pub fn var_opt(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }
}
