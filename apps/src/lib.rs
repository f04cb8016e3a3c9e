//! The app model (see docs/manifest.md).
