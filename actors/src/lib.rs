//! The supervision tree.

pub mod store;
pub mod supervisor;
