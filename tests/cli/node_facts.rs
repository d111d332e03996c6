//! A rendered script decides on the node what the user left `auto`: the machine architecture
//! and the cgroup driver. One script carries a plan per kind of node and picks one when it
//! runs; each of those plans is the plan `--arch`/`--cgroup-driver` would have fixed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::render::shellcheck;
use crate::util::{Installer, PluginDir};

fn render(dir: &PluginDir, extra: &[&str]) -> String {
    Installer::isolated(dir.path())
        .args([
            "render",
            "--format",
            "sh",
            "--distro",
            "debian-12",
            "--runtime",
            "containerd",
        ])
        .arg_list(extra)
        .run()
        .code(0)
        .stdout
}

/// The script's `plan_N` functions, by name, each body as written.
fn functions(script: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in script.lines() {
        if let Some((name, body)) = current.as_mut() {
            if line == "}" {
                out.insert(name.clone(), std::mem::take(body));
                current = None;
            } else {
                body.push_str(line);
                body.push('\n');
            }
        } else if let Some(name) = line
            .strip_prefix("plan_")
            .and_then(|l| l.strip_suffix("() {"))
        {
            current = Some((format!("plan_{name}"), String::new()));
        }
    }
    out
}

/// `(pattern, function)` for each branch of the final `case` that calls a plan.
fn branches(script: &str) -> Vec<(String, String)> {
    script
        .lines()
        .skip_while(|l| !l.starts_with("case \"$node_arch/$node_driver\""))
        .filter_map(|l| {
            let (pattern, call) = l.split_once(") ")?;
            let call = call.strip_suffix(" ;;")?;
            call.starts_with("plan_")
                .then(|| (pattern.to_owned(), call.to_owned()))
        })
        .collect()
}

/// The plan's steps as a script body, without the lines that say why the driver was chosen
/// (the flag's words differ from the node's).
fn steps_of(script: &str) -> String {
    let from = script.find("# Preflight").expect("a preflight section");
    script[from..]
        .lines()
        .filter(|l| !l.contains("as --cgroup-driver says") && !l.contains("decided on the node"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn one_script_carries_the_plan_for_each_kind_of_node() {
    let dir = PluginDir::new().with_workspace_plugins();
    let script = render(&dir, &[]);
    shellcheck(&script, "the script for every kind of node");
    let bodies = functions(&script);
    let case = branches(&script);
    assert_eq!(case.len(), 4, "two architectures × two drivers:\n{case:?}");
    for (arch, dpkg_arch, other_arch) in
        [("x86_64", "amd64", "arm64"), ("aarch64", "arm64", "amd64")]
    {
        for driver in ["systemd", "cgroupfs"] {
            let (_, function) = case
                .iter()
                .find(|(p, _)| p.split('|').any(|alt| alt == format!("{arch}/{driver}")))
                .unwrap_or_else(|| panic!("no branch for {arch}/{driver}: {case:?}"));
            let body = &bodies[function];
            // What the node decides shows in what the plan writes.
            assert!(
                body.contains(&format!("arch={dpkg_arch}")),
                "{function}:\n{body}"
            );
            assert!(
                !body.contains(&format!("arch={other_arch}")),
                "{function}:\n{body}"
            );
            let systemd = driver == "systemd";
            assert!(
                body.contains(&format!("SystemdCgroup = {systemd}")),
                "{function}"
            );
            // And it is the plan those facts fixed by flags give.
            let fixed = render(&dir, &["--arch", arch, "--cgroup-driver", driver]);
            assert!(!fixed.contains("plan_1()"), "both facts fixed: one plan");
            assert_eq!(steps_of(body), steps_of(&fixed), "{arch}/{driver}");
        }
    }
    // aarch64 is what Linux says; arm64 is matched too.
    assert!(
        case.iter().any(|(p, _)| p.contains("arm64/systemd")),
        "{case:?}"
    );

    // One fact fixed: a plan per value of the other.
    let by_arch = render(&dir, &["--cgroup-driver", "systemd"]);
    assert_eq!(branches(&by_arch).len(), 2, "{by_arch}");
    assert!(
        by_arch.contains("'SystemdCgroup' 'true'") && !by_arch.contains("'SystemdCgroup' 'false'")
    );
}

#[test]
fn the_script_runs_the_plan_for_the_node_it_runs_on() {
    let dir = PluginDir::new().with_workspace_plugins();
    let script = render(&dir, &[]);
    // Each plan replaced by one saying which it is, just before the case picks one: the real
    // plans would change this machine.
    let mut stubbed = String::new();
    for line in script.lines() {
        if line.starts_with("case \"$node_arch/$node_driver\"") {
            for name in functions(&script).keys() {
                stubbed.push_str(&format!("{name}() {{ echo {name}; }}\n"));
            }
        }
        stubbed.push_str(line);
        stubbed.push('\n');
    }
    // This machine's driver, as `run` would decide it.
    let driver = if Path::new("/run/systemd/system").is_dir()
        || Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
    {
        "systemd"
    } else {
        "cgroupfs"
    };
    let case = branches(&script);
    for uname in ["x86_64", "aarch64", "arm64", "riscv64"] {
        let bin = tempfile::tempdir().unwrap();
        let fake = bin.path().join("uname");
        std::fs::write(&fake, format!("#!/bin/sh\necho {uname}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(&stubbed)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.path().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match case
            .iter()
            .find(|(p, _)| p.split('|').any(|alt| alt == format!("{uname}/{driver}")))
        {
            Some((_, function)) => {
                assert!(out.status.success(), "{uname}: {stderr}");
                assert_eq!(stdout.trim(), function, "{uname}/{driver}");
            }
            None => {
                assert_eq!(out.status.code(), Some(2), "{uname}: {stdout}{stderr}");
                assert!(stdout.is_empty(), "no plan ran: {stdout}");
                assert!(stderr.contains(&format!("--arch {uname}")), "{stderr}");
            }
        }
    }
}

#[test]
fn arch_takes_either_spelling_and_refuses_an_unknown_one() {
    let dir = PluginDir::new().with_workspace_plugins();
    let plan = |arch: &str| {
        Installer::isolated(dir.path())
            .args([
                "plan",
                "--distro",
                "debian-12",
                "--runtime",
                "containerd",
                "--arch",
                arch,
                "--output",
                "json",
            ])
            .run()
    };
    for arch in ["aarch64", "arm64"] {
        let doc = plan(arch).code(0).json();
        assert_eq!(doc["distro"]["arch"], "arm64", "--arch {arch}");
    }
    let out = plan("sparc").code(2);
    let error = &out.json()["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("--arch: unknown architecture \"sparc\""),
        "{error:#}"
    );
    assert!(
        error["hint"].as_str().unwrap().contains("x86_64, aarch64"),
        "{error:#}"
    );
}

#[test]
fn an_image_root_of_another_architecture_gets_packages_of_its_own() {
    use crate::detect::root_with;
    // A Debian 12 image root whose /bin/sh is an aarch64 program (its ELF header is enough).
    let root = root_with("debian-12", "etc/os-release");
    let sh = root.path().join("bin/sh");
    std::fs::create_dir_all(sh.parent().unwrap()).unwrap();
    std::fs::write(
        &sh,
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\xb7\0 and the rest",
    )
    .unwrap();
    let dir = PluginDir::new().with_workspace_plugins();
    let run = |extra: &[&str]| {
        Installer::isolated(dir.path())
            .args([
                "plan",
                "--runtime",
                "containerd",
                "--output",
                "json",
                "--root",
            ])
            .arg_list([root.path()])
            .arg_list(extra)
            .run()
            .code(0)
            .json()
    };
    assert_eq!(
        run(&[])["distro"]["arch"],
        "arm64",
        "detected from the root"
    );
    assert_eq!(
        run(&["--distro", "debian-12"])["distro"]["arch"],
        "arm64",
        "named pack, same root"
    );
    assert_eq!(
        run(&["--arch", "x86_64"])["distro"]["arch"],
        "amd64",
        "--arch wins"
    );
    let detect = Installer::isolated(dir.path())
        .args(["detect", "--output", "json", "--root"])
        .arg_list([root.path()])
        .run()
        .code(0)
        .json();
    assert_eq!(detect["facts"]["arch"], "aarch64");
}
