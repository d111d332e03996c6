//! The run journal: before a file is replaced or removed, its old content is copied here and
//! recorded, so a failed run can put every file back byte for byte. The journal stays after a
//! successful run: it is where the backups of replaced files live.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One file the run touched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The file, as a path on the target (without the root).
    pub path: String,
    /// Where it really is on this machine (the root joined, links inside the root resolved).
    pub real: PathBuf,
    /// The backup's file name in the journal, when the file existed before.
    pub backup: Option<String>,
    /// Its permission bits before, when it existed.
    pub mode: Option<u32>,
}

/// A journal directory under `<root>/var/lib/installer/journal/`.
#[derive(Debug)]
pub struct Journal {
    /// The directory.
    pub dir: PathBuf,
    entries: Vec<Entry>,
}

impl Journal {
    /// Creates a new journal for a run.
    pub fn create(root: &Path) -> std::io::Result<Journal> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let dir = root
            .join("var/lib/installer/journal")
            .join(format!("{stamp}-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        let journal = Journal {
            dir,
            entries: Vec::new(),
        };
        journal.save()?;
        Ok(journal)
    }

    /// Records `target` (the real path under the root) before it changes. Only the first
    /// change of a file in a run is recorded: that is the state to return to.
    pub fn record(&mut self, path: &str, target: &Path) -> std::io::Result<()> {
        if self.entries.iter().any(|e| e.path == path) {
            return Ok(());
        }
        let entry = match fs::symlink_metadata(target) {
            Ok(meta) if meta.is_file() => {
                let name = format!(
                    "{:03}-{}",
                    self.entries.len(),
                    path.trim_start_matches('/').replace('/', "_")
                );
                let backup = self.dir.join(&name);
                fs::copy(target, &backup)?;
                File::open(&backup)?.sync_all()?;
                Entry {
                    path: path.to_owned(),
                    real: target.to_path_buf(),
                    backup: Some(name),
                    mode: Some(meta.permissions().mode() & 0o7777),
                }
            }
            _ => Entry {
                path: path.to_owned(),
                real: target.to_path_buf(),
                backup: None,
                mode: None,
            },
        };
        self.entries.push(entry);
        self.save()
    }

    /// The backup of `path` in this journal, if it had one.
    pub fn backup_of(&self, path: &str) -> Option<PathBuf> {
        self.entries
            .iter()
            .find(|e| e.path == path)
            .and_then(|e| e.backup.as_ref())
            .map(|b| self.dir.join(b))
    }

    fn save(&self) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.entries).expect("entries encode");
        super::files::write_atomic(&self.dir.join("journal.json"), text.as_bytes(), 0o600)
    }

    /// Puts every recorded file back as it was, newest first. Returns the paths restored and
    /// the ones that could not be.
    pub fn roll_back(&self) -> (Vec<String>, Vec<String>) {
        let mut restored = Vec::new();
        let mut failed = Vec::new();
        for entry in self.entries.iter().rev() {
            let target = &entry.real;
            let result = match (&entry.backup, entry.mode) {
                (Some(name), Some(mode)) => fs::read(self.dir.join(name))
                    .and_then(|bytes| super::files::write_atomic(target, &bytes, mode)),
                _ => match fs::remove_file(target) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    other => other,
                },
            };
            match result {
                Ok(()) => restored.push(entry.path.clone()),
                Err(e) => failed.push(format!("{}: {e}", entry.path)),
            }
        }
        (restored, failed)
    }

    /// Appends a command's output to the run log.
    pub fn log(&self, text: &str) {
        let path = self.dir.join("run.log");
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(text.as_bytes());
        }
    }
}
