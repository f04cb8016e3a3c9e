//! The last-known status of every app, readable at once by anyone (RPC,
//! CLI, dependents) without asking an actor or the engine (invariant 2),
//! plus a broadcast of every state transition for live push.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use crate::app::state::{AppState, OpKind};

/// How many transitions a slow subscriber may fall behind before it lags.
const TRANSITION_BUFFER: usize = 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    #[default]
    Unknown,
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppStatus {
    pub app: String,
    /// The capability names the app answers to (`depends_on` may use them).
    pub provides: Vec<String>,
    pub state: AppState,
    /// Why the app is in this state, in words for the user.
    pub reason: String,
    pub user_stopped: bool,
    pub health: Health,
    pub restart_count: u32,
    /// Container ids, in member order.
    pub containers: Vec<String>,
    pub operation: Option<OpKind>,
    /// When the app entered `state`, unix milliseconds.
    pub since_ms: u64,
}

impl AppStatus {
    pub fn new(app: impl Into<String>, state: AppState, reason: impl Into<String>) -> Self {
        AppStatus {
            app: app.into(),
            provides: Vec::new(),
            state,
            reason: reason.into(),
            user_stopped: false,
            health: Health::Unknown,
            restart_count: 0,
            containers: Vec::new(),
            operation: None,
            since_ms: now_ms(),
        }
    }

    /// Whether a `depends_on` id names this app.
    pub fn answers_to(&self, name: &str) -> bool {
        self.app == name || self.provides.iter().any(|p| p == name)
    }
}

/// One state change, as journalled and pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The journal's sequence number of this transition.
    pub seq: u64,
    pub app: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("app {app:?} did not reach the awaited status within {waited:?}; last: {last}")]
pub struct WaitTimeout {
    pub app: String,
    pub waited: Duration,
    pub last: String,
}

#[derive(Clone)]
pub struct StatusBoard(Arc<Inner>);

struct Inner {
    apps: RwLock<BTreeMap<String, AppStatus>>,
    transitions: broadcast::Sender<Transition>,
    /// Bumped on every change, so waiters re-check without missing any.
    version: watch::Sender<u64>,
    engine_reachable: AtomicBool,
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusBoard {
    pub fn new() -> Self {
        StatusBoard(Arc::new(Inner {
            apps: RwLock::new(BTreeMap::new()),
            transitions: broadcast::channel(TRANSITION_BUFFER).0,
            version: watch::channel(0).0,
            engine_reachable: AtomicBool::new(true),
        }))
    }

    pub fn get(&self, app: &str) -> Option<AppStatus> {
        self.read().get(app).cloned()
    }

    /// Every app's status, sorted by id.
    pub fn all(&self) -> Vec<AppStatus> {
        self.read().values().cloned().collect()
    }

    /// The apps a `depends_on` id resolves to (by id, then by `provides`).
    pub fn providers(&self, name: &str) -> Vec<AppStatus> {
        let apps = self.read();
        if let Some(status) = apps.get(name) {
            return vec![status.clone()];
        }
        apps.values()
            .filter(|s| s.answers_to(name))
            .cloned()
            .collect()
    }

    pub fn set(&self, status: AppStatus) {
        self.write().insert(status.app.clone(), status);
        self.0.version.send_modify(|v| *v += 1);
    }

    /// Change one app's entry in place; false if it has none.
    pub fn update(&self, app: &str, change: impl FnOnce(&mut AppStatus)) -> bool {
        let found = self.write().get_mut(app).map(change).is_some();
        if found {
            self.0.version.send_modify(|v| *v += 1);
        }
        found
    }

    pub fn remove(&self, app: &str) {
        self.write().remove(app);
        self.0.version.send_modify(|v| *v += 1);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.0.transitions.subscribe()
    }

    /// Send to every subscriber; nobody listening is fine. `seq` is the
    /// journal's, so live pushes and `app.events` history share numbers.
    pub fn publish(&self, transition: Transition) {
        let _ = self.0.transitions.send(transition);
    }

    pub fn engine_reachable(&self) -> bool {
        self.0.engine_reachable.load(Ordering::Relaxed)
    }

    pub fn set_engine_reachable(&self, reachable: bool) {
        self.0.engine_reachable.store(reachable, Ordering::Relaxed);
        self.0.version.send_modify(|v| *v += 1);
    }

    /// Wait until `ready` holds for `app`'s entry (None: no entry), at most
    /// `deadline`. Returns the entry that satisfied it.
    pub async fn wait_for(
        &self,
        app: &str,
        ready: impl Fn(Option<&AppStatus>) -> bool,
        deadline: Duration,
    ) -> Result<Option<AppStatus>, WaitTimeout> {
        let mut changes = self.0.version.subscribe();
        let waiting = async {
            loop {
                let current = self.get(app);
                if ready(current.as_ref()) {
                    return current;
                }
                // The sender lives as long as the board, so this cannot fail.
                let _ = changes.changed().await;
            }
        };
        tokio::time::timeout(deadline, waiting)
            .await
            .map_err(|_| WaitTimeout {
                app: app.to_string(),
                waited: deadline,
                last: self
                    .get(app)
                    .map_or("no status".to_string(), |s| s.state.to_string()),
            })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, AppStatus>> {
        // A panicked writer leaves whole entries: still readable.
        self.0.apps.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, AppStatus>> {
        self.0.apps.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Unix time in milliseconds (wall clock: shown to users, journalled).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(app: &str, state: AppState) -> AppStatus {
        AppStatus::new(app, state, "test")
    }

    #[test]
    fn set_get_all_and_remove() {
        let board = StatusBoard::new();
        board.set(status("b", AppState::Running));
        board.set(status("a", AppState::Stopped));
        assert_eq!(board.get("a").unwrap().state, AppState::Stopped);
        let ids: Vec<_> = board.all().into_iter().map(|s| s.app).collect();
        assert_eq!(ids, ["a", "b"]);
        board.remove("a");
        assert!(board.get("a").is_none());
    }

    #[test]
    fn providers_resolve_ids_first_then_provides_names() {
        let board = StatusBoard::new();
        let mut knots = status("bitcoin-knots", AppState::Running);
        knots.provides = vec!["bitcoin".into()];
        board.set(knots);
        board.set(status("lnd", AppState::Running));
        assert_eq!(board.providers("bitcoin")[0].app, "bitcoin-knots");
        assert_eq!(board.providers("lnd")[0].app, "lnd");
        assert!(board.providers("electrumx").is_empty());
    }

    #[tokio::test]
    async fn subscribers_get_transitions_in_order() {
        let board = StatusBoard::new();
        let mut rx = board.subscribe();
        for (seq, to) in [(1, "installing"), (2, "running")] {
            board.publish(Transition {
                seq,
                app: "a".into(),
                from: "absent".into(),
                to: to.into(),
                reason: "r".into(),
                at_ms: 0,
            });
        }
        assert_eq!(rx.recv().await.unwrap().seq, 1);
        let second = rx.recv().await.unwrap();
        assert_eq!((second.seq, second.to.as_str()), (2, "running"));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_wakes_on_the_change_it_waits_for() {
        let board = StatusBoard::new();
        board.set(status("a", AppState::Starting));
        let setter = board.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            setter.update("a", |s| s.state = AppState::Running);
        });
        let start = tokio::time::Instant::now();
        let got = board
            .wait_for(
                "a",
                |s| s.is_some_and(|s| s.state == AppState::Running),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        assert_eq!(got.unwrap().state, AppState::Running);
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_times_out_naming_the_last_state() {
        let board = StatusBoard::new();
        board.set(status("a", AppState::Stopped));
        let err = board
            .wait_for(
                "a",
                |s| s.is_some_and(|s| s.state.is_up()),
                Duration::from_secs(120),
            )
            .await
            .unwrap_err();
        assert_eq!(err.waited, Duration::from_secs(120));
        assert_eq!(err.last, "stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_can_wait_for_removal() {
        let board = StatusBoard::new();
        board.set(status("a", AppState::Uninstalling));
        let remover = board.clone();
        tokio::spawn(async move { remover.remove("a") });
        let got = board
            .wait_for("a", |s| s.is_none(), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(got.is_none());
    }
}
