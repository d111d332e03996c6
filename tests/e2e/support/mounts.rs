//! `Mounts`: what a daemon needs inside a root (proc, sys, dev, a tmpfs on /run), and the
//! daemons started there. Dropping it stops each daemon by the PID recorded when it was
//! started (then anything else still running in the root, found by its root directory),
//! and unmounts everything with `umount -R`, deepest first.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::root::DebianRoot;
use super::{check, cmd, signal, stop_processes_rooted_in, wait_for};

pub struct Mounts {
    root: PathBuf,
    logs: PathBuf,
    mounted: Vec<PathBuf>,
    daemons: Vec<(String, Child)>,
}

impl Mounts {
    /// Mounts proc, sys (recursively, as a slave so that unmounting it never propagates to
    /// the host), dev and a tmpfs on /run inside `root`.
    pub fn new(root: &DebianRoot) -> Mounts {
        let mut m = Mounts {
            root: root.path().to_path_buf(),
            logs: root.scratch().to_path_buf(),
            mounted: Vec::new(),
            daemons: Vec::new(),
        };
        m.mount(&["-t", "proc", "proc"], "proc", false);
        m.mount(&["--rbind", "/sys"], "sys", true);
        m.mount(&["--rbind", "/dev"], "dev", true);
        m.mount(&["-t", "tmpfs", "tmpfs"], "run", false);
        m
    }

    fn mount(&mut self, args: &[&str], at: &str, slave: bool) {
        let point = self.root.join(at);
        fs::create_dir_all(&point).unwrap();
        check(cmd("mount", args).arg(&point));
        self.mounted.push(point.clone());
        if slave {
            check(cmd("mount", ["--make-rslave"]).arg(&point));
        }
    }

    /// Starts `argv` chrooted in the root, its output in `<scratch>/<name>.log`; returns
    /// its PID, which `Drop` stops.
    pub fn start(&mut self, name: &str, argv: &[&str]) -> u32 {
        let log = self.log(name);
        let out = File::create(&log).unwrap();
        let child = Command::new("chroot")
            .arg(&self.root)
            .args(argv)
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {argv:?} in the root: {e}"));
        let pid = child.id();
        self.daemons.push((name.to_owned(), child));
        pid
    }

    /// Where the daemon `name` logs.
    pub fn log(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Waits until `socket` (a path inside the root) exists, panicking with the daemon's log
    /// when it does not appear or the daemon exits first.
    pub fn wait_for_socket(&mut self, name: &str, socket: &str) {
        let path = self.root.join(socket.trim_start_matches('/'));
        let log = self.log(name);
        let daemons = &mut self.daemons;
        let ok = wait_for(Duration::from_secs(60), Duration::from_millis(100), || {
            if let Some((_, child)) = daemons.iter_mut().find(|(n, _)| n == name) {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{name} exited ({status}) before serving {socket}:\n{}",
                        fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
            path.exists()
        });
        assert!(
            ok,
            "{name} did not create {socket} within 60 s:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Sends `sig` (`TERM`, `KILL`) to the daemon `name` started here and waits for it to
    /// exit; a daemon killed this way leaves what it had not cleaned up (its socket file).
    pub fn signal_and_wait(&mut self, name: &str, sig: &str) {
        let at = self
            .daemons
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no daemon {name} was started here"));
        let (_, mut child) = self.daemons.remove(at);
        signal(child.id(), sig);
        let _ = child.wait();
    }

    fn stop(&mut self) {
        for (name, mut child) in self.daemons.drain(..).rev() {
            if let Ok(None) = child.try_wait() {
                signal(child.id(), "TERM");
                let deadline = Instant::now() + Duration::from_secs(15);
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                if matches!(child.try_wait(), Ok(None)) {
                    eprintln!("{name} ignored SIGTERM; killing PID {}", child.id());
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
        }
        // Children of the daemons (dockerd's containerd, shims) share its root.
        stop_processes_rooted_in(&self.root);
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        self.stop();
        for point in self.mounted.drain(..).rev() {
            unmount(&point);
        }
    }
}

fn unmount(point: &Path) {
    let ok = Command::new("umount")
        .arg("-R")
        .arg(point)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // A busy mount: detach it so the test's directory can still go.
        let _ = Command::new("umount")
            .arg("-R")
            .arg("-l")
            .arg(point)
            .status();
    }
}
