//! Installing: cost in engine calls, joining duplicates, pull retry with
//! backoff, and the failsafe that leaves nothing half-running.

mod app_support;

use std::time::Duration;

use app_support::*;
use archy_actors::app::{AppError, AppState, OpKind};
use archy_runtime::mock::Op;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn engine_calls_per_install_are_three_plus_the_verify_inspects() {
    let h = Harness::new();
    let m = single(&h, "cost");
    let actor = h.installed(&m).await;
    assert_eq!(h.state("cost"), Some(AppState::Running));
    assert_eq!(h.mock.calls(Op::ImagePresent), 1);
    assert_eq!(h.mock.calls(Op::Create), 1);
    assert_eq!(h.mock.calls(Op::Start), 1);
    // 5 s window polled every 250 ms.
    assert_eq!(h.mock.calls(Op::Inspect), 20);
    // Once per process, not per install.
    assert_eq!(h.mock.calls(Op::EnsureNetwork), 1);
    assert_eq!(h.mock.total_calls(), 24);

    let second = single(&h, "cost-two");
    h.mock.reset_calls();
    h.installed(&second).await;
    assert_eq!(h.mock.calls(Op::EnsureNetwork), 0);
    assert_eq!(h.mock.total_calls(), 23);
    actor.stop(None);
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
    assert_eq!(h.mock.calls(Op::Create), 0);
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
    assert_eq!(h.mock.calls(Op::Create), 0);
    assert!(h.mock.container_names().is_empty());
}

#[tokio::test(start_paused = true)]
async fn test_failsafe_install_rollback() {
    let h = Harness::new();
    let m = manifest(
        "id: crashy\nname: c\nversion: \"1\"\ncontainer:\n  image: docker.io/library/crashy:1\n  \
         volumes: [{ data: db, target: /db }]\n",
    );
    h.mock.add_image("docker.io/library/crashy:1");
    h.mock
        .exit_on_start_after("archy-crashy", 3, Duration::from_secs(2));
    let actor = h.spawn(&m).await;
    let installing = {
        let actor = actor.clone();
        tokio::spawn(async move { install(&actor, "crashy").await })
    };
    h.mock.until_called(Op::Start, 1).await;
    assert!(h
        .mock
        .push_logs("archy-crashy", &["config missing: /db/app.conf"]));
    let err = installing.await.unwrap().unwrap_err();
    let reason = err.to_string();
    assert!(
        reason.contains("exited with code 3 during the first 5 s"),
        "{reason}"
    );
    assert!(reason.contains("config missing: /db/app.conf"), "{reason}");
    // Rolled back: no container left, the data directory kept.
    assert!(h.mock.container("archy-crashy").is_none());
    assert!(h.env.data_root("crashy").join("db").is_dir());
    assert!(matches!(h.state("crashy"), Some(AppState::Failed { .. })));
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
    assert_eq!(h.mock.calls(Op::Create), 0);
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
