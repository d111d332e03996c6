//! Real parts for the end-to-end tests: a cached Debian root, signed apt and rpm repositories
//! served on loopback, mounts and daemons inside a root, each cleaned up when dropped.
//!
//! Heavy things are built once and cached under `target/e2e-cache`; several test processes
//! (nextest runs one per test) may ask for them at the same time, so each cached artifact is
//! built under an exclusive lock on a file beside it and published by an atomic rename.
//! Per-test copies live under `target/e2e-work`, never in `/tmp`, which may be small.

pub mod apt_repo;
pub mod http;
pub mod mounts;
pub mod root;
pub mod rpm_repo;
pub mod run;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util;

/// The tools every e2e test needs on the host.
const BASE_TOOLS: &[&str] = &["chroot", "tar", "mount", "umount", "debootstrap"];

/// Panics, naming what is missing, unless the test runs as root and finds `tools` (and the
/// base tools) on `PATH`. Every e2e test is `#[ignore]`d so that a plain `cargo test` skips
/// it visibly; this is for the case where it was asked for but cannot run.
pub fn require(tools: &[&str]) {
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "the e2e tests need root (they debootstrap, chroot and mount); run them as root, or \
         leave them ignored"
    );
    let missing: Vec<&str> = BASE_TOOLS
        .iter()
        .chain(tools)
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "the e2e tests need {} on PATH; scripts/test-all installs them when run as root \
         (apt-get install debootstrap gnupg apt-utils dpkg-dev rpm createrepo-c dnf zypper \
         python3 curl jq systemd)",
        missing.join(", ")
    );
}

/// The full path of `tool` on `PATH`.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    })
}

/// `target/`.
pub fn target_dir() -> PathBuf {
    util::profile_dir()
        .parent()
        .expect("the profile directory is inside target/")
        .to_path_buf()
}

/// `target/e2e-cache`: artifacts built once and kept between runs.
pub fn cache_dir() -> PathBuf {
    let dir = target_dir().join("e2e-cache");
    fs::create_dir_all(&dir).expect("create target/e2e-cache");
    dir
}

/// `target/e2e-work`: per-test roots and repositories, removed when each test ends.
pub fn work_dir() -> PathBuf {
    let dir = target_dir().join("e2e-work");
    fs::create_dir_all(&dir).expect("create target/e2e-work");
    dir
}

/// A fresh directory under `target/e2e-work`, kept (the caller removes it: it may hold
/// mount points, which a blind recursive removal must never cross).
pub fn fresh_dir(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(work_dir())
        .expect("create a work directory")
        .keep()
}

/// The cached artifact `cache_dir()/name`, built by `build` into a temporary sibling when
/// absent. `build` gets the path to create; it is renamed into place only when `build`
/// returns, so an interrupted build leaves nothing that looks finished.
pub fn cached(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let path = cache_dir().join(name);
    if path.exists() {
        return path;
    }
    let lock = File::create(cache_dir().join(format!("{name}.lock"))).expect("create lock file");
    // `File::lock` (flock(2)) is newer than the workspace's rust-version; these tests run on
    // the toolchain the CI installs, and the library itself does not use it.
    #[allow(clippy::incompatible_msrv)]
    lock.lock().expect("lock the cache entry");
    if !path.exists() {
        let tmp = cache_dir().join(format!("{name}.tmp-{}", std::process::id()));
        remove_all(&tmp);
        let started = std::time::Instant::now();
        eprintln!("e2e cache: building {name}");
        build(&tmp);
        fs::rename(&tmp, &path).expect("publish the cache entry");
        eprintln!(
            "e2e cache: built {name} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    path
}

/// Removes `path` (file or tree) if it exists; refuses when something is mounted below it.
pub fn remove_all(path: &Path) {
    if !path.exists() {
        return;
    }
    let below = mount_points_below(path);
    assert!(
        below.is_empty(),
        "refusing to remove {} while {:?} are mounted below it",
        path.display(),
        below
    );
    if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
    .unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
}

/// Mount points at or below `path`, from `/proc/self/mountinfo`, deepest first.
pub fn mount_points_below(path: &Path) -> Vec<PathBuf> {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(&path))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    points
}

/// Processes whose root directory is `root` or below it: what a test started in a chroot,
/// directly or not. Found by root directory, never by name.
pub fn processes_rooted_in(root: &Path) -> Vec<u32> {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(link) = fs::read_link(entry.path().join("root")) {
            if link.starts_with(&root) {
                pids.push(pid);
            }
        }
    }
    pids
}

/// Sends `signal` (`TERM`, `KILL`) to `pid`; whether it was delivered.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Stops every process rooted in `root`: TERM, a grace period, then KILL, each by PID.
pub fn stop_processes_rooted_in(root: &Path) {
    let pids = processes_rooted_in(root);
    if pids.is_empty() {
        return;
    }
    for pid in &pids {
        signal(*pid, "TERM");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline && !processes_rooted_in(root).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for pid in processes_rooted_in(root) {
        signal(pid, "KILL");
    }
}

/// Runs `cmd`, panicking with its output unless it succeeds; returns stdout.
#[track_caller]
pub fn check(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command with arguments, for brevity.
pub fn cmd<I, S>(program: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// Every regular file and symlink below `dir`, relative, with its bytes (a symlink's target)
/// and permission bits: a snapshot to compare byte for byte.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).expect("stat");
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                out.insert(rel, (target.into_os_string().into_encoded_bytes(), 0));
            } else if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.insert(rel, (fs::read(&path).unwrap(), meta.permissions().mode()));
            }
        }
    }
    out
}

/// Modification times (in nanoseconds) of every file below `dir`.
pub fn mtimes(dir: &Path) -> BTreeMap<PathBuf, i128> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let t = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(-1);
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), t);
        }
    }
    out
}

/// Polls `done` every `every` until it holds or `timeout` passes; whether it held.
pub fn wait_for(
    timeout: std::time::Duration,
    every: std::time::Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A stand-in for Mirantis' cri-dockerd archive (Debian does not package cri-dockerd and
/// GitHub is out of reach here): a .tgz laid out as theirs, `cri-dockerd/cri-dockerd`, holding
/// a program that says its version. Returns the archive and its sha256.
pub fn cri_dockerd_stand_in() -> (Vec<u8>, String) {
    use sha2::Digest;
    let program = b"#!/bin/sh\necho 'cri-dockerd 0.0.0-stand-in'\n";
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(program.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder
        .append_data(&mut header, "cri-dockerd/cri-dockerd", &program[..])
        .unwrap();
    let archive = builder.into_inner().unwrap().finish().unwrap();
    let sha = sha2::Sha256::digest(&archive)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (archive, sha)
}

/// Asserts systemd's own parser accepts the unit files `units` (paths on the target) of
/// `root`, with nothing to say about them: `systemd-analyze verify` in a scratch root holding
/// the host's unit directory (the targets units hook into), the programs the units run (from
/// `root` where it has them, else the host's), and the units.
pub fn assert_systemd_accepts(root: &Path, units: &[&str], programs: &[&str]) {
    let scratch = fresh_dir("systemd-verify");
    let into = |path: &str| scratch.join(path.trim_start_matches('/'));
    fs::create_dir_all(into("/usr/lib/systemd")).unwrap();
    check(&mut cmd(
        "cp",
        [
            OsStr::new("-a"),
            OsStr::new("/usr/lib/systemd/system"),
            into("/usr/lib/systemd").as_os_str(),
        ],
    ));
    for path in units.iter().chain(programs) {
        let theirs = root.join(path.trim_start_matches('/'));
        let from = if theirs.exists() {
            theirs
        } else {
            PathBuf::from(path)
        };
        fs::create_dir_all(into(path).parent().unwrap()).unwrap();
        fs::copy(&from, into(path)).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
    let out = cmd(
        "systemd-analyze",
        [OsStr::new("verify"), OsStr::new("--root")],
    )
    .arg(&scratch)
    .args(units)
    .output()
    .expect("run systemd-analyze");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    remove_all(&scratch);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {units:?} ({}):\n{said}",
        out.status
    );
}

/// The stand-in cri-dockerd archive served on loopback, and the `--set`s that point the
/// docker plugin at it (its URL and digest). Keep the server while the runs need it.
pub fn serve_cri_dockerd_stand_in() -> (util::Serve, Vec<String>) {
    let (archive, sha) = cri_dockerd_stand_in();
    let server = util::Serve::bytes(archive);
    let settings = vec![
        "--set".to_owned(),
        format!("docker.cri-dockerd-url={}", server.url),
        "--set".to_owned(),
        format!("docker.cri-dockerd-sha256={sha}"),
    ];
    (server, settings)
}
