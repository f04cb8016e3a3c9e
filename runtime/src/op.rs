//! The engine operations, one per [`crate::ContainerRuntime`] method: the
//! mock counts and holds calls by them, the metrics label calls with them.

/// One [`crate::ContainerRuntime`] method. Tests assert the cost of an actor
/// operation in calls per `Op`, and hold an `Op` to test in-flight calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Ping,
    ListManaged,
    ImagePresent,
    Pull,
    Build,
    ImageLabels,
    Create,
    Start,
    Stop,
    Kill,
    Remove,
    Inspect,
    Logs,
    Exec,
    EnsureNetwork,
    RemoveVolume,
    Events,
}

impl Op {
    pub const ALL: [Op; 17] = [
        Op::Ping,
        Op::ListManaged,
        Op::ImagePresent,
        Op::Pull,
        Op::Build,
        Op::ImageLabels,
        Op::Create,
        Op::Start,
        Op::Stop,
        Op::Kill,
        Op::Remove,
        Op::Inspect,
        Op::Logs,
        Op::Exec,
        Op::EnsureNetwork,
        Op::RemoveVolume,
        Op::Events,
    ];

    /// The method's name, as the `operation` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ping => "ping",
            Op::ListManaged => "list_managed",
            Op::ImagePresent => "image_present",
            Op::Pull => "pull",
            Op::Build => "build",
            Op::ImageLabels => "image_labels",
            Op::Create => "create",
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Kill => "kill",
            Op::Remove => "remove",
            Op::Inspect => "inspect",
            Op::Logs => "logs",
            Op::Exec => "exec",
            Op::EnsureNetwork => "ensure_network",
            Op::RemoveVolume => "remove_volume",
            Op::Events => "events",
        }
    }
}
