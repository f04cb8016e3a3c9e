//! The last-known status of every companion, readable at once (RPC's
//! `container.list`) and kept apart from the apps' own statuses: a live
//! companion never makes its app look running.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::status::{now_ms, Health};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompanionState {
    /// Its app is still installing: the companion comes up after it.
    Waiting,
    Running,
    /// Its app was stopped by the user.
    Stopped,
    /// The last pass could not converge it; the next one tries again.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanionStatus {
    pub app: String,
    /// The companion's name in the manifest.
    pub name: String,
    /// `archy-<app>-<name>`.
    pub container: String,
    pub state: CompanionState,
    /// Why it is in this state, in words for the user.
    pub reason: String,
    /// `unknown` or `healthy`: a companion is probed, never judged unhealthy.
    pub health: Health,
    /// Times Archy brought its container back (deleted, stopped or crashed).
    pub restarts: u32,
    /// When it entered `state`, unix milliseconds.
    pub since_ms: u64,
}

/// Shared, cheap to clone; one per tree.
#[derive(Clone, Default)]
pub struct CompanionBoard(Arc<RwLock<BTreeMap<(String, String), CompanionStatus>>>);

impl CompanionBoard {
    pub fn new() -> Self {
        Self::default()
    }

    /// The companions of `app`, in name order (empty when it has none).
    pub fn companions_of(&self, app: &str) -> Vec<CompanionStatus> {
        self.read()
            .iter()
            .filter(|((owner, _), _)| owner == app)
            .map(|(_, status)| status.clone())
            .collect()
    }

    pub fn get(&self, app: &str, name: &str) -> Option<CompanionStatus> {
        self.read()
            .get(&(app.to_string(), name.to_string()))
            .cloned()
    }

    pub fn all(&self) -> Vec<CompanionStatus> {
        self.read().values().cloned().collect()
    }

    /// Record `status`, keeping `since_ms` while the state is unchanged.
    pub fn set(&self, mut status: CompanionStatus) {
        let mut entries = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let key = (status.app.clone(), status.name.clone());
        match entries.get(&key) {
            Some(old) if old.state == status.state => status.since_ms = old.since_ms,
            _ => status.since_ms = now_ms(),
        }
        entries.insert(key, status);
    }

    pub fn remove(&self, app: &str, name: &str) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(app.to_string(), name.to_string()));
    }

    fn read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, BTreeMap<(String, String), CompanionStatus>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }
}
