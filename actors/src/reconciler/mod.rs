//! Continuous convergence: the Reconciler looks at every managed container
//! with ONE engine call per pass and hands each app actor its own view; the
//! app actors decide (restart a crash, recreate on drift, leave a
//! user-stopped app alone). The reconciler itself only removes what no
//! actor owns (orphans) and extra copies of a member (duplicates).
//!
//! - [`plan`]: pure grouping of one list into casts and removals.
//! - [`pass`]: one pass (list, cast in tier order, clean up).
//! - [`events`]: the fast path: engine `die`/`oom` events to the app actor.
//! - [`actor`]: the ticking actor; passes never pile up.
//! - [`metrics`]: what a pass exports.
//!
//! Unlabelled containers are NOT adopted here: an engine cannot add labels
//! to an existing container, so an adopted unlabelled container would stay
//! invisible to the one labelled list and to the label-filtered events,
//! i.e. unwatched, or would cost an inspect per pass. The app actor's own
//! start-up adoption already inspects each member by its expected name once
//! and replaces a container without Archy's spec hash, keeping its data
//! (data lives in bind mounts and named volumes, never in the container).

pub mod actor;
pub mod events;
pub mod metrics;
pub mod pass;
pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use archy_apps::Tier;
use archy_runtime::{RuntimeError, SharedRuntime};

use crate::status::StatusBoard;
use crate::store::DesiredStore;

pub use actor::{PassStats, Reconciler, ReconcilerMsg};
pub use pass::PassReport;

/// An app's tier (databases are observed first); unknown apps are `App`.
pub type TierOf = Arc<dyn Fn(&str) -> Tier + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerConfig {
    /// Time between passes.
    pub period: Duration,
    /// A pass that takes longer is abandoned and counted as an error; shorter
    /// than the period, so a slow engine cannot make passes queue up.
    pub pass_deadline: Duration,
    /// Grace given to an orphan or duplicate before it is removed.
    pub removal_grace: Duration,
    /// Subscribe to engine events for sub-second reaction to deaths.
    pub events: bool,
    /// First wait before reconnecting a lost event stream; doubles up to
    /// `reconnect_max`.
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
}

impl ReconcilerConfig {
    /// Passes every `period`, each with half of it as deadline.
    pub fn every(period: Duration) -> Self {
        ReconcilerConfig {
            period,
            pass_deadline: period / 2,
            removal_grace: Duration::from_secs(10).min(period / 4),
            events: true,
            reconnect_initial: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(30),
        }
    }
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        Self::every(Duration::from_secs(30))
    }
}

/// What the Reconciler is started with; cloned for every restart.
#[derive(Clone)]
pub struct ReconcilerArgs {
    pub runtime: SharedRuntime,
    /// Where app actors publish their status, and where the reconciler sets
    /// the "engine reachable" flag.
    pub board: StatusBoard,
    /// The user's word: a container of an app installed here is never an
    /// orphan, even while its actor is being restarted.
    pub desired: DesiredStore,
    pub tier_of: TierOf,
    pub config: ReconcilerConfig,
}

/// Why a pass did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot list the managed containers: {0}; apps keep their last known state")]
    Engine(#[from] RuntimeError),
    #[error(
        "the pass did not finish within {0:?}; it was abandoned and the next one starts afresh"
    )]
    Deadline(Duration),
    #[error("the pass panicked (a bug; the next pass starts afresh): {0}")]
    Panicked(String),
    #[error("the reconciler is not answering: {0}")]
    Unreachable(String),
}
