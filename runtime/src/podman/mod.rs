//! The real adapter: [`ContainerRuntime`] on Podman's Docker-compatible
//! socket through bollard 0.21.
//!
//! - [`discovery`]: which socket to use (first that answers a ping).
//! - [`service`]: a `podman system service` Archy owns when none answers.
//! - `classify`: bollard errors → [`RuntimeError`] (Podman's 500s included).
//! - `convert`: [`ContainerSpec`] → create body; list/inspect/events → ours.
//! - `images`: pull/build progress within a deadline; the build tar.
//! - `rawlist`: list/inspect fallback for Podman's transient `stopped`.
//!
//! Every call carries its own deadline (`Docker::with_timeout` on a cheap
//! clone; bollard counts whole seconds and bounds only the response headers,
//! so streamed bodies get an overall `tokio::time::timeout` too).

mod classify;
mod convert;
pub mod discovery;
mod images;
mod rawlist;
pub mod service;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    EventsOptionsBuilder, InspectContainerOptions, InspectNetworkOptions,
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptions, StopContainerOptionsBuilder,
};
use bollard::{body_full, Docker, API_DEFAULT_VERSION};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use thiserror::Error;

use crate::{
    labels, BuildRequest, ContainerDetails, ContainerRuntime, ContainerSpec, EngineEvent,
    ExecOutput, Observed, ProgressSink, RuntimeError, RuntimeResult, STOP_DEADLINE_MARGIN,
};
use classify::{classify, classify_create, is_unknown_variant, Call};
use discovery::NoEngine;
use images::{drain_progress, tar_context};
use service::{PodmanService, ServiceError};

/// Deadline of an ordinary call (list, create, start, inspect, …).
pub const CALL_DEADLINE: Duration = Duration::from_secs(30);
/// Deadline of a whole pull or build, stream included.
pub const IMAGE_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Deadline of a whole exec, output included.
pub const EXEC_DEADLINE: Duration = Duration::from_secs(60);

/// Why [`PodmanRuntime::open`] found no engine to talk to.
#[derive(Debug, Error)]
pub enum OpenError {
    /// No socket answered and no service could be started.
    #[error("{no_engine}; starting one failed: {service}")]
    NoEngine {
        no_engine: NoEngine,
        #[source]
        service: ServiceError,
    },
    /// A socket answered a ping, then the connection failed.
    #[error(transparent)]
    Connect(#[from] RuntimeError),
}

impl From<OpenError> for RuntimeError {
    fn from(err: OpenError) -> Self {
        match err {
            OpenError::Connect(e) => e,
            no_engine => RuntimeError::Unavailable {
                reason: no_engine.to_string(),
            },
        }
    }
}

/// Podman through its Docker-compatible API.
#[derive(Clone)]
pub struct PodmanRuntime {
    docker: Docker,
    socket: PathBuf,
    call_deadline: Duration,
    /// Keeps a service Archy started alive as long as any clone is.
    owned_service: Option<Arc<PodmanService>>,
}

impl std::fmt::Debug for PodmanRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodmanRuntime")
            .field("socket", &self.socket)
            .field("owns_service", &self.owned_service.is_some())
            .finish()
    }
}

impl PodmanRuntime {
    /// Connect to the engine on `socket` and check that it answers a ping.
    /// (No version negotiation: bollard 0.21 sends unversioned paths anyway,
    /// and Podman's `/version` costs ~0.5 s.)
    pub async fn connect(socket: impl AsRef<Path>) -> RuntimeResult<Self> {
        let socket = socket.as_ref().to_path_buf();
        let docker = Docker::connect_with_unix(
            &socket.to_string_lossy(),
            whole_secs(CALL_DEADLINE),
            API_DEFAULT_VERSION,
        )
        .map_err(|e| RuntimeError::Unavailable {
            reason: format!("{}: {e}", socket.display()),
        })?;
        let runtime = PodmanRuntime {
            docker,
            socket,
            call_deadline: CALL_DEADLINE,
            owned_service: None,
        };
        runtime.ping().await?;
        Ok(runtime)
    }

    /// Connect to the first candidate socket that answers
    /// ([`discovery::candidate_sockets`]).
    pub async fn discover(explicit: Option<&Path>) -> RuntimeResult<Self> {
        let socket = discovery::find_engine(explicit).await?;
        Self::connect(socket).await
    }

    /// [`PodmanRuntime::discover`]; when nothing answers, start a
    /// [`PodmanService`] on `<state_dir>/podman.sock` (or reuse one a
    /// previous Archy left there) and connect to it. The service lives as
    /// long as this runtime and its clones, and is killed with the last.
    pub async fn open(explicit: Option<&Path>, state_dir: &Path) -> Result<Self, OpenError> {
        Self::open_among(discovery::candidate_sockets(explicit), state_dir).await
    }

    /// [`PodmanRuntime::open`] over the given candidate sockets.
    pub async fn open_among(
        mut candidates: Vec<PathBuf>,
        state_dir: &Path,
    ) -> Result<Self, OpenError> {
        candidates.push(state_dir.join(service::SERVICE_SOCKET));
        let no_engine = match discovery::first_answering(candidates).await {
            Ok(socket) => return Ok(Self::connect(socket).await?),
            Err(no_engine) => no_engine,
        };
        let service = PodmanService::start(state_dir)
            .await
            .map_err(|service| OpenError::NoEngine { no_engine, service })?;
        let mut runtime = Self::connect(service.socket()).await?;
        runtime.owned_service = Some(Arc::new(service));
        Ok(runtime)
    }

    /// Whether this runtime started (and owns) the engine service.
    pub fn owns_service(&self) -> bool {
        self.owned_service.is_some()
    }

    /// The socket this runtime talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Change the deadline of ordinary calls (default [`CALL_DEADLINE`]).
    pub fn with_call_deadline(mut self, deadline: Duration) -> Self {
        self.call_deadline = deadline;
        self
    }

    /// The client with a deadline for one call.
    fn api(&self, deadline: Duration) -> Docker {
        self.docker
            .clone()
            .with_timeout(Duration::from_secs(whole_secs(deadline)))
    }

    fn call<'a>(&self, op: &'static str, kind: &'static str, name: &'a str) -> Call<'a> {
        Call::new(op, kind, name, self.call_deadline)
    }
}

/// The stop query's `t`: whole seconds, a fractional grace rounded up, zero
/// allowed (never negative: Podman rejects `t=-1` with 400).
fn stop_seconds(grace: Duration) -> i32 {
    let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// bollard's timeouts are whole seconds and 0 means "instantly": round up.
fn whole_secs(deadline: Duration) -> u64 {
    deadline.as_secs_f64().ceil().max(1.0) as u64
}

#[async_trait]
impl ContainerRuntime for PodmanRuntime {
    async fn ping(&self) -> RuntimeResult<()> {
        let call = self.call("ping", "engine", "podman");
        self.api(call.deadline)
            .ping()
            .await
            .map(drop)
            .map_err(|e| classify(call, e))
    }

    async fn list_managed(&self) -> RuntimeResult<Vec<Observed>> {
        let call = self.call("list", "containers", "managed");
        let filters = HashMap::from([("label", vec![labels::APP])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let summaries: Vec<convert::WireSummary> =
            match self.api(call.deadline).list_containers(Some(options)).await {
                Ok(list) => list.into_iter().map(Into::into).collect(),
                Err(BollardError::JsonDataError { message, .. })
                    if is_unknown_variant(&message) =>
                {
                    tracing::debug!(%message, "list hit a state bollard cannot decode; raw list");
                    rawlist::list_managed(&self.socket, call.deadline).await?
                }
                Err(e) => return Err(classify(call, e)),
            };
        Ok(summaries
            .into_iter()
            .filter_map(convert::observed)
            .collect())
    }

    async fn image_present(&self, image: &str) -> RuntimeResult<bool> {
        let call = self.call("inspect image", "image", image);
        match self.api(call.deadline).inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) => match classify(call, e) {
                RuntimeError::NotFound { .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn pull(&self, image: &str, progress: ProgressSink) -> RuntimeResult<()> {
        let call = Call::new("pull", "image", image, IMAGE_DEADLINE);
        let options = CreateImageOptionsBuilder::default()
            .from_image(&convert::with_default_tag(image))
            .build();
        let api = self.api(call.deadline);
        let stream = api.create_image(Some(options), None, None);
        drain_progress(stream, call, &progress, |info| {
            let status = info.status.clone()?;
            Some(match &info.id {
                Some(id) => format!("{id}: {status}"),
                None => status,
            })
        })
        .await
    }

    async fn build(&self, request: &BuildRequest, progress: ProgressSink) -> RuntimeResult<()> {
        let call = Call::new("build", "image", &request.tag, IMAGE_DEADLINE);
        let tarball = tar_context(&request.context).await?;
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(&request.containerfile)
            .t(&request.tag)
            .labels(&request.labels.iter().collect::<HashMap<_, _>>())
            .rm(true)
            .forcerm(true)
            .build();
        let api = self.api(call.deadline);
        // `tar` must be Some: bollard 0.21 panics on None.
        let stream = api.build_image(options, None, Some(body_full(tarball.into())));
        drain_progress(stream, call, &progress, |info| {
            info.stream
                .as_deref()
                .map(str::trim_end)
                .filter(|s| !s.is_empty())
                .map(String::from)
        })
        .await
    }

    async fn image_labels(&self, image: &str) -> RuntimeResult<BTreeMap<String, String>> {
        let call = self.call("inspect image", "image", image);
        let inspect = self
            .api(call.deadline)
            .inspect_image(image)
            .await
            .map_err(|e| classify(call, e))?;
        Ok(inspect
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    async fn create(&self, spec: &ContainerSpec) -> RuntimeResult<String> {
        let call = self.call("create", "container", &spec.name);
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self
            .api(call.deadline)
            .create_container(Some(options), convert::create_body(spec))
            .await;
        created
            .map(|response| response.id)
            .map_err(|e| classify_create(call, spec, e))
    }

    async fn start(&self, name: &str) -> RuntimeResult<()> {
        let call = self.call("start", "container", name);
        self.api(call.deadline)
            .start_container(name, None)
            .await
            .map_err(|e| classify(call, e))
    }

    async fn stop(&self, name: &str, grace: Duration) -> RuntimeResult<()> {
        // Podman answers only after SIGKILL and cleanup: the deadline must
        // exceed the grace, or we time out while Podman keeps stopping.
        let deadline = grace.saturating_add(STOP_DEADLINE_MARGIN);
        let call = Call::new("stop", "container", name, deadline);
        let options = StopContainerOptionsBuilder::default()
            .t(stop_seconds(grace))
            .build();
        self.api(deadline)
            .stop_container(name, Some(options))
            .await
            .map_err(|e| classify(call, e))
    }

    async fn kill(&self, name: &str, signal: &str) -> RuntimeResult<()> {
        let call = self.call("kill", "container", name);
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.api(call.deadline)
            .kill_container(name, Some(options))
            .await
            .map_err(|e| classify(call, e))
    }

    async fn remove(&self, name: &str, force: bool, volumes: bool) -> RuntimeResult<()> {
        let call = self.call("remove", "container", name);
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .v(volumes)
            .build();
        self.api(call.deadline)
            .remove_container(name, Some(options))
            .await
            .map_err(|e| classify(call, e))
    }

    async fn inspect(&self, name: &str) -> RuntimeResult<ContainerDetails> {
        let call = self.call("inspect", "container", name);
        let inspected = self
            .api(call.deadline)
            .inspect_container(name, None::<InspectContainerOptions>)
            .await;
        let wire = match inspected {
            Ok(inspect) => inspect.into(),
            Err(BollardError::JsonDataError { message, .. }) if is_unknown_variant(&message) => {
                tracing::debug!(%message, "inspect hit a state bollard cannot decode; raw inspect");
                rawlist::inspect(&self.socket, name, call.deadline).await?
            }
            Err(e) => return Err(classify(call, e)),
        };
        Ok(convert::details(wire))
    }

    async fn logs(&self, name: &str, tail: usize) -> RuntimeResult<Vec<String>> {
        let call = self.call("logs", "container", name);
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        let collect = self
            .api(call.deadline)
            .logs(name, Some(options))
            .map_ok(|chunk| chunk.to_string())
            .try_collect::<String>();
        let text = tokio::time::timeout(call.deadline, collect)
            .await
            .map_err(|_| classify(call, BollardError::RequestTimeoutError))?
            .map_err(|e| classify(call, e))?;
        Ok(text.lines().map(String::from).collect())
    }

    async fn exec(&self, name: &str, cmd: &[String]) -> RuntimeResult<ExecOutput> {
        let call = Call::new("exec", "container", name, EXEC_DEADLINE);
        let api = self.api(self.call_deadline);
        let run = async {
            let exec = api
                .create_exec(
                    name,
                    CreateExecOptions {
                        cmd: Some(cmd.to_vec()),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
            let mut output = String::new();
            if let StartExecResults::Attached {
                output: mut chunks, ..
            } = api.start_exec(&exec.id, None).await?
            {
                while let Some(chunk) = chunks.next().await {
                    output.push_str(&chunk?.to_string());
                }
            }
            let exit_code = api.inspect_exec(&exec.id).await?.exit_code;
            Ok::<_, BollardError>((exit_code, output))
        };
        let (exit_code, output) = tokio::time::timeout(call.deadline, run)
            .await
            .map_err(|_| classify(call, BollardError::RequestTimeoutError))?
            .map_err(|e| classify(call, e))?;
        let exit_code = exit_code.ok_or_else(|| RuntimeError::Engine {
            op: "exec".into(),
            message: format!("no exit code for {cmd:?} in {name:?}"),
        })?;
        Ok(ExecOutput { exit_code, output })
    }

    async fn ensure_network(&self, name: &str) -> RuntimeResult<()> {
        let call = self.call("ensure network", "network", name);
        let api = self.api(call.deadline);
        let exists = || api.inspect_network(name, None::<InspectNetworkOptions>);
        match exists().await {
            Ok(_) => return Ok(()),
            Err(e) => match classify(call, e) {
                RuntimeError::NotFound { .. } => {}
                other => return Err(other),
            },
        }
        // Podman's compat create enables DNS (aardvark) on new bridge
        // networks, so members resolve each other's aliases.
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            ..Default::default()
        };
        match api.create_network(request).await {
            Ok(_) => Ok(()),
            // Lost a race with another creator: fine if it exists now.
            Err(e) if exists().await.is_ok() => {
                tracing::debug!(network = name, error = %e, "network appeared meanwhile");
                Ok(())
            }
            Err(e) => Err(classify(call, e)),
        }
    }

    async fn remove_volume(&self, name: &str) -> RuntimeResult<()> {
        let call = self.call("remove volume", "volume", name);
        match self
            .api(call.deadline)
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => match classify(call, e) {
                RuntimeError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn events(&self) -> RuntimeResult<BoxStream<'static, RuntimeResult<EngineEvent>>> {
        // `since` = now: the request goes out at the first poll, and Podman
        // replays what happened since, so nothing between this call and that
        // poll is lost.
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .to_string();
        // Always `type=container`: pod/system events end an unfiltered
        // stream. Podman's label filter wants key=value, so managed
        // containers are picked by their attributes instead; its event
        // filter matches `died`, Docker's `die`.
        let filters = HashMap::from([
            ("type", vec!["container"]),
            ("event", vec!["start", "die", "died", "oom"]),
        ]);
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .filters(&filters)
            .build();
        let deadline = self.call_deadline;
        let stream = self
            .api(deadline)
            .events(Some(options))
            .map_err(move |e| classify(Call::new("events", "engine", "events", deadline), e))
            .try_filter_map(|message| futures::future::ready(Ok(convert::engine_event(message))));
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_seconds_never_zero() {
        assert_eq!(whole_secs(Duration::from_millis(1)), 1);
        assert_eq!(whole_secs(Duration::from_millis(2500)), 3);
        assert_eq!(whole_secs(Duration::from_secs(2)), 2);
        assert_eq!(whole_secs(Duration::ZERO), 1);
    }

    #[test]
    fn stop_grace_is_whole_seconds_rounded_up_and_never_negative() {
        assert_eq!(stop_seconds(Duration::ZERO), 0);
        assert_eq!(stop_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(stop_seconds(Duration::from_secs(600)), 600);
        assert_eq!(stop_seconds(Duration::from_secs(u64::MAX)), i32::MAX);
    }

    #[tokio::test]
    async fn connect_to_a_missing_socket_is_unavailable() {
        let err = PodmanRuntime::connect("/nonexistent/archy/podman.sock")
            .await
            .unwrap_err();
        assert!(matches!(err, RuntimeError::Unavailable { .. }), "{err:?}");
    }
}
