//! An OTP-faithful supervisor on ractor: ordered child specs, the
//! one_for_one / one_for_all / rest_for_one strategies, permanent / transient
//! / temporary children, restart intensity over a sliding period with
//! escalation, per-child shutdown specs, and dynamic children.
//!
//! ractor itself only reports child exits; every rule here is ours. Child
//! exits are matched by `ActorId` against the running children; a child
//! stopped on purpose is forgotten before it is stopped, so its exit is
//! never taken for a failure.
//!
//! One deliberate difference from OTP: past its intensity a supervisor
//! *fails* (its parent gets `ActorFailed` carrying
//! `SupervisorError::IntensityExceeded`) instead of exiting with `shutdown`,
//! so a parent restarts or escalates it whatever its restart type.
//!
//! Children's `pre_start` runs inside the supervisor (ractor's
//! `spawn_linked`), blocking it like OTP's synchronous starts: keep it cheap.

mod error;
mod intensity;
mod shutdown;
mod spec;
mod state;
mod strategy;

use std::collections::BTreeMap;

use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

pub use error::SupervisorError;
pub use intensity::Intensity;
pub use spec::{ChildSpec, Restart, Shutdown, StartFn};
pub use state::SupervisorState;
pub use strategy::Strategy;

use spec::Exit;

/// How a supervisor starts: its strategy, restart budget and children in
/// start order.
#[derive(Debug, Clone, Default)]
pub struct SupervisorArgs {
    pub strategy: Strategy,
    pub intensity: Intensity,
    pub children: Vec<ChildSpec>,
}

/// Requests a running supervisor answers.
pub enum SupervisorMsg {
    /// Starts `spec` after the existing children. Replies with the child's
    /// cell, `DuplicateChild`, or `StartFailed` (the spec is then dropped).
    StartChild {
        spec: ChildSpec,
        reply: RpcReplyPort<Result<ActorCell, SupervisorError>>,
    },
    /// Stops the child per its shutdown spec and removes its spec.
    TerminateChild {
        id: String,
        reply: RpcReplyPort<Result<(), SupervisorError>>,
    },
    /// The children in start order.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    /// Restarts so far, per child and in total.
    RestartCounts(RpcReplyPort<RestartCounts>),
}

/// One child as `WhichChildren` reports it.
#[derive(Debug, Clone)]
pub struct ChildInfo {
    pub id: String,
    /// `None` when it exited and is not to be restarted (a transient child
    /// that stopped normally).
    pub cell: Option<ActorCell>,
    pub restart: Restart,
    pub kind: String,
}

/// Restarts performed by one supervisor. `by_child` lists the current
/// children that were restarted; `total` also keeps those since removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartCounts {
    pub by_child: BTreeMap<String, u64>,
    pub total: u64,
}

/// The supervisor actor.
#[derive(Debug, Clone, Copy, Default)]
pub struct Supervisor;

impl Supervisor {
    /// Spawns an unsupervised (root) supervisor; its join handle finishes
    /// when it stops or gives up.
    pub async fn start(
        name: Option<String>,
        args: SupervisorArgs,
    ) -> Result<(ActorRef<SupervisorMsg>, JoinHandle<()>), SupervisorError> {
        Actor::spawn(name, Supervisor, args)
            .await
            .map_err(SupervisorError::Spawn)
    }
}

impl ChildSpec {
    /// A nested supervisor: permanent, stopped with `Shutdown::Infinity` so it
    /// can stop its own children in order, counted under kind "supervisor".
    pub fn supervisor(id: impl Into<String>, name: Option<String>, args: SupervisorArgs) -> Self {
        ChildSpec::actor(id, "supervisor", name, Supervisor, args).shutdown(Shutdown::Infinity)
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SupervisorState::start(args, &myself.get_cell()).await?)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.shut_down().await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let supervisor = myself.get_cell();
        // A caller that gave up waiting is not our failure: ignore send errors.
        match message {
            SupervisorMsg::StartChild { spec, reply } => {
                let _ = reply.send(state.start_child(&supervisor, spec).await);
            }
            SupervisorMsg::TerminateChild { id, reply } => {
                let _ = reply.send(state.terminate_child(&id).await);
            }
            SupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.which_children());
            }
            SupervisorMsg::RestartCounts(reply) => {
                let _ = reply.send(state.restart_counts());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (actor, exit) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                tracing::debug!(actor = %cell.get_id(), ?reason, "child terminated");
                (cell.get_id(), Exit::from_stop_reason(reason.as_deref()))
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                tracing::warn!(actor = %cell.get_id(), %error, "child failed");
                (cell.get_id(), Exit::Abnormal)
            }
            _ => return Ok(()),
        };
        Ok(state.child_exited(&myself.get_cell(), actor, exit).await?)
    }
}
