//! Reading one pack file: parsing and checking its TOML, and listing the `*.toml` files of a
//! distro-pack directory; errors point at the line, column and field at fault.

use std::path::{Path, PathBuf};

use super::{DistroPack, PackError};

/// The `*.toml` files of `dir`, sorted by name.
pub(super) fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, PackError> {
    let read_dir = |source| PackError::ReadDir {
        dir: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir)? {
        let path = entry.map_err(read_dir)?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        } else {
            tracing::debug!("{}: not a *.toml file, skipped", path.display());
        }
    }
    files.sort();
    Ok(files)
}

/// Parses and checks one pack. `shown` names the file in errors; `file_name` is its name,
/// which must be `<id>.toml`.
pub fn parse_pack(text: &str, shown: &str, file_name: &str) -> Result<DistroPack, PackError> {
    let pack: DistroPack = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (line, column) = line_column(text, span.start);
        let mut message = e.message().trim().to_owned();
        let field = quoted_field(&message).or_else(|| key_at(text, span.start));
        if message.starts_with("missing field") {
            // The field is named in front of the message already.
            message = "this required field is missing".to_owned();
        }
        PackError::Malformed {
            path: shown.to_owned(),
            line,
            column,
            field: field.map(|f| qualify(text, span.start, &f)),
            message,
        }
    })?;
    check_pack(&pack, text, shown, file_name)?;
    Ok(pack)
}

/// The rules serde cannot express.
fn check_pack(
    pack: &DistroPack,
    text: &str,
    shown: &str,
    file_name: &str,
) -> Result<(), PackError> {
    let fail = |table: Option<&str>, key: &str, message: String| {
        let (line, column) = locate_key(text, table, key);
        Err(PackError::Malformed {
            path: shown.to_owned(),
            line,
            column,
            field: Some(match table {
                Some(t) => format!("{t}.{key}"),
                None => key.to_owned(),
            }),
            message,
        })
    };
    let valid_id = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    };
    if let Some(day) = &pack.end_of_life {
        let b = day.as_bytes();
        let date = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !date {
            return fail(
                None,
                "end_of_life",
                format!("`{day}` is not a date written YYYY-MM-DD"),
            );
        }
    }
    if !valid_id(&pack.id) {
        return fail(
            None,
            "id",
            format!(
                "`{}` is not a pack id (lower-case letters, digits, `.`, `_`, `-`)",
                pack.id
            ),
        );
    }
    let expected = format!("{}.toml", pack.id);
    if file_name != expected {
        return fail(
            None,
            "id",
            format!(
                "the file is named `{file_name}` but declares id `{}`; rename the file to \
                 `{expected}` or change the id",
                pack.id
            ),
        );
    }
    // Open names, resolved against the loaded plugins when a plan needs them; but a known
    // name with its letters swapped is a typo, not a new family.
    let family = pack.family.as_str();
    if !valid_id(family) {
        return fail(
            None,
            "family",
            format!("`{family}` is not a family name (lower-case letters, digits, `.`, `_`, `-`)"),
        );
    }
    if let Some(known) = near_miss(family, super::Family::KNOWN) {
        return fail(
            None,
            "family",
            format!(
                "unknown family `{family}`: did you mean `{known}`? (another family is fine when \
                 runtime plugins declare it)"
            ),
        );
    }
    let pm = pack.package_manager.as_str();
    if !valid_id(pm) {
        return fail(
            None,
            "package_manager",
            format!(
                "`{pm}` is not a package-manager name (lower-case letters, digits, `.`, `_`, `-`)"
            ),
        );
    }
    let known_pms: Vec<&str> = super::PackageManager::KNOWN
        .iter()
        .map(|(n, _)| *n)
        .collect();
    if let Some(known) = near_miss(pm, &known_pms) {
        return fail(
            None,
            "package_manager",
            format!(
                "unknown package manager `{pm}`: did you mean `{known}`? (another is fine when a \
                 package-manager plugin of that name is on the plugin path)"
            ),
        );
    }
    match pack.package_manager.known_family() {
        Some(f) if super::Family::KNOWN.contains(&family) && f != family => {
            return fail(
                None,
                "package_manager",
                format!(
                    "`{pm}` is not a package manager of the `{family}` family (apt: debian; yum, \
                     dnf: rhel; zypper: suse)"
                ),
            );
        }
        _ => {}
    }
    let rules = &pack.rules;
    if rules.manual && rules.has_version_rule() {
        return fail(
            Some("match"),
            "manual",
            "`manual = true` means detection never chooses this pack, so it cannot have \
             version rules too; remove one or the other"
                .to_owned(),
        );
    }
    if !rules.manual && !rules.has_version_rule() {
        return fail(
            Some("match"),
            "version_ids",
            "no version rule: give `version_ids`, `version_prefix`, `without_version_id = \
             true` or `rolling = true`, or `manual = true` if only --distro should choose it"
                .to_owned(),
        );
    }
    if let Some(prefix) = &rules.version_prefix {
        if prefix.is_empty() || prefix.ends_with('.') {
            return fail(
                Some("match"),
                "version_prefix",
                format!(
                    "`{prefix}` is not a version prefix; write the leading part without a \
                     trailing dot (`9` matches 9, 9.4)"
                ),
            );
        }
    }
    for (flag, key) in [
        (rules.ubuntu_codename, "ubuntu_codename"),
        (rules.debian_codename, "debian_codename"),
    ] {
        if flag && pack.codename.is_none() {
            return fail(
                Some("match"),
                key,
                format!("`{key} = true` compares with the pack's `codename`, which is not set"),
            );
        }
    }
    if let Some(key) = pack.vars.keys().find(|k| k.trim().is_empty()) {
        return fail(Some("vars"), key, "a variable name is empty".to_owned());
    }
    Ok(())
}

/// 1-based line and column of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The first `` `name` `` in a serde message (`unknown field `famly``, `missing field `id``).
fn quoted_field(message: &str) -> Option<String> {
    let is_field_message = ["unknown field", "missing field", "duplicate field"]
        .iter()
        .any(|p| message.starts_with(p));
    if !is_field_message {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

/// The key assigned on the line holding byte `offset`, or the table a header there names.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let (line, _) = line_column(text, offset);
    let content = text.lines().nth(line - 1)?.trim();
    if let Some(header) = content.strip_prefix('[') {
        return Some(header.trim_end_matches(']').trim().to_owned());
    }
    let (key, _) = content.split_once('=')?;
    Some(key.trim().trim_matches('"').to_owned())
}

/// `field` prefixed by the table in effect at `offset` (`match.version_ids`), unless the field
/// is itself that table.
fn qualify(text: &str, offset: usize, field: &str) -> String {
    let (line, _) = line_column(text, offset);
    let table = text
        .lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .map(str::trim)
        })
        .last();
    match table {
        Some(t) if t != field => format!("{t}.{field}"),
        _ => field.to_owned(),
    }
}

/// 1-based line and column of `key = ...` inside `table` (`None`: the top level), or of the
/// table's header, or 1:1.
fn locate_key(text: &str, table: Option<&str>, key: &str) -> (usize, usize) {
    let mut current: Option<&str> = None;
    let mut header_line = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            current = Some(name.trim());
            if current == table {
                header_line = Some(index + 1);
            }
            continue;
        }
        if current != table {
            continue;
        }
        if let Some((k, _)) = line.split_once('=') {
            if k.trim().trim_matches('"') == key {
                let column = raw.len() - raw.trim_start().len() + 1;
                return (index + 1, column);
            }
        }
    }
    (header_line.unwrap_or(1), 1)
}

/// The known name `name` has the letters of, in another order (`debain` for `debian`): a
/// typo, not a new name. (Edit distance would refuse real names one letter from a known one:
/// `tdnf`, `apk`.)
fn near_miss<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let letters = |s: &str| {
        let mut v: Vec<char> = s.chars().collect();
        v.sort_unstable();
        v
    };
    known
        .iter()
        .copied()
        .find(|k| *k != name && letters(k) == letters(name))
}
