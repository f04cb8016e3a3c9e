//! The reconciler's Prometheus series. Names follow the Prometheus naming
//! guide (`_seconds`, `_total`); no per-app labels, so cardinality stays flat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};

pub const PASS_DURATION: &str = "archy_reconcile_duration_seconds";
pub const LAST_SUCCESS: &str = "archy_reconcile_last_success_timestamp_seconds";
pub const PASSES: &str = "archy_reconcile_passes_total";
pub const ENGINE_EVENTS: &str = "archy_engine_events_total";

/// Buckets for [`PASS_DURATION`], from a 5 ms pass on a small box to a
/// 60 s one on a struggling engine. The recorder is installed by the
/// binary: `PrometheusBuilder::set_buckets_for_metric(Matcher::Full(PASS_DURATION.into()), PASS_DURATION_BUCKETS)`.
pub const PASS_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

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

/// Help texts, plus a zero for every pass result so the series exist
/// before the first pass.
pub fn describe() {
    describe_histogram!(
        PASS_DURATION,
        Unit::Seconds,
        "Time one reconcile pass took (one engine list call plus casts and removals)"
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last reconcile pass that completed; alert when it is several periods old"
    );
    describe_counter!(PASSES, "Reconcile passes by result: success, error (engine error or deadline), skipped (a pass was still running)");
    describe_counter!(
        ENGINE_EVENTS,
        "Container events received from the engine, by kind (start, die, oom)"
    );
    for result in [PassResult::Success, PassResult::Error, PassResult::Skipped] {
        counter!(PASSES, "result" => result.as_str()).increment(0);
    }
}

pub fn pass_ended(result: PassResult, took: Option<Duration>) {
    counter!(PASSES, "result" => result.as_str()).increment(1);
    if let Some(took) = took {
        histogram!(PASS_DURATION).record(took);
    }
    if result == PassResult::Success {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        gauge!(LAST_SUCCESS).set(now.as_secs_f64());
    }
}

pub fn engine_event(kind: &'static str) {
    counter!(ENGINE_EVENTS, "kind" => kind).increment(1);
}
