//! Writing files so that a crash at any moment leaves either the old or the new content:
//! a temporary file in the same directory, fsync, rename over the target, fsync the directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The real path of `path` (absolute on the target) under `root`.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Writes `bytes` to `target` atomically with permission bits `mode`.
pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = target
        .parent()
        .ok_or_else(|| std::io::Error::other("a file needs a directory"))?;
    fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.installer-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, target)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The current content and mode of `target`, if it is a file.
pub fn current(target: &Path) -> Option<(Vec<u8>, u32)> {
    let meta = fs::metadata(target).ok().filter(|m| m.is_file())?;
    Some((fs::read(target).ok()?, meta.permissions().mode() & 0o7777))
}

/// A unified diff from `old` to `new`, labelled with `path`.
pub fn diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path} (now)"), &format!("{path} (planned)"))
        .to_string()
}
