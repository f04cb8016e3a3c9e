//! The Companion actor: converges one companion of one app on its own
//! cadence (a pass every period, sooner after failures back off) and at once
//! when its app's status changes. It stops itself, normally, once its app
//! is uninstalled and its container removed.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::broadcast::error::RecvError;

use super::board::{CompanionState, CompanionStatus};
use super::pass::{self, Action, Pass, Wish};
use super::render::container_name;
use super::CompanionEnv;
use crate::app::task::OwnedTask;
use crate::health::Prober;
use crate::status::Health;

/// Failures back the next pass off to at most this many periods.
const MAX_BACKOFF_PERIODS: u32 = 8;

pub struct CompanionActor;

#[derive(Clone)]
pub struct CompanionArgs {
    pub env: CompanionEnv,
    pub app: String,
    pub name: String,
}

#[derive(Debug)]
pub enum CompanionMsg {
    /// Run a pass now (timer, or a change of the app's status).
    Converge,
}

pub struct CompanionActorState {
    args: CompanionArgs,
    prober: Prober,
    /// Consecutive failed passes.
    failures: u32,
    restarts: u32,
    /// Whether the last pass left it running: bringing it back then counts
    /// as a restart; starting it after its app was stopped does not.
    was_running: bool,
    timer: Option<OwnedTask>,
    _follow: OwnedTask,
}

impl Actor for CompanionActor {
    type Msg = CompanionMsg;
    type State = CompanionActorState;
    type Arguments = CompanionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<CompanionMsg>,
        args: CompanionArgs,
    ) -> Result<CompanionActorState, ActorProcessingErr> {
        myself.cast(CompanionMsg::Converge)?;
        Ok(CompanionActorState {
            prober: Prober::new(args.env.app.runtime.clone()),
            _follow: follow_parent(&args, myself),
            args,
            failures: 0,
            restarts: 0,
            was_running: false,
            timer: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<CompanionMsg>,
        CompanionMsg::Converge: CompanionMsg,
        state: &mut CompanionActorState,
    ) -> Result<(), ActorProcessingErr> {
        let CompanionArgs { env, app, name } = &state.args;
        let result = pass::run(env, &state.prober, app, name).await;
        let status = |state: CompanionState, reason: String, health, restarts| CompanionStatus {
            app: app.clone(),
            name: name.clone(),
            container: container_name(app, name),
            state,
            reason,
            health,
            restarts,
            since_ms: 0,
        };
        match result {
            Ok(Pass {
                action: Action::Removed,
                ..
            }) => {
                env.board.remove(app, name);
                tracing::info!(%app, companion = %name, "app uninstalled: companion removed");
                myself.stop(None);
                return Ok(());
            }
            Ok(Pass {
                wish,
                action,
                health,
            }) => {
                let brought_back = matches!(action, Action::Started | Action::Created);
                if brought_back && state.was_running {
                    state.restarts += 1;
                    tracing::warn!(%app, companion = %name, ?action, "companion brought back");
                }
                state.was_running = wish == Wish::Run;
                state.failures = 0;
                let (kind, reason) = describe(wish, action, app);
                env.board.set(status(kind, reason, health, state.restarts));
            }
            Err(e) => {
                state.failures += 1;
                state.was_running = false;
                tracing::warn!(%app, companion = %name, error = %e, "companion pass failed");
                env.board.set(status(
                    CompanionState::Failed,
                    e.to_string(),
                    Health::Unknown,
                    state.restarts,
                ));
            }
        }
        let delay = next_pass(env.config.period, state.failures);
        state.timer = Some(OwnedTask::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = myself.cast(CompanionMsg::Converge);
        }));
        Ok(())
    }
}

/// One period; after failures, doubling up to [`MAX_BACKOFF_PERIODS`].
fn next_pass(period: Duration, failures: u32) -> Duration {
    period * 2u32.saturating_pow(failures).min(MAX_BACKOFF_PERIODS)
}

fn describe(wish: Wish, action: Action, app: &str) -> (CompanionState, String) {
    match wish {
        Wish::Wait => (
            CompanionState::Waiting,
            format!("waiting for {app} to finish installing"),
        ),
        Wish::Stop => (CompanionState::Stopped, format!("{app} was stopped")),
        Wish::Run | Wish::Remove => {
            let reason = match action {
                Action::Started => "started again (it had stopped)",
                Action::Created => "created",
                Action::Recreated => "recreated (its image or settings changed)",
                _ => "running",
            };
            (CompanionState::Running, reason.to_string())
        }
    }
}

/// A pass at once whenever the app's status changes (stop, start,
/// uninstall), so the companion follows without waiting for its period.
fn follow_parent(args: &CompanionArgs, actor: ActorRef<CompanionMsg>) -> OwnedTask {
    let mut transitions = args.env.app.board.subscribe();
    let app = args.app.clone();
    OwnedTask::spawn(async move {
        loop {
            match transitions.recv().await {
                Ok(t) if t.app != app => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            if actor.cast(CompanionMsg::Converge).is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_by_doubling_up_to_a_cap() {
        let period = Duration::from_secs(30);
        assert_eq!(next_pass(period, 0), period);
        assert_eq!(next_pass(period, 1), period * 2);
        assert_eq!(next_pass(period, 2), period * 4);
        assert_eq!(next_pass(period, 3), period * 8);
        assert_eq!(next_pass(period, 30), period * 8);
    }
}
