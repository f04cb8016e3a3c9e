//! install / start / stop / restart / uninstall / heal, composed from the
//! steps in the sibling modules.

use super::containers::{create_or_adopt, remove_all, remove_if_present, start_from, stop_from};
use super::{deps, image, verify, OpCtx, OpError, Progress};
use crate::app::render;
use crate::app::state::{AppState, InstallPhase};

/// Images, containers (adopting matching ones), dependencies, start in
/// order, verify. A failed start or verify removes the app's containers
/// again (data kept), so a failed install leaves nothing half-running.
///
/// Engine calls, single container, image present, network already ensured
/// by this process: `image_present`, `create`, `start`, plus the verify
/// window's inspects.
pub async fn install(ctx: &OpCtx, progress: &Progress) -> Result<(), OpError> {
    let members = ctx.render()?;
    ctx.create_data_dirs()?;
    ctx.env
        .ensure_network()
        .await
        .map_err(|e| OpError::engine("creating the archy network", e))?;
    for member in &members {
        image::ensure(ctx, member, progress).await?;
    }
    progress.report(
        AppState::installing(InstallPhase::Creating),
        "creating containers",
    );
    for member in &members {
        create_or_adopt(ctx, member).await?;
    }
    deps::wait_ready(ctx).await?;
    progress.report(AppState::installing(InstallPhase::Starting), "starting");
    let mut outcome = start_from(ctx, &members, 0).await;
    if outcome.is_ok() {
        progress.report(
            AppState::installing(InstallPhase::Verifying),
            "checking that it stays up",
        );
        outcome = verify::window(ctx, &members).await;
    }
    if outcome.is_err() {
        for member in &members {
            // Best effort: the failure to report is the one above.
            let _ = remove_if_present(ctx, &member.spec.name, false).await;
        }
    }
    outcome
}

/// Dependencies, then members in order, then verify.
pub async fn start(ctx: &OpCtx) -> Result<(), OpError> {
    let members = ctx.render()?;
    deps::wait_ready(ctx).await?;
    ctx.env
        .ensure_network()
        .await
        .map_err(|e| OpError::engine("creating the archy network", e))?;
    start_from(ctx, &members, 0).await?;
    verify::window(ctx, &members).await
}

/// Members in reverse order, each with its grace.
pub async fn stop(ctx: &OpCtx) -> Result<(), OpError> {
    stop_from(ctx, 0).await
}

pub async fn restart(ctx: &OpCtx) -> Result<(), OpError> {
    stop_from(ctx, 0).await?;
    start(ctx).await
}

/// After member `from` crashed: stop it and the members after it (reverse
/// order), start them again in order, verify them (rest_for_one).
pub async fn heal(ctx: &OpCtx, from: usize) -> Result<(), OpError> {
    let members = ctx.render()?;
    stop_from(ctx, from).await?;
    start_from(ctx, &members, from).await?;
    verify::window(ctx, &members[from.min(members.len())..]).await
}

/// Stop gracefully, remove every container of the app; `purge` also
/// deletes its named volumes, data directory and secrets (invariant 3).
/// A stop that fails does not block the uninstall: removal forces it.
pub async fn uninstall(ctx: &OpCtx, purge: bool) -> Result<(), OpError> {
    if let Err(e) = stop_from(ctx, 0).await {
        tracing::warn!(app = %ctx.app(), error = %e, "graceful stop failed; removing by force");
    }
    remove_all(ctx, purge).await?;
    if !purge {
        return Ok(());
    }
    for volume in render::named_volumes(&ctx.manifest) {
        ctx.env
            .runtime
            .remove_volume(&volume)
            .await
            .map_err(|e| OpError::engine(format!("removing volume {volume}"), e))?;
    }
    ctx.delete_data()?;
    ctx.env
        .secrets
        .purge(ctx.app())
        .map_err(|e| OpError::Failed(e.to_string()))
}
