//! `installer detect` against real os-release files (tests/fixtures/os-release) under
//! `--root`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What one run of the binary printed and how it exited.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as the one JSON document it must be.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the real binary with `args`, with a clean environment for search paths and logging,
/// plus `env`.
pub(crate) fn installer(args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_installer"));
    command
        .args(args)
        .env_remove("INSTALLER_DISTRO_PATH")
        .env_remove("INSTALLER_PLUGIN_PATH")
        .env_remove("RUST_LOG")
        .env("INSTALLER_NO_DEFAULT_DISTRO_DIRS", "1")
        .env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the installer binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// The os-release fixture `name`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/os-release")
        .join(name)
}

/// A fresh root holding the fixture `name` at `relative` (`etc/os-release`).
pub(crate) fn root_with(name: &str, relative: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join(relative);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(fixture(name), &target).unwrap();
    root
}

/// `detect --output json` on a root holding fixture `name` in /etc.
fn detect_json(name: &str) -> (Run, Value) {
    let root = root_with(name, "etc/os-release");
    let run = installer(
        &[&"detect", &"--root", &root.path(), &"--output", &"json"],
        &[],
    );
    let json = run.json();
    (run, json)
}

/// The fixtures that are not a built-in pack's own release.
const DERIVATIVES_AND_UNKNOWN: &[&str] = &[
    "alpine-3.19",
    "linuxmint-21",
    "lmde-6",
    "pop-os-22.04",
    "rocky-8",
];

fn builtin_ids() -> Vec<String> {
    let run = installer(&[&"distros", &"list", &"--output", &"json"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_builtin_pack_has_a_real_os_release_fixture() {
    let mut fixtures: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !DERIVATIVES_AND_UNKNOWN.contains(&n.as_str()))
        .collect();
    fixtures.sort();
    assert_eq!(fixtures, builtin_ids());
}

#[test]
fn every_release_fixture_detects_to_its_own_pack() {
    for id in builtin_ids() {
        let (run, json) = detect_json(&id);
        assert_eq!(run.code, 0, "{id}: {}", run.stderr);
        // Debian unstable ships testing's os-release; it can only be chosen with --distro.
        let expected = if id == "debian-unstable" {
            "debian-testing"
        } else {
            id.as_str()
        };
        assert_eq!(json["pack"], expected, "{id}: {json:#}");
        let by = json["matched_by"].as_str().unwrap();
        assert!(
            ["exact", "version_prefix", "without_version_id", "rolling"].contains(&by),
            "{id} is its own distro, not a derivative, but matched by {by}"
        );
        assert!(
            json["source"].as_str().unwrap().ends_with("etc/os-release"),
            "{json:#}"
        );
        assert!(!json["note"].as_str().unwrap().is_empty());
    }
}

#[test]
fn facts_are_read_as_os_release_says() {
    let (_, json) = detect_json("debian-10");
    let facts = &json["facts"];
    assert_eq!(facts["id"], "debian");
    assert_eq!(facts["version_id"], "10");
    assert_eq!(facts["version_codename"], "buster");
    assert_eq!(facts["pretty_name"], "Debian GNU/Linux 10 (buster)");
    assert_eq!(facts["id_like"], serde_json::json!([]));
    assert_eq!(json["matched_by"], "exact");

    // Quoted ID and a two-entry ID_LIKE; blank lines in the file.
    let (_, json) = detect_json("centos-7");
    assert_eq!(json["facts"]["id"], "centos");
    assert_eq!(
        json["facts"]["id_like"],
        serde_json::json!(["rhel", "fedora"])
    );

    // Fedora's VERSION_CODENAME="" is no codename; VERSION_ID is unquoted.
    let (_, json) = detect_json("fedora-40");
    assert_eq!(json["facts"]["version_codename"], Value::Null);
    assert_eq!(json["facts"]["version_id"], "40");

    // Tumbleweed's file has comments, one of them a commented-out VERSION=.
    let (_, json) = detect_json("opensuse-tumbleweed");
    assert_eq!(json["facts"]["version_id"], "20240607");
    assert_eq!(json["matched_by"], "rolling");

    // EL minor releases fall under the major's pack.
    let (_, json) = detect_json("rocky-9");
    assert_eq!(json["facts"]["version_id"], "9.4");
    assert_eq!(json["matched_by"], "version_prefix");
}

#[test]
fn debian_sid_is_detected_as_testing_with_a_note_naming_unstable() {
    let (_, json) = detect_json("debian-unstable");
    assert_eq!(json["pack"], "debian-testing");
    assert_eq!(json["matched_by"], "without_version_id");
    let note = json["note"].as_str().unwrap();
    assert!(note.contains("--distro debian-unstable"), "{note}");
}

#[test]
fn derivatives_map_to_their_base_with_a_note() {
    for (fixture, pack, by, said) in [
        (
            "linuxmint-21",
            "ubuntu-22.04",
            "ubuntu_codename",
            "UBUNTU_CODENAME=jammy",
        ),
        (
            "pop-os-22.04",
            "ubuntu-22.04",
            "ubuntu_codename",
            "UBUNTU_CODENAME=jammy",
        ),
        (
            "lmde-6",
            "debian-12",
            "debian_codename",
            "DEBIAN_CODENAME=bookworm",
        ),
        ("rocky-8", "rhel-8", "id_like", "ID_LIKE"),
    ] {
        let (run, json) = detect_json(fixture);
        assert_eq!(run.code, 0, "{fixture}: {}", run.stderr);
        assert_eq!(json["pack"], pack, "{fixture}");
        assert_eq!(json["matched_by"], by, "{fixture}");
        let note = json["note"].as_str().unwrap();
        assert!(note.starts_with("derivative"), "{fixture}: {note}");
        assert!(note.contains(said), "{fixture}: {note}");
        assert!(
            note.contains(json["facts"]["id"].as_str().unwrap()),
            "{note}"
        );
    }
}

#[test]
fn text_output_says_which_pack_and_why() {
    let root = root_with("linuxmint-21", "etc/os-release");
    let run = installer(&[&"detect", &"--root", &root.path()], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("ID:               linuxmint"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("UBUNTU_CODENAME:  jammy"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("pack:        ubuntu-22.04"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("via UBUNTU_CODENAME"), "{}", run.stdout);
    assert!(
        run.stdout.contains("note:        derivative"),
        "{}",
        run.stdout
    );

    let root = root_with("debian-10", "etc/os-release");
    let run = installer(&[&"detect", &"--root", &root.path()], &[]);
    assert!(run.stdout.contains("matched by:  exact"), "{}", run.stdout);
    assert!(run.stdout.contains("built-in"), "{}", run.stdout);
}

#[test]
fn unknown_distro_exits_2_with_the_facts_and_both_fixes() {
    let root = root_with("alpine-3.19", "etc/os-release");
    let run = installer(&[&"detect", &"--root", &root.path()], &[]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stdout, "",
        "text mode prints no data for an unknown distro"
    );
    for needle in [
        "ID=alpine",
        "VERSION_ID=3.19.1",
        "PRETTY_NAME=\"Alpine Linux v3.19\"",
        "--distro ID",
        "--distro-dir",
        "docs/distro-packs.md",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle}:\n{}",
            run.stderr
        );
    }

    // JSON mode: still exactly one document on stdout, with no pack.
    let run = installer(
        &[&"detect", &"--root", &root.path(), &"--output", &"json"],
        &[],
    );
    assert_eq!(run.code, 2);
    let json = run.json();
    assert_eq!(json["pack"], Value::Null);
    assert_eq!(json["facts"]["id"], "alpine");
    // Why, as data, in the same document: the error every other failure prints.
    assert_eq!(json["error"]["kind"], "os_release");
    assert_eq!(json["error"]["exit_code"], 2);
    assert!(
        json["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--distro-dir"),
        "{json:#}"
    );
    assert!(run.stderr.contains("ID=alpine"), "{}", run.stderr);
}

#[test]
fn a_known_id_with_an_unknown_version_names_the_packs_for_that_id() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 9 (stretch)\"\nVERSION_ID=\"9\"\nID=debian\n",
    )
    .unwrap();
    let run = installer(&[&"detect", &"--root", &root.path()], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("packs for ID=debian exist"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("debian-12"), "{}", run.stderr);
}

#[test]
fn usr_lib_os_release_is_the_fallback() {
    let root = root_with("ubuntu-24.04", "usr/lib/os-release");
    let run = installer(
        &[&"detect", &"--root", &root.path(), &"--output", &"json"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["pack"], "ubuntu-24.04");
    let source = json["source"].as_str().unwrap();
    assert_eq!(
        Path::new(source),
        root.path().join("usr/lib/os-release"),
        "{json:#}"
    );
}

#[test]
fn no_os_release_exits_2_naming_both_paths() {
    let root = tempfile::tempdir().unwrap();
    let run = installer(
        &[&"detect", &"--root", &root.path(), &"--output", &"json"],
        &[],
    );
    assert_eq!(run.code, 2);
    // stdout holds the failure as data, stderr the same in words.
    assert_eq!(run.json()["error"]["kind"], "os_release");
    assert!(run.stderr.contains("etc/os-release"), "{}", run.stderr);
    assert!(run.stderr.contains("usr/lib/os-release"), "{}", run.stderr);
    assert!(run.stderr.contains("--distro ID"), "{}", run.stderr);
    assert!(run.stderr.contains("--root"), "{}", run.stderr);
}

#[test]
fn os_release_without_id_exits_2_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/os-release"), "NAME=\"Nameless\"\n").unwrap();
    let run = installer(&[&"detect", &"--root", &root.path()], &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("etc/os-release has no ID="),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_os_release_lines_are_warned_about_by_line_and_skipped() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/os-release"),
        "ID=debian\nthis is not an assignment\nVERSION_ID=\"12\n VERSION_ID=\"12\"\n",
    )
    .unwrap();
    let run = installer(
        &[&"detect", &"--root", &root.path(), &"--output", &"json"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["pack"], "debian-12");
    assert!(run.stderr.contains("os-release:2:"), "{}", run.stderr);
    assert!(run.stderr.contains("os-release:3:"), "{}", run.stderr);
    assert!(!run.stderr.contains("os-release:4:"), "{}", run.stderr);
}

#[test]
fn a_pack_from_distro_dir_recognises_a_new_distro() {
    let packs = tempfile::tempdir().unwrap();
    std::fs::write(
        packs.path().join("alpine-3.19.toml"),
        r#"id = "alpine-3.19"
name = "Alpine pretending to be Debian"
family = "debian"
package_manager = "apt"
os_id = "alpine"
version_id = "3.19"

[match]
version_prefix = "3.19"
"#,
    )
    .unwrap();
    let root = root_with("alpine-3.19", "etc/os-release");
    let run = installer(
        &[
            &"detect",
            &"--root",
            &root.path(),
            &"--distro-dir",
            &packs.path(),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("pack:        alpine-3.19"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&packs.path().join("alpine-3.19.toml").display().to_string()),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("version_prefix"), "{}", run.stdout);
}
