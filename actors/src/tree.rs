//! The supervision tree and the handle the daemon, the gateway and the tests
//! drive it through.
//!
//! ```text
//! root (one_for_one)
//! └── apps (one_for_one, dynamic): one App actor per installed app
//! ```
//! The `apps` supervisor's start function reads the desired-state store, so
//! when it is restarted it respawns an actor for every installed app, and
//! each actor re-adopts its containers without touching them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use archy_apps::{Catalog, Manifest};
use archy_runtime::SharedRuntime;
use ractor::{call_t, ActorCell, ActorRef};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{ask, AppActor, AppArgs, AppConfig, AppEnv, AppError, AppMsg};
use crate::boot::{installed_in_tier_order, recover_desired, spawn_snapshot_writer, BootReport};
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
    /// Catalog directories, re-read by [`Archy::reload_catalog`].
    pub catalog_dirs: Vec<PathBuf>,
    pub app: AppConfig,
    /// Restart budget of the root: past it the daemon exits non-zero.
    pub root_intensity: Intensity,
    /// Restart budget of the apps supervisor (app actors crashing).
    pub apps_intensity: Intensity,
    /// How often at most the recovery snapshot is rewritten.
    pub snapshot_every: Duration,
}

impl TreeConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        TreeConfig {
            state_dir: state_dir.into(),
            catalog_dirs: Vec::new(),
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
    catalog: Arc<RwLock<Catalog>>,
    state: StateDir,
    catalog_dirs: Vec<PathBuf>,
    pid_file: Mutex<Option<PidFile>>,
    snapshot_task: JoinHandle<()>,
    boot: BootReport,
    shutting_down: std::sync::atomic::AtomicBool,
}

impl Archy {
    /// Boot: take the state dir, recover desired state, start the tree, and
    /// spawn an actor for every installed app (databases first).
    pub async fn boot(
        config: TreeConfig,
        runtime: SharedRuntime,
        catalog: Catalog,
    ) -> Result<Archy, TreeError> {
        let state = StateDir::open(&config.state_dir)?;
        let (pid_file, kind) = state.acquire_pid_file()?;
        let boot = recover_desired(&state, kind, &runtime, &catalog).await?;
        tracing::info!(?boot, "recovered desired state");
        let board = StatusBoard::new();
        board.set_engine_reachable(boot.engine_reachable);
        let env = AppEnv::open(&state, runtime, board.clone(), config.app.clone())?;
        let catalog = Arc::new(RwLock::new(catalog));

        let apps = apps_supervisor_spec(env.clone(), catalog.clone(), config.apps_intensity);
        let root_args = SupervisorArgs {
            strategy: Strategy::OneForOne,
            intensity: config.root_intensity,
            children: vec![apps],
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
            catalog,
            state,
            catalog_dirs: config.catalog_dirs.clone(),
            pid_file: Mutex::new(Some(pid_file)),
            snapshot_task,
            boot,
            shutting_down: false.into(),
        })
    }

    pub fn board(&self) -> &StatusBoard {
        &self.env.board
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

    pub fn manifest(&self, app: &str) -> Option<Arc<Manifest>> {
        self.catalog().get(app).cloned().map(Arc::new)
    }

    /// The catalog as it is now.
    pub fn catalog(&self) -> Catalog {
        self.catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-read the catalog directories. A changed manifest reaches its app
    /// actor (which recreates on spec drift, keeping data); a removed one
    /// never uninstalls anything.
    pub fn reload_catalog(&self) -> CatalogReload {
        let mut fresh = Catalog::default();
        let mut errors = Vec::new();
        for dir in &self.catalog_dirs {
            let load = Catalog::load_dir(dir);
            errors.extend(load.errors);
            errors.extend(fresh.merge(load.catalog));
        }
        let old = std::mem::replace(
            &mut *self.catalog.write().unwrap_or_else(PoisonError::into_inner),
            fresh.clone(),
        );
        let mut report = CatalogReload {
            errors,
            ..Default::default()
        };
        for m in fresh.iter() {
            match old.get(&m.id) {
                None => report.added.push(m.id.clone()),
                Some(before) if before.content_hash() != m.content_hash() => {
                    report.changed.push(m.id.clone());
                    if let Some(actor) = self.app_actor(&m.id) {
                        let _ = actor.cast(AppMsg::UpdateManifest(Arc::new(m.clone())));
                    }
                }
                Some(_) => {}
            }
        }
        report.removed = old
            .ids()
            .filter(|id| fresh.get(id).is_none())
            .map(String::from)
            .collect();
        for id in &report.removed {
            if self.app_actor(id).is_some() {
                tracing::warn!(app = %id, "manifest removed from the catalog; the installed app is kept (orphaned)");
            }
        }
        report
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
            .ok_or_else(|| TreeError::UnknownApp { app: app.into() })?;
        let spec = app_child_spec(AppArgs {
            manifest,
            env: self.env.clone(),
        });
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

    /// Send a lifecycle request; with `wait`, return when it has finished.
    pub async fn request(&self, app: &str, op: Request, wait: bool) -> Result<(), TreeError> {
        let actor = match op {
            Request::Install => self.app_actor_or_spawn(app).await?,
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
        } else {
            actor
                .cast(message(None))
                .map_err(|e| AppError::Unreachable {
                    app: app.into(),
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// Wait until the tree ends: `Clean` after [`Archy::shutdown`], or
    /// `Escalated` when the root gave up. Cancel-safe: it may be raced
    /// against a signal and called again.
    pub async fn wait(&self) -> Exit {
        let _ = self.root_ended.clone().wait_for(|ended| *ended).await;
        if self.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
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

/// What a catalog reload changed.
#[derive(Debug, Default)]
pub struct CatalogReload {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub errors: Vec<archy_apps::ManifestError>,
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

/// How long a restarting app actor waits for its killed predecessor.
const PREVIOUS_INCARNATION_WAIT: Duration = Duration::from_secs(5);

/// The apps supervisor: on every (re)start it spawns an actor per installed
/// app, databases first.
fn apps_supervisor_spec(
    env: AppEnv,
    catalog: Arc<RwLock<Catalog>>,
    intensity: Intensity,
) -> ChildSpec {
    ChildSpec::new(APPS, "supervisor", move |parent: ActorCell| {
        let env = env.clone();
        let catalog = catalog.clone();
        async move {
            let children = installed_app_specs(&env, &catalog);
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

fn installed_app_specs(env: &AppEnv, catalog: &RwLock<Catalog>) -> Vec<ChildSpec> {
    let catalog = catalog.read().unwrap_or_else(PoisonError::into_inner);
    let installed = match installed_in_tier_order(&env.desired, &catalog) {
        Ok(apps) => apps,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the installed apps; starting none");
            return Vec::new();
        }
    };
    installed
        .into_iter()
        .filter_map(|desired| match catalog.get(&desired.app_id) {
            Some(manifest) => Some(app_child_spec(AppArgs {
                manifest: Arc::new(manifest.clone()),
                env: env.clone(),
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
