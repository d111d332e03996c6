//! How a command of the plan runs on an image root (`--root DIR` that is not the live
//! system), decided in one place.
//!
//! An image root being built on another distribution's host (a Rocky or openSUSE root on a
//! Debian build host) has no package manager yet, so nothing can be chrooted into it. Image
//! builders then run the host's own package manager with its root option, and so do we:
//!
//! - a program the root has (an executable in one of its PATH directories, found through the
//!   [`Target`], links resolved inside it) runs chrooted into the root;
//! - otherwise `dnf`/`yum` run as the host's `dnf --installroot=ROOT --releasever=<the pack's
//!   rpm.releasever>`, with a configuration of ours that points its repositories and its
//!   versionlock list into the root (dnf reads the host's configuration, or one in the root
//!   that could name plugin code, unless told otherwise); `zypper` as `zypper --root ROOT`;
//!   `rpm` as `rpm --root ROOT`, a file it is given (`--import KEY`) taken inside the root;
//! - `install -d` (a directory made sure of) is done by installer itself through the target;
//!   a probe `test -f|-d|-e PATH` is answered through the target, and a probe `sed`/`grep`
//!   reading one file gets that file's content, read through the target, on its standard
//!   input (sed in `--sandbox`, so its script cannot write);
//! - anything else is unavailable: a command refuses the run before anything changes, naming
//!   the program, the root and the fix; a probe that cannot run says "no" (the command it
//!   guards runs), as on any target where a probe's program is missing.
//!
//! What the host's package manager keeps under the root (its database, caches, logs, repo
//! and lock files) it writes itself, as in any image build; every path we hand it must
//! resolve inside the root from the host's side too ([`inside`]), so that a link in the
//! image cannot send it elsewhere.

use std::path::{Path, PathBuf};

use super::Target;

/// The PATH commands run with (chrooted or not), and the directories a program is looked up
/// in inside the root.
pub(super) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Stands for the directory of the configuration installer writes for a host dnf run; the
/// executor puts the real one (made per run) in its place.
pub(crate) const DNF_CONF_DIR: &str = "<installer's dnf settings for this run>";

/// Where dnf's versionlock keeps its locks when the pack does not say: the yum plugin's own
/// default (plugins/yum/src/render.rs, `versionlock_list`).
const VERSIONLOCK_LIST: &str = "/etc/dnf/plugins/versionlock.list";
const YUM_VERSIONLOCK_LIST: &str = "/etc/yum/pluginconf.d/versionlock.list";

/// The rpm databases of rpm 4.16+ (`/usr/lib/sysimage/rpm`, EL 9, SUSE) and earlier.
const RPMDB: [&str; 2] = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"];

/// How one command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Way {
    /// The live system: the command as it is.
    Live,
    /// `chroot ROOT argv`: the root has the program.
    Chroot,
    /// The build host's program, pointed at the root by its own option.
    BuildHost(HostCommand),
    /// Done by installer through the target: the root lacks the program.
    Builtin(Builtin),
    /// Cannot run here; the message names the program, the root and the fix.
    Unavailable(String),
}

/// A host program acting on the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostCommand {
    /// The command line (with [`DNF_CONF_DIR`] where dnf's configuration goes).
    pub argv: Vec<String>,
    /// Paths inside the root the program is handed or keeps its state in: each must resolve
    /// inside the root from the host's side ([`inside`]).
    pub paths: Vec<String>,
    /// dnf's settings: the repositories' directory and the versionlock list, in the root.
    pub dnf: Option<DnfSettings>,
}

/// What the configuration of a host dnf run says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DnfSettings {
    /// The root's `.repo` files' directory, as a host path.
    pub reposdir: PathBuf,
    /// The root's versionlock list, as a host path.
    pub locklist: PathBuf,
}

/// What installer does itself in place of a program the root lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// `install -d [-m MODE] DIR...`.
    MakeDirs { mode: u32, dirs: Vec<String> },
    /// A probe `test -f|-d|-e PATH`.
    Test { flag: char, path: String },
    /// A probe reading one file with the host's `sed` or `grep`: `argv` without the file,
    /// which it reads on its standard input.
    Filter { argv: Vec<String>, path: String },
}

/// What the decision needs to know of the root.
pub(crate) struct ImageRoot<'a> {
    /// The root, as a host path.
    pub dir: &'a Path,
    /// The pack's `rpm.releasever`.
    pub releasever: Option<&'a str>,
    /// The file dnf's versionlock keeps its locks in, inside the root.
    pub versionlock_list: &'a str,
}

impl<'a> ImageRoot<'a> {
    /// The facts of `distro` for `dir`.
    pub fn new(dir: &'a Path, distro: &'a plugin_api::Distro) -> ImageRoot<'a> {
        let versionlock_list = match distro.vars.get("yum.versionlock_list") {
            Some(path) => path.as_str(),
            None if distro.package_manager == "yum" => YUM_VERSIONLOCK_LIST,
            None => VERSIONLOCK_LIST,
        };
        ImageRoot {
            dir,
            releasever: distro.vars.get("rpm.releasever").map(String::as_str),
            versionlock_list,
        }
    }

    fn join(&self, path: &str) -> PathBuf {
        self.dir.join(path.trim_start_matches('/'))
    }
}

/// Whether the root has `program`: a path as it is, a name in one of [`PATH`]'s directories.
pub(crate) fn root_has(target: &Target, program: &str) -> bool {
    if program.contains('/') {
        return target.is_executable(program);
    }
    PATH.split(':')
        .any(|dir| target.is_executable(&format!("{dir}/{program}")))
}

/// Whether this host has `program` on its PATH.
pub(crate) fn host_has(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH").unwrap_or_else(|| PATH.into());
    std::env::split_paths(&path)
        .chain(std::env::split_paths(PATH))
        .any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// How `argv` runs on the image root: `probe` when it only asks. `in_root` and `on_host`
/// say whether the root and the host have a program.
pub(crate) fn decide(
    argv: &[String],
    probe: bool,
    root: &ImageRoot,
    in_root: &dyn Fn(&str) -> bool,
    on_host: &dyn Fn(&str) -> bool,
) -> Way {
    let Some((program, args)) = argv.split_first() else {
        return Way::Unavailable("an empty command".to_owned());
    };
    if in_root(program) {
        return Way::Chroot;
    }
    let shown = root.dir.display();
    let name = program.rsplit('/').next().unwrap_or(program);
    let host = |tool: &str, package: &str| -> Result<(), Way> {
        if on_host(tool) {
            Ok(())
        } else {
            Err(Way::Unavailable(format!(
                "`{program}` is not installed in {shown}, and this host has no `{tool}` to run it for the root (`{tool} {}` is how an image root without one is served); install {package} on this host (apt-get install {package}), or install `{program}` in the root first",
                if tool == "dnf" { "--installroot" } else { "--root" }
            )))
        }
    };
    let state = |dirs: &[&str]| -> Vec<String> {
        dirs.iter()
            .chain(RPMDB.iter())
            .map(|d| (*d).to_owned())
            .collect()
    };
    let way = match name {
        "dnf" | "yum" => host("dnf", "dnf").and_then(|()| {
            let Some(releasever) = root.releasever else {
                return Err(Way::Unavailable(format!(
                    "`{program}` is not installed in {shown}, and the distro pack sets no `rpm.releasever` for this host's dnf to fill the root with (`dnf --installroot --releasever`); give the pack one"
                )));
            };
            let mut host_argv = vec![
                "dnf".to_owned(),
                format!("--config={DNF_CONF_DIR}/dnf.conf"),
                format!("--installroot={shown}"),
                format!("--releasever={releasever}"),
            ];
            host_argv.extend(args.iter().cloned());
            let mut paths = state(&["/etc/yum.repos.d", "/var/cache/dnf", "/var/lib/dnf", "/var/log"]);
            paths.push(root.versionlock_list.to_owned());
            Ok(HostCommand {
                argv: host_argv,
                paths,
                dnf: Some(DnfSettings {
                    reposdir: root.join("/etc/yum.repos.d"),
                    locklist: root.join(root.versionlock_list),
                }),
            })
        }),
        "zypper" => host("zypper", "zypper").map(|()| {
            let mut host_argv = vec!["zypper".to_owned(), "--root".to_owned(), shown.to_string()];
            host_argv.extend(args.iter().cloned());
            HostCommand {
                argv: host_argv,
                paths: state(&["/etc/zypp", "/var/cache/zypp", "/var/lib/zypp", "/var/log"]),
                dnf: None,
            }
        }),
        "rpm" => host("rpm", "rpm").map(|()| {
            let mut paths = state(&[]);
            let mut host_argv = vec!["rpm".to_owned(), "--root".to_owned(), shown.to_string()];
            // A file rpm is given (a key to import) is the root's: rpm --root reads it
            // from the host's side.
            for a in args {
                if a.starts_with('/') {
                    paths.push(a.clone());
                    host_argv.push(root.join(a).display().to_string());
                } else {
                    host_argv.push(a.clone());
                }
            }
            HostCommand {
                argv: host_argv,
                paths,
                dnf: None,
            }
        }),
        _ => Err(builtin(name, args, probe).map_or_else(
            || Way::Unavailable(format!(
                "`{program}` is not installed in {shown} (its PATH: {PATH}), and installer cannot run it for the root from this host; install it in the root first, or run installer inside the image"
            )),
            Way::Builtin,
        )),
    };
    match way {
        Ok(command) => Way::BuildHost(command),
        Err(way) => way,
    }
}

/// What installer does itself for a program the root lacks, when it knows how.
fn builtin(name: &str, args: &[String], probe: bool) -> Option<Builtin> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let absolute = |p: &str| p.starts_with('/');
    match (name, args.as_slice(), probe) {
        ("install", ["-d", rest @ ..], false) => {
            let (mode, dirs) = match rest {
                ["-m", mode, dirs @ ..] => (u32::from_str_radix(mode, 8).ok()?, dirs),
                dirs => (0o755, dirs),
            };
            (!dirs.is_empty() && dirs.iter().all(|d| absolute(d))).then(|| Builtin::MakeDirs {
                mode,
                dirs: dirs.iter().map(|d| (*d).to_owned()).collect(),
            })
        }
        ("test", [flag @ ("-f" | "-d" | "-e"), path], true) if absolute(path) => {
            Some(Builtin::Test {
                flag: flag.chars().nth(1).expect("two characters"),
                path: (*path).to_owned(),
            })
        }
        ("sed" | "grep", [options @ .., path], true) if absolute(path) => {
            // Only options that read and print: no file named by an option (sed -f, grep -f),
            // no in-place edit.
            let (plain, with_value): (&[&str], &[&str]) = if name == "sed" {
                (&["-n", "-r", "-E"], &["-e"])
            } else {
                (&["-q", "-x", "-F", "-E", "-v", "-c"], &["-e"])
            };
            let mut it = options.iter();
            while let Some(o) = it.next() {
                if with_value.contains(o) {
                    it.next()?;
                } else if !plain.contains(o) {
                    return None;
                }
            }
            let mut argv = vec![name.to_owned()];
            if name == "sed" {
                argv.push("--sandbox".to_owned());
            }
            argv.extend(options.iter().map(|o| (*o).to_owned()));
            Some(Builtin::Filter {
                argv,
                path: (*path).to_owned(),
            })
        }
        _ => None,
    }
}

/// Whether `path` (inside the root) stays inside it when the host follows it from
/// `dir`: its nearest existing ancestor, every link followed as the host would, lies under
/// the root. A host tool given `dir` + `path` must not be led out of the image by a link.
pub(crate) fn inside(dir: &Path, path: &str) -> bool {
    let Ok(root) = dir.canonicalize() else {
        return false;
    };
    let mut at = dir.join(path.trim_start_matches('/'));
    loop {
        match at.canonicalize() {
            Ok(real) => return real.starts_with(&root),
            // A dangling link is as dangerous as one that resolves: it would be created.
            Err(_) if at.symlink_metadata().is_ok() => return false,
            Err(_) => match at.parent() {
                Some(parent) => at = parent.to_owned(),
                None => return false,
            },
        }
    }
}

/// The line the plan shows for a command on an image root.
pub(crate) fn describe(way: &Way, dir: &Path) -> Option<String> {
    let shown = dir.display();
    Some(match way {
        Way::Live => return None,
        Way::Chroot => format!("chrooted into {shown}"),
        Way::BuildHost(c) => format!("runs on the build host: {}", c.argv.join(" ")),
        Way::Builtin(Builtin::MakeDirs { .. }) => {
            format!("done by installer inside {shown} (it has no `install`)")
        }
        Way::Builtin(_) => format!("answered by installer from {shown}'s files"),
        Way::Unavailable(why) => format!("cannot run: {why}"),
    })
}

/// The paths a probe's command names below the top level (`/etc/containerd/config.toml`,
/// not `/etc`): words of its arguments, scripts included, that look like absolute paths.
pub(crate) fn named_paths(argv: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for arg in argv {
        let chars: Vec<char> = arg.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            // A path starts a word: `a/b` and `s/x/y/` are not paths.
            let starts = chars[i] == '/' && (i == 0 || " '\"=;(".contains(chars[i - 1]));
            if !starts {
                i += 1;
                continue;
            }
            let word: String = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(**c))
                .collect();
            i += word.chars().count();
            let deep = word.trim_end_matches('/').matches('/').count() >= 2;
            if deep && !found.contains(&word) {
                found.push(word);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn root() -> ImageRoot<'static> {
        ImageRoot {
            dir: Path::new("/img"),
            releasever: Some("9"),
            versionlock_list: VERSIONLOCK_LIST,
        }
    }

    fn way(argv: &[&str], probe: bool, in_root: &[&str], on_host: &[&str]) -> Way {
        decide(
            &strings(argv),
            probe,
            &root(),
            &|p| in_root.contains(&p),
            &|p| on_host.contains(&p),
        )
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
                    &format!("--config={DNF_CONF_DIR}/dnf.conf"),
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
            assert!(c.paths.contains(&"/var/lib/rpm".to_owned()));
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
        let w = decide(
            &strings(&["dnf", "install"]),
            false,
            &no_release,
            &|_| false,
            &|_| true,
        );
        assert!(matches!(w, Way::Unavailable(why) if why.contains("rpm.releasever")));
    }

    #[test]
    fn zypper_and_rpm_get_their_root_option_and_rpms_files_are_the_roots() {
        assert_eq!(
            way(
                &["zypper", "--non-interactive", "addlock", "c"],
                false,
                &[],
                &["zypper"]
            ),
            Way::BuildHost(HostCommand {
                argv: strings(&[
                    "zypper",
                    "--root",
                    "/img",
                    "--non-interactive",
                    "addlock",
                    "c"
                ]),
                paths: strings(&[
                    "/etc/zypp",
                    "/var/cache/zypp",
                    "/var/lib/zypp",
                    "/var/log",
                    "/usr/lib/sysimage/rpm",
                    "/var/lib/rpm"
                ]),
                dnf: None,
            })
        );
        let Way::BuildHost(c) = way(&["rpm", "--import", "/etc/pki/k.asc"], false, &[], &["rpm"])
        else {
            panic!("not on the host")
        };
        assert_eq!(
            c.argv,
            strings(&["rpm", "--root", "/img", "--import", "/img/etc/pki/k.asc"])
        );
        assert!(c.paths.contains(&"/etc/pki/k.asc".to_owned()));
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
        let Way::Unavailable(why) =
            way(&["systemctl", "daemon-reload"], false, &[], &["systemctl"])
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
}
