use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ErrorKind, PluginError};

/// The distro a plan is for: the matched distro pack and the facts read from os-release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// A distro for a plugin's own tests: pack `id` of `family`, driven by `package_manager`,
    /// on amd64 (dpkg's spelling) or x86_64 (rpm's); the rest with the `with_*` methods.
    pub fn new(id: &str, family: &str, package_manager: &str) -> Self {
        Distro {
            id: id.to_owned(),
            name: id.to_owned(),
            family: family.to_owned(),
            package_manager: package_manager.to_owned(),
            os_id: id.split('-').next().unwrap_or(id).to_owned(),
            arch: if family == "debian" {
                "amd64"
            } else {
                "x86_64"
            }
            .to_owned(),
            ..Distro::default()
        }
    }

    /// With os-release's `VERSION_ID`.
    pub fn with_version_id(mut self, version_id: &str) -> Self {
        self.version_id = Some(version_id.to_owned());
        self
    }

    /// With the release codename.
    pub fn with_codename(mut self, codename: &str) -> Self {
        self.codename = Some(codename.to_owned());
        self
    }

    /// With the architecture, in the package manager's spelling.
    pub fn with_arch(mut self, arch: &str) -> Self {
        self.arch = arch.to_owned();
        self
    }

    /// With the pack variable `key`.
    pub fn with_var(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.to_owned(), value.to_owned());
        self
    }

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
