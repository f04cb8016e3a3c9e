//! docker-compose 1.29 on the same services, through the counting proxy:
//! cold `up -d`, no-op `up -d` (time and engine calls), and a killed
//! container brought back by the engine's `restart: unless-stopped`.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::daemon::{dir, BoxError};
use crate::fixture;
use crate::proxy::CountingProxy;
use crate::stats::{figure, Samples};

pub async fn measure(root: &Path, engine: &Path, n: usize) -> Result<(), BoxError> {
    let project = format!("benchc{n}");
    let project_dir = dir(root, &project);
    fixture::write_compose(&project_dir, &project, n)?;
    let proxy = CountingProxy::start(&root.join(format!("{project}.sock")), engine)?;
    let result = measure_project(&proxy, &project_dir, &project, n).await;
    let down = compose(&proxy, &project_dir, &project, &["down", "-t", "1"]).await;
    result.and(down)
}

async fn measure_project(
    proxy: &CountingProxy,
    project_dir: &Path,
    project: &str,
    n: usize,
) -> Result<(), BoxError> {
    let mark = proxy.mark();
    let started = Instant::now();
    compose(proxy, project_dir, project, &["up", "-d"]).await?;
    let cold = started.elapsed();
    figure(
        &format!("compose cold converge, {n} services"),
        "—",
        &format!(
            "{:.2} s, {} engine calls",
            cold.as_secs_f64(),
            proxy.since(mark).len()
        ),
    );

    let (mut noop, mut calls) = (Samples::default(), Vec::new());
    for _ in 0..3 {
        let mark = proxy.mark();
        let started = Instant::now();
        compose(proxy, project_dir, project, &["up", "-d"]).await?;
        noop.push(started.elapsed());
        calls.push(proxy.since(mark).len());
    }
    figure(
        &format!("compose no-op `up -d`, {n} services"),
        "—",
        &format!("{}, engine calls {calls:?}", noop.summary()),
    );

    let mut revived = Samples::default();
    for i in 1..=3 {
        let name = format!("{}{project}-{i:03}", fixture::PREFIX);
        revived.push(fixture::kill_until_running(&name, Duration::from_secs(60)).await?);
    }
    figure(
        &format!("compose (restart: unless-stopped): main process SIGKILLed → running again, {n} services"),
        "—",
        &revived.summary(),
    );
    Ok(())
}

async fn compose(
    proxy: &CountingProxy,
    project_dir: &Path,
    project: &str,
    args: &[&str],
) -> Result<(), BoxError> {
    let output = Command::new("docker-compose")
        .arg("-p")
        .arg(project)
        .args(args)
        .current_dir(project_dir)
        .env(
            "DOCKER_HOST",
            format!("unix://{}", proxy.socket().display()),
        )
        .output()
        .await?;
    if !output.status.success() {
        return Err(format!(
            "docker-compose {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(())
}
