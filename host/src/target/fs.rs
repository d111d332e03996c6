//! The file-system steps under [`super::Target`]: opening only what was looked at, temporary
//! files beside their target, directory syncs, and pathrs' errors as I/O errors.

use super::*;

/// Why [`open_looked_at`] did not open a file.
pub(super) enum Refused {
    /// What is there failed the look (its stat, from before or after the open).
    Look(Box<FileStat>),
    /// The system said no, or the file was swapped between the look and the open.
    Io(std::io::Error),
}

/// Opens the last component of `at` with `flags` only after looking at it: `look` sees its
/// stat first, so a device or FIFO is refused before any open can act on it or block, and
/// the file opened must be the file looked at. `None` when nothing is there.
pub(super) fn open_looked_at(
    at: &Located,
    flags: OFlag,
    look: &dyn Fn(&FileStat) -> bool,
) -> Result<Option<(OwnedFd, FileStat)>, Refused> {
    let seen =
        match nix::sys::stat::fstatat(&at.dir, at.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(Refused::Io(e.into())),
        };
    if !look(&seen) {
        return Err(Refused::Look(Box::new(seen)));
    }
    let fd = nix::fcntl::openat(
        &at.dir,
        at.name.as_os_str(),
        flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Refused::Io(e.into()))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| Refused::Io(e.into()))?;
    if (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino) {
        return Err(Refused::Io(std::io::Error::other(
            "the file was replaced while it was being opened",
        )));
    }
    if !look(&st) {
        return Err(Refused::Look(Box::new(st)));
    }
    Ok(Some((fd, st)))
}

/// `path` made absolute and free of `.`; `..` is kept, for the resolver to scope.
pub(super) fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => out.push(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A path's directory and last component; the last component must name something.
pub(super) fn split(path: &Path) -> std::io::Result<(PathBuf, OsString)> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if name != OsStr::new("..") => {
            Ok((parent.to_path_buf(), name.to_os_string()))
        }
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )),
    }
}

/// A new file next to `name` in `dir`, created exclusively (a link or file already there
/// is never opened) with a name nobody can guess.
pub(super) fn create_temp(
    dir: &OwnedFd,
    name: &OsStr,
    mode: u32,
) -> std::io::Result<(OsString, OwnedFd)> {
    use std::hash::{BuildHasher, Hasher};
    for attempt in 0..16u64 {
        // RandomState is seeded from the system's random source.
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u64(attempt);
        let mut tmp = OsString::from(".");
        tmp.push(OsStr::from_bytes(&name.as_bytes()[..name.len().min(200)]));
        tmp.push(format!(".installer-{:016x}.tmp", hasher.finish()));
        match nix::fcntl::openat(
            dir,
            tmp.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode & 0o777),
        ) {
            Ok(fd) => return Ok((tmp, fd)),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(std::io::Error::other(
        "could not create a temporary file: every name tried was taken",
    ))
}

pub(super) fn sync_dir(dir: &OwnedFd) -> std::io::Result<()> {
    let fd = nix::fcntl::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    File::from(fd).sync_all()
}

pub(super) fn is_missing(e: &pathrs::error::Error) -> bool {
    matches!(
        e.kind(),
        pathrs::error::ErrorKind::OsError(Some(code)) if code == Errno::ENOENT as i32 || code == Errno::ENOTDIR as i32
    )
}

pub(super) fn pathrs_io(path: &Path, e: pathrs::error::Error) -> std::io::Error {
    let kind = match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(code)) => {
            std::io::Error::from_raw_os_error(code).kind()
        }
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, format!("{}: {e}", path.display()))
}
