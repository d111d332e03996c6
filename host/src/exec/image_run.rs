//! Carrying out what [`super::image`] decided for a command on an image root: the chroot,
//! the build host's package manager confined by bubblewrap ([`super::sandbox`], with the
//! settings a host run needs in a per-run scratch directory), or installer's own stand-ins,
//! answered through the target.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};

use super::image::{self, Builtin, HostCommand, ImageRoot, Way};
use super::sandbox::Net;
use super::*;

/// A directory of this host, made for one run and removed with it: HOME of its build-host
/// commands (their `.rpmmacros`) and dnf's configuration.
#[derive(Debug)]
pub(super) struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where the build host's dnf plugins are, when not where its dnf looks by default (a host
/// whose dnf-plugins-core is unpacked elsewhere, as in the end-to-end tests: on Debian it
/// cannot be installed beside zypper).
pub(super) const DNF_PLUGIN_PATH: &str = "INSTALLER_DNF_PLUGIN_PATH";

impl Executor<'_> {
    /// How `argv` runs on this target; `probe` when it only asks.
    pub(super) fn way(&self, argv: &[String], probe: bool) -> Way {
        if self.live {
            return Way::Live;
        }
        let fallback = plugin_api::Distro::new("", "", "");
        let distro = self.distro.as_ref().unwrap_or(&fallback);
        let mut root = ImageRoot::new(self.target.dir(), distro);
        root.has_locks = self.target.exists(root.versionlock_list);
        let host = image::Host {
            has: &image::host_has,
            writes_backend: &host_writes_backend,
            versionlock: &image::host_versionlock,
        };
        let way = image::decide(
            argv,
            probe,
            &root,
            &|p| image::root_has(self.target, p),
            &host,
        );
        // A mount inside the root (a host's /proc, a bind of a host directory) leads out of
        // any confinement: the root's own programs may not start over one they would see,
        // nor this host's package manager over any; for `run`, `verify` and `preflight` alike.
        let own_programs = match &way {
            Way::Chroot if root.dir != Path::new("/") => Some(true),
            Way::BuildHost(_) => Some(false),
            _ => None,
        };
        if let Some(own) = own_programs {
            let mounted = self
                .mounted
                .get_or_init(|| super::sandbox::mounts_below(root.dir));
            if let Some(why) = super::sandbox::mounted_refusal(root.dir, own, mounted) {
                return Way::Unavailable(why);
            }
        }
        image::confine(way, root.dir)
    }

    /// The command that carries out `way` for `argv`, or its output when installer answers
    /// it itself; `probe` when it only asks, and then it has no network.
    pub(super) fn prepare(
        &self,
        argv: &[String],
        way: Way,
        probe: bool,
    ) -> Result<Prepared, String> {
        let root = self.target.dir();
        let net = if probe { Net::None } else { Net::Host };
        match way {
            Way::Live => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                Ok(Prepared::Command(c))
            }
            // installer chrooted into the image itself: its programs are already its own.
            Way::Chroot if root == Path::new("/") => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                Ok(Prepared::Command(c))
            }
            Way::Chroot => Ok(Prepared::Command(super::sandbox::in_root(root, argv, net))),
            Way::BuildHost(host) => {
                self.host_filled.set(true);
                self.host_command(&host, net).map(Prepared::Confined)
            }
            Way::Builtin(Builtin::Test { flag, path }) => {
                let yes = match flag {
                    'd' => self.target.is_dir(&path),
                    'f' => self.target.is_file(&path),
                    _ => self.target.exists(&path),
                };
                Ok(Prepared::Answer(answer(
                    if yes { 0 } else { 1 },
                    Vec::new(),
                )))
            }
            Way::Builtin(Builtin::Filter { argv, path }) => {
                let file = match self.target.read(&path, FILE_LIMIT) {
                    Ok(Some(file)) => file.bytes,
                    // sed and grep say 2 for a file they cannot read.
                    Ok(None) | Err(_) => return Ok(Prepared::Answer(answer(2, Vec::new()))),
                };
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                Ok(Prepared::Filter(c, file))
            }
            Way::Builtin(Builtin::MakeDirs { .. }) => {
                Err("installer makes these directories itself, in the action".to_owned())
            }
            Way::Unavailable(why) => Err(why),
        }
    }

    /// The build host's program for `host`, confined by bubblewrap: every file it is handed
    /// to read checked (again) to stay inside the root, its settings written into the scratch
    /// directory.
    fn host_command(&self, host: &HostCommand, net: Net) -> Result<Command, String> {
        let root = self.target.dir();
        // Decided before the run ([`image::confine`]); asked again now, since a step before
        // this one may have changed the root.
        if let Some(why) = image::leads_out(root, host) {
            return Err(format!("{why}; it was not run"));
        }
        let scratch = self.scratch_settings(host)?;
        let shown = scratch.display().to_string();
        let argv: Vec<String> = host
            .argv
            .iter()
            .map(|a| a.replace(image::SCRATCH, &shown))
            .collect();
        // An unpacked dnf-plugins-core named by INSTALLER_DNF_PLUGIN_PATH (its dnf-plugins
        // directory) brings its python package beside it: that directory is bound into the
        // confinement and put on the python path, the one setting passed in, as nothing of
        // installer's environment is.
        let unpacked = match &host.dnf {
            Some(_) => image::dnf_plugin_path(std::env::var_os(DNF_PLUGIN_PATH).as_deref())
                .ok()
                .flatten()
                .and_then(|dir| dir.parent().map(Path::to_path_buf)),
            None => None,
        };
        let readable: Vec<&Path> = unpacked.iter().map(PathBuf::as_path).collect();
        let mut cmd = super::sandbox::on_root(root, &scratch, &readable, &argv, net);
        if let Some(python) = &unpacked {
            cmd.env("PYTHONPATH", python);
        }
        Ok(cmd)
    }

    /// Writes what a build-host command reads into this run's scratch directory: the
    /// `.rpmmacros` that put the rpm database where the image's own rpm reads it (Debian's
    /// rpm says `%_dbpath ~/.rpmdb` otherwise), and for dnf a configuration of the root's
    /// repositories only, with versionlock's list in the root and the plugin's directory when
    /// the command uses it. Never the root's own dnf.conf: it could name plugin code.
    fn scratch_settings(&self, host: &HostCommand) -> Result<PathBuf, String> {
        let scratch = self
            .scratch
            .get_or_init(|| {
                nix::unistd::mkdtemp(&std::env::temp_dir().join("installer-host-XXXXXX"))
                    .map(Scratch)
                    .map_err(|e| {
                        format!("cannot make a scratch directory for this host's tools: {e}")
                    })
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let dir = &scratch.0;
        let mut files = vec![(
            dir.join(".rpmmacros"),
            format!(
                "%_dbpath {}\n%_db_backend {}\n",
                host.rpmdb.path, host.rpmdb.backend
            ),
        )];
        if let Some(dnf) = &host.dnf {
            let plugins = dir.join("plugins");
            let mut main = format!(
                "[main]\ngpgcheck=1\nreposdir={}\npluginconfpath={}\n",
                dnf.reposdir.display(),
                plugins.display()
            );
            if let Some(path) = &dnf.versionlock {
                main.push_str(&format!("pluginpath={}\n", path.display()));
            }
            files.push((dir.join("dnf.conf"), main));
            files.push((
                plugins.join("versionlock.conf"),
                format!("[main]\nenabled=1\nlocklist={}\n", dnf.locklist.display()),
            ));
        }
        // One setting a line: a value with a line break of its own would add another.
        let mut values = vec![
            dir.display().to_string(),
            host.rpmdb.path.clone(),
            host.rpmdb.backend.clone(),
        ];
        if let Some(dnf) = &host.dnf {
            values.push(dnf.reposdir.display().to_string());
            values.push(dnf.locklist.display().to_string());
        }
        if let Some(v) = values.iter().find(|v| v.contains(['\n', '\r'])) {
            return Err(format!(
                "a setting for this host's tools holds a line break ({v:?}); nothing was written"
            ));
        }
        for (path, text) in files {
            std::fs::create_dir_all(path.parent().unwrap_or(dir))
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(dir.clone())
    }

    /// Makes the directories of an `install -d` through the target, journaled, as the root
    /// lacks `install`.
    pub(super) fn make_dirs(&mut self, mode: u32, dirs: &[String]) -> Result<Outcome, Failure> {
        let mut made = Vec::new();
        for dir in dirs {
            if self.target.is_dir(dir) {
                continue;
            }
            let created = self
                .target
                .create_dir_all(dir, mode)
                .map_err(|e| Failure::plain(format!("cannot make {dir}: {e}")))?;
            self.journal()?
                .created(created)
                .map_err(|e| io_failure(dir, e))?;
            made.push(dir.as_str());
        }
        Ok(if made.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::Changed {
                note: Some(format!(
                    "made {} (by installer: {} has no `install`)",
                    made.join(", "),
                    self.target.dir().display()
                )),
                diff: None,
            }
        })
    }

    /// Before a host dnf's `versionlock` command: the list it appends to, made empty in the
    /// root where it is missing (EL's versionlock package ships it; the host's plugin cannot
    /// read a list that is not there).
    pub(super) fn prepare_versionlock(&mut self, argv: &[String]) -> Result<(), Failure> {
        let Way::BuildHost(HostCommand { dnf: Some(_), .. }) = self.way(argv, false) else {
            return Ok(());
        };
        if !argv.iter().any(|a| a == "versionlock") {
            return Ok(());
        }
        let distro = self
            .distro
            .clone()
            .unwrap_or_else(|| plugin_api::Distro::new("", "", ""));
        let list = ImageRoot::new(self.target.dir(), &distro)
            .versionlock_list
            .to_owned();
        if self.current(&list)?.is_none() {
            self.write(&list, 0o644, b"", (None, None))?;
        }
        Ok(())
    }
}

/// Whether this host's rpm writes the database `backend`: asked once per process by making
/// one, confined, in a directory of its own (Debian 12's rpm 4.18 writes `sqlite` only; for
/// `ndb` or `bdb` it warns "invalid %_db_backend" and falls back to a dummy database).
fn host_writes_backend(backend: &str) -> bool {
    static ASKED: std::sync::Mutex<BTreeMap<String, bool>> = std::sync::Mutex::new(BTreeMap::new());
    let mut asked = ASKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *asked
        .entry(backend.to_owned())
        .or_insert_with(|| ask_backend(backend))
}

fn ask_backend(backend: &str) -> bool {
    if !backend
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        || !image::host_has("rpm")
        || !image::host_has(super::sandbox::BWRAP)
    {
        return false;
    }
    let Ok(dir) = nix::unistd::mkdtemp(&std::env::temp_dir().join("installer-rpmdb-XXXXXX")) else {
        return false;
    };
    let scratch = Scratch(dir);
    // The database is made in a root of its own: the scratch directory is read-only inside.
    let root = scratch.0.join("root");
    if std::fs::create_dir(&root).is_err() {
        return false;
    }
    let db = root.join("db");
    let argv = [
        "rpm".to_owned(),
        "--dbpath".to_owned(),
        db.display().to_string(),
        "--define".to_owned(),
        format!("_db_backend {backend}"),
        "--initdb".to_owned(),
    ];
    // Making an empty database needs no network.
    let mut cmd = super::sandbox::on_root(&root, &scratch.0, &[], &argv, Net::None);
    cmd.env("PATH", image::PATH)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null());
    let Ok(out) = cmd.output() else {
        return false;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    out.status.success()
        && !stderr.contains("invalid %_db_backend")
        && !stderr.contains("dummy database")
        && std::fs::read_dir(&db).is_ok_and(|mut d| d.next().is_some())
}

/// What a command prepared for an image root is.
pub(super) enum Prepared {
    /// A command to run.
    Command(Command),
    /// A build-host command, confined: it gets none of the plan's environment.
    Confined(Command),
    /// A filter to run with this input on its standard input.
    Filter(Command, Vec<u8>),
    /// installer's own answer.
    Answer(Output),
}

fn answer(code: i32, stdout: Vec<u8>) -> Output {
    Output {
        status: ExitStatus::from_raw(code << 8),
        stdout,
        stderr: Vec::new(),
    }
}

/// Runs `cmd` with `input` on its standard input.
pub(super) fn filter(mut cmd: Command, input: Vec<u8>) -> std::io::Result<Output> {
    use std::io::Write as _;
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output();
    let _ = writer.join();
    out
}

/// Says, in each step of `plan`, how its commands run on `target` when it is an image root
/// ([`crate::compose::ImageCommand`]); changes nothing. Steps that change the running
/// kernel are skipped on an image root and get nothing.
pub fn describe_image_commands(plan: &mut crate::compose::Plan, target: &Target) {
    let mut exec = Executor::asking(target);
    // `/` is this system, chroot or not: its plan reads the same everywhere.
    if exec.live || target.dir() == Path::new("/") {
        return;
    }
    exec.distro = Some(plan.distro.clone());
    for step in &mut plan.steps {
        if step.kind.changes_the_kernel() {
            continue;
        }
        step.image_root = step
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Run { argv, .. } => Some(argv),
                _ => None,
            })
            .map(|argv| {
                let way = exec.way(argv, false);
                let kind = match &way {
                    Way::Live | Way::Chroot => "chroot",
                    Way::BuildHost(_) => "build_host",
                    Way::Builtin(_) => "installer",
                    Way::Unavailable(_) => "unavailable",
                };
                crate::compose::ImageCommand {
                    argv: argv.clone(),
                    way: kind,
                    detail: image::describe(&way, target.dir()).unwrap_or_default(),
                }
            })
            .collect();
    }
}

/// What asking a check on a copy of the root's files found.
#[derive(Debug)]
pub(super) enum CopyCheck {
    /// It ran and said yes.
    Passed,
    /// It ran and said no (its output is in the run's log).
    Failed,
    /// It could not be asked faithfully: why.
    NotChecked(String),
}

/// How many files and directories a check's copy may hold, and how deep below a named
/// directory it goes: past either, the copy would not be what the root has.
const COPY_ENTRIES: usize = 2000;
const COPY_DEPTH: usize = 3;

impl Executor<'_> {
    /// Asks a check the root cannot run (its program is not there) with this host's program,
    /// confined by bubblewrap on an empty root that holds only this host's program
    /// directories and, bound read-only at their own paths, copies of what the check's
    /// command names, read through the target. No path of the command is rewritten, and
    /// nothing of this host but its programs is there for the check to read.
    pub(super) fn probe_on_copy(&self, probe: &Probe, named: &[String]) -> CopyCheck {
        let not = |why: String| CopyCheck::NotChecked(why);
        if named.is_empty() {
            return not("its command names no path of the root to copy".to_owned());
        }
        for path in named {
            if path.split('/').any(|part| part == "..") {
                return not(format!("it names {path}, which climbs with `..`"));
            }
            if super::sandbox::PROGRAM_DIRS
                .iter()
                .any(|d| path == d || path.starts_with(&format!("{d}/")))
            {
                return not(format!(
                    "it names {path}, among this host's programs, which the copy cannot replace"
                ));
            }
        }
        for program in [probe.argv[0].as_str(), super::sandbox::BWRAP] {
            if !image::host_has(program) {
                return not(format!("this host has no `{program}` either"));
            }
        }
        let Ok(dir) = nix::unistd::mkdtemp(&std::env::temp_dir().join("installer-check-XXXXXX"))
        else {
            return not("no scratch directory for the copy".to_owned());
        };
        let copy = Scratch(dir);
        let mut binds = Vec::new();
        let mut entries = 0;
        for path in named {
            let path = path.trim_end_matches('/');
            let at = copy.0.join(path.trim_start_matches('/'));
            let copied = if self.target.is_dir(path) {
                self.copy_dir(path, &at, &mut entries)
            } else {
                match self.target.read(path, FILE_LIMIT) {
                    Ok(Some(file)) => put(&at, &file.bytes),
                    // Not in the root: not in the copy either.
                    Ok(None) => continue,
                    Err(e) => Err(e.to_string()),
                }
            };
            if let Err(why) = copied {
                return not(format!("{path} could not be copied: {why}"));
            }
            binds.push((at, path.to_owned()));
        }
        let mut cmd = super::sandbox::on_copy(&binds, &probe.argv);
        cmd.env("PATH", image::PATH)
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null());
        let out = match commands::output_within(cmd, commands::PROBE_LIMIT) {
            Ok(Some(out)) => out,
            Ok(None) => return not("it did not finish in time".to_owned()),
            Err(e) => return not(format!("it could not be started: {e}")),
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        self.log.borrow_mut().push_str(&format!(
            "$ {} (this host's program, confined by bubblewrap, on a copy of {} from the root)\n{stdout}{}[exit {:?}]\n",
            probe.argv.join(" "),
            named.join(", "),
            String::from_utf8_lossy(&out.stderr),
            out.status.code()
        ));
        if out.status.success() && commands::expected(&probe.expect, &stdout) {
            CopyCheck::Passed
        } else {
            CopyCheck::Failed
        }
    }

    /// Copies the directory `path` of the root to `at`: regular files and directories, at
    /// most [`COPY_DEPTH`] deep and [`COPY_ENTRIES`] in all; anything else there (a link, a
    /// device, a file too large) makes the copy unfaithful, and is an error.
    fn copy_dir(&self, path: &str, at: &Path, entries: &mut usize) -> Result<(), String> {
        let mut dirs = vec![(path.to_owned(), at.to_owned(), 0)];
        while let Some((dir, to, depth)) = dirs.pop() {
            std::fs::create_dir_all(&to).map_err(|e| e.to_string())?;
            let names = self.target.list_dir(&dir).map_err(|e| e.to_string())?;
            for name in names {
                *entries += 1;
                if *entries > COPY_ENTRIES {
                    return Err(format!("more than {COPY_ENTRIES} entries"));
                }
                let name = name.to_string_lossy();
                let child = format!("{dir}/{name}");
                let child_to = to.join(&*name);
                if self.target.is_dir(&child) {
                    if depth + 1 >= COPY_DEPTH {
                        return Err(format!("{child} is more than {COPY_DEPTH} levels deep"));
                    }
                    dirs.push((child, child_to, depth + 1));
                    continue;
                }
                match self.target.read(&child, FILE_LIMIT) {
                    Ok(Some(file)) => put(&child_to, &file.bytes)?,
                    Ok(None) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        Ok(())
    }
}

fn put(at: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = at.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(at, bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(argv: &[&str]) -> Probe {
        Probe {
            argv: argv.iter().map(|a| (*a).to_owned()).collect(),
            expect: Expect::Success,
        }
    }

    fn named(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| (*p).to_owned()).collect()
    }

    fn root_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Target) {
        let dir = tempfile::tempdir().unwrap();
        for (path, bytes) in files {
            let at = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, bytes).unwrap();
        }
        let target = Target::open(dir.path()).unwrap();
        (dir, target)
    }

    fn not_checked(check: CopyCheck, why: &str) {
        assert!(
            matches!(&check, CopyCheck::NotChecked(w) if w.contains(why)),
            "{check:?}"
        );
    }

    #[test]
    fn on_an_image_root_the_roots_program_that_only_asks_starts_without_network() {
        let (_dir, target) = root_with(&[]);
        let exec = Executor::asking(&target);
        let unshared = |probe| match exec.prepare(&["dpkg-query".to_owned()], Way::Chroot, probe) {
            Ok(Prepared::Command(c)) => c.get_args().any(|a| a == "--unshare-net"),
            _ => panic!("the root's program is run"),
        };
        assert!(unshared(true), "a probe has no network");
        assert!(!unshared(false), "a change reaches the repositories");
    }

    #[test]
    fn a_check_that_cannot_be_asked_faithfully_is_not_checked_never_passed() {
        let (_dir, target) = root_with(&[("/etc/c/config.toml", b"version = 2\n")]);
        let exec = Executor::asking(&target);
        // Nothing named: the host's own files would be read.
        not_checked(
            exec.probe_on_copy(&probe(&["grep", "-q", "x", "config.toml"]), &[]),
            "names no path",
        );
        not_checked(
            exec.probe_on_copy(
                &probe(&["grep", "-q", "x", "/etc/c/../../etc/shadow"]),
                &named(&["/etc/c/../../etc/shadow"]),
            ),
            "`..`",
        );
        // Under this host's programs, which the copy cannot stand in for.
        not_checked(
            exec.probe_on_copy(
                &probe(&["test", "-e", "/usr/lib/x/y"]),
                &named(&["/usr/lib/x/y"]),
            ),
            "this host's programs",
        );
    }

    #[test]
    fn a_file_too_large_or_a_tree_too_deep_to_copy_is_not_checked() {
        let big = vec![b'x'; FILE_LIMIT as usize + 1];
        let (_dir, target) =
            root_with(&[("/etc/big/file", &big), ("/etc/deep/a/b/c/d/file", b"x")]);
        let exec = Executor::asking(&target);
        if !image::host_has("bwrap") {
            eprintln!("skipped: no bwrap on this host");
            return;
        }
        not_checked(
            exec.probe_on_copy(
                &probe(&["grep", "-rq", "x", "/etc/big"]),
                &named(&["/etc/big"]),
            ),
            "could not be copied",
        );
        not_checked(
            exec.probe_on_copy(
                &probe(&["grep", "-rq", "x", "/etc/deep"]),
                &named(&["/etc/deep"]),
            ),
            "levels deep",
        );
    }

    #[test]
    fn a_check_reads_the_copy_at_the_roots_paths_and_nothing_of_the_host() {
        if !image::host_has("bwrap") || !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: bwrap's capability options need root");
            return;
        }
        let (_dir, target) = root_with(&[("/etc/c/config.toml", b"version = 2\n")]);
        let exec = Executor::asking(&target);
        let script = |s: &str| probe(&["sh", "-c", s]);
        let passed =
            |p: Probe, n: &[&str]| matches!(exec.probe_on_copy(&p, &named(n)), CopyCheck::Passed);
        // The root's file, at its own path, with the path spelled in a script.
        assert!(passed(
            script("f=/etc/c/config.toml; grep -q 'version = 2' \"$f\""),
            &["/etc/c/config.toml"]
        ));
        // This host's /etc is not there: only what the check names, copied from the root.
        assert!(passed(
            script("test ! -e /etc/passwd && test ! -e /etc/missing/x"),
            &["/etc/missing/x"]
        ));
        // Read-only: the check cannot write into the copy.
        assert!(!passed(
            script("echo > /etc/c/config.toml"),
            &["/etc/c/config.toml"]
        ));
    }
}
