//! Stage 2 of the flow: distro packs (one TOML file per distro release) and matching the
//! detected [`Facts`] to one of them.
//!
//! Built-in packs are the files in `distros/`, embedded in the binary; packs in `--distro-dir`
//! directories add to them, and one whose `id` equals a built-in one replaces it. The schema,
//! the match rules and the variables plugins read are described in `docs/distro-packs.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::detect::{DetectError, Facts};

mod error;
mod parse;

pub use error::PackError;
pub use parse::parse_pack;
use parse::toml_files;

/// The built-in packs: (file name, contents). The test `builtin_list_is_the_directory` keeps
/// this list equal to the files in `distros/`.
const BUILTIN: &[(&str, &str)] = &[
    (
        "almalinux-10.toml",
        include_str!("../../distros/almalinux-10.toml"),
    ),
    (
        "almalinux-9.toml",
        include_str!("../../distros/almalinux-9.toml"),
    ),
    ("centos-7.toml", include_str!("../../distros/centos-7.toml")),
    (
        "centos-stream-10.toml",
        include_str!("../../distros/centos-stream-10.toml"),
    ),
    (
        "centos-stream-9.toml",
        include_str!("../../distros/centos-stream-9.toml"),
    ),
    (
        "debian-10.toml",
        include_str!("../../distros/debian-10.toml"),
    ),
    (
        "debian-11.toml",
        include_str!("../../distros/debian-11.toml"),
    ),
    (
        "debian-12.toml",
        include_str!("../../distros/debian-12.toml"),
    ),
    (
        "debian-13.toml",
        include_str!("../../distros/debian-13.toml"),
    ),
    (
        "debian-testing.toml",
        include_str!("../../distros/debian-testing.toml"),
    ),
    (
        "debian-unstable.toml",
        include_str!("../../distros/debian-unstable.toml"),
    ),
    (
        "fedora-40.toml",
        include_str!("../../distros/fedora-40.toml"),
    ),
    (
        "opensuse-leap-15.toml",
        include_str!("../../distros/opensuse-leap-15.toml"),
    ),
    (
        "opensuse-tumbleweed.toml",
        include_str!("../../distros/opensuse-tumbleweed.toml"),
    ),
    (
        "raspbian-10.toml",
        include_str!("../../distros/raspbian-10.toml"),
    ),
    ("rhel-10.toml", include_str!("../../distros/rhel-10.toml")),
    ("rhel-8.toml", include_str!("../../distros/rhel-8.toml")),
    ("rhel-9.toml", include_str!("../../distros/rhel-9.toml")),
    ("rocky-10.toml", include_str!("../../distros/rocky-10.toml")),
    ("rocky-9.toml", include_str!("../../distros/rocky-9.toml")),
    ("sles-15.toml", include_str!("../../distros/sles-15.toml")),
    (
        "ubuntu-18.04.toml",
        include_str!("../../distros/ubuntu-18.04.toml"),
    ),
    (
        "ubuntu-20.04.toml",
        include_str!("../../distros/ubuntu-20.04.toml"),
    ),
    (
        "ubuntu-22.04.toml",
        include_str!("../../distros/ubuntu-22.04.toml"),
    ),
    (
        "ubuntu-24.04.toml",
        include_str!("../../distros/ubuntu-24.04.toml"),
    ),
    (
        "ubuntu-26.04.toml",
        include_str!("../../distros/ubuntu-26.04.toml"),
    ),
];

/// A distro family: which packaging world the distro belongs to. An open name: the built-in
/// packs use `debian`, `rhel` and `suse`; a vendor's pack may name another family, which then
/// needs runtime plugins that declare it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Family(pub String);

impl Family {
    /// The families the built-in packs and plugins know.
    pub const KNOWN: &'static [&'static str] = &["debian", "rhel", "suse"];

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether its packages are `.deb` files, whose architectures dpkg names.
    pub fn is_debian(&self) -> bool {
        self.0 == "debian"
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The package manager a distro release uses: the name a package-manager plugin drives. An
/// open name: `apt`, `yum`, `dnf` and `zypper` have built-in plugins; a vendor's pack may name
/// another (`tdnf`, `apk`), which then needs a plugin of that name on the plugin path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PackageManager(pub String);

impl PackageManager {
    /// The package managers of the built-in plugins, and their families.
    pub const KNOWN: &'static [(&'static str, &'static str)] = &[
        ("apt", "debian"),
        ("yum", "rhel"),
        ("dnf", "rhel"),
        ("zypper", "suse"),
    ];

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The family of a package manager the built-in plugins know; `None` for another.
    pub fn known_family(&self) -> Option<&'static str> {
        Self::KNOWN
            .iter()
            .find(|(name, _)| *name == self.0)
            .map(|(_, family)| *family)
    }
}

impl fmt::Display for PackageManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One distro release, as a pack file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistroPack {
    /// The pack id, equal to the file name without `.toml` (`debian-10`).
    pub id: String,
    /// A human name (`Debian 10 (buster)`).
    pub name: String,
    /// The distro family.
    pub family: Family,
    /// The package manager, which must belong to the family.
    pub package_manager: PackageManager,
    /// os-release `ID` of the distro itself (`debian`).
    pub os_id: String,
    /// os-release `VERSION_ID` of the release; absent on rolling releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The release codename (`buster`), which apt repositories are named by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// The day its vendor's support ended (`2024-06-30`), when it has: plans for it say so.
    /// The source goes in a comment beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_of_life: Option<String>,
    /// When detection chooses this pack.
    #[serde(rename = "match")]
    pub rules: MatchRules,
    /// Variables for plugins, keyed `<plugin>.<name>` (`docker.repo_path`).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

/// The `[match]` table: which os-release facts choose a pack.
///
/// A system "has" the pack's ID when its `ID` is one of [`MatchRules::ids`]; then its
/// `VERSION_ID` must satisfy a version rule. Derivatives (another `ID`) map to the pack only
/// through the rules that allow them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRules {
    /// os-release `ID` values that are this distro; empty means `[os_id]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// `VERSION_ID` values that match exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub version_ids: Vec<String>,
    /// A `VERSION_ID` equal to this, or starting with it and then a `.`, matches: `9` takes
    /// `9`, `9.4`, never `90`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_prefix: Option<String>,
    /// A system with no `VERSION_ID` matches (Debian testing and unstable).
    #[serde(default, skip_serializing_if = "is_false")]
    pub without_version_id: bool,
    /// A rolling release: any `VERSION_ID`, or none, matches.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rolling: bool,
    /// Never chosen by detection, only by `--distro ID`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub manual: bool,
    /// A derivative whose `ID_LIKE` lists one of `ids` and whose `VERSION_ID` satisfies the
    /// version rules maps to this pack.
    #[serde(default, skip_serializing_if = "is_false")]
    pub id_like: bool,
    /// A derivative whose `UBUNTU_CODENAME` equals the pack's `codename` maps to this pack.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ubuntu_codename: bool,
    /// A derivative whose `DEBIAN_CODENAME` equals the pack's `codename` maps to this pack.
    #[serde(default, skip_serializing_if = "is_false")]
    pub debian_codename: bool,
    /// A sentence added to the detection note whenever this pack is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl MatchRules {
    /// Whether any rule lets detection choose the pack for a system with its own ID.
    fn has_version_rule(&self) -> bool {
        !self.version_ids.is_empty()
            || self.version_prefix.is_some()
            || self.without_version_id
            || self.rolling
    }

    /// How `version` satisfies the version rules, best rule first.
    fn version_match(&self, version: Option<&str>) -> Option<MatchedBy> {
        match version {
            Some(v) if self.version_ids.iter().any(|x| x == v) => Some(MatchedBy::Exact),
            Some(v)
                if self
                    .version_prefix
                    .as_deref()
                    .is_some_and(|p| in_prefix(v, p)) =>
            {
                Some(MatchedBy::VersionPrefix)
            }
            None if self.without_version_id => Some(MatchedBy::WithoutVersionId),
            _ if self.rolling => Some(MatchedBy::Rolling),
            _ => None,
        }
    }
}

/// `version` is `prefix` or `prefix.` followed by more: `9.4` is in `9`, `90` is not.
fn in_prefix(version: &str, prefix: &str) -> bool {
    version == prefix
        || version
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl DistroPack {
    /// The os-release IDs that are this distro.
    pub fn ids(&self) -> Vec<&str> {
        if self.rules.ids.is_empty() {
            vec![self.os_id.as_str()]
        } else {
            self.rules.ids.iter().map(String::as_str).collect()
        }
    }

    /// The document plugins receive, with `arch` (`uname -m` spelling) translated to the
    /// package manager's spelling.
    pub fn to_distro(&self, arch: &str) -> plugin_api::Distro {
        plugin_api::Distro {
            id: self.id.clone(),
            name: self.name.clone(),
            family: self.family.to_string(),
            package_manager: self.package_manager.to_string(),
            os_id: self.os_id.clone(),
            version_id: self.version_id.clone(),
            codename: self.codename.clone(),
            arch: package_arch(&self.family, arch),
            vars: self.vars.clone(),
        }
    }
}

/// A machine architecture (`uname -m` spelling) in the spelling of a family's packages:
/// dpkg names (`amd64`, `arm64`, `armhf`) for Debian, rpm names (`x86_64`, `aarch64`) for the
/// others. Unknown names pass through unchanged.
pub fn package_arch(family: &Family, arch: &str) -> String {
    let mapped = match (family.is_debian(), arch) {
        (true, "x86_64" | "amd64") => "amd64",
        (true, "aarch64" | "arm64") => "arm64",
        (true, "arm" | "armv7" | "armv7l" | "armv6l" | "armhf") => "armhf",
        (true, "i386" | "i486" | "i586" | "i686" | "x86") => "i386",
        (true, "ppc64le") => "ppc64el",
        (false, "amd64") => "x86_64",
        (false, "arm64") => "aarch64",
        (false, "arm" | "armv7" | "armv7l" | "armhf") => "armv7hl",
        (false, "x86" | "i386" | "i486" | "i586") => "i686",
        (_, other) => other,
    };
    mapped.to_owned()
}

/// Where a pack came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackSource {
    /// Embedded in the binary, from `distros/<file>`.
    BuiltIn(&'static str),
    /// A file in a distro-pack directory.
    File(PathBuf),
}

impl fmt::Display for PackSource {
    /// `built-in` or the file path: the `source` field of `distros list`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackSource::BuiltIn(_) => f.write_str("built-in"),
            PackSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A pack with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedPack {
    /// The pack.
    pub pack: DistroPack,
    /// Built-in or the file it was read from.
    pub source: PackSource,
    /// Whether this file's pack replaced another with the same id (built-in, or from a
    /// directory read before).
    pub overrides: bool,
    /// The source of the pack it replaced, when it replaced one.
    pub replaces: Option<PackSource>,
    /// The file's text, comments included.
    pub text: String,
}

/// Every known pack: the built-in ones and those from distro-pack directories, by id.
#[derive(Debug, Clone)]
pub struct PackSet {
    packs: Vec<LoadedPack>,
}

/// Why detection chose a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// `ID` and `VERSION_ID` are listed by the pack.
    Exact,
    /// `ID` is the pack's and `VERSION_ID` is under its version prefix.
    VersionPrefix,
    /// `ID` is the pack's and there is no `VERSION_ID` (Debian testing/unstable).
    WithoutVersionId,
    /// `ID` is the pack's and the pack is a rolling release.
    Rolling,
    /// A derivative: its `UBUNTU_CODENAME` is the pack's codename.
    UbuntuCodename,
    /// A derivative: its `DEBIAN_CODENAME` is the pack's codename.
    DebianCodename,
    /// A derivative: its `ID_LIKE` lists the pack's ID and its `VERSION_ID` fits.
    IdLike,
}

impl MatchedBy {
    /// Lower ranks win.
    fn rank(self) -> u8 {
        match self {
            MatchedBy::Exact => 0,
            MatchedBy::VersionPrefix => 1,
            MatchedBy::WithoutVersionId => 2,
            MatchedBy::Rolling => 3,
            MatchedBy::UbuntuCodename => 4,
            MatchedBy::DebianCodename => 5,
            MatchedBy::IdLike => 6,
        }
    }
}

impl fmt::Display for MatchedBy {
    /// The JSON spelling (`exact`, `id_like`, ...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchedBy::Exact => "exact",
            MatchedBy::VersionPrefix => "version_prefix",
            MatchedBy::WithoutVersionId => "without_version_id",
            MatchedBy::Rolling => "rolling",
            MatchedBy::UbuntuCodename => "ubuntu_codename",
            MatchedBy::DebianCodename => "debian_codename",
            MatchedBy::IdLike => "id_like",
        })
    }
}

/// The pack detection chose, and why.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    /// The pack.
    pub pack: &'a DistroPack,
    /// The rule that chose it.
    pub matched_by: MatchedBy,
    /// One or two sentences saying why, for people.
    pub note: String,
}

impl PackSet {
    /// The built-in packs only.
    pub fn builtin() -> Result<PackSet, PackError> {
        PackSet::load(&[])
    }

    /// The built-in packs, then every `*.toml` in each of `dirs`, lowest precedence first
    /// (files sorted by name): a pack whose id an earlier source already has replaces it and
    /// records what it replaced ([`LoadedPack::replaces`]). (One directory cannot hold two
    /// packs of one id: a pack's file is named by its id.)
    pub fn load(dirs: &[PathBuf]) -> Result<PackSet, PackError> {
        let mut packs: Vec<LoadedPack> = Vec::new();
        for (file, text) in BUILTIN {
            let pack = parse_pack(text, &format!("distros/{file}"), file)?;
            packs.push(LoadedPack {
                pack,
                source: PackSource::BuiltIn(file),
                overrides: false,
                replaces: None,
                text: (*text).to_owned(),
            });
        }
        for dir in dirs {
            for path in toml_files(dir)? {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| PackError::ReadFile {
                        path: path.clone(),
                        source,
                    })?;
                let file_name = path.file_name().unwrap_or_default().to_string_lossy();
                let pack = parse_pack(&text, &path.display().to_string(), &file_name)?;
                let loaded = LoadedPack {
                    pack,
                    source: PackSource::File(path.clone()),
                    overrides: false,
                    replaces: None,
                    text,
                };
                match packs.iter_mut().find(|p| p.pack.id == loaded.pack.id) {
                    Some(existing) => {
                        tracing::info!(
                            "distro pack `{}` from {} overrides the one from {}",
                            loaded.pack.id,
                            path.display(),
                            existing.source
                        );
                        let replaced = existing.source.clone();
                        *existing = LoadedPack {
                            overrides: true,
                            replaces: Some(replaced),
                            ..loaded
                        };
                    }
                    None => packs.push(loaded),
                }
            }
        }
        packs.sort_by(|a, b| a.pack.id.cmp(&b.pack.id));
        Ok(PackSet { packs })
    }

    /// Every pack, sorted by id.
    pub fn packs(&self) -> &[LoadedPack] {
        &self.packs
    }

    /// The pack `id` with its source; an unknown id is an error listing the known ones.
    pub fn entry(&self, id: &str) -> Result<&LoadedPack, PackError> {
        if let Some(loaded) = self.packs.iter().find(|p| p.pack.id == id) {
            return Ok(loaded);
        }
        let squash = |s: &str| {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let wanted = squash(id);
        Err(PackError::Unknown {
            id: id.to_owned(),
            suggestion: self
                .packs
                .iter()
                .find(|p| squash(&p.pack.id) == wanted)
                .map(|p| p.pack.id.clone()),
            known: self.packs.iter().map(|p| p.pack.id.clone()).collect(),
        })
    }

    /// The pack `id`; an unknown id is an error listing the known ones.
    pub fn get(&self, id: &str) -> Result<&DistroPack, PackError> {
        self.entry(id).map(|loaded| &loaded.pack)
    }

    /// The pack for `facts`: the system's own distro first (exact `VERSION_ID`, then version
    /// prefix, then no `VERSION_ID`, then rolling), then, for a derivative, the packs that
    /// allow it (by `UBUNTU_CODENAME`, by `DEBIAN_CODENAME`, then by `ID_LIKE`, closest
    /// `ID_LIKE` entry first). Among equals, a directory pack wins over a built-in one, then
    /// the lower id.
    pub fn match_facts(&self, facts: &Facts) -> Result<Match<'_>, DetectError> {
        let mut candidates: Vec<(MatchedBy, usize, &LoadedPack)> = Vec::new();
        for loaded in &self.packs {
            let pack = &loaded.pack;
            let rules = &pack.rules;
            if rules.manual {
                continue;
            }
            let ids = pack.ids();
            if ids.contains(&facts.id.as_str()) {
                if let Some(by) = rules.version_match(facts.version_id.as_deref()) {
                    candidates.push((by, 0, loaded));
                }
                continue;
            }
            let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
            if rules.ubuntu_codename && same(&facts.ubuntu_codename, &pack.codename) {
                candidates.push((MatchedBy::UbuntuCodename, 0, loaded));
            } else if rules.debian_codename && same(&facts.debian_codename, &pack.codename) {
                candidates.push((MatchedBy::DebianCodename, 0, loaded));
            } else if rules.id_like {
                let position = facts.id_like.iter().position(|l| ids.contains(&l.as_str()));
                let fits = matches!(
                    rules.version_match(facts.version_id.as_deref()),
                    Some(MatchedBy::Exact | MatchedBy::VersionPrefix)
                );
                if let (Some(position), true) = (position, fits) {
                    candidates.push((MatchedBy::IdLike, position, loaded));
                }
            }
        }
        candidates.sort_by_key(|(by, position, loaded)| {
            (
                by.rank(),
                *position,
                matches!(loaded.source, PackSource::BuiltIn(_)),
                loaded.pack.id.clone(),
            )
        });
        let Some(&(matched_by, position, best)) = candidates.first() else {
            let same_id = self
                .packs
                .iter()
                .filter(|p| p.pack.ids().contains(&facts.id.as_str()))
                .map(|p| p.pack.id.clone())
                .collect();
            return Err(DetectError::Unmatched {
                facts: Box::new(facts.clone()),
                same_id,
            });
        };
        let tied: Vec<&str> = candidates[1..]
            .iter()
            .filter(|(by, pos, _)| *by == matched_by && *pos == position)
            .map(|(_, _, p)| p.pack.id.as_str())
            .collect();
        if !tied.is_empty() {
            tracing::warn!(
                "distro packs {} match this system as well as `{}`; chose `{}` (pass --distro \
                 to choose another)",
                tied.join(", "),
                best.pack.id,
                best.pack.id
            );
        }
        Ok(Match {
            pack: &best.pack,
            matched_by,
            note: note(facts, &best.pack, matched_by),
        })
    }
}

/// Why `pack` was chosen, in words.
fn note(facts: &Facts, pack: &DistroPack, by: MatchedBy) -> String {
    let version = facts.version_id.as_deref().unwrap_or("");
    let system = match &facts.pretty_name {
        Some(pretty) => format!("ID={} ({pretty})", facts.id),
        None => format!("ID={}", facts.id),
    };
    let codename = pack.codename.as_deref().unwrap_or("");
    let mut note = match by {
        MatchedBy::Exact => format!(
            "ID={} VERSION_ID={version} is listed by pack {}",
            facts.id, pack.id
        ),
        MatchedBy::VersionPrefix => format!(
            "ID={} VERSION_ID={version} is a {}.x release, which pack {} covers",
            facts.id,
            pack.rules.version_prefix.as_deref().unwrap_or(""),
            pack.id
        ),
        MatchedBy::WithoutVersionId => format!(
            "ID={} without VERSION_ID is matched by pack {}",
            facts.id, pack.id
        ),
        MatchedBy::Rolling => format!(
            "ID={} is a rolling release; pack {} takes any VERSION_ID",
            facts.id, pack.id
        ),
        MatchedBy::UbuntuCodename => format!(
            "derivative: {system} is built on Ubuntu {codename} (UBUNTU_CODENAME={codename}); \
             mapped to {}, whose pack allows derivatives by codename, so {}'s repositories and \
             packages are used",
            pack.id, pack.id
        ),
        MatchedBy::DebianCodename => format!(
            "derivative: {system} is built on Debian {codename} (DEBIAN_CODENAME={codename}); \
             mapped to {}, whose pack allows derivatives by codename, so {}'s repositories and \
             packages are used",
            pack.id, pack.id
        ),
        MatchedBy::IdLike => format!(
            "derivative: {system} lists {} in ID_LIKE and VERSION_ID={version} fits; mapped to \
             {}, whose pack allows derivatives via ID_LIKE, so {}'s repositories and packages \
             are used",
            pack.ids().join("/"),
            pack.id,
            pack.id
        ),
    };
    if let Some(extra) = &pack.rules.note {
        note.push_str("; ");
        note.push_str(extra.trim());
    }
    note
}

#[cfg(test)]
mod tests;

/// Property tests: a pack file is someone else's data; any text is refused cleanly or
/// accepted, never a panic, and a refusal names the file.
#[cfg(test)]
mod properties;
