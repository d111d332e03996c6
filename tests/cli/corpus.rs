//! The schema 3 files of the corpus in tests/fixtures/wild (EKS, containerd's docs, kata,
//! k0s), which need containerd 2.x to load: the edit the containerd plugin plans for
//! containerd 2.1, applied as `run` applies it, keeps every value the site set (parsed trees
//! compared) and puts the driver on every runtime of the runc shim, under whatever name.
//! (Schema 2 files go through a real run and a real containerd: tests/e2e/corpus.rs.)

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::{toml_leaves, Installer, PluginDir};

const SCHEMA_3: &[&str] = &[
    "containerd-docs-full-v3",
    "eks-al2-v3-imports",
    "eks-nodeadm-v3-full-nvidia",
    "eks-nodeadm-v3-nvidia",
    "eks-nodeadm-v3-runc",
    "k0s-managed-test",
    "kata-docs-v3",
];

/// The `merge` the plan for `selection` (on the systemd driver) makes of `path`, as the
/// plugin planned it.
fn planned_merge(selection: &[&str], path: &str) -> plugin_api::FileContent {
    let dir = PluginDir::new().with_workspace_plugins();
    let plan = Installer::isolated(dir.path())
        .args(["plan", "--output", "json", "--cgroup-driver", "systemd"])
        .arg_list(selection)
        .run()
        .code(0)
        .json();
    let action = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap().iter())
        .find(|a| a["type"] == "merge_file" && a["path"] == path)
        .unwrap_or_else(|| panic!("no merge of {path} in the plan"));
    serde_json::from_value(action["merge"].clone()).unwrap()
}

#[test]
fn schema_3_configs_in_the_wild_keep_every_site_value_and_get_the_driver_on_every_runc_runtime() {
    let merge = planned_merge(
        &[
            "--distro",
            "rocky-9",
            "--runtime",
            "containerd",
            "--version",
            "2.1",
        ],
        "/etc/containerd/config.toml",
    );
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wild/containerd");
    for name in SCHEMA_3 {
        let text = std::fs::read_to_string(corpus.join(format!("{name}.toml"))).unwrap();
        let site: toml::Table = text.parse().unwrap();
        assert_eq!(site["version"].as_integer(), Some(3), "{name}");
        let edited = installer::merge::apply_to_bytes(
            "/etc/containerd/config.toml",
            Some(text.as_bytes()),
            &merge,
            installer::merge::Overrides::Keys(&[]),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let after: toml::Table = edited.parse().unwrap();
        let kept = toml_leaves(&after);
        for (path, value) in toml_leaves(&site) {
            if path == "version" || path == "disabled_plugins" || path.ends_with("SystemdCgroup") {
                continue;
            }
            assert_eq!(kept.get(&path), Some(&value), "{name}: {path}:\n{edited}");
        }
        let runtimes = after["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]["runtimes"]
            .as_table()
            .unwrap();
        let mut runc_shim = 0;
        for (runtime, table) in runtimes {
            let driver = table
                .get("options")
                .and_then(|o| o.get("SystemdCgroup").or_else(|| o.get("systemdCgroup")))
                .and_then(|v| v.as_bool());
            match table.get("runtime_type").and_then(|v| v.as_str()) {
                Some("io.containerd.runc.v2" | "io.containerd.runc.v1") => {
                    runc_shim += 1;
                    assert_eq!(driver, Some(true), "{name}: {runtime}:\n{edited}");
                }
                _ => assert_eq!(driver, None, "{name}: {runtime} of another shim:\n{edited}"),
            }
        }
        assert!(runc_shim >= 1, "{name}");
        // The edited file's own version stays: containerd 2.1 reads 3.
        assert_eq!(after["version"].as_integer(), Some(3), "{name}");
    }
}

/// How a daemon.json of the corpus must end under the docker plan, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Json {
    /// Merged: every site value kept, ours added.
    Merged,
    /// Values the site set otherwise: a conflict on those keys, until `--override` names them.
    Conflict(&'static [&'static str]),
}

const DAEMON_JSON: &[(&str, Json)] = &[
    // Docker's documented full file: 10m logs, and "" (the default) for the storage driver.
    (
        "dockerd-docs-full-linux",
        Json::Conflict(&["max-size", "storage-driver"]),
    ),
    ("dockerd-docs-shim-runtimes", Json::Merged),
    // EKS caps logs at 10m, the plan at 100m.
    ("eks-al2", Json::Conflict(&["max-size"])),
    ("flatcar-eks", Json::Conflict(&["max-size"])),
    ("gvisor-docs-runsc-debug", Json::Merged),
    ("kubespray-offline-insecure", Json::Merged),
    ("minikube-iso", Json::Merged),
    ("nvidia-ctk-test-registry-mirror", Json::Merged),
    // NVIDIA's runtime the default: dockerd's one exec-opts driver covers it too.
    ("nvidia-runtime-readme-default-nvidia", Json::Merged),
];

fn json_leaves(
    value: &serde_json::Value,
    prefix: &str,
    out: &mut BTreeMap<String, serde_json::Value>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                json_leaves(v, &format!("{prefix}{k}."), out);
            }
        }
        other => {
            out.insert(prefix.trim_end_matches('.').to_owned(), other.clone());
        }
    }
}

#[test]
fn daemon_json_in_the_wild_keeps_every_site_value_or_names_the_conflict() {
    let merge = planned_merge(
        &[
            "--distro",
            "debian-12",
            "--runtime",
            "docker",
            "--kubernetes-version",
            "1.23",
        ],
        "/etc/docker/daemon.json",
    );
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wild/docker");
    let mut on_disk: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk,
        DAEMON_JSON.iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
    let apply = |text: &str, overrides: &[String]| {
        installer::merge::apply_to_bytes(
            "/etc/docker/daemon.json",
            Some(text.as_bytes()),
            &merge,
            installer::merge::Overrides::Keys(overrides),
        )
    };
    for (name, expected) in DAEMON_JSON {
        let text = std::fs::read_to_string(corpus.join(format!("{name}.json"))).unwrap();
        let merged = match (expected, apply(&text, &[])) {
            (Json::Merged, Ok(merged)) => merged,
            (Json::Conflict(keys), Err(e)) => {
                for key in *keys {
                    assert!(e.to_string().contains(key), "{name}: {e}");
                }
                let overrides: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                apply(&text, &overrides).unwrap_or_else(|e| panic!("{name}: {e}"))
            }
            (_, other) => panic!("{name}: expected {expected:?}, got {other:?}"),
        };
        let site: serde_json::Value = serde_json::from_str(&text).unwrap();
        let after: serde_json::Value = serde_json::from_str(&merged).unwrap();
        let (mut before, mut kept) = (BTreeMap::new(), BTreeMap::new());
        json_leaves(&site, "", &mut before);
        json_leaves(&after, "", &mut kept);
        let overridden: &[&str] = match expected {
            Json::Conflict(keys) => keys,
            Json::Merged => &[],
        };
        for (path, value) in before {
            if overridden.iter().any(|k| path.ends_with(k)) {
                continue;
            }
            match (&value, kept.get(&path)) {
                // Arrays keep every element the site had (ours are added).
                (serde_json::Value::Array(a), Some(serde_json::Value::Array(b))) => {
                    assert!(a.iter().all(|x| b.contains(x)), "{name}: {path}:\n{merged}")
                }
                (v, got) => assert_eq!(got, Some(v), "{name}: {path}:\n{merged}"),
            }
        }
        let opts = after["exec-opts"].as_array().unwrap();
        assert!(
            opts.contains(&serde_json::json!("native.cgroupdriver=systemd")),
            "{name}:\n{merged}"
        );
    }
}

#[test]
fn a_config_another_tool_manages_is_edited_with_a_warning_naming_the_tool() {
    let dir = PluginDir::new().with_workspace_plugins();
    let root = crate::run::scratch_root();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wild/containerd");
    let config = root.path().join("etc/containerd/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let plan = |text: &str| {
        std::fs::write(&config, text).unwrap();
        Installer::isolated(dir.path())
            .arg_list([
                "plan",
                "--output",
                "json",
                "--runtime",
                "containerd",
                "--version",
                "2.1",
            ])
            .arg_list(["--root"])
            .arg_list([root.path()])
            .run()
            .code(0)
            .json()
    };
    let warned = |plan: &serde_json::Value, tool: &str| {
        plan["warnings"].as_array().unwrap().iter().any(|w| {
            let w = w.as_str().unwrap_or_default();
            w.contains("/etc/containerd/config.toml") && w.contains(tool)
        })
    };
    // k0s's own containerd config: its marker on the first line.
    let k0s = std::fs::read_to_string(corpus.join("k0s-managed-test.toml")).unwrap();
    assert!(warned(&plan(&k0s), "k0s"));
    // A template an Ansible role rendered.
    assert!(warned(&plan("# Ansible managed\nversion = 3\n"), "Ansible"));
    // A site's own file, and one that merely mentions a tool further down: no warning.
    let own = "version = 3\n# kept by hand; see the k0s_managed=true note in our wiki? no\n";
    let text = format!("{own}{}", "\n".repeat(10) + "# Ansible managed\n");
    let quiet = plan(&text);
    assert!(
        !warned(&quiet, "k0s") && !warned(&quiet, "Ansible"),
        "{quiet}"
    );
}
