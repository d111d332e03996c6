//! Version pins: whole-component prefix matching and Debian/rpm version ordering.
//!
//! A [`VersionMatch::Prefix`](crate::VersionMatch::Prefix) pin such as `19.03.8` or `1.6`
//! names the leading components of a version; it is resolved against what the repositories
//! offer with [`pick`], which keeps the candidates that [`matches`] accepts and returns the
//! highest by [`compare`].
//!
//! Matching is textual and anchored at the start of the version (after the epoch), and a match
//! must end on a component boundary. That is what keeps `24.0` from matching `24.04.1` or
//! `124.0`, and `1.6` from matching `1.60` (the substring bug of get.docker.com).

use std::cmp::Ordering;

/// Whether the partial pin `pin` names the leading components of `candidate`.
///
/// * Components are runs of ASCII letters and digits; anything else (`.`, `-`, `~`, `+`, `:`,
///   `_`, ...) separates them. The pin must equal the start of the candidate's version and
///   end where a component ends: `19.03.8` matches `19.03.8~3-0~ubuntu-focal` and
///   `19.03.8-3.el7`, not `19.03.80`; `1.0` does not match `1.0rc1` (`0rc1` is one component
///   here, and a release candidate is not the release).
/// * Epochs: a pin without an epoch ignores the candidate's (`19.03.8` matches
///   `5:19.03.8~3-0~ubuntu-focal`, `28.3` matches `3:28.3.3-1.el9`); a pin with one requires the
///   same epoch (`5:19.03` matches `5:19.03.8`, not `19.03.8`, whose epoch is 0).
/// * Components are compared as text: `19.3` does not match `19.03.8`.
/// * An empty pin (or an epoch alone) matches nothing.
pub fn matches(pin: &str, candidate: &str) -> bool {
    let (pin_epoch, pin_rest) = split_epoch(pin);
    let (candidate_epoch, candidate_rest) = split_epoch(candidate);
    if pin_rest.is_empty() {
        return false;
    }
    if let Some(epoch) = pin_epoch {
        if compare_numbers(epoch, candidate_epoch.unwrap_or("0")) != Ordering::Equal {
            return false;
        }
    }
    let Some(after) = candidate_rest.strip_prefix(pin_rest) else {
        return false;
    };
    let pin_ends_component = pin_rest
        .chars()
        .next_back()
        .is_some_and(|c| !c.is_ascii_alphanumeric());
    let next_starts_component = after
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    pin_ends_component || !next_starts_component
}

/// The upstream release a package version names, as `(major, minor, patch)`: the epoch is
/// dropped and the leading run of digits and dots is read, missing components being 0
/// (`5:24.0.7-1~debian.12~bookworm` is 24.0.7, `1.6.20-1` is 1.6.20, `19.03.8~3-0~ubuntu-focal`
/// is 19.3.8, `24.0.7_ce-150000.198.2` is 24.0.7). `None` when it starts with no number.
pub fn release(version: &str) -> Option<(u64, u64, u64)> {
    let (_, rest) = split_epoch(version);
    let numeric: &str = rest
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap_or("");
    let mut parts = numeric.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// The highest of `candidates` that `pin` [`matches`], by [`compare`]; `None` when none does.
///
/// Two candidates that [`compare`] calls equal but spell differently (`1.03` and `1.3`) are
/// ordered by their text, so the answer does not depend on the order of the input.
pub fn pick<'a>(pin: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|candidate| matches(pin, candidate))
        .max_by(|a, b| compare(a, b).then_with(|| a.cmp(b)))
}

/// Orders two versions the way dpkg does: epoch (a number, 0 when absent), then the upstream
/// version, then the revision (after the last `-`), each compared by alternating non-digit
/// runs (`~` before everything, even the end; letters before other characters) and numeric
/// runs (by value).
///
/// rpm's own order (rpmvercmp) agrees with this on the versions vendor repositories publish
/// (`5:19.03.15~3-0~ubuntu-focal`, `3:28.3.3-1.el9`, `1.7.27-3.1.el9`, `24.0.7_ce-150000.198.2`):
/// both put `~` first, compare digit runs by value and treat a longer run of components as
/// newer. They differ only on oddities such as rpm's `^` or a separator against a letter,
/// which these repositories do not use.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a_epoch, a_rest) = split_epoch(a);
    let (b_epoch, b_rest) = split_epoch(b);
    let (a_upstream, a_revision) = split_revision(a_rest);
    let (b_upstream, b_revision) = split_revision(b_rest);
    compare_numbers(a_epoch.unwrap_or("0"), b_epoch.unwrap_or("0"))
        .then_with(|| compare_part(a_upstream, b_upstream))
        .then_with(|| compare_part(a_revision, b_revision))
}

/// Splits `5:19.03.8` into `(Some("5"), "19.03.8")`; the epoch is the digits before the first
/// `:`, when there are only digits there.
fn split_epoch(version: &str) -> (Option<&str>, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(epoch), rest)
        }
        _ => (None, version),
    }
}

/// Splits the upstream version from the revision at the last `-`.
fn split_revision(version: &str) -> (&str, &str) {
    version.rsplit_once('-').unwrap_or((version, ""))
}

/// Compares two digit strings by value, whatever their length.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// dpkg's weight of a character in a non-digit run; `None` is the end of the run.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's comparison of one part (upstream version or revision).
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit run: compare character by character, ends counting as 0.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let order = weight(a.get(i).copied()).cmp(&weight(b.get(j).copied()));
            if order != Ordering::Equal {
                return order;
            }
            i += 1;
            j += 1;
        }
        // The digit run: by value.
        let start_a = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let start_b = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        // Both runs are ASCII digits, so they are valid UTF-8.
        let run_a = std::str::from_utf8(&a[start_a..i]).unwrap_or("0");
        let run_b = std::str::from_utf8(&b[start_b..j]).unwrap_or("0");
        let order = compare_numbers(run_a, run_b);
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_reads_the_upstream_version_of_vendor_packages() {
        assert_eq!(release("1.6.20-1"), Some((1, 6, 20)));
        assert_eq!(release("5:24.0.7-1~debian.12~bookworm"), Some((24, 0, 7)));
        assert_eq!(release("5:19.03.8~3-0~ubuntu-focal"), Some((19, 3, 8)));
        assert_eq!(release("3:28.3.3-1.el9"), Some((28, 3, 3)));
        assert_eq!(release("24.0.7_ce-150000.198.2"), Some((24, 0, 7)));
        assert_eq!(release("1.17"), Some((1, 17, 0)));
        assert_eq!(release("~rc1"), None);
        assert_eq!(release(""), None);
    }

    #[test]
    fn partial_pins_match_whole_components() {
        assert!(matches("19.03.8", "5:19.03.8~3-0~ubuntu-focal"));
        assert!(matches("19.03.8", "19.03.8-3.el7"));
        assert!(matches("19.03.8", "19.03.8"));
        assert!(matches("28.3", "3:28.3.3-1.el9"));
        assert!(matches("28.3", "5:28.3.3-1~ubuntu.24.04~noble"));
        assert!(matches("1.6", "1.6.21-1"));
        assert!(matches("1.2.13", "1.2.13-1"));
        assert!(matches("1.7.27-3", "1.7.27-3.1.el9"));
        assert!(matches("24.0", "24.0.7_ce-150000.198.2"));
    }

    #[test]
    fn a_pin_is_never_a_substring() {
        assert!(!matches("24.0", "24.04.1"));
        assert!(!matches("24.0", "5:24.04.1-1~ubuntu"));
        assert!(!matches("24.0", "124.0"));
        assert!(!matches("24.0", "5:28.3.3-1~ubuntu.24.04~noble"));
        assert!(!matches("1.6", "1.60"));
        assert!(!matches("1.6", "1.60.0-1"));
        assert!(!matches("19.03.8", "19.03.80"));
        assert!(!matches("19.03.8", "19.03"));
        assert!(!matches("1.0", "1.0rc1"));
        assert!(!matches("19.3", "19.03.8"));
    }

    #[test]
    fn epochs_are_honoured_when_the_pin_names_one() {
        assert!(matches("5:19.03", "5:19.03.8~3-0~ubuntu-focal"));
        assert!(!matches("5:19.03", "19.03.8"));
        assert!(!matches("4:19.03", "5:19.03.8"));
        assert!(matches("0:1.2", "1.2.13-1"));
        assert!(matches("05:19.03", "5:19.03.8"));
        // The candidate's epoch is not part of its version: `5` does not match `5:19.03.8`.
        assert!(!matches("5", "5:19.03.8"));
    }

    #[test]
    fn empty_pins_match_nothing() {
        assert!(!matches("", "1.0"));
        assert!(!matches("5:", "5:1.0"));
    }

    #[test]
    fn a_pin_ending_in_a_separator_matches_what_follows() {
        assert!(matches("19.03.", "19.03.8"));
        assert!(matches("1.2.13-", "1.2.13-1"));
    }

    #[test]
    fn compare_follows_dpkg() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.00", Equal),
            ("1.2", "1.10", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0.1", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "9.9", Greater),
            (
                "5:19.03.8~3-0~ubuntu-focal",
                "5:19.03.15~3-0~ubuntu-focal",
                Less,
            ),
            (
                "5:28.3.3-1~ubuntu.24.04~noble",
                "5:28.3.10-1~ubuntu.24.04~noble",
                Less,
            ),
            ("3:28.3.3-1.el9", "3:28.3.3-2.el9", Less),
            ("1.7.27-3.1.el9", "1.7.27-3.el9", Less),
            ("1.2.13-1", "1.2.13-2", Less),
            ("1.2.13", "1.2.13-0", Equal),
            ("10", "9", Greater),
            ("00010", "9", Greater),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare(a, b), expected, "{a} vs {b}");
            assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn pick_chooses_the_highest_matching_candidate() {
        let offered = [
            "5:19.03.8~3-0~ubuntu-focal",
            "5:19.03.15~3-0~ubuntu-focal",
            "5:19.03.9~3-0~ubuntu-focal",
            "5:20.10.0~3-0~ubuntu-focal",
            "5:24.0.9-1~ubuntu.20.04~focal",
        ];
        assert_eq!(pick("19.03", offered), Some("5:19.03.15~3-0~ubuntu-focal"));
        assert_eq!(pick("19.03.8", offered), Some("5:19.03.8~3-0~ubuntu-focal"));
        assert_eq!(pick("24.0", offered), Some("5:24.0.9-1~ubuntu.20.04~focal"));
        assert_eq!(pick("19.04", offered), None);
        assert_eq!(pick("24.0", ["24.04.1", "124.0"]), None);
    }

    #[test]
    fn pick_prefers_higher_releases_and_epochs() {
        let offered = ["3:28.3.3-1.el9", "3:28.3.3-2.el9", "28.3.9-1.el9"];
        assert_eq!(pick("28.3", offered), Some("3:28.3.3-2.el9"));
        assert_eq!(pick("0:28.3", offered), Some("28.3.9-1.el9"));
        let containerd = ["1.6.9-1", "1.6.33-1", "1.60.0-1", "1.7.27-1"];
        assert_eq!(pick("1.6", containerd), Some("1.6.33-1"));
    }

    #[test]
    fn pick_is_independent_of_input_order() {
        assert_eq!(pick("1", ["1.3", "1.03"]), pick("1", ["1.03", "1.3"]));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn component() -> impl Strategy<Value = String> {
            prop_oneof!["[0-9]{1,3}", "[a-z]{1,3}"]
        }

        fn separator() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![".", "-", "~", "+", "_"])
        }

        /// A version without an epoch: components joined by separators.
        fn plain_version() -> impl Strategy<Value = String> {
            (
                "[0-9]{1,3}",
                prop::collection::vec((separator(), component()), 0..5),
            )
                .prop_map(|(first, rest)| {
                    let mut v = first;
                    for (sep, comp) in rest {
                        v.push_str(sep);
                        v.push_str(&comp);
                    }
                    v
                })
        }

        fn version() -> impl Strategy<Value = String> {
            (prop::option::of(0u8..10), plain_version()).prop_map(|(epoch, v)| match epoch {
                Some(e) => format!("{e}:{v}"),
                None => v,
            })
        }

        proptest! {
            #[test]
            fn a_version_matches_itself_and_with_any_epoch(v in plain_version(), e in 0u8..10) {
                prop_assert!(matches(&v, &v));
                let with_epoch = format!("{e}:{v}");
                prop_assert!(matches(&v, &with_epoch));
            }

            #[test]
            fn a_pin_matches_what_extends_it_by_whole_components(
                pin in plain_version(), sep in separator(), tail in plain_version()
            ) {
                let candidate = format!("{pin}{sep}{tail}");
                prop_assert!(matches(&pin, &candidate));
            }

            #[test]
            fn a_pin_never_matches_a_longer_component(pin in plain_version(), more in "[0-9a-z]{1,3}") {
                let last_is_digit = pin.ends_with(|c: char| c.is_ascii_digit());
                let extra: String = if last_is_digit {
                    more.chars().map(|c| if c.is_ascii_digit() { c } else { '7' }).collect()
                } else {
                    more.chars().map(|c| if c.is_ascii_alphabetic() { c } else { 'x' }).collect()
                };
                let candidate = format!("{pin}{extra}");
                prop_assert!(!matches(&pin, &candidate));
            }

            #[test]
            fn a_pin_never_matches_inside_a_version(pin in plain_version(), digits in "[1-9][0-9]{0,2}") {
                let candidate = format!("{digits}{pin}");
                prop_assert!(!matches(&pin, &candidate));
                // With a letter before it, the pin is inside a component too.
                let lettered = format!("v{pin}");
                prop_assert!(!matches(&pin, &lettered));
            }

            #[test]
            fn compare_is_a_total_order(a in version(), b in version(), c in version()) {
                prop_assert_eq!(compare(&a, &a), Ordering::Equal);
                prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
                if compare(&a, &b) != Ordering::Greater && compare(&b, &c) != Ordering::Greater {
                    prop_assert_ne!(compare(&a, &c), Ordering::Greater);
                }
            }

            #[test]
            fn compare_orders_numbers_by_value(x in 0u32..100_000, y in 0u32..100_000, base in plain_version()) {
                let a = format!("{base}.{x}");
                let b = format!("{base}.{y}");
                prop_assert_eq!(compare(&a, &b), x.cmp(&y));
            }

            #[test]
            fn pick_returns_the_highest_match(pin in plain_version(), offered in prop::collection::vec(version(), 0..8)) {
                let picked = pick(&pin, offered.iter().map(String::as_str));
                let matching: Vec<&String> = offered.iter().filter(|v| matches(&pin, v)).collect();
                match picked {
                    None => prop_assert!(matching.is_empty()),
                    Some(best) => {
                        prop_assert!(matches(&pin, best));
                        for v in matching {
                            prop_assert_ne!(compare(best, v), Ordering::Less);
                        }
                    }
                }
            }
        }
    }
}
