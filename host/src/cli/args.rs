//! The command line, as clap definitions. The doc comments are the `--help` text.
// The doc comments are `--help` text, where <placeholders> are plain words, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::options::Selection;

const EXAMPLES: &str = "\
Examples:
  installer plan --distro debian-12 --runtime containerd
  installer plan --distro debian-10 --runtime cri-o
  installer plan --distro ubuntu-22.04 --runtime cri-o --kubernetes-version 1.30
  installer run --runtime docker --version 28.3 --kubernetes-version 1.30 --dry-run
  installer run --root /mnt/image --runtime containerd --yes
  installer detect --root /mnt/image --output json
  installer plugins list
  installer render --distro ubuntu-22.04 --runtime docker --format sh > install.sh";

/// `installer --version`: the release, the plugin protocol it speaks, and the commit it was
/// built from (host/build.rs).
pub static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (plugin protocol {}, commit {})",
        env!("CARGO_PKG_VERSION"),
        plugin_api::PROTOCOL_VERSION,
        env!("INSTALLER_COMMIT")
    )
});

/// Turn a Linux host into a Kubernetes node: install and configure a container runtime.
///
/// The distro is detected from os-release (or named with --distro); runtimes and package
/// managers are plugins loaded from the plugin path; distros are data (distro packs).
#[derive(Debug, Parser)]
#[command(name = "installer", version = VERSION.as_str(), after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the command name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Add a plugin directory, searched before INSTALLER_PLUGIN_PATH and the defaults
    /// (repeatable).
    #[arg(long = "plugin-dir", value_name = "DIR", global = true)]
    pub plugin_dirs: Vec<PathBuf>,

    /// Plugin directories, ':'-separated, searched after --plugin-dir.
    #[arg(
        long,
        env = "INSTALLER_PLUGIN_PATH",
        value_name = "DIRS",
        global = true,
        hide = true
    )]
    pub plugin_path: Option<String>,

    /// Search only --plugin-dir and INSTALLER_PLUGIN_PATH, not the default directories
    /// (a build directory holding the binary, <prefix>/lib/installer/plugins,
    /// /usr/lib/installer/plugins).
    #[arg(long, env = "INSTALLER_NO_DEFAULT_PLUGIN_DIRS", hide_env_values = true, global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_default_plugin_dirs: bool,

    /// Load only plugin files whose SHA-256 this file lists (`HEX  NAME` lines, as
    /// sha256sum prints them; NAME a file name or path). Default:
    /// /etc/installer/plugins.sha256, when it exists.
    #[arg(
        long,
        env = "INSTALLER_PLUGIN_ALLOWLIST",
        value_name = "FILE",
        global = true
    )]
    pub plugin_allowlist: Option<PathBuf>,

    /// Allow the plugin file FILE-NAME only with this SHA-256 (repeatable); with any
    /// allowlist, files it does not list are refused.
    #[arg(long = "plugin-sha256", value_name = "FILE-NAME=HEX", global = true)]
    pub plugin_sha256: Vec<String>,

    /// Start every plugin to read its manifest, instead of reusing the manifests earlier
    /// runs read from the very same files (kept in /var/cache/installer for root,
    /// ~/.cache/installer otherwise).
    #[arg(long, env = "INSTALLER_NO_CACHE", hide_env_values = true, global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_cache: bool,

    /// Where the manifest cache lives, instead of the default.
    #[arg(
        long,
        env = "INSTALLER_CACHE_DIR",
        value_name = "DIR",
        global = true,
        hide = true
    )]
    pub cache_dir: Option<PathBuf>,

    /// Add a distro-pack directory; its packs add to or override the built-in ones, those of
    /// /usr/share/installer/distros and /etc/installer/distros, and those of an earlier
    /// --distro-dir (repeatable).
    #[arg(long = "distro-dir", value_name = "DIR", global = true)]
    pub distro_dirs: Vec<PathBuf>,

    /// Read only the built-in packs, INSTALLER_DISTRO_PATH and --distro-dir, not
    /// /usr/share/installer/distros and /etc/installer/distros.
    #[arg(long, env = "INSTALLER_NO_DEFAULT_DISTRO_DIRS", hide_env_values = true, global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_default_distro_dirs: bool,

    /// Distro-pack directories, ':'-separated, read before --distro-dir (which overrides
    /// them).
    #[arg(
        long,
        env = "INSTALLER_DISTRO_PATH",
        value_name = "DIRS",
        global = true,
        hide = true
    )]
    pub distro_path: Option<String>,

    /// Act on the system rooted at DIR: os-release read there, files written there, commands
    /// run chrooted into it (confined by bubblewrap, which must be installed, when DIR is not
    /// /).
    #[arg(long, value_name = "DIR", default_value = "/", global = true)]
    pub root: PathBuf,

    /// Output format for data on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, global = true)]
    pub output: OutputFormat,

    /// More logging (repeat for more); RUST_LOG is honoured too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less logging: errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Text for people.
    Text,
    /// One JSON document on stdout.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the os-release facts and the distro pack they match, and why.
    Detect,
    /// Distro packs: the built-in ones and those from --distro-dir.
    #[command(subcommand)]
    Distros(DistrosCommand),
    /// Plugins found on the plugin path.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Show the composed plan; changes nothing.
    Plan(Selection),
    /// Apply the plan: idempotent, atomic, rolled back on failure.
    Run(RunArgs),
    /// Print the plan as a POSIX shell script (or JSON) to review and run elsewhere.
    Render(RenderArgs),
    /// Put back what an interrupted run changed (or, named, any run), from its journal.
    Rollback(RollbackArgs),
    /// Move a node off Docker to containerd or CRI-O (seed 004), as a plan like any other.
    ///
    /// Cordon and drain (with kubectl and /etc/kubernetes/admin.conf on the node; otherwise
    /// drain it yourself and pass --drained), stop the kubelet and Docker, install and
    /// configure the new runtime, point the kubelet's flags and configuration at it, start
    /// the kubelet, uncordon. --dry-run shows the plan; a failure rolls the files back.
    /// --kubernetes-version X.Y (the kubelet's) is required: its flags differ by version.
    Migrate(MigrateArgs),
    /// What would make `run` fail or harm the node; changes nothing.
    ///
    /// `run` asks the same first: files it cannot merge, the plugins' prerequisites, another
    /// runtime serving CRI, the kubelet's cgroup driver, running pods whose driver would
    /// change, swap, node tools, disk. Exits 2 when run would refuse.
    Preflight(Selection),
    /// Check the node against the plan; changes nothing.
    ///
    /// Files, packages, the runtime's own parse of its config, services, CRI over the
    /// runtime's socket, the kubelet's cgroup driver, runc's version. Exits 1 when a check
    /// fails.
    Verify(Selection),
    /// Apply one config edit of a plan to one file, as `run` does (in place, backed up,
    /// atomic); what the Ansible collection's `config_edit` module calls on the node.
    ///
    /// The edit is the `merge` of a `merge_file` action in `plan --output json` (or in a
    /// rendered playbook): a TOML edit, a JSON merge, a YAML or env-file setting. --dry-run
    /// prints the diff and changes nothing. A YAML or env-file setting of a file that is not
    /// there yet (kubeadm writes the kubelet's) is skipped, saying why, as `run` skips it.
    EditFile(EditFileArgs),
    /// Write the man pages (installer.1, installer-<command>.1) and the shell completions
    /// (bash, zsh, fish) generated from this command line into DIR; what packages install.
    #[command(hide = true)]
    GenerateDocs {
        /// Where to write them.
        dir: PathBuf,
    },
    /// Internal: run one plugin call in this child process and print the answer.
    #[command(name = crate::loader::CHILD_COMMAND, hide = true)]
    PluginCall(PluginCallArgs),
}

#[derive(Debug, Subcommand)]
pub enum DistrosCommand {
    /// Every distro pack and where it came from (built-in or a file).
    List,
    /// One pack, whole.
    Show {
        /// The pack id (debian-10, ubuntu-22.04, ...).
        id: String,
    },
    /// Check a pack file before shipping it: that it parses and follows the rules, what
    /// systems it would match, what it would override, and whether the loaded plugins can
    /// plan for it. Exits 2 when the file is not a valid pack.
    Check {
        /// The pack file (`<id>.toml`).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every candidate plugin file: loaded (name, kind, version, protocol) or rejected (why).
    List,
    /// One loaded plugin: what it is, where it was loaded from, the families and package
    /// managers it covers, what it can do, and its --set options with their help and defaults.
    Show {
        /// The plugin's name (`containerd`, `apt`, `gvisor`).
        name: String,
    },
}

/// `installer run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply without asking. Without it, run shows the plan and asks on the terminal; with
    /// no terminal to ask on (a pipe, CI), it refuses (exit 2). Declining exits 4.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Seconds to wait for another apt/dnf/zypper holding the package database.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub lock_timeout: u64,

    /// Run even when preflight finds the node not ready (another runtime serving CRI, the
    /// kubelet on another cgroup driver, running pods whose driver would change, swap on,
    /// missing node tools, a nearly full /var/lib). Each is still printed.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub selection: Selection,
}

/// `installer migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The runtime the node runs now.
    #[arg(long, value_name = "RUNTIME", value_parser = ["docker"])]
    pub from: String,

    /// The runtime to move it to.
    #[arg(long, value_name = "RUNTIME", value_parser = ["containerd", "cri-o"])]
    pub to: String,

    /// The node was cordoned and drained by hand (`kubectl cordon` and `kubectl drain
    /// --ignore-daemonsets`); needed where the node has no kubectl and admin kubeconfig.
    #[arg(long)]
    pub drained: bool,

    /// The node's name in the cluster; default: the root's /etc/hostname.
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,

    /// Also remove Docker's packages where installed (docker-ce and docker-ce-cli, or
    /// Debian's docker.io); containerd stays, the new runtime needs it.
    #[arg(long)]
    pub remove_docker: bool,

    /// Print the migration as a script to review and run elsewhere (sh), or as JSON, instead
    /// of running it.
    #[arg(long, value_name = "FORMAT")]
    pub render: Option<RenderFormat>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// `installer rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The journal to roll back: its directory name under <root>/var/lib/installer/journal
    /// (as `run` printed it). Default: the run that was interrupted.
    #[arg(value_name = "JOURNAL")]
    pub journal: Option<String>,

    /// Seconds to wait for a run holding the root's lock.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub lock_timeout: u64,
}

/// `installer render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The output: a POSIX shell script, the plan as JSON, cloud-init user-data, or an
    /// Ansible playbook.
    #[arg(long, value_enum)]
    pub format: RenderFormat,

    #[command(flatten)]
    pub selection: Selection,
}

/// `installer edit-file`.
#[derive(Debug, Args)]
pub struct EditFileArgs {
    /// The file on the target (absolute; under --root).
    #[arg(long, value_name = "PATH")]
    pub path: String,

    /// The edit, as JSON: a `merge` object of a plan's `merge_file` action, e.g.
    /// '{"how":"json_merge","value":{"log-driver":"json-file"}}'.
    #[arg(long, value_name = "JSON")]
    pub merge: String,

    /// Permission bits for a new file, octal.
    #[arg(long, value_name = "MODE", default_value = "0644")]
    pub mode: String,

    /// Owner of a new file (a user name in the target's /etc/passwd); default root.
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,

    /// Group of a new file (a group name in the target's /etc/group); default root.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// Where the file already sets KEY to another value, the edit's wins (repeatable), as
    /// for `run --override`.
    #[arg(long = "override", value_name = "KEY")]
    pub overrides: Vec<String>,

    /// Print what would change (the diff); change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Seconds to wait for another run holding the root.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub lock_timeout: u64,
}

/// `render --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// A POSIX shell script; every value single-quoted.
    Sh,
    /// The plan as one JSON document.
    Json,
    /// `#cloud-config` user-data that runs the sh script on the node's first boot.
    CloudInit,
    /// An Ansible playbook doing what run does with Ansible's own modules (config edits
    /// through the installer.runtime collection).
    Ansible,
}

/// Arguments of the hidden child-process command.
#[derive(Debug, Args)]
pub struct PluginCallArgs {
    /// The plugin library.
    pub path: PathBuf,
    /// The method (`manifest`, `plan`, `render`, `options`); the request is read from stdin.
    pub method: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
