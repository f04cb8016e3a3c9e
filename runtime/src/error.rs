//! Typed engine errors: each variant is something the actors decide on.

use std::time::Duration;

use thiserror::Error;

pub type RuntimeResult<T> = Result<T, RuntimeError>;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum RuntimeError {
    /// 404: no such container, image, volume or network.
    #[error("{what} not found")]
    NotFound { what: String },

    /// A container with that name exists already (Podman: 500, Docker: 409).
    #[error("container name {name:?} is already in use")]
    NameInUse { name: String },

    /// The name is held by a container another Archy daemon created (its
    /// `archy.instance` differs): this daemon must neither adopt nor remove it.
    #[error("container name {name:?} is taken by another Archy daemon's container (archy.instance={owner}); uninstall the app from that daemon, or if it is gone for good, remove the container by hand")]
    OwnedByAnotherDaemon { name: String, owner: String },

    /// A host port the container publishes is held by another program.
    #[error("{name:?} cannot start: a host port it publishes is taken by another program ({message}); free the port or change the app's host port")]
    PortInUse { name: String, message: String },

    /// The container is not in a state that allows the call
    /// (Podman: 500 "container state improper", Docker: 409).
    #[error("container {name:?} is in the wrong state for {op}: {message}")]
    InvalidState {
        name: String,
        op: String,
        message: String,
    },

    /// The engine rejected the request as malformed: an adapter bug.
    #[error("engine rejected {op}: {message}")]
    BadRequest { op: String, message: String },

    /// The call's deadline passed. The operation may still complete on the
    /// engine side: re-observe, never blindly recreate.
    #[error("{op} timed out after {after:?}; the engine may still be working on it")]
    Timeout { op: String, after: Duration },

    /// A pull or build failed, or an image is unusable.
    #[error("image {image}: {reason}")]
    ImageFailed { image: String, reason: String },

    /// The engine cannot be reached (socket missing, connection refused).
    #[error("container engine unavailable: {reason}")]
    Unavailable { reason: String },

    /// A passing decode failure (e.g. Podman's transient `stopped` state);
    /// retry.
    #[error("transient engine error in {op}: {message}")]
    Transient { op: String, message: String },

    /// Anything else the engine said.
    #[error("engine error in {op}: {message}")]
    Engine { op: String, message: String },
}

impl RuntimeError {
    /// Errors worth retrying after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            RuntimeError::Timeout { .. }
                | RuntimeError::Unavailable { .. }
                | RuntimeError::Transient { .. }
        )
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RuntimeError::NotFound { .. })
    }
}
