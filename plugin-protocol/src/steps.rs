use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The phases of a plan, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Kernel modules, sysctls, packages the repositories need.
    Prerequisites,
    /// Repository definitions and their signing keys.
    Repositories,
    /// Package installation and holds.
    Packages,
    /// Runtime configuration files.
    Configuration,
    /// Service enablement and restarts.
    Services,
    /// Checks that the result works.
    Verification,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 6] = [
        Phase::Prerequisites,
        Phase::Repositories,
        Phase::Packages,
        Phase::Configuration,
        Phase::Services,
        Phase::Verification,
    ];

    /// The lowercase name used in JSON and text.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prerequisites => "prerequisites",
            Phase::Repositories => "repositories",
            Phase::Packages => "packages",
            Phase::Configuration => "configuration",
            Phase::Services => "services",
            Phase::Verification => "verification",
        }
    }
}

/// One step of a plan: something a person can read and the host can carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// When it runs.
    pub phase: Phase,
    /// One line saying what it does.
    pub summary: String,
    /// Why the plan needs it (shown with the plan).
    #[serde(default)]
    pub why: String,
    /// The plugin that asked for it; filled in by the host.
    #[serde(default)]
    pub plugin: String,
    /// What to do.
    #[serde(flatten)]
    pub kind: StepKind,
}

impl Step {
    /// A new step.
    pub fn new(
        phase: Phase,
        summary: impl Into<String>,
        why: impl Into<String>,
        kind: StepKind,
    ) -> Self {
        Step {
            phase,
            summary: summary.into(),
            why: why.into(),
            plugin: String::new(),
            kind,
        }
    }
}

/// What a step does. Abstract kinds are turned into [`Action`]s by the host (files, services,
/// modules, sysctls, checks) or by the package-manager plugin (repositories, packages).
///
/// A host refuses a step kind it does not know ([`StepKind::Unknown`]), naming the plugin and
/// the step: a step cannot be skipped safely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepKind {
    /// Load kernel modules now and persist them in `persist_file` (under `/etc/modules-load.d/`).
    KernelModules {
        /// Module names.
        modules: Vec<String>,
        /// The `modules-load.d` file listing them.
        persist_file: String,
    },
    /// Set sysctls now and persist them in `persist_file` (under `/etc/sysctl.d/`).
    Sysctls {
        /// Key → value.
        settings: BTreeMap<String, String>,
        /// The `sysctl.d` file holding them.
        persist_file: String,
    },
    /// Add a package repository.
    Repository(Repository),
    /// Install packages, pinned and held as asked.
    Packages {
        /// The packages.
        packages: Vec<Package>,
    },
    /// Write or merge a file.
    File(FileStep),
    /// Fetch a file (or one member of a gzip'd tar) whose sha256 the plugin pins, and install
    /// it (since protocol 1.3).
    Download(DownloadStep),
    /// Manage a systemd service.
    Service(ServiceStep),
    /// Check something about the result.
    Check(Check),
    /// Concrete actions, as package-manager plugins return them.
    Actions {
        /// The actions, in order.
        actions: Vec<Action>,
    },
    /// A kind from a newer protocol minor than this crate's: decoded so that the host can
    /// refuse it by name of the plugin and the step. Never send it.
    #[serde(other)]
    Unknown,
}

impl StepKind {
    /// The `type` tag of this kind, as in JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::KernelModules { .. } => "kernel_modules",
            StepKind::Sysctls { .. } => "sysctls",
            StepKind::Repository(_) => "repository",
            StepKind::Packages { .. } => "packages",
            StepKind::File(_) => "file",
            StepKind::Download(_) => "download",
            StepKind::Service(_) => "service",
            StepKind::Check(_) => "check",
            StepKind::Actions { .. } => "actions",
            StepKind::Unknown => "unknown",
        }
    }
}

/// A package repository, in terms every package manager can render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// A short id, used for file names (`docker`, `devel-kubic-libcontainers-stable`).
    pub id: String,
    /// A human name.
    #[serde(default)]
    pub name: String,
    /// apt: the URI; rpm: the baseurl (may contain `$releasever`, `$basearch`).
    pub url: String,
    /// apt: the suite (`bookworm`), or `/` for a flat repository. Unused by rpm.
    #[serde(default)]
    pub suite: Option<String>,
    /// apt: the components (`stable`). Unused by rpm.
    #[serde(default)]
    pub components: Vec<String>,
    /// Architectures to restrict the entry to (apt `arch=`); empty: all.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// The signing key. A repository without one is refused by the host unless the user
    /// named `--allow-insecure-repo`.
    #[serde(default)]
    pub key: Option<SigningKey>,
    /// Whether this is a vendor repository (https required) rather than the distro's own.
    #[serde(default = "yes")]
    pub vendor: bool,
    /// Plugins that asked for it; filled in by the host.
    #[serde(default)]
    pub requested_by: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A repository signing key, pinned by fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    /// Where to fetch it (https).
    pub url: String,
    /// Accepted OpenPGP fingerprints (40 hex digits, spaces allowed). The fetched key must
    /// hold one of these and no other.
    pub fingerprints: Vec<String>,
}

/// A package to install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The package name.
    pub name: String,
    /// The version to pin; `None` installs the newest.
    #[serde(default)]
    pub version: Option<String>,
    /// How `version` matches what the repository offers.
    #[serde(default)]
    pub version_match: VersionMatch,
    /// Hold the package at the installed version (apt-mark hold, versionlock, addlock).
    #[serde(default)]
    pub hold: bool,
    /// Plugins that asked for it; filled in by the host.
    #[serde(default)]
    pub requested_by: Vec<String>,
    /// Known vulnerabilities of releases of this package (since protocol 1.2). A partial pin
    /// is resolved on the target, after the plan was made; the host judges the version it
    /// resolves to against these, as an exact pin is judged, and refuses an affected one
    /// before anything is installed unless the user accepted each vulnerability by name
    /// (`--allow-vulnerable CVE-...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
}

/// What a failed package transaction left behind, as the package manager tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// A read-only command listing the state of the transaction's packages (argv, no shell):
    /// `dpkg-query --show ... containerd.io`, `rpm -q containerd.io`.
    pub argv: Vec<String>,
    /// The commands that finish or undo what is left, shown with the command's output.
    pub hint: String,
}

/// A known vulnerability and the releases of a package it affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Its CVE id: `CVE-2024-21626`.
    pub id: String,
    /// What it allows, in a few words, with the fixed releases.
    pub what: String,
    /// The affected releases, as half-open ranges `[from, to)` of upstream releases
    /// (`["1.4.4", "1.6.28"]`), read with [`crate::version::release`].
    pub affected: Vec<(String, String)>,
}

impl Vulnerability {
    /// Whether the package version `version` (as the package manager spells it:
    /// `1.6.20-1`, `5:24.0.7-1~debian.12~bookworm`, `19.03.8-3.el7`) is affected. A version
    /// whose release cannot be read is not judged.
    pub fn affects(&self, version: &str) -> bool {
        use crate::version::release;
        let Some(v) = release(version) else {
            return false;
        };
        self.affected.iter().any(|(from, to)| {
            matches!((release(from), release(to)), (Some(f), Some(t)) if f <= v && v < t)
        })
    }
}

/// How a version pin matches the versions a repository offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionMatch {
    /// The full version string, as the package manager spells it.
    #[default]
    Exact,
    /// Whole leading components (`1.6` matches `1.6.21-1`, never `1.60`), epoch-aware.
    Prefix,
}

/// A file to write or merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStep {
    /// Absolute path on the target (the host prefixes `--root`).
    pub path: String,
    /// Permission bits (`0o644`).
    #[serde(default = "default_mode")]
    pub mode: u32,
    /// Owner user name, looked up in the target's /etc/passwd; `None`: root for a new file,
    /// unchanged for a replaced one.
    #[serde(default)]
    pub owner: Option<String>,
    /// Owner group name, looked up in the target's /etc/group; as `owner` otherwise.
    #[serde(default)]
    pub group: Option<String>,
    /// What to put there.
    pub content: FileContent,
    /// Services to restart when this file changes.
    #[serde(default)]
    pub restarts: Vec<String>,
    /// Leave the file alone, with a warning, when this probe says yes (another file already
    /// sets what this one would, say). Since protocol 1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_when: Option<SkipWhen>,
}

impl FileStep {
    /// A file at `path` with `content`, mode 0644, root's, restarting nothing; the rest with
    /// [`FileStep::restarting`] or the fields.
    pub fn new(path: &str, content: FileContent) -> Self {
        FileStep {
            path: path.to_owned(),
            mode: default_mode(),
            owner: None,
            group: None,
            content,
            restarts: Vec::new(),
            skip_when: None,
        }
    }

    /// Restarting `unit` when the file changes.
    pub fn restarting(mut self, unit: &str) -> Self {
        self.restarts.push(unit.to_owned());
        self
    }
}

impl ServiceStep {
    /// `unit` enabled, started, and restarted when what it reads changed: a runtime's usual
    /// service step.
    pub fn enabled(unit: &str) -> Self {
        ServiceStep {
            unit: unit.to_owned(),
            enable: true,
            start: true,
            restart_on_change: true,
            daemon_reload: false,
        }
    }
}

/// A reason not to write a file, found on the target at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipWhen {
    /// "Yes" means: do not write. Its stdout is shown with the warning.
    pub probe: Probe,
    /// What the user is told, and what to do about it.
    pub warning: String,
}

fn default_mode() -> u32 {
    0o644
}

/// How a file's content is produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum FileContent {
    /// The whole file (a drop-in we own).
    Full {
        /// The text.
        text: String,
    },
    /// Merge a JSON object into the existing file: our keys set, every other key kept.
    JsonMerge {
        /// The object to merge (objects merge recursively; other values replace).
        value: serde_json::Value,
    },
    /// Edit a TOML file in place, keeping every other setting and comment.
    TomlEdit {
        /// The file to start from when none exists.
        #[serde(default)]
        initial: Option<String>,
        /// The edits, in order.
        edits: Vec<TomlEdit>,
    },
    /// Set top-level scalar keys of an existing YAML document (a KubeletConfiguration),
    /// keeping every other key, its order and the comments (since protocol 1.4). These
    /// values replace the file's: a plan that sets a key owns it. A missing file is an
    /// error: the host never writes a YAML document from scratch.
    YamlSet {
        /// Key → value, written as plain scalars.
        values: BTreeMap<String, String>,
    },
    /// Edit the command-line flags one variable of an environment file holds, such as
    /// kubeadm's `KUBELET_KUBEADM_ARGS="--flag=value ..."` (since protocol 1.4): flags in
    /// `set` are given their value (replacing `--flag=x` or `--flag x`, else appended), flags
    /// in `remove` are dropped, every other flag and line is kept in its order. A missing
    /// file is an error, as for `yaml_set`.
    EnvFlags {
        /// The variable holding the flags.
        variable: String,
        /// Flag (with its dashes) → value.
        #[serde(default)]
        set: BTreeMap<String, String>,
        /// Flags (with their dashes) to drop.
        #[serde(default)]
        remove: Vec<String>,
    },
}

/// One in-place edit of a TOML document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TomlEdit {
    /// Set the key at `path` (tables created as needed).
    Set {
        /// Table names then the key.
        path: Vec<String>,
        /// The value (JSON types map to TOML types).
        value: serde_json::Value,
    },
    /// Set the key at `path` only when the document has none (since protocol 1.3): a value
    /// already there, whatever it is, stays and is never a conflict. For keys whose meaning
    /// a change would alter, such as containerd's schema `version`.
    SetDefault {
        /// Table names then the key.
        path: Vec<String>,
        /// The value when absent.
        value: serde_json::Value,
    },
    /// In every table directly below the table `tables` whose key `when_key` holds one of
    /// `when_values`, set the key at `path` (relative to that table) to `value` (since
    /// protocol 1.3): the cgroup driver of every runtime of the runc shim, whatever its name
    /// (`nvidia`, `test-handler`), not only `runc`'s. Where the table already spells the last
    /// key as one of `aliases` (`systemdCgroup`), that key is set instead. A value the site
    /// set otherwise is a conflict, as for [`TomlEdit::Set`].
    SetWhere {
        /// Table names down to the table of tables (`plugins`, ..., `runtimes`).
        tables: Vec<String>,
        /// The key that selects a table (`runtime_type`).
        when_key: String,
        /// The values that select it (`io.containerd.runc.v2`).
        when_values: Vec<serde_json::Value>,
        /// Table names then the key, below each selected table (`options`, `SystemdCgroup`).
        path: Vec<String>,
        /// Other spellings of the last part of `path`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        aliases: Vec<String>,
        /// The value.
        value: serde_json::Value,
    },
    /// Remove values from the array at `path`, if present.
    RemoveFromArray {
        /// Table names then the key.
        path: Vec<String>,
        /// The values to remove.
        values: Vec<serde_json::Value>,
    },
}

/// A file fetched from a URL and installed on the target, for software no package
/// repository the plan uses carries (cri-dockerd, published as release archives).
///
/// The host fetches every download of a run and checks it against `sha256` before the run
/// changes anything, so a wrong or tampered file stops the run with nothing done. It keeps a
/// record of what it installed under `/var/lib/installer/downloads/`, so a second run knows
/// the file is in place without fetching it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadStep {
    /// Where to fetch it: https (http only on loopback, or with `--allow-insecure-repo`).
    pub url: String,
    /// The sha256 of what `url` serves, 64 hex digits.
    pub sha256: String,
    /// When `url` serves a gzip'd tar (`.tgz`): the member to install (`cri-dockerd/cri-dockerd`),
    /// a relative path without `..`. `None`: the file itself is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Absolute path on the target.
    pub path: String,
    /// Permission bits (`0o755` for a program).
    #[serde(default = "default_mode")]
    pub mode: u32,
    /// Services to restart when the installed file changes.
    #[serde(default)]
    pub restarts: Vec<String>,
}

/// A systemd service to manage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStep {
    /// The unit (`containerd.service`).
    pub unit: String,
    /// `systemctl enable`.
    #[serde(default)]
    pub enable: bool,
    /// Start it now if it is not running.
    #[serde(default)]
    pub start: bool,
    /// Restart when its configuration or packages changed in this run.
    #[serde(default)]
    pub restart_on_change: bool,
    /// Run `systemctl daemon-reload` first (unit files or drop-ins changed).
    #[serde(default)]
    pub daemon_reload: bool,
}

/// A check on the target: a command and what its result must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What is checked, in words.
    pub description: String,
    /// The probe.
    pub probe: Probe,
}

/// A command whose result tells something about the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// The command, run without a shell.
    pub argv: Vec<String>,
    /// What counts as "yes".
    #[serde(default)]
    pub expect: Expect,
}

/// How to read a probe's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Expect {
    /// Exit status 0.
    #[default]
    Success,
    /// Exit status 0 and stdout contains the text.
    StdoutContains(String),
    /// Exit status 0 and stdout does not contain the text anywhere (since protocol 1.3): no
    /// runtime in containerd's merged view left on the other cgroup driver, say.
    StdoutLacks(String),
    /// Exit status 0 and stdout, without surrounding whitespace, is exactly the text.
    StdoutEquals(String),
    /// Exit status 0 and each text is a whole line of stdout, in any order. One probe can then
    /// vouch for several things at once, such as every package of an install transaction
    /// being installed at its pin, whatever order the command lists them in.
    StdoutLines(Vec<String>),
}

/// A concrete action the host carries out. Each says how to tell it is already done, so that
/// a second run changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Write `content` to `path`; done when the file already has that content and mode.
    WriteFile {
        /// Absolute path on the target.
        path: String,
        /// Permission bits.
        mode: u32,
        /// The text.
        content: String,
        /// Owner user name on the target; `None`: root for a new file, unchanged for a
        /// replaced one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// Owner group name on the target, as `owner`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// Merge into `path` (JSON merge or TOML edit); done when merging changes nothing.
    MergeFile {
        /// Absolute path on the target.
        path: String,
        /// Permission bits for a new file.
        mode: u32,
        /// The merge.
        merge: FileContent,
        /// Owner user name on the target, as for `write_file`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// Owner group name on the target, as for `write_file`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// Remove `path`; done when it does not exist.
    RemoveFile {
        /// Absolute path on the target.
        path: String,
    },
    /// Fetch a signing key, check its fingerprint, store it at `dest`; done when `dest` holds a
    /// key with one of the fingerprints.
    FetchKey {
        /// Where to fetch it.
        url: String,
        /// Accepted fingerprints.
        fingerprints: Vec<String>,
        /// Where to store it on the target.
        dest: String,
    },
    /// Install what a [`DownloadStep`] names (since protocol 1.3); done when the host's record
    /// says this download (URL, sha256, member) was installed at `path` and the file there
    /// is still what was installed.
    Download {
        /// Where to fetch it.
        url: String,
        /// The sha256 of what `url` serves.
        sha256: String,
        /// The member of a gzip'd tar to install, or `None` for the file itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member: Option<String>,
        /// Absolute path on the target.
        path: String,
        /// Permission bits.
        mode: u32,
    },
    /// Run a command (argv, no shell); done when `unless` succeeds.
    Run {
        /// The command.
        argv: Vec<String>,
        /// Extra environment.
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Skip the command when this probe says "yes".
        #[serde(default)]
        unless: Option<Probe>,
        /// Whether the command starts a package-manager transaction (counted by the executor).
        #[serde(default)]
        transaction: bool,
        /// Versions to resolve on the target first: the host runs each query, picks the version
        /// with [`crate::version::pick`] and replaces the placeholder in `argv` and in
        /// `unless` (its argv and expected text) before deciding whether to run. A host that
        /// cannot resolve one stops with an error naming the package, the pin and the versions
        /// it saw.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resolve: Vec<ResolveVersion>,
        /// For a transaction: what to ask when it fails, so the report says what the package
        /// manager left half-done and how to finish or undo it (since protocol 1.2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audit: Option<Audit>,
    },
    /// Manage a systemd unit; the host emits this for [`StepKind::Service`]. Skipped, with the
    /// reason reported, where systemd does not run (a chroot, an image root).
    Service {
        /// The unit.
        unit: String,
        /// `systemctl daemon-reload` first.
        #[serde(default)]
        daemon_reload: bool,
        /// `systemctl enable`; done when `is-enabled` says so.
        #[serde(default)]
        enable: bool,
        /// Start it when it is not active.
        #[serde(default)]
        start: bool,
        /// Restart it only when one of these files or packages changed in this run.
        #[serde(default)]
        restart_when_changed: Vec<RestartTrigger>,
        /// Stop it when it is active (since protocol 1.4; a migration stops the old runtime
        /// and the kubelet before it changes their configuration).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stop: bool,
        /// Disable it when it is enabled (since protocol 1.4).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        disable: bool,
    },
    /// Check something; changes nothing. Fails the run (or `verify`) when the probe says no.
    Check(Check),
    /// When the probe says yes, skip the rest of this step's actions and show the warning
    /// (with the probe's output); the host emits this for [`FileStep::skip_when`].
    SkipIf(SkipWhen),
    /// An action from a newer protocol minor than this crate's: decoded so that the host can
    /// refuse it by name of the plugin and the step. Never send it.
    #[serde(other)]
    Unknown,
}

/// What restarts a service when it changed in a run: a file the plan writes, or a package
/// the plan installs.
///
/// In JSON a string, as it has been since protocol 1.0: the file's absolute path, or
/// `package:` and the package's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum RestartTrigger {
    /// A file, by its absolute path on the target.
    File(String),
    /// A package, by name.
    Package(String),
}

impl RestartTrigger {
    const PACKAGE: &'static str = "package:";
}

impl From<RestartTrigger> for String {
    fn from(trigger: RestartTrigger) -> String {
        trigger.to_string()
    }
}

impl From<String> for RestartTrigger {
    fn from(text: String) -> RestartTrigger {
        match text.strip_prefix(RestartTrigger::PACKAGE) {
            Some(name) => RestartTrigger::Package(name.to_owned()),
            None => RestartTrigger::File(text),
        }
    }
}

impl std::fmt::Display for RestartTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartTrigger::File(path) => f.write_str(path),
            RestartTrigger::Package(name) => write!(f, "{}{name}", RestartTrigger::PACKAGE),
        }
    }
}

/// A partial version pin ([`VersionMatch::Prefix`]) that only the target can resolve, because
/// only its repositories know which versions exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveVersion {
    /// The package.
    pub package: String,
    /// The pin: whole leading components, epoch-aware (see [`crate::version::matches`]).
    pub pin: String,
    /// The text standing for the resolved version wherever it appears in the action
    /// (`<docker-ce@19.03.8>`); it cannot occur in a real version or package name.
    pub placeholder: String,
    /// The read-only command listing the versions the repositories offer (argv, no shell):
    /// `apt-cache madison docker-ce`, `dnf list --showduplicates docker-ce`, ...
    pub query: Vec<String>,
    /// How to read the versions from the query's stdout.
    pub listing: VersionListing,
}

/// How to read candidate versions from a version query's stdout, one per line.
///
/// Each line is split into fields, each trimmed; a line whose `name_field` is not one of
/// `names` (a header, a rule, another package, a wrapped line) is skipped, and every other
/// line gives the version in `version_field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionListing {
    /// The field separator; `None` splits on runs of whitespace.
    #[serde(default)]
    pub separator: Option<String>,
    /// The index (from 0) of the field naming the package.
    pub name_field: usize,
    /// The spellings of the package in that field (`docker-ce`, `docker-ce.x86_64`).
    pub names: Vec<String>,
    /// The index (from 0) of the field holding the version.
    pub version_field: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed trigger keeps the wire form older hosts and plugins read: a path, or
    /// `package:` and a name.
    #[test]
    fn restart_triggers_read_and_write_the_protocol_1_0_strings() {
        let triggers = vec![
            RestartTrigger::File("/etc/containerd/config.toml".into()),
            RestartTrigger::Package("containerd.io".into()),
        ];
        let json = serde_json::to_string(&triggers).unwrap();
        assert_eq!(
            json,
            r#"["/etc/containerd/config.toml","package:containerd.io"]"#
        );
        let back: Vec<RestartTrigger> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, triggers);
    }
}
