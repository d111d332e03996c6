//! Runtime handlers (protocol 1.5): a plugin added with `--with` declares one in no one
//! schema's terms, and the runtime that owns the configuration writes it in its own: containerd
//! in the runtimes table of the schema it chose, CRI-O in a drop-in. Without such an owner, a
//! handler, a restart or an in-place edit is an error naming the plugin, never a silent drop.

use serde_json::Value;

use crate::util::{Installer, PluginDir};

fn plugins() -> PluginDir {
    PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
        .with_fixture("test-handler")
}

fn plan(dir: &PluginDir, args: &[&str]) -> crate::util::Output {
    Installer::isolated(dir.path())
        .args([
            "plan",
            "--distro",
            "debian-12",
            "--output",
            "json",
            "--cgroup-driver",
            "systemd",
        ])
        .arg_list(args)
        .run()
}

/// The plan's `merge_file` action on `path`.
fn merge_of(plan: &Value, path: &str) -> Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .find(|a| a["type"] == "merge_file" && a["path"] == path)
        .unwrap_or_else(|| panic!("no merge of {path}"))["merge"]
        .clone()
}

/// containerd's config.toml as `run` writes it for `plan` on an empty root, parsed.
fn config_written(dir: &PluginDir, plan: &Value) -> toml::Table {
    let root = tempfile::tempdir().unwrap();
    let merge = merge_of(plan, "/etc/containerd/config.toml");
    Installer::isolated(dir.path())
        .args([
            "edit-file",
            "--path",
            "/etc/containerd/config.toml",
            "--merge",
        ])
        .arg_list([merge.to_string()])
        .arg_list(["--root"])
        .arg_list([root.path()])
        .run()
        .code(0);
    let text = std::fs::read_to_string(root.path().join("etc/containerd/config.toml")).unwrap();
    text.parse().unwrap()
}

#[test]
fn containerd_writes_a_handler_in_the_runtimes_table_of_the_schema_it_chose() {
    let dir = plugins();
    for (version, plugin_table) in [
        ("2", "io.containerd.grpc.v1.cri"),
        ("3", "io.containerd.cri.v1.runtime"),
    ] {
        let set = format!("containerd.config-version={version}");
        let doc = plan(
            &dir,
            &[
                "--runtime",
                "containerd",
                "--with",
                "test-handler",
                "--set",
                &set,
            ],
        )
        .code(0)
        .json();
        let config = config_written(&dir, &doc);
        assert_eq!(
            config["version"].as_integer(),
            Some(version.parse().unwrap())
        );
        let runtimes = &config["plugins"][plugin_table]["containerd"]["runtimes"];
        let testsc = &runtimes["testsc"];
        assert_eq!(
            testsc["runtime_type"].as_str(),
            Some("io.containerd.runsc.v1"),
            "{config}"
        );
        assert_eq!(
            testsc["options"]["ConfigPath"].as_str(),
            Some("/etc/testsc/testsc.toml")
        );
        assert_eq!(
            testsc["options"]["TypeUrl"].as_str(),
            Some("io.containerd.runsc.v1.options")
        );
        // Not runc's shim: no BinaryName, and the cgroup driver stays runc's business.
        assert!(
            testsc["options"].get("BinaryName").is_none()
                && testsc["options"].get("SystemdCgroup").is_none(),
            "{config}"
        );
        assert_eq!(
            runtimes["runc"]["options"]["SystemdCgroup"].as_bool(),
            Some(true)
        );
        // And a check that containerd itself reads it, after the restart.
        let check = doc["steps"].as_array().unwrap().iter().find(|s| {
            s["phase"] == "verification"
                && s["summary"] == "containerd reads runtime handler testsc from its configuration"
        });
        assert!(check.is_some(), "{doc:#}");
    }
}

#[test]
fn cri_o_writes_a_handler_in_a_drop_in_of_its_own() {
    let dir = plugins();
    let doc = plan(
        &dir,
        &[
            "--runtime",
            "cri-o",
            "--kubernetes-version",
            "1.30",
            "--with",
            "test-handler",
        ],
    )
    .code(0)
    .json();
    let write = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .find(|a| {
            a["type"] == "write_file" && a["path"] == "/etc/crio/crio.conf.d/10-runtime-testsc.conf"
        })
        .unwrap_or_else(|| panic!("no drop-in in {doc:#}"));
    let dropin: toml::Table = write["content"].as_str().unwrap().parse().unwrap();
    let testsc = &dropin["crio"]["runtime"]["runtimes"]["testsc"];
    assert_eq!(
        testsc["runtime_path"].as_str(),
        Some("/usr/bin/containerd-shim-testsc-v1")
    );
    assert_eq!(testsc["runtime_type"].as_str(), Some("vm"));
    assert_eq!(
        testsc["runtime_config_path"].as_str(),
        Some("/etc/testsc/testsc.toml")
    );
}

#[test]
fn without_an_owner_a_handler_a_restart_or_an_edit_is_an_error_naming_the_plugin() {
    let dir = plugins();
    let error = |args: &[&str]| plan(&dir, args).code(2).json()["error"].clone();

    // Docker's engine owns no CRI configuration handlers go in.
    let e = error(&[
        "--runtime",
        "docker",
        "--kubernetes-version",
        "1.30",
        "--with",
        "test-handler",
    ]);
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("`testsc` (from test-handler)") && m.contains("runtime plugin `docker`"),
        "{e:#}"
    );
    assert!(
        e["hint"].as_str().unwrap().contains("containerd, cri-o"),
        "{e:#}"
    );

    // The handler plugin selected as the runtime: says how to use it.
    let e = error(&["--runtime", "test-handler"]);
    assert!(
        e["hint"]
            .as_str()
            .unwrap()
            .contains("--runtime containerd --with test-handler"),
        "{e:#}"
    );

    // The old way, editing containerd's file itself, beside a runtime that is not containerd:
    // the restart of a unit nobody manages, and the edit of a file nobody writes.
    let e = error(&[
        "--runtime",
        "test-runtime",
        "--with",
        "test-handler",
        "--set",
        "test-handler.raw-edit=true",
    ]);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("plugin `test-handler` restarts containerd.service")
            && e["message"]
                .as_str()
                .unwrap()
                .contains("no plugin of this plan manages containerd.service"),
        "{e:#}"
    );
    let e = error(&[
        "--runtime",
        "test-runtime",
        "--with",
        "test-handler",
        "--set",
        "test-handler.raw-edit=toml",
    ]);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("plugin `test-handler` edits /etc/containerd/config.toml in place"),
        "{e:#}"
    );
    // Beside containerd, which writes that file, the old way still plans.
    plan(
        &dir,
        &[
            "--runtime",
            "containerd",
            "--with",
            "test-handler",
            "--set",
            "test-handler.raw-edit=true",
        ],
    )
    .code(0);
}

#[test]
fn gvisor_adds_runsc_from_its_own_repository_under_containerd_or_cri_o() {
    let dir = plugins();
    let doc = plan(&dir, &["--runtime", "containerd", "--with", "gvisor"])
        .code(0)
        .json();
    let actions: Vec<&Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .collect();
    let key = actions
        .iter()
        .find(|a| a["type"] == "fetch_key" && a["url"] == "https://gvisor.dev/archive.key")
        .expect("gVisor's key");
    assert_eq!(
        key["fingerprints"],
        serde_json::json!(["6F1DF85E3A71C24918E727D56FC6D554E32BD943"])
    );
    assert!(
        actions.iter().any(|a| a["type"] == "write_file"
            && a["content"].as_str().is_some_and(
                |c| c.contains("https://storage.googleapis.com/gvisor/releases release main")
            )),
        "the repository line"
    );
    let config = config_written(&dir, &doc);
    let runsc = &config["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runsc"];
    assert_eq!(
        runsc["runtime_type"].as_str(),
        Some("io.containerd.runsc.v1")
    );
    assert_eq!(
        runsc["options"]["ConfigPath"].as_str(),
        Some("/etc/containerd/runsc.toml")
    );
    // The fingerprint no gVisor document prints: the plan says so.
    assert!(
        doc["warnings"]
            .to_string()
            .contains("no gVisor document states it"),
        "{}",
        doc["warnings"]
    );

    // Under CRI-O: gVisor's own recipe (a vm handler running the shim), with its caveat.
    let doc = plan(
        &dir,
        &[
            "--runtime",
            "cri-o",
            "--kubernetes-version",
            "1.30",
            "--with",
            "gvisor",
        ],
    )
    .code(0)
    .json();
    assert!(
        doc["warnings"].to_string().contains("CRI-O 1.37 or later"),
        "{}",
        doc["warnings"]
    );
    // gVisor publishes amd64 and arm64 only.
    let out = plan(
        &dir,
        &[
            "--runtime",
            "containerd",
            "--with",
            "gvisor",
            "--arch",
            "armv7l",
        ],
    )
    .code(2);
    assert!(
        out.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amd64 and arm64"),
        "{}",
        out.stdout
    );
}

#[test]
fn nvidia_container_toolkit_adds_a_runc_shim_handler_on_the_plans_cgroup_driver() {
    let dir = plugins();
    let doc = plan(
        &dir,
        &[
            "--runtime",
            "containerd",
            "--with",
            "nvidia-container-toolkit",
        ],
    )
    .code(0)
    .json();
    let actions: Vec<&Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .collect();
    assert!(
        actions.iter().any(|a| a["type"] == "write_file"
            && a["content"]
                .as_str()
                .is_some_and(|c| c
                    .contains("https://nvidia.github.io/libnvidia-container/stable/deb/amd64 /"))),
        "NVIDIA's flat repository for the node's architecture"
    );
    let key = actions
        .iter()
        .find(|a| {
            a["type"] == "fetch_key"
                && a["url"] == "https://nvidia.github.io/libnvidia-container/gpgkey"
        })
        .expect("NVIDIA's key");
    assert_eq!(
        key["fingerprints"],
        serde_json::json!(["C95B321B61E88C1809C4F759DDCAE044F796ECB0"])
    );
    // runc's shim running NVIDIA's runtime, on the plan's cgroup driver like runc itself
    // (nvidia-ctk only copies runc's options; the plan sets it).
    let config = config_written(&dir, &doc);
    let nvidia =
        &config["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"];
    assert_eq!(
        nvidia["runtime_type"].as_str(),
        Some("io.containerd.runc.v2"),
        "{config}"
    );
    assert_eq!(
        nvidia["options"]["BinaryName"].as_str(),
        Some("/usr/bin/nvidia-container-runtime")
    );
    assert_eq!(
        nvidia["options"]["SystemdCgroup"].as_bool(),
        Some(true),
        "{config}"
    );

    // Under CRI-O: an OCI runtime at that path.
    let doc = plan(
        &dir,
        &[
            "--runtime",
            "cri-o",
            "--kubernetes-version",
            "1.30",
            "--with",
            "nvidia-container-toolkit",
        ],
    )
    .code(0)
    .json();
    let dropin = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .find(|a| a["path"] == "/etc/crio/crio.conf.d/10-runtime-nvidia.conf")
        .unwrap_or_else(|| panic!("no drop-in in {doc:#}"));
    let dropin: toml::Table = dropin["content"].as_str().unwrap().parse().unwrap();
    let nvidia = &dropin["crio"]["runtime"]["runtimes"]["nvidia"];
    assert_eq!(nvidia["runtime_type"].as_str(), Some("oci"));
    assert_eq!(
        nvidia["runtime_path"].as_str(),
        Some("/usr/bin/nvidia-container-runtime")
    );
    assert!(nvidia.get("runtime_config_path").is_none());
}
