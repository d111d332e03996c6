//! The packages `scripts/package` builds, installed the way users install them: the .deb with
//! dpkg into a debootstrapped Debian 12 root (and checked by lintian), the .rpm with rpm into
//! an empty rpm database, the tarball unpacked below a prefix. Each time, the installed
//! binary finds the installed plugins on its own (no --plugin-dir) and plans.
//!
//! The packages are made from the debug build the tests already have (`--profile dev
//! --no-build --fast`): the layout, control data and dependencies are those of a release,
//! only the code is unoptimised.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::support::mounts::Mounts;
use crate::support::root::DebianRoot;
use crate::support::{check, cmd, fresh_dir, remove_all, require};
use crate::util::{workspace_root, WORKSPACE_PLUGINS};

const PLUGIN_DIR: &str = "/usr/lib/installer/plugins";

struct Packages {
    deb: PathBuf,
    rpm: PathBuf,
    tarball: PathBuf,
}

fn build_packages(out: &Path) -> Packages {
    let listed = check(
        cmd(
            workspace_root().join("scripts/package").to_str().unwrap(),
            ["--profile", "dev", "--no-build", "--fast", "--out"],
        )
        .arg(out),
    );
    let pick = |suffix: &str| -> PathBuf {
        listed
            .lines()
            .map(PathBuf::from)
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("scripts/package printed no {suffix}: {listed}"))
    };
    Packages {
        deb: pick(".deb"),
        rpm: pick(".rpm"),
        tarball: pick(".tar.gz"),
    }
}

/// The names of the plugins `plugins list --output json` shows loaded, each from `dir`.
fn loaded_from(list_json: &str, dir: &str) -> BTreeSet<String> {
    let rows: serde_json::Value =
        serde_json::from_str(list_json).unwrap_or_else(|e| panic!("{e}: {list_json}"));
    let mut names = BTreeSet::new();
    for row in rows.as_array().unwrap() {
        let path = row["path"].as_str().unwrap();
        if !path.starts_with(dir) {
            continue;
        }
        assert_eq!(row["status"], "loaded", "{row}");
        names.insert(row["name"].as_str().unwrap().to_owned());
    }
    names
}

fn all_plugins() -> BTreeSet<String> {
    WORKSPACE_PLUGINS.iter().map(|s| s.to_string()).collect()
}

/// The plugin directory and files as the packages promise them: root's, 0755 and 0644.
fn assert_plugin_files(dir: &Path) {
    let meta = fs::metadata(dir).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o7777),
        (0, 0o755),
        "{}",
        dir.display()
    );
    let files: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    assert_eq!(files.len(), WORKSPACE_PLUGINS.len(), "{files:?}");
    for f in files {
        let meta = f.metadata().unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (0, 0, 0o644),
            "{}",
            f.path().display()
        );
    }
}

/// Man pages and completions where each tool looks, below `usr`.
fn assert_docs(usr: &Path) {
    for file in [
        "share/man/man1/installer.1.gz",
        "share/man/man1/installer-plan.1.gz",
        "share/man/man1/installer-plugins-list.1.gz",
        "share/bash-completion/completions/installer",
        "share/zsh/vendor-completions/_installer",
        "share/fish/vendor_completions.d/installer.fish",
        "share/doc/installer/README.md",
    ] {
        assert!(
            usr.join(file).is_file(),
            "{file} missing below {}",
            usr.display()
        );
    }
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn the_packages_install_with_dpkg_rpm_and_tar_and_installer_finds_its_plugins() {
    require(&[
        "dpkg-deb",
        "dpkg-shlibdeps",
        "rpmbuild",
        "rpm",
        "strip",
        "lintian",
    ]);
    let work = fresh_dir("package-");
    let packages = build_packages(&work.join("out"));

    // lintian: no errors (warnings and the reasoned overrides are printed for the log).
    let lint = cmd("lintian", ["--fail-on", "error"])
        .arg(&packages.deb)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "lintian reports errors:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );

    // The .deb, with dpkg, into Debian 12.
    let root = DebianRoot::fresh("package-deb");
    fs::copy(&packages.deb, root.join("/tmp/installer.deb")).unwrap();
    root.sh(&["dpkg", "-i", "/tmp/installer.deb"]);
    assert!(root
        .sh(&["dpkg-query", "-W", "installer"])
        .starts_with("installer\t"));
    assert_plugin_files(&root.join(PLUGIN_DIR));
    assert_docs(&root.join("/usr"));
    {
        let _mounts = Mounts::new(&root);
        let installer = |args: &[&str]| {
            let mut c = root.chroot(&[&["/usr/bin/installer"], args].concat());
            // The cache directory the tests use is a host path; inside, the default applies.
            c.env_remove("INSTALLER_CACHE_DIR");
            check(&mut c)
        };
        let version = installer(&["--version"]);
        assert!(
            version.starts_with(&format!(
                "installer 0.1.0 (plugin protocol {}, commit ",
                plugin_api::PROTOCOL_VERSION
            )),
            "{version}"
        );
        let list = installer(&["plugins", "list", "--output", "json"]);
        assert_eq!(loaded_from(&list, PLUGIN_DIR), all_plugins(), "{list}");
        let plan = installer(&[
            "plan",
            "--distro",
            "debian-12",
            "--runtime",
            "containerd",
            "--output",
            "json",
        ]);
        let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
        let from: Vec<&str> = plan["plugins"]
            .as_array()
            .unwrap_or_else(|| panic!("no plugins in the plan: {plan:#}"))
            .iter()
            .map(|p| p["path"].as_str().unwrap())
            .collect();
        assert!(
            !from.is_empty() && from.iter().all(|p| p.starts_with(PLUGIN_DIR)),
            "{from:?}"
        );
        // A second command reads the manifests from root's cache in the root.
        assert!(root
            .join("/var/cache/installer/plugin-manifests.json")
            .is_file());
    }
    // And it goes again, leaving nothing of its files.
    root.sh(&["dpkg", "--purge", "installer"]);
    assert!(!root.join("/usr/lib/installer").exists());
    assert!(!root.join("/usr/bin/installer").exists());

    // The .rpm, with rpm, into an empty database (no libc there, hence --nodeps); the binary
    // then runs from the host and finds the plugins below its own prefix.
    let rpm_root = work.join("rpm-root");
    fs::create_dir_all(&rpm_root).unwrap();
    check(cmd("rpm", ["--root"]).arg(&rpm_root).arg("--initdb"));
    check(
        cmd("rpm", ["--root"])
            .arg(&rpm_root)
            .args(["-i", "--nodeps"])
            .arg(&packages.rpm),
    );
    let requires = check(cmd("rpm", ["-qp", "--requires"]).arg(&packages.rpm));
    assert!(
        requires.lines().any(|l| l.starts_with("libc.so.6")),
        "{requires}"
    );
    assert_plugin_files(&rpm_root.join(PLUGIN_DIR.trim_start_matches('/')));
    assert_docs(&rpm_root.join("usr"));
    assert!(rpm_root
        .join("usr/share/licenses/installer/LICENSE")
        .is_file());
    let listed = check(
        cmd(
            rpm_root.join("usr/bin/installer").to_str().unwrap(),
            ["plugins", "list", "--output", "json"],
        )
        .env_remove("INSTALLER_PLUGIN_PATH"),
    );
    let rpm_plugins = rpm_root.join(PLUGIN_DIR.trim_start_matches('/'));
    assert_eq!(
        loaded_from(&listed, rpm_plugins.to_str().unwrap()),
        all_plugins(),
        "{listed}"
    );

    // The tarball, below a prefix.
    let prefix = work.join("prefix");
    fs::create_dir_all(&prefix).unwrap();
    check(
        cmd("tar", ["--strip-components=1", "-xzf"])
            .arg(&packages.tarball)
            .arg("-C")
            .arg(&prefix),
    );
    assert!(prefix.join("share/doc/installer/LICENSE").is_file());
    let listed = check(
        cmd(
            prefix.join("bin/installer").to_str().unwrap(),
            ["plugins", "list", "--output", "json"],
        )
        .env_remove("INSTALLER_PLUGIN_PATH"),
    );
    let tar_plugins = prefix.join("lib/installer/plugins");
    assert_eq!(
        loaded_from(&listed, tar_plugins.to_str().unwrap()),
        all_plugins(),
        "{listed}"
    );

    if std::env::var_os("E2E_KEEP").is_none() {
        remove_all(&work);
    }
}
