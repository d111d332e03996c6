//! containerd installed for real, from the loopback mirror and from Debian's archive, then
//! checked by containerd itself: its own parse of the configuration, and a daemon started in
//! the root that answers `ctr` with the CRI plugin loaded.

use std::fs;

use crate::support::apt_repo::{AptRepo, Variant, CONTAINERD_IO_VERSION};
use crate::support::http::HttpServer;
use crate::support::mounts::Mounts;
use crate::support::require;
use crate::support::root::DebianRoot;
use crate::support::run::{
    containerd_from_debian, mirror_selection, run, RunReport, SANDBOX_IMAGE,
};

pub const APT_TOOLS: &[&str] = &["apt-ftparchive", "gpg", "gpgconf", "dpkg-deb", "python3"];

/// A fresh root, a signed loopback mirror serving it, and the server.
pub struct MirrorSetup {
    pub server: HttpServer,
    pub repo: AptRepo,
    pub root: DebianRoot,
}

impl MirrorSetup {
    /// `air_gapped`: the root's own Debian sources removed, so every package comes from the
    /// mirror.
    pub fn new(name: &str, variant: Variant) -> MirrorSetup {
        require(APT_TOOLS);
        let root = DebianRoot::fresh(name);
        root.air_gap();
        let repo = AptRepo::build(variant);
        let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
        MirrorSetup { server, repo, root }
    }

    pub fn selection(&self) -> Vec<String> {
        mirror_selection(&self.server, &self.repo)
    }

    pub fn run(&self) -> RunReport {
        run(self.root.path(), &self.selection())
    }
}

/// `containerd config dump` in the root, parsed: containerd's own reading of the files.
pub fn config_dump(root: &DebianRoot) -> toml::Table {
    let dump = root.sh(&["containerd", "config", "dump"]);
    dump.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("containerd config dump is not TOML ({e}):\n{dump}"))
}

/// Asserts what the plan asked containerd to read: the systemd cgroup driver for runc and
/// the pause image, and the CRI plugin not disabled.
pub fn assert_containerd_reads_our_config(root: &DebianRoot) -> toml::Table {
    let dump = config_dump(root);
    let cri = &dump["plugins"]["io.containerd.grpc.v1.cri"];
    assert_eq!(
        cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"].as_bool(),
        Some(true),
        "containerd does not read SystemdCgroup = true:\n{dump}"
    );
    assert_eq!(
        cri["sandbox_image"].as_str(),
        Some(SANDBOX_IMAGE),
        "containerd does not read the sandbox image:\n{dump}"
    );
    let disabled: Vec<&str> = dump
        .get("disabled_plugins")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert!(
        !disabled.iter().any(|p| *p == "cri" || p.ends_with(".cri")),
        "CRI is still disabled: {disabled:?}"
    );
    dump
}

/// Starts containerd in the root and asserts it answers `ctr version` and lists the CRI
/// plugin as `ok`.
pub fn assert_containerd_serves_cri(root: &DebianRoot) {
    assert_containerd_serves_cri_at(root, "/run/containerd/containerd.sock");
}

/// As [`assert_containerd_serves_cri`], for a daemon whose configuration names another
/// socket (`[grpc] address`).
pub fn assert_containerd_serves_cri_at(root: &DebianRoot, socket: &str) {
    let mut mounts = Mounts::new(root);
    mounts.start("containerd", &["containerd"]);
    mounts.wait_for_socket("containerd", socket);
    let version = root.sh(&["ctr", "--address", socket, "version"]);
    assert!(
        version.contains("Server:"),
        "ctr version got no answer from the daemon:\n{version}"
    );
    let plugins = root.sh(&["ctr", "--address", socket, "plugins", "ls"]);
    let cri = plugins.lines().find(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 3 && f[0] == "io.containerd.grpc.v1" && f[1] == "cri"
    });
    assert!(
        cri.is_some_and(|l| l.split_whitespace().last() == Some("ok")),
        "the CRI plugin is not ok:\n{plugins}\n--- containerd log\n{}",
        fs::read_to_string(mounts.log("containerd")).unwrap_or_default()
    );
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn containerd_from_the_loopback_mirror_with_its_key_verified_and_the_pin_held() {
    let setup = MirrorSetup::new("containerd-mirror", Variant::Working);
    let root = &setup.root;

    let report = setup.run();
    report.expect_code(0);

    assert_eq!(
        root.installed_version("containerd.io").as_deref(),
        Some(CONTAINERD_IO_VERSION),
        "--version 1.6 did not install containerd.io {CONTAINERD_IO_VERSION}"
    );
    let held = root.sh(&["apt-mark", "showhold"]);
    assert!(
        held.lines().any(|l| l == "containerd.io"),
        "containerd.io is not held: {held:?}"
    );
    // The key written is the one the mirror served, and the source names it.
    assert_eq!(
        root.read("/etc/apt/keyrings/docker.asc"),
        setup.repo.public_key()
    );
    let list = root.read("/etc/apt/sources.list.d/docker.list");
    assert!(
        list.contains(&format!(
            "signed-by=/etc/apt/keyrings/docker.asc] {}/linux/debian bookworm stable",
            setup.server.url()
        )),
        "{list}"
    );
    // apt itself verified the repository with that key.
    let policy = root.sh(&["apt-cache", "policy", "containerd.io"]);
    assert!(policy.contains(&setup.server.url()), "{policy}");
    assert!(
        report.transactions() >= 1,
        "an install counted no transaction: {}",
        report.stdout
    );

    assert_containerd_reads_our_config(root);
    assert_containerd_serves_cri(root);
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn containerd_from_debians_own_archive() {
    require(&[]);
    let root = DebianRoot::fresh("containerd-distro");
    root.seed_apt_cache();
    let report = run(
        root.path(),
        &containerd_from_debian(&["--sandbox-image", SANDBOX_IMAGE]),
    );
    report.expect_code(0);
    let version = root
        .installed_version("containerd")
        .expect("Debian's containerd is installed");
    assert!(version.starts_with("1.6."), "{version}");
    assert!(
        !root.join("/etc/apt/sources.list.d/docker.list").exists(),
        "--source distro added Docker's repository"
    );
    assert_containerd_reads_our_config(&root);
    assert_containerd_serves_cri(&root);
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn an_existing_containerd_config_keeps_the_users_settings_and_gets_cri_back() {
    let setup = MirrorSetup::new("containerd-user-config", Variant::Working);
    let root = &setup.root;
    // A node that already runs containerd.io from the vendor repository, with the config
    // the vendor ships (CRI disabled) edited by its owner.
    root.write("/etc/apt/keyrings/docker.asc", &setup.repo.public_key());
    root.write(
        "/etc/apt/sources.list.d/docker.list",
        &format!(
            "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] {}/linux/debian bookworm stable\n",
            setup.server.url()
        ),
    );
    root.sh(&["apt-get", "-q", "update"]);
    root.sh(&[
        "apt-get",
        "-q",
        "install",
        "-y",
        "--no-install-recommends",
        &format!("containerd.io={CONTAINERD_IO_VERSION}"),
    ]);
    let users = "\
# kept by the site's configuration management
version = 2
disabled_plugins = [\"cri\"]
oom_score = -999

[grpc]
  max_recv_message_size = 33554432

# As NVIDIA's container toolkit leaves a GPU node: its runtime the default.
[plugins.\"io.containerd.grpc.v1.cri\".containerd]
  default_runtime_name = \"nvidia\"

[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]
  runtime_type = \"io.containerd.runc.v2\"

[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia.options]
  BinaryName = \"/usr/bin/nvidia-container-runtime\"

[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]
  runtime_type = \"io.containerd.kata.v2\"
";
    root.write("/etc/containerd/config.toml", users);

    let report = setup.run();
    report.expect_code(0);

    let text = root.read("/etc/containerd/config.toml");
    assert!(
        text.contains("# kept by the site's configuration management"),
        "the comment is gone:\n{text}"
    );
    let dump = assert_containerd_reads_our_config(root);
    assert_eq!(dump["oom_score"].as_integer(), Some(-999), "{dump}");
    // The default runtime, of the runc shim under another name, reads the driver too, in
    // containerd's own view; kata's shim has no such option and gets none.
    let cri = &dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"];
    assert_eq!(
        cri["default_runtime_name"].as_str(),
        Some("nvidia"),
        "{dump}"
    );
    assert_eq!(
        cri["runtimes"]["nvidia"]["options"]["SystemdCgroup"].as_bool(),
        Some(true),
        "{dump}"
    );
    assert_eq!(
        cri["runtimes"]["nvidia"]["options"]["BinaryName"].as_str(),
        Some("/usr/bin/nvidia-container-runtime"),
        "{dump}"
    );
    assert!(
        cri["runtimes"]["kata"]
            .get("options")
            .and_then(|o| o.get("SystemdCgroup"))
            .is_none(),
        "{dump}"
    );
    assert_eq!(
        dump["grpc"]["max_recv_message_size"].as_integer(),
        Some(33_554_432),
        "{dump}"
    );
    // The file replaced is kept in the run's journal, byte for byte.
    let journal = report
        .journal(root)
        .unwrap_or_else(|| panic!("no journal directory in {}", report.stdout));
    let backups = crate::support::snapshot(&journal);
    assert!(
        backups.values().any(|(bytes, _)| bytes == users.as_bytes()),
        "no backup of config.toml in {}: {:?}",
        journal.display(),
        backups.keys().collect::<Vec<_>>()
    );
    assert_containerd_serves_cri(root);
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_config_written_before_the_package_arrives_is_kept_without_a_prompt_then_edited() {
    let setup = MirrorSetup::new("containerd-config-first", Variant::Working);
    let root = &setup.root;
    // The site's configuration management wrote config.toml before containerd.io was
    // installed: to dpkg a conffile "created locally", which it asks about, and with no
    // terminal to ask on the install fails, unless told to keep the site's file.
    let users = "\
# written by the site before containerd.io was installed
version = 2
oom_score = -999
";
    root.write("/etc/containerd/config.toml", users);

    let report = setup.run();
    report.expect_code(0);

    let text = root.read("/etc/containerd/config.toml");
    assert!(
        text.contains("# written by the site before containerd.io was installed"),
        "the site's file was replaced:\n{text}"
    );
    let dump = assert_containerd_reads_our_config(root);
    assert_eq!(dump["oom_score"].as_integer(), Some(-999), "{dump}");
    // dpkg left the package's own version beside it, and the run says so.
    assert!(
        root.join("/etc/containerd/config.toml.dpkg-dist").is_file(),
        "no .dpkg-dist beside the site's file"
    );
    assert!(
        report
            .stdout
            .contains("/etc/containerd/config.toml.dpkg-dist"),
        "the report does not name the package's version: {}",
        report.stdout
    );
    let audit = root.sh(&["dpkg", "--audit"]);
    assert!(audit.trim().is_empty(), "dpkg is not clean: {audit}");
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_resolved_version_with_a_known_escape_is_refused_before_installing() {
    let setup = MirrorSetup::new("containerd-vulnerable", Variant::Working);
    let root = &setup.root;
    // The same selection without accepting CVE-2024-21626: `--version 1.6` is fine when the
    // plan is made (1.6.28 and later are fixed), but here it resolves to 1.6.20.
    let mut selection = setup.selection();
    let at = selection
        .iter()
        .position(|a| a == "--allow-vulnerable")
        .unwrap();
    selection.drain(at..at + 2);
    let dpkg_before = root.read("/var/lib/dpkg/status");

    let report = run(root.path(), &selection);
    report.expect_code(1);
    let message = report.json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("CVE-2024-21626")
            && message.contains("1.6.20-1")
            && message.contains("--allow-vulnerable CVE-2024-21626"),
        "{}",
        report.error_text()
    );
    assert_eq!(report.transactions(), 0, "a package transaction ran");
    assert_eq!(
        root.read("/var/lib/dpkg/status"),
        dpkg_before,
        "dpkg's database changed"
    );
    assert!(root.installed_version("containerd.io").is_none());
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn an_import_that_would_override_our_edit_is_refused_first_or_caught_by_containerds_own_view() {
    require(&[]);
    let root = DebianRoot::fresh("containerd-imports");
    root.seed_apt_cache();
    // A site whose GPU settings live in a drop-in that config.toml imports: containerd 1.6
    // merges it a plugin table at a time, so its CRI table replaces the one config.toml has.
    let site = "\
version = 2
imports = [\"/etc/containerd/config.d/*.toml\"]
";
    let drop_in = "\
version = 2
[plugins.\"io.containerd.grpc.v1.cri\".containerd]
  default_runtime_name = \"nvidia\"
[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]
  runtime_type = \"io.containerd.runc.v2\"
[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia.options]
  SystemdCgroup = false
";
    root.write("/etc/containerd/config.toml", site);
    root.write("/etc/containerd/config.d/10-gpu.toml", drop_in);
    let report = run(root.path(), &containerd_from_debian(&[]));
    // Refused before anything changes, naming the drop-in whose CRI table would win.
    report.expect_refused(&["imports", "config.d/10-gpu.toml"]);
    assert_eq!(report.transactions(), 0);
    assert_eq!(root.read("/etc/containerd/config.toml"), site);
    assert_eq!(root.read("/etc/containerd/config.d/10-gpu.toml"), drop_in);

    // An import whose table a preflight cannot see (another directory) still cannot slip
    // past: containerd's own merged view, read after the restart, fails the run and
    // config.toml is put back.
    root.write(
        "/etc/containerd/config.toml",
        "version = 2\nimports = [\"/etc/containerd-site.toml\"]\n",
    );
    std::fs::remove_file(root.join("/etc/containerd/config.d/10-gpu.toml")).unwrap();
    root.write("/etc/containerd-site.toml", drop_in);
    let report = run(root.path(), &containerd_from_debian(&[]));
    report.expect_code(1);
    let error = report.error_text();
    assert!(
        error.contains("SystemdCgroup = false") && error.contains("imports"),
        "{error}"
    );
    assert_eq!(
        root.read("/etc/containerd/config.toml"),
        "version = 2\nimports = [\"/etc/containerd-site.toml\"]\n"
    );
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_runtime_handler_from_another_plugin_is_read_by_containerd() {
    // A handler plugin as a platform team writes one, added with --with: containerd's plugin
    // writes its handler into the schema Debian's containerd 1.6 reads, and containerd itself
    // reads it back (the plan's own check, then `config dump` here).
    require(&[]);
    let plugins = crate::util::PluginDir::new().with_fixture("test-handler");
    let root = DebianRoot::fresh("containerd-handler");
    root.seed_apt_cache();
    let mut selection =
        containerd_from_debian(&["--sandbox-image", SANDBOX_IMAGE, "--with", "test-handler"]);
    selection.extend([
        "--plugin-dir".to_owned(),
        plugins.path().display().to_string(),
    ]);
    run(root.path(), &selection).expect_code(0);
    let dump = assert_containerd_reads_our_config(&root);
    let testsc = &dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["testsc"];
    assert_eq!(
        testsc["runtime_type"].as_str(),
        Some("io.containerd.runsc.v1"),
        "{dump}"
    );
    assert_eq!(
        testsc["options"]["ConfigPath"].as_str(),
        Some("/etc/testsc/testsc.toml"),
        "{dump}"
    );
    // runc keeps the plan's driver beside it.
    let runc = &dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runc"];
    assert_eq!(runc["options"]["SystemdCgroup"].as_bool(), Some(true));
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn gvisor_joins_containerd_from_its_own_repository_and_containerd_reads_its_handler() {
    // `--with gvisor`: runsc from (a stand-in of) gVisor's repository, its key checked by
    // fingerprint, and the handler written by containerd's plugin, read by containerd.
    let setup = MirrorSetup::new("containerd-gvisor", Variant::Working);
    let root = &setup.root;
    let url = setup.server.url();
    let mut selection = setup.selection();
    selection.extend(crate::support::run::strings(&[
        "--with",
        "gvisor",
        "--set",
        &format!("gvisor.repo-url={url}/gvisor"),
        "--set",
        &format!("gvisor.key-url={url}/linux/debian/gpg"),
        "--set",
        &format!("gvisor.key-fingerprint={}", setup.repo.key.fingerprint),
    ]));
    run(root.path(), &selection).expect_code(0);
    assert_eq!(
        root.installed_version("runsc").as_deref(),
        Some(crate::support::apt_repo::RUNSC_VERSION)
    );
    let dump = assert_containerd_reads_our_config(root);
    let runsc = &dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runsc"];
    assert_eq!(
        runsc["runtime_type"].as_str(),
        Some("io.containerd.runsc.v1"),
        "{dump}"
    );
    assert_eq!(
        runsc["options"]["ConfigPath"].as_str(),
        Some("/etc/containerd/runsc.toml")
    );
    assert_eq!(
        runsc["options"]["TypeUrl"].as_str(),
        Some("io.containerd.runsc.v1.options")
    );
    // The package's conffile is the site's, left as the package wrote it.
    assert!(root
        .read("/etc/containerd/runsc.toml")
        .contains("installer e2e test package"));
    // A second run changes nothing.
    let again = run(root.path(), &selection);
    again.expect_code(0);
    let changed: Vec<&serde_json::Value> = again.json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "changed")
        .collect();
    assert!(changed.is_empty(), "a second run changed {changed:#?}");
}
