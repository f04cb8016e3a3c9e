//! Boot and crash recovery: decide which apps are installed before any app
//! actor starts (each actor then adopts its own containers).
//!
//! The desired-state files are the user's word. When one is missing or was
//! quarantined as corrupt, it is rebuilt — from the last snapshot if the
//! previous run ended uncleanly, else from what the engine shows — and never
//! in a way that turns a possibly user-stopped app back on (invariant 1).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use archy_apps::Tier;
use archy_runtime::{Observed, Role, SharedRuntime};
use tokio::task::JoinHandle;

use crate::status::StatusBoard;
use crate::store::{
    unix_secs, BootKind, DesiredApp, DesiredStore, Snapshot, SnapshotApp, StateDir, StoreError,
};

/// What boot found and did, for the log and `system.info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootReport {
    pub kind: BootKind,
    /// The previous run's snapshot was read (unclean exit).
    pub snapshot_loaded: bool,
    /// Apps whose desired state was quarantined as corrupt.
    pub quarantined: Vec<String>,
    /// Apps whose desired state was rebuilt, with the source it came from.
    pub rebuilt: Vec<(String, RebuildSource)>,
    /// Whether the engine answered the boot-time list.
    pub engine_reachable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildSource {
    Snapshot,
    Engine,
}

/// Make sure every app that is installed has a desired-state file, using
/// one engine list call. Returns what it did, and what the list showed (the
/// app actors adopt from it; empty when the engine did not answer).
pub async fn recover_desired(
    state: &StateDir,
    kind: BootKind,
    runtime: &SharedRuntime,
) -> Result<(BootReport, Vec<Observed>), StoreError> {
    let desired = state.desired();
    let load = desired.load_all()?;
    let snapshot = match kind {
        BootKind::Clean => None,
        BootKind::Unclean { .. } => state.load_snapshot()?,
    };
    let observed = match runtime.list_managed().await {
        Ok(observed) => Some(observed),
        Err(e) => {
            tracing::warn!(error = %e, "engine did not answer at boot; apps keep their recorded state");
            None
        }
    };
    let known: BTreeSet<&str> = load.apps.iter().map(|a| a.app_id.as_str()).collect();
    let mut report = BootReport {
        kind,
        snapshot_loaded: snapshot.is_some(),
        quarantined: load.quarantined.clone(),
        rebuilt: Vec::new(),
        engine_reachable: observed.is_some(),
    };
    let in_snapshot: BTreeMap<&str, &SnapshotApp> = snapshot
        .iter()
        .flat_map(|s| &s.apps)
        .map(|a| (a.app_id.as_str(), a))
        .collect();
    let in_engine = running_by_app(observed.as_deref().unwrap_or_default());

    let candidates: BTreeSet<&str> = in_snapshot
        .keys()
        .copied()
        .chain(in_engine.keys().map(String::as_str))
        .chain(load.quarantined.iter().map(String::as_str))
        .filter(|id| !known.contains(id))
        .collect();
    for app in candidates {
        let rebuilt = if let Some(entry) = in_snapshot.get(app) {
            Some((entry.user_stopped, RebuildSource::Snapshot))
        } else {
            // Not running in the engine may mean the user stopped it: keep it
            // stopped rather than guess it back on.
            in_engine
                .get(app)
                .map(|running| (!running, RebuildSource::Engine))
        };
        let Some((user_stopped, source)) = rebuilt else {
            tracing::warn!(
                app,
                "desired state lost and nothing shows the app installed; leaving it uninstalled"
            );
            continue;
        };
        let entry = DesiredApp {
            app_id: app.to_string(),
            installed: true,
            user_stopped,
            // Unknown here; the app actor records it with its next operation.
            manifest_hash: String::new(),
            installed_at: unix_secs(SystemTime::now()),
        };
        desired.save(&entry)?;
        tracing::warn!(
            app,
            ?source,
            user_stopped,
            "rebuilt the app's desired state"
        );
        report.rebuilt.push((app.to_string(), source));
    }
    Ok((report, observed.unwrap_or_default()))
}

/// Per app with app-role containers: is any of them running?
fn running_by_app(observed: &[Observed]) -> BTreeMap<String, bool> {
    let mut by_app = BTreeMap::new();
    for o in observed.iter().filter(|o| o.role == Role::App) {
        *by_app.entry(o.app.clone()).or_insert(false) |= o.state.is_running();
    }
    by_app
}

/// The installed apps, in start order: databases first, then by id.
pub fn installed_in_tier_order(
    desired: &DesiredStore,
    tier: impl Fn(&str) -> Option<Tier>,
) -> Result<Vec<DesiredApp>, StoreError> {
    let mut apps: Vec<DesiredApp> = desired
        .load_all()?
        .apps
        .into_iter()
        .filter(|a| a.installed)
        .collect();
    apps.sort_by_key(|a| (tier(&a.app_id), a.app_id.clone()));
    Ok(apps)
}

/// Keep `<state>/snapshot.json` close to the board: rewritten after
/// changes, at most once per `every`. Read back only after an unclean exit.
pub fn spawn_snapshot_writer(
    state: StateDir,
    board: StatusBoard,
    every: Duration,
) -> JoinHandle<()> {
    let mut transitions = board.subscribe();
    tokio::spawn(async move {
        loop {
            match transitions.recv().await {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
            tokio::time::sleep(every).await;
            while transitions.try_recv().is_ok() {}
            if let Err(e) = state.save_snapshot(&snapshot_of(&board)) {
                tracing::warn!(error = %e, "could not write the recovery snapshot");
            }
        }
    })
}

pub fn snapshot_of(board: &StatusBoard) -> Snapshot {
    Snapshot {
        taken_at: unix_secs(SystemTime::now()),
        apps: board
            .all()
            .into_iter()
            .map(|s| SnapshotApp {
                state: s.state.kind().to_string(),
                container_id: s.containers.first().cloned(),
                spec_hash: None,
                user_stopped: s.user_stopped,
                app_id: s.app,
            })
            .collect(),
    }
}
