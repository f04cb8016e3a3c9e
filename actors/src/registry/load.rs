//! Reading every source into one catalog: the catalog directories, then the
//! optional signed catalog, whose apps replace disk apps with the same id.
//! Also the cheap fingerprint the poll compares to notice edits.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use archy_apps::{Catalog, Manifest, ManifestError, Violation};

use super::signing::{signature_path, verify_catalog, SignatureError};
use super::{RegistryConfig, SignedCatalogConfig};

/// One problem found while loading, kept for reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file or directory it is about; apps read from under it keep
    /// their last good version.
    pub path: PathBuf,
    /// The app it is about, when known; that app keeps its last good version.
    pub app: Option<String>,
    /// What is wrong, naming the file (and the field).
    pub message: String,
}

impl LoadError {
    /// Whether this error hides `manifest`'s app (so its last good version stays).
    pub fn concerns(&self, manifest: &Manifest) -> bool {
        self.app.as_deref() == Some(manifest.id.as_str()) || manifest.origin.starts_with(&self.path)
    }
}

/// Why a signed catalog was rejected as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SignedCatalogError {
    #[error("{}: cannot read the signed catalog: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: rejected whole: cannot read its signature {}: {source}; sign it as docs/catalog-signing.md shows", path.display(), signature.display())]
    NoSignature {
        path: PathBuf,
        signature: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: rejected whole: {source}", path.display())]
    BadSignature {
        path: PathBuf,
        #[source]
        source: SignatureError,
    },
    #[error("{}: rejected whole: not a YAML or JSON list of manifests: {message}", path.display())]
    NotAList { path: PathBuf, message: String },
}

/// Every source, read once.
#[derive(Debug, Default)]
pub struct Loaded {
    pub catalog: Catalog,
    pub errors: Vec<LoadError>,
}

/// Reads the catalog directories in order (an id defined twice is refused
/// the second time), then the signed catalog.
pub fn load(config: &RegistryConfig) -> Loaded {
    let mut loaded = Loaded::default();
    for dir in &config.dirs {
        let load = Catalog::load_dir(dir);
        let refused = loaded.catalog.merge(load.catalog);
        let errors = load.errors.iter().chain(&refused);
        loaded.errors.extend(errors.map(disk_error));
    }
    if let Some(signed) = &config.signed {
        match read_signed(signed) {
            Ok(entries) => admit_signed(&mut loaded, entries),
            Err(e) => loaded.errors.push(LoadError {
                path: signed.file.clone(),
                app: None,
                message: e.to_string(),
            }),
        }
    }
    loaded
}

/// The signed apps replace disk apps of the same id, then are admitted as
/// one set (they may depend on each other and on disk apps).
fn admit_signed(loaded: &mut Loaded, entries: Vec<Result<Manifest, ManifestError>>) {
    let mut manifests = Vec::new();
    for entry in entries {
        match entry {
            Ok(m) => manifests.push(m),
            Err(e) => loaded.errors.push(signed_error(&e)),
        }
    }
    for m in &manifests {
        loaded.catalog.remove(&m.id);
    }
    let refused = loaded.catalog.admit(manifests);
    loaded.errors.extend(refused.iter().map(signed_error));
}

/// Verifies the signature over the file's exact bytes before parsing any of it.
pub fn read_signed(
    config: &SignedCatalogConfig,
) -> Result<Vec<Result<Manifest, ManifestError>>, SignedCatalogError> {
    let path = &config.file;
    let bytes = std::fs::read(path).map_err(|source| SignedCatalogError::Read {
        path: path.clone(),
        source,
    })?;
    let signature_file = signature_path(path);
    let signature = std::fs::read_to_string(&signature_file).map_err(|source| {
        SignedCatalogError::NoSignature {
            path: path.clone(),
            signature: signature_file,
            source,
        }
    })?;
    verify_catalog(&bytes, &signature, &config.public_key).map_err(|source| {
        SignedCatalogError::BadSignature {
            path: path.clone(),
            source,
        }
    })?;
    let entries: Vec<serde_yaml::Value> =
        serde_yaml::from_slice(&bytes).map_err(|e| SignedCatalogError::NotAList {
            path: path.clone(),
            message: e.to_string(),
        })?;
    Ok(entries
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let origin = entry_origin(path, i, &value);
            signed_manifest(value, &origin)
        })
        .collect())
}

/// A signed app has no file of its own: it is named `<catalog>/<id>`, so
/// errors point into the catalog and a rejected catalog covers its apps.
fn entry_origin(catalog: &Path, index: usize, value: &serde_yaml::Value) -> PathBuf {
    match value.get("id").and_then(|id| id.as_str()) {
        Some(id) if !id.is_empty() => catalog.join(id),
        _ => catalog.join(format!("[{index}]")),
    }
}

/// One entry: the schema, then no `build` (the signature covers the
/// catalog's bytes, not a build context on disk), then every manifest rule.
fn signed_manifest(value: serde_yaml::Value, origin: &Path) -> Result<Manifest, ManifestError> {
    let parse_error = |e: serde_yaml::Error| ManifestError::Parse {
        path: origin.to_path_buf(),
        message: e.to_string(),
    };
    let manifest: Manifest = serde_yaml::from_value(value.clone()).map_err(parse_error)?;
    let builds = built_containers(&manifest);
    if !builds.is_empty() {
        return Err(ManifestError::Invalid {
            path: origin.to_path_buf(),
            violations: builds,
        });
    }
    let text = serde_yaml::to_string(&value).map_err(parse_error)?;
    Manifest::from_yaml_str(&text, origin)
}

fn built_containers(m: &Manifest) -> Vec<Violation> {
    let single = m
        .container
        .iter()
        .map(|c| ("container".to_string(), &c.build));
    let stack = m.stack.iter().flatten().enumerate();
    let stack = stack.map(|(i, c)| (format!("stack[{i}]"), &c.build));
    let companions = m.companions.iter().enumerate();
    let companions = companions.map(|(i, c)| (format!("companions[{i}]"), &c.build));
    single
        .chain(stack)
        .chain(companions)
        .filter(|(_, build)| build.is_some())
        .map(|(at, _)| {
            Violation::new(
                format!("{at}.build"),
                "a signed catalog cannot build images: its signature does not cover a build context; use `image:`, or keep this app in a catalog directory",
            )
        })
        .collect()
}

/// A disk error names `<dir>/<id>/manifest.yml`: the app is its directory.
fn disk_error(e: &ManifestError) -> LoadError {
    let path = e.path();
    let app = (path.file_name() == Some("manifest.yml".as_ref()))
        .then(|| path.parent()?.file_name())
        .flatten()
        .map(|id| id.to_string_lossy().into_owned());
    LoadError {
        path: path.to_path_buf(),
        app,
        message: e.to_string(),
    }
}

/// A signed entry's error names `<catalog>/<id>`.
fn signed_error(e: &ManifestError) -> LoadError {
    LoadError {
        path: e.path().to_path_buf(),
        app: e
            .path()
            .file_name()
            .map(|id| id.to_string_lossy().into_owned()),
        message: e.to_string(),
    }
}

/// (path, mtime, size) of every file a load reads: equal fingerprints mean
/// nothing worth reloading changed (an edit within the filesystem's mtime
/// granularity that keeps the size needs an explicit reload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, Option<(SystemTime, u64)>)>);

pub fn fingerprint(config: &RegistryConfig) -> Fingerprint {
    let mut stamps = Vec::new();
    for dir in &config.dirs {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let mut apps: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect();
                apps.sort();
                stamps.extend(apps.iter().map(|app| stamp(&app.join("manifest.yml"))));
            }
            Err(_) => stamps.push((dir.clone(), None)),
        }
    }
    if let Some(signed) = &config.signed {
        stamps.push(stamp(&signed.file));
        stamps.push(stamp(&signature_path(&signed.file)));
    }
    Fingerprint(stamps)
}

fn stamp(path: &Path) -> (PathBuf, Option<(SystemTime, u64)>) {
    let meta = std::fs::metadata(path).ok();
    let stamp = meta.and_then(|m| Some((m.modified().ok()?, m.len())));
    (path.to_path_buf(), stamp)
}
