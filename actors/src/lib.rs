//! The supervision tree.

pub mod app;
pub mod status;
