//! The watcher: first child of the companion supervisor. It keeps one
//! Companion actor per (installed app, declared companion) under that
//! supervisor, scanning at start, every period, when the catalog changes,
//! and when an app that declares companions changes status.

use std::collections::BTreeSet;

use ractor::{call_t, Actor, ActorProcessingErr, ActorRef};
use tokio::sync::broadcast::error::RecvError;

use super::{companion_spec, CompanionEnv, WATCHER};
use crate::app::task::OwnedTask;
use crate::supervisor::{SupervisorError, SupervisorMsg};

/// How long a call into the companion supervisor may take.
const CALL_MS: u64 = 10_000;

pub struct CompanionWatcher;

pub struct WatcherArgs {
    pub env: CompanionEnv,
    /// The companion supervisor this watcher is a child of.
    pub supervisor: ActorRef<SupervisorMsg>,
}

#[derive(Debug)]
pub enum WatcherMsg {
    Scan,
}

pub struct WatcherState {
    args: WatcherArgs,
    timer: Option<OwnedTask>,
    _follow: [OwnedTask; 2],
}

impl Actor for CompanionWatcher {
    type Msg = WatcherMsg;
    type State = WatcherState;
    type Arguments = WatcherArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<WatcherMsg>,
        args: WatcherArgs,
    ) -> Result<WatcherState, ActorProcessingErr> {
        myself.cast(WatcherMsg::Scan)?;
        Ok(WatcherState {
            _follow: [
                follow_board(&args.env, myself.clone()),
                follow_catalog(&args.env, myself),
            ],
            args,
            timer: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<WatcherMsg>,
        WatcherMsg::Scan: WatcherMsg,
        state: &mut WatcherState,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(e) = scan(&state.args).await {
            tracing::warn!(error = %e, "companion scan failed; retrying next period");
        }
        let period = state.args.env.config.period;
        state.timer = Some(OwnedTask::spawn(async move {
            tokio::time::sleep(period).await;
            let _ = myself.cast(WatcherMsg::Scan);
        }));
        Ok(())
    }
}

/// Start the missing companion actors; forget those that ended (their app
/// was uninstalled), so a reinstall starts them afresh.
async fn scan(args: &WatcherArgs) -> Result<(), String> {
    let env = &args.env;
    let installed = env
        .app
        .desired
        .load_all()
        .map_err(|e| e.to_string())?
        .apps
        .into_iter()
        .filter(|d| d.installed);
    let children = call_t!(args.supervisor, SupervisorMsg::WhichChildren, CALL_MS)
        .map_err(|e| e.to_string())?;
    let mut live = BTreeSet::new();
    for child in children.into_iter().filter(|c| c.id != WATCHER) {
        if child.cell.is_some() {
            live.insert(child.id);
        } else {
            let id = child.id;
            call_t!(
                args.supervisor,
                |reply| SupervisorMsg::TerminateChild { id, reply },
                CALL_MS
            )
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        }
    }
    for desired in installed {
        let Some(manifest) = (env.manifests)(&desired.app_id) else {
            continue;
        };
        for companion in &manifest.companions {
            let spec = companion_spec(env.clone(), &manifest.id, &companion.name);
            if live.contains(&spec.id) {
                continue;
            }
            match call_t!(
                args.supervisor,
                |reply| SupervisorMsg::StartChild { spec, reply },
                CALL_MS
            )
            .map_err(|e| e.to_string())?
            {
                Ok(_) | Err(SupervisorError::DuplicateChild { .. }) => {}
                Err(e) => tracing::warn!(app = %manifest.id, companion = %companion.name,
                    error = %e, "could not start the companion's actor"),
            }
        }
    }
    Ok(())
}

/// A scan when an app that declares companions changes status (its
/// install is the moment its companions begin).
fn follow_board(env: &CompanionEnv, watcher: ActorRef<WatcherMsg>) -> OwnedTask {
    let mut transitions = env.app.board.subscribe();
    let manifests = env.manifests.clone();
    OwnedTask::spawn(async move {
        loop {
            match transitions.recv().await {
                Ok(t) if manifests(&t.app).is_none_or(|m| m.companions.is_empty()) => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            if watcher.cast(WatcherMsg::Scan).is_err() {
                return;
            }
        }
    })
}

/// A scan when the catalog changes (at boot it fills after the watcher
/// starts; a manifest may gain a companion).
fn follow_catalog(env: &CompanionEnv, watcher: ActorRef<WatcherMsg>) -> OwnedTask {
    let mut changes = env.catalog_changed.clone();
    OwnedTask::spawn(async move {
        while changes.changed().await.is_ok() {
            if watcher.cast(WatcherMsg::Scan).is_err() {
                return;
            }
        }
    })
}
