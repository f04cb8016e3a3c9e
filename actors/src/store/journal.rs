//! The event journal: every state change of every app, for the dashboard,
//! the CLI and post-mortems.
//!
//! A bounded ring in memory answers reads; an append-only JSON-lines file
//! keeps history across restarts, rotated to `journal.jsonl.1` past a cap.
//! The journal is a record, not a source of truth, so a damaged line is
//! skipped and appends are not fsynced.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{create_private_dir, unix_millis, StoreError, FILE_MODE};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Increases by one per entry, across daemon restarts.
    pub seq: u64,
    /// Unix milliseconds.
    pub at: u64,
    pub app: String,
    /// States are plain strings so the journal outlives any enum change.
    pub from_state: String,
    pub to_state: String,
    pub reason: String,
}

/// What happened, before the journal numbers and stamps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub app: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    /// Entries kept in memory for `recent`.
    pub capacity: usize,
    /// The file is rotated before it would grow past this many bytes.
    pub rotate_bytes: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            capacity: 1000,
            rotate_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Shareable (`Arc<Journal>`): appends and reads take a short internal lock.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    config: JournalConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    ring: VecDeque<JournalEntry>,
    next_seq: u64,
    file: File,
    file_len: u64,
}

impl Journal {
    /// Opens `path`, reloading the newest entries from it and its rotated
    /// predecessor; unreadable lines are skipped, never fatal.
    pub fn open(path: impl Into<PathBuf>, config: JournalConfig) -> Result<Self, StoreError> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let mut ring = VecDeque::with_capacity(config.capacity);
        let mut last_seq = 0;
        for file in [rotated_path(&path), path.clone()] {
            read_entries(&file, |entry| {
                last_seq = last_seq.max(entry.seq);
                push_bounded(&mut ring, entry, config.capacity);
            })?;
        }
        let (file, file_len) = open_for_append(&path)?;
        Ok(Journal {
            path,
            config,
            inner: Mutex::new(Inner {
                ring,
                next_seq: last_seq + 1,
                file,
                file_len,
            }),
        })
    }

    /// Numbers, stamps and records `event`. The entry is kept in memory
    /// even if the disk write fails (that is logged with the path): its
    /// `seq` is the one number every reader — history and live push — uses.
    pub fn append(&self, event: Transition, at: SystemTime) -> JournalEntry {
        let mut inner = self.lock();
        let entry = JournalEntry {
            seq: inner.next_seq,
            at: unix_millis(at),
            app: event.app,
            from_state: event.from_state,
            to_state: event.to_state,
            reason: event.reason,
        };
        inner.next_seq += 1;
        push_bounded(&mut inner.ring, entry.clone(), self.config.capacity);
        if let Err(e) = self.write_line(&mut inner, &entry) {
            tracing::warn!(error = %e, seq = entry.seq, "journal entry kept in memory only");
        }
        entry
    }

    /// Up to `limit` newest entries, oldest first, optionally only one app's
    /// and only those after `since_seq` (for polling).
    pub fn recent(
        &self,
        app: Option<&str>,
        since_seq: Option<u64>,
        limit: usize,
    ) -> Vec<JournalEntry> {
        let inner = self.lock();
        let mut newest: Vec<JournalEntry> = inner
            .ring
            .iter()
            .rev()
            .take_while(|entry| since_seq.is_none_or(|since| entry.seq > since))
            .filter(|entry| app.is_none_or(|app| entry.app == app))
            .take(limit)
            .cloned()
            .collect();
        newest.reverse();
        newest
    }

    /// The seq the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    fn write_line(&self, inner: &mut Inner, entry: &JournalEntry) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(entry).map_err(|source| StoreError::Encode {
            path: self.path.clone(),
            source,
        })?;
        line.push(b'\n');
        if inner.file_len > 0 && inner.file_len + line.len() as u64 > self.config.rotate_bytes {
            let rotated = rotated_path(&self.path);
            fs::rename(&self.path, &rotated)
                .map_err(|e| StoreError::io("rotate", &self.path, e))?;
            (inner.file, inner.file_len) = open_for_append(&self.path)?;
        }
        // One write per line: O_APPEND keeps it whole even beside other writers.
        inner
            .file
            .write_all(&line)
            .map_err(|e| StoreError::io("append to", &self.path, e))?;
        inner.file_len += line.len() as u64;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".1");
    path.with_file_name(name)
}

fn push_bounded(ring: &mut VecDeque<JournalEntry>, entry: JournalEntry, capacity: usize) {
    if ring.len() == capacity {
        ring.pop_front();
    }
    if capacity > 0 {
        ring.push_back(entry);
    }
}

/// Feeds every parsable entry of `path` to `each`, in file order, without
/// holding the whole file in memory; a missing file has none.
fn read_entries(path: &Path, mut each: impl FnMut(JournalEntry)) -> Result<(), StoreError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("read", path, e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut line_no = 0;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| StoreError::io("read", path, e))?;
        if read == 0 {
            return Ok(());
        }
        line_no += 1;
        match serde_json::from_slice(&line) {
            Ok(entry) => each(entry),
            Err(reason) => tracing::warn!(
                path = %path.display(),
                line = line_no,
                %reason,
                "skipping unreadable journal line"
            ),
        }
    }
}

/// Opens for appending (0600). A line cut short by a crash gets its newline
/// now, so the next entry does not fuse with it.
fn open_for_append(path: &Path) -> Result<(File, u64), StoreError> {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| StoreError::io("open", path, e))?;
    let mut len = file
        .metadata()
        .map_err(|e| StoreError::io("open", path, e))?
        .len();
    if len > 0 && !ends_with_newline(path)? {
        file.write_all(b"\n")
            .map_err(|e| StoreError::io("append to", path, e))?;
        len += 1;
    }
    Ok((file, len))
}

fn ends_with_newline(path: &Path) -> Result<bool, StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path).map_err(|e| StoreError::io("read", path, e))?;
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| StoreError::io("read", path, e))?;
    Ok(last[0] == b'\n')
}
