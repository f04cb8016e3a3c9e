//! Garbage in the desired-state files while the daemon is down: the next
//! boot quarantines them and rebuilds from what the engine shows.

use std::time::{Duration, Instant};

use crate::lab::Lab;

pub const CHECKS: &str = "after `<state>/apps/<id>.json` of a running and a stopped app are overwritten with garbage, the daemon boots, quarantines both (`.corrupt-*`), the running app is adopted untouched and the stopped one stays stopped";
const BOUND: Duration = Duration::from_secs(60);
const CORRUPTED: &[&str] = &["demo-db", "demo-api"];

pub async fn run(lab: &mut Lab) -> Result<Duration, String> {
    let before = lab.running_container_ids()?;
    lab.stop_daemon().await?;
    let apps_dir = lab.state_dir.join("apps");
    for app in CORRUPTED {
        let path = apps_dir.join(format!("{app}.json"));
        std::fs::write(&path, b"{\"desired\": \x00\xff not json")
            .map_err(|e| format!("cannot corrupt {}: {e}", path.display()))?;
    }
    let started = Instant::now();
    lab.start_daemon().await?;
    lab.converge(BOUND).await?;
    let took = started.elapsed();
    for app in CORRUPTED {
        if !quarantined(&apps_dir, app)? {
            return Err(format!("{app}.json was not quarantined"));
        }
    }
    super::same_containers(&before, &lab.running_container_ids()?)?;
    Ok(took)
}

fn quarantined(dir: &std::path::Path, app: &str) -> Result<bool, String> {
    let prefix = format!("{app}.json.corrupt-");
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(entries
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&prefix)))
}
