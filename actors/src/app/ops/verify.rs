//! The verify window: a member that exits soon after its start has failed,
//! whatever the start call said. Each poll is one `inspect` per member, so
//! a window costs `verify_window / verify_poll` inspects per member (20 with
//! the defaults); the first exit ends it at once.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::{OpCtx, OpError};
use crate::app::render::MemberSpec;

const MIN_POLL: Duration = Duration::from_millis(10);

pub async fn window(ctx: &OpCtx, members: &[MemberSpec]) -> Result<(), OpError> {
    let config = &ctx.env.config;
    // A zero poll would spin; a zero window checks once.
    let poll = config.verify_poll.max(MIN_POLL);
    let end = Instant::now() + config.verify_window;
    let mut next = Instant::now();
    loop {
        next = (next + poll).min(end);
        sleep_until(next).await;
        for member in members {
            check(ctx, member).await?;
        }
        if next >= end {
            return Ok(());
        }
    }
}

async fn check(ctx: &OpCtx, member: &MemberSpec) -> Result<(), OpError> {
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
        return Ok(());
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
