//! Manifests remembered between runs, so that a command starts only the plugins it calls.
//!
//! Reading a plugin's manifest means starting a child process that loads the library; doing
//! that for every file on the plugin path was most of the time a plan took. A manifest is a
//! pure function of the file (and of the host that reads it), so it is kept here, keyed by
//! what identifies that file's content: device, inode, size, modification and change times,
//! and a digest of its bytes, read through the same checked descriptor a child would load.
//! Any difference, or a different host build, and the plugin is started again. Plugin code
//! still runs only in child processes: the cache holds data a child produced, never code.
//!
//! The cache file is trusted as plugin files are: it and every directory above it must be
//! owned by root (or the user running installer) and writable by nobody else; otherwise it
//! is neither read nor written. Only manifests are cached; a file that failed to load is
//! probed again each time, so its error is always current.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The cache file's name inside the cache directory.
const FILE_NAME: &str = "plugin-manifests.json";
/// Entries kept at most; the oldest paths beyond it are dropped.
const MAX_ENTRIES: usize = 256;
/// A cache file larger than this is not ours to read.
const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// What identifies one plugin file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    /// xxh3-128 of the bytes, in hex.
    xxh3: String,
}

impl FileKey {
    /// The key of the open file `file`, its bytes read through the descriptor itself.
    pub fn of(file: &fs::File) -> std::io::Result<FileKey> {
        let meta = file.metadata()?;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut offset = 0u64;
        loop {
            let n = file.read_at(&mut buf, offset)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            offset += n as u64;
        }
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Ok(FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: offset,
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            xxh3: format!("{:032x}", hasher.digest128()),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: FileKey,
    manifest: serde_json::Value,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    /// The host build that read the manifests: another build may read them differently.
    host: String,
    entries: BTreeMap<PathBuf, Entry>,
}

/// The manifest cache of one command: read once, written back once if anything changed.
#[derive(Debug)]
pub struct ManifestCache {
    file: Option<PathBuf>,
    host: String,
    doc: Document,
    dirty: bool,
}

impl ManifestCache {
    /// No cache: every plugin is started.
    pub fn disabled() -> ManifestCache {
        ManifestCache {
            file: None,
            host: String::new(),
            doc: Document::default(),
            dirty: false,
        }
    }

    /// The cache in `dir`, for the host build `host`. A cache that is missing, unreadable,
    /// untrusted, malformed or from another build starts empty.
    pub fn open(dir: &Path, host: String) -> ManifestCache {
        let file = dir.join(FILE_NAME);
        let doc = match read(&file) {
            Ok(Some(doc)) if doc.host == host => doc,
            Ok(Some(_)) => {
                tracing::debug!(
                    "plugin manifest cache {} is from another build",
                    file.display()
                );
                Document::default()
            }
            Ok(None) => Document::default(),
            Err(reason) => {
                tracing::debug!(
                    "plugin manifest cache {} not used: {reason}",
                    file.display()
                );
                Document::default()
            }
        };
        ManifestCache {
            file: Some(file),
            host,
            doc,
            dirty: false,
        }
    }

    /// Whether there is a cache to read and write (the files' keys are worth computing).
    pub fn enabled(&self) -> bool {
        self.file.is_some()
    }

    /// The remembered manifest of the plugin file at `path` whose content is `key`.
    pub fn get(&self, path: &Path, key: &FileKey) -> Option<serde_json::Value> {
        self.file.as_ref()?;
        self.doc
            .entries
            .get(path)
            .filter(|e| e.key == *key)
            .map(|e| e.manifest.clone())
    }

    /// Remembers `manifest` for the file at `path` whose content is `key`.
    pub fn put(&mut self, path: &Path, key: FileKey, manifest: serde_json::Value) {
        if self.file.is_none() {
            return;
        }
        self.doc
            .entries
            .insert(path.to_path_buf(), Entry { key, manifest });
        self.dirty = true;
    }

    /// Forgets the file at `path` (it no longer loads, or is gone).
    pub fn forget(&mut self, path: &Path) {
        if self.doc.entries.remove(path).is_some() {
            self.dirty = true;
        }
    }

    /// Writes the cache back when it changed: entries whose files are gone are dropped, the
    /// file replaced atomically. Failing to write only costs the next command some time.
    pub fn save(mut self) {
        let Some(file) = self.file.take() else {
            return;
        };
        if !self.dirty {
            return;
        }
        self.doc.host = std::mem::take(&mut self.host);
        self.doc.entries.retain(|path, _| path.exists());
        while self.doc.entries.len() > MAX_ENTRIES {
            let first = self.doc.entries.keys().next().cloned();
            first.map(|k| self.doc.entries.remove(&k));
        }
        if let Err(e) = write(&file, &self.doc) {
            tracing::debug!("plugin manifest cache {} not written: {e}", file.display());
        }
    }
}

/// The cache document at `file`, if it exists and may be trusted.
fn read(file: &Path) -> Result<Option<Document>, String> {
    use std::io::Read;
    if fs::symlink_metadata(file).is_err() {
        return Ok(None);
    }
    let opened = super::open_checked(file)?;
    let mut text = String::new();
    opened
        .take(MAX_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("malformed: {e}"))
}

fn write(file: &Path, doc: &Document) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = file.parent().ok_or("no directory")?;
    if !dir.is_dir() {
        // Only the cache directory itself is made: a parent that does not exist (a path
        // from the host, inside a chroot) means this is not the place for it.
        fs::DirBuilder::new()
            .mode(0o755)
            .create(dir)
            .map_err(|e| e.to_string())?;
    }
    // Written only where it would be read: a directory anyone else could write is refused.
    let mut tmp = tempfile::Builder::new()
        .prefix(".plugin-manifests")
        .tempfile_in(dir)
        .map_err(|e| e.to_string())?;
    serde_json::to_writer(&mut tmp, doc).map_err(|e| e.to_string())?;
    tmp.flush().map_err(|e| e.to_string())?;
    let tmp_path = tmp.path().to_path_buf();
    super::open_checked(&tmp_path)?;
    tmp.persist(file).map_err(|e| e.to_string())?;
    Ok(())
}

/// The default cache directory: INSTALLER_CACHE_DIR, else /var/cache/installer for root,
/// else $XDG_CACHE_HOME/installer or ~/.cache/installer.
pub fn default_dir() -> Option<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Some(PathBuf::from("/var/cache/installer"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    if !base.is_dir() {
        fs::create_dir_all(&base).ok()?;
    }
    Some(base.join("installer"))
}

/// The host build reading manifests: its version line and the binary file itself, so a
/// rebuilt binary (same version, new code) does not trust its predecessor's readings.
pub fn host_identity() -> String {
    let exe = fs::metadata("/proc/self/exe")
        .map(|m| format!("{}:{}:{}:{}", m.dev(), m.ino(), m.size(), m.mtime()))
        .unwrap_or_default();
    format!(
        "{} {} {} {exe}",
        env!("CARGO_PKG_VERSION"),
        plugin_api::PROTOCOL_VERSION,
        env!("INSTALLER_COMMIT")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(path: &Path) -> FileKey {
        FileKey::of(&fs::File::open(path).unwrap()).unwrap()
    }

    #[test]
    fn a_manifest_is_found_again_only_for_the_same_content() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("libp.so");
        fs::write(&plugin, b"one").unwrap();
        let cache_dir = dir.path().join("cache");
        let mut cache = ManifestCache::open(&cache_dir, "host 1".into());
        let key = key_of(&plugin);
        assert_eq!(cache.get(&plugin, &key), None);
        cache.put(&plugin, key.clone(), serde_json::json!({"name": "p"}));
        cache.save();

        let cache = ManifestCache::open(&cache_dir, "host 1".into());
        assert_eq!(
            cache.get(&plugin, &key),
            Some(serde_json::json!({"name": "p"}))
        );
        // Same size, rewritten in place: the digest differs even if the times did not.
        fs::write(&plugin, b"two").unwrap();
        let changed = key_of(&plugin);
        assert_ne!(changed, key);
        assert_eq!(cache.get(&plugin, &changed), None);
        // Another build reads nothing of it.
        let other = ManifestCache::open(&cache_dir, "host 2".into());
        assert_eq!(other.get(&plugin, &key), None);
    }

    #[test]
    fn a_cache_file_others_can_write_or_garbage_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("libp.so");
        fs::write(&plugin, b"one").unwrap();
        let key = key_of(&plugin);
        let cache_dir = dir.path().join("cache");
        let mut cache = ManifestCache::open(&cache_dir, "h".into());
        cache.put(&plugin, key.clone(), serde_json::json!(1));
        cache.save();
        let file = cache_dir.join(FILE_NAME);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(
            ManifestCache::open(&cache_dir, "h".into()).get(&plugin, &key),
            None
        );
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&file, "{not json").unwrap();
        assert_eq!(
            ManifestCache::open(&cache_dir, "h".into()).get(&plugin, &key),
            None
        );
    }

    #[test]
    fn entries_of_files_that_are_gone_are_dropped_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("liba.so"), dir.path().join("libb.so"));
        fs::write(&a, b"a").unwrap();
        fs::write(&b, b"b").unwrap();
        let cache_dir = dir.path().join("cache");
        let mut cache = ManifestCache::open(&cache_dir, "h".into());
        cache.put(&a, key_of(&a), serde_json::json!("a"));
        cache.put(&b, key_of(&b), serde_json::json!("b"));
        fs::remove_file(&b).unwrap();
        cache.save();
        let text = fs::read_to_string(cache_dir.join(FILE_NAME)).unwrap();
        let doc: Document = serde_json::from_str(&text).unwrap();
        assert_eq!(doc.entries.keys().collect::<Vec<_>>(), vec![&a]);
    }

    #[test]
    fn a_missing_parent_means_no_cache_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("no/such/parent");
        let plugin = dir.path().join("libp.so");
        fs::write(&plugin, b"one").unwrap();
        let mut cache = ManifestCache::open(&cache_dir, "h".into());
        cache.put(&plugin, key_of(&plugin), serde_json::json!(1));
        cache.save();
        assert!(!dir.path().join("no").exists());
    }
}
