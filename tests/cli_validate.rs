//! `archy app validate`: exit codes and messages a person can act on.

use std::path::{Path, PathBuf};
use std::process::Command;

fn archy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_archy"))
}

fn manifests(catalog: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(catalog);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().join("manifest.yml"))
        .filter(|p| p.exists())
        .collect();
    files.sort();
    files
}

/// Writes `<tmp>/catalog/<id>/manifest.yml` and returns its path.
fn write_manifest(tmp: &Path, id: &str, body: &str) -> PathBuf {
    let dir = tmp.join("catalog").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("manifest.yml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn every_catalog_and_demo_manifest_is_valid() {
    let files: Vec<PathBuf> = [manifests("apps/catalog"), manifests("apps/demo")].concat();
    assert!(
        files.len() >= 15,
        "expected the whole fleet, found {files:?}"
    );
    let out = archy()
        .arg("app")
        .arg("validate")
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("{} manifest(s) valid", files.len())));
}

#[test]
fn privileged_manifest_is_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_manifest(
        tmp.path(),
        "rooty",
        "id: rooty\nname: Rooty\nversion: '1'\ndescription: wants root\ncontainer:\n  image: localhost/x:1\n  privileged: true\n",
    );
    let out = archy()
        .args(["app", "validate"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("container.privileged"), "stderr: {stderr}");
    assert!(
        stderr.contains(&file.display().to_string()),
        "stderr: {stderr}"
    );
}

#[test]
fn host_path_outside_the_data_root_is_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_manifest(
        tmp.path(),
        "snoop",
        "id: snoop\nname: Snoop\nversion: '1'\ndescription: reads /etc\ncontainer:\n  image: localhost/x:1\n  volumes:\n    - { host: /etc, target: /host-etc }\n",
    );
    let out = archy()
        .args(["app", "validate"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("container.volumes[0].host"),
        "stderr: {stderr}"
    );
}

#[test]
fn one_bad_file_fails_the_run_but_the_good_ones_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let good = write_manifest(
        tmp.path(),
        "fine",
        "id: fine\nname: Fine\nversion: '1'\ndescription: ok\ncontainer:\n  image: localhost/x:1\n",
    );
    let bad = write_manifest(tmp.path(), "broken", "id: broken\nname: [unclosed\n");
    let out = archy()
        .args(["app", "validate"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok      "));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 manifest(s) invalid"));
}
