//! The supervision tree and the handle the daemon, the gateway and the tests
//! drive it through.
//!
//! ```text
//! root (one_for_one)
//! ├── registry: every manifest, hot-reloaded
//! ├── apps (one_for_one, dynamic): one App actor per installed app
//! ├── reconciler: one engine list per pass + the engine-event fast path
//! ├── health: probes running apps, reports transitions to their actors
//! └── companions (one_for_one, dynamic): one actor per app's UI companion
//! ```
//! The `apps` supervisor's start function reads the desired-state store and
//! asks the registry for the manifests, so
//! when it is restarted it respawns an actor for every installed app, and
//! each actor re-adopts its containers without touching them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use archy_apps::Manifest;
use archy_runtime::{InstanceScoped, Observed, Role, SharedRuntime};
use ractor::rpc::CallResult;
use ractor::{call_t, ActorCell, ActorRef};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{ask, AppActor, AppArgs, AppConfig, AppEnv, AppError, AppMsg, SeenAtBoot};
use crate::boot::{installed_in_tier_order, recover_desired, spawn_snapshot_writer, BootReport};
use crate::companions::{CompanionBoard, CompanionConfig, CompanionEnv};
use crate::health::{HealthActor, HealthArgs, ManifestLookup};
use crate::reconciler::actor::PassOutcome;
use crate::reconciler::{Reconciler, ReconcilerArgs, ReconcilerConfig, ReconcilerMsg, TierOf};
use crate::registry::{
    Registry, RegistryArgs, RegistryConfig, RegistryEvent, RegistryMsg, ReloadReport,
};
use crate::status::{AppStatus, StatusBoard};
use crate::store::{PidFile, StateDir, StoreError};
use crate::supervisor::{
    ChildSpec, Intensity, Restart, Shutdown, Strategy, Supervisor, SupervisorArgs, SupervisorError,
    SupervisorMsg,
};

/// How long a call into a supervisor may take before it is reported stuck.
const SUPERVISOR_CALL_MS: u64 = 10_000;

#[derive(Debug, Clone)]
pub struct TreeConfig {
    pub state_dir: PathBuf,
    /// Where manifests come from.
    pub registry: RegistryConfig,
    pub app: AppConfig,
    /// Restart budget of the root: past it the daemon exits non-zero.
    pub root_intensity: Intensity,
    /// Restart budget of the apps supervisor (app actors crashing).
    pub apps_intensity: Intensity,
    /// How often at most the recovery snapshot is rewritten.
    pub snapshot_every: Duration,
    /// The level-triggered pass and the engine-event fast path.
    pub reconciler: ReconcilerConfig,
    /// The companions' healing period and restart budget.
    pub companions: CompanionConfig,
}

impl TreeConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        TreeConfig {
            state_dir: state_dir.into(),
            registry: RegistryConfig {
                dirs: Vec::new(),
                signed: None,
                poll_every: Some(crate::registry::DEFAULT_POLL),
            },
            app: AppConfig::default(),
            root_intensity: Intensity {
                max_restarts: 3,
                period: Duration::from_secs(60),
            },
            apps_intensity: Intensity {
                max_restarts: 20,
                period: Duration::from_secs(60),
            },
            snapshot_every: Duration::from_secs(1),
            reconciler: ReconcilerConfig::default(),
            companions: CompanionConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("state directory: {0}")]
    Store(#[from] StoreError),
    #[error("supervision tree: {0}")]
    Supervisor(#[from] SupervisorError),
    #[error("{app} is not in the catalog; `archy registry list` shows what is")]
    UnknownApp { app: String },
    #[error("the apps supervisor is not answering: {0}")]
    Unresponsive(String),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("no actor at {path}; try app:<id>, apps, registry, reconciler or health")]
    NoSuchActor { path: String },
}

/// How the tree ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// `shutdown` was asked for.
    Clean,
    /// The root supervisor gave up: its restart budget was exceeded.
    Escalated,
}

/// The running tree. Cheap to share (`Arc<Archy>`).
pub struct Archy {
    root: ActorRef<SupervisorMsg>,
    /// Turns true when the root has stopped, for whatever reason.
    root_ended: watch::Receiver<bool>,
    env: AppEnv,
    companions: CompanionBoard,
    /// The registry's name, unique per tree (names are process-global).
    registry: String,
    state: StateDir,
    pid_file: Mutex<Option<PidFile>>,
    snapshot_task: JoinHandle<()>,
    boot: BootReport,
    shutting_down: AtomicBool,
}

/// Tells trees in one process apart (tests boot several).
static TREES: AtomicU64 = AtomicU64::new(1);

impl Archy {
    /// Boot: take the state dir, recover desired state, start the tree, and
    /// spawn an actor for every installed app (databases first).
    ///
    /// The tree sees `runtime` through an [`InstanceScoped`] view named by
    /// the state dir: another daemon's containers on the same engine are
    /// invisible to every part of it.
    pub async fn boot(config: TreeConfig, runtime: SharedRuntime) -> Result<Archy, TreeError> {
        let state = StateDir::open(&config.state_dir)?;
        let instance = state.instance()?;
        tracing::info!(%instance, "this daemon's containers carry archy.instance={instance}");
        let runtime: SharedRuntime = Arc::new(InstanceScoped::new(runtime, instance));
        let (pid_file, kind) = state.acquire_pid_file()?;
        let (boot, seen_at_boot) = recover_desired(&state, kind, &runtime).await?;
        tracing::info!(?boot, "recovered desired state");
        let board = StatusBoard::new();
        board.set_engine_reachable(boot.engine_reachable);
        let env = AppEnv::open(&state, runtime, board.clone(), config.app.clone())?;

        let registry = format!("registry-{}", TREES.fetch_add(1, Ordering::Relaxed));
        let registry_args = RegistryArgs::new(config.registry.clone(), board.clone());
        let manifests = ManifestCache::following(registry_args.subscribe());
        let reconciler = ReconcilerArgs {
            runtime: env.runtime.clone(),
            board: board.clone(),
            desired: state.desired(),
            tier_of: manifests.tier_of(),
            config: config.reconciler.clone(),
        };
        let health = HealthArgs {
            runtime: env.runtime.clone(),
            board: board.clone(),
            manifests: manifests.lookup(),
            catalog_changed: manifests.changes(),
        };
        let companions = CompanionEnv {
            app: env.clone(),
            manifests: manifests.lookup(),
            catalog_changed: manifests.changes(),
            board: CompanionBoard::new(),
            config: config.companions.clone(),
        };
        let companion_board = companions.board.clone();
        let root_args = SupervisorArgs {
            strategy: Strategy::OneForOne,
            intensity: config.root_intensity,
            children: vec![
                ChildSpec::actor(
                    REGISTRY,
                    "registry",
                    Some(registry.clone()),
                    Registry,
                    registry_args,
                ),
                apps_supervisor_spec(
                    env.clone(),
                    registry.clone(),
                    config.apps_intensity,
                    SeenAtBoot::new(seen_at_boot),
                ),
                ChildSpec::actor(RECONCILER, "reconciler", None, Reconciler, reconciler),
                ChildSpec::new(HEALTH, "health", move |parent: ActorCell| {
                    let args = health.clone();
                    async move {
                        let (actor, _) =
                            ractor::Actor::spawn_linked(None, HealthActor, args, parent).await?;
                        Ok(actor.get_cell())
                    }
                }),
                crate::companions::supervisor_spec(companions),
            ],
        };
        let (root, root_task) = Supervisor::start(None, root_args).await?;
        let (ended, root_ended) = watch::channel(false);
        tokio::spawn(async move {
            let _ = root_task.await;
            let _ = ended.send(true);
        });
        let snapshot_task = spawn_snapshot_writer(state.clone(), board, config.snapshot_every);
        Ok(Archy {
            root,
            root_ended,
            env,
            companions: companion_board,
            registry,
            state,
            pid_file: Mutex::new(Some(pid_file)),
            snapshot_task,
            boot,
            shutting_down: false.into(),
        })
    }

    pub fn board(&self) -> &StatusBoard {
        &self.env.board
    }

    /// The UI companions' statuses (`companions_of(app)`), apart from the apps'.
    pub fn companions(&self) -> &CompanionBoard {
        &self.companions
    }

    pub fn env(&self) -> &AppEnv {
        &self.env
    }

    pub fn boot_report(&self) -> &BootReport {
        &self.boot
    }

    pub fn root(&self) -> &ActorRef<SupervisorMsg> {
        &self.root
    }

    /// The registry as it is now (it may have been restarted).
    fn registry(&self) -> Result<ActorRef<RegistryMsg>, TreeError> {
        ActorRef::where_is(self.registry.clone())
            .ok_or_else(|| TreeError::Unresponsive("the registry is restarting".into()))
    }

    pub async fn manifest(&self, app: &str) -> Result<Option<Arc<Manifest>>, TreeError> {
        let registry = self.registry()?;
        call_t!(
            registry,
            |reply| RegistryMsg::Get(app.to_string(), reply),
            SUPERVISOR_CALL_MS
        )
        .map_err(|e| TreeError::Unresponsive(e.to_string()))
    }

    /// Every manifest, in id order.
    pub async fn manifests(&self) -> Result<Vec<Arc<Manifest>>, TreeError> {
        list_manifests(&self.registry).await
    }

    /// Run a reconcile pass now and wait for it (CLI, chaos suite, tests).
    pub async fn reconcile(&self) -> Result<PassOutcome, TreeError> {
        let children = call_t!(self.root, SupervisorMsg::WhichChildren, SUPERVISOR_CALL_MS)
            .map_err(|e| TreeError::Unresponsive(e.to_string()))?;
        let reconciler: ActorRef<ReconcilerMsg> = children
            .into_iter()
            .find(|c| c.id == RECONCILER)
            .and_then(|c| c.cell)
            .map(ActorRef::from)
            .ok_or_else(|| TreeError::Unresponsive("the reconciler is restarting".into()))?;
        Ok(Reconciler::reconcile(&reconciler).await)
    }

    /// Re-read every catalog now. A changed manifest reaches its app actor
    /// (which recreates on spec drift, keeping data); a removed one never
    /// uninstalls anything.
    pub async fn reload_catalog(&self) -> Result<ReloadReport, TreeError> {
        let registry = self.registry()?;
        call_t!(
            registry,
            |reply| RegistryMsg::Reload(Some(reply)),
            SUPERVISOR_CALL_MS
        )
        .map_err(|e| TreeError::Unresponsive(e.to_string()))
    }

    /// Every app's last-known status, without asking an actor or the engine.
    pub fn statuses(&self) -> Vec<AppStatus> {
        self.env.board.all()
    }

    /// The apps supervisor as it is now (it may have been restarted).
    pub async fn apps_supervisor(&self) -> Result<ActorRef<SupervisorMsg>, TreeError> {
        let children = call_t!(self.root, SupervisorMsg::WhichChildren, SUPERVISOR_CALL_MS)
            .map_err(|e| TreeError::Unresponsive(e.to_string()))?;
        children
            .into_iter()
            .find(|c| c.id == APPS)
            .and_then(|c| c.cell)
            .map(ActorRef::from)
            .ok_or_else(|| TreeError::Unresponsive("the apps supervisor is restarting".into()))
    }

    /// The app's actor, if it has one.
    pub fn app_actor(&self, app: &str) -> Option<ActorRef<AppMsg>> {
        ActorRef::where_is(AppActor::name(app))
    }

    /// The app's actor, spawned under the apps supervisor if it has none.
    async fn app_actor_or_spawn(&self, app: &str) -> Result<ActorRef<AppMsg>, TreeError> {
        if let Some(actor) = self.app_actor(app) {
            return Ok(actor);
        }
        let manifest = self
            .manifest(app)
            .await?
            .ok_or_else(|| TreeError::UnknownApp { app: app.into() })?;
        let spec = app_child_spec(AppArgs::new(manifest, self.env.clone()));
        let apps = self.apps_supervisor().await?;
        let start = |spec: ChildSpec| {
            let apps = apps.clone();
            async move {
                call_t!(
                    apps,
                    |reply| SupervisorMsg::StartChild { spec, reply },
                    SUPERVISOR_CALL_MS
                )
                .map_err(|e| TreeError::Unresponsive(e.to_string()))
            }
        };
        match start(spec.clone()).await? {
            Ok(cell) => return Ok(cell.into()),
            Err(SupervisorError::DuplicateChild { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        // Two requests raced to spawn it: use the one that won.
        if let Some(actor) = self.app_actor(app) {
            return Ok(actor);
        }
        // Its last actor ended normally after an uninstall, and the
        // supervisor keeps a transient child's spec (as OTP does): forget
        // that spec and start afresh.
        call_t!(
            apps,
            |reply| SupervisorMsg::TerminateChild {
                id: app.to_string(),
                reply
            },
            SUPERVISOR_CALL_MS
        )
        .map_err(|e| TreeError::Unresponsive(e.to_string()))??;
        Ok(start(spec).await??.into())
    }

    /// Kill one actor as a crash would (no `post_stop`), so its supervisor
    /// restarts it: `app:<id>`, or a root child (`apps`, `registry`,
    /// `reconciler`, `health`). For the chaos suite (`debug.kill_actor`).
    pub async fn kill_actor(&self, path: &str) -> Result<(), TreeError> {
        let no_such_actor = || TreeError::NoSuchActor { path: path.into() };
        let cell = match path.strip_prefix("app:") {
            Some(app) => self.app_actor(app).map(|actor| actor.get_cell()),
            None => call_t!(self.root, SupervisorMsg::WhichChildren, SUPERVISOR_CALL_MS)
                .map_err(|e| TreeError::Unresponsive(e.to_string()))?
                .into_iter()
                .find(|child| child.id == path)
                .and_then(|child| child.cell),
        };
        cell.ok_or_else(no_such_actor)?.kill();
        Ok(())
    }

    /// Send a lifecycle request; with `wait`, return when it has finished,
    /// else once it is accepted (the user's word persisted, or refused).
    pub async fn request(&self, app: &str, op: Request, wait: bool) -> Result<(), TreeError> {
        let actor = match op {
            // A plain uninstall ends the actor but keeps the data: a later
            // purge needs an actor again to delete it.
            Request::Install | Request::Uninstall { purge: true } => {
                self.app_actor_or_spawn(app).await?
            }
            _ => self
                .app_actor(app)
                .ok_or_else(|| AppError::NotInstalled { app: app.into() })?,
        };
        let message = move |reply| match op {
            Request::Install => AppMsg::Install { reply },
            Request::Start => AppMsg::Start { reply },
            Request::Stop => AppMsg::Stop { reply },
            Request::Restart => AppMsg::Restart { reply },
            Request::Uninstall { purge } => AppMsg::Uninstall { purge, reply },
        };
        if wait {
            ask(&actor, app, message).await?;
            return Ok(());
        }
        // Not the end, but the acceptance: a word that could not be
        // recorded is refused here, not lost.
        let accept = |reply| AppMsg::Accept { request: op, reply };
        let unreachable = |reason: String| AppError::Unreachable {
            app: app.into(),
            reason,
        };
        match actor
            .call(accept, Some(Duration::from_millis(SUPERVISOR_CALL_MS)))
            .await
        {
            Ok(CallResult::Success(accepted)) => Ok(accepted?),
            Ok(other) => Err(unreachable(format!("{other:?}")).into()),
            Err(e) => Err(unreachable(e.to_string()).into()),
        }
    }

    /// Wait until the tree ends: `Clean` after [`Archy::shutdown`], or
    /// `Escalated` when the root gave up. Cancel-safe: it may be raced
    /// against a signal and called again.
    pub async fn wait(&self) -> Exit {
        let _ = self.root_ended.clone().wait_for(|ended| *ended).await;
        if self.shutting_down.load(Ordering::SeqCst) {
            Exit::Clean
        } else {
            Exit::Escalated
        }
    }

    /// End everything at once, as `kill -9` would: no ordered stop, no final
    /// snapshot, the pid file left behind (the next boot is unclean). For
    /// crash-recovery tests and the chaos suite.
    pub async fn abort(&self) {
        self.snapshot_task.abort();
        self.root.kill();
        let _ = self.root_ended.clone().wait_for(|ended| *ended).await;
        // Forget the pid file without removing it, as a killed process would.
        let pid_file = self
            .pid_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        std::mem::forget(pid_file);
    }

    /// Stop the tree in reverse start order. Containers keep running: the
    /// next boot adopts them. Releases the pid file, so the next boot is
    /// clean.
    pub async fn shutdown(&self) {
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.root.stop(Some("shutdown".into()));
        self.wait().await;
        self.snapshot_task.abort();
        if let Err(e) = self
            .state
            .save_snapshot(&crate::boot::snapshot_of(&self.env.board))
        {
            tracing::warn!(error = %e, "could not write the final snapshot");
        }
        let pid_file = self
            .pid_file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(pid_file) = pid_file {
            if let Err(e) = pid_file.release() {
                tracing::warn!(error = %e, "could not remove the pid file; the next boot will look unclean");
            }
        }
    }
}

/// A lifecycle request from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Install,
    Start,
    Stop,
    Restart,
    Uninstall { purge: bool },
}

const APPS: &str = "apps";
const REGISTRY: &str = "registry";
const HEALTH: &str = "health";
const RECONCILER: &str = "reconciler";

/// Manifests by id, kept current from the registry's events, for readers
/// that cannot wait on the registry (the health monitor's lookups).
#[derive(Clone)]
struct ManifestCache {
    apps: Arc<std::sync::RwLock<BTreeMap<String, Arc<Manifest>>>>,
    /// Bumped after each applied event, for readers that react to changes.
    changed: watch::Sender<u64>,
}

impl ManifestCache {
    fn following(mut events: tokio::sync::broadcast::Receiver<RegistryEvent>) -> Self {
        let cache = ManifestCache {
            apps: Default::default(),
            changed: watch::channel(0).0,
        };
        let apps = cache.apps.clone();
        let changed = cache.changed.clone();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "manifest cache fell behind the registry");
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                let mut apps = apps.write().unwrap_or_else(PoisonError::into_inner);
                match event {
                    RegistryEvent::Changed(manifest) => {
                        apps.insert(manifest.id.clone(), manifest);
                    }
                    RegistryEvent::Removed(id) => {
                        apps.remove(&id);
                    }
                    RegistryEvent::Invalid { .. } => {}
                }
                drop(apps);
                changed.send_modify(|version| *version += 1);
            }
        });
        cache
    }

    fn tier_of(&self) -> TierOf {
        let lookup = self.lookup();
        Arc::new(move |id: &str| lookup(id).map(|m| m.tier).unwrap_or_default())
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn lookup(&self) -> ManifestLookup {
        let apps = self.apps.clone();
        Arc::new(move |id: &str| {
            apps.read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(id)
                .cloned()
        })
    }
}

/// How long a restarting app actor waits for its killed predecessor.
const PREVIOUS_INCARNATION_WAIT: Duration = Duration::from_secs(5);

/// The apps supervisor: on every (re)start it spawns an actor per installed
/// app, databases first. Its first start also hands each actor what the
/// boot's list showed of its containers; a restarted one has nothing to hand.
fn apps_supervisor_spec(
    env: AppEnv,
    registry: String,
    intensity: Intensity,
    seen_at_boot: SeenAtBoot,
) -> ChildSpec {
    ChildSpec::new(APPS, "supervisor", move |parent: ActorCell| {
        let env = env.clone();
        let registry = registry.clone();
        let seen_at_boot = seen_at_boot.take();
        async move {
            let children = installed_app_specs(&env, &registry, seen_at_boot).await;
            let args = SupervisorArgs {
                strategy: Strategy::OneForOne,
                intensity,
                children,
            };
            let (sup, _) = ractor::Actor::spawn_linked(None, Supervisor, args, parent).await?;
            Ok(sup.get_cell())
        }
    })
    .shutdown(Shutdown::Infinity)
}

async fn list_manifests(registry: &str) -> Result<Vec<Arc<Manifest>>, TreeError> {
    let registry: ActorRef<RegistryMsg> = ActorRef::where_is(registry)
        .ok_or_else(|| TreeError::Unresponsive("the registry is restarting".into()))?;
    call_t!(registry, RegistryMsg::List, SUPERVISOR_CALL_MS)
        .map_err(|e| TreeError::Unresponsive(e.to_string()))
}

async fn installed_app_specs(
    env: &AppEnv,
    registry: &str,
    seen_at_boot: Vec<Observed>,
) -> Vec<ChildSpec> {
    let manifests: BTreeMap<String, Arc<Manifest>> = match list_manifests(registry).await {
        Ok(list) => list.into_iter().map(|m| (m.id.clone(), m)).collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the catalog; starting no app actor");
            return Vec::new();
        }
    };
    let installed =
        match installed_in_tier_order(&env.desired, |id| manifests.get(id).map(|m| m.tier)) {
            Ok(apps) => apps,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the installed apps; starting none");
                return Vec::new();
            }
        };
    let mut seen_by_app: BTreeMap<String, Vec<Observed>> = BTreeMap::new();
    for seen in seen_at_boot.into_iter().filter(|o| o.role == Role::App) {
        seen_by_app.entry(seen.app.clone()).or_default().push(seen);
    }
    installed
        .into_iter()
        .filter_map(|desired| match manifests.get(&desired.app_id) {
            Some(manifest) => Some(app_child_spec(AppArgs {
                seen_at_boot: SeenAtBoot::new(
                    seen_by_app.remove(&desired.app_id).unwrap_or_default(),
                ),
                ..AppArgs::new(manifest.clone(), env.clone())
            })),
            None => {
                tracing::warn!(app = %desired.app_id, "installed app has no manifest in the catalog; left alone");
                None
            }
        })
        .collect()
}

/// An app actor under the apps supervisor: restarted when it crashes, not
/// when it stops itself after an uninstall.
pub fn app_child_spec(args: AppArgs) -> ChildSpec {
    let id = args.manifest.id.clone();
    ChildSpec::new(id, "app", move |parent: ActorCell| {
        let args = args.clone();
        async move {
            // When a supervisor is killed, its children die asynchronously;
            // a fresh incarnation must not race the old one for its name.
            if let Some(previous) = ractor::registry::where_is(AppActor::name(&args.manifest.id)) {
                let _ = previous.wait(Some(PREVIOUS_INCARNATION_WAIT)).await;
            }
            let (actor, _) = AppActor::spawn_linked(args, parent).await?;
            Ok(actor.get_cell())
        }
    })
    .restart(Restart::Transient)
}
