//! Each kind of action, carried out: one function per kind, each checking first and
//! skipping what is already done.

use super::*;

impl Executor<'_> {
    pub(super) fn apply_write_file(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::WriteFile {
            path,
            mode,
            content,
            owner,
            group,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        let ids = self.ids(path, owner.as_deref(), group.as_deref())?;
        self.write(path, *mode, content.as_bytes(), ids)
    }

    pub(super) fn apply_merge_file(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::MergeFile {
            path,
            mode,
            merge,
            owner,
            group,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        let ids = self.ids(path, owner.as_deref(), group.as_deref())?;
        let existing = self.current(path)?;
        if existing.is_none() {
            if let Some(why) = yaml_document_missing(path, merge) {
                return Ok(Outcome::Skipped(why));
            }
        }
        let bytes = existing.as_ref().map(|f| f.bytes.as_slice());
        // A file the site had before this run is the site's: a value it sets otherwise
        // is a conflict unless overridden. One a package installed during the run
        // (its defaults) takes the plan's values.
        let overrides = if self.preexisting.contains(path) {
            Overrides::Keys(&self.overrides)
        } else {
            Overrides::All
        };
        let merged = crate::merge::apply_to_bytes(path, bytes, merge, overrides).map_err(|e| {
            Failure::plain(format!(
                "{e}; the file was left as it is — fix it by hand, then run again"
            ))
        })?;
        let mode = existing.map_or(*mode, |f| f.mode);
        self.write(path, mode, merged.as_bytes(), ids)
    }

    pub(super) fn apply_remove_file(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::RemoveFile { path } = action else {
            unreachable!("apply dispatches by kind")
        };
        if self.current(path)?.is_none() {
            return Ok(Outcome::Unchanged);
        }
        self.journal()?
            .record(path)
            .map_err(|e| io_failure(path, e))?;
        self.target
            .remove_file(path)
            .map_err(|e| io_failure(path, e))?;
        self.changed.push(path.clone());
        Ok(Outcome::Changed {
            note: Some(format!("removed {path}")),
            diff: None,
        })
    }

    pub(super) fn apply_fetch_key(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::FetchKey {
            url,
            fingerprints,
            dest,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        if let Some(file) = self.current(dest)? {
            if keys::verify(&file.bytes, dest, fingerprints).is_ok() {
                return Ok(Outcome::Unchanged);
            }
        }
        let key_failure =
            |e: keys::KeyError| Failure::plain(format!("{e}; nothing was written for it"));
        let bytes = keys::fetch(url, self.allow_insecure_repo).map_err(key_failure)?;
        let fingerprint = keys::verify(&bytes, url, fingerprints).map_err(key_failure)?;
        self.write(dest, 0o644, &bytes, (None, None))?;
        Ok(Outcome::Changed {
            note: Some(format!("stored the key {fingerprint} from {url} at {dest}")),
            diff: None,
        })
    }

    pub(super) fn apply_download(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let wanted = wanted(action).expect("a download");
        if download::is_installed(self.target, &wanted) {
            return Ok(Outcome::Unchanged);
        }
        let key = (
            wanted.sha256.to_ascii_lowercase(),
            wanted.member.map(str::to_owned),
        );
        let bytes = match self.fetched.remove(&key) {
            Some(bytes) => bytes,
            None => download::fetch(&wanted, self.allow_insecure_repo)
                .map_err(|e| Failure::plain(format!("{e}; nothing was written for it")))?,
        };
        let record = download::record_text(&wanted, &bytes);
        // Root's, whoever owned what was there: systemd runs it as root.
        self.write_file(wanted.path, wanted.mode, &bytes, (Some(0), Some(0)), true)?;
        self.write_file(
            &download::record_path(wanted.path),
            0o644,
            record.as_bytes(),
            (None, None),
            false,
        )?;
        Ok(Outcome::Changed {
            note: Some(format!(
                "installed {} from {} (sha256 {} checked)",
                wanted.path,
                wanted.url,
                wanted.sha256.to_ascii_lowercase()
            )),
            diff: None,
        })
    }

    pub(super) fn apply_run(
        &mut self,
        action: &Action,
        kernel_step: bool,
    ) -> Result<Outcome, Failure> {
        let Action::Run {
            argv,
            env,
            unless,
            transaction,
            resolve,
            audit,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        if kernel_step && !self.live {
            return Ok(Outcome::Skipped(format!(
                "`{}` changes the running kernel, which is not this root's: the settings take effect when the image boots",
                argv.join(" ")
            )));
        }
        if let image::Way::Builtin(image::Builtin::MakeDirs { mode, dirs }) = self.way(argv, false)
        {
            return self.make_dirs(mode, &dirs);
        }
        let mut argv = argv.clone();
        let mut unless = unless.clone();
        // When neither the command nor the probe's own command line needs the versions (only
        // what the probe must print does, as for a refresh skipped once everything is
        // installed at its pin), the probe is asked first: a probe command that fails says
        // "not done" whatever they resolve to, and they are not looked up at all.
        let needs = |args: &[String]| {
            resolve
                .iter()
                .any(|r| args.iter().any(|a| a.contains(&r.placeholder)))
        };
        let early = match &unless {
            Some(probe) if !resolve.is_empty() && !needs(&argv) && !needs(&probe.argv) => {
                Some(self.probe_run(probe))
            }
            _ => None,
        };
        if early.as_ref().is_none_or(|run| run.status == Some(0)) {
            let probe_usable = self.resolve_versions(resolve, &mut argv, &mut unless)?;
            if let Some(probe) = unless.as_ref().filter(|_| probe_usable) {
                let done = match early {
                    Some(run) => super::commands::judge_again(probe, run).yes,
                    None => self.probe(probe),
                };
                if done {
                    return Ok(Outcome::Unchanged);
                }
            }
        }
        self.prepare_versionlock(&argv)?;
        let aside_before = if *transaction {
            self.set_aside()
        } else {
            BTreeSet::new()
        };
        let out = self.command(&argv, env)?;
        if !out.status.success() {
            return Err(Failure {
                message: format!("`{}` failed", argv.join(" ")),
                command: Some(self.ran_as(&argv)),
                exit_status: out.status.code(),
                output_tail: Some(tail(&out.stdout, &out.stderr)),
                left_behind: audit.as_ref().map(|a| Box::new(self.audit(a))),
            });
        }
        let mut notes = vec![format!("ran `{}`", argv.join(" "))];
        if *transaction {
            self.transactions += 1;
            self.packages_changed = true;
            self.installed.push(argv.join(" "));
            for aside in self.set_aside().difference(&aside_before) {
                notes.push(self.keep_site_file(aside)?);
            }
        }
        Ok(Outcome::Changed {
            note: Some(notes.join("; ")),
            diff: None,
        })
    }

    /// Resolves each partial pin on the target and writes the version in place of its
    /// placeholder in `argv` and `unless`; whether `unless` can still vouch for anything.
    pub(super) fn resolve_versions(
        &self,
        resolve: &[plugin_api::ResolveVersion],
        argv: &mut [String],
        unless: &mut Option<Probe>,
    ) -> Result<bool, Failure> {
        // A version that cannot be resolved is an error when the command needs it;
        // when only the probe does (a refresh that must run before the version can be
        // known), the probe cannot vouch for anything and the command runs.
        let mut probe_usable = true;
        for r in resolve {
            let out = self.command(&r.query, &BTreeMap::new())?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let offered = listed_versions(&text, &r.listing);
            let Some(version) =
                plugin_api::version::pick(&r.pin, offered.iter().map(String::as_str))
            else {
                if !argv.iter().any(|a| a.contains(&r.placeholder)) {
                    probe_usable = false;
                    continue;
                }
                return Err(Failure {
                    message: format!(
                        "no version of {} matches the pin {} (whole components); the repositories offer: {}",
                        r.package,
                        r.pin,
                        if offered.is_empty() { "none".to_owned() } else { offered.join(", ") }
                    ),
                    command: Some(self.ran_as(&r.query)),
                    exit_status: out.status.code(),
                    output_tail: Some(tail(&out.stdout, &out.stderr)),
                    left_behind: None,
                });
            };
            let version = version.to_owned();
            // The release the pin found here is judged as an exact pin would be.
            if let Some(why) = self.vulnerabilities.refuse(&r.package, &version, &r.pin) {
                return Err(Failure {
                    message: why,
                    command: Some(self.ran_as(&r.query)),
                    exit_status: out.status.code(),
                    output_tail: None,
                    left_behind: None,
                });
            }
            for a in argv.iter_mut() {
                *a = a.replace(&r.placeholder, &version);
            }
            if let Some(p) = unless.as_mut() {
                substitute_probe(p, &r.placeholder, &version);
            }
        }
        Ok(probe_usable)
    }

    pub(super) fn apply_service(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::Service {
            unit,
            daemon_reload,
            enable,
            start,
            restart_when_changed,
            stop,
            disable,
        } = action
        else {
            unreachable!("apply dispatches by kind")
        };
        if !self.systemd {
            return Ok(Outcome::Skipped(format!(
                "{unit}: systemd is not running in {} (a chroot or an image root); the unit is handled when the system boots",
                self.target.dir().display()
            )));
        }
        let mut did = Vec::new();
        let sys = |args: &[&str]| -> Vec<String> {
            std::iter::once("systemctl")
                .chain(args.iter().copied())
                .map(str::to_owned)
                .collect()
        };
        // Stopped where active, disabled where enabled.
        for (wanted, state, verb, done, undo) in [
            (*stop, "is-active", "stop", "stopped", "start"),
            (*disable, "is-enabled", "disable", "disabled", "enable"),
        ] {
            let now = |me: &Self| {
                me.probe(&Probe {
                    argv: sys(&[state, "--quiet", unit]),
                    expect: Expect::Success,
                })
            };
            if wanted && now(self) {
                self.must(&sys(&[verb, unit]))?;
                self.undo_services.push((unit.clone(), undo));
                did.push(format!("{done} {unit}"));
            }
        }
        if *daemon_reload && self.changed.iter().any(|p| p.starts_with("/etc/systemd/")) {
            self.must(&sys(&["daemon-reload"]))?;
            did.push("daemon-reload".to_owned());
        }
        if *enable
            && !self.probe(&Probe {
                argv: sys(&["is-enabled", "--quiet", unit]),
                expect: Expect::Success,
            })
        {
            self.must(&sys(&["enable", unit]))?;
            did.push(format!("enabled {unit}"));
        }
        let changed = restart_when_changed.iter().any(|t| match t {
            RestartTrigger::Package(_) => self.packages_changed,
            RestartTrigger::File(path) => self.changed.contains(path),
        });
        let active = self.probe(&Probe {
            argv: sys(&["is-active", "--quiet", unit]),
            expect: Expect::Success,
        });
        if changed && active {
            self.must(&sys(&["restart", unit]))?;
            did.push(format!(
                "restarted {unit} (its configuration or packages changed)"
            ));
        } else if *start && !active {
            self.must(&sys(&["start", unit]))?;
            did.push(format!("started {unit}"));
        }
        if did.is_empty() {
            Ok(Outcome::Unchanged)
        } else {
            Ok(Outcome::Changed {
                note: Some(did.join("; ")),
                diff: None,
            })
        }
    }

    pub(super) fn apply_skip_if(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::SkipIf(guard) = action else {
            unreachable!("apply dispatches by kind")
        };
        let (yes, stdout) = self.probe_with_output(&guard.probe);
        if yes {
            let found = stdout.trim();
            let reason = if found.is_empty() {
                format!("warning: {}", guard.warning)
            } else {
                format!(
                    "warning: {} (found: {})",
                    guard.warning,
                    found.lines().collect::<Vec<_>>().join(", ")
                )
            };
            tracing::warn!("{reason}");
            Ok(Outcome::SkipRest(reason))
        } else {
            Ok(Outcome::Unchanged)
        }
    }

    pub(super) fn apply_check(&mut self, action: &Action) -> Result<Outcome, Failure> {
        let Action::Check(check) = action else {
            unreachable!("apply dispatches by kind")
        };
        // The same command asked again with nothing changed in between answers the same: its
        // output is read once (the probe's expectation is judged on it each time).
        let earlier = self
            .check_answers
            .iter()
            .find(|(probe, _)| probe.argv == check.probe.argv)
            .map(|(_, run)| run.clone());
        let run = match earlier {
            Some(run) => super::commands::judge_again(&check.probe, run),
            None => {
                let run = self.probe_run(&check.probe);
                self.check_answers.push((check.probe.clone(), run.clone()));
                run
            }
        };
        if run.yes {
            return Ok(Outcome::Unchanged);
        }
        // An image root filled from this host that cannot run the check (its program is not
        // installed there) is reported as not checked, never as passed; anywhere else a
        // missing program is a broken install.
        if let (false, Some(why), true) = (self.live, &run.unavailable, self.host_filled.get()) {
            return Ok(Outcome::Skipped(format!(
                "not checked ({why}): {}; `installer verify --root {}` asks it once the root has it",
                check.description,
                self.target.dir().display()
            )));
        }
        // A probe whose command is missing did not check anything: say that, not that
        // the thing checked is wrong.
        let message = match &run.unavailable {
            Some(why) => format!("check could not run ({why}): {}", check.description),
            None => format!("check failed: {}", check.description),
        };
        Err(Failure {
            message,
            command: Some(check.probe.argv.clone()),
            exit_status: run.status,
            output_tail: Some(run.tail),
            left_behind: None,
        })
    }
}

pub(super) fn substitute_probe(probe: &mut Probe, placeholder: &str, version: &str) {
    for a in probe.argv.iter_mut() {
        *a = a.replace(placeholder, version);
    }
    match &mut probe.expect {
        Expect::Success => {}
        Expect::StdoutContains(t) | Expect::StdoutLacks(t) | Expect::StdoutEquals(t) => {
            *t = t.replace(placeholder, version)
        }
        Expect::StdoutLines(lines) => {
            for l in lines.iter_mut() {
                *l = l.replace(placeholder, version);
            }
        }
    }
}

/// The versions a query lists for the package, per the plugin's description of the listing.
pub(super) fn listed_versions(text: &str, listing: &plugin_api::VersionListing) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = match &listing.separator {
                Some(sep) => line.split(sep.as_str()).map(str::trim).collect(),
                None => line.split_whitespace().collect(),
            };
            let name = fields.get(listing.name_field)?;
            let version = fields.get(listing.version_field)?;
            (listing.names.iter().any(|n| n == name) && !version.is_empty())
                .then(|| (*version).to_owned())
        })
        .collect()
}

/// What a `download` action asks for.
pub(super) fn wanted(action: &Action) -> Option<download::Wanted<'_>> {
    match action {
        Action::Download {
            url,
            sha256,
            member,
            path,
            mode,
        } => Some(download::Wanted {
            url,
            sha256,
            member: member.as_deref(),
            path,
            mode: *mode,
        }),
        _ => None,
    }
}

/// Why an edit of a YAML document or of an environment file's flags is skipped when the file
/// is not there: such an edit sets values in a file another tool writes (kubeadm's
/// KubeletConfiguration and kubeadm-flags.env), never the file.
pub fn yaml_document_missing(path: &str, merge: &plugin_api::FileContent) -> Option<String> {
    matches!(
        merge,
        plugin_api::FileContent::YamlSet { .. } | plugin_api::FileContent::EnvFlags { .. }
    )
    .then(|| {
        format!(
            "{path} does not exist yet, so it was not edited: kubeadm writes it at `kubeadm init` or `join` (give kubeadm a KubeletConfiguration with these values)"
        )
    })
}
