//! Repository signing keys: fetched over https (http only from loopback or when the user said
//! `--allow-insecure-repo`), parsed in-process, and accepted only when the file holds exactly
//! one primary key and its fingerprint is one of those the plan pins. The target may have no
//! gpg at all, so nothing here runs a command.

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

/// Why a key was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The download failed.
    #[error("cannot fetch the key {url}: {detail}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The URL's scheme is not allowed.
    #[error("the key URL {url} is plain http and not on loopback; pass --allow-insecure-repo to accept that")]
    Insecure {
        /// The URL.
        url: String,
    },
    /// Not an OpenPGP public key.
    #[error("{what} is not an OpenPGP public key: {detail}")]
    NotAKey {
        /// The URL or path.
        what: String,
        /// The parser's words.
        detail: String,
    },
    /// More than one primary key: one of them could sign anything.
    #[error(
        "{what} holds {count} keys ({fingerprints}); a repository key file must hold exactly one"
    )]
    ExtraKeys {
        /// The URL or path.
        what: String,
        /// How many.
        count: usize,
        /// Their fingerprints.
        fingerprints: String,
    },
    /// The pinned key, but its self-signature says it expired: apt and dnf refuse what it
    /// signs (EXPKEYSIG), which is not a wrong key.
    #[error("{what} is the pinned key {fingerprint}, but its self-signature says it expired on {expired} (UTC), so apt and dnf would refuse every package it signs. Vendors extend such keys in place (Kubic's has been, more than once): fetch the key again from the vendor, or refresh your mirror's copy, then run again")]
    Expired {
        /// The URL or path.
        what: String,
        /// Its fingerprint.
        fingerprint: String,
        /// The day it expired.
        expired: String,
    },
    /// The fingerprint is not the pinned one.
    #[error("{what} has fingerprint {found}, not the pinned {expected}")]
    WrongFingerprint {
        /// The URL or path.
        what: String,
        /// What the key has.
        found: String,
        /// What the plan pins.
        expected: String,
    },
}

/// Uppercase hex without spaces: the form fingerprints are compared in.
pub fn normalize(fingerprint: &str) -> String {
    fingerprint
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

/// The fingerprints of the primary keys in `bytes` (armored or binary).
#[cfg(test)]
fn fingerprints(bytes: &[u8], what: &str) -> Result<Vec<String>, KeyError> {
    Ok(keys(bytes, what)?.iter().map(fingerprint).collect())
}

fn fingerprint(key: &SignedPublicKey) -> String {
    normalize(&format!("{:X}", key.fingerprint()))
}

/// The primary keys in `bytes` (armored or binary).
fn keys(bytes: &[u8], what: &str) -> Result<Vec<SignedPublicKey>, KeyError> {
    let not_a_key = |detail: String| KeyError::NotAKey {
        what: what.to_owned(),
        detail,
    };
    let armored = bytes.windows(10).any(|w| w == b"-----BEGIN");
    let keys: Vec<SignedPublicKey> = if armored {
        // Every armor block counts: a second block appended to a key file is a second key
        // that apt would trust too.
        let text = String::from_utf8_lossy(bytes);
        let starts: Vec<usize> = text
            .match_indices("-----BEGIN PGP")
            .map(|(i, _)| i)
            .collect();
        let mut keys = Vec::new();
        for (n, start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            let (iter, _) = SignedPublicKey::from_armor_many(text[*start..end].as_bytes())
                .map_err(|e| not_a_key(e.to_string()))?;
            for key in iter {
                keys.push(key.map_err(|e| not_a_key(e.to_string()))?);
            }
        }
        keys
    } else {
        SignedPublicKey::from_bytes_many(bytes)
            .map_err(|e| not_a_key(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| not_a_key(e.to_string()))?
    };
    if keys.is_empty() {
        return Err(not_a_key("no key found".to_owned()));
    }
    Ok(keys)
}

/// When `key` expires (seconds since the epoch), by its newest self-signature on a user ID;
/// `None` when it does not.
fn expires_at(key: &SignedPublicKey) -> Option<u64> {
    let newest = key
        .details
        .users
        .iter()
        .flat_map(|u| &u.signatures)
        .max_by_key(|s| s.created().map(|t| t.as_secs()))?;
    let lifetime = newest.key_expiration_time()?.as_secs();
    (lifetime > 0).then(|| u64::from(key.primary_key.created_at().as_secs()) + u64::from(lifetime))
}

/// Checks that `bytes` hold exactly one key, with one of `expected` fingerprints.
pub fn verify(bytes: &[u8], what: &str, expected: &[String]) -> Result<String, KeyError> {
    let keys = keys(bytes, what)?;
    let found: Vec<String> = keys.iter().map(fingerprint).collect();
    if found.len() != 1 {
        return Err(KeyError::ExtraKeys {
            what: what.to_owned(),
            count: found.len(),
            fingerprints: found.join(", "),
        });
    }
    let wanted: Vec<String> = expected.iter().map(|f| normalize(f)).collect();
    if wanted.contains(&found[0]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match expires_at(&keys[0]) {
            Some(at) if at <= now => Err(KeyError::Expired {
                what: what.to_owned(),
                fingerprint: found[0].clone(),
                expired: crate::day::of(at),
            }),
            _ => Ok(found[0].clone()),
        }
    } else {
        Err(KeyError::WrongFingerprint {
            what: what.to_owned(),
            found: found[0].clone(),
            expected: wanted.join(" or "),
        })
    }
}

/// Fetches `url` and checks its scheme first.
pub fn fetch(url: &str, allow_insecure: bool) -> Result<Vec<u8>, KeyError> {
    super::http::get(url, allow_insecure, 1024 * 1024).map_err(|e| match e {
        super::http::GetError::Insecure => KeyError::Insecure {
            url: url.to_owned(),
        },
        super::http::GetError::Failed(detail) => KeyError::Fetch {
            url: url.to_owned(),
            detail,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A GNUPGHOME of its own, private as gpg wants it.
    fn gpg_home() -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        home
    }

    /// A throw-away key made by the real gpg: (armored public key, fingerprint).
    fn gpg_key(home: &std::path::Path, uid: &str) -> (Vec<u8>, String) {
        gpg_key_made(home, uid, "never", &[])
    }

    /// [`gpg_key`] expiring after `expiry` (gpg's spelling: `never`, `1d`), with more gpg
    /// options (a faked clock).
    fn gpg_key_made(
        home: &std::path::Path,
        uid: &str,
        expiry: &str,
        options: &[&str],
    ) -> (Vec<u8>, String) {
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .env("GNUPGHOME", home)
                .args(["--batch", "--quiet"])
                .args(options)
                .args(args)
                .output()
                .expect("gpg runs");
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "ed25519",
            "sign",
            expiry,
        ]);
        let colons = String::from_utf8(gpg(&["--with-colons", "--list-keys", uid])).unwrap();
        let fpr = colons
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .unwrap()
            .split(':')
            .nth(9)
            .unwrap()
            .to_owned();
        (gpg(&["--armor", "--export", uid]), fpr)
    }

    /// gpg makes the test keys; scripts/test-all installs it. Missing, the test fails saying
    /// so rather than passing without checking anything.
    fn require_gpg() {
        assert!(
            Command::new("gpg").arg("--version").output().is_ok(),
            "this test needs gpg to make its keys: apt-get install gnupg (scripts/test-all does)"
        );
    }

    #[test]
    fn a_key_is_accepted_only_with_its_pinned_fingerprint() {
        require_gpg();
        let home = gpg_home();
        let (key, fpr) = gpg_key(home.path(), "repo-a@example.invalid");
        let spaced: String = fpr
            .chars()
            .collect::<Vec<_>>()
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(verify(&key, "a", &[spaced]).unwrap(), fpr);

        let err = verify(&key, "https://x/gpg", &["0".repeat(40)]).unwrap_err();
        assert!(matches!(err, KeyError::WrongFingerprint { .. }), "{err}");
        assert!(err.to_string().contains(&fpr), "{err}");

        // The binary form parses to the same fingerprint.
        let out = Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args(["--batch", "--export", "repo-a@example.invalid"])
            .output()
            .unwrap();
        assert_eq!(fingerprints(&out.stdout, "bin").unwrap(), vec![fpr.clone()]);

        // A file carrying a second key is refused even though one key matches.
        let (other, _) = gpg_key(home.path(), "repo-b@example.invalid");
        let mut both = key.clone();
        both.extend_from_slice(&other);
        let err = verify(&both, "https://x/gpg", std::slice::from_ref(&fpr)).unwrap_err();
        assert!(matches!(err, KeyError::ExtraKeys { count: 2, .. }), "{err}");
        // The binary form too: one file holding both keys.
        let out = Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args([
                "--batch",
                "--export",
                "repo-a@example.invalid",
                "repo-b@example.invalid",
            ])
            .output()
            .unwrap();
        let err = verify(&out.stdout, "https://x/gpg", &[fpr]).unwrap_err();
        assert!(matches!(err, KeyError::ExtraKeys { count: 2, .. }), "{err}");
    }

    #[test]
    fn an_expired_pinned_key_is_reported_as_expired_not_as_another_key() {
        require_gpg();
        let home = gpg_home();
        // Made on 2020-01-01 to expire a day later, as gpg's faked clock allows.
        let (key, fpr) = gpg_key_made(
            home.path(),
            "old@example.invalid",
            "1d",
            &["--faked-system-time", "20200101T000000"],
        );
        let err = verify(&key, "https://x/gpg", std::slice::from_ref(&fpr)).unwrap_err();
        assert!(
            matches!(&err, KeyError::Expired { expired, .. } if expired == "2020-01-02"),
            "{err}"
        );
        assert!(err.to_string().contains("fetch the key again"), "{err}");
        // Another pin on the same file is still a wrong key, not an expired one.
        let err = verify(&key, "https://x/gpg", &["0".repeat(40)]).unwrap_err();
        assert!(matches!(err, KeyError::WrongFingerprint { .. }), "{err}");
    }

    #[test]
    fn garbage_is_not_a_key() {
        let err = verify(b"<html>404</html>", "https://x/gpg", &["A".repeat(40)]).unwrap_err();
        assert!(matches!(err, KeyError::NotAKey { .. }), "{err}");
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_or_allowed() {
        assert!(matches!(
            fetch("http://example.com/gpg", false),
            Err(KeyError::Insecure { .. })
        ));
        assert!(matches!(
            fetch("ftp://example.com/gpg", true),
            Err(KeyError::Insecure { .. })
        ));
    }
}
