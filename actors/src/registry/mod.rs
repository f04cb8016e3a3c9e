//! The registry: every app manifest Archy knows, from the catalog
//! directories and an optional signed catalog, kept current by a cheap
//! poll or an explicit reload. Changes reach running app actors as
//! `AppMsg::UpdateManifest`; a removed manifest only makes an installed app
//! an orphan; a broken manifest is reported while its last good version
//! stays in effect.

mod actor;
mod diff;
mod load;
pub mod signing;

use std::path::PathBuf;
use std::time::Duration;

pub use actor::{Registry, RegistryArgs, RegistryMsg, RegistryState};
pub use diff::{RegistryEvent, ReloadReport};
pub use load::{
    fingerprint, load, read_signed, Fingerprint, LoadError, Loaded, SignedCatalogError,
};
pub use signing::{
    parse_public_key, parse_secret_key, public_key_text, sign_catalog, signature_path,
    verify_catalog, KeyError, SignatureError, SigningKey, VerifyingKey,
};

/// How often the registry looks for edited files when not told otherwise.
pub const DEFAULT_POLL: Duration = Duration::from_secs(3);

/// Where the registry reads manifests from.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Catalog directories of `<id>/manifest.yml`, in order: an id already
    /// defined by an earlier directory is refused (and reported) later.
    pub dirs: Vec<PathBuf>,
    /// A signed catalog; its apps win over disk apps with the same id.
    pub signed: Option<SignedCatalogConfig>,
    /// How often to compare the files' (path, mtime, size); `None` reloads
    /// only on `RegistryMsg::Reload`.
    pub poll_every: Option<Duration>,
}

/// One file holding a YAML (or JSON) list of full manifests, signed by
/// `<file>.sig` (docs/catalog-signing.md).
#[derive(Debug, Clone)]
pub struct SignedCatalogConfig {
    pub file: PathBuf,
    pub public_key: VerifyingKey,
}
