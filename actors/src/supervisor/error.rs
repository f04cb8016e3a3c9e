//! What can go wrong supervising.

use std::time::Duration;

use ractor::SpawnErr;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("a child with id `{id}` already exists under this supervisor")]
    DuplicateChild { id: String },

    #[error("no child with id `{id}` under this supervisor")]
    NoSuchChild { id: String },

    #[error("child `{id}` failed to start: {source}")]
    StartFailed {
        id: String,
        #[source]
        source: SpawnErr,
    },

    #[error(
        "more than {max_restarts} restarts within {period:?} (last to exit: child `{child}`); \
         stopped all children and gave up"
    )]
    IntensityExceeded {
        max_restarts: u32,
        period: Duration,
        child: String,
    },

    #[error("the supervisor could not be started: {0}")]
    Spawn(#[source] SpawnErr),
}
