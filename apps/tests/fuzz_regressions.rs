//! The `manifest` fuzz target's property (fuzz/, docs/fuzzing.md), checked on
//! its seeds in every `cargo test`: an accepted manifest, written back as
//! YAML, is accepted again and reads to the same manifest. The fuzzer found
//! no input breaking it; inputs it ever finds are added here.

use std::path::{Path, PathBuf};

use archy_apps::Manifest;

fn seed_manifests() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<PathBuf> = ["catalog", "demo"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|entry| entry.unwrap().path().join("manifest.yml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_catalog_and_demo_manifest_survives_the_yaml_round_trip() {
    let paths = seed_manifests();
    assert!(paths.len() >= 10, "the seeds were not found: {paths:?}");
    for path in paths {
        let src = std::fs::read_to_string(&path).unwrap();
        let manifest = Manifest::from_yaml_str(&src, &path).unwrap();
        let written = serde_yaml::to_string(&manifest).unwrap();
        let reread = Manifest::from_yaml_str(&written, &path).unwrap_or_else(|e| {
            panic!("{}: written back, refused: {e}\n{written}", path.display())
        });
        assert_eq!(
            reread,
            manifest,
            "{}: changed by the round trip",
            path.display()
        );
    }
}
