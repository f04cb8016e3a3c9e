//! The engine goes away and comes back: its API service dies in the middle
//! of an operation (a crash or an upgrade of Podman), or its socket file is
//! deleted while the service runs on. Containers keep running under their
//! monitors meanwhile.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::lab::{Lab, Want};
use crate::wait::until;

pub const MID_OPERATION_CHECKS: &str = "the Podman service is SIGKILLed right after `package.stop` (odd iterations) or `package.restart` (even) of demo-web was accepted, and is back after 5 s: meanwhile the daemon answers container.list with the last-known states and engine_reachable=false, the interrupted operation is retried by itself (a `failed … trying again` status is not terminal) and ends in the user's state; the other apps are not bounced";
pub const SOCKET_CHECKS: &str = "the engine's socket file is deleted under the running service, then the service is restarted on the same path after 5 s: meanwhile the daemon answers container.list with the last-known states and engine_reachable=false; after, everything converges with no app bounced";
/// How long the engine stays away.
const OUTAGE: Duration = Duration::from_secs(5);
/// A reconcile pass (5 s in the lab) plus its deadline, with margin.
const NOTICED_WITHIN: Duration = Duration::from_secs(30);
/// The product retries an operation the engine failed after 10 s.
const BOUND: Duration = Duration::from_secs(60);
const APP: &str = "demo-web";

pub async fn mid_operation(lab: &mut Lab, iteration: u32) -> Result<Duration, String> {
    let (method, want) = if iteration % 2 == 1 {
        ("package.stop", Want::Stopped)
    } else {
        ("package.restart", Want::Running)
    };
    let mut others = lab.running_container_ids()?;
    others.remove(APP);
    lab.call(method, json!({ "id": APP })).await?;
    lab.expect(APP, want);
    // Accepted, not done: the operation's engine calls are under way.
    lab.engine.kill();
    let took = ride_out(lab).await?;
    let mut now = lab.running_container_ids()?;
    now.remove(APP);
    super::same_containers(&others, &now)?;
    if want == Want::Stopped {
        lab.call("package.start", json!({ "id": APP })).await?;
        lab.expect(APP, Want::Running);
        lab.converge(BOUND).await?;
    }
    Ok(took)
}

pub async fn socket_removed(lab: &mut Lab) -> Result<Duration, String> {
    let before = lab.running_container_ids()?;
    lab.engine.remove_socket()?;
    // The orphaned service still runs: replace it on the same path.
    let took = ride_out(lab).await?;
    super::same_containers(&before, &lab.running_container_ids()?)?;
    Ok(took)
}

/// With the engine unreachable: wait until the daemon says so while still
/// answering from what it knew, keep the engine away for [`OUTAGE`], bring
/// a fresh service back and wait for convergence. From the fault to
/// convergence.
async fn ride_out(lab: &mut Lab) -> Result<Duration, String> {
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
    if noticed.is_ok() {
        tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    }
    lab.engine.kill();
    lab.engine.resume().await?;
    noticed?;
    lab.converge(BOUND).await?;
    Ok(down.elapsed())
}
