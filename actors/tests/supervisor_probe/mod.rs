//! Test actors for the supervisor tests: a `Probe` child that records its
//! lifecycle in a channel and fails on command, and an `Owner` that stands in
//! for a root supervisor's parent.
// Shared by several test binaries, each using a part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use archy_actors::supervisor::{
    ChildInfo, ChildSpec, Intensity, Strategy, Supervisor, SupervisorArgs, SupervisorMsg,
};
use ractor::{call_t, Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// Long enough for any step here; with paused time it costs nothing unless
/// the awaited signal never comes.
const DEADLINE: Duration = Duration::from_secs(60);

/// Lifecycle lines ("start:a", "stop:a", …) in the order they happened.
pub struct Journal {
    tx: UnboundedSender<String>,
    rx: UnboundedReceiver<String>,
}

impl Journal {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { tx, rx }
    }

    pub fn sender(&self) -> UnboundedSender<String> {
        self.tx.clone()
    }

    /// Waits for the next lines and checks they are exactly `expected`.
    pub async fn expect(&mut self, expected: &[&str]) {
        let mut seen = Vec::new();
        for _ in expected {
            match tokio::time::timeout(DEADLINE, self.rx.recv()).await {
                Ok(Some(line)) => seen.push(line),
                _ => panic!("expected {expected:?}, saw only {seen:?}"),
            }
        }
        assert_eq!(seen, expected);
    }

    /// Checks nothing else happened (call after a request the supervisor
    /// answered, so any restart it did would already be recorded).
    pub fn expect_nothing_more(&mut self) {
        if let Ok(line) = self.rx.try_recv() {
            panic!("unexpected lifecycle line: {line}");
        }
    }
}

#[derive(Clone)]
pub struct ProbeArgs {
    pub id: String,
    pub journal: UnboundedSender<String>,
    /// How many more starts fail in `pre_start` (recording "start-failed:<id>").
    pub refusals: Arc<AtomicU32>,
    /// How many more starts fail in `post_start`, after `pre_start` succeeded.
    pub post_start_failures: Arc<AtomicU32>,
    /// `post_stop` never finishes, like a child that ignores being stopped.
    pub hang_on_stop: bool,
}

impl ProbeArgs {
    pub fn new(id: &str, journal: &Journal) -> Self {
        Self {
            id: id.to_string(),
            journal: journal.sender(),
            refusals: Arc::default(),
            post_start_failures: Arc::default(),
            hang_on_stop: false,
        }
    }

    /// A permanent "app" child running a `Probe` with these arguments.
    pub fn spec(self) -> ChildSpec {
        let id = self.id.clone();
        ChildSpec::actor(id, "app", None, Probe, self)
    }
}

/// Takes one from `counter` if it is not zero.
fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

pub enum ProbeMsg {
    Fail,
    Panic,
    Stop(Option<String>),
}

#[derive(Clone)]
pub struct Probe;

impl Actor for Probe {
    type Msg = ProbeMsg;
    type State = ProbeArgs;
    type Arguments = ProbeArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<ProbeMsg>,
        args: ProbeArgs,
    ) -> Result<ProbeArgs, ActorProcessingErr> {
        let refused = args
            .refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            });
        if refused.is_ok() {
            let _ = args.journal.send(format!("start-failed:{}", args.id));
            return Err(format!("{} refuses to start", args.id).into());
        }
        let _ = args.journal.send(format!("start:{}", args.id));
        Ok(args)
    }

    async fn post_start(
        &self,
        _myself: ActorRef<ProbeMsg>,
        state: &mut ProbeArgs,
    ) -> Result<(), ActorProcessingErr> {
        if take_one(&state.post_start_failures) {
            return Err(format!("{} fails right after starting", state.id).into());
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ProbeMsg>,
        state: &mut ProbeArgs,
    ) -> Result<(), ActorProcessingErr> {
        if state.hang_on_stop {
            let _ = state.journal.send(format!("stopping:{}", state.id));
            std::future::pending::<()>().await;
        }
        let _ = state.journal.send(format!("stop:{}", state.id));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ProbeMsg>,
        message: ProbeMsg,
        state: &mut ProbeArgs,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ProbeMsg::Fail => Err(format!("{} was told to fail", state.id).into()),
            ProbeMsg::Panic => panic!("{} was told to panic", state.id),
            ProbeMsg::Stop(reason) => {
                myself.stop(reason);
                Ok(())
            }
        }
    }
}

/// Refusals enough to fail every start.
pub fn always() -> Arc<AtomicU32> {
    Arc::new(AtomicU32::new(u32::MAX))
}

/// A permanent "app" child running a plain `Probe`.
pub fn probe(id: &str, journal: &Journal) -> ChildSpec {
    ProbeArgs::new(id, journal).spec()
}

pub async fn which_children(supervisor: &ActorRef<SupervisorMsg>) -> Vec<ChildInfo> {
    call_t!(supervisor, SupervisorMsg::WhichChildren, 60_000).expect("supervisor answers")
}

/// The running cell of child `id`.
pub async fn child(supervisor: &ActorRef<SupervisorMsg>, id: &str) -> ActorCell {
    which_children(supervisor)
        .await
        .into_iter()
        .find(|child| child.id == id)
        .and_then(|child| child.cell)
        .unwrap_or_else(|| panic!("child {id} is not running"))
}

pub async fn child_ids(supervisor: &ActorRef<SupervisorMsg>) -> Vec<String> {
    which_children(supervisor)
        .await
        .into_iter()
        .map(|child| child.id)
        .collect()
}

pub fn tell(child: &ActorCell, message: ProbeMsg) {
    child
        .send_message(message)
        .unwrap_or_else(|_| panic!("child {} is not running", child.get_id()));
}

/// `rounds` times: make a one_for_one supervisor's only child fail with
/// `fail()`, and time until its replacement has started. Unsorted samples.
pub async fn restart_latencies(fail: fn() -> ProbeMsg, rounds: usize) -> Vec<Duration> {
    let mut journal = Journal::new();
    let args = SupervisorArgs {
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: rounds as u32,
            period: Duration::from_secs(3600),
        },
        children: vec![probe("a", &journal)],
    };
    let (supervisor, _) = Supervisor::start(None, args).await.unwrap();
    journal.expect(&["start:a"]).await;
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let current = child(&supervisor, "a").await;
        let began = std::time::Instant::now();
        tell(&current, fail());
        journal.expect(&["start:a"]).await;
        samples.push(began.elapsed());
    }
    supervisor.stop(None);
    samples
}

/// Waits until `actor` has fully exited; its exit event has then been sent
/// to its supervisor.
pub async fn exited(actor: &ActorCell) {
    actor
        .wait(Some(DEADLINE))
        .await
        .expect("actor exits before the deadline");
}

/// Parent of a root supervisor: reports how its child ended.
pub struct Owner;

impl Actor for Owner {
    type Msg = ();
    type State = UnboundedSender<String>;
    type Arguments = UnboundedSender<String>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        report: UnboundedSender<String>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(report)
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        event: SupervisionEvent,
        report: &mut UnboundedSender<String>,
    ) -> Result<(), ActorProcessingErr> {
        let line = match event {
            SupervisionEvent::ActorFailed(_, error) => format!("failed: {error}"),
            SupervisionEvent::ActorTerminated(_, _, reason) => format!("terminated: {reason:?}"),
            _ => return Ok(()),
        };
        let _ = report.send(line);
        Ok(())
    }
}

/// A supervisor linked under an `Owner`, and the owner's report channel.
pub async fn owned_supervisor(
    args: SupervisorArgs,
) -> (
    ActorRef<SupervisorMsg>,
    ractor::concurrency::JoinHandle<()>,
    UnboundedReceiver<String>,
) {
    let (report, reports) = mpsc::unbounded_channel();
    let (owner, _) = Actor::spawn(None, Owner, report)
        .await
        .expect("owner starts");
    let (supervisor, handle) = Actor::spawn_linked(
        None,
        archy_actors::supervisor::Supervisor,
        args,
        owner.get_cell(),
    )
    .await
    .expect("supervisor starts");
    (supervisor, handle, reports)
}

/// The owner's next report.
pub async fn next_report(reports: &mut UnboundedReceiver<String>) -> String {
    tokio::time::timeout(DEADLINE, reports.recv())
        .await
        .expect("the owner hears before the deadline")
        .expect("the owner is alive")
}
