//! The registry actor: disk and signed sources, reloads, what reaches app
//! actors, orphans, broken manifests and the poll.

use std::path::{Path, PathBuf};
use std::time::Duration;

use archy_actors::app::{AppActor, AppMsg, AppState};
use archy_actors::registry::{
    sign_catalog, signature_path, Registry, RegistryArgs, RegistryConfig, RegistryEvent,
    RegistryMsg, SignedCatalogConfig, SigningKey,
};
use archy_actors::status::{AppStatus, StatusBoard};
use archy_actors::supervisor::{Supervisor, SupervisorArgs};
use ractor::{call, Actor, ActorProcessingErr, ActorRef};
use tempfile::TempDir;
use tokio::sync::{broadcast, mpsc};

const DEADLINE: Duration = Duration::from_secs(30);

fn manifest_yaml(id: &str, version: &str) -> String {
    format!(
        "id: {id}\nname: {id}\nversion: \"{version}\"\ncontainer:\n  image: localhost/archy-base:latest\n"
    )
}

fn write_app(dir: &Path, id: &str, version: &str) {
    write_raw(dir, id, &manifest_yaml(id, version));
}

fn write_raw(dir: &Path, id: &str, text: &str) {
    std::fs::create_dir_all(dir.join(id)).unwrap();
    std::fs::write(dir.join(id).join("manifest.yml"), text).unwrap();
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

/// A YAML list of the manifests, signed by `signer` (`None`: unsigned).
fn write_signed(dir: &Path, apps: &[(&str, &str)], signer: Option<&SigningKey>) -> PathBuf {
    let text: String = apps
        .iter()
        .map(|(id, version)| indent_as_list_item(&manifest_yaml(id, version)))
        .collect();
    write_signed_text(dir, &text, signer)
}

fn write_signed_text(dir: &Path, text: &str, signer: Option<&SigningKey>) -> PathBuf {
    let file = dir.join("catalog.yml");
    std::fs::write(&file, text).unwrap();
    match signer {
        Some(signer) => {
            std::fs::write(signature_path(&file), sign_catalog(text.as_bytes(), signer)).unwrap()
        }
        None => {
            let _ = std::fs::remove_file(signature_path(&file));
        }
    }
    file
}

fn indent_as_list_item(yaml: &str) -> String {
    yaml.lines()
        .enumerate()
        .map(|(i, line)| format!("{}{line}\n", if i == 0 { "- " } else { "  " }))
        .collect()
}

fn config(dirs: &[&Path], signed: Option<PathBuf>) -> RegistryConfig {
    RegistryConfig {
        dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        signed: signed.map(|file| SignedCatalogConfig {
            file,
            public_key: key().verifying_key(),
        }),
        poll_every: None,
    }
}

/// Unnamed, so tests running side by side do not clash on `registry`.
/// Returns once the first load is done (queries wait for it), so the
/// files may be edited from then on.
async fn start(args: RegistryArgs) -> ActorRef<RegistryMsg> {
    let (registry, _) = Actor::spawn(None, Registry, args).await.unwrap();
    call!(registry, RegistryMsg::List).unwrap();
    registry
}

async fn spawn(config: RegistryConfig, board: &StatusBoard) -> ActorRef<RegistryMsg> {
    start(RegistryArgs::new(config, board.clone())).await
}

async fn ids(registry: &ActorRef<RegistryMsg>) -> Vec<String> {
    let apps = call!(registry, RegistryMsg::List).unwrap();
    apps.iter().map(|m| m.id.clone()).collect()
}

async fn version_of(registry: &ActorRef<RegistryMsg>, id: &str) -> Option<String> {
    let app = call!(registry, RegistryMsg::Get, id.to_string()).unwrap();
    app.map(|m| m.version.clone())
}

async fn errors(registry: &ActorRef<RegistryMsg>) -> Vec<String> {
    call!(registry, RegistryMsg::Errors).unwrap()
}

async fn reload(registry: &ActorRef<RegistryMsg>) -> archy_actors::registry::ReloadReport {
    call!(registry, |reply| RegistryMsg::Reload(Some(reply))).unwrap()
}

async fn next_event(events: &mut broadcast::Receiver<RegistryEvent>) -> RegistryEvent {
    tokio::time::timeout(DEADLINE, events.recv())
        .await
        .expect("no registry event before the deadline")
        .unwrap()
}

/// Stands in for an app actor under the real name `app:<id>`, recording
/// what it is sent.
struct FakeApp;

impl Actor for FakeApp {
    type Msg = AppMsg;
    type State = mpsc::UnboundedSender<String>;
    type Arguments = mpsc::UnboundedSender<String>;

    async fn pre_start(
        &self,
        _: ActorRef<AppMsg>,
        seen: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(seen)
    }

    async fn handle(
        &self,
        _: ActorRef<AppMsg>,
        msg: AppMsg,
        seen: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let what = match msg {
            AppMsg::UpdateManifest(m) => format!("update {} {}", m.id, m.version),
            AppMsg::Uninstall { .. } => "uninstall".to_string(),
            _ => "other".to_string(),
        };
        let _ = seen.send(what);
        Ok(())
    }
}

async fn fake_app(id: &str) -> (ActorRef<AppMsg>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (app, _) = Actor::spawn(Some(AppActor::name(id)), FakeApp, tx)
        .await
        .unwrap();
    (app, rx)
}

/// Everything sent to `app` before this call was nothing: a marker sent
/// now comes back first (mailboxes are FIFO).
async fn assert_sent_nothing(app: &ActorRef<AppMsg>, seen: &mut mpsc::UnboundedReceiver<String>) {
    let marker = AppMsg::HealthChanged {
        healthy: true,
        reason: "marker".into(),
    };
    app.cast(marker).unwrap();
    let first = tokio::time::timeout(DEADLINE, seen.recv()).await.unwrap();
    assert_eq!(first.as_deref(), Some("other"));
}

fn installed(board: &StatusBoard, id: &str) {
    board.set(AppStatus::new(id, AppState::Running, "running"));
}

#[tokio::test]
async fn loads_every_catalog_dir_in_id_order() {
    let (one, two) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    write_app(one.path(), "zeta", "1");
    write_app(one.path(), "alpha", "1");
    write_app(two.path(), "mid", "1");
    let registry = spawn(config(&[one.path(), two.path()], None), &StatusBoard::new()).await;
    assert_eq!(ids(&registry).await, ["alpha", "mid", "zeta"]);
    assert_eq!(version_of(&registry, "mid").await.as_deref(), Some("1"));
    assert_eq!(version_of(&registry, "nope").await, None);
    assert!(errors(&registry).await.is_empty());
}

#[tokio::test]
async fn shipped_catalog_and_demos_load_together() {
    let apps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps");
    let (catalog, demo) = (apps.join("catalog"), apps.join("demo"));
    let registry = spawn(config(&[&catalog, &demo], None), &StatusBoard::new()).await;
    assert_eq!(errors(&registry).await, Vec::<String>::new());
    let ids = ids(&registry).await;
    assert!(
        ids.contains(&"bitcoin-core".to_string()) && ids.contains(&"demo-web".to_string()),
        "{ids:?}"
    );
}

#[tokio::test]
async fn id_defined_in_two_dirs_is_refused_the_second_time() {
    let (one, two) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    write_app(one.path(), "app", "1");
    write_app(two.path(), "app", "2");
    let registry = spawn(config(&[one.path(), two.path()], None), &StatusBoard::new()).await;
    assert_eq!(version_of(&registry, "app").await.as_deref(), Some("1"));
    let errors = errors(&registry).await;
    assert!(
        errors.len() == 1 && errors[0].contains("already defined"),
        "{errors:?}"
    );
}

/// Disk holds `shared` v1 and `local`; the signed catalog `shared` v2 and
/// `extra`, signed by `signer` (`None`: no `.sig`).
struct DiskAndSigned {
    registry: ActorRef<RegistryMsg>,
    file: PathBuf,
    _dirs: (TempDir, TempDir),
}

async fn disk_and_signed(signer: Option<&SigningKey>) -> DiskAndSigned {
    let (disk, signed) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    write_app(disk.path(), "shared", "1");
    write_app(disk.path(), "local", "1");
    let file = write_signed(signed.path(), &[("shared", "2"), ("extra", "1")], signer);
    let config = config(&[disk.path()], Some(file.clone()));
    let registry = spawn(config, &StatusBoard::new()).await;
    DiskAndSigned {
        registry,
        file,
        _dirs: (disk, signed),
    }
}

/// The signed catalog was rejected whole: only the disk apps, one error.
async fn only_disk_apps(registry: &ActorRef<RegistryMsg>) -> String {
    assert_eq!(ids(registry).await, ["local", "shared"]);
    assert_eq!(version_of(registry, "shared").await.as_deref(), Some("1"));
    let mut errors = errors(registry).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.remove(0)
}

#[tokio::test]
async fn catalog_with_bad_signature_is_rejected_whole_and_disk_apps_stay() {
    let other = SigningKey::from_bytes(&[2; 32]);
    let setup = disk_and_signed(Some(&other)).await;
    let error = only_disk_apps(&setup.registry).await;
    assert!(
        error.starts_with(&setup.file.display().to_string()),
        "{error}"
    );
    assert!(
        error.contains("rejected whole") && error.contains("does not match"),
        "{error}"
    );
}

#[tokio::test]
async fn catalog_edited_after_signing_is_rejected_and_its_verified_apps_kept() {
    let setup = disk_and_signed(Some(&key())).await;
    let tampered = std::fs::read_to_string(&setup.file)
        .unwrap()
        .replace("\"2\"", "\"9\"");
    std::fs::write(&setup.file, tampered).unwrap();
    let report = reload(&setup.registry).await;
    assert!(report.errors[0].contains("does not match"), "{report:?}");
    assert!(
        report.changed.is_empty() && report.removed.is_empty(),
        "{report:?}"
    );
    assert_eq!(
        version_of(&setup.registry, "shared").await.as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn catalog_without_signature_is_rejected_whole() {
    let setup = disk_and_signed(None).await;
    let error = only_disk_apps(&setup.registry).await;
    let sig = signature_path(&setup.file).display().to_string();
    assert!(
        error.contains("rejected whole") && error.contains(&sig),
        "{error}"
    );
}

#[tokio::test]
async fn signed_catalog_wins_over_disk_for_the_same_id() {
    let setup = disk_and_signed(Some(&key())).await;
    assert_eq!(errors(&setup.registry).await, Vec::<String>::new());
    assert_eq!(ids(&setup.registry).await, ["extra", "local", "shared"]);
    assert_eq!(
        version_of(&setup.registry, "shared").await.as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn signed_catalog_may_be_a_json_list() {
    let signed = TempDir::new().unwrap();
    let json = r#"[{"id": "j", "name": "J", "version": "3", "container": {"image": "localhost/archy-base:latest"}}]"#;
    let file = write_signed_text(signed.path(), json, Some(&key()));
    let registry = spawn(config(&[], Some(file)), &StatusBoard::new()).await;
    assert_eq!(version_of(&registry, "j").await.as_deref(), Some("3"));
}

#[tokio::test]
async fn signed_manifest_with_a_build_is_refused_and_its_neighbours_kept() {
    let signed = TempDir::new().unwrap();
    let built =
        "- id: built\n  name: B\n  version: \"1\"\n  container:\n    build: { context: . }\n";
    let text = format!(
        "{built}{}",
        indent_as_list_item(&manifest_yaml("fine", "1"))
    );
    let file = write_signed_text(signed.path(), &text, Some(&key()));
    let registry = spawn(config(&[], Some(file.clone())), &StatusBoard::new()).await;
    assert_eq!(ids(&registry).await, ["fine"]);
    let errors = errors(&registry).await;
    let entry = file.join("built").display().to_string();
    assert!(
        errors[0].starts_with(&entry) && errors[0].contains("container.build"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn reload_reports_added_changed_and_removed() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "kept", "1");
    write_app(disk.path(), "edited", "1");
    write_app(disk.path(), "dropped", "1");
    let registry = spawn(config(&[disk.path()], None), &StatusBoard::new()).await;
    write_app(disk.path(), "edited", "2");
    write_app(disk.path(), "fresh", "1");
    std::fs::remove_dir_all(disk.path().join("dropped")).unwrap();
    let report = reload(&registry).await;
    assert_eq!(report.added, ["fresh"]);
    assert_eq!(report.changed, ["edited"]);
    assert_eq!(report.removed, ["dropped"]);
    assert!(report.errors.is_empty());
    assert_eq!(ids(&registry).await, ["edited", "fresh", "kept"]);
    assert_eq!(
        reload(&registry).await,
        Default::default(),
        "a second reload changes nothing"
    );
}

#[tokio::test]
async fn changed_manifest_reaches_the_running_app_actor() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "reg-changed", "1");
    write_app(disk.path(), "reg-untouched", "1");
    let registry = spawn(config(&[disk.path()], None), &StatusBoard::new()).await;
    let (_changed, mut changed_seen) = fake_app("reg-changed").await;
    let (untouched, mut untouched_seen) = fake_app("reg-untouched").await;
    write_app(disk.path(), "reg-changed", "2");
    reload(&registry).await;
    let seen = tokio::time::timeout(DEADLINE, changed_seen.recv())
        .await
        .unwrap();
    assert_eq!(seen.as_deref(), Some("update reg-changed 2"));
    assert_sent_nothing(&untouched, &mut untouched_seen).await;
}

#[tokio::test]
async fn removed_manifest_leaves_the_installed_app_as_an_orphan() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "reg-orphan", "1");
    write_app(disk.path(), "reg-other", "1");
    let board = StatusBoard::new();
    installed(&board, "reg-orphan");
    let args = RegistryArgs::new(config(&[disk.path()], None), board.clone());
    let registry = start(args.clone()).await;
    let mut events = args.subscribe();
    let (app, mut app_seen) = fake_app("reg-orphan").await;
    assert!(call!(registry, RegistryMsg::Orphans).unwrap().is_empty());

    std::fs::remove_dir_all(disk.path().join("reg-orphan")).unwrap();
    assert_eq!(reload(&registry).await.removed, ["reg-orphan"]);
    assert!(
        matches!(next_event(&mut events).await, RegistryEvent::Removed(id) if id == "reg-orphan")
    );
    assert_eq!(
        call!(registry, RegistryMsg::Orphans).unwrap(),
        ["reg-orphan"]
    );
    assert_eq!(board.get("reg-orphan").unwrap().state, AppState::Running);
    assert_sent_nothing(&app, &mut app_seen).await;
    assert_eq!(app.get_status(), ractor::ActorStatus::Running);
}

#[tokio::test]
async fn invalid_manifest_is_reported_and_its_last_good_version_kept() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "fragile", "1");
    write_app(disk.path(), "steady", "1");
    let args = RegistryArgs::new(config(&[disk.path()], None), StatusBoard::new());
    let registry = start(args.clone()).await;
    let mut events = args.subscribe();

    write_raw(disk.path(), "fragile", "id: fragile\nname: [broken\n");
    let report = reload(&registry).await;
    let path = disk.path().join("fragile/manifest.yml");
    assert!(report.added.is_empty() && report.changed.is_empty() && report.removed.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].starts_with(&path.display().to_string()),
        "{report:?}"
    );
    match next_event(&mut events).await {
        RegistryEvent::Invalid { path: at, .. } => assert_eq!(at, path),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(version_of(&registry, "fragile").await.as_deref(), Some("1"));
    assert_eq!(errors(&registry).await, report.errors);

    write_app(disk.path(), "fragile", "2");
    let report = reload(&registry).await;
    assert_eq!(report.changed, ["fragile"]);
    assert!(report.errors.is_empty());
}

#[tokio::test]
async fn manifest_breaking_a_rule_keeps_its_last_good_version() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "strict", "1");
    let registry = spawn(config(&[disk.path()], None), &StatusBoard::new()).await;
    let privileged = format!("{}  privileged: true\n", manifest_yaml("strict", "2"));
    write_raw(disk.path(), "strict", &privileged);
    let report = reload(&registry).await;
    assert!(report.errors[0].contains("privileged"), "{report:?}");
    assert_eq!(version_of(&registry, "strict").await.as_deref(), Some("1"));
}

#[tokio::test(start_paused = true)]
async fn poll_picks_up_a_change_without_a_reload() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "polled", "1");
    let mut config = config(&[disk.path()], None);
    config.poll_every = Some(Duration::from_secs(3));
    let args = RegistryArgs::new(config, StatusBoard::new());
    let registry = start(args.clone()).await;
    let mut events = args.subscribe();
    let started = tokio::time::Instant::now();

    write_app(disk.path(), "polled", "22");
    let RegistryEvent::Changed(manifest) = next_event(&mut events).await else {
        panic!("expected Changed");
    };
    assert_eq!(manifest.version, "22");
    assert!(
        started.elapsed() <= Duration::from_secs(3),
        "seen by the first poll"
    );
    assert_eq!(version_of(&registry, "polled").await.as_deref(), Some("22"));
}

#[tokio::test]
async fn first_load_is_announced_to_early_subscribers() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "early", "1");
    let args = RegistryArgs::new(config(&[disk.path()], None), StatusBoard::new());
    let mut events = args.subscribe();
    start(args).await;
    let RegistryEvent::Changed(manifest) = next_event(&mut events).await else {
        panic!("expected Changed");
    };
    assert_eq!(manifest.id, "early");
}

#[tokio::test]
async fn killed_registry_is_restarted_reloads_and_keeps_its_subscribers() {
    let disk = TempDir::new().unwrap();
    write_app(disk.path(), "survivor", "1");
    let args = RegistryArgs::new(config(&[disk.path()], None), StatusBoard::new());
    let mut events = args.subscribe();
    let children = vec![Registry::child_spec(args)];
    let (supervisor, _) = Supervisor::start(
        None,
        SupervisorArgs {
            children,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(next_event(&mut events).await, RegistryEvent::Changed(m) if m.id == "survivor")
    );

    let first = ActorRef::<RegistryMsg>::where_is(Registry::NAME).unwrap();
    first.kill();
    assert!(
        matches!(next_event(&mut events).await, RegistryEvent::Changed(m) if m.id == "survivor"),
        "the restarted registry announces its first load on the same channel"
    );
    let second = ActorRef::<RegistryMsg>::where_is(Registry::NAME).unwrap();
    assert_ne!(first.get_id(), second.get_id());
    assert_eq!(version_of(&second, "survivor").await.as_deref(), Some("1"));
    supervisor.stop(None);
}
