//! Faults in the middle of a run: a package that fails to install, a run killed with
//! SIGKILL, a key with the wrong fingerprint. Each leaves the root as it was, or as a next
//! run can finish.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::containerd::{assert_containerd_reads_our_config, MirrorSetup};
use crate::support::apt_repo::Variant;
use crate::support::root::DebianRoot;
use crate::support::run::{plugins_built, run};
use crate::support::{require, snapshot, wait_for};
use crate::util;

/// Files a site already has where the plan writes, with the site's own content.
const SITE_FILES: &[(&str, &str)] = &[
    (
        "/etc/modules-load.d/k8s.conf",
        "# the site's modules\nip_vs\n",
    ),
    ("/etc/sysctl.d/k8s.conf", "vm.swappiness = 10\n"),
];

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_package_that_fails_to_install_exits_1_and_restores_every_file() {
    let setup = MirrorSetup::new("broken-package", Variant::FailingPostinst);
    let root = &setup.root;
    for (path, content) in SITE_FILES {
        root.write(path, content);
    }
    let before = snapshot(&root.join("/etc"));

    let report = setup.run();
    report.expect_code(1);
    assert_eq!(report.json["status"], "failed", "{}", report.stdout);
    let error = &report.json["error"];
    let command = error["command"].to_string();
    assert!(command.contains("apt-get"), "{}", report.error_text());
    assert!(
        error["exit_status"].as_i64().is_some_and(|s| s != 0),
        "{}",
        report.error_text()
    );
    assert!(
        error["output_tail"]
            .as_str()
            .is_some_and(|t| t.contains("containerd.io")),
        "the output tail does not show what failed: {}",
        report.error_text()
    );

    // The report says what dpkg left half-done, and how to finish or remove it.
    let left = &error["left_behind"];
    assert!(
        left["state"]
            .as_str()
            .is_some_and(|s| s.lines().any(|l| l == "containerd.io half-configured")),
        "{}",
        report.error_text()
    );
    assert!(
        left["fix"].as_str().is_some_and(
            |f| f.contains("dpkg --configure -a") && f.contains("apt-get remove containerd.io")
        ),
        "{}",
        report.error_text()
    );
    for (path, content) in SITE_FILES {
        assert_eq!(&root.read(path), content, "{path} was not restored");
    }
    // Everything the run wrote in /etc is as it was: restored, or gone if it was new. apt's
    // and dpkg's own records of the half-installed package are theirs, not ours.
    let after = snapshot(&root.join("/etc"));
    for changed in report.files_changed() {
        let rel = PathBuf::from(changed.trim_start_matches('/'));
        let Ok(rel) = rel.strip_prefix("etc") else {
            continue;
        };
        assert_eq!(
            before
                .get(rel)
                .map(|(b, m)| (String::from_utf8_lossy(b), m)),
            after.get(rel).map(|(b, m)| (String::from_utf8_lossy(b), m)),
            "{changed} is not as it was before the run"
        );
    }
    assert!(
        !root.join("/etc/apt/sources.list.d/docker.list").exists()
            || before.contains_key(&PathBuf::from("apt/sources.list.d/docker.list")),
        "the repository added by the failed run is still there"
    );
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_run_killed_mid_way_leaves_no_truncated_file_and_the_next_run_converges() {
    let setup = MirrorSetup::new("sigkill", Variant::Working);
    let root = &setup.root;
    for (path, content) in SITE_FILES {
        root.write(path, content);
    }
    plugins_built();

    // Killed right after dpkg has configured the package: the installer is then holding the
    // package, editing config.toml and checking it, within a second or so.
    let log = root.scratch().join("killed-run.log");
    let mut child = Command::new(util::bin())
        .env("NO_COLOR", "1")
        .args(["run", "--yes", "--output", "json", "--root"])
        .arg(root.path())
        .args(setup.selection())
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(root.scratch().join("killed-run.stderr")).unwrap())
        .spawn()
        .unwrap();
    let status = root.join("/var/lib/dpkg/status");
    let configured = wait_for(Duration::from_secs(300), Duration::from_millis(1), || {
        fs::read_to_string(&status).is_ok_and(|s| {
            s.split("\n\n").any(|stanza| {
                stanza.contains("Package: containerd.io\n") && stanza.contains("ok installed\n")
            })
        })
    });
    let still_running = matches!(child.try_wait(), Ok(None));
    let killed_at = Instant::now();
    let _ = child.kill();
    let _ = child.wait();
    assert!(configured, "containerd.io was never installed");
    assert!(
        still_running,
        "the run finished before it could be killed; see {}",
        log.display()
    );

    // The killed installer's own children (apt, dpkg) may still be finishing, in the root.
    wait_for(Duration::from_secs(120), Duration::from_millis(100), || {
        crate::support::processes_rooted_in(root.path()).is_empty()
    });

    // Every file the plan writes is whole: the site's version, or the new one.
    for (path, content) in SITE_FILES {
        let now = root.read(path);
        assert!(
            now == *content || now.lines().count() >= 2,
            "{path} is truncated: {now:?}"
        );
    }
    let config = root.join("/etc/containerd/config.toml");
    if config.exists() {
        let text = fs::read_to_string(&config).unwrap();
        text.parse::<toml::Table>().unwrap_or_else(|e| {
            panic!("config.toml is not whole TOML after SIGKILL ({e}):\n{text}")
        });
    }
    eprintln!(
        "killed {:.0} ms after containerd.io was configured",
        killed_at.elapsed().as_millis()
    );

    // The next run finds the journal of the killed one, still marked running, and refuses
    // to pile a second half-run on the first: it names the journal and the fix.
    let refused = run(root.path(), &setup.selection());
    refused.expect_code(1);
    let message = refused.error_text();
    assert!(
        message.contains("interrupted") && message.contains("installer rollback"),
        "{message}"
    );
    // `installer rollback` puts back every file the killed run changed.
    let rollback = Command::new(util::bin())
        .env("NO_COLOR", "1")
        .args(["rollback", "--output", "json", "--root"])
        .arg(root.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let rollback_out = String::from_utf8_lossy(&rollback.stdout);
    assert_eq!(
        rollback.status.code(),
        Some(0),
        "{rollback_out}{}",
        String::from_utf8_lossy(&rollback.stderr)
    );
    let restored: serde_json::Value = serde_json::from_str(&rollback_out).unwrap();
    for (path, content) in SITE_FILES {
        assert_eq!(&root.read(path), content, "{path} was not rolled back");
        assert!(
            restored["restored"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == path),
            "{path} not reported restored: {rollback_out}"
        );
    }

    let next = run(root.path(), &setup.selection());
    next.expect_code(0);
    assert_containerd_reads_our_config(root);
    let held = root.sh(&["apt-mark", "showhold"]);
    assert!(held.lines().any(|l| l == "containerd.io"), "{held:?}");
    let audit = root.sh(&["dpkg", "--audit"]);
    assert!(audit.trim().is_empty(), "dpkg is not clean: {audit}");
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_key_with_the_wrong_fingerprint_writes_nothing_under_etc_apt() {
    let setup = MirrorSetup::new("wrong-fingerprint", Variant::Working);
    let root = &setup.root;
    let before = snapshot(&root.join("/etc/apt"));
    // The fingerprint of a different key: one more throw-away key.
    let other =
        crate::support::apt_repo::Gpg::generate(&root.scratch().join("other-gnupg"), "ed25519");
    let mut selection = setup.selection();
    let at = selection
        .iter()
        .position(|a| a.starts_with("containerd.key-fingerprint="))
        .unwrap();
    selection[at] = format!("containerd.key-fingerprint={}", other.fingerprint);

    let report = run(root.path(), &selection);
    assert_ne!(
        report.code, 0,
        "a key with the wrong fingerprint was accepted"
    );
    assert_eq!(report.code, 1, "{}\n{}", report.stdout, report.stderr);
    let said = format!("{}{}", report.error_text(), report.stderr);
    assert!(
        said.contains(&other.fingerprint) || said.to_lowercase().contains("fingerprint"),
        "the failure does not name the fingerprint: {said}"
    );
    assert_eq!(
        before,
        snapshot(&root.join("/etc/apt")),
        "the run wrote under /etc/apt"
    );
    assert!(root.installed_version("containerd.io").is_none());
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_buster_host_still_on_debians_mirrors_is_stopped_before_anything_changes() {
    require(&[]);
    let root = DebianRoot::fresh("buster-sources");
    // Debian 10 as most hosts still have it: sources on deb.debian.org, which dropped buster.
    root.write(
        "/etc/apt/sources.list",
        "deb http://deb.debian.org/debian buster main\ndeb http://security.debian.org/debian-security buster/updates main\n",
    );
    let before = snapshot(&root.join("/etc"));
    let report = run(
        root.path(),
        &crate::support::run::docker_from_debian(&["--distro", "debian-10"]),
    );
    // Refused before any change: exit 2, as for any state the plan cannot handle.
    report.expect_refused(&["archive.debian.org", "/etc/apt/sources.list"]);
    // The check ran first: no step before it changed anything, and no apt run began.
    assert_eq!(report.transactions(), 0);
    assert_eq!(
        snapshot(&root.join("/etc")),
        before,
        "a stopped run changed /etc"
    );
}

#[test]
#[ignore = "needs root and the Debian packages scripts/test-all installs: run with --run-ignored / --ignored"]
fn a_host_directory_mounted_inside_a_debian_root_is_refused_and_a_chroots_usual_mounts_are_covered()
{
    let setup = MirrorSetup::new("mounted-inside", Variant::Working);
    let root = &setup.root;
    // A chroot's usual setup: this host's proc, sys and dev mounted inside. The root's own
    // programs run over fresh ones, so these are allowed.
    let mounts = crate::support::mounts::Mounts::new(root);
    // And a host directory bound inside: through it, the root's programs would write here.
    let host_dir = root.scratch().join("host-data");
    fs::create_dir_all(&host_dir).unwrap();
    fs::write(host_dir.join("kept"), "host\n").unwrap();
    let point = root.join("/mnt/host");
    fs::create_dir_all(&point).unwrap();
    crate::support::check(
        Command::new("mount")
            .arg("--bind")
            .arg(&host_dir)
            .arg(&point),
    );
    let before = snapshot(&root.join("/etc"));

    let report = run(root.path(), &setup.selection());
    let _ = Command::new("umount").arg(&point).status();
    report.expect_refused(&[
        "/mnt/host is mounted inside the root",
        "umount -R",
        "nothing was changed",
    ]);
    assert_eq!(report.transactions(), 0);
    assert_eq!(
        snapshot(&root.join("/etc")),
        before,
        "a refused run changed /etc"
    );
    assert_eq!(fs::read_to_string(host_dir.join("kept")).unwrap(), "host\n");

    // Unbound, with proc, sys and dev still mounted inside, the run goes through.
    let report = run(root.path(), &setup.selection());
    report.expect_code(0);
    assert!(root.installed_version("containerd.io").is_some());

    // `verify` asks the root's own programs too (dpkg-query, containerd config dump): bound
    // again, they are not started, and the checks that need them say why.
    let (code, clean) = crate::verify::verify(root.path(), &setup.selection());
    assert_eq!(code, 0, "{clean:#}");
    crate::support::check(
        Command::new("mount")
            .arg("--bind")
            .arg(&host_dir)
            .arg(&point),
    );
    let (code, report) = crate::verify::verify(root.path(), &setup.selection());
    let _ = Command::new("umount").arg(&point).status();
    assert_ne!(code, 0, "{report:#}");
    assert!(
        report
            .to_string()
            .contains("/mnt/host is mounted inside the root"),
        "{report:#}"
    );
    drop(mounts);
}
