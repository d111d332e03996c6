//! Waiting, with a bound, for another package manager to finish: dpkg and rpm take fcntl
//! locks on files under the root; we look for a holder without taking the lock ourselves.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::target::Target;

/// Lock files of the package managers, on the target.
const LOCK_FILES: [&str; 4] = [
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/lib/rpm/.rpm.lock",
    "/var/cache/dnf/metadata_lock.pid",
];

/// A lock somebody holds.
#[derive(Debug, Clone)]
pub struct Holder {
    /// The lock file.
    pub path: PathBuf,
    /// The holder's pid, when the kernel says.
    pub pid: Option<i32>,
    /// The holder's command name.
    pub command: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.pid, &self.command) {
            (Some(pid), Some(cmd)) => {
                write!(f, "{} is held by {cmd} (pid {pid})", self.path.display())
            }
            (Some(pid), None) => write!(f, "{} is held by pid {pid}", self.path.display()),
            _ => write!(f, "{} is held by another process", self.path.display()),
        }
    }
}

/// The holder of a write lock on `path`, if any.
fn holder(target: &Target, path: &str) -> Option<Holder> {
    use nix::fcntl::{fcntl, FcntlArg};
    let file = target.open_existing(path)?;
    let mut lock = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(&file, FcntlArg::F_GETLK(&mut lock)).ok()?;
    if lock.l_type == nix::libc::F_UNLCK as i16 {
        return None;
    }
    let pid = (lock.l_pid > 0).then_some(lock.l_pid);
    let command = pid
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
        .map(|c| c.trim().to_owned());
    Some(Holder {
        path: target.display(path.as_ref()),
        pid,
        command,
    })
}

/// Waits until no package-manager lock on the target is held, up to `bound`. Returns the
/// holder that outlasted the bound.
pub fn wait_for_package_managers(target: &Target, bound: Duration) -> Result<(), Holder> {
    let start = Instant::now();
    let mut announced = false;
    loop {
        let held = LOCK_FILES.iter().find_map(|p| holder(target, p));
        match held {
            None => return Ok(()),
            Some(h) if start.elapsed() >= bound => return Err(h),
            Some(h) => {
                if !announced {
                    tracing::warn!("{h}; waiting up to {} s for it to finish", bound.as_secs());
                    announced = true;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}

/// The lock that keeps two runs on one root from interleaving (and from interleaving their
/// rollbacks): a write lock (`fcntl`, as dpkg's) on `/var/lib/installer/lock` in the target,
/// which the kernel releases when the process ends, however it ends, and whose holder the
/// kernel names to the one waiting. The file is created once and never written. A POSIX
/// lock is released when the process closes any descriptor of the file, so nothing else in
/// this process opens it while the lock is held ([`holder`] only asks when we do not hold it).
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// The run lock, on the target.
pub const RUN_LOCK: &str = "/var/lib/installer/lock";

impl RunLock {
    /// Takes the lock, waiting up to `bound` for another run to finish. The error says who
    /// holds it.
    pub fn acquire(target: &Target, bound: Duration) -> Result<RunLock, String> {
        use nix::fcntl::{fcntl, FcntlArg};
        let shown = target.display(RUN_LOCK.as_ref());
        let file = target
            .open_append(RUN_LOCK, 0o600)
            .map_err(|e| format!("cannot open the run lock {}: {e}", shown.display()))?;
        let start = Instant::now();
        let mut announced = false;
        loop {
            let lock = nix::libc::flock {
                l_type: nix::libc::F_WRLCK as i16,
                l_whence: nix::libc::SEEK_SET as i16,
                l_start: 0,
                l_len: 0,
                l_pid: 0,
            };
            match fcntl(&file, FcntlArg::F_SETLK(&lock)) {
                Ok(_) => return Ok(RunLock { _file: file }),
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => {
                    let holder = holder(target, RUN_LOCK)
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| format!("{} is held by another run", shown.display()));
                    if start.elapsed() >= bound {
                        return Err(holder);
                    }
                    if !announced {
                        tracing::warn!(
                            "{holder}; waiting up to {} s for that run to finish",
                            bound.as_secs()
                        );
                        announced = true;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(format!("cannot lock {}: {e}", shown.display())),
            }
        }
    }
}
