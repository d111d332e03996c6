//! Image roots built by an attacker: links planted where we write, read, keep journals and
//! take locks; os-release that is a FIFO, huge, or a link to the host's. Whatever the root
//! holds, nothing outside it is read, written, created or removed.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::run::{run, scratch_root, tree};
use crate::util::{Installer, PluginDir};

/// A directory of the host the root's links point at, holding one canary file.
struct Host {
    dir: tempfile::TempDir,
}

const CANARY: &str = "the host's own file: never touched\n";

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("canary"), CANARY).unwrap();
        Host { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn canary(&self) -> PathBuf {
        self.path().join("canary")
    }

    /// Every entry under the host directory with its content: nothing may appear, change or
    /// go.
    fn state(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
                let meta = std::fs::symlink_metadata(entry.path()).unwrap();
                if meta.is_dir() {
                    stack.push(entry.path());
                    out.insert(entry.path(), b"<dir>".to_vec());
                } else {
                    out.insert(
                        entry.path(),
                        std::fs::read(entry.path()).unwrap_or_default(),
                    );
                }
            }
        }
        out
    }

    /// The same path seen from inside the root: where a link to it really leads.
    fn inside(&self, root: &Path) -> PathBuf {
        root.join(self.path().strip_prefix("/").unwrap())
    }
}

fn plugins() -> PluginDir {
    PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime")
}

/// The files the test-runtime plan writes with `files-only=true`.
const WRITTEN: [&str; 3] = [
    "etc/modules-load.d/k8s.conf",
    "etc/sysctl.d/k8s.conf",
    "etc/test-engine/daemon.json",
];

#[test]
fn links_planted_at_every_temporary_name_we_ever_used_never_redirect_a_write() {
    let dir = plugins();
    let root = scratch_root();
    let host = Host::new();
    let before = host.state();
    // The names an earlier version wrote through (`.NAME.installer-<pid>.tmp`), for every
    // pid a short-lived test process gets here, each linked to the host's canary: an
    // absolute link, and one that climbs out with `..`.
    for file in WRITTEN {
        let file = root.path().join(file);
        let parent = file.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for pid in 1..2048 {
            symlink(
                host.canary(),
                parent.join(format!(".{name}.installer-{pid}.tmp")),
            )
            .unwrap();
        }
        symlink(
            format!("../../../../../../../..{}", host.canary().display()),
            parent.join(format!(".{name}.installer-0.tmp")),
        )
        .unwrap();
    }
    run(&dir, root.path(), &[]).code(0);
    assert_eq!(host.state(), before, "the host directory changed");
    // The files were written, in the root.
    for file in WRITTEN {
        assert!(root.path().join(file).is_file(), "{file} not written");
    }
    // And a failed run's rollback stays inside too.
    run(&dir, root.path(), &["--set", "test-runtime.fail=true"]).code(1);
    assert_eq!(
        host.state(),
        before,
        "the host directory changed on rollback"
    );
    assert_eq!(std::fs::read_to_string(host.canary()).unwrap(), CANARY);
}

#[test]
fn journal_lock_and_config_links_to_the_host_resolve_inside_the_root() {
    let dir = plugins();
    let root = scratch_root();
    let host = Host::new();
    let before = host.state();
    // Where we keep journals and the run lock: an absolute link to a host directory.
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    symlink(host.path(), root.path().join("var/lib/installer")).unwrap();
    // A config directory that climbs out with `..`, and a config file that is an absolute
    // link to the host's canary.
    symlink(
        format!("../../../../../../../../..{}", host.path().display()),
        root.path().join("etc/sysctl.d"),
    )
    .unwrap();
    std::fs::create_dir_all(root.path().join("etc/test-engine")).unwrap();
    symlink(
        host.canary(),
        root.path().join("etc/test-engine/daemon.json"),
    )
    .unwrap();

    let report = run(&dir, root.path(), &[]).code(0).json();
    assert_eq!(host.state(), before, "the host directory changed");

    // Each link meant the same path inside the root, as it would on the booted image.
    let inside = host.inside(root.path());
    assert!(
        inside.join("lock").is_file(),
        "the run lock is not in the root"
    );
    let journal = PathBuf::from(report["journal"].as_str().unwrap());
    assert!(
        journal.starts_with(root.path()),
        "journal {} is outside the root",
        journal.display()
    );
    assert_eq!(
        std::fs::read_to_string(inside.join("k8s.conf")).unwrap(),
        "net.ipv4.ip_forward = 1\n"
    );
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(inside.join("canary")).unwrap()).unwrap();
    assert_eq!(merged["cgroup-driver"], "systemd");
}

#[test]
fn a_failed_run_restores_and_removes_only_inside_the_root() {
    let dir = plugins();
    let root = scratch_root();
    let host = Host::new();
    let before = host.state();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    symlink(host.path(), root.path().join("etc/modules-load.d")).unwrap();
    run(&dir, root.path(), &["--set", "test-runtime.fail=true"]).code(1);
    assert_eq!(host.state(), before, "the host directory changed");
    // The directories the run created are gone again; the root holds what it held.
    for created in ["etc/sysctl.d", "etc/test-engine"] {
        assert!(
            !root.path().join(created).exists(),
            "{created} was created by the failed run and left behind"
        );
    }
    assert!(
        !host.inside(root.path()).exists(),
        "the directory made for the link was left behind"
    );
}

#[test]
fn os_release_that_is_a_fifo_is_refused_at_once() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    nix::unistd::mkfifo(
        &root.path().join("etc/os-release"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    // Opening a FIFO to read blocks until a writer comes: a hang would fail this test by
    // never finishing, which nextest reports as a timeout.
    let out = Installer::with_defaults()
        .args(["detect", "--root"])
        .arg_list([root.path()])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("is a FIFO, not a regular file"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("etc/os-release"), "{}", out.stderr);
}

#[test]
fn an_os_release_larger_than_64_kib_is_refused() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    let mut text = "ID=debian\nVERSION_ID=\"12\"\n".to_owned();
    text.push_str(&"# padding\n".repeat(7000));
    std::fs::write(root.path().join("etc/os-release"), text).unwrap();
    let out = Installer::with_defaults()
        .args(["detect", "--root"])
        .arg_list([root.path()])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("larger than 65536 bytes"),
        "{}",
        out.stderr
    );
}

#[test]
fn os_release_linked_to_the_hosts_is_read_inside_the_root() {
    let root = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(
        host.path().join("os-release"),
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    symlink(
        host.path().join("os-release"),
        root.path().join("etc/os-release"),
    )
    .unwrap();
    // The link means that path inside the root, where there is nothing: the host's file is
    // never read.
    let out = Installer::with_defaults()
        .args(["detect", "--output", "json", "--root"])
        .arg_list([root.path()])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("no os-release file found"),
        "{}",
        out.stderr
    );
    // With the root's own copy there, that is what is read.
    let inside = root.path().join(host.path().strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(
        inside.join("os-release"),
        "ID=ubuntu\nVERSION_ID=\"22.04\"\n",
    )
    .unwrap();
    let out = Installer::with_defaults()
        .args(["detect", "--output", "json", "--root"])
        .arg_list([root.path()])
        .run()
        .code(0);
    assert_eq!(out.json()["facts"]["id"], "ubuntu");
}

#[test]
fn a_root_that_does_not_exist_exits_2_and_creates_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("no-such-root");
    let out = run(&plugins(), &missing, &[]).code(2);
    assert!(out.stderr.contains("--root"), "{}", out.stderr);
    assert!(!missing.exists(), "the root was created");
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}

#[test]
fn run_without_yes_and_no_terminal_refuses_and_changes_nothing() {
    let root = scratch_root();
    let before = tree(root.path());
    // stdin is not a terminal here (the harness gives none).
    let out = Installer::isolated(plugins().path())
        .args([
            "run",
            "--runtime",
            "test-runtime",
            "--set",
            "test-runtime.files-only=true",
            "--root",
        ])
        .arg_list([root.path()])
        .run()
        .code(2);
    assert!(
        out.stderr.contains("pass --yes to apply without a prompt"),
        "{}",
        out.stderr
    );
    assert_eq!(tree(root.path()), before);
}

#[test]
fn a_config_file_that_is_a_fifo_is_refused_before_anything_changes() {
    let dir = plugins();
    let root = scratch_root();
    std::fs::create_dir_all(root.path().join("etc/test-engine")).unwrap();
    nix::unistd::mkfifo(
        &root.path().join("etc/test-engine/daemon.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let before = tree_without_fifos(root.path());
    let out = run(&dir, root.path(), &[]).code(2);
    assert!(
        out.stderr.contains("is a FIFO, not a regular file"),
        "{}",
        out.stderr
    );
    assert_eq!(tree_without_fifos(root.path()), before);
}

/// [`tree`] of a root holding a FIFO, which cannot be read without a writer.
fn tree_without_fifos(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn terminal_controls_from_the_root_are_shown_escaped() {
    let dir = plugins();
    let root = scratch_root();
    // A title-setting sequence and a colour in os-release; a cursor move in a config file
    // that a plan diffs.
    let mut os_release = std::fs::read_to_string(root.path().join("etc/os-release")).unwrap();
    os_release = os_release.replace(
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"",
        "PRETTY_NAME=\"Debian \u{1b}]0;owned\u{7}\u{1b}[31mred\"",
    );
    assert!(
        os_release.contains('\u{1b}'),
        "fixture changed: {os_release}"
    );
    std::fs::write(root.path().join("etc/os-release"), os_release).unwrap();
    std::fs::create_dir_all(root.path().join("etc/modules-load.d")).unwrap();
    std::fs::write(
        root.path().join("etc/modules-load.d/k8s.conf"),
        "overlay\n\u{1b}[2Jip_vs\n",
    )
    .unwrap();

    let detect = Installer::with_defaults()
        .args(["detect", "--root"])
        .arg_list([root.path()])
        .run()
        .code(0);
    let plan = Installer::isolated(dir.path())
        .args([
            "plan",
            "--runtime",
            "test-runtime",
            "--set",
            "test-runtime.files-only=true",
            "--root",
        ])
        .arg_list([root.path()])
        .run()
        .code(0);
    for (what, out) in [("detect", &detect), ("plan", &plan)] {
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            !all.contains('\u{1b}') && !all.contains('\u{7}'),
            "{what} printed a raw control:\n{all:?}"
        );
    }
    assert!(
        detect.stdout.contains("Debian \\u{1b}]0;owned\\u{7}"),
        "{}",
        detect.stdout
    );
    assert!(plan.stdout.contains("-\\u{1b}[2Jip_vs"), "{}", plan.stdout);
}

/// Plants a journal of an interrupted run, as an image's author could, and rolls it back.
fn plant_journal(root: &Path, entries: serde_json::Value) {
    let dir = root.join("var/lib/installer/journal/9999999999-1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p"), "#!/bin/sh\nid\n").unwrap();
    let journal = serde_json::json!({"status": "running", "pid": 1, "entries": entries});
    std::fs::write(dir.join("journal.json"), journal.to_string()).unwrap();
}

fn rollback(root: &Path) -> crate::util::Output {
    Installer::with_defaults()
        .args(["rollback", "--root"])
        .arg_list([root])
        .run()
}

#[test]
fn a_planted_journal_cannot_make_a_set_id_file_or_read_outside_its_directory() {
    let root = scratch_root();
    // A restore to a set-user-id root-owned program: restored, but never set-user-id.
    plant_journal(
        root.path(),
        serde_json::json!([{"path": "/usr/local/bin/sh0", "backup": "p", "mode": 0o4755, "ids": [0, 0]}]),
    );
    rollback(root.path()).code(0);
    let meta = std::fs::metadata(root.path().join("usr/local/bin/sh0")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        meta.permissions().mode() & 0o7000,
        0,
        "a set-id bit was restored"
    );

    // A backup named outside the journal's directory is refused.
    let root = scratch_root();
    plant_journal(
        root.path(),
        serde_json::json!([{"path": "/etc/x", "backup": "/etc/os-release", "mode": 0o644}]),
    );
    let out = rollback(root.path()).code(2);
    assert!(
        out.stderr.contains("not a file of the journal"),
        "{}",
        out.stderr
    );
    assert!(!root.path().join("etc/x").exists());
}

/// The warnings of `installer plan --root ROOT` (test-runtime, debian-12); with `mount`,
/// a tmpfs with those options is mounted over ROOT first, in a mount namespace of its own.
fn plan_warnings(dir: &PluginDir, root: &Path, mount: Option<&str>) -> Vec<String> {
    let mut installer = Installer::isolated(dir.path())
        .args(["plan", "--output", "json", "--distro", "debian-12"])
        .args([
            "--runtime",
            "test-runtime",
            "--cgroup-driver",
            "systemd",
            "--root",
        ])
        .arg_list([root]);
    if let Some(options) = mount {
        let script = r#"mount -t tmpfs -o "$1" tmpfs "$2" && shift 2 && exec "$@""#;
        let prefix = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ]
        .map(std::ffi::OsString::from)
        .into_iter()
        .chain([options.into(), root.into()])
        .collect::<Vec<_>>();
        installer = installer.under(&prefix);
    }
    let plan = installer.run().code(0).json();
    plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// A root users other than root can reach, below this checkout (whose directories let others
/// search them where it was cloned with the usual umask), or why there is none here.
fn reachable_root() -> Result<tempfile::TempDir, String> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let parent = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let closed = parent.path().ancestors().find(|d| {
        std::fs::metadata(d).is_ok_and(|m| m.uid() == 0 && m.permissions().mode() & 0o011 == 0)
    });
    match closed {
        Some(d) => Err(format!("{} keeps everyone but root out", d.display())),
        None => Ok(parent),
    }
}

const REACHED: &str = "can be reached by users of this host other than root";

#[test]
fn an_image_root_others_can_reach_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let reaches = |w: &Vec<String>| w.iter().any(|w| w.contains(REACHED));
    // Below a directory of the caller's with no group or other search bit: quiet when the
    // caller is root; anyone else's directory lets its owner in.
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let inside = parent.path().join("root");
    std::fs::create_dir(&inside).unwrap();
    let warnings = plan_warnings(&dir, &inside, None);
    assert_eq!(
        reaches(&warnings),
        !nix::unistd::geteuid().is_root(),
        "{warnings:?}"
    );
    let open = match reachable_root() {
        Ok(open) => open,
        Err(why) => return eprintln!("SKIPPED: no root others reach here: {why}"),
    };
    // The root's own mode does not count: the image's scripts may change it.
    let root = open.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    let warnings = plan_warnings(&dir, &root, None);
    let fs = std::process::Command::new("findmnt")
        .args(["-n", "-o", "OPTIONS", "-T"])
        .arg(&root)
        .output()
        .unwrap();
    let options = String::from_utf8_lossy(&fs.stdout).into_owned();
    let honours = |o: &str| !options.split(',').any(|x| x.trim() == o);
    assert_eq!(
        reaches(&warnings),
        honours("nosuid") || honours("nodev"),
        "{options}: {warnings:?}"
    );
}

#[test]
#[ignore = "needs root (mounts a tmpfs in a mount namespace of its own): run with --run-ignored / --ignored"]
fn a_reachable_image_root_on_a_nosuid_nodev_mount_is_not_warned_about() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let open = match reachable_root() {
        Ok(open) => open,
        Err(why) => return eprintln!("SKIPPED: no root others reach here: {why}"),
    };
    let root = open.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let about = |options: &str| {
        plan_warnings(&dir, &root, Some(options))
            .into_iter()
            .find(|w| w.contains(REACHED))
    };
    assert_eq!(about("nosuid,nodev,mode=0755"), None);
    let nodev_missing = about("nosuid,mode=0755").expect("a warning");
    assert!(
        nodev_missing.contains("honours device nodes:"),
        "{nodev_missing}"
    );
    let both = about("mode=0755").expect("a warning");
    assert!(both.contains("setuid programs and device nodes"), "{both}");
}
