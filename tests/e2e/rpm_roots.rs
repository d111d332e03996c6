//! `installer run --root` into an empty rpm root from this Debian host (issue #15, item 5):
//! the root has no dnf, zypper or rpm, so `run` drives the host's own (`dnf --installroot`,
//! `zypper --root`, `rpm --root`) as image builders do, confined by bubblewrap, writes its
//! files through the root, puts the rpm database where the image's own rpm reads it, and a
//! second run changes nothing. Links in the image that point at host paths leave them
//! untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::http::HttpServer;
use crate::support::rpm_repo::{dnf_plugins_core, RpmRepo, RPM_TOOLS};
use crate::support::run::{strings, RunReport};
use crate::support::{check, cmd, fresh_dir, require, snapshot};
use crate::util::Installer;

/// The rpm repository's tools, bubblewrap (which confines this host's dnf, zypper and rpm),
/// and `more`.
fn tools(more: &[&'static str]) -> Vec<&'static str> {
    [RPM_TOOLS, &["bwrap"], more].concat()
}

/// An empty directory to fill, removed afterwards (unless `E2E_KEEP`); `dir` beside it is
/// this host's, outside the root.
struct EmptyRoot {
    dir: PathBuf,
    root: PathBuf,
    /// Where the pack says the image's rpm keeps its database.
    dbpath: &'static str,
}

impl EmptyRoot {
    fn new(prefix: &str, dbpath: &'static str) -> EmptyRoot {
        let dir = fresh_dir(prefix);
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        EmptyRoot { dir, root, dbpath }
    }

    fn join(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.join(path))
            .unwrap_or_else(|e| panic!("{path} in the root: {e}"))
    }

    /// `rpm -q` as the image's own rpm sees it: its database where the pack says.
    fn rpm_q(&self, package: &str) -> String {
        check(
            cmd("rpm", ["--root"])
                .arg(&self.root)
                .args(["--dbpath", self.dbpath, "-q", package]),
        )
    }

    /// The database is the image's (sqlite, at the pack's path), not Debian's `~/.rpmdb`.
    #[track_caller]
    fn database_where_the_image_reads_it(&self) {
        let db = self.join(self.dbpath).join("rpmdb.sqlite");
        assert!(db.is_file(), "no {}", db.display());
        assert!(
            !self.join("/root/.rpmdb").exists(),
            "a database in /root/.rpmdb"
        );
    }

    /// A link at `path` in the root to `outside`, a path of this host beside the root.
    fn link_out(&self, path: &str, outside: &Path) {
        let at = self.join(path);
        let _ = std::fs::remove_dir_all(&at);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(outside, at).unwrap();
    }
}

impl Drop for EmptyRoot {
    fn drop(&mut self) {
        if std::env::var_os("E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A host directory beside the root with one file in it, and what it held.
fn host_bait(dir: &Path, name: &str) -> (PathBuf, BTreeMap<PathBuf, (Vec<u8>, u32)>) {
    let bait = dir.join(name);
    std::fs::create_dir_all(&bait).unwrap();
    std::fs::write(bait.join("host-file"), "this host's, not the image's\n").unwrap();
    let before = snapshot(&bait);
    (bait, before)
}

#[track_caller]
fn untouched(bait: &Path, before: &BTreeMap<PathBuf, (Vec<u8>, u32)>) {
    assert_eq!(&snapshot(bait), before, "{} was written", bait.display());
}

/// `installer run --yes --output json --root ROOT ARGS`, with the host dnf's plugins where
/// this host keeps them (unpacked, not installed: see `dnf_plugins_core`).
fn run(root: &Path, args: &[String]) -> RunReport {
    crate::support::run::plugins_built();
    let plugins = dnf_plugins_core().join("usr/lib/python3/dist-packages");
    let out = Installer::with_defaults()
        .env("INSTALLER_DNF_PLUGIN_PATH", plugins.join("dnf-plugins"))
        .env("PYTHONPATH", &plugins)
        .args(["run", "--yes", "--output", "json", "--root"])
        .arg_list([root.as_os_str()])
        .arg_list(args)
        .run();
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        )
    });
    RunReport {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
        json,
    }
}

/// A refused run: nothing in the root but installer's own lock file.
#[track_caller]
fn nothing_changed_but_the_lock(root: &EmptyRoot) {
    let left: Vec<PathBuf> = snapshot(&root.root).into_keys().collect();
    assert!(
        left.iter().all(|p| p.starts_with("var/lib/installer")),
        "the root was changed: {left:?}"
    );
}

/// The second run: nothing written, no transaction, no journal.
#[track_caller]
fn changes_nothing(second: &RunReport) {
    second.expect_code(0);
    assert!(second.files_changed().is_empty(), "{}", second.stdout);
    assert_eq!(second.transactions(), 0, "{}", second.stdout);
    assert!(second.json["journal"].is_null(), "{}", second.stdout);
}

/// The verification the root cannot run (no containerd in the stand-in package) is
/// reported as not checked, never as passed.
#[track_caller]
fn verification_not_passed_silently(report: &RunReport) {
    let checks: Vec<&Value> = report
        .steps()
        .iter()
        .filter(|s| s["phase"] == "verification")
        .collect();
    assert!(!checks.is_empty(), "{}", report.stdout);
    for step in checks {
        assert_eq!(step["status"], "skipped", "{step}");
        assert!(step["notes"].to_string().contains("not checked"), "{step}");
    }
}

/// The SUSE family as this Debian host can fill it: openSUSE's own rpm keeps an ndb database,
/// which Debian 12's rpm cannot write (so `opensuse-leap-15` is refused here, see
/// `an_opensuse_root_is_refused_when_this_hosts_rpm_cannot_write_its_database`). This pack
/// is opensuse-leap-15 with a sqlite database, so that zypper's steps run for real; it says
/// nothing about a real Leap image.
const SUSE_SQLITE: &str = r#"
id = "suse-sqlite-test"
name = "SUSE family with a sqlite rpm database (end-to-end tests only)"
family = "suse"
package_manager = "zypper"
os_id = "suse-sqlite-test"
version_id = "15"

[match]
version_prefix = "15"

[vars]
"docker.distro_package" = "docker"
"containerd.distro_package" = "containerd"
"rpm.dbpath" = "/usr/lib/sysimage/rpm"
"rpm.db_backend" = "sqlite"
"#;

/// A distro directory holding [`SUSE_SQLITE`], and the selection arguments that use it.
fn suse_sqlite(root: &EmptyRoot) -> Vec<String> {
    let dir = root.dir.join("distros");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("suse-sqlite-test.toml"), SUSE_SQLITE).unwrap();
    strings(&[
        "--distro-dir",
        &dir.display().to_string(),
        "--distro",
        "suse-sqlite-test",
    ])
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn an_empty_rocky_root_gets_containerd_io_from_the_hosts_dnf_and_a_second_run_changes_nothing() {
    require(&tools(&["dnf"]));
    let repo = RpmRepo::build();
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let root = EmptyRoot::new("rocky-image-", "/var/lib/rpm");
    let selection = repo.rocky_selection(&server);
    let first = run(&root.root, &selection);
    first.expect_code(0);
    // The pin resolved by the host's dnf in the root's repositories, signed by our key, in
    // the database the image's own rpm reads.
    root.database_where_the_image_reads_it();
    let installed = root.rpm_q("containerd.io");
    assert!(
        installed.starts_with("containerd.io-1.6.33-3.1.el9"),
        "{installed}"
    );
    root.rpm_q(&format!(
        "gpg-pubkey-{}",
        repo.key.fingerprint[32..].to_lowercase()
    ));
    // Key and repository as on a real host.
    assert!(root
        .read("/etc/pki/rpm-gpg/docker-ce-stable.asc")
        .contains("BEGIN PGP PUBLIC KEY BLOCK"));
    let repo_file = root.read("/etc/yum.repos.d/docker-ce-stable.repo");
    assert!(repo_file.contains("gpgcheck=1"), "{repo_file}");
    // The lock in the root's list, not this host's.
    let locks = root.read("/etc/dnf/plugins/versionlock.list");
    assert!(locks.contains("containerd.io-0:1.6.33-3.1.el9"), "{locks}");
    let config = root.read("/etc/containerd/config.toml");
    assert!(config.contains("SystemdCgroup = "), "{config}");
    assert!(config.contains("version = 2"), "{config}");
    verification_not_passed_silently(&first);
    changes_nothing(&run(&root.root, &selection));
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn links_in_a_rocky_root_to_host_paths_leave_them_untouched() {
    require(&tools(&["dnf"]));
    let repo = RpmRepo::build();
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let root = EmptyRoot::new("rocky-links-", "/var/lib/rpm");
    // dnf's log and rpm's HOME (Debian's rpm kept its database in ~/.rpmdb) led to this
    // host's files before the tools were confined.
    let (log_bait, log_before) = host_bait(&root.dir, "host-log");
    root.link_out("/var/log/dnf.log", &log_bait.join("host-file"));
    let (home_bait, home_before) = host_bait(&root.dir, "host-home");
    root.link_out("/root", &home_bait);
    let first = run(&root.root, &repo.rocky_selection(&server));
    untouched(&log_bait, &log_before);
    untouched(&home_bait, &home_before);
    // dnf cannot open its log through the link and says so: "Read-only file system" (this
    // host is read-only in bubblewrap), or "No such file or directory" when the bait lies
    // below /tmp (a checkout there), which is a fresh, empty one inside. It exits 1: the run
    // fails cleanly, what it wrote rolled back. rpm never looked in /root: its database is
    // where the pack says.
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(first.json["status"], "failed", "{}", first.stdout);
    let error = first.error_text();
    assert!(
        error.contains("dnf.log")
            && (error.contains("Read-only file system")
                || error.contains("No such file or directory")),
        "{error}"
    );
    assert!(!root.join("/etc/yum.repos.d/docker-ce-stable.repo").exists());
    assert!(root.join("/var/lib/rpm/rpmdb.sqlite").is_file());
    // The failure shows the command as this host ran it: confined, only versionlock.
    let command = first.json["error"]["command"].to_string();
    for part in [
        "bwrap",
        "--ro-bind",
        "--cap-drop",
        "--disableplugin=*",
        "--installroot=",
    ] {
        assert!(command.contains(part), "{part}: {command}");
    }
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn an_empty_opensuse_root_gets_containerd_from_the_hosts_zypper_and_a_second_run_changes_nothing() {
    require(&tools(&["zypper"]));
    let repo = RpmRepo::build();
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let root = EmptyRoot::new("leap-image-", "/usr/lib/sysimage/rpm");
    // No runtime plugin plans a vendor repository on SUSE (see rpm.rs), so the signed
    // repository stands in for the distro's archive, added as a SUSE system has it.
    check(
        cmd("rpm", ["--root"])
            .arg(&root.root)
            .args(["--dbpath", root.dbpath, "--import"])
            .arg(repo.mirror.join("linux/centos/gpg")),
    );
    check(
        cmd("zypper", ["--non-interactive", "--root"])
            .arg(&root.root)
            .args([
                "addrepo",
                &format!("{}/linux/centos/9/x86_64/stable", server.url()),
                "distro-oss",
            ]),
    );
    // zypper's package cache led to a directory of this host.
    let (bait, before) = host_bait(&root.dir, "host-cache");
    root.link_out("/var/cache/zypp", &bait);
    let mut selection = suse_sqlite(&root);
    selection.extend(strings(&[
        "--runtime",
        "containerd",
        "--source",
        "distro",
        "--version",
        "1.6",
    ]));
    let first = run(&root.root, &selection);
    untouched(&bait, &before);
    // zypper cannot keep its cache through the link (read-only here) and says so: the run
    // fails cleanly, nothing of it left. Without the link it fills the root.
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(first.json["status"], "failed", "{}", first.stdout);
    std::fs::remove_file(root.join("/var/cache/zypp")).unwrap();
    let first = run(&root.root, &selection);
    first.expect_code(0);
    root.database_where_the_image_reads_it();
    let installed = root.rpm_q("containerd");
    assert!(
        installed.starts_with("containerd-1.6.23-150000.1"),
        "{installed}"
    );
    let locks = root.read("/etc/zypp/locks");
    assert!(locks.contains("solvable_name: containerd"), "{locks}");
    let config = root.read("/etc/containerd/config.toml");
    assert!(config.contains("SystemdCgroup = "), "{config}");
    verification_not_passed_silently(&first);
    changes_nothing(&run(&root.root, &selection));
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn zyppers_key_and_addrepo_steps_fill_an_empty_opensuse_root_through_installer_run() {
    require(&tools(&["zypper"]));
    let repo = RpmRepo::build();
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let root = EmptyRoot::new("leap-repo-image-", "/usr/lib/sysimage/rpm");
    // No built-in runtime plans a vendor repository on SUSE (no vendor documents one for
    // zypper; docs/upstream-facts.md), so the fixture runtime asks for one: the zypper plugin's
    // own key, import, addrepo, refresh, install and lock steps then run for real.
    let fixture = crate::util::PluginDir::new().with_fixture("test-runtime");
    let mut selection = suse_sqlite(&root);
    selection.extend([
        "--plugin-dir".to_owned(),
        fixture.path().display().to_string(),
        "--runtime".into(),
        "test-runtime".into(),
        "--version".into(),
        "1.6".into(),
        "--set".into(),
        format!(
            "test-runtime.repo-url={}/linux/centos/9/x86_64/stable",
            server.url()
        ),
        "--set".into(),
        format!("test-runtime.key-url={}/linux/centos/gpg", server.url()),
        "--set".into(),
        format!("test-runtime.fingerprint={}", repo.key.fingerprint),
        "--set".into(),
        "test-runtime.package=containerd".into(),
    ]);
    let first = run(&root.root, &selection);
    first.expect_code(0);
    // The key fetched, checked, kept and imported into the root's rpm database.
    assert!(root
        .read("/etc/pki/rpm-gpg/test.asc")
        .contains("BEGIN PGP PUBLIC KEY BLOCK"));
    root.database_where_the_image_reads_it();
    root.rpm_q(&format!(
        "gpg-pubkey-{}",
        repo.key.fingerprint[32..].to_lowercase()
    ));
    // The repository as zypper addrepo writes it, in the root, signatures checked.
    let repo_file = root.read("/etc/zypp/repos.d/test.repo");
    assert!(repo_file.contains("gpgcheck=1"), "{repo_file}");
    assert!(repo_file.contains(&server.url()), "{repo_file}");
    let installed = root.rpm_q("containerd");
    assert!(installed.starts_with("containerd-1.6."), "{installed}");
    let locks = root.read("/etc/zypp/locks");
    assert!(locks.contains("solvable_name: containerd"), "{locks}");
    assert!(root.join("/etc/test-engine/daemon.json").is_file());
    changes_nothing(&run(&root.root, &selection));
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn an_opensuse_root_is_refused_when_this_hosts_rpm_cannot_write_its_database() {
    require(&tools(&["zypper"]));
    let root = EmptyRoot::new("leap-ndb-", "/usr/lib/sysimage/rpm");
    let report = run(
        &root.root,
        &strings(&[
            "--distro",
            "opensuse-leap-15",
            "--runtime",
            "containerd",
            "--source",
            "distro",
        ]),
    );
    report.expect_refused(&["`ndb`", "rpm.db_backend", "nothing was changed"]);
    nothing_changed_but_the_lock(&root);
    assert!(!root.join("/usr/lib/sysimage/rpm").exists());
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_root_with_a_mount_inside_is_refused_before_the_hosts_tools_run_there() {
    require(&tools(&["dnf", "mount", "umount"]));
    let root = EmptyRoot::new("rocky-mounted-", "/var/lib/rpm");
    // A usual chroot setup: something mounted inside (here a tmpfs on /proc). Inside the
    // confinement it would stay writable, and a host's /proc there leads to the host.
    let point = root.join("/proc");
    std::fs::create_dir_all(&point).unwrap();
    check(cmd("mount", ["-t", "tmpfs", "tmpfs"]).arg(&point));
    let report = run(
        &root.root,
        &strings(&[
            "--distro",
            "rocky-9",
            "--runtime",
            "containerd",
            "--version",
            "1.6",
        ]),
    );
    let _ = cmd("umount", [point.as_os_str()]).status();
    report.expect_refused(&[
        "is mounted inside the root",
        "umount -R",
        "nothing was changed",
    ]);
    nothing_changed_but_the_lock(&root);
}
