//! Crash-safe file writes and reads that never turn a damaged file into a
//! crash loop.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{unix_secs, StoreError};

/// Files hold state a local user must not read or forge.
pub const FILE_MODE: u32 = 0o600;
/// Directories created for state are private to the daemon's user.
pub const DIR_MODE: u32 = 0o700;

/// The temp name is fixed per target so a temp left by a crash is simply
/// overwritten by the next write instead of piling up; this lock keeps two
/// writers in this process off the same temp file (the pid file keeps other
/// daemons out of the state dir).
static WRITE_LOCK: Mutex<()> = Mutex::new(());

/// What a JSON read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded<T> {
    Missing,
    Parsed(T),
    /// The file could not be parsed and was moved to `moved_to`.
    Quarantined {
        moved_to: PathBuf,
    },
}

impl<T> Loaded<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Loaded::Parsed(value) => Some(value),
            Loaded::Missing | Loaded::Quarantined { .. } => None,
        }
    }
}

/// Creates `dir` and any missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| StoreError::io("create directory", dir, e))
}

/// Where [`write_atomic`] stages the new contents of `path`.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Replaces `path` with `bytes` (mode 0600) so that a reader, or the next boot
/// after a crash or power loss, sees either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_atomic_with_mode(path, bytes, FILE_MODE)
}

/// [`write_atomic`] with an explicit file mode (set exactly, umask aside).
pub fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    create_private_dir(dir)?;
    let temp = temp_path_for(path);
    let _serialized = WRITE_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    let staged = stage(&temp, bytes, mode).map_err(|e| StoreError::io("write", path, e));
    if let Err(error) = staged {
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(StoreError::io("replace", path, e));
    }
    // The rename lives in the directory entry: without this a power loss can
    // bring back the old file, or none.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("sync directory of", path, e))
}

fn stage(temp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(temp)?;
    // A stale temp keeps its old mode and a new one is narrowed by umask.
    file.set_permissions(Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Serializes `value` as pretty JSON and writes it atomically (0600).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads JSON from `path`: a missing file is `None`; an unparsable one is
/// quarantined and also `None`, so the caller rebuilds from the engine.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    load_json(path).map(Loaded::into_option)
}

/// [`read_json`], telling a missing file apart from a quarantined one.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> Result<Loaded<T>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => return Err(StoreError::io("read", path, e)),
    };
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(Loaded::Parsed(value)),
        Err(reason) => Ok(Loaded::Quarantined {
            moved_to: quarantine(path, &reason)?,
        }),
    }
}

/// Moves a damaged file aside to `<name>.corrupt-<unix-ts>`, keeping it for a
/// post-mortem while letting the daemon start without it.
pub fn quarantine(path: &Path, reason: &dyn std::fmt::Display) -> Result<PathBuf, StoreError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let moved_to = path.with_file_name(format!("{name}.corrupt-{}", unix_secs(SystemTime::now())));
    fs::rename(path, &moved_to).map_err(|e| StoreError::io("quarantine", path, e))?;
    tracing::warn!(
        path = %path.display(),
        moved_to = %moved_to.display(),
        %reason,
        "corrupt state file quarantined; rebuilding from the engine"
    );
    Ok(moved_to)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}
