//! `just bench`: what the actor layer costs, against the mock engine, as a
//! table. docs/performance.md records the figures and explains them.
//!
//! Engine calls are exact counts from the mock's per-operation counters
//! (under paused time, so the 5 s verify window costs no wall time).
//! Latencies are wall-clock on a 2-worker runtime, the daemon's shape on a
//! 2-core machine, and are reported as p50 / p99 over many rounds.

#[path = "../tests/supervisor_probe/mod.rs"]
mod supervisor_probe;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archy_actors::app::{AppMsg, AppState, OpKind};
use archy_actors::supervisor::Intensity;
use archy_actors::tree::{Archy, Request, TreeConfig};
use archy_runtime::mock::{MockRuntime, Op};
use archy_runtime::SharedRuntime;
use ractor::call_t;
use supervisor_probe::{restart_latencies, ProbeMsg};

/// Rounds of each latency measure.
const ROUNDS: usize = 1_000;
/// Status reads measured while a stop is held in flight.
const READS: usize = 10_000;
const BULK_APPS: usize = 1_000;
const INSTALL_BATCH: usize = 100;
/// Longest any awaited signal may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(60);

struct Row {
    measure: String,
    goal: &'static str,
    result: String,
    met: bool,
}

fn main() {
    let mut rows = Vec::new();
    let paused = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    paused.block_on(engine_calls(&mut rows));
    drop(paused);

    let timed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    timed.block_on(restart_after_a_panic(&mut rows));
    timed.block_on(app_actor_restart(&mut rows));
    timed.block_on(thousand_app_actors(&mut rows));
    timed.block_on(status_during_a_long_stop(&mut rows));
    print_table(&rows);
}

// ---------------------------------------------------------------- harness

/// A mock engine holding every app's image, and the apps' manifests in
/// `<dir>/catalog/<id>/manifest.yml`, where the tree's registry reads them.
fn world(dir: &Path, ids: &[String]) -> MockRuntime {
    let mock = MockRuntime::new();
    for id in ids {
        mock.add_image(&format!("localhost/{id}:1"));
        let app = dir.join("catalog").join(id);
        std::fs::create_dir_all(&app).unwrap();
        let yaml = format!(
            "id: {id}\nname: {id}\nversion: '1'\ndescription: bench app\ncontainer:\n  image: localhost/{id}:1\n"
        );
        std::fs::write(app.join("manifest.yml"), yaml).unwrap();
    }
    mock
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

/// A tree whose restart budget a bench cannot exhaust, and (unless
/// `keep_verify`) a zero verify window: one inspect per member instead of
/// 5 s of polling, which only the call count measures.
async fn boot(dir: &Path, mock: &MockRuntime, keep_verify: bool) -> Archy {
    let mut config = TreeConfig::new(dir);
    config.registry.dirs = vec![dir.join("catalog")];
    config.registry.poll_every = None;
    config.apps_intensity = Intensity {
        max_restarts: u32::MAX,
        period: Duration::from_secs(1),
    };
    if !keep_verify {
        config.app.verify_window = Duration::ZERO;
    }
    let runtime: SharedRuntime = Arc::new(mock.clone());
    Archy::boot(config, runtime).await.unwrap()
}

/// A tree with `app` installed and running (state in the returned dir).
async fn one_installed_app(app: &str) -> (tempfile::TempDir, MockRuntime, Archy) {
    let tmp = tempfile::tempdir().unwrap();
    let mock = world(tmp.path(), &[app.to_string()]);
    let archy = boot(tmp.path(), &mock, false).await;
    archy.request(app, Request::Install, true).await.unwrap();
    (tmp, mock, archy)
}

async fn until_running(archy: &Archy, app: &str) {
    archy
        .board()
        .wait_for(
            app,
            |s| s.is_some_and(|s| s.state == AppState::Running),
            DEADLINE,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// "create 1, start 1, …" for every op called at least once.
fn breakdown(mock: &MockRuntime) -> String {
    Op::ALL
        .iter()
        .filter(|op| mock.calls(**op) > 0)
        .map(|op| format!("{op:?} {}", mock.calls(*op)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn p50_p99(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
    (at(50), at(99))
}

fn latency(p50: Duration, p99: Duration) -> String {
    format!("p50 {p50:.1?}, p99 {p99:.1?}")
}

fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.measure.len()).max().unwrap_or(0);
    let goal_width = rows.iter().map(|r| r.goal.len()).max().unwrap_or(0);
    println!();
    for row in rows {
        println!(
            "{:<width$}  {:<goal_width$}  {:<6}  {}",
            row.measure,
            row.goal,
            if row.met { "met" } else { "MISSED" },
            row.result
        );
    }
}

// ---------------------------------------------------------------- measures

/// Engine calls of an install with the image present, per operation: the
/// first in the process (which also ensures the `archy` network) and a
/// later one; and of adopting a running app at daemon start.
async fn engine_calls(rows: &mut Vec<Row>) {
    let tmp = tempfile::tempdir().unwrap();
    let apps = ids("calls", 2);
    let mock = world(tmp.path(), &apps);
    let archy = boot(tmp.path(), &mock, true).await;

    for (n, app) in apps.iter().enumerate() {
        mock.reset_calls();
        archy.request(app, Request::Install, true).await.unwrap();
        // Not the install's: the reconciler's event subscription and list.
        let background = mock.calls(Op::Events) + mock.calls(Op::ListManaged);
        let verify = mock.calls(Op::Inspect);
        let install = mock.total_calls() - background - mock.calls(Op::EnsureNetwork);
        rows.push(Row {
            measure: format!(
                "engine calls per install, image present ({})",
                if n == 0 {
                    "first in process"
                } else {
                    "network ensured"
                }
            ),
            goal: "<= 3",
            result: format!(
                "{install}, of which {verify} verify ({}); Inspect: the verify window's one \
                 final look (deaths come as events); Events/ListManaged: the reconciler's, \
                 not the install's",
                breakdown(&mock)
            ),
            met: install <= 3,
        });
    }
    archy.shutdown().await;

    mock.reset_calls();
    let archy = boot(tmp.path(), &mock, true).await;
    for app in &apps {
        until_running(&archy, app).await;
    }
    let mutating: usize = [Op::Create, Op::Start, Op::Stop, Op::Kill, Op::Remove]
        .iter()
        .map(|op| mock.calls(*op))
        .sum();
    rows.push(Row {
        measure: format!("engine calls, daemon start adopting {} apps", apps.len()),
        goal: "0 mutating",
        result: breakdown(&mock),
        met: mutating == 0,
    });
    archy.shutdown().await;
}

/// The supervisor replacing a child that panicked: from the panic message
/// sent to the replacement's `pre_start`.
async fn restart_after_a_panic(rows: &mut Vec<Row>) {
    // The default hook prints every panic; that is not the supervisor's cost.
    std::panic::set_hook(Box::new(|_| {}));
    let samples = restart_latencies(|| ProbeMsg::Panic, ROUNDS).await;
    let _ = std::panic::take_hook();
    let (p50, p99) = p50_p99(samples);
    rows.push(Row {
        measure: "actor restart after a panic".into(),
        goal: "p50 < 1 ms",
        result: latency(p50, p99),
        met: p50 < Duration::from_millis(1),
    });
}

/// An app actor killed (an abnormal exit, as a panic is) until its
/// replacement has re-adopted the running container: from the kill to the
/// board showing the app Running again (one inspect on the mock).
async fn app_actor_restart(rows: &mut Vec<Row>) {
    let app = "restart-0000".to_string();
    let (_tmp, mock, archy) = one_installed_app(&app).await;
    let mut transitions = archy.board().subscribe();
    let running = AppState::Running.to_string();
    let mut samples = Vec::with_capacity(ROUNDS);
    mock.reset_calls();
    for _ in 0..ROUNDS {
        let actor = archy.app_actor(&app).expect("the app has an actor");
        let began = Instant::now();
        actor.kill();
        loop {
            let next = tokio::time::timeout(DEADLINE, transitions.recv())
                .await
                .expect("the app came back Running");
            if next.is_ok_and(|t| t.app == app && t.to == running) {
                break;
            }
        }
        samples.push(began.elapsed());
    }
    let touched = mock.calls(Op::Create) + mock.calls(Op::Start) + mock.calls(Op::Stop);
    assert_eq!(touched, 0, "re-adoption must not touch the container");
    archy.shutdown().await;
    let (p50, p99) = p50_p99(samples);
    rows.push(Row {
        measure: "app actor killed -> restarted and re-adopted".into(),
        goal: "p50 < 1 ms",
        result: format!("{}, 0 mutating engine calls", latency(p50, p99)),
        met: p50 < Duration::from_millis(1),
    });
}

/// 1000 installed, running apps at daemon start: one actor each, spawned
/// by the apps supervisor, each adopting its container.
async fn thousand_app_actors(rows: &mut Vec<Row>) {
    let tmp = tempfile::tempdir().unwrap();
    let apps = ids("bulk", BULK_APPS);
    let mock = world(tmp.path(), &apps);
    let archy = boot(tmp.path(), &mock, false).await;
    // Installed 100 at a time: each install writes (and fsyncs) its desired
    // state and journal on the runtime's workers, and with all 1000 at once
    // the last spawn requests can wait past the supervisor call deadline.
    let began = Instant::now();
    for batch in apps.chunks(INSTALL_BATCH) {
        let installs = batch
            .iter()
            .map(|app| archy.request(app, Request::Install, true));
        for outcome in futures::future::join_all(installs).await {
            outcome.unwrap();
        }
    }
    let installed = began.elapsed();
    archy.shutdown().await;

    let began = Instant::now();
    let archy = boot(tmp.path(), &mock, false).await;
    let spawned = began.elapsed();
    for app in &apps {
        until_running(&archy, app).await;
    }
    let adopted = began.elapsed();
    archy.shutdown().await;
    rows.push(Row {
        measure: format!("spawning {BULK_APPS} app actors at daemon start"),
        goal: "< 1 s",
        result: format!(
            "boot returned (all spawned) {spawned:.0?}, all adopted Running {adopted:.0?} \
             (setup: {BULK_APPS} installs, {INSTALL_BATCH} at a time, {installed:.1?})"
        ),
        met: adopted < Duration::from_secs(1),
    });
}

/// Reads of an app's status while its stop is held in the engine: from the
/// board (what RPC and the CLI use) and from the actor itself.
async fn status_during_a_long_stop(rows: &mut Vec<Row>) {
    let app = "reader-0000".to_string();
    let (_tmp, mock, archy) = one_installed_app(&app).await;
    mock.hold(Op::Stop);
    archy.request(&app, Request::Stop, false).await.unwrap();
    tokio::time::timeout(DEADLINE, mock.until_called(Op::Stop, 1))
        .await
        .expect("the stop reached the engine");
    let in_flight = |status: &archy_actors::status::AppStatus| {
        status.state == AppState::Stopping && status.operation == Some(OpKind::Stop)
    };
    assert!(in_flight(&archy.board().get(&app).unwrap()));

    let mut board_reads = Vec::with_capacity(READS);
    for _ in 0..READS {
        let began = Instant::now();
        let status = archy.board().get(&app);
        board_reads.push(began.elapsed());
        assert!(status.is_some_and(|s| in_flight(&s)));
    }
    let actor = archy.app_actor(&app).unwrap();
    let mut actor_reads = Vec::with_capacity(READS);
    for _ in 0..READS {
        let began = Instant::now();
        let status = call_t!(actor, AppMsg::Status, 1_000).unwrap();
        actor_reads.push(began.elapsed());
        assert!(in_flight(&status));
    }
    mock.release(Op::Stop);
    archy
        .board()
        .wait_for(
            &app,
            |s| s.is_some_and(|s| s.state == AppState::Stopped),
            DEADLINE,
        )
        .await
        .unwrap();
    archy.shutdown().await;

    for (source, samples) in [("board", board_reads), ("actor call", actor_reads)] {
        let (p50, p99) = p50_p99(samples);
        rows.push(Row {
            measure: format!("status read during a held stop ({source})"),
            goal: "< 1 ms",
            result: latency(p50, p99),
            met: p99 < Duration::from_millis(1),
        });
    }
}
