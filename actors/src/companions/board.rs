//! The last-known status of every companion, readable at once (RPC's
//! `container.list`) and kept apart from the apps' own statuses: a live
//! companion never makes its app look running.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

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

type Entries = BTreeMap<(String, String), CompanionStatus>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "companion {name} of {app} did not reach the awaited status within {waited:?}; last: {last:?}"
)]
pub struct CompanionWaitTimeout {
    pub app: String,
    pub name: String,
    pub waited: Duration,
    pub last: Option<CompanionStatus>,
}

/// Shared, cheap to clone; one per tree.
#[derive(Clone)]
pub struct CompanionBoard(Arc<Inner>);

struct Inner {
    entries: RwLock<Entries>,
    /// Bumped on every change, so waiters re-check without missing any.
    version: watch::Sender<u64>,
}

impl Default for CompanionBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl CompanionBoard {
    pub fn new() -> Self {
        CompanionBoard(Arc::new(Inner {
            entries: RwLock::new(BTreeMap::new()),
            version: watch::channel(0).0,
        }))
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
        self.change(|entries| {
            let key = (status.app.clone(), status.name.clone());
            match entries.get(&key) {
                Some(old) if old.state == status.state => status.since_ms = old.since_ms,
                _ => status.since_ms = now_ms(),
            }
            entries.insert(key, status);
        });
    }

    pub fn remove(&self, app: &str, name: &str) {
        self.change(|entries| entries.remove(&(app.to_string(), name.to_string())));
    }

    /// Wait, on a signal, until `pred` holds for the companion's status
    /// (`None`: it has none), at most `deadline`.
    pub async fn wait_for(
        &self,
        app: &str,
        name: &str,
        pred: impl Fn(Option<&CompanionStatus>) -> bool,
        deadline: Duration,
    ) -> Result<Option<CompanionStatus>, CompanionWaitTimeout> {
        let mut changes = self.0.version.subscribe();
        let wait = async {
            loop {
                let now = self.get(app, name);
                if pred(now.as_ref()) {
                    return now;
                }
                // The sender lives as long as the board, so this cannot fail.
                let _ = changes.changed().await;
            }
        };
        tokio::time::timeout(deadline, wait)
            .await
            .map_err(|_| CompanionWaitTimeout {
                app: app.to_string(),
                name: name.to_string(),
                waited: deadline,
                last: self.get(app, name),
            })
    }

    fn change<R>(&self, change: impl FnOnce(&mut Entries) -> R) -> R {
        let result = change(
            &mut self
                .0
                .entries
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.0.version.send_modify(|v| *v += 1);
        result
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.0
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
