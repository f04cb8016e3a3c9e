//! Container steps shared by the operations: create-or-adopt, start in
//! order, stop in reverse order with each member's grace, remove.

use archy_runtime::{labels, RuntimeError};

use super::{OpCtx, OpError};
use crate::app::render::{container_name, MemberSpec};

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
/// and bind mounts, never in the container).
pub async fn create_or_adopt(ctx: &OpCtx, member: &MemberSpec) -> Result<Created, OpError> {
    let runtime = &ctx.env.runtime;
    let name = &member.spec.name;
    let creating = || format!("creating {name}");
    match runtime.create(&member.spec).await {
        Ok(_) => return Ok(Created::Fresh),
        Err(RuntimeError::NameInUse { .. }) => {}
        Err(e) => return Err(OpError::engine(creating(), e)),
    }
    let existing = match runtime.inspect(name).await {
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
    runtime
        .create(&member.spec)
        .await
        .map(|_| Created::Replaced)
        .map_err(|e| OpError::engine(creating(), e))
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
        super::image::ensure(ctx, member, &super::Progress::ignore()).await?;
        create_or_adopt(ctx, member).await?;
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
