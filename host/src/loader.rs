//! Stage 3 of the flow: find plugin files and run plugin code, always in a child process.
//!
//! The host never opens a plugin library itself. Each call (`manifest`, `plan`, `render`)
//! runs in a child of this same binary (`installer __plugin-call PATH METHOD`), which opens
//! the library, makes the call and prints one JSON envelope. A plugin that panics, aborts or
//! segfaults takes only that child down, and the host names it.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use plugin_api::{Manifest, PluginKind, PROTOCOL_VERSION};
use serde::Serialize;

mod cache;
mod child;

use cache::FileKey;
pub use cache::{
    default_dir as default_cache_dir, host_identity as cache_host_identity, ManifestCache,
};
pub use child::{call, call_optional, child_main, FailureKind, PluginFailure, CHILD_COMMAND};
use child::{Answer, Pending};

/// The directories searched for plugins, in order: `--plugin-dir`, `INSTALLER_PLUGIN_PATH`,
/// then the defaults ([`default_dirs`]). Duplicates are dropped, keeping the first.
pub fn search_path(cli_dirs: &[PathBuf], env_path: Option<&str>, defaults: bool) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = cli_dirs.to_vec();
    if let Some(env_path) = env_path {
        for entry in env_path.split(':').filter(|s| !s.is_empty()) {
            // A relative entry names a different directory in every working directory, so
            // whoever chooses where installer starts would choose the code it loads.
            if Path::new(entry).is_relative() {
                tracing::warn!(
                    "INSTALLER_PLUGIN_PATH entry `{entry}` is relative, so what it names depends on where installer is started; it was ignored. Fix: give the directory as an absolute path"
                );
                continue;
            }
            dirs.push(PathBuf::from(entry));
        }
    }
    if defaults {
        dirs.extend(default_dirs());
    }
    let mut seen = HashSet::new();
    dirs.retain(|d| seen.insert(fs::canonicalize(d).unwrap_or_else(|_| d.clone())));
    dirs
}

/// The default plugin directories, derived from where the binary lives: a build directory
/// (the plugins sit next to the binary in target/debug), `<prefix>/lib/installer/plugins`,
/// and /usr/lib/installer/plugins. An installed binary's own directory (`/usr/bin`,
/// `<prefix>/bin`) holds other programs, never plugins, and is not searched.
pub fn default_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        if exe_dir.file_name().is_none_or(|name| name != "bin") {
            dirs.push(exe_dir.clone());
        }
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
    /// The digest the allowlist names for it, checked again each time it is loaded.
    #[serde(skip)]
    pub sha256: Option<String>,
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
    /// Finds every candidate file in `dirs` and reads each one's manifest: from `cache` when
    /// it remembers that very file's content, otherwise by probing the file in its own child
    /// process (and remembering the answer).
    pub fn discover(dirs: &[PathBuf], trust: &Trust, mut cache: ManifestCache) -> Registry {
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
            files.extend(names);
        }

        // Probe every file the cache does not know at once: each probe is a child process,
        // given the file that was checked (and hashed, with an allowlist) as an open
        // descriptor.
        let probes: Vec<_> = files
            .iter()
            .map(|path| {
                let file = open_checked(path)?;
                let digest = trust.check(path, &file)?;
                let key = match cache.enabled() {
                    true => Some(
                        FileKey::of(&file)
                            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                    ),
                    false => None,
                };
                let probe = match key.as_ref().and_then(|key| cache.get(path, key)) {
                    Some(manifest) => {
                        tracing::debug!("manifest of {} from the cache", path.display());
                        Reading::Known(manifest)
                    }
                    None => Reading::Started(Pending::start(file, "manifest", "")),
                };
                Ok((probe, key, digest))
            })
            .collect();

        let mut taken: Vec<(String, PathBuf)> = Vec::new();
        let mut candidates = Vec::new();
        for (path, probe) in files.into_iter().zip(probes) {
            let (outcome, digest) = match probe {
                Ok((Reading::Known(manifest), _, digest)) => (Ok(Answer::Ok(manifest)), digest),
                Ok((Reading::Started(pending), key, digest)) => {
                    let outcome = pending.finish().map_err(|e| e.to_string());
                    match &outcome {
                        Ok(Answer::Ok(manifest)) => {
                            if let Some(key) = key {
                                cache.put(&path, key, manifest.clone());
                            }
                        }
                        _ => cache.forget(&path),
                    }
                    (outcome, digest)
                }
                Err(reason) => (Err(reason), None),
            };
            let candidate = match outcome {
                Err(reason) => Candidate {
                    path,
                    status: Status::Rejected,
                    manifest: None,
                    reason: Some(reason),
                    misbehaved: false,
                    sha256: None,
                },
                Ok(Answer::OpenError(reason)) => Candidate {
                    path,
                    status: Status::Rejected,
                    manifest: None,
                    reason: Some(reason),
                    misbehaved: false,
                    sha256: None,
                },
                Ok(Answer::Failed(failure)) => Candidate {
                    path,
                    status: Status::Rejected,
                    manifest: None,
                    reason: Some(failure.describe()),
                    misbehaved: true,
                    sha256: None,
                },
                Ok(Answer::Ok(value)) => judge_manifest(path, value, &mut taken),
            };
            candidates.push(Candidate {
                sha256: digest,
                ..candidate
            });
        }
        cache.save();
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

/// How a candidate's manifest is obtained.
enum Reading {
    /// Remembered for this very content.
    Known(serde_json::Value),
    /// Asked of the plugin, in a child process.
    Started(Pending),
}

fn is_candidate(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    (name.ends_with(".so") || name.contains(".so.")) && !path.is_dir()
}

/// Whether `uid` may own code we load: root, or the user running installer.
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// Opens a plugin file to load it, refusing it unless nobody but root (or the user running
/// installer) could have put its code there: the file and every directory from it up to `/`
/// must be owned by them and not writable by group or others. A sticky directory (`/tmp`) is
/// the one exception, where the entry below it is ours, since others cannot rename or remove
/// it. The descriptor returned is the file that was checked; the child loads that descriptor,
/// so replacing the file after the check changes nothing.
pub fn open_checked(path: &Path) -> Result<fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let real =
        fs::canonicalize(path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    let file_owner = fs::symlink_metadata(&real)
        .map_err(|e| format!("cannot read {}: {e}", real.display()))?
        .uid();
    trusted_dirs(real.parent(), file_owner, &real)?;
    // The directory it was found in too: a link there to a file elsewhere is only as safe as
    // the directory that holds the link.
    if let Some(listed) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let listed = fs::canonicalize(listed)
            .map_err(|e| format!("cannot resolve {}: {e}", listed.display()))?;
        let entry_owner = fs::symlink_metadata(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .uid();
        trusted_dirs(Some(&listed), entry_owner, &real)?;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|e| format!("cannot open {}: {e}", real.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", real.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", real.display()));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "file {} is writable by group or others (mode {mode:04o}); anyone could replace the plugin's code. Fix: chmod go-w {}",
            real.display(),
            real.display()
        ));
    }
    if !trusted_owner(meta.uid()) {
        return Err(format!(
            "file {} is owned by uid {}, neither root nor the user running installer. Fix: chown root {}",
            real.display(),
            meta.uid(),
            real.display()
        ));
    }
    Ok(file)
}

/// Refuses `start` and every directory above it unless each is owned by root (or us) and
/// not writable by group or others; a sticky directory is accepted where the entry below it
/// (owned by `below`) is ours. `plugin` names the file for messages.
fn trusted_dirs(start: Option<&Path>, mut below: u32, plugin: &Path) -> Result<(), String> {
    for dir in start.into_iter().flat_map(Path::ancestors) {
        let meta = fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        if !trusted_owner(meta.uid()) {
            return Err(format!(
                "directory {} (on the way to {}) is owned by uid {}, neither root nor the user running installer; its owner could replace the plugin's code. Fix: chown root {}",
                dir.display(),
                plugin.display(),
                meta.uid(),
                dir.display()
            ));
        }
        let sticky_and_ours = mode & 0o1000 != 0 && trusted_owner(below);
        if mode & 0o022 != 0 && !sticky_and_ours {
            return Err(format!(
                "directory {} (on the way to {}) is writable by group or others (mode {mode:04o}); anyone could replace the plugin's code. Fix: chmod go-w {}",
                dir.display(),
                plugin.display(),
                dir.display()
            ));
        }
        below = meta.uid();
    }
    Ok(())
}

/// The optional allowlist of plugin digests: when one is given, a plugin file
/// whose SHA-256 it does not list is refused.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// (file name or absolute path, lowercase hex SHA-256) pairs.
    digests: Vec<(String, String)>,
    /// Where the list came from, for messages; empty when there is no allowlist.
    sources: Vec<String>,
}

impl Trust {
    /// Adds the lines of an allowlist file in `sha256sum` format (`HEX  NAME`, `#` comments),
    /// NAME being a plugin file's name or its absolute path. The file itself must be one only
    /// root (or we) could have written.
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        use std::io::Read;
        let mut text = String::new();
        open_checked(path)
            .and_then(|f| {
                f.take(1024 * 1024)
                    .read_to_string(&mut text)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            })
            .map_err(|e| format!("plugin allowlist: {e}"))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(2, char::is_whitespace);
            let (hex, name) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("").trim(),
            );
            // sha256sum marks binary mode with a `*` before the name.
            let name = name.strip_prefix('*').unwrap_or(name);
            self.add(name, hex).map_err(|e| {
                format!(
                    "{}:{}: {e} (lines are `HEX  NAME`, as sha256sum prints them)",
                    path.display(),
                    n + 1
                )
            })?;
        }
        self.sources.push(path.display().to_string());
        Ok(())
    }

    /// Adds `NAME=HEX` from `--plugin-sha256`.
    pub fn add_flag(&mut self, spec: &str) -> Result<(), String> {
        let (name, hex) = spec
            .split_once('=')
            .ok_or_else(|| format!("--plugin-sha256 {spec:?}: expected NAME=HEX"))?;
        self.add(name, hex)
            .map_err(|e| format!("--plugin-sha256 {spec:?}: {e}"))?;
        self.sources.push("--plugin-sha256".to_owned());
        Ok(())
    }

    fn add(&mut self, name: &str, hex: &str) -> Result<(), String> {
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{hex:?} is not a SHA-256 digest (64 hex digits)"));
        }
        if name.is_empty() {
            return Err("no file name after the digest".to_owned());
        }
        self.digests
            .push((name.to_owned(), hex.to_ascii_lowercase()));
        Ok(())
    }

    /// With an allowlist, the digest of `file` (open at `path`) when the list names it;
    /// refused otherwise. Without one, nothing to check.
    fn check(&self, path: &Path, file: &fs::File) -> Result<Option<String>, String> {
        if self.sources.is_empty() {
            return Ok(None);
        }
        let digest = sha256(file).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let real = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let named = |name: &str| {
            Some(name) == file_name.as_deref() || Path::new(name) == real || Path::new(name) == path
        };
        if self
            .digests
            .iter()
            .any(|(name, hex)| named(name) && *hex == digest)
        {
            return Ok(Some(digest));
        }
        let listed: Vec<&str> = self
            .digests
            .iter()
            .filter(|(name, _)| named(name))
            .map(|(_, hex)| hex.as_str())
            .collect();
        Err(format!(
            "its SHA-256 {digest} is not in the plugin allowlist ({}){}. If you trust this file, add the line `{digest}  {}` to the allowlist",
            self.sources.join(", "),
            if listed.is_empty() {
                " (the list does not name the file)".to_owned()
            } else {
                format!(" (the list expects {})", listed.join(" or "))
            },
            real.display()
        ))
    }
}

/// The SHA-256 of an open file, in lowercase hex; read from its start through its own
/// descriptor (the child reopens it at offset 0 through /proc).
fn sha256(file: &fs::File) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::io::BufReader::new(file), &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
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
        sha256: None,
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
            sha256: None,
        };
    }
    taken.push((manifest.name.clone(), path.clone()));
    Candidate {
        path,
        status: Status::Loaded,
        manifest: Some(manifest),
        reason: None,
        misbehaved: false,
        sha256: None,
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
