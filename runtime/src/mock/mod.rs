//! An in-memory engine behind [`ContainerRuntime`](crate::ContainerRuntime),
//! with fault injection and a count of calls per operation, so actor tests
//! can assert both behaviour and cost.
//!
//! It answers like Podman does (see `notes/podman-bollard.md`): creating a
//! taken name is `NameInUse`, removing a running container without force or
//! killing a stopped one is `InvalidState`, stop and start are idempotent.
//! Every delay runs on tokio time, so tests under `start_paused = true` are
//! deterministic. [`MockRuntime`] is a cheap handle: a test keeps one clone
//! while the actors hold another as a `SharedRuntime`.
//!
//! Each call counts, then waits at its [`Op`]'s gate if held, then fails
//! with `Unavailable` if the engine is down, then acts.

mod engine;
mod faults;
mod state;

pub use crate::op::Op;
pub use state::MockContainer;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::{ExecOutput, RunState, RuntimeError, RuntimeResult};
use faults::{Failures, ImageFault, StartFault};
use state::{State, SIGKILL_EXIT};

#[derive(Clone)]
pub struct MockRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Pinged after every change, so tests wait on conditions, not sleeps.
    changed: watch::Sender<()>,
}

impl Default for MockRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl MockRuntime {
    /// An empty, reachable engine: no images, containers, volumes or networks.
    pub fn new() -> Self {
        MockRuntime {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new()),
                changed: watch::channel(()).0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the state from the others.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the state, then wake whoever waits on a condition.
    fn mutate<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let result = change(&mut self.state());
        self.inner.changed.send_modify(|_| ());
        result
    }

    /// Wait, on a signal, until `ready` holds.
    async fn wait_for(&self, mut ready: impl FnMut(&State) -> bool) {
        let mut changes = self.inner.changed.subscribe();
        while !ready(&self.state()) {
            // The sender lives as long as `self`, so this cannot fail.
            let _ = changes.changed().await;
        }
    }

    // ---- images, volumes, networks -------------------------------------

    /// Put an image in local storage, without labels.
    pub fn add_image(&self, image: &str) -> &Self {
        self.add_image_with_labels(image, BTreeMap::new())
    }

    pub fn add_image_with_labels(&self, image: &str, labels: BTreeMap<String, String>) -> &Self {
        self.mutate(|s| s.images.insert(image.to_string(), labels));
        self
    }

    /// Delete an image from local storage (e.g. an external `podman rmi`).
    pub fn remove_image(&self, image: &str) -> &Self {
        self.mutate(|s| s.images.remove(image));
        self
    }

    pub fn has_image(&self, image: &str) -> bool {
        self.state().images.contains_key(image)
    }

    pub fn has_volume(&self, volume: &str) -> bool {
        self.state().volumes.contains(volume)
    }

    pub fn has_network(&self, network: &str) -> bool {
        self.state().networks.contains(network)
    }

    // ---- faults --------------------------------------------------------

    fn image_fault(&self, image: &str, change: impl FnOnce(&mut ImageFault)) -> &Self {
        self.mutate(|s| change(s.faults.images.entry(image.to_string()).or_default()));
        self
    }

    /// The next `times` pulls (or builds) of `image` fail with
    /// `ImageFailed`; later ones succeed.
    pub fn fail_pulls(&self, image: &str, times: usize) -> &Self {
        self.image_fault(image, |f| f.failures = Failures::Times(times))
    }

    /// Every pull (or build) of `image` fails with `ImageFailed`.
    pub fn fail_pulls_always(&self, image: &str) -> &Self {
        self.image_fault(image, |f| f.failures = Failures::Always)
    }

    /// Pulls (and builds) of `image` take `delay` of tokio time.
    pub fn slow_pull(&self, image: &str, delay: Duration) -> &Self {
        self.image_fault(image, |f| f.delay = delay)
    }

    /// Pulls (and builds) of `image` succeed but leave no image behind.
    pub fn vanish_after_pull(&self, image: &str) -> &Self {
        self.image_fault(image, |f| f.vanishes = true)
    }

    /// Starting container `name` fails with `error`; it stays as it was.
    pub fn fail_start(&self, name: &str, error: RuntimeError) -> &Self {
        self.mutate(|s| s.faults.starts.insert(name.into(), StartFault::Fail(error)));
        self
    }

    /// Starting container `name` succeeds, then its process exits with
    /// `code` at once: Exited, a Die event and a log line.
    pub fn exit_on_start(&self, name: &str, code: i64) -> &Self {
        self.exit_on_start_after(name, code, Duration::ZERO)
    }

    /// As [`Self::exit_on_start`], `after` of tokio time past each start.
    pub fn exit_on_start_after(&self, name: &str, code: i64, after: Duration) -> &Self {
        self.mutate(|s| {
            let fault = StartFault::Exit { code, after };
            s.faults.starts.insert(name.into(), fault)
        });
        self
    }

    /// Container `name` ignores SIGTERM: a stop takes the full grace and
    /// ends in SIGKILL (exit 137). Without this, a stop exits 0 at once.
    pub fn ignore_sigterm(&self, name: &str) -> &Self {
        self.mutate(|s| s.faults.ignore_sigterm.insert(name.into()));
        self
    }

    /// What exec in container `name` answers (default: exit 0, no output).
    pub fn set_exec_output(&self, name: &str, output: ExecOutput) -> &Self {
        self.mutate(|s| s.faults.exec.insert(name.into(), output));
        self
    }

    /// Take the engine down (every call fails with `Unavailable` and open
    /// event streams end) or bring it back.
    pub fn set_unavailable(&self, down: bool) -> &Self {
        self.mutate(|s| {
            s.faults.unavailable = down;
            if down {
                s.end_event_streams();
            }
        });
        self
    }

    /// Forget every fault set on this image or container name.
    pub fn clear_faults_for(&self, key: &str) -> &Self {
        self.mutate(|s| s.faults.clear_key(key));
        self
    }

    // ---- holding calls in flight -----------------------------------------

    /// Calls of `op` from now on hang (after being counted) until released.
    /// Holding a held `op` changes nothing.
    pub fn hold(&self, op: Op) -> &Self {
        self.mutate(|s| {
            s.gates
                .entry(op)
                .or_insert_with(|| Arc::new(Semaphore::new(0)));
        });
        self
    }

    /// Let every waiting and future call of `op` through.
    pub fn release(&self, op: Op) -> &Self {
        if let Some(gate) = self.mutate(|s| s.gates.remove(&op)) {
            gate.close();
        }
        self
    }

    /// Let one call of `op` through (a waiting one, or the next); keep
    /// holding. Does nothing if `op` is not held.
    pub fn release_one(&self, op: Op) -> &Self {
        if let Some(gate) = self.state().gates.get(&op) {
            gate.add_permits(1);
        }
        self
    }

    // ---- call counters ---------------------------------------------------

    pub fn calls(&self, op: Op) -> usize {
        self.state().calls.get(&op).copied().unwrap_or(0)
    }

    pub fn total_calls(&self) -> usize {
        self.state().calls.values().sum()
    }

    pub fn reset_calls(&self) {
        self.mutate(|s| s.calls.clear());
    }

    /// Wait until `op` has been called at least `n` times (counted on entry,
    /// so a held call counts).
    pub async fn until_called(&self, op: Op, n: usize) {
        self.wait_for(|s| s.calls.get(&op).copied().unwrap_or(0) >= n)
            .await;
    }

    // ---- looking at containers -------------------------------------------

    /// A snapshot of container `name`.
    pub fn container(&self, name: &str) -> Option<MockContainer> {
        self.state().containers.get(name).cloned()
    }

    /// Names of every container, managed or not, sorted.
    pub fn container_names(&self) -> Vec<String> {
        self.state().containers.keys().cloned().collect()
    }

    /// Wait until container `name` exists in `state`.
    pub async fn until_state(&self, name: &str, state: RunState) {
        self.wait_for(|s| s.containers.get(name).is_some_and(|c| c.state == state))
            .await;
    }

    /// Wait until container `name` no longer exists.
    pub async fn until_removed(&self, name: &str) {
        self.wait_for(|s| !s.containers.contains_key(name)).await;
    }

    // ---- things that happen outside Archy ----------------------------------

    /// The running container `name` dies with `code` (Die event).
    /// Returns false if it was not running or does not exist.
    pub fn crash(&self, name: &str, code: i64) -> bool {
        self.mutate(|s| {
            let alive = s.containers.get(name).is_some_and(MockContainer::is_alive);
            if alive {
                s.die(name, code);
            }
            alive
        })
    }

    /// The running container `name` is OOM-killed: an Oom event, then
    /// Exited 137 with `oom_killed` and a Die event. False if not running.
    pub fn oom(&self, name: &str) -> bool {
        self.mutate(|s| {
            let Some(container) = s.containers.get_mut(name).filter(|c| c.is_alive()) else {
                return false;
            };
            container.oom_killed = true;
            s.emit(name, crate::EngineEventKind::Oom);
            s.die(name, SIGKILL_EXIT);
            true
        })
    }

    /// Someone ran `podman rm -f name`: gone, with a Die event if it ran.
    /// Returns false if it did not exist.
    pub fn remove_externally(&self, name: &str) -> bool {
        self.mutate(|s| {
            let alive = s.containers.get(name).map(MockContainer::is_alive);
            if alive == Some(true) {
                s.die(name, SIGKILL_EXIT);
            }
            s.containers.remove(name).is_some()
        })
    }

    /// Force the state and exit code of container `name` silently, as if
    /// the event was lost: only a list shows it. False if it does not exist.
    pub fn set_state(&self, name: &str, state: RunState, exit_code: Option<i64>) -> bool {
        self.mutate(|s| {
            let Some(container) = s.containers.get_mut(name) else {
                return false;
            };
            container.state = state;
            container.exit_code = exit_code;
            true
        })
    }

    /// Append lines to the log of container `name`. False if it does not exist.
    pub fn push_logs(&self, name: &str, lines: &[&str]) -> bool {
        self.mutate(|s| {
            let Some(container) = s.containers.get_mut(name) else {
                return false;
            };
            container.logs.extend(lines.iter().map(|l| l.to_string()));
            true
        })
    }

    // ---- shared by the engine calls ----------------------------------------

    /// Count the call, wait at its gate if held, fail if the engine is down.
    async fn enter(&self, op: Op) -> RuntimeResult<()> {
        let gate = self.mutate(|s| {
            *s.calls.entry(op).or_default() += 1;
            s.gates.get(&op).cloned()
        });
        if let Some(gate) = gate {
            // A closed gate means released: go on either way.
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
        }
        self.state().check_available()
    }
}
