//! When containers die: restart with backoff, give up past the limit,
//! rest_for_one inside a stack, and never against the user's word.

mod app_support;

use std::time::Duration;

use app_support::*;
use archy_actors::app::{AppMsg, AppState};
use archy_actors::status::Transition;
use archy_runtime::mock::Op;
use archy_runtime::RunState;
use tokio::time::Instant;

fn died(container: &str) -> AppMsg {
    AppMsg::Died {
        container: container.into(),
        exit_code: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_loop_restarts_with_doubling_backoff_then_fails() {
    let h = Harness::new();
    let m = single(&h, "loopy");
    let actor = h.installed(&m).await;
    let mut transitions = h.board.subscribe();
    // From now on the process dies as soon as it starts.
    h.mock.exit_on_start("archy-loopy", 1);
    assert!(h.mock.crash("archy-loopy", 1));
    actor.cast(died("archy-loopy")).unwrap();

    let mut restarts: Vec<(Instant, Transition)> = Vec::new();
    loop {
        let t = transitions.recv().await.unwrap();
        if t.app != "loopy" {
            continue;
        }
        if t.to == "failed" {
            assert!(t.reason.contains("crashed 5 times"), "{}", t.reason);
            assert!(t.reason.contains("start it to try again"), "{}", t.reason);
            break;
        }
        if t.to == "restarting" && t.reason.contains("; restart ") {
            restarts.push((Instant::now(), t));
        }
    }
    // The first restart is immediate; the loop then backs off, doubling.
    let waits = [0, 5, 10, 20, 40];
    assert_eq!(restarts.len(), waits.len());
    for (k, (_, t)) in restarts.iter().enumerate() {
        let expected = match waits[k] {
            0 => format!("restart {} now", k + 1),
            wait => format!("restart {} in {wait} s", k + 1),
        };
        assert!(
            t.reason.contains(&expected),
            "{} lacks {expected}",
            t.reason
        );
    }
    // Each retry starts after its wait; no die events are forwarded here,
    // so the verify window's final inspect catches the death at its end.
    for k in 1..restarts.len() {
        let gap = restarts[k].0 - restarts[k - 1].0;
        assert_eq!(
            gap,
            Duration::from_secs(waits[k - 1]) + Duration::from_secs(5)
        );
    }
    assert_eq!(h.mock.container("archy-loopy").unwrap().start_count, 1 + 5);
    assert_eq!(status(&actor).await.restart_count, 5);
}

#[tokio::test(start_paused = true)]
async fn a_single_crash_is_restarted_at_once() {
    let h = Harness::new();
    let m = single(&h, "hiccup");
    let actor = h.installed(&m).await;
    let crashed_at = Instant::now();
    h.mock.crash("archy-hiccup", 137);
    actor.cast(died("archy-hiccup")).unwrap();
    h.mock.until_called(Op::Start, 2).await;
    assert_eq!(crashed_at.elapsed(), Duration::ZERO);
    h.until("hiccup", |s| *s == AppState::Running).await;
    assert_eq!(
        h.mock.container("archy-hiccup").unwrap().state,
        RunState::Running
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_die_event_of_a_running_container_is_not_a_crash() {
    let h = Harness::new();
    let m = single(&h, "steady");
    let actor = h.installed(&m).await;
    // E.g. the event of the stop inside a restart, delivered after it ended.
    actor.cast(died("archy-steady")).unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.mock.calls(Op::Start), 1);
    assert_eq!(h.state("steady"), Some(AppState::Running));
}

#[tokio::test(start_paused = true)]
async fn the_reconcilers_list_also_reveals_a_death() {
    let h = Harness::new();
    let m = single(&h, "listed");
    let actor = h.installed(&m).await;
    let mut transitions = h.board.subscribe();
    h.mock.set_state("archy-listed", RunState::Exited, Some(2));
    let observed = archy_runtime::ContainerRuntime::list_managed(&h.mock)
        .await
        .unwrap();
    actor.cast(AppMsg::Observe(observed)).unwrap();
    let restarting = next_into(&mut transitions, "listed", "restarting").await;
    assert!(
        restarting.reason.contains("exited with code 2"),
        "{}",
        restarting.reason
    );
    h.until("listed", |s| *s == AppState::Running).await;
}

#[tokio::test(start_paused = true)]
async fn a_stale_list_read_after_an_operation_is_not_a_crash() {
    let h = Harness::new();
    let m = single(&h, "stale");
    let actor = h.installed(&m).await;
    h.mock.set_state("archy-stale", RunState::Exited, Some(0));
    let taken_mid_restart = archy_runtime::ContainerRuntime::list_managed(&h.mock)
        .await
        .unwrap();
    h.mock.set_state("archy-stale", RunState::Running, None);
    actor.cast(AppMsg::Observe(taken_mid_restart)).unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.mock.calls(Op::Start), 1);
    assert_eq!(h.state("stale"), Some(AppState::Running));
}

#[tokio::test(start_paused = true)]
async fn a_user_stopped_app_is_never_restarted() {
    let h = Harness::new();
    let m = single(&h, "resting");
    let actor = h.installed(&m).await;
    stop(&actor, "resting").await.unwrap();
    actor.cast(died("archy-resting")).unwrap();
    let observed = archy_runtime::ContainerRuntime::list_managed(&h.mock)
        .await
        .unwrap();
    actor.cast(AppMsg::Observe(observed)).unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(h.mock.calls(Op::Start), 1);
    assert_eq!(status(&actor).await.state, AppState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_user_stop_cancels_a_pending_crash_restart() {
    let h = Harness::new();
    let m = single(&h, "pending");
    let actor = h.installed(&m).await;
    let mut transitions = h.board.subscribe();
    // The first crash heals at once; the second waits its backoff.
    h.mock.crash("archy-pending", 1);
    actor.cast(died("archy-pending")).unwrap();
    next_into(&mut transitions, "pending", "restarting").await;
    next_into(&mut transitions, "pending", "running").await;
    h.mock.crash("archy-pending", 1);
    actor.cast(died("archy-pending")).unwrap();
    let pending = next_into(&mut transitions, "pending", "restarting").await;
    assert!(
        pending.reason.ends_with("restart 2 in 5 s"),
        "{}",
        pending.reason
    );
    stop(&actor, "pending").await.unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.mock.calls(Op::Start), 2);
    assert_eq!(h.state("pending"), Some(AppState::Stopped));
}

#[tokio::test(start_paused = true)]
async fn a_stop_asked_during_a_failing_restart_is_not_undone_by_the_next_one() {
    let h = Harness::new();
    let m = single(&h, "relapse");
    let actor = h.installed(&m).await;
    h.mock.exit_on_start("archy-relapse", 1);
    h.mock.crash("archy-relapse", 1);
    actor.cast(died("archy-relapse")).unwrap();
    // The first restart is running (and will fail) when the user stops it.
    h.mock.until_called(Op::Start, 2).await;
    stop(&actor, "relapse").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(h.mock.calls(Op::Start), 2);
    assert_eq!(h.state("relapse"), Some(AppState::Stopped));
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_crashed_member_and_those_after_it() {
    let h = Harness::new();
    for image in ["db", "api", "web"] {
        h.mock.add_image(&format!("docker.io/library/{image}:1"));
    }
    let m = manifest(
        "id: shop\nname: Shop\nversion: \"1\"\nstack:\n\
         - { name: db, image: \"docker.io/library/db:1\" }\n\
         - { name: api, image: \"docker.io/library/api:1\" }\n\
         - { name: web, image: \"docker.io/library/web:1\" }\n",
    );
    let actor = h.installed(&m).await;
    let mut transitions = h.board.subscribe();
    h.mock.crash("archy-shop-api", 1);
    actor.cast(died("archy-shop-api")).unwrap();
    next_into(&mut transitions, "shop", "restarting").await;
    next_into(&mut transitions, "shop", "running").await;
    let starts = |name: &str| h.mock.container(name).unwrap().start_count;
    assert_eq!(
        starts("archy-shop-db"),
        1,
        "members before the crash are untouched"
    );
    assert_eq!(starts("archy-shop-api"), 2);
    assert_eq!(starts("archy-shop-web"), 2);
    assert_eq!(
        h.mock.container("archy-shop-db").unwrap().state,
        RunState::Running
    );
}

#[tokio::test(start_paused = true)]
async fn an_unhealthy_verdict_restarts_the_app_like_a_crash() {
    let h = Harness::new();
    let m = single(&h, "pulse");
    let actor = h.installed(&m).await;
    let mut transitions = h.board.subscribe();
    let verdict = AppMsg::HealthChanged {
        healthy: false,
        reason: "http probe failed 3 times".into(),
    };
    actor.cast(verdict).unwrap();
    let mut path = Vec::new();
    while path.last().map(String::as_str) != Some("running") {
        path.push(transitions.recv().await.unwrap().to);
    }
    assert_eq!(path, ["unhealthy", "restarting", "restarting", "running"]);
    assert_eq!(h.mock.container("archy-pulse").unwrap().start_count, 2);
}

#[tokio::test(start_paused = true)]
async fn an_engine_outage_is_waited_out_without_charging_the_app() {
    let h = Harness::new();
    let m = single(&h, "outage");
    let actor = h.installed(&m).await;
    h.mock.crash("archy-outage", 137);
    h.mock.set_unavailable(true);
    actor.cast(AppMsg::Start { reply: None }).unwrap();
    let waiting = h
        .until("outage", |s| matches!(s, AppState::Failed { .. }))
        .await;
    assert!(waiting.reason.contains("unavailable"), "{}", waiting.reason);
    assert!(
        waiting.reason.contains("trying again in 10 s"),
        "{}",
        waiting.reason
    );
    // Down for ten minutes: retried all along, never given up on.
    tokio::time::sleep(Duration::from_secs(600)).await;
    h.mock.set_unavailable(false);
    h.until("outage", |s| *s == AppState::Running).await;
    assert_eq!(
        h.mock.container("archy-outage").unwrap().state,
        RunState::Running
    );
    assert_eq!(status(&actor).await.restart_count, 0);
}

/// A single-container app with its own `restart` policy (YAML flow map).
fn with_restart(h: &Harness, app: &str, restart: &str) -> archy_apps::Manifest {
    let image = image_of(app);
    h.mock.add_image(&image);
    manifest(&format!(
        "id: {app}\nname: {app}\nversion: \"1\"\ncontainer:\n  image: {image}\nrestart: {restart}\n"
    ))
}

#[tokio::test(start_paused = true)]
async fn the_manifests_restart_policy_is_the_one_applied() {
    let h = Harness::new();
    let m = with_restart(
        &h,
        "strict",
        "{ max_attempts: 3, backoff: { initial_secs: 2, max_secs: 3 } }",
    );
    let actor = h.installed(&m).await;
    let mut transitions = h.board.subscribe();
    h.mock.exit_on_start("archy-strict", 1);
    assert!(h.mock.crash("archy-strict", 1));
    actor.cast(died("archy-strict")).unwrap();
    let mut scheduled = Vec::new();
    let failed = loop {
        let t = transitions.recv().await.unwrap();
        if t.to == "failed" {
            break t;
        }
        if t.to == "restarting" && t.reason.contains("; restart ") {
            scheduled.push(t.reason);
        }
    };
    assert_eq!(scheduled.len(), 3, "{scheduled:?}");
    assert!(scheduled[0].ends_with("restart 1 now"), "{scheduled:?}");
    assert!(scheduled[1].ends_with("restart 2 in 2 s"), "{scheduled:?}");
    assert!(scheduled[2].ends_with("restart 3 in 3 s"), "{scheduled:?}");
    assert!(
        failed.reason.contains("crashed 3 times"),
        "{}",
        failed.reason
    );
    assert_eq!(h.mock.container("archy-strict").unwrap().start_count, 1 + 3);
}

/// Wait for `app`'s next transition into `to`.
async fn next_into(
    transitions: &mut tokio::sync::broadcast::Receiver<Transition>,
    app: &str,
    to: &str,
) -> Transition {
    loop {
        let t = transitions.recv().await.unwrap();
        if t.app == app && t.to == to {
            return t;
        }
    }
}

fn verdict(healthy: bool, reason: &str) -> AppMsg {
    AppMsg::HealthChanged {
        healthy,
        reason: reason.into(),
    }
}

#[tokio::test(start_paused = true)]
async fn past_max_attempts_of_health_failures_the_reason_names_the_health_check() {
    let h = Harness::new();
    let m = with_restart(
        &h,
        "sickly",
        "{ max_attempts: 2, backoff: { initial_secs: 1, max_secs: 1 } }",
    );
    let actor = h.installed(&m).await;
    let mut transitions = h.board.subscribe();
    for _ in 0..2 {
        actor.cast(verdict(false, "http GET / → 503")).unwrap();
        next_into(&mut transitions, "sickly", "restarting").await;
        next_into(&mut transitions, "sickly", "running").await;
    }
    actor.cast(verdict(false, "http GET / → 503")).unwrap();
    let failed = next_into(&mut transitions, "sickly", "failed").await;
    assert!(
        failed
            .reason
            .contains("failed its health check 2 times in a row"),
        "{}",
        failed.reason
    );
    assert!(!failed.reason.contains("crashed"), "{}", failed.reason);
}

#[tokio::test(start_paused = true)]
async fn a_health_verdict_without_a_state_change_is_published_live() {
    let h = Harness::new();
    let m = single(&h, "checked");
    let actor = h.installed(&m).await;
    assert_eq!(
        h.board.get("checked").unwrap().health,
        archy_actors::status::Health::Unknown
    );
    let mut transitions = h.board.subscribe();
    actor
        .cast(verdict(true, "every health probe passes"))
        .unwrap();
    let t = next_into(&mut transitions, "checked", "running").await;
    assert_eq!(t.from, "running");
    assert_eq!(t.reason, "healthy: every health probe passes");
    assert_eq!(
        h.board.get("checked").unwrap().health,
        archy_actors::status::Health::Healthy
    );
    let journal = h.env.journal.recent(Some("checked"), None, 100);
    let last = journal.last().unwrap();
    assert_eq!(
        (last.seq, last.reason.as_str()),
        (t.seq, "healthy: every health probe passes")
    );

    // The same verdict again is no news.
    actor
        .cast(verdict(true, "every health probe passes"))
        .unwrap();
    status(&actor).await;
    assert!(transitions.try_recv().is_err());
    assert_eq!(
        h.env.journal.recent(Some("checked"), None, 100).len(),
        journal.len()
    );
}
