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
fn a_program_the_root_has_does_not_run_as_this_hosts_root_without_bubblewrap() {
    let Way::Unavailable(why) = way(&["apt-get", "update"], false, &["apt-get"], &["no-bwrap"])
    else {
        panic!("ran without its confinement")
    };
    assert!(
        why.contains("`apt-get`") && why.contains("bubblewrap") && why.contains("install it"),
        "{why}"
    );
    // A probe too: the image's code runs as root either way.
    assert!(matches!(
        way(&["dpkg-query", "-W"], true, &["dpkg-query"], &["no-bwrap"]),
        Way::Unavailable(_)
    ));
    // installer chrooted into the image itself (`--root /` that is not the running system):
    // the programs are its own already, and run as they are.
    let own = ImageRoot {
        dir: Path::new("/"),
        ..root()
    };
    assert_eq!(
        decide_on(
            &["apt-get", "update"],
            false,
            &own,
            &["apt-get"],
            &["no-bwrap"]
        ),
        Way::Chroot
    );
}

#[test]
fn a_test_probe_is_answered_from_the_roots_files_even_where_the_root_has_test() {
    let answered = Way::Builtin(Builtin::Test {
        flag: 'd',
        path: "/etc/apt/keyrings".to_owned(),
    });
    let argv = ["test", "-d", "/etc/apt/keyrings"];
    assert_eq!(way(&argv, true, &["test"], &[]), answered);
    // Not as an action (it would change nothing), nor another flag, nor on installer's own
    // `/`, where the program is as much the image's as installer is.
    assert_eq!(way(&argv, false, &["test"], &[]), Way::Chroot);
    assert_eq!(
        way(&["test", "-x", "/usr/bin/x"], true, &["test"], &[]),
        Way::Chroot
    );
    let own = ImageRoot {
        dir: Path::new("/"),
        ..root()
    };
    assert_eq!(decide_on(&argv, true, &own, &["test"], &[]), Way::Chroot);
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

/// Every tool this host has, so that only the plan's words decide.
const ALL: &[&str] = &["dnf", "zypper", "rpm", "versionlock"];

#[test]
fn every_command_the_built_in_plugins_give_dnf_zypper_and_rpm_is_allowed() {
    // As `installer plan --output json` shows them for rocky-9, fedora-40, centos-7,
    // opensuse-leap-15 and sles-15 with containerd, docker, cri-o and mcr (distro and vendor
    // sources, pinned and not), with their resolve queries and removal steps
    // (plugins/yum, plugins/zypper, plugins/package-kit).
    for argv in [
        &[
            "dnf",
            "install",
            "-y",
            "containerd.io-<containerd.io@1.6>",
            "python3-dnf-plugin-versionlock",
        ][..],
        &["dnf", "install", "-y", "containerd.io-1.6.33-3.1.el9"],
        &[
            "yum",
            "install",
            "-y",
            "cri-o-<cri-o@1.6>",
            "yum-plugin-versionlock",
        ],
        &["dnf", "list", "--showduplicates", "containerd.io"],
        &["yum", "list", "--showduplicates", "cri-o"],
        &["dnf", "versionlock", "add", "docker-ee", "docker-ee-cli"],
        &["yum", "versionlock", "add", "containerd.io"],
        &["dnf", "remove", "-y", "--noautoremove", "docker-ce"],
        &["yum", "remove", "-y", "docker-ce"],
        &[
            "zypper",
            "--non-interactive",
            "addrepo",
            "--refresh",
            "--gpgcheck",
            "--name",
            "Mirantis Container Runtime stable-1.6",
            "https://repos.mirantis.com/sles/15/$basearch/stable-1.6",
            "mirantis-mcr",
        ],
        &[
            "zypper",
            "--non-interactive",
            "addrepo",
            "--refresh",
            "--gpgcheck",
            "http://127.0.0.1:8/x",
            "test",
        ],
        &["zypper", "--non-interactive", "refresh", "mirantis-mcr"],
        &[
            "zypper",
            "--non-interactive",
            "install",
            "docker=<docker@1.6>",
            "containerd",
        ],
        &[
            "zypper",
            "--non-interactive",
            "addlock",
            "docker-ee",
            "docker-ee-cli",
        ],
        &["zypper", "--non-interactive", "removelock", "docker"],
        &["zypper", "--non-interactive", "remove", "docker"],
        &[
            "zypper",
            "--non-interactive",
            "search",
            "--details",
            "--match-exact",
            "--type",
            "package",
            "containerd",
        ],
        &["zypper", "search", "-s", "docker"],
        &["rpm", "--import", "/etc/pki/rpm-gpg/docker-ce-stable.asc"],
        &["rpm", "-q", "gpg-pubkey-621e9f35"],
        &[
            "rpm",
            "-q",
            "containerd.io",
            "cri-dockerd-ee",
            "docker-ee-<docker-ee@1.6>",
        ],
        &["rpm", "-q", "--quiet", "docker-ce"],
        &["rpm", "-e", "docker-ce"],
    ] {
        let w = way(argv, false, &[], ALL);
        assert!(matches!(w, Way::BuildHost(_)), "{argv:?}: {w:?}");
    }
}

#[test]
fn any_other_option_or_subcommand_is_refused_naming_it_and_the_fix() {
    for (argv, named) in [
        // dnf takes prefixes of its long options, and keeps the last value given.
        (
            &["dnf", "--installr=/x", "install", "x"][..],
            "--installr=/x",
        ),
        (&["dnf", "install", "--installr=/x", "x"], "--installr=/x"),
        (
            &["dnf", "install", "-y", "--setop=pluginpath=/tmp", "x"],
            "--setop=pluginpath=/tmp",
        ),
        (
            &["dnf", "install", "--conf=/etc/dnf/dnf.conf", "x"],
            "--conf=/etc/dnf/dnf.conf",
        ),
        (&["dnf", "install", "--enablep=*", "x"], "--enablep=*"),
        (&["dnf", "install", "--pluginp=/tmp", "x"], "--pluginp=/tmp"),
        (
            &["dnf", "install", "--pluginpath=/tmp", "x"],
            "--pluginpath=/tmp",
        ),
        (
            &["dnf", "--installroot=/", "install", "x"],
            "--installroot=/",
        ),
        (
            &["dnf", "--setopt=pluginpath=/tmp", "install", "x"],
            "--setopt=pluginpath=/tmp",
        ),
        // Bundled short options.
        (&["dnf", "install", "-yc", "/etc/dnf/dnf.conf", "x"], "-yc"),
        (&["dnf", "-c", "/etc/dnf/dnf.conf", "install", "x"], "-c"),
        (&["dnf", "-y", "install", "x"], "-y"),
        (&["rpm", "-q", "-vE", "%(id)"], "-vE"),
        (&["rpm", "-q", "-vD", "x 1"], "-vD"),
        (&["zypper", "-nR", "/", "install", "x"], "-nR"),
        (&["zypper", "-nC", "/x", "install", "x"], "-nC"),
        (
            &["zypper", "--non-interactive", "install", "-R", "/", "x"],
            "-R",
        ),
        (&["zypper", "--root", "/", "install", "x"], "--root"),
        (&["zypper", "-R", "/", "install", "x"], "-R"),
        // rpm's other ways to another root or to run code.
        (&["rpm", "-q", "-r", "/", "x"], "-r"),
        (&["rpm", "--import", "--load", "/tmp/m", "/k"], "--load"),
        (&["rpm", "-q", "--predefine", "x 1", "x"], "--predefine"),
        (&["rpm", "-q", "--dbpath", "/var/lib/rpm", "x"], "--dbpath"),
        (&["rpm", "-q", "--pipe", "sh", "x"], "--pipe"),
        // An option's value, or a word, that is an option in disguise; `--`.
        (
            &[
                "zypper",
                "--non-interactive",
                "addrepo",
                "--name",
                "-R/",
                "u",
                "i",
            ],
            "-R/",
        ),
        (&["dnf", "install", "-y", "--", "x"], "--"),
        // A mode or subcommand no plugin asks for.
        (&["rpm", "--eval", "%(id)"], "--eval"),
        (&["rpm", "-E", "%(id)"], "-E"),
        (&["rpm", "-r", "/", "-q", "x"], "-r"),
        (&["rpm", "-qa"], "-qa"),
        (&["rpm", "--load", "/tmp/m", "-q", "x"], "--load"),
        (&["dnf", "shell", "/tmp/script"], "shell"),
        (
            &["dnf", "config-manager", "--add-repo", "u"],
            "config-manager",
        ),
        (&["zypper", "--non-interactive", "shell"], "shell"),
        (
            &["zypper", "--gpg-auto-import-keys", "refresh"],
            "--gpg-auto-import-keys",
        ),
    ] {
        let w = way(argv, false, &[], ALL);
        let Way::Unavailable(why) = &w else {
            panic!("{argv:?} was not refused: {w:?}")
        };
        assert!(
            why.contains(&format!("`{named}`"))
                && why.contains(&format!("`{}`", argv.join(" ")))
                && why.contains("Change the plugin's command")
                && why.contains("install `"),
            "{argv:?}: {why}"
        );
        // The same as a probe: it asks nothing of this host's tool.
        assert!(matches!(way(argv, true, &[], ALL), Way::Unavailable(_)));
    }
    for argv in [&["dnf"][..], &["rpm"], &["zypper", "--non-interactive"]] {
        let w = way(argv, false, &[], ALL);
        assert!(
            matches!(&w, Way::Unavailable(why) if why.contains("names no subcommand")),
            "{argv:?}: {w:?}"
        );
    }
    // What the plan passes is the plan's to fix, on any host; a root with the program
    // runs it chrooted, as it is.
    let w = way(&["dnf", "--installr=/", "install", "x"], false, &[], &[]);
    assert!(matches!(&w, Way::Unavailable(why) if why.contains("`--installr=/`")));
    assert_eq!(
        way(
            &["dnf", "--installr=/", "install", "x"],
            false,
            &["dnf"],
            ALL
        ),
        Way::Chroot
    );
}

#[test]
fn the_allowlist_is_summed_up_in_the_refusal() {
    assert_eq!(
        allow::summary("dnf"),
        "install -y, remove -y --noautoremove, list --showduplicates, versionlock"
    );
    assert!(allow::summary("zypper")
        .starts_with("--non-interactive before one of: addrepo --refresh --gpgcheck --name VALUE"));
    assert_eq!(allow::summary("rpm"), "--import, -q --quiet, -e");
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
fn a_file_leading_out_of_the_root_is_refused_in_the_decision_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("root");
    std::fs::create_dir_all(top.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc", top.join("etc/pki")).unwrap();
    let image = ImageRoot {
        dir: &top,
        ..root()
    };
    let import = |key: &str| decide_on(&["rpm", "--import", key], false, &image, &[], &["rpm"]);
    // A key under a link to this host's /etc: refused as the run is decided, not mid-run.
    let w = confine(import("/etc/pki/rpm-gpg/k.asc"), &top);
    let Way::Unavailable(why) = &w else {
        panic!("not refused: {w:?}")
    };
    assert!(
        why.contains("leads out of") && why.contains("fix the link in the image"),
        "{why}"
    );
    // One inside (not there yet: created inside) runs.
    let w = confine(import("/etc/keys/k.asc"), &top);
    assert!(
        matches!(&w, Way::BuildHost(c) if c.paths == ["/etc/keys/k.asc"]),
        "{w:?}"
    );
    // Other ways are left as they are.
    assert_eq!(confine(Way::Chroot, &top), Way::Chroot);
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
