//! Podman adapter (to be written).
