//! Stage 1 of the flow: read `<root>/etc/os-release` (or `<root>/usr/lib/os-release`) into
//! [`Facts`].
//!
//! The parser follows os-release(5): one `KEY=VALUE` assignment per line in shell syntax,
//! values optionally in single or double quotes, backslash escapes inside double quotes,
//! `#` comments and blank lines. A line that is not an assignment is skipped and recorded as a
//! [`ParseWarning`] with its line number; the parser never fails and never panics.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::target::{Target, OS_RELEASE_LIMIT};

/// Where os-release lives, relative to the root, in the order os-release(5) gives.
pub const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// The facts detection produces: what os-release says about the system, and its architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// `ID`: the distro's lower-case identifier (`debian`, `ubuntu`, `linuxmint`).
    pub id: String,
    /// `ID_LIKE`, split on spaces: the distros this one derives from, closest first.
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`10`, `22.04`, `9.4`); absent on rolling releases and Debian testing.
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`buster`, `jammy`, `virginia` on Linux Mint).
    pub version_codename: Option<String>,
    /// `UBUNTU_CODENAME`: the Ubuntu release an Ubuntu derivative is built on.
    pub ubuntu_codename: Option<String>,
    /// `DEBIAN_CODENAME`: the Debian release a Debian derivative is built on.
    pub debian_codename: Option<String>,
    /// `NAME` (`Debian GNU/Linux`).
    pub name: Option<String>,
    /// `PRETTY_NAME` (`Debian GNU/Linux 10 (buster)`).
    pub pretty_name: Option<String>,
    /// The machine architecture in `uname -m` spelling (`x86_64`, `aarch64`, `arm`); each
    /// package manager's spelling comes from the distro pack (`DistroPack::to_distro` in `packs`, which depends on this module, not the other way).
    pub arch: String,
}

impl Facts {
    /// Facts from parsed os-release fields, or `None` when there is no (non-empty) `ID`.
    ///
    /// Empty values count as absent: Fedora ships `VERSION_CODENAME=""`.
    pub fn from_os_release(os: &OsRelease, arch: &str) -> Option<Facts> {
        let get = |key: &str| os.get(key).filter(|v| !v.is_empty()).map(str::to_owned);
        Some(Facts {
            id: get("ID")?,
            id_like: os
                .get("ID_LIKE")
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            version_id: get("VERSION_ID"),
            version_codename: get("VERSION_CODENAME"),
            ubuntu_codename: get("UBUNTU_CODENAME"),
            debian_codename: get("DEBIAN_CODENAME"),
            name: get("NAME"),
            pretty_name: get("PRETTY_NAME"),
            arch: arch.to_owned(),
        })
    }
}

/// The facts in os-release spelling, for messages: `ID=linuxmint ID_LIKE="ubuntu debian" ...`.
impl fmt::Display for Facts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ID={}", self.id)?;
        if !self.id_like.is_empty() {
            write!(f, " ID_LIKE=\"{}\"", self.id_like.join(" "))?;
        }
        match &self.version_id {
            Some(v) => write!(f, " VERSION_ID={v}")?,
            None => write!(f, " (no VERSION_ID)")?,
        }
        for (key, value) in [
            ("VERSION_CODENAME", &self.version_codename),
            ("UBUNTU_CODENAME", &self.ubuntu_codename),
            ("DEBIAN_CODENAME", &self.debian_codename),
        ] {
            if let Some(value) = value {
                write!(f, " {key}={value}")?;
            }
        }
        if let Some(pretty) = &self.pretty_name {
            write!(f, " PRETTY_NAME=\"{pretty}\"")?;
        }
        write!(f, " arch={}", self.arch)
    }
}

/// A line of os-release that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    pub message: String,
}

/// A parsed os-release file: its assignments (a later one wins, as in a shell) and the lines
/// that were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// Every assignment, by key.
    pub fields: BTreeMap<String, String>,
    /// Lines that were not comments, blank or valid assignments.
    pub warnings: Vec<ParseWarning>,
}

impl OsRelease {
    /// The value of `key`, if assigned.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

/// Parses os-release text. Never fails: bad lines become warnings.
pub fn parse(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok((key, value)) => {
                out.fields.insert(key.to_owned(), value);
            }
            Err(message) => out.warnings.push(ParseWarning {
                line: index + 1,
                message,
            }),
        }
    }
    out
}

/// Parses os-release bytes; invalid UTF-8 is replaced, not rejected.
pub fn parse_bytes(bytes: &[u8]) -> OsRelease {
    parse(&String::from_utf8_lossy(bytes))
}

/// One non-blank, non-comment line: `KEY=VALUE`.
fn parse_line(line: &str) -> Result<(&str, String), String> {
    let Some((key, value)) = line.split_once('=') else {
        return Err(format!("not a KEY=VALUE assignment: {}", shorten(line)));
    };
    if !is_valid_key(key) {
        return Err(format!(
            "`{}` is not a variable name (letters, digits and `_`, not starting with a digit)",
            shorten(key)
        ));
    }
    let value = parse_value(value).map_err(|why| format!("{key}: {why}"))?;
    Ok((key, value))
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A shell word: unquoted text, `'single'` and `"double"` quoted parts, concatenated; then
/// optional whitespace and an optional `#` comment.
fn parse_value(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => out.push(c),
                    None => return Err("single quote is never closed".into()),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    // In double quotes a backslash escapes only these (as in a shell); before
                    // any other character it stands for itself.
                    Some('\\') => match chars.next() {
                        Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                        Some(other) => {
                            out.push('\\');
                            out.push(other);
                        }
                        None => return Err("double quote is never closed".into()),
                    },
                    Some(c) => out.push(c),
                    None => return Err("double quote is never closed".into()),
                }
            },
            '\\' => match chars.next() {
                Some(e) => out.push(e),
                None => return Err("the value ends in a lone backslash".into()),
            },
            c if c.is_whitespace() => {
                let rest = chars.as_str().trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    break;
                }
                return Err(format!(
                    "unquoted space before `{}` (quote the whole value)",
                    shorten(rest)
                ));
            }
            '$' | '`' => {
                return Err(format!(
                    "unquoted `{c}` (os-release values are not expanded; quote it)"
                ))
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// At most 40 characters of `s`, for messages.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

/// The machine architecture of the system under `target`, in `uname -m` spelling: this
/// machine's for `/`; for an image root, the architecture its `/bin/sh` (or `/usr/bin/env`)
/// was built for, read from the ELF header, so that a root of another architecture gets
/// packages of its own (`--arch` overrides it). This machine's when no such file says.
pub fn target_arch(target: &Target) -> String {
    if target.dir() == Path::new("/") {
        return host_arch();
    }
    for file in ["/bin/sh", "/usr/bin/env", "/bin/busybox"] {
        let Some(mut f) = target.open_existing(file) else {
            continue;
        };
        let mut header = [0u8; 20];
        if std::io::Read::read_exact(&mut f, &mut header).is_ok() {
            if let Some(arch) = elf_arch(&header) {
                return arch.to_owned();
            }
        }
    }
    tracing::debug!(
        "no ELF program in {} says its architecture; taking this machine's",
        target.dir().display()
    );
    host_arch()
}

/// The architecture (`uname -m` spelling) an ELF file's first 20 bytes name: the class and
/// byte order (bytes 4 and 5) and `e_machine` (bytes 18 and 19), per the ELF specification's
/// machine numbers (EM_386 3, EM_ARM 40, EM_X86_64 62, EM_AARCH64 183, EM_PPC64 21, EM_S390
/// 22, EM_RISCV 243).
pub fn elf_arch(header: &[u8]) -> Option<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    let (class64, little) = (header[4] == 2, header[5] == 1);
    let machine = if little {
        u16::from_le_bytes([header[18], header[19]])
    } else {
        u16::from_be_bytes([header[18], header[19]])
    };
    Some(match (machine, class64, little) {
        (62, true, _) => "x86_64",
        (183, true, _) => "aarch64",
        (40, false, _) => "armv7l",
        (3, false, _) => "i686",
        (21, true, true) => "ppc64le",
        (21, true, false) => "ppc64",
        (22, true, _) => "s390x",
        (243, true, _) => "riscv64",
        _ => return None,
    })
}

/// The machine architecture this binary runs on, in `uname -m` spelling.
pub fn host_arch() -> String {
    match std::env::consts::ARCH {
        "x86" => "i686".to_owned(),
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le".to_owned(),
        other => other.to_owned(),
    }
}

/// Why os-release could not be read or matched.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Neither os-release path exists under the root.
    #[error("no os-release file found: tried {}", list_paths(tried))]
    NotFound {
        /// The paths tried, in order.
        tried: Vec<PathBuf>,
    },
    /// os-release exists but could not be read, or is not a regular file of sane size.
    #[error("{source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: crate::target::ReadError,
    },
    /// os-release has no `ID=` line, so nothing can be matched.
    #[error("{} has no ID= line (or an empty one), so the distro cannot be told", path.display())]
    NoId {
        /// The file.
        path: PathBuf,
    },
    /// No distro pack matches the facts.
    #[error(
        "no distro pack matches this system: {facts}{}",
        if same_id.is_empty() {
            String::new()
        } else {
            format!(
                "\n  packs for ID={} exist ({}), but none accepts this version",
                facts.id,
                same_id.join(", ")
            )
        }
    )]
    Unmatched {
        /// The facts found.
        facts: Box<Facts>,
        /// Packs whose match rules name the same `ID`, for the message.
        same_id: Vec<String>,
    },
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl DetectError {
    /// The fix, as a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            DetectError::NotFound { .. } => "name the distro with `--distro ID` (see `installer \
                 distros list`), or point `--root DIR` at the root of the system to prepare"
                .to_owned(),
            DetectError::Read { .. } => "os-release must be a readable regular file of at most \
                 64 KiB; fix it in the root, or name the distro with `--distro ID` (see \
                 `installer distros list`)"
                .to_owned(),
            DetectError::NoId { .. } => "name the distro with `--distro ID` (see `installer \
                 distros list`), or add an ID= line to the file"
                .to_owned(),
            DetectError::Unmatched { .. } => "if this system is compatible with a known distro, \
                 name it with `--distro ID` (see `installer distros list`); otherwise write a \
                 distro pack for it and pass its directory with `--distro-dir DIR` (see \
                 docs/distro-packs.md)"
                .to_owned(),
        })
    }
}

/// Reads `<root>/etc/os-release`, falling back to `<root>/usr/lib/os-release`, and returns the
/// path read with its parse (skipped lines are in [`OsRelease::warnings`]).
pub fn read_os_release(target: &Target) -> Result<(PathBuf, OsRelease), DetectError> {
    let mut tried = Vec::new();
    for file in OS_RELEASE_PATHS {
        let path = target.display(Path::new(file));
        match target.read(file, OS_RELEASE_LIMIT) {
            Ok(Some(read)) => return Ok((path, parse_bytes(&read.bytes))),
            Ok(None) => tried.push(path),
            Err(source) => return Err(DetectError::Read { path, source }),
        }
    }
    Err(DetectError::NotFound { tried })
}

/// Reads os-release under `root` into facts, with the root's architecture, and returns the
/// path of the file read. Skipped lines are logged as warnings naming the file and line.
pub fn read(target: &Target) -> Result<(PathBuf, Facts), DetectError> {
    let (path, os) = read_os_release(target)?;
    for warning in &os.warnings {
        tracing::warn!(
            "{}:{}: line skipped: {}",
            path.display(),
            warning.line,
            warning.message
        );
    }
    match Facts::from_os_release(&os, &target_arch(target)) {
        Some(facts) => Ok((path, facts)),
        None => Err(DetectError::NoId { path }),
    }
}

#[cfg(test)]
mod tests;
