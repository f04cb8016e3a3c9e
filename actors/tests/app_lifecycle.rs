//! Start, stop, uninstall: grace periods, serialized operations with
//! instant status, dependencies, and what uninstall keeps.

mod app_support;

use std::time::Duration;

use app_support::*;
use archy_actors::app::{AppError, AppMsg, AppState, OpKind};
use archy_runtime::mock::Op;
use archy_runtime::RunState;
use ractor::ActorRef;
use tokio::time::Instant;

/// Stop takes exactly the app's grace when its process ignores SIGTERM.
async fn stop_takes(app: &str, grace_secs: u64) {
    let h = Harness::new();
    let m = single(&h, app);
    let actor = h.installed(&m).await;
    h.mock.ignore_sigterm(&format!("archy-{app}"));
    let started = Instant::now();
    stop(&actor, app).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(grace_secs), "{app}");
    let container = h.mock.container(&format!("archy-{app}")).unwrap();
    assert_eq!(
        container.exit_code,
        Some(137),
        "{app} was killed after its grace"
    );
    assert_eq!(h.state(app), Some(AppState::Stopped));
}

#[tokio::test(start_paused = true)]
async fn test_stop_grace_periods() {
    stop_takes("bitcoin", 600).await;
    stop_takes("lnd", 330).await;
    stop_takes("unknown-app", 30).await;
}

#[tokio::test(start_paused = true)]
async fn status_answers_at_once_while_install_and_stop_run_in_order() {
    let h = Harness::new();
    let m = single(&h, "busy");
    h.mock.ignore_sigterm("archy-busy");
    let actor = h.spawn(&m).await;
    let (installing, stopping) = {
        let (a, b) = (actor.clone(), actor.clone());
        (
            tokio::spawn(async move { install(&a, "busy").await }),
            tokio::spawn(async move { stop(&b, "busy").await }),
        )
    };
    h.mock.until_called(Op::Create, 1).await;
    let asked = Instant::now();
    let now = status(&actor).await;
    assert_eq!(asked.elapsed(), Duration::ZERO);
    assert_eq!(now.operation, Some(OpKind::Install));
    assert!(now.user_stopped, "the stop was accepted and recorded");

    // The stop waits for the install, then takes its 30 s grace.
    h.mock.until_called(Op::Stop, 1).await;
    let asked = Instant::now();
    assert_eq!(status(&actor).await.state, AppState::Stopping);
    assert_eq!(asked.elapsed(), Duration::ZERO);

    assert_eq!(installing.await.unwrap(), Ok(()));
    assert_eq!(stopping.await.unwrap(), Ok(()));
    assert_eq!(h.state("busy"), Some(AppState::Stopped));
    assert_eq!(h.mock.calls(Op::Start), 1);
    assert_eq!(
        h.mock.container("archy-busy").unwrap().state,
        RunState::Exited
    );
}

#[tokio::test(start_paused = true)]
async fn the_users_last_word_wins_over_an_older_identical_request() {
    let h = Harness::new();
    let m = single(&h, "fickle");
    let actor = h.installed(&m).await;
    h.mock.ignore_sigterm("archy-fickle");
    // Stop (in flight for its 30 s grace), then start, then stop again:
    // the second stop must not just join the first one.
    for request in [AppMsg::Stop { reply: None }, AppMsg::Start { reply: None }] {
        actor.cast(request).unwrap();
    }
    stop(&actor, "fickle").await.unwrap();
    assert_eq!(h.mock.calls(Op::Stop), 2);
    assert_eq!(h.state("fickle"), Some(AppState::Stopped));
    assert!(h.env.desired.load("fickle").unwrap().unwrap().user_stopped);
}

#[tokio::test(start_paused = true)]
async fn stop_then_start_brings_it_back_and_clears_the_users_stop() {
    let h = Harness::new();
    let m = single(&h, "toggle");
    let actor = h.installed(&m).await;
    stop(&actor, "toggle").await.unwrap();
    assert!(h.env.desired.load("toggle").unwrap().unwrap().user_stopped);
    start(&actor, "toggle").await.unwrap();
    assert!(!h.env.desired.load("toggle").unwrap().unwrap().user_stopped);
    assert_eq!(h.state("toggle"), Some(AppState::Running));
    assert_eq!(h.mock.calls(Op::Create), 1, "start reuses the container");
}

#[tokio::test(start_paused = true)]
async fn restart_stops_then_starts() {
    let h = Harness::new();
    let m = single(&h, "bounce");
    let actor = h.installed(&m).await;
    ask_restart(&actor).await.unwrap();
    assert_eq!(h.mock.calls(Op::Stop), 1);
    assert_eq!(h.mock.container("archy-bounce").unwrap().start_count, 2);
    assert_eq!(h.state("bounce"), Some(AppState::Running));
}

async fn ask_restart(actor: &ractor::ActorRef<AppMsg>) -> Result<(), AppError> {
    archy_actors::app::ask(actor, "bounce", |reply| AppMsg::Restart { reply }).await
}

fn dependent(h: &Harness, app: &str, on: &str) -> archy_apps::Manifest {
    h.mock.add_image(&image_of(app));
    manifest(&format!(
        "id: {app}\nname: {app}\nversion: \"1\"\ndepends_on: [{{ id: {on} }}]\n\
         container:\n  image: {}\n",
        image_of(app)
    ))
}

/// Install `dependency` and stop it, then try to install `app` on it.
async fn install_on_a_stopped_dependency(
    h: &Harness,
    dependency: &str,
    app: &str,
) -> (ActorRef<AppMsg>, AppError) {
    let base = single(h, dependency);
    let base_actor = h.installed(&base).await;
    stop(&base_actor, dependency).await.unwrap();
    let actor = h.spawn(&dependent(h, app, dependency)).await;
    let err = install(&actor, app).await.unwrap_err();
    assert!(matches!(h.state(app), Some(AppState::Blocked { .. })));
    (base_actor, err)
}

#[tokio::test(start_paused = true)]
async fn a_dependency_the_user_stopped_blocks_and_is_not_started() {
    let h = Harness::new();
    let (_, err) = install_on_a_stopped_dependency(&h, "chain", "wallet").await;
    assert_eq!(
        err,
        AppError::Blocked {
            app: "wallet".into(),
            reason: "needs chain, which you stopped; start it first".into()
        }
    );
    assert_eq!(h.mock.container("archy-chain").unwrap().start_count, 1);
    assert_eq!(h.state("chain"), Some(AppState::Stopped));
}

#[tokio::test(start_paused = true)]
async fn a_blocked_app_starts_once_the_user_starts_its_dependency() {
    let h = Harness::new();
    let (node_actor, _) = install_on_a_stopped_dependency(&h, "node", "explorer").await;
    start(&node_actor, "node").await.unwrap();
    h.until("explorer", |s| *s == AppState::Running).await;
}

#[tokio::test(start_paused = true)]
async fn a_missing_dependency_blocks_with_its_name() {
    let h = Harness::new();
    let m = dependent(&h, "orphan", "nowhere");
    let actor = h.spawn(&m).await;
    let err = install(&actor, "orphan").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("needs nowhere, which is not installed"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dependent_waits_for_its_dependency_to_come_up() {
    let h = Harness::new();
    let base = single(&h, "base");
    let base_actor = h.installed(&base).await;
    stop(&base_actor, "base").await.unwrap();
    start_in_background(&base_actor, "base");
    let top = dependent(&h, "top", "base");
    let actor = h.spawn(&top).await;
    install(&actor, "top").await.unwrap();
    assert_eq!(h.state("base"), Some(AppState::Running));
    assert_eq!(h.state("top"), Some(AppState::Running));
}

fn start_in_background(actor: &ractor::ActorRef<AppMsg>, app: &'static str) {
    let actor = actor.clone();
    tokio::spawn(async move { start(&actor, app).await });
}

#[tokio::test(start_paused = true)]
async fn a_slow_dependency_blocks_after_the_bounded_wait() {
    let h = Harness::new();
    let base = single(&h, "sluggish");
    let base_actor = h.installed(&base).await;
    stop(&base_actor, "sluggish").await.unwrap();
    // Started by the user but stuck: its start never returns.
    h.mock.hold(Op::Start);
    start_in_background(&base_actor, "sluggish");
    let top = dependent(&h, "patient", "sluggish");
    let actor = h.spawn(&top).await;
    let began = Instant::now();
    let err = install(&actor, "patient").await.unwrap_err();
    assert_eq!(began.elapsed(), Duration::from_secs(120));
    assert!(
        err.to_string().contains("waited 120 s for sluggish"),
        "{err}"
    );
}

fn with_data(h: &Harness, app: &str) -> archy_apps::Manifest {
    h.mock.add_image(&image_of(app));
    manifest(&format!(
        "id: {app}\nname: {app}\nversion: \"1\"\n\
         generated_secrets: [{{ name: pw, kind: alnum }}]\n\
         container:\n  image: {}\n  env: {{ PW: \"${{secret:pw}}\" }}\n  \
         volumes: [{{ data: files, target: /files }}, {{ volume: cache, target: /cache }}]\n",
        image_of(app)
    ))
}

#[tokio::test(start_paused = true)]
async fn uninstall_keeps_data_and_secrets_and_reinstall_reuses_them() {
    let h = Harness::new();
    let m = with_data(&h, "keeper");
    let (actor, handle) = archy_actors::app::AppActor::spawn(h.args(&m))
        .await
        .unwrap();
    install(&actor, "keeper").await.unwrap();
    let secret = h.env.secrets.get("keeper", "pw").unwrap();
    uninstall(&actor, "keeper", false).await.unwrap();
    assert!(h.mock.container("archy-keeper").is_none());
    assert!(h.board.get("keeper").is_none());
    assert!(h.env.desired.load("keeper").unwrap().is_none());
    assert!(h.env.data_root("keeper").join("files").is_dir());
    assert_eq!(h.mock.calls(Op::RemoveVolume), 0);

    // The actor has stopped itself, freeing its name for the next one.
    tokio::time::timeout(DEADLINE, handle)
        .await
        .unwrap()
        .unwrap();
    let again = h.installed(&m).await;
    assert_eq!(h.env.secrets.get("keeper", "pw").unwrap(), secret);
    let env = &h.mock.container("archy-keeper").unwrap().spec.env;
    assert_eq!(env["PW"], secret);
    again.stop(None);
}

#[tokio::test(start_paused = true)]
async fn uninstall_removes_by_force_when_the_graceful_stop_fails() {
    let h = Harness::new();
    let m = single(&h, "wedged");
    let actor = h.installed(&m).await;
    h.mock.hold(Op::Stop);
    let uninstalling = {
        let actor = actor.clone();
        tokio::spawn(async move { uninstall(&actor, "wedged", false).await })
    };
    // The engine never answers the stop; its deadline (grace + margin) fires.
    h.mock.until_called(Op::Stop, 1).await;
    assert_eq!(uninstalling.await.unwrap(), Ok(()));
    assert!(h.mock.container("archy-wedged").is_none());
}

#[tokio::test(start_paused = true)]
async fn uninstall_with_purge_deletes_volumes_data_and_secrets() {
    let h = Harness::new();
    let m = with_data(&h, "purged");
    let actor = h.installed(&m).await;
    uninstall(&actor, "purged", true).await.unwrap();
    assert!(h.mock.container("archy-purged").is_none());
    assert_eq!(h.mock.calls(Op::RemoveVolume), 1);
    assert!(!h.env.data_root("purged").exists());
    assert!(h.env.secrets.get("purged", "pw").is_none());
}

#[tokio::test(start_paused = true)]
async fn the_actor_stops_itself_after_uninstall() {
    let h = Harness::new();
    let m = single(&h, "leaving");
    let (actor, handle) = archy_actors::app::AppActor::spawn(h.args(&m))
        .await
        .unwrap();
    install(&actor, "leaving").await.unwrap();
    uninstall(&actor, "leaving", false).await.unwrap();
    tokio::time::timeout(DEADLINE, handle)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn every_transition_is_journalled_and_published_with_its_reason() {
    let h = Harness::new();
    let m = single(&h, "told");
    let mut published = h.board.subscribe();
    let actor = h.installed(&m).await;
    stop(&actor, "told").await.unwrap();
    let journalled: Vec<(String, String)> = h
        .env
        .journal
        .recent(Some("told"), None, 100)
        .into_iter()
        .map(|e| (e.to_state, e.reason))
        .collect();
    let states: Vec<&str> = journalled.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        states,
        [
            "installing (pulling)",
            "installing (creating)",
            "installing (starting)",
            "installing (verifying)",
            "running",
            "stopping",
            "stopped"
        ]
    );
    assert!(journalled.iter().all(|(_, reason)| !reason.is_empty()));
    for (state, reason) in &journalled {
        let t = published.recv().await.unwrap();
        assert_eq!((&t.to, &t.reason), (state, reason));
    }
}

#[tokio::test(start_paused = true)]
async fn a_stack_stops_in_reverse_order_each_member_with_its_own_grace() {
    let h = Harness::new();
    for image in ["pg", "site"] {
        h.mock.add_image(&format!("docker.io/library/{image}:1"));
    }
    let m = manifest(
        "id: blog\nname: Blog\nversion: \"1\"\nstack:\n\
         - { name: db, tier: database, image: \"docker.io/library/pg:1\" }\n\
         - { name: web, image: \"docker.io/library/site:1\" }\n",
    );
    let actor = h.installed(&m).await;
    h.mock
        .ignore_sigterm("archy-blog-db")
        .ignore_sigterm("archy-blog-web");
    let began = Instant::now();
    stop(&actor, "blog").await.unwrap();
    assert_eq!(began.elapsed(), Duration::from_secs(30 + 120));
    let finished = |name: &str| h.mock.container(name).unwrap().finished_at.unwrap();
    assert_eq!(
        finished("archy-blog-db") - finished("archy-blog-web"),
        Duration::from_secs(120),
        "web first (30 s), then the database (120 s)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_built_image_is_built_once_and_reused_while_its_context_is_unchanged() {
    let h = Harness::new();
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Containerfile"), "FROM scratch\n").unwrap();
    let m = manifest(&format!(
        "id: homemade\nname: h\nversion: \"1\"\ncontainer:\n  build: {{ context: {} }}\n",
        context.path().display()
    ));
    let (actor, handle) = archy_actors::app::AppActor::spawn(h.args(&m))
        .await
        .unwrap();
    install(&actor, "homemade").await.unwrap();
    assert_eq!(h.mock.calls(Op::Build), 1);
    uninstall(&actor, "homemade", false).await.unwrap();
    handle.await.unwrap();
    h.installed(&m).await;
    assert_eq!(
        h.mock.calls(Op::Build),
        1,
        "the tagged image is still there"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_manifest_for_a_stopped_app_applies_at_its_next_start() {
    let h = Harness::new();
    let m = single(&h, "later");
    let actor = h.installed(&m).await;
    stop(&actor, "later").await.unwrap();
    let mut v2 = m.clone();
    v2.container
        .as_mut()
        .unwrap()
        .env
        .insert("V".into(), "2".into());
    actor
        .cast(AppMsg::UpdateManifest(std::sync::Arc::new(v2)))
        .unwrap();
    assert_eq!(
        status(&actor).await.state,
        AppState::Stopped,
        "still stopped"
    );
    assert_eq!(h.mock.calls(Op::Start), 1);
    start(&actor, "later").await.unwrap();
    let container = h.mock.container("archy-later").unwrap();
    assert_eq!(container.spec.env["V"], "2");
    assert_eq!(container.state, RunState::Running);
}
