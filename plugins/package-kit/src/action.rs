//! The actions a render emits: commands (one-off or the install transaction), a directory
//! made sure of, and a signing key fetched and checked.

use std::collections::BTreeMap;

use plugin_api::validate::CheckedKey;
use plugin_api::{Action, Audit, Expect, Probe, ResolveVersion};

/// Owned copies of `items`, for an argv.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A command outside the install transaction, with no environment of its own, skipped when
/// `unless` succeeds.
pub fn run(argv: Vec<String>, unless: Option<Probe>) -> Action {
    Action::Run {
        argv,
        env: BTreeMap::new(),
        unless,
        transaction: false,
        resolve: Vec::new(),
        audit: None,
    }
}

/// The install transaction: `argv` with `env`, skipped when `installed` says every package is
/// already there, its prefix pins resolved first by `resolve`; `audit` says what a failure
/// left behind.
pub fn transaction(
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    installed: Probe,
    resolve: Vec<ResolveVersion>,
    audit: Audit,
) -> Action {
    Action::Run {
        argv,
        env,
        unless: Some(installed),
        transaction: true,
        resolve,
        audit: Some(audit),
    }
}

/// Creates `dir` (mode 0755) unless it exists: a keyring directory is not there on every
/// release (`/etc/apt/keyrings` is new in apt 2.4, absent on Debian 10 and Ubuntu 20.04).
pub fn ensure_dir(dir: &str) -> Action {
    run(
        strings(&["install", "-d", "-m", "0755", dir]),
        Some(Probe {
            argv: strings(&["test", "-d", dir]),
            expect: Expect::Success,
        }),
    )
}

/// Fetches a repository's checked key to `dest`; the host keeps it only if its fingerprint is
/// one of the accepted ones.
pub fn fetch_key(key: &CheckedKey, dest: &str) -> Action {
    Action::FetchKey {
        url: key.url.clone(),
        fingerprints: key.fingerprints.clone(),
        dest: dest.to_owned(),
    }
}
