//! One actor per installed app: its state machine, its operations and the
//! containers they render.

pub mod env;
pub mod ops;
pub mod render;
pub mod state;

pub use env::{AppConfig, AppEnv};
pub use state::{allowed, AppState, InstallPhase, OpKind, StateKind};
