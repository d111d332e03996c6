//! `installer plugins list` against real libraries: the workspace plugins, and plugins
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
fn the_workspace_plugins_load_with_name_kind_version_and_protocol() {
    let dir = PluginDir::new().with_workspace_plugins();
    let (code, rows) = rows(&dir);
    assert_eq!(code, 0, "{rows:#?}");
    assert_eq!(rows.len(), WORKSPACE_PLUGINS.len());
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

#[test]
fn a_plugin_under_a_directory_others_can_write_is_refused_naming_that_directory() {
    // The plugin directory itself is fine; the one above it is group-writable (not sticky),
    // so anyone in the group could rename the plugin directory away and put their own there.
    let parent = tempfile::tempdir().unwrap();
    let plugins = parent.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(workspace_plugin("apt"), plugins.join("libapt.so")).unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o775)).unwrap();
    let out = Installer::isolated(&plugins)
        .args(["plugins", "list", "--output", "json"])
        .run();
    let rows = out.json();
    let reason = row(rows.as_array().unwrap(), "libapt.so")["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains(&format!("directory {} ", parent.path().display()))
            && reason.contains("writable by group or others")
            && reason.contains("chmod go-w"),
        "{reason}"
    );
    // Under a sticky directory (as /tmp is) a directory of ours is safe: others cannot
    // rename or remove it.
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = Installer::isolated(&plugins)
        .args(["plugins", "list", "--output", "json"])
        .run()
        .code(0);
    assert_eq!(
        row(out.json().as_array().unwrap(), "libapt.so")["status"],
        "loaded"
    );
}

#[test]
fn a_relative_plugin_path_entry_is_ignored_with_a_warning() {
    let dir = PluginDir::new().with(&workspace_plugin("apt"), "libapt.so");
    // Started in the directory's parent, a relative entry would name it.
    let parent = dir.path().parent().unwrap();
    let name = dir.path().file_name().unwrap();
    let out = Installer::with_defaults()
        .env("INSTALLER_NO_DEFAULT_PLUGIN_DIRS", "1")
        .env("INSTALLER_PLUGIN_PATH", name)
        .current_dir(parent)
        .args(["plugins", "list", "--output", "json"])
        .run()
        .code(0);
    assert_eq!(out.json().as_array().unwrap().len(), 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("is relative") && out.stderr.contains("absolute path"),
        "{}",
        out.stderr
    );
}

fn sha256_of(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

#[test]
fn with_an_allowlist_only_listed_digests_load() {
    let dir = PluginDir::new()
        .with(&workspace_plugin("apt"), "libapt.so")
        .with(&workspace_plugin("docker"), "libdocker.so");
    let apt = sha256_of(&dir.path().join("libapt.so"));
    let docker = sha256_of(&dir.path().join("libdocker.so"));

    // --plugin-sha256: listed with its digest loads; listed with another one, or not listed,
    // is refused with the digest it has.
    let out = Installer::isolated(dir.path())
        .args(["plugins", "list", "--output", "json"])
        .arg_list(["--plugin-sha256", &format!("libapt.so={apt}")])
        .arg_list([
            "--plugin-sha256",
            &format!("libdocker.so={}", "0".repeat(64)),
        ])
        .run();
    let rows = out.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(row(rows, "libapt.so")["status"], "loaded");
    let refused = row(rows, "libdocker.so");
    assert_eq!(refused["status"], "rejected");
    let reason = refused["reason"].as_str().unwrap();
    assert!(
        reason.contains(&docker) && reason.contains("not in the plugin allowlist"),
        "{reason}"
    );

    // An allowlist file as sha256sum writes it.
    let list_dir = tempfile::tempdir().unwrap();
    let list = list_dir.path().join("plugins.sha256");
    std::fs::write(
        &list,
        format!(
            "# ours\n{docker}  {}\n",
            dir.path().join("libdocker.so").display()
        ),
    )
    .unwrap();
    let out = Installer::isolated(dir.path())
        .args(["plugins", "list", "--output", "json", "--plugin-allowlist"])
        .arg_list([&list])
        .run();
    let rows = out.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(row(rows, "libdocker.so")["status"], "loaded");
    assert_eq!(row(rows, "libapt.so")["status"], "rejected");

    // A plan uses only what the list allows.
    let plan = Installer::isolated(dir.path())
        .args([
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "docker",
            "--plugin-allowlist",
        ])
        .arg_list([&list])
        .run()
        .code(2);
    assert!(plan.stderr.contains("apt"), "{}", plan.stderr);

    // An allowlist anyone could edit is no allowlist.
    std::fs::set_permissions(&list, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = Installer::isolated(dir.path())
        .args(["plugins", "list", "--plugin-allowlist"])
        .arg_list([&list])
        .run()
        .code(2);
    assert!(out.stderr.contains("plugin allowlist"), "{}", out.stderr);
}

#[test]
fn the_plan_names_the_plugin_files_it_used_and_those_shadowed() {
    let first = PluginDir::new()
        .with_workspace_plugins()
        .with(&workspace_plugin("containerd"), "libmine.so");
    let second = PluginDir::new().with(&workspace_plugin("containerd"), "libtheirs.so");
    let out = Installer::isolated(first.path())
        .env("INSTALLER_PLUGIN_PATH", second.path())
        .args([
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "containerd",
            "--output",
            "json",
        ])
        .run()
        .code(0);
    let plan = out.json();
    let containerd = plan["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "containerd")
        .unwrap()
        .clone();
    let used = containerd["path"].as_str().unwrap();
    assert!(
        used.starts_with(first.path().to_str().unwrap()),
        "{containerd:#}"
    );
    let shadowed: Vec<&str> = containerd["shadowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        shadowed.len() == 2
            && shadowed.contains(&second.path().join("libtheirs.so").to_str().unwrap()),
        "{containerd:#}"
    );
}

#[test]
fn a_link_in_a_directory_others_can_write_is_refused_though_its_target_is_safe() {
    // The linked library sits where only root writes (the build's own output), but the link
    // is in a directory anyone could write to: anyone could point it at any library.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(workspace_plugin("apt"), dir.path().join("libapt.so")).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Installer::isolated(dir.path())
        .args(["plugins", "list", "--output", "json"])
        .run();
    let rows = out.json();
    let r = row(rows.as_array().unwrap(), "libapt.so");
    assert_eq!(r["status"], "rejected", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("directory {} ", dir.path().display()))
            && reason.contains("chmod go-w"),
        "{reason}"
    );
}

#[test]
fn plugins_show_names_a_plugins_options_with_their_help_and_defaults() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("old-minor");
    let show = |name: &str| {
        Installer::isolated(dir.path())
            .args(["plugins", "show", name, "--output", "json"])
            .run()
    };
    let doc = show("gvisor").code(0).json();
    assert_eq!(
        (&doc["name"], &doc["kind"]),
        (&"gvisor".into(), &"runtime".into())
    );
    assert!(
        doc["path"]
            .as_str()
            .unwrap()
            .ends_with("libinstaller_plugin_gvisor.so"),
        "{doc:#}"
    );
    let fingerprint = doc["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["key"] == "gvisor.key-fingerprint")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(
        fingerprint["default"],
        "6F1DF85E3A71C24918E727D56FC6D554E32BD943"
    );
    assert!(fingerprint["help"].as_str().unwrap().contains("mirror"));
    // A runtime that owns a CRI configuration says it adds handlers.
    let doc = show("containerd").code(0).json();
    assert_eq!(doc["capabilities"], serde_json::json!(["runtime-handlers"]));
    // A plugin of an older protocol, which has no `options` method: none documented.
    let old = show("vintage").code(0).json();
    assert_eq!(old["options"], serde_json::json!([]), "{old:#}");
    // An unknown name: exit 2 listing the loaded ones.
    let out = show("gvisr").code(2);
    assert!(
        out.json()["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("gvisor"),
        "{}",
        out.stdout
    );
}

/// The manifest cache: a plugin's manifest is read by starting it once; later commands take it
/// from the cache while the file is the same, and start it again as soon as it is not.
mod manifest_cache {
    use super::*;

    struct Cached {
        cache: tempfile::TempDir,
        log: std::path::PathBuf,
    }

    impl Cached {
        fn new() -> Self {
            let cache = tempfile::tempdir().unwrap();
            let log = cache.path().join("manifest-calls.log");
            Cached { cache, log }
        }

        fn installer(&self, dir: &PluginDir) -> Installer {
            Installer::isolated(dir.path())
                .env("INSTALLER_CACHE_DIR", self.cache.path().join("c"))
                .env("FIXTURE_MANIFEST_LOG", &self.log)
        }

        /// How many times test-runtime's manifest was asked for.
        fn manifest_calls(&self) -> usize {
            std::fs::read_to_string(&self.log)
                .map(|t| t.lines().count())
                .unwrap_or(0)
        }
    }

    fn names(out: &crate::util::Output) -> Vec<String> {
        out.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["name"].as_str().unwrap_or("?"),
                    r["status"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    #[test]
    fn a_plugin_is_started_for_its_manifest_once_and_again_when_its_file_changes() {
        let dir = PluginDir::new().with_fixture("test-runtime");
        let cached = Cached::new();
        let list = || {
            cached
                .installer(&dir)
                .args(["plugins", "list", "--output", "json"])
                .run()
        };
        let first = list();
        assert_eq!(first.code, 0, "{}", first.stderr);
        assert_eq!(cached.manifest_calls(), 1);
        let second = list();
        assert_eq!(names(&second), names(&first));
        assert_eq!(
            cached.manifest_calls(),
            1,
            "the second list started the plugin"
        );

        // Another plugin copied over the same file (same path, same inode): started again, and
        // listed under its own name.
        let file = dir.path().join("libtest-runtime.so");
        std::fs::write(&file, std::fs::read(workspace_plugin("apt")).unwrap()).unwrap();
        let third = list();
        assert_eq!(names(&third), vec!["apt loaded"], "{}", third.stderr);
        // And back: the old manifest is not trusted for the old content's path either.
        std::fs::write(
            &file,
            std::fs::read(fixture_plugin("test-runtime")).unwrap(),
        )
        .unwrap();
        assert_eq!(names(&list()), names(&first));
        assert_eq!(cached.manifest_calls(), 2);

        // --no-cache starts it every time.
        cached
            .installer(&dir)
            .args(["plugins", "list", "--no-cache"])
            .run()
            .code(0);
        assert_eq!(cached.manifest_calls(), 3);
    }

    #[test]
    fn a_plan_starts_only_the_plugins_it_calls_once_their_manifests_are_cached() {
        let dir = PluginDir::new()
            .with_workspace_plugins()
            .with_fixture("test-runtime");
        let cached = Cached::new();
        let plan = || {
            cached
                .installer(&dir)
                .args(["plan", "--distro", "debian-12", "--runtime", "containerd"])
                .run()
                .code(0)
        };
        plan();
        assert_eq!(
            cached.manifest_calls(),
            1,
            "the first plan reads every manifest"
        );
        let again = plan();
        assert_eq!(cached.manifest_calls(), 1, "test-runtime was started again");
        assert!(again.stdout.contains("containerd"), "{}", again.stdout);
    }

    #[test]
    fn a_cache_file_someone_else_could_write_is_not_used() {
        let dir = PluginDir::new().with_fixture("test-runtime");
        let cached = Cached::new();
        let list = || {
            cached
                .installer(&dir)
                .args(["plugins", "list"])
                .run()
                .code(0)
        };
        list();
        let file = cached.cache.path().join("c/plugin-manifests.json");
        assert!(file.is_file());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        list();
        assert_eq!(
            cached.manifest_calls(),
            2,
            "a world-writable cache was read"
        );
        // Nor is one that is not a cache: the plugins are started and it is replaced.
        std::fs::write(&file, "garbage").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = list();
        assert!(out.stdout.contains("test-runtime"), "{}", out.stdout);
        assert_eq!(cached.manifest_calls(), 3);
        list();
        assert_eq!(cached.manifest_calls(), 3);
    }
}
