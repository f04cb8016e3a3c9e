//! What every app actor shares: the engine, the board, the stores, secrets,
//! and the tunables of its operations.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use archy_runtime::{RuntimeResult, SharedRuntime};
use tokio::sync::OnceCell;

use crate::secrets::{FileSecrets, SecretSource};
use crate::status::StatusBoard;
use crate::store::{DesiredStore, Journal, JournalConfig, RestartTracker, StateDir, StoreError};

use super::render::NETWORK;

/// Tunables of the lifecycle operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// Pull attempts per image before the install fails.
    pub pull_attempts: u32,
    /// Wait after failed attempt k (the last entry repeats).
    pub pull_waits: Vec<Duration>,
    /// A container that exits within this time after its start fails the
    /// operation (failsafe install).
    pub verify_window: Duration,
    /// How often the verify window inspects each member.
    pub verify_poll: Duration,
    /// How long a start waits for its dependencies to be running.
    pub dependency_wait: Duration,
    /// Log lines captured from a container that failed its verify window.
    pub log_tail: usize,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            pull_attempts: 3,
            pull_waits: vec![Duration::from_secs(5), Duration::from_secs(15)],
            verify_window: Duration::from_secs(5),
            verify_poll: Duration::from_millis(250),
            dependency_wait: Duration::from_secs(120),
            log_tail: 20,
        }
    }
}

impl AppConfig {
    /// The wait after failed pull attempt `attempt` (1-based).
    pub fn pull_wait(&self, attempt: u32) -> Duration {
        let index = (attempt as usize).saturating_sub(1);
        self.pull_waits
            .get(index)
            .or(self.pull_waits.last())
            .copied()
            .unwrap_or_default()
    }
}

/// Everything an app actor and its operations use besides its manifest.
/// Cheap to clone: one per daemon, cloned into every actor.
#[derive(Clone)]
pub struct AppEnv {
    pub runtime: SharedRuntime,
    pub board: StatusBoard,
    pub desired: DesiredStore,
    pub tracker: Arc<Mutex<RestartTracker>>,
    pub journal: Arc<Journal>,
    pub secrets: Arc<dyn SecretSource>,
    /// `<state>/data`: each app's data root is `<data_dir>/<app>`.
    pub data_dir: PathBuf,
    pub config: AppConfig,
    pub network: NetworkOnce,
}

/// The `archy` network is ensured once per process (per engine), not per
/// install; a failure is not remembered, so the next install tries again.
#[derive(Clone, Default)]
pub struct NetworkOnce(Arc<OnceCell<()>>);

impl AppEnv {
    /// The standard layout under a state directory: secrets in `secrets/`,
    /// app data in `data/`, the restart tracker with its default policy.
    pub fn open(
        state: &StateDir,
        runtime: SharedRuntime,
        board: StatusBoard,
        config: AppConfig,
    ) -> Result<AppEnv, StoreError> {
        let tracker = state.open_tracker(Default::default())?;
        let journal = state.open_journal(JournalConfig::default())?;
        Ok(AppEnv {
            runtime,
            board,
            desired: state.desired(),
            tracker: Arc::new(Mutex::new(tracker)),
            journal: Arc::new(journal),
            secrets: Arc::new(FileSecrets::new(state.root().join("secrets"))),
            data_dir: state.root().join("data"),
            config,
            network: NetworkOnce::default(),
        })
    }

    pub fn data_root(&self, app: &str) -> PathBuf {
        self.data_dir.join(app)
    }

    /// The restart tracker, even if a panicking holder poisoned it (its
    /// records are whole values: still consistent).
    pub fn tracker(&self) -> MutexGuard<'_, RestartTracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Create the `archy` network if this process has not yet.
    pub async fn ensure_network(&self) -> RuntimeResult<()> {
        self.network
            .0
            .get_or_try_init(|| self.runtime.ensure_network(NETWORK))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_waits_follow_the_list_then_repeat_the_last() {
        let config = AppConfig::default();
        assert_eq!(config.pull_wait(1), Duration::from_secs(5));
        assert_eq!(config.pull_wait(2), Duration::from_secs(15));
        assert_eq!(config.pull_wait(3), Duration::from_secs(15));
    }
}
