//! The engine boundary. Archy talks to containers only through
//! [`ContainerRuntime`]; no bollard type crosses this crate's public API.
//!
//! - [`spec`]: what Archy asks the engine to create, and its spec hash.
//! - [`observed`]: what the engine reports back (one labelled list call).
//! - [`error`]: typed engine errors the actors can decide on.
//! - [`podman`]: the real adapter on Podman's Docker-compatible socket.
//! - [`mock`]: an in-memory engine with fault injection and call counters.
//! - [`metered`]: a decorator counting and timing every engine call.
//! - [`instance`]: a decorator scoping the engine to one Archy daemon.
//! - [`metrics`]: every metric Archy exports (names, help, buckets).

pub mod error;
pub mod instance;
pub mod labels;
pub mod metered;
pub mod metrics;
pub mod mock;
pub mod observed;
mod op;
pub mod podman;
pub mod spec;

pub use error::{RuntimeError, RuntimeResult};
pub use instance::{InstanceId, InstanceScoped};
pub use metered::MeteredRuntime;
pub use observed::{
    ContainerDetails, EngineEvent, EngineEventKind, ExecOutput, Observed, Role, RunState,
};
pub use op::Op;
pub use spec::{BuildRequest, ContainerSpec, Mount, MountSource, PortBinding, Protocol};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

/// Extra time an engine call gets beyond the grace it waits for: Podman
/// answers a stop only after SIGKILL and cleanup (measured grace + 0.3–0.4 s),
/// so a deadline equal to the grace would fire while Podman keeps stopping.
pub const STOP_DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// A progress line from a pull or a build, for the event journal and the UI.
pub type ProgressSink = Option<tokio::sync::mpsc::UnboundedSender<String>>;

/// Shared handle the actors hold.
pub type SharedRuntime = Arc<dyn ContainerRuntime>;

/// What Archy needs from a container engine. Names are container names;
/// every call is one engine round trip unless its doc says otherwise.
#[async_trait]
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Cheap liveness check (`/_ping`).
    async fn ping(&self) -> RuntimeResult<()>;

    /// Every container carrying the `archy.app` label, in one list call
    /// (an [`InstanceScoped`] engine: only its own instance's).
    async fn list_managed(&self) -> RuntimeResult<Vec<Observed>>;

    /// Whether the image is in local storage.
    async fn image_present(&self, image: &str) -> RuntimeResult<bool>;

    /// Pull one image. One attempt: retry policy lives in the actors.
    async fn pull(&self, image: &str, progress: ProgressSink) -> RuntimeResult<()>;

    /// Build an image from a context directory (sent as a tar).
    async fn build(&self, request: &BuildRequest, progress: ProgressSink) -> RuntimeResult<()>;

    /// Labels of a local image (used for build-context hashes).
    async fn image_labels(
        &self,
        image: &str,
    ) -> RuntimeResult<std::collections::BTreeMap<String, String>>;

    /// Create a container from the spec; returns its id. Labels include the
    /// spec hash.
    async fn create(&self, spec: &ContainerSpec) -> RuntimeResult<String>;

    /// Start a created or exited container. Starting a running one is Ok.
    async fn start(&self, name: &str) -> RuntimeResult<()>;

    /// SIGTERM, then SIGKILL after `grace`. The engine call's deadline is
    /// `grace + STOP_DEADLINE_MARGIN`. Stopping a stopped container is Ok.
    async fn stop(&self, name: &str, grace: Duration) -> RuntimeResult<()>;

    /// Send a signal (e.g. "SIGKILL").
    async fn kill(&self, name: &str, signal: &str) -> RuntimeResult<()>;

    /// Remove a container. `force` kills a running one first; `volumes`
    /// also removes its anonymous volumes. Named volumes are never removed
    /// here: see [`ContainerRuntime::remove_volume`].
    async fn remove(&self, name: &str, force: bool, volumes: bool) -> RuntimeResult<()>;

    /// Full details of one container.
    async fn inspect(&self, name: &str) -> RuntimeResult<ContainerDetails>;

    /// The last `tail` log lines, stdout and stderr interleaved.
    async fn logs(&self, name: &str, tail: usize) -> RuntimeResult<Vec<String>>;

    /// Run a command in a running container and wait for it.
    async fn exec(&self, name: &str, cmd: &[String]) -> RuntimeResult<ExecOutput>;

    /// Create the named network if missing (DNS on, so aliases resolve).
    async fn ensure_network(&self, name: &str) -> RuntimeResult<()>;

    /// Remove a named volume; a missing one is Ok.
    async fn remove_volume(&self, name: &str) -> RuntimeResult<()>;

    /// Container start/die/oom events of managed containers. The stream ends
    /// when the engine goes away; callers reconnect with backoff and keep the
    /// periodic list as the safety net.
    async fn events(&self) -> RuntimeResult<BoxStream<'static, RuntimeResult<EngineEvent>>>;
}
