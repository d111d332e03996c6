//! Every `--output json` document of CLI.md, in one place: the ones the CLI assembles are
//! defined here, the others are the types they are the serde form of.
//!
//! | command | document |
//! |---|---|
//! | `detect` | [`DetectReport`] |
//! | `distros list` | a list of [`DistroRow`] |
//! | `distros show` | [`DistroShown`] |
//! | `distros check` | [`DistroChecked`] |
//! | `plugins list` | a list of [`CandidateRow`] |
//! | `plugins show` | [`PluginShown`] |
//! | `plan`, `render --format json`, `run --dry-run` | [`Plan`] |
//! | `run` | [`RunReport`] |
//! | `rollback` | [`RollbackReport`] |
//! | `verify`, `preflight` | [`VerifyReport`] |
//! | `migrate --render json` | [`Plan`] |
//! | any command that fails before it has a document of its own | [`ErrorDocument`] |
//!
//! A change of any of these shapes is a change of the CLI contract: tests/cli pins them.

use std::path::PathBuf;

use serde::Serialize;

pub use crate::compose::Plan;
use crate::detect::Facts;
pub use crate::exec::{RollbackReport, RunReport, VerifyReport};
pub use crate::loader::CandidateRow;
use crate::packs::{DistroPack, Family, MatchedBy, PackageManager};

/// What a command prints with `--output json` when it fails before it has a document of its
/// own (bad input, a pack, os-release, a plugin): `{"error": {...}}`. A failed `run` prints
/// its [`RunReport`], whose `error` says what failed.
#[derive(Serialize)]
pub struct ErrorDocument {
    /// The failure.
    pub error: crate::error::ErrorReport,
}

/// Prints one JSON document on stdout.
pub(crate) fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("our documents always encode")
    );
}

/// `detect`: the os-release facts under `--root` and the pack they match.
#[derive(Serialize)]
pub struct DetectReport<'a> {
    /// The os-release file read.
    pub source: PathBuf,
    /// What it says.
    pub facts: &'a Facts,
    /// The pack id, or null when nothing matches.
    pub pack: Option<&'a str>,
    /// How the pack matched.
    pub matched_by: Option<MatchedBy>,
    /// The match in words.
    pub note: Option<String>,
    /// Why nothing matched (the process exits with its `exit_code`): the same document as
    /// every other failure's, inside this one so that stdout stays one document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorReport>,
}

/// One row of `distros list --output json`.
#[derive(Serialize)]
pub struct DistroRow<'a> {
    /// The pack id.
    pub id: &'a str,
    /// The distro's name.
    pub name: &'a str,
    /// Its family.
    pub family: Family,
    /// Its package manager.
    pub package_manager: PackageManager,
    /// `built-in` or the file path.
    pub source: String,
    /// Whether this file replaces another pack with the same id.
    pub overrides: bool,
    /// The source of the pack it replaces (`built-in`, or a file read before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// `plugins show NAME --output json`: one loaded plugin and its options.
#[derive(Serialize)]
pub struct PluginShown<'a> {
    /// The manifest, field by field.
    #[serde(flatten)]
    pub manifest: &'a plugin_api::Manifest,
    /// The file it was loaded from.
    pub path: &'a std::path::Path,
    /// Its documented `--set` options (empty for a plugin that documents none).
    pub options: Vec<plugin_api::OptionDoc>,
}

/// `distros check FILE --output json`: a valid pack and what it would do.
#[derive(Serialize)]
pub struct DistroChecked<'a> {
    /// The file checked.
    pub file: PathBuf,
    /// The pack's id.
    pub id: &'a str,
    /// Its family.
    pub family: &'a Family,
    /// Its package manager.
    pub package_manager: &'a PackageManager,
    /// What os-release facts would choose it, in words, one rule each.
    pub matches: Vec<String>,
    /// The source of the pack of that id it would replace, where installed with the others.
    pub overrides: Option<String>,
    /// The loaded package-manager plugin that drives its package manager (its file), if any.
    pub package_manager_plugin: Option<PathBuf>,
    /// The loaded runtime plugins that declare its family.
    pub runtimes: Vec<String>,
}

/// `distros show --output json`: the pack's own fields, then where it came from.
#[derive(Serialize)]
pub struct DistroShown<'a> {
    /// The pack, field by field.
    #[serde(flatten)]
    pub pack: &'a DistroPack,
    /// `built-in` or the file path.
    pub source: String,
    /// Whether this file replaces another pack with the same id.
    pub overrides: bool,
    /// The source of the pack it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}
