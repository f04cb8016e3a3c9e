//! The engine operations the mock counts and can hold.

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
