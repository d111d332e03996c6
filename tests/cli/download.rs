//! The `download` step: a file pinned by sha256, fetched from loopback by a real `run` into a
//! scratch root. Checked before anything changes, installed once, remembered, rolled back.

use std::os::unix::fs::PermissionsExt;

use sha2::{Digest, Sha256};

use crate::run::{run, scratch_root, tree};
use crate::util::{PluginDir, Serve};

const MEMBER: &str = "helper/test-engine-helper";
const PROGRAM: &[u8] = b"#!/bin/sh\necho helper 1.0\n";
const INSTALLED: &str = "usr/local/bin/test-engine-helper";

fn tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
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
    builder.into_inner().unwrap().finish().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn plugins() -> PluginDir {
    PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
}

fn download_args(url: &str, sha: &str) -> Vec<String> {
    [
        "--set".to_owned(),
        format!("test-runtime.download-url={url}"),
        "--set".to_owned(),
        format!("test-runtime.download-sha256={sha}"),
        "--set".to_owned(),
        format!("test-runtime.download-member={MEMBER}"),
    ]
    .to_vec()
}

/// The root's files but the run lock, which every run takes (and leaves, empty).
fn files(
    root: &std::path::Path,
) -> std::collections::BTreeMap<std::path::PathBuf, (std::time::SystemTime, Vec<u8>)> {
    let mut all = tree(root);
    all.remove(&root.join("var/lib/installer/lock"));
    all
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_download_is_installed_once_and_a_second_run_fetches_nothing() {
    let archive = tgz(&[("helper/README", b"read me"), (MEMBER, PROGRAM)]);
    let server = Serve::bytes(archive.clone());
    let dir = plugins();
    let root = scratch_root();
    let extra = download_args(&server.url, &sha256(&archive));

    let first = run(&dir, root.path(), &args(&extra)).code(0).json();
    assert_eq!(first["status"], "ok", "{first}");
    let installed = root.path().join(INSTALLED);
    assert_eq!(std::fs::read(&installed).unwrap(), PROGRAM);
    assert_eq!(
        std::fs::metadata(&installed).unwrap().permissions().mode() & 0o7777,
        0o755
    );
    assert_eq!(server.hits(), 1);

    let before = tree(root.path());
    let second = run(&dir, root.path(), &args(&extra)).code(0).json();
    assert!(
        second["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] != "changed"),
        "{second}"
    );
    assert_eq!(server.hits(), 1, "a second run fetched the archive again");
    assert_eq!(tree(root.path()), before, "a second run changed files");

    // The program changed on the node (by hand, or by tampering): the next run puts the
    // pinned one back, keeping what it found in the journal.
    std::fs::write(&installed, b"#!/bin/sh\necho other\n").unwrap();
    let third = run(&dir, root.path(), &args(&extra)).code(0).json();
    assert_eq!(std::fs::read(&installed).unwrap(), PROGRAM, "{third}");
    assert_eq!(server.hits(), 2);
    let journal = std::path::Path::new(third["journal"].as_str().expect("a journal"));
    let backups: Vec<Vec<u8>> = std::fs::read_dir(journal)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| std::fs::read(e.path()).unwrap_or_default())
        .collect();
    assert!(
        backups.iter().any(|b| b == b"#!/bin/sh\necho other\n"),
        "the replaced program is not in the journal"
    );
}

#[test]
fn a_file_that_is_not_the_pinned_one_stops_the_run_before_anything_changes() {
    let archive = tgz(&[(MEMBER, PROGRAM)]);
    let server = Serve::bytes(archive.clone());
    let dir = plugins();
    let root = scratch_root();
    let before = files(root.path());
    let wrong = sha256(b"another file");
    let out = run(
        &dir,
        root.path(),
        &args(&download_args(&server.url, &wrong)),
    );
    let out = out.code(2);
    let report = out.json();
    assert_eq!(report["status"], "refused", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&sha256(&archive))
            && message.contains(&wrong)
            && message.contains("nothing was changed"),
        "{report}"
    );
    assert_eq!(
        files(root.path()),
        before,
        "a refused download changed the root"
    );

    // The right digest but no such member: the same, before any change.
    let out = run(
        &dir,
        root.path(),
        &{
            let mut a = download_args(&server.url, &sha256(&archive));
            a[5] = "test-runtime.download-member=helper/missing".to_owned();
            a
        }
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    )
    .code(2);
    let message = out.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("has no helper/missing") && message.contains(MEMBER),
        "{message}"
    );
    assert_eq!(files(root.path()), before);
}

#[test]
fn a_failed_run_takes_the_installed_download_and_its_record_away() {
    let archive = tgz(&[(MEMBER, PROGRAM)]);
    let server = Serve::bytes(archive.clone());
    let dir = plugins();
    let root = scratch_root();
    let mut extra = download_args(&server.url, &sha256(&archive));
    extra.extend(["--set".to_owned(), "test-runtime.fail=true".to_owned()]);
    let report = run(&dir, root.path(), &args(&extra)).code(1).json();
    assert_eq!(report["status"], "failed", "{report}");
    assert!(!root.path().join(INSTALLED).exists());
    let records = root.path().join("var/lib/installer/downloads");
    assert!(
        !records.exists() || std::fs::read_dir(&records).unwrap().next().is_none(),
        "a record of a rolled-back download stayed"
    );
}

#[test]
fn a_plugins_download_with_a_bad_digest_or_member_is_refused_as_a_plugin_bug() {
    let dir = plugins();
    let root = scratch_root();
    for (sha, member, says) in [
        ("abc", MEMBER, "64 hex digits"),
        (&"a".repeat(64)[..], "../../etc/shadow", "plain names"),
    ] {
        let out = run(
            &dir,
            root.path(),
            &[
                "--set",
                "test-runtime.download-url=https://files.example.com/x.tgz",
                "--set",
                &format!("test-runtime.download-sha256={sha}"),
                "--set",
                &format!("test-runtime.download-member={member}"),
            ],
        );
        let text = out.stderr.clone();
        assert!(
            text.contains(says) && text.contains("test-runtime"),
            "{text}"
        );
        // A plugin's bug, not the user's input: exit 3, as CLI.md says.
        assert_eq!(out.code, 3, "{text}");
        assert!(text.contains("bug in the plugin"), "{text}");
    }
}

#[test]
fn a_program_changed_in_the_root_is_put_back_whatever_its_record_says_and_owned_by_root() {
    use std::os::unix::fs::MetadataExt;
    // A file fetched whole: its pinned digest is the file's own, so no record can vouch for
    // other bytes.
    let program = b"#!/bin/sh\necho plain 1.0\n".to_vec();
    let server = Serve::bytes(program.clone());
    let dir = plugins();
    let root = scratch_root();
    let extra = [
        "--set".to_owned(),
        format!("test-runtime.download-url={}", server.url),
        "--set".to_owned(),
        format!("test-runtime.download-sha256={}", sha256(&program)),
    ];
    run(&dir, root.path(), &args(&extra)).code(0);
    let installed = root.path().join(INSTALLED);
    assert_eq!(std::fs::read(&installed).unwrap(), program);

    // Someone plants another program and a record that claims it is ours.
    let planted = b"#!/bin/sh\necho planted\n";
    std::fs::write(&installed, planted).unwrap();
    let records = root.path().join("var/lib/installer/downloads");
    for entry in std::fs::read_dir(&records).unwrap() {
        let path = entry.unwrap().path();
        let mut record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        record["installed_sha256"] = sha256(planted).into();
        std::fs::write(&path, record.to_string()).unwrap();
    }
    run(&dir, root.path(), &args(&extra)).code(0);
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        program,
        "the planted program stayed"
    );

    // The right bytes owned by someone else: systemd would run a file a user can replace.
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: giving a file away needs root (scripts/test-all runs as root)");
        return;
    }
    std::os::unix::fs::chown(&installed, Some(1000), Some(1000)).unwrap();
    let report = run(&dir, root.path(), &args(&extra)).code(0).json();
    let meta = std::fs::metadata(&installed).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "{report}");
}
