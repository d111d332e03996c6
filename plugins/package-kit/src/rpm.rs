//! rpm's side of yum and zypper: verified keys kept in `/etc/pki/rpm-gpg` and imported into
//! rpm's keyring, and `rpm -q` as the check that packages are installed.

use plugin_api::validate::CheckedKey;
use plugin_api::{Action, Audit, Expect, Package, Probe};

use crate::action::{fetch_key, run, strings};

/// Where verified keys are kept.
pub const KEYS: &str = "/etc/pki/rpm-gpg";

/// The file repository `id`'s key is kept in.
pub fn key_path(id: &str) -> String {
    format!("{KEYS}/{id}.asc")
}

/// Fetches `key` to `path`, checked by fingerprint, then imports it into rpm.
pub fn fetch_and_import(key: &CheckedKey, path: &str) -> [Action; 2] {
    [fetch_key(key, path), import_key(path, &key.fingerprints)]
}

/// `rpm --import` of a verified key, skipped when rpm already has it. rpm names an imported
/// key `gpg-pubkey-<last 8 hex digits of the fingerprint>`; with several accepted fingerprints
/// the plan cannot know which one the key has, so the import (harmless when repeated) always
/// runs.
pub fn import_key(path: &str, fingerprints: &[String]) -> Action {
    let unless = match fingerprints {
        [only] => Some(Probe {
            argv: vec![
                "rpm".to_owned(),
                "-q".to_owned(),
                format!("gpg-pubkey-{}", only[32..].to_ascii_lowercase()),
            ],
            expect: Expect::Success,
        }),
        _ => None,
    };
    run(strings(&["rpm", "--import", path]), unless)
}

/// What a failed rpm transaction (dnf, yum, zypper) left: `rpm -q` prints the version of
/// each package that is installed (a scriptlet that failed leaves its package installed)
/// and "is not installed" for the others; `remove` is the package manager's own command.
pub fn audit(packages: &[Package], remove: &str) -> Audit {
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let mut argv = strings(&["rpm", "-q"]);
    argv.extend(names.iter().map(|n| (*n).to_owned()));
    Audit {
        argv,
        hint: format!(
            "running installer again finishes the install; `{remove} {}` removes what was installed",
            names.join(" ")
        ),
    }
}

/// Says whether every package is installed, at its pin where it has one: `rpm -q` fails
/// unless it finds every `name-version` (or `name`) in `specs`.
pub fn installed(specs: impl IntoIterator<Item = String>) -> Probe {
    let mut argv = strings(&["rpm", "-q"]);
    argv.extend(specs);
    Probe {
        argv,
        expect: Expect::Success,
    }
}
