//! Catalog-wide rules and the directory loader.

mod common;

use std::path::{Path, PathBuf};

use archy_apps::{load_manifest, validate_files, Catalog};
use common::{single, write_app};

fn crate_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(sub)
}

/// Loads a shipped directory, failing with every error if there is any.
fn load_clean(sub: &str) -> Catalog {
    let load = Catalog::load_dir(&crate_dir(sub));
    let errors: Vec<_> = load.errors.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    load.catalog
}

/// The app directory an error is about.
fn app_of(e: &archy_apps::ManifestError) -> String {
    let dir = e.path().parent().unwrap();
    dir.file_name().unwrap().to_string_lossy().to_string()
}

fn fields_of(errors: &[archy_apps::ManifestError]) -> Vec<(String, String)> {
    errors
        .iter()
        .flat_map(|e| {
            let app = app_of(e);
            e.violations()
                .iter()
                .map(move |v| (app.clone(), v.field.clone()))
        })
        .collect()
}

#[test]
fn shipped_catalog_loads_without_errors() {
    let catalog = load_clean("catalog");
    let ids: Vec<_> = catalog.ids().collect();
    assert_eq!(
        ids,
        vec![
            "bitcoin-core",
            "bitcoin-knots",
            "btcpay-server",
            "electrumx",
            "fedimint",
            "filebrowser",
            "immich",
            "lnd",
            "mempool"
        ]
    );
    let providers: Vec<_> = catalog
        .providers("bitcoin")
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(providers, vec!["bitcoin-core", "bitcoin-knots"]);
    let btcpay: Vec<_> = catalog
        .get("btcpay-server")
        .unwrap()
        .members()
        .iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(btcpay, vec!["postgres", "nbxplorer", "server"]);
}

#[test]
fn shipped_demos_load_without_errors() {
    let catalog = load_clean("demo");
    let ids: Vec<_> = catalog.ids().collect();
    assert_eq!(
        ids,
        vec![
            "demo-api",
            "demo-crash",
            "demo-db",
            "demo-stack",
            "demo-stubborn",
            "demo-web"
        ]
    );
    let stubborn = catalog.get("demo-stubborn").unwrap();
    assert_eq!(stubborn.members()[0].stop_grace.as_secs(), 3);
}

#[test]
fn catalog_and_demos_merge_without_clashes() {
    let mut catalog = load_clean("catalog");
    let errors = catalog.merge(load_clean("demo"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(catalog.len(), 15);
}

#[test]
fn loader_keeps_good_files_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path(), "good", &single("good", "", ""));
    write_app(dir.path(), "broken-yaml", "id: [unclosed\n");
    write_app(
        dir.path(),
        "privileged",
        &single("privileged", "", "  privileged: true"),
    );
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("stray-file.yml"), "not a directory").unwrap();

    let load = Catalog::load_dir(dir.path());
    assert_eq!(load.catalog.ids().collect::<Vec<_>>(), vec!["good"]);
    let mut reported: Vec<_> = load.errors.iter().map(app_of).collect();
    reported.sort();
    assert_eq!(reported, vec!["broken-yaml", "empty", "privileged"]);
}

#[test]
fn directory_name_must_be_the_id() {
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path(), "folder", &single("other", "", ""));
    let load = Catalog::load_dir(dir.path());
    assert!(load.catalog.is_empty());
    assert_eq!(
        fields_of(&load.errors),
        vec![("folder".into(), "id".into())]
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_app(dir.path(), "one", &single("same", "", ""));
    let second = write_app(dir.path(), "two", &single("same", "", "  cmd: [other]"));
    let results = validate_files(&[first, second], &Catalog::default());
    assert!(results[0].is_ok());
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.violations()[0].field, "id");
    assert!(
        err.violations()[0].problem.contains("already defined by"),
        "{err}"
    );
}

#[test]
fn duplicate_host_ports_across_apps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "alpha",
        &single("alpha", "", "  ports:\n    - { container: 80, host: 9000 }"),
    );
    write_app(
        dir.path(),
        "beta",
        &single(
            "beta",
            "",
            "  ports:\n    - { container: 81, host: 9000, host_ip: 0.0.0.0 }",
        ),
    );
    write_app(
        dir.path(),
        "gamma",
        &single(
            "gamma",
            "",
            "  ports:\n    - { container: 80, host: 9000, protocol: udp }",
        ),
    );
    let load = Catalog::load_dir(dir.path());
    assert_eq!(
        load.catalog.ids().collect::<Vec<_>>(),
        vec!["alpha", "gamma"]
    );
    assert_eq!(
        fields_of(&load.errors),
        vec![("beta".into(), "container.ports[0].host".into())]
    );
    assert!(load.errors[0]
        .to_string()
        .contains("already used by app `alpha`"));
}

#[test]
fn conflicting_apps_may_share_host_ports() {
    let dir = tempfile::tempdir().unwrap();
    let ports = "  ports:\n    - { container: 8333, host: 8333 }";
    write_app(
        dir.path(),
        "node-a",
        &single("node-a", "conflicts_with: [node-b]", ports),
    );
    write_app(dir.path(), "node-b", &single("node-b", "", ports));
    let load = Catalog::load_dir(dir.path());
    assert!(load.errors.is_empty(), "{:?}", load.errors);
    assert_eq!(load.catalog.len(), 2);
}

#[test]
fn dependencies_must_resolve_to_an_id_or_a_provided_name() {
    let dir = tempfile::tempdir().unwrap();
    write_app(dir.path(), "node", &single("node", "provides: [chain]", ""));
    write_app(
        dir.path(),
        "wallet",
        &single(
            "wallet",
            "depends_on:\n  - { id: chain, condition: healthy }",
            "",
        ),
    );
    write_app(
        dir.path(),
        "orphan",
        &single("orphan", "depends_on:\n  - { id: missing }", ""),
    );
    write_app(
        dir.path(),
        "needs-orphan",
        &single("needs-orphan", "depends_on:\n  - { id: orphan }", ""),
    );
    let load = Catalog::load_dir(dir.path());
    assert_eq!(
        load.catalog.ids().collect::<Vec<_>>(),
        vec!["node", "wallet"]
    );
    let mut reported = fields_of(&load.errors);
    reported.sort();
    assert_eq!(
        reported,
        vec![
            ("needs-orphan".into(), "depends_on[0].id".into()),
            ("orphan".into(), "depends_on[0].id".into())
        ]
    );
}

#[test]
fn cross_app_secrets_must_be_declared_by_the_dependency() {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "node",
        &single(
            "node",
            "provides: [chain]\ngenerated_secrets:\n  - { name: rpc, kind: hex }",
            "",
        ),
    );
    let uses = |id: &str, secret: &str| {
        single(
            id,
            "depends_on:\n  - { id: chain }",
            &format!("  env:\n    RPC: ${{app:chain:secret:{secret}}}"),
        )
    };
    write_app(dir.path(), "good", &uses("good", "rpc"));
    write_app(dir.path(), "bad", &uses("bad", "nope"));
    let load = Catalog::load_dir(dir.path());
    assert_eq!(load.catalog.ids().collect::<Vec<_>>(), vec!["good", "node"]);
    assert_eq!(
        fields_of(&load.errors),
        vec![("bad".into(), "container.env.RPC".into())]
    );
}

#[test]
fn insert_and_merge_apply_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let app = |id: &str, top: &str, container: &str| {
        load_manifest(&write_app(dir.path(), id, &single(id, top, container))).unwrap()
    };
    let port = "  ports:\n    - { container: 1, host: 9100 }";
    let needs_a = "depends_on:\n  - { id: a }";

    let mut catalog = Catalog::default();
    catalog.insert(app("a", "", port)).unwrap();
    assert!(catalog.insert(app("a", "", "")).is_err(), "same id twice");
    assert!(
        Catalog::default().insert(app("c", needs_a, "")).is_err(),
        "unknown dependency"
    );

    let mut incoming = Catalog::default();
    incoming.insert(app("b", "", port)).unwrap();
    incoming.insert(app("d", "", "")).unwrap();
    let errors = catalog.merge(incoming);
    assert_eq!(
        fields_of(&errors),
        vec![("b".into(), "container.ports[0].host".into())]
    );
    catalog.insert(app("c", needs_a, "")).unwrap();
    assert_eq!(catalog.ids().collect::<Vec<_>>(), vec!["a", "c", "d"]);
}

#[test]
fn validate_files_checks_against_the_known_catalog_and_replaces_same_ids() {
    let known = Catalog::load_dir(&crate_dir("catalog")).catalog;
    let dir = tempfile::tempdir().unwrap();
    // An edited lnd: same id as the catalog's, so it replaces it rather than clashing.
    let lnd_src = std::fs::read_to_string(crate_dir("catalog/lnd/manifest.yml")).unwrap();
    let lnd = write_app(
        dir.path(),
        "lnd",
        &lnd_src.replace(
            "../../../companions",
            &crate_dir("../companions").display().to_string(),
        ),
    );
    let thief = write_app(
        dir.path(),
        "thief",
        &single("thief", "", "  ports:\n    - { container: 1, host: 8333 }"),
    );
    let lonely = write_app(
        dir.path(),
        "lonely",
        &single("lonely", "depends_on:\n  - { id: bitcoin }", ""),
    );
    let results = validate_files(&[lnd, thief, lonely], &known);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(results[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("host port 8333/tcp"));
    assert!(
        results[2].is_ok(),
        "bitcoin is provided by the known catalog"
    );

    let alone = validate_files(
        &[write_app(
            dir.path(),
            "l2",
            &single("l2", "depends_on:\n  - { id: bitcoin }", ""),
        )],
        &Catalog::default(),
    );
    assert_eq!(
        alone[0].as_ref().unwrap_err().violations()[0].field,
        "depends_on[0].id"
    );
}

#[test]
fn dependency_cycles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let needs = |id: &str, dep: &str| single(id, &format!("depends_on:\n  - {{ id: {dep} }}"), "");
    write_app(dir.path(), "a", &needs("a", "b"));
    write_app(dir.path(), "b", &needs("b", "c"));
    write_app(dir.path(), "c", &needs("c", "a"));
    write_app(dir.path(), "d", &needs("d", "c"));
    let load = Catalog::load_dir(dir.path());
    // Dropping `a` breaks the cycle; then `c` and everything needing it lose `a`.
    assert!(
        load.catalog.is_empty(),
        "{:?}",
        load.catalog.ids().collect::<Vec<_>>()
    );
    assert!(
        load.errors[0]
            .to_string()
            .contains("dependency cycle a → b → c → a"),
        "{}",
        load.errors[0]
    );
}

#[test]
fn dependents_are_found_through_provided_names() {
    let catalog = load_clean("catalog");
    let ids = |id: &str| -> Vec<String> {
        catalog
            .dependents(id)
            .iter()
            .map(|m| m.id.clone())
            .collect()
    };
    assert_eq!(
        ids("bitcoin-knots"),
        vec!["btcpay-server", "electrumx", "fedimint", "lnd", "mempool"]
    );
    assert!(ids("filebrowser").is_empty());
}
