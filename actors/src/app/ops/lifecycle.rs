//! install / start / stop / restart / uninstall / heal, composed from the
//! steps in the sibling modules.

use super::containers::{
    create_or_adopt, remove_all, remove_if_present, start_from, stop_from, Created,
};
use super::{deps, verify, OpCtx, OpError, Progress};
use crate::app::render::{self, MemberSpec};
use crate::app::state::{AppState, InstallPhase};
use crate::hooks;

/// Containers (create first, fetching an image only when the engine lacks
/// it; adopting matching containers), dependencies, start in order, verify,
/// then the post_install hooks of freshly created members. A failure other
/// than a blocked dependency removes the app's containers again (data
/// kept), so a failed install leaves nothing half-running.
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
        Ok(fresh) => {
            deps::wait_ready(ctx).await?;
            progress.report(AppState::installing(InstallPhase::Starting), "starting");
            match start_and_verify(ctx, &members, progress).await {
                Ok(ids) => post_install(ctx, &fresh).await.map(|()| ids),
                Err(e) => Err(e),
            }
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

/// Create or adopt every member; Ok: the names of the freshly created ones.
async fn create_all(
    ctx: &OpCtx,
    members: &[MemberSpec],
    progress: &Progress,
) -> Result<Vec<String>, OpError> {
    let mut fresh = Vec::new();
    for member in members {
        if create_or_adopt(ctx, member, progress).await? == Created::Fresh {
            fresh.push(member.member.clone());
        }
    }
    Ok(fresh)
}

/// The post_install hooks of the freshly created members.
async fn post_install(ctx: &OpCtx, fresh: &[String]) -> Result<(), OpError> {
    let env = &ctx.env;
    hooks::run_post_install(
        env.runtime.as_ref(),
        &env.journal,
        env.secrets.as_ref(),
        &ctx.manifest,
        fresh,
    )
    .await
    .map_err(|e| OpError::Failed(e.to_string()))
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
