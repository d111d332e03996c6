use serde::{Deserialize, Serialize};

/// What a plugin says about itself; the first document the host asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The plugin's name, as selected on the command line (`--runtime cri-o`).
    pub name: String,
    /// Runtime or package manager.
    pub kind: PluginKind,
    /// The plugin's own version (semver).
    pub version: String,
    /// The protocol version the plugin was built against ([`crate::PROTOCOL_VERSION`]).
    pub protocol: String,
    /// Distro families the plugin supports (`debian`, `rhel`, `suse`).
    #[serde(default)]
    pub families: Vec<String>,
    /// Package-manager plugins: the package managers named in distro packs that this plugin
    /// drives (`apt`; `yum` and `dnf`; `zypper`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub package_managers: Vec<String>,
    /// One line for `installer plugins list`. Since protocol 1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the plugin can do beyond its kind's methods (since protocol 1.5):
    /// [`Manifest::RUNTIME_HANDLERS`] for a runtime plugin that adds other plugins' runtime
    /// handlers to its own configuration. A host reads a plugin without it as able to do none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

/// The two kinds of plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Installs and configures a container runtime.
    Runtime,
    /// Turns repository and package steps into a package manager's actions.
    PackageManager,
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PluginKind::Runtime => "runtime",
            PluginKind::PackageManager => "package-manager",
        })
    }
}

impl Manifest {
    /// A runtime plugin's manifest, speaking this crate's protocol version.
    pub fn runtime(name: &str, version: &str, families: &[&str]) -> Self {
        Manifest {
            name: name.to_owned(),
            kind: PluginKind::Runtime,
            version: version.to_owned(),
            protocol: crate::PROTOCOL_VERSION.to_owned(),
            families: families.iter().map(|f| (*f).to_owned()).collect(),
            package_managers: Vec::new(),
            description: None,
            capabilities: Vec::new(),
        }
    }

    /// A package-manager plugin's manifest, speaking this crate's protocol version.
    pub fn package_manager(
        name: &str,
        version: &str,
        families: &[&str],
        package_managers: &[&str],
    ) -> Self {
        Manifest {
            kind: PluginKind::PackageManager,
            package_managers: package_managers.iter().map(|p| (*p).to_owned()).collect(),
            ..Self::runtime(name, version, families)
        }
    }

    /// Sets the one-line description.
    pub fn with_description(mut self, description: &str) -> Self {
        self.description = Some(description.to_owned());
        self
    }

    /// The capability of a runtime plugin that owns a CRI configuration (containerd's, CRI-O's)
    /// to add the [`crate::RuntimeHandler`]s other plugins declare to it, in
    /// [`crate::PlanRequest::handlers`] (since protocol 1.5).
    pub const RUNTIME_HANDLERS: &'static str = "runtime-handlers";

    /// Declares a capability ([`Manifest::RUNTIME_HANDLERS`]).
    pub fn with_capability(mut self, capability: &str) -> Self {
        self.capabilities.push(capability.to_owned());
        self
    }

    /// Whether the plugin declares `capability`.
    pub fn can(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// One documented `--set` key a plugin accepts (protocol 1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionDoc {
    /// The key, prefixed with the plugin name (`cri-o.allow-version-skew`).
    pub key: String,
    /// What it does and which values it takes.
    pub help: String,
    /// The value used when the key is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}
