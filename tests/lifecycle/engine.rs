//! What Podman itself says about an app's containers, read with the
//! `podman` command (as the same user as the daemon, so the same storage).

use std::process::Command;

/// One container as Podman sees it: enough to tell "adopted" from "recreated".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerId {
    pub id: String,
    pub created: String,
    pub started_at: String,
    pub running: bool,
    /// `archy.role`: `app` or `companion`.
    pub role: String,
}

impl ContainerId {
    pub fn is_companion(&self) -> bool {
        self.role == "companion"
    }
}

/// Every container labelled for `app` (companions included), sorted by id.
pub fn containers(app: &str) -> Result<Vec<ContainerId>, String> {
    let ids = podman(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        &format!("label=archy.app={app}"),
    ])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec![
        "inspect",
        "--format",
        "{{.Id}}|{{.Created}}|{{.State.StartedAt}}|{{.State.Running}}|{{index .Config.Labels \"archy.role\"}}",
    ];
    args.extend(ids);
    let mut found: Vec<ContainerId> = podman(&args)?
        .lines()
        .filter_map(|line| {
            let mut f = line.split('|');
            Some(ContainerId {
                id: f.next()?.to_string(),
                created: f.next()?.to_string(),
                started_at: f.next()?.to_string(),
                running: f.next()? == "true",
                role: f.next()?.to_string(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// Named volumes labelled for `app`.
pub fn volumes(app: &str) -> Result<Vec<String>, String> {
    let out = podman(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=archy.app={app}"),
    ])?;
    Ok(out.split_whitespace().map(str::to_string).collect())
}

fn podman(args: &[&str]) -> Result<String, String> {
    let out = Command::new("podman")
        .args(args)
        .output()
        .map_err(|e| format!("podman: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
