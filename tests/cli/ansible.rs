//! The Ansible collection's module (ansible/plugins/modules/installer.py) driven by real
//! ansible-core against a scratch root: changed from the run's report, check mode through
//! verify, a second run unchanged, a failure with installer's message and exit code.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::run::scratch_root;
use crate::util::{bin, workspace_root, PluginDir};

/// `ansible localhost -m installer.runtime.installer -a ARGS -o` (and `flags`): the status
/// word (`CHANGED`, `SUCCESS`, `FAILED!`) and the module's result.
fn module(collections: &Path, args: &Value, flags: &[&str]) -> (String, Value) {
    module_named("installer.runtime.installer", collections, args, flags)
}

/// [`module`] for the collection's module `name`.
fn module_named(name: &str, collections: &Path, args: &Value, flags: &[&str]) -> (String, Value) {
    assert!(
        Command::new("ansible").arg("--version").output().is_ok(),
        "this test needs ansible-core: apt-get install ansible-core (scripts/test-all does)"
    );
    let out = Command::new("ansible")
        .args(["localhost", "-c", "local", "-o", "-m", name, "-a"])
        .arg(args.to_string())
        .args(flags)
        .env("ANSIBLE_COLLECTIONS_PATH", collections)
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
        .env("INSTALLER_NO_DEFAULT_PLUGIN_DIRS", "1")
        .env_remove("INSTALLER_PLUGIN_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("localhost | "))
        .unwrap_or_else(|| {
            panic!(
                "no result line:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (head, json) = line.split_once(" => ").unwrap();
    let status = head.trim_start_matches("localhost | ").trim().to_owned();
    (status, serde_json::from_str(json).unwrap())
}

/// The repository's collection as Ansible finds it (ansible_collections/<namespace>/<name>
/// on ANSIBLE_COLLECTIONS_PATH), and the plugins with test-runtime among them.
fn collection_and_plugins() -> (tempfile::TempDir, PluginDir) {
    let collections = tempfile::tempdir().unwrap();
    let ns = collections.path().join("ansible_collections/installer");
    std::fs::create_dir_all(&ns).unwrap();
    std::os::unix::fs::symlink(workspace_root().join("ansible"), ns.join("runtime")).unwrap();
    let plugins = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    (collections, plugins)
}

#[test]
fn the_module_runs_installer_idempotently_with_check_mode_and_failures_as_ansible_expects() {
    let (collections, plugins) = collection_and_plugins();
    let root = scratch_root();
    let args = serde_json::json!({
        "runtime": "test-runtime",
        "root": root.path(),
        "cgroup_driver": "systemd",
        "set": {"test-runtime.files-only": "true"},
        "binary": bin(),
        "plugin_dirs": [plugins.path()],
    });
    let daemon = root.path().join("etc/test-engine/daemon.json");

    // Check mode changes nothing and says what would change.
    let (status, result) = module(collections.path(), &args, &["--check"]);
    assert_eq!(status, "CHANGED", "{result:#}");
    assert!(!daemon.exists());

    let (status, result) = module(collections.path(), &args, &[]);
    assert_eq!(status, "CHANGED", "{result:#}");
    assert_eq!(result["report"]["status"], "ok");
    assert!(daemon.exists());

    // A second run, and check mode now: nothing to change (the node's own checks, such as
    // runc missing from a scratch root, are not the plan's to change).
    let (status, result) = module(collections.path(), &args, &[]);
    assert_eq!(status, "SUCCESS", "{result:#}");
    assert_eq!(result["changed"], false);
    let (status, _) = module(collections.path(), &args, &["--check"]);
    assert_eq!(status, "SUCCESS");

    // Drift: check mode with diff shows it.
    std::fs::write(&daemon, "{\"cgroup-driver\": \"systemd\"}\n").unwrap();
    let (status, result) = module(collections.path(), &args, &["--check", "--diff"]);
    assert_eq!(status, "CHANGED", "{result:#}");
    assert!(
        result.to_string().contains("max-size"),
        "the diff: {result:#}"
    );

    // A selection installer refuses: failed, with its message and exit code.
    let mut bad = args.clone();
    bad["runtime"] = "nope".into();
    let (status, result) = module(collections.path(), &bad, &[]);
    assert_eq!(status, "FAILED!", "{result:#}");
    assert_eq!(result["rc"], 2);
    // The words come from installer's error document, its hint included.
    let msg = result["msg"].as_str().unwrap();
    assert!(
        msg.contains("--runtime nope") && msg.contains("hint: loaded runtime plugins"),
        "{result:#}"
    );
    assert_eq!(result["report"]["error"]["kind"], "input", "{result:#}");
}

#[test]
fn config_edit_leaves_a_missing_kubelet_config_alone_with_a_warning_in_both_modes() {
    let (collections, _) = collection_and_plugins();
    let root = scratch_root();
    let args = serde_json::json!({
        "path": "/var/lib/kubelet/config.yaml",
        "merge": {"how": "yaml_set", "values": {"cgroupDriver": "systemd"}},
        "root": root.path(),
        "binary": bin(),
    });
    for flags in [&["--check"][..], &[]] {
        let (status, result) = module_named(
            "installer.runtime.config_edit",
            collections.path(),
            &args,
            flags,
        );
        assert_eq!(status, "SUCCESS", "{flags:?}: {result:#}");
        assert!(
            result["warnings"].to_string().contains("kubeadm writes it"),
            "{flags:?}: {result:#}"
        );
    }
    assert!(!root.path().join("var/lib/kubelet/config.yaml").exists());
}

/// `ansible-playbook` on `playbook`; the PLAY RECAP's counts for localhost.
fn playbook(collections: &Path, playbook: &Path) -> (i32, String) {
    let out = Command::new("ansible-playbook")
        .args(["-i", "localhost,", "-c", "local"])
        .arg(playbook)
        .env("ANSIBLE_COLLECTIONS_PATH", collections)
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env_remove("INSTALLER_PLUGIN_PATH")
        .env_remove("INSTALLER_NO_DEFAULT_PLUGIN_DIRS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout)
}

#[test]
fn the_role_puts_installer_and_its_plugins_on_the_node_then_installs_once() {
    let (collections, plugins) = collection_and_plugins();
    let root = scratch_root();
    // The node's /usr, a directory of the test's own.
    let node = tempfile::tempdir().unwrap();
    let prefix = node.path().join("usr");
    let play = serde_json::json!([{
        "hosts": "localhost",
        "gather_facts": false,
        "roles": [{
            "role": "installer.runtime.node",
            "installer_binary_src": bin(),
            "installer_plugins_src": plugins.path(),
            "installer_prefix": prefix,
            "installer_runtime": "test-runtime",
            "installer_root": root.path(),
            "installer_selection": {
                "cgroup_driver": "systemd",
                "set": {"test-runtime.files-only": "true"},
            },
        }],
    }]);
    // JSON is YAML: the playbook as ansible-playbook reads it.
    let file = node.path().join("site.yml");
    std::fs::write(&file, play.to_string()).unwrap();

    let (code, out) = playbook(collections.path(), &file);
    assert_eq!(code, 0, "{out}");
    assert!(prefix.join("bin/installer").is_file());
    assert!(
        prefix
            .join("lib/installer/plugins/libtest-runtime.so")
            .is_file(),
        "{out}"
    );
    assert!(
        root.path().join("etc/test-engine/daemon.json").is_file(),
        "{out}"
    );

    let (code, out) = playbook(collections.path(), &file);
    assert_eq!(code, 0, "{out}");
    let recap = out
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        recap.contains("changed=0"),
        "a second play changes nothing:\n{out}"
    );
}
