//! The Reconciler against the mock engine and real app actors, on paused
//! time: one engine call per pass at any scale, crash healing with and
//! without events, orphans, duplicates, user-stopped apps, spec drift,
//! ticks that never pile up, an unreachable engine, event reconnection.
//!
//! Ractor's registry is process-wide and tests run in parallel, so every
//! test uses its own app ids.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use archy_actors::app::{ask, AppActor, AppArgs, AppConfig, AppEnv, AppMsg, AppState};
use archy_actors::reconciler::{
    PassStats, ReconcileError, Reconciler, ReconcilerArgs, ReconcilerConfig, ReconcilerMsg,
};
use archy_actors::status::{AppStatus, StatusBoard};
use archy_actors::store::StateDir;
use archy_actors::supervisor::{Supervisor, SupervisorArgs};
use archy_apps::{Manifest, Tier};
use archy_runtime::mock::{MockRuntime, Op};
use archy_runtime::{
    labels, ContainerRuntime, ContainerSpec, Mount, MountSource, RunState, RuntimeError,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

const PERIOD: Duration = Duration::from_secs(30);
/// Long enough for anything on paused time; a hang fails instead of blocking.
const DEADLINE: Duration = Duration::from_secs(3600);

struct World {
    mock: MockRuntime,
    env: AppEnv,
    board: StatusBoard,
    _dir: TempDir,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path().join("state")).unwrap();
        let mock = MockRuntime::new();
        let board = StatusBoard::new();
        let runtime = Arc::new(mock.clone());
        // The default restart policy: a first crash heals at once, so
        // "running again within 1 s" holds as the daemon ships.
        let env = AppEnv::open(&state, runtime, board.clone(), AppConfig::default()).unwrap();
        World {
            mock,
            env,
            board,
            _dir: dir,
        }
    }

    /// A single-container app with a named volume, its image present.
    fn app(&self, id: &str) -> Manifest {
        let image = format!("docker.io/library/{id}:1");
        self.mock.add_image(&image);
        let yaml = format!(
            "id: {id}\nname: {id}\nversion: \"1\"\ncontainer:\n  image: {image}\n  \
             volumes:\n    - {{ volume: data, target: /data }}\n"
        );
        Manifest::from_yaml_str(&yaml, Path::new("/catalog/test/manifest.yml")).unwrap()
    }

    async fn installed(&self, id: &str) -> ActorRef<AppMsg> {
        let args = AppArgs::new(Arc::new(self.app(id)), self.env.clone());
        let actor = AppActor::spawn(args).await.unwrap().0;
        ask(&actor, id, |reply| AppMsg::Install { reply })
            .await
            .unwrap();
        actor
    }

    fn args(&self, config: ReconcilerConfig) -> ReconcilerArgs {
        ReconcilerArgs {
            runtime: Arc::new(self.mock.clone()),
            board: self.board.clone(),
            desired: self.env.desired.clone(),
            tier_of: Arc::new(|_: &str| Tier::App),
            config,
        }
    }

    /// A reconciler without a registered name (tests run side by side).
    async fn reconciler(&self, events: bool) -> ActorRef<ReconcilerMsg> {
        let config = ReconcilerConfig {
            events,
            ..ReconcilerConfig::every(PERIOD)
        };
        let actor = spawn_reconciler(self.args(config)).await;
        if events {
            // Subscribed before the test makes anything happen.
            within_deadline(self.mock.until_called(Op::Events, 1)).await;
        }
        actor
    }

    /// A running container labelled for `app` that Archy did not create now.
    async fn labelled(&self, app: &str, name: &str, member: &str) {
        let image = "docker.io/library/stray:1";
        self.mock.add_image(image);
        let spec = ContainerSpec {
            name: name.into(),
            image: image.into(),
            labels: [
                (labels::APP.to_string(), app.to_string()),
                (labels::ROLE.to_string(), "app".to_string()),
                (labels::MEMBER.to_string(), member.to_string()),
            ]
            .into(),
            mounts: vec![Mount {
                source: MountSource::Volume(format!("archy-{app}-data")),
                target: "/data".into(),
                read_only: false,
            }],
            ..ContainerSpec::default()
        }
        .with_hash_label();
        self.mock.create(&spec).await.unwrap();
        self.mock.start(name).await.unwrap();
    }

    fn state_of(&self, container: &str) -> RunState {
        self.mock.container(container).unwrap().state
    }
}

async fn within_deadline<T>(wait: impl std::future::Future<Output = T>) -> T {
    timeout(DEADLINE, wait)
        .await
        .expect("waited past the deadline")
}

async fn spawn_reconciler(args: ReconcilerArgs) -> ActorRef<ReconcilerMsg> {
    Actor::spawn(None, Reconciler, args).await.unwrap().0
}

async fn stats(reconciler: &ActorRef<ReconcilerMsg>) -> PassStats {
    ractor::call!(reconciler, ReconcilerMsg::Stats).unwrap()
}

/// The app's status once it has handled everything sent to it before.
async fn status(actor: &ActorRef<AppMsg>) -> AppStatus {
    ractor::call!(actor, AppMsg::Status).unwrap()
}

// ---- cost ---------------------------------------------------------------------

/// Stands in for an app actor: reports each Observe it gets.
struct Probe;

impl Actor for Probe {
    type Msg = AppMsg;
    type State = (String, mpsc::UnboundedSender<(String, usize)>);
    type Arguments = Self::State;

    async fn pre_start(
        &self,
        _: ActorRef<AppMsg>,
        args: Self::State,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _: ActorRef<AppMsg>,
        message: AppMsg,
        (app, seen): &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let AppMsg::Observe(containers) = message {
            let _ = seen.send((app.clone(), containers.len()));
        }
        Ok(())
    }
}

/// `apps` installed apps with one container each: the pass makes exactly one
/// engine call and every app actor gets exactly its own container.
async fn one_pass_over(apps: usize) {
    let world = World::new();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut probes = Vec::new();
    for i in 0..apps {
        let app = format!("scale{apps}-{i:04}");
        world.labelled(&app, &format!("archy-{app}"), &app).await;
        world
            .board
            .set(AppStatus::new(&app, AppState::Running, "test"));
        let args = (app.clone(), seen_tx.clone());
        probes.push(
            Actor::spawn(Some(AppActor::name(&app)), Probe, args)
                .await
                .unwrap()
                .0,
        );
    }
    let reconciler = world.reconciler(false).await;
    world.mock.reset_calls();

    let wall = std::time::Instant::now();
    let report = Reconciler::reconcile(&reconciler).await.unwrap();
    let took = wall.elapsed();

    assert_eq!(world.mock.calls(Op::ListManaged), 1);
    assert_eq!(world.mock.total_calls(), 1);
    assert_eq!((report.containers, report.apps_observed), (apps, apps));
    let mut observed = Vec::new();
    for _ in 0..apps {
        observed.push(within_deadline(seen.recv()).await.unwrap());
    }
    observed.sort();
    observed.dedup();
    assert_eq!(observed.len(), apps, "each app observed exactly once");
    assert!(observed.iter().all(|(_, containers)| *containers == 1));
    println!(
        "reconcile pass over {apps} apps: {took:?} wall, {} engine call(s)",
        world.mock.total_calls()
    );
    for probe in probes {
        probe.stop(None);
    }
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn a_pass_makes_one_engine_call_at_10_apps() {
    one_pass_over(10).await;
}

#[tokio::test(start_paused = true)]
async fn a_pass_makes_one_engine_call_at_100_apps() {
    one_pass_over(100).await;
}

#[tokio::test(start_paused = true)]
async fn a_pass_makes_one_engine_call_at_1000_apps() {
    one_pass_over(1000).await;
}

// ---- healing --------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_killed_container_runs_again_within_a_second_with_events() {
    let world = World::new();
    let app = world.installed("heal-events").await;
    let reconciler = world.reconciler(true).await;

    assert!(world.mock.crash("archy-heal-events", 137));
    let crashed = Instant::now();
    timeout(
        Duration::from_secs(1),
        world
            .mock
            .until_state("archy-heal-events", RunState::Running),
    )
    .await
    .expect("running again within 1 s of the crash");
    assert!(crashed.elapsed() <= Duration::from_secs(1));
    // The event did it: no pass has run yet.
    assert_eq!(world.mock.calls(Op::ListManaged), 0);
    assert_eq!(stats(&reconciler).await.success, 0);
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn a_killed_container_runs_again_within_one_pass_without_events() {
    let world = World::new();
    let app = world.installed("heal-pass").await;
    let reconciler = world.reconciler(false).await;

    assert!(world.mock.crash("archy-heal-pass", 137));
    let crashed = Instant::now();
    // Without events nothing notices it before the pass.
    let early = timeout(
        Duration::from_secs(1),
        world.mock.until_state("archy-heal-pass", RunState::Running),
    )
    .await;
    assert!(early.is_err(), "nothing but the pass may restart it");
    timeout(
        PERIOD + Duration::from_secs(1),
        world.mock.until_state("archy-heal-pass", RunState::Running),
    )
    .await
    .expect("running again within one pass");
    assert!(crashed.elapsed() <= PERIOD + Duration::from_secs(1));
    assert_eq!(world.mock.calls(Op::ListManaged), 1);
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn a_container_removed_by_hand_is_recreated_by_the_pass() {
    let world = World::new();
    let app = world.installed("gone").await;
    let reconciler = world.reconciler(false).await;
    assert!(world.mock.remove_externally("archy-gone"));

    let report = Reconciler::reconcile(&reconciler).await.unwrap();

    assert_eq!((report.containers, report.apps_observed), (0, 1));
    within_deadline(world.mock.until_state("archy-gone", RunState::Running)).await;
    assert!(world.mock.has_volume("archy-gone-data"), "data kept");
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn user_stopped_apps_are_left_alone_by_the_pass() {
    let world = World::new();
    let app = world.installed("rest").await;
    ask(&app, "rest", |reply| AppMsg::Stop { reply })
        .await
        .unwrap();
    let reconciler = world.reconciler(false).await;
    world.mock.reset_calls();

    let report = Reconciler::reconcile(&reconciler).await.unwrap();

    assert_eq!(report.apps_observed, 1);
    assert_eq!(status(&app).await.state, AppState::Stopped);
    assert_eq!(world.state_of("archy-rest"), RunState::Exited);
    assert_eq!(world.mock.total_calls(), 1, "only the list call");
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn spec_hash_drift_is_recreated_keeping_data() {
    let world = World::new();
    let app = world.installed("drift").await;
    let wanted = world.mock.container("archy-drift").unwrap().spec;
    // Someone recreated it by hand with other settings.
    let mut drifted = wanted.clone();
    drifted.env.insert("EXTRA".into(), "1".into());
    let drifted = drifted.with_hash_label();
    assert!(world.mock.remove_externally("archy-drift"));
    world.mock.create(&drifted).await.unwrap();
    world.mock.start("archy-drift").await.unwrap();
    let reconciler = world.reconciler(false).await;

    Reconciler::reconcile(&reconciler).await.unwrap();
    world
        .board
        .wait_for(
            "drift",
            |s| s.is_some_and(|s| s.state == AppState::Running && s.operation.is_none()),
            DEADLINE,
        )
        .await
        .unwrap();

    let now = world.mock.container("archy-drift").unwrap();
    assert_eq!(now.spec, wanted, "recreated from the manifest");
    assert_eq!(now.state, RunState::Running);
    assert!(world.mock.has_volume("archy-drift-data"), "data kept");
    app.stop(None);
    reconciler.stop(None);
}

// ---- orphans and duplicates -------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn orphans_are_removed_and_their_volumes_kept() {
    let world = World::new();
    let app = world.installed("owned").await;
    world.labelled("ghost", "archy-ghost", "ghost").await;
    let starts = world.mock.container("archy-owned").unwrap().start_count;
    let reconciler = world.reconciler(false).await;

    let report = Reconciler::reconcile(&reconciler).await.unwrap();

    assert_eq!(report.orphans_removed, ["archy-ghost"]);
    assert!(world.mock.container("archy-ghost").is_none());
    assert!(world.mock.has_volume("archy-ghost-data"), "data kept");
    let owned = world.mock.container("archy-owned").unwrap();
    assert_eq!(
        (owned.state, owned.start_count),
        (RunState::Running, starts)
    );
    assert_eq!(world.mock.calls(Op::RemoveVolume), 0);
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn an_installed_app_whose_actor_is_down_is_not_an_orphan() {
    let world = World::new();
    let app = world.installed("between").await;
    // Its actor is gone (a supervisor is restarting it); the user's word
    // still says installed.
    app.stop(None);
    within_deadline(async {
        while ActorRef::<AppMsg>::where_is(AppActor::name("between")).is_some() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let reconciler = world.reconciler(false).await;

    let report = Reconciler::reconcile(&reconciler).await.unwrap();

    assert!(report.orphans_removed.is_empty());
    assert_eq!(world.state_of("archy-between"), RunState::Running);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn duplicates_are_removed_keeping_the_container_the_actor_addresses() {
    let world = World::new();
    let app = world.installed("twin").await;
    world.labelled("twin", "archy-twin-copy", "twin").await;
    let reconciler = world.reconciler(false).await;

    let report = Reconciler::reconcile(&reconciler).await.unwrap();

    assert_eq!(report.duplicates_removed, ["archy-twin-copy"]);
    assert!(world.mock.container("archy-twin-copy").is_none());
    assert_eq!(world.state_of("archy-twin"), RunState::Running);
    assert!(world.mock.has_volume("archy-twin-data"), "data kept");
    assert_eq!(status(&app).await.state, AppState::Running);
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn containers_of_an_app_mid_operation_are_left_to_its_actor() {
    let world = World::new();
    world.labelled("busy", "archy-busy-copy", "busy").await;
    world.mock.hold(Op::Start);
    let args = AppArgs::new(Arc::new(world.app("busy")), world.env.clone());
    let app = AppActor::spawn(args).await.unwrap().0;
    app.cast(AppMsg::Install { reply: None }).unwrap();
    within_deadline(world.mock.until_called(Op::Start, 1)).await;
    let reconciler = world.reconciler(false).await;

    let report = Reconciler::reconcile(&reconciler).await.unwrap();

    assert!(report.orphans_removed.is_empty());
    assert!(report.duplicates_removed.is_empty());
    assert!(world.mock.container("archy-busy-copy").is_some());
    assert!(world.mock.container("archy-busy").is_some());
    world.mock.release(Op::Start);
    app.stop(None);
    reconciler.stop(None);
}

// ---- passes, errors, events --------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn ticks_during_a_pass_are_skipped_not_piled_up() {
    let world = World::new();
    let reconciler = world.reconciler(false).await;
    world.mock.hold(Op::ListManaged);

    reconciler.cast(ReconcilerMsg::Tick).unwrap();
    within_deadline(world.mock.until_called(Op::ListManaged, 1)).await;
    reconciler.cast(ReconcilerMsg::Tick).unwrap();
    reconciler.cast(ReconcilerMsg::Tick).unwrap();
    let held = stats(&reconciler).await;
    assert_eq!((held.success, held.skipped), (0, 2));

    world.mock.release(Op::ListManaged);
    Reconciler::reconcile(&reconciler).await.unwrap();
    let after = stats(&reconciler).await;
    assert_eq!((after.success, after.error, after.skipped), (2, 0, 2));
    assert_eq!(world.mock.calls(Op::ListManaged), 2);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn a_pass_past_its_deadline_is_abandoned_and_counted() {
    let world = World::new();
    let reconciler = world.reconciler(false).await;
    world.mock.hold(Op::ListManaged);

    let started = Instant::now();
    let outcome = Reconciler::reconcile(&reconciler).await;

    assert_eq!(outcome, Err(ReconcileError::Deadline(PERIOD / 2)));
    assert_eq!(started.elapsed(), PERIOD / 2);
    assert_eq!(stats(&reconciler).await.error, 1);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_pass_is_reported_and_does_not_block_the_next() {
    let world = World::new();
    let app = world.installed("panicky").await;
    let mut args = world.args(ReconcilerConfig {
        events: false,
        ..ReconcilerConfig::every(PERIOD)
    });
    args.tier_of = Arc::new(|_: &str| panic!("no tier table"));
    let reconciler = spawn_reconciler(args).await;

    for _ in 0..2 {
        let outcome = Reconciler::reconcile(&reconciler).await;
        assert_eq!(
            outcome,
            Err(ReconcileError::Panicked("no tier table".into()))
        );
    }
    assert_eq!(stats(&reconciler).await.error, 2);
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_engine_fails_the_pass_and_apps_keep_their_state() {
    let world = World::new();
    let app = world.installed("steady").await;
    let reconciler = world.reconciler(false).await;
    world.mock.set_unavailable(true);

    let outcome = Reconciler::reconcile(&reconciler).await;

    assert!(matches!(
        outcome,
        Err(ReconcileError::Engine(RuntimeError::Unavailable { .. }))
    ));
    assert_eq!(stats(&reconciler).await.error, 1);
    assert!(!world.board.engine_reachable());
    assert_eq!(status(&app).await.state, AppState::Running);

    world.mock.set_unavailable(false);
    Reconciler::reconcile(&reconciler).await.unwrap();
    assert!(world.board.engine_reachable());
    assert_eq!(status(&app).await.state, AppState::Running);
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn the_event_stream_reopens_after_the_engine_comes_back() {
    let world = World::new();
    let app = world.installed("reopen").await;
    let reconciler = world.reconciler(true).await;

    // The engine restarts: the stream ends, a reopening fails, then works.
    world.mock.set_unavailable(true);
    within_deadline(world.mock.until_called(Op::Events, 2)).await;
    world.mock.set_unavailable(false);
    let attempts = world.mock.calls(Op::Events);
    within_deadline(world.mock.until_called(Op::Events, attempts + 1)).await;

    assert!(world.mock.crash("archy-reopen", 1));
    timeout(
        Duration::from_secs(1),
        world.mock.until_state("archy-reopen", RunState::Running),
    )
    .await
    .expect("the reopened stream delivered the death");
    app.stop(None);
    reconciler.stop(None);
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_restarts_a_killed_reconciler_under_its_name() {
    let world = World::new();
    let args = world.args(ReconcilerConfig {
        events: false,
        ..ReconcilerConfig::every(PERIOD)
    });
    let tree = SupervisorArgs {
        children: vec![Reconciler::child_spec(args)],
        ..SupervisorArgs::default()
    };
    let (supervisor, _) = Supervisor::start(None, tree).await.unwrap();
    let first = ActorRef::<ReconcilerMsg>::where_is(Reconciler::NAME).unwrap();

    first.kill();
    let second = within_deadline(async {
        loop {
            match ActorRef::<ReconcilerMsg>::where_is(Reconciler::NAME) {
                Some(actor) if actor.get_id() != first.get_id() => return actor,
                _ => tokio::task::yield_now().await,
            }
        }
    })
    .await;

    Reconciler::reconcile(&second).await.unwrap();
    supervisor.stop(None);
}
