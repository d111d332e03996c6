//! The target's files: every path inside `--root` is read, created, renamed or removed
//! through a [`Target`], never by joining the root to a path.
//!
//! An image root is someone else's data, so every path in it is resolved inside it by the
//! kernel: [`pathrs`] opens each path relative to a directory handle of the root with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` on kernels that have it (5.6+) and with
//! its own checked component-by-component walk elsewhere. We chose pathrs over cap-std because
//! cap-std refuses absolute symlinks and `..` outright, while an image root is full of them
//! and they must resolve as they would on the booted target (an absolute link is relative to
//! the root); pathrs gives exactly those chroot-like semantics, with the kernel's guarantee
//! where it exists. What pathrs resolves is a directory handle; the last component is then
//! handled with `*at` calls on that handle that never follow a link (a link there is read and
//! resolved again inside the root), temporary files are created `O_CREAT|O_EXCL|O_NOFOLLOW`
//! with unpredictable names, and only regular files of bounded size are ever read.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

/// The most we read of an os-release file.
pub const OS_RELEASE_LIMIT: u64 = 64 * 1024;
/// The most we read of a configuration file, a key or an account table.
pub const FILE_LIMIT: u64 = 8 * 1024 * 1024;

/// The most a download (a program the plan installs) and its backup may hold: 256 MiB.
pub const DOWNLOAD_LIMIT: u64 = 256 * 1024 * 1024;

/// The most names [`Target::list_dir`] returns.
const MAX_LISTED: usize = 4096;

/// How many symbolic links one path may pass through, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// The root of the system we act on (`/` for this host), held open.
#[derive(Debug)]
pub struct Target {
    root: pathrs::Root,
    dir: PathBuf,
}

/// A regular file's content and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// Its content.
    pub bytes: Vec<u8>,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
}

/// Why a file of the target could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A FIFO, a device, a socket or a directory where a file was expected.
    #[error("{path} in {root} is {kind}, not a regular file; it was not read")]
    NotRegular {
        /// The file, as a path on the target.
        path: String,
        /// The root.
        root: String,
        /// What it is.
        kind: &'static str,
    },
    /// Larger than we are prepared to parse.
    #[error("{path} in {root} is larger than {limit} bytes; it was not read")]
    TooLarge {
        /// The file, as a path on the target.
        path: String,
        /// The root.
        root: String,
        /// The cap.
        limit: u64,
    },
    /// Anything else the system said.
    #[error("cannot read {path} in {root}: {source}")]
    Io {
        /// The file, as a path on the target.
        path: String,
        /// The root.
        root: String,
        /// The system's error.
        source: std::io::Error,
    },
}

/// Where the last component of a path lives: its directory (held open) and its name.
struct Located {
    dir: OwnedFd,
    name: OsString,
    /// The path on the target after every link of the last component was followed.
    path: PathBuf,
}

impl Target {
    /// Opens `dir` as the target's root. It must exist and be a directory; nothing is created.
    pub fn open(dir: &Path) -> std::io::Result<Target> {
        let dir = dir
            .canonicalize()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        if !dir.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        // Opened once, following no link anywhere on the way, so swapping a directory of the
        // path for a link after the check above cannot make the host's `/` the target (the
        // kernel's openat2; a last-component no-follow open where it lacks one).
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::openat2(
            nix::fcntl::AT_FDCWD,
            &dir,
            nix::fcntl::OpenHow::new()
                .flags(flags)
                .resolve(nix::fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS),
        ) {
            Err(Errno::ENOSYS) => nix::fcntl::openat(
                nix::fcntl::AT_FDCWD,
                &dir,
                flags | OFlag::O_NOFOLLOW,
                Mode::empty(),
            ),
            other => other,
        }
        .map_err(|e| {
            std::io::Error::new(
                std::io::Error::from(e).kind(),
                format!("{}: {e}", dir.display()),
            )
        })?;
        Ok(Target {
            root: pathrs::Root::from_fd(fd),
            dir,
        })
    }

    /// The root's path on this machine, for messages and for `chroot`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the target is the running system whose kernel and services a plan may touch:
    /// `--root /`, and `/` is the root of PID 1 (not a chroot, such as an image build's or
    /// Ansible's chroot connection, where a modprobe or a sysctl would reach the host's
    /// kernel). Without /proc (or the right to look at PID 1's root) it is not: the kernel
    /// settings and services are then skipped and reported, as for an image root.
    pub fn is_host(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let same =
            |a: &std::fs::Metadata, b: &std::fs::Metadata| (a.dev(), a.ino()) == (b.dev(), b.ino());
        self.dir == Path::new("/")
            && matches!(
                (std::fs::metadata("/proc/1/root/"), std::fs::metadata("/")),
                (Ok(init), Ok(ours)) if same(&init, &ours)
            )
    }

    /// Another handle on the same root.
    pub fn try_clone(&self) -> std::io::Result<Target> {
        Ok(Target {
            root: self.root.try_clone().map_err(|e| pathrs_io(&self.dir, e))?,
            dir: self.dir.clone(),
        })
    }

    /// Where `path` would be on this machine: for messages only, never for opening.
    pub fn display(&self, path: &Path) -> PathBuf {
        self.dir.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// Reads the regular file at `path` (links followed inside the root), up to `limit`
    /// bytes. `None` when there is no such file.
    pub fn read(&self, path: &str, limit: u64) -> Result<Option<FileState>, ReadError> {
        let io = |source: std::io::Error| ReadError::Io {
            path: path.to_owned(),
            root: self.dir.display().to_string(),
            source,
        };
        let Some(at) = self.locate(Path::new(path)).map_err(io)? else {
            return Ok(None);
        };
        let opened = open_looked_at(&at, OFlag::O_RDONLY, &|st| {
            self.regular(path, st, limit).is_ok()
        });
        let (fd, st) = match opened {
            Ok(Some(opened)) => opened,
            Ok(None) => return Ok(None),
            Err(Refused::Look(st)) => return self.regular(path, &st, limit).map(|()| None),
            Err(Refused::Io(e)) => return Err(io(e)),
        };
        let mut bytes = Vec::new();
        File::from(fd)
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(ReadError::TooLarge {
                path: path.to_owned(),
                root: self.dir.display().to_string(),
                limit,
            });
        }
        Ok(Some(FileState {
            bytes,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
        }))
    }

    fn regular(&self, path: &str, st: &FileStat, limit: u64) -> Result<(), ReadError> {
        let kind = match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFREG => None,
            SFlag::S_IFDIR => Some("a directory"),
            SFlag::S_IFIFO => Some("a FIFO"),
            SFlag::S_IFCHR => Some("a character device"),
            SFlag::S_IFBLK => Some("a block device"),
            SFlag::S_IFSOCK => Some("a socket"),
            SFlag::S_IFLNK => Some("a symbolic link"),
            _ => Some("not a file"),
        };
        if let Some(kind) = kind {
            return Err(ReadError::NotRegular {
                path: path.to_owned(),
                root: self.dir.display().to_string(),
                kind,
            });
        }
        if st.st_size as u64 > limit {
            return Err(ReadError::TooLarge {
                path: path.to_owned(),
                root: self.dir.display().to_string(),
                limit,
            });
        }
        Ok(())
    }

    /// The mode (type and permission bits) of what is at `path`, links followed inside the
    /// root.
    fn mode(&self, path: &str) -> Option<nix::libc::mode_t> {
        self.root
            .resolve(path)
            .ok()
            .and_then(|h| nix::sys::stat::fstat(h.as_fd()).ok())
            .map(|st| st.st_mode)
    }

    /// Whether `path` is a directory (links followed inside the root).
    pub fn is_dir(&self, path: &str) -> bool {
        self.mode(path)
            .is_some_and(|m| m & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits())
    }

    /// The bytes free for unprivileged use on the file system holding `path` (resolved
    /// inside the root).
    pub fn free_bytes(&self, path: &str) -> std::io::Result<u64> {
        let handle = self
            .root
            .resolve(path)
            .map_err(|e| pathrs_io(Path::new(path), e))?;
        let st = nix::sys::statvfs::fstatvfs(handle.as_fd())?;
        Ok(st.blocks_available() * st.fragment_size())
    }

    /// The names in the directory at `path`, sorted, without `.` and `..`.
    pub fn list_dir(&self, path: &str) -> std::io::Result<Vec<OsString>> {
        let handle = self
            .root
            .resolve(path)
            .map_err(|e| pathrs_io(Path::new(path), e))?;
        let fd = nix::fcntl::openat(
            handle.as_fd(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut dir = nix::dir::Dir::from_fd(fd)?;
        let mut names: Vec<OsString> = dir
            .iter()
            .filter_map(Result::ok)
            .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n != "." && n != "..")
            // A directory of an image root can hold millions of names: the first are enough.
            .take(MAX_LISTED)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether `path` is a regular file (links followed inside the root), whatever its size.
    pub fn is_file(&self, path: &str) -> bool {
        self.mode(path)
            .is_some_and(|m| m & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits())
    }

    /// Whether something (anything but a dangling link) is at `path`.
    pub fn exists(&self, path: &str) -> bool {
        self.root.resolve(path).is_ok()
    }

    /// Whether `path` is a regular file someone may execute (links followed inside the
    /// root): what a chrooted `execvp` would find.
    pub fn is_executable(&self, path: &str) -> bool {
        self.mode(path)
            .is_some_and(|m| m & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits() && m & 0o111 != 0)
    }

    /// Writes `bytes` to `path` atomically with permission bits `mode`: a temporary file in
    /// the same directory, fsync, rename over the target, fsync the directory, so a crash
    /// leaves the old content or the new. A link at `path` is followed inside the root and
    /// the file it names is replaced, as it would be on the target. The owner and group are
    /// `ids` where given, else the replaced file's, else ours. Returns the directories that
    /// had to be created, outermost first.
    pub fn write_atomic(
        &self,
        path: &str,
        bytes: &[u8],
        mode: u32,
        ids: (Option<u32>, Option<u32>),
    ) -> std::io::Result<Vec<PathBuf>> {
        let (at, created) = self.locate_creating(Path::new(path))?;
        let before =
            nix::sys::stat::fstatat(&at.dir, at.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .ok();
        if let Some(st) = &before {
            if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
                return Err(std::io::Error::other(format!(
                    "{} is not a regular file; it was left alone",
                    at.path.display()
                )));
            }
        }
        let uid = ids.0.or(before.map(|st| st.st_uid));
        let gid = ids.1.or(before.map(|st| st.st_gid));
        // Never a set-user-id or set-group-id file: what we write is configuration, and a mode
        // can come from a file in the root (a merge keeps the file's, a rollback its journal's).
        let mode = mode & 0o1777;
        let (tmp, fd) = create_temp(&at.dir, &at.name, mode)?;
        let result = (|| -> std::io::Result<()> {
            let mut file = File::from(fd);
            file.write_all(bytes)?;
            if uid.is_some() || gid.is_some() {
                nix::unistd::fchown(
                    &file,
                    uid.map(nix::unistd::Uid::from_raw),
                    gid.map(nix::unistd::Gid::from_raw),
                )?;
            }
            // After fchown, which may clear set-id bits.
            nix::sys::stat::fchmod(&file, Mode::from_bits_truncate(mode))?;
            file.sync_all()?;
            nix::fcntl::renameat(&at.dir, tmp.as_os_str(), &at.dir, at.name.as_os_str())?;
            sync_dir(&at.dir)
        })();
        if result.is_err() {
            let _ = nix::unistd::unlinkat(
                &at.dir,
                tmp.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        result.map(|()| created)
    }

    /// Removes the file at `path` (a link there is followed inside the root, and the file it
    /// names is removed). `false` when there was none.
    pub fn remove_file(&self, path: &str) -> std::io::Result<bool> {
        let Some(at) = self.locate(Path::new(path))? else {
            return Ok(false);
        };
        match nix::unistd::unlinkat(
            &at.dir,
            at.name.as_os_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) => sync_dir(&at.dir).map(|()| true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the empty directory at `path`; a directory that is not empty is left.
    pub fn remove_empty_dir(&self, path: &Path) -> std::io::Result<()> {
        let Some(at) = self.locate(path)? else {
            return Ok(());
        };
        match nix::unistd::unlinkat(
            &at.dir,
            at.name.as_os_str(),
            nix::unistd::UnlinkatFlags::RemoveDir,
        ) {
            Ok(()) | Err(Errno::ENOENT) | Err(Errno::ENOTEMPTY) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the directory `path` (and its parents) with `mode`; an existing one is fine.
    /// Returns the directories created, outermost first.
    pub fn create_dir_all(&self, path: &str, mode: u32) -> std::io::Result<Vec<PathBuf>> {
        let (at, mut created) = self.locate_creating(Path::new(path))?;
        match nix::sys::stat::mkdirat(&at.dir, at.name.as_os_str(), Mode::from_bits_truncate(mode))
        {
            Ok(()) => {
                created.push(at.path);
                Ok(created)
            }
            Err(Errno::EEXIST) if self.is_dir(path) => Ok(created),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the regular file at `path` for appending (and reading), creating it with `mode`.
    ///
    /// What is there already is looked at before it is opened (a device node is never
    /// opened: opening some acts on hardware) and must be a regular file with one link.
    pub fn open_append(&self, path: &str, mode: u32) -> std::io::Result<File> {
        let (at, _) = self.locate_creating(Path::new(path))?;
        let flags = OFlag::O_RDWR
            | OFlag::O_APPEND
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC;
        let not_ours = || {
            std::io::Error::other(format!(
                "{} is not a regular file of its own (a device, a FIFO, a link or a hard-linked file); it was not opened",
                at.path.display()
            ))
        };
        let regular_alone = |st: &FileStat| {
            st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits() && st.st_nlink == 1
        };
        let fd = match nix::fcntl::openat(
            &at.dir,
            at.name.as_os_str(),
            flags | OFlag::O_CREAT | OFlag::O_EXCL,
            Mode::from_bits_truncate(mode & 0o777),
        ) {
            Ok(fd) => fd,
            Err(Errno::EEXIST) => match open_looked_at(&at, flags, &regular_alone) {
                Ok(Some((fd, _))) => fd,
                Ok(None) | Err(Refused::Look(_)) => return Err(not_ours()),
                Err(Refused::Io(e)) => return Err(e),
            },
            Err(e) => return Err(e.into()),
        };
        Ok(File::from(fd))
    }

    /// Creates the directory `path` anew with `mode`: one already there is an error, so a
    /// directory someone prepared under a name we chose is never taken for ours.
    pub fn create_dir_new(&self, path: &str, mode: u32) -> std::io::Result<()> {
        let (at, _) = self.locate_creating(Path::new(path))?;
        nix::sys::stat::mkdirat(&at.dir, at.name.as_os_str(), Mode::from_bits_truncate(mode))?;
        Ok(())
    }

    /// Opens the unix socket at `path` (links followed inside the root) as an `O_PATH`
    /// handle, to connect to through `/proc/self/fd`: a link in an image root cannot point
    /// the host at a socket of its own. `None` when there is no such file.
    pub fn open_socket(&self, path: &str) -> std::io::Result<Option<OwnedFd>> {
        let Some(at) = self.locate(Path::new(path))? else {
            return Ok(None);
        };
        let socket = |st: &FileStat| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFSOCK.bits();
        match open_looked_at(&at, OFlag::O_PATH, &socket) {
            Ok(found) => Ok(found.map(|(fd, _)| fd)),
            Err(Refused::Look(_)) => Err(std::io::Error::other(format!(
                "{} is not a socket",
                self.display(Path::new(path)).display()
            ))),
            Err(Refused::Io(e)) => Err(e),
        }
    }

    /// Opens an existing regular file for reading, for asking about its locks (F_GETLK needs
    /// no more). `None` when it is missing or not a regular file.
    pub fn open_existing(&self, path: &str) -> Option<File> {
        let at = self.locate(Path::new(path)).ok()??;
        let regular = |st: &FileStat| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits();
        let (fd, _) = open_looked_at(&at, OFlag::O_RDONLY, &regular).ok()??;
        Some(File::from(fd))
    }

    /// The directory holding the last component of `path` and that component's name, after
    /// every link in the last component was followed inside the root. `None` when a directory
    /// on the way does not exist.
    fn locate(&self, path: &Path) -> std::io::Result<Option<Located>> {
        self.locate_with(path, &mut |_| Ok(false))
    }

    /// As [`Target::locate`], creating missing directories on the way (mode 0755).
    fn locate_creating(&self, path: &Path) -> std::io::Result<(Located, Vec<PathBuf>)> {
        let mut created = Vec::new();
        let at = self
            .locate_with(path, &mut |parent| {
                created.extend(self.make_parents(parent)?);
                Ok(true)
            })?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        Ok((at, created))
    }

    fn locate_with(
        &self,
        path: &Path,
        missing_parent: &mut dyn FnMut(&Path) -> std::io::Result<bool>,
    ) -> std::io::Result<Option<Located>> {
        let mut current = lexical(path);
        for _ in 0..MAX_LINKS {
            let (parent, name) = split(&current)?;
            let dir = match self.root.resolve(&parent) {
                Ok(handle) => OwnedFd::from(handle),
                Err(e) if is_missing(&e) => {
                    if !missing_parent(&parent)? {
                        return Ok(None);
                    }
                    OwnedFd::from(
                        self.root
                            .resolve(&parent)
                            .map_err(|e| pathrs_io(&parent, e))?,
                    )
                }
                Err(e) => return Err(pathrs_io(&parent, e)),
            };
            match nix::sys::stat::fstatat(&dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits() => {
                    let link = nix::fcntl::readlinkat(&dir, name.as_os_str())?;
                    // An absolute link means the same path inside the root; a relative one is
                    // relative to its directory. Either is resolved inside the root again.
                    current = lexical(&parent.join(PathBuf::from(link)));
                }
                _ => {
                    return Ok(Some(Located {
                        dir,
                        name,
                        path: current,
                    }))
                }
            }
        }
        Err(std::io::Error::other(format!(
            "too many levels of symbolic links resolving {}",
            path.display()
        )))
    }

    /// Creates the missing directories of `dir` (inside the root), returning them. As on
    /// the target, a link on the way is followed inside the root, and a link whose
    /// directory is missing has that directory created (where the link points, inside the
    /// root). Each directory is made with `mkdirat` on a handle pathrs resolved, one
    /// component at a time, so nothing is created outside the root.
    fn make_parents(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut created = Vec::new();
        self.make_dirs(dir, 0, &mut created)?;
        Ok(created)
    }

    fn make_dirs(
        &self,
        dir: &Path,
        depth: usize,
        created: &mut Vec<PathBuf>,
    ) -> std::io::Result<()> {
        if depth > MAX_LINKS {
            return Err(std::io::Error::other(format!(
                "too many levels of symbolic links creating {}",
                dir.display()
            )));
        }
        let mut prefix = PathBuf::from("/");
        for c in lexical(dir).components().skip(1) {
            let next = prefix.join(c);
            if self.root.resolve(&next).is_ok() {
                prefix = next;
                continue;
            }
            let parent = self
                .root
                .resolve(&prefix)
                .map_err(|e| pathrs_io(&prefix, e))?;
            let name = c.as_os_str();
            match nix::sys::stat::fstatat(parent.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits() => {
                    let link = nix::fcntl::readlinkat(parent.as_fd(), name)?;
                    self.make_dirs(&prefix.join(PathBuf::from(link)), depth + 1, created)?;
                }
                _ => match nix::sys::stat::mkdirat(
                    parent.as_fd(),
                    name,
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) => created.push(lexical(&next)),
                    Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(std::io::Error::new(
                            std::io::Error::from(e).kind(),
                            format!("cannot create {}: {e}", next.display()),
                        ))
                    }
                },
            }
            prefix = next;
        }
        Ok(())
    }
}

mod fs;

use fs::*;

#[cfg(test)]
mod tests;
