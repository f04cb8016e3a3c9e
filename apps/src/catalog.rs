//! A set of manifests and the rules that span apps: unique ids, unique host
//! ports (unless the apps conflict anyway), dependencies that resolve, and
//! cross-app secrets that the dependency really declares.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::template::{self, SecretRef};
use crate::{load_manifest, Manifest, ManifestError, Violation};

/// Valid manifests by id; iteration is in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    apps: BTreeMap<String, Manifest>,
}

/// What loading a directory produced: the good apps, and why each bad one was left out.
#[derive(Debug, Default)]
pub struct CatalogLoad {
    pub catalog: Catalog,
    pub errors: Vec<ManifestError>,
}

impl Catalog {
    /// Loads `<dir>/<id>/manifest.yml` for every subdirectory, in name order.
    /// A bad file, or an app that breaks a catalog-wide rule, is reported and
    /// left out; the others are kept.
    pub fn load_dir(dir: &Path) -> CatalogLoad {
        let mut load = CatalogLoad::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(source) => {
                load.errors.push(ManifestError::Read {
                    path: dir.to_path_buf(),
                    source,
                });
                return load;
            }
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && !is_hidden(p))
            .collect();
        dirs.sort();
        let mut manifests = Vec::new();
        for app_dir in dirs {
            let path = app_dir.join("manifest.yml");
            match load_manifest(&path).and_then(|m| named_after_dir(m, &app_dir)) {
                Ok(m) => manifests.push(m),
                Err(e) => load.errors.push(e),
            }
        }
        load.errors.extend(load.catalog.admit(manifests));
        load
    }

    pub fn get(&self, id: &str) -> Option<&Manifest> {
        self.apps.get(id)
    }

    /// Apps in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Manifest> {
        self.apps.values()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.apps.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.apps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }

    /// The apps a `depends_on` id can be satisfied by (the app with that id,
    /// or every app that `provides` it), in id order.
    pub fn providers(&self, name: &str) -> Vec<&Manifest> {
        self.apps.values().filter(|m| m.answers_to(name)).collect()
    }

    /// The apps with a `depends_on` entry that `id`'s app answers to, in id order.
    pub fn dependents(&self, id: &str) -> Vec<&Manifest> {
        let Some(app) = self.apps.get(id) else {
            return Vec::new();
        };
        self.apps
            .values()
            .filter(|m| m.depends_on.iter().any(|d| app.answers_to(&d.id)))
            .collect()
    }

    /// Adds one app if it keeps every catalog-wide rule.
    pub fn insert(&mut self, manifest: Manifest) -> Result<(), ManifestError> {
        match self.admit(vec![manifest]).pop() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Adds `other`'s apps; those breaking a rule against this catalog are
    /// left out and reported.
    pub fn merge(&mut self, other: Catalog) -> Vec<ManifestError> {
        self.admit(other.apps.into_values().collect())
    }

    pub fn remove(&mut self, id: &str) -> Option<Manifest> {
        self.apps.remove(id)
    }

    /// Admits `incoming` in order: an app clashing (id, host port) with one
    /// already here or admitted before it is refused; then apps whose
    /// dependencies do not resolve are refused until none are left. The
    /// refused apps are reported; the others are added.
    pub fn admit(&mut self, incoming: Vec<Manifest>) -> Vec<ManifestError> {
        let mut errors = Vec::new();
        let mut accepted: Vec<Manifest> = Vec::new();
        for m in incoming {
            let violations = clashes(&m, self.apps.values().chain(&accepted));
            if violations.is_empty() {
                accepted.push(m);
            } else {
                errors.push(invalid(&m, violations));
            }
        }
        loop {
            let found = accepted.iter().enumerate().find_map(|(i, m)| {
                let violations = unresolved(m, self.apps.values().chain(&accepted));
                (!violations.is_empty()).then_some((i, violations))
            });
            let Some((i, violations)) = found else { break };
            let m = accepted.remove(i);
            errors.push(invalid(&m, violations));
        }
        self.apps
            .extend(accepted.into_iter().map(|m| (m.id.clone(), m)));
        errors
    }
}

/// Validates each file on its own and then against `known` plus the other
/// files (an app in `known` with the same id is replaced, so an edited
/// catalog manifest does not clash with its old self). Results are in the
/// order of `paths`; this is what `archy app validate <files…>` reports.
pub fn validate_files(paths: &[PathBuf], known: &Catalog) -> Vec<Result<Manifest, ManifestError>> {
    let mut results: Vec<Result<Manifest, ManifestError>> =
        paths.iter().map(|p| load_manifest(p)).collect();
    let mut catalog = known.clone();
    for m in results.iter().flatten() {
        catalog.remove(&m.id);
    }
    let good: Vec<Manifest> = results.iter().flatten().cloned().collect();
    for e in catalog.admit(good) {
        // From the end: when a file is given twice, the later copy is the one refused.
        if let Some(slot) = results
            .iter_mut()
            .rev()
            .find(|r| r.as_ref().is_ok_and(|m| m.origin == e.path()))
        {
            *slot = Err(e);
        }
    }
    results
}

/// `.git` and other dot-directories are not apps.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn named_after_dir(m: Manifest, dir: &Path) -> Result<Manifest, ManifestError> {
    let dir_name = dir.file_name().unwrap_or_default().to_string_lossy();
    if m.id == dir_name {
        return Ok(m);
    }
    let problem = format!("`{}` differs from its directory name `{dir_name}`; a catalog keeps each app in `<id>/manifest.yml`", m.id);
    Err(invalid(&m, vec![Violation::new("id", problem)]))
}

fn invalid(m: &Manifest, violations: Vec<Violation>) -> ManifestError {
    ManifestError::Invalid {
        path: m.origin.clone(),
        violations,
    }
}

/// Same id, or the same host port, as an app already admitted.
fn clashes<'a>(m: &Manifest, others: impl Iterator<Item = &'a Manifest>) -> Vec<Violation> {
    let mut v = Vec::new();
    for other in others {
        if other.id == m.id {
            v.push(Violation::new(
                "id",
                format!(
                    "`{}` is already defined by {}",
                    m.id,
                    other.origin.display()
                ),
            ));
            continue;
        }
        if m.conflicts(other) {
            continue; // never installed together, so they may share ports
        }
        for (at, port) in m.host_ports() {
            let taken = other
                .host_ports()
                .into_iter()
                .any(|(_, p)| p.host == port.host && p.protocol == port.protocol);
            if taken {
                v.push(Violation::new(
                    format!("{at}.host"),
                    format!(
                        "host port {}/{} is already used by app `{}`; choose another, or list each other in `conflicts_with` if the two are never installed together",
                        port.host,
                        port.protocol.as_str(),
                        other.id
                    ),
                ));
            }
        }
    }
    v
}

/// Dependencies that nothing in the catalog answers to or that lead back to
/// the app, and cross-app secret references that a provider does not declare.
fn unresolved<'a>(
    m: &Manifest,
    catalog: impl Iterator<Item = &'a Manifest> + Clone,
) -> Vec<Violation> {
    let mut v = Vec::new();
    for (i, d) in m.depends_on.iter().enumerate() {
        if !catalog.clone().any(|other| other.answers_to(&d.id)) {
            v.push(Violation::new(
                format!("depends_on[{i}].id"),
                format!(
                    "`{}` is neither an app id nor a `provides` name in the catalog",
                    d.id
                ),
            ));
        }
    }
    for (i, d) in m.depends_on.iter().enumerate() {
        if let Some(path) = path_back(m, &d.id, catalog.clone()) {
            v.push(Violation::new(
                format!("depends_on[{i}].id"),
                format!(
                    "dependency cycle {}; dependencies must allow a start order",
                    path.join(" → ")
                ),
            ));
        }
    }
    for (at, text) in secret_texts(m) {
        for r in template::secret_refs(text) {
            let SecretRef::App { app, name } = r else {
                continue;
            };
            for provider in catalog.clone().filter(|o| o.answers_to(app)) {
                if !provider.generated_secrets.iter().any(|s| s.name == name) {
                    v.push(Violation::new(
                        &at,
                        format!("{r}: app `{}` declares no secret `{name}`", provider.id),
                    ));
                }
            }
        }
    }
    v
}

/// A dependency path from `m` through `first` back to `m`, if there is one.
fn path_back<'a>(
    m: &Manifest,
    first: &str,
    catalog: impl Iterator<Item = &'a Manifest> + Clone,
) -> Option<Vec<String>> {
    let mut seen = HashSet::new();
    let mut todo = vec![(first.to_string(), vec![m.id.clone()])];
    while let Some((name, path)) = todo.pop() {
        for next in catalog.clone().filter(|o| o.answers_to(&name)) {
            let mut path = path.clone();
            path.push(next.id.clone());
            if next.id == m.id {
                return Some(path);
            }
            if seen.insert(next.id.as_str()) {
                todo.extend(next.depends_on.iter().map(|d| (d.id.clone(), path.clone())));
            }
        }
    }
    None
}

/// Every text that may hold secret placeholders, with its field path.
fn secret_texts(m: &Manifest) -> Vec<(String, &str)> {
    let files = m
        .derived_files
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("derived_files[{i}].template"), f.template.as_str()));
    let containers = m.containers().flat_map(|(at, c)| {
        c.env
            .iter()
            .map(move |(k, val)| (format!("{at}.env.{k}"), val.as_str()))
    });
    let companions = m.companions.iter().enumerate().flat_map(|(i, c)| {
        c.env
            .iter()
            .map(move |(k, val)| (format!("companions[{i}].env.{k}"), val.as_str()))
    });
    files.chain(containers).chain(companions).collect()
}
