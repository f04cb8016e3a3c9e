//! What the engine reports back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A container's state as Archy understands it. Podman's transient
/// `stopped` maps to `Exited`, `initialized`/`configured` to `Created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Stopping,
    Exited,
    Dead,
    Removing,
    Other(String),
}

impl RunState {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "created" | "initialized" | "configured" => RunState::Created,
            "running" => RunState::Running,
            "paused" => RunState::Paused,
            "restarting" => RunState::Restarting,
            "stopping" => RunState::Stopping,
            "exited" | "stopped" => RunState::Exited,
            "dead" => RunState::Dead,
            "removing" => RunState::Removing,
            other => RunState::Other(other.to_string()),
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self, RunState::Running)
    }
}

/// Whether a container is an app (or stack member) or a UI companion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    App,
    Companion,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::App => "app",
            Role::Companion => "companion",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "companion" {
            Role::Companion
        } else {
            Role::App
        }
    }
}

/// One managed container, as one list call shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub app: String,
    pub role: Role,
    pub spec_hash: Option<String>,
    pub image: String,
    pub state: RunState,
    /// From the list's status text ("Exited (137) 3 seconds ago").
    pub exit_code: Option<i64>,
    pub labels: BTreeMap<String, String>,
}

/// One container in full (inspect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerDetails {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: RunState,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub restart_count: i64,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineEventKind {
    Start,
    Die { exit_code: Option<i64> },
    Oom,
}

/// A container event for the reconciler's fast path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineEvent {
    pub container: String,
    pub app: Option<String>,
    pub role: Role,
    pub kind: EngineEventKind,
    /// The container's `archy.instance` label, if it has one.
    #[serde(default)]
    pub instance: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_transient_states_map_to_docker_ones() {
        assert_eq!(RunState::parse("stopped"), RunState::Exited);
        assert_eq!(RunState::parse("initialized"), RunState::Created);
        assert_eq!(RunState::parse("configured"), RunState::Created);
        assert_eq!(RunState::parse("Running"), RunState::Running);
        assert_eq!(RunState::parse("weird"), RunState::Other("weird".into()));
    }
}
