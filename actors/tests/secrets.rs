//! Generated secrets and derived config files: created once and private,
//! never regenerated under existing data, never shown, and converged back
//! when someone edits or deletes a derived file.

mod app_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use app_support::*;
use archy_actors::app::{ask, AppMsg, AppState};
use archy_actors::secrets::{FileSecrets, Secret, SecretSource};
use archy_apps::Manifest;
use archy_runtime::mock::Op;
use archy_runtime::ContainerRuntime;
use ractor::ActorRef;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn secret_file(h: &Harness, app: &str, name: &str) -> PathBuf {
    h.state_dir.root().join("secrets").join(app).join(name)
}

fn data_root(h: &Harness, app: &str) -> PathBuf {
    h.env.data_root(app)
}

/// A database-like app: a generated password, a data volume, and a config
/// file derived from the password.
fn vault(h: &Harness, id: &str, restart_on_change: bool) -> Manifest {
    h.mock.add_image(&image_of("vault"));
    manifest(&format!(
        r#"
id: {id}
name: Vault
version: "1"
generated_secrets: [{{ name: pw, kind: password }}]
derived_files:
  - path: conf/vault.conf
    template: "password=${{secret:pw}}\n"
    restart_on_change: {restart_on_change}
    mode: "0640"
container:
  image: {}
  env: {{ PASSWORD: "${{secret:pw}}" }}
  volumes: [{{ data: db, target: /var/lib/db }}]
"#,
        image_of("vault")
    ))
}

#[tokio::test(start_paused = true)]
async fn secrets_are_private_created_once_and_identical_on_reinstall() {
    let h = Harness::new();
    let m = vault(&h, "vault0", true);
    let actor = h.installed(&m).await;
    let file = secret_file(&h, "vault0", "pw");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let first = fs::read_to_string(&file).unwrap();

    uninstall(&actor, "vault0", false).await.unwrap();
    let again = h.installed(&m).await;
    assert_eq!(fs::read_to_string(&file).unwrap(), first);
    let env = &h.mock.container("archy-vault0").unwrap().spec.env;
    assert_eq!(env["PASSWORD"], first);
    again.stop(None);
}

#[test]
fn wrong_permissions_are_repaired_and_the_value_kept() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = FileSecrets::new(dir.path().join("secrets"), dir.path().join("data"));
    let h_manifest = manifest(
        "id: vault\nname: V\nversion: \"1\"\ngenerated_secrets: [{ name: pw, kind: hex }]\n\
         container: { image: docker.io/library/vault:1 }\n",
    );
    secrets.ensure(&h_manifest).unwrap();
    let value = secrets.get("vault", "pw").unwrap();
    let file = dir.path().join("secrets/vault/pw");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(file.parent().unwrap(), fs::Permissions::from_mode(0o755)).unwrap();

    secrets.ensure(&h_manifest).unwrap();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert_eq!(secrets.get("vault", "pw").unwrap(), value);
}

#[tokio::test(start_paused = true)]
async fn a_missing_secret_with_existing_data_is_a_clear_error_and_not_regenerated() {
    let h = Harness::new();
    let m = vault(&h, "vault1", true);
    let actor = h.installed(&m).await;
    // The database initialised itself with the password.
    fs::write(data_root(&h, "vault1").join("db/PG_VERSION"), "16").unwrap();
    uninstall(&actor, "vault1", false).await.unwrap();
    let file = secret_file(&h, "vault1", "pw");
    fs::remove_file(&file).unwrap();

    let actor = h.spawn(&m).await;
    let error = install(&actor, "vault1").await.unwrap_err().to_string();
    assert!(
        error.contains("initialised with a password that is now missing")
            && error.contains(&format!("restore {}", file.display()))
            && error.contains("purge the app's data to start fresh"),
        "{error}"
    );
    assert!(
        !file.exists(),
        "a secret was regenerated under existing data"
    );
    assert!(matches!(h.state("vault1"), Some(AppState::Failed { .. })));
    assert_eq!(h.mock.container("archy-vault1"), None);
}

#[tokio::test(start_paused = true)]
async fn a_first_install_after_a_failed_one_with_only_empty_dirs_generates_the_secret() {
    let h = Harness::new();
    let m = vault(&h, "vault2", true);
    fs::create_dir_all(data_root(&h, "vault2").join("db")).unwrap();
    h.installed(&m).await;
    assert!(secret_file(&h, "vault2", "pw").exists());
}

#[test]
fn secret_debug_and_display_redact() {
    let secret = Secret::new("hunter2");
    assert_eq!(format!("{secret}"), "<redacted>");
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(<redacted>))");
    assert_eq!(secret.expose(), "hunter2");
}

#[tokio::test(start_paused = true)]
async fn a_cross_app_secret_comes_from_the_installed_provider() {
    let h = Harness::new();
    h.mock.add_image(&image_of("knots"));
    h.mock.add_image(&image_of("lnd"));
    let knots = manifest(&format!(
        "id: bitcoin-knots\nname: Knots\nversion: \"1\"\nprovides: [bitcoin]\n\
         generated_secrets: [{{ name: rpc, kind: hex }}]\ncontainer: {{ image: {} }}\n",
        image_of("knots")
    ));
    let lnd = manifest(&format!(
        "id: lnd\nname: LND\nversion: \"1\"\ndepends_on: [{{ id: bitcoin }}]\n\
         derived_files: [{{ path: lnd.conf, template: \"rpcpass=${{app:bitcoin:secret:rpc}}\" }}]\n\
         container:\n  image: {}\n  env: {{ RPC: \"${{app:bitcoin:secret:rpc}}\" }}\n",
        image_of("lnd")
    ));
    h.installed(&knots).await;
    h.installed(&lnd).await;
    let rpc = fs::read_to_string(secret_file(&h, "bitcoin-knots", "rpc")).unwrap();
    let env = &h.mock.container("archy-lnd").unwrap().spec.env;
    assert_eq!(env["RPC"], rpc);
    let conf = data_root(&h, "lnd").join("lnd.conf");
    assert_eq!(fs::read_to_string(&conf).unwrap(), format!("rpcpass={rpc}"));
    assert_eq!(mode(&conf), 0o600);
}

#[tokio::test(start_paused = true)]
async fn no_secret_value_reaches_status_journal_or_manifest() {
    let h = Harness::new();
    let m = vault(&h, "vault4", true);
    let actor = h.installed(&m).await;
    let value = fs::read_to_string(secret_file(&h, "vault4", "pw")).unwrap();
    let outputs = [
        serde_json::to_string(&h.board.all()).unwrap(),
        serde_json::to_string(&status(&actor).await).unwrap(),
        serde_json::to_string(&h.env.journal.recent(None, None, 1000)).unwrap(),
        serde_json::to_string(&m).unwrap(),
    ];
    for output in outputs {
        assert!(!output.contains(&value), "secret leaked into {output}");
    }
}

// ---- derived files ----------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_derived_file_exists_before_the_containers_first_start() {
    let h = Harness::new();
    let m = vault(&h, "vault5", true);
    h.mock.hold(Op::Start);
    let actor = h.spawn(&m).await;
    let installing = tokio::spawn(async move { install(&actor, "vault5").await });
    h.mock.until_called(Op::Start, 1).await;

    let conf = data_root(&h, "vault5").join("conf/vault.conf");
    let pw = fs::read_to_string(secret_file(&h, "vault5", "pw")).unwrap();
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        format!("password={pw}\n")
    );
    assert_eq!(mode(&conf), 0o640);
    h.mock.release(Op::Start);
    installing.await.unwrap().unwrap();
}

/// One reconcile pass as the reconciler does it: one list, one `Observe`.
async fn pass(h: &Harness, actor: &ActorRef<AppMsg>) {
    let observed = h.mock.list_managed().await.unwrap();
    actor.cast(AppMsg::Observe(observed)).unwrap();
    // The mailbox is ordered: the answer comes after the pass was handled.
    status(actor).await;
}

#[tokio::test(start_paused = true)]
async fn a_tampered_derived_file_is_rewritten_and_the_app_restarted() {
    let h = Harness::new();
    let m = vault(&h, "vault6", true);
    let actor = h.installed(&m).await;
    let conf = data_root(&h, "vault6").join("conf/vault.conf");
    let wanted = fs::read_to_string(&conf).unwrap();
    fs::write(&conf, "password=guess\n").unwrap();
    h.mock.reset_calls();

    pass(&h, &actor).await;
    assert_eq!(fs::read_to_string(&conf).unwrap(), wanted);
    assert_eq!(mode(&conf), 0o640);
    h.mock.until_called(Op::Stop, 1).await;
    h.until("vault6", |s| *s == AppState::Running).await;
    assert_eq!(h.mock.container("archy-vault6").unwrap().start_count, 2);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_derived_file_is_rewritten_without_restart_when_not_asked() {
    let h = Harness::new();
    let m = vault(&h, "vault7", false);
    let actor = h.installed(&m).await;
    let conf = data_root(&h, "vault7").join("conf/vault.conf");
    let wanted = fs::read_to_string(&conf).unwrap();
    fs::remove_file(&conf).unwrap();
    h.mock.reset_calls();

    pass(&h, &actor).await;
    assert_eq!(fs::read_to_string(&conf).unwrap(), wanted);
    let status = status(&actor).await;
    assert_eq!((status.state, status.operation), (AppState::Running, None));
    assert_eq!(h.mock.calls(Op::Stop), 0);
    assert_eq!(h.mock.container("archy-vault7").unwrap().start_count, 1);
}

#[tokio::test(start_paused = true)]
async fn an_untouched_derived_file_causes_no_restart() {
    let h = Harness::new();
    let m = vault(&h, "vault8", true);
    let actor = h.installed(&m).await;
    h.mock.reset_calls();
    pass(&h, &actor).await;
    pass(&h, &actor).await;
    assert_eq!(h.mock.calls(Op::Stop), 0);
    assert_eq!(status(&actor).await.operation, None);
}

#[tokio::test(start_paused = true)]
async fn a_secret_deleted_under_a_running_app_with_data_is_reported_once_and_the_app_kept() {
    let h = Harness::new();
    let m = vault(&h, "vault10", false);
    let actor = h.installed(&m).await;
    fs::write(data_root(&h, "vault10").join("db/PG_VERSION"), "16").unwrap();
    let file = secret_file(&h, "vault10", "pw");
    let value = fs::read_to_string(&file).unwrap();
    fs::remove_file(&file).unwrap();
    h.mock.reset_calls();

    pass(&h, &actor).await;
    pass(&h, &actor).await;
    let missing = |reason: &str| reason.contains("is now missing") && reason.contains("restore");
    let said: Vec<_> = h
        .env
        .journal
        .recent(None, None, 1000)
        .into_iter()
        .filter(|e| e.app == "vault10" && missing(&e.reason))
        .collect();
    assert_eq!(said.len(), 1, "reported once, not on every pass: {said:?}");
    let lost = status(&actor).await;
    assert_eq!(lost.state, AppState::Running);
    assert!(missing(&lost.reason), "{}", lost.reason);
    assert!(
        !file.exists(),
        "a secret was regenerated under existing data"
    );
    assert_eq!(h.mock.calls(Op::Stop), 0);
    assert_eq!(h.mock.container("archy-vault10").unwrap().start_count, 1);

    fs::write(&file, &value).unwrap();
    pass(&h, &actor).await;
    let back = status(&actor).await;
    assert_eq!(
        (back.state, back.reason.as_str()),
        (AppState::Running, "its missing secret is back")
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_request_keeps_the_secret() {
    let h = Harness::new();
    let m = vault(&h, "vault9", true);
    let actor = h.installed(&m).await;
    let before = fs::read_to_string(secret_file(&h, "vault9", "pw")).unwrap();
    ask(&actor, "vault9", |reply| AppMsg::Restart { reply })
        .await
        .unwrap();
    let after = fs::read_to_string(secret_file(&h, "vault9", "pw")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_secret_newly_declared_by_an_update_is_generated_despite_existing_data() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = FileSecrets::new(dir.path().join("secrets"), dir.path().join("data"));
    let yaml = |names: &str| {
        manifest(&format!(
            "id: grow\nname: G\nversion: \"1\"\ngenerated_secrets: [{names}]\n\
             container: {{ image: docker.io/library/grow:1 }}\n"
        ))
    };
    secrets.ensure(&yaml("{ name: a, kind: hex }")).unwrap();
    fs::create_dir_all(dir.path().join("data/grow")).unwrap();
    fs::write(dir.path().join("data/grow/db"), "x").unwrap();
    let a = secrets.get("grow", "a").unwrap();

    let updated = yaml("{ name: a, kind: hex }, { name: b, kind: hex }");
    secrets.ensure(&updated).unwrap();
    assert!(secrets.get("grow", "b").is_some());
    assert_eq!(secrets.get("grow", "a").unwrap(), a);

    // Once generated, losing it is refused like any other.
    fs::remove_file(dir.path().join("secrets/grow/b")).unwrap();
    let error = secrets.ensure(&updated).unwrap_err().to_string();
    assert!(error.contains("secret b is missing"), "{error}");
}
