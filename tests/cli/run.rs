//! `installer run` into a scratch root with file-only plans: idempotence, backups, rollback.
//! (Runs that install packages need a real Debian root: see tests/e2e.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::util::{Installer, PluginDir};

pub(crate) fn scratch_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/os-release/debian-12");
    std::fs::copy(fixture, root.path().join("etc/os-release")).unwrap();
    root
}

pub(crate) fn run(dir: &PluginDir, root: &Path, extra: &[&str]) -> crate::util::Output {
    Installer::isolated(dir.path())
        .args([
            "run",
            "--yes",
            "--output",
            "json",
            "--runtime",
            "test-runtime",
            "--cgroup-driver",
            "systemd",
            "--set",
            "test-runtime.files-only=true",
            "--root",
        ])
        .arg_list([root])
        .arg_list(extra)
        .run()
}

/// Every file under `root` with its modification time and content.
pub(crate) fn tree(root: &Path) -> BTreeMap<PathBuf, (SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.clone(),
                    (meta.modified().unwrap(), std::fs::read(&path).unwrap()),
                );
            }
        }
    }
    out
}

const USER_DAEMON_JSON: &str =
    "{\n  \"data-root\": \"/srv/engine\",\n  \"log\": {\"max-file\": \"5\"}\n}\n";

#[test]
fn a_run_merges_keeps_user_keys_backs_up_and_a_second_run_changes_nothing() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    let daemon = root.path().join("etc/test-engine/daemon.json");
    std::fs::create_dir_all(daemon.parent().unwrap()).unwrap();
    std::fs::write(&daemon, USER_DAEMON_JSON).unwrap();

    let first = run(&dir, root.path(), &[]).code(0).json();
    assert_eq!(first["status"], "ok");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon).unwrap()).unwrap();
    assert_eq!(merged["data-root"], "/srv/engine", "user key kept");
    assert_eq!(
        merged["log"]["max-file"], "5",
        "user key in a merged object kept"
    );
    assert_eq!(merged["log"]["max-size"], "100m");
    assert_eq!(merged["cgroup-driver"], "systemd");
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/modules-load.d/k8s.conf")).unwrap(),
        "overlay\nbr_netfilter\n"
    );

    // The replaced file is backed up in the journal, byte for byte.
    let journal = PathBuf::from(first["journal"].as_str().expect("a journal"));
    let backups: Vec<_> = std::fs::read_dir(&journal)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("daemon.json"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(
        std::fs::read_to_string(backups[0].path()).unwrap(),
        USER_DAEMON_JSON
    );

    // Kernel and service steps do not apply to an image root: reported skipped, with why.
    let steps = first["steps"].as_array().unwrap();
    let service = steps.iter().find(|s| s["phase"] == "services").unwrap();
    assert_eq!(service["status"], "skipped");
    assert!(service["notes"][0]
        .as_str()
        .unwrap()
        .contains("systemd is not running"));

    let before = tree(root.path());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = run(&dir, root.path(), &[]).code(0).json();
    for step in second["steps"].as_array().unwrap() {
        assert!(
            step["status"] == "unchanged" || step["status"] == "skipped",
            "{step:#}"
        );
    }
    assert_eq!(second["transactions"], 0);
    assert!(
        second["journal"].is_null(),
        "a run that changes nothing writes no journal"
    );
    assert_eq!(tree(root.path()), before, "no file written, none touched");
}

#[test]
fn a_failed_run_restores_every_file_byte_for_byte_and_exits_1() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    let daemon = root.path().join("etc/test-engine/daemon.json");
    std::fs::create_dir_all(daemon.parent().unwrap()).unwrap();
    std::fs::write(&daemon, USER_DAEMON_JSON).unwrap();

    let out = run(&dir, root.path(), &["--set", "test-runtime.fail=true"]).code(1);
    let report = out.json();
    assert_eq!(report["status"], "failed");
    // The scratch root has no test-engine at all: the check says it could not run.
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("check could not run")
            && message.contains("`test-engine` is not installed"),
        "{report:#}"
    );
    assert_eq!(report["error"]["exit_status"], 127);
    assert!(out.stderr.contains("rolled back"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&daemon).unwrap(),
        USER_DAEMON_JSON,
        "restored byte for byte"
    );
    assert!(
        !root.path().join("etc/modules-load.d/k8s.conf").exists(),
        "a file the run created is removed again"
    );
}

#[test]
fn dry_run_changes_nothing_and_shows_the_diff() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    let daemon = root.path().join("etc/test-engine/daemon.json");
    std::fs::create_dir_all(daemon.parent().unwrap()).unwrap();
    std::fs::write(&daemon, USER_DAEMON_JSON).unwrap();
    let before = tree(root.path());
    let out = Installer::isolated(dir.path())
        .args([
            "run",
            "--dry-run",
            "--runtime",
            "test-runtime",
            "--cgroup-driver",
            "systemd",
            "--set",
            "test-runtime.files-only=true",
            "--root",
        ])
        .arg_list([root.path()])
        .run()
        .code(0);
    assert_eq!(tree(root.path()), before);
    assert!(
        out.stdout.contains("+  \"cgroup-driver\": \"systemd\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("dry run: nothing was changed"));
}

/// Holds a POSIX write lock on `lock` (created empty) in a python3 child, as dpkg and a
/// running installer do, until the child is killed.
fn hold_lock(lock: &std::path::Path) -> std::process::Child {
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(lock, "").unwrap();
    // python's lockf takes fcntl (POSIX) locks.
    let mut holder = std::process::Command::new("python3")
        .args(["-c", "import fcntl,sys,time; f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"])
        .arg(lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    holder
}

/// `run` against a root where `lock` is held: it waits a second, then exits 1 naming the
/// holder, and the root is as it was (but for our own run lock, made once and never written).
fn run_with_held_lock(lock: &str) {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    let mut holder = hold_lock(&root.path().join(lock));
    let mut before = tree(root.path());

    let out = Installer::isolated(dir.path())
        .args([
            "run",
            "--yes",
            "--runtime",
            "test-runtime",
            "--cgroup-driver",
            "systemd",
            "--lock-timeout",
            "1",
            "--root",
        ])
        .arg_list([root.path()])
        .run();
    let _ = holder.kill();
    let _ = holder.wait();
    let out = out.code(1);
    assert!(
        out.stderr.contains(&format!("pid {}", holder.id())) && out.stderr.contains("python3"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nothing was changed") && out.stderr.contains("--lock-timeout"),
        "{}",
        out.stderr
    );
    let run_lock = root.path().join("var/lib/installer/lock");
    let mut after = tree(root.path());
    if let Some(entry) = after.remove(&run_lock) {
        assert!(entry.1.is_empty(), "the run lock is never written");
    }
    before.remove(&run_lock);
    assert_eq!(after, before);
}

#[test]
fn a_held_dpkg_lock_is_waited_for_with_a_bound_naming_the_holder_and_nothing_changes() {
    run_with_held_lock("var/lib/dpkg/lock-frontend");
}

#[test]
fn a_second_run_on_the_same_root_waits_for_the_first_then_names_it() {
    run_with_held_lock("var/lib/installer/lock");
}

#[test]
fn a_symlink_inside_the_root_never_reaches_the_hosts_files() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("k8s.conf"), "THE HOST'S FILE\n").unwrap();
    // An absolute link, as an image root holds them: it means that path inside the root.
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::os::unix::fs::symlink(host.path(), root.path().join("etc/modules-load.d")).unwrap();
    run(&dir, root.path(), &[]).code(0);
    assert_eq!(
        std::fs::read_to_string(host.path().join("k8s.conf")).unwrap(),
        "THE HOST'S FILE\n"
    );
    let inside = root
        .path()
        .join(host.path().strip_prefix("/").unwrap())
        .join("k8s.conf");
    assert_eq!(
        std::fs::read_to_string(inside).unwrap(),
        "overlay\nbr_netfilter\n"
    );
}

#[test]
fn a_file_behind_a_relative_link_is_written_through_and_restored_on_failure() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    std::fs::create_dir_all(root.path().join("opt")).unwrap();
    std::fs::create_dir_all(root.path().join("etc/modules-load.d")).unwrap();
    std::fs::write(root.path().join("opt/modules.conf"), "mine\n").unwrap();
    let link = root.path().join("etc/modules-load.d/k8s.conf");
    std::os::unix::fs::symlink("../../opt/modules.conf", &link).unwrap();
    run(&dir, root.path(), &["--set", "test-runtime.fail=true"]).code(1);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("opt/modules.conf")).unwrap(),
        "mine\n"
    );
    run(&dir, root.path(), &[]).code(0);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(&link).unwrap(),
        "overlay\nbr_netfilter\n"
    );
}

#[test]
fn a_config_file_that_does_not_parse_is_refused_before_anything_changes() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    let daemon = root.path().join("etc/test-engine/daemon.json");
    std::fs::create_dir_all(daemon.parent().unwrap()).unwrap();
    std::fs::write(&daemon, "{ \"data-root\": \"/srv\", }\n").unwrap();
    let before = tree(root.path());
    let out = run(&dir, root.path(), &[]).code(2);
    assert!(
        out.stderr
            .contains("/etc/test-engine/daemon.json is not valid JSON")
            && out.stderr.contains("nothing was changed"),
        "{}",
        out.stderr
    );
    let error = &out.json()["error"];
    assert_eq!(
        (&error["kind"], &error["exit_code"]),
        (&"input".into(), &2.into())
    );
    assert_eq!(tree(root.path()), before);
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
    assert!(
        plan.stdout
            .contains("warning: /etc/test-engine/daemon.json is not valid JSON"),
        "{}",
        plan.stdout
    );
}

/// A scratch root with its own accounts, not the host's: user `engine` (4242, group 4243)
/// exists only in it.
fn root_with_accounts() -> tempfile::TempDir {
    let root = scratch_root();
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nengine:x:4242:4243::/nonexistent:/usr/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(root.path().join("etc/group"), "root:x:0:\nengine:x:4243:\n").unwrap();
    root
}

#[test]
fn an_owner_the_targets_accounts_do_not_know_is_refused_before_anything_changes() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = root_with_accounts();
    let before = tree(root.path());
    let out = run(
        &dir,
        root.path(),
        &["--set", "test-runtime.owner=nosuchuser"],
    )
    .code(2);
    assert!(
        out.stderr.contains("`nosuchuser`") && out.stderr.contains("/etc/passwd"),
        "{}",
        out.stderr
    );
    assert_eq!(tree(root.path()), before, "refused before anything changed");
}

#[test]
#[ignore = "needs root (to give a file away): scripts/test-all runs it as root"]
fn a_file_is_given_the_owner_the_plan_names_and_a_second_run_leaves_it() {
    use std::os::unix::fs::MetadataExt;
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = root_with_accounts();
    run(&dir, root.path(), &["--set", "test-runtime.owner=engine"]).code(0);
    let meta = std::fs::metadata(root.path().join("etc/test-engine/daemon.json")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4242, 4243));
    let second = run(&dir, root.path(), &["--set", "test-runtime.owner=engine"])
        .code(0)
        .json();
    assert!(
        second["journal"].is_null(),
        "owned as asked: nothing to do the second time"
    );
}

#[test]
fn a_value_the_site_set_differently_is_shown_refused_and_replaced_only_when_overridden() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let root = scratch_root();
    let daemon = root.path().join("etc/test-engine/daemon.json");
    std::fs::create_dir_all(daemon.parent().unwrap()).unwrap();
    let site = "{\n  \"cgroup-driver\": \"cgroupfs\",\n  \"max-concurrent-downloads\": 1e1\n}\n";
    std::fs::write(&daemon, site).unwrap();
    let before = tree(root.path());

    // plan names the conflict; run refuses before changing anything.
    let plan = Installer::isolated(dir.path())
        .args([
            "plan",
            "--runtime",
            "test-runtime",
            "--cgroup-driver",
            "systemd",
            "--set",
            "test-runtime.files-only=true",
            "--root",
        ])
        .arg_list([root.path()])
        .run()
        .code(0);
    assert!(
        plan.stdout
            .contains("`cgroup-driver` to \"cgroupfs\" where the plan wants \"systemd\""),
        "{}",
        plan.stdout
    );
    let refused = run(&dir, root.path(), &[]).code(2);
    assert!(refused.stderr.contains("--override"), "{}", refused.stderr);
    assert_eq!(tree(root.path()), before, "a refused run changed the root");

    // The user says the plan's value wins: only that key changes.
    run(&dir, root.path(), &["--override", "cgroup-driver"]).code(0);
    let text = std::fs::read_to_string(&daemon).unwrap();
    assert!(text.contains("\"cgroup-driver\": \"systemd\""), "{text}");
    assert!(text.contains("\"max-concurrent-downloads\": 1e1"), "{text}");
}
