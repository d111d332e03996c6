//! The user's selection: flags and `--config` merged (flags win), checked for shape, and
//! turned into the [`Options`] document plugins receive.
//!
//! Shape checks here are about safety, not meaning: no value the user gives may smuggle a
//! command, a newline or a path escape into a plan, whatever a plugin then does with it.
//! Plugins check meaning (is this a version they know).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plugin_api::{validate, CgroupDriver, Options, Source};
use serde::Deserialize;

use crate::target::Target;
use crate::Error;

mod selection;

pub use selection::Selection;

/// The `--config` file: the selection's flags as TOML keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConfigFile {
    distro: Option<String>,
    runtime: Option<String>,
    version: Option<String>,
    kubernetes_version: Option<String>,
    cgroup_driver: Option<String>,
    arch: Option<String>,
    sandbox_image: Option<String>,
    source: Option<String>,
    mirror: Option<String>,
    #[serde(default)]
    set: BTreeMap<String, toml::Value>,
    #[serde(default)]
    with: Vec<String>,
    #[serde(default)]
    allow_vulnerable: Vec<String>,
    #[serde(default)]
    allow_insecure_repo: bool,
    #[serde(default, rename = "override")]
    overrides: Vec<String>,
    #[serde(default)]
    configure_kubelet: bool,
}

/// A resolved selection.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `--distro`, if given; otherwise the distro is detected.
    pub distro: Option<String>,
    /// Extra runtime-kind plugins (`--with`).
    pub with: Vec<String>,
    /// The document for plugins.
    pub options: Options,
    /// Keys whose value in an existing config file the plan's replaces (`--override`).
    pub overrides: Vec<String>,
    /// `--configure-kubelet`: the plan also aligns the kubelet's configuration.
    pub configure_kubelet: bool,
    /// `--arch`, in `uname -m` spelling; otherwise the architecture is this machine's (or, for
    /// `render`, decided on the node).
    pub arch: Option<String>,
    /// Whether the user fixed the cgroup driver (`systemd` or `cgroupfs`, not `auto`).
    pub cgroup_driver_fixed: bool,
}

/// Where a value came from, for messages: `--version`, `--set cri-o.key-url`, or
/// `config.toml: set.cri-o.key-url`.
fn origin(config: Option<&Path>, flag: &str, from_config: bool) -> String {
    match (from_config, config) {
        (true, Some(path)) => format!("{}: `{}`", path.display(), flag.trim_start_matches("--")),
        _ => flag.to_owned(),
    }
}

/// Merges flags over `--config`, checks every value's shape and resolves `auto`.
pub fn resolve(selection: &Selection, target: &Target) -> Result<Resolved, Error> {
    let config_path = selection.config.as_deref();
    let config = match config_path {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    };

    // flag value, else config value, remembering which.
    let pick =
        |flag: &Option<String>, conf: &Option<String>, name: &str| -> Option<(String, String)> {
            match (flag, conf) {
                (Some(v), _) => Some((v.clone(), format!("--{name}"))),
                (None, Some(v)) => Some((v.clone(), origin(config_path, name, true))),
                (None, None) => None,
            }
        };

    let distro = pick(&selection.distro, &config.distro, "distro");
    if let Some((id, from)) = &distro {
        check_token(id, from, &validate::DISTRO_ID)?;
    }
    let runtime = pick(&selection.runtime, &config.runtime, "runtime").ok_or_else(|| {
        Error::input(
            "no runtime selected",
            "pass --runtime docker|containerd|cri-o|mcr (or any runtime plugin shown by `installer plugins list`), or set `runtime` in the --config file",
        )
    })?;
    check_token(&runtime.0, &runtime.1, &validate::PLUGIN_NAME)?;

    let version = pick(&selection.version, &config.version, "version");
    if let Some((v, from)) = &version {
        check_token(v, from, &validate::VERSION)?;
    }
    let kubernetes_version = pick(
        &selection.kubernetes_version,
        &config.kubernetes_version,
        "kubernetes-version",
    );
    if let Some((v, from)) = &kubernetes_version {
        check_kubernetes_version(v, from)?;
    }
    let sandbox_image = pick(
        &selection.sandbox_image,
        &config.sandbox_image,
        "sandbox-image",
    );
    if let Some((v, from)) = &sandbox_image {
        check_value(v, from)?;
    }
    let allow_insecure_repo = selection.allow_insecure_repo || config.allow_insecure_repo;
    let mirror = pick(&selection.mirror, &config.mirror, "mirror");
    if let Some((url, from)) = &mirror {
        check_url(url, from, allow_insecure_repo)?;
    }

    let source =
        match pick(&selection.source, &config.source, "source") {
            None => Source::Upstream,
            Some((s, _)) if s == "upstream" => Source::Upstream,
            Some((s, _)) if s == "distro" => Source::Distro,
            Some((s, from)) => return Err(Error::input(
                format!("{from}: unknown source {s:?}"),
                "use `upstream` (the vendor's repository) or `distro` (the distro's own archive)",
            )),
        };
    if let (Source::Distro, Some((url, from))) = (source, &mirror) {
        return Err(Error::input(
            format!("{from} {url} replaces the vendor's repository, and --source distro uses none: the mirror would be ignored"),
            "drop the mirror (the distro's packages come from the target's own package sources), or use --source upstream",
        ));
    }

    let driver = pick(
        &selection.cgroup_driver,
        &config.cgroup_driver,
        "cgroup-driver",
    );
    let (cgroup_driver, cgroup_driver_reason) = match driver
        .as_ref()
        .map(|(d, f)| (d.as_str(), f.as_str()))
    {
        Some(("systemd", _)) if selection.for_node => (
            CgroupDriver::Systemd,
            "systemd (decided on the node: systemd is init there, or its cgroups are v2)"
                .to_owned(),
        ),
        Some(("cgroupfs", _)) if selection.for_node => (
            CgroupDriver::Cgroupfs,
            "cgroupfs (decided on the node: systemd is not init there, and its cgroups are v1)"
                .to_owned(),
        ),
        Some(("systemd", from)) => (CgroupDriver::Systemd, format!("systemd (as {from} says)")),
        Some(("cgroupfs", from)) => (CgroupDriver::Cgroupfs, format!("cgroupfs (as {from} says)")),
        None | Some(("auto", _)) => {
            auto_cgroup_driver(target, Path::new("/sys/fs/cgroup/cgroup.controllers"))
        }
        Some((other, from)) => {
            return Err(Error::input(
                format!("{from}: unknown cgroup driver {other:?}"),
                "use systemd, cgroupfs or auto",
            ))
        }
    };

    let arch = match pick(&selection.arch, &config.arch, "arch") {
        None => None,
        Some((a, from)) => Some(uname_arch(&a).ok_or_else(|| {
            Error::input(
                format!("{from}: unknown architecture {a:?}"),
                format!("use one of {} (or dpkg's and rpm's names for them: amd64, arm64, armhf, ppc64el, armv7hl)", KNOWN_ARCHES.join(", ")),
            )
        })?),
    };

    let mut set = BTreeMap::new();
    for (key, value) in &config.set {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let from = origin(config_path, &format!("set.{key}"), true);
        check_set_key(key, &from)?;
        check_value(&text, &from)?;
        set.insert(key.clone(), text);
    }
    for pair in &selection.set {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            Error::input(
                format!("--set {pair:?} has no `=`"),
                "write --set KEY=VALUE, e.g. --set cri-o.allow-version-skew=true",
            )
        })?;
        let from = format!("--set {key}");
        check_set_key(key, &from)?;
        check_value(value, &from)?;
        set.insert(key.to_owned(), value.to_owned());
    }

    let mut with = config.with.clone();
    with.extend(selection.with.iter().cloned());
    for name in &with {
        check_token(name, "--with", &validate::PLUGIN_NAME)?;
    }
    let mut allow_vulnerable = config.allow_vulnerable.clone();
    allow_vulnerable.extend(selection.allow_vulnerable.iter().cloned());
    for cve in &allow_vulnerable {
        check_cve(cve)?;
    }
    let mut overrides = config.overrides.clone();
    overrides.extend(selection.overrides.iter().cloned());
    for key in &overrides {
        check_value(key, "--override")?;
    }

    Ok(Resolved {
        distro: distro.map(|d| d.0),
        with,
        options: Options {
            runtime: runtime.0,
            version: version.map(|v| v.0),
            kubernetes_version: kubernetes_version.map(|v| v.0),
            cgroup_driver,
            cgroup_driver_reason,
            sandbox_image: sandbox_image.map(|v| v.0),
            source,
            mirror: mirror.map(|v| v.0),
            set,
            allow_vulnerable,
            allow_insecure_repo,
        },
        overrides,
        configure_kubelet: selection.configure_kubelet || config.configure_kubelet,
        arch,
        cgroup_driver_fixed: matches!(
            driver.as_ref().map(|(d, _)| d.as_str()),
            Some("systemd" | "cgroupfs")
        ),
    })
}

/// Machine architectures `--arch` takes, in `uname -m` spelling.
pub const KNOWN_ARCHES: &[&str] = &["x86_64", "aarch64", "armv7l", "ppc64le", "s390x", "i686"];

/// `--arch` in `uname -m` spelling, whichever spelling it came in; `None` for a name we do
/// not know.
pub fn uname_arch(arch: &str) -> Option<String> {
    let name = match arch {
        "x86_64" | "amd64" => "x86_64",
        "aarch64" | "arm64" => "aarch64",
        "armv7l" | "armhf" | "armv7hl" => "armv7l",
        "ppc64le" | "ppc64el" => "ppc64le",
        "s390x" => "s390x",
        "i686" | "i386" => "i686",
        _ => return None,
    };
    Some(name.to_owned())
}

fn read_config(path: &Path) -> Result<ConfigFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(
            format!("cannot read the config file {}: {e}", path.display()),
            "check the --config path",
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!(" at line {line}")
            })
            .unwrap_or_default();
        Error::input(
            format!("config file {}{at}: {}", path.display(), e.message()),
            "its keys are the selection flags without dashes' prefix (runtime, version, kubernetes-version, cgroup-driver, sandbox-image, source, mirror, with, allow-vulnerable, allow-insecure-repo, override) and a [set] table",
        )
    })
}

/// `auto`: systemd when systemd is init in the target (`<root>/run/systemd/system`) or the
/// host's cgroups are v2 (`cgroup.controllers` at the cgroup mount), else cgroupfs.
pub fn auto_cgroup_driver(target: &Target, cgroup_v2_marker: &Path) -> (CgroupDriver, String) {
    let systemd_dir = "/run/systemd/system";
    if target.is_dir(systemd_dir) {
        (
            CgroupDriver::Systemd,
            format!(
                "systemd (auto: {} exists, so systemd is init)",
                target.display(Path::new(systemd_dir)).display()
            ),
        )
    } else if cgroup_v2_marker.exists() {
        (
            CgroupDriver::Systemd,
            format!(
                "systemd (auto: the host is on cgroup v2, {} exists)",
                cgroup_v2_marker.display()
            ),
        )
    } else {
        (
            CgroupDriver::Cgroupfs,
            format!(
                "cgroupfs (auto: {} is absent and the host is on cgroup v1)",
                target.display(Path::new(systemd_dir)).display()
            ),
        )
    }
}

/// The user gave a value the shared checks refuse: bad input (exit 2), with their hint.
fn user(e: plugin_api::PluginError) -> Error {
    Error::Input {
        message: e.message,
        hint: e.hint,
    }
}

/// Refuses a free-form value carrying control characters or shell metacharacters
/// ([`validate::value`]).
pub fn check_value(value: &str, from: &str) -> Result<(), Error> {
    validate::value(value, from).map_err(user)
}

/// A name or version of `kind` ([`validate::check`]).
pub fn check_token(value: &str, from: &str, kind: &validate::Kind) -> Result<(), Error> {
    validate::check(value, kind, from).map_err(user)
}

fn check_set_key(key: &str, from: &str) -> Result<(), Error> {
    let ok = key.contains('.')
        && key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::input(
            format!("{from}: {key:?} is not a plugin option key"),
            "keys are <plugin>.<option> in lowercase, e.g. cri-o.allow-version-skew",
        ))
    }
}

fn check_kubernetes_version(value: &str, from: &str) -> Result<(), Error> {
    let parts: Vec<&str> = value.trim_start_matches('v').split('.').collect();
    let ok = (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        check_value(value, from)?;
        Err(Error::input(
            format!("{from}: {value:?} is not a Kubernetes version"),
            "write X.Y (or X.Y.Z), e.g. 1.30",
        ))
    }
}

fn check_cve(value: &str) -> Result<(), Error> {
    let mut parts = value.splitn(3, '-');
    let ok = parts.next() == Some("CVE")
        && parts
            .next()
            .is_some_and(|y| y.len() == 4 && y.chars().all(|c| c.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|n| n.len() >= 4 && n.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(Error::input(
            format!("--allow-vulnerable: {value:?} is not a CVE id"),
            "name the CVE exactly, e.g. CVE-2024-21626",
        ))
    }
}

/// Whether the URL's host is a loopback address or name: plain http to it crosses no network.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    url.host_str().is_some_and(validate::is_loopback)
}

/// A repository or key URL: what [`validate::url`] accepts (with the rpm variables a
/// package manager expands), https, or http on loopback (a local mirror), or http anywhere
/// with `--allow-insecure-repo`.
pub fn check_url(value: &str, from: &str, allow_insecure: bool) -> Result<(), Error> {
    let safe = validate::url(value, validate::RPM_URL_VARIABLES, "the URL", from).map_err(|e| {
        Error::input(
            e.message,
            e.hint.unwrap_or_else(|| {
                "write a full http(s) URL such as https://mirror.example.com/docker".to_owned()
            }),
        )
    })?;
    if safe || allow_insecure {
        Ok(())
    } else {
        Err(Error::input(
            format!("{from}: {value} is plain http; a repository fetched that way can be altered on the way"),
            "use https, or accept the risk by name with --allow-insecure-repo",
        ))
    }
}

/// A path on the target ([`validate::target_path`]).
pub fn check_target_path(path: &str, from: &str) -> Result<PathBuf, Error> {
    validate::target_path(path, from).map_err(user)?;
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests;
