//! Kill an actor through `debug.kill_actor`: its supervisor restarts it, the
//! new incarnation re-adopts the containers without touching them.

use std::time::Duration;

use tokio::time::Instant;

use serde_json::json;

use crate::lab::Lab;

pub const CHECKS: &str = "the supervisor restarts the actor (archy_actor_restarts_total grows); every container is adopted as it was (same ids); no app bounced";
const BOUND: Duration = Duration::from_secs(15);
const RESTARTS: &str = "archy_actor_restarts_total";
/// The root's budget is 3 restarts a minute, past which the daemon exits for
/// its service manager (by design); one root-child kill per 21 s stays under.
const ROOT_KILL_SPACING: Duration = Duration::from_secs(21);

pub async fn run(lab: &mut Lab, path: &str) -> Result<Duration, String> {
    if !path.starts_with("app:") {
        if let Some(last) = lab.last_root_kill {
            tokio::time::sleep(ROOT_KILL_SPACING.saturating_sub(last.elapsed())).await;
        }
        lab.last_root_kill = Some(Instant::now());
    }
    let before = lab.running_container_ids()?;
    let restarts = lab.counter(RESTARTS).await?;
    lab.call("debug.kill_actor", json!({ "path": path }))
        .await?;
    let took = lab.converge(BOUND).await?;
    let now = lab.counter(RESTARTS).await?;
    if now <= restarts {
        return Err(format!("{RESTARTS} stayed at {now} after killing {path}"));
    }
    super::same_containers(&before, &lab.running_container_ids()?)?;
    Ok(took)
}
