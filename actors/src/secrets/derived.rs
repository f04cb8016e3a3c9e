//! Derived config files: each manifest `derived_files` entry rendered from
//! its template into the app's data directory. Written before the first
//! start and checked again on every reconcile pass, so an edited or deleted
//! file converges back to what the manifest says.

use std::fs;
use std::path::{Component, Path, PathBuf};

use archy_apps::{template, DerivedFile, Manifest};

use super::{fill, repair_mode, SecretSource};
use crate::store::{write_atomic_with_mode, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DerivedError {
    #[error("app {app}, derived file {path}: {source}")]
    MissingSecret {
        app: String,
        path: String,
        #[source]
        source: template::MissingSecret,
    },
    #[error("app {app}: derived file path {path} must stay inside the app's data directory")]
    OutsideData { app: String, path: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one pass over an app's derived files did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DerivedOutcome {
    /// Files whose content was (re)written: new, edited or deleted.
    pub rewritten: Vec<PathBuf>,
    /// Whether one of them asks for the app to be restarted.
    pub restart: bool,
}

/// Render every derived file of `manifest` under `data_root`
/// (`<state>/data/<app>`), rewriting those whose content differs and
/// repairing their mode. Unchanged files are not touched.
pub fn write_derived_files(
    manifest: &Manifest,
    data_root: &Path,
    secrets: &dyn SecretSource,
) -> Result<DerivedOutcome, DerivedError> {
    let mut outcome = DerivedOutcome::default();
    for file in &manifest.derived_files {
        let path = data_root.join(relative(manifest, file)?);
        let content = fill(&manifest.id, &file.template, secrets).map_err(|source| {
            DerivedError::MissingSecret {
                app: manifest.id.clone(),
                path: file.path.clone(),
                source,
            }
        })?;
        let mode = file.mode_bits();
        let current = fs::read(&path).ok();
        if current.as_deref() == Some(content.expose().as_bytes()) {
            repair_mode(&path, mode)?;
            continue;
        }
        write_atomic_with_mode(&path, content.expose().as_bytes(), mode)?;
        tracing::info!(
            app = %manifest.id,
            file = %file.path,
            was = if current.is_some() { "changed" } else { "missing" },
            "derived file written"
        );
        outcome.rewritten.push(path);
        outcome.restart |= file.restart_on_change;
    }
    Ok(outcome)
}

/// The file's path, refused if it would leave the data directory.
fn relative<'a>(manifest: &Manifest, file: &'a DerivedFile) -> Result<&'a Path, DerivedError> {
    let path = Path::new(&file.path);
    if path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        Ok(path)
    } else {
        Err(DerivedError::OutsideData {
            app: manifest.id.clone(),
            path: file.path.clone(),
        })
    }
}
