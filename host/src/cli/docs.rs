//! `installer generate-docs DIR`: the man pages and shell completions, generated from the
//! clap definition (clap_mangen, clap_complete), never written by hand; packaging calls it.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use super::args::Cli;
use crate::Error;

/// Writes `installer.1`, one `installer-<command>.1` per visible command (and subcommand:
/// `installer-distros-list.1`), and the completions for bash, zsh and fish into `dir`.
pub fn generate(dir: &Path) -> Result<ExitCode, Error> {
    let fail = |what: &str, e: std::io::Error| {
        Error::input(
            format!("cannot write {what} in {}: {e}", dir.display()),
            "give a directory you can write to",
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("the directory", e))?;
    let command = Cli::command();
    clap_mangen::generate_to(command.clone(), dir).map_err(|e| fail("the man pages", e))?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut command.clone(), "installer", dir)
            .map_err(|e| fail("the completions", e))?;
    }
    Ok(ExitCode::SUCCESS)
}
