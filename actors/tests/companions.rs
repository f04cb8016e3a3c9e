//! UI companions under the tree, against the mock engine under paused time:
//! they follow their app's desired state, heal within one period, rebuild
//! when their context changes, never touch an operator's `:local` image,
//! never lend their status to their app, and survive a daemon restart.
//!
//! App ids are unique per test: app actors are registered by name, and the
//! tests of one binary share ractor's registry.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use archy_actors::app::AppState;
use archy_actors::companions::{CompanionState, CompanionStatus};
use archy_actors::tree::{Archy, Request, TreeConfig};
use archy_runtime::mock::{MockRuntime, Op};
use archy_runtime::{labels, ContainerRuntime, RunState, SharedRuntime};
use tokio::time::{timeout, Instant};

const PERIOD: Duration = Duration::from_secs(30);
const DEADLINE: Duration = Duration::from_secs(600);

/// How the companion `ui` of a test app gets its image.
enum Ui {
    /// `build:` from `<dir>/ctx-<id>`.
    Built,
    /// `image: localhost/<id>-ui:local`, the operator's.
    Local,
}

fn context(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("ctx-{id}"))
}

/// `<dir>/catalog/<id>/manifest.yml`: one container and a companion `ui`.
fn write_app(dir: &Path, id: &str, ui: Ui) {
    let app = dir.join("catalog").join(id);
    std::fs::create_dir_all(&app).unwrap();
    let source = match ui {
        Ui::Built => {
            let ctx = context(dir, id);
            std::fs::create_dir_all(&ctx).unwrap();
            std::fs::write(ctx.join("Containerfile"), "FROM scratch\n").unwrap();
            std::fs::write(ctx.join("index.html"), "v1").unwrap();
            format!("build: {{ context: {} }}", ctx.display())
        }
        Ui::Local => format!("image: localhost/{id}-ui:local"),
    };
    let yaml = format!(
        "id: {id}\nname: {id}\nversion: '1'\ncontainer:\n  image: localhost/{id}:1\n\
         companions:\n  - name: ui\n    {source}\n"
    );
    std::fs::write(app.join("manifest.yml"), yaml).unwrap();
}

fn config(dir: &Path) -> TreeConfig {
    let mut config = TreeConfig::new(dir);
    config.registry.dirs = vec![dir.join("catalog")];
    config.registry.poll_every = None;
    config.companions.period = PERIOD;
    config
}

async fn boot(dir: &Path, mock: &MockRuntime) -> Archy {
    let runtime: SharedRuntime = Arc::new(mock.clone());
    Archy::boot(config(dir), runtime).await.unwrap()
}

/// A tree with `id` installed and running.
async fn installed(dir: &Path, mock: &MockRuntime, id: &str, ui: Ui) -> Archy {
    write_app(dir, id, ui);
    mock.add_image(&format!("localhost/{id}:1"));
    let archy = boot(dir, mock).await;
    archy.request(id, Request::Install, true).await.unwrap();
    archy
}

fn ui(id: &str) -> String {
    format!("archy-{id}-ui")
}

async fn until(mock: &MockRuntime, name: &str, state: RunState) {
    timeout(DEADLINE, mock.until_state(name, state.clone()))
        .await
        .unwrap_or_else(|_| panic!("{name} never became {state:?}"));
}

async fn until_companion(
    archy: &Archy,
    id: &str,
    pred: impl Fn(&CompanionStatus) -> bool,
) -> CompanionStatus {
    archy
        .companions()
        .wait_for(id, "ui", |s| s.is_some_and(&pred), DEADLINE)
        .await
        .unwrap()
        .unwrap()
}

async fn app_state(archy: &Archy, id: &str, want: AppState) {
    archy
        .board()
        .wait_for(id, |s| s.is_some_and(|s| s.state == want), DEADLINE)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_companion_follows_its_app_running_stopped_uninstalled_and_reinstalled() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockRuntime::new();
    let archy = installed(dir.path(), &mock, "cfollow", Ui::Built).await;
    let name = ui("cfollow");
    until(&mock, &name, RunState::Running).await;
    let status = until_companion(&archy, "cfollow", |s| s.state == CompanionState::Running).await;
    assert_eq!(status.container, name);
    let labels = mock.container(&name).unwrap().spec.labels;
    assert_eq!(labels[labels::ROLE], "companion");
    assert_eq!(labels[labels::APP], "cfollow");

    archy.request("cfollow", Request::Stop, true).await.unwrap();
    until(&mock, &name, RunState::Exited).await;
    until_companion(&archy, "cfollow", |s| s.state == CompanionState::Stopped).await;

    archy
        .request("cfollow", Request::Start, true)
        .await
        .unwrap();
    until(&mock, &name, RunState::Running).await;

    archy
        .request("cfollow", Request::Uninstall { purge: false }, true)
        .await
        .unwrap();
    timeout(DEADLINE, mock.until_removed(&name)).await.unwrap();
    archy
        .companions()
        .wait_for("cfollow", "ui", |s| s.is_none(), DEADLINE)
        .await
        .unwrap();
    // It stays gone: its actor ended instead of recreating it.
    tokio::time::sleep(PERIOD * 3).await;
    assert!(mock.container(&name).is_none());

    // A reinstall brings it back with a fresh actor.
    archy
        .request("cfollow", Request::Install, true)
        .await
        .unwrap();
    until(&mock, &name, RunState::Running).await;
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_removed_or_crashed_companion_is_back_within_one_period() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockRuntime::new();
    let archy = installed(dir.path(), &mock, "cheal", Ui::Built).await;
    let name = ui("cheal");
    until(&mock, &name, RunState::Running).await;
    until_companion(&archy, "cheal", |s| s.state == CompanionState::Running).await;

    assert!(mock.remove_externally(&name));
    let removed = Instant::now();
    until(&mock, &name, RunState::Running).await;
    assert!(
        removed.elapsed() <= PERIOD,
        "back after {:?}",
        removed.elapsed()
    );
    until_companion(&archy, "cheal", |s| s.restarts == 1).await;

    assert!(mock.crash(&name, 1));
    let crashed = Instant::now();
    until(&mock, &name, RunState::Running).await;
    assert!(
        crashed.elapsed() <= PERIOD,
        "back after {:?}",
        crashed.elapsed()
    );
    until_companion(&archy, "cheal", |s| s.restarts == 2).await;
    // The app itself was never touched.
    assert_eq!(archy.board().get("cheal").unwrap().state, AppState::Running);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_build_context_rebuilds_and_recreates_its_companion() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockRuntime::new();
    let archy = installed(dir.path(), &mock, "cbuild", Ui::Built).await;
    let name = ui("cbuild");
    until(&mock, &name, RunState::Running).await;
    let first = mock.container(&name).unwrap().spec.image;
    assert!(first.starts_with("localhost/archy-cbuild-ui:"), "{first}");
    assert_eq!(mock.calls(Op::Build), 1);

    // Unchanged context: passes rebuild nothing.
    tokio::time::sleep(PERIOD * 3).await;
    assert_eq!(mock.calls(Op::Build), 1);

    std::fs::write(context(dir.path(), "cbuild").join("index.html"), "v2").unwrap();
    let changed = Instant::now();
    timeout(DEADLINE, mock.until_called(Op::Build, 2))
        .await
        .unwrap();
    let rebuilt = until_companion(&archy, "cbuild", |s| s.reason.starts_with("recreated")).await;
    assert!(
        changed.elapsed() <= PERIOD,
        "rebuilt after {:?}",
        changed.elapsed()
    );
    assert_eq!(rebuilt.state, CompanionState::Running);
    let second = mock.container(&name).unwrap();
    assert_ne!(second.spec.image, first);
    assert_eq!(second.state, RunState::Running);
    let image_labels = mock.image_labels(&second.spec.image).await.unwrap();
    let hash = second.spec.image.rsplit(':').next().unwrap();
    assert_eq!(image_labels[labels::CONTEXT_HASH], hash);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_operator_local_image_is_never_built_nor_pulled() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockRuntime::new();
    let archy = installed(dir.path(), &mock, "clocal", Ui::Local).await;
    let failed = until_companion(&archy, "clocal", |s| s.state == CompanionState::Failed).await;
    assert!(failed.reason.contains(":local"), "{}", failed.reason);
    tokio::time::sleep(PERIOD * 20).await;
    assert_eq!(mock.calls(Op::Build), 0);
    assert_eq!(mock.calls(Op::Pull), 0);
    assert!(mock.container(&ui("clocal")).is_none());

    // The operator builds it: the next pass uses it as it is.
    mock.add_image("localhost/clocal-ui:local");
    until(&mock, &ui("clocal"), RunState::Running).await;
    assert_eq!(mock.calls(Op::Build), 0);
    assert_eq!(mock.calls(Op::Pull), 0);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_stopped_app_with_a_live_companion_still_reports_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockRuntime::new();
    let archy = installed(dir.path(), &mock, "cstop", Ui::Built).await;
    let name = ui("cstop");
    until(&mock, &name, RunState::Running).await;
    archy.request("cstop", Request::Stop, true).await.unwrap();
    until(&mock, &name, RunState::Exited).await;

    // Someone starts the companion by hand; the reconciler sees it live.
    mock.start(&name).await.unwrap();
    archy.reconcile().await.unwrap().unwrap();
    let app = archy.board().get("cstop").unwrap();
    assert_eq!(app.state, AppState::Stopped);
    assert!(app.user_stopped);
    // And the companion follows its app's word again within one period.
    let started = Instant::now();
    until(&mock, &name, RunState::Exited).await;
    assert!(started.elapsed() <= PERIOD);
    app_state(&archy, "cstop", AppState::Stopped).await;
    assert!(mock.container("archy-cstop").unwrap().state != RunState::Running);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn companions_are_adopted_untouched_after_a_daemon_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockRuntime::new();
    let archy = installed(dir.path(), &mock, "creboot", Ui::Built).await;
    let name = ui("creboot");
    until(&mock, &name, RunState::Running).await;
    until_companion(&archy, "creboot", |s| s.state == CompanionState::Running).await;
    let id = mock.container(&name).unwrap().id;
    archy.shutdown().await;
    assert_eq!(mock.container(&name).unwrap().state, RunState::Running);

    mock.reset_calls();
    let archy = boot(dir.path(), &mock).await;
    let adopted = until_companion(&archy, "creboot", |s| s.state == CompanionState::Running).await;
    assert_eq!(adopted.reason, "running");
    // A few periods later, still the same container, never touched.
    tokio::time::sleep(PERIOD * 3).await;
    for op in [
        Op::Create,
        Op::Start,
        Op::Stop,
        Op::Remove,
        Op::Build,
        Op::Pull,
    ] {
        assert_eq!(mock.calls(op), 0, "{op:?} after the restart");
    }
    assert_eq!(mock.container(&name).unwrap().id, id);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_manifest_gone_from_the_catalog_leaves_its_companion_running() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockRuntime::new();
    let archy = installed(dir.path(), &mock, "cgone", Ui::Built).await;
    let name = ui("cgone");
    until(&mock, &name, RunState::Running).await;
    std::fs::remove_dir_all(dir.path().join("catalog/cgone")).unwrap();
    archy.reload_catalog().await.unwrap();
    let left = until_companion(&archy, "cgone", |s| s.state == CompanionState::Failed).await;
    assert!(left.reason.contains("left as it is"), "{}", left.reason);
    assert_eq!(mock.container(&name).unwrap().state, RunState::Running);
    assert_eq!(mock.calls(Op::Remove), 0);
    archy.shutdown().await;
}
