//! The registry actor: owns the apps in effect, answers queries from them,
//! reloads on request or when the poll sees the files move, and tells
//! subscribers and running app actors what changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use archy_apps::Manifest;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::broadcast;

use super::diff::{apply, RegistryEvent, ReloadReport};
use super::load::{fingerprint, load, Fingerprint, LoadError};
use super::RegistryConfig;
use crate::app::{AppActor, AppMsg, StateKind};
use crate::status::StatusBoard;
use crate::supervisor::ChildSpec;

/// How many events a slow subscriber may fall behind before it lags.
const EVENT_BUFFER: usize = 256;

pub enum RegistryMsg {
    Get(String, RpcReplyPort<Option<Arc<Manifest>>>),
    /// Every app in effect, in id order.
    List(RpcReplyPort<Vec<Arc<Manifest>>>),
    /// Every problem the sources have now (file, field, why).
    Errors(RpcReplyPort<Vec<String>>),
    /// Installed apps (per the status board) without a manifest, in id order.
    Orphans(RpcReplyPort<Vec<String>>),
    /// Read every source now; `None` for fire-and-forget.
    Reload(Option<RpcReplyPort<ReloadReport>>),
    Subscribe(RpcReplyPort<broadcast::Receiver<RegistryEvent>>),
    /// From the poll timer: reload if the files' fingerprint moved.
    Poll,
}

/// What the registry is started with; cloned for every restart, so
/// subscribers keep their receiver across one.
#[derive(Clone)]
pub struct RegistryArgs {
    pub config: RegistryConfig,
    pub board: StatusBoard,
    pub events: broadcast::Sender<RegistryEvent>,
}

impl RegistryArgs {
    pub fn new(config: RegistryConfig, board: StatusBoard) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        RegistryArgs {
            config,
            board,
            events,
        }
    }

    /// Subscribe before spawning to also see the first load's events.
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }
}

pub struct RegistryState {
    args: RegistryArgs,
    apps: BTreeMap<String, Arc<Manifest>>,
    errors: Vec<LoadError>,
    fingerprint: Fingerprint,
}

#[derive(Clone, Copy)]
pub struct Registry;

impl Registry {
    /// The registered name, so a restarted registry is found again.
    pub const NAME: &'static str = "registry";

    /// The registry as a permanent, named child of a supervisor.
    pub fn child_spec(args: RegistryArgs) -> ChildSpec {
        let name = Some(Self::NAME.to_string());
        ChildSpec::actor(Self::NAME, "registry", name, Registry, args)
    }
}

impl Actor for Registry {
    type Msg = RegistryMsg;
    type State = RegistryState;
    type Arguments = RegistryArgs;

    /// Cheap: a supervisor waits for its children's `pre_start`. The first
    /// load runs in `post_start`, before any query is answered.
    async fn pre_start(
        &self,
        _myself: ActorRef<RegistryMsg>,
        args: RegistryArgs,
    ) -> Result<RegistryState, ActorProcessingErr> {
        Ok(RegistryState {
            args,
            apps: BTreeMap::new(),
            errors: Vec::new(),
            fingerprint: Fingerprint::default(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<RegistryMsg>,
        state: &mut RegistryState,
    ) -> Result<(), ActorProcessingErr> {
        // Everything counts as added: after a registry restart, running app
        // actors get their manifest again (a no-op when it did not change).
        state.reload();
        state.arm_poll(&myself);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<RegistryMsg>,
        msg: RegistryMsg,
        state: &mut RegistryState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RegistryMsg::Get(id, reply) => {
                let _ = reply.send(state.apps.get(&id).cloned());
            }
            RegistryMsg::List(reply) => {
                let _ = reply.send(state.apps.values().cloned().collect());
            }
            RegistryMsg::Errors(reply) => {
                let _ = reply.send(state.errors.iter().map(|e| e.message.clone()).collect());
            }
            RegistryMsg::Orphans(reply) => {
                let _ = reply.send(state.orphans());
            }
            RegistryMsg::Reload(reply) => {
                let report = state.reload();
                if let Some(reply) = reply {
                    let _ = reply.send(report);
                }
            }
            RegistryMsg::Subscribe(reply) => {
                let _ = reply.send(state.args.events.subscribe());
            }
            RegistryMsg::Poll => {
                if fingerprint(&state.args.config) != state.fingerprint {
                    state.reload();
                }
                state.arm_poll(&myself);
            }
        }
        Ok(())
    }
}

impl RegistryState {
    /// Reads every source and moves to what they now say.
    fn reload(&mut self) -> ReloadReport {
        // Taken first: an edit during the read is seen by the next poll.
        self.fingerprint = fingerprint(&self.args.config);
        let loaded = load(&self.args.config);
        let applied = apply(&self.apps, &self.errors, &loaded);
        self.apps = applied.apps;
        self.errors = loaded.errors;
        for event in applied.events {
            self.announce(&event);
            let _ = self.args.events.send(event);
        }
        let report = applied.report;
        if report != ReloadReport::default() {
            tracing::info!(
                added = report.added.len(),
                changed = report.changed.len(),
                removed = report.removed.len(),
                errors = report.errors.len(),
                "registry reloaded"
            );
        }
        report
    }

    /// Logs the event; a changed manifest also goes to the app's actor, if
    /// it runs, which recreates the app (keeping its data) when the spec drifted.
    fn announce(&self, event: &RegistryEvent) {
        match event {
            RegistryEvent::Changed(manifest) => {
                let name = AppActor::name(&manifest.id);
                if let Some(app) = ActorRef::<AppMsg>::where_is(name) {
                    if let Err(e) = app.cast(AppMsg::UpdateManifest(Arc::clone(manifest))) {
                        tracing::warn!(app = %manifest.id, error = %e, "cannot pass the new manifest to the app");
                    }
                }
            }
            RegistryEvent::Removed(id) if self.installed(id) => {
                tracing::warn!(app = %id, "the manifest is gone but the app is installed: it keeps running as an orphan; uninstall it, or restore its manifest");
            }
            RegistryEvent::Removed(id) => tracing::info!(app = %id, "manifest removed"),
            RegistryEvent::Invalid { error, .. } => {
                tracing::warn!(%error, "manifest refused; the app keeps its last good version")
            }
        }
    }

    fn installed(&self, id: &str) -> bool {
        self.args
            .board
            .get(id)
            .is_some_and(|s| s.state.kind() != StateKind::Absent)
    }

    fn orphans(&self) -> Vec<String> {
        let mut orphans: Vec<String> = self
            .args
            .board
            .all()
            .into_iter()
            .filter(|s| s.state.kind() != StateKind::Absent && !self.apps.contains_key(&s.app))
            .map(|s| s.app)
            .collect();
        orphans.sort();
        orphans
    }

    fn arm_poll(&self, myself: &ActorRef<RegistryMsg>) {
        if let Some(every) = self.args.config.poll_every {
            myself.send_after(every, || RegistryMsg::Poll);
        }
    }
}
