//! The value checks of the project, one allowlist per kind of value ([`Kind`]), shared by
//! the host (for the user's flags and for what runtime plugins return) and by the plugins
//! (for what reaches their files and commands): every value that ends up in a file or an
//! argv is refused unless it is plainly what it claims to be.
//!
//! The host checks the user's options for shape; the repositories and packages a render
//! request carries come from runtime plugins (and, through them, from `--mirror`, `--version`
//! and `--set`), so a package-manager plugin checks them again before it writes them into a
//! sources line, a `.repo` file or a command. The checks are allowlists: a value with a shell
//! metacharacter, whitespace, a control character or a `..` segment never passes, and the
//! message names the value and the plugin that asked for it.

use crate::{Options, Package, PluginError, Repository};

/// A kind of name or version: what it is called in messages, the characters it may hold
/// besides ASCII letters and digits, and an example for the hint. Every such value starts
/// with a letter or digit, holds no `..` and is at most [`Kind::MAX_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// What the value is, for messages: "package name".
    pub what: &'static str,
    /// The characters it may hold besides ASCII letters and digits.
    pub extra: &'static str,
    /// A value of this kind, for the hint.
    pub example: &'static str,
}

impl Kind {
    /// The longest value of any kind: no real name or version comes near it.
    pub const MAX_LEN: usize = 128;
}

/// A package version, in Debian's and rpm's spellings (`~` and `^` included, `:` for epochs).
pub const VERSION: Kind = Kind {
    what: "version",
    extra: "._:~+^-",
    example: "1.7.27, 5:28.3.3-1~debian.12~bookworm or 3:28.3.3-1.el9",
};
/// A package name (`:` for apt's `name:arch`).
pub const PACKAGE: Kind = Kind {
    what: "package name",
    extra: "._+-:",
    example: "containerd.io",
};
/// A repository id: it becomes a file name and a section name, so no `/`.
pub const REPOSITORY_ID: Kind = Kind {
    what: "repository id",
    extra: "._+-:",
    example: "docker-ce-stable",
};
/// A kernel module name.
pub const KERNEL_MODULE: Kind = Kind {
    what: "kernel module name",
    extra: "_-",
    example: "br_netfilter",
};
/// A sysctl key, dotted or slashed.
pub const SYSCTL_KEY: Kind = Kind {
    what: "sysctl key",
    extra: "._-/",
    example: "net.ipv4.ip_forward",
};
/// A systemd unit name (templates' `@` included; no escapes).
pub const UNIT: Kind = Kind {
    what: "systemd unit name",
    extra: "@._-:",
    example: "containerd.service",
};
/// A user or group name on the target.
pub const ACCOUNT: Kind = Kind {
    what: "user or group name",
    extra: "._-",
    example: "root",
};
/// A plugin's name.
pub const PLUGIN_NAME: Kind = Kind {
    what: "plugin name",
    extra: "._-",
    example: "containerd",
};
/// A Kubernetes node's name (a DNS subdomain: lower-case letters, digits, `-` and `.`;
/// Kubernetes "Object Names and IDs"). Upper case is refused here; the kubelet registers a
/// hostname in lower case.
pub const NODE_NAME: Kind = Kind {
    what: "node name",
    extra: ".-",
    example: "worker-1",
};
/// A runtime handler's name: what a RuntimeClass's `handler` holds (a DNS label, per the
/// Kubernetes RuntimeClass API: lower-case letters, digits and `-`).
pub const RUNTIME_HANDLER: Kind = Kind {
    what: "runtime handler name",
    extra: "-",
    example: "runsc",
};
/// A containerd shim type (a runtime's `runtime_type`).
pub const SHIM: Kind = Kind {
    what: "containerd shim type",
    extra: "._-",
    example: "io.containerd.runsc.v1",
};
/// A key of a runtime handler's options (a bare TOML key).
pub const OPTION_KEY: Kind = Kind {
    what: "runtime option name",
    extra: "_-",
    example: "ConfigPath",
};
/// A distro pack id.
pub const DISTRO_ID: Kind = Kind {
    what: "distro pack id",
    extra: "._-",
    example: "debian-12",
};

/// Refuses `value` unless it is a well-formed value of `kind`; `origin` says where it came
/// from (`--version`, `plugin \`docker\``).
pub fn check(value: &str, kind: &Kind, origin: &str) -> Result<(), PluginError> {
    token(value, kind.extra, kind.what, origin).map_err(|e| {
        let hint = format!("expected a {} such as {}", kind.what, kind.example);
        PluginError {
            hint: Some(match e.hint {
                Some(h) => format!("{hint}; {h}"),
                None => hint,
            }),
            ..e
        }
    })?;
    if value.len() > Kind::MAX_LEN {
        return Err(PluginError::invalid_input(format!(
            "{} `{}…` of {origin} is longer than {} bytes",
            kind.what,
            &value[..value.floor_char_boundary(32)],
            Kind::MAX_LEN
        )));
    }
    Ok(())
}

/// Characters no free-form value (an image reference, a sysctl value, a plugin setting) ever
/// needs, and which could start a command, a substitution, a redirection or a quote in some
/// consumer.
pub const FORBIDDEN: &[char] = &[
    ';', '|', '&', '$', '`', '<', '>', '\\', '"', '\'', '(', ')', '{', '}', '*', '?', '!',
];

/// Refuses a free-form value holding a control character or one of [`FORBIDDEN`].
pub fn value(value: &str, origin: &str) -> Result<(), PluginError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(PluginError::invalid_input(format!(
            "{origin}: the value {value:?} contains {}",
            describe(c)
        ))
        .with_hint("values are one line of text; remove the line break or control character"));
    }
    if let Some(c) = value.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(PluginError::invalid_input(format!(
            "{origin}: the value {value:?} contains `{c}`, which no installer value needs and which could inject a command"
        ))
        .with_hint("remove it; versions, names, URLs and image references never contain it"));
    }
    Ok(())
}

/// Refuses a path on the target that is not absolute, has a `..` segment or `//`, or holds
/// what [`value`] refuses.
pub fn target_path(path: &str, origin: &str) -> Result<(), PluginError> {
    value(path, origin)?;
    let p = std::path::Path::new(path);
    if !p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        || path.contains("//")
    {
        return Err(PluginError::invalid_input(format!(
            "{origin}: the path {path:?} must be absolute, without `..` or `//`"
        ))
        .with_hint(
            "paths name a place on the target system, such as /etc/containerd/config.toml",
        ));
    }
    Ok(())
}
/// Characters a URL may hold besides ASCII letters and digits: no quotes, no `;&|()<>!*?`,
/// no backslash, no whitespace. `$` is allowed only before a variable the caller names.
const URL_EXTRA: &str = "-._~:/+,=%@";

/// The rpm repository variables yum, dnf and zypper expand in a baseurl.
pub const RPM_URL_VARIABLES: &[&str] = &["releasever", "releasever_major", "basearch", "arch"];

/// Who asked for a repository or package, for messages: ` (requested by docker)`.
fn requested_by(plugins: &[String]) -> String {
    if plugins.is_empty() {
        String::new()
    } else {
        format!(" (requested by {})", plugins.join(", "))
    }
}

/// Describes a character for a message.
fn describe(c: char) -> String {
    match c {
        '\n' => "a newline".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\t' => "a tab".to_owned(),
        ' ' => "a space".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

/// Refuses `value` unless it is non-empty, made of ASCII letters, digits and `extra`, starts
/// with a letter or digit and holds no `..`. `what` and `origin` name it in the message.
pub fn token(value: &str, extra: &str, what: &str, origin: &str) -> Result<(), PluginError> {
    let refuse = |why: String| {
        Err(PluginError::invalid_input(format!(
            "{what} `{}` of {origin} {why}",
            value.escape_debug()
        ))
        .with_hint(format!(
            "a {what} holds only letters, digits and {}",
            extra
                .chars()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" ")
        )))
    };
    if value.is_empty() {
        return refuse("is empty".to_owned());
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !extra.contains(*c))
    {
        return refuse(format!("contains {}", describe(bad)));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return refuse("does not start with a letter or digit".to_owned());
    }
    if value.contains("..") {
        return refuse("contains `..`".to_owned());
    }
    Ok(())
}

/// Refuses a human-readable line (a repository's name) holding a control character, which
/// could start a new line of a configuration file.
pub fn text_line(value: &str, what: &str, origin: &str) -> Result<(), PluginError> {
    match value.chars().find(|c| c.is_control()) {
        Some(bad) => Err(PluginError::invalid_input(format!(
            "{what} `{}` of {origin} contains {}",
            value.escape_debug(),
            describe(bad)
        ))),
        None => Ok(()),
    }
}

/// Refuses a URL that is not `http://` or `https://` with a host, holds a character outside
/// the allowlist (a `$` is accepted only as `$name` for a name in `variables`), or has a `..`
/// path segment. Returns whether it is safe to fetch without `--allow-insecure-repo`: https,
/// or plain http to a loopback address (a local mirror).
pub fn url(value: &str, variables: &[&str], what: &str, origin: &str) -> Result<bool, PluginError> {
    let refuse = |why: String| {
        Err(PluginError::invalid_input(format!(
            "{what} `{}` of {origin} {why}",
            value.escape_debug()
        )))
    };
    let (https, rest) = if let Some(rest) = value.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = value.strip_prefix("http://") {
        (false, rest)
    } else {
        return refuse("is not an http(s) URL".to_owned());
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return refuse("has no host".to_owned());
    }
    // Credentials would be written into a world-readable repository file, the plan's text
    // and the journal.
    if host.contains('@') {
        return Err(PluginError::invalid_input(format!(
            "{what} of {origin} carries credentials (user:password@host); they would be written into a world-readable repository file and shown in the plan"
        ))
        .with_hint("give the URL without them and store them where the package manager keeps secrets: a file in /etc/apt/auth.conf.d/ with mode 0600 (apt_auth.conf(5)), or username/password in the .repo file's own section for dnf and zypper"));
    }
    // An IPv6 literal's brackets, where URLs have them: around the host, at its start.
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .filter(|(address, port)| {
            address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                && (port.is_empty()
                    || port
                        .strip_prefix(':')
                        .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit())))
        })
        .map(|_| value.len() - rest.len()..value.len() - rest.len() + host.len());
    let mut chars = value.char_indices();
    while let Some((at, c)) = chars.next() {
        if literal.as_ref().is_some_and(|r| r.contains(&at)) && (c == '[' || c == ']') {
            continue;
        }
        if c == '$' {
            let name: String = value[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !variables.contains(&name.as_str()) {
                return refuse(if variables.is_empty() {
                    "contains `$`".to_owned()
                } else {
                    format!(
                        "contains `${name}`, which is not one of {}",
                        variables
                            .iter()
                            .map(|v| format!("`${v}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            }
            for _ in 0..name.len() {
                chars.next();
            }
        } else if !c.is_ascii_alphanumeric() && !URL_EXTRA.contains(c) {
            return refuse(format!("contains {}", describe(c)));
        }
    }
    let path = rest.split_once('/').map_or("", |(_, path)| path);
    if path.split('/').any(|segment| segment == "..") {
        return refuse("has a `..` path segment".to_owned());
    }
    Ok(https || is_loopback(host))
}

/// Whether `host` (with any port, an IPv6 address in brackets) is this machine: plain http to
/// a loopback mirror crosses no network, so it needs no `--allow-insecure-repo`. The one
/// definition the host and the plugins share.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An OpenPGP fingerprint as 40 upper-case hex digits, from 40 hex digits with any spaces.
pub fn fingerprint(value: &str, origin: &str) -> Result<String, PluginError> {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    if compact.len() == 40 && compact.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(compact.to_ascii_uppercase())
    } else {
        Err(PluginError::invalid_input(format!(
            "signing-key fingerprint `{}` of {origin} is not 40 hex digits",
            value.escape_debug()
        ))
        .with_hint("give the full fingerprint, as `gpg --show-keys --with-fingerprint` prints it"))
    }
}

/// A sha256 digest: 64 hex digits, returned in lower case (as `sha256sum` prints it).
pub fn sha256(value: &str, origin: &str) -> Result<String, PluginError> {
    if value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(PluginError::invalid_input(format!(
            "sha256 `{}` of {origin} is not 64 hex digits",
            value.escape_debug()
        ))
        .with_hint("give the digest as `sha256sum FILE` prints it"))
    }
}

/// A member of an archive: a relative path of plain segments (letters, digits, `._+-`), no
/// `.` or `..` segment, no empty one.
pub fn archive_member(value: &str, origin: &str) -> Result<(), PluginError> {
    let plain = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
    };
    if value.split('/').all(plain) {
        Ok(())
    } else {
        Err(PluginError::invalid_input(format!(
            "archive member `{}` of {origin} is not a relative path of plain names",
            value.escape_debug()
        ))
        .with_hint("name the member as `tar -tzf` lists it, such as cri-dockerd/cri-dockerd"))
    }
}

/// Checks a package: its name, and its version pin if any.
pub fn package(package: &Package) -> Result<(), PluginError> {
    let origin = format!(
        "package `{}`{}",
        package.name.escape_debug(),
        requested_by(&package.requested_by)
    );
    check(&package.name, &PACKAGE, &origin)?;
    if let Some(version) = &package.version {
        check(version, &VERSION, &origin)?;
    }
    Ok(())
}

/// A repository's checked signing key: where to fetch it and its normalised fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedKey {
    /// The key's URL.
    pub url: String,
    /// The accepted fingerprints, 40 upper-case hex digits each.
    pub fingerprints: Vec<String>,
}

/// Checks a repository: id, name, URL (with the rpm `variables` the package manager expands),
/// suite, components, architectures and key, and the security rules of F17:
///
/// * a vendor repository must be https, unless `--allow-insecure-repo`;
/// * a repository must have a signing key pinned by fingerprint, unless
///   `--allow-insecure-repo`; a key's URL must be https under the same rule.
///
/// Returns the checked key, if any.
pub fn repository(
    repo: &Repository,
    options: &Options,
    variables: &[&str],
) -> Result<Option<CheckedKey>, PluginError> {
    let origin = format!(
        "repository `{}`{}",
        repo.id.escape_debug(),
        requested_by(&repo.requested_by)
    );
    check(&repo.id, &REPOSITORY_ID, &origin)?;
    text_line(&repo.name, "name", &origin)?;
    let https = url(&repo.url, variables, "URL", &origin)?;
    if repo.vendor && !https && !options.allow_insecure_repo {
        return Err(PluginError::invalid_input(format!(
            "{origin} is a vendor repository at `{}`, which is not https",
            repo.url
        ))
        .with_hint(
            "use its https URL (or an https `--mirror`), or accept plain http for this run by \
             passing --allow-insecure-repo",
        ));
    }
    if let Some(suite) = &repo.suite {
        if suite != "/" {
            token(suite, "._~+-/", "suite", &origin)?;
        }
    }
    for component in &repo.components {
        token(component, "._+-", "component", &origin)?;
    }
    for arch in &repo.architectures {
        token(arch, "_-", "architecture", &origin)?;
    }
    let Some(key) = &repo.key else {
        if options.allow_insecure_repo {
            return Ok(None);
        }
        return Err(PluginError::invalid_input(format!(
            "{origin} at `{}` has no signing key, so nothing it serves could be verified",
            repo.url
        ))
        .with_hint(
            "give the repository a key URL and fingerprint, or accept an unsigned repository \
             for this run by passing --allow-insecure-repo",
        ));
    };
    let key_https = url(&key.url, &[], "signing-key URL", &origin)?;
    if !key_https && !options.allow_insecure_repo {
        return Err(PluginError::invalid_input(format!(
            "{origin} has its signing key at `{}`, which is not https",
            key.url
        ))
        .with_hint("use the key's https URL, or pass --allow-insecure-repo"));
    }
    if key.fingerprints.is_empty() {
        return Err(PluginError::invalid_input(format!(
            "{origin} has a signing key at `{}` without a fingerprint, so the key could not be \
             verified",
            key.url
        )));
    }
    let fingerprints = key
        .fingerprints
        .iter()
        .map(|f| fingerprint(f, &origin))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(CheckedKey {
        url: key.url.clone(),
        fingerprints,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SigningKey, VersionMatch};

    fn repo(url: &str) -> Repository {
        Repository {
            id: "docker".to_owned(),
            name: "Docker CE".to_owned(),
            url: url.to_owned(),
            suite: Some("focal".to_owned()),
            components: vec!["stable".to_owned()],
            architectures: vec!["amd64".to_owned()],
            key: Some(SigningKey {
                url: "https://download.docker.com/linux/ubuntu/gpg".to_owned(),
                fingerprints: vec!["9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88".to_owned()],
            }),
            vendor: true,
            requested_by: vec!["docker".to_owned()],
        }
    }

    fn package(name: &str, version: &str) -> Package {
        Package {
            name: name.to_owned(),
            version: Some(version.to_owned()),
            version_match: VersionMatch::Exact,
            hold: false,
            requested_by: vec!["docker".to_owned()],
            vulnerabilities: Vec::new(),
        }
    }

    #[test]
    fn good_values_pass_and_fingerprints_are_normalised() {
        let key = repository(
            &repo("https://download.docker.com/linux/ubuntu"),
            &Options::default(),
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            key.fingerprints,
            ["9DC858229FC7DD38854AE2D88D81803C0EBFCD88"]
        );
        assert!(super::package(&package("docker-ce", "5:19.03.8~3-0~ubuntu-focal")).is_ok());
        assert!(super::package(&package("containerd.io", "1.2.13-1")).is_ok());
        assert!(super::package(&package("libstdc++6", "12.2.0-14")).is_ok());
        assert!(url(
            "https://download.docker.com/linux/centos/$releasever/$basearch/stable",
            RPM_URL_VARIABLES,
            "URL",
            "x"
        )
        .is_ok());
    }

    #[test]
    fn plain_http_is_safe_only_to_a_loopback_mirror() {
        for (u, safe) in [
            ("https://download.docker.com/linux/debian", true),
            ("http://127.0.0.1:8080/linux/debian", true),
            ("http://127.9.0.1/x", true),
            ("http://localhost/x", true),
            ("http://mirror.example.com/x", false),
            ("http://127.0.0.1.example.com/x", false),
            ("http://10.0.0.1:8080/x", false),
        ] {
            assert_eq!(url(u, &[], "URL", "x").unwrap(), safe, "{u}");
        }
    }

    #[test]
    fn injection_is_refused_naming_value_and_origin() {
        for bad in [
            "1.0;reboot",
            "1.0 && true",
            "$(id)",
            "1.0\n",
            "`id`",
            "1.0|x",
            "../1",
        ] {
            let err = super::package(&package("docker-ce", bad)).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::InvalidInput);
            assert!(
                err.message
                    .contains("package `docker-ce` (requested by docker)"),
                "{}",
                err.message
            );
            assert!(err.message.contains("version"), "{}", err.message);
        }
        let err = super::package(&package("-oAPT::x", "1")).unwrap_err();
        assert!(err.message.contains("does not start"), "{}", err.message);
        for bad in [
            "https://example.com/a b",
            "https://example.com/$(id)",
            "https://example.com/x;y",
            "https://example.com/../etc",
            "https://example.com/a\nb",
            "ftp://example.com/",
            "https:///path",
        ] {
            let err = repository(&repo(bad), &Options::default(), RPM_URL_VARIABLES).unwrap_err();
            assert!(
                err.message
                    .contains("repository `docker` (requested by docker)"),
                "{}",
                err.message
            );
        }
        let mut r = repo("https://example.com/");
        r.id = "../../etc/cron.d/x".to_owned();
        assert!(repository(&r, &Options::default(), &[]).is_err());
        let mut r = repo("https://example.com/");
        r.name = "x\ngpgcheck=0".to_owned();
        let err = repository(&r, &Options::default(), &[]).unwrap_err();
        assert!(err.message.contains("newline"), "{}", err.message);
    }

    #[test]
    fn dollar_is_only_a_known_variable() {
        assert!(url("https://x/$releasever", &[], "URL", "o").is_err());
        let err = url("https://x/$HOME", RPM_URL_VARIABLES, "URL", "o").unwrap_err();
        assert!(err.message.contains("$HOME"), "{}", err.message);
    }

    #[test]
    fn plain_http_vendor_repositories_need_the_flag_by_name() {
        let r = repo("http://download.docker.com/linux/ubuntu");
        let err = repository(&r, &Options::default(), &[]).unwrap_err();
        assert!(err.message.contains("`docker`"), "{}", err.message);
        assert!(
            err.message
                .contains("http://download.docker.com/linux/ubuntu"),
            "{}",
            err.message
        );
        assert!(err.hint.unwrap().contains("--allow-insecure-repo"));
        let allowed = Options {
            allow_insecure_repo: true,
            ..Options::default()
        };
        assert!(repository(&r, &allowed, &[]).is_ok());
        let mut distro_mirror = r.clone();
        distro_mirror.vendor = false;
        assert!(repository(&distro_mirror, &Options::default(), &[]).is_ok());
    }

    #[test]
    fn a_repository_without_a_key_needs_the_flag() {
        let mut r = repo("https://example.com/");
        r.key = None;
        let err = repository(&r, &Options::default(), &[]).unwrap_err();
        assert!(err.message.contains("no signing key"), "{}", err.message);
        assert!(err.hint.unwrap().contains("--allow-insecure-repo"));
        let allowed = Options {
            allow_insecure_repo: true,
            ..Options::default()
        };
        assert_eq!(repository(&r, &allowed, &[]).unwrap(), None);
    }

    #[test]
    fn fingerprints_are_forty_hex_digits() {
        assert!(fingerprint("060A 61C5 1B55 8A7F 742B  77AA C52F EB6B 621E 9F35", "o").is_ok());
        assert!(fingerprint("0EBFCD88", "o").is_err());
        assert!(fingerprint("ZZ0A61C51B558A7F742B77AAC52FEB6B621E9F35", "o").is_err());
        assert!(fingerprint("060A61C51B558A7F742B77AAC52FEB6B621E9F35\n", "o").is_err());
        let mut r = repo("https://example.com/");
        r.key.as_mut().unwrap().fingerprints.clear();
        assert!(repository(&r, &Options::default(), &[]).is_err());
    }

    #[test]
    fn a_digest_is_64_hex_digits_and_a_member_a_plain_relative_path() {
        let digest = "87F31C964D974CDCE9C883C79B69E355C3C323E51D3A7D36CDA140E6DF7B8D5A";
        assert_eq!(sha256(digest, "x").unwrap(), digest.to_ascii_lowercase());
        for bad in [
            "",
            "abc",
            &digest[1..],
            &format!("{digest}0"),
            &digest.replace('F', "g"),
        ] {
            assert!(sha256(bad, "x").is_err(), "{bad}");
        }
        assert!(archive_member("cri-dockerd/cri-dockerd", "x").is_ok());
        assert!(archive_member("bin/runsc-1.0_x86+64", "x").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "./a",
            "a//b",
            "a/",
            "a b",
            "a;b",
            "..",
        ] {
            let err = archive_member(bad, "plugin `p`").unwrap_err().to_string();
            assert!(err.contains("plugin `p`"), "{err}");
        }
    }

    #[test]
    fn each_kind_has_its_own_allowlist_and_a_hint_with_an_example() {
        assert!(check("getty@tty1.service", &UNIT, "x").is_ok());
        assert!(check("getty@tty1.service", &PACKAGE, "x").is_err());
        assert!(check("net/ipv4/ip_forward", &SYSCTL_KEY, "x").is_ok());
        assert!(check("net/ipv4/ip_forward", &REPOSITORY_ID, "x").is_err());
        assert!(check("5:28.3.3-1~debian.12~bookworm", &VERSION, "x").is_ok());
        assert!(check("br_netfilter", &KERNEL_MODULE, "x").is_ok());
        assert!(check("br.netfilter", &KERNEL_MODULE, "x").is_err());
        let err = check("1.7;reboot", &VERSION, "--version").unwrap_err();
        assert!(
            err.message.contains("--version") && err.message.contains("`;`"),
            "{err}"
        );
        assert!(err.hint.unwrap().contains("1.7.27"));
        let long = "a".repeat(Kind::MAX_LEN + 1);
        assert!(check(&long, &PACKAGE, "x").is_err());
        assert!(check(&long[1..], &PACKAGE, "x").is_ok());
    }

    #[test]
    fn free_values_and_target_paths_refuse_what_could_inject_or_escape() {
        assert!(value("registry.k8s.io/pause:3.10", "x").is_ok());
        for bad in ["a;b", "$(reboot)", "a\nb", "`id`", "a'b"] {
            assert!(value(bad, "--sandbox-image").is_err(), "{bad}");
        }
        assert!(target_path("/etc/containerd/config.toml", "x").is_ok());
        for bad in ["etc/x", "/etc/../x", "/etc//x", "/etc/x\n", "/etc/$(x)"] {
            assert!(target_path(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_take_ipv6_literals_but_no_brackets_or_credentials_elsewhere() {
        assert_eq!(url("http://[::1]:8080/debian", &[], "URL", "x"), Ok(true));
        assert_eq!(url("https://[2001:db8::1]/x", &[], "URL", "x"), Ok(true));
        assert!(url("https://example.com/[x]", &[], "URL", "x").is_err());
        assert!(url("https://[evil$(id)]/x", &[], "URL", "x").is_err());
        let err = url("https://user:pw@example.com/x", &[], "URL", "--mirror").unwrap_err();
        assert!(err.message.contains("credentials"), "{err}");
    }
}
