//! Getting a member's image: present → nothing to do; else pull with retry
//! and backoff, or build from the context (tagged with its hash).

use std::collections::BTreeMap;

use archy_runtime::{labels, BuildRequest, RuntimeError};

use super::{OpCtx, OpError, Progress};
use crate::app::render::{ImagePlan, MemberSpec};
use crate::app::state::{AppState, InstallPhase};

/// Make the member's image present. One `image_present` call when it is.
pub async fn ensure(ctx: &OpCtx, member: &MemberSpec, progress: &Progress) -> Result<(), OpError> {
    let image = &member.spec.image;
    if present(ctx, image).await? {
        return Ok(());
    }
    match &member.image {
        ImagePlan::Pull => pull(ctx, image, progress).await,
        ImagePlan::Build {
            context,
            containerfile,
            context_hash,
        } => {
            progress.report(
                AppState::installing(InstallPhase::Building),
                format!("building {image}"),
            );
            let request = BuildRequest {
                context: context.clone(),
                containerfile: containerfile.clone(),
                tag: image.clone(),
                labels: BTreeMap::from([(labels::CONTEXT_HASH.to_string(), context_hash.clone())]),
            };
            ctx.env
                .runtime
                .build(&request, None)
                .await
                .map_err(|e| OpError::engine(format!("building {image}"), e))
        }
    }
}

async fn present(ctx: &OpCtx, image: &str) -> Result<bool, OpError> {
    ctx.env
        .runtime
        .image_present(image)
        .await
        .map_err(|e| OpError::engine(format!("looking for image {image}"), e))
}

/// Up to `pull_attempts` pulls, waiting `pull_wait(k)` after failure k; then
/// check the image really arrived (an engine may report success and store
/// nothing).
async fn pull(ctx: &OpCtx, image: &str, progress: &Progress) -> Result<(), OpError> {
    let config = &ctx.env.config;
    let attempts = config.pull_attempts.max(1);
    for attempt in 1..=attempts {
        progress.report(
            AppState::installing(InstallPhase::Pulling),
            format!("pulling {image} (attempt {attempt} of {attempts})"),
        );
        match ctx.env.runtime.pull(image, None).await {
            Ok(()) => break,
            Err(e @ RuntimeError::Unavailable { .. }) => {
                return Err(OpError::engine(format!("pulling {image}"), e));
            }
            Err(e) if attempt == attempts => {
                return Err(OpError::Failed(format!(
                    "could not pull {image} after {attempts} attempts: {e}; \
                     check the internet connection and install again"
                )));
            }
            Err(e) => {
                let wait = config.pull_wait(attempt);
                tracing::warn!(%image, attempt, ?wait, error = %e, "pull failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
    if present(ctx, image).await? {
        Ok(())
    } else {
        Err(OpError::Failed(format!(
            "pulling {image} reported success but the image is not present"
        )))
    }
}
