//! What a run and a rollback report: each step's outcome, the failure that stopped a run,
//! and how it ended (the `--output json` documents of `run` and `rollback`).

use super::*;

/// What `installer rollback` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The journal rolled back, on this machine.
    pub journal: PathBuf,
    /// Files put back (or removed, when the run had created them).
    pub restored: Vec<String>,
    /// What could not be put back, with why.
    pub failed: Vec<String>,
}

/// What happened to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Something was changed.
    Changed,
    /// Everything was already as planned.
    Unchanged,
    /// Not applicable here (services without systemd, kernel settings in an image root).
    Skipped,
    /// It failed; the run stopped.
    Failed,
    /// The run stopped before it.
    NotRun,
}

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Its phase.
    pub phase: plugin_api::Phase,
    /// The plugins that asked for it; in JSON one string, `plugin`, joined by ", ".
    #[serde(rename = "plugin", serialize_with = "crate::compose::comma_joined")]
    pub plugins: Vec<String>,
    /// What it does.
    pub summary: String,
    /// What happened.
    pub status: StepStatus,
    /// Why it was skipped, or what it changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Diffs of the files it changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<String>,
}

/// The failure that stopped a run.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// What failed, in words.
    pub message: String,
    /// The command, when a command failed.
    pub command: Option<Vec<String>>,
    /// Its exit status.
    pub exit_status: Option<i32>,
    /// The last lines of its output.
    pub output_tail: Option<String>,
    /// After a failed package transaction: what it left, and how to finish or undo it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_behind: Option<Box<LeftBehind>>,
}

/// The state a failed package transaction left its packages in.
#[derive(Debug, Clone, Serialize)]
pub struct LeftBehind {
    /// The package manager's own words: one package and its state per line.
    pub state: String,
    /// The command that said so.
    pub query: Vec<String>,
    /// How to finish or undo it.
    pub fix: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// How the run ended.
    pub status: RunStatus,
    /// The plugins whose plan this was, and the files they were loaded from.
    pub plugins: Vec<crate::compose::PluginRef>,
    /// Each step.
    pub steps: Vec<StepReport>,
    /// Package-manager transactions started.
    pub transactions: usize,
    /// Files changed (after a failure: the ones restored).
    pub files_changed: Vec<String>,
    /// The journal directory (backups and the command log).
    pub journal: Option<PathBuf>,
    /// What stopped the run.
    pub error: Option<Failure>,
    /// After a failure: files put back from the journal.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<String>,
    /// After a failure: package transactions that had completed (their packages stay).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub installed_before_failure: Vec<String>,
}

/// How a run ended, in JSON `ok`, `failed` or `refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every step done.
    Ok,
    /// A step failed; what the run changed was put back.
    Failed,
    /// Stopped before changing anything: a check of the prerequisites phase or a download
    /// found the target in a state the plan cannot handle.
    Refused,
}

impl Failure {
    /// A failure that is not a command's.
    pub(super) fn plain(message: String) -> Failure {
        Failure {
            message,
            command: None,
            exit_status: None,
            output_tail: None,
            left_behind: None,
        }
    }
}
