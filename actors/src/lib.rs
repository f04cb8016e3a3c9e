//! The supervision tree.

pub mod app;
pub mod boot;
pub mod companions;
pub mod health;
pub mod hooks;
pub mod reconciler;
pub mod registry;
pub mod secrets;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod tree;
