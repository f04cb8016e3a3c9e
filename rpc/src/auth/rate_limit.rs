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

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 5));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 6));

    #[tokio::test(start_paused = true)]
    async fn attempts_are_refused_until_the_oldest_failure_is_a_minute_old() {
        let limiter = LoginLimiter::new(5);
        for _ in 0..5 {
            assert!(limiter.try_attempt(CLIENT).is_ok());
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(limiter.try_attempt(CLIENT), Err(Duration::from_secs(55)));
        assert!(
            limiter.try_attempt(OTHER).is_ok(),
            "limits are per client IP"
        );
        tokio::time::advance(Duration::from_secs(55)).await;
        assert!(limiter.try_attempt(CLIENT).is_ok());
        assert!(limiter.try_attempt(CLIENT).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_successful_login_forgets_the_failures() {
        let limiter = LoginLimiter::new(2);
        limiter.try_attempt(CLIENT).unwrap();
        limiter.try_attempt(CLIENT).unwrap();
        assert!(limiter.try_attempt(CLIENT).is_err());
        limiter.forget(CLIENT);
        assert!(limiter.try_attempt(CLIENT).is_ok());
    }
}
