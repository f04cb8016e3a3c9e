//! `kill -9` the daemon in the middle of an operation and start it again:
//! the boot is unclean (the pid file is left behind) and must converge on
//! what the user last asked.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::lab::{Lab, Want};

pub const MID_STOP_CHECKS: &str = "a stop accepted just before the SIGKILL holds after the unclean boot (the app ends stopped, never started again); the other apps are adopted untouched";
pub const MID_INSTALL_CHECKS: &str = "an install interrupted by the SIGKILL completes after the unclean boot; no duplicate container; the other apps are adopted untouched";
const BOUND: Duration = Duration::from_secs(90);
const APP: &str = "demo-web";
/// Long enough for the operation to be under way, short of its end.
const MID_OPERATION: Duration = Duration::from_millis(300);

pub async fn mid_stop(lab: &mut Lab) -> Result<Duration, String> {
    let took = interrupt(lab, "package.stop", Want::Stopped).await?;
    lab.call("package.start", json!({ "id": APP })).await?;
    lab.expect(APP, Want::Running);
    lab.converge(BOUND).await?;
    Ok(took)
}

pub async fn mid_install(lab: &mut Lab) -> Result<Duration, String> {
    lab.call("package.uninstall", json!({ "id": APP })).await?;
    lab.expect(APP, Want::Absent);
    lab.converge(BOUND).await?;
    interrupt(lab, "package.install", Want::Running).await
}

/// Ask for `method` on the app, SIGKILL the daemon mid-way, boot it again
/// and wait until everything converged on `want`.
async fn interrupt(lab: &mut Lab, method: &str, want: Want) -> Result<Duration, String> {
    let mut others = lab.running_container_ids()?;
    others.remove(APP);
    lab.call(method, json!({ "id": APP })).await?;
    lab.expect(APP, want);
    tokio::time::sleep(MID_OPERATION).await;
    let killed = Instant::now();
    lab.sigkill_daemon();
    lab.start_daemon().await?;
    lab.converge(BOUND).await?;
    let took = killed.elapsed();
    let mut now = lab.running_container_ids()?;
    now.remove(APP);
    super::same_containers(&others, &now)?;
    Ok(took)
}
