//! Installing: cost in engine calls, joining duplicates, pull retry with
//! backoff, and the failsafe that leaves nothing half-running.

mod app_support;

use std::time::Duration;

use app_support::*;
use archy_actors::app::{AppError, AppState, OpKind};
use archy_runtime::mock::Op;
use tokio::time::Instant;

/// Single container, image present: `create`, `start`, and the verify
/// window's one final `inspect` = 3 engine calls. The first install in a
/// process also ensures the `archy` network (4); later ones do not.
#[tokio::test(start_paused = true)]
async fn engine_calls_per_install_are_create_start_and_one_inspect() {
    let h = Harness::new();
    let m = single(&h, "cost");
    let actor = h.installed(&m).await;
    assert_eq!(h.state("cost"), Some(AppState::Running));
    assert_eq!(h.mock.calls(Op::ImagePresent), 0, "create comes first");
    assert_eq!(h.mock.calls(Op::Create), 1);
    assert_eq!(h.mock.calls(Op::Start), 1);
    assert_eq!(h.mock.calls(Op::Inspect), 1, "no polling: one final look");
    assert_eq!(h.mock.calls(Op::EnsureNetwork), 1);
    assert_eq!(h.mock.total_calls(), 4);

    let second = single(&h, "cost-two");
    h.mock.reset_calls();
    h.installed(&second).await;
    assert_eq!(h.mock.calls(Op::EnsureNetwork), 0);
    assert_eq!(h.mock.total_calls(), 3);
    actor.stop(None);
}

/// Image missing: the create that finds it missing, `image_present`, the
/// pull, `image_present` again, then the create that succeeds.
#[tokio::test(start_paused = true)]
async fn a_missing_image_is_pulled_only_after_create_finds_it_missing() {
    let h = Harness::new();
    let m = single(&h, "fetched");
    h.mock.remove_image(&image_of("fetched"));
    h.installed(&m).await;
    assert_eq!(h.mock.calls(Op::Create), 2);
    assert_eq!(h.mock.calls(Op::ImagePresent), 2);
    assert_eq!(h.mock.calls(Op::Pull), 1);
    assert_eq!(h.state("fetched"), Some(AppState::Running));
}

#[tokio::test(start_paused = true)]
async fn the_board_shows_the_container_ids_right_after_install_and_start() {
    let h = Harness::new();
    let m = single(&h, "shown");
    let actor = h.installed(&m).await;
    let id = h.mock.container("archy-shown").unwrap().id;
    assert_eq!(h.board.get("shown").unwrap().containers, vec![id.clone()]);

    // A start recreates a container removed by hand: the new id shows.
    stop(&actor, "shown").await.unwrap();
    assert!(h.mock.remove_externally("archy-shown"));
    start(&actor, "shown").await.unwrap();
    let new_id = h.mock.container("archy-shown").unwrap().id;
    assert_ne!(new_id, id);
    assert_eq!(h.board.get("shown").unwrap().containers, [new_id]);
}

#[tokio::test(start_paused = true)]
async fn duplicate_install_joins_the_one_in_flight() {
    let h = Harness::new();
    let m = single(&h, "twice");
    let actor = h.spawn(&m).await;
    let (a, b) = tokio::join!(install(&actor, "twice"), install(&actor, "twice"));
    assert_eq!((a, b), (Ok(()), Ok(())));
    assert_eq!(h.mock.calls(Op::Create), 1);
    assert_eq!(h.mock.calls(Op::Start), 1);
}

#[tokio::test(start_paused = true)]
async fn test_pull_retry_backoff() {
    let h = Harness::new();
    let m = single(&h, "flaky");
    let image = image_of("flaky");
    h.mock.remove_image(&image).fail_pulls(&image, 2);
    let actor = h.spawn(&m).await;
    let installing = tokio::spawn(async move { install(&actor, "flaky").await });

    let mut at = Vec::new();
    for n in 1..=3 {
        h.mock.until_called(Op::Pull, n).await;
        at.push(Instant::now());
    }
    assert_eq!(at[1] - at[0], Duration::from_secs(5));
    assert_eq!(at[2] - at[1], Duration::from_secs(15));
    assert_eq!(installing.await.unwrap(), Ok(()));
    assert_eq!(h.mock.calls(Op::Pull), 3);
    assert_eq!(h.state("flaky"), Some(AppState::Running));
}

#[tokio::test(start_paused = true)]
async fn test_pull_all_attempts_fail() {
    let h = Harness::new();
    let m = single(&h, "offline");
    let image = image_of("offline");
    h.mock.remove_image(&image).fail_pulls_always(&image);
    let actor = h.spawn(&m).await;
    let err = install(&actor, "offline").await.unwrap_err();
    let AppError::Failed { reason, .. } = err else {
        panic!("expected Failed, got {err:?}");
    };
    assert!(reason.contains("after 3 attempts"), "{reason}");
    assert_eq!(h.mock.calls(Op::Pull), 3);
    assert_eq!(h.mock.calls(Op::Create), 1, "the one that found no image");
    assert!(h.mock.container_names().is_empty());
    assert!(matches!(h.state("offline"), Some(AppState::Failed { .. })));
}

#[tokio::test(start_paused = true)]
async fn test_failsafe_install_image_missing() {
    let h = Harness::new();
    let m = single(&h, "ghost");
    let image = image_of("ghost");
    h.mock.remove_image(&image).vanish_after_pull(&image);
    let actor = h.spawn(&m).await;
    let err = install(&actor, "ghost").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("reported success but the image is not present"),
        "{err}"
    );
    assert_eq!(h.mock.calls(Op::Pull), 1);
    assert_eq!(h.mock.calls(Op::Create), 1, "the one that found no image");
    assert!(h.mock.container_names().is_empty());
}

fn crashy(h: &Harness, app: &str) -> archy_apps::Manifest {
    let image = format!("docker.io/library/{app}:1");
    h.mock.add_image(&image);
    // Dies 2 s after each start, inside the 5 s verify window.
    h.mock
        .exit_on_start_after(&format!("archy-{app}"), 3, Duration::from_secs(2));
    manifest(&format!(
        "id: {app}\nname: c\nversion: \"1\"\ncontainer:\n  image: {image}\n  \
         volumes: [{{ data: db, target: /db }}]\n"
    ))
}

/// Install `m`, with `log` in the container's logs once it started;
/// returns the failure and how long the install took.
async fn failed_install(h: &Harness, m: &archy_apps::Manifest, log: &str) -> (String, Duration) {
    let actor = h.spawn(m).await;
    let started = Instant::now();
    let installing = {
        let actor = actor.clone();
        let app = m.id.clone();
        tokio::spawn(async move { install(&actor, &app).await })
    };
    h.mock.until_called(Op::Start, 1).await;
    assert!(h.mock.push_logs(&format!("archy-{}", m.id), &[log]));
    let err = installing.await.unwrap().unwrap_err();
    (err.to_string(), started.elapsed())
}

/// The die event reaches the install through the actor: it fails at the
/// death, not at the end of the window, with the exit code and the logs.
#[tokio::test(start_paused = true)]
async fn test_failsafe_install_rollback() {
    let h = Harness::new();
    let m = crashy(&h, "crashy");
    let _events = forward_deaths(&h.mock).await;
    let (reason, took) = failed_install(&h, &m, "config missing: /db/app.conf").await;
    assert_eq!(took, Duration::from_secs(2), "failed at the death");
    assert!(
        reason.contains("exited with code 3 during the first 5 s"),
        "{reason}"
    );
    assert!(reason.contains("config missing: /db/app.conf"), "{reason}");
    assert_eq!(h.mock.calls(Op::Inspect), 1, "one look, at the event");
    // Rolled back: no container left, the data directory kept.
    assert!(h.mock.container("archy-crashy").is_none());
    assert!(h.env.data_root("crashy").join("db").is_dir());
    assert!(matches!(h.state("crashy"), Some(AppState::Failed { .. })));
}

/// Without the die event (missed), the final inspect at the window's end
/// still catches the dead container.
#[tokio::test(start_paused = true)]
async fn a_death_whose_event_is_missed_is_caught_by_the_final_inspect() {
    let h = Harness::new();
    let m = crashy(&h, "quiet-crash");
    let (reason, took) = failed_install(&h, &m, "segfault").await;
    assert_eq!(took, Duration::from_secs(5), "caught at the window's end");
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(reason.contains("segfault"), "{reason}");
    assert!(h.mock.container("archy-quiet-crash").is_none());
}

/// A die event about a container that still runs (e.g. the late event of
/// an earlier stop) only costs a look: the window goes on to its end.
#[tokio::test(start_paused = true)]
async fn a_stale_death_report_does_not_fail_the_window() {
    let h = Harness::new();
    let m = single(&h, "steady");
    let actor = h.spawn(&m).await;
    let started = Instant::now();
    let installing = {
        let actor = actor.clone();
        tokio::spawn(async move { install(&actor, "steady").await })
    };
    h.mock.until_called(Op::Start, 1).await;
    actor
        .cast(archy_actors::app::AppMsg::Died {
            container: "archy-steady".into(),
            exit_code: Some(0),
        })
        .unwrap();
    assert_eq!(installing.await.unwrap(), Ok(()));
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(
        h.mock.calls(Op::Inspect),
        2,
        "one at the report, one at the end"
    );
}

#[tokio::test(start_paused = true)]
async fn uninstall_cancels_an_install_stuck_in_a_slow_pull() {
    let h = Harness::new();
    let m = single(&h, "slowpoke");
    let image = image_of("slowpoke");
    h.mock
        .remove_image(&image)
        .slow_pull(&image, Duration::from_secs(3600));
    let actor = h.spawn(&m).await;
    let installing = {
        let actor = actor.clone();
        tokio::spawn(async move { install(&actor, "slowpoke").await })
    };
    h.mock.until_called(Op::Pull, 1).await;
    let started = Instant::now();
    uninstall(&actor, "slowpoke", false).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    let cancelled = installing.await.unwrap().unwrap_err();
    assert!(
        matches!(
            cancelled,
            AppError::Cancelled {
                op: OpKind::Install,
                ..
            }
        ),
        "{cancelled:?}"
    );
    assert_eq!(h.mock.calls(Op::Create), 1, "the one that found no image");
    assert!(h.mock.container_names().is_empty());
    assert!(h.board.get("slowpoke").is_none());
    assert!(h.env.desired.load("slowpoke").unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_hundred_apps_install_concurrently() {
    let h = Harness::new();
    let mut actors = Vec::new();
    for i in 0..100 {
        let m = single(&h, &format!("many-{i}"));
        actors.push((m.id.clone(), h.spawn(&m).await));
    }
    let started = Instant::now();
    let results =
        futures::future::join_all(actors.iter().map(|(app, actor)| install(actor, app))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // They ran side by side: one verify window, not a hundred.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.mock.calls(Op::Create), 100);
    assert_eq!(h.mock.calls(Op::EnsureNetwork), 1);
    assert!(h.board.all().iter().all(|s| s.state == AppState::Running));
}

#[tokio::test(start_paused = true)]
async fn a_request_for_an_app_that_is_not_installed_says_so() {
    let h = Harness::new();
    let m = single(&h, "nothing");
    let actor = h.spawn(&m).await;
    let err = start(&actor, "nothing").await.unwrap_err();
    assert_eq!(
        err,
        AppError::NotInstalled {
            app: "nothing".into()
        }
    );
    assert_eq!(h.mock.total_calls(), 0);
}
