//! Crash recovery: knowing whether the last run ended cleanly, and what it
//! last saw.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{write_atomic, StoreError};

const PID_FILE_NAME: &str = "archy.pid";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootKind {
    /// No pid file: the last run released it on shutdown (or never ran).
    Clean,
    /// The last run died without releasing its pid file; `None` if that
    /// file was unreadable.
    Unclean { previous_pid: Option<u32> },
}

/// Proof that this process owns the state directory. Dropping it leaves the
/// file behind on purpose: only [`PidFile::release`] marks a clean exit.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Claims `state_dir` for this process, refusing if another live archy
    /// holds it, and tells how the previous run ended.
    pub fn acquire(state_dir: &Path) -> Result<(PidFile, BootKind), StoreError> {
        let path = state_dir.join(PID_FILE_NAME);
        let ours = std::process::id();
        let boot = match fs::read_to_string(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => BootKind::Clean,
            Err(e) => return Err(StoreError::io("read", &path, e)),
            Ok(text) => {
                let previous_pid = text.trim().parse::<u32>().ok();
                if let Some(pid) = previous_pid.filter(|&pid| pid != ours && is_archy(pid)) {
                    return Err(StoreError::AlreadyRunning {
                        state_dir: state_dir.to_path_buf(),
                        pid,
                    });
                }
                BootKind::Unclean { previous_pid }
            }
        };
        write_atomic(&path, format!("{ours}\n").as_bytes())?;
        Ok((PidFile { path }, boot))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks a clean shutdown: the next boot will be [`BootKind::Clean`].
    pub fn release(self) -> Result<(), StoreError> {
        fs::remove_file(&self.path).map_err(|e| StoreError::io("remove", &self.path, e))
    }
}

/// Whether `pid` is alive and runs the same program as us. A pid reused by
/// an unrelated process after a crash or reboot does not count.
fn is_archy(pid: u32) -> bool {
    let name_of = |proc_dir: &str| fs::read_to_string(format!("/proc/{proc_dir}/comm")).ok();
    match (name_of(&pid.to_string()), name_of("self")) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => false,
    }
}

/// What the daemon last knew of each app, to compare against the engine
/// after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Unix seconds.
    pub taken_at: u64,
    pub apps: Vec<SnapshotApp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotApp {
    pub app_id: String,
    /// The actor's state, as a plain string.
    pub state: String,
    pub container_id: Option<String>,
    pub spec_hash: Option<String>,
    /// The user's word at the time, so a lost desired file cannot turn a
    /// user-stopped app back on.
    #[serde(default)]
    pub user_stopped: bool,
}
