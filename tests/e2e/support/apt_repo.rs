//! `AptRepo`: a signed apt repository laid out as Docker's is below `--mirror`
//! (`<mirror>/linux/debian/dists/bookworm/stable/binary-amd64/`, key at
//! `<mirror>/linux/debian/gpg`), holding real Debian `.deb` files, indexed by
//! `apt-ftparchive` and signed (`InRelease`) with a throw-away ed25519 key.
//!
//! Docker's repository serves `containerd.io`, a name Debian does not use; the repository
//! here serves Debian's own containerd 1.6.20 and runc binaries repackaged with `dpkg-deb`
//! under that name as `containerd.io 1.6.20-1` (bundling runc and replacing `containerd`
//! and `runc`, as Docker's package does), so that the containerd plugin's package, pin and
//! hold meet the real apt. The failing variant's `postinst` exits 1.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::root::Bookworm;
use super::{cached, check, cmd, fresh_dir};

/// The version the repackaged containerd.io carries; `--version 1.6` resolves to it.
pub const CONTAINERD_IO_VERSION: &str = "1.6.20-1";

/// A throw-away OpenPGP key in its own GNUPGHOME; its gpg-agent is stopped when dropped.
pub struct Gpg {
    home: PathBuf,
    pub fingerprint: String,
}

impl Gpg {
    /// A new signing key (`ed25519`, or `rsa3072` for rpm).
    pub fn generate(home: &Path, algo: &str) -> Gpg {
        fs::create_dir_all(home).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(home, fs::Permissions::from_mode(0o700)).unwrap();
        let mut gpg = Gpg {
            home: home.to_path_buf(),
            fingerprint: String::new(),
        };
        check(&mut gpg.cmd(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            "installer e2e test key <e2e@installer.invalid>",
            algo,
            "sign",
            "never",
        ]));
        let listing = check(&mut gpg.cmd(&["--with-colons", "--list-secret-keys"]));
        gpg.fingerprint = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("a fingerprint")
            .to_owned();
        gpg
    }

    /// `gpg --homedir <home> --batch --yes --pinentry-mode loopback <args>`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("gpg");
        c.arg("--homedir")
            .arg(&self.home)
            .args(["--batch", "--yes", "--pinentry-mode", "loopback"])
            .args(args);
        c
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The armored public key.
    pub fn public_key(&self) -> String {
        check(&mut self.cmd(&["--armor", "--export", &self.fingerprint]))
    }

    /// Writes `out`, a clear-signed copy of `input`.
    pub fn clearsign(&self, input: &Path, out: &Path) {
        check(
            self.cmd(&["--local-user", &self.fingerprint, "--clearsign", "--output"])
                .arg(out)
                .arg(input),
        );
    }

    /// Writes `out`, an armored detached signature of `input`.
    pub fn detach_sign(&self, input: &Path, out: &Path) {
        check(
            self.cmd(&[
                "--local-user",
                &self.fingerprint,
                "--armor",
                "--detach-sign",
                "--output",
            ])
            .arg(out)
            .arg(input),
        );
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .status();
    }
}

/// Which containerd.io the repository serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Debian's binaries under Docker's package name.
    Working,
    /// The same, with a `postinst` that exits 1.
    FailingPostinst,
}

/// The repackaged containerd.io `.deb` (cached).
fn containerd_io(variant: Variant) -> PathBuf {
    let name = match variant {
        Variant::Working => "containerd.io",
        Variant::FailingPostinst => "containerd.io-failing",
    };
    let dir = cached(name, |tmp| {
        let bookworm = Bookworm::get();
        let tree = tmp.join("tree");
        fs::create_dir_all(tmp).unwrap();
        check(
            cmd("dpkg-deb", ["-R"])
                .arg(bookworm.deb("containerd"))
                .arg(&tree),
        );
        // Docker's containerd.io bundles runc.
        check(cmd("dpkg-deb", ["-x"]).arg(bookworm.deb("runc")).arg(&tree));
        let _ = fs::remove_file(tree.join("DEBIAN/md5sums"));
        let control = fs::read_to_string(tree.join("DEBIAN/control")).unwrap();
        let installed_size = control
            .lines()
            .find_map(|l| l.strip_prefix("Installed-Size: "))
            .unwrap_or("100000");
        fs::write(
            tree.join("DEBIAN/control"),
            format!(
                "Package: containerd.io\n\
                 Version: {CONTAINERD_IO_VERSION}\n\
                 Architecture: amd64\n\
                 Maintainer: installer e2e tests <e2e@installer.invalid>\n\
                 Installed-Size: {installed_size}\n\
                 Depends: libc6 (>= 2.34), libseccomp2 (>= 2.5.0)\n\
                 Provides: containerd, runc\n\
                 Conflicts: containerd, runc\n\
                 Replaces: containerd, runc\n\
                 Section: admin\n\
                 Priority: optional\n\
                 Description: Debian's containerd 1.6.20 and runc under Docker's package name\n \
                 Repackaged by the installer's end-to-end tests from Debian's real binaries.\n"
            ),
        )
        .unwrap();
        if variant == Variant::FailingPostinst {
            use std::os::unix::fs::PermissionsExt;
            let postinst = tree.join("DEBIAN/postinst");
            fs::write(
                &postinst,
                "#!/bin/sh\necho 'containerd.io: this test package always fails to configure' >&2\nexit 1\n",
            )
            .unwrap();
            fs::set_permissions(&postinst, fs::Permissions::from_mode(0o755)).unwrap();
        }
        check(
            cmd("dpkg-deb", ["--root-owner-group", "-Znone", "-b"])
                .arg(&tree)
                .arg(tmp.join(format!("containerd.io_{CONTAINERD_IO_VERSION}_amd64.deb"))),
        );
        fs::remove_dir_all(&tree).unwrap();
    });
    dir.join(format!("containerd.io_{CONTAINERD_IO_VERSION}_amd64.deb"))
}

/// The version of the test `runsc` package.
pub const RUNSC_VERSION: &str = "20240212.0";

/// gVisor's repository as its install guide lays it out (`<base> release main`), at `dir`,
/// signed by `key`, serving a test `runsc` package: the files gVisor's package installs
/// (gvisor's debian/BUILD), as small scripts, and its conffile.
fn gvisor_repo(dir: &Path, key: &Gpg) {
    let tree = dir.join("build");
    for (path, text, mode) in [
        (
            "usr/bin/runsc",
            "#!/bin/sh\necho 'runsc version release-20240212.0 (installer e2e test package)'\n",
            0o755,
        ),
        (
            "usr/bin/containerd-shim-runsc-v1",
            "#!/bin/sh\nexit 1\n",
            0o755,
        ),
        (
            "etc/containerd/runsc.toml",
            "# runsc's configuration (installer e2e test package)\n",
            0o644,
        ),
        (
            "DEBIAN/control",
            &format!(
                "Package: runsc\nVersion: {RUNSC_VERSION}\nArchitecture: amd64\n\
                 Maintainer: installer e2e tests <e2e@installer.invalid>\nSection: admin\n\
                 Priority: optional\nDescription: gVisor's runsc, a stand-in\n \
                 Scripts in the places gVisor's package puts its programs.\n"
            ),
            0o644,
        ),
        ("DEBIAN/conffiles", "/etc/containerd/runsc.toml\n", 0o644),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let file = tree.join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, text).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
    }
    let pool = dir.join("pool/main");
    fs::create_dir_all(&pool).unwrap();
    check(
        cmd("dpkg-deb", ["--root-owner-group", "-Znone", "-b"])
            .arg(&tree)
            .arg(pool.join(format!("runsc_{RUNSC_VERSION}_amd64.deb"))),
    );
    fs::remove_dir_all(&tree).unwrap();
    let dist = dir.join("dists/release");
    let binary = dist.join("main/binary-amd64");
    fs::create_dir_all(&binary).unwrap();
    let packages = check(cmd("apt-ftparchive", ["packages", "pool"]).current_dir(dir));
    fs::write(binary.join("Packages"), packages).unwrap();
    let release = check(
        cmd(
            "apt-ftparchive",
            [
                "-o",
                "APT::FTPArchive::Release::Suite=release",
                "-o",
                "APT::FTPArchive::Release::Codename=release",
                "-o",
                "APT::FTPArchive::Release::Architectures=amd64",
                "-o",
                "APT::FTPArchive::Release::Components=main",
                "release",
                ".",
            ],
        )
        .current_dir(&dist),
    );
    fs::write(dist.join("Release"), release).unwrap();
    key.clearsign(&dist.join("Release"), &dist.join("InRelease"));
}

/// A signed apt repository below a mirror directory, removed when dropped.
pub struct AptRepo {
    dir: PathBuf,
    /// What `--mirror` points at (served by an `HttpServer`).
    pub mirror: PathBuf,
    pub key: Gpg,
}

impl AptRepo {
    pub fn build(variant: Variant) -> AptRepo {
        let bookworm = Bookworm::get();
        let vendor = containerd_io(variant);
        let dir = fresh_dir("apt-repo-");
        let mirror = dir.join("mirror");
        let tree = mirror.join("linux/debian");
        let pool = tree.join("pool/stable");
        fs::create_dir_all(&pool).unwrap();
        for deb in fs::read_dir(&bookworm.debs)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .chain([vendor])
        {
            let dest = pool.join(deb.file_name().unwrap());
            fs::hard_link(&deb, &dest)
                .or_else(|_| fs::copy(&deb, &dest).map(|_| ()))
                .unwrap();
        }
        let dist = tree.join("dists/bookworm");
        let binary = dist.join("stable/binary-amd64");
        fs::create_dir_all(&binary).unwrap();
        let packages = check(cmd("apt-ftparchive", ["packages", "pool"]).current_dir(&tree));
        fs::write(binary.join("Packages"), packages).unwrap();
        let release = check(
            cmd(
                "apt-ftparchive",
                [
                    "-o",
                    "APT::FTPArchive::Release::Origin=installer-e2e",
                    "-o",
                    "APT::FTPArchive::Release::Suite=bookworm",
                    "-o",
                    "APT::FTPArchive::Release::Codename=bookworm",
                    "-o",
                    "APT::FTPArchive::Release::Architectures=amd64",
                    "-o",
                    "APT::FTPArchive::Release::Components=stable",
                    "release",
                    ".",
                ],
            )
            .current_dir(&dist),
        );
        fs::write(dist.join("Release"), release).unwrap();
        let key = Gpg::generate(&dir.join("gnupg"), "ed25519");
        key.clearsign(&dist.join("Release"), &dist.join("InRelease"));
        fs::write(tree.join("gpg"), key.public_key()).unwrap();
        gvisor_repo(&mirror.join("gvisor"), &key);
        AptRepo { dir, mirror, key }
    }

    /// The armored public key, as served at `<mirror>/linux/debian/gpg`.
    pub fn public_key(&self) -> String {
        fs::read_to_string(self.mirror.join("linux/debian/gpg")).unwrap()
    }

    /// Where to log the HTTP server serving it.
    pub fn log_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for AptRepo {
    fn drop(&mut self) {
        // The key's gpg-agent is stopped by `Gpg`'s own Drop, which runs after this one;
        // remove everything but its home first.
        let _ = fs::remove_dir_all(&self.mirror);
        if std::env::var_os("E2E_KEEP").is_none() {
            let dir = self.dir.clone();
            // The agent's sockets live in the home; removing the directory last is enough
            // even while the agent shuts down.
            let _ = Command::new("gpgconf")
                .arg("--homedir")
                .arg(self.key.home())
                .args(["--kill", "all"])
                .status();
            let _ = fs::remove_dir_all(dir);
        }
    }
}
