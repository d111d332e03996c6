//! `installer render --format sh`: the script passes `sh -n` and shellcheck for every built-in
//! distro, quotes every value, and reads like the plan. Snapshots (reviewed) of the plan text
//! and the script for one distro of each package manager.

use std::process::Command;

use crate::util::{Installer, PluginDir};

pub(crate) fn builtin_distros() -> Vec<String> {
    let out = Installer::with_defaults()
        .args(["distros", "list", "--output", "json"])
        .run()
        .code(0);
    out.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn render(dir: &PluginDir, distro: &str, extra: &[&str]) -> String {
    let out = Installer::isolated(dir.path())
        .args([
            "render",
            "--format",
            "sh",
            "--distro",
            distro,
            "--runtime",
            "test-runtime",
            "--cgroup-driver",
            "systemd",
            // Both node facts fixed: one plan, not one per kind of node.
            "--arch",
            "x86_64",
        ])
        .args(extra)
        .run()
        .code(0);
    out.stdout
}

/// Runs shellcheck (scripts/test-all installs it; missing, the test fails saying so).
pub(crate) fn shellcheck(script: &str, what: &str) {
    assert!(
        Command::new("shellcheck").arg("--version").output().is_ok(),
        "this test needs shellcheck: apt-get install shellcheck (scripts/test-all does)"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let out = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "shellcheck of {what}:\n{}\n--- script\n{script}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn sh_n(script: &str, what: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let out = Command::new("sh")
        .arg("-n")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sh -n of {what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_builtin_distro_renders_a_script_that_passes_sh_n_and_shellcheck() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let distros = builtin_distros();
    assert!(distros.len() >= 20, "{distros:?}");
    for distro in &distros {
        for extra in [&[][..], &["--version", "1.6"][..]] {
            let script = render(&dir, distro, extra);
            sh_n(&script, distro);
            shellcheck(&script, distro);
        }
    }
}

#[test]
fn hostile_values_stay_inside_single_quotes() {
    // A value the option checks would refuse cannot reach a script; this one passes them
    // (spaces are fine in a fingerprint) and must still come out as one quoted word.
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let fpr = "0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567";
    let script = render(
        &dir,
        "debian-12",
        &["--set", &format!("test-runtime.fingerprint={fpr}")],
    );
    assert!(
        script.contains("'0123456789ABCDEF0123456789ABCDEF01234567'"),
        "normalised and quoted:\n{script}"
    );
    let modprobes: Vec<&str> = script.lines().filter(|l| l.contains("modprobe")).collect();
    // Each module loaded once, quoted; a script without them would pass no loop.
    assert_eq!(modprobes.len(), 2, "{script}");
    for line in modprobes {
        assert!(
            line.contains("'modprobe' 'overlay'") || line.contains("'modprobe' 'br_netfilter'"),
            "{line}"
        );
    }
}

#[test]
fn the_script_writes_files_and_runs_commands_as_the_plan_says() {
    // Run the rendered script's file-writing part for real, under a scratch directory: the
    // prelude's write_file must be atomic-by-rename, idempotent, and keep a backup.
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let script = render(&dir, "debian-12", &[]);
    let prelude_end = script.find("# Preflight").expect("a preflight section");
    let scratch = tempfile::tempdir().unwrap();
    let target = scratch.path().join("etc/modules-load.d/k8s.conf");
    let t = target.to_str().unwrap();
    let body = format!(
        "{}\nwrite_file '{t}' 0644 'overlay\nbr_netfilter\n'\nwrite_file '{t}' 0644 'overlay\nbr_netfilter\n'\nprintf '%s\\n' \"$changed\"\nwrite_file '{t}' 0600 'other\n'\n",
        &script[..prelude_end]
    );
    // Backups go under $INSTALLER_BACKUPS (the target's /var/lib/installer by default).
    let backups = scratch.path().join("backups");
    let out = Command::new("sh")
        .arg("-c")
        .arg(&body)
        .env("INSTALLER_BACKUPS", &backups)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        changed.matches(t).count(),
        1,
        "the second identical write changed nothing: {changed}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "other\n");
    assert_eq!(
        std::fs::read_to_string(format!("{}{t}", backups.display())).unwrap(),
        "overlay\nbr_netfilter\n"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".installer."))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left");
}

#[test]
fn resolve_version_in_the_script_matches_whole_components_only() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let script = render(&dir, "debian-12", &[]);
    let prelude_end = script.find("# Preflight").unwrap();
    // apt-cache madison output shape: name | version | source
    let listing = " docker-ce | 5:24.0.7-1~debian.12~bookworm | https://x stable/amd64 Packages\n docker-ce | 5:24.0.9-1~debian.12~bookworm | https://x stable/amd64 Packages\n docker-ce | 5:24.04.1-1 | https://x stable/amd64 Packages\n other | 5:24.0.99 | https://x\n";
    let body = format!(
        "{}\nprintf '%s' '{listing}' | resolve_version 24.0 0 1 '|' docker-ce\n",
        &script[..prelude_end]
    );
    let out = Command::new("sh").arg("-c").arg(&body).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "5:24.0.9-1~debian.12~bookworm",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An exported ed25519 key made by gpg in `home`, expiring after `expiry`, with more gpg
/// options (a faked clock); and its fingerprint.
pub fn exported_key(
    home: &std::path::Path,
    uid: &str,
    expiry: &str,
    options: &[&str],
) -> (Vec<u8>, String) {
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", home)
            .args(["--batch", "--quiet"])
            .args(options)
            .args(args)
            .output()
            .expect("gpg runs");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        uid,
        "ed25519",
        "sign",
        expiry,
    ]);
    let colons = String::from_utf8(gpg(&["--with-colons", "--list-keys", uid])).unwrap();
    let fpr = colons
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').nth(8))
        .expect("a fingerprint")
        .to_owned();
    (gpg(&["--export", uid]), fpr)
}

#[test]
fn the_scripts_key_check_refuses_an_expired_key_and_leaves_no_gnupg_home() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let script = render(&dir, "debian-12", &[]);
    let prelude = &script[..script.find("# Preflight").unwrap()];
    let tmp = tempfile::tempdir().unwrap();
    let (keyring, home) = (tmp.path().join("keyring"), tmp.path().join("home"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&keyring).unwrap();
    std::fs::set_permissions(
        &keyring,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let (fresh, fresh_fpr) = exported_key(&keyring, "fresh <f@example.org>", "never", &[]);
    // Made on 2020-01-01 to expire a day later, as gpg's faked clock allows.
    let (old, old_fpr) = exported_key(
        &keyring,
        "old <o@example.org>",
        "1d",
        &["--faked-system-time", "20200101T000000"],
    );
    std::fs::write(tmp.path().join("fresh.gpg"), &fresh).unwrap();
    std::fs::write(tmp.path().join("old.gpg"), &old).unwrap();
    let body = format!(
        "{prelude}\ncd {dir}\nkey_found fresh.gpg; key_found old.gpg\n\
         key_is fresh.gpg {fresh_fpr} && echo fresh-is-done\n\
         key_is old.gpg {old_fpr} || echo old-is-fetched-again\n",
        dir = tmp.path().display()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&body)
        .env("HOME", &home)
        .env_remove("GNUPGHOME")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{fresh_fpr}\nexpired:{old_fpr}\nfresh-is-done\nold-is-fetched-again\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // fetch_key itself: an expired pinned key is refused and nothing is stored; a good one
    // is stored as served.
    let fetch = |key: &[u8], fpr: &str, dest: &str| {
        let served = crate::util::Serve::bytes(key.to_vec());
        let body = format!(
            "{prelude}\ncd {dir}\nfetch_key {url} {dest} {fpr}\n",
            dir = tmp.path().display(),
            url = served.url
        );
        Command::new("sh")
            .arg("-c")
            .arg(&body)
            .env("HOME", &home)
            .env_remove("GNUPGHOME")
            .output()
            .unwrap()
    };
    let out = fetch(&old, &old_fpr, "stored-old.gpg");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("has expired") && stderr.contains("nothing stored"),
        "{stderr}"
    );
    assert!(!tmp.path().join("stored-old.gpg").exists());
    let out = fetch(&fresh, &fresh_fpr, "stored-fresh.gpg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(tmp.path().join("stored-fresh.gpg")).unwrap(),
        fresh
    );
    // gpg read in a home of its own: root's ~/.gnupg is not made.
    assert!(!home.join(".gnupg").exists());
}

#[test]
fn snapshots_of_plan_text_and_script_per_package_manager() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    for distro in ["debian-12", "centos-7", "rocky-9", "opensuse-leap-15"] {
        let args = [
            "--distro",
            distro,
            "--runtime",
            "test-runtime",
            "--cgroup-driver",
            "systemd",
            "--version",
            "1.6",
            "--arch",
            "x86_64",
        ];
        let text = Installer::isolated(dir.path())
            .arg_list(["plan"])
            .arg_list(args)
            .run()
            .code(0)
            .stdout;
        // Plugin files are named with where they were loaded from: a fresh directory.
        let text = text.replace(dir.path().to_str().unwrap(), "[PLUGIN-DIR]");
        insta::assert_snapshot!(format!("plan-{distro}"), text);
        let script = Installer::isolated(dir.path())
            .arg_list(["render", "--format", "sh"])
            .arg_list(args)
            .run()
            .code(0)
            .stdout;
        insta::assert_snapshot!(format!("render-sh-{distro}"), script);
    }
}

#[test]
fn help_is_reviewed_like_code() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help-plan", &["plan", "--help"][..]),
        ("help-run", &["run", "--help"][..]),
        ("help-verify", &["verify", "--help"][..]),
        ("help-preflight", &["preflight", "--help"][..]),
        ("help-migrate", &["migrate", "--help"][..]),
    ] {
        let out = Installer::with_defaults()
            .without_env("INSTALLER_NO_DEFAULT_PLUGIN_DIRS")
            .args(args)
            .env("COLUMNS", "100")
            .run()
            .code(0);
        insta::assert_snapshot!(name, out.stdout);
    }
}

#[test]
fn a_root_path_with_a_newline_cannot_put_a_command_into_the_script() {
    let dir = PluginDir::new()
        .with_workspace_plugins()
        .with_fixture("test-runtime");
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("rv\ntouch /tmp/installer-injected #");
    std::fs::create_dir_all(&root).unwrap();
    let out = Installer::isolated(dir.path())
        .args([
            "render",
            "--format",
            "sh",
            "--distro",
            "debian-12",
            "--runtime",
            "test-runtime",
            "--root",
        ])
        .arg_list([&root])
        .run()
        .code(0);
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("touch")),
        "a comment was split into a command:\n{}",
        out.stdout
    );
    sh_n(&out.stdout, "newline root");
}

#[test]
fn the_design_cards_command_plans_and_renders_with_no_other_flag() {
    // `installer run --distro debian-10 --runtime cri-o`, as users quote it: a version and a
    // pinned key come from the pack and the plugin, each with its reason in the plan.
    let dir = PluginDir::new().with_workspace_plugins();
    let plan = Installer::isolated(dir.path())
        .args([
            "plan",
            "--distro",
            "debian-10",
            "--runtime",
            "cri-o",
            "--output",
            "json",
        ])
        .run()
        .code(0)
        .json();
    assert_eq!(plan["facts"]["version"], "1.17");
    assert!(plan["facts"]["version_chosen"]
        .as_str()
        .is_some_and(|w| w.contains("crio.default_minor")));
    // Debian 10 is past its end of life: the plan says so, once.
    let eol = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| {
            w.as_str()
                .is_some_and(|w| w.contains("end of life on 2024-06-30"))
        })
        .count();
    assert_eq!(eol, 1, "{:#}", plan["warnings"]);
    let dry = Installer::isolated(dir.path())
        .args([
            "run",
            "--dry-run",
            "--distro",
            "debian-10",
            "--runtime",
            "cri-o",
        ])
        .run()
        .code(0);
    assert!(dry.stdout.contains("cri-o-1.17"), "{}", dry.stdout);
    let script = Installer::isolated(dir.path())
        .args([
            "render",
            "--format",
            "sh",
            "--distro",
            "debian-10",
            "--runtime",
            "cri-o",
        ])
        .run()
        .code(0)
        .stdout;
    assert!(script.contains("2472D6D0D2F66AF87ABA8DA34D64390375060AA4"));
    shellcheck(&script, "cri-o on debian-10 with no flags");
}

#[test]
fn the_scripts_shell_functions_pass_shellcheck_on_their_own() {
    // The files render/sh.rs puts into every script, read as they stand in the repository.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (file, excluded) in [
        ("render/prelude.sh", ""),
        ("render/edits.sh", ""),
        // `$downloads` is assigned by the script's preflight, not in this file.
        ("render/downloads.sh", "SC2154"),
    ] {
        let mut cmd = Command::new("shellcheck");
        cmd.arg("--shell=sh");
        if !excluded.is_empty() {
            cmd.args(["-e", excluded]);
        }
        let out = cmd.arg(src.join(file)).output().expect("shellcheck runs");
        assert!(
            out.status.success(),
            "{file}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn a_migration_renders_as_a_script_that_passes_shellcheck() {
    let root = crate::run::scratch_root();
    std::fs::create_dir_all(root.path().join("var/lib/kubelet")).unwrap();
    std::fs::write(
        root.path().join("var/lib/kubelet/kubeadm-flags.env"),
        "KUBELET_KUBEADM_ARGS=\"--network-plugin=cni\"\n",
    )
    .unwrap();
    let script = Installer::isolated(PluginDir::new().with_workspace_plugins().path())
        .args([
            "migrate",
            "--from",
            "docker",
            "--to",
            "containerd",
            "--drained",
            "--remove-docker",
        ])
        .args([
            "--node",
            "worker-1",
            "--kubernetes-version",
            "1.23",
            "--render",
            "sh",
            "--root",
        ])
        .arg_list([root.path()])
        .run()
        .code(0)
        .stdout;
    for part in [
        "systemctl stop 'kubelet.service'",
        "systemctl disable 'docker.service'",
        "kubeadm_file env_flags '/var/lib/kubelet/kubeadm-flags.env'",
        "set '--container-runtime-endpoint' 'unix:///run/containerd/containerd.sock'",
        "kubeadm_file yaml_set '/var/lib/kubelet/config.yaml'",
        "'apt-get' '-o' 'DPkg::Lock::Timeout=120' 'remove' '-y' 'docker.io'",
    ] {
        assert!(script.contains(part), "{part} missing from:\n{script}");
    }
    shellcheck(&script, "migrate docker to containerd");
}

/// Asks cloud-init's own validator about `user_data`.
fn cloud_init_schema(user_data: &str, what: &str) {
    assert!(
        Command::new("cloud-init").arg("--version").output().is_ok(),
        "this test needs cloud-init: apt-get install cloud-init (scripts/test-all does)"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), user_data).unwrap();
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cloud-init schema refuses the user-data for {what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_builtin_pack_and_runtime_renders_user_data_cloud_init_accepts() {
    let dir = PluginDir::new().with_workspace_plugins();
    let mut rendered = 0;
    for distro in builtin_distros() {
        for runtime in ["containerd", "docker", "cri-o", "mcr"] {
            let args = [
                "--distro",
                distro.as_str(),
                "--runtime",
                runtime,
                "--kubernetes-version",
                "1.30",
            ];
            let out = Installer::isolated(dir.path())
                .args(["render", "--format", "cloud-init"])
                .args(args)
                .run();
            if out.code == 2 {
                continue; // a combination the matrix refuses (tests/cli/runtimes.rs)
            }
            assert_eq!(out.code, 0, "{distro} {runtime}: {}", out.stderr);
            assert!(out.stdout.starts_with("#cloud-config\n"), "{}", out.stdout);
            cloud_init_schema(&out.stdout, &format!("{distro} {runtime}"));
            // The script inside is exactly what `render --format sh` prints.
            let data: serde_json::Value = serde_yaml_ng::from_str(&out.stdout).unwrap();
            let script = Installer::isolated(dir.path())
                .args(["render", "--format", "sh"])
                .args(args)
                .run()
                .code(0)
                .stdout;
            assert_eq!(data["write_files"][0]["content"], script.as_str());
            assert_eq!(data["write_files"][0]["permissions"], "0700");
            assert_eq!(
                data["runcmd"][0],
                serde_json::json!(["sh", data["write_files"][0]["path"]])
            );
            rendered += 1;
        }
    }
    assert!(rendered >= 40, "only {rendered} combinations rendered");
}
