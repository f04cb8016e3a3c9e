//! The verify window: a member that exits soon after its start has failed,
//! whatever the start call said. The window waits on the actor's death
//! signal (the engine's die events) rather than polling: a death wakes it
//! at once to inspect the members (fail fast, or go on waiting if they all
//! still run, e.g. the late event of a stop). At the end, ONE inspect per
//! member is the safety net for a missed event. Without deaths the window
//! costs exactly one inspect per member.

use tokio::time::{sleep_until, Instant};

use super::{OpCtx, OpError};
use crate::app::render::MemberSpec;

/// Ok: the members' container ids, in order.
pub async fn window(ctx: &OpCtx, members: &[MemberSpec]) -> Result<Vec<String>, OpError> {
    let end = Instant::now() + ctx.env.config.verify_window;
    let mut deaths = ctx.deaths.clone();
    loop {
        tokio::select! {
            signal = deaths.changed() => {
                if signal.is_err() {
                    // Nobody forwards events: the final inspect decides.
                    sleep_until(end).await;
                    break;
                }
                check_all(ctx, members).await?;
            }
            () = sleep_until(end) => break,
        }
    }
    check_all(ctx, members).await
}

async fn check_all(ctx: &OpCtx, members: &[MemberSpec]) -> Result<Vec<String>, OpError> {
    let mut ids = Vec::with_capacity(members.len());
    for member in members {
        ids.push(check(ctx, member).await?);
    }
    Ok(ids)
}

/// The member's container id if it runs; else why it failed, with its last
/// log lines.
async fn check(ctx: &OpCtx, member: &MemberSpec) -> Result<String, OpError> {
    let runtime = &ctx.env.runtime;
    let name = &member.spec.name;
    let window = ctx.env.config.verify_window.as_secs_f32();
    let details = match runtime.inspect(name).await {
        Ok(details) => details,
        Err(e) if e.is_not_found() => {
            return Err(OpError::Failed(format!(
                "{name} disappeared during the first {window} s after its start"
            )));
        }
        Err(e) => return Err(OpError::engine(format!("inspecting {name}"), e)),
    };
    if details.state.is_running() {
        return Ok(details.id);
    }
    let code = details
        .exit_code
        .map_or("an unknown code".to_string(), |c| c.to_string());
    let tail = runtime
        .logs(name, ctx.env.config.log_tail)
        .await
        .map(|lines| lines.join("\n"))
        .unwrap_or_else(|e| format!("(no logs: {e})"));
    Err(OpError::Failed(format!(
        "{name} exited with code {code} during the first {window} s: {tail}"
    )))
}
