//! Child specifications: what to start, when to restart it, how to stop it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use ractor::{Actor, ActorCell, SpawnErr};

/// Spawns one child linked to the supervisor whose cell it receives, and
/// returns the child's cell. Called again for every restart.
pub type StartFn =
    Arc<dyn Fn(ActorCell) -> BoxFuture<'static, Result<ActorCell, SpawnErr>> + Send + Sync>;

/// When a child that exited is started again (OTP restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal exit: a failure (error or panic) or a kill.
    Transient,
    /// Never restarted; its spec is dropped once it exits or a sibling's
    /// restart terminates it.
    Temporary,
}

/// How a child is stopped when the supervisor terminates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Ask it to stop, wait this long, then kill it.
    Timeout(Duration),
    /// Kill it at once (its `post_stop` does not run).
    BrutalKill,
    /// Ask it to stop and wait as long as it takes; meant for supervisors,
    /// which stop their own children in order.
    Infinity,
}

/// How a child ended, as far as restart decisions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Stopped with no reason, `normal`, `shutdown` or `shutdown:…`.
    Normal,
    /// Failed (error or panic), was killed, or stopped for any other reason.
    Abnormal,
}

impl Exit {
    /// Classifies the reason carried by `SupervisionEvent::ActorTerminated`.
    pub(crate) fn from_stop_reason(reason: Option<&str>) -> Self {
        match reason {
            None | Some("normal" | "shutdown") => Exit::Normal,
            Some(reason) if reason.starts_with("shutdown:") => Exit::Normal,
            Some(_) => Exit::Abnormal,
        }
    }
}

impl Restart {
    pub(crate) fn restarts_after(self, exit: Exit) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => exit == Exit::Abnormal,
            Restart::Temporary => false,
        }
    }
}

/// One supervised child. Children start in the order of their specs and stop
/// in reverse.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique among the supervisor's children.
    pub id: String,
    /// Spawns the child linked to the given supervisor cell.
    pub start: StartFn,
    pub restart: Restart,
    pub shutdown: Shutdown,
    /// Label for metrics (`actor_kind`), e.g. "app", "registry", "supervisor".
    pub kind: String,
}

impl ChildSpec {
    /// Default shutdown of a worker, as in OTP.
    pub const WORKER_SHUTDOWN: Shutdown = Shutdown::Timeout(Duration::from_secs(5));

    /// A permanent worker with a 5 s shutdown timeout. `start` must spawn the
    /// child linked to the supervisor cell it receives.
    pub fn new<F, Fut>(id: impl Into<String>, kind: impl Into<String>, start: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
    {
        Self {
            id: id.into(),
            start: Arc::new(move |supervisor| start(supervisor).boxed()),
            restart: Restart::Permanent,
            shutdown: Self::WORKER_SHUTDOWN,
            kind: kind.into(),
        }
    }

    /// A permanent worker that spawns `handler` with a clone of `args` (and
    /// the optional registry `name`) on every start.
    pub fn actor<A>(
        id: impl Into<String>,
        kind: impl Into<String>,
        name: Option<String>,
        handler: A,
        args: A::Arguments,
    ) -> Self
    where
        A: Actor + Clone + Sync,
        A::Arguments: Clone + Sync,
    {
        Self::new(id, kind, move |supervisor| {
            let (name, handler, args) = (name.clone(), handler.clone(), args.clone());
            async move {
                let (actor, _handle) = A::spawn_linked(name, handler, args, supervisor).await?;
                Ok(actor.get_cell())
            }
        })
    }

    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_and_shutdown_reasons_are_normal_exits() {
        for reason in [
            None,
            Some("normal"),
            Some("shutdown"),
            Some("shutdown:upgrade"),
        ] {
            assert_eq!(Exit::from_stop_reason(reason), Exit::Normal, "{reason:?}");
        }
        for reason in ["killed", "Drained", "shutdownx", "boom"] {
            assert_eq!(
                Exit::from_stop_reason(Some(reason)),
                Exit::Abnormal,
                "{reason}"
            );
        }
    }

    #[test]
    fn restart_types_follow_otp() {
        assert!(Restart::Permanent.restarts_after(Exit::Normal));
        assert!(Restart::Permanent.restarts_after(Exit::Abnormal));
        assert!(!Restart::Transient.restarts_after(Exit::Normal));
        assert!(Restart::Transient.restarts_after(Exit::Abnormal));
        assert!(!Restart::Temporary.restarts_after(Exit::Normal));
        assert!(!Restart::Temporary.restarts_after(Exit::Abnormal));
    }
}
