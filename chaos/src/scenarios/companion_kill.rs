//! A companion's container dies or vanishes (`podman kill` / `rm -f`): the
//! companion heals on its own cadence and its app is left alone.

use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::podman;
use crate::wait::until;

pub const CHECKS: &str = "demo-web's companion container is SIGKILLed (odd iterations) or removed with `rm -f` (even): a running companion is back within the bound and container.list shows it running; demo-web's own container keeps its id and start time (not bounced)";
/// The lab's companion period (5 s) plus a build-free create and start.
const BOUND: Duration = Duration::from_secs(30);
const APP: &str = "demo-web";

pub async fn run(lab: &mut Lab, iteration: u32) -> Result<Duration, String> {
    let app_before = podman::own_containers(APP)?;
    let companion = podman::containers(APP)?
        .into_iter()
        .find(|c| c.is_companion() && c.running)
        .ok_or_else(|| format!("{APP} has no running companion container"))?;
    let fault = Instant::now();
    podman::kill_or_remove(&companion.id, iteration % 2 == 0)?;
    until(BOUND, || async {
        let back = podman::containers(APP)?
            .iter()
            .any(|c| c.is_companion() && c.running);
        if !back {
            return Err("no running companion container yet".to_string());
        }
        let companions = lab.status_of(APP).await?["companions"].clone();
        let running = companions
            .as_array()
            .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c["state"] == "running"));
        running
            .then_some(())
            .ok_or_else(|| format!("container.list shows companions {companions}"))
    })
    .await?;
    let took = fault.elapsed();
    lab.converge(BOUND).await?;
    let app_after = podman::own_containers(APP)?;
    if app_after != app_before {
        return Err(format!(
            "{APP} bounced with its companion: (id, started at) {app_before:?} became {app_after:?}"
        ));
    }
    Ok(took)
}
