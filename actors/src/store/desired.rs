//! What the user asked for, per app: the source of truth for invariant 1
//! ("the user's word wins") across daemon restarts.

use std::fs;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{load_json, quarantine, write_json, Loaded, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredApp {
    pub app_id: String,
    pub installed: bool,
    /// The user stopped the app: nothing may start it but the user.
    pub user_stopped: bool,
    pub manifest_hash: String,
    /// Unix seconds.
    pub installed_at: u64,
}

/// Every app found on disk, plus those whose file was damaged and moved
/// aside: the caller rebuilds those from the engine's labelled containers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DesiredLoad {
    /// Sorted by app id.
    pub apps: Vec<DesiredApp>,
    pub quarantined: Vec<String>,
}

/// One JSON file per app under `<state>/apps/<id>.json`, so one damaged file
/// costs one app, and writes for different apps never rewrite each other.
#[derive(Debug, Clone)]
pub struct DesiredStore {
    dir: PathBuf,
}

impl DesiredStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DesiredStore { dir: dir.into() }
    }

    pub fn load_all(&self) -> Result<DesiredLoad, StoreError> {
        let mut found = DesiredLoad::default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(StoreError::io("list", &self.dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("list", &self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Temp files start with '.', quarantined ones end in .corrupt-<ts>.
            let Some(app_id) = name.strip_suffix(".json").filter(|id| is_valid_app_id(id)) else {
                continue;
            };
            match self.load_file(app_id)? {
                Loaded::Parsed(app) => found.apps.push(app),
                Loaded::Quarantined { .. } => found.quarantined.push(app_id.to_owned()),
                Loaded::Missing => {} // removed since the listing
            }
        }
        found.apps.sort_by(|a, b| a.app_id.cmp(&b.app_id));
        found.quarantined.sort();
        Ok(found)
    }

    /// One app's desired state; `None` if absent or quarantined.
    pub fn load(&self, app_id: &str) -> Result<Option<DesiredApp>, StoreError> {
        self.path_for(app_id)?;
        self.load_file(app_id).map(Loaded::into_option)
    }

    pub fn save(&self, app: &DesiredApp) -> Result<(), StoreError> {
        write_json(&self.path_for(&app.app_id)?, app)
    }

    /// Forgets an app; removing one that is not there is not an error.
    pub fn remove(&self, app_id: &str) -> Result<(), StoreError> {
        let path = self.path_for(app_id)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(StoreError::io("remove", &path, e))
            }
            _ => Ok(()),
        }
    }

    /// Reads `<id>.json`; a file naming another app is as damaged as garbage.
    fn load_file(&self, app_id: &str) -> Result<Loaded<DesiredApp>, StoreError> {
        let path = self.dir.join(format!("{app_id}.json"));
        match load_json::<DesiredApp>(&path)? {
            Loaded::Parsed(app) if app.app_id != app_id => {
                let reason = format!("file names app {:?}", app.app_id);
                let moved_to = quarantine(&path, &reason)?;
                Ok(Loaded::Quarantined { moved_to })
            }
            loaded => Ok(loaded),
        }
    }

    fn path_for(&self, app_id: &str) -> Result<PathBuf, StoreError> {
        if !is_valid_app_id(app_id) {
            return Err(StoreError::InvalidAppId(app_id.to_owned()));
        }
        Ok(self.dir.join(format!("{app_id}.json")))
    }
}

/// App ids become file names: no separators, no dot files, no `..`.
fn is_valid_app_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
