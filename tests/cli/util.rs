//! The test harness: run the real binary, and build and locate real plugin libraries.
//!
//! Cargo hands integration tests the path of the binary (`CARGO_BIN_EXE_installer`) but not
//! of cdylibs. So the harness builds them itself: the workspace plugins with `cargo build`
//! into the same target directory (a no-op when they are up to date), and the deliberately
//! broken plugins of `tests/plugins` into `target/test-plugins`, a workspace of their own so
//! that they never sit next to the binary where they would be loaded for real.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The installer binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_installer"))
}

/// `target/<profile>`, where the binary and the workspace plugins live.
pub fn profile_dir() -> PathBuf {
    bin()
        .parent()
        .expect("the binary is in a directory")
        .to_path_buf()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run_cargo_build(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {what}: {e}"));
    assert!(
        out.status.success(),
        "building {what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Names of the nine workspace plugins.
pub const WORKSPACE_PLUGINS: [&str; 9] = [
    "docker",
    "containerd",
    "cri-o",
    "mcr",
    "gvisor",
    "nvidia-container-toolkit",
    "apt",
    "yum",
    "zypper",
];

/// The workspace plugin `name` (`cri-o`, `apt`, ...), built if needed.
pub fn workspace_plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut cmd = cargo();
        cmd.current_dir(workspace_root())
            .arg("build")
            .arg("--quiet");
        if profile_dir().file_name() == Some(OsStr::new("release")) {
            cmd.arg("--release");
        }
        for plugin in WORKSPACE_PLUGINS {
            cmd.args(["-p", &format!("installer-plugin-{plugin}")]);
        }
        run_cargo_build(cmd, "the workspace plugins");
    });
    let path = profile_dir().join(format!("libinstaller_plugin_{}.so", name.replace('-', "_")));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The fixture plugin `name` from `tests/plugins/<name>`, built if needed.
pub fn fixture_plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let target = profile_dir()
        .parent()
        .expect("target dir")
        .join("test-plugins");
    BUILT.get_or_init(|| {
        let mut cmd = cargo();
        cmd.current_dir(workspace_root().join("tests/plugins"))
            .args(["build", "--quiet", "--target-dir"])
            .arg(&target);
        run_cargo_build(cmd, "the fixture plugins in tests/plugins");
    });
    let path = target
        .join("debug")
        .join(format!("libfixture_{}.so", name.replace('-', "_")));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A fresh plugin directory holding copies of the given libraries, each under its own name.
pub struct PluginDir {
    pub dir: tempfile::TempDir,
}

impl PluginDir {
    pub fn new() -> Self {
        PluginDir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Copies `lib` into the directory as `file_name`.
    pub fn with(self, lib: &Path, file_name: &str) -> Self {
        std::fs::copy(lib, self.dir.path().join(file_name)).expect("copy plugin");
        self
    }

    /// All nine workspace plugins under their own names.
    pub fn with_workspace_plugins(mut self) -> Self {
        for name in WORKSPACE_PLUGINS {
            let lib = workspace_plugin(name);
            let file = lib.file_name().unwrap().to_string_lossy().into_owned();
            self = self.with(&lib, &file);
        }
        self
    }

    /// The fixture `name` as `lib<name>.so`.
    pub fn with_fixture(self, name: &str) -> Self {
        self.with(&fixture_plugin(name), &format!("lib{name}.so"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A command line for the binary under test, with a clean environment: no plugin or distro
/// path from the caller, and the default plugin directories out of reach (the binary sits
/// next to the real plugins, so tests that want an exact plugin set pass
/// `--no-default-plugin-dirs`, which every test here does through [`Installer::isolated`]).
pub struct Installer {
    cmd: Command,
}

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Installer {
    /// The binary with only the plugins in `dir` on its plugin path.
    pub fn isolated(dir: &Path) -> Self {
        let mut cmd = Command::new(bin());
        cmd.env_remove("INSTALLER_PLUGIN_PATH")
            .env_remove("INSTALLER_DISTRO_PATH")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("INSTALLER_NO_DEFAULT_PLUGIN_DIRS", "1")
            .env("INSTALLER_NO_DEFAULT_DISTRO_DIRS", "1")
            .arg("--plugin-dir")
            .arg(dir);
        Installer { cmd }
    }

    /// The binary with its real default plugin path (plugins next to the binary).
    pub fn with_defaults() -> Self {
        let mut cmd = Command::new(bin());
        cmd.env_remove("INSTALLER_PLUGIN_PATH")
            .env_remove("INSTALLER_DISTRO_PATH")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        Installer { cmd }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Same as [`Installer::args`]; reads better after another list.
    pub fn arg_list<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args(args)
    }

    pub fn without_env(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// The same command started by `prefix`, a program whose arguments end by running the
    /// rest (`unshare ... sh -c '...; exec "$@"' sh`), with the same environment.
    pub fn under(self, prefix: &[std::ffi::OsString]) -> Self {
        let mut cmd = Command::new(&prefix[0]);
        cmd.args(&prefix[1..])
            .arg(self.cmd.get_program())
            .args(self.cmd.get_args());
        for (key, value) in self.cmd.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        Installer { cmd }
    }

    pub fn run(mut self) -> Output {
        let out = self.cmd.output().expect("run installer");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "exit code {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// A one-file HTTP server on loopback: every GET gets `body`; `hits` counts the requests.
pub struct Serve {
    pub url: String,
    pub hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Serve {
    pub fn bytes(body: Vec<u8>) -> Serve {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/file.tgz", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().filter_map(Result::ok) {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                // The request line and headers, up to the empty line.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        Serve { url, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Every leaf of a TOML table by dotted path (arrays whole): what a config's values are,
/// whatever its layout, to compare a site's file before and after an edit.
pub fn toml_leaves(table: &toml::Table) -> std::collections::BTreeMap<String, toml::Value> {
    fn walk(
        prefix: &str,
        value: &toml::Value,
        out: &mut std::collections::BTreeMap<String, toml::Value>,
    ) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    walk(&format!("{prefix}{k}."), v, out);
                }
            }
            other => {
                out.insert(prefix.trim_end_matches('.').to_owned(), other.clone());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in table {
        walk(&format!("{k}."), v, &mut out);
    }
    out
}

/// `installer <command> --output json` (verify or preflight) with test-runtime's file-only
/// plan on `root` and the cgroup driver `driver`, then `extra`: the exit code and the report.
pub fn node_report(
    dir: &PluginDir,
    command: &str,
    root: &Path,
    driver: &str,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let out = Installer::isolated(dir.path())
        .args([command, "--output", "json", "--runtime", "test-runtime"])
        .args([
            "--set",
            "test-runtime.files-only=true",
            "--cgroup-driver",
            driver,
        ])
        .args(extra)
        .args(["--root"])
        .arg_list([root])
        .run();
    let json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr));
    (out.code, json)
}

/// The check of a verify or preflight report whose name contains `part`.
pub fn check_named<'a>(report: &'a serde_json::Value, part: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap().contains(part))
        .unwrap_or_else(|| panic!("no check about {part:?} in {report:#}"))
}

/// The repository's Ansible collection copied where Ansible finds it
/// (`ansible_collections/installer/runtime` under the returned directory, for
/// ANSIBLE_COLLECTIONS_PATH); a copy, since ansible-lint does not follow a link there.
pub fn ansible_collections() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("ansible_collections/installer/runtime");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(workspace_root().join("ansible"))
        .arg(&target)
        .status()
        .expect("cp");
    assert!(status.success(), "copying the collection");
    dir
}
