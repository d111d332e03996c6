//! The words a step's why shares across package managers: who asked for a repository or
//! package, and how a repository's key is trusted.

use plugin_api::validate::CheckedKey;

/// Who asked, as a why names them: the requesting plugins, or `the plan`.
pub fn who(requested_by: &[String]) -> String {
    if requested_by.is_empty() {
        "the plan".to_owned()
    } else {
        requested_by.join(", ")
    }
}

/// The why of a repository with a key: who installs from it, that the key is fetched over
/// https and kept only if its fingerprint is one of `key`'s, then `rest` (what the package
/// manager does with the key, starting with its own punctuation).
pub fn keyed(requested_by: &[String], key: &CheckedKey, rest: &str) -> String {
    format!(
        "{} installs from it. Its key is fetched over https and kept only if its fingerprint is \
         {}{rest}",
        who(requested_by),
        key.fingerprints.join(" or ")
    )
}

/// The why of a repository without a key (accepted by --allow-insecure-repo): who installs from
/// it, that it has no key of its own, then `rest` (what still checks its packages).
pub fn unkeyed(requested_by: &[String], rest: &str) -> String {
    format!(
        "{} installs from it. It has no key of its own (accepted by --allow-insecure-repo): \
         {rest}",
        who(requested_by)
    )
}
