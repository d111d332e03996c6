//! The child-process side of plugin calls: starting `installer __plugin-call` on a checked
//! plugin file, reading its one-envelope answer, and the failures a call can end in.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// The hidden subcommand that runs one plugin call in a child of this same binary: the name
/// the CLI defines and the parent starts.
pub const CHILD_COMMAND: &str = "__plugin-call";

use plugin_api::{ErrorKind, PluginError};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use wait_timeout::ChildExt;

use super::{open_checked, sha256, Candidate};

/// How long one plugin call may take. Plugins are pure computations, so this is generous.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A plugin that failed while the host used it: exit 3, or 2 when the plugin refused the
/// user's input.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` ({path}): {}", .kind.describe())]
pub struct PluginFailure {
    /// The plugin's name (or file name).
    pub plugin: String,
    /// Its file.
    pub path: String,
    /// What went wrong.
    pub kind: FailureKind,
}

/// What went wrong with a plugin call.
#[derive(Debug)]
pub enum FailureKind {
    /// The library could not be opened as a plugin.
    Open(String),
    /// The plugin answered with an error document.
    Refused(PluginError),
    /// The child died: a signal (abort, segfault) or an exit without an answer.
    Crashed {
        /// How it ended.
        status: String,
        /// The last lines it wrote to stderr.
        stderr_tail: String,
    },
    /// The child took longer than the call timeout and was killed.
    TimedOut,
    /// The answer did not decode.
    BadAnswer(String),
    /// The child could not even be started.
    Spawn(String),
}

impl FailureKind {
    pub(super) fn describe(&self) -> String {
        match self {
            FailureKind::Open(reason) => reason.clone(),
            FailureKind::Refused(e) if e.kind == ErrorKind::Panic => {
                format!("the plugin {}", e.message)
            }
            FailureKind::Refused(e) => e.message.clone(),
            FailureKind::Crashed {
                status,
                stderr_tail,
            } if stderr_tail.is_empty() => format!("crashed: {status}"),
            FailureKind::Crashed {
                status,
                stderr_tail,
            } => format!("crashed: {status}; its last output: {stderr_tail}"),
            FailureKind::TimedOut => format!(
                "did not answer within {} s and was killed",
                CALL_TIMEOUT.as_secs()
            ),
            FailureKind::BadAnswer(e) => format!("answered something this host cannot read: {e}"),
            FailureKind::Spawn(e) => format!("cannot start the plugin child process: {e}"),
        }
    }
}

impl PluginFailure {
    /// Whether the plugin refused the user's input or selection (a correct plugin's answer),
    /// rather than misbehaving.
    pub fn refused_the_input(&self) -> bool {
        matches!(
            &self.kind,
            FailureKind::Refused(e) if matches!(
                e.kind,
                ErrorKind::Unsupported | ErrorKind::InvalidInput | ErrorKind::MissingVariable
            )
        )
    }

    /// The plugin's own hint, or ours.
    pub fn hint(&self) -> Option<String> {
        match &self.kind {
            FailureKind::Refused(e) if e.hint.is_some() => e.hint.clone(),
            FailureKind::Refused(e) if e.kind != ErrorKind::Panic => None,
            _ => Some(format!(
                "this is a bug in plugin `{}`; report it to its authors, or remove {} from the plugin path",
                self.plugin, self.path
            )),
        }
    }
}

/// One answer from a child.
pub(super) enum Answer {
    Ok(serde_json::Value),
    OpenError(String),
    Failed(FailureKind),
}

/// The envelope a child prints on stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Envelope {
    Ok(serde_json::Value),
    OpenError(String),
    PluginError(PluginError),
}

/// A child process making one call.
pub(super) struct Pending {
    child: Result<std::process::Child, String>,
    input: String,
}

impl Pending {
    /// Starts a child that loads the plugin from `file`, the descriptor that was checked:
    /// it is inherited (the only one, since children are started one at a time and the
    /// descriptor is closed here right after) and loaded as `/proc/self/fd/N`.
    pub(super) fn start(file: fs::File, method: &str, input: &str) -> Pending {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        use std::os::fd::AsRawFd;
        let inherit = fcntl(&file, FcntlArg::F_SETFD(FdFlag::empty()))
            .map_err(|e| format!("cannot hand the plugin file to its child process: {e}"));
        let fd_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let child = inherit
            .and_then(|_| std::env::current_exe().map_err(|e| e.to_string()))
            .and_then(|exe| {
                Command::new(exe)
                    .arg(CHILD_COMMAND)
                    .arg(&fd_path)
                    .arg(method)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| e.to_string())
            });
        drop(file);
        Pending {
            child,
            input: input.to_owned(),
        }
    }

    pub(super) fn finish(self) -> Result<Answer, std::io::Error> {
        let mut child = match self.child {
            Ok(child) => child,
            Err(e) => return Ok(Answer::Failed(FailureKind::Spawn(e))),
        };
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = self.input;
        let writer = std::thread::spawn(move || {
            // A child that dies before reading its input is reported by its exit status.
            let _ = stdin.write_all(input.as_bytes());
        });
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let status = match child.wait_timeout(CALL_TIMEOUT)? {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(Answer::Failed(FailureKind::TimedOut));
            }
        };
        let _ = writer.join();
        let out = out_reader.join().unwrap_or_default();
        let err = err_reader.join().unwrap_or_default();
        Ok(interpret(status, &out, &err))
    }
}

fn interpret(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Answer {
    let envelope = std::str::from_utf8(stdout)
        .ok()
        .and_then(|s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
        })
        .and_then(|line| serde_json::from_str::<Envelope>(&line).ok());
    match (status.success(), envelope) {
        (true, Some(Envelope::Ok(value))) => Answer::Ok(value),
        (true, Some(Envelope::OpenError(reason))) => Answer::OpenError(reason),
        (true, Some(Envelope::PluginError(e))) => Answer::Failed(FailureKind::Refused(e)),
        _ => Answer::Failed(FailureKind::Crashed {
            status: describe_status(status),
            stderr_tail: tail(stderr),
        }),
    }
}

fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (_, Some(sig)) => {
            let name = match sig {
                6 => " (SIGABRT: it aborted)",
                11 => " (SIGSEGV: it dereferenced a bad pointer)",
                9 => " (SIGKILL)",
                7 => " (SIGBUS)",
                4 => " (SIGILL)",
                _ => "",
            };
            format!("killed by signal {sig}{name}")
        }
        (Some(code), None) => format!("exited with status {code} without answering"),
        (None, None) => "ended without answering".to_owned(),
    }
}

fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" | ").chars().take(400).collect()
}

/// Calls `method` of the plugin in `candidate` with `request`, in a child process.
pub fn call<Req: Serialize, Resp: DeserializeOwned>(
    candidate: &Candidate,
    method: &str,
    request: &Req,
) -> Result<Resp, PluginFailure> {
    let failure = |kind| PluginFailure {
        plugin: candidate.display_name(),
        path: candidate.path.display().to_string(),
        kind,
    };
    let input = serde_json::to_string(request)
        .map_err(|e| failure(FailureKind::BadAnswer(e.to_string())))?;
    // Checked again at each load: the file may have changed since it was listed.
    let file = open_checked(&candidate.path).map_err(|e| failure(FailureKind::Open(e)))?;
    if let Some(expected) = &candidate.sha256 {
        let now = sha256(&file).map_err(|e| failure(FailureKind::Open(e.to_string())))?;
        if now != *expected {
            return Err(failure(FailureKind::Open(format!(
                "its SHA-256 changed to {now} since it was checked against the allowlist ({expected})"
            ))));
        }
    }
    let answer = Pending::start(file, method, &input)
        .finish()
        .map_err(|e| failure(FailureKind::Spawn(e.to_string())))?;
    match answer {
        // A step or action kind from a newer protocol decodes as `Unknown`, which compose
        // refuses naming the step: never skipped, as a plan without it is not the plugin's.
        Answer::Ok(value) => serde_json::from_value(value).map_err(|e| {
            failure(FailureKind::BadAnswer(format!(
                "the `{method}` answer does not decode: {e}"
            )))
        }),
        Answer::OpenError(reason) => Err(failure(FailureKind::Open(reason))),
        Answer::Failed(kind) => Err(failure(kind)),
    }
}

/// Calls an optional method (added in a later protocol minor): a plugin that does not offer
/// it answers `None`.
pub fn call_optional<Req: Serialize, Resp: DeserializeOwned>(
    candidate: &Candidate,
    method: &str,
    request: &Req,
) -> Result<Option<Resp>, PluginFailure> {
    match call(candidate, method, request) {
        Ok(resp) => Ok(Some(resp)),
        Err(PluginFailure {
            kind: FailureKind::Refused(e),
            ..
        }) if e.kind == ErrorKind::UnknownMethod => Ok(None),
        Err(other) => Err(other),
    }
}

/// The child side: open the library, make one call, print one envelope. Runs in the
/// `__plugin-call` child process only.
pub fn child_main(path: &Path, method: &str) -> std::process::ExitCode {
    let mut input = String::new();
    let _ = std::io::stdin().read_to_string(&mut input);
    let envelope = match plugin_api::host::Library::open(path) {
        Err(e) => Envelope::OpenError(e.to_string()),
        Ok(library) => {
            let answer = if method == "manifest" {
                library.manifest().and_then(|m| {
                    serde_json::to_value(m)
                        .map_err(|e| PluginError::new(ErrorKind::Internal, e.to_string()))
                })
            } else {
                library.call_raw(method, &input).and_then(|json| {
                    serde_json::from_str(&json).map_err(|e| {
                        PluginError::new(
                            ErrorKind::Internal,
                            format!("the `{method}` answer is not JSON: {e}"),
                        )
                    })
                })
            };
            match answer {
                Ok(value) => Envelope::Ok(value),
                Err(e) => Envelope::PluginError(e),
            }
        }
    };
    let line = serde_json::to_string(&envelope).expect("envelopes always encode");
    println!("{line}");
    std::process::ExitCode::SUCCESS
}
