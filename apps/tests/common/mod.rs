//! Helpers shared by the integration tests: small manifests built from text.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use archy_apps::{Manifest, ManifestError};

/// A single-container app with `top` lines at the top level and `container`
/// lines (indented two spaces) under `container:`.
pub fn single(id: &str, top: &str, container: &str) -> String {
    format!(
        "id: {id}\nname: App {id}\nversion: \"1.0\"\n{top}\ncontainer:\n  image: docker.io/library/busybox:1.36\n{container}\n"
    )
}

pub fn parse(yaml: &str) -> Result<Manifest, ManifestError> {
    Manifest::from_yaml_str(yaml, Path::new("/virtual/app/manifest.yml"))
}

/// Asserts `yaml` is refused with a violation at `field` whose text contains `needle`.
pub fn assert_refused(yaml: &str, field: &str, needle: &str) {
    let err = parse(yaml).expect_err("the manifest should be refused");
    assert!(
        err.violations()
            .iter()
            .any(|v| v.field == field && v.problem.contains(needle)),
        "expected a violation at `{field}` mentioning `{needle}`, got: {err}"
    );
}

/// Writes `<dir>/<id>/manifest.yml` and returns its path.
pub fn write_app(dir: &Path, id: &str, yaml: &str) -> PathBuf {
    let app_dir = dir.join(id);
    std::fs::create_dir_all(&app_dir).unwrap();
    let path = app_dir.join("manifest.yml");
    std::fs::write(&path, yaml).unwrap();
    path
}
