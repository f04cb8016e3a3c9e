//! One actor per installed app: its state machine, its operations and the
//! containers they render.

pub mod render;
pub mod state;

pub use state::{allowed, AppState, InstallPhase, OpKind, StateKind};
