//! The supervision tree.

pub mod store;
