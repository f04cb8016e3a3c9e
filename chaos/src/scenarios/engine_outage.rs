//! The engine's API service dies and comes back (a crash or an upgrade of
//! Podman). Containers keep running under their monitors meanwhile.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::lab::Lab;
use crate::wait::until;

pub const CHECKS: &str = "while the Podman service is down the daemon keeps answering container.list with the last-known states and reports engine_reachable=false; once it is back everything converges with no app bounced";
const OUTAGE: Duration = Duration::from_secs(5);
const NOTICED_WITHIN: Duration = Duration::from_secs(45);
const BOUND: Duration = Duration::from_secs(60);

pub async fn run(lab: &mut Lab) -> Result<Duration, String> {
    let before = lab.running_container_ids()?;
    lab.engine.kill();
    let down = Instant::now();
    let noticed = until(NOTICED_WITHIN, || async {
        let list = lab.call("container.list", json!({})).await?;
        let last_known = list["apps"]
            .as_array()
            .is_some_and(|apps| apps.iter().any(|a| a["state"] == "running"));
        if !last_known {
            return Err(format!("the last-known states are gone: {list}"));
        }
        match list["engine_reachable"].as_bool() {
            Some(false) => Ok(()),
            _ => Err("engine_reachable is still true".into()),
        }
    })
    .await;
    if let Err(e) = noticed {
        lab.engine.resume().await?;
        return Err(e);
    }
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    lab.engine.resume().await?;
    let took = lab.converge(BOUND).await?;
    super::same_containers(&before, &lab.running_container_ids()?)?;
    Ok(took)
}
