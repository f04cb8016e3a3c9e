//! The reconciler's Prometheus series (names, help and buckets in
//! `archy_runtime::metrics`); no per-app labels, so cardinality stays flat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use archy_runtime::metrics::{
    ENGINE_EVENTS, RECONCILE_DURATION, RECONCILE_LAST_SUCCESS, RECONCILE_PASSES,
};
use metrics::{counter, gauge, histogram};

/// How a pass ended, as the `result` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassResult {
    Success,
    Error,
    /// A tick came while a pass was still running.
    Skipped,
}

impl PassResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PassResult::Success => "success",
            PassResult::Error => "error",
            PassResult::Skipped => "skipped",
        }
    }
}

/// A zero for every pass result, so the series exist before the first pass
/// (help texts come from `archy_runtime::metrics::describe_all`).
pub fn zero_pass_results() {
    for result in [PassResult::Success, PassResult::Error, PassResult::Skipped] {
        counter!(RECONCILE_PASSES.name, "result" => result.as_str()).increment(0);
    }
}

pub fn pass_ended(result: PassResult, took: Option<Duration>) {
    counter!(RECONCILE_PASSES.name, "result" => result.as_str()).increment(1);
    if let Some(took) = took {
        histogram!(RECONCILE_DURATION.name).record(took);
    }
    if result == PassResult::Success {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        gauge!(RECONCILE_LAST_SUCCESS.name).set(now.as_secs_f64());
    }
}

pub fn engine_event(kind: &'static str) {
    counter!(ENGINE_EVENTS.name, "kind" => kind).increment(1);
}
