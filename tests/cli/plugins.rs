//! `installer plugins list` against real libraries: the seven workspace plugins, and plugins
//! that are broken, misbehaving or from another protocol version.

use std::os::unix::fs::PermissionsExt;

use crate::util::{fixture_plugin, workspace_plugin, Installer, PluginDir, WORKSPACE_PLUGINS};

fn rows(dir: &PluginDir) -> (i32, Vec<serde_json::Value>) {
    let out = Installer::isolated(dir.path())
        .args(["plugins", "list", "--output", "json"])
        .run();
    let doc = out.json();
    (out.code, doc.as_array().expect("a JSON array").clone())
}

fn row<'a>(rows: &'a [serde_json::Value], file: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(file)))
        .unwrap_or_else(|| panic!("no row for {file} in {rows:#?}"))
}

#[test]
fn the_seven_workspace_plugins_load_with_name_kind_version_and_protocol() {
    let dir = PluginDir::new().with_workspace_plugins();
    let (code, rows) = rows(&dir);
    assert_eq!(code, 0, "{rows:#?}");
    assert_eq!(rows.len(), 7);
    for name in WORKSPACE_PLUGINS {
        let r = rows
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(r["status"], "loaded");
        let kind = if ["apt", "yum", "zypper"].contains(&name) {
            "package-manager"
        } else {
            "runtime"
        };
        assert_eq!(r["kind"], kind, "{name}");
        assert_eq!(r["protocol"], plugin_api::PROTOCOL_VERSION);
        assert!(semver::Version::parse(r["version"].as_str().unwrap()).is_ok());
    }
}

#[test]
fn plugins_next_to_the_binary_are_found_without_any_flag() {
    for name in WORKSPACE_PLUGINS {
        workspace_plugin(name);
    }
    let out = Installer::with_defaults()
        .args(["plugins", "list", "--output", "json"])
        .run();
    let rows = out.json();
    for name in WORKSPACE_PLUGINS {
        assert!(
            rows.as_array()
                .unwrap()
                .iter()
                .any(|r| r["name"] == name && r["status"] == "loaded"),
            "{name} not loaded from next to the binary: {rows:#}"
        );
    }
}

#[test]
fn broken_plugins_are_rejected_one_by_one_and_the_good_ones_still_load() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("misbehave-abort")
        .with_fixture("protocol-two")
        .with_fixture("not-a-plugin")
        .with_fixture("old-abi-stable")
        .with_fixture("layout-mismatch");
    std::fs::write(dir.path().join("libtext.so"), "this is not ELF\n").unwrap();
    let (code, rows) = rows(&dir);
    assert_eq!(code, 3, "a rejected plugin makes `plugins list` exit 3");

    let reason = |file: &str| {
        let r = row(&rows, file);
        assert_eq!(r["status"], "rejected", "{r:#}");
        r["reason"].as_str().unwrap().to_owned()
    };
    let abort = reason("libmisbehave-abort.so");
    assert!(
        abort.contains("signal 6") && abort.contains("aborted"),
        "{abort}"
    );
    let future = reason("libprotocol-two.so");
    assert!(
        future.contains("`future`")
            && future.contains("2.0.0")
            && future.contains(plugin_api::PROTOCOL_VERSION),
        "{future}"
    );
    assert!(reason("libnot-a-plugin.so").starts_with("not an installer plugin"));
    let old = reason("libold-abi-stable.so");
    assert!(
        old.contains("incompatible abi_stable") && old.contains("0.10") && old.contains("0.11"),
        "{old}"
    );
    assert!(reason("liblayout-mismatch.so").contains("layout differs"));
    assert!(reason("libtext.so").starts_with("not a shared library"));

    for name in WORKSPACE_PLUGINS {
        assert!(
            rows.iter()
                .any(|r| r["name"] == name && r["status"] == "loaded"),
            "{name} did not load"
        );
    }
}

#[test]
fn text_listing_names_each_rejected_file_and_why() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("protocol-two");
    let out = Installer::isolated(dir.path())
        .args(["plugins", "list"])
        .run()
        .code(3);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("libprotocol-two.so"))
        .expect("a line for the file");
    assert!(
        line.starts_with("rejected") && line.contains("protocol major mismatch"),
        "{line}"
    );
    assert!(out
        .stdout
        .lines()
        .any(|l| l.starts_with("loaded") && l.contains("containerd")));
}

#[test]
fn a_plugin_writable_by_others_is_refused_with_the_fix() {
    let dir = PluginDir::new().with_workspace_plugins();
    let file = dir.path().join("libinstaller_plugin_docker.so");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, rows) = rows(&dir);
    assert_eq!(code, 3);
    let r = row(&rows, "libinstaller_plugin_docker.so");
    assert_eq!(r["status"], "rejected");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("writable by group or others") && reason.contains("chmod go-w"),
        "{reason}"
    );
    assert_eq!(row(&rows, "libinstaller_plugin_apt.so")["status"], "loaded");
}

#[test]
fn a_plugin_directory_writable_by_others_refuses_every_file_in_it() {
    let dir = PluginDir::new().with(&workspace_plugin("apt"), "libapt.so");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, rows) = rows(&dir);
    assert_eq!(code, 3);
    let reason = row(&rows, "libapt.so")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("directory") && reason.contains("chmod go-w"),
        "{reason}"
    );
}

#[test]
fn the_first_plugin_of_a_name_in_path_order_wins_and_the_later_one_is_shadowed() {
    let first = PluginDir::new().with(&workspace_plugin("containerd"), "libmine.so");
    let second = PluginDir::new().with(&workspace_plugin("containerd"), "libtheirs.so");
    let out = Installer::isolated(first.path())
        .env("INSTALLER_PLUGIN_PATH", second.path())
        .args(["plugins", "list", "--output", "json"])
        .run()
        .code(0);
    let rows = out.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(row(rows, "libmine.so")["status"], "loaded");
    let shadowed = row(rows, "libtheirs.so");
    assert_eq!(shadowed["status"], "shadowed");
    assert!(
        shadowed["reason"].as_str().unwrap().contains("libmine.so"),
        "{shadowed:#}"
    );
}

#[test]
fn plugins_from_an_older_and_a_newer_protocol_minor_both_load() {
    let dir = PluginDir::new()
        .with_fixture("old-minor")
        .with_fixture("newer-minor");
    let (code, rows) = rows(&dir);
    assert_eq!(code, 0, "{rows:#?}");
    let old = row(&rows, "libold-minor.so");
    assert_eq!(
        (
            old["status"].as_str(),
            old["name"].as_str(),
            old["protocol"].as_str()
        ),
        (Some("loaded"), Some("vintage"), Some("1.0.0"))
    );
    assert!(
        old["description"].is_null(),
        "a 1.0 manifest has no description"
    );
    let new = row(&rows, "libnewer-minor.so");
    assert_eq!(
        (
            new["status"].as_str(),
            new["name"].as_str(),
            new["protocol"].as_str()
        ),
        (Some("loaded"), Some("tomorrow"), Some("1.9.0"))
    );
}

#[test]
fn fixture_libraries_are_real_shared_objects() {
    // Guards the tests above against passing for the wrong reason (a missing or empty file).
    for name in ["misbehave-panic", "misbehave-segv", "old-minor"] {
        let bytes = std::fs::read(fixture_plugin(name)).unwrap();
        assert_eq!(&bytes[..4], b"\x7fELF", "{name}");
    }
}
