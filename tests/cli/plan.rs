//! `installer plan` and `render` with real plugin libraries: isolation from misbehaving
//! plugins, protocol compatibility, and composition of several plugins.

use crate::util::{Installer, PluginDir};

fn plan(dir: &PluginDir, args: &[&str]) -> crate::util::Output {
    Installer::isolated(dir.path())
        .arg_list(["plan", "--distro", "debian-12"])
        .arg_list(args)
        .run()
}

#[test]
fn a_plugin_that_panics_while_planning_is_named_and_exits_3() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("misbehave-panic");
    let out = plan(&dir, &["--runtime", "panicky"]).code(3);
    assert!(out.stderr.contains("plugin `panicky`"), "{}", out.stderr);
    assert!(
        out.stderr.contains("panicked: no plan for debian-12 today"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout);
}

#[test]
fn a_plugin_that_segfaults_while_planning_is_named_and_exits_3() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("misbehave-segv");
    let out = plan(&dir, &["--runtime", "segv"]).code(3);
    assert!(
        out.stderr.contains("plugin `segv`") && out.stderr.contains("signal 11"),
        "{}",
        out.stderr
    );
}

#[test]
fn selecting_a_plugin_of_another_protocol_major_exits_3_naming_both_versions() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("protocol-two");
    let out = plan(&dir, &["--runtime", "future"]).code(3);
    assert!(
        out.stderr.contains("`future`")
            && out.stderr.contains("2.0.0")
            && out.stderr.contains(plugin_api::PROTOCOL_VERSION),
        "{}",
        out.stderr
    );
}

#[test]
fn well_behaved_plugins_still_plan_beside_crashing_ones() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("misbehave-abort")
        .with_fixture("misbehave-panic")
        .with_fixture("misbehave-segv")
        .with_fixture("test-runtime");
    let out = plan(&dir, &["--runtime", "test-runtime", "--output", "json"]).code(0);
    let doc = out.json();
    assert_eq!(doc["runtime"], "test-runtime");
    assert!(
        out.stderr.contains("misbehave-abort") && out.stderr.contains("signal 6"),
        "the crash is reported: {}",
        out.stderr
    );
}

#[test]
fn an_unknown_runtime_exits_2_listing_the_loaded_ones() {
    let dir = PluginDir::new().with_workspace_plugins();
    let out = plan(&dir, &["--runtime", "podman"]).code(2);
    assert!(out.stderr.contains("--runtime podman"), "{}", out.stderr);
    for name in ["containerd", "cri-o", "docker", "mcr"] {
        assert!(
            out.stderr.contains(name),
            "hint lists {name}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_plugin_built_against_protocol_1_0_is_used_by_this_host() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("old-minor");
    let out = plan(&dir, &["--runtime", "vintage", "--output", "json"]).code(0);
    let doc = out.json();
    let step = &doc["steps"][0];
    assert_eq!(step["plugin"], "vintage");
    assert_eq!(step["actions"][0]["type"], "write_file");
    assert_eq!(step["actions"][0]["path"], "/etc/vintage/vintage.conf");
    assert_eq!(step["actions"][0]["content"], "mode = classic\n");
    assert_eq!(doc["facts"]["cri_socket"], "unix:///run/vintage.sock");
    assert_eq!(doc["plugins"][0]["version"], "1.0.3");
}

#[test]
fn a_plugin_from_a_newer_protocol_minor_is_used_and_its_unknown_fields_ignored() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("newer-minor");
    let doc = plan(&dir, &["--runtime", "tomorrow", "--output", "json"])
        .code(0)
        .json();
    assert_eq!(
        doc["steps"][0]["actions"][0]["path"],
        "/etc/tomorrow/config"
    );
    assert_eq!(doc["facts"]["cri_socket"], "unix:///run/tomorrow.sock");
}

#[test]
fn steps_are_ordered_by_phase_and_name_the_plugin_that_asked() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let doc = plan(&dir, &["--runtime", "test-runtime", "--output", "json"])
        .code(0)
        .json();
    let phases: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    let order = [
        "prerequisites",
        "repositories",
        "packages",
        "configuration",
        "services",
        "verification",
    ];
    let ranks: Vec<usize> = phases
        .iter()
        .map(|p| order.iter().position(|o| o == p).unwrap())
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "phases out of order: {phases:?}"
    );
    for step in doc["steps"].as_array().unwrap() {
        assert!(
            !step["plugin"].as_str().unwrap().is_empty()
                && !step["summary"].as_str().unwrap().is_empty(),
            "{step:#}"
        );
        assert!(
            step["actions"].as_array().is_some_and(|a| !a.is_empty()),
            "{step:#}"
        );
    }
}

#[test]
fn duplicate_steps_from_two_plugins_are_merged_once() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
        .with_fixture("test-addon");
    let doc = plan(
        &dir,
        &[
            "--runtime",
            "test-runtime",
            "--with",
            "test-addon",
            "--output",
            "json",
        ],
    )
    .code(0)
    .json();
    let steps = doc["steps"].as_array().unwrap();
    let modules: Vec<_> = steps
        .iter()
        .filter(|s| s["kind"] == "kernel_modules")
        .collect();
    assert_eq!(modules.len(), 1, "one modules step for both plugins");
    assert_eq!(modules[0]["plugin"], "test-runtime, test-addon");
    let daemon: Vec<_> = steps.iter().filter(|s| s["kind"] == "file").collect();
    assert_eq!(daemon.len(), 1);
    let merge = &daemon[0]["actions"][0]["merge"]["value"];
    assert_eq!(merge["registry-mirrors"][0], "https://mirror.example.com");
    assert_eq!(merge["log"]["max-size"], "100m");
    assert!(merge["cgroup-driver"].is_string());
}

#[test]
fn two_plugins_wanting_different_contents_for_one_file_is_an_error_naming_both() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
        .with_fixture("test-addon");
    for (conflict, words) in [
        ("file", "log.max-size"),
        ("pin", "test-engine"),
        ("sysctl", "net.ipv4.ip_forward"),
    ] {
        let out = plan(
            &dir,
            &[
                "--runtime",
                "test-runtime",
                "--with",
                "test-addon",
                "--set",
                &format!("test-addon.conflict={conflict}"),
            ],
        )
        .code(2);
        assert!(
            out.stderr.contains("`test-runtime`")
                && out.stderr.contains("`test-addon`")
                && out.stderr.contains(words),
            "{conflict}: {}",
            out.stderr
        );
    }
}

#[test]
fn injected_values_are_refused_naming_the_value_and_where_it_came_from() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let cases: [(&[&str], &str); 6] = [
        (&["--version", "1.0; reboot"], "--version"),
        (&["--version", "$(reboot)"], "--version"),
        (
            &["--set", "test-runtime.repo-url=https://x.example/$(id)"],
            "--set test-runtime.repo-url",
        ),
        (
            &["--set", "test-runtime.fingerprint=AB\nCD"],
            "--set test-runtime.fingerprint",
        ),
        (
            &["--mirror", "http://mirror.example.com/debian"],
            "--mirror",
        ),
        (&["--sandbox-image", "pause`id`"], "--sandbox-image"),
    ];
    for (args, origin) in cases {
        let out = plan(&dir, &[&["--runtime", "test-runtime"], args].concat()).code(2);
        assert!(out.stderr.contains(origin), "{args:?}: {}", out.stderr);
    }
    // A plain-http vendor repository reaches the plan only when named by flag.
    let out = plan(
        &dir,
        &[
            "--runtime",
            "test-runtime",
            "--set",
            "test-runtime.repo-url=http://packages.example.com/test",
        ],
    )
    .code(2);
    assert!(
        out.stderr.contains("--allow-insecure-repo"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_config_file_supplies_the_selection_and_flags_win() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(conf.path(), "runtime = \"test-runtime\"\ncgroup-driver = \"cgroupfs\"\n[set]\n\"test-runtime.repo-url\" = \"https://conf.example.com/t\"\n").unwrap();
    let doc = plan(
        &dir,
        &[
            "--config",
            conf.path().to_str().unwrap(),
            "--cgroup-driver",
            "systemd",
            "--output",
            "json",
        ],
    )
    .code(0)
    .json();
    assert_eq!(
        doc["cgroup_driver"]["driver"], "systemd",
        "the flag wins over the file"
    );
    assert!(
        doc.to_string().contains("https://conf.example.com/t"),
        "the file's --set reaches the plugin"
    );

    std::fs::write(conf.path(), "runtime = \"test-runtime\"\nrunitme = 1\n").unwrap();
    let out = plan(&dir, &["--config", conf.path().to_str().unwrap()]).code(2);
    assert!(
        out.stderr.contains("line 2") && out.stderr.contains("runitme"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_step_kind_this_host_does_not_know_is_refused_not_skipped() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("newer-minor");
    let out = plan(
        &dir,
        &["--runtime", "tomorrow", "--set", "tomorrow.new-step=yes"],
    )
    .code(3);
    assert!(
        out.stderr.contains("plugin `tomorrow`") && out.stderr.contains("\"flash the NIC\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1.9.0") && out.stderr.contains("upgrade installer"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_runtime_refused_for_its_permissions_is_named_with_the_fix_and_exits_3() {
    use std::os::unix::fs::PermissionsExt;
    let dir = PluginDir::new().with_workspace_plugins();
    let file = dir.path().join("libinstaller_plugin_docker.so");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
    let out = plan(&dir, &["--runtime", "docker"]).code(3);
    assert!(
        out.stderr.contains("libinstaller_plugin_docker.so") && out.stderr.contains("chmod go-w"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_set_key_no_plugin_of_the_plan_takes_is_refused_with_the_ones_it_does() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let out = plan(
        &dir,
        &[
            "--runtime",
            "test-runtime",
            "--set",
            "test-runtime.fial=true",
        ],
    )
    .code(2);
    assert!(
        out.stderr.contains("--set test-runtime.fial") && out.stderr.contains("test-runtime.fail"),
        "{}",
        out.stderr
    );
    let out = plan(
        &dir,
        &["--runtime", "test-runtime", "--set", "apt.lock-timout=300"],
    )
    .code(2);
    assert!(
        out.stderr.contains("apt.lock-timeout"),
        "the documented key is offered: {}",
        out.stderr
    );
    let out = plan(
        &dir,
        &["--runtime", "test-runtime", "--set", "nosuch.key=1"],
    )
    .code(2);
    assert!(
        out.stderr.contains("no plugin named `nosuch`") && out.stderr.contains("test-runtime, apt"),
        "{}",
        out.stderr
    );
    plan(
        &dir,
        &["--runtime", "test-runtime", "--set", "apt.lock-timeout=300"],
    )
    .code(0);
}

#[test]
fn a_value_a_plugin_made_that_the_shared_checks_refuse_is_its_bug_exit_3() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    // The user's `--set` value passes as free text; as the owner of a file the plugin writes,
    // it is not a user name, and the plugin passed it on without checking.
    let out = plan(
        &dir,
        &[
            "--runtime",
            "test-runtime",
            "--set",
            "test-runtime.owner=ops..x",
        ],
    )
    .code(3);
    assert!(
        out.stderr.contains("plugin `test-runtime`")
            && out.stderr.contains("user or group name `ops..x`")
            && out.stderr.contains("bug in the plugin"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}
