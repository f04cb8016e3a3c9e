//! Restart intensity: more than `max_restarts` restarts within a sliding
//! `period` means restarting does not help, and the supervisor gives up.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The restart budget of one supervisor (OTP `intensity` and `period`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    pub max_restarts: u32,
    pub period: Duration,
}

impl Default for Intensity {
    /// OTP's default: one restart in five seconds.
    fn default() -> Self {
        Self {
            max_restarts: 1,
            period: Duration::from_secs(5),
        }
    }
}

/// The restarts charged within the last `period`, oldest first.
#[derive(Debug)]
pub(crate) struct RestartWindow {
    intensity: Intensity,
    charged: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(intensity: Intensity) -> Self {
        Self {
            intensity,
            charged: VecDeque::new(),
        }
    }

    pub(crate) fn intensity(&self) -> Intensity {
        self.intensity
    }

    /// Charges one restart at `now`. Returns false when that makes more than
    /// `max_restarts` within the period (restarts a full period old or older
    /// have left the window).
    pub(crate) fn charge(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.charged.front() {
            if now.saturating_duration_since(oldest) < self.intensity.period {
                break;
            }
            self.charged.pop_front();
        }
        self.charged.push_back(now);
        self.charged.len() <= self.intensity.max_restarts as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(max_restarts: u32, period_secs: u64) -> RestartWindow {
        RestartWindow::new(Intensity {
            max_restarts,
            period: Duration::from_secs(period_secs),
        })
    }

    #[test]
    fn allows_max_restarts_within_the_period_and_refuses_one_more() {
        let mut window = window(2, 10);
        let t0 = Instant::now();
        assert!(window.charge(t0));
        assert!(window.charge(t0 + Duration::from_secs(1)));
        assert!(!window.charge(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn zero_max_restarts_refuses_the_first_restart() {
        assert!(!window(0, 5).charge(Instant::now()));
    }

    #[test]
    fn window_slides_instead_of_resetting() {
        let mut window = window(2, 10);
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        assert!(window.charge(at(0)));
        assert!(window.charge(at(6)));
        // t=0 has slid out: {6, 12}.
        assert!(window.charge(at(12)));
        // {6, 12, 14}: three within ten seconds, although no gap exceeded it.
        assert!(!window.charge(at(14)));
    }
}
