//! Configs as they are in the wild: the real containerd `config.toml` files of
//! tests/fixtures/wild (kind, minikube, EKS, NVIDIA's toolkit, microk8s, Flatcar, Rancher
//! Desktop, kata, gVisor, containerd's own defaults and docs; each names its source) go one by
//! one through `installer run` in a root where Debian's containerd is installed. Each ends as
//! the table below says: edited, with every value the site set kept (parsed trees compared,
//! not text), our driver on every runtime of the runc shim and containerd itself answering
//! CRI; or refused with exit 2 and left byte for byte, for the reason the table names.

use std::path::{Path, PathBuf};

use crate::containerd::{assert_containerd_serves_cri_at, config_dump};
use crate::support::require;
use crate::support::root::DebianRoot;
use crate::support::run::{plugins_built, run};
use crate::util::Installer;

/// How a corpus file must end, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Edited as it stands.
    Edited,
    /// A value the site set otherwise (runc on cgroupfs, say): a conflict on that key,
    /// refused until `--override KEY` says the plan wins, then edited.
    ConflictThenEdited(&'static str),
    /// No `version` and schema 1 tables: refused, since a version would empty them.
    RefusedSchema1,
    /// A template with placeholders (microk8s fills `${RUNTIME}` in at install time): the
    /// conflict on `key`, then edited with every value kept; containerd parses it, but its CRI
    /// cannot start on a placeholder runtime name, so that is not asked.
    Template(&'static str),
}

/// Every schema 2 (or versionless) file of the corpus and how it must end. Schema 3 files
/// need containerd 2.x, which Debian 12 does not ship; the merge-level test covers them.
const EXPECTED: &[(&str, Outcome)] = &[
    ("containerd-cri-in-userns", Outcome::Edited),
    ("containerd-default-1.6", Outcome::Edited),
    ("containerd-default-1.7", Outcome::Edited),
    // containerd's documented full config shows runc on cgroupfs.
    (
        "containerd-docs-full-v2",
        Outcome::ConflictThenEdited("SystemdCgroup"),
    ),
    ("docker-packaging-cri-disabled", Outcome::Edited),
    ("eks-al2-v2-imports", Outcome::Edited),
    ("eks-nodeadm-v2-nvidia", Outcome::Edited),
    ("flatcar-sysext", Outcome::Edited),
    // Flatcar's cgroupfs variant, minikube's and Rancher Desktop's set runc's SystemdCgroup
    // to false.
    (
        "flatcar-sysext-cgroupfs",
        Outcome::ConflictThenEdited("SystemdCgroup"),
    ),
    ("gvisor-docs-runsc-debug", Outcome::Edited),
    ("kata-docs-1.7-mixed-noversion", Outcome::RefusedSchema1),
    ("kata-docs-v2", Outcome::Edited),
    ("kind-base", Outcome::Edited),
    // A template: runc's runtime_type is "${RUNTIME_TYPE}" until microk8s fills it in.
    ("microk8s-template", Outcome::Template("runtime_type")),
    (
        "minikube-kicbase",
        Outcome::ConflictThenEdited("SystemdCgroup"),
    ),
    (
        "nvidia-ctk-installer-dropin-default-nvidia",
        Outcome::Edited,
    ),
    (
        "nvidia-ctk-installer-initial-default-nvidia",
        Outcome::Edited,
    ),
    ("nvidia-ctk-test-v1", Outcome::RefusedSchema1),
    // runc on the runc.v1 shim, which containerd 2.0 removed: the plan's runc.v2 is a
    // conflict the site decides.
    (
        "nvidia-ctk-test-v2",
        Outcome::ConflictThenEdited("runtime_type"),
    ),
    ("puppet-k8s", Outcome::Edited),
    (
        "rancher-desktop-k3s",
        Outcome::ConflictThenEdited("SystemdCgroup"),
    ),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wild/containerd")
}

/// The keys the plan owns: the version, the driver, runc's type; disabled_plugins loses cri.
fn ours(path: &str) -> bool {
    path == "version"
        || path == "disabled_plugins"
        || path.ends_with(".SystemdCgroup")
        || path.ends_with(".systemdCgroup")
        || path.ends_with(".runtimes.runc.runtime_type")
}

/// The runtimes table of a schema 2 file, if any.
fn runtimes(table: &toml::Table) -> Option<&toml::Table> {
    table
        .get("plugins")?
        .get("io.containerd.grpc.v1.cri")?
        .get("containerd")?
        .get("runtimes")?
        .as_table()
}

/// `installer run` whose refusals (exit 2 before any change) may print no JSON: the exit code
/// and stderr.
fn run_or_refuse(root: &DebianRoot, args: &[String]) -> (i32, String) {
    plugins_built();
    let out = Installer::with_defaults()
        .args(["run", "--yes", "--output", "json", "--root"])
        .arg_list([root.path().as_os_str()])
        .arg_list(args)
        .run();
    (out.code, out.stderr)
}

fn selection(extra: &[&str]) -> Vec<String> {
    crate::support::run::containerd_from_debian(extra)
}

/// After an edit: every value the site set is kept, every runtime of the runc shim reads
/// the systemd driver in containerd's own view, and containerd serves CRI.
fn assert_edited(root: &DebianRoot, name: &str, site: &toml::Table, serves: bool) {
    let text = root.read("/etc/containerd/config.toml");
    let after: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{name}: the edited file is not TOML ({e}):\n{text}"));
    let kept = crate::util::toml_leaves(&after);
    for (path, value) in crate::util::toml_leaves(site) {
        if ours(&path) {
            continue;
        }
        assert_eq!(
            kept.get(&path),
            Some(&value),
            "{name}: the site's {path} is gone or changed:\n{text}"
        );
    }
    let dump = config_dump(root);
    let runc_shim = |t: &toml::Value| {
        matches!(
            t.get("runtime_type").and_then(|v| v.as_str()),
            Some("io.containerd.runc.v2" | "io.containerd.runc.v1")
        )
    };
    let dumped = runtimes(&dump).unwrap_or_else(|| panic!("{name}: no runtimes in the dump"));
    for (runtime, table) in dumped.iter().filter(|(_, t)| runc_shim(t)) {
        let options = table.get("options");
        let driver = options
            .and_then(|o| o.get("SystemdCgroup").or_else(|| o.get("systemdCgroup")))
            .and_then(|v| v.as_bool());
        assert_eq!(
            driver,
            Some(true),
            "{name}: runtime {runtime} in the dump:\n{dump}"
        );
    }
    // Other shims' runtimes got no such option.
    for (runtime, table) in dumped.iter().filter(|(_, t)| !runc_shim(t)) {
        let site_had = runtimes(site)
            .and_then(|r| r.get(runtime.as_str()))
            .and_then(|t| t.get("options"))
            .and_then(|o| o.get("SystemdCgroup"))
            .is_some();
        assert!(
            site_had
                || table
                    .get("options")
                    .and_then(|o| o.get("SystemdCgroup"))
                    .is_none(),
            "{name}: runtime {runtime} of another shim got SystemdCgroup:\n{dump}"
        );
    }
    if !serves {
        return;
    }
    // What the site's node has beside the config (EKS and kind ship a base OCI spec): made
    // here with containerd's own default spec, so that CRI starts as it would there.
    for table in dumped.values() {
        if let Some(spec) = table.get("base_runtime_spec").and_then(|v| v.as_str()) {
            if !spec.is_empty() && !root.join(spec).exists() {
                let default = root.sh(&["ctr", "oci", "spec"]);
                root.write(spec, &default);
            }
        }
    }
    // The daemon answers on the socket the site's configuration names.
    let socket = dump
        .get("grpc")
        .and_then(|g| g.get("address"))
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
        .unwrap_or("/run/containerd/containerd.sock");
    // Debian's /var/run is a link to /run; looked at from outside the root, the link would
    // lead to this machine's /run.
    let socket = match socket.strip_prefix("/var/run/") {
        Some(rest) => format!("/run/{rest}"),
        None => socket.to_owned(),
    };
    eprintln!("{name}: containerd serves CRI on {socket}");
    assert_containerd_serves_cri_at(root, &socket);
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn real_containerd_configs_are_edited_keeping_every_site_value_or_refused_untouched() {
    require(&[]);
    let root = DebianRoot::fresh("corpus-containerd");
    root.seed_apt_cache();
    // containerd installed (and its packaged config edited) once.
    run(root.path(), &selection(&[])).expect_code(0);

    // Every schema 2 or versionless file of the corpus is in the table, and only those.
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let table: toml::Table = text.parse().unwrap();
            table
                .get("version")
                .and_then(|v| v.as_integer())
                .unwrap_or(1)
                <= 2
        })
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = EXPECTED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        on_disk, listed,
        "the corpus and the expected outcomes disagree"
    );

    for (name, outcome) in EXPECTED {
        let text = std::fs::read_to_string(corpus_dir().join(format!("{name}.toml"))).unwrap();
        let site: toml::Table = text.parse().unwrap();
        let _ = std::fs::remove_dir_all(root.join("/etc/containerd/config.d"));
        root.write("/etc/containerd/config.toml", &text);
        let (code, stderr) = run_or_refuse(&root, &selection(&[]));
        let unchanged = |root: &DebianRoot| {
            assert_eq!(
                root.read("/etc/containerd/config.toml"),
                text,
                "{name}: a refused file changed"
            )
        };
        match outcome {
            Outcome::Edited => {
                assert_eq!(code, 0, "{name}: {stderr}");
                assert_edited(&root, name, &site, true);
            }
            Outcome::ConflictThenEdited(key) | Outcome::Template(key) => {
                assert_eq!(code, 2, "{name}: {stderr}");
                assert!(
                    stderr.contains(key) && stderr.contains("--override"),
                    "{name}: {stderr}"
                );
                unchanged(&root);
                run(root.path(), &selection(&["--override", key])).expect_code(0);
                let serves = !matches!(outcome, Outcome::Template(_));
                assert_edited(&root, name, &site, serves);
            }
            Outcome::RefusedSchema1 => {
                assert_eq!(code, 2, "{name}: {stderr}");
                assert!(stderr.contains("schema 1"), "{name}: {stderr}");
                unchanged(&root);
            }
        }
    }
}

/// The daemon.json files of the corpus that Debian 12's dockerd (20.10) loads after our merge,
/// with the `--override`s their conflicts need. Docker's documented full file is for newer
/// engines (20.10 says "the following directives don't match any configuration option: bip6,
/// https-proxy, ...") and is covered at the merge level only (tests/cli/corpus.rs).
const DOCKERD_LOADS: &[(&str, &[&str])] = &[
    ("dockerd-docs-shim-runtimes", &[]),
    ("eks-al2", &["max-size"]),
    ("flatcar-eks", &["max-size"]),
    ("gvisor-docs-runsc-debug", &[]),
    ("kubespray-offline-insecure", &[]),
    ("minikube-iso", &[]),
    ("nvidia-ctk-test-registry-mirror", &[]),
    ("nvidia-runtime-readme-default-nvidia", &[]),
];

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn real_daemon_json_files_merged_are_loaded_by_dockerd_with_the_systemd_driver() {
    use crate::support::mounts::Mounts;
    require(&[]);
    let root = DebianRoot::fresh("corpus-docker");
    root.seed_apt_cache();
    let docker = crate::support::run::docker_from_debian;
    run(root.path(), &docker(&[])).expect_code(0);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wild/docker");
    for (name, overrides) in DOCKERD_LOADS {
        let text = std::fs::read_to_string(corpus.join(format!("{name}.json"))).unwrap();
        root.write("/etc/docker/daemon.json", &text);
        let mut extra = Vec::new();
        for key in *overrides {
            extra.extend(["--override", key]);
        }
        run(root.path(), &docker(&extra)).expect_code(0);
        let site: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut mounts = Mounts::new(&root);
        mounts.start("dockerd", &["dockerd"]);
        mounts.wait_for_socket("dockerd", "/run/docker.sock");
        let info = root.sh(&["docker", "info"]);
        assert!(info.contains("Cgroup Driver: systemd"), "{name}:\n{info}");
        // What the site set, as dockerd reports it.
        for mirror in site["registry-mirrors"].as_array().into_iter().flatten() {
            assert!(info.contains(mirror.as_str().unwrap()), "{name}:\n{info}");
        }
        for registry in site["insecure-registries"].as_array().into_iter().flatten() {
            assert!(info.contains(registry.as_str().unwrap()), "{name}:\n{info}");
        }
        if let Some(runtime) = site["default-runtime"].as_str() {
            assert!(
                info.contains(&format!("Default Runtime: {runtime}")),
                "{name}:\n{info}"
            );
        }
        if site["live-restore"] == serde_json::json!(true) {
            assert!(
                info.contains("Live Restore Enabled: true"),
                "{name}:\n{info}"
            );
        }
        drop(mounts);
    }
}
