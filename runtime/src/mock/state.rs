//! The mock engine's memory and its synchronous state transitions. Every
//! transition that a real engine reports as an event emits it here, so
//! state and events never disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::{broadcast, Semaphore};
use tokio::time::Instant;

use super::faults::{Faults, StartFault};
use crate::op::Op;
use crate::{
    labels, ContainerDetails, ContainerSpec, EngineEvent, EngineEventKind, Observed, Role,
    RunState, RuntimeError, RuntimeResult,
};

/// Exit code of a process killed by SIGKILL (128 + 9), as engines report it.
pub(super) const SIGKILL_EXIT: i64 = 137;

/// Enough for any test burst; a slower subscriber skips, like a reconnect.
const EVENT_CAPACITY: usize = 1024;

/// One container as the mock engine holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockContainer {
    pub id: String,
    pub spec: ContainerSpec,
    pub state: RunState,
    /// Set once the container has exited; cleared on start.
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// Every line the container "printed", oldest first.
    pub logs: Vec<String>,
    /// How many times the container was started.
    pub start_count: usize,
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
}

impl MockContainer {
    /// Whether its main process is alive (a stop may be in progress).
    pub fn is_alive(&self) -> bool {
        matches!(self.state, RunState::Running | RunState::Stopping)
    }

    fn app(&self) -> Option<&String> {
        self.spec.labels.get(labels::APP)
    }

    fn role(&self) -> Role {
        Role::parse(
            self.spec
                .labels
                .get(labels::ROLE)
                .map_or("", String::as_str),
        )
    }
}

pub(super) struct State {
    /// Local images and their labels.
    pub images: BTreeMap<String, BTreeMap<String, String>>,
    /// Containers by name.
    pub containers: BTreeMap<String, MockContainer>,
    pub volumes: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub faults: Faults,
    pub calls: BTreeMap<Op, usize>,
    /// Held operations: a call waits for a permit or for the gate to close.
    pub gates: BTreeMap<Op, Arc<Semaphore>>,
    /// Replaced when the engine goes away, which ends every open stream.
    pub events: broadcast::Sender<EngineEvent>,
    next_id: u64,
    /// Zero of the mock's clock, for the timestamps inspect reports.
    epoch: Instant,
}

impl State {
    pub fn new() -> Self {
        State {
            images: BTreeMap::new(),
            containers: BTreeMap::new(),
            volumes: BTreeSet::new(),
            networks: BTreeSet::new(),
            faults: Faults::default(),
            calls: BTreeMap::new(),
            gates: BTreeMap::new(),
            events: broadcast::channel(EVENT_CAPACITY).0,
            next_id: 0,
            epoch: Instant::now(),
        }
    }

    pub fn check_available(&self) -> RuntimeResult<()> {
        if self.faults.unavailable {
            return Err(RuntimeError::Unavailable {
                reason: "mock engine is down".into(),
            });
        }
        Ok(())
    }

    /// Close every open event stream, as an engine restart does.
    pub fn end_event_streams(&mut self) {
        self.events = broadcast::channel(EVENT_CAPACITY).0;
    }

    pub fn container(&self, name: &str) -> RuntimeResult<&MockContainer> {
        self.containers.get(name).ok_or_else(|| not_found(name))
    }

    pub fn container_mut(&mut self, name: &str) -> RuntimeResult<&mut MockContainer> {
        self.containers.get_mut(name).ok_or_else(|| not_found(name))
    }

    pub fn create(&mut self, spec: &ContainerSpec) -> RuntimeResult<String> {
        if self.containers.contains_key(&spec.name) {
            return Err(RuntimeError::NameInUse {
                name: spec.name.clone(),
            });
        }
        if !self.images.contains_key(&spec.image) {
            return Err(RuntimeError::NotFound {
                what: format!("image {}", spec.image),
            });
        }
        if let Some(network) = spec
            .network
            .as_ref()
            .filter(|n| !self.networks.contains(*n))
        {
            return Err(RuntimeError::NotFound {
                what: format!("network {network}"),
            });
        }
        // Engines create named volumes on first use.
        for mount in &spec.mounts {
            if let crate::MountSource::Volume(volume) = &mount.source {
                self.volumes.insert(volume.clone());
            }
        }
        self.next_id += 1;
        let id = format!("{:064x}", self.next_id);
        self.containers.insert(
            spec.name.clone(),
            MockContainer {
                id: id.clone(),
                spec: spec.clone(),
                state: RunState::Created,
                exit_code: None,
                oom_killed: false,
                logs: Vec::new(),
                start_count: 0,
                started_at: None,
                finished_at: None,
            },
        );
        Ok(id)
    }

    /// Start the container; returns a delayed exit (run number, code, delay)
    /// when a fault says the process dies a while after starting.
    pub fn start(&mut self, name: &str) -> RuntimeResult<Option<DelayedExit>> {
        let container = self.container(name)?;
        match container.state {
            RunState::Running => return Ok(None),
            RunState::Created | RunState::Exited => {}
            ref other => return Err(invalid_state(name, "start", other)),
        }
        let fault = self.faults.starts.get(name).cloned();
        if let Some(StartFault::Fail(error)) = fault {
            return Err(error);
        }
        let container = self.container_mut(name)?;
        container.state = RunState::Running;
        container.exit_code = None;
        container.oom_killed = false;
        container.start_count += 1;
        container.started_at = Some(Instant::now());
        let run = container.start_count;
        self.emit(name, EngineEventKind::Start);
        match fault {
            Some(StartFault::Exit { code, after }) if after.is_zero() => {
                self.exit_run(name, run, code);
                Ok(None)
            }
            Some(StartFault::Exit { code, after }) => Ok(Some(DelayedExit { run, code, after })),
            _ => Ok(None),
        }
    }

    /// The process of run `run` exits on its own with `code`, printing why.
    /// Does nothing if the container was meanwhile stopped, restarted or removed.
    pub fn exit_run(&mut self, name: &str, run: usize, code: i64) {
        let Some(container) = self.containers.get_mut(name) else {
            return;
        };
        if container.start_count != run || !container.is_alive() {
            return;
        }
        container
            .logs
            .push(format!("{name}: fatal error, exiting with code {code}"));
        self.die(name, code);
    }

    /// The main process ended with `code`: Exited, plus a Die event.
    pub fn die(&mut self, name: &str, code: i64) {
        let Some(container) = self.containers.get_mut(name) else {
            return;
        };
        container.state = RunState::Exited;
        container.exit_code = Some(code);
        container.finished_at = Some(Instant::now());
        self.emit(
            name,
            EngineEventKind::Die {
                exit_code: Some(code),
            },
        );
    }

    /// Tell event subscribers, for managed containers only (the real
    /// stream is filtered on the `archy.app` label).
    pub fn emit(&self, name: &str, kind: EngineEventKind) {
        let Some(container) = self.containers.get(name) else {
            return;
        };
        let Some(app) = container.app() else {
            return;
        };
        // No subscriber is fine: nobody is listening right now.
        let _ = self.events.send(EngineEvent {
            container: name.to_string(),
            app: Some(app.clone()),
            role: container.role(),
            kind,
            instance: container.spec.labels.get(labels::INSTANCE).cloned(),
        });
    }

    pub fn observed(&self) -> Vec<Observed> {
        self.containers
            .iter()
            .filter_map(|(name, c)| {
                Some(Observed {
                    id: c.id.clone(),
                    name: name.clone(),
                    app: c.app()?.clone(),
                    role: c.role(),
                    spec_hash: c.spec.labels.get(labels::SPEC_HASH).cloned(),
                    image: c.spec.image.clone(),
                    state: c.state.clone(),
                    // The list's status text shows a code only once exited.
                    exit_code: c.exit_code.filter(|_| c.state == RunState::Exited),
                    labels: c.spec.labels.clone(),
                })
            })
            .collect()
    }

    pub fn details(&self, name: &str) -> RuntimeResult<ContainerDetails> {
        let c = self.container(name)?;
        Ok(ContainerDetails {
            id: c.id.clone(),
            name: name.to_string(),
            image: c.spec.image.clone(),
            state: c.state.clone(),
            exit_code: c.exit_code,
            oom_killed: c.oom_killed,
            started_at: c.started_at.map(|at| self.timestamp(at)),
            finished_at: c.finished_at.map(|at| self.timestamp(at)),
            // The mock has no restart policy: the engine never restarts.
            restart_count: 0,
            labels: c.spec.labels.clone(),
        })
    }

    /// RFC 3339 on a fixed fake date, advancing with tokio time, so inspect
    /// output is deterministic under a paused clock.
    fn timestamp(&self, at: Instant) -> String {
        let millis = at.duration_since(self.epoch).as_millis();
        let secs = millis / 1000;
        let day = secs / 86_400 % 28 + 1;
        let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
        format!(
            "2026-02-{day:02}T{h:02}:{m:02}:{s:02}.{:03}Z",
            millis % 1000
        )
    }
}

/// A process that exits on its own a while after its start.
#[derive(Debug, Clone, Copy)]
pub(super) struct DelayedExit {
    pub run: usize,
    pub code: i64,
    pub after: std::time::Duration,
}

pub(super) fn not_found(name: &str) -> RuntimeError {
    RuntimeError::NotFound {
        what: format!("container {name}"),
    }
}

pub(super) fn invalid_state(name: &str, op: &str, state: &RunState) -> RuntimeError {
    RuntimeError::InvalidState {
        name: name.to_string(),
        op: op.to_string(),
        message: format!("container state improper: {state:?}"),
    }
}
