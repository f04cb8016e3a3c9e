//! The app model: manifest schema, validation and catalog loading
//! (reference: docs/manifest.md).
//!
//! A [`Manifest`] only comes out of [`Manifest::from_yaml_str`] or
//! [`load_manifest`] once every per-file rule holds; a [`Catalog`] then adds
//! the rules that span apps (unique ids and host ports, dependencies that
//! resolve, cross-app secrets that exist).

mod catalog;
pub mod defaults;
mod error;
mod manifest;
pub mod template;
mod validate;

pub use catalog::{validate_files, Catalog, CatalogLoad};
pub use error::{ManifestError, Violation};
pub use manifest::{
    load_manifest, Backoff, Build, Companion, Condition, Container, Dependency, DerivedFile,
    ExecProbe, GeneratedSecret, Health, Hook, Hooks, HttpProbe, ImageSource, Manifest, MemberView,
    Port, Probe, Protocol, RestartPolicy, SecretKind, TcpProbe, Tier, Volume, VolumeSource,
};
