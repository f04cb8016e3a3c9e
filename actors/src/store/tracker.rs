//! When to restart a failed container, and when to stop trying.
//!
//! Pure decisions over a per-app record, plus `save` to persist them: the
//! count must survive daemon restarts, or a crash-looping app would be
//! restarted forever. Time is passed in, so the logic is deterministic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{read_json, unix_secs, write_json, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restarts granted per window before the app is left `failed`.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Running this long without a failure starts a fresh window.
    pub stability_reset: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
            stability_reset: Duration::from_secs(3600),
        }
    }
}

impl RestartPolicy {
    /// The wait before restart number `attempt` (1-based) of a window: the
    /// first is immediate, then `initial_backoff` doubling, capped at
    /// `max_backoff` (0, 5, 10, 20, 40 s by default).
    ///
    /// A single crash is the common case (an OOM kill, a stray signal) and
    /// waiting helps nothing there: the app heals at once. Only a crash that
    /// repeats is a loop worth slowing down, and `max_attempts` still bounds
    /// it.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let Some(doublings) = attempt.checked_sub(2) else {
            return Duration::ZERO;
        };
        self.initial_backoff
            .saturating_mul(1 << doublings.min(31))
            .min(self.max_backoff)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartDecision {
    RestartAfter(Duration),
    /// Out of attempts: the app goes `failed` and waits for the user.
    GiveUp {
        attempts: u32,
    },
}

/// One app's restart history; times are unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRecord {
    /// Restarts granted in the current window.
    pub attempts: u32,
    pub last_failure_at: Option<u64>,
    /// Running without failure since then.
    pub healthy_since: Option<u64>,
    /// Out of attempts: the app stays `failed` until the user acts.
    #[serde(default)]
    pub gave_up: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TrackerFile {
    apps: BTreeMap<String, RestartRecord>,
}

/// Restart records for every app, persisted to `restart-tracker.json`.
#[derive(Debug)]
pub struct RestartTracker {
    path: PathBuf,
    policy: RestartPolicy,
    file: TrackerFile,
}

impl RestartTracker {
    /// Loads the records; a damaged file is quarantined and every app starts
    /// with a fresh window (the safe direction: restarts are still bounded).
    pub fn open(path: impl Into<PathBuf>, policy: RestartPolicy) -> Result<Self, StoreError> {
        let path = path.into();
        let file = read_json(&path)?.unwrap_or_default();
        Ok(RestartTracker { path, policy, file })
    }

    pub fn policy(&self) -> &RestartPolicy {
        &self.policy
    }

    pub fn record(&self, app: &str) -> Option<&RestartRecord> {
        self.file.apps.get(app)
    }

    /// The container died: restart it after a backoff, or give up, by the
    /// tracker's policy.
    pub fn record_failure(&mut self, app: &str, now: SystemTime) -> RestartDecision {
        let policy = self.policy;
        self.record_failure_with(app, now, &policy)
    }

    /// As [`Self::record_failure`], by the app's own policy (its manifest's
    /// `restart`); the stability window stays the tracker's.
    pub fn record_failure_with(
        &mut self,
        app: &str,
        now: SystemTime,
        policy: &RestartPolicy,
    ) -> RestartDecision {
        self.check_stability(app, now);
        let record = self.file.apps.entry(app.to_owned()).or_default();
        record.last_failure_at = Some(unix_secs(now));
        record.healthy_since = None;
        if record.attempts >= policy.max_attempts {
            record.gave_up = true;
            return RestartDecision::GiveUp {
                attempts: record.attempts,
            };
        }
        record.attempts += 1;
        RestartDecision::RestartAfter(policy.backoff(record.attempts))
    }

    /// The container is up and healthy; keeps the earliest time of a run.
    pub fn record_healthy(&mut self, app: &str, now: SystemTime) {
        let record = self.file.apps.entry(app.to_owned()).or_default();
        record.healthy_since.get_or_insert(unix_secs(now));
    }

    /// Clears the attempt count once the app has run `stability_reset`
    /// without failing; returns whether it did (and so whether to `save`).
    pub fn check_stability(&mut self, app: &str, now: SystemTime) -> bool {
        let Some(record) = self.file.apps.get_mut(app) else {
            return false;
        };
        let stable = record.healthy_since.is_some_and(|since| {
            unix_secs(now).saturating_sub(since) >= self.policy.stability_reset.as_secs()
        });
        if stable && record.attempts > 0 {
            *record = RestartRecord {
                healthy_since: record.healthy_since,
                last_failure_at: record.last_failure_at,
                ..RestartRecord::default()
            };
            return true;
        }
        false
    }

    /// When a restart scheduled before a daemon restart falls due, so the
    /// new daemon resumes the wait instead of restarting at once.
    pub fn restart_due_at(&self, app: &str) -> Option<SystemTime> {
        let record = self.file.apps.get(app)?;
        let failed_at = record.last_failure_at?;
        if record.attempts == 0 || record.gave_up || record.healthy_since.is_some() {
            return None;
        }
        let due = failed_at.saturating_add(self.policy.backoff(record.attempts).as_secs());
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(due))
    }

    /// The user intervened (start, restart, install, uninstall): forget the
    /// history so their action gets a full set of attempts.
    pub fn clear(&mut self, app: &str) {
        self.file.apps.remove(app);
    }

    pub fn save(&self) -> Result<(), StoreError> {
        write_json(&self.path, &self.file)
    }
}
