//! From the apps in effect and a fresh load to the next apps in effect:
//! what was added, changed, removed, and which errors are new. An app an
//! error is about keeps its last good version; a vanished app is only
//! reported (invariant: a removed manifest never uninstalls anything).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use archy_apps::Manifest;
use serde::{Deserialize, Serialize};

use super::load::{LoadError, Loaded};

/// What one reload changed, by app id in id order; `errors` lists every
/// problem the sources have now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub errors: Vec<String>,
}

/// Pushed to subscribers as the registry's view moves.
#[derive(Debug, Clone)]
pub enum RegistryEvent {
    /// An app was added or its manifest changed.
    Changed(Arc<Manifest>),
    /// An app's manifest is gone; if it is installed it is now an orphan.
    Removed(String),
    /// A source has a new problem; the app it is about keeps its last good version.
    Invalid { path: PathBuf, error: String },
}

pub(super) struct Applied {
    pub apps: BTreeMap<String, Arc<Manifest>>,
    pub report: ReloadReport,
    pub events: Vec<RegistryEvent>,
}

pub(super) fn apply(
    previous: &BTreeMap<String, Arc<Manifest>>,
    previous_errors: &[LoadError],
    loaded: &Loaded,
) -> Applied {
    let held = |m: &Manifest| loaded.errors.iter().any(|e| e.concerns(m));
    let mut apps: BTreeMap<String, Arc<Manifest>> = previous
        .values()
        .filter(|m| held(m))
        .map(|m| (m.id.clone(), Arc::clone(m)))
        .collect();
    for m in loaded.catalog.iter() {
        apps.entry(m.id.clone())
            .or_insert_with(|| Arc::new(m.clone()));
    }

    let mut report = ReloadReport::default();
    let mut events = Vec::new();
    for (id, m) in &apps {
        match previous.get(id) {
            None => report.added.push(id.clone()),
            Some(old) if old.content_hash() != m.content_hash() => report.changed.push(id.clone()),
            Some(_) => continue,
        }
        events.push(RegistryEvent::Changed(Arc::clone(m)));
    }
    for id in previous.keys().filter(|id| !apps.contains_key(*id)) {
        report.removed.push(id.clone());
        events.push(RegistryEvent::Removed(id.clone()));
    }
    for e in &loaded.errors {
        report.errors.push(e.message.clone());
        if !previous_errors.contains(e) {
            events.push(RegistryEvent::Invalid {
                path: e.path.clone(),
                error: e.message.clone(),
            });
        }
    }
    Applied {
        apps,
        report,
        events,
    }
}
