//! The state directory's filesystem fills up (a log gone wild, a full
//! disk). Operations asked meanwhile must succeed or say the disk is full,
//! never leave a state file half written nor lose what the user last asked.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::lab::{unparsable_json, Lab, Want};

pub const CHECKS: &str = "the state dir's tmpfs is filled to ENOSPC, then demo-web is stopped and started: each request is accepted or refused with an error naming the full disk, the daemon keeps answering, every JSON under state/ parses, and the last accepted request decides demo-web's state; once the space is freed the fleet converges and a restart of demo-web succeeds";
const BOUND: Duration = Duration::from_secs(60);
const APP: &str = "demo-web";
/// The words of an ENOSPC error (`std::io::ErrorKind::StorageFull`).
const DISK_FULL: &str = "No space left on device";
/// The JSON-RPC code for "could not record the request" (docs/rpc.md).
const STATE_UNWRITABLE: &str = "error -32009";

pub async fn run(lab: &mut Lab) -> Result<Duration, String> {
    let filler = lab.state_dir.join("chaos-filler");
    fill(&filler)?;
    let asked = ask_while_full(lab).await;
    let parses = unparsable_json(&lab.state_dir).map_or(Ok(()), Err);
    std::fs::remove_file(&filler).map_err(|e| format!("{}: {e}", filler.display()))?;
    let freed = Instant::now();
    asked?;
    parses?;
    lab.converge(BOUND).await?;
    let took = freed.elapsed();
    lab.call("package.restart", json!({ "id": APP })).await?;
    lab.expect(APP, Want::Running);
    lab.converge(BOUND).await?;
    Ok(took)
}

/// Stop then start the app on the full disk; what the daemon accepted is
/// what the app must converge to.
async fn ask_while_full(lab: &mut Lab) -> Result<(), String> {
    let mut refused = 0;
    for (method, want) in [
        ("package.stop", Want::Stopped),
        ("package.start", Want::Running),
    ] {
        match lab.call(method, json!({ "id": APP })).await {
            Ok(_) => lab.expect(APP, want),
            Err(e) if e.contains(DISK_FULL) && e.contains(STATE_UNWRITABLE) => {
                eprintln!("chaos: on the full disk, {e}");
                refused += 1;
            }
            Err(e) => return Err(format!("{method} on a full disk: {e}")),
        }
        // Whatever was decided holds, full disk or not.
        lab.converge(BOUND).await?;
    }
    if refused == 0 {
        // Each request writes the desired state first: the fault did not bite.
        return Err("every request was accepted on a full disk".into());
    }
    Ok(())
}

/// Write `path` until the filesystem is full.
fn fill(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let chunk = vec![0xA5u8; 1 << 20];
    loop {
        match file.write_all(&chunk).and_then(|()| file.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return Ok(()),
            Err(e) => return Err(format!("filling {}: {e}", path.display())),
        }
    }
}
