//! What the gateway needs from the daemon, and the plain data it gets back.
//!
//! The gateway never sees actors or engines: the daemon implements [`Backend`]
//! over its actor tree and maps its state into these DTOs. Reads are answered
//! from the actors' cached state, so they never wait behind an operation.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// The operations behind every JSON-RPC method.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Every known app with its cached status, plus whether the engine answered
    /// the last time it was asked. Never a live engine call.
    async fn list(&self) -> Result<ContainerList, BackendError>;

    /// Health of one app, or of every app when `app` is `None`.
    async fn health(&self, app: Option<&str>) -> Result<Vec<AppHealth>, BackendError>;

    /// Queue a lifecycle operation and return at once; progress arrives as events.
    async fn submit(&self, operation: Operation) -> Result<Accepted, BackendError>;

    /// The last `tail` lines of the app's main container log.
    async fn logs(&self, app: &str, tail: usize) -> Result<Vec<String>, BackendError>;

    /// Journal entries, oldest first, for one app or all, with `seq > since`.
    async fn events(
        &self,
        app: Option<&str>,
        since: Option<u64>,
    ) -> Result<Vec<Event>, BackendError>;

    /// The app's manifest as JSON, secrets already redacted.
    async fn manifest(&self, app: &str) -> Result<serde_json::Value, BackendError>;

    /// Every app the catalog offers.
    async fn registry(&self) -> Result<Vec<CatalogEntry>, BackendError>;

    /// Re-read the catalog and report what changed.
    async fn reload_registry(&self) -> Result<ReloadSummary, BackendError>;

    /// Version, engine, uptime and the actor tree.
    async fn system_info(&self) -> Result<SystemInfo, BackendError>;

    /// A live feed of every journal entry from now on.
    fn subscribe(&self) -> broadcast::Receiver<Event>;

    /// `debug.kill_actor`: kill one actor of the tree (`app:<id>`, `apps`,
    /// `registry`, `reconciler`, `health`) so the chaos suite can watch it
    /// recover. `None` when debug methods are off, which is the default.
    async fn kill_actor(&self, _path: &str) -> Option<Result<(), BackendError>> {
        None
    }
}

/// Why a backend call failed, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: String,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// The failure classes a client can tell apart (each maps to one JSON-RPC code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No such app (or catalog entry).
    NotFound,
    /// Another operation on this app is running and this one cannot join it.
    Busy,
    /// The manifest failed validation.
    InvalidManifest,
    /// A dependency the app needs is stopped (the user's word wins).
    DependencyStopped,
    /// The container engine does not answer.
    EngineUnavailable,
    /// The app is in a state that forbids the operation (e.g. install twice).
    Conflict,
    /// Archy could not record the request in its state directory (disk
    /// full, read-only): nothing was done.
    StateUnwritable,
    /// A bug or an unexpected failure inside the daemon.
    Internal,
}

/// `container.list`: the cached view of every app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerList {
    pub engine_reachable: bool,
    pub apps: Vec<AppStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppStatus {
    pub id: String,
    pub name: String,
    pub state: AppState,
    pub health: Health,
    pub ports: Vec<PortMapping>,
    pub companions: Vec<CompanionStatus>,
    /// The user stopped it; nothing starts it again but the user.
    pub user_stopped: bool,
    /// Why the app entered its current state.
    pub last_reason: Option<String>,
    /// Container restarts counted by the restart tracker.
    pub restart_count: u32,
}

/// The app state machine's states (see ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppState {
    Absent,
    Installing,
    Starting,
    Running,
    Unhealthy,
    Restarting,
    Stopping,
    Stopped,
    Uninstalling,
    /// Waiting on a dependency that is missing or that the user stopped.
    Blocked,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No probe result yet, or the app has no probe.
    Unknown,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host: u16,
    pub container: u16,
    /// "tcp" or "udp".
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanionStatus {
    pub name: String,
    pub state: AppState,
    pub health: Health,
}

/// `container.health`: the latest probe outcome of one app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppHealth {
    pub id: String,
    pub health: Health,
    /// When the last probe ran (Unix milliseconds).
    pub checked_at_unix_ms: Option<u64>,
    /// The last probe's failure, if any.
    pub detail: Option<String>,
}

/// A lifecycle operation a client asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    Install {
        app: String,
    },
    Start {
        app: String,
    },
    Stop {
        app: String,
    },
    Restart {
        app: String,
    },
    /// Keeps the app's data unless `purge` (invariant 3).
    Uninstall {
        app: String,
        purge: bool,
    },
}

impl Operation {
    pub fn app(&self) -> &str {
        match self {
            Self::Install { app }
            | Self::Start { app }
            | Self::Stop { app }
            | Self::Restart { app }
            | Self::Uninstall { app, .. } => app,
        }
    }

    pub fn kind(&self) -> OperationKind {
        match self {
            Self::Install { .. } => OperationKind::Install,
            Self::Start { .. } => OperationKind::Start,
            Self::Stop { .. } => OperationKind::Stop,
            Self::Restart { .. } => OperationKind::Restart,
            Self::Uninstall { .. } => OperationKind::Uninstall,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Install,
    Start,
    Stop,
    Restart,
    Uninstall,
}

/// The answer to a lifecycle request: queued (or joined), not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub op_id: String,
    pub app: String,
    pub op: OperationKind,
}

/// One journal entry. A state transition carries `transition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Increases by one per entry; clients resume with `since`.
    pub seq: u64,
    pub at_unix_ms: u64,
    /// `None` for daemon-wide entries (engine lost, catalog reloaded…).
    pub app: Option<String>,
    pub transition: Option<Transition>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: AppState,
    pub to: AppState,
}

/// `registry.list`: one catalog app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub installed: bool,
}

/// `registry.reload`: what the new catalog changed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReloadSummary {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Manifests that failed validation and were skipped.
    pub rejected: Vec<RejectedManifest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedManifest {
    pub source: String,
    pub reason: String,
}

/// `system.info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub version: String,
    pub engine: EngineInfo,
    pub uptime_secs: u64,
    pub actors: ActorNode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub reachable: bool,
    /// Where the daemon talks to the engine (socket path or URL).
    pub endpoint: String,
    /// The engine's reported version, when reachable.
    pub version: Option<String>,
}

/// One actor of the supervision tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorNode {
    pub name: String,
    pub kind: String,
    pub restarts: u32,
    pub children: Vec<ActorNode>,
}
