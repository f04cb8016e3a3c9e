//! The fast path: a managed container's `die` or `oom` event goes straight
//! to its app actor as `AppMsg::Died`, so a crash is seen in well under a
//! second instead of at the next pass. The stream ends whenever the engine
//! restarts; it is reopened with a doubling backoff, and each reopening asks
//! for a pass, since events in the gap are lost. The periodic pass remains
//! the safety net.

use archy_runtime::{EngineEvent, EngineEventKind, SharedRuntime};
use futures::StreamExt;
use ractor::ActorRef;

use super::{metrics, ReconcilerConfig, ReconcilerMsg};
use crate::app::{AppActor, AppMsg};

/// Exit code of a process the kernel's OOM killer ended (SIGKILL).
const OOM_EXIT: i64 = 137;

/// Runs until aborted (its owner, the reconciler, drops it).
pub async fn watch(
    runtime: SharedRuntime,
    reconciler: ActorRef<ReconcilerMsg>,
    config: ReconcilerConfig,
) {
    let mut backoff = config.reconnect_initial;
    let mut opened_before = false;
    loop {
        match runtime.events().await {
            Ok(mut stream) => {
                if opened_before {
                    let _ = reconciler.cast(ReconcilerMsg::Tick);
                }
                opened_before = true;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(event) => {
                            // A stream that delivers is healthy again.
                            backoff = config.reconnect_initial;
                            forward(&event);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "engine event stream failed");
                            break;
                        }
                    }
                }
                tracing::info!(retry_in = ?backoff, "engine event stream ended; reopening");
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot open the engine event stream")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(config.reconnect_max);
    }
}

/// Count the event; tell the app actor about a death.
fn forward(event: &EngineEvent) {
    let (kind, exit_code) = match event.kind {
        EngineEventKind::Start => ("start", None),
        EngineEventKind::Die { exit_code } => ("die", Some(exit_code)),
        EngineEventKind::Oom => ("oom", Some(Some(OOM_EXIT))),
    };
    metrics::engine_event(kind);
    let (Some(exit_code), Some(app)) = (exit_code, &event.app) else {
        return;
    };
    // No actor: the app is not installed; the next pass removes the orphan.
    if let Some(actor) = ActorRef::<AppMsg>::where_is(AppActor::name(app)) {
        let _ = actor.cast(AppMsg::Died {
            container: event.container.clone(),
            exit_code,
        });
    }
}
