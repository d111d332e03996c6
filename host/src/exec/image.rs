//! How a command of the plan runs on an image root (`--root DIR` that is not the live
//! system), decided in one place.
//!
//! An image root being built on another distribution's host (a Rocky or openSUSE root on a
//! Debian build host) has no package manager yet, so nothing can be chrooted into it. Image
//! builders then run the host's own package manager with its root option, and so do we:
//!
//! - a program the root has (an executable in one of its PATH directories, found through the
//!   [`Target`], links resolved inside it) runs on the root as its `/`, confined by
//!   bubblewrap ([`super::sandbox::in_root`]): a chroot in which the image's code keeps only
//!   rpm's and dpkg's capabilities and sees nothing of this host;
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
//! Every build-host program runs confined by bubblewrap ([`super::sandbox`]): this host
//! read-only, only the root and a per-run scratch directory writable. What the host's package
//! manager keeps under the root (its database, caches, logs, repo and lock files) it writes
//! itself, as in any image build, and a link in the image that points elsewhere meets a
//! read-only file system instead of a host file. The rpm database goes where the pack says
//! the image's own rpm reads it (`rpm.dbpath`, `rpm.db_backend`, through the `.rpmmacros` of
//! HOME, the scratch directory): a backend this host's rpm cannot write is refused before
//! anything changes, as is anything of the plan's command beyond the subcommands and options
//! installer's own plugins pass ([`allow`]: an allowlist, since abbreviated and bundled
//! options slip past any list of the dangerous ones), and a file handed to a tool that leads
//! out of the root ([`confine`]).

use std::path::{Path, PathBuf};

use super::Target;

mod allow;

/// The PATH commands run with (chrooted or not), and the directories a program is looked up
/// in inside the root.
pub(super) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Stands for the per-run scratch directory (HOME, `.rpmmacros`, dnf's configuration); the
/// executor puts the real one in its place.
pub(crate) const SCRATCH: &str = "<installer's settings for this run>";

/// Where dnf's versionlock keeps its locks when the pack does not say: the yum plugin's own
/// default (plugins/yum/src/render.rs, `versionlock_list`).
const VERSIONLOCK_LIST: &str = "/etc/dnf/plugins/versionlock.list";
const YUM_VERSIONLOCK_LIST: &str = "/etc/yum/pluginconf.d/versionlock.list";

/// Where the host's dnf looks for plugins when `INSTALLER_DNF_PLUGIN_PATH` does not say:
/// `dnf.const.PLUGINPATH` of Debian 12's dnf 4.14 (/usr/lib/python3/dist-packages/dnf/const.py),
/// and the site-packages form other distributions build dnf with.
const DNF_PLUGIN_DIRS: &[&str] = &[
    "/usr/lib/python3/dist-packages/dnf-plugins",
    "/usr/lib/python3/site-packages/dnf-plugins",
];

/// How one command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Way {
    /// The live system: the command as it is.
    Live,
    /// The root has the program: run on the root as its `/`, confined by bubblewrap
    /// ([`super::sandbox::in_root`]); a chroot with fewer rights.
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
    /// The command line (with [`SCRATCH`] where the scratch directory goes), run confined.
    pub argv: Vec<String>,
    /// Files inside the root the program is handed to read (a key to import): each must
    /// resolve inside the root from the host's side ([`inside`]), since bwrap's host is
    /// readable and a link could hand it a host file.
    pub paths: Vec<String>,
    /// Where the root's rpm database is, and its backend.
    pub rpmdb: RpmDb,
    /// dnf's settings: the repositories' directory and the versionlock list, in the root.
    pub dnf: Option<DnfSettings>,
}

/// The rpm database of the image: the pack's `rpm.dbpath` and `rpm.db_backend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RpmDb {
    pub path: String,
    pub backend: String,
}

/// What the configuration of a host dnf run says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DnfSettings {
    /// The root's `.repo` files' directory, as a host path.
    pub reposdir: PathBuf,
    /// The root's versionlock list, as a host path.
    pub locklist: PathBuf,
    /// The directory the host's versionlock plugin is loaded from, when this command uses
    /// it (all other plugins are disabled).
    pub versionlock: Option<PathBuf>,
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
    /// The pack's `rpm.dbpath` and `rpm.db_backend`.
    pub dbpath: Option<&'a str>,
    pub db_backend: Option<&'a str>,
    /// The file dnf's versionlock keeps its locks in, inside the root.
    pub versionlock_list: &'a str,
    /// Whether that file is there: the root's locks then hold for every dnf command.
    pub has_locks: bool,
}

impl<'a> ImageRoot<'a> {
    /// The facts of `distro` for `dir`.
    pub fn new(dir: &'a Path, distro: &'a plugin_api::Distro) -> ImageRoot<'a> {
        let versionlock_list = match distro.vars.get("yum.versionlock_list") {
            Some(path) => path.as_str(),
            None if distro.package_manager == "yum" => YUM_VERSIONLOCK_LIST,
            None => VERSIONLOCK_LIST,
        };
        let var = |name: &str| distro.vars.get(name).map(String::as_str);
        ImageRoot {
            dir,
            releasever: var("rpm.releasever"),
            dbpath: var("rpm.dbpath"),
            db_backend: var("rpm.db_backend"),
            versionlock_list,
            has_locks: false,
        }
    }

    fn join(&self, path: &str) -> PathBuf {
        self.dir.join(path.trim_start_matches('/'))
    }
}

/// What the decision needs to know of this host.
pub(crate) struct Host<'a> {
    /// Whether it has a program on its PATH.
    pub has: &'a dyn Fn(&str) -> bool,
    /// Whether its rpm writes a database backend.
    pub writes_backend: &'a dyn Fn(&str) -> bool,
    /// The directory its dnf's versionlock plugin is in, if it has one; an error when
    /// `INSTALLER_DNF_PLUGIN_PATH` is not a plain path.
    pub versionlock: &'a dyn Fn() -> Result<Option<PathBuf>, String>,
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

/// How `argv` runs on the image root: `probe` when it only asks. `in_root` says whether
/// the root has a program, `host` what this host has.
pub(crate) fn decide(
    argv: &[String],
    probe: bool,
    root: &ImageRoot,
    in_root: &dyn Fn(&str) -> bool,
    host: &Host,
) -> Way {
    let Some((program, args)) = argv.split_first() else {
        return Way::Unavailable("an empty command".to_owned());
    };
    // `test -d PATH` and its kin are answered from the root's files even where the root has
    // `test`: the same answer (links followed inside the root), without starting the
    // image's code.
    if root.dir != Path::new("/") {
        if let Some(test @ Builtin::Test { .. }) = builtin(program, args, probe) {
            return Way::Builtin(test);
        }
    }
    if in_root(program) {
        // The image's own code runs as root only inside bubblewrap ([`super::sandbox::in_root`]),
        // unless the root is installer's own `/` (installer itself chrooted into the image, as
        // Ansible's chroot connection runs it): there it already runs as the image's code.
        if root.dir != Path::new("/") && !(host.has)(super::sandbox::BWRAP) {
            return Way::Unavailable(format!(
                "the root has `{program}`, but this host has no bubblewrap (`bwrap`), inside which installer runs a root's own programs so that the image's code cannot reach this host; install it (apt-get install bubblewrap, dnf install bubblewrap)"
            ));
        }
        return Way::Chroot;
    }
    let name = program.rsplit('/').next().unwrap_or(program);
    let way = match name {
        "dnf" | "yum" | "zypper" | "rpm" => {
            build_host(program, name, args, root, host).map_err(Way::Unavailable)
        }
        _ => Err(builtin(name, args, probe).map_or_else(
            || Way::Unavailable(format!(
                "`{program}` is not installed in {} (its PATH: {PATH}), and installer cannot run it for the root from this host; install it in the root first, or run installer inside the image",
                root.dir.display()
            )),
            Way::Builtin,
        )),
    };
    match way {
        Ok(command) => Way::BuildHost(command),
        Err(way) => way,
    }
}

/// The build host's dnf, zypper or rpm for `program args`, or why it cannot stand in.
fn build_host(
    program: &str,
    name: &str,
    args: &[String],
    root: &ImageRoot,
    host: &Host,
) -> Result<HostCommand, String> {
    let shown = root.dir.display();
    let refuse = |why: String| -> Result<HostCommand, String> { Err(why) };
    let tool = if name == "yum" { "dnf" } else { name };
    // What the plan passes, first: it is the plan's to fix, whatever this host has.
    if let Some(refusal) = allow::refused(tool, args) {
        let what = match refusal {
            allow::Refusal::Option(o) => format!("passes `{o}`, an option"),
            allow::Refusal::Command(c) => format!("asks for `{c}`, a subcommand"),
            allow::Refusal::NoCommand => "names no subcommand, which is".to_owned(),
        };
        return refuse(format!(
            "`{}` {what} not among what installer hands to this host's {tool} for {shown}: a build-host {tool} takes only what installer's own plugins ask of it ({}), each option spelled whole, since any other could point it away from the root or make it run code ({tool} takes abbreviated and bundled options). Change the plugin's command to those words (a package, repository or URL must not begin with `-`), or install `{program}` in the root so that the command runs chrooted there",
            argv_shown(program, args),
            allow::summary(tool)
        ));
    }
    let option = if tool == "dnf" {
        "--installroot"
    } else {
        "--root"
    };
    if !(host.has)(tool) {
        return refuse(format!(
            "`{program}` is not installed in {shown}, and this host has no `{tool}` to run it for the root (`{tool} {option}` is how an image root without one is served); install {tool} on this host (apt-get install {tool}), or install `{program}` in the root first"
        ));
    }
    if !(host.has)(super::sandbox::BWRAP) {
        return refuse(format!(
            "`{program}` is not installed in {shown}, and this host's `{tool} {option}` that would stand in runs only confined by bubblewrap, which this host lacks (an image root is not trusted: its links could lead the host's {tool} to write host files); install bubblewrap on this host (apt-get install bubblewrap), or install `{program}` in the root first"
        ));
    }
    let (Some(dbpath), Some(backend)) = (root.dbpath, root.db_backend) else {
        return refuse(format!(
            "`{program}` is not installed in {shown}, and the distro pack sets no `rpm.dbpath` and `rpm.db_backend` to tell this host's {tool} where the image's own rpm keeps its database (this host's rpm would put it elsewhere); give the pack both"
        ));
    };
    if !plain_path(dbpath)
        || !backend
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return refuse(format!(
            "the distro pack's `rpm.dbpath` ({dbpath:?}) or `rpm.db_backend` ({backend:?}) is not a plain absolute path and a backend name; fix the pack"
        ));
    }
    if !(host.writes_backend)(backend) {
        return refuse(format!(
            "`{program}` is not installed in {shown}, and the image's rpm database is `{backend}` (the pack's `rpm.db_backend`), which this host's rpm cannot write (`rpm --define '_db_backend {backend}' --initdb` fails here), so the image's own rpm would not see what it installed; fill the root on a build host whose rpm writes `{backend}` (one of the image's own distribution), or install `{program}` in the root first"
        ));
    }
    let rpmdb = RpmDb {
        path: dbpath.to_owned(),
        backend: backend.to_owned(),
    };
    let root_arg = |option: &str| -> Vec<String> {
        if option == "--installroot" {
            vec![format!("--installroot={shown}")]
        } else {
            vec![option.to_owned(), shown.to_string()]
        }
    };
    match tool {
        "dnf" => {
            let Some(releasever) = root.releasever else {
                return refuse(format!(
                    "`{program}` is not installed in {shown}, and the distro pack sets no `rpm.releasever` for this host's dnf to fill the root with (`dnf --installroot --releasever`); give the pack one"
                ));
            };
            // Only versionlock, only when this command uses it or the root holds locks, as
            // the image's own dnf would; every other plugin of this host stays out.
            let versionlock = if args.iter().any(|a| a == "versionlock") || root.has_locks {
                match (host.versionlock)() {
                    Ok(Some(dir)) => Some(dir),
                    Ok(None) => return refuse(format!(
                        "`{}` needs dnf's versionlock plugin ({}), which this host's dnf does not have; install dnf-plugins-core on this host, or point INSTALLER_DNF_PLUGIN_PATH at the directory holding versionlock.py",
                        argv_shown(program, args),
                        if root.has_locks { format!("{shown} holds locks in {}", root.versionlock_list) } else { "it locks a version".to_owned() }
                    )),
                    Err(why) => return refuse(why),
                }
            } else {
                None
            };
            let mut host_argv = vec![
                "dnf".to_owned(),
                format!("--config={SCRATCH}/dnf.conf"),
                "--disableplugin=*".to_owned(),
            ];
            if versionlock.is_some() {
                host_argv.push("--enableplugin=versionlock".to_owned());
            }
            host_argv.extend(root_arg("--installroot"));
            host_argv.push(format!("--releasever={releasever}"));
            host_argv.extend(args.iter().cloned());
            Ok(HostCommand {
                argv: host_argv,
                paths: Vec::new(),
                rpmdb,
                dnf: Some(DnfSettings {
                    reposdir: root.join("/etc/yum.repos.d"),
                    locklist: root.join(root.versionlock_list),
                    versionlock,
                }),
            })
        }
        "zypper" => {
            let mut host_argv = vec!["zypper".to_owned()];
            host_argv.extend(root_arg("--root"));
            host_argv.extend(args.iter().cloned());
            Ok(HostCommand {
                argv: host_argv,
                paths: Vec::new(),
                rpmdb,
                dnf: None,
            })
        }
        _ => {
            let mut paths = Vec::new();
            let mut host_argv = vec!["rpm".to_owned()];
            host_argv.extend(root_arg("--root"));
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
            Ok(HostCommand {
                argv: host_argv,
                paths,
                rpmdb,
                dnf: None,
            })
        }
    }
}

fn argv_shown(program: &str, args: &[String]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `INSTALLER_DNF_PLUGIN_PATH`, checked: one absolute path of plain characters, since it is
/// written into dnf's configuration (a newline or `%`/`$` would add settings or expand).
pub(crate) fn dnf_plugin_path(value: Option<&std::ffi::OsStr>) -> Result<Option<PathBuf>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let plain = value.to_str().filter(|v| plain_path(v));
    match plain {
        Some(v) => Ok(Some(PathBuf::from(v))),
        None => Err(format!(
            "INSTALLER_DNF_PLUGIN_PATH ({value:?}) must be one absolute path of letters, digits and `/._-+` (it is written into dnf's configuration); fix or unset it"
        )),
    }
}

/// One absolute path of letters, digits and `/._-+`, never climbing with `..`: safe to write
/// into a tool's configuration as one value.
fn plain_path(v: &str) -> bool {
    v.starts_with('/')
        && !v.split('/').any(|part| part == "..")
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
}

/// The directory this host's dnf loads versionlock from: `INSTALLER_DNF_PLUGIN_PATH`, else
/// dnf's own plugin directory, when `versionlock.py` is there.
pub(crate) fn host_versionlock() -> Result<Option<PathBuf>, String> {
    let configured =
        dnf_plugin_path(std::env::var_os(super::image_run::DNF_PLUGIN_PATH).as_deref())?;
    let dirs: Vec<PathBuf> = match configured {
        Some(dir) => vec![dir],
        None => DNF_PLUGIN_DIRS.iter().map(PathBuf::from).collect(),
    };
    Ok(dirs
        .into_iter()
        .find(|d| d.join("versionlock.py").is_file()))
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

/// Why `host` must not run on the root `dir`: a file it is handed leads out of the root
/// ([`inside`]); `None` when none does.
pub(crate) fn leads_out(dir: &Path, host: &HostCommand) -> Option<String> {
    let path = host.paths.iter().find(|p| !inside(dir, p))?;
    Some(format!(
        "{} leads out of {} (a link in the image points outside it), and `{}` would read it from this host's side; fix the link in the image",
        dir.join(path.trim_start_matches('/')).display(),
        dir.display(),
        host.argv.join(" ")
    ))
}

/// `way` as the root `dir` now stands: a build-host command handed a file that leads out of
/// it cannot run ([`leads_out`]). Part of the decision, so that the run refuses it before
/// anything changes; checked again when the command runs, as a step before it may have
/// changed the root.
pub(crate) fn confine(way: Way, dir: &Path) -> Way {
    match way {
        Way::BuildHost(host) => match leads_out(dir, &host) {
            Some(why) => Way::Unavailable(why),
            None => Way::BuildHost(host),
        },
        way => way,
    }
}

/// The line the plan shows for a command on an image root.
pub(crate) fn describe(way: &Way, dir: &Path) -> Option<String> {
    let shown = dir.display();
    Some(match way {
        Way::Live => return None,
        Way::Chroot => format!("the root's own, run in {shown} confined by bubblewrap"),
        Way::BuildHost(c) => format!(
            "runs on the build host, confined by bubblewrap to {shown}: {}",
            c.argv.join(" ")
        ),
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
mod tests;
