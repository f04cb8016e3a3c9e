//! The scenarios, most valuable first. Each injects one fault into the live
//! lab and returns how long the fleet took to converge again; every
//! invariant in [`Lab::converge`] is checked after each one.

mod actor_kill;
mod companion_kill;
mod concurrent_ops;
mod container_kill;
mod corrupt_state;
mod daemon_sigkill;
mod disk_full;
mod engine_outage;
mod secret_loss;
mod tracker_loss;

use std::time::Duration;

use crate::lab::Lab;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    KillAppActor,
    KillAppsSupervisor,
    KillContainer,
    KillCompanionContainer,
    SigkillDaemonMidStop,
    SigkillDaemonMidInstall,
    EngineOutage,
    RemoveEngineSocket,
    CorruptStateFile,
    DeleteRestartTracker,
    DeleteSecretFile,
    FillStateFilesystem,
    ConcurrentOps,
}

impl Scenario {
    pub const ALL: &[Scenario] = &[
        Scenario::KillAppActor,
        Scenario::KillAppsSupervisor,
        Scenario::KillContainer,
        Scenario::KillCompanionContainer,
        Scenario::SigkillDaemonMidStop,
        Scenario::SigkillDaemonMidInstall,
        Scenario::EngineOutage,
        Scenario::RemoveEngineSocket,
        Scenario::CorruptStateFile,
        Scenario::DeleteRestartTracker,
        Scenario::DeleteSecretFile,
        Scenario::FillStateFilesystem,
        Scenario::ConcurrentOps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::KillAppActor => "kill-app-actor",
            Scenario::KillAppsSupervisor => "kill-apps-supervisor",
            Scenario::KillContainer => "kill-container",
            Scenario::KillCompanionContainer => "kill-companion-container",
            Scenario::SigkillDaemonMidStop => "sigkill-daemon-mid-stop",
            Scenario::SigkillDaemonMidInstall => "sigkill-daemon-mid-install",
            Scenario::EngineOutage => "engine-outage",
            Scenario::RemoveEngineSocket => "remove-engine-socket",
            Scenario::CorruptStateFile => "corrupt-state-file",
            Scenario::DeleteRestartTracker => "delete-restart-tracker",
            Scenario::DeleteSecretFile => "delete-secret-file",
            Scenario::FillStateFilesystem => "fill-state-filesystem",
            Scenario::ConcurrentOps => "concurrent-ops",
        }
    }

    /// What the scenario checks beyond the common invariants.
    pub fn checks(self) -> &'static str {
        match self {
            Scenario::KillAppActor | Scenario::KillAppsSupervisor => actor_kill::CHECKS,
            Scenario::KillContainer => container_kill::CHECKS,
            Scenario::KillCompanionContainer => companion_kill::CHECKS,
            Scenario::SigkillDaemonMidStop => daemon_sigkill::MID_STOP_CHECKS,
            Scenario::SigkillDaemonMidInstall => daemon_sigkill::MID_INSTALL_CHECKS,
            Scenario::EngineOutage => engine_outage::MID_OPERATION_CHECKS,
            Scenario::RemoveEngineSocket => engine_outage::SOCKET_CHECKS,
            Scenario::CorruptStateFile => corrupt_state::CHECKS,
            Scenario::DeleteRestartTracker => tracker_loss::CHECKS,
            Scenario::DeleteSecretFile => secret_loss::CHECKS,
            Scenario::FillStateFilesystem => disk_full::CHECKS,
            Scenario::ConcurrentOps => concurrent_ops::CHECKS,
        }
    }

    /// Inject the fault, wait for convergence, check; the recovery time.
    pub async fn run(self, lab: &mut Lab, iteration: u32) -> Result<Duration, String> {
        match self {
            Scenario::KillAppActor => actor_kill::run(lab, "app:demo-db").await,
            Scenario::KillAppsSupervisor => actor_kill::run(lab, "apps").await,
            Scenario::KillContainer => container_kill::run(lab).await,
            Scenario::KillCompanionContainer => companion_kill::run(lab, iteration).await,
            Scenario::SigkillDaemonMidStop => daemon_sigkill::mid_stop(lab).await,
            Scenario::SigkillDaemonMidInstall => daemon_sigkill::mid_install(lab).await,
            Scenario::EngineOutage => engine_outage::mid_operation(lab, iteration).await,
            Scenario::RemoveEngineSocket => engine_outage::socket_removed(lab).await,
            Scenario::CorruptStateFile => corrupt_state::run(lab).await,
            Scenario::DeleteRestartTracker => tracker_loss::run(lab).await,
            Scenario::DeleteSecretFile => secret_loss::run(lab).await,
            Scenario::FillStateFilesystem => disk_full::run(lab).await,
            Scenario::ConcurrentOps => concurrent_ops::run(lab, iteration).await,
        }
    }
}

/// Invariant 4: a recovery adopts containers, it never recreates them.
fn same_containers(
    before: &std::collections::BTreeMap<String, Vec<String>>,
    after: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    match before
        .iter()
        .find(|(app, ids)| after.get(*app) != Some(ids))
    {
        None => Ok(()),
        Some((app, ids)) => Err(format!(
            "{app} was recreated: containers {ids:?} became {:?}",
            after.get(app)
        )),
    }
}
