//! Daemon-level figures against real Podman: `archy serve` (release) with
//! 100 generated tiny apps, the reconciler in-process, and docker-compose on
//! the same services. Prints `FIGURE | measure | goal | result |` lines; the
//! method behind each is in docs/performance.md.
//!
//! Run under the shared lock: `just bench-daemon`. It refuses to start while
//! another Archy's containers are on the engine (a second Archy would remove
//! them as orphans) and removes every `bench-*` container it made.

mod compose;
mod daemon;
mod fixture;
mod inprocess;
mod proxy;
mod stats;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;

use daemon::{dir, now_unix_ms, BoxError, Daemon, Rpc};
use fixture::app_id;
use stats::{figure, ms, Samples};

const ENGINE: &str = "/run/podman/podman.sock";
const APPS: usize = 100;
/// The apps whose main process `death_to_running` kills, one each.
const DEATH_APPS: std::ops::RangeInclusive<usize> = 41..=50;

fn listen() -> SocketAddr {
    ([127, 0, 0, 1], 28420).into()
}

#[tokio::main]
async fn main() -> ExitCode {
    // `cargo test --all-targets` runs bench targets too, without `--bench`:
    // these figures take minutes of real Podman, so only `cargo bench` runs
    // them (`just bench-daemon`); the test run only proves it compiles.
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("bench daemon: measured by `cargo bench --bench daemon` (just bench-daemon)");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = wait_for_engine_to_ourselves().await {
        eprintln!("bench: {e}");
        return ExitCode::FAILURE;
    }
    let root = tempfile::tempdir().expect("a temp dir");
    let _ = fixture::clean_up().await;
    let result = run(root.path()).await;
    if let Err(e) = fixture::clean_up().await {
        eprintln!("bench: clean-up failed, remove bench-* containers by hand: {e}");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(root: &Path) -> Result<(), BoxError> {
    let engine = PathBuf::from(ENGINE);
    // `cargo bench --bench daemon -- compose`: the compose side alone.
    if std::env::args().any(|arg| arg == "compose") {
        return compare_compose(root, &engine).await;
    }
    let catalog = dir(root, "catalog");
    fixture::write_catalog(&catalog, APPS)?;
    // `cargo bench --bench daemon -- death`: the kill → running figure alone,
    // on a daemon running just the apps it kills.
    if std::env::args().any(|arg| arg == "death") {
        let daemon = Daemon::start(&dir(root, "state"), &catalog, &engine, listen()).await?;
        install(&daemon.rpc, DEATH_APPS).await?;
        death_to_running(&daemon.rpc).await?;
        return daemon.stop().await;
    }
    let state = dir(root, "state");
    // `cargo bench --bench daemon -- start`: start → first RPC alone.
    if std::env::args().any(|arg| arg == "start") {
        starts_empty(root, &catalog, &engine, 20).await?;
        let daemon = Daemon::start(&state, &catalog, &engine, listen()).await?;
        for batch in [1..=25, 26..=50, 51..=75, 76..=100] {
            install(&daemon.rpc, batch).await?;
        }
        daemon.stop().await?;
        return starts_with_apps(&state, &catalog, &engine, 20).await;
    }

    starts_empty(root, &catalog, &engine, 5).await?;

    let daemon = Daemon::start(&state, &catalog, &engine, listen()).await?;
    let converge_20 = install(&daemon.rpc, 1..=20).await?;
    figure(
        "Archy cold converge, 20 apps",
        "≤ 0.5× compose",
        &converge_20,
    );
    daemon.stop().await?;
    inprocess::reconcile_vs_list(root, &state, &catalog, &engine, 20).await?;

    let daemon = Daemon::start(&state, &catalog, &engine, listen()).await?;
    figure(
        "daemon start → first answered RPC, 20 apps to adopt",
        "< 100 ms",
        &ms(daemon.first_answer),
    );
    let converge_5 = install(&daemon.rpc, 21..=25).await?;
    figure(
        "Archy cold converge, 5 apps (20 running beside)",
        "≤ 0.5× compose",
        &converge_5,
    );
    for batch in [26..=50, 51..=75, 76..=100] {
        install(&daemon.rpc, batch).await?;
    }
    figure(
        "daemon RSS, 100 apps running, idle",
        "< 30 MiB",
        &format!("{:.1} MiB", daemon.rss_kib()? as f64 / 1024.0),
    );
    list_under_load(&daemon.rpc).await?;
    figure(
        "daemon RSS, 100 apps, after the load",
        "< 30 MiB",
        &format!("{:.1} MiB", daemon.rss_kib()? as f64 / 1024.0),
    );
    death_to_running(&daemon.rpc).await?;
    daemon.stop().await?;

    inprocess::reconcile_vs_list(root, &state, &catalog, &engine, APPS).await?;

    starts_with_apps(&state, &catalog, &engine, 3).await?;
    fixture::clean_up().await?;
    compare_compose(root, &engine).await
}

/// Start → first answered RPC on fresh state directories.
async fn starts_empty(
    root: &Path,
    catalog: &Path,
    engine: &Path,
    runs: usize,
) -> Result<(), BoxError> {
    let fresh = |i: usize| dir(root, &format!("start-{i}"));
    let what = "daemon start → first answered RPC, nothing installed";
    starts(what, runs, fresh, catalog, engine).await
}

/// Start → first answered RPC on `state`, whose 100 apps run: each start
/// adopts them all.
async fn starts_with_apps(
    state: &Path,
    catalog: &Path,
    engine: &Path,
    runs: usize,
) -> Result<(), BoxError> {
    let what = "daemon start → first answered RPC, 100 apps to adopt";
    starts(what, runs, |_| state.to_path_buf(), catalog, engine).await
}

/// `runs` daemon starts, the i-th on `state(i)`; one figure.
async fn starts(
    what: &str,
    runs: usize,
    state: impl Fn(usize) -> PathBuf,
    catalog: &Path,
    engine: &Path,
) -> Result<(), BoxError> {
    let mut samples = Samples::default();
    for i in 0..runs {
        let daemon = Daemon::start(&state(i), catalog, engine, listen()).await?;
        samples.push(daemon.first_answer);
        daemon.stop().await?;
    }
    figure(what, "< 100 ms", &samples.summary());
    Ok(())
}

async fn compare_compose(root: &Path, engine: &Path) -> Result<(), BoxError> {
    for n in [5, 20] {
        compose::measure(root, engine, n).await?;
    }
    Ok(())
}

/// Another Archy's containers (a test elsewhere) would be orphans to ours,
/// and removed: wait up to 10 minutes for them to go.
async fn wait_for_engine_to_ourselves() -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let others: Vec<String> = fixture::archy_managed()
            .await?
            .into_iter()
            .filter(|n| !n.starts_with(fixture::ARCHY_PREFIX))
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("another Archy's containers stayed on the engine ({}); a second Archy would remove them as orphans", others.join(", ")).into());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Installs `apps` at once; the time until the engine runs them all, and
/// until Archy reports them all Running (after its verify window).
async fn install(rpc: &Rpc, apps: std::ops::RangeInclusive<usize>) -> Result<String, BoxError> {
    let ids: Vec<String> = apps.map(app_id).collect();
    let running_before = fixture::running_bench().await?;
    let started = Instant::now();
    for accepted in join_all(
        ids.iter()
            .map(|id| rpc.call("package.install", json!({ "id": id }))),
    )
    .await
    {
        accepted?;
    }
    let mut engine_running = None;
    loop {
        if engine_running.is_none() && fixture::running_bench().await? >= running_before + ids.len()
        {
            engine_running = Some(started.elapsed());
        }
        let states = rpc.states().await?;
        let running = states
            .iter()
            .filter(|(id, s)| ids.contains(id) && s == "running")
            .count();
        if let (Some(engine), true) = (engine_running, running == ids.len()) {
            return Ok(format!(
                "all running in the engine {:.2} s, all Running in Archy {:.2} s",
                engine.as_secs_f64(),
                started.elapsed().as_secs_f64()
            ));
        }
        if let Some((id, s)) = states
            .iter()
            .find(|(id, s)| ids.contains(id) && s == "failed")
        {
            return Err(format!("{id} failed to install ({s})").into());
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err("installs did not finish within 300 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `container.list` at 500 requests/s for 10 s (latency from each request's
/// scheduled time, so a stalled server cannot hide its queue), while apps
/// restart one after another; a WebSocket subscriber times each pushed
/// transition against the daemon's own timestamp of it.
async fn list_under_load(rpc: &Rpc) -> Result<(), BoxError> {
    const RATE: u32 = 500;
    const SECS: u32 = 10;
    let mut feed = rpc.status_feed().await?;
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let pushes = tokio::spawn(async move {
        let mut latencies = Samples::default();
        loop {
            tokio::select! {
                pushed = feed.next() => match pushed {
                    Ok(p) => latencies.push(Duration::from_secs_f64((p.arrived_unix_ms - p.at_unix_ms as f64).max(0.0) / 1e3)),
                    Err(_) => break,
                },
                _ = &mut stopped => break,
            }
        }
        latencies
    });
    let restarts = {
        let rpc = rpc.clone();
        tokio::spawn(async move {
            for i in 1..=SECS as usize {
                let _ = rpc
                    .call("package.restart", json!({ "id": app_id(i) }))
                    .await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let start = tokio::time::Instant::now();
    let every = Duration::from_secs(1) / RATE;
    let mut calls = Vec::new();
    for i in 0..RATE * SECS {
        let due = start + every * i;
        tokio::time::sleep_until(due).await;
        let rpc = rpc.clone();
        calls.push(tokio::spawn(async move {
            rpc.call("container.list", json!({}))
                .await
                .map(|list| (due.elapsed(), list))
        }));
    }
    let (mut latency, mut errors) = (Samples::default(), 0);
    for call in join_all(calls).await {
        match call? {
            Ok((took, list)) if list["apps"].as_array().is_some_and(|a| a.len() == APPS) => {
                latency.push(took)
            }
            _ => errors += 1,
        }
    }
    restarts.await?;
    // Let the last restarts' transitions arrive, then close the feed.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let _ = stop.send(());
    let pushed = pushes.await?;
    figure(
        "container.list, 100 apps, 500 req/s for 10 s, 10 restarts meanwhile",
        "p99 < 5 ms",
        &format!("{}, {errors} errors or short lists", latency.summary()),
    );
    figure(
        "status push: transition → arrival on a WS subscriber, under that load",
        "p50 < 50 ms",
        &format!(
            "{} (ms resolution: the daemon stamps whole ms)",
            pushed.summary()
        ),
    );
    Ok(())
}

/// Kill the main process of each of `DEATH_APPS` (different apps, so each
/// meets its restart window's first restart, the immediate one); the time
/// until the engine runs each again, and Archy's own timeline of the death
/// and the restart.
async fn death_to_running(rpc: &Rpc) -> Result<(), BoxError> {
    let mut feed = rpc.status_feed().await?;
    let mut samples = Samples::default();
    let mut noticed = Samples::default();
    for i in DEATH_APPS {
        let id = app_id(i);
        let took = fixture::kill_until_running(&fixture::app_container(i), Duration::from_secs(60))
            .await?;
        // `took` runs from the kill itself, after the CLI call that found
        // the process: the timeline starts there too.
        let killed_ms = now_unix_ms() - took.as_secs_f64() * 1e3;
        samples.push(took);
        let mut timeline = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let Ok(pushed) = tokio::time::timeout(remaining, feed.next()).await else {
                break;
            };
            let pushed = pushed?;
            if pushed.app != id {
                continue;
            }
            let after = pushed.at_unix_ms as f64 - killed_ms;
            if timeline.is_empty() {
                noticed.push(Duration::from_secs_f64(after.max(0.0) / 1e3));
            }
            timeline.push(format!("{} at +{after:.0} ms", pushed.to));
            if pushed.to == "running" {
                break;
            }
        }
        println!("  {id} killed: {}", timeline.join(", "));
    }
    figure(
        "Archy: main process SIGKILLed → container running again",
        "p50 < 1 s",
        &samples.summary(),
    );
    figure(
        "Archy: main process SIGKILLed → its app leaves Running (event reaction)",
        "—",
        &noticed.summary(),
    );
    Ok(())
}
