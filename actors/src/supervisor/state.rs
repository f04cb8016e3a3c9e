//! The supervisor's children in start order, and the OTP rules applied to
//! them: start, restart per strategy and intensity, terminate, shut down.

use ractor::{ActorCell, ActorId, SpawnErr};
use tokio::time::Instant;

use super::error::SupervisorError;
use super::intensity::RestartWindow;
use super::shutdown::terminate;
use super::spec::{ChildSpec, Exit, Restart};
use super::{ChildInfo, RestartCounts, Strategy, SupervisorArgs};

struct Child {
    spec: ChildSpec,
    /// `None` once it exited and was not restarted (a transient child that
    /// stopped normally), or while it is being restarted.
    cell: Option<ActorCell>,
}

/// The supervisor actor's state; opaque (ractor needs the type public).
pub struct SupervisorState {
    strategy: Strategy,
    window: RestartWindow,
    children: Vec<Child>,
    counts: RestartCounts,
}

impl SupervisorState {
    /// Starts every child in order. If one fails, those already started are
    /// shut down in reverse order and the supervisor does not start (OTP).
    pub(crate) async fn start(
        args: SupervisorArgs,
        supervisor: &ActorCell,
    ) -> Result<Self, SupervisorError> {
        let mut state = Self {
            strategy: args.strategy,
            window: RestartWindow::new(args.intensity),
            children: Vec::with_capacity(args.children.len()),
            counts: RestartCounts::default(),
        };
        for spec in args.children {
            if let Err(error) = state.start_child(supervisor, spec).await {
                state.shut_down().await;
                return Err(error);
            }
        }
        Ok(state)
    }

    /// Starts a new child after the existing ones. A start failure is
    /// returned, not retried, and the spec is dropped (OTP `start_child`).
    pub(crate) async fn start_child(
        &mut self,
        supervisor: &ActorCell,
        spec: ChildSpec,
    ) -> Result<ActorCell, SupervisorError> {
        if self.position(&spec.id).is_some() {
            return Err(SupervisorError::DuplicateChild { id: spec.id });
        }
        let cell = (spec.start)(supervisor.clone()).await.map_err(|source| {
            SupervisorError::StartFailed {
                id: spec.id.clone(),
                source,
            }
        })?;
        self.children.push(Child {
            spec,
            cell: Some(cell.clone()),
        });
        Ok(cell)
    }

    /// Stops a child per its shutdown spec and forgets its spec.
    pub(crate) async fn terminate_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let position = self
            .position(id)
            .ok_or_else(|| SupervisorError::NoSuchChild { id: id.to_string() })?;
        let child = self.children.remove(position);
        self.counts.by_child.remove(id);
        if let Some(cell) = &child.cell {
            terminate(cell, child.spec.shutdown).await;
        }
        Ok(())
    }

    /// Applies the restart rules to a child that exited on its own. An error
    /// means the intensity was exceeded: every child is already shut down and
    /// the supervisor must fail.
    pub(crate) async fn child_exited(
        &mut self,
        supervisor: &ActorCell,
        actor: ActorId,
        exit: Exit,
    ) -> Result<(), SupervisorError> {
        // Events from instances we already replaced or terminated are stale.
        let Some(position) = self.children.iter().position(|child| {
            child
                .cell
                .as_ref()
                .is_some_and(|cell| cell.get_id() == actor)
        }) else {
            return Ok(());
        };
        let child = &mut self.children[position];
        child.cell = None;
        if child.spec.restart.restarts_after(exit) {
            let id = child.spec.id.clone();
            return self.restart(supervisor, id).await;
        }
        if child.spec.restart == Restart::Temporary {
            let child = self.children.remove(position);
            self.counts.by_child.remove(&child.spec.id);
        }
        Ok(())
    }

    /// Stops every running child in reverse start order, each per its spec.
    pub(crate) async fn shut_down(&mut self) {
        for child in self.children.iter_mut().rev() {
            if let Some(cell) = child.cell.take() {
                terminate(&cell, child.spec.shutdown).await;
            }
        }
    }

    pub(crate) fn which_children(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|child| ChildInfo {
                id: child.spec.id.clone(),
                cell: child.cell.clone(),
                restart: child.spec.restart,
                kind: child.spec.kind.clone(),
            })
            .collect()
    }

    pub(crate) fn restart_counts(&self) -> RestartCounts {
        self.counts.clone()
    }

    /// Charges the intensity before each attempt; a failed attempt is charged
    /// again, with the child that failed to start as the one to restart.
    async fn restart(
        &mut self,
        supervisor: &ActorCell,
        mut failed: String,
    ) -> Result<(), SupervisorError> {
        loop {
            if !self.window.charge(Instant::now()) {
                let intensity = self.window.intensity();
                tracing::error!(
                    child = %failed,
                    max_restarts = intensity.max_restarts,
                    period = ?intensity.period,
                    "restart intensity exceeded; shutting down all children and failing"
                );
                self.shut_down().await;
                return Err(SupervisorError::IntensityExceeded {
                    max_restarts: intensity.max_restarts,
                    period: intensity.period,
                    child: failed,
                });
            }
            match self.restart_affected(supervisor, &failed).await {
                Ok(()) => return Ok(()),
                Err((id, error)) => {
                    tracing::warn!(child = %id, %error, "restart attempt failed");
                    failed = id;
                }
            }
        }
    }

    /// Terminates the running children the strategy affects (reverse order),
    /// drops the temporary ones, then starts the rest in order. Returns the
    /// first child that failed to start.
    async fn restart_affected(
        &mut self,
        supervisor: &ActorCell,
        failed: &str,
    ) -> Result<(), (String, SpawnErr)> {
        let Some(position) = self.position(failed) else {
            return Ok(());
        };
        let affected: Vec<String> = self
            .strategy
            .affected(position, self.children.len())
            .map(|i| self.children[i].spec.id.clone())
            .collect();

        for child in self.children.iter_mut().rev() {
            if affected.contains(&child.spec.id) {
                if let Some(cell) = child.cell.take() {
                    terminate(&cell, child.spec.shutdown).await;
                }
            }
        }
        self.children.retain(|child| {
            !(child.spec.restart == Restart::Temporary && affected.contains(&child.spec.id))
        });

        for child in &mut self.children {
            if !affected.contains(&child.spec.id) {
                continue;
            }
            match (child.spec.start)(supervisor.clone()).await {
                Ok(cell) => {
                    child.cell = Some(cell);
                    self.counts.record(&child.spec);
                    tracing::info!(child = %child.spec.id, kind = %child.spec.kind, "restarted child");
                }
                Err(error) => return Err((child.spec.id.clone(), error)),
            }
        }
        Ok(())
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|child| child.spec.id == id)
    }
}

impl RestartCounts {
    fn record(&mut self, spec: &ChildSpec) {
        *self.by_child.entry(spec.id.clone()).or_default() += 1;
        self.total += 1;
        metrics::counter!(archy_runtime::metrics::ACTOR_RESTARTS.name, "actor_kind" => spec.kind.clone())
            .increment(1);
    }
}
