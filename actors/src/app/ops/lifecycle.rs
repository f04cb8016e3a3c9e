//! install / start / stop / restart / uninstall / heal, composed from the
//! steps in the sibling modules.

use super::containers::{create_or_adopt, remove_all, remove_if_present, start_from, stop_from};
use super::{deps, verify, OpCtx, OpError, Progress};
use crate::app::render::{self, MemberSpec};
use crate::app::state::{AppState, InstallPhase};

/// Containers (create first, fetching an image only when the engine lacks
/// it; adopting matching containers), dependencies, start in order, verify.
/// A failure other than a blocked dependency removes the app's containers
/// again (data kept), so a failed install leaves nothing half-running.
///
/// Engine calls, single container, image present: `create`, `start`, and
/// the verify window's one final `inspect` = 3; the first install in a
/// process adds one `ensure_network`. Image missing: + `image_present`,
/// the pulls (or the build), `image_present` after a pull, and a second
/// `create`. Each death reported during the window adds one inspect per
/// member.
pub async fn install(ctx: &OpCtx, progress: &Progress) -> Result<Vec<String>, OpError> {
    let members = ctx.render()?;
    ctx.create_data_dirs()?;
    ctx.env
        .ensure_network()
        .await
        .map_err(|e| OpError::engine("creating the archy network", e))?;
    let outcome = match create_all(ctx, &members, progress).await {
        Ok(()) => {
            deps::wait_ready(ctx).await?;
            progress.report(AppState::installing(InstallPhase::Starting), "starting");
            start_and_verify(ctx, &members, progress).await
        }
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        for member in &members {
            // Best effort: the failure to report is the one above.
            let _ = remove_if_present(ctx, &member.spec.name, false).await;
        }
    }
    outcome
}

async fn create_all(
    ctx: &OpCtx,
    members: &[MemberSpec],
    progress: &Progress,
) -> Result<(), OpError> {
    for member in members {
        create_or_adopt(ctx, member, progress).await?;
    }
    Ok(())
}

async fn start_and_verify(
    ctx: &OpCtx,
    members: &[MemberSpec],
    progress: &Progress,
) -> Result<Vec<String>, OpError> {
    start_from(ctx, members, 0).await?;
    progress.report(
        AppState::installing(InstallPhase::Verifying),
        "checking that it stays up",
    );
    verify::window(ctx, members).await
}

/// Dependencies, then members in order, then verify.
pub async fn start(ctx: &OpCtx) -> Result<Vec<String>, OpError> {
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

pub async fn restart(ctx: &OpCtx) -> Result<Vec<String>, OpError> {
    stop_from(ctx, 0).await?;
    start(ctx).await
}

/// After member `from` crashed: stop it and the members after it (reverse
/// order), start them again in order, verify them (rest_for_one). Ok: the
/// ids of members `from..`.
pub async fn heal(ctx: &OpCtx, from: usize) -> Result<Vec<String>, OpError> {
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
