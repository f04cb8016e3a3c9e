//! One member's health verdict from its probe results: failures inside the
//! start period do not count, `retries` failures in a row make it
//! unhealthy, one success makes it healthy. Pure; time is passed in.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// `failures` probes in a row failed.
    Unhealthy {
        failures: u32,
    },
}

#[derive(Debug, Clone)]
pub struct HealthCheck {
    retries: u32,
    grace_ends: Instant,
    failures: u32,
    verdict: Option<Verdict>,
}

impl HealthCheck {
    /// A check whose container started at `started`.
    pub fn new(retries: u32, start_period: Duration, started: Instant) -> Self {
        HealthCheck {
            retries: retries.max(1),
            grace_ends: started + start_period,
            failures: 0,
            verdict: None,
        }
    }

    /// The current verdict; None until the first one.
    pub fn verdict(&self) -> Option<Verdict> {
        self.verdict
    }

    /// Failures in a row that counted.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Record one probe result at `at`; returns the verdict if it changed.
    pub fn record(&mut self, success: bool, at: Instant) -> Option<Verdict> {
        let verdict = if success {
            self.failures = 0;
            Verdict::Healthy
        } else {
            if at < self.grace_ends {
                return None;
            }
            self.failures += 1;
            if self.failures < self.retries {
                return None;
            }
            Verdict::Unhealthy {
                failures: self.failures,
            }
        };
        let changed = !matches!(
            (self.verdict, verdict),
            (Some(Verdict::Healthy), Verdict::Healthy)
                | (Some(Verdict::Unhealthy { .. }), Verdict::Unhealthy { .. })
        );
        self.verdict = Some(verdict);
        changed.then_some(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn unhealthy_only_after_retries_failures_in_a_row() {
        let t0 = Instant::now();
        let mut check = HealthCheck::new(3, Duration::ZERO, t0);
        assert_eq!(check.record(false, t0 + secs(1)), None);
        assert_eq!(check.record(false, t0 + secs(2)), None);
        assert_eq!(
            check.record(false, t0 + secs(3)),
            Some(Verdict::Unhealthy { failures: 3 })
        );
        // Still unhealthy: not reported again.
        assert_eq!(check.record(false, t0 + secs(4)), None);
        assert_eq!(check.failures(), 4);
    }

    #[test]
    fn a_success_resets_the_count_and_one_is_enough_to_be_healthy() {
        let t0 = Instant::now();
        let mut check = HealthCheck::new(2, Duration::ZERO, t0);
        assert_eq!(check.record(true, t0), Some(Verdict::Healthy));
        assert_eq!(check.record(false, t0 + secs(1)), None);
        assert_eq!(check.record(true, t0 + secs(2)), None);
        assert_eq!(check.record(false, t0 + secs(3)), None);
        assert_eq!(
            check.record(false, t0 + secs(4)),
            Some(Verdict::Unhealthy { failures: 2 })
        );
        assert_eq!(check.record(true, t0 + secs(5)), Some(Verdict::Healthy));
    }

    #[test]
    fn failures_inside_the_start_period_do_not_count() {
        let t0 = Instant::now();
        let mut check = HealthCheck::new(1, secs(30), t0);
        for s in 0..30 {
            assert_eq!(check.record(false, t0 + secs(s)), None);
        }
        assert_eq!(check.failures(), 0);
        assert_eq!(
            check.record(false, t0 + secs(30)),
            Some(Verdict::Unhealthy { failures: 1 })
        );
    }
}
