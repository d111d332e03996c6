//! The confinement of every build-host program that acts on an image root: bubblewrap
//! (`bwrap`), so that the image, which is hostile data, cannot lead this host's dnf, zypper,
//! rpm or a check's program to write outside it, whatever links it holds.
//!
//! What bwrap gives, and where that is documented:
//! - `--ro-bind / /` is recursive and read-only all the way down: bubblewrap binds with
//!   `MS_REC` and remounts every submount read-only (containers/bubblewrap issue #11, "Recursive
//!   readonly binds broken", fixed in 2016 by bc72284). A link in the image to any host path
//!   then meets EROFS, unless it points into the root itself, the run's scratch directory, or
//!   one of the fresh `/tmp`, `/run`, `/dev` below, which are thrown away.
//! - `--proc /proc` mounts a new proc for the new PID namespace and binds `sys`,
//!   `sysrq-trigger`, `irq` and `bus` under it read-only (bubblewrap.c, `SETUP_MOUNT_PROC`,
//!   `cover_proc_dirs`).
//! - Run as root, bwrap keeps every capability unless told otherwise: `--cap-drop ALL` is
//!   what empties the set (containers/bubblewrap issue #561: as uid 0, `getpcaps` inside
//!   shows `=ep` without it, `=` with `--cap-drop ALL`), and `--cap-add` then adds back
//!   only what is named ("Add cap CAP when running as privileged user", bwrap --help, PR
//!   #101). Without CAP_SYS_ADMIN nothing inside can mount or remount.
//!
//! The network is not unshared: the repositories are reached from inside.

use std::path::Path;
use std::process::Command;

/// The program.
pub(crate) const BWRAP: &str = "bwrap";

/// What rpm needs to install files with their owners, modes and file capabilities, make
/// device nodes, and run scriptlets chrooted into the root as the users they switch to
/// (docker's default set, less the network's and CAP_SETPCAP; never CAP_SYS_ADMIN).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE",
];

/// The options every confined program gets: fresh `/dev`, `/proc`, `/tmp` and `/run`, its
/// own PID and IPC namespaces, killed with installer, capabilities cut to [`CAPS`].
fn common(c: &mut Command) {
    c.args([
        "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run",
    ]);
    c.args([
        "--unshare-pid",
        "--unshare-ipc",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
    ]);
    for cap in CAPS {
        c.args(["--cap-add", cap]);
    }
}

/// `argv` run with this host read-only and only `root` and `scratch` writable, at their own
/// paths (bound after the fresh `/tmp`, `/run` and `/var/tmp`, so that either may lie below
/// them), HOME
/// the scratch directory (where its `.rpmmacros` is read).
pub(crate) fn on_root(root: &Path, scratch: &Path, argv: &[String]) -> Command {
    let mut c = Command::new(BWRAP);
    c.args(["--ro-bind", "/", "/"]);
    common(&mut c);
    // zypper makes its media attach points in /var/tmp (libzypp's TmpPath default).
    c.args(["--tmpfs", "/var/tmp"]);
    c.arg("--bind").arg(root).arg(root);
    c.arg("--bind").arg(scratch).arg(scratch);
    c.args(["--chdir", "/", "--"]).args(argv);
    c.env("HOME", scratch).env("TMPDIR", "/tmp");
    c
}

/// The directories of this host a check's program is run from: nothing else of the host is
/// there, so that what the check reads is only the copy bound at the root's paths.
pub(crate) const PROGRAM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"];

/// `argv` (a check's program) run on an empty root that holds this host's
/// [`PROGRAM_DIRS`], read-only, and each `(copy, path)` of `binds`: a copy of what the image
/// root has at `path`, bound read-only at `path`. No path of the command is rewritten.
pub(crate) fn on_copy(binds: &[(std::path::PathBuf, String)], argv: &[String]) -> Command {
    let mut c = Command::new(BWRAP);
    for dir in PROGRAM_DIRS {
        c.args(["--ro-bind-try", dir, dir]);
    }
    common(&mut c);
    for (copy, path) in binds {
        c.arg("--ro-bind").arg(copy).arg(path);
    }
    c.args(["--chdir", "/", "--"]).args(argv);
    c.env("HOME", "/").env("TMPDIR", "/tmp");
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(c: &Command) -> Vec<String> {
        c.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_host_is_read_only_and_only_the_root_and_scratch_are_bound_writable() {
        let c = on_root(
            Path::new("/tmp/r"),
            Path::new("/tmp/s"),
            &["rpm".to_owned(), "-q".to_owned()],
        );
        let a = args(&c).join(" ");
        assert!(
            a.starts_with("--ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /run"),
            "{a}"
        );
        assert!(a.contains("--cap-drop ALL"), "{a}");
        assert!(!a.contains("CAP_SYS_ADMIN"), "{a}");
        // Bound after the tmpfs over /tmp, else they would be hidden by it.
        assert!(
            a.ends_with(
                "--tmpfs /var/tmp --bind /tmp/r /tmp/r --bind /tmp/s /tmp/s --chdir / -- rpm -q"
            ),
            "{a}"
        );
        assert_eq!(a.matches("--bind ").count(), 2, "{a}");
    }
}
