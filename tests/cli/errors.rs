//! `--output json` failures: one `{"error": {...}}` document on stdout that tools read instead
//! of parsing `error:` lines, with the kind, the exit code the process really ends with, and
//! the plugin or file the failure concerns.

use crate::util::{Installer, PluginDir};

/// Runs with `--output json`, checks the process and the document agree, returns the error.
#[track_caller]
fn error_of(installer: Installer, code: i32) -> serde_json::Value {
    let out = installer.args(["--output", "json"]).run().code(code);
    let doc = out.json();
    let error = doc["error"].clone();
    assert_eq!(error["exit_code"], code, "{doc:#}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{doc:#}"
    );
    // The person reading the log still gets the words on stderr.
    let first = out.stderr.lines().find(|l| l.starts_with("error: "));
    assert!(first.is_some(), "{}", out.stderr);
    error
}

#[test]
fn each_kind_of_failure_is_one_json_document_naming_what_it_concerns() {
    let plugins = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("misbehave-panic")
        .with_fixture("test-runtime");
    let plan = |args: &[&str]| {
        Installer::isolated(plugins.path())
            .arg_list(["plan", "--distro", "debian-12"])
            .arg_list(args)
    };

    // The user's input: an unknown runtime.
    let e = error_of(plan(&["--runtime", "podman"]), 2);
    assert_eq!(e["kind"], "input");
    assert!(e["hint"].as_str().unwrap().contains("containerd"), "{e:#}");
    assert_eq!((e["plugin"].is_null(), e["file"].is_null()), (true, true));

    // A plugin that refuses the selection: named with its library, exit 2.
    let e = error_of(plan(&["--runtime", "containerd", "--version", "1.2.0"]), 2);
    assert_eq!(
        (&e["kind"], &e["plugin"]),
        (&"plugin_refused".into(), &"containerd".into())
    );
    assert!(e["file"].as_str().unwrap().ends_with(".so"), "{e:#}");
    assert!(
        e["hint"].as_str().unwrap().contains("--allow-vulnerable"),
        "{e:#}"
    );

    // A plugin that panics: exit 3, named with the file it was loaded from.
    let e = error_of(plan(&["--runtime", "panicky"]), 3);
    assert_eq!(
        (&e["kind"], &e["plugin"]),
        (&"plugin_failed".into(), &"panicky".into())
    );
    let file = plugins.path().join("libmisbehave-panic.so");
    assert_eq!(e["file"], file.display().to_string());

    // A plugin that answers something no correct plugin would (an owner with a space).
    let e = error_of(
        plan(&[
            "--runtime",
            "test-runtime",
            "--set",
            "test-runtime.owner=a b",
        ]),
        3,
    );
    assert_eq!(
        (&e["kind"], &e["plugin"]),
        (&"plugin_bug".into(), &"test-runtime".into())
    );
    let file = plugins.path().join("libtest-runtime.so");
    assert_eq!(e["file"], file.display().to_string());

    // An unknown pack, and a malformed one named by its file.
    let e = error_of(
        Installer::isolated(plugins.path()).args([
            "plan",
            "--distro",
            "debain-12",
            "--runtime",
            "containerd",
        ]),
        2,
    );
    assert_eq!(e["kind"], "distro_pack");
    assert!(
        e["message"].as_str().unwrap().contains("debian-12"),
        "suggests: {e:#}"
    );
    let packs = tempfile::tempdir().unwrap();
    let pack = packs.path().join("site.toml");
    std::fs::write(&pack, "id = \"site\"\nfamily = [\n").unwrap();
    let e = error_of(
        Installer::isolated(plugins.path())
            .args(["distros", "list", "--distro-dir"])
            .arg_list([packs.path()]),
        2,
    );
    assert_eq!(
        (&e["kind"], &e["file"]),
        (&"distro_pack".into(), &pack.display().to_string().into())
    );

    // A root without os-release: the file looked for first.
    let root = tempfile::tempdir().unwrap();
    let e = error_of(
        Installer::isolated(plugins.path())
            .args(["detect", "--root"])
            .arg_list([root.path()]),
        2,
    );
    assert_eq!(e["kind"], "os_release");
    assert_eq!(
        e["file"],
        root.path().join("etc/os-release").display().to_string()
    );
}

#[test]
fn without_output_json_a_failure_prints_nothing_on_stdout() {
    let plugins = PluginDir::new().with_workspace_plugins();
    let out = Installer::isolated(plugins.path())
        .args(["plan", "--distro", "debian-12", "--runtime", "podman"])
        .run()
        .code(2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with("error: --runtime podman"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_migration_is_not_rendered_as_a_playbook() {
    let plugins = PluginDir::new().with_workspace_plugins();
    let e = error_of(
        Installer::isolated(plugins.path()).args([
            "migrate",
            "--from",
            "docker",
            "--to",
            "containerd",
            "--kubernetes-version",
            "1.30",
            "--render",
            "ansible",
        ]),
        2,
    );
    assert_eq!(e["kind"], "input");
    assert!(e["hint"].as_str().unwrap().contains("--render sh"), "{e:#}");
}

#[test]
fn a_missing_pack_variable_suggests_the_distros_own_packages_only_where_they_plan() {
    let plugins = PluginDir::new().with_workspace_plugins();
    let plan = |runtime: &str| {
        Installer::isolated(plugins.path()).args([
            "plan",
            "--distro",
            "debian-testing",
            "--runtime",
            runtime,
        ])
    };
    // Docker's repository has no debian-testing suite; Debian's own containerd plans.
    let e = error_of(plan("containerd"), 2);
    assert_eq!(e["kind"], "plugin_refused");
    let hint = e["hint"].as_str().unwrap();
    assert!(
        hint.contains("docker.repo_path") && hint.contains("--source distro"),
        "{hint}"
    );
    // Mirantis' packages have no distro counterpart: no such suggestion.
    let e = error_of(plan("mcr"), 2);
    assert!(
        !e["hint"].as_str().unwrap().contains("--source distro"),
        "{e:#}"
    );
    // And what it suggests works.
    Installer::isolated(plugins.path())
        .args([
            "plan",
            "--distro",
            "debian-testing",
            "--runtime",
            "containerd",
            "--source",
            "distro",
        ])
        .run()
        .code(0);
}
