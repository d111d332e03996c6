//! Input checks for package-manager plugins: every repository and package value that ends up
//! in a file or an argv is refused unless it is plainly what it claims to be.
//!
//! The host checks the user's options for shape; the repositories and packages a render
//! request carries come from runtime plugins (and, through them, from `--mirror`, `--version`
//! and `--set`), so a package-manager plugin checks them again before it writes them into a
//! sources line, a `.repo` file or a command. The checks are allowlists: a value with a shell
//! metacharacter, whitespace, a control character or a `..` segment never passes, and the
//! message names the value and the plugin that asked for it.

use crate::{Options, Package, PluginError, Repository};

/// Characters a version may hold besides ASCII letters and digits (Debian and rpm spellings,
/// `~` and `^` included).
const VERSION_EXTRA: &str = "._:~+^-";
/// Characters a package name may hold besides ASCII letters and digits (`:` for apt's
/// `name:arch`).
const PACKAGE_EXTRA: &str = "._+-:";
/// Characters a repository id may hold besides ASCII letters and digits. It becomes a file
/// name and a section name, so no `/`.
const ID_EXTRA: &str = "._+-:";
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
    let mut chars = value.char_indices();
    while let Some((at, c)) = chars.next() {
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
    token(&package.name, PACKAGE_EXTRA, "name", &origin)?;
    if let Some(version) = &package.version {
        token(version, VERSION_EXTRA, "version", &origin)?;
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
    token(&repo.id, ID_EXTRA, "id", &origin)?;
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
}
