//! What the actions are made of: file writes through the journal, owners from the target's
//! own databases, commands (chrooted under `--root`) and probes.

use super::image_run;
use super::*;

impl Executor<'_> {
    /// The uid and gid named by a file action, looked up in the target's own account files.
    pub(super) fn ids(
        &self,
        path: &str,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> Result<(Option<u32>, Option<u32>), Failure> {
        let lookup = |name: &str, file: &str| -> Result<u32, Failure> {
            let table = self
                .target
                .read(file, FILE_LIMIT)
                .map_err(|e| Failure::plain(format!("{e}; nothing was written for {path}")))?
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .unwrap_or_default();
            table
                .lines()
                .find_map(|line| {
                    let mut fields = line.split(':');
                    (fields.next() == Some(name)).then(|| fields.nth(1).and_then(|id| id.parse().ok())).flatten()
                })
                .ok_or_else(|| Failure::plain(format!("{path} should belong to `{name}`, which is not in {file} under {}; nothing was written for it", self.target.dir().display())))
        };
        Ok((
            owner.map(|o| lookup(o, "/etc/passwd")).transpose()?,
            group.map(|g| lookup(g, "/etc/group")).transpose()?,
        ))
    }

    /// Writes a text file when its content, mode or asked-for owner differ, recording the
    /// old one first.
    pub(super) fn write(
        &mut self,
        path: &str,
        mode: u32,
        bytes: &[u8],
        ids: (Option<u32>, Option<u32>),
    ) -> Result<Outcome, Failure> {
        self.write_file(path, mode, bytes, ids, false)
    }

    /// As [`Executor::write`]; a `binary` file (a program) may be as large as a download and
    /// gets no diff.
    pub(super) fn write_file(
        &mut self,
        path: &str,
        mode: u32,
        bytes: &[u8],
        ids: (Option<u32>, Option<u32>),
        binary: bool,
    ) -> Result<Outcome, Failure> {
        let limit = if binary { DOWNLOAD_LIMIT } else { FILE_LIMIT };
        let before = self
            .target
            .read(path, limit)
            .map_err(|e| Failure::plain(format!("{e}; nothing was changed for it")))?;
        if let Some(old) = &before {
            let owned = ids.0.is_none_or(|u| u == old.uid) && ids.1.is_none_or(|g| g == old.gid);
            if old.bytes == bytes && old.mode == mode && owned {
                return Ok(Outcome::Unchanged);
            }
        }
        let journal = self.journal()?;
        journal.record(path).map_err(|e| io_failure(path, e))?;
        let created = self
            .target
            .write_atomic(path, bytes, mode, ids)
            .map_err(|e| io_failure(path, e))?;
        self.journal()?
            .created(created)
            .map_err(|e| io_failure(path, e))?;
        self.changed.push(path.to_owned());
        let diff = before.filter(|_| !binary).map(|old| {
            files::diff(
                path,
                &String::from_utf8_lossy(&old.bytes),
                &String::from_utf8_lossy(bytes),
            )
        });
        let backup = self.journal.as_ref().and_then(|j| j.backup_of(path));
        let note = match backup {
            Some(b) => format!(
                "wrote {path} (the previous version is kept at {})",
                b.display()
            ),
            None => format!("wrote {path}"),
        };
        Ok(Outcome::Changed {
            note: Some(note),
            diff: diff.filter(|d| !d.is_empty()),
        })
    }

    /// The copies package managers leave beside the configuration files this plan writes,
    /// as they are now: when a package ships a file the site already has, dpkg (with
    /// `--force-confold`) keeps the site's and leaves the package's as `.dpkg-dist`; rpm
    /// does the same with `.rpmnew` for `%config(noreplace)`, but for plain `%config` moves
    /// the site's aside as `.rpmorig` and installs its own (rpm-spec(5), `%config`;
    /// rpm lib/transaction.cc, FA_ALTNAME and FA_BACKUP).
    pub(super) fn set_aside(&self) -> BTreeSet<String> {
        self.plan_files
            .iter()
            .flat_map(|p| SET_ASIDE.iter().map(move |suffix| format!("{p}{suffix}")))
            .filter(|p| self.target.exists(p))
            .collect()
    }

    /// What a package transaction's set-aside copy means for the site's file, put right
    /// where rpm replaced it: the site's file goes back (journaled), the package's version
    /// is kept as `.rpmnew`, and the plan then edits the site's file as it would have.
    pub(super) fn keep_site_file(&mut self, aside: &str) -> Result<String, Failure> {
        let Some(path) = aside.strip_suffix(".rpmorig") else {
            let path = SET_ASIDE
                .iter()
                .find_map(|s| aside.strip_suffix(s))
                .unwrap_or(aside);
            return Ok(format!(
                "the package manager kept {path} as it was; the package's version is at {aside}"
            ));
        };
        let site = self
            .current(aside)?
            .ok_or_else(|| Failure::plain(format!("{aside} went away while it was read")))?;
        if let Some(package) = self.current(path)? {
            self.write(
                &format!("{path}.rpmnew"),
                package.mode,
                &package.bytes,
                (None, None),
            )?;
        }
        self.write(
            path,
            site.mode,
            &site.bytes,
            (Some(site.uid), Some(site.gid)),
        )?;
        Ok(format!(
            "rpm set the site's {path} aside as {aside} and installed the package's; the site's file was put back (the package's version is at {path}.rpmnew)"
        ))
    }

    /// What a failed transaction left, as the package manager tells it.
    pub(super) fn audit(&self, audit: &plugin_api::Audit) -> LeftBehind {
        // It only asks: on an image root, without network, as a probe.
        let state = match self.run_command(&audit.argv, &BTreeMap::new(), None, true) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).trim_end().to_owned(),
            Err(f) => f.message,
        };
        LeftBehind {
            state,
            query: audit.argv.clone(),
            fix: audit.hint.clone(),
        }
    }

    /// The regular file at `path` on the target, if there is one; anything else there (a
    /// FIFO, a device, a file too large to be ours) is refused.
    pub(super) fn current(&self, path: &str) -> Result<Option<FileState>, Failure> {
        self.target
            .read(path, FILE_LIMIT)
            .map_err(|e| Failure::plain(format!("{e}; nothing was changed for it")))
    }

    /// Runs a command on the target (chrooted unless the root is `/`), logging its output.
    pub(super) fn command(
        &self,
        argv: &[String],
        env: &BTreeMap<String, String>,
    ) -> Result<std::process::Output, Failure> {
        self.command_within(argv, env, None)
    }

    /// [`Self::command`], stopped (its whole process group) when it runs longer than
    /// `limit`: a probe only asks, and one that hangs must not hang `verify` or a run.
    pub(super) fn command_within(
        &self,
        argv: &[String],
        env: &BTreeMap<String, String>,
        limit: Option<Duration>,
    ) -> Result<std::process::Output, Failure> {
        self.run_command(argv, env, limit, false)
    }

    /// [`Self::command_within`] for a command that only asks (`probe`) or changes; on an
    /// image root the two may run differently ([`super::image`]).
    pub(super) fn run_command(
        &self,
        argv: &[String],
        env: &BTreeMap<String, String>,
        limit: Option<Duration>,
        probe: bool,
    ) -> Result<std::process::Output, Failure> {
        let failed = |message: String| Failure {
            message,
            command: Some(argv.to_vec()),
            exit_status: None,
            output_tail: None,
            left_behind: None,
        };
        let way = self.way(argv, probe);
        // A probe whose program is nowhere says what chroot and the shell say then: 127.
        if let (true, super::image::Way::Unavailable(why)) = (probe, &way) {
            tracing::debug!("{why}");
            return Ok(std::process::Output {
                status: std::os::unix::process::ExitStatusExt::from_raw(127 << 8),
                stdout: Vec::new(),
                stderr: why.clone().into_bytes(),
            });
        }
        let (mut cmd, input, confined) = match self.prepare(argv, way, probe).map_err(failed)? {
            image_run::Prepared::Command(c) => (c, None, false),
            image_run::Prepared::Confined(c) => (c, None, true),
            image_run::Prepared::Filter(c, input) => (c, Some(input), false),
            image_run::Prepared::Answer(out) => {
                *self.last_ran.borrow_mut() = None;
                return Ok(out);
            }
        };
        // What the log and a failure show: the command as it ran (chrooted, or the host's
        // own, confined).
        let ran_argv: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let ran = ran_argv.join(" ");
        *self.last_ran.borrow_mut() = Some(ran_argv);
        cmd.env("PATH", super::image::PATH).env("LC_ALL", "C");
        // A plugin's environment (LD_PRELOAD, PYTHONPATH, RPM_CONFIGDIR...) would steer this
        // host's own dnf, zypper or rpm: only what installer sets reaches them.
        if !confined {
            cmd.envs(env);
        }
        cmd.stdin(std::process::Stdio::null());
        let started = std::time::Instant::now();
        let out = match (input, limit) {
            (Some(input), _) => image_run::filter(cmd, input).map(Some),
            (None, None) => cmd.output().map(Some),
            (None, Some(limit)) => output_within(cmd, limit),
        }
        .map_err(|e| failed(format!("cannot run `{}`: {e}", argv.join(" "))))?
        .ok_or_else(|| {
            failed(format!(
                "`{}` did not finish within {} s and was stopped",
                argv.join(" "),
                limit.unwrap_or_default().as_secs()
            ))
        })?;
        let entry = format!(
            "$ {}\n{}{}[exit {}, {:.3} s]\n",
            ran,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
                .code()
                .map_or("signal".to_owned(), |c| c.to_string()),
            started.elapsed().as_secs_f64()
        );
        tracing::debug!("{}", entry.trim_end());
        self.log.borrow_mut().push_str(&entry);
        Ok(out)
    }

    /// The command line the last command run had on this host (`bwrap --bind ROOT / ... --
    /// apt-get ...`, `bwrap ... -- dnf ...`), else `argv`: what a failure shows as its command.
    pub(super) fn ran_as(&self, argv: &[String]) -> Vec<String> {
        self.last_ran
            .borrow()
            .clone()
            .unwrap_or_else(|| argv.to_vec())
    }

    /// Runs a command that must succeed.
    pub(super) fn must(&self, argv: &[String]) -> Result<(), Failure> {
        let out = self.command(argv, &BTreeMap::new())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Failure {
                message: format!("`{}` failed", argv.join(" ")),
                command: Some(self.ran_as(argv)),
                exit_status: out.status.code(),
                output_tail: Some(tail(&out.stdout, &out.stderr)),
                left_behind: None,
            })
        }
    }

    /// Whether a probe says "yes". A probe that cannot even start says "no".
    pub(super) fn probe(&self, probe: &Probe) -> bool {
        self.probe_run(probe).yes
    }

    /// Whether a probe says "yes", and what it printed.
    pub(super) fn probe_with_output(&self, probe: &Probe) -> (bool, String) {
        let run = self.probe_run(probe);
        (run.yes, run.stdout)
    }

    /// Runs a probe and reads its answer.
    pub(super) fn probe_run(&self, probe: &Probe) -> ProbeRun {
        // Cannot (or may not) run here: the reason, not a guess that the program is missing.
        if let super::image::Way::Unavailable(why) = self.way(&probe.argv, true) {
            return ProbeRun {
                yes: false,
                stdout: String::new(),
                status: Some(127),
                tail: why.clone(),
                unavailable: Some(why),
            };
        }
        let out = match self.run_command(&probe.argv, &BTreeMap::new(), Some(PROBE_LIMIT), true) {
            Ok(out) => out,
            Err(failure) => {
                return ProbeRun {
                    yes: false,
                    stdout: String::new(),
                    status: None,
                    tail: String::new(),
                    unavailable: Some(failure.message),
                }
            }
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let yes = out.status.success() && expected(&probe.expect, &stdout);
        // chroot and the shell say 127 when the command is not there.
        let unavailable = (out.status.code() == Some(127)).then(|| {
            format!(
                "`{}` is not installed in {}",
                probe.argv[0],
                self.target.dir().display()
            )
        });
        ProbeRun {
            yes,
            status: out.status.code(),
            tail: tail(&out.stdout, &out.stderr),
            stdout,
            unavailable,
        }
    }
}

/// Whether a probe's output is what it expects.
pub(super) fn expected(expect: &Expect, stdout: &str) -> bool {
    match expect {
        Expect::Success => true,
        Expect::StdoutContains(t) => stdout.contains(t.as_str()),
        Expect::StdoutLacks(t) => !stdout.contains(t.as_str()),
        Expect::StdoutEquals(t) => stdout.trim() == t.trim(),
        Expect::StdoutLines(lines) => lines.iter().all(|l| stdout.lines().any(|s| s == l)),
    }
}

pub(super) fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

pub(super) fn io_failure(path: &str, e: std::io::Error) -> Failure {
    Failure::plain(format!("cannot write {path}: {e}"))
}

/// How long a probe may run: they read state (`dpkg-query`, `containerd config dump`), and
/// one that takes longer is stuck.
pub(super) const PROBE_LIMIT: Duration = Duration::from_secs(120);

/// Runs `cmd` in its own process group, collecting its output; `None` when it ran longer
/// than `limit` (the group is killed, so that a child holding the pipes cannot keep us).
pub(super) fn output_within(
    mut cmd: Command,
    limit: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    use std::io::Read as _;
    use std::os::unix::process::CommandExt as _;
    use wait_timeout::ChildExt as _;
    cmd.process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn()?;
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let status = match child.wait_timeout(limit)? {
        Some(status) => status,
        None => {
            let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Ok(None);
        }
    };
    Ok(Some(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_past_its_limit_is_stopped_with_the_children_holding_its_pipes() {
        let started = std::time::Instant::now();
        let mut cmd = Command::new("sh");
        // The background child keeps stdout open: killing `sh` alone would leave us waiting.
        cmd.args(["-c", "sleep 30 & sleep 30"]);
        let out = output_within(cmd, Duration::from_millis(300)).unwrap();
        assert!(out.is_none());
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not stuck on the pipes"
        );

        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo yes; echo no >&2; exit 3"]);
        let out = output_within(cmd, Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert_eq!(out.stdout, b"yes\n");
        assert_eq!(out.stderr, b"no\n");
        assert_eq!(out.status.code(), Some(3));
    }
}

/// A check's answer judged by `probe`'s expectation, from what an earlier run of the same
/// command printed.
pub(super) fn judge_again(probe: &Probe, earlier: ProbeRun) -> ProbeRun {
    let yes = earlier.status == Some(0) && expected(&probe.expect, &earlier.stdout);
    ProbeRun { yes, ..earlier }
}

#[cfg(test)]
mod judge_tests {
    use super::*;

    fn probe(expect: Expect) -> Probe {
        Probe {
            argv: vec!["containerd".into(), "config".into(), "dump".into()],
            expect,
        }
    }

    fn ran(status: i32, stdout: &str) -> ProbeRun {
        ProbeRun {
            yes: false,
            stdout: stdout.into(),
            status: Some(status),
            tail: String::new(),
            unavailable: None,
        }
    }

    #[test]
    fn an_earlier_output_is_judged_by_each_checks_own_expectation() {
        let dump = ran(0, "[plugins]\n  SystemdCgroup = true\n");
        let lacks_false = probe(Expect::StdoutLacks("SystemdCgroup = false".into()));
        let has_true = probe(Expect::StdoutContains("SystemdCgroup = true".into()));
        let has_other = probe(Expect::StdoutContains("BinaryName".into()));
        assert!(judge_again(&lacks_false, dump.clone()).yes);
        assert!(judge_again(&has_true, dump.clone()).yes);
        assert!(!judge_again(&has_other, dump).yes);
        // A command that failed fails every check that reads it.
        assert!(!judge_again(&lacks_false, ran(1, "")).yes);
        assert!(!judge_again(&probe(Expect::Success), ran(1, "")).yes);
        assert!(judge_again(&probe(Expect::Success), ran(0, "")).yes);
    }
}
