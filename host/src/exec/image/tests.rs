use super::*;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn root() -> ImageRoot<'static> {
    ImageRoot {
        dir: Path::new("/img"),
        releasever: Some("9"),
        dbpath: Some("/var/lib/rpm"),
        db_backend: Some("sqlite"),
        versionlock_list: VERSIONLOCK_LIST,
        has_locks: false,
    }
}

fn decide_on(
    argv: &[&str],
    probe: bool,
    root: &ImageRoot,
    in_root: &[&str],
    on_host: &[&str],
) -> Way {
    let has = |p: &str| on_host.contains(&p) || (p == "bwrap" && !on_host.contains(&"no-bwrap"));
    let host = Host {
        has: &has,
        writes_backend: &|b| b == "sqlite",
        versionlock: &|| {
            Ok(on_host
                .contains(&"versionlock")
                .then(|| PathBuf::from("/plugins")))
        },
    };
    decide(
        &strings(argv),
        probe,
        root,
        &|p| in_root.contains(&p),
        &host,
    )
}

fn way(argv: &[&str], probe: bool, in_root: &[&str], on_host: &[&str]) -> Way {
    decide_on(argv, probe, &root(), in_root, on_host)
}

#[test]
fn a_program_the_root_has_runs_chrooted_even_a_package_manager() {
    assert_eq!(
        way(&["dnf", "install", "-y", "x"], false, &["dnf"], &["dnf"]),
        Way::Chroot
    );
    assert_eq!(
        way(&["modprobe", "x"], false, &["modprobe"], &[]),
        Way::Chroot
    );
}

#[test]
fn dnf_and_yum_missing_in_the_root_run_as_the_hosts_dnf_with_installroot() {
    for program in ["dnf", "yum"] {
        let Way::BuildHost(c) = way(&[program, "install", "-y", "x-1.6"], false, &[], &["dnf"])
        else {
            panic!("not on the host")
        };
        assert_eq!(
            c.argv,
            strings(&[
                "dnf",
                &format!("--config={SCRATCH}/dnf.conf"),
                "--disableplugin=*",
                "--installroot=/img",
                "--releasever=9",
                "install",
                "-y",
                "x-1.6"
            ])
        );
        let dnf = c.dnf.expect("dnf settings");
        assert_eq!(dnf.reposdir, Path::new("/img/etc/yum.repos.d"));
        assert_eq!(
            dnf.locklist,
            Path::new("/img/etc/dnf/plugins/versionlock.list")
        );
        assert_eq!(dnf.versionlock, None);
        assert_eq!(c.rpmdb.path, "/var/lib/rpm");
        assert_eq!(c.rpmdb.backend, "sqlite");
    }
    let Way::Unavailable(why) = way(&["dnf", "install"], false, &[], &[]) else {
        panic!("no host dnf")
    };
    assert!(
        why.contains("apt-get install dnf") && why.contains("/img"),
        "{why}"
    );
    let no_release = ImageRoot {
        releasever: None,
        ..root()
    };
    let w = decide_on(&["dnf", "install"], false, &no_release, &[], &["dnf"]);
    assert!(matches!(w, Way::Unavailable(why) if why.contains("rpm.releasever")));
}

#[test]
fn versionlock_is_the_only_dnf_plugin_and_only_when_used_and_there() {
    let lock = ["dnf", "versionlock", "add", "x-1.6"];
    let Way::BuildHost(c) = way(&lock, false, &[], &["dnf", "versionlock"]) else {
        panic!("not on the host")
    };
    assert!(c.argv.contains(&"--disableplugin=*".to_owned()));
    assert!(c.argv.contains(&"--enableplugin=versionlock".to_owned()));
    assert_eq!(c.dnf.unwrap().versionlock, Some(PathBuf::from("/plugins")));
    // No plugin on this host: refused before anything changes, with the fix.
    let Way::Unavailable(why) = way(&lock, false, &[], &["dnf"]) else {
        panic!("refused")
    };
    assert!(
        why.contains("INSTALLER_DNF_PLUGIN_PATH") && why.contains("dnf-plugins-core"),
        "{why}"
    );
    // A root that holds locks: its installs honour them, as its own dnf would.
    let locked = ImageRoot {
        has_locks: true,
        ..root()
    };
    let w = decide_on(
        &["dnf", "install", "-y", "x"],
        false,
        &locked,
        &[],
        &["dnf", "versionlock"],
    );
    assert!(
        matches!(w, Way::BuildHost(c) if c.argv.contains(&"--enableplugin=versionlock".to_owned()))
    );
}

#[test]
fn the_plugin_path_is_one_plain_absolute_path() {
    use std::ffi::OsStr;
    assert_eq!(dnf_plugin_path(None), Ok(None));
    assert_eq!(
        dnf_plugin_path(Some(OsStr::new("/opt/dnf-plugins_1.0"))),
        Ok(Some(PathBuf::from("/opt/dnf-plugins_1.0")))
    );
    for bad in [
        "/x\npluginconfpath=/evil",
        "relative",
        "/a b",
        "/a/../b",
        "/a%{x}",
        "/a,/b",
        "/$HOME",
    ] {
        assert!(dnf_plugin_path(Some(OsStr::new(bad))).is_err(), "{bad:?}");
    }
}

#[test]
fn without_bubblewrap_or_a_writable_database_nothing_runs_on_the_host() {
    let Way::Unavailable(why) = way(&["rpm", "--import", "/k"], false, &[], &["rpm", "no-bwrap"])
    else {
        panic!("refused")
    };
    assert!(
        why.contains("apt-get install bubblewrap") && why.contains("/img"),
        "{why}"
    );
    let ndb = ImageRoot {
        db_backend: Some("ndb"),
        ..root()
    };
    let Way::Unavailable(why) =
        decide_on(&["zypper", "install", "x"], false, &ndb, &[], &["zypper"])
    else {
        panic!("refused")
    };
    assert!(
        why.contains("`ndb`") && why.contains("rpm.db_backend"),
        "{why}"
    );
    let unknown = ImageRoot {
        dbpath: None,
        ..root()
    };
    let w = decide_on(&["rpm", "-q", "x"], false, &unknown, &[], &["rpm"]);
    assert!(matches!(w, Way::Unavailable(why) if why.contains("rpm.dbpath")));
}

#[test]
fn options_that_point_a_host_tool_elsewhere_are_refused() {
    for argv in [
        &["dnf", "--installroot=/", "install", "x"][..],
        &["dnf", "-c", "/etc/dnf/dnf.conf", "install", "x"],
        &["dnf", "--setopt=pluginpath=/tmp", "install", "x"],
        &["zypper", "--root", "/", "install", "x"],
        &["zypper", "-R", "/", "install", "x"],
        &["rpm", "--dbpath", "/var/lib/rpm", "-q", "x"],
        &["rpm", "--eval", "%(id)"],
        &["rpm", "-E", "%(id)"],
        &["rpm", "--pipe", "sh", "-qa"],
    ] {
        let w = way(argv, false, &[], &["dnf", "zypper", "rpm", "versionlock"]);
        assert!(
            matches!(&w, Way::Unavailable(why) if why.contains("installer sets the root")),
            "{argv:?}: {w:?}"
        );
    }
    assert!(matches!(
        way(
            &[
                "zypper",
                "--non-interactive",
                "--gpg-auto-import-keys",
                "refresh"
            ],
            false,
            &[],
            &["zypper"]
        ),
        Way::BuildHost(_)
    ));
}

#[test]
fn zypper_and_rpm_get_their_root_option_and_rpms_files_are_the_roots() {
    let Way::BuildHost(c) = way(
        &["zypper", "--non-interactive", "addlock", "c"],
        false,
        &[],
        &["zypper"],
    ) else {
        panic!("not on the host")
    };
    assert_eq!(
        c.argv,
        strings(&[
            "zypper",
            "--root",
            "/img",
            "--non-interactive",
            "addlock",
            "c"
        ])
    );
    assert!(c.paths.is_empty() && c.dnf.is_none());
    let Way::BuildHost(c) = way(&["rpm", "--import", "/etc/pki/k.asc"], false, &[], &["rpm"])
    else {
        panic!("not on the host")
    };
    assert_eq!(
        c.argv,
        strings(&["rpm", "--root", "/img", "--import", "/img/etc/pki/k.asc"])
    );
    assert_eq!(c.paths, strings(&["/etc/pki/k.asc"]));
}

#[test]
fn what_installer_does_itself_and_what_it_refuses() {
    assert_eq!(
        way(
            &["install", "-d", "-m", "0755", "/etc/pki/rpm-gpg"],
            false,
            &[],
            &[]
        ),
        Way::Builtin(Builtin::MakeDirs {
            mode: 0o755,
            dirs: strings(&["/etc/pki/rpm-gpg"])
        })
    );
    assert_eq!(
        way(&["test", "-f", "/etc/zypp/repos.d/x.repo"], true, &[], &[]),
        Way::Builtin(Builtin::Test {
            flag: 'f',
            path: "/etc/zypp/repos.d/x.repo".to_owned()
        })
    );
    assert_eq!(
        way(
            &["sed", "-n", "-r", "-e", "s/a/b/p", "/etc/l"],
            true,
            &[],
            &["sed"]
        ),
        Way::Builtin(Builtin::Filter {
            argv: strings(&["sed", "--sandbox", "-n", "-r", "-e", "s/a/b/p"]),
            path: "/etc/l".to_owned()
        })
    );
    // Only probes are answered, and only with options that read.
    assert!(matches!(
        way(&["test", "-f", "/x"], false, &[], &[]),
        Way::Unavailable(_)
    ));
    assert!(matches!(
        way(&["sed", "-i", "s/a/b/", "/etc/l"], true, &[], &[]),
        Way::Unavailable(_)
    ));
    assert!(matches!(
        way(&["grep", "-f", "/etc/patterns", "/etc/l"], true, &[], &[]),
        Way::Unavailable(_)
    ));
    let Way::Unavailable(why) = way(&["systemctl", "daemon-reload"], false, &[], &["systemctl"])
    else {
        panic!("a host's systemctl never stands in")
    };
    assert!(
        why.contains("`systemctl` is not installed in /img"),
        "{why}"
    );
}

#[test]
fn a_path_handed_to_a_host_tool_must_not_lead_out_of_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc/zypp")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("etc/up")).unwrap();
    std::os::unix::fs::symlink("/nonexistent-w5", root.join("etc/dangling")).unwrap();
    std::os::unix::fs::symlink("../etc", root.join("etc/here")).unwrap();
    assert!(
        inside(&root, "/var/lib/rpm"),
        "missing is fine: created inside"
    );
    assert!(inside(&root, "/etc/here/x"));
    assert!(!inside(&root, "/etc/zypp/locks"));
    assert!(!inside(&root, "/etc/up/x"));
    assert!(!inside(&root, "/etc/dangling"));
}

#[test]
fn named_paths_are_the_deep_absolute_words_of_a_command() {
    let argv = strings(&[
        "find",
        "/etc",
        "-maxdepth",
        "2",
        "-path",
        "/etc/containerd/config.toml",
        "-exec",
        "grep",
        "-qE",
        "^[[:space:]]*version[[:space:]]*=",
        "{}",
    ]);
    assert_eq!(
        named_paths(&argv),
        strings(&["/etc/containerd/config.toml"])
    );
    let script = strings(&[
        "sh",
        "-c",
        "f=/etc/containerd/config.toml; find /etc/containerd -mindepth 2 -name '*.toml'",
    ]);
    assert_eq!(
        named_paths(&script),
        strings(&["/etc/containerd/config.toml", "/etc/containerd"])
    );
    assert!(named_paths(&strings(&["sed", "s/a/b/", "/etc"])).is_empty());
}
