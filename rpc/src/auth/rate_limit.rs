//! Login brute-force brake: after N failures within a minute from one client
//! IP, further attempts are refused until the oldest failure ages out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct LoginLimiter {
    max_failures: usize,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub(crate) fn new(max_failures_per_minute: u32) -> Self {
        Self {
            max_failures: max_failures_per_minute as usize,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Count one login attempt from `ip`, or `Err(retry_after)` when its
    /// failures are used up. Counted before the password is checked, so
    /// parallel guesses cannot slip past; a success `forget`s them.
    pub(crate) fn try_attempt(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.lock();
        failures.retain(|_, recent| {
            while recent.front().is_some_and(|at| now - *at >= WINDOW) {
                recent.pop_front();
            }
            !recent.is_empty()
        });
        let recent = failures.entry(ip).or_default();
        if recent.len() >= self.max_failures {
            let oldest = recent.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now - oldest));
        }
        recent.push_back(now);
        Ok(())
    }

    pub(crate) fn forget(&self, ip: IpAddr) {
        self.lock().remove(&ip);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
