//! Container steps shared by the operations: create-or-adopt, start in
//! order, stop in reverse order with each member's grace, remove.

use archy_runtime::{labels, RuntimeError, RuntimeResult};

use super::{image, OpCtx, OpError, Progress};
use crate::app::render::{container_name, MemberSpec};
use crate::app::state::{AppState, InstallPhase};

/// How [`create_or_adopt`] got the member's container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// None existed: a fresh container (post_install hooks run on it).
    Fresh,
    /// One with the same spec hash existed and was kept.
    Adopted,
    /// One with another spec existed and was replaced.
    Replaced,
}

/// Create the member's container; if one of that name exists, adopt it when
/// its spec hash matches (invariant 4), else replace it (data is in volumes
/// and bind mounts, never in the container). The image is fetched only when
/// the engine lacks it (see [`create`]).
pub async fn create_or_adopt(
    ctx: &OpCtx,
    member: &MemberSpec,
    progress: &Progress,
) -> Result<Created, OpError> {
    let name = &member.spec.name;
    let creating = || format!("creating {name}");
    match create(ctx, member, progress).await? {
        Ok(_) => return Ok(Created::Fresh),
        Err(RuntimeError::NameInUse { .. }) => {}
        Err(e) => return Err(OpError::engine(creating(), e)),
    }
    let existing = match ctx.env.runtime.inspect(name).await {
        Ok(details) => Some(details),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(OpError::engine(format!("inspecting {name}"), e)),
    };
    let wanted = member.spec.labels.get(labels::SPEC_HASH);
    if let Some(details) = existing {
        if details.labels.get(labels::SPEC_HASH) == wanted {
            return Ok(Created::Adopted);
        }
        tracing::info!(container = %name, "spec changed; recreating (data is kept)");
        remove_if_present(ctx, name, false).await?;
    }
    create(ctx, member, progress)
        .await?
        .map(|_| Created::Replaced)
        .map_err(|e| OpError::engine(creating(), e))
}

/// Create first: with the image present that is the only call. Only when
/// the engine answers NotFound (the image is missing; a built image's tag
/// carries its context hash, so a changed context is missing too) is the
/// image pulled or built, and the create tried again. Returns the engine's
/// answer to the last create.
async fn create(
    ctx: &OpCtx,
    member: &MemberSpec,
    progress: &Progress,
) -> Result<RuntimeResult<String>, OpError> {
    let runtime = &ctx.env.runtime;
    let first = runtime.create(&member.spec).await;
    if !first.as_ref().is_err_and(RuntimeError::is_not_found) {
        return Ok(first);
    }
    image::ensure(ctx, member, progress).await?;
    progress.report(
        AppState::installing(InstallPhase::Creating),
        format!("creating {}", member.spec.name),
    );
    Ok(runtime.create(&member.spec).await)
}

/// Start members `from..` in order. A missing container is created first
/// (e.g. removed by hand, or rolled back by a failed install).
pub async fn start_from(ctx: &OpCtx, members: &[MemberSpec], from: usize) -> Result<(), OpError> {
    for member in members.iter().skip(from) {
        let name = &member.spec.name;
        match ctx.env.runtime.start(name).await {
            Ok(()) => continue,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(OpError::engine(format!("starting {name}"), e)),
        }
        create_or_adopt(ctx, member, &Progress::ignore()).await?;
        ctx.env
            .runtime
            .start(name)
            .await
            .map_err(|e| OpError::engine(format!("starting {name}"), e))?;
    }
    Ok(())
}

/// Stop members `from..` in reverse order, each with its own grace.
/// A missing container is already stopped. Needs no rendering (no secrets):
/// names and graces come from the manifest.
pub async fn stop_from(ctx: &OpCtx, from: usize) -> Result<(), OpError> {
    for member in ctx.manifest.members().iter().skip(from).rev() {
        let name = container_name(&ctx.manifest, member.name);
        match ctx.env.runtime.stop(&name, member.stop_grace).await {
            Err(e) if !e.is_not_found() => {
                return Err(OpError::engine(format!("stopping {name}"), e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Remove a container, forcing it down; a missing one is fine.
pub async fn remove_if_present(ctx: &OpCtx, name: &str, volumes: bool) -> Result<(), OpError> {
    match ctx.env.runtime.remove(name, true, volumes).await {
        Err(e) if !e.is_not_found() => Err(OpError::engine(format!("removing {name}"), e)),
        _ => Ok(()),
    }
}

/// Remove every container labelled with the app (members of any manifest
/// version and companions), in one list call plus one remove each.
pub async fn remove_all(ctx: &OpCtx, volumes: bool) -> Result<(), OpError> {
    let listed = ctx
        .env
        .runtime
        .list_managed()
        .await
        .map_err(|e| OpError::engine("listing containers", e))?;
    for container in listed.iter().filter(|c| c.app == ctx.app()) {
        remove_if_present(ctx, &container.name, volumes).await?;
    }
    Ok(())
}
