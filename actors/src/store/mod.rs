//! Archy's persisted state: one directory, small files written atomically,
//! damaged files quarantined instead of crashing the daemon (invariant 8).

mod atomic;
mod desired;
mod journal;
mod recovery;
mod tracker;

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use atomic::{
    create_private_dir, load_json, quarantine, read_json, temp_path_for, write_atomic,
    write_atomic_with_mode, write_json, Loaded, DIR_MODE, FILE_MODE,
};
pub use desired::{DesiredApp, DesiredLoad, DesiredStore};
pub use journal::{Journal, JournalConfig, JournalEntry, Transition};
pub use recovery::{BootKind, PidFile, Snapshot, SnapshotApp};
pub use tracker::{RestartDecision, RestartPolicy, RestartRecord, RestartTracker};

/// A state operation that failed, naming the file so an operator can act.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot encode {}: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid app id {0:?}: use letters, digits, '-' or '_'")]
    InvalidAppId(String),
    #[error(
        "state directory {} is in use by another running archy (pid {pid}); stop it first",
        state_dir.display()
    )]
    AlreadyRunning { state_dir: PathBuf, pid: u32 },
}

impl StoreError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The daemon's state directory and the files in it.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Creates `root` if needed and narrows it to 0700.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        create_private_dir(&root)?;
        fs::set_permissions(&root, Permissions::from_mode(DIR_MODE))
            .map_err(|e| StoreError::io("restrict permissions of", &root, e))?;
        Ok(StateDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The daemon instance this state dir makes (its containers carry it).
    pub fn instance(&self) -> Result<archy_runtime::InstanceId, StoreError> {
        archy_runtime::InstanceId::of_state_dir(&self.root)
            .map_err(|e| StoreError::io("resolve", &self.root, e))
    }

    pub fn apps_dir(&self) -> PathBuf {
        self.root.join("apps")
    }

    pub fn tracker_path(&self) -> PathBuf {
        self.root.join("restart-tracker.json")
    }

    pub fn journal_path(&self) -> PathBuf {
        self.root.join("journal.jsonl")
    }

    pub fn snapshot_path(&self) -> PathBuf {
        self.root.join("snapshot.json")
    }

    pub fn desired(&self) -> DesiredStore {
        DesiredStore::new(self.apps_dir())
    }

    pub fn open_tracker(&self, policy: RestartPolicy) -> Result<RestartTracker, StoreError> {
        RestartTracker::open(self.tracker_path(), policy)
    }

    pub fn open_journal(&self, config: JournalConfig) -> Result<Journal, StoreError> {
        Journal::open(self.journal_path(), config)
    }

    pub fn acquire_pid_file(&self) -> Result<(PidFile, BootKind), StoreError> {
        PidFile::acquire(&self.root)
    }

    pub fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        write_json(&self.snapshot_path(), snapshot)
    }

    /// The last snapshot, or `None` if there is none or it was quarantined.
    pub fn load_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        read_json(&self.snapshot_path())
    }
}

/// Seconds since the epoch; a clock before 1970 reads as 0 rather than failing.
pub fn unix_secs(time: SystemTime) -> u64 {
    since_epoch(time).as_secs()
}

/// Milliseconds since the epoch, as [`unix_secs`].
pub fn unix_millis(time: SystemTime) -> u64 {
    since_epoch(time).as_millis() as u64
}

fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}
