//! Stopping one child deliberately, per its shutdown spec.

use ractor::ActorCell;

use super::spec::Shutdown;

/// The stop reason children see; a normal exit for transient children.
pub(crate) const SHUTDOWN_REASON: &str = "shutdown";

/// Stops `child` per `shutdown` and returns once it has exited.
///
/// The child stays linked: callers forget its cell first, so its exit event
/// arrives under an unknown `ActorId` and is ignored, and if the supervisor
/// is killed meanwhile, ractor still kills the child with it.
pub(crate) async fn terminate(child: &ActorCell, shutdown: Shutdown) {
    match shutdown {
        Shutdown::BrutalKill => kill(child).await,
        Shutdown::Infinity => {
            child.stop(Some(SHUTDOWN_REASON.to_string()));
            // `wait` only fails on its timeout, and there is none here.
            let _ = child.wait(None).await;
        }
        Shutdown::Timeout(grace) => {
            child.stop(Some(SHUTDOWN_REASON.to_string()));
            if child.wait(Some(grace)).await.is_err() {
                tracing::warn!(
                    actor = %child.get_id(),
                    ?grace,
                    "child did not stop within its shutdown timeout; killing it"
                );
                kill(child).await;
            }
        }
    }
}

async fn kill(child: &ActorCell) {
    child.kill();
    let _ = child.wait(None).await;
}
