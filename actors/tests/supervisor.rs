//! The OTP supervision rules, each proved against the supervisor.

mod supervisor_probe;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use archy_actors::supervisor::{
    ChildSpec, Intensity, Restart, RestartCounts, Shutdown, Strategy, Supervisor, SupervisorArgs,
    SupervisorError, SupervisorMsg,
};
use ractor::{call_t, ActorRef};
use supervisor_probe::*;
use tokio::time::{advance, Instant};

fn args(
    strategy: Strategy,
    max_restarts: u32,
    period_secs: u64,
    children: Vec<ChildSpec>,
) -> SupervisorArgs {
    SupervisorArgs {
        strategy,
        intensity: Intensity {
            max_restarts,
            period: Duration::from_secs(period_secs),
        },
        children,
    }
}

async fn start(args: SupervisorArgs) -> ActorRef<SupervisorMsg> {
    Supervisor::start(None, args)
        .await
        .expect("supervisor starts")
        .0
}

async fn restart_counts(supervisor: &ActorRef<SupervisorMsg>) -> RestartCounts {
    call_t!(supervisor, SupervisorMsg::RestartCounts, 60_000).unwrap()
}

// ---- strategies ----

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_failed_child() {
    let mut journal = Journal::new();
    let abc = ["a", "b", "c"].map(|id| probe(id, &journal)).to_vec();
    let sup = start(args(Strategy::OneForOne, 3, 5, abc)).await;
    journal.expect(&["start:a", "start:b", "start:c"]).await;
    let (a, b, c) = (
        child(&sup, "a").await,
        child(&sup, "b").await,
        child(&sup, "c").await,
    );

    tell(&b, ProbeMsg::Panic);
    journal.expect(&["start:b"]).await;

    assert_eq!(child(&sup, "a").await.get_id(), a.get_id());
    assert_ne!(child(&sup, "b").await.get_id(), b.get_id());
    assert_eq!(child(&sup, "c").await.get_id(), c.get_id());
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_order_then_restarts_all_in_start_order() {
    let mut journal = Journal::new();
    let abc = ["a", "b", "c"].map(|id| probe(id, &journal)).to_vec();
    let sup = start(args(Strategy::OneForAll, 3, 5, abc)).await;
    journal.expect(&["start:a", "start:b", "start:c"]).await;

    tell(&child(&sup, "b").await, ProbeMsg::Fail);

    journal
        .expect(&["stop:c", "stop:a", "start:a", "start:b", "start:c"])
        .await;
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_failed_child_and_those_started_after_it_only() {
    let mut journal = Journal::new();
    let abcd = ["a", "b", "c", "d"].map(|id| probe(id, &journal)).to_vec();
    let sup = start(args(Strategy::RestForOne, 3, 5, abcd)).await;
    journal
        .expect(&["start:a", "start:b", "start:c", "start:d"])
        .await;
    let a = child(&sup, "a").await;

    tell(&child(&sup, "b").await, ProbeMsg::Panic);

    journal
        .expect(&["stop:d", "stop:c", "start:b", "start:c", "start:d"])
        .await;
    assert_eq!(child(&sup, "a").await.get_id(), a.get_id());
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn exits_of_instances_already_replaced_are_ignored() {
    let mut journal = Journal::new();
    let abc = ["a", "b", "c"].map(|id| probe(id, &journal)).to_vec();
    let (sup, _, mut reports) = owned_supervisor(args(Strategy::OneForAll, 1, 5, abc)).await;
    journal.expect(&["start:a", "start:b", "start:c"]).await;
    let (a, b) = (child(&sup, "a").await, child(&sup, "b").await);

    // Both die together; a's restart replaces b too, so b's exit, handled
    // next, is stale. Counted, it would exceed the budget of one restart.
    a.kill();
    b.kill();

    journal
        .expect(&["stop:c", "start:a", "start:b", "start:c"])
        .await;
    assert_eq!(child_ids(&sup).await, ["a", "b", "c"]);
    assert_eq!(restart_counts(&sup).await.total, 3);
    assert!(
        reports.try_recv().is_err(),
        "the supervisor must still be alive"
    );
    journal.expect_nothing_more();
}

// ---- restart types ----

#[tokio::test(start_paused = true)]
async fn permanent_child_is_restarted_even_after_a_normal_stop() {
    let mut journal = Journal::new();
    let sup = start(args(Strategy::OneForOne, 3, 5, vec![probe("p", &journal)])).await;
    journal.expect(&["start:p"]).await;

    tell(&child(&sup, "p").await, ProbeMsg::Stop(None));

    journal.expect(&["stop:p", "start:p"]).await;
}

#[tokio::test(start_paused = true)]
async fn transient_child_is_not_restarted_after_a_normal_stop() {
    for reason in [None, Some("normal"), Some("shutdown")] {
        let mut journal = Journal::new();
        let spec = probe("t", &journal).restart(Restart::Transient);
        let sup = start(args(Strategy::OneForOne, 3, 5, vec![spec])).await;
        journal.expect(&["start:t"]).await;
        let t = child(&sup, "t").await;

        tell(&t, ProbeMsg::Stop(reason.map(String::from)));
        exited(&t).await;

        let children = which_children(&sup).await;
        assert_eq!(children.len(), 1, "a transient child keeps its spec");
        assert!(
            children[0].cell.is_none(),
            "stopped with {reason:?}, yet running"
        );
        journal.expect(&["stop:t"]).await;
        journal.expect_nothing_more();
        sup.stop(None);
    }
}

#[tokio::test(start_paused = true)]
async fn transient_child_is_restarted_after_a_panic_an_error_or_a_kill() {
    let mut journal = Journal::new();
    let spec = probe("t", &journal).restart(Restart::Transient);
    let sup = start(args(Strategy::OneForOne, 5, 5, vec![spec])).await;
    journal.expect(&["start:t"]).await;

    tell(&child(&sup, "t").await, ProbeMsg::Panic);
    journal.expect(&["start:t"]).await;
    tell(&child(&sup, "t").await, ProbeMsg::Fail);
    journal.expect(&["start:t"]).await;
    child(&sup, "t").await.kill();
    journal.expect(&["start:t"]).await;
    tell(
        &child(&sup, "t").await,
        ProbeMsg::Stop(Some("crashed".into())),
    );
    journal.expect(&["stop:t", "start:t"]).await;
}

#[tokio::test(start_paused = true)]
async fn temporary_child_is_never_restarted_and_its_spec_is_dropped() {
    let mut journal = Journal::new();
    let children = vec![
        probe("keep", &journal),
        probe("tmp", &journal).restart(Restart::Temporary),
    ];
    let sup = start(args(Strategy::OneForOne, 3, 5, children)).await;
    journal.expect(&["start:keep", "start:tmp"]).await;
    let tmp = child(&sup, "tmp").await;

    tell(&tmp, ProbeMsg::Panic);
    exited(&tmp).await;

    assert_eq!(child_ids(&sup).await, ["keep"]);
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn temporary_sibling_stopped_by_one_for_all_is_not_restarted_and_is_dropped() {
    let mut journal = Journal::new();
    let children = vec![
        probe("a", &journal),
        probe("tmp", &journal).restart(Restart::Temporary),
        probe("c", &journal),
    ];
    let sup = start(args(Strategy::OneForAll, 3, 5, children)).await;
    journal.expect(&["start:a", "start:tmp", "start:c"]).await;

    tell(&child(&sup, "c").await, ProbeMsg::Panic);

    journal
        .expect(&["stop:tmp", "stop:a", "start:a", "start:c"])
        .await;
    assert_eq!(child_ids(&sup).await, ["a", "c"]);
    journal.expect_nothing_more();
}

// ---- intensity ----

#[tokio::test(start_paused = true)]
async fn max_restarts_within_the_period_are_allowed() {
    let mut journal = Journal::new();
    let (sup, _, mut reports) =
        owned_supervisor(args(Strategy::OneForOne, 3, 5, vec![probe("a", &journal)])).await;
    journal.expect(&["start:a"]).await;

    for _ in 0..3 {
        tell(&child(&sup, "a").await, ProbeMsg::Panic);
        journal.expect(&["start:a"]).await;
    }

    assert_eq!(restart_counts(&sup).await.total, 3);
    assert!(
        reports.try_recv().is_err(),
        "the supervisor must still be alive"
    );
}

#[tokio::test(start_paused = true)]
async fn one_restart_too_many_stops_the_children_in_reverse_order_and_fails_the_supervisor() {
    let mut journal = Journal::new();
    let abc = ["a", "b", "c"].map(|id| probe(id, &journal)).to_vec();
    let (sup, handle, mut reports) = owned_supervisor(args(Strategy::OneForOne, 2, 5, abc)).await;
    journal.expect(&["start:a", "start:b", "start:c"]).await;

    for _ in 0..2 {
        tell(&child(&sup, "b").await, ProbeMsg::Panic);
        journal.expect(&["start:b"]).await;
    }
    tell(&child(&sup, "b").await, ProbeMsg::Panic);

    journal.expect(&["stop:c", "stop:a"]).await;
    let report = next_report(&mut reports).await;
    assert!(
        report.starts_with("failed: more than 2 restarts within 5s"),
        "{report}"
    );
    tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .expect("the supervisor ends")
        .unwrap();
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_out_beyond_the_period_never_escalate() {
    let mut journal = Journal::new();
    let (sup, _, mut reports) =
        owned_supervisor(args(Strategy::OneForOne, 1, 5, vec![probe("a", &journal)])).await;
    journal.expect(&["start:a"]).await;

    for _ in 0..10 {
        tell(&child(&sup, "a").await, ProbeMsg::Panic);
        journal.expect(&["start:a"]).await;
        advance(Duration::from_secs(5)).await;
    }

    assert_eq!(restart_counts(&sup).await.total, 10);
    assert!(
        reports.try_recv().is_err(),
        "the supervisor must still be alive"
    );
}

#[tokio::test(start_paused = true)]
async fn the_period_slides_rather_than_resetting_after_a_quiet_gap() {
    let mut journal = Journal::new();
    let (sup, _, mut reports) =
        owned_supervisor(args(Strategy::OneForOne, 2, 10, vec![probe("a", &journal)])).await;
    journal.expect(&["start:a"]).await;
    let origin = Instant::now();

    // Failures at t = 0, 6 and 12 s: never more than two within 10 s.
    for at in [0, 6, 12] {
        tokio::time::sleep_until(origin + Duration::from_secs(at)).await;
        tell(&child(&sup, "a").await, ProbeMsg::Panic);
        journal.expect(&["start:a"]).await;
    }
    assert!(reports.try_recv().is_err(), "no escalation yet");

    // t = 14 s: 6, 12 and 14 make three within 10 s.
    tokio::time::sleep_until(origin + Duration::from_secs(14)).await;
    tell(&child(&sup, "a").await, ProbeMsg::Panic);

    let report = next_report(&mut reports).await;
    assert!(
        report.starts_with("failed: more than 2 restarts"),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn escalation_climbs_through_a_nested_supervisor_to_the_root_and_its_owner() {
    let mut journal = Journal::new();
    let inner = args(Strategy::OneForOne, 0, 5, vec![probe("leaf", &journal)]);
    let root_children = vec![
        probe("first", &journal),
        ChildSpec::supervisor("inner", None, inner),
        probe("last", &journal),
    ];
    let (root, root_handle, mut reports) =
        owned_supervisor(args(Strategy::OneForOne, 1, 5, root_children)).await;
    journal
        .expect(&["start:first", "start:leaf", "start:last"])
        .await;

    let leaf_of = |root: ActorRef<SupervisorMsg>| async move {
        let inner: ActorRef<SupervisorMsg> = child(&root, "inner").await.into();
        child(&inner, "leaf").await
    };

    // The inner supervisor allows no restart: it fails, and the root restarts it.
    tell(&leaf_of(root.clone()).await, ProbeMsg::Panic);
    journal.expect(&["start:leaf"]).await;
    assert_eq!(restart_counts(&root).await.by_child["inner"], 1);

    // Again: the root's own budget (1 in 5 s) is spent, so it fails in turn.
    tell(&leaf_of(root.clone()).await, ProbeMsg::Panic);
    journal.expect(&["stop:last", "stop:first"]).await;
    let report = next_report(&mut reports).await;
    assert!(
        report.starts_with("failed: more than 1 restarts"),
        "{report}"
    );
    tokio::time::timeout(Duration::from_secs(60), root_handle)
        .await
        .expect("the root ends")
        .unwrap();
}

// ---- shutdown ----

#[tokio::test(start_paused = true)]
async fn stopping_the_supervisor_stops_children_in_reverse_start_order() {
    let mut journal = Journal::new();
    let abc = ["a", "b", "c"].map(|id| probe(id, &journal)).to_vec();
    let (sup, handle) = Supervisor::start(None, args(Strategy::OneForOne, 1, 5, abc))
        .await
        .unwrap();
    journal.expect(&["start:a", "start:b", "start:c"]).await;

    sup.stop(None);

    journal.expect(&["stop:c", "stop:b", "stop:a"]).await;
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stopping_a_root_stops_a_nested_supervisor_s_children_in_order_too() {
    let mut journal = Journal::new();
    let inner = args(
        Strategy::OneForOne,
        1,
        5,
        vec![probe("x", &journal), probe("y", &journal)],
    );
    let children = vec![
        probe("a", &journal),
        ChildSpec::supervisor("inner", None, inner),
        probe("b", &journal),
    ];
    let (root, handle) = Supervisor::start(None, args(Strategy::OneForOne, 1, 5, children))
        .await
        .unwrap();
    journal
        .expect(&["start:a", "start:x", "start:y", "start:b"])
        .await;

    root.stop(None);

    journal
        .expect(&["stop:b", "stop:y", "stop:x", "stop:a"])
        .await;
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_stop_is_killed_after_its_shutdown_timeout() {
    let mut journal = Journal::new();
    let stubborn = ProbeArgs {
        hang_on_stop: true,
        ..ProbeArgs::new("stubborn", &journal)
    }
    .spec()
    .shutdown(Shutdown::Timeout(Duration::from_secs(30)));
    let children = vec![probe("a", &journal), stubborn];
    let (sup, handle) = Supervisor::start(None, args(Strategy::OneForOne, 1, 5, children))
        .await
        .unwrap();
    journal.expect(&["start:a", "start:stubborn"]).await;
    let stubborn = child(&sup, "stubborn").await;
    let began = Instant::now();

    sup.stop(None);

    journal.expect(&["stopping:stubborn", "stop:a"]).await;
    assert_eq!(began.elapsed(), Duration::from_secs(30));
    exited(&stubborn).await;
    handle.await.unwrap();
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_stops_a_child_at_once_without_its_post_stop() {
    let mut journal = Journal::new();
    let spec = probe("k", &journal).shutdown(Shutdown::BrutalKill);
    let (sup, handle) = Supervisor::start(None, args(Strategy::OneForOne, 1, 5, vec![spec]))
        .await
        .unwrap();
    journal.expect(&["start:k"]).await;
    let began = Instant::now();

    sup.stop(None);
    handle.await.unwrap();

    assert_eq!(began.elapsed(), Duration::ZERO);
    journal.expect_nothing_more();
}

// ---- dynamic children ----

#[tokio::test(start_paused = true)]
async fn children_can_be_started_and_terminated_at_runtime_without_counting_as_failures() {
    let mut journal = Journal::new();
    let sup = start(args(Strategy::OneForOne, 0, 5, vec![probe("a", &journal)])).await;
    journal.expect(&["start:a"]).await;

    let spec = probe("app", &journal);
    let started = call_t!(
        sup,
        |reply| SupervisorMsg::StartChild { spec, reply },
        60_000
    )
    .unwrap()
    .expect("the child starts");
    journal.expect(&["start:app"]).await;
    assert_eq!(child_ids(&sup).await, ["a", "app"]);
    assert_eq!(child(&sup, "app").await.get_id(), started.get_id());

    let id = "app".to_string();
    call_t!(
        sup,
        |reply| SupervisorMsg::TerminateChild { id, reply },
        60_000
    )
    .unwrap()
    .expect("the child is terminated");
    journal.expect(&["stop:app"]).await;

    // No restart budget at all: a deliberate stop taken for a failure would
    // have brought the supervisor down.
    assert_eq!(child_ids(&sup).await, ["a"]);
    assert_eq!(restart_counts(&sup).await, RestartCounts::default());
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_or_unknown_child_id_is_refused() {
    let mut journal = Journal::new();
    let sup = start(args(Strategy::OneForOne, 1, 5, vec![probe("a", &journal)])).await;
    journal.expect(&["start:a"]).await;

    let spec = probe("a", &journal);
    let duplicate = call_t!(
        sup,
        |reply| SupervisorMsg::StartChild { spec, reply },
        60_000
    )
    .unwrap();
    assert!(
        matches!(duplicate, Err(SupervisorError::DuplicateChild { ref id }) if id == "a"),
        "{duplicate:?}"
    );

    let id = "ghost".to_string();
    let unknown = call_t!(
        sup,
        |reply| SupervisorMsg::TerminateChild { id, reply },
        60_000
    )
    .unwrap();
    assert!(
        matches!(unknown, Err(SupervisorError::NoSuchChild { ref id }) if id == "ghost"),
        "{unknown:?}"
    );
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_child_that_fails_to_start_is_reported_and_not_kept() {
    let mut journal = Journal::new();
    let sup = start(args(Strategy::OneForOne, 1, 5, vec![])).await;

    let spec = ProbeArgs {
        refusals: always(),
        ..ProbeArgs::new("bad", &journal)
    }
    .spec();
    let result = call_t!(
        sup,
        |reply| SupervisorMsg::StartChild { spec, reply },
        60_000
    )
    .unwrap();

    assert!(
        matches!(result, Err(SupervisorError::StartFailed { ref id, .. }) if id == "bad"),
        "{result:?}"
    );
    journal.expect(&["start-failed:bad"]).await;
    assert!(child_ids(&sup).await.is_empty());
    journal.expect_nothing_more();
}

// ---- start failures ----

#[tokio::test(start_paused = true)]
async fn a_restart_whose_start_fails_is_charged_again_until_the_supervisor_escalates() {
    let mut journal = Journal::new();
    let refusals = Arc::new(AtomicU32::new(0));
    let children = vec![
        probe("a", &journal),
        ProbeArgs {
            refusals: refusals.clone(),
            ..ProbeArgs::new("b", &journal)
        }
        .spec(),
    ];
    let (sup, _, mut reports) = owned_supervisor(args(Strategy::OneForOne, 3, 5, children)).await;
    journal.expect(&["start:a", "start:b"]).await;

    refusals.store(u32::MAX, Ordering::SeqCst);
    tell(&child(&sup, "b").await, ProbeMsg::Panic);

    // Charged at the failure and before each retry: three attempts fit in a
    // budget of three, the fourth charge exceeds it.
    journal
        .expect(&[
            "start-failed:b",
            "start-failed:b",
            "start-failed:b",
            "stop:a",
        ])
        .await;
    let report = next_report(&mut reports).await;
    assert!(report.contains("last to exit: child `b`"), "{report}");
}

#[tokio::test(start_paused = true)]
async fn a_restart_that_succeeds_within_the_budget_after_failed_attempts_keeps_running() {
    let mut journal = Journal::new();
    let refusals = Arc::new(AtomicU32::new(0));
    let children = vec![ProbeArgs {
        refusals: refusals.clone(),
        ..ProbeArgs::new("a", &journal)
    }
    .spec()];
    let (sup, _, mut reports) = owned_supervisor(args(Strategy::OneForOne, 3, 5, children)).await;
    journal.expect(&["start:a"]).await;

    refusals.store(2, Ordering::SeqCst);
    tell(&child(&sup, "a").await, ProbeMsg::Panic);

    // Three charges (the failure and two retries) fit in a budget of three.
    journal
        .expect(&["start-failed:a", "start-failed:a", "start:a"])
        .await;
    assert_eq!(restart_counts(&sup).await.total, 1);
    assert!(
        reports.try_recv().is_err(),
        "the supervisor must still be alive"
    );
}

#[tokio::test(start_paused = true)]
async fn one_for_all_retries_a_failed_restart_by_restarting_all_again() {
    let mut journal = Journal::new();
    let refusals = Arc::new(AtomicU32::new(0));
    let children = vec![
        probe("a", &journal),
        probe("b", &journal),
        ProbeArgs {
            refusals: refusals.clone(),
            ..ProbeArgs::new("c", &journal)
        }
        .spec(),
    ];
    let sup = start(args(Strategy::OneForAll, 3, 5, children)).await;
    journal.expect(&["start:a", "start:b", "start:c"]).await;

    refusals.store(1, Ordering::SeqCst);
    tell(&child(&sup, "a").await, ProbeMsg::Panic);

    journal
        .expect(&[
            "stop:c",
            "stop:b",
            "start:a",
            "start:b",
            "start-failed:c", // first attempt
            "stop:b",
            "stop:a",
            "start:a",
            "start:b",
            "start:c", // retry of c under one_for_all
        ])
        .await;
    assert_eq!(child_ids(&sup).await, ["a", "b", "c"]);
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn a_failed_initial_start_stops_the_started_children_and_fails_the_supervisor() {
    let mut journal = Journal::new();
    let children = vec![
        probe("a", &journal),
        probe("b", &journal),
        ProbeArgs {
            refusals: always(),
            ..ProbeArgs::new("c", &journal)
        }
        .spec(),
        probe("d", &journal),
    ];

    let result = Supervisor::start(None, args(Strategy::OneForOne, 1, 5, children)).await;

    let error = result.expect_err("the supervisor must not start");
    assert!(
        error.to_string().contains("child `c` failed to start"),
        "{error}"
    );
    journal
        .expect(&["start:a", "start:b", "start-failed:c", "stop:b", "stop:a"])
        .await;
    journal.expect_nothing_more();
}

#[tokio::test(start_paused = true)]
async fn a_child_failing_in_post_start_is_restarted_like_any_failure() {
    // ractor returns Ok from spawn_linked, then reports ActorFailed without
    // ever sending ActorStarted.
    let mut journal = Journal::new();
    let spec = ProbeArgs {
        post_start_failures: Arc::new(AtomicU32::new(1)),
        ..ProbeArgs::new("a", &journal)
    }
    .spec();
    let sup = start(args(Strategy::OneForOne, 1, 5, vec![spec])).await;

    journal.expect(&["start:a", "start:a"]).await;
    assert_eq!(restart_counts(&sup).await.total, 1);
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_id_among_the_initial_children_fails_the_start() {
    let mut journal = Journal::new();
    let children = vec![probe("a", &journal), probe("a", &journal)];

    let error = Supervisor::start(None, args(Strategy::OneForOne, 1, 5, children))
        .await
        .expect_err("the supervisor must not start");

    assert!(
        error.to_string().contains("id `a` already exists"),
        "{error}"
    );
    journal.expect(&["start:a", "stop:a"]).await;
    journal.expect_nothing_more();
}

// ---- restart counts ----

#[tokio::test(start_paused = true)]
async fn restart_counts_are_kept_per_child_and_in_total() {
    let mut journal = Journal::new();
    let abc = ["a", "b", "c"].map(|id| probe(id, &journal)).to_vec();
    let sup = start(args(Strategy::RestForOne, 10, 5, abc)).await;
    journal.expect(&["start:a", "start:b", "start:c"]).await;

    tell(&child(&sup, "b").await, ProbeMsg::Panic); // restarts b and c
    journal.expect(&["stop:c", "start:b", "start:c"]).await;
    tell(&child(&sup, "c").await, ProbeMsg::Panic); // restarts c
    journal.expect(&["start:c"]).await;

    let counts = restart_counts(&sup).await;
    assert_eq!(counts.by_child.get("a"), None);
    assert_eq!(counts.by_child["b"], 1);
    assert_eq!(counts.by_child["c"], 2);
    assert_eq!(counts.total, 3);
}
