//! Downloads pinned by sha256 (the `download` action): fetched and checked in this process
//! before a run changes anything, installed by an atomic write, and remembered in a record
//! under [`RECORDS`] so that a second run knows the file is in place without fetching it.
//!
//! The record holds the digest of what was fetched and of what was installed: the download is
//! done when the record's digest and member are the action's (the URL may change, from the
//! vendor to a mirror serving the same file) and the file on the target still has the
//! installed digest and the action's mode.

use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::target::{Target, DOWNLOAD_LIMIT, FILE_LIMIT};

/// Where the records of installed downloads live on the target.
pub const RECORDS: &str = "/var/lib/installer/downloads";

/// What one `download` action asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted<'a> {
    /// Where to fetch it.
    pub url: &'a str,
    /// The pinned digest of what the URL serves.
    pub sha256: &'a str,
    /// The member of a gzip'd tar to install, if any.
    pub member: Option<&'a str>,
    /// The path on the target.
    pub path: &'a str,
    /// Its mode.
    pub mode: u32,
}

/// What we installed, as the record on the target says.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    url: String,
    sha256: String,
    member: Option<String>,
    installed_sha256: String,
}

/// Hex sha256 of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The record's path for the file at `path`: one file per installed path, named by a digest
/// of the path so that any path gives one plain name.
pub fn record_path(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or("file");
    format!("{RECORDS}/{}-{name}.json", &digest(path.as_bytes())[..16])
}

/// The record's text for `wanted`, installed as `installed`.
pub fn record_text(wanted: &Wanted<'_>, installed: &[u8]) -> String {
    let record = Record {
        url: wanted.url.to_owned(),
        sha256: wanted.sha256.to_ascii_lowercase(),
        member: wanted.member.map(str::to_owned),
        installed_sha256: digest(installed),
    };
    serde_json::to_string_pretty(&record).expect("a record serializes") + "\n"
}

/// Whether `wanted` is already installed on `target`: the file is root's, has the mode, and
/// holds the pinned bytes. A file fetched whole is compared with its pinned digest itself; a
/// member of an archive with the digest our record says we installed it with (no source pins
/// a member's digest), so a record forged inside the root can make a second run keep what it
/// finds, never install something else.
pub fn is_installed(target: &Target, wanted: &Wanted<'_>) -> bool {
    let Ok(Some(installed)) = target.read(wanted.path, DOWNLOAD_LIMIT) else {
        return false;
    };
    if installed.mode != wanted.mode || installed.uid != 0 || installed.gid != 0 {
        return false;
    }
    let have = digest(&installed.bytes);
    if wanted.member.is_none() {
        return have.eq_ignore_ascii_case(wanted.sha256);
    }
    let Ok(Some(file)) = target.read(&record_path(wanted.path), FILE_LIMIT) else {
        return false;
    };
    let Ok(record) = serde_json::from_slice::<Record>(&file.bytes) else {
        return false;
    };
    if !record.sha256.eq_ignore_ascii_case(wanted.sha256)
        || record.member.as_deref() != wanted.member
    {
        return false;
    }
    have == record.installed_sha256
}

/// Fetches `wanted.url`, checks it against the pinned digest and returns what is to be
/// installed: the file itself, or the named member of the gzip'd tar it is. Nothing is
/// written anywhere.
pub fn fetch(wanted: &Wanted<'_>, allow_insecure: bool) -> Result<Vec<u8>, String> {
    let url = wanted.url;
    let bytes = super::http::get(url, allow_insecure, DOWNLOAD_LIMIT).map_err(|e| match e {
        super::http::GetError::Insecure => format!(
            "the download {url} is plain http and not on loopback; pass --allow-insecure-repo to accept that"
        ),
        super::http::GetError::Failed(detail) => format!("cannot fetch {url}: {detail}"),
    })?;
    let got = digest(&bytes);
    if !got.eq_ignore_ascii_case(wanted.sha256) {
        return Err(format!(
            "{url} has sha256 {got}, not the pinned {}: the file is not the one the plan names (a changed release, a mirror serving another file, or tampering)",
            wanted.sha256.to_ascii_lowercase()
        ));
    }
    match wanted.member {
        None => Ok(bytes),
        Some(member) => unpack(&bytes, member).map_err(|e| format!("{url}: {e}")),
    }
}

/// The bytes of the regular file `member` in the gzip'd tar `archive`.
pub fn unpack(archive: &[u8], member: &str) -> Result<Vec<u8>, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let entries = tar
        .entries()
        .map_err(|e| format!("not a gzip'd tar archive: {e}"))?;
    let mut seen = Vec::new();
    let mut found: Option<Vec<u8>> = None;
    for entry in entries {
        let entry = entry.map_err(|e| format!("not a gzip'd tar archive: {e}"))?;
        let name = entry
            .path()
            .map_err(|e| format!("an entry with an unreadable name: {e}"))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        if name != member {
            if seen.len() < 8 {
                seen.push(name);
            }
            continue;
        }
        if !entry.header().entry_type().is_file() {
            return Err(format!(
                "the archive's {member} is not a regular file (a link or a directory)"
            ));
        }
        // tar would extract the last of two, our reading the first: neither is safe to pick.
        if found.is_some() {
            return Err(format!("the archive holds {member} more than once"));
        }
        let mut bytes = Vec::new();
        entry
            .take(DOWNLOAD_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot unpack {member}: {e}"))?;
        if bytes.len() as u64 > DOWNLOAD_LIMIT {
            return Err(format!(
                "the archive's {member} is larger than {} MiB",
                DOWNLOAD_LIMIT >> 20
            ));
        }
        found = Some(bytes);
    }
    found.ok_or_else(|| {
        format!(
            "the archive has no {member} (it holds {}{})",
            seen.join(", "),
            if seen.len() == 8 { ", ..." } else { "" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &[u8])], link: Option<(&str, &str)>) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o755);
            header.set_cksum();
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        if let Some((name, to)) = link {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, name, to).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn the_named_member_comes_out_of_the_archive_and_nothing_else_does() {
        let tgz = archive(
            &[
                ("cri-dockerd/README", b"readme"),
                ("./cri-dockerd/cri-dockerd", b"\x7fELF program"),
            ],
            Some(("cri-dockerd/link", "/etc/shadow")),
        );
        assert_eq!(
            unpack(&tgz, "cri-dockerd/cri-dockerd").unwrap(),
            b"\x7fELF program"
        );
        let missing = unpack(&tgz, "cri-dockerd/other").unwrap_err();
        assert!(
            missing.contains("has no cri-dockerd/other") && missing.contains("cri-dockerd/README"),
            "{missing}"
        );
        let link = unpack(&tgz, "cri-dockerd/link").unwrap_err();
        assert!(link.contains("not a regular file"), "{link}");
        let twice = archive(&[("a/b", b"one"), ("./a/b", b"two")], None);
        assert!(unpack(&twice, "a/b")
            .unwrap_err()
            .contains("more than once"));
        assert!(unpack(b"plain text", "x")
            .unwrap_err()
            .contains("not a gzip'd tar"));
    }

    #[test]
    fn record_names_are_one_plain_component_per_path() {
        let a = record_path("/usr/local/bin/cri-dockerd");
        let b = record_path("/opt/bin/cri-dockerd");
        assert_ne!(a, b);
        for p in [&a, &b] {
            let name = p.strip_prefix(&format!("{RECORDS}/")).unwrap();
            assert!(
                !name.contains('/') && name.ends_with("-cri-dockerd.json"),
                "{p}"
            );
        }
    }
}
