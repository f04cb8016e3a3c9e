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
}

/// One of an app's containers.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub running: bool,
    /// `archy.role` and `archy.member`: two containers with the same slot
    /// are duplicates.
    pub slot: String,
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
                slot: format!("{}/{}", label("archy.role"), label("archy.member")),
                id: c.id,
            }
        })
        .collect())
}

/// SIGKILL the app's running containers, as an OOM or a crash would.
pub fn kill(app: &str) -> Result<usize, String> {
    let running: Vec<String> = containers(app)?
        .into_iter()
        .filter(|c| c.running)
        .map(|c| c.id)
        .collect();
    for id in &running {
        podman(&["kill", id])?;
    }
    Ok(running.len())
}

/// Remove every container of `app` (the suite's own clean-up).
pub fn remove_all(app: &str) -> Result<(), String> {
    for container in containers(app)? {
        podman(&["rm", "-f", "-t", "0", &container.id])?;
    }
    Ok(())
}
