//! The supervision tree.

pub mod supervisor;
