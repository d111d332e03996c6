//! Writing files so that a crash at any moment leaves either the old or the new content:
//! a temporary file in the same directory, fsync, rename over the target, fsync the directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The real path of `path` (absolute on the target) under `root`, with every symlink on the
/// way resolved as the target system would: an absolute link is relative to `root`, and `..`
/// never climbs above it. So a link inside an image root can never make us read or write a
/// file of the host, and writing "through" a link changes the file it points to, as it would
/// on the target.
pub fn under(root: &Path, path: &str) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let mut resolved = root.to_path_buf();
    let mut pending: Vec<PathBuf> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .rev()
        .collect();
    let mut hops = 0;
    while let Some(next) = pending.pop() {
        if next == Path::new("..") {
            if resolved != root {
                resolved.pop();
            }
            continue;
        }
        let candidate = resolved.join(&next);
        match fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Err(std::io::Error::other(format!(
                        "too many symbolic links resolving {path} under {}",
                        root.display()
                    )));
                }
                let link = fs::read_link(&candidate)?;
                if link.is_absolute() {
                    resolved = root.to_path_buf();
                }
                let parts: Vec<PathBuf> = link
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(PathBuf::from(n)),
                        Component::ParentDir => Some(PathBuf::from("..")),
                        _ => None,
                    })
                    .collect();
                pending.extend(parts.into_iter().rev());
            }
            _ => resolved = candidate,
        }
    }
    Ok(resolved)
}

/// Writes `bytes` to `target` atomically with permission bits `mode`. A file that is
/// replaced keeps its owner and group; a new one belongs to the user running installer
/// (root, on a real run).
pub fn write_atomic(target: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let owner = fs::metadata(target).ok().map(|m| (m.uid(), m.gid()));
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
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_inside_a_root_resolve_inside_it() {
        let root = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("opt")).unwrap();
        // An absolute link to a host directory means that directory inside the root.
        std::os::unix::fs::symlink(host.path(), r.join("etc/modules-load.d")).unwrap();
        let got = under(r, "/etc/modules-load.d/k8s.conf").unwrap();
        assert!(got.starts_with(r), "{} escaped the root", got.display());
        // A relative link to a file is followed to that file, inside the root.
        std::os::unix::fs::symlink("../../opt/k8s.conf", r.join("etc/k8s-link.conf")).unwrap();
        assert_eq!(
            under(r, "/etc/k8s-link.conf").unwrap(),
            r.join("opt/k8s.conf")
        );
        // `..` stops at the root.
        assert_eq!(under(r, "/../../etc/x").unwrap(), r.join("etc/x"));
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink("loop", r.join("etc/loop")).unwrap();
        assert!(under(r, "/etc/loop/x").is_err());
    }

    #[test]
    #[ignore = "needs root (to give a file away): scripts/test-all runs it as root"]
    fn a_replaced_file_keeps_its_owner_and_gets_the_new_mode() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("daemon.json");
        fs::write(&target, "{}").unwrap();
        let nobody = 65534;
        std::os::unix::fs::chown(&target, Some(nobody), Some(nobody)).expect("run as root");
        write_atomic(&target, b"{\"a\": 1}\n", 0o640).unwrap();
        let meta = fs::metadata(&target).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"a\": 1}\n");
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        assert_eq!((meta.uid(), meta.gid()), (nobody, nobody));
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left");
    }
}
