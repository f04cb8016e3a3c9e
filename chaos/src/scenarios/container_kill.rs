//! `podman kill` an app's container, as an OOM kill or a crash would: the
//! app's actor restarts it, counting the restart.

use std::time::Duration;

use crate::lab::Lab;
use crate::podman;

pub const CHECKS: &str =
    "the app runs again and the restart is counted (restart_count in container.list grows)";
/// The (immediate) first restart, the verify window and a health check,
/// with room for a loaded machine.
const BOUND: Duration = Duration::from_secs(60);
pub const APP: &str = "demo-web";

pub async fn run(lab: &mut Lab) -> Result<Duration, String> {
    let counted = restart_count(lab).await?;
    let took = kill_and_converge(lab).await?;
    let now = restart_count(lab).await?;
    if now <= counted {
        return Err(format!("restart_count of {APP} stayed at {now}"));
    }
    Ok(took)
}

/// Kill the app's container and wait until the fleet converged again.
pub async fn kill_and_converge(lab: &Lab) -> Result<Duration, String> {
    if podman::kill(APP)? == 0 {
        return Err(format!("{APP} had no running container to kill"));
    }
    lab.converge(BOUND).await
}

async fn restart_count(lab: &Lab) -> Result<u64, String> {
    lab.status_of(APP).await?["restart_count"]
        .as_u64()
        .ok_or_else(|| format!("{APP} has no restart_count"))
}
