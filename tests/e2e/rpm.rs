//! The rpm side: the yum/dnf and zypper plugins' own steps (repository file, key, pinned
//! install, lock), taken from `installer plan --output json` and applied with the real dnf
//! and zypper to an rpm root on this Debian host, against a signed repository on loopback.

use plugin_api::Action;
use serde_json::Value;

use crate::support::http::HttpServer;
use crate::support::require;
use crate::support::rpm_repo::{Manager, RpmRepo, RpmTarget, RPM_TOOLS};
use crate::support::run::{plan, strings};

/// The actions of the plan's repository and package steps, in order.
fn package_actions(plan: &Value) -> Vec<Action> {
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["phase"] == "repositories" || s["phase"] == "packages")
        .flat_map(|s| s["actions"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            serde_json::from_value(a.clone()).unwrap_or_else(|e| panic!("not an action ({e}): {a}"))
        })
        .collect()
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn dnf_installs_the_pinned_package_from_the_plugins_repo_file_and_locks_it() {
    require(&[RPM_TOOLS, &["dnf"]].concat());
    let repo = RpmRepo::build();
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    let plan = plan(None, &repo.rocky_selection(&server));
    let actions = package_actions(&plan);
    assert!(
        actions.iter().any(|a| matches!(a, Action::FetchKey { .. })),
        "the plan fetches no key: {actions:?}"
    );
    let mut target = RpmTarget::new(Manager::Dnf);
    for action in &actions {
        target.apply(action);
    }

    // The plugin's .repo file, read by dnf: gpgcheck on, the verified key.
    let repo_file = std::fs::read_dir(target.join("/etc/yum.repos.d"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(repo_file.contains("gpgcheck=1"), "{repo_file}");
    let installed = crate::support::check(std::process::Command::new("rpm").args([
        "--root",
        target.root.to_str().unwrap(),
        "-q",
        "--qf",
        "%{EPOCH}:%{NAME}-%{VERSION}-%{RELEASE} %{SIGPGP:pgpsig}%{RSAHEADER:pgpsig}\\n",
        "containerd.io",
    ]));
    // The pin 1.6 resolved to the newest 1.6 release, never 1.7, and the package's signature
    // is by our key.
    assert!(
        installed.contains("containerd.io-1.6.33-3.1.el9"),
        "{installed}\n{:#?}",
        target.log
    );
    let short_id = repo.key.fingerprint[24..].to_lowercase();
    assert!(installed.to_lowercase().contains(&short_id), "{installed}");
    // versionlock holds it: the newer release is filtered out.
    let upgrade = target
        .manager_cmd()
        .args(["install", "containerd.io-1.7.13"])
        .output()
        .unwrap();
    assert!(
        !upgrade.status.success(),
        "the lock did not hold containerd.io"
    );
    let list = std::fs::read_to_string(target.join("/etc/dnf/plugins/versionlock.list")).unwrap();
    assert!(list.contains("containerd.io-0:1.6.33-3.1.el9"), "{list}");

    // Applying the plan again changes nothing.
    let changed: Vec<&Action> = actions.iter().filter(|a| target.apply(a)).collect();
    let changed: Vec<&&Action> = changed
        .iter()
        .filter(|a| !matches!(a, Action::FetchKey { .. }))
        .collect();
    assert!(changed.is_empty(), "a second pass changed: {changed:?}");
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn zypper_installs_the_pinned_package_and_locks_it() {
    require(&[RPM_TOOLS, &["zypper"]].concat());
    let repo = RpmRepo::build();
    let server = HttpServer::serve(&repo.mirror, &repo.log_dir().join("http.log"));
    // No runtime plugin adds a vendor repository on SUSE that plans today (containerd and
    // docker use the distro's packages there), so the signed repository stands in for the
    // distro's archive, added the way a SUSE system has it: its key trusted by rpm, metadata
    // signature checked by zypper.
    let mut target = RpmTarget::new(Manager::Zypper);
    let key = repo.mirror.join("linux/centos/gpg");
    crate::support::check(
        std::process::Command::new("rpm")
            .arg("--root")
            .arg(&target.root)
            .arg("--import")
            .arg(&key),
    );
    crate::support::check(target.manager_cmd().args([
        "addrepo",
        &format!("{}/linux/centos/9/x86_64/stable", server.url()),
        "distro-oss",
    ]));
    crate::support::check(target.manager_cmd().args(["refresh"]));

    let plan = plan(
        None,
        &strings(&[
            "--distro",
            "opensuse-leap-15",
            "--runtime",
            "containerd",
            "--source",
            "distro",
            "--version",
            "1.6",
        ]),
    );
    let actions = package_actions(&plan);
    for action in &actions {
        target.apply(action);
    }
    let installed = crate::support::check(std::process::Command::new("rpm").args([
        "--root",
        target.root.to_str().unwrap(),
        "-q",
        "containerd",
    ]));
    assert!(
        installed.starts_with("containerd-1.6.23-150000.1"),
        "{installed}\n{:#?}",
        target.log
    );
    let locks = std::fs::read_to_string(target.join("/etc/zypp/locks")).unwrap();
    assert!(locks.contains("solvable_name: containerd"), "{locks}");
    let upgrade = target
        .manager_cmd()
        .args(["install", "containerd=1.7.13"])
        .output()
        .unwrap();
    assert!(
        !upgrade.status.success(),
        "the lock did not hold containerd"
    );
    let changed: Vec<&Action> = actions.iter().filter(|a| target.apply(a)).collect();
    assert!(changed.is_empty(), "a second pass changed: {changed:?}");
}
