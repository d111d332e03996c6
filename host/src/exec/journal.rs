//! The run journal: before a file is replaced or removed, its old content is copied here and
//! recorded, so a failed run can put every file back byte for byte, and the directories the
//! run created are removed again. The journal stays after a successful run: it is where the
//! backups of replaced files live. It lives inside the target, under
//! `/var/lib/installer/journal/`, and is read and written only through [`Target`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::target::{Target, DOWNLOAD_LIMIT, FILE_LIMIT};

/// The journal's state, as `journal.json` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalStatus {
    /// The run is under way, or was killed before it could say otherwise.
    Running,
    /// The run finished.
    Done,
    /// A step failed and what the run changed was put back.
    RolledBack,
}

/// One file the run touched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The file, as a path on the target (without the root).
    pub path: String,
    /// The backup's file name in the journal, when the file existed before.
    pub backup: Option<String>,
    /// Its permission bits before, when it existed.
    pub mode: Option<u32>,
    /// Its owner and group before, when it existed.
    #[serde(default)]
    pub ids: Option<(u32, u32)>,
}

/// What `journal.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Where the run is.
    pub status: JournalStatus,
    /// The process that ran it.
    pub pid: u32,
    /// The files it touched, in order.
    pub entries: Vec<Entry>,
    /// The directories it created, outermost first.
    #[serde(default)]
    pub created_dirs: Vec<PathBuf>,
}

/// A journal directory under `<root>/var/lib/installer/journal/`.
#[derive(Debug)]
pub struct Journal {
    target: Target,
    /// The directory, as a path on the target.
    dir: PathBuf,
    record: Record,
}

/// Where the journals live, on the target.
pub const JOURNALS: &str = "/var/lib/installer/journal";

impl Journal {
    /// Creates a new journal for a run.
    pub fn create(target: &Target) -> std::io::Result<Journal> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        target.create_dir_all(JOURNALS, 0o700)?;
        // A new directory of our own: a name someone prepared in the root is not taken.
        let mut dir = PathBuf::from(format!("{JOURNALS}/{stamp}-{}", std::process::id()));
        let mut n = 0;
        loop {
            match target.create_dir_new(&dir.to_string_lossy(), 0o700) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 16 => {
                    n += 1;
                    dir = PathBuf::from(format!("{JOURNALS}/{stamp}-{}.{n}", std::process::id()));
                }
                Err(e) => return Err(e),
            }
        }
        let journal = Journal {
            target: target.try_clone()?,
            dir,
            record: Record {
                status: JournalStatus::Running,
                pid: std::process::id(),
                entries: Vec::new(),
                created_dirs: Vec::new(),
            },
        };
        journal.save()?;
        Ok(journal)
    }

    /// Opens the journal in `dir` (a path on the target) as a run left it.
    pub fn load(target: &Target, dir: &Path) -> std::io::Result<Journal> {
        let file = target
            .read(&dir.join("journal.json").to_string_lossy(), FILE_LIMIT)
            .map_err(std::io::Error::other)?
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} has no journal.json", target.display(dir).display()),
                )
            })?;
        let record: Record = serde_json::from_slice(&file.bytes).map_err(|e| {
            std::io::Error::other(format!(
                "{}/journal.json does not parse: {e}",
                target.display(dir).display()
            ))
        })?;
        // The journal is in the root, so it is read as the root's data: a backup is a file
        // of this journal's directory, nothing else.
        for entry in &record.entries {
            if let Some(name) = &entry.backup {
                let mut parts = Path::new(name).components();
                let single = matches!(
                    (parts.next(), parts.next()),
                    (Some(std::path::Component::Normal(_)), None)
                );
                if !single {
                    return Err(std::io::Error::other(format!(
                        "{}/journal.json names the backup {name:?}, which is not a file of the journal; it was not used",
                        target.display(dir).display()
                    )));
                }
            }
        }
        Ok(Journal {
            target: target.try_clone()?,
            dir: dir.to_path_buf(),
            record,
        })
    }

    /// Where the run that wrote this journal got to.
    pub fn status(&self) -> JournalStatus {
        self.record.status
    }

    /// The journal's directory on this machine, for the report.
    pub fn display_dir(&self) -> PathBuf {
        self.target.display(&self.dir)
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// Records `path` before it changes. Only the first change of a file in a run is
    /// recorded: that is the state to return to.
    pub fn record(&mut self, path: &str) -> std::io::Result<()> {
        if self.record.entries.iter().any(|e| e.path == path) {
            return Ok(());
        }
        // A replaced program (a download) is backed up as a configuration file is.
        let before = self
            .target
            .read(path, DOWNLOAD_LIMIT)
            .map_err(std::io::Error::other)?;
        let entry = match before {
            Some(file) => {
                let name = format!(
                    "{:03}-{}",
                    self.record.entries.len(),
                    path.trim_start_matches('/').replace('/', "_")
                );
                self.target
                    .write_atomic(&self.file(&name), &file.bytes, 0o600, (None, None))?;
                Entry {
                    path: path.to_owned(),
                    backup: Some(name),
                    mode: Some(file.mode),
                    ids: Some((file.uid, file.gid)),
                }
            }
            None => Entry {
                path: path.to_owned(),
                backup: None,
                mode: None,
                ids: None,
            },
        };
        self.record.entries.push(entry);
        self.save()
    }

    /// Records directories the run created, so that a rollback removes them.
    pub fn created(&mut self, dirs: Vec<PathBuf>) -> std::io::Result<()> {
        if dirs.is_empty() {
            return Ok(());
        }
        self.record.created_dirs.extend(dirs);
        self.save()
    }

    /// The backup of `path` in this journal, as a path on this machine, if it had one.
    pub fn backup_of(&self, path: &str) -> Option<PathBuf> {
        self.record
            .entries
            .iter()
            .find(|e| e.path == path)
            .and_then(|e| e.backup.as_ref())
            .map(|b| self.target.display(&self.dir.join(b)))
    }

    /// Marks the run finished.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.record.status = JournalStatus::Done;
        self.save()
    }

    fn save(&self) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.record).expect("records encode");
        self.target
            .write_atomic(
                &self.file("journal.json"),
                text.as_bytes(),
                0o600,
                (None, None),
            )
            .map(drop)
    }

    /// Puts every recorded file back as it was, newest first, then removes the directories
    /// the run created (those left empty). Returns the paths restored and the ones that
    /// could not be.
    pub fn roll_back(&mut self) -> (Vec<String>, Vec<String>) {
        let mut restored = Vec::new();
        let mut failed = Vec::new();
        for entry in self.record.entries.iter().rev() {
            let result = match (&entry.backup, entry.mode) {
                (Some(name), Some(mode)) => self
                    .target
                    .read(&self.file(name), DOWNLOAD_LIMIT)
                    .map_err(std::io::Error::other)
                    .and_then(|b| b.ok_or_else(|| std::io::Error::other("the backup is missing")))
                    .and_then(|b| {
                        let ids = entry.ids.map_or((None, None), |(u, g)| (Some(u), Some(g)));
                        self.target.write_atomic(&entry.path, &b.bytes, mode, ids)
                    })
                    .map(drop),
                _ => self.target.remove_file(&entry.path).map(drop),
            };
            match result {
                Ok(()) => restored.push(entry.path.clone()),
                Err(e) => failed.push(format!("{}: {e}", entry.path)),
            }
        }
        for dir in self.record.created_dirs.iter().rev() {
            if let Err(e) = self.target.remove_empty_dir(dir) {
                failed.push(format!("{}: {e}", dir.display()));
            }
        }
        self.record.status = JournalStatus::RolledBack;
        if let Err(e) = self.save() {
            failed.push(format!("{}: {e}", self.file("journal.json")));
        }
        (restored, failed)
    }

    /// Appends a command's output to the run log.
    pub fn log(&self, text: &str) {
        if let Ok(mut f) = self.target.open_append(&self.file("run.log"), 0o600) {
            let _ = f.write_all(text.as_bytes());
        }
    }
}

/// Journals under the target whose run never said it ended: killed mid-way. Each is the
/// journal's directory on the target and the pid that ran it.
pub fn interrupted(target: &Target) -> Vec<(PathBuf, u32)> {
    let Ok(names) = target.list_dir(JOURNALS) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for name in names {
        let dir = Path::new(JOURNALS).join(&name);
        let Ok(Some(file)) = target.read(&dir.join("journal.json").to_string_lossy(), FILE_LIMIT)
        else {
            continue;
        };
        if let Ok(record) = serde_json::from_slice::<Record>(&file.bytes) {
            if record.status == JournalStatus::Running {
                found.push((dir, record.pid));
            }
        }
    }
    found.sort();
    found
}
