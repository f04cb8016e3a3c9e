//! Polling with a deadline: the suite watches a live system from outside, so
//! it can only look again until the deadline, never be told.

use std::future::Future;
use std::time::Duration;

use tokio::time::{sleep, Instant};

const POLL_EVERY: Duration = Duration::from_millis(250);

/// Call `check` until it succeeds or `within` has passed; the last error then.
pub async fn until<F, Fut, T>(within: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(reason) if Instant::now() >= deadline => {
                return Err(format!("not within {within:?}: {reason}"))
            }
            Err(_) => sleep(POLL_EVERY).await,
        }
    }
}
