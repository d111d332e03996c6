//! The confinement of every build-host program that acts on an image root: bubblewrap
//! (`bwrap`), so that the image, which is hostile data, cannot lead this host's dnf, zypper,
//! rpm or a check's program to write outside it, whatever links it holds.
//!
//! What bwrap gives, and where that is documented:
//! - Of the host, only what the programs run from is there: `/usr`, the `/bin`, `/sbin` and
//!   `/lib*` beside it, and of `/etc` only what they read (the loader's cache, name
//!   resolution, CA certificates, their settings; [`ETC_READ`]), read-only. `--ro-bind` is recursive and read-only all the way down: bubblewrap binds with
//!   `MS_REC` and remounts every submount read-only (containers/bubblewrap issue #11,
//!   "Recursive readonly binds broken", fixed in 2016 by bc72284). A link in the image to a
//!   host path then meets EROFS or nothing at all, unless it points into the root itself, the
//!   run's scratch directory, or one of the fresh `/tmp`, `/run`, `/dev` below, which are
//!   thrown away. Binding all of `/` instead showed the host's homes and data to the image's
//!   programs, and raced with the host's own mounts: bwrap's recursive remount fails
//!   (EINVAL) when a mount below vanishes under it, which a build host mounting a test root's
//!   `/proc` at the same time did.
//! - `--proc /proc` mounts a new proc for the new PID namespace. bubblewrap's own cover of
//!   `/proc/sys` (bubblewrap.c, `cover_proc_dirs`) is skipped when `access(W_OK)` fails,
//!   which it always does for procfs's `sys` directory, so `/proc/sys` stayed writable
//!   (a review found `core_pattern` open for writing): it is bound read-only here
//!   explicitly, as is `/proc/sysrq-trigger` (checked: writing `kernel/msgmax` then fails
//!   with EROFS).
//! - `--new-session` gives the program no controlling terminal, so it cannot push
//!   keystrokes into the operator's shell with TIOCSTI (bwrap(1), `--new-session`).
//! - The environment is emptied: nothing of the caller's (LD_PRELOAD, PYTHONPATH,
//!   DNF_VAR_*, ZYPP_*) reaches the confined program; only the proxy settings are passed on,
//!   as the repositories may be reached through one.
//! - Run as root, bwrap keeps every capability unless told otherwise: `--cap-drop ALL` is
//!   what empties the set (containers/bubblewrap issue #561: as uid 0, `getpcaps` inside
//!   shows `=ep` without it, `=` with `--cap-drop ALL`), and `--cap-add` then adds back
//!   only what is named ("Add cap CAP when running as privileged user", bwrap --help, PR
//!   #101). Without CAP_SYS_ADMIN nothing inside can mount or remount.
//!
//! - A seccomp filter (`--seccomp`, built with seccompiler for this host's architecture)
//!   takes away the kernel keyrings (`keyctl`, `add_key`, `request_key`: a host root key
//!   could otherwise be read inside) and new user namespaces (`unshare`/`clone` with
//!   CLONE_NEWUSER, and `clone3`, whose flags a filter cannot read: glibc falls back to
//!   `clone` on ENOSYS), which would open kernel code the sandbox does not need; each fails
//!   with ENOSYS. Only this host's native system call ABI passes (a 32-bit program inside is
//!   stopped).
//!
//! - What only asks (a probe, a check on a copy) gets a network namespace of its own
//!   (`--unshare-net`: only a loopback device of its own): the services this host
//!   listens for on 127.0.0.1, its abstract unix sockets (they belong to the network
//!   namespace: unix(7), "Abstract sockets"), and a cloud's metadata endpoint are out of its
//!   reach. What changes the root (apt-get, dnf, zypper, rpm, their scriptlets) keeps this
//!   host's network, as the repositories are reached from inside: see [`Net`].

use std::path::Path;
use std::process::Command;

use command_fds::{CommandFdExt as _, FdMapping};

/// The program.
pub(crate) const BWRAP: &str = "bwrap";

/// What rpm needs to install files with their owners, modes and file capabilities, make
/// device nodes, and run scriptlets chrooted into the root as the users they switch to
/// (docker's default set, less the network's, CAP_SETPCAP, CAP_AUDIT_WRITE, with which the
/// image could forge the host's audit records (groupadd and useradd, linked with libaudit,
/// work without it: checked), and CAP_DAC_READ_SEARCH, which would let `open_by_handle_at`
/// reach files the sandbox hides; never CAP_SYS_ADMIN).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// The proxy settings passed on to a confined program; nothing else of the environment.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
];

/// Which network a confined program is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net {
    /// This host's: a package manager reaches the repositories (and its scriptlets, whatever
    /// else this host reaches; a user-mode network would narrow that, and is not done).
    Host,
    /// None at all, for a program that only asks (a probe, a check): a network namespace of
    /// its own, so nothing listening on this host is there to reach.
    None,
}

/// The options every confined program gets: fresh `/dev`, `/proc` (its `sys` read-only),
/// `/tmp` and `/run`, its own session, PID and IPC namespaces (and network namespace for
/// [`Net::None`]), killed with installer, and an empty environment but for the proxy
/// settings; capabilities cut to `caps`.
fn common(c: &mut Command, caps: &[&str], net: Net) {
    c.env_clear();
    for var in PROXY_VARS {
        if let Some(value) = std::env::var_os(var) {
            c.env(var, value);
        }
    }
    c.args([
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--ro-bind",
        "/proc/sys",
        "/proc/sys",
        "--ro-bind-try",
        "/proc/sysrq-trigger",
        "/proc/sysrq-trigger",
        // Sticky and open to all, as /tmp is: apt's methods drop to the `_apt` user.
        "--perms",
        "01777",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
    ]);
    c.args([
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--die-with-parent",
        "--cap-drop",
        "ALL",
    ]);
    if net == Net::None {
        c.arg("--unshare-net");
    }
    for cap in caps {
        c.args(["--cap-add", cap]);
    }
    match seccomp_file() {
        Ok(file) => {
            let mapped = c.fd_mappings(vec![FdMapping {
                parent_fd: file.into(),
                child_fd: SECCOMP_FD,
            }]);
            match mapped {
                Ok(c) => {
                    c.args(["--seccomp", &SECCOMP_FD.to_string()]);
                }
                Err(e) => tracing::warn!("no seccomp filter for bubblewrap: {e}"),
            }
        }
        Err(why) => tracing::warn!("no seccomp filter for bubblewrap: {why}"),
    }
}

/// The descriptor bubblewrap reads the seccomp program from.
const SECCOMP_FD: i32 = 3;

/// The seccomp program for this host's architecture (see the module's notes), as the bytes
/// of its BPF instructions, which `bwrap --seccomp FD` reads.
fn seccomp_program() -> Result<Vec<u8>, String> {
    use nix::libc;
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let new_user = || -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
        let flag = libc::CLONE_NEWUSER as u64;
        let cond = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )?;
        Ok(vec![SeccompRule::new(vec![cond])?])
    };
    let rules = [
        (libc::SYS_keyctl, Vec::new()),
        (libc::SYS_add_key, Vec::new()),
        (libc::SYS_request_key, Vec::new()),
        (libc::SYS_clone3, Vec::new()),
        (libc::SYS_unshare, new_user().map_err(|e| e.to_string())?),
        (libc::SYS_clone, new_user().map_err(|e| e.to_string())?),
    ]
    .into_iter()
    .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    Ok(program
        .iter()
        .flat_map(|i| {
            let mut b = Vec::with_capacity(8);
            b.extend_from_slice(&i.code.to_ne_bytes());
            b.push(i.jt);
            b.push(i.jf);
            b.extend_from_slice(&i.k.to_ne_bytes());
            b
        })
        .collect())
}

/// An unnamed file holding [`seccomp_program`], read from its start.
fn seccomp_file() -> Result<std::fs::File, String> {
    use std::io::{Seek as _, Write as _};
    static PROGRAM: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    let program = PROGRAM.get_or_init(seccomp_program).clone()?;
    let mut file = tempfile::tempfile().map_err(|e| e.to_string())?;
    file.write_all(&program)
        .and_then(|()| file.rewind())
        .map_err(|e| e.to_string())?;
    Ok(file)
}

/// `argv` run with this host read-only and only `root` writable, at its own path, and
/// `scratch` (installer's settings for the tools) readable there (both bound after the fresh
/// `/tmp`, `/run` and `/var/tmp`, so that either may lie below them); HOME the scratch
/// directory (where its `.rpmmacros` is read). The scratch directory is read-only inside:
/// installer rewrites its files before each command, and nothing inside may plant a link
/// there for it to follow.
///
/// `readable` are host directories the program is given on purpose (an unpacked
/// dnf-plugins-core), bound read-only at their paths last: one below `/tmp` would otherwise be
/// hidden by the fresh `/tmp`. `net`: whether it reaches the repositories ([`Net`]).
pub(crate) fn on_root(
    root: &Path,
    scratch: &Path,
    readable: &[&Path],
    argv: &[String],
    net: Net,
) -> Command {
    let mut c = Command::new(BWRAP);
    host_view(&mut c);
    common(&mut c, CAPS, net);
    // zypper makes its media attach points in /var/tmp (libzypp's TmpPath default).
    c.args(["--perms", "01777", "--tmpfs", "/var/tmp"]);
    // The deeper of the two is bound last, else the other's bind would cover it.
    if scratch.starts_with(root) {
        c.arg("--bind").arg(root).arg(root);
        c.arg("--ro-bind").arg(scratch).arg(scratch);
    } else {
        c.arg("--ro-bind").arg(scratch).arg(scratch);
        c.arg("--bind").arg(root).arg(root);
    }
    for dir in readable {
        c.arg("--ro-bind").arg(dir).arg(dir);
    }
    // The rest of the tree (bwrap's own tmpfs) read-only too: a write the tools were not
    // meant to make (a database in a HOME-relative path) fails instead of vanishing.
    c.args(["--remount-ro", "/", "--chdir", "/", "--"])
        .args(argv);
    c.env("HOME", scratch).env("TMPDIR", "/tmp");
    c
}

/// The root's own program `argv` run on the root as its `/`, instead of plain chroot, which
/// would run the image's code as this host's root with every capability: here it keeps only
/// what rpm and dpkg need (no CAP_SYS_ADMIN, so no mount or remount, no CAP_SYS_MODULE or
/// CAP_SYS_PTRACE), sees a fresh `/dev`, `/proc` (its `sys` read-only), `/sys`, `/tmp` and
/// `/run` over whatever the root holds or has mounted there, runs in its own PID and IPC
/// namespaces and session, and nothing of this host is there but, with [`Net::Host`], its
/// network. `--bind` (not `--dev-bind`) leaves device nodes the root holds or makes
/// unusable. HOME is root's home in the image.
pub(crate) fn in_root(root: &Path, argv: &[String], net: Net) -> Command {
    let mut c = Command::new(BWRAP);
    c.arg("--bind").arg(root).arg("/");
    common(&mut c, CAPS, net);
    c.args(["--tmpfs", "/sys", "--chdir", "/", "--"]).args(argv);
    c.env("HOME", "/root");
    c
}

/// The directories of a root that [`in_root`] covers with fresh ones: what is mounted there
/// (a chroot's usual /proc, /sys, /dev) is out of reach of the root's programs.
pub(crate) const COVERED: &[&str] = &["/dev", "/proc", "/sys", "/tmp", "/run"];

/// The mount points strictly below `root`, from this process's mount table
/// (/proc/self/mountinfo, field 5; octal escapes as the kernel writes them), or why the
/// table could not be read: a caller must then assume the worst, never that nothing is
/// mounted.
pub(crate) fn mounts_below(root: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    std::fs::read("/proc/self/mountinfo")
        .map(|table| mounts_below_in(&table, root))
        .map_err(|e| format!("this host's mount table (/proc/self/mountinfo) cannot be read: {e}"))
}

/// The mount points strictly below `root` in the mount table `table` (mountinfo's format).
/// Paths are bytes, as the kernel keeps them: a name that is not UTF-8 is still a mount.
fn mounts_below_in(table: &[u8], root: &Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    table
        .split(|b| *b == b'\n')
        .filter_map(|line| line.split(|b| *b == b' ').nth(4))
        .map(|point| std::path::PathBuf::from(std::ffi::OsString::from_vec(unescape(point))))
        .filter(|point| point != root && point.starts_with(root))
        .collect()
}

/// A mountinfo path with its `\ooo` escapes (space, tab, newline, backslash) undone.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let code = (field[i] == b'\\')
            .then(|| field.get(i + 1..i + 4))
            .flatten()
            .and_then(|o| std::str::from_utf8(o).ok())
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c);
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

/// Why the programs that `way` runs may not run on `root` given what is mounted below it
/// (`mounted`, as [`mounts_below`] read it): the build host's tools see every mount inside
/// the root, the root's own programs all but those below [`COVERED`].
pub(crate) fn mounted_refusal(
    root: &Path,
    own_programs: bool,
    mounted: &Result<Vec<std::path::PathBuf>, String>,
) -> Option<String> {
    let mounted = match mounted {
        Ok(m) => m,
        Err(why) => {
            return Some(format!(
                "{why}, so whether something is mounted inside the root {} cannot be told; nothing runs there",
                root.display()
            ))
        }
    };
    let covered = |m: &Path| {
        own_programs
            && COVERED
                .iter()
                .any(|c| m.starts_with(root.join(c.trim_start_matches('/'))))
    };
    let m = mounted.iter().find(|m| !covered(m))?;
    let who = if own_programs {
        "the root's own programs, which run there, would reach what is mounted through it (only /dev, /proc, /sys, /tmp and /run are covered)"
    } else {
        "this host's package manager, which runs there, would reach the host through it (a mount inside the root is not confined)"
    };
    Some(format!(
        "{} is mounted inside the root {}, and {who}; unmount it (`umount -R {}`) and run again",
        m.display(),
        root.display(),
        m.display()
    ))
}

/// The directories of this host a confined program is run from: nothing else of the host is
/// there (for a check, what it reads is only the copy bound at the root's paths).
pub(crate) const PROGRAM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
];

/// What of this host's `/etc` the build-host tools read (the loader, name resolution, users
/// and groups by name, CA certificates, the time zone, their own settings): bound read-only
/// into an empty `/etc`, where present. Nothing else of `/etc` is there: an rpm scriptlet
/// may climb out of its chroot into the sandbox's tree (rpm keeps CAP_SYS_CHROOT), and the
/// host's keys, keytabs and service credentials must not be there to read.
const ETC_READ: &[&str] = &[
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "resolv.conf",
    "hosts",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "passwd",
    "group",
    "services",
    "protocols",
    "ssl/certs",
    "ssl/openssl.cnf",
    "ca-certificates",
    "ca-certificates.conf",
    "pki/tls/certs",
    "pki/ca-trust",
    "crypto-policies",
    "localtime",
    "timezone",
    "alternatives",
    "os-release",
    "machine-id",
    "dnf",
    "zypp",
    "rpm",
];

/// This host as a program acting on a root sees it: [`PROGRAM_DIRS`] read-only, and an
/// `/etc` holding only [`ETC_READ`] and the python settings directories (`python3*`: dnf is
/// python), read-only.
fn host_view(c: &mut Command) {
    for dir in PROGRAM_DIRS {
        c.args(["--ro-bind-try", dir, dir]);
    }
    c.args(["--tmpfs", "/etc"]);
    // This host's python settings directories, listed once per process, not per command.
    static PYTHON: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let python = PYTHON.get_or_init(|| {
        std::fs::read_dir("/etc")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("python3"))
            .collect()
    });
    for name in ETC_READ
        .iter()
        .map(|n| (*n).to_owned())
        .chain(python.iter().cloned())
    {
        let path = format!("/etc/{name}");
        c.args(["--ro-bind-try", &path, &path]);
    }
    c.args(["--remount-ro", "/etc"]);
}

/// `argv` (a check's program) run on an empty root that holds this host's
/// [`PROGRAM_DIRS`], read-only, and each `(copy, path)` of `binds`: a copy of what the image
/// root has at `path`, bound read-only at `path`. No path of the command is rewritten.
pub(crate) fn on_copy(binds: &[(std::path::PathBuf, String)], argv: &[String]) -> Command {
    let mut c = Command::new(BWRAP);
    for dir in PROGRAM_DIRS {
        c.args(["--ro-bind-try", dir, dir]);
    }
    // A check only reads: it keeps no capability at all, and has no network.
    common(&mut c, &[], Net::None);
    for (copy, path) in binds {
        c.arg("--ro-bind").arg(copy).arg(path);
    }
    c.args(["--chdir", "/", "--"]).args(argv);
    c.env("HOME", "/").env("TMPDIR", "/tmp");
    c
}

/// Why what the image brings or makes in `root` would be usable by this host's other users,
/// when it would be: bubblewrap's binds are `nosuid,nodev` only inside the confinement, and
/// on this host's filesystem a setuid-root program or a device node open to all (a disk's)
/// left in the root by the image or a package's scripts is real. That matters unless a
/// directory above the root keeps everyone but root out (root's own, with no group or other
/// search bit: an ACL's entries are capped by the group bits, its mask), on a filesystem that
/// honours setuid programs or device nodes. The root's own mode does not count: the image's
/// scripts may change it.
pub(crate) fn exposed(root: &Path) -> Option<String> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let closed = root.ancestors().skip(1).any(|dir| {
        std::fs::metadata(dir).is_ok_and(|m| m.uid() == 0 && m.permissions().mode() & 0o011 == 0)
    });
    if closed {
        return None;
    }
    let honoured = match statvfs(root) {
        Ok(fs) => {
            let flags = fs.flags();
            let mut honoured = Vec::new();
            if !flags.contains(FsFlags::ST_NOSUID) {
                honoured.push("setuid programs");
            }
            if !flags.contains(FsFlags::ST_NODEV) {
                honoured.push("device nodes");
            }
            honoured
        }
        Err(_) => vec!["setuid programs", "device nodes"],
    };
    if honoured.is_empty() {
        return None;
    }
    Some(format!(
        "the image root {} can be reached by users of this host other than root (no \
         directory above it is root's with no group or other search bit), on a filesystem that honours {}: those the image brings or its \
         package scripts make there work for them as they would on the image (a setuid shell, \
         a disk open to all); keep image roots below a directory only root may enter \
         (a root-owned parent, `chmod 0700`), or on a `nosuid,nodev` mount",
        root.display(),
        honoured.join(" and ")
    ))
}

#[cfg(test)]
mod tests;
