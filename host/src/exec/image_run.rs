//! Carrying out what [`super::image`] decided for a command on an image root: the chroot,
//! the build host's package manager (with the configuration a host dnf run needs), or
//! installer's own stand-ins, answered through the target.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};

use super::image::{self, Builtin, DnfSettings, HostCommand, ImageRoot, Way};
use super::*;

/// A directory of this host, made for one run and removed with it, that holds the
/// configuration of its host dnf runs.
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
const DNF_PLUGIN_PATH: &str = "INSTALLER_DNF_PLUGIN_PATH";

impl Executor<'_> {
    /// How `argv` runs on this target; `probe` when it only asks.
    pub(super) fn way(&self, argv: &[String], probe: bool) -> Way {
        if self.live {
            return Way::Live;
        }
        let fallback = plugin_api::Distro::new("", "", "");
        let distro = self.distro.as_ref().unwrap_or(&fallback);
        let root = ImageRoot::new(self.target.dir(), distro);
        image::decide(
            argv,
            probe,
            &root,
            &|p| image::root_has(self.target, p),
            &image::host_has,
        )
    }

    /// The command that carries out `way` for `argv`, or its output when installer answers
    /// it itself.
    pub(super) fn prepare(&self, argv: &[String], way: Way) -> Result<Prepared, String> {
        let root = self.target.dir();
        match way {
            Way::Live => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                Ok(Prepared::Command(c))
            }
            Way::Chroot => {
                let mut c = Command::new("chroot");
                c.arg(root).args(argv);
                Ok(Prepared::Command(c))
            }
            Way::BuildHost(host) => {
                self.host_filled.set(true);
                self.host_command(&host).map(Prepared::Command)
            }
            Way::Builtin(Builtin::Test { flag, path }) => {
                let yes = match flag {
                    'd' => self.target.is_dir(&path),
                    'f' => matches!(self.target.read(&path, FILE_LIMIT), Ok(Some(_))),
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

    /// The build host's program for `host`: every path it is handed checked to stay inside
    /// the root, dnf given its configuration.
    fn host_command(&self, host: &HostCommand) -> Result<Command, String> {
        let root = self.target.dir();
        if let Some(path) = host.paths.iter().find(|p| !image::inside(root, p)) {
            return Err(format!(
                "{} leads out of {} (a link in the image points outside it); `{}` would follow it on this host, so it was not run. Fix the link in the image",
                self.target.display(Path::new(path)).display(),
                root.display(),
                host.argv[0]
            ));
        }
        let mut argv = host.argv.clone();
        if let Some(dnf) = &host.dnf {
            let dir = self.dnf_settings(dnf)?;
            for a in argv.iter_mut() {
                *a = a.replace(image::DNF_CONF_DIR, &dir.display().to_string());
            }
        }
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        Ok(c)
    }

    /// Writes a host dnf run's configuration into this run's scratch directory: the root's
    /// repositories only, versionlock's list in the root (enabled only once it exists: dnf's
    /// versionlock fails on a list it cannot read), the host's plugins (or
    /// `INSTALLER_DNF_PLUGIN_PATH`'s). Never the root's own dnf.conf: it could name plugin
    /// code for this host to load.
    fn dnf_settings(&self, dnf: &DnfSettings) -> Result<PathBuf, String> {
        let scratch = self
            .scratch
            .get_or_init(|| {
                nix::unistd::mkdtemp(&std::env::temp_dir().join("installer-dnf-XXXXXX"))
                    .map(Scratch)
                    .map_err(|e| format!("cannot make a directory for dnf's settings: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let dir = &scratch.0;
        let plugins = dir.join("plugins");
        let lock_exists = dnf.locklist.is_file();
        let mut main = format!(
            "[main]\ngpgcheck=1\nreposdir={}\npluginconfpath={}\n",
            dnf.reposdir.display(),
            plugins.display()
        );
        if let Some(path) = std::env::var_os(DNF_PLUGIN_PATH) {
            main.push_str(&format!("pluginpath={}\n", Path::new(&path).display()));
        }
        let lock = format!(
            "[main]\nenabled={}\nlocklist={}\n",
            u8::from(lock_exists),
            dnf.locklist.display()
        );
        std::fs::create_dir_all(&plugins)
            .and_then(|()| std::fs::write(dir.join("dnf.conf"), main))
            .and_then(|()| std::fs::write(plugins.join("versionlock.conf"), lock))
            .map_err(|e| format!("cannot write dnf's settings in {}: {e}", dir.display()))?;
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

/// What a command prepared for an image root is.
pub(super) enum Prepared {
    /// A command to run.
    Command(Command),
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

impl Executor<'_> {
    /// Asks a check the root cannot run (its program is not there) with this host's program,
    /// on a copy of what it reads: the files and directories (two levels) its command names,
    /// read through the target into a directory of this host, and the command's paths
    /// pointed there. The host's program never sees a path of the root. `None` when the
    /// host lacks the program too, or the copy cannot be made.
    pub(super) fn probe_on_copy(&self, probe: &Probe, named: &[String]) -> Option<(bool, String)> {
        if !image::host_has(&probe.argv[0]) {
            return None;
        }
        let copy = Scratch(
            nix::unistd::mkdtemp(&std::env::temp_dir().join("installer-check-XXXXXX")).ok()?,
        );
        let put = |path: &str, bytes: &[u8]| -> Option<()> {
            let at = copy.0.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(at.parent()?).ok()?;
            std::fs::write(at, bytes).ok()
        };
        for path in named {
            let path = path.trim_end_matches('/');
            if let Ok(Some(file)) = self.current(path) {
                put(path, &file.bytes)?;
                continue;
            }
            let mut dirs = vec![(path.to_owned(), 0)];
            while let Some((dir, depth)) = dirs.pop() {
                let Ok(names) = self.target.list_dir(&dir) else {
                    continue;
                };
                std::fs::create_dir_all(copy.0.join(dir.trim_start_matches('/'))).ok()?;
                for name in names {
                    let child = format!("{dir}/{}", name.to_string_lossy());
                    if let Some(file) = self.current(&child).ok().flatten() {
                        put(&child, &file.bytes)?;
                    } else if depth < 2 && self.target.is_dir(&child) {
                        dirs.push((child, depth + 1));
                    }
                }
            }
        }
        let tops: Vec<&str> = named
            .iter()
            .filter_map(|p| p.trim_start_matches('/').split('/').next())
            .collect();
        let argv: Vec<String> = probe
            .argv
            .iter()
            .map(|a| repoint(a, &tops, &copy.0))
            .collect();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env("PATH", image::PATH)
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null());
        let out = cmd.output().ok()?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        self.log.borrow_mut().push_str(&format!(
            "$ {} (on a copy of the root's files)\n{stdout}[exit {:?}]\n",
            argv.join(" "),
            out.status.code()
        ));
        Some((
            out.status.success() && commands::expected(&probe.expect, &stdout),
            stdout,
        ))
    }
}

/// `arg` with every absolute path that starts a word and begins with one of `tops` (`/etc`)
/// moved under `copy`.
fn repoint(arg: &str, tops: &[&str], copy: &Path) -> String {
    let chars: Vec<char> = arg.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let starts = *c == '/' && (i == 0 || " '\"=;(".contains(chars[i - 1]));
        if starts {
            let rest: String = chars[i + 1..].iter().collect();
            let hit = tops.iter().any(|t| {
                rest.strip_prefix(t).is_some_and(|r| {
                    r.is_empty()
                        || !(r
                            .starts_with(|c: char| c.is_ascii_alphanumeric() || "._-".contains(c)))
                })
            });
            if hit {
                out.push_str(&copy.display().to_string());
            }
        }
        out.push(*c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checks_paths_are_pointed_at_the_copy_and_nothing_else() {
        let copy = Path::new("/tmp/c");
        let tops = ["etc"];
        assert_eq!(repoint("/etc", &tops, copy), "/tmp/c/etc");
        assert_eq!(
            repoint(
                "f=/etc/containerd/config.toml; find /etc/containerd 2>/dev/null",
                &tops,
                copy
            ),
            "f=/tmp/c/etc/containerd/config.toml; find /tmp/c/etc/containerd 2>/dev/null"
        );
        assert_eq!(
            repoint("/etcetera /usr/etc s/etc/x/", &tops, copy),
            "/etcetera /usr/etc s/etc/x/"
        );
    }
}
