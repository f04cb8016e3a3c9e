//! The gateway's view of the tree: maps actor state to the RPC's DTOs.
//! Every read answers from the status board and the journal — never from a
//! live engine call — so `container.list` stays complete while the engine
//! is slow or down.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use archy_actors::app::{render, AppError, StateKind};
use archy_actors::companions::CompanionState;
use archy_actors::status::{self, AppStatus as BoardStatus};
use archy_actors::store::JournalEntry;
use archy_actors::supervisor::SupervisorMsg;
use archy_actors::tree::{Archy, Request, TreeError};
use archy_apps::Manifest;
use archy_rpc::{
    Accepted, ActorNode, AppHealth, AppState, AppStatus, Backend, BackendError, CatalogEntry,
    CompanionStatus, ContainerList, EngineInfo, ErrorKind, Event, Health, Operation, PortMapping,
    ReloadSummary, SystemInfo, Transition,
};
use async_trait::async_trait;
use ractor::call_t;
use tokio::sync::broadcast;

/// How many journal entries `app.events` returns at most.
const EVENTS_LIMIT: usize = 500;
const SUPERVISOR_CALL_MS: u64 = 5_000;

pub struct TreeBackend {
    archy: Arc<Archy>,
    engine_endpoint: String,
    started: Instant,
    next_op: AtomicU64,
    events: broadcast::Sender<Event>,
    /// Answer `debug.kill_actor` (`archy serve --debug-rpc`).
    debug_rpc: bool,
}

impl TreeBackend {
    /// Also starts the task that turns board transitions into RPC events.
    pub fn new(archy: Arc<Archy>, engine_endpoint: String) -> Self {
        let (events, _) = broadcast::channel(1024);
        let mut transitions = archy.board().subscribe();
        let forward = events.clone();
        tokio::spawn(async move {
            loop {
                match transitions.recv().await {
                    Ok(t) => {
                        let _ = forward.send(event_of_transition(&t));
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "event push fell behind; subscribers miss transitions"
                        );
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        TreeBackend {
            archy,
            engine_endpoint,
            started: Instant::now(),
            next_op: AtomicU64::new(1),
            events,
            debug_rpc: false,
        }
    }

    /// Turn the debug methods on (chaos suite only: they kill actors).
    pub fn with_debug_rpc(mut self, on: bool) -> Self {
        self.debug_rpc = on;
        self
    }

    fn status_of(&self, manifest: Option<&Manifest>, s: &BoardStatus) -> AppStatus {
        AppStatus {
            id: s.app.clone(),
            name: manifest.map_or_else(|| s.app.clone(), |m| m.name.clone()),
            state: rpc_state(s.state.kind()),
            health: rpc_health(s.health),
            ports: manifest.map(ports_of).unwrap_or_default(),
            companions: self
                .archy
                .companions()
                .companions_of(&s.app)
                .into_iter()
                .map(|c| CompanionStatus {
                    state: companion_state(c.state),
                    health: rpc_health(c.health),
                    name: c.name,
                })
                .collect(),
            user_stopped: s.user_stopped,
            last_reason: Some(s.reason.clone()).filter(|r| !r.is_empty()),
            restart_count: s.restart_count,
        }
    }

    async fn manifests(&self) -> Result<BTreeMap<String, Arc<Manifest>>, BackendError> {
        let list = self.archy.manifests().await.map_err(backend_error)?;
        Ok(list.into_iter().map(|m| (m.id.clone(), m)).collect())
    }

    async fn manifest_of(&self, app: &str) -> Result<Arc<Manifest>, BackendError> {
        self.archy
            .manifest(app)
            .await
            .map_err(backend_error)?
            .ok_or_else(|| not_in_catalog(app))
    }

    async fn actor_tree(&self) -> ActorNode {
        let root = self.archy.root();
        let mut node = ActorNode {
            name: "root".into(),
            kind: "supervisor".into(),
            restarts: 0,
            children: Vec::new(),
        };
        if let Ok(counts) = call_t!(root, SupervisorMsg::RestartCounts, SUPERVISOR_CALL_MS) {
            node.restarts = counts.total as u32;
        }
        if let Ok(apps) = self.archy.apps_supervisor().await {
            let counts = call_t!(apps, SupervisorMsg::RestartCounts, SUPERVISOR_CALL_MS).ok();
            let children =
                call_t!(apps, SupervisorMsg::WhichChildren, SUPERVISOR_CALL_MS).unwrap_or_default();
            node.children.push(ActorNode {
                name: "apps".into(),
                kind: "supervisor".into(),
                restarts: counts.as_ref().map_or(0, |c| c.total as u32),
                children: children
                    .into_iter()
                    .map(|c| ActorNode {
                        restarts: counts
                            .as_ref()
                            .and_then(|k| k.by_child.get(&c.id))
                            .map_or(0, |n| *n as u32),
                        name: c.id,
                        kind: c.kind,
                        children: Vec::new(),
                    })
                    .collect(),
            });
        }
        node
    }
}

#[async_trait]
impl Backend for TreeBackend {
    async fn list(&self) -> Result<ContainerList, BackendError> {
        let manifests = self.manifests().await?;
        let apps = self
            .archy
            .statuses()
            .iter()
            .map(|s| self.status_of(manifests.get(&s.app).map(|m| &**m), s))
            .collect();
        Ok(ContainerList {
            engine_reachable: self.archy.board().engine_reachable(),
            apps,
        })
    }

    async fn health(&self, app: Option<&str>) -> Result<Vec<AppHealth>, BackendError> {
        let statuses = match app {
            Some(id) => vec![self
                .archy
                .board()
                .get(id)
                .ok_or_else(|| not_installed(id))?],
            None => self.archy.statuses(),
        };
        Ok(statuses
            .into_iter()
            .map(|s| AppHealth {
                health: rpc_health(s.health),
                detail: Some(s.reason).filter(|r| !r.is_empty()),
                checked_at_unix_ms: None,
                id: s.app,
            })
            .collect())
    }

    async fn submit(&self, operation: Operation) -> Result<Accepted, BackendError> {
        let app = operation.app().to_string();
        let request = match operation {
            Operation::Install { .. } => Request::Install,
            Operation::Start { .. } => Request::Start,
            Operation::Stop { .. } => Request::Stop,
            Operation::Restart { .. } => Request::Restart,
            Operation::Uninstall { purge, .. } => Request::Uninstall { purge },
        };
        self.archy
            .request(&app, request, false)
            .await
            .map_err(backend_error)?;
        Ok(Accepted {
            op_id: format!("op-{}", self.next_op.fetch_add(1, Ordering::Relaxed)),
            app,
            op: operation.kind(),
        })
    }

    async fn logs(&self, app: &str, tail: usize) -> Result<Vec<String>, BackendError> {
        let manifest = self.manifest_of(app).await?;
        let runtime = &self.archy.env().runtime;
        let mut lines = Vec::new();
        let members = manifest.members();
        for member in &members {
            let name = render::container_name(&manifest, member.name);
            let member_lines = runtime.logs(&name, tail).await.map_err(|e| {
                let kind = if e.is_not_found() {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::EngineUnavailable
                };
                BackendError::new(kind, format!("logs of {name}: {e}"))
            })?;
            let prefix = if members.len() > 1 {
                format!("[{}] ", member.name)
            } else {
                String::new()
            };
            lines.extend(member_lines.into_iter().map(|l| format!("{prefix}{l}")));
        }
        Ok(lines)
    }

    async fn events(
        &self,
        app: Option<&str>,
        since: Option<u64>,
    ) -> Result<Vec<Event>, BackendError> {
        Ok(self
            .archy
            .env()
            .journal
            .recent(app, since, EVENTS_LIMIT)
            .iter()
            .map(event_of_entry)
            .collect())
    }

    async fn manifest(&self, app: &str) -> Result<serde_json::Value, BackendError> {
        // Manifests hold secret *declarations* and `${secret:…}` references,
        // never values: nothing to redact beyond what serde emits.
        let manifest = self.manifest_of(app).await?;
        serde_json::to_value(&*manifest)
            .map_err(|e| BackendError::new(ErrorKind::Internal, e.to_string()))
    }

    async fn registry(&self) -> Result<Vec<CatalogEntry>, BackendError> {
        let manifests = self.archy.manifests().await.map_err(backend_error)?;
        Ok(manifests
            .iter()
            .map(|m| catalog_entry(&self.archy, m))
            .collect())
    }

    async fn reload_registry(&self) -> Result<ReloadSummary, BackendError> {
        let report = self.archy.reload_catalog().await.map_err(backend_error)?;
        Ok(ReloadSummary {
            added: report.added,
            changed: report.changed,
            removed: report.removed,
            rejected: report.errors.into_iter().map(rejected).collect(),
        })
    }

    async fn system_info(&self) -> Result<SystemInfo, BackendError> {
        Ok(SystemInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            engine: EngineInfo {
                reachable: self.archy.board().engine_reachable(),
                endpoint: self.engine_endpoint.clone(),
                version: None,
            },
            uptime_secs: self.started.elapsed().as_secs(),
            actors: self.actor_tree().await,
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    async fn kill_actor(&self, path: &str) -> Option<Result<(), BackendError>> {
        if !self.debug_rpc {
            return None;
        }
        tracing::warn!(path, "debug.kill_actor: killing an actor on request");
        Some(self.archy.kill_actor(path).await.map_err(backend_error))
    }
}

fn catalog_entry(archy: &Archy, m: &Manifest) -> CatalogEntry {
    let installed = archy
        .board()
        .get(&m.id)
        .is_some_and(|s| s.state.kind() != StateKind::Absent);
    CatalogEntry {
        id: m.id.clone(),
        name: m.name.clone(),
        version: m.version.clone(),
        description: m.description.clone(),
        installed,
    }
}

fn ports_of(manifest: &Manifest) -> Vec<PortMapping> {
    manifest
        .members()
        .iter()
        .flat_map(|member| &member.container.ports)
        .map(|p| PortMapping {
            host: p.host,
            container: p.container,
            protocol: p.protocol.as_str().to_string(),
        })
        .collect()
}

fn companion_state(state: CompanionState) -> AppState {
    match state {
        CompanionState::Waiting => AppState::Starting,
        CompanionState::Running => AppState::Running,
        CompanionState::Stopped => AppState::Stopped,
        CompanionState::Failed => AppState::Failed,
    }
}

pub fn rpc_state(kind: StateKind) -> AppState {
    match kind {
        StateKind::Absent => AppState::Absent,
        StateKind::Installing => AppState::Installing,
        StateKind::Starting => AppState::Starting,
        StateKind::Running => AppState::Running,
        StateKind::Unhealthy => AppState::Unhealthy,
        StateKind::Stopping => AppState::Stopping,
        StateKind::Stopped => AppState::Stopped,
        StateKind::Restarting => AppState::Restarting,
        StateKind::Uninstalling => AppState::Uninstalling,
        StateKind::Blocked => AppState::Blocked,
        StateKind::Failed => AppState::Failed,
    }
}

/// Journal and board carry states as display strings ("installing
/// (Pulling)"): the first word names the kind.
fn parse_state(text: &str) -> Option<AppState> {
    let word = text.split_whitespace().next()?;
    serde_json::from_value(serde_json::Value::String(word.to_string())).ok()
}

fn rpc_health(health: status::Health) -> Health {
    match health {
        status::Health::Healthy => Health::Healthy,
        status::Health::Unhealthy => Health::Unhealthy,
        status::Health::Unknown | status::Health::Starting => Health::Unknown,
    }
}

fn transition(from: &str, to: &str) -> Option<Transition> {
    Some(Transition {
        from: parse_state(from)?,
        to: parse_state(to)?,
    })
}

fn event_of_transition(t: &status::Transition) -> Event {
    Event {
        seq: t.seq,
        at_unix_ms: t.at_ms,
        app: Some(t.app.clone()),
        transition: transition(&t.from, &t.to),
        reason: t.reason.clone(),
    }
}

fn event_of_entry(e: &JournalEntry) -> Event {
    Event {
        seq: e.seq,
        at_unix_ms: e.at,
        app: Some(e.app.clone()),
        transition: transition(&e.from_state, &e.to_state),
        reason: e.reason.clone(),
    }
}

/// Registry errors read "<source>: <reason>".
fn rejected(error: String) -> archy_rpc::RejectedManifest {
    let (source, reason) = error.split_once(": ").unwrap_or(("catalog", &error));
    archy_rpc::RejectedManifest {
        source: source.to_string(),
        reason: reason.to_string(),
    }
}

fn not_installed(app: &str) -> BackendError {
    BackendError::new(ErrorKind::NotFound, format!("{app} is not installed"))
}

fn not_in_catalog(app: &str) -> BackendError {
    BackendError::new(
        ErrorKind::NotFound,
        format!("{app} is not in the catalog; `archy registry list` shows what is"),
    )
}

fn backend_error(e: TreeError) -> BackendError {
    let kind = match &e {
        TreeError::UnknownApp { .. }
        | TreeError::NoSuchActor { .. }
        | TreeError::App(AppError::NotInstalled { .. }) => ErrorKind::NotFound,
        TreeError::App(AppError::Blocked { .. }) => ErrorKind::DependencyStopped,
        TreeError::App(AppError::Refused { .. }) => ErrorKind::Conflict,
        TreeError::Store(_) | TreeError::App(AppError::Store { .. }) => ErrorKind::StateUnwritable,
        _ => ErrorKind::Internal,
    };
    BackendError::new(kind, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_that_cannot_be_recorded_is_not_called_a_daemon_bug() {
        let full = TreeError::App(AppError::Store {
            app: "demo-web".into(),
            reason: "cannot write state/apps/demo-web.json: No space left on device".into(),
        });
        let error = backend_error(full);
        assert_eq!(error.kind, ErrorKind::StateUnwritable);
        assert!(error.message.contains("No space left on device"));
    }
}
