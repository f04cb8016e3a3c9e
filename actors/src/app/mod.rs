//! One actor per installed app: its state machine, its operations and the
//! containers they render.

pub mod actor;
pub mod env;
pub mod ops;
pub mod render;
pub mod state;
pub(crate) mod task;

pub use actor::{ask, AppActor, AppActorState, AppArgs, AppError, AppMsg, Reply, SeenAtBoot};
pub use env::{AppConfig, AppEnv, NetworkOnce};
pub use state::{allowed, AppState, InstallPhase, OpKind, StateKind};
