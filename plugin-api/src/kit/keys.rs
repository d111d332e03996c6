//! Vendor repositories, `--mirror`, and signing keys pinned by fingerprint.
//!
//! `--mirror URL` replaces a vendor's origin (scheme and host, `https://download.docker.com`)
//! and keeps the path below it, so one mirror of the vendor's tree serves every repository a
//! plugin adds (CRI-O's two Kubic repositories, say) and a site can mirror several vendors
//! side by side. The signing key is then fetched from the mirror too, unless
//! `--set <plugin>.key-url` names it, and must carry the vendor's fingerprint unless
//! `--set <plugin>.key-fingerprint` names others (a mirror re-signed with the site's key).
//! A key is never skipped: a vendor without a fingerprint we can pin needs the user's.

use crate::{validate, Options, PluginError, SigningKey};

use crate::kit::settings::Settings;

/// The base URL to use for a vendor whose origin is `origin`: `--mirror` when given (without
/// a trailing `/`), else `origin`.
pub fn base_url(options: &Options, origin: &str) -> Result<String, PluginError> {
    match options.mirror.as_deref() {
        None => Ok(origin.to_owned()),
        Some(mirror) => {
            validate::url(mirror, &[], "URL", "--mirror").map_err(|e| {
                e.with_hint(
                    "give the mirror's base URL, e.g. --mirror https://mirror.example.com/docker",
                )
            })?;
            Ok(mirror.trim_end_matches('/').to_owned())
        }
    }
}

/// `--set <plugin>.<name>`, a URL checked as one (without a trailing `/`), or `default`: a
/// repository's base URL that a site points at its mirror.
pub fn url_setting(
    settings: &Settings<'_>,
    name: &str,
    default: &str,
) -> Result<String, PluginError> {
    match settings.get(name) {
        None => Ok(default.to_owned()),
        Some(url) => {
            let origin = format!("--set {}.{name}", settings.plugin());
            validate::url(url, &[], "URL", &origin)?;
            Ok(url.trim_end_matches('/').to_owned())
        }
    }
}

/// The signing key for a repository: fetched from `default_url` (already on the mirror when
/// there is one) unless `--set <plugin>.key-url` says otherwise, holding one of
/// `vendor_fingerprints` unless `--set <plugin>.key-fingerprint` says otherwise. `vendor`
/// names the key's owner in messages.
pub fn signing_key(
    settings: &Settings<'_>,
    vendor: &str,
    default_url: &str,
    vendor_fingerprints: &[&str],
) -> Result<SigningKey, PluginError> {
    let plugin = settings.plugin();
    let url = match settings.get("key-url") {
        Some(url) => {
            validate::url(url, &[], "URL", &format!("--set {plugin}.key-url"))?;
            url.to_owned()
        }
        None => default_url.to_owned(),
    };
    let fingerprints = match settings.get("key-fingerprint") {
        Some(list) => {
            let origin = format!("--set {plugin}.key-fingerprint");
            list.split(',')
                .map(|f| validate::fingerprint(f.trim(), &origin))
                .collect::<Result<Vec<_>, _>>()?
        }
        None if vendor_fingerprints.is_empty() => {
            return Err(PluginError::invalid_input(format!(
                "the {vendor} repository's signing key ({url}) has no published fingerprint \
                 that plugin `{plugin}` could pin, and packages are never installed unverified"
            ))
            .with_hint(format!(
                "fetch the key, check it with `gpg --show-keys --with-fingerprint`, and pass \
                 --set {plugin}.key-fingerprint=<40 hex digits>"
            )));
        }
        None => vendor_fingerprints
            .iter()
            .map(|f| validate::fingerprint(f, "the plugin's vendor key"))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(SigningKey { url, fingerprints })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::settings::key_options;

    fn options(mirror: Option<&str>, set: &[(&str, &str)]) -> Options {
        Options {
            mirror: mirror.map(str::to_owned),
            set: set
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Options::default()
        }
    }

    const DOCKER: &str = "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88";

    #[test]
    fn vendor_key_by_default() {
        let o = options(None, &[]);
        let s = Settings::new("docker", &o, &key_options("docker", DOCKER)).unwrap();
        let base = base_url(&o, "https://download.docker.com").unwrap();
        let key =
            signing_key(&s, "Docker", &format!("{base}/linux/ubuntu/gpg"), &[DOCKER]).unwrap();
        assert_eq!(key.url, "https://download.docker.com/linux/ubuntu/gpg");
        assert_eq!(
            key.fingerprints,
            ["9DC858229FC7DD38854AE2D88D81803C0EBFCD88"]
        );
    }

    #[test]
    fn mirror_replaces_the_origin_and_the_user_can_name_key_and_fingerprint() {
        let fp = "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333";
        let o = options(
            Some("http://127.0.0.1:8080/"),
            &[("docker.key-fingerprint", fp)],
        );
        let s = Settings::new("docker", &o, &key_options("docker", DOCKER)).unwrap();
        let base = base_url(&o, "https://download.docker.com").unwrap();
        assert_eq!(base, "http://127.0.0.1:8080");
        let key =
            signing_key(&s, "Docker", &format!("{base}/linux/ubuntu/gpg"), &[DOCKER]).unwrap();
        assert_eq!(key.url, "http://127.0.0.1:8080/linux/ubuntu/gpg");
        assert_eq!(key.fingerprints, [fp]);

        let o = options(
            Some("http://127.0.0.1:8080"),
            &[("docker.key-url", "http://127.0.0.1:8080/site.asc")],
        );
        let s = Settings::new("docker", &o, &key_options("docker", DOCKER)).unwrap();
        let key = signing_key(
            &s,
            "Docker",
            "http://127.0.0.1:8080/linux/ubuntu/gpg",
            &[DOCKER],
        )
        .unwrap();
        assert_eq!(key.url, "http://127.0.0.1:8080/site.asc");
    }

    #[test]
    fn no_published_fingerprint_means_the_user_must_give_one() {
        let o = options(None, &[]);
        let s = Settings::new("cri-o", &o, &key_options("cri-o", "none")).unwrap();
        let e = signing_key(
            &s,
            "Kubic",
            "https://download.opensuse.org/x/Release.key",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::InvalidInput);
        assert!(e.hint.unwrap().contains("--set cri-o.key-fingerprint="));
    }

    #[test]
    fn refuses_bad_mirror_and_fingerprint() {
        let o = options(Some("ftp://mirror"), &[]);
        assert!(base_url(&o, "https://download.docker.com").is_err());
        let o = options(None, &[("docker.key-fingerprint", "1234")]);
        let s = Settings::new("docker", &o, &key_options("docker", DOCKER)).unwrap();
        assert!(signing_key(&s, "Docker", "https://x/gpg", &[DOCKER]).is_err());
    }
}
