//! Stage 3 of the flow: find plugin files and run plugin code, always in a child process.
//!
//! The host never opens a plugin library itself. Each call (`manifest`, `plan`, `render`)
//! runs in a child of this same binary (`installer __plugin-call PATH METHOD`), which opens
//! the library, makes the call and prints one JSON envelope. A plugin that panics, aborts or
//! segfaults takes only that child down, and the host names it.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use plugin_api::{ErrorKind, Manifest, PluginError, PluginKind, PROTOCOL_VERSION};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use wait_timeout::ChildExt;

/// How long one plugin call may take. Plugins are pure computations, so this is generous.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The directories searched for plugins, in order: `--plugin-dir`, `INSTALLER_PLUGIN_PATH`,
/// then the defaults (next to the binary, `<prefix>/lib/installer/plugins`,
/// `/usr/lib/installer/plugins`). Duplicates are dropped, keeping the first.
pub fn search_path(cli_dirs: &[PathBuf], env_path: Option<&str>, defaults: bool) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = cli_dirs.to_vec();
    if let Some(env_path) = env_path {
        dirs.extend(
            env_path
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    if defaults {
        dirs.extend(default_dirs());
    }
    let mut seen = HashSet::new();
    dirs.retain(|d| seen.insert(fs::canonicalize(d).unwrap_or_else(|_| d.clone())));
    dirs
}

/// The default plugin directories, derived from where the binary lives.
pub fn default_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.clone());
        if let Some(prefix) = exe_dir.parent() {
            dirs.push(prefix.join("lib/installer/plugins"));
        }
    }
    dirs.push(PathBuf::from("/usr/lib/installer/plugins"));
    dirs
}

/// What became of one candidate file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Loaded: its manifest was read and its protocol is compatible.
    Loaded,
    /// Refused, with a reason.
    Rejected,
    /// A well-formed plugin whose name an earlier file on the path already took.
    Shadowed,
}

/// One candidate plugin file and its fate.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The file.
    pub path: PathBuf,
    /// Loaded, rejected or shadowed.
    pub status: Status,
    /// The manifest, when it could be read.
    #[serde(skip)]
    pub manifest: Option<Manifest>,
    /// Why it was rejected or shadowed.
    pub reason: Option<String>,
    /// Whether the rejection is a plugin misbehaving (panic, crash, bad answer) rather than a
    /// file that is simply not a usable plugin.
    #[serde(skip)]
    pub misbehaved: bool,
}

impl Candidate {
    /// The plugin's name, or the file name when the manifest could not be read.
    pub fn display_name(&self) -> String {
        match &self.manifest {
            Some(m) => m.name.clone(),
            None => self
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

/// The JSON shape of one `plugins list` row (CLI.md).
#[derive(Debug, Serialize)]
pub struct CandidateRow<'a> {
    path: &'a Path,
    status: Status,
    name: Option<&'a str>,
    kind: Option<String>,
    version: Option<&'a str>,
    protocol: Option<&'a str>,
    description: Option<&'a str>,
    reason: Option<&'a str>,
}

impl<'a> From<&'a Candidate> for CandidateRow<'a> {
    fn from(c: &'a Candidate) -> Self {
        let m = c.manifest.as_ref();
        CandidateRow {
            path: &c.path,
            status: c.status,
            name: m.map(|m| m.name.as_str()),
            kind: m.map(|m| m.kind.to_string()),
            version: m.map(|m| m.version.as_str()),
            protocol: m.map(|m| m.protocol.as_str()),
            description: m.and_then(|m| m.description.as_deref()),
            reason: c.reason.as_deref(),
        }
    }
}

/// Every plugin found on a search path.
#[derive(Debug, Default)]
pub struct Registry {
    /// Every candidate, in path order.
    pub candidates: Vec<Candidate>,
}

impl Registry {
    /// Finds every candidate file in `dirs` and probes each in its own child process.
    pub fn discover(dirs: &[PathBuf]) -> Registry {
        let mut files = Vec::new();
        for dir in dirs {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::debug!("plugin directory {} skipped: {e}", dir.display());
                    continue;
                }
            };
            let mut names: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| is_candidate(p))
                .collect();
            names.sort();
            let dir_problem = unsafe_permissions(dir, "directory");
            files.extend(names.into_iter().map(|p| (p, dir_problem.clone())));
        }

        // Probe every file at once: each probe is a child process.
        let probes: Vec<_> = files
            .iter()
            .map(|(path, dir_problem)| {
                match dir_problem
                    .clone()
                    .or_else(|| unsafe_permissions(path, "file"))
                {
                    Some(reason) => Err(reason),
                    None => Ok(Pending::start(path, "manifest", "")),
                }
            })
            .collect();

        let mut taken: Vec<(String, PathBuf)> = Vec::new();
        let mut candidates = Vec::new();
        for ((path, _), probe) in files.into_iter().zip(probes) {
            let outcome = probe.and_then(|pending| pending.finish().map_err(|e| e.to_string()));
            let candidate = match outcome {
                Err(reason) => Candidate {
                    path,
                    status: Status::Rejected,
                    manifest: None,
                    reason: Some(reason),
                    misbehaved: false,
                },
                Ok(Answer::OpenError(reason)) => Candidate {
                    path,
                    status: Status::Rejected,
                    manifest: None,
                    reason: Some(reason),
                    misbehaved: false,
                },
                Ok(Answer::Failed(failure)) => Candidate {
                    path,
                    status: Status::Rejected,
                    manifest: None,
                    reason: Some(failure.describe()),
                    misbehaved: true,
                },
                Ok(Answer::Ok(value)) => judge_manifest(path, value, &mut taken),
            };
            candidates.push(candidate);
        }
        Registry { candidates }
    }

    /// The loaded plugins.
    pub fn loaded(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .iter()
            .filter(|c| c.status == Status::Loaded)
    }

    /// The loaded plugin called `name` of `kind`.
    pub fn find(&self, kind: PluginKind, name: &str) -> Option<&Candidate> {
        self.loaded().find(|c| {
            c.manifest
                .as_ref()
                .is_some_and(|m| m.kind == kind && m.name == name)
        })
    }

    /// The loaded package-manager plugin that drives `package_manager` (`apt`, `dnf`, ...).
    pub fn package_manager_for(&self, package_manager: &str) -> Option<&Candidate> {
        self.loaded().find(|c| {
            c.manifest.as_ref().is_some_and(|m| {
                m.kind == PluginKind::PackageManager
                    && (m.name == package_manager
                        || m.package_managers.iter().any(|p| p == package_manager))
            })
        })
    }

    /// Names of the loaded plugins of `kind`, for "did you mean" messages.
    pub fn names(&self, kind: PluginKind) -> Vec<String> {
        self.loaded()
            .filter_map(|c| c.manifest.as_ref())
            .filter(|m| m.kind == kind)
            .map(|m| m.name.clone())
            .collect()
    }

    /// Rejected candidates that misbehaved (panicked, crashed, answered garbage).
    pub fn misbehaving(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| c.misbehaved)
    }
}

fn is_candidate(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    (name.ends_with(".so") || name.contains(".so.")) && !path.is_dir()
}

/// Refuses files and directories others could replace: loading one runs its code.
fn unsafe_permissions(path: &Path, what: &str) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!(
            "{what} {} is writable by group or others (mode {mode:04o}); anyone could replace the plugin's code. Fix: chmod go-w {}",
            path.display(),
            path.display()
        ));
    }
    let me = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    if meta.uid() != 0 && meta.uid() != me {
        return Some(format!(
            "{what} {} is owned by uid {}, neither root nor the user running installer. Fix: chown root {}",
            path.display(),
            meta.uid(),
            path.display()
        ));
    }
    None
}

fn judge_manifest(
    path: PathBuf,
    value: serde_json::Value,
    taken: &mut Vec<(String, PathBuf)>,
) -> Candidate {
    let rejected = |path, reason: String| Candidate {
        path,
        status: Status::Rejected,
        manifest: None,
        reason: Some(reason),
        misbehaved: false,
    };
    let manifest: Manifest = match serde_json::from_value(value) {
        Ok(m) => m,
        Err(e) => return rejected(path, format!("malformed manifest: {e}")),
    };
    if let Err(reason) = check_manifest(&manifest) {
        return Candidate {
            manifest: Some(manifest),
            ..rejected(path, reason)
        };
    }
    if let Some((_, first)) = taken.iter().find(|(name, _)| *name == manifest.name) {
        let reason = format!(
            "duplicate name `{}`: shadowed by {} (earlier in the plugin path)",
            manifest.name,
            first.display()
        );
        return Candidate {
            path,
            status: Status::Shadowed,
            manifest: Some(manifest),
            reason: Some(reason),
            misbehaved: false,
        };
    }
    taken.push((manifest.name.clone(), path.clone()));
    Candidate {
        path,
        status: Status::Loaded,
        manifest: Some(manifest),
        reason: None,
        misbehaved: false,
    }
}

/// The checks a manifest must pass: a usable name, semver versions, a compatible protocol.
fn check_manifest(m: &Manifest) -> Result<(), String> {
    let name_ok = !m.name.is_empty()
        && m.name.len() <= 64
        && m.name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !name_ok {
        return Err(format!(
            "malformed manifest: name {:?} must be 1-64 of a-z, 0-9, '-', '_'",
            m.name
        ));
    }
    if semver::Version::parse(&m.version).is_err() {
        return Err(format!(
            "malformed manifest: version {:?} of `{}` is not semver (e.g. 1.2.0)",
            m.version, m.name
        ));
    }
    let host = semver::Version::parse(PROTOCOL_VERSION).expect("PROTOCOL_VERSION is semver");
    let theirs = semver::Version::parse(&m.protocol).map_err(|_| {
        format!(
            "malformed manifest: protocol {:?} of `{}` is not semver",
            m.protocol, m.name
        )
    })?;
    if theirs.major != host.major {
        return Err(format!(
            "protocol major mismatch: `{}` speaks protocol {theirs}, this host speaks {host} (major {}); rebuild the plugin against a plugin-api with protocol {}.x, or use an installer that speaks {}.x",
            m.name, host.major, host.major, theirs.major
        ));
    }
    Ok(())
}

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
    fn describe(&self) -> String {
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
    /// 2 when the plugin refused the user's input or selection, 3 when it misbehaved.
    pub fn exit_code(&self) -> u8 {
        match &self.kind {
            FailureKind::Refused(e) => match e.kind {
                ErrorKind::Unsupported | ErrorKind::InvalidInput | ErrorKind::MissingVariable => 2,
                _ => 3,
            },
            _ => 3,
        }
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
enum Answer {
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
struct Pending {
    child: Result<std::process::Child, String>,
    input: String,
}

impl Pending {
    fn start(path: &Path, method: &str, input: &str) -> Pending {
        let child = std::env::current_exe()
            .map_err(|e| e.to_string())
            .and_then(|exe| {
                Command::new(exe)
                    .arg("__plugin-call")
                    .arg(path)
                    .arg(method)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| e.to_string())
            });
        Pending {
            child,
            input: input.to_owned(),
        }
    }

    fn finish(self) -> Result<Answer, std::io::Error> {
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
    let answer = Pending::start(&candidate.path, method, &input)
        .finish()
        .map_err(|e| failure(FailureKind::Spawn(e.to_string())))?;
    match answer {
        Answer::Ok(value) => serde_json::from_value(value).map_err(|e| {
            let text = e.to_string();
            // A newer plugin using a step or action kind this host does not know: refuse,
            // never skip — a plan without that step is not the plan the plugin made.
            let detail = match text.strip_prefix("unknown variant ") {
                Some(rest) => format!(
                    "the `{method}` answer uses the kind {} that this host does not know (plugin protocol {}, host protocol {}); upgrade installer to a version that knows it",
                    rest.split(',').next().unwrap_or(rest),
                    candidate.manifest.as_ref().map_or("?", |m| m.protocol.as_str()),
                    plugin_api::PROTOCOL_VERSION
                ),
                None => format!("the `{method}` answer does not decode: {text}"),
            };
            failure(FailureKind::BadAnswer(detail))
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
