//! The tree as the daemon runs it: boot, crash recovery, adoption, and
//! supervisor restarts, against the mock engine under paused time.
//!
//! App ids are unique per test: app actors are registered by name, and the
//! tests of one binary share ractor's registry.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use archy_actors::app::{AppActor, AppState};
use archy_actors::boot::RebuildSource;
use archy_actors::store::{BootKind, StateDir};
use archy_actors::supervisor::{Intensity, SupervisorMsg};
use archy_actors::tree::{Archy, Exit, Request, TreeConfig};
use archy_runtime::mock::{MockRuntime, Op};
use archy_runtime::{labels, ContainerRuntime, ContainerSpec, InstanceId, RunState, SharedRuntime};
use ractor::call_t;
use std::sync::Arc;

const DEADLINE: Duration = Duration::from_secs(600);

/// `<dir>/catalog/<id>/manifest.yml` for each id; the state lives beside it.
fn write_catalog(dir: &Path, ids: &[&str]) {
    for id in ids {
        let app = dir.join("catalog").join(id);
        std::fs::create_dir_all(&app).unwrap();
        let yaml = format!(
            "id: {id}\nname: {id}\nversion: '1'\ndescription: test app\ncontainer:\n  image: localhost/{id}:1\n"
        );
        std::fs::write(app.join("manifest.yml"), yaml).unwrap();
    }
}

fn engine(ids: &[&str]) -> MockRuntime {
    let mock = MockRuntime::new();
    for id in ids {
        mock.add_image(&format!("localhost/{id}:1"));
    }
    mock
}

fn config(dir: &Path) -> TreeConfig {
    let mut config = TreeConfig::new(dir);
    config.snapshot_every = Duration::from_millis(10);
    config.registry.dirs = vec![dir.join("catalog")];
    config.registry.poll_every = None;
    config
}

async fn boot(dir: &Path, mock: &MockRuntime, ids: &[&str]) -> Archy {
    write_catalog(dir, ids);
    let runtime: SharedRuntime = Arc::new(mock.clone());
    Archy::boot(config(dir), runtime).await.unwrap()
}

/// A daemon that installed `ids` and shut down cleanly, booted again:
/// what a daemon restart finds. Engine calls are counted from the reboot.
async fn rebooted_with(dir: &Path, mock: &MockRuntime, ids: &[&str]) -> Archy {
    let archy = boot(dir, mock, ids).await;
    for id in ids {
        archy.request(id, Request::Install, true).await.unwrap();
    }
    archy.shutdown().await;
    mock.reset_calls();
    boot(dir, mock, ids).await
}

async fn until_state(archy: &Archy, app: &str, want: AppState) {
    archy
        .board()
        .wait_for(app, |s| s.is_some_and(|s| s.state == want), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Poll a condition on disk; time is paused, so each step is instant.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn mutating_calls(mock: &MockRuntime) -> usize {
    [Op::Create, Op::Start, Op::Stop, Op::Kill, Op::Remove]
        .iter()
        .map(|op| mock.calls(*op))
        .sum()
}

fn snapshot_says(dir: &Path, app: &str, state: &str) -> bool {
    StateDir::open(dir)
        .unwrap()
        .load_snapshot()
        .ok()
        .flatten()
        .is_some_and(|s| s.apps.iter().any(|a| a.app_id == app && a.state == state))
}

fn corrupt_desired(dir: &Path, app: &str) {
    std::fs::write(dir.join("apps").join(format!("{app}.json")), b"{ not json").unwrap();
}

#[tokio::test(start_paused = true)]
async fn daemon_restart_adopts_running_containers_without_recreating() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["adopt-a"]);
    let archy = boot(tmp.path(), &mock, &["adopt-a"]).await;
    archy
        .request("adopt-a", Request::Install, true)
        .await
        .unwrap();
    let id = mock.container("archy-adopt-a").unwrap().id;
    archy.shutdown().await;

    mock.reset_calls();
    let archy = boot(tmp.path(), &mock, &["adopt-a"]).await;
    assert_eq!(archy.boot_report().kind, BootKind::Clean);
    until_state(&archy, "adopt-a", AppState::Running).await;
    assert_eq!(
        mock.container("archy-adopt-a").unwrap().id,
        id,
        "same container"
    );
    assert_eq!(
        mutating_calls(&mock),
        0,
        "adoption must not touch the container"
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn boot_adopts_every_app_from_its_one_list_without_an_inspect_each() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ["seen-a", "seen-b", "seen-c"];
    let mock = engine(&ids);
    let archy = rebooted_with(tmp.path(), &mock, &ids).await;
    for id in ids {
        until_state(&archy, id, AppState::Running).await;
    }
    assert_eq!(mock.calls(Op::Inspect), 0, "adopted from the boot's list");
    assert_eq!(mutating_calls(&mock), 0);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_app_actor_looks_again_instead_of_trusting_the_boot_list() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["relook"]);
    let archy = rebooted_with(tmp.path(), &mock, &["relook"]).await;
    until_state(&archy, "relook", AppState::Running).await;

    // The container dies with its event lost: the boot's list is now wrong.
    assert!(mock.set_state("archy-relook", RunState::Exited, Some(1)));
    let before = archy.app_actor("relook").unwrap();
    before.kill();
    let after = loop {
        match archy.app_actor("relook") {
            Some(actor) if actor.get_id() != before.get_id() => break actor,
            _ => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    };
    // Answered after the restarted actor's adoption has decided.
    let status = call_t!(after, archy_actors::app::AppMsg::Status, 5_000).unwrap();
    assert_ne!(
        status.reason, "adopted its running containers",
        "a restarted actor must inspect, not reuse the boot's list"
    );
    until_state(&archy, "relook", AppState::Running).await;
    assert_eq!(
        mock.container("archy-relook").unwrap().state,
        RunState::Running
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn test_crash_recovery_skips_user_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ["skip-db", "skip-web"];
    let mock = engine(&ids);
    let archy = boot(tmp.path(), &mock, &ids).await;
    for id in ids {
        archy.request(id, Request::Install, true).await.unwrap();
    }
    archy
        .request("skip-web", Request::Stop, true)
        .await
        .unwrap();
    archy.abort().await;

    // While the daemon was down, the machine rebooted: every container exited.
    mock.set_state("archy-skip-db", RunState::Exited, Some(0));
    mock.set_state("archy-skip-web", RunState::Exited, Some(0));
    mock.reset_calls();

    let archy = boot(tmp.path(), &mock, &ids).await;
    assert!(matches!(archy.boot_report().kind, BootKind::Unclean { .. }));
    until_state(&archy, "skip-db", AppState::Running).await;
    until_state(&archy, "skip-web", AppState::Stopped).await;
    assert_eq!(
        mock.container("archy-skip-web").unwrap().state,
        RunState::Exited
    );
    assert_eq!(
        mock.calls(Op::Start),
        1,
        "only the app the user did not stop is started"
    );
    assert!(archy.board().get("skip-web").unwrap().user_stopped);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn test_crash_recovery_loads_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ["snap-on", "snap-off"];
    let mock = engine(&ids);
    let archy = boot(tmp.path(), &mock, &ids).await;
    for id in ids {
        archy.request(id, Request::Install, true).await.unwrap();
    }
    archy
        .request("snap-off", Request::Stop, true)
        .await
        .unwrap();
    until("the snapshot to record the stop", || {
        snapshot_says(tmp.path(), "snap-off", "stopped")
    })
    .await;
    archy.abort().await;

    // The crash also damaged both desired-state files.
    corrupt_desired(tmp.path(), "snap-on");
    corrupt_desired(tmp.path(), "snap-off");
    mock.reset_calls();

    let archy = boot(tmp.path(), &mock, &ids).await;
    let report = archy.boot_report().clone();
    assert!(report.snapshot_loaded);
    assert_eq!(
        report.quarantined,
        vec!["snap-off".to_string(), "snap-on".to_string()]
    );
    assert_eq!(
        report.rebuilt,
        vec![
            ("snap-off".to_string(), RebuildSource::Snapshot),
            ("snap-on".to_string(), RebuildSource::Snapshot)
        ]
    );
    until_state(&archy, "snap-on", AppState::Running).await;
    until_state(&archy, "snap-off", AppState::Stopped).await;
    assert_eq!(
        mutating_calls(&mock),
        0,
        "running one adopted, stopped one left stopped"
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn lost_desired_state_without_snapshot_is_rebuilt_from_the_engine_conservatively() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ["lost-up", "lost-down"];
    let mock = engine(&ids);
    let archy = boot(tmp.path(), &mock, &ids).await;
    for id in ids {
        archy.request(id, Request::Install, true).await.unwrap();
    }
    archy.shutdown().await;
    // A clean exit (no snapshot read), then both files lost; one container
    // is not running — the engine cannot say whether the user stopped it.
    std::fs::remove_file(tmp.path().join("snapshot.json")).unwrap();
    corrupt_desired(tmp.path(), "lost-up");
    std::fs::remove_file(tmp.path().join("apps/lost-down.json")).unwrap();
    mock.set_state("archy-lost-down", RunState::Exited, Some(0));
    mock.reset_calls();

    let archy = boot(tmp.path(), &mock, &ids).await;
    assert_eq!(
        archy.boot_report().rebuilt,
        vec![
            ("lost-down".to_string(), RebuildSource::Engine),
            ("lost-up".to_string(), RebuildSource::Engine)
        ]
    );
    until_state(&archy, "lost-up", AppState::Running).await;
    until_state(&archy, "lost-down", AppState::Stopped).await;
    assert_eq!(
        mutating_calls(&mock),
        0,
        "nothing started behind the user's back"
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn killed_app_actor_is_restarted_and_readopts_without_touching_the_container() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["kill-a"]);
    let archy = boot(tmp.path(), &mock, &["kill-a"]).await;
    archy
        .request("kill-a", Request::Install, true)
        .await
        .unwrap();
    let before = archy.app_actor("kill-a").unwrap();
    mock.reset_calls();

    before.kill();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let after = loop {
        match archy.app_actor("kill-a") {
            Some(actor) if actor.get_id() != before.get_id() => break actor,
            _ => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "actor was not restarted"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    let status = ractor::call_t!(after, archy_actors::app::AppMsg::Status, 5_000).unwrap();
    assert_eq!(status.state, AppState::Running);
    assert_eq!(mutating_calls(&mock), 0);
    let counts = call_t!(
        archy.apps_supervisor().await.unwrap(),
        SupervisorMsg::RestartCounts,
        5_000
    )
    .unwrap();
    assert_eq!(counts.by_child.get("kill-a"), Some(&1));
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn app_actor_killed_mid_stop_comes_back_and_honours_the_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["midstop"]);
    let archy = boot(tmp.path(), &mock, &["midstop"]).await;
    archy
        .request("midstop", Request::Install, true)
        .await
        .unwrap();
    mock.hold(Op::Stop);
    archy
        .request("midstop", Request::Stop, false)
        .await
        .unwrap();
    mock.until_called(Op::Stop, 1).await;
    archy.app_actor("midstop").unwrap().kill();
    mock.release(Op::Stop);

    until_state(&archy, "midstop", AppState::Stopped).await;
    assert_eq!(
        mock.container("archy-midstop").unwrap().state,
        RunState::Exited
    );
    assert_eq!(
        mock.calls(Op::Create) + mock.calls(Op::Remove),
        1,
        "only the install's create"
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn restarted_apps_supervisor_respawns_every_installed_app() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = ["resp-a", "resp-b"];
    let mock = engine(&ids);
    let archy = boot(tmp.path(), &mock, &ids).await;
    for id in ids {
        archy.request(id, Request::Install, true).await.unwrap();
    }
    let old = archy.apps_supervisor().await.unwrap();
    mock.reset_calls();
    old.kill();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let fresh = archy.apps_supervisor().await.ok();
        if fresh.is_some_and(|f| f.get_id() != old.get_id())
            && ids.iter().all(|id| archy.app_actor(id).is_some())
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "apps were not respawned"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for id in ids {
        until_state(&archy, id, AppState::Running).await;
    }
    assert_eq!(mutating_calls(&mock), 0);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn root_that_exceeds_its_restart_budget_ends_the_tree_as_escalated() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = config(tmp.path());
    config.root_intensity = Intensity {
        max_restarts: 1,
        period: Duration::from_secs(60),
    };
    let runtime: SharedRuntime = Arc::new(engine(&[]));
    let archy = Archy::boot(config, runtime).await.unwrap();
    for _ in 0..2 {
        let apps = loop {
            if let Ok(apps) = archy.apps_supervisor().await {
                break apps;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        apps.kill();
        let _ = apps.wait(None).await;
    }
    assert_eq!(
        tokio::time::timeout(DEADLINE, archy.wait()).await.unwrap(),
        Exit::Escalated
    );
}

#[tokio::test(start_paused = true)]
async fn uninstalled_app_actor_ends_for_good_and_is_not_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["gone"]);
    let archy = boot(tmp.path(), &mock, &["gone"]).await;
    archy.request("gone", Request::Install, true).await.unwrap();
    let actor = archy.app_actor("gone").unwrap();
    archy
        .request("gone", Request::Uninstall { purge: false }, true)
        .await
        .unwrap();
    actor.wait(Some(DEADLINE)).await.unwrap();
    let counts = call_t!(
        archy.apps_supervisor().await.unwrap(),
        SupervisorMsg::RestartCounts,
        5_000
    )
    .unwrap();
    assert_eq!(counts.total, 0, "an uninstall is a normal exit");
    assert!(archy.app_actor("gone").is_none());
    assert!(mock.container("archy-gone").is_none());
    archy.shutdown().await;
}

/// Wait until the supervisor has restarted `n` children in all.
async fn restarts_reach(supervisor: &ractor::ActorRef<SupervisorMsg>, n: usize) {
    tokio::time::timeout(DEADLINE, async {
        while call_t!(supervisor, SupervisorMsg::RestartCounts, 5_000)
            .unwrap()
            .total
            < n as u64
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("fewer than {n} restarts"));
}

#[tokio::test(start_paused = true)]
async fn an_uninstalled_app_can_be_installed_again() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["again"]);
    let archy = boot(tmp.path(), &mock, &["again"]).await;
    archy
        .request("again", Request::Install, true)
        .await
        .unwrap();
    let first = archy.app_actor("again").unwrap();
    archy
        .request("again", Request::Uninstall { purge: false }, true)
        .await
        .unwrap();
    first.wait(Some(DEADLINE)).await.unwrap();

    archy
        .request("again", Request::Install, true)
        .await
        .unwrap();

    until_state(&archy, "again", AppState::Running).await;
    assert_eq!(
        mock.container("archy-again").map(|c| c.state),
        Some(RunState::Running)
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_whose_word_cannot_be_recorded_is_refused_not_answered_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["unsaved"]);
    let archy = boot(tmp.path(), &mock, &["unsaved"]).await;
    archy
        .request("unsaved", Request::Install, true)
        .await
        .unwrap();
    // The desired-state file cannot be replaced: as on a full disk, even
    // for root (a rename onto a non-empty directory fails).
    let desired = tmp.path().join("apps/unsaved.json");
    std::fs::remove_file(&desired).unwrap();
    std::fs::create_dir_all(desired.join("in-the-way")).unwrap();
    mock.reset_calls();

    let refused = archy
        .request("unsaved", Request::Stop, false)
        .await
        .unwrap_err()
        .to_string();

    assert!(
        refused.contains("cannot record your request") && refused.contains("unsaved.json"),
        "{refused}"
    );
    let status = archy.board().get("unsaved").unwrap();
    assert_eq!(
        (status.state, status.user_stopped),
        (AppState::Running, false)
    );
    assert_eq!(mock.calls(Op::Stop), 0);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_killed_actor_is_restarted_by_its_supervisor_and_adopts_its_container() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["victim"]);
    let archy = boot(tmp.path(), &mock, &["victim"]).await;
    archy
        .request("victim", Request::Install, true)
        .await
        .unwrap();
    let before = mutating_calls(&mock);

    archy.kill_actor("app:victim").await.unwrap();
    restarts_reach(&archy.apps_supervisor().await.unwrap(), 1).await;
    // Three: the root's budget is 3 restarts a minute; a fourth escalates.
    for (n, path) in ["apps", "reconciler", "registry"].iter().enumerate() {
        archy.kill_actor(path).await.unwrap();
        restarts_reach(archy.root(), n + 1).await;
    }

    until_state(&archy, "victim", AppState::Running).await;
    assert_eq!(mutating_calls(&mock), before, "adopted, not recreated");
    assert!(archy.kill_actor("nobody").await.is_err());
    assert!(archy.kill_actor("app:nobody").await.is_err());
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_purge_after_a_plain_uninstall_deletes_the_kept_data() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["kept"]);
    let archy = boot(tmp.path(), &mock, &["kept"]).await;
    archy.request("kept", Request::Install, true).await.unwrap();
    let actor = archy.app_actor("kept").unwrap();
    archy
        .request("kept", Request::Uninstall { purge: false }, true)
        .await
        .unwrap();
    actor.wait(Some(DEADLINE)).await.unwrap();
    let data = tmp.path().join("data/kept");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("wallet.dat"), "keep me until purged").unwrap();

    archy
        .request("kept", Request::Uninstall { purge: true }, true)
        .await
        .unwrap();
    assert!(
        !data.exists(),
        "the purge deleted the data a plain uninstall kept"
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_root_runs_registry_apps_and_health_and_a_failing_probe_restarts_the_app() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("catalog/sick");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("manifest.yml"),
        "id: sick\nname: sick\nversion: '1'\ndescription: fails its probe\ncontainer:\n  image: localhost/sick:1\n  health:\n    exec: { cmd: [check] }\n    interval_secs: 1\n    retries: 2\n    start_period_secs: 0\n",
    )
    .unwrap();
    let mock = engine(&["sick"]);
    let archy = boot(tmp.path(), &mock, &[]).await;
    let children = call_t!(archy.root(), SupervisorMsg::WhichChildren, 5_000).unwrap();
    let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["registry", "apps", "reconciler", "health", "companions"]
    );

    archy.request("sick", Request::Install, true).await.unwrap();
    mock.set_exec_output(
        "archy-sick",
        archy_runtime::ExecOutput {
            exit_code: 1,
            output: "not ready".into(),
        },
    );
    archy
        .board()
        .wait_for(
            "sick",
            |s| s.is_some_and(|s| s.restart_count >= 1),
            DEADLINE,
        )
        .await
        .unwrap();
    assert!(
        mock.calls(Op::Exec) >= 2,
        "probed through the tree's health monitor"
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_killed_container_is_restarted_through_the_trees_event_path_and_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["crashy"]);
    let archy = boot(tmp.path(), &mock, &["crashy"]).await;
    archy
        .request("crashy", Request::Install, true)
        .await
        .unwrap();
    mock.until_called(Op::Events, 1).await;

    // Fast path: the die event reaches the app actor, which restarts it at
    // once (a window's first restart has no backoff).
    mock.crash("archy-crashy", 137);
    let died_at = tokio::time::Instant::now();
    mock.until_state("archy-crashy", RunState::Running).await;
    assert!(
        died_at.elapsed() < Duration::from_secs(1),
        "restarted after {:?}",
        died_at.elapsed()
    );

    // Safety net: an exit the events missed is found by the next pass.
    mock.set_state("archy-crashy", RunState::Exited, Some(1));
    archy.reconcile().await.unwrap().unwrap();
    mock.until_state("archy-crashy", RunState::Running).await;
    assert_eq!(archy.board().get("crashy").unwrap().restart_count, 2);
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn live_transitions_and_the_journal_share_one_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["seq-a"]);
    let archy = boot(tmp.path(), &mock, &["seq-a"]).await;
    let mut live = archy.board().subscribe();
    archy
        .request("seq-a", Request::Install, true)
        .await
        .unwrap();
    archy.request("seq-a", Request::Stop, true).await.unwrap();
    let history: Vec<(u64, String)> = archy
        .env()
        .journal
        .recent(Some("seq-a"), None, 100)
        .into_iter()
        .map(|e| (e.seq, e.to_state))
        .collect();
    let mut pushed = Vec::new();
    while let Ok(t) = live.try_recv() {
        pushed.push((t.seq, t.to));
    }
    assert!(history.len() >= 3, "{history:?}");
    assert_eq!(
        pushed, history,
        "a client resuming from a pushed seq must find it in the journal"
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn requests_for_unknown_or_uninstalled_apps_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["known"]);
    let archy = boot(tmp.path(), &mock, &["known"]).await;
    let err = archy
        .request("nope", Request::Install, true)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("nope is not in the catalog"),
        "{err}"
    );
    let err = archy
        .request("known", Request::Stop, true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not installed"), "{err}");
    assert!(AppActor::name("known").starts_with("app:"));
    archy.shutdown().await;
}

// ---- several daemons on one engine ------------------------------------------

/// A running container as another Archy made it: `instance` is its
/// `archy.instance` label, `None` for one made before instances existed.
async fn made_elsewhere(mock: &MockRuntime, name: &str, app: &str, instance: Option<&InstanceId>) {
    let mut labels = BTreeMap::from([
        (labels::APP.to_string(), app.to_string()),
        (labels::MEMBER.to_string(), app.to_string()),
    ]);
    if let Some(instance) = instance {
        labels.insert(labels::INSTANCE.to_string(), instance.to_string());
    }
    let spec = ContainerSpec {
        name: name.into(),
        image: format!("localhost/{app}:1"),
        labels,
        ..ContainerSpec::default()
    };
    mock.create(&spec).await.unwrap();
    mock.start(name).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn another_daemons_containers_are_never_adopted_counted_or_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let theirs = InstanceId::of_state_dir(elsewhere.path()).unwrap();
    let ids = ["inst-ours", "inst-theirs"];
    let mock = engine(&ids);
    // The other daemon runs an app we do not have, and one we install too
    // (its container would be a duplicate of ours if we saw it).
    made_elsewhere(&mock, "archy-inst-theirs", "inst-theirs", Some(&theirs)).await;
    made_elsewhere(&mock, "other-inst-ours", "inst-ours", Some(&theirs)).await;
    let foreign = |name: &str| mock.container(name).map(|c| (c.id, c.state));
    let before = (foreign("archy-inst-theirs"), foreign("other-inst-ours"));

    // A fresh state dir: boot rebuilds from the engine, and sees nothing.
    let archy = boot(tmp.path(), &mock, &ids).await;
    assert!(archy.boot_report().rebuilt.is_empty());
    archy
        .request("inst-ours", Request::Install, true)
        .await
        .unwrap();
    for _ in 0..3 {
        let pass = archy.reconcile().await.unwrap().unwrap();
        assert!(pass.orphans_removed.is_empty(), "{pass:?}");
        assert!(pass.duplicates_removed.is_empty(), "{pass:?}");
    }
    assert_eq!(
        (foreign("archy-inst-theirs"), foreign("other-inst-ours")),
        before
    );
    assert!(archy.board().get("inst-theirs").is_none());

    // Installing an app whose name the other daemon's container holds fails,
    // naming the owner, and leaves that container alone.
    let refused = archy
        .request("inst-theirs", Request::Install, true)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("another Archy daemon"),
        "{refused}"
    );
    archy.reconcile().await.unwrap().unwrap();
    assert_eq!(
        (foreign("archy-inst-theirs"), foreign("other-inst-ours")),
        before
    );
    // Nor does the user's stop of that failed app stop their container.
    archy
        .request("inst-theirs", Request::Stop, true)
        .await
        .unwrap();
    assert_eq!(
        (foreign("archy-inst-theirs"), foreign("other-inst-ours")),
        before
    );
    let ours = mock.container("archy-inst-ours").unwrap();
    let instance = StateDir::open(tmp.path()).unwrap().instance().unwrap();
    assert_eq!(
        ours.spec.labels.get(labels::INSTANCE),
        Some(&instance.to_string())
    );
    archy.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_container_from_before_instances_is_adopted_and_stamped_when_recreated() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = engine(&["inst-legacy"]);
    made_elsewhere(&mock, "archy-inst-legacy", "inst-legacy", None).await;

    let archy = boot(tmp.path(), &mock, &["inst-legacy"]).await;
    assert_eq!(
        archy.boot_report().rebuilt,
        vec![("inst-legacy".to_string(), RebuildSource::Engine)]
    );
    until_state(&archy, "inst-legacy", AppState::Running).await;
    // Its spec is not what this catalog renders, so it was recreated: with
    // this daemon's label from now on.
    let instance = StateDir::open(tmp.path()).unwrap().instance().unwrap();
    let recreated = mock.container("archy-inst-legacy").unwrap();
    assert_eq!(
        recreated.spec.labels.get(labels::INSTANCE),
        Some(&instance.to_string())
    );
    assert_eq!(recreated.state, RunState::Running);
    archy.shutdown().await;
}
