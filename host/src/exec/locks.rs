//! Waiting, with a bound, for another package manager to finish: dpkg and rpm take fcntl
//! locks on files under the root; we look for a holder without taking the lock ourselves.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Lock files of the package managers, relative to the root.
const LOCK_FILES: [&str; 4] = [
    "var/lib/dpkg/lock-frontend",
    "var/lib/dpkg/lock",
    "var/lib/rpm/.rpm.lock",
    "var/cache/dnf/metadata_lock.pid",
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
fn holder(path: &Path) -> Option<Holder> {
    use nix::fcntl::{fcntl, FcntlArg};
    let file = OpenOptions::new().read(true).write(true).open(path).ok()?;
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
        path: path.to_path_buf(),
        pid,
        command,
    })
}

/// Waits until no package-manager lock under `root` is held, up to `bound`. Returns the
/// holder that outlasted the bound.
pub fn wait_for_package_managers(root: &Path, bound: Duration) -> Result<(), Holder> {
    let start = Instant::now();
    let mut announced = false;
    loop {
        let held = LOCK_FILES
            .iter()
            .map(|f| root.join(f))
            .find_map(|p| holder(&p));
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
