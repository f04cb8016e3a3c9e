//! Shared set-up for the app actor tests: a mock engine, a state directory,
//! the board, and helpers to spawn and drive app actors.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use archy_actors::app::{ask, AppActor, AppArgs, AppConfig, AppEnv, AppError, AppMsg, AppState};
use archy_actors::status::{AppStatus, StatusBoard};
use archy_actors::store::StateDir;
use archy_apps::Manifest;
use archy_runtime::mock::MockRuntime;
use archy_runtime::{ContainerRuntime, EngineEventKind};
use futures::StreamExt;
use ractor::ActorRef;
use tempfile::TempDir;

/// Long enough for any test's operations on paused time; a hang fails.
pub const DEADLINE: Duration = Duration::from_secs(3600);

pub struct Harness {
    pub mock: MockRuntime,
    pub env: AppEnv,
    pub board: StatusBoard,
    pub state_dir: StateDir,
    _dir: TempDir,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(AppConfig::default())
    }

    pub fn with_config(config: AppConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = StateDir::open(dir.path().join("state")).unwrap();
        let mock = MockRuntime::new();
        let board = StatusBoard::new();
        let env = AppEnv::open(&state_dir, Arc::new(mock.clone()), board.clone(), config).unwrap();
        Harness {
            mock,
            env,
            board,
            state_dir,
            _dir: dir,
        }
    }

    pub fn args(&self, manifest: &Manifest) -> AppArgs {
        AppArgs::new(Arc::new(manifest.clone()), self.env.clone())
    }

    pub async fn spawn(&self, manifest: &Manifest) -> ActorRef<AppMsg> {
        AppActor::spawn(self.args(manifest)).await.unwrap().0
    }

    /// Spawn an actor and install the app, expecting success.
    pub async fn installed(&self, manifest: &Manifest) -> ActorRef<AppMsg> {
        let actor = self.spawn(manifest).await;
        install(&actor, &manifest.id).await.unwrap();
        actor
    }

    pub fn state(&self, app: &str) -> Option<AppState> {
        self.board.get(app).map(|s| s.state)
    }

    /// Spawn an actor and wait until it has adopted what it found (its
    /// first answer comes after `post_start`).
    pub async fn respawn(&self, manifest: &Manifest) -> ActorRef<AppMsg> {
        let actor = self.spawn(manifest).await;
        status(&actor).await;
        actor
    }

    /// Wait (on the board's signal) until the app rests in a state that
    /// `ready` accepts, with no operation in flight.
    pub async fn until(&self, app: &str, ready: impl Fn(&AppState) -> bool) -> AppStatus {
        let settled = |s: &AppStatus| s.operation.is_none() && ready(&s.state);
        self.board
            .wait_for(app, |s| s.is_some_and(settled), DEADLINE)
            .await
            .unwrap()
            .unwrap()
    }
}

/// Forward the mock engine's die events to the app actors, as the
/// reconciler's event watcher does in the daemon.
pub async fn forward_deaths(mock: &MockRuntime) -> tokio::task::JoinHandle<()> {
    let mut events = mock.events().await.unwrap();
    tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            let (EngineEventKind::Die { exit_code }, Some(app)) = (event.kind, &event.app) else {
                continue;
            };
            if let Some(actor) = ActorRef::<AppMsg>::where_is(AppActor::name(app)) {
                let container = event.container.clone();
                let _ = actor.cast(AppMsg::Died {
                    container,
                    exit_code,
                });
            }
        }
    })
}

pub async fn install(actor: &ActorRef<AppMsg>, app: &str) -> Result<(), AppError> {
    ask(actor, app, |reply| AppMsg::Install { reply }).await
}

pub async fn start(actor: &ActorRef<AppMsg>, app: &str) -> Result<(), AppError> {
    ask(actor, app, |reply| AppMsg::Start { reply }).await
}

pub async fn stop(actor: &ActorRef<AppMsg>, app: &str) -> Result<(), AppError> {
    ask(actor, app, |reply| AppMsg::Stop { reply }).await
}

pub async fn uninstall(actor: &ActorRef<AppMsg>, app: &str, purge: bool) -> Result<(), AppError> {
    ask(actor, app, |reply| AppMsg::Uninstall { purge, reply }).await
}

pub async fn status(actor: &ActorRef<AppMsg>) -> AppStatus {
    ractor::call!(actor, AppMsg::Status).unwrap()
}

pub fn manifest(yaml: &str) -> Manifest {
    Manifest::from_yaml_str(yaml, Path::new("/catalog/test/manifest.yml")).unwrap()
}

/// The image every [`single`] app uses.
pub fn image_of(app: &str) -> String {
    format!("docker.io/library/{app}:1")
}

/// A single-container app whose image the mock already has.
pub fn single(h: &Harness, app: &str) -> Manifest {
    h.mock.add_image(&image_of(app));
    manifest(&format!(
        "id: {app}\nname: {app}\nversion: \"1\"\ncontainer:\n  image: {}\n",
        image_of(app)
    ))
}
