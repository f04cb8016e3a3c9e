//! One pass: ONE list call, one `Observe` cast per app actor in tier order,
//! then the removal of orphans and duplicates, the only engine calls beyond
//! the list (made for the difference only, so a converged system costs one
//! call per pass).

use std::time::Duration;

use archy_runtime::{ContainerRuntime, Observed, RuntimeResult};
use futures::future::join_all;
use ractor::ActorRef;

use super::plan::{self, AppView};
use super::{ReconcileError, ReconcilerArgs};
use crate::app::{AppActor, AppMsg, AppState};
use crate::status::AppStatus;

/// What a pass saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Managed containers the list returned.
    pub containers: usize,
    /// App actors that were sent their containers.
    pub apps_observed: usize,
    pub orphans_removed: Vec<String>,
    pub duplicates_removed: Vec<String>,
    /// Removals that failed ("<container>: <error>"); retried next pass.
    pub removal_errors: Vec<String>,
}

pub async fn run(args: &ReconcilerArgs) -> Result<PassReport, ReconcileError> {
    let observed = args.runtime.list_managed().await?;
    let mut report = PassReport {
        containers: observed.len(),
        ..PassReport::default()
    };
    let plan = plan::plan(observed, &owned_apps(args));
    for (app, containers) in plan.observe {
        // An actor stopped since we looked is fine: its restart re-adopts.
        if let Some(actor) = app_actor(&app) {
            report.apps_observed += usize::from(actor.cast(AppMsg::Observe(containers)).is_ok());
        }
    }
    let orphans: Vec<Observed> = plan
        .unowned
        .into_iter()
        .filter(|(app, _)| is_orphan(args, app))
        .flat_map(|(_, containers)| containers)
        .collect();
    let grace = args.config.removal_grace;
    let runtime = args.runtime.as_ref();
    let (removed, errors) =
        remove_all(runtime, &orphans, grace, "orphan: its app is not installed").await;
    report.orphans_removed = removed;
    report.removal_errors = errors;
    let (removed, errors) =
        remove_all(runtime, &plan.duplicates, grace, "duplicate of a member").await;
    report.duplicates_removed = removed;
    report.removal_errors.extend(errors);
    Ok(report)
}

/// Apps with a live actor that owns them: installed, or busy installing.
/// An idle actor of an app that is not installed owns nothing.
fn owned_apps(args: &ReconcilerArgs) -> Vec<AppView> {
    args.board
        .all()
        .into_iter()
        .filter(|status| claims(status) && app_actor(&status.app).is_some())
        .map(|status| AppView {
            tier: (args.tier_of)(&status.app),
            busy: status.operation.is_some(),
            app: status.app,
        })
        .collect()
}

/// An actor claims its app's containers unless it is idle and not installed.
fn claims(status: &AppStatus) -> bool {
    status.state != AppState::Absent || status.operation.is_some()
}

fn app_actor(app: &str) -> Option<ActorRef<AppMsg>> {
    ActorRef::where_is(AppActor::name(app))
}

/// Looked at again right before removal: no actor owns the app now and the
/// user's word does not say it is installed (unreadable counts as installed).
fn is_orphan(args: &ReconcilerArgs, app: &str) -> bool {
    let owned = args
        .board
        .get(app)
        .is_some_and(|status| claims(&status) && app_actor(app).is_some());
    let installed = match args.desired.load(app) {
        Ok(desired) => desired.is_some_and(|d| d.installed),
        Err(e) => {
            tracing::warn!(%app, error = %e, "cannot read the desired state; keeping its containers");
            true
        }
    };
    !owned && !installed
}

/// Stop (with `grace`) then remove each container, concurrently. Volumes and
/// data are never touched. Returns the removed names and the failures.
async fn remove_all(
    runtime: &dyn ContainerRuntime,
    containers: &[Observed],
    grace: Duration,
    why: &str,
) -> (Vec<String>, Vec<String>) {
    let removals = containers.iter().map(|c| async move {
        tracing::info!(container = %c.name, app = %c.app, "removing {why}; its data and volumes are kept");
        (c, remove(runtime, &c.name, grace).await)
    });
    let (mut removed, mut errors) = (Vec::new(), Vec::new());
    for (container, result) in join_all(removals).await {
        match result {
            Ok(()) => removed.push(container.name.clone()),
            Err(e) => {
                tracing::warn!(container = %container.name, error = %e, "cannot remove {why}");
                errors.push(format!("{}: {e}", container.name));
            }
        }
    }
    (removed, errors)
}

async fn remove(runtime: &dyn ContainerRuntime, name: &str, grace: Duration) -> RuntimeResult<()> {
    let gone_is_fine = |result: RuntimeResult<()>| match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    };
    gone_is_fine(runtime.stop(name, grace).await)?;
    gone_is_fine(runtime.remove(name, true, false).await)
}
