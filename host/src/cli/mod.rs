//! The command line: parses arguments, runs a command, maps the outcome to an exit code.
//!
//! stdout carries data only (text or one JSON document); logs, warnings and hints go to
//! stderr.

mod args;
mod detect;
mod distros;
mod docs;
mod edit;
pub mod json;
mod migrate;
mod plan;
mod plugins;
mod run;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

pub use crate::options::Selection;
pub use args::{Cli, Command, DistrosCommand, GlobalArgs, OutputFormat, PluginsCommand};

use crate::loader::{self, ManifestCache, Registry, Trust};
use crate::render::printable;
use crate::target::Target;
use crate::Error;

/// The system's distro-pack directories, lowest precedence first: packages of distro vendors
/// install theirs in the first, a site's administrators put theirs in the second.
pub const SYSTEM_DISTRO_DIRS: &[&str] = &["/usr/share/installer/distros", "/etc/installer/distros"];

/// The plugin allowlist read when no --plugin-allowlist is given, if it exists.
pub const DEFAULT_ALLOWLIST: &str = "/etc/installer/plugins.sha256";

/// Runs the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::PluginCall(call) = &cli.command {
        // The child: no logging setup, exactly one envelope on stdout.
        return loader::child_main(&call.path, &call.method);
    }
    init_logging(&cli.global);
    match run(&cli) {
        Ok(code) => code,
        Err(error) => {
            if cli.global.output == OutputFormat::Json {
                // Data on stdout for tools; the same words on stderr for the person reading
                // the log.
                json::print_json(&json::ErrorDocument {
                    error: error.report(),
                });
            }
            print_error(&error);
            error.exit().into()
        }
    }
}

/// The `error:` and `hint:` lines on stderr.
fn print_error(error: &Error) {
    eprintln!("error: {}", printable(&error.to_string()));
    if let Some(hint) = error.hint() {
        eprintln!("hint: {}", printable(&hint));
    }
}

fn init_logging(global: &GlobalArgs) {
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Log messages carry values from image roots and plugins: escaped like every other text.
    let fields = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        if field.name() == "message" {
            write!(writer, "{}", printable(&text))
        } else {
            write!(writer, "{}={}", field.name(), printable(&text))
        }
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(fields)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .init();
}

/// Runs one command.
pub fn run(cli: &Cli) -> Result<ExitCode, Error> {
    let ctx = Context {
        global: &cli.global,
    };
    match &cli.command {
        Command::Detect => detect::run(&ctx),
        Command::Distros(DistrosCommand::List) => distros::list(&ctx),
        Command::Distros(DistrosCommand::Show { id }) => distros::show(&ctx, id),
        Command::Distros(DistrosCommand::Check { file }) => distros::check(&ctx, file),
        Command::Plugins(PluginsCommand::List) => plugins::list(&ctx),
        Command::Plugins(PluginsCommand::Show { name }) => plugins::show(&ctx, name),
        Command::Plan(selection) => plan::run(&ctx, selection),
        Command::Run(args) => run::run(&ctx, args),
        Command::Render(args) => plan::render(&ctx, &args.selection, args.format),
        Command::Rollback(args) => run::rollback(&ctx, args),
        Command::Verify(selection) => verify::run(&ctx, selection),
        Command::Preflight(selection) => verify::preflight(&ctx, selection),
        Command::Migrate(args) => migrate::run(&ctx, args),
        Command::EditFile(args) => edit::run(&ctx, args),
        Command::GenerateDocs { dir } => docs::generate(dir),
        Command::PluginCall(_) => unreachable!("handled before logging is set up"),
    }
}

/// What every command shares: the global options and the search paths they imply.
pub struct Context<'a> {
    /// The global options.
    pub global: &'a GlobalArgs,
}

impl Context<'_> {
    /// Plugin directories in search order.
    pub fn plugin_dirs(&self) -> Vec<PathBuf> {
        loader::search_path(
            &self.global.plugin_dirs,
            self.global.plugin_path.as_deref(),
            !self.global.no_default_plugin_dirs,
        )
    }

    /// Distro-pack directories, lowest precedence first: the system's (a vendor's packs in
    /// /usr/share/installer/distros, the site's in /etc/installer/distros, where they exist
    /// and unless --no-default-distro-dirs), then `INSTALLER_DISTRO_PATH`, then each
    /// `--distro-dir`. A later directory's pack overrides an earlier one with its id.
    pub fn distro_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if !self.global.no_default_distro_dirs {
            dirs.extend(
                SYSTEM_DISTRO_DIRS
                    .iter()
                    .map(PathBuf::from)
                    .filter(|d| d.is_dir()),
            );
        }
        if let Some(path) = &self.global.distro_path {
            dirs.extend(path.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
        }
        dirs.extend(self.global.distro_dirs.iter().cloned());
        dirs
    }

    /// The target's root (`--root`), held open; every file inside it is reached through it.
    /// A root that does not exist is bad input, and nothing is created for it.
    pub fn target(&self) -> Result<Target, Error> {
        // Every path inside the root is resolved through the kernel's procfs (pathrs): without
        // /proc (a bare chroot) that would fail deep inside; say so here.
        if !std::path::Path::new("/proc/self/fd").is_dir() {
            return Err(Error::input(
                "/proc is not mounted here, and installer resolves every path inside --root through it",
                "mount it first (`mount -t proc proc /proc`, or bind-mount /proc into the chroot); nothing was changed",
            ));
        }
        Target::open(&self.global.root).map_err(|e| {
            Error::input(
                format!("--root {}: {e}", self.global.root.display()),
                "point --root at an existing directory holding the system to prepare (nothing was created)",
            )
        })
    }

    /// The plugin allowlist: `--plugin-allowlist` (or its default file, when it exists) and
    /// every `--plugin-sha256`.
    pub fn trust(&self) -> Result<Trust, Error> {
        let mut trust = Trust::default();
        let file = match &self.global.plugin_allowlist {
            Some(file) => Some(file.clone()),
            None => Some(PathBuf::from(DEFAULT_ALLOWLIST)).filter(|f| f.exists()),
        };
        let hint = "the allowlist holds `HEX  NAME` lines as `sha256sum /usr/lib/installer/plugins/*.so` prints them; --plugin-sha256 takes FILE-NAME=HEX";
        if let Some(file) = file {
            trust.add_file(&file).map_err(|e| Error::input(e, hint))?;
        }
        for spec in &self.global.plugin_sha256 {
            trust.add_flag(spec).map_err(|e| Error::input(e, hint))?;
        }
        Ok(trust)
    }

    /// Every plugin on the plugin path, probed.
    pub fn registry(&self) -> Result<Registry, Error> {
        Ok(Registry::discover(
            &self.plugin_dirs(),
            &self.trust()?,
            self.manifest_cache(),
        ))
    }

    /// The manifest cache this command reads and updates (none with --no-cache).
    pub fn manifest_cache(&self) -> ManifestCache {
        if self.global.no_cache {
            return ManifestCache::disabled();
        }
        match self
            .global
            .cache_dir
            .clone()
            .or_else(loader::default_cache_dir)
        {
            Some(dir) => ManifestCache::open(&dir, loader::cache_host_identity()),
            None => ManifestCache::disabled(),
        }
    }

    /// Whether `--output json` was given.
    pub fn json(&self) -> bool {
        self.global.output == OutputFormat::Json
    }
}

/// Prints text for people on stdout, with anything that could drive the terminal escaped.
pub(crate) fn print_text(text: &str) {
    print!("{}", printable(text));
}
