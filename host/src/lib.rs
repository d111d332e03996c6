//! `installer`: prepares a Linux host to be a Kubernetes node.
//!
//! The modules follow the flow: [`detect`] reads os-release, [`packs`] matches a distro pack,
//! [`options`] resolves the user's selection (checked with `plugin_api::validate`), [`loader`]
//! finds plugins and runs each call in a child process, [`compose`] turns their answers into
//! one checked plan, [`exec`] reads the target for it (`exec::preflight`) and applies it inside
//! a [`target`] root, where [`merge`] edits config files in place; [`render`] shows a plan
//! (text, and a shell script whose config edits follow [`merge`]'s rules); [`error`] holds the
//! errors and the exit codes, and [`cli`] ties the stages to the command line (its `json`
//! module holds every `--output json` document). See docs/ARCHITECTURE.md in the repository.

pub mod cli;
pub mod compose;
pub mod cri;
pub mod day;
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
