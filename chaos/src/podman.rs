//! The engine as the suite sees it: the `podman` command line, independent
//! of the daemon under test.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "State")]
    state: String,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
    /// Unix seconds of the last start.
    #[serde(rename = "StartedAt", default)]
    started_at: i64,
}

/// One of an app's containers.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub running: bool,
    /// `archy.role`: `app` or `companion`.
    pub role: String,
    /// `archy.role` and `archy.member`: two containers with the same slot
    /// are duplicates.
    pub slot: String,
    /// Unix seconds of the last start: a restart in place keeps the id.
    pub started_at: i64,
}

impl Container {
    pub fn is_companion(&self) -> bool {
        self.role == "companion"
    }
}

fn podman(args: &[&str]) -> Result<String, String> {
    let output = Command::new("podman")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run podman: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Every container labelled for `app`, running or not.
pub fn containers(app: &str) -> Result<Vec<Container>, String> {
    let filter = format!("label=archy.app={app}");
    let listed: Vec<Listed> = serde_json::from_str(&podman(&[
        "ps", "-a", "--filter", &filter, "--format", "json",
    ])?)
    .map_err(|e| format!("podman ps output: {e}"))?;
    Ok(listed
        .into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
            Container {
                running: c.state == "running",
                role: label("archy.role"),
                slot: format!("{}/{}", label("archy.role"), label("archy.member")),
                id: c.id,
                started_at: c.started_at,
            }
        })
        .collect())
}

/// The app's own containers (not its companions) as (id, start time): a
/// bounce changes one or the other.
pub fn own_containers(app: &str) -> Result<Vec<(String, i64)>, String> {
    Ok(containers(app)?
        .into_iter()
        .filter(|c| !c.is_companion())
        .map(|c| (c.id, c.started_at))
        .collect())
}

/// SIGKILL the app's own running containers (not its companions), as an
/// OOM or a crash would.
pub fn kill(app: &str) -> Result<usize, String> {
    let running: Vec<String> = containers(app)?
        .into_iter()
        .filter(|c| c.running && !c.is_companion())
        .map(|c| c.id)
        .collect();
    for id in &running {
        podman(&["kill", id])?;
    }
    Ok(running.len())
}

/// SIGKILL a container, or remove it at once (`rm -f`) when `remove`.
pub fn kill_or_remove(id: &str, remove: bool) -> Result<(), String> {
    if remove {
        podman(&["rm", "-f", "-t", "0", id]).map(|_| ())
    } else {
        podman(&["kill", id]).map(|_| ())
    }
}

/// Remove every container of `app` (the suite's own clean-up).
pub fn remove_all(app: &str) -> Result<(), String> {
    for container in containers(app)? {
        podman(&["rm", "-f", "-t", "0", &container.id])?;
    }
    Ok(())
}
