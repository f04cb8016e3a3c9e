//! Delete the persisted restart tracker under a running daemon, then crash a
//! container: the tracker is rebuilt and the app still heals.

use std::time::Duration;

use crate::lab::Lab;

use super::container_kill;

pub const CHECKS: &str = "with restart-tracker.json gone, a killed container is still restarted and the daemon keeps answering";

pub async fn run(lab: &mut Lab) -> Result<Duration, String> {
    let tracker = lab.state_dir.join("restart-tracker.json");
    match std::fs::remove_file(&tracker) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot delete {}: {e}", tracker.display())),
    }
    container_kill::kill_and_converge(lab).await
}
