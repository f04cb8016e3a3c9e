//! UI companions: small containers beside an app (its web UI), declared in
//! the manifest's `companions`. A companion exists while its app is
//! installed and follows the app's desired state — running while the app
//! is wanted running, stopped when the user stopped it, removed (data never
//! touched) when it is uninstalled — and heals on its own cadence. It never
//! starts its app, and its app's status never derives from it.
//!
//! ```text
//! companions (one_for_one, dynamic)
//! ├── watcher: one Companion actor per (installed app, companion)
//! └── <app>/<companion>: converges its container every period
//! ```
//! Their statuses live on the [`CompanionBoard`], apart from the apps'.

mod actor;
mod board;
mod pass;
mod render;
mod watcher;

pub use actor::{CompanionActor, CompanionArgs, CompanionMsg};
pub use board::{CompanionBoard, CompanionState, CompanionStatus, CompanionWaitTimeout};
pub use pass::{wish, Action, CompanionError, Pass, Wish};
pub use render::{container_name, render, CompanionSpec, STOP_GRACE};
pub use watcher::{CompanionWatcher, WatcherArgs, WatcherMsg};

use std::time::Duration;

use ractor::{ActorCell, ActorRef};
use tokio::sync::watch;

use crate::app::AppEnv;
use crate::health::ManifestLookup;
use crate::supervisor::{
    ChildSpec, Intensity, Restart, Shutdown, Strategy, Supervisor, SupervisorArgs,
};

/// The companion supervisor's id under the root.
pub const SUPERVISOR: &str = "companions";
const WATCHER: &str = "watcher";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionConfig {
    /// How often each companion is converged (and the watcher rescans): a
    /// deleted or crashed companion is back within one period.
    pub period: Duration,
    /// Restart budget of the companion supervisor.
    pub intensity: Intensity,
}

impl Default for CompanionConfig {
    fn default() -> Self {
        CompanionConfig {
            period: Duration::from_secs(30),
            intensity: Intensity {
                max_restarts: 20,
                period: Duration::from_secs(60),
            },
        }
    }
}

/// What every companion actor shares. Cheap to clone.
#[derive(Clone)]
pub struct CompanionEnv {
    /// The engine, the apps' board, desired state, secrets, network.
    pub app: AppEnv,
    pub manifests: ManifestLookup,
    /// Bumped whenever the catalog the lookup answers from changes.
    pub catalog_changed: watch::Receiver<u64>,
    pub board: CompanionBoard,
    pub config: CompanionConfig,
}

/// The companion supervisor, a root child: on every (re)start its watcher
/// respawns a Companion actor per installed app's companion, and each
/// adopts its running container untouched.
pub fn supervisor_spec(env: CompanionEnv) -> ChildSpec {
    ChildSpec::new(SUPERVISOR, "supervisor", move |parent: ActorCell| {
        let env = env.clone();
        async move {
            let args = SupervisorArgs {
                strategy: Strategy::OneForOne,
                intensity: env.config.intensity,
                children: vec![watcher_spec(env)],
            };
            let (sup, _) = ractor::Actor::spawn_linked(None, Supervisor, args, parent).await?;
            Ok(sup.get_cell())
        }
    })
    .shutdown(Shutdown::Infinity)
}

fn watcher_spec(env: CompanionEnv) -> ChildSpec {
    ChildSpec::new(
        WATCHER,
        "companion-watcher",
        move |supervisor: ActorCell| {
            let args = WatcherArgs {
                env: env.clone(),
                supervisor: ActorRef::from(supervisor.clone()),
            };
            async move {
                let (watcher, _) =
                    ractor::Actor::spawn_linked(None, CompanionWatcher, args, supervisor).await?;
                Ok(watcher.get_cell())
            }
        },
    )
}

/// A Companion actor: restarted when it crashes, not when it stops itself
/// after its app's uninstall.
fn companion_spec(env: CompanionEnv, app: &str, name: &str) -> ChildSpec {
    let args = CompanionArgs {
        env,
        app: app.to_string(),
        name: name.to_string(),
    };
    ChildSpec::new(
        format!("{app}/{name}"),
        "companion",
        move |supervisor: ActorCell| {
            let args = args.clone();
            async move {
                let (actor, _) =
                    ractor::Actor::spawn_linked(None, CompanionActor, args, supervisor).await?;
                Ok(actor.get_cell())
            }
        },
    )
    .restart(Restart::Transient)
}
