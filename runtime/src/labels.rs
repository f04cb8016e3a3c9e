//! Labels Archy stamps on every container it creates, so that one filtered
//! list call tells the reconciler everything.

/// The app id a container belongs to. Its presence marks a managed container.
pub const APP: &str = "archy.app";
/// Hash of the [`crate::ContainerSpec`] the container was created from.
pub const SPEC_HASH: &str = "archy.spec-hash";
/// `app` or `companion`.
pub const ROLE: &str = "archy.role";
/// For stacks: the member name inside the app (e.g. `db`).
pub const MEMBER: &str = "archy.member";
/// On images built from a context: hash of that context.
pub const CONTEXT_HASH: &str = "archy.context-hash";
/// The Archy daemon that created the container ([`crate::InstanceId`]):
/// other daemons on the same engine leave it alone.
pub const INSTANCE: &str = "archy.instance";
