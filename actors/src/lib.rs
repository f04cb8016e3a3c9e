//! The supervision tree.

pub mod app;
pub mod reconciler;
pub mod secrets;
pub mod status;
pub mod store;
pub mod supervisor;
