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
pub fn fingerprints(bytes: &[u8], what: &str) -> Result<Vec<String>, KeyError> {
    let not_a_key = |detail: String| KeyError::NotAKey {
        what: what.to_owned(),
        detail,
    };
    let armored = bytes.windows(10).any(|w| w == b"-----BEGIN");
    let keys: Vec<SignedPublicKey> = if armored {
        let (iter, _) =
            SignedPublicKey::from_armor_many(bytes).map_err(|e| not_a_key(e.to_string()))?;
        iter.collect::<Result<_, _>>()
            .map_err(|e| not_a_key(e.to_string()))?
    } else {
        SignedPublicKey::from_bytes_many(bytes)
            .map_err(|e| not_a_key(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| not_a_key(e.to_string()))?
    };
    if keys.is_empty() {
        return Err(not_a_key("no key found".to_owned()));
    }
    Ok(keys
        .iter()
        .map(|k| format!("{:X}", k.fingerprint()))
        .map(|f| normalize(&f))
        .collect())
}

/// Checks that `bytes` hold exactly one key, with one of `expected` fingerprints.
pub fn verify(bytes: &[u8], what: &str, expected: &[String]) -> Result<String, KeyError> {
    let found = fingerprints(bytes, what)?;
    if found.len() != 1 {
        return Err(KeyError::ExtraKeys {
            what: what.to_owned(),
            count: found.len(),
            fingerprints: found.join(", "),
        });
    }
    let wanted: Vec<String> = expected.iter().map(|f| normalize(f)).collect();
    if wanted.contains(&found[0]) {
        Ok(found[0].clone())
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
    let parsed = url::Url::parse(url).map_err(|e| KeyError::Fetch {
        url: url.to_owned(),
        detail: e.to_string(),
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure => {}
        _ => {
            return Err(KeyError::Insecure {
                url: url.to_owned(),
            })
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| KeyError::Fetch {
        url: url.to_owned(),
        detail: e.to_string(),
    })?;
    response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_vec()
        .map_err(|e| KeyError::Fetch {
            url: url.to_owned(),
            detail: e.to_string(),
        })
}
