//! Twenty conflicting lifecycle requests on one app at once over JSON-RPC.
//! The actor serializes them; the last one the user sent decides the end.

use std::time::Duration;

use serde_json::json;

use crate::lab::{Lab, Want};
use crate::rpc::Rpc;

pub const CHECKS: &str = "19 install/stop/start/restart/uninstall requests fired at once, then a last one (start on even iterations, stop on odd): the app ends in the last request's state, with one container and a consistent status";
const BOUND: Duration = Duration::from_secs(120);
const APP: &str = "demo-web";
const BURST: usize = 19;
const OPS: &[&str] = &[
    "package.install",
    "package.stop",
    "package.start",
    "package.restart",
    "package.uninstall",
];
/// JSON-RPC codes for "not installed" and "the app's state forbids this".
const NOT_FOUND: i64 = -32001;
const CONFLICT: i64 = -32007;

pub async fn run(lab: &mut Lab, iteration: u32) -> Result<Duration, String> {
    let rpc = lab.rpc()?.clone();
    let burst: Vec<_> = (0..BURST)
        .map(|k| {
            // A different interleaving per iteration, reproducible.
            let op = OPS[(k * 3 + iteration as usize * 7) % OPS.len()];
            let rpc = rpc.clone();
            tokio::spawn(async move { rpc.call(op, json!({ "id": APP })).await })
        })
        .collect();
    for request in burst {
        // Refusals (busy, conflict, not installed) are answers too.
        let _ = request.await.map_err(|e| format!("request task: {e}"))?;
    }
    let want = if iteration % 2 == 0 {
        Want::Running
    } else {
        Want::Stopped
    };
    insist(&rpc, want).await?;
    lab.expect(APP, want);
    let took = lab.converge(BOUND).await?;
    if want == Want::Stopped {
        lab.call("package.start", json!({ "id": APP })).await?;
        lab.expect(APP, Want::Running);
        lab.converge(BOUND).await?;
    }
    Ok(took)
}

/// Send the last request; if an uninstall in the burst removed the app,
/// install it first, as a user would.
async fn insist(rpc: &Rpc, want: Want) -> Result<(), String> {
    let last = if want == Want::Running {
        "package.start"
    } else {
        "package.stop"
    };
    match rpc.call(last, json!({ "id": APP })).await {
        Ok(_) => return Ok(()),
        Err(e) if e.code() == Some(NOT_FOUND) => {}
        Err(e) => return Err(e.to_string()),
    }
    match rpc.call("package.install", json!({ "id": APP })).await {
        Ok(_) => {}
        Err(e) if e.code() == Some(CONFLICT) => {}
        Err(e) => return Err(e.to_string()),
    }
    rpc.call(last, json!({ "id": APP }))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
