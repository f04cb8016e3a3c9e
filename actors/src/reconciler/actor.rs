//! The Reconciler actor: a tick every period starts a pass in a task it
//! owns, so the mailbox stays free; a tick that comes while a pass runs is
//! skipped and counted (passes never pile up). `Reconcile` runs a pass now
//! and answers when it is done (after the running one, if any).

use std::any::Any;
use std::mem;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use archy_runtime::RuntimeError;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr};
use tokio::task::JoinHandle;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use super::metrics::{self, PassResult};
use super::pass::{self, PassReport};
use super::{events, ReconcileError, ReconcilerArgs};
use crate::app::task::OwnedTask;
use crate::supervisor::ChildSpec;

pub type PassOutcome = Result<PassReport, ReconcileError>;

pub enum ReconcilerMsg {
    /// Time for a pass (from the ticker, or after the event stream reopens).
    Tick,
    /// Run a pass now; the reply comes when a pass that started after this
    /// request has finished.
    Reconcile(RpcReplyPort<PassOutcome>),
    /// Counts so far, answered at once.
    Stats(RpcReplyPort<PassStats>),
    /// From the pass task.
    PassDone { pass_id: u64, outcome: PassOutcome },
}

/// Passes by result, as `archy_reconcile_passes_total` counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassStats {
    pub success: u64,
    pub error: u64,
    pub skipped: u64,
    pub last_error: Option<ReconcileError>,
}

#[derive(Clone)]
pub struct Reconciler;

impl Reconciler {
    /// The registered name, so the CLI and the chaos suite can find it.
    pub const NAME: &'static str = "reconciler";

    pub async fn spawn(
        args: ReconcilerArgs,
    ) -> Result<(ActorRef<ReconcilerMsg>, JoinHandle<()>), SpawnErr> {
        Actor::spawn(Some(Self::NAME.into()), Reconciler, args).await
    }

    /// How a supervisor starts it: permanent, registered as [`Self::NAME`].
    pub fn child_spec(args: ReconcilerArgs) -> ChildSpec {
        ChildSpec::actor(
            Self::NAME,
            "reconciler",
            Some(Self::NAME.into()),
            Reconciler,
            args,
        )
    }

    /// Run a pass now and wait for it.
    pub async fn reconcile(actor: &ActorRef<ReconcilerMsg>) -> PassOutcome {
        match actor.call(ReconcilerMsg::Reconcile, None).await {
            Ok(ractor::rpc::CallResult::Success(outcome)) => outcome,
            Ok(other) => Err(ReconcileError::Unreachable(format!("{other:?}"))),
            Err(e) => Err(ReconcileError::Unreachable(e.to_string())),
        }
    }
}

struct Running {
    id: u64,
    started: Instant,
    waiters: Vec<RpcReplyPort<PassOutcome>>,
    _task: OwnedTask,
}

pub struct ReconcilerState {
    myself: ActorRef<ReconcilerMsg>,
    args: ReconcilerArgs,
    running: Option<Running>,
    /// `Reconcile` requests that came while a pass ran: they get the next one.
    next_waiters: Vec<RpcReplyPort<PassOutcome>>,
    stats: PassStats,
    next_id: u64,
    _ticker: Option<OwnedTask>,
    _events: Option<OwnedTask>,
}

impl Actor for Reconciler {
    type Msg = ReconcilerMsg;
    type State = ReconcilerState;
    type Arguments = ReconcilerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ReconcilerMsg>,
        args: ReconcilerArgs,
    ) -> Result<ReconcilerState, ActorProcessingErr> {
        metrics::zero_pass_results();
        Ok(ReconcilerState {
            myself,
            args,
            running: None,
            next_waiters: Vec::new(),
            stats: PassStats::default(),
            next_id: 0,
            _ticker: None,
            _events: None,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<ReconcilerMsg>,
        state: &mut ReconcilerState,
    ) -> Result<(), ActorProcessingErr> {
        let period = state.args.config.period;
        let ticker = myself.clone();
        state._ticker = Some(OwnedTask::spawn(async move {
            // The first pass comes one period after start: app actors adopt
            // their containers themselves at start.
            let mut ticks = interval_at(Instant::now() + period, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if ticker.cast(ReconcilerMsg::Tick).is_err() {
                    return;
                }
            }
        }));
        if state.args.config.events {
            let watching = events::watch(
                state.args.runtime.clone(),
                myself,
                state.args.config.clone(),
            );
            state._events = Some(OwnedTask::spawn(watching));
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<ReconcilerMsg>,
        message: ReconcilerMsg,
        state: &mut ReconcilerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ReconcilerMsg::Tick if state.running.is_some() => {
                state.stats.skipped += 1;
                metrics::pass_ended(PassResult::Skipped, None);
            }
            ReconcilerMsg::Tick => state.launch(Vec::new()),
            ReconcilerMsg::Reconcile(reply) if state.running.is_some() => {
                state.next_waiters.push(reply)
            }
            ReconcilerMsg::Reconcile(reply) => state.launch(vec![reply]),
            ReconcilerMsg::Stats(reply) => {
                let _ = reply.send(state.stats.clone());
            }
            ReconcilerMsg::PassDone { pass_id, outcome } => state.finish(pass_id, outcome),
        }
        Ok(())
    }
}

impl ReconcilerState {
    fn launch(&mut self, waiters: Vec<RpcReplyPort<PassOutcome>>) {
        self.next_id += 1;
        let id = self.next_id;
        let args = self.args.clone();
        let actor = self.myself.clone();
        let task = OwnedTask::spawn(async move {
            let deadline = args.config.pass_deadline;
            // A panicking pass must still report, or every later tick
            // would be skipped as "still running".
            let pass = AssertUnwindSafe(pass::run(&args)).catch_unwind();
            let outcome = match tokio::time::timeout(deadline, pass).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(panic)) => Err(ReconcileError::Panicked(panic_message(&*panic))),
                Err(_) => Err(ReconcileError::Deadline(deadline)),
            };
            let _ = actor.cast(ReconcilerMsg::PassDone {
                pass_id: id,
                outcome,
            });
        });
        self.running = Some(Running {
            id,
            started: Instant::now(),
            waiters,
            _task: task,
        });
    }

    fn finish(&mut self, id: u64, outcome: PassOutcome) {
        let Some(done) = self.running.take_if(|r| r.id == id) else {
            return;
        };
        let took = done.started.elapsed();
        let board = &self.args.board;
        match &outcome {
            Ok(report) => {
                self.stats.success += 1;
                board.set_engine_reachable(true);
                metrics::pass_ended(PassResult::Success, Some(took));
                tracing::debug!(?took, ?report, "reconcile pass done");
            }
            Err(error) => {
                self.stats.error += 1;
                self.stats.last_error = Some(error.clone());
                if let ReconcileError::Engine(e) = error {
                    // An engine that answered, even with an error, is reachable.
                    let silent = matches!(
                        e,
                        RuntimeError::Unavailable { .. } | RuntimeError::Timeout { .. }
                    );
                    board.set_engine_reachable(!silent);
                }
                metrics::pass_ended(PassResult::Error, Some(took));
                tracing::warn!(%error, ?took, "reconcile pass failed");
            }
        }
        for reply in done.waiters {
            let _ = reply.send(outcome.clone());
        }
        if !self.next_waiters.is_empty() {
            let waiters = mem::take(&mut self.next_waiters);
            self.launch(waiters);
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
