//! The benchmark's services: N tiny busybox containers from the base image,
//! written both as an Archy catalog and as an equivalent compose file, plus
//! the `podman` CLI calls that kill, watch and clean them up.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::daemon::BoxError;

pub const IMAGE: &str = "localhost/archy-base:latest";
/// Every app and compose container the bench creates is named `bench-*`.
pub const PREFIX: &str = "bench-";
/// Archy names an app's container `archy-<app>`.
pub const ARCHY_PREFIX: &str = "archy-bench-";
/// Exits on SIGTERM at once (busybox as PID 1 would ignore it).
const COMMAND: [&str; 3] = ["sh", "-c", "trap 'exit 0' TERM; sleep 2147483647 & wait"];

pub fn app_id(i: usize) -> String {
    format!("{PREFIX}{i:03}")
}

pub fn app_container(i: usize) -> String {
    format!("{ARCHY_PREFIX}{i:03}")
}

/// `<dir>/bench-001/manifest.yml` … for apps `1..=n`.
pub fn write_catalog(dir: &Path, n: usize) -> std::io::Result<()> {
    let cmd = serde_json::to_string(&COMMAND).expect("a string array serializes");
    for i in 1..=n {
        let id = app_id(i);
        std::fs::create_dir_all(dir.join(&id))?;
        let manifest = format!(
            "id: {id}\nname: Bench {i}\nversion: \"1.0.0\"\n\
             description: A tiny busybox service for the daemon benchmark.\n\
             tier: app\ncontainer:\n  image: {IMAGE}\n  cmd: {cmd}\n"
        );
        std::fs::write(dir.join(&id).join("manifest.yml"), manifest)?;
    }
    Ok(())
}

/// The same `n` services for docker-compose, restarted by the engine.
pub fn write_compose(dir: &Path, project: &str, n: usize) -> std::io::Result<()> {
    let cmd = serde_json::to_string(&COMMAND).expect("a string array serializes");
    let mut file = String::from("version: \"3\"\nservices:\n");
    for i in 1..=n {
        file.push_str(&format!(
            "  s{i:03}:\n    image: {IMAGE}\n    container_name: {PREFIX}{project}-{i:03}\n    \
             command: {cmd}\n    restart: unless-stopped\n"
        ));
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("docker-compose.yml"), file)
}

pub async fn podman(args: &[&str]) -> Result<String, BoxError> {
    let output = Command::new("podman").args(args).output().await?;
    if !output.status.success() {
        return Err(format!(
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Names of every container Archy manages on this engine.
pub async fn archy_managed() -> Result<Vec<String>, BoxError> {
    let names = podman(&[
        "ps",
        "-a",
        "--filter",
        "label=archy.app",
        "--format",
        "{{.Names}}",
    ])
    .await?;
    Ok(names.lines().map(str::to_string).collect())
}

/// Running containers of the bench's Archy apps.
pub async fn running_bench() -> Result<usize, BoxError> {
    let names = podman(&[
        "ps",
        "--filter",
        &format!("name=^{ARCHY_PREFIX}"),
        "--format",
        "{{.Names}}",
    ])
    .await?;
    Ok(names.lines().filter(|l| !l.is_empty()).count())
}

/// SIGKILL a container's main process from the host (a crash: `podman
/// kill` counts as the user stopping it, which Podman's restart policies
/// honour), then poll until it runs again with a new start time: the time
/// from the kill to running again.
pub async fn kill_until_running(name: &str, limit: Duration) -> Result<Duration, BoxError> {
    let before = podman(&["inspect", "-f", "{{.State.Pid}} {{.State.StartedAt}}", name]).await?;
    let (pid, before) = before.split_once(' ').ok_or("no pid in the inspect")?;
    let before = before.to_string();
    let killed = Instant::now();
    let status = Command::new("kill").arg("-KILL").arg(pid).status().await?;
    if !status.success() {
        return Err(format!("cannot kill {name}'s process {pid}").into());
    }
    loop {
        let state = podman(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.State.StartedAt}}",
            name,
        ])
        .await;
        if let Ok(state) = state {
            if let Some(started) = state.strip_prefix("true ") {
                if started != before {
                    return Ok(killed.elapsed());
                }
            }
        }
        if killed.elapsed() > limit {
            return Err(format!("{name} was not running again within {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Removes every container the bench made (Archy's and compose's) and the
/// compose projects' networks; no volumes are made.
pub async fn clean_up() -> Result<(), BoxError> {
    for prefix in [ARCHY_PREFIX, PREFIX] {
        let ids = podman(&["ps", "-aq", "--filter", &format!("name=^{prefix}")]).await?;
        let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-t", "0"];
            args.extend(ids);
            podman(&args).await?;
        }
    }
    let networks = podman(&["network", "ls", "-q", "--filter", "name=^benchc"]).await?;
    for network in networks.lines().filter(|l| !l.is_empty()) {
        podman(&["network", "rm", "-f", network]).await?;
    }
    Ok(())
}
