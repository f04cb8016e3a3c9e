//! A (re)started app actor adopts what it finds: matching containers are
//! left untouched (invariant 4), everything else converges to the user's
//! word (invariant 1).

mod app_support;

use std::sync::Arc;
use std::time::Duration;

use app_support::*;
use archy_actors::app::{AppActor, AppMsg, AppState};
use archy_actors::store::DesiredApp;
use archy_actors::supervisor::{Supervisor, SupervisorArgs};
use archy_actors::tree::app_child_spec;
use archy_runtime::mock::Op;
use archy_runtime::{ContainerRuntime, RunState};
use ractor::ActorRef;

/// Mutating engine calls: what adoption must not make for a matching app.
fn mutations(h: &Harness) -> usize {
    [Op::Create, Op::Start, Op::Stop, Op::Remove, Op::Kill]
        .iter()
        .map(|op| h.mock.calls(*op))
        .sum()
}

/// Spawn the app's actor, install (and stop, if `user_stop`), then kill it
/// (as a panic would) and wait until it is gone.
async fn spawn_then_kill(h: &Harness, m: &archy_apps::Manifest, user_stop: bool) {
    let (actor, handle) = AppActor::spawn(h.args(m)).await.unwrap();
    install(&actor, &m.id).await.unwrap();
    if user_stop {
        stop(&actor, &m.id).await.unwrap();
    }
    actor.kill();
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_actor_killed_mid_operation_readopts_without_touching_the_container() {
    let h = Harness::new();
    let m = single(&h, "phoenix");
    let (actor, handle) = AppActor::spawn(h.args(&m)).await.unwrap();
    install(&actor, "phoenix").await.unwrap();
    // A start is in its verify window when the actor dies.
    actor.cast(AppMsg::Start { reply: None }).unwrap();
    let inspected = h.mock.calls(Op::Inspect);
    h.mock.until_called(Op::Inspect, inspected + 2).await;
    actor.kill();
    handle.await.unwrap();
    // Its operation task died with it: no more polling.
    let after_kill = h.mock.calls(Op::Inspect);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.mock.calls(Op::Inspect), after_kill);

    h.mock.reset_calls();
    let _again = h.respawn(&m).await;
    let adopted = h.until("phoenix", |s| *s == AppState::Running).await;
    assert!(adopted.reason.contains("adopted"), "{}", adopted.reason);
    assert_eq!(mutations(&h), 0);
    assert_eq!(h.mock.calls(Op::Inspect), 1, "one inspect per member");
    assert_eq!(h.mock.container("archy-phoenix").unwrap().start_count, 1);
}

#[tokio::test(start_paused = true)]
async fn a_supervised_actor_killed_mid_operation_is_restarted_and_readopts() {
    let h = Harness::new();
    let m = single(&h, "supervised");
    let args = SupervisorArgs {
        children: vec![app_child_spec(h.args(&m))],
        ..Default::default()
    };
    let (supervisor, _) = Supervisor::start(None, args).await.unwrap();
    let name = AppActor::name("supervised");
    let first = ActorRef::<AppMsg>::where_is(name.clone()).unwrap();
    install(&first, "supervised").await.unwrap();
    // A start is in its verify window when the actor dies.
    first.cast(AppMsg::Start { reply: None }).unwrap();
    let inspected = h.mock.calls(Op::Inspect);
    h.mock.until_called(Op::Inspect, inspected + 2).await;
    h.mock.reset_calls();
    first.kill();

    // The supervisor starts a new actor under the same name; it adopts.
    let adopted = |s: Option<&archy_actors::status::AppStatus>| {
        s.is_some_and(|s| s.reason.contains("adopted"))
    };
    h.board
        .wait_for("supervised", adopted, DEADLINE)
        .await
        .unwrap();
    let second = ActorRef::<AppMsg>::where_is(name).unwrap();
    assert_ne!(first.get_id(), second.get_id());
    assert_eq!(status(&second).await.state, AppState::Running);
    assert_eq!(mutations(&h), 0);
    supervisor.stop(None);
}

#[tokio::test(start_paused = true)]
async fn adoption_recreates_a_container_whose_spec_changed_keeping_data() {
    let h = Harness::new();
    let m = single(&h, "evolve");
    spawn_then_kill(&h, &m, false).await;
    let mut v2 = m.clone();
    v2.container
        .as_mut()
        .unwrap()
        .env
        .insert("MODE".into(), "fast".into());
    let _actor = h.respawn(&v2).await;
    h.until("evolve", |s| *s == AppState::Running).await;
    let container = h.mock.container("archy-evolve").unwrap();
    assert_eq!(container.spec.env["MODE"], "fast");
    assert_eq!(h.mock.calls(Op::Remove), 1);
    assert_eq!(container.start_count, 1, "a fresh container");
}

#[tokio::test(start_paused = true)]
async fn adoption_recreates_a_missing_container() {
    let h = Harness::new();
    let m = single(&h, "vanished");
    spawn_then_kill(&h, &m, false).await;
    assert!(h.mock.remove_externally("archy-vanished"));
    let _actor = h.respawn(&m).await;
    h.until("vanished", |s| *s == AppState::Running).await;
    assert_eq!(h.mock.calls(Op::Create), 2);
}

#[tokio::test(start_paused = true)]
async fn adoption_starts_an_exited_container_the_user_wants_running() {
    let h = Harness::new();
    let m = single(&h, "sleepy");
    spawn_then_kill(&h, &m, false).await;
    h.mock.set_state("archy-sleepy", RunState::Exited, Some(0));
    h.mock.reset_calls();
    let _actor = h.respawn(&m).await;
    h.until("sleepy", |s| *s == AppState::Running).await;
    assert_eq!(h.mock.calls(Op::Create), 0);
    assert_eq!(h.mock.calls(Op::Start), 1);
}

#[tokio::test(start_paused = true)]
async fn adoption_stops_a_running_container_the_user_had_stopped() {
    let h = Harness::new();
    let m = single(&h, "quiet");
    spawn_then_kill(&h, &m, true).await;
    // Someone started it behind Archy's back.
    h.mock.start("archy-quiet").await.unwrap();
    let _actor = h.respawn(&m).await;
    h.until("quiet", |s| *s == AppState::Stopped).await;
    assert_eq!(
        h.mock.container("archy-quiet").unwrap().state,
        RunState::Exited
    );
}

#[tokio::test(start_paused = true)]
async fn adoption_leaves_a_stopped_app_stopped() {
    let h = Harness::new();
    let m = single(&h, "dormant");
    spawn_then_kill(&h, &m, true).await;
    h.mock.reset_calls();
    let _actor = h.respawn(&m).await;
    h.until("dormant", |s| *s == AppState::Stopped).await;
    assert_eq!(mutations(&h), 0);
}

#[tokio::test(start_paused = true)]
async fn adoption_finishes_an_uninstall_that_was_accepted() {
    let h = Harness::new();
    let m = single(&h, "halfgone");
    spawn_then_kill(&h, &m, false).await;
    let mut desired: DesiredApp = h.env.desired.load("halfgone").unwrap().unwrap();
    desired.installed = false;
    h.env.desired.save(&desired).unwrap();
    let (_actor, handle) = AppActor::spawn(h.args(&m)).await.unwrap();
    tokio::time::timeout(DEADLINE, handle)
        .await
        .unwrap()
        .unwrap();
    assert!(h.mock.container("archy-halfgone").is_none());
    assert!(h.env.desired.load("halfgone").unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_new_manifest_recreates_a_running_app() {
    let h = Harness::new();
    let m = single(&h, "upgrade");
    let actor = h.installed(&m).await;
    let mut v2 = m.clone();
    v2.version = "2".into();
    v2.container
        .as_mut()
        .unwrap()
        .env
        .insert("V".into(), "2".into());
    actor.cast(AppMsg::UpdateManifest(Arc::new(v2))).unwrap();
    h.mock.until_called(Op::Remove, 1).await;
    h.until("upgrade", |s| *s == AppState::Running).await;
    assert_eq!(
        h.mock.container("archy-upgrade").unwrap().spec.env["V"],
        "2"
    );
}

#[tokio::test(start_paused = true)]
async fn adoption_waits_for_an_engine_that_is_not_up_yet() {
    let h = Harness::new();
    let m = single(&h, "patient-boot");
    spawn_then_kill(&h, &m, false).await;
    h.mock.set_unavailable(true);
    h.mock.reset_calls();
    let actor = h.respawn(&m).await;
    let waiting = status(&actor).await;
    assert!(
        waiting.reason.contains("waiting for the container engine"),
        "{}",
        waiting.reason
    );
    h.mock.set_unavailable(false);
    let adopted = h.until("patient-boot", |s| *s == AppState::Running).await;
    assert!(adopted.reason.contains("adopted"), "{}", adopted.reason);
    assert_eq!(mutations(&h), 0);
}

#[tokio::test(start_paused = true)]
async fn an_install_queued_behind_an_uninstall_is_remembered() {
    let h = Harness::new();
    let m = single(&h, "again");
    let actor = h.installed(&m).await;
    // Both in the mailbox, in this order, before either runs.
    let uninstall = AppMsg::Uninstall {
        purge: false,
        reply: None,
    };
    actor.cast(uninstall).unwrap();
    install(&actor, "again").await.unwrap();
    assert_eq!(h.mock.calls(Op::Remove), 1, "the uninstall ran first");
    assert!(h.env.desired.load("again").unwrap().unwrap().installed);
    assert_eq!(h.state("again"), Some(AppState::Running));
}
