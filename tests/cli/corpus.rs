//! The schema 3 files of the corpus in tests/fixtures/wild (EKS, containerd's docs, kata,
//! k0s), which need containerd 2.x to load: the edit the containerd plugin plans for
//! containerd 2.1, applied as `run` applies it, keeps every value the site set (parsed trees
//! compared) and puts the driver on every runtime of the runc shim, under whatever name.
//! (Schema 2 files go through a real run and a real containerd: tests/e2e/corpus.rs.)

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::{Installer, PluginDir};

const SCHEMA_3: &[&str] = &[
    "containerd-docs-full-v3",
    "eks-al2-v3-imports",
    "eks-nodeadm-v3-full-nvidia",
    "eks-nodeadm-v3-nvidia",
    "eks-nodeadm-v3-runc",
    "k0s-managed-test",
    "kata-docs-v3",
];

fn leaves(table: &toml::Table) -> BTreeMap<String, toml::Value> {
    fn walk(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, toml::Value>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    walk(&format!("{prefix}{k}."), v, out);
                }
            }
            other => {
                out.insert(prefix.trim_end_matches('.').to_owned(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    for (k, v) in table {
        walk(&format!("{k}."), v, &mut out);
    }
    out
}

#[test]
fn schema_3_configs_in_the_wild_keep_every_site_value_and_get_the_driver_on_every_runc_runtime() {
    let dir = PluginDir::new().with_workspace_plugins();
    let plan = Installer::isolated(dir.path())
        .args([
            "plan",
            "--output",
            "json",
            "--distro",
            "rocky-9",
            "--runtime",
            "containerd",
            "--version",
            "2.1",
            "--cgroup-driver",
            "systemd",
        ])
        .run()
        .code(0)
        .json();
    let action = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap().iter())
        .find(|a| a["type"] == "merge_file" && a["path"] == "/etc/containerd/config.toml")
        .expect("the config.toml edit");
    let merge: plugin_api::FileContent = serde_json::from_value(action["merge"].clone()).unwrap();
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
        let kept = leaves(&after);
        for (path, value) in leaves(&site) {
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
