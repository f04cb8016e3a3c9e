//! Dependencies order things (invariant 10): a start waits, bounded, for
//! what it depends on; a dependency the user stopped blocks it instead of
//! being started behind the user's back (invariant 1).

use archy_apps::{Condition, Dependency};

use super::{OpCtx, OpError};
use crate::status::{AppStatus, Health};

/// Wait until every dependency is up (or healthy, if the manifest says so).
pub async fn wait_ready(ctx: &OpCtx) -> Result<(), OpError> {
    for dependency in &ctx.manifest.depends_on {
        wait_one(ctx, dependency).await?;
    }
    Ok(())
}

async fn wait_one(ctx: &OpCtx, dependency: &Dependency) -> Result<(), OpError> {
    let board = &ctx.env.board;
    let name = &dependency.id;
    let providers: Vec<AppStatus> = board
        .providers(name)
        .into_iter()
        .filter(|s| s.app != ctx.app())
        .collect();
    let Some(provider) = providers.iter().find(|s| !s.user_stopped) else {
        return Err(blocked(name, providers.first()));
    };
    let condition = dependency.condition;
    let waited = board
        .wait_for(
            &provider.app,
            |s| s.is_none_or(|s| s.user_stopped || ready(s, condition)),
            ctx.env.config.dependency_wait,
        )
        .await;
    match waited {
        Ok(Some(status)) if ready(&status, condition) => Ok(()),
        Ok(status) => Err(blocked(name, status.as_ref())),
        Err(timeout) => Err(OpError::Blocked(format!(
            "waited {} s for {name} to be {}; it is {}",
            timeout.waited.as_secs(),
            match condition {
                Condition::Running => "running",
                Condition::Healthy => "healthy",
            },
            timeout.last
        ))),
    }
}

fn ready(status: &AppStatus, condition: Condition) -> bool {
    status.state.is_up() && (condition == Condition::Running || status.health == Health::Healthy)
}

/// Why a dependency that is not coming blocks this app.
fn blocked(name: &str, provider: Option<&AppStatus>) -> OpError {
    OpError::Blocked(match provider {
        None => format!("needs {name}, which is not installed"),
        Some(_) => format!("needs {name}, which you stopped; start it first"),
    })
}
