//! The manifest parser + validator on arbitrary input.
//!
//! Properties: `Manifest::from_yaml_str` never panics, whatever the bytes;
//! and a manifest it accepts, written back as YAML, is accepted again and
//! parses to the same manifest (what the store writes, the daemon can read).
#![no_main]

use std::path::Path;

use archy_apps::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Lossy, so no input is wasted: the parser only ever sees text.
    let src = String::from_utf8_lossy(data);
    let origin = Path::new("/fuzz/app/manifest.yml");
    let Ok(manifest) = Manifest::from_yaml_str(&src, origin) else {
        return;
    };
    let written = serde_yaml::to_string(&manifest).expect("an accepted manifest serializes");
    let reread = Manifest::from_yaml_str(&written, origin).unwrap_or_else(|e| {
        panic!("an accepted manifest, written back, is refused: {e}\n{written}")
    });
    assert_eq!(
        reread, manifest,
        "the YAML round trip changed the manifest:\n{written}"
    );
});
