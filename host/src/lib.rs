//! `installer`: prepares a Linux host to be a Kubernetes node.
//!
//! The modules follow the flow: [`detect`] reads os-release, [`packs`] matches a distro pack,
//! [`options`] resolves the user's selection, [`loader`] finds plugins and runs them in a
//! child process, [`compose`] turns their answers into one checked plan, [`render`] shows it
//! (text, JSON, a shell script whose config edits come from [`merge`]'s rules), and [`exec`]
//! applies it inside a [`target`] root, where [`merge`] edits config files in place; [`error`]
//! holds the errors and exit codes, and [`cli`] ties the stages to the command line. See
//! docs/ARCHITECTURE.md in the repository.

pub mod cli;
pub mod compose;
pub mod detect;
pub mod error;
pub mod exec;
pub mod loader;
pub mod merge;
pub mod options;
pub mod packs;
pub mod render;
pub mod target;

pub use error::Error;
