//! `installer run --root R --yes --output json`, and the report it prints.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::apt_repo::AptRepo;
use super::http::HttpServer;
use super::root::DebianRoot;
use crate::util::{self, Installer};

/// The pause image the tests ask for, to find it again in containerd's own configuration.
pub const SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.9";

/// What one `installer run` did.
#[derive(Debug)]
pub struct RunReport {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub json: Value,
}

impl RunReport {
    /// Asserts the exit code and, for 0, `"status": "ok"`; shows everything otherwise.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "installer run exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        if code == 0 {
            assert_eq!(self.json["status"], "ok", "{}", self.stdout);
        }
        self
    }

    pub fn steps(&self) -> &[Value] {
        self.json["steps"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn transactions(&self) -> u64 {
        self.json["transactions"]
            .as_u64()
            .unwrap_or_else(|| panic!("no transactions count in {}", self.stdout))
    }

    pub fn files_changed(&self) -> Vec<String> {
        self.json["files_changed"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The journal directory on the host: the report's path, inside the root when it is
    /// not found as given.
    pub fn journal(&self, root: &DebianRoot) -> Option<PathBuf> {
        let journal = self.json["journal"].as_str()?;
        let as_given = PathBuf::from(journal);
        if as_given.is_dir() {
            return Some(as_given);
        }
        let inside = root.join(journal);
        inside.is_dir().then_some(inside)
    }

    /// Asserts the run was refused (exit 2) with an error naming every one of `needles`;
    /// returns the error's text.
    #[track_caller]
    pub fn expect_refused(&self, needles: &[&str]) -> String {
        self.expect_code(2);
        let error = self.error_text();
        let missing: Vec<&&str> = needles.iter().filter(|n| !error.contains(**n)).collect();
        assert!(
            missing.is_empty(),
            "the error does not say {missing:?}: {error}"
        );
        error
    }

    /// The error as one line of text, for messages.
    pub fn error_text(&self) -> String {
        self.json["error"].to_string()
    }
}

/// Makes sure the plugins sit next to the binary, where `installer` finds them by default.
pub fn plugins_built() {
    for plugin in util::WORKSPACE_PLUGINS {
        util::workspace_plugin(plugin);
    }
}

/// `installer run --root <root> --yes --output json <args>`.
pub fn run(root: &Path, args: &[String]) -> RunReport {
    plugins_built();
    let out = Installer::with_defaults()
        .args(["run", "--yes", "--output", "json", "--root"])
        .arg_list([root.as_os_str()])
        .arg_list(args)
        .run();
    let json = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "installer run (exit {}) did not print one JSON document ({e})\n--- stdout\n{}\n--- stderr\n{}",
            out.code, out.stdout, out.stderr
        )
    });
    RunReport {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
        json,
    }
}

/// `installer plan --output json <args>` (with `--root` when given), parsed.
pub fn plan(root: Option<&Path>, args: &[String]) -> Value {
    plugins_built();
    let mut inst = Installer::with_defaults().args(["plan", "--output", "json"]);
    if let Some(root) = root {
        inst = inst.arg_list([std::ffi::OsStr::new("--root"), root.as_os_str()]);
    }
    inst.arg_list(args).run().code(0).json()
}

/// The selection that installs containerd.io from the loopback mirror: Docker's repository
/// path below it, our key's fingerprint instead of Docker's, a pin (held) and the cgroup
/// driver and pause image the checks look for. Plain http to loopback needs no
/// `--allow-insecure-repo`: nothing crosses a network.
pub fn mirror_selection(server: &HttpServer, repo: &AptRepo) -> Vec<String> {
    strings(&[
        "--runtime",
        "containerd",
        "--mirror",
        &server.url(),
        "--set",
        &format!("containerd.key-fingerprint={}", repo.key.fingerprint),
        "--version",
        "1.6",
        // The mirror's containerd.io is 1.6.20, which `1.6` resolves to: a release that
        // CVE-2024-21626 affects (fixed in 1.6.28), refused unless accepted by name (see
        // containerd::a_resolved_version_with_a_known_escape_is_refused_before_installing).
        "--allow-vulnerable",
        "CVE-2024-21626",
        "--cgroup-driver",
        "systemd",
        "--sandbox-image",
        SANDBOX_IMAGE,
    ])
}

/// Owned strings from string slices.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Docker Engine from Debian's archive, on the systemd driver, for Kubernetes 1.23 (the
/// dockershim era: no cri-dockerd, which Mirantis publishes on GitHub, out of reach here, and
/// Debian does not package), then `extra`.
pub fn docker_from_debian(extra: &[&str]) -> Vec<String> {
    let mut selection = strings(&[
        "--runtime",
        "docker",
        "--source",
        "distro",
        "--cgroup-driver",
        "systemd",
        "--kubernetes-version",
        "1.23",
    ]);
    selection.extend(strings(extra));
    selection
}

/// containerd from Debian's archive on the systemd driver, then `extra`.
pub fn containerd_from_debian(extra: &[&str]) -> Vec<String> {
    let mut selection = strings(&[
        "--runtime",
        "containerd",
        "--source",
        "distro",
        "--cgroup-driver",
        "systemd",
    ]);
    selection.extend(strings(extra));
    selection
}
