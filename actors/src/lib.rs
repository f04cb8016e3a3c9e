//! The supervision tree.
