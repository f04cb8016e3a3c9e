//! The app actor. Its mailbox is the app's mutex: one operation at a time,
//! run as a task the actor owns, so `Status` answers at once while a 600 s
//! stop runs. A duplicate request joins the one in flight or queued; a
//! conflicting one waits its turn; uninstall cancels an install in flight.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use archy_apps::Manifest;
use archy_runtime::Observed;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::env::AppEnv;
use super::ops::{DeathSignal, Op, OpCtx, OpError, Progress};
use super::render::container_name;
use super::state::{allowed, AppState, OpKind, StateKind};
use super::task::OwnedTask;
use crate::status::{now_ms, AppStatus, Health, Transition};
use crate::store::{self, DesiredApp, RestartDecision, RestartPolicy, StoreError};
use crate::tree::Request;

/// How long to wait before looking at the containers again when the engine
/// could not be asked at the actor's start.
const ADOPT_RETRY: Duration = Duration::from_secs(5);

/// How long to wait before retrying an operation the engine could not serve.
const ENGINE_RETRY: Duration = Duration::from_secs(10);

/// Where an operation's outcome is sent when it finishes.
pub type Reply = RpcReplyPort<Result<(), AppError>>;

pub enum AppMsg {
    Install {
        reply: Option<Reply>,
    },
    Start {
        reply: Option<Reply>,
    },
    Stop {
        reply: Option<Reply>,
    },
    Restart {
        reply: Option<Reply>,
    },
    Uninstall {
        purge: bool,
        reply: Option<Reply>,
    },
    /// A user's request answered once accepted (the user's word persisted,
    /// the operation queued), not once finished: `Err` when it cannot be
    /// recorded (say the disk is full), so nobody is told "ok" for a word
    /// that was lost.
    Accept {
        request: Request,
        reply: Reply,
    },
    /// Answered at once from the actor's state, never behind an operation.
    Status(RpcReplyPort<AppStatus>),
    /// The reconciler's view of this app's containers (one list call).
    Observe(Vec<Observed>),
    /// An engine `die` event for one of this app's containers. Only a hint:
    /// the actor inspects the container before calling it a crash, because
    /// the event of its own stop may arrive after that operation ended.
    Died {
        container: String,
        exit_code: Option<i64>,
    },
    /// From the check a `Died` or `Observe` started: the container is
    /// really down (`what` says how, for the user).
    DeathConfirmed {
        container: String,
        what: String,
    },
    HealthChanged {
        healthy: bool,
        reason: String,
    },
    UpdateManifest(Arc<Manifest>),
    /// From the operation task: a phase change.
    OpProgress {
        op_id: u64,
        to: AppState,
        reason: String,
    },
    /// From the operation task: it ended (Ok: the ids of the containers it
    /// verified running, see [`Op::run`]).
    OpDone {
        op_id: u64,
        result: Result<Vec<String>, OpError>,
    },
    /// From the restart timer: a crashed app's backoff is over.
    RestartDue {
        timer_id: u64,
    },
    /// From the dependency watch of a blocked app: a dependency came up.
    DependencyReady,
    /// Look at the containers again: the engine could not be asked at start.
    Adopt,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("{app} is not installed; install it first")]
    NotInstalled { app: String },
    #[error("{app} failed: {reason}")]
    Failed { app: String, reason: String },
    #[error("{app} is blocked: {reason}")]
    Blocked { app: String, reason: String },
    #[error("{app}: the {op:?} was cancelled: {why}")]
    Cancelled {
        app: String,
        op: OpKind,
        why: String,
    },
    #[error("{app}: cannot {op:?} while it is {state}")]
    Refused {
        app: String,
        op: OpKind,
        state: String,
    },
    #[error("{app}: cannot record your request: {reason}")]
    Store { app: String, reason: String },
    #[error("{app}: its actor is not answering: {reason}")]
    Unreachable { app: String, reason: String },
}

/// What an app actor is started with; cloned for every restart.
#[derive(Clone)]
pub struct AppArgs {
    pub manifest: Arc<Manifest>,
    pub env: AppEnv,
    /// The app's containers as the boot's engine list showed them.
    pub seen_at_boot: SeenAtBoot,
}

impl AppArgs {
    pub fn new(manifest: Arc<Manifest>, env: AppEnv) -> Self {
        AppArgs {
            manifest,
            env,
            seen_at_boot: SeenAtBoot::default(),
        }
    }
}

/// Containers as the boot's one engine list showed them, handed over once:
/// the first actor of each app adopts from it instead of inspecting every
/// container (100 engine calls fewer while a 100-app daemon starts). Taken,
/// it is empty: a restarted actor inspects, since the list is old by then.
#[derive(Clone, Default)]
pub struct SeenAtBoot(Arc<Mutex<Option<Vec<Observed>>>>);

impl SeenAtBoot {
    pub fn new(seen: Vec<Observed>) -> Self {
        SeenAtBoot(Arc::new(Mutex::new(Some(seen))))
    }

    /// What was seen, the first time; nothing after.
    pub fn take(&self) -> Vec<Observed> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AppActor;

impl AppActor {
    /// The registered name, so a restarted actor is found again.
    pub fn name(app: &str) -> String {
        format!("app:{app}")
    }

    pub async fn spawn(args: AppArgs) -> Result<(ActorRef<AppMsg>, JoinHandle<()>), SpawnErr> {
        let name = Self::name(&args.manifest.id);
        Actor::spawn(Some(name), AppActor, args).await
    }

    pub async fn spawn_linked(
        args: AppArgs,
        supervisor: ActorCell,
    ) -> Result<(ActorRef<AppMsg>, JoinHandle<()>), SpawnErr> {
        let name = Self::name(&args.manifest.id);
        Actor::spawn_linked(Some(name), AppActor, args, supervisor).await
    }
}

/// Send a request and wait until its operation finishes.
pub async fn ask(
    actor: &ActorRef<AppMsg>,
    app: &str,
    request: impl FnOnce(Option<Reply>) -> AppMsg,
) -> Result<(), AppError> {
    let unreachable = |reason: String| AppError::Unreachable {
        app: app.to_string(),
        reason,
    };
    match actor.call(|reply| request(Some(reply)), None).await {
        Ok(ractor::rpc::CallResult::Success(result)) => result,
        Ok(other) => Err(unreachable(format!("{other:?}"))),
        Err(e) => Err(unreachable(e.to_string())),
    }
}

struct InFlight {
    id: u64,
    op: Op,
    waiters: Vec<Reply>,
    /// Rung when one of the app's containers is reported dead meanwhile.
    deaths: watch::Sender<()>,
    _task: OwnedTask,
}

struct Queued {
    op: Op,
    waiters: Vec<Reply>,
}

/// An operation Archy runs by itself later: a crash restart after its
/// backoff, or an operation retried once the engine is back.
struct RestartTimer {
    id: u64,
    op: Op,
    _task: OwnedTask,
}

pub struct AppActorState {
    myself: ActorRef<AppMsg>,
    manifest: Arc<Manifest>,
    env: AppEnv,
    /// The authoritative status; the board holds a copy.
    status: AppStatus,
    desired: DesiredApp,
    /// The manifest changed while the app was stopped: the next start
    /// recreates its containers.
    recreate_on_start: bool,
    /// The spec hash each member should carry, rendered once per manifest.
    spec_hashes: Option<Vec<Option<String>>>,
    current: Option<InFlight>,
    queue: VecDeque<Queued>,
    timer: Option<RestartTimer>,
    /// While blocked: waits for a dependency to come up, then retries.
    dependency_watch: Option<OwnedTask>,
    /// The engine could not be asked at start: adoption is tried again.
    adopt_retry: Option<OwnedTask>,
    /// The boot list's view of the members, by name, for the first adoption.
    seen_at_boot: BTreeMap<String, Observed>,
    /// Why a generated secret is missing under the running app, as last
    /// reported (said once, not on every look).
    lost_secret: Option<String>,
    next_id: u64,
}

impl Actor for AppActor {
    type Msg = AppMsg;
    type State = AppActorState;
    type Arguments = AppArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<AppMsg>,
        args: AppArgs,
    ) -> Result<AppActorState, ActorProcessingErr> {
        let app = args.manifest.id.clone();
        let mut status = AppStatus::new(&app, AppState::Absent, "not installed");
        status.provides = args.manifest.provides.clone();
        status.restart_count = args.env.tracker().record(&app).map_or(0, |r| r.attempts);
        let desired = DesiredApp {
            app_id: app,
            installed: false,
            user_stopped: false,
            manifest_hash: args.manifest.content_hash(),
            installed_at: 0,
        };
        Ok(AppActorState {
            myself,
            manifest: args.manifest,
            env: args.env,
            status,
            desired,
            recreate_on_start: false,
            spec_hashes: None,
            current: None,
            queue: VecDeque::new(),
            timer: None,
            dependency_watch: None,
            adopt_retry: None,
            seen_at_boot: args
                .seen_at_boot
                .take()
                .into_iter()
                .map(|seen| (seen.name.clone(), seen))
                .collect(),
            lost_secret: None,
            next_id: 1,
        })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<AppMsg>,
        state: &mut AppActorState,
    ) -> Result<(), ActorProcessingErr> {
        state.adopt().await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<AppMsg>,
        message: AppMsg,
        state: &mut AppActorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AppMsg::Install { reply } => state.request(Op::Install, reply),
            AppMsg::Start { reply } => state.request(Op::Start, reply),
            AppMsg::Stop { reply } => state.request(Op::Stop, reply),
            AppMsg::Restart { reply } => state.request(Op::Restart, reply),
            AppMsg::Uninstall { purge, reply } => state.request(Op::Uninstall { purge }, reply),
            AppMsg::Accept { request, reply } => {
                let _ = reply.send(state.take_request(op_of(request), None));
            }
            AppMsg::Status(reply) => {
                let _ = reply.send(state.status.clone());
            }
            AppMsg::Observe(observed) => state.observe(&observed),
            AppMsg::Died {
                container,
                exit_code,
            } => state.died(container, exit_code),
            AppMsg::DeathConfirmed { container, what } => state.death_confirmed(&container, what),
            AppMsg::HealthChanged { healthy, reason } => state.health_changed(healthy, reason),
            AppMsg::UpdateManifest(manifest) => state.update_manifest(manifest),
            AppMsg::OpProgress { op_id, to, reason } => {
                if state.current.as_ref().is_some_and(|c| c.id == op_id) {
                    state.transition(to, reason);
                }
            }
            AppMsg::OpDone { op_id, result } => state.finish(op_id, result),
            AppMsg::RestartDue { timer_id } => state.restart_due(timer_id),
            AppMsg::DependencyReady => state.dependency_ready(),
            AppMsg::Adopt => state.readopt().await,
        }
        Ok(())
    }
}

impl AppActorState {
    fn app(&self) -> &str {
        &self.manifest.id
    }

    /// The context of work outside an operation (rendering): no deaths
    /// are forwarded to it.
    fn ctx(&self) -> OpCtx {
        self.op_ctx(watch::channel(()).1)
    }

    fn op_ctx(&self, deaths: DeathSignal) -> OpCtx {
        OpCtx {
            manifest: self.manifest.clone(),
            env: self.env.clone(),
            deaths,
        }
    }

    fn member_names(&self) -> Vec<String> {
        self.manifest
            .members()
            .iter()
            .map(|m| container_name(&self.manifest, m.name))
            .collect()
    }

    // ---- requests ------------------------------------------------------------

    /// A user's request: join the same request if it is the latest one
    /// accepted, else record the user's word and queue it (uninstall first
    /// cancels an install or heal in flight).
    fn request(&mut self, op: Op, reply: Option<Reply>) {
        // A refusal is answered to `reply`: nothing more to do with it here.
        let _ = self.take_request(op, reply);
    }

    /// [`Self::request`], saying whether it was accepted (or joined).
    fn take_request(&mut self, op: Op, reply: Option<Reply>) -> Result<(), AppError> {
        // Joining an older request would let a later, conflicting one win.
        if let Some(queued) = self.queue.back_mut().filter(|q| q.op == op) {
            queued.waiters.extend(reply);
            return Ok(());
        }
        if let Some(current) = self.current.as_mut().filter(|c| c.op == op) {
            if self.queue.is_empty() {
                current.waiters.extend(reply);
                return Ok(());
            }
        }
        let app = self.app().to_string();
        let needs_install = !matches!(op, Op::Install | Op::Uninstall { .. });
        let refused = if needs_install && !self.desired.installed {
            Some(AppError::NotInstalled { app })
        } else {
            self.accept(op).err().map(|e| AppError::Store {
                app,
                reason: e.to_string(),
            })
        };
        if let Some(refused) = refused {
            answer(reply, Err(refused.clone()));
            return Err(refused);
        }
        // The user acted: a pending crash restart is superseded.
        self.timer = None;
        if let Op::Uninstall { .. } = op {
            self.cancel_for_uninstall();
        }
        self.queue.push_back(Queued {
            op,
            waiters: reply.into_iter().collect(),
        });
        self.pump();
        Ok(())
    }

    /// Persist what the user asked for before any engine call, so a crash
    /// mid-operation converges to the user's word.
    fn accept(&mut self, op: Op) -> Result<(), StoreError> {
        let mut desired = self.desired.clone();
        let mut clear_restarts = true;
        match op {
            Op::Install => {
                if !desired.installed {
                    desired.installed_at = store::unix_secs(SystemTime::now());
                }
                desired.installed = true;
                desired.user_stopped = false;
                desired.manifest_hash = self.manifest.content_hash();
            }
            Op::Start | Op::Restart => desired.user_stopped = false,
            Op::Stop => {
                desired.user_stopped = true;
                clear_restarts = false;
            }
            Op::Uninstall { .. } => desired.installed = false,
            Op::Heal { .. } => return Ok(()),
        }
        self.env.desired.save(&desired)?;
        if clear_restarts {
            let mut tracker = self.env.tracker();
            tracker.clear(self.app());
            tracker.save()?;
            self.status.restart_count = 0;
        }
        self.status.user_stopped = desired.user_stopped;
        self.desired = desired;
        self.env.board.set(self.status.clone());
        Ok(())
    }

    /// Uninstall is the user's clear intent: an install or crash restart in
    /// flight stops now, and queued operations are moot.
    fn cancel_for_uninstall(&mut self) {
        let app = self.app().to_string();
        let cancel = |op: Op, waiters: Vec<Reply>| {
            for reply in waiters {
                let _ = reply.send(Err(AppError::Cancelled {
                    app: app.clone(),
                    op: op.kind(),
                    why: "you asked to uninstall the app".into(),
                }));
            }
        };
        if let Some(current) = self
            .current
            .take_if(|c| matches!(c.op, Op::Install | Op::Heal { .. }))
        {
            // Dropping it aborts the task; uninstall then cleans up.
            cancel(current.op, current.waiters);
        }
        for queued in std::mem::take(&mut self.queue) {
            cancel(queued.op, queued.waiters);
        }
    }

    /// Start the next queued operation if none is running.
    fn pump(&mut self) {
        while self.current.is_none() {
            let Some(Queued { mut op, waiters }) = self.queue.pop_front() else {
                return;
            };
            if op == Op::Start && self.recreate_on_start {
                op = Op::Install;
            }
            let (initial, reason) = initial_state(op);
            if !self.transition(initial, reason) {
                let state = self.status.state.to_string();
                let app = self.app().to_string();
                for reply in waiters {
                    let refused = AppError::Refused {
                        app: app.clone(),
                        op: op.kind(),
                        state: state.clone(),
                    };
                    let _ = reply.send(Err(refused));
                }
                continue;
            }
            if op == Op::Install {
                self.recreate_on_start = false;
            }
            self.launch(op, waiters);
        }
    }

    fn launch(&mut self, op: Op, waiters: Vec<Reply>) {
        self.dependency_watch = None;
        let id = self.next_id();
        let (deaths, death_signal) = watch::channel(());
        let ctx = self.op_ctx(death_signal);
        let actor = self.myself.clone();
        let progress = Progress::new(move |to, reason| {
            let _ = actor.cast(AppMsg::OpProgress {
                op_id: id,
                to,
                reason,
            });
        });
        let actor = self.myself.clone();
        let task = OwnedTask::spawn(async move {
            let result = op.run(&ctx, &progress).await;
            let _ = actor.cast(AppMsg::OpDone { op_id: id, result });
        });
        self.current = Some(InFlight {
            id,
            op,
            waiters,
            deaths,
            _task: task,
        });
        self.set_operation(Some(op.kind()));
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn set_operation(&mut self, operation: Option<OpKind>) {
        self.status.operation = operation;
        self.env.board.set(self.status.clone());
    }

    /// The operation task ended: final state, answers, next in queue.
    fn finish(&mut self, id: u64, result: Result<Vec<String>, OpError>) {
        let Some(done) = self.current.take_if(|c| c.id == id) else {
            return; // a cancelled operation's late word
        };
        self.status.operation = None;
        let app = self.app().to_string();
        let answer_all = |outcome: Result<(), AppError>| {
            for reply in done.waiters {
                let _ = reply.send(outcome.clone());
            }
        };
        match result {
            Ok(ids) => {
                if let Op::Uninstall { .. } = done.op {
                    self.uninstalled();
                    answer_all(Ok(()));
                    if self.queue.is_empty() {
                        // A normal exit: the supervisor must not restart it.
                        self.myself.stop(Some("normal".into()));
                    } else {
                        self.pump();
                    }
                    return;
                }
                self.verified_containers(done.op, ids);
                let (to, reason) = final_state(done.op);
                self.transition(to, reason);
                if done.op != Op::Stop {
                    self.env.tracker().record_healthy(&app, SystemTime::now());
                }
                answer_all(Ok(()));
            }
            Err(OpError::Blocked(reason)) => {
                self.transition(AppState::blocked(&reason), reason.clone());
                self.watch_dependencies();
                answer_all(Err(AppError::Blocked { app, reason }));
            }
            Err(OpError::EngineDown(reason)) => {
                // Nobody's fault and not a crash: try again, uncharged.
                let reason = format!("{reason}; trying again in {}", secs(ENGINE_RETRY));
                self.transition(AppState::failed(&reason), reason.clone());
                self.schedule(done.op, ENGINE_RETRY);
                answer_all(Err(AppError::Failed { app, reason }));
            }
            Err(OpError::Failed(reason)) => {
                if let Op::Heal { from } = done.op {
                    // The restart itself crashed: one more failure to count.
                    self.crashed(from, Failure::Crash, reason.clone());
                } else {
                    self.transition(AppState::failed(&reason), reason.clone());
                }
                answer_all(Err(AppError::Failed { app, reason }));
            }
        }
        self.pump();
    }

    /// Show the ids of the containers an operation verified running at
    /// once, not only after the reconciler's next look.
    fn verified_containers(&mut self, op: Op, ids: Vec<String>) {
        let from = match op {
            Op::Heal { from } => from,
            _ if ids.is_empty() => return, // stop: the containers stay
            _ => 0,
        };
        if self.status.containers.len() >= from {
            self.status.containers.truncate(from);
            self.status.containers.extend(ids);
        }
    }

    fn uninstalled(&mut self) {
        self.transition(AppState::Absent, "uninstalled");
        let app = self.app().to_string();
        // An install accepted meanwhile (queued after this uninstall) holds.
        if !self.desired.installed {
            if let Err(e) = self.env.desired.remove(&app) {
                tracing::error!(%app, error = %e, "cannot remove the desired-state file");
            }
        }
        let mut tracker = self.env.tracker();
        tracker.clear(&app);
        if let Err(e) = tracker.save() {
            tracing::error!(%app, error = %e, "cannot save the restart tracker");
        }
        drop(tracker);
        self.env.board.remove(&app);
    }

    // ---- container deaths ------------------------------------------------------

    /// Whether a dead container should be restarted now: installed, wanted
    /// running, up, and nothing else deciding already.
    fn watching(&self) -> bool {
        self.desired.installed
            && !self.desired.user_stopped
            && self.current.is_none()
            && self.timer.is_none()
            && self.queue.is_empty()
            && self.status.state.is_up()
    }

    fn observe(&mut self, observed: &[Observed]) {
        if !self.watching() {
            return;
        }
        self.report_lost_secret();
        if self.derived_files_changed() {
            tracing::info!(app = %self.app(), "a derived config file was rewritten; restarting");
            return self.enqueue(Op::Restart);
        }
        let wanted = self.wanted_hashes();
        let mut ids = Vec::new();
        let mut drifted = false;
        for (index, name) in self.member_names().iter().enumerate() {
            match observed.iter().find(|o| &o.name == name) {
                Some(o) if o.state.is_running() => {
                    drifted |= wanted.get(index).is_some_and(|w| o.spec_hash != *w);
                    ids.push(o.id.clone());
                }
                Some(o) => return self.died(name.clone(), o.exit_code),
                None => return self.died(name.clone(), None),
            }
        }
        if drifted {
            // Recreates only the changed containers; data lives outside them.
            tracing::info!(app = %self.app(), "container spec drifted; recreating it");
            return self.enqueue(Op::Install);
        }
        let app = self.app().to_string();
        let reset = {
            let mut tracker = self.env.tracker();
            tracker.record_healthy(&app, SystemTime::now());
            let reset = tracker.check_stability(&app, SystemTime::now());
            if reset {
                if let Err(e) = tracker.save() {
                    tracing::error!(%app, error = %e, "cannot save the restart tracker");
                }
            }
            reset
        };
        if reset || self.status.containers != ids {
            if reset {
                self.status.restart_count = 0;
            }
            self.status.containers = ids;
            self.env.board.set(self.status.clone());
        }
    }

    /// A generated secret deleted under the running app is never generated
    /// again (its data was initialised with it) and the app keeps running:
    /// say so in its status and journal once, and once more when it is back.
    fn report_lost_secret(&mut self) {
        let lost = self
            .env
            .secrets
            .check_kept(&self.manifest)
            .err()
            .map(|e| e.to_string());
        if lost == self.lost_secret {
            return;
        }
        let reason = match &lost {
            Some(reason) => {
                tracing::error!(app = %self.app(), %reason, "a generated secret is missing");
                reason.clone()
            }
            None => "its missing secret is back".to_string(),
        };
        self.lost_secret = lost;
        let state = self.status.state.clone();
        self.record(state.clone(), state, reason, now_ms());
    }

    /// Rewrite derived config files someone edited or deleted; whether one
    /// of them asks for a restart to be read again.
    fn derived_files_changed(&self) -> bool {
        self.ctx().write_derived_files().unwrap_or_else(|e| {
            tracing::warn!(app = %self.app(), error = %e, "cannot write derived files");
            false
        })
    }

    /// The spec hash each member should carry (empty if the manifest cannot
    /// be rendered: then drift is not judged, and the next install says why).
    fn wanted_hashes(&mut self) -> Vec<Option<String>> {
        if self.spec_hashes.is_none() {
            match self.ctx().render() {
                Ok(specs) => {
                    let hash = |m: &super::render::MemberSpec| {
                        m.spec.labels.get(archy_runtime::labels::SPEC_HASH).cloned()
                    };
                    self.spec_hashes = Some(specs.iter().map(hash).collect());
                }
                Err(e) => tracing::warn!(app = %self.app(), error = %e, "cannot render"),
            }
        }
        self.spec_hashes.clone().unwrap_or_default()
    }

    /// A die event or a list is only a hint (the event of the app's own stop
    /// may arrive, or a list taken during an operation be read, after that
    /// operation ended): check, off the mailbox, that the container is
    /// really down before calling it a crash. One inspect per death seen.
    /// During an operation, the death goes to it instead: its verify window
    /// judges (and the operation's outcome decides the state).
    fn died(&mut self, container: String, exit_code: Option<i64>) {
        if !self.member_names().contains(&container) {
            return;
        }
        if let Some(current) = &self.current {
            current.deaths.send_replace(());
            return;
        }
        if !self.watching() {
            return;
        }
        let runtime = self.env.runtime.clone();
        let actor = self.myself.clone();
        tokio::spawn(async move {
            let what = match runtime.inspect(&container).await {
                Ok(details) if details.state.is_running() => return,
                Ok(details) => exited(&container, details.exit_code.or(exit_code)),
                Err(e) if e.is_not_found() => format!("{container} disappeared"),
                Err(_) => return, // unknown: the next list decides
            };
            let _ = actor.cast(AppMsg::DeathConfirmed { container, what });
        });
    }

    fn death_confirmed(&mut self, container: &str, what: String) {
        if !self.watching() {
            return;
        }
        if let Some(index) = self.member_names().iter().position(|n| n == container) {
            self.crashed(index, Failure::Crash, what);
        }
    }

    /// Member `from` crashed: restart it (and the members after it) after
    /// the tracker's backoff, or give up and wait for the user.
    fn crashed(&mut self, from: usize, cause: Failure, what: String) {
        let app = self.app().to_string();
        let (decision, attempts) = {
            let mut tracker = self.env.tracker();
            let policy = restart_policy(&self.manifest, tracker.policy());
            let decision = tracker.record_failure_with(&app, SystemTime::now(), &policy);
            if let Err(e) = tracker.save() {
                tracing::error!(%app, error = %e, "cannot save the restart tracker");
            }
            (decision, tracker.record(&app).map_or(0, |r| r.attempts))
        };
        self.status.restart_count = attempts;
        match decision {
            RestartDecision::RestartAfter(wait) => {
                let when = if wait.is_zero() {
                    "now".to_string()
                } else {
                    format!("in {}", secs(wait))
                };
                let reason = format!("{what}; restart {attempts} {when}");
                if self.transition(AppState::Restarting, reason) {
                    self.schedule(Op::Heal { from }, wait);
                }
            }
            RestartDecision::GiveUp { attempts } => {
                let reason = format!("{what}; {}", cause.give_up(attempts));
                self.transition(AppState::failed(&reason), reason);
            }
        }
    }

    /// Run `op` after `wait`, unless the user asks for something first (a
    /// request already queued is newer than this decision and wins).
    fn schedule(&mut self, op: Op, wait: Duration) {
        if !self.queue.is_empty() {
            return;
        }
        let id = self.next_id();
        let actor = self.myself.clone();
        let task = OwnedTask::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = actor.cast(AppMsg::RestartDue { timer_id: id });
        });
        self.timer = Some(RestartTimer {
            id,
            op,
            _task: task,
        });
    }

    fn restart_due(&mut self, timer_id: u64) {
        let Some(timer) = self.timer.take_if(|t| t.id == timer_id) else {
            return;
        };
        let heal = matches!(timer.op, Op::Heal { .. });
        if !(heal && self.desired.user_stopped) {
            if heal {
                metrics::counter!(archy_runtime::metrics::CONTAINER_RESTARTS.name, "app" => self.app().to_string())
                    .increment(1);
            }
            self.enqueue(timer.op);
        }
    }

    /// Queue an operation Archy decided on itself (not the user's word).
    fn enqueue(&mut self, op: Op) {
        if !self.queue.iter().any(|q| q.op == op) {
            self.queue.push_back(Queued {
                op,
                waiters: Vec::new(),
            });
        }
        self.pump();
    }

    // ---- blocked on dependencies -------------------------------------------------

    /// Retry a blocked app when one of its dependencies comes up (by the
    /// user's start: a stopped dependency is never started for it).
    fn watch_dependencies(&mut self) {
        let board = self.env.board.clone();
        let dependencies: Vec<String> = self
            .manifest
            .depends_on
            .iter()
            .map(|d| d.id.clone())
            .collect();
        let actor = self.myself.clone();
        let running = StateKind::Running.to_string();
        let mut transitions = board.subscribe();
        self.dependency_watch = Some(OwnedTask::spawn(async move {
            loop {
                match transitions.recv().await {
                    Ok(t) if t.to == running => {
                        let is_dependency = board
                            .get(&t.app)
                            .is_some_and(|s| dependencies.iter().any(|d| s.answers_to(d)));
                        if is_dependency {
                            let _ = actor.cast(AppMsg::DependencyReady);
                            return;
                        }
                    }
                    Err(RecvError::Closed) => return,
                    _ => {} // another app, or lagged: keep watching
                }
            }
        }));
    }

    fn dependency_ready(&mut self) {
        let blocked = matches!(self.status.state, AppState::Blocked { .. });
        if blocked && self.desired.installed && !self.desired.user_stopped {
            self.enqueue(Op::Start);
        }
    }

    // ---- health and manifest ---------------------------------------------------

    /// The Health actor saw a verdict change. Unhealthy on an app Archy
    /// watches is handled like a crash: the restart tracker decides between
    /// a restart after its backoff and Failed past max attempts. A stopped,
    /// busy or user-stopped app only records the verdict.
    fn health_changed(&mut self, healthy: bool, reason: String) {
        let previous = self.status.health;
        self.status.health = if healthy {
            Health::Healthy
        } else {
            Health::Unhealthy
        };
        if !healthy && self.watching() {
            self.transition(AppState::Unhealthy, reason.clone());
            self.crashed(0, Failure::Health, reason);
            return;
        }
        if healthy && self.status.state == AppState::Unhealthy && self.current.is_none() {
            self.transition(AppState::Running, reason);
        } else if self.status.health != previous {
            // No state change, but the verdict is news for the dashboard.
            let verdict = if healthy { "healthy" } else { "unhealthy" };
            let state = self.status.state.clone();
            self.record(
                state.clone(),
                state,
                format!("{verdict}: {reason}"),
                now_ms(),
            );
        }
    }

    /// A new version of the manifest: a running app is re-installed (only
    /// changed containers are recreated); a stopped one on its next start.
    fn update_manifest(&mut self, manifest: Arc<Manifest>) {
        if manifest.content_hash() == self.manifest.content_hash() {
            return;
        }
        self.manifest = manifest;
        self.spec_hashes = None;
        self.status.provides = self.manifest.provides.clone();
        if !self.desired.installed {
            return;
        }
        self.desired.manifest_hash = self.manifest.content_hash();
        if let Err(e) = self.env.desired.save(&self.desired) {
            tracing::error!(app = %self.app(), error = %e, "cannot save the desired state");
        }
        if self.desired.user_stopped {
            self.recreate_on_start = true;
        } else {
            self.enqueue(Op::Install);
        }
    }

    // ---- adoption ----------------------------------------------------------------

    /// At (re)start: read the user's word, look at each member once, and
    /// converge without touching what already matches (invariant 4).
    async fn adopt(&mut self) {
        let app = self.app().to_string();
        match self.env.desired.load(&app) {
            Ok(Some(desired)) => self.desired = desired,
            Ok(None) => {
                self.env.board.set(self.status.clone());
                return;
            }
            Err(e) => {
                let reason = format!("cannot read its desired state: {e}");
                self.transition(AppState::failed(&reason), reason);
                return;
            }
        }
        self.status.user_stopped = self.desired.user_stopped;
        if !self.desired.installed {
            // An uninstall was accepted, then the daemon or actor stopped.
            self.enqueue(Op::Uninstall { purge: false });
            return;
        }
        let specs = match self.ctx().render() {
            Ok(specs) => specs,
            Err(e) => {
                self.transition(AppState::failed(e.to_string()), e.to_string());
                return;
            }
        };
        let mut running = 0;
        let mut stale = false;
        let mut ids = Vec::new();
        // Only the first adoption may trust the boot's list.
        let mut seen_at_boot = std::mem::take(&mut self.seen_at_boot);
        for member in &specs {
            let looked = match seen_at_boot.remove(&member.spec.name) {
                Some(seen) => Ok((seen.id, seen.spec_hash, seen.state)),
                None => self
                    .env
                    .runtime
                    .inspect(&member.spec.name)
                    .await
                    .map(|mut details| {
                        let hash = details.labels.remove(archy_runtime::labels::SPEC_HASH);
                        (details.id, hash, details.state)
                    }),
            };
            match looked {
                Ok((id, spec_hash, state)) => {
                    let wanted = member.spec.labels.get(archy_runtime::labels::SPEC_HASH);
                    stale |= spec_hash.as_ref() != wanted;
                    running += usize::from(state.is_running());
                    ids.push(id);
                }
                Err(e) if e.is_not_found() => stale = true,
                Err(e) => {
                    // Typically the engine is not up yet at boot: not the
                    // app's failure. Keep what we know and look again.
                    self.status.reason = format!("waiting for the container engine: {e}");
                    self.env.board.set(self.status.clone());
                    self.retry_adoption();
                    return;
                }
            }
        }
        self.status.containers = ids;
        if self.desired.user_stopped {
            self.recreate_on_start = stale;
            if running > 0 {
                self.enqueue(Op::Stop); // the user's word wins
            } else {
                self.transition(AppState::Stopped, "stopped by you");
            }
        } else if stale {
            self.enqueue(Op::Install);
        } else if running == specs.len() {
            self.transition(AppState::Running, "adopted its running containers");
        } else {
            self.enqueue(Op::Start);
        }
    }

    fn retry_adoption(&mut self) {
        let actor = self.myself.clone();
        self.adopt_retry = Some(OwnedTask::spawn(async move {
            tokio::time::sleep(ADOPT_RETRY).await;
            let _ = actor.cast(AppMsg::Adopt);
        }));
    }

    /// A retried adoption, unless a user's operation has taken over since.
    async fn readopt(&mut self) {
        self.adopt_retry = None;
        if self.status.state == AppState::Absent && self.current.is_none() && self.queue.is_empty()
        {
            self.adopt().await;
        }
    }

    // ---- transitions -------------------------------------------------------------

    /// Validate against the table, journal, set on the board, publish.
    fn transition(&mut self, to: AppState, reason: impl Into<String>) -> bool {
        let reason = reason.into();
        let from = self.status.state.clone();
        if from == to && self.status.reason == reason {
            return true; // nothing new to say
        }
        if !allowed(from.kind(), to.kind()) {
            tracing::error!(app = %self.app(), %from, %to, %reason, "illegal transition refused");
            return false;
        }
        if !to.is_up() {
            // A verdict is about one stretch of running; the next starts unknown.
            self.status.health = Health::Unknown;
        }
        self.status.since_ms = now_ms();
        self.record(from, to, reason, self.status.since_ms);
        true
    }

    /// Journal, set on the board and publish a change of the app's status;
    /// `from == to` for news that is not a state change (a health verdict).
    fn record(&mut self, from: AppState, to: AppState, reason: String, at_ms: u64) {
        let at = SystemTime::now();
        self.status.state = to.clone();
        self.status.reason = reason.clone();
        let app = self.app().to_string();
        let event = store::Transition {
            app: app.clone(),
            from_state: from.to_string(),
            to_state: to.to_string(),
            reason: reason.clone(),
        };
        let entry = self.env.journal.append(event, at);
        tracing::info!(%app, %from, %to, %reason, "transition");
        self.env.board.set(self.status.clone());
        self.env.board.publish(Transition {
            seq: entry.seq,
            app,
            from: from.to_string(),
            to: to.to_string(),
            reason,
            at_ms,
        });
    }
}

/// Why Archy restarts an app, for the words when it stops trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// A container exited (or a restart of it failed).
    Crash,
    /// The health check failed; the container may still be running.
    Health,
}

impl Failure {
    fn give_up(self, attempts: u32) -> String {
        match self {
            Failure::Crash => format!(
                "crashed {attempts} times in a row, so it is left stopped; start it to try again"
            ),
            Failure::Health => format!(
                "failed its health check {attempts} times in a row, so Archy stopped \
                 restarting it; restart it to try again"
            ),
        }
    }
}

/// The app's own restart policy when its manifest sets one (`restart`),
/// else the daemon's (the manifest's defaults are the daemon's defaults);
/// how long a run must last to earn fresh attempts stays the daemon's.
fn restart_policy(manifest: &Manifest, daemon: &RestartPolicy) -> RestartPolicy {
    let restart = &manifest.restart;
    if *restart == archy_apps::RestartPolicy::default() {
        return *daemon;
    }
    RestartPolicy {
        max_attempts: restart.max_attempts,
        initial_backoff: Duration::from_secs(restart.backoff.initial_secs),
        max_backoff: Duration::from_secs(restart.backoff.max_secs),
        stability_reset: daemon.stability_reset,
    }
}

fn op_of(request: Request) -> Op {
    match request {
        Request::Install => Op::Install,
        Request::Start => Op::Start,
        Request::Stop => Op::Stop,
        Request::Restart => Op::Restart,
        Request::Uninstall { purge } => Op::Uninstall { purge },
    }
}

fn answer(reply: Option<Reply>, outcome: Result<(), AppError>) {
    if let Some(reply) = reply {
        let _ = reply.send(outcome);
    }
}

fn initial_state(op: Op) -> (AppState, &'static str) {
    match op {
        Op::Install => (
            AppState::installing(super::state::InstallPhase::Creating),
            "creating containers",
        ),
        Op::Start => (AppState::Starting, "starting"),
        Op::Stop => (AppState::Stopping, "stopping"),
        Op::Restart => (AppState::Restarting, "restarting"),
        Op::Uninstall { .. } => (AppState::Uninstalling, "uninstalling"),
        Op::Heal { .. } => (AppState::Restarting, "restarting after a crash"),
    }
}

fn final_state(op: Op) -> (AppState, &'static str) {
    match op {
        Op::Stop => (AppState::Stopped, "stopped by you"),
        Op::Install => (AppState::Running, "installed and running"),
        Op::Start => (AppState::Running, "started"),
        Op::Restart => (AppState::Running, "restarted"),
        Op::Heal { .. } => (AppState::Running, "running again after a crash"),
        Op::Uninstall { .. } => (AppState::Absent, "uninstalled"),
    }
}

fn exited(container: &str, code: Option<i64>) -> String {
    match code {
        Some(code) => format!("{container} exited with code {code}"),
        None => format!("{container} exited"),
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs())
}
