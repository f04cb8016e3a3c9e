//! The reconciler in-process, on the state the daemon left: one reconcile
//! pass against a bare `list_managed`, both through the same counting proxy
//! (so the ratio is fair and the pass's engine calls are counted).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archy_actors::app::state::AppState;
use archy_actors::reconciler::ReconcilerConfig;
use archy_actors::tree::{Archy, TreeConfig};
use archy_runtime::podman::PodmanRuntime;
use archy_runtime::ContainerRuntime;

use crate::daemon::BoxError;
use crate::proxy::CountingProxy;
use crate::stats::{figure, Samples};

const ROUNDS: usize = 30;

pub async fn reconcile_vs_list(
    root: &Path,
    state: &Path,
    catalog: &Path,
    engine: &Path,
    apps: usize,
) -> Result<(), BoxError> {
    let proxy = CountingProxy::start(&root.join(format!("engine-{apps}.sock")), engine)?;
    let runtime = Arc::new(PodmanRuntime::connect(proxy.socket()).await?);
    let mut config = TreeConfig::new(state);
    config.registry.dirs = vec![catalog.to_path_buf()];
    // Only the passes this bench asks for; the event stream stays on.
    config.reconciler = ReconcilerConfig::every(Duration::from_secs(3600));
    let archy = Archy::boot(config, runtime.clone()).await?;
    let adopted = wait_all_running(&archy, apps).await;
    quiet(&proxy).await;

    let (mut list, mut pass) = (Samples::default(), Samples::default());
    let mut calls_per_pass = Vec::new();
    let mut outcome: Result<(), BoxError> = Ok(());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let listed = runtime.list_managed().await?;
        list.push(started.elapsed());
        let mark = proxy.mark();
        let started = Instant::now();
        let report = archy.reconcile().await?;
        pass.push(started.elapsed());
        calls_per_pass.push(proxy.since(mark));
        if listed.len() != apps || report.as_ref().map(|r| r.containers) != Ok(apps) {
            outcome = Err(format!(
                "expected {apps} containers: list saw {}, the pass {report:?}",
                listed.len()
            )
            .into());
        }
    }
    archy.shutdown().await;
    adopted?;
    outcome?;

    let ratio = pass.percentile(50.0).as_secs_f64() / list.percentile(50.0).as_secs_f64();
    figure(
        &format!("bare list_managed, {apps} containers"),
        "—",
        &list.summary(),
    );
    figure(
        &format!("reconcile pass, {apps} containers"),
        "≤ 1.2× list",
        &format!("{} → {ratio:.2}× the list's p50", pass.summary()),
    );
    let max_calls = calls_per_pass.iter().map(Vec::len).max().unwrap_or(0);
    let sample = calls_per_pass
        .iter()
        .max_by_key(|c| c.len())
        .cloned()
        .unwrap_or_default();
    figure(
        &format!("Archy engine calls per no-op pass, {apps} apps"),
        "1",
        &format!(
            "max {max_calls} over {ROUNDS} passes: {}",
            sample.join("; ")
        ),
    );
    Ok(())
}

async fn wait_all_running(archy: &Archy, apps: usize) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = archy
            .statuses()
            .iter()
            .filter(|s| s.state == AppState::Running)
            .count();
        if running == apps {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {running}/{apps} apps adopted Running within 120 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until adoption's inspects are over: no engine call for 500 ms.
async fn quiet(proxy: &CountingProxy) {
    let mut last = proxy.mark();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = proxy.mark();
        if now == last {
            return;
        }
        last = now;
    }
}
