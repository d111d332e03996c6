//! `DebianRoot`: a fresh copy of a cached, debootstrapped Debian 12 root for one test.
//!
//! The cache (`target/e2e-cache/bookworm`) holds `root.tar`, made by
//! `debootstrap --variant=minbase bookworm` (about a minute, once), and `debs/`, Debian's own
//! `.deb` files for containerd, runc and docker.io plus every dependency minbase lacks,
//! downloaded by the root's apt (`apt-get install --download-only`), so the host's apt state
//! is never touched. The loopback mirror is built from those files, and the `--source distro`
//! tests seed the root's apt cache with them (apt still checks each against the archive's
//! signed index), so no test downloads a hundred megabytes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{cached, check, cmd, fresh_dir, mount_points_below, remove_all};

/// Where debootstrap and the root's apt fetch Debian from; `E2E_DEBIAN_MIRROR` overrides.
pub fn debian_mirror() -> String {
    std::env::var("E2E_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into())
}

/// The packages whose `.deb` files (with dependencies) the cache holds.
/// (python3, python3-apt and gpg: what Ansible's modules and a rendered playbook's key check
/// need on a node.)
pub const CACHED_PACKAGES: &[&str] = &[
    "containerd",
    "runc",
    "docker.io",
    "jq",
    "curl",
    "python3",
    "python3-apt",
    "gpg",
];

/// The cached root tarball and `.deb` directory, built when absent.
pub struct Bookworm {
    pub tarball: PathBuf,
    pub debs: PathBuf,
}

impl Bookworm {
    pub fn get() -> Bookworm {
        // Named for what it holds: a new list of packages is a new cache.
        let dir = cached("bookworm-2", |tmp| {
            let root = tmp.join("root");
            fs::create_dir_all(tmp).unwrap();
            check(
                cmd("debootstrap", ["--variant=minbase", "bookworm"])
                    .arg(&root)
                    .arg(debian_mirror()),
            );
            let in_root = |args: &[&str]| {
                check(
                    Command::new("chroot")
                        .arg(&root)
                        .args(args)
                        .env("DEBIAN_FRONTEND", "noninteractive"),
                )
            };
            // debootstrap leaves its own downloads in the apt cache; start from none.
            in_root(&["apt-get", "clean"]);
            in_root(&["apt-get", "-q", "update"]);
            let mut args = vec![
                "apt-get",
                "-q",
                "install",
                "--download-only",
                "-y",
                "--no-install-recommends",
            ];
            args.extend(CACHED_PACKAGES);
            in_root(&args);
            let debs = tmp.join("debs");
            fs::create_dir_all(&debs).unwrap();
            let archives = root.join("var/cache/apt/archives");
            for entry in fs::read_dir(&archives).unwrap().flatten() {
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "deb") {
                    fs::rename(&p, debs.join(p.file_name().unwrap())).unwrap();
                }
            }
            in_root(&["apt-get", "clean"]);
            // The root as debootstrap made it: no package lists (every run refreshes them).
            for entry in fs::read_dir(root.join("var/lib/apt/lists"))
                .unwrap()
                .flatten()
            {
                if entry.path().is_file() {
                    fs::remove_file(entry.path()).unwrap();
                }
            }
            assert!(
                mount_points_below(&root).is_empty(),
                "debootstrap left mounts in {}",
                root.display()
            );
            check(
                cmd("tar", ["--numeric-owner", "-cpf"])
                    .arg(tmp.join("root.tar"))
                    .arg("-C")
                    .arg(&root)
                    .arg("."),
            );
            remove_all(&root);
        });
        Bookworm {
            tarball: dir.join("root.tar"),
            debs: dir.join("debs"),
        }
    }

    /// The cached `.deb` whose file name starts with `<package>_`.
    pub fn deb(&self, package: &str) -> PathBuf {
        fs::read_dir(&self.debs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{package}_")))
            })
            .unwrap_or_else(|| panic!("no cached .deb for {package} in {}", self.debs.display()))
    }
}

/// A fresh Debian 12 root for one test, removed (after a check that nothing is mounted in it
/// and that no process still runs in it) when dropped.
pub struct DebianRoot {
    dir: PathBuf,
    root: PathBuf,
}

impl DebianRoot {
    /// A fresh copy of the cached root.
    pub fn fresh(name: &str) -> DebianRoot {
        let cache = Bookworm::get();
        let dir = fresh_dir(&format!("{name}-"));
        let root = dir.join("root");
        fs::create_dir_all(&root).unwrap();
        check(
            cmd("tar", ["--numeric-owner", "-xpf"])
                .arg(&cache.tarball)
                .arg("-C")
                .arg(&root),
        );
        DebianRoot { dir, root }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A directory beside the root for the test's logs and scratch files.
    pub fn scratch(&self) -> &Path {
        &self.dir
    }

    /// `path` (absolute inside the root) on the host.
    pub fn join(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    pub fn read(&self, path: &str) -> String {
        fs::read_to_string(self.join(path))
            .unwrap_or_else(|e| panic!("read {path} in the root: {e}"))
    }

    pub fn write(&self, path: &str, content: &str) {
        let p = self.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
    }

    /// `chroot <root> argv...`.
    pub fn chroot(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("chroot");
        c.arg(&self.root)
            .args(argv)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            );
        c
    }

    /// Runs `argv` in the root, panicking unless it succeeds; its stdout.
    #[track_caller]
    pub fn sh(&self, argv: &[&str]) -> String {
        check(&mut self.chroot(argv))
    }

    /// Removes Debian's archive from the root's sources: an air-gapped site that reaches
    /// only its mirror.
    pub fn air_gap(&self) {
        let sources = self.join("/etc/apt/sources.list");
        if sources.exists() {
            fs::remove_file(sources).unwrap();
        }
    }

    /// Puts the cached Debian `.deb` files in the root's apt cache, so installing from
    /// Debian's archive downloads only the package lists.
    pub fn seed_apt_cache(&self) {
        let cache = Bookworm::get();
        let archives = self.join("/var/cache/apt/archives");
        for entry in fs::read_dir(&cache.debs).unwrap().flatten() {
            let p = entry.path();
            let dest = archives.join(p.file_name().unwrap());
            fs::hard_link(&p, &dest)
                .or_else(|_| fs::copy(&p, &dest).map(|_| ()))
                .unwrap();
        }
    }

    /// The installed version of `package`, or `None`.
    pub fn installed_version(&self, package: &str) -> Option<String> {
        let out = self
            .chroot(&[
                "dpkg-query",
                "--show",
                "--showformat=${db:Status-Status} ${Version}",
                package,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.strip_prefix("installed ").map(str::to_owned)
    }
}

impl Drop for DebianRoot {
    fn drop(&mut self) {
        super::stop_processes_rooted_in(&self.root);
        for point in mount_points_below(&self.root) {
            let _ = Command::new("umount").arg("-R").arg(&point).status();
        }
        if !mount_points_below(&self.root).is_empty() {
            eprintln!(
                "leaving {} in place: something is still mounted in it",
                self.dir.display()
            );
            return;
        }
        if std::env::var_os("E2E_KEEP").is_some() {
            eprintln!("E2E_KEEP: leaving {}", self.dir.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
