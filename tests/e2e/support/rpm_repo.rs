//! `RpmRepo`: a signed rpm repository on disk, laid out as Docker's is below `--mirror`
//! (`<mirror>/linux/centos/9/x86_64/stable`, key at `<mirror>/linux/centos/gpg`), with tiny
//! packages built by `rpmbuild` (docker-ce-like names, epochs, versions and releases),
//! signed by `rpmsign` with a throw-away RSA key, indexed by `createrepo_c`, and its
//! `repomd.xml` signed too (zypper refuses unsigned metadata), the key beside it as
//! `repomd.xml.key`.
//!
//! `RpmTarget` then applies a plan's repository and package steps to an rpm root on the host
//! with the real tools (`rpm --root`, `dnf --installroot`, `zypper --root`): each action is
//! the plugin's own, only pointed at the root; the `installer` executor itself cannot chroot
//! into a Debian root to run dnf or zypper.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use plugin_api::{Action, Expect, Probe};

use super::apt_repo::Gpg;
use super::{check, cmd, fresh_dir};

/// One package: name, epoch, version, release.
pub type Rpm = (&'static str, u32, &'static str, &'static str);

/// What the repository holds: Docker's names and spellings (docker-ce carries epoch 3), a
/// series for pins to choose from, SUSE-style `containerd` for the zypper plugin, and the
/// package dnf's versionlock command comes in on EL 9 (empty here: the host's dnf provides
/// the command).
pub const PACKAGES: &[Rpm] = &[
    ("containerd.io", 0, "1.6.28", "3.1.el9"),
    ("containerd.io", 0, "1.6.33", "3.1.el9"),
    ("containerd.io", 0, "1.7.13", "3.1.el9"),
    ("docker-ce", 3, "24.0.9", "1.el9"),
    ("docker-ce", 3, "25.0.5", "1.el9"),
    ("python3-dnf-plugin-versionlock", 0, "4.3.0", "13.el9"),
    ("containerd", 0, "1.6.23", "150000.1"),
    ("containerd", 0, "1.7.13", "150000.1"),
];

const SPEC: &str = "\
Name: %{pkg_name}
Epoch: %{pkg_epoch}
Version: %{pkg_version}
Release: %{pkg_release}
Summary: installer end-to-end test package
License: Apache-2.0
BuildArch: x86_64
%description
A stand-in with a real name, epoch, version and release, built by the installer's tests.
%install
mkdir -p %{buildroot}/usr/share/installer-e2e
echo '%{pkg_name} %{pkg_epoch}:%{pkg_version}-%{pkg_release}' > %{buildroot}/usr/share/installer-e2e/%{pkg_name}
%files
/usr/share/installer-e2e/%{pkg_name}
";

/// What building and serving the signed rpm repository needs on this host.
pub const RPM_TOOLS: &[&str] = &[
    "rpm",
    "rpmbuild",
    "rpmsign",
    "createrepo_c",
    "gpg",
    "gpgconf",
    "python3",
    "curl",
    "apt-get",
    "dpkg-deb",
];

pub struct RpmRepo {
    dir: PathBuf,
    /// What `--mirror` points at.
    pub mirror: PathBuf,
    pub key: Gpg,
}

impl RpmRepo {
    /// containerd 1.6 on Rocky 9 from this repository served by `server` as Docker's mirror,
    /// its key the one the plan checks.
    pub fn rocky_selection(&self, server: &super::http::HttpServer) -> Vec<String> {
        [
            "--distro",
            "rocky-9",
            "--runtime",
            "containerd",
            "--mirror",
            &server.url(),
            "--set",
            &format!("containerd.key-fingerprint={}", self.key.fingerprint),
            "--version",
            "1.6",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    }

    pub fn build() -> RpmRepo {
        let dir = fresh_dir("rpm-repo-");
        let key = Gpg::generate(&dir.join("gnupg"), "rsa3072");
        let top = dir.join("rpmbuild");
        fs::create_dir_all(&top).unwrap();
        let spec = dir.join("package.spec");
        fs::write(&spec, SPEC).unwrap();
        let define = |c: &mut Command, k: &str, v: &str| {
            c.arg("--define").arg(format!("{k} {v}"));
        };
        for (name, epoch, version, release) in PACKAGES {
            let mut c = cmd("rpmbuild", ["--quiet", "-bb"]);
            define(&mut c, "_topdir", top.to_str().unwrap());
            define(&mut c, "_build_id_links", "none");
            define(&mut c, "pkg_name", name);
            define(&mut c, "pkg_epoch", &epoch.to_string());
            define(&mut c, "pkg_version", version);
            define(&mut c, "pkg_release", release);
            check(c.arg(&spec));
        }
        let mirror = dir.join("mirror");
        let repo = mirror.join("linux/centos/9/x86_64/stable");
        fs::create_dir_all(&repo).unwrap();
        for entry in fs::read_dir(top.join("RPMS/x86_64")).unwrap().flatten() {
            fs::rename(entry.path(), repo.join(entry.file_name())).unwrap();
        }
        let rpms: Vec<PathBuf> = fs::read_dir(&repo)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        // rpmsign runs gpg itself; Debian's rpm looks for `gpg2`.
        let mut sign = cmd("rpmsign", ["--addsign"]);
        define(&mut sign, "__gpg", "/usr/bin/gpg");
        define(&mut sign, "_gpg_path", key.home().to_str().unwrap());
        define(&mut sign, "_gpg_name", &key.fingerprint);
        check(sign.args(&rpms).stdin(std::process::Stdio::null()));
        check(cmd("createrepo_c", ["--quiet"]).arg(&repo));
        let repomd = repo.join("repodata/repomd.xml");
        key.detach_sign(&repomd, &repo.join("repodata/repomd.xml.asc"));
        let public = key.public_key();
        fs::write(repo.join("repodata/repomd.xml.key"), &public).unwrap();
        fs::write(mirror.join("linux/centos/gpg"), &public).unwrap();
        RpmRepo { dir, mirror, key }
    }

    pub fn log_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RpmRepo {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.key.home())
            .args(["--kill", "all"])
            .status();
        if std::env::var_os("E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Which package manager drives an `RpmTarget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Dnf,
    Zypper,
}

/// An empty rpm root on the host that a plan's package-manager actions are applied to.
pub struct RpmTarget {
    dir: PathBuf,
    pub root: PathBuf,
    manager: Manager,
    /// Where the host's dnf finds the versionlock plugin (extracted, not installed: Debian's
    /// dnf-plugins-core breaks zypper).
    dnf_plugins: Option<PathBuf>,
    /// The commands run, in order, as the target would have run them (for messages).
    pub log: Vec<String>,
}

impl RpmTarget {
    pub fn new(manager: Manager) -> RpmTarget {
        let dir = fresh_dir(match manager {
            Manager::Dnf => "dnf-root-",
            Manager::Zypper => "zypper-root-",
        });
        let root = dir.join("root");
        fs::create_dir_all(&root).unwrap();
        let dnf_plugins = (manager == Manager::Dnf).then(|| {
            let plugins = dnf_plugins_core();
            // dnf with --installroot still reads its main and plugin configuration from the
            // host; point both into the root so nothing on the host is written (the
            // versionlock list in particular).
            let etc = root.join("etc/dnf/plugins");
            fs::create_dir_all(&etc).unwrap();
            fs::write(
                root.join("etc/dnf/dnf.conf"),
                format!(
                    "[main]\ngpgcheck=1\nreposdir={r}/etc/yum.repos.d\npluginpath={p}/usr/lib/python3/dist-packages/dnf-plugins\npluginconfpath={r}/etc/dnf/plugins\n",
                    r = root.display(),
                    p = plugins.display()
                ),
            )
            .unwrap();
            fs::write(
                etc.join("versionlock.conf"),
                format!(
                    "[main]\nenabled=1\nlocklist={}/etc/dnf/plugins/versionlock.list\n",
                    root.display()
                ),
            )
            .unwrap();
            // EL's python3-dnf-plugin-versionlock ships the (empty) list; the stand-in does not.
            fs::write(etc.join("versionlock.list"), "").unwrap();
            plugins
        });
        RpmTarget {
            dir,
            root,
            manager,
            dnf_plugins,
            log: Vec::new(),
        }
    }

    /// `path` (absolute on the target) on the host.
    pub fn join(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// The package manager's command line pointed at the root.
    pub fn manager_cmd(&self) -> Command {
        match self.manager {
            Manager::Dnf => {
                let mut c = Command::new("dnf");
                c.arg("-y")
                    .arg(format!(
                        "--config={}",
                        self.join("/etc/dnf/dnf.conf").display()
                    ))
                    .arg(format!("--installroot={}", self.root.display()))
                    .arg("--releasever=9")
                    .env(
                        "PYTHONPATH",
                        self.dnf_plugins
                            .as_ref()
                            .unwrap()
                            .join("usr/lib/python3/dist-packages"),
                    );
                c
            }
            Manager::Zypper => {
                let mut c = Command::new("zypper");
                c.arg("--non-interactive").arg("--root").arg(&self.root);
                c
            }
        }
    }

    /// `argv` (a plan's command) as a host command acting on the root.
    fn translate(&self, argv: &[String]) -> Command {
        let (program, args) = argv.split_first().expect("an empty argv");
        let in_root = |a: &String| -> String {
            if a.starts_with('/') {
                self.join(a).display().to_string()
            } else {
                a.clone()
            }
        };
        match program.as_str() {
            "dnf" | "yum" | "zypper" => {
                let mut c = self.manager_cmd();
                // The first word after the program is the command; options the plan gives
                // (`-y`, `--non-interactive`) are already there.
                c.args(
                    args.iter()
                        .filter(|a| *a != "-y" && *a != "--non-interactive"),
                );
                c
            }
            "rpm" => {
                let mut c = Command::new("rpm");
                c.arg("--root").arg(&self.root);
                c.args(args.iter().map(in_root));
                c
            }
            "install" | "test" | "sed" | "grep" => {
                let mut c = Command::new(program);
                c.args(args.iter().map(in_root));
                c
            }
            other => panic!("the rpm test does not know how to point `{other}` at a root"),
        }
    }

    fn probe_says_done(&mut self, probe: &Probe) -> bool {
        let out = self.translate(&probe.argv).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        out.status.success()
            && match &probe.expect {
                Expect::Success => true,
                Expect::StdoutContains(t) => stdout.contains(t.as_str()),
                Expect::StdoutLacks(t) => !stdout.contains(t.as_str()),
                Expect::StdoutEquals(t) => stdout.trim() == t,
                Expect::StdoutLines(lines) => lines
                    .iter()
                    .all(|l| stdout.lines().any(|s| s.trim_end() == l)),
            }
    }

    /// Applies one action of a plan; whether it changed anything.
    pub fn apply(&mut self, action: &Action) -> bool {
        match action {
            Action::WriteFile {
                path,
                mode,
                content,
                ..
            } => {
                use std::os::unix::fs::PermissionsExt;
                let p = self.join(path);
                if fs::read_to_string(&p).ok().as_deref() == Some(content.as_str()) {
                    return false;
                }
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, content).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
                self.log.push(format!("write {path}"));
                true
            }
            Action::FetchKey {
                url,
                fingerprints,
                dest,
            } => {
                let key = check(&mut cmd("curl", ["-fsS", url.as_str()]));
                let shown = check(
                    cmd("gpg", ["--show-keys", "--with-colons"])
                        .stdin(std::process::Stdio::piped())
                        .arg(write_temp(&self.dir, "fetched.asc", &key)),
                );
                let fprs: Vec<&str> = shown
                    .lines()
                    .filter(|l| l.starts_with("fpr:"))
                    .filter_map(|l| l.split(':').nth(9))
                    .collect();
                assert!(
                    fprs.iter().any(|f| fingerprints.iter().any(|w| w == f)),
                    "the key at {url} has {fprs:?}, the plan wants {fingerprints:?}"
                );
                let p = self.join(dest);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, key).unwrap();
                self.log.push(format!("fetch {url} -> {dest}"));
                true
            }
            Action::Run {
                argv,
                unless,
                resolve,
                ..
            } => {
                let mut argv = argv.clone();
                let mut unless = unless.clone();
                for r in resolve {
                    let listing = check(&mut self.translate(&r.query));
                    let candidates: Vec<&str> = listing
                        .lines()
                        .filter_map(|line| {
                            let fields: Vec<&str> = match &r.listing.separator {
                                Some(sep) => line.split(sep.as_str()).map(str::trim).collect(),
                                None => line.split_whitespace().collect(),
                            };
                            let name = fields.get(r.listing.name_field)?;
                            r.listing
                                .names
                                .iter()
                                .any(|n| n == name)
                                .then(|| fields.get(r.listing.version_field).copied())
                                .flatten()
                        })
                        .collect();
                    let picked = plugin_api::version::pick(&r.pin, candidates.iter().copied())
                        .unwrap_or_else(|| {
                            panic!(
                                "no {} version matches {} among {candidates:?}",
                                r.package, r.pin
                            )
                        })
                        .to_owned();
                    for a in argv.iter_mut() {
                        *a = a.replace(&r.placeholder, &picked);
                    }
                    if let Some(p) = unless.as_mut() {
                        for a in p.argv.iter_mut() {
                            *a = a.replace(&r.placeholder, &picked);
                        }
                    }
                }
                if let Some(probe) = &unless {
                    if self.probe_says_done(probe) {
                        return false;
                    }
                }
                let mut c = self.translate(&argv);
                self.log.push(format!("{c:?}"));
                check(&mut c);
                true
            }
            other => panic!("the rpm test does not apply {other:?}"),
        }
    }
}

impl Drop for RpmTarget {
    fn drop(&mut self) {
        if std::env::var_os("E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn write_temp(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, content).unwrap();
    p
}

/// Debian's dnf-plugins-core, extracted (not installed) into the cache: it provides
/// `dnf versionlock`, and installing it would remove zypper.
pub fn dnf_plugins_core() -> PathBuf {
    super::cached("dnf-plugins-core", |tmp| {
        fs::create_dir_all(tmp).unwrap();
        check(cmd("apt-get", ["download", "dnf-plugins-core"]).current_dir(tmp));
        let deb = fs::read_dir(tmp)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("apt-get download left a .deb");
        check(cmd("dpkg-deb", ["-x"]).arg(&deb).arg(tmp));
        fs::remove_file(deb).unwrap();
    })
}
