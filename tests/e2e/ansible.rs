//! Ansible with the real engine: the collection's role and a playbook rendered by `installer
//! render --format ansible`, each run by ansible-playbook against a debootstrapped root through
//! Ansible's chroot connection (`community.general.chroot`), installing containerd.io from the
//! loopback mirror. Each root then holds what `installer run` gives an identical root, file by
//! file; a second play changes nothing; check mode changes nothing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::containerd::{assert_containerd_reads_our_config, APT_TOOLS};
use crate::support::apt_repo::{AptRepo, Variant, CONTAINERD_IO_VERSION};
use crate::support::http::HttpServer;
use crate::support::root::DebianRoot;
use crate::support::run::{mirror_selection, plugins_built, run};
use crate::support::{require, snapshot};
use crate::util::{bin, profile_dir, Installer};

/// A root as an Ansible-managed node starts: Python (and python3-apt, gpg) from Debian's
/// archive, then only the mirror (air-gapped).
fn node(name: &str) -> DebianRoot {
    let root = DebianRoot::fresh(name);
    root.seed_apt_cache();
    root.sh(&["apt-get", "-q", "update"]);
    root.sh(&[
        "apt-get",
        "-q",
        "install",
        "-y",
        "--no-install-recommends",
        "python3",
        "python3-apt",
        "gpg",
    ]);
    root.sh(&["apt-get", "clean"]);
    root.air_gap();
    root
}

/// `ansible-playbook` on `playbook` against `root` through the chroot connection; the exit
/// code, the output and the recap's `changed=` count.
fn play(
    root: &DebianRoot,
    collections: &Path,
    playbook: &Path,
    extra: &[&str],
) -> (i32, String, u32) {
    let inventory = playbook.with_extension("ini");
    fs::write(
        &inventory,
        format!(
            "node ansible_connection=community.general.chroot ansible_host={} ansible_python_interpreter=/usr/bin/python3\n",
            root.path().display()
        ),
    )
    .unwrap();
    let out = Command::new("ansible-playbook")
        .arg("-i")
        .arg(&inventory)
        .arg(playbook)
        .args(extra)
        .env("ANSIBLE_COLLECTIONS_PATH", collections)
        .env("ANSIBLE_HOST_KEY_CHECKING", "false")
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("INSTALLER_PLUGIN_PATH")
        .env_remove("INSTALLER_NO_DEFAULT_PLUGIN_DIRS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = text
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .find_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("changed="))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(u32::MAX);
    (out.status.code().unwrap_or(-1), text, changed)
}

/// What a root holds under /etc and /usr/local: config files parsed (the TOML and JSON a
/// runtime reads), every other file as bytes and mode.
fn files(root: &DebianRoot) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for dir in ["/etc", "/usr/local"] {
        for (p, (bytes, mode)) in snapshot(&root.join(dir)) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let seen = match p.extension().and_then(|e| e.to_str()) {
                Some("toml") => format!("{:?}", text.parse::<toml::Table>().expect("TOML")),
                Some("json") => format!(
                    "{:?}",
                    serde_json::from_str::<serde_json::Value>(&text).expect("JSON")
                ),
                _ => format!("{mode:o} {text}"),
            };
            out.insert(Path::new(dir).join(p), seen);
        }
    }
    out
}

/// Asserts two roots hold the same files, naming each that differs.
fn assert_same_files(by_run: &DebianRoot, other: &DebianRoot, what: &str) {
    let (a, b) = (files(by_run), files(other));
    let differ: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|p| a.get(*p) != b.get(*p))
        .map(|p| {
            format!(
                "--- {}\nrun: {}\n{what}: {}",
                p.display(),
                a.get(p).map(String::as_str).unwrap_or("(absent)"),
                b.get(p).map(String::as_str).unwrap_or("(absent)")
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "run and {what} disagree:\n{}",
        differ.join("\n")
    );
}

/// The reference: `installer run` with `selection` on an identical node.
fn by_run(name: &str, selection: &[String]) -> DebianRoot {
    let root = node(name);
    run(root.path(), selection).expect_code(0);
    root
}

/// /proc mounted in a root, unmounted when dropped.
struct ProcMount(PathBuf);

impl ProcMount {
    fn new(root: &DebianRoot) -> ProcMount {
        let at = root.join("/proc");
        fs::create_dir_all(&at).unwrap();
        crate::support::check(Command::new("mount").args(["-t", "proc", "proc"]).arg(&at));
        ProcMount(at)
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn need_ansible() {
    require(APT_TOOLS);
    require(&["ansible-playbook"]);
    plugins_built();
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_rendered_playbook_installs_containerd_through_the_chroot_connection_as_run_does() {
    need_ansible();
    let repo = AptRepo::build(Variant::Working);
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let selection = mirror_selection(&server, &repo);
    let reference = by_run("ansible-playbook-run", &selection);

    let root = node("ansible-playbook");
    let _proc = ProcMount::new(&root);
    // The config edits run installer's own editor on the node; it lives outside what is
    // compared (/etc, /usr/local).
    let on_node = root.join("/opt/installer/bin/installer");
    fs::create_dir_all(on_node.parent().unwrap()).unwrap();
    fs::copy(bin(), &on_node).unwrap();
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("containerd.yml");
    let rendered = Installer::with_defaults()
        .args(["render", "--format", "ansible", "--distro", "debian-12"])
        .arg_list(&selection)
        .run()
        .code(0)
        .stdout;
    fs::write(&playbook, &rendered).unwrap();
    let collections = crate::util::ansible_collections();
    let vars = ["-e", "installer_binary=/opt/installer/bin/installer"];

    // Check mode first, on the untouched node: it reports what would change and changes nothing.
    let before = files(&root);
    let packages_before = root.sh(&["dpkg-query", "-W"]);
    let (code, out, changed) = play(
        &root,
        collections.path(),
        &playbook,
        &[&vars[..], &["--check"]].concat(),
    );
    assert_eq!(code, 0, "check mode failed:\n{out}");
    assert!(changed > 0, "check mode saw nothing to do:\n{out}");
    assert_eq!(files(&root), before, "check mode changed files:\n{out}");
    assert_eq!(
        root.sh(&["dpkg-query", "-W"]),
        packages_before,
        "check mode installed packages"
    );

    let (code, out, changed) = play(&root, collections.path(), &playbook, &vars);
    assert_eq!(code, 0, "the playbook failed:\n{out}");
    assert!(changed > 0, "{out}");
    assert_eq!(
        root.installed_version("containerd.io").as_deref(),
        Some(CONTAINERD_IO_VERSION),
        "the pin 1.6 did not resolve to the mirror's containerd.io:\n{out}"
    );
    let held = root.sh(&["apt-mark", "showhold"]);
    assert!(
        held.lines().any(|l| l == "containerd.io"),
        "not held: {held:?}"
    );
    assert_same_files(&reference, &root, "the rendered playbook");
    assert_containerd_reads_our_config(&root);

    let (code, out, changed) = play(&root, collections.path(), &playbook, &vars);
    assert_eq!(
        (code, changed),
        (0, 0),
        "a second play changes nothing (the key fetched again, unchanged):\n{out}"
    );
    // The key's fingerprints were read with gpg in a home of installer's, not root's.
    assert!(!root.join("/root/.gnupg").exists(), "gpg left /root/.gnupg");
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn the_collections_role_installs_containerd_through_the_chroot_connection_as_run_does() {
    need_ansible();
    let repo = AptRepo::build(Variant::Working);
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let reference = by_run("ansible-role-run", &mirror_selection(&server, &repo));

    let root = node("ansible-role");
    // installer finds its plugin child through /proc/self/exe, as on any real node; and with
    // /proc there, run must still tell that it is in a chroot, not on the running system,
    // and leave the kernel and services alone (checked below).
    let _proc = ProcMount::new(&root);
    let work = tempfile::tempdir().unwrap();
    // The plugins the role copies: the workspace's, as built.
    let plugins = work.path().join("plugins");
    fs::create_dir_all(&plugins).unwrap();
    for entry in fs::read_dir(profile_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("libinstaller_plugin_") && name.ends_with(".so") {
            fs::copy(entry.path(), plugins.join(&name)).unwrap();
        }
    }
    // The same selection as the reference, from inventory-style variables; the distro is
    // detected on the node.
    let site = serde_json::json!([{
        "hosts": "all",
        "gather_facts": false,
        "roles": [{
            "role": "installer.runtime.node",
            "installer_binary_src": bin(),
            "installer_plugins_src": plugins,
            "installer_runtime": "containerd",
            "installer_selection": {
                "mirror": server.url(),
                "set": {"containerd.key-fingerprint": repo.key.fingerprint},
                "version": "1.6",
                "allow_vulnerable": ["CVE-2024-21626"],
                "cgroup_driver": "systemd",
                "sandbox_image": crate::support::run::SANDBOX_IMAGE,
            },
        }],
    }]);
    let playbook = work.path().join("site.yml");
    fs::write(&playbook, site.to_string()).unwrap();
    let collections = crate::util::ansible_collections();

    let (code, out, changed) = play(&root, collections.path(), &playbook, &["-v"]);
    assert_eq!(code, 0, "the role failed:\n{out}");
    assert!(changed > 0, "{out}");
    // In the chroot, with /proc mounted, run knew it was not the running system: the kernel
    // settings were skipped, not applied to this machine's kernel.
    let result: serde_json::Value = out
        .lines()
        .filter_map(|l| l.split_once(" => ").map(|(_, json)| json))
        .filter_map(|json| serde_json::from_str(json).ok())
        .find(|v: &serde_json::Value| v.get("report").is_some())
        .unwrap_or_else(|| panic!("no module result in:\n{out}"));
    let kernel: Vec<&serde_json::Value> = result["report"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            let summary = s["summary"].as_str().unwrap_or("");
            summary.starts_with("load kernel modules") || summary.starts_with("set net.")
        })
        .collect();
    assert_eq!(kernel.len(), 2, "{result:#}");
    for step in kernel {
        let notes = step["notes"].to_string();
        assert!(
            notes.contains("changes the running kernel, which is not this root's"),
            "{step:#}"
        );
    }
    assert!(root
        .join("/usr/lib/installer/plugins/libinstaller_plugin_containerd.so")
        .is_file());
    assert_eq!(
        root.installed_version("containerd.io").as_deref(),
        Some(CONTAINERD_IO_VERSION)
    );
    assert_same_files(&reference, &root, "the role");
    assert_containerd_reads_our_config(&root);

    let (code, out, changed) = play(&root, collections.path(), &playbook, &[]);
    assert_eq!(
        (code, changed),
        (0, 0),
        "a second play changes nothing:\n{out}"
    );

    // Check mode on the installed node: nothing to do, nothing changed.
    let before = files(&root);
    let (code, out, changed) = play(&root, collections.path(), &playbook, &["--check"]);
    assert_eq!(
        (code, changed),
        (0, 0),
        "check mode on an installed node:\n{out}"
    );
    assert_eq!(files(&root), before);
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn installer_in_a_chroot_without_proc_says_to_mount_it() {
    require(&[]);
    let root = DebianRoot::fresh("no-proc");
    let inside = root.join("/opt/installer");
    fs::create_dir_all(&inside).unwrap();
    fs::copy(bin(), inside.join("installer")).unwrap();
    let out = root
        .chroot(&[
            "/opt/installer/installer",
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "containerd",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "input");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/proc is not mounted")
            && doc["error"]["hint"]
                .as_str()
                .unwrap()
                .contains("mount -t proc proc /proc"),
        "{doc:#}"
    );
}
