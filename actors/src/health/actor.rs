//! The Health actor: one per daemon. It follows the board's transitions,
//! probes an app's members while the app is up and not stopped by the user,
//! and reports verdict changes to the app actor (`app:<id>`).
//!
//! Probes that fall due at the same instant run concurrently as one round;
//! a round's unhealthy verdicts are reported tier by tier (database,
//! backend, app, ui), each acknowledged on the board before the next, so
//! databases restart before the apps that use them. A round's results are
//! delivered together, so a slow probe (at most its timeout) delays the
//! verdicts and next probes of the others due at the same instant; checks
//! due at other instants are not held back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use archy_apps::{Manifest, Tier};
use archy_runtime::SharedRuntime;
use futures::future::join_all;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SpawnErr};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::check::{HealthCheck, Verdict};
use super::probe::{ProbeOutcome, Prober};
use super::targets::{checks_of, CheckSpec};
use crate::app::task::OwnedTask;
use crate::app::{AppActor, AppMsg, AppState};
use crate::status::{AppStatus, Health, StatusBoard};

/// How long one app actor may take to show an unhealthy verdict on the
/// board before the next app is told anyway.
const ACK_DEADLINE: Duration = Duration::from_secs(2);

/// Finds an app's current manifest by id (the registry's view). Called when
/// the app comes up, so a new manifest's checks apply from its next start.
pub type ManifestLookup = Arc<dyn Fn(&str) -> Option<Arc<Manifest>> + Send + Sync>;

/// Everything the actor needs; the same on every restart, since what to
/// probe is re-read from the board and the lookup.
#[derive(Clone)]
pub struct HealthArgs {
    pub runtime: SharedRuntime,
    pub board: StatusBoard,
    pub manifests: ManifestLookup,
    /// Bumped when the lookup's manifests change. An app that came up
    /// before its manifest reached the lookup (at boot, adoption can beat
    /// the registry's first broadcast) is probed once the manifest arrives.
    pub catalog_changed: watch::Receiver<u64>,
}

pub enum HealthMsg {
    /// The app's status changed on the board: start or stop probing it.
    Sync(String),
    /// Transitions were missed (or the actor just started): look at every
    /// app on the board again.
    SyncAll,
    /// The earliest probe is due.
    Tick,
    /// A round of probes ended.
    RoundDone { round: u64, results: Vec<Probed> },
}

/// One probe's result, for the run (generation) of the app it was made in.
pub struct Probed {
    app: String,
    generation: u64,
    member: usize,
    outcome: ProbeOutcome,
}

pub struct HealthActor;

impl HealthActor {
    pub const NAME: &'static str = "health";

    pub async fn spawn(
        args: HealthArgs,
    ) -> Result<(ActorRef<HealthMsg>, JoinHandle<()>), SpawnErr> {
        Actor::spawn(Some(Self::NAME.into()), HealthActor, args).await
    }

    pub async fn spawn_linked(
        args: HealthArgs,
        supervisor: ActorCell,
    ) -> Result<(ActorRef<HealthMsg>, JoinHandle<()>), SpawnErr> {
        Actor::spawn_linked(Some(Self::NAME.into()), HealthActor, args, supervisor).await
    }
}

/// An app being probed: one stretch of it being up. Checks start afresh
/// (start period included) at every start or restart.
struct Probing {
    tier: Tier,
    specs: Vec<CheckSpec>,
    /// Tells this run's results from a previous run's late ones.
    generation: u64,
    members: Vec<MemberCheck>,
    /// The app-level verdict last reported: None until the first.
    reported: Option<bool>,
}

struct MemberCheck {
    check: HealthCheck,
    next_due: Instant,
    in_flight: bool,
    /// The last probe's result in words, for the verdict's reason.
    last: String,
}

pub struct HealthState {
    myself: ActorRef<HealthMsg>,
    board: StatusBoard,
    manifests: ManifestLookup,
    prober: Prober,
    apps: BTreeMap<String, Probing>,
    /// Manifest problems already logged, so a restart loop logs each once.
    warned: BTreeSet<String>,
    rounds: BTreeMap<u64, OwnedTask>,
    timer: Option<OwnedTask>,
    next_id: u64,
    _follow: OwnedTask,
    _follow_catalog: OwnedTask,
}

impl Actor for HealthActor {
    type Msg = HealthMsg;
    type State = HealthState;
    type Arguments = HealthArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<HealthMsg>,
        args: HealthArgs,
    ) -> Result<HealthState, ActorProcessingErr> {
        let follow = follow_board(&args.board, myself.clone());
        let follow_catalog = follow_catalog(args.catalog_changed, myself.clone());
        let mut state = HealthState {
            myself,
            board: args.board,
            manifests: args.manifests,
            prober: Prober::new(args.runtime),
            apps: BTreeMap::new(),
            warned: BTreeSet::new(),
            rounds: BTreeMap::new(),
            timer: None,
            next_id: 0,
            _follow: follow,
            _follow_catalog: follow_catalog,
        };
        state.sync_all();
        state.reschedule();
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<HealthMsg>,
        message: HealthMsg,
        state: &mut HealthState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            HealthMsg::Sync(app) => state.sync(&app),
            HealthMsg::SyncAll => state.sync_all(),
            HealthMsg::Tick => state.start_round(),
            HealthMsg::RoundDone { round, results } => {
                state.rounds.remove(&round);
                let changes = state.record(results);
                state.report(changes).await;
            }
        }
        state.reschedule();
        Ok(())
    }
}

/// Forward the board's transitions as `Sync` messages; a lagging receiver
/// asks for a full re-sync instead.
fn follow_board(board: &StatusBoard, actor: ActorRef<HealthMsg>) -> OwnedTask {
    let mut transitions = board.subscribe();
    OwnedTask::spawn(async move {
        loop {
            let message = match transitions.recv().await {
                Ok(t) => HealthMsg::Sync(t.app),
                Err(RecvError::Lagged(_)) => HealthMsg::SyncAll,
                Err(RecvError::Closed) => return,
            };
            if actor.cast(message).is_err() {
                return;
            }
        }
    })
}

/// Look at every app again whenever the catalog changes.
fn follow_catalog(mut changed: watch::Receiver<u64>, actor: ActorRef<HealthMsg>) -> OwnedTask {
    OwnedTask::spawn(async move {
        while changed.changed().await.is_ok() {
            if actor.cast(HealthMsg::SyncAll).is_err() {
                return;
            }
        }
    })
}

/// A verdict change to tell an app actor.
struct Change {
    tier: Tier,
    app: String,
    healthy: bool,
    reason: String,
}

impl HealthState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn sync_all(&mut self) {
        let mut apps: BTreeSet<String> = self.apps.keys().cloned().collect();
        apps.extend(self.board.all().into_iter().map(|s| s.app));
        apps.iter().for_each(|app| self.sync(app));
    }

    /// Probe the app while it is up and wanted up; stop otherwise. Never
    /// while stopping, stopped, restarting, uninstalling or user-stopped.
    fn sync(&mut self, app: &str) {
        let up = self
            .board
            .get(app)
            .is_some_and(|s| s.state.is_up() && !s.user_stopped);
        if !up {
            self.apps.remove(app);
            return;
        }
        if self.apps.contains_key(app) {
            return;
        }
        let Some(manifest) = (self.manifests)(app) else {
            return;
        };
        let (specs, problems) = checks_of(&manifest);
        for problem in problems {
            let problem = problem.to_string();
            if !self.warned.contains(&problem) {
                tracing::warn!(%app, "{problem}");
                self.warned.insert(problem);
            }
        }
        if specs.is_empty() {
            return;
        }
        let now = Instant::now();
        let members = specs
            .iter()
            .map(|spec| MemberCheck {
                check: HealthCheck::new(spec.retries, spec.start_period, now),
                next_due: now + spec.interval,
                in_flight: false,
                last: String::new(),
            })
            .collect();
        let probing = Probing {
            tier: manifest.tier,
            specs,
            generation: self.next_id(),
            members,
            reported: None,
        };
        self.apps.insert(app.to_string(), probing);
    }

    /// Wake up when the earliest idle check is due.
    fn reschedule(&mut self) {
        let next = self
            .apps
            .values()
            .flat_map(|probing| probing.members.iter())
            .filter(|m| !m.in_flight)
            .map(|m| m.next_due)
            .min();
        self.timer = next.map(|at| {
            let actor = self.myself.clone();
            OwnedTask::spawn(async move {
                tokio::time::sleep_until(at).await;
                let _ = actor.cast(HealthMsg::Tick);
            })
        });
    }

    /// Run every due check concurrently, as one round.
    fn start_round(&mut self) {
        let now = Instant::now();
        let mut probes = Vec::new();
        for (app, probing) in &mut self.apps {
            for (index, member) in probing.members.iter_mut().enumerate() {
                if member.in_flight || member.next_due > now {
                    continue;
                }
                member.in_flight = true;
                let spec = probing.specs[index].clone();
                let (app, generation) = (app.clone(), probing.generation);
                let prober = self.prober.clone();
                probes.push(async move {
                    let outcome = prober.probe(&spec.target, spec.timeout).await;
                    Probed {
                        app,
                        generation,
                        member: index,
                        outcome,
                    }
                });
            }
        }
        if probes.is_empty() {
            return;
        }
        let round = self.next_id();
        let actor = self.myself.clone();
        let task = OwnedTask::spawn(async move {
            let results = join_all(probes).await;
            let _ = actor.cast(HealthMsg::RoundDone { round, results });
        });
        self.rounds.insert(round, task);
    }

    /// Apply a round's results; returns the app-level verdict changes.
    fn record(&mut self, results: Vec<Probed>) -> Vec<Change> {
        let now = Instant::now();
        let mut touched = Vec::new();
        for probed in results {
            let Some(probing) = self
                .apps
                .get_mut(&probed.app)
                .filter(|p| p.generation == probed.generation)
            else {
                continue; // the app stopped or restarted meanwhile
            };
            let spec = &probing.specs[probed.member];
            let member = &mut probing.members[probed.member];
            member.in_flight = false;
            member.next_due = now + spec.interval;
            member.check.record(probed.outcome.is_success(), now);
            member.last = format!("{} → {}", spec.target, probed.outcome);
            if !touched.contains(&probed.app) {
                touched.push(probed.app);
            }
        }
        touched
            .into_iter()
            .filter_map(|app| self.verdict_change(&app))
            .collect()
    }

    /// The app is unhealthy if any member is, healthy once all members are.
    fn verdict_change(&mut self, app: &str) -> Option<Change> {
        let probing = self.apps.get_mut(app)?;
        let failing = probing
            .members
            .iter()
            .zip(&probing.specs)
            .find_map(|(m, spec)| match m.check.verdict() {
                Some(Verdict::Unhealthy { failures }) => Some(format!(
                    "{}: {} ({})",
                    spec.member,
                    m.last,
                    in_a_row(failures)
                )),
                _ => None,
            });
        let all_healthy = probing
            .members
            .iter()
            .all(|m| m.check.verdict() == Some(Verdict::Healthy));
        let (healthy, reason) = match failing {
            Some(reason) => (false, reason),
            None if all_healthy => (true, "every health probe passes".to_string()),
            None => return None,
        };
        if probing.reported == Some(healthy) {
            return None;
        }
        probing.reported = Some(healthy);
        Some(Change {
            tier: probing.tier,
            app: app.to_string(),
            healthy,
            reason,
        })
    }

    /// Tell the app actors, databases first; wait for each unhealthy one to
    /// act (on the board, bounded) before telling the next tier.
    async fn report(&self, mut changes: Vec<Change>) {
        changes.sort_by(|a, b| (a.tier, &a.app).cmp(&(b.tier, &b.app)));
        for change in changes {
            tracing::info!(app = %change.app, healthy = change.healthy, reason = %change.reason, "health changed");
            let Some(cell) = ractor::registry::where_is(AppActor::name(&change.app)) else {
                // No app actor to decide: at least show the verdict.
                self.board
                    .update(&change.app, |s| s.health = health_of(change.healthy));
                continue;
            };
            let actor: ActorRef<AppMsg> = cell.into();
            let message = AppMsg::HealthChanged {
                healthy: change.healthy,
                reason: change.reason,
            };
            if actor.cast(message).is_err() || change.healthy {
                continue;
            }
            // It acted once it left Running (unhealthy, restarting, failed).
            let acted = |s: Option<&AppStatus>| s.is_none_or(|s| s.state != AppState::Running);
            if self
                .board
                .wait_for(&change.app, acted, ACK_DEADLINE)
                .await
                .is_err()
            {
                tracing::warn!(app = %change.app, "app actor did not act on its unhealthy verdict in time");
            }
        }
    }
}

fn health_of(healthy: bool) -> Health {
    if healthy {
        Health::Healthy
    } else {
        Health::Unhealthy
    }
}

fn in_a_row(failures: u32) -> String {
    match failures {
        1 => "1 failure".to_string(),
        n => format!("{n} failures in a row"),
    }
}
