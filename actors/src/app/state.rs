//! An app's lifecycle state and the ONE table of transitions between states.
//!
//! Every state change goes through [`allowed`]; anything else is a bug in
//! the actor, logged and refused rather than shown to the user.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an install is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallPhase {
    Pulling,
    Building,
    Creating,
    Starting,
    Verifying,
}

/// An app's lifecycle state as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum AppState {
    Absent,
    Installing {
        phase: InstallPhase,
    },
    /// A user start (or a start after a crash recovery) is in progress.
    Starting,
    Running,
    Unhealthy,
    Stopping,
    Stopped,
    Restarting,
    Uninstalling,
    Blocked {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// [`AppState`] without its data: what the transition table is keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    Absent,
    Installing,
    Starting,
    Running,
    Unhealthy,
    Stopping,
    Stopped,
    Restarting,
    Uninstalling,
    Blocked,
    Failed,
}

impl AppState {
    pub fn kind(&self) -> StateKind {
        match self {
            AppState::Absent => StateKind::Absent,
            AppState::Installing { .. } => StateKind::Installing,
            AppState::Starting => StateKind::Starting,
            AppState::Running => StateKind::Running,
            AppState::Unhealthy => StateKind::Unhealthy,
            AppState::Stopping => StateKind::Stopping,
            AppState::Stopped => StateKind::Stopped,
            AppState::Restarting => StateKind::Restarting,
            AppState::Uninstalling => StateKind::Uninstalling,
            AppState::Blocked { .. } => StateKind::Blocked,
            AppState::Failed { .. } => StateKind::Failed,
        }
    }

    pub fn installing(phase: InstallPhase) -> Self {
        AppState::Installing { phase }
    }

    pub fn failed(reason: impl Into<String>) -> Self {
        AppState::Failed {
            reason: reason.into(),
        }
    }

    pub fn blocked(reason: impl Into<String>) -> Self {
        AppState::Blocked {
            reason: reason.into(),
        }
    }

    /// Running, healthy or not: the containers are up.
    pub fn is_up(&self) -> bool {
        matches!(self, AppState::Running | AppState::Unhealthy)
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            StateKind::Absent => "absent",
            StateKind::Installing => "installing",
            StateKind::Starting => "starting",
            StateKind::Running => "running",
            StateKind::Unhealthy => "unhealthy",
            StateKind::Stopping => "stopping",
            StateKind::Stopped => "stopped",
            StateKind::Restarting => "restarting",
            StateKind::Uninstalling => "uninstalling",
            StateKind::Blocked => "blocked",
            StateKind::Failed => "failed",
        };
        f.write_str(name)
    }
}

impl fmt::Display for InstallPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InstallPhase::Pulling => "pulling",
            InstallPhase::Building => "building",
            InstallPhase::Creating => "creating",
            InstallPhase::Starting => "starting",
            InstallPhase::Verifying => "verifying",
        })
    }
}

impl fmt::Display for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppState::Installing { phase } => write!(f, "installing ({phase})"),
            other => other.kind().fmt(f),
        }
    }
}

/// The one transition table. A state may move to itself only where its data
/// changes (install phase, a new blocked/failed reason, a new restart
/// countdown). An actor starts in `Absent` and adopts what it finds, so
/// `Absent` may jump to `Running`, `Stopped` or `Stopping` (a container
/// running that the user had stopped).
pub fn allowed(from: StateKind, to: StateKind) -> bool {
    use StateKind::*;
    let targets: &[StateKind] = match from {
        Absent => &[
            Installing,
            Running,
            Stopping,
            Stopped,
            Starting,
            Failed,
            Uninstalling,
        ],
        Installing => &[Installing, Running, Blocked, Failed, Uninstalling],
        Starting => &[Running, Blocked, Failed, Stopping, Uninstalling],
        Running => &[
            Unhealthy,
            Stopping,
            Stopped,
            Restarting,
            Starting,
            Installing,
            Failed,
            Uninstalling,
        ],
        Unhealthy => &[
            Running,
            Stopping,
            Stopped,
            Restarting,
            Starting,
            Installing,
            Failed,
            Uninstalling,
        ],
        Stopping => &[Stopped, Failed, Uninstalling],
        Stopped => &[Starting, Restarting, Installing, Stopping, Uninstalling],
        Restarting => &[Restarting, Running, Blocked, Failed, Stopping, Uninstalling],
        Uninstalling => &[Absent, Failed],
        Blocked => &[
            Blocked,
            Starting,
            Installing,
            Restarting,
            Running,
            Stopping,
            Failed,
            Uninstalling,
        ],
        Failed => &[
            Failed,
            Installing,
            Starting,
            Restarting,
            Running,
            Stopping,
            Uninstalling,
        ],
    };
    targets.contains(&to)
}

/// A lifecycle operation, as the status board shows what is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Install,
    Start,
    Stop,
    Restart,
    Uninstall,
    /// Restarting crashed containers (not asked by the user).
    Heal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use StateKind::*;

    const ALL: [StateKind; 11] = [
        Absent,
        Installing,
        Starting,
        Running,
        Unhealthy,
        Stopping,
        Stopped,
        Restarting,
        Uninstalling,
        Blocked,
        Failed,
    ];

    #[test]
    fn the_lifecycle_paths_of_the_architecture_are_allowed() {
        let paths: &[&[StateKind]] = &[
            &[Absent, Installing, Installing, Running, Unhealthy, Running],
            &[Running, Stopping, Stopped, Starting, Running],
            &[Running, Restarting, Running],
            &[Running, Uninstalling, Absent],
            &[Absent, Installing, Failed, Installing],
            &[Stopped, Starting, Blocked, Starting, Running],
            &[Running, Restarting, Restarting, Failed, Starting],
        ];
        for path in paths {
            for pair in path.windows(2) {
                assert!(allowed(pair[0], pair[1]), "{} -> {}", pair[0], pair[1]);
            }
        }
    }

    #[test]
    fn every_state_but_uninstalling_itself_can_start_an_uninstall() {
        for from in ALL {
            if from != Uninstalling {
                assert!(allowed(from, Uninstalling), "{from} -> uninstalling");
            }
        }
    }

    #[test]
    fn only_uninstalling_reaches_absent() {
        for from in ALL {
            assert_eq!(
                allowed(from, Absent),
                from == Uninstalling,
                "{from} -> absent"
            );
        }
    }

    #[test]
    fn a_stopped_app_does_not_come_up_without_a_start() {
        // Stopped never jumps to Running: something must start it first.
        assert!(!allowed(Stopped, Running));
        assert!(!allowed(Stopped, Unhealthy));
        assert!(!allowed(Stopping, Running));
        assert!(!allowed(Uninstalling, Running));
    }

    #[test]
    fn self_transitions_only_where_the_data_changes() {
        let repeatable = [Installing, Restarting, Blocked, Failed];
        for s in ALL {
            assert_eq!(allowed(s, s), repeatable.contains(&s), "{s} -> {s}");
        }
    }

    #[test]
    fn states_serialize_with_a_tag_and_their_data() {
        let json = serde_json::to_value(AppState::installing(InstallPhase::Pulling)).unwrap();
        assert_eq!(json["state"], "installing");
        assert_eq!(json["phase"], "pulling");
        let json = serde_json::to_value(AppState::blocked("needs bitcoin")).unwrap();
        assert_eq!(json["state"], "blocked");
        assert_eq!(json["reason"], "needs bitcoin");
    }
}
