//! Every metric Archy exports, in one table: name, type, labels, help text
//! and histogram buckets. It lives here because this is the lowest crate that
//! records (engine calls, see [`crate::metered`]); actors and rpc record
//! against the same constants, so a name cannot drift between crates.
//!
//! [`install`] builds the process's one Prometheus recorder from this table:
//! every histogram gets its explicit buckets, every metric its HELP line.
//! docs/metrics.md explains each metric with example alerts.

use std::sync::Mutex;

use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric. Label values are always from a bounded set (app ids,
/// fixed operation and result names), never ids or error strings.
#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
    /// Bucket upper bounds (seconds) of a histogram; empty for the others.
    pub buckets: &'static [f64],
}

impl Metric {
    /// Seconds for `*_seconds` names; the rest count things.
    pub fn unit(&self) -> Option<Unit> {
        self.name.ends_with("_seconds").then_some(Unit::Seconds)
    }
}

/// A reconcile pass: 5 ms on a small box to 60 s on a struggling engine.
const PASS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Calls that usually take milliseconds (inspect 3 ms, list 5–75 ms) but may
/// hang up to a minute, or wait out a long stop grace.
const CALL_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
];
/// An install: an image pull plus first start, seconds to half an hour.
const INSTALL_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
];

pub const RECONCILE_DURATION: Metric = Metric {
    name: "archy_reconcile_duration_seconds",
    kind: Kind::Histogram,
    labels: &[],
    help: "Time one reconcile pass took (one engine list call plus casts and removals).",
    buckets: PASS_BUCKETS,
};
pub const RECONCILE_LAST_SUCCESS: Metric = Metric {
    name: "archy_reconcile_last_success_timestamp_seconds",
    kind: Kind::Gauge,
    labels: &[],
    help:
        "Unix time of the last reconcile pass that completed; alert when it is several periods old.",
    buckets: &[],
};
pub const RECONCILE_PASSES: Metric = Metric {
    name: "archy_reconcile_passes_total",
    kind: Kind::Counter,
    labels: &["result"],
    help: "Reconcile passes by result: success, error (engine error or deadline), skipped (a pass was still running).",
    buckets: &[],
};
pub const ENGINE_EVENTS: Metric = Metric {
    name: "archy_engine_events_total",
    kind: Kind::Counter,
    labels: &["kind"],
    help: "Container events received from the engine, by kind (start, die, oom).",
    buckets: &[],
};
pub const ENGINE_REQUESTS: Metric = Metric {
    name: "archy_engine_requests_total",
    kind: Kind::Counter,
    labels: &["operation", "result"],
    help: "Container engine API calls, by operation and result (ok, error).",
    buckets: &[],
};
pub const ENGINE_REQUEST_DURATION: Metric = Metric {
    name: "archy_engine_request_duration_seconds",
    kind: Kind::Histogram,
    labels: &["operation"],
    help: "Container engine API call duration, by operation.",
    buckets: CALL_BUCKETS,
};
pub const APP_STATE: Metric = Metric {
    name: "archy_app_state",
    kind: Kind::Gauge,
    labels: &["app", "state"],
    help: "1 for the state each installed app is in, 0 for the states it is not in.",
    buckets: &[],
};
pub const CONTAINER_RESTARTS: Metric = Metric {
    name: "archy_container_restarts_total",
    kind: Kind::Counter,
    labels: &["app"],
    help: "Restarts Archy made after an app's container died or turned unhealthy, by app.",
    buckets: &[],
};
pub const ACTOR_RESTARTS: Metric = Metric {
    name: "archy_actor_restarts_total",
    kind: Kind::Counter,
    labels: &["actor_kind"],
    help: "Actors restarted by their supervisor, by actor kind.",
    buckets: &[],
};
pub const HEALTH_PROBES: Metric = Metric {
    name: "archy_health_probes_total",
    kind: Kind::Counter,
    labels: &["kind", "result"],
    help:
        "Health probes run, by probe kind (http, tcp, exec) and result (success, failure, timeout).",
    buckets: &[],
};
pub const INSTALL_DURATION: Metric = Metric {
    name: "archy_install_duration_seconds",
    kind: Kind::Histogram,
    labels: &[],
    help: "Time an install took, from its start to the app verified running; successful installs only.",
    buckets: INSTALL_BUCKETS,
};
pub const PULL_RETRIES: Metric = Metric {
    name: "archy_image_pull_retries_total",
    kind: Kind::Counter,
    labels: &[],
    help: "Image pulls retried after a failed attempt.",
    buckets: &[],
};
pub const RPC_REQUESTS: Metric = Metric {
    name: "archy_rpc_requests_total",
    kind: Kind::Counter,
    labels: &["method", "code"],
    help: "JSON-RPC requests answered, by method (or unknown) and outcome code (ok or the JSON-RPC error code).",
    buckets: &[],
};
pub const RPC_REQUEST_DURATION: Metric = Metric {
    name: "archy_rpc_request_duration_seconds",
    kind: Kind::Histogram,
    labels: &["method"],
    help: "JSON-RPC request duration, by method.",
    buckets: CALL_BUCKETS,
};
pub const BUILD_INFO: Metric = Metric {
    name: "archy_build_info",
    kind: Kind::Gauge,
    labels: &["version"],
    help: "Always 1; the version label tells which Archy build is running.",
    buckets: &[],
};

/// Every metric above.
pub const ALL: &[&Metric] = &[
    &RECONCILE_DURATION,
    &RECONCILE_LAST_SUCCESS,
    &RECONCILE_PASSES,
    &ENGINE_EVENTS,
    &ENGINE_REQUESTS,
    &ENGINE_REQUEST_DURATION,
    &APP_STATE,
    &CONTAINER_RESTARTS,
    &ACTOR_RESTARTS,
    &HEALTH_PROBES,
    &INSTALL_DURATION,
    &PULL_RETRIES,
    &RPC_REQUESTS,
    &RPC_REQUEST_DURATION,
    &BUILD_INFO,
];

/// Give every metric its HELP line and unit, so the scrape passes
/// `promtool check metrics`.
pub fn describe_all() {
    for metric in ALL {
        let (name, help) = (metric.name, metric.help);
        match (metric.kind, metric.unit()) {
            (Kind::Counter, Some(unit)) => describe_counter!(name, unit, help),
            (Kind::Counter, None) => describe_counter!(name, help),
            (Kind::Gauge, Some(unit)) => describe_gauge!(name, unit, help),
            (Kind::Gauge, None) => describe_gauge!(name, help),
            (Kind::Histogram, Some(unit)) => describe_histogram!(name, unit, help),
            (Kind::Histogram, None) => describe_histogram!(name, help),
        }
    }
}

/// Errors installing the process-wide metrics recorder.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("could not configure the Prometheus exporter: {0}")]
    Build(#[from] BuildError),
}

/// The exporter, configured from [`ALL`]: explicit buckets for every
/// histogram (without them they render as summaries) and the recommended
/// `_total`/unit naming.
pub fn prometheus_builder() -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new().with_recommended_naming(true);
    for metric in ALL.iter().filter(|m| m.kind == Kind::Histogram) {
        builder =
            builder.set_buckets_for_metric(Matcher::Full(metric.name.into()), metric.buckets)?;
    }
    Ok(builder)
}

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Install the Prometheus recorder for this process (once; later calls
/// return the same handle), describe every metric and set `archy_build_info`.
/// The caller must call `run_upkeep` on a timer; the gateway does.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let mut installed = HANDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let handle = prometheus_builder()?.install_recorder()?;
    describe_all();
    gauge!(BUILD_INFO.name, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Series that exist from the start read 0, not "absent", in alerts.
    metrics::counter!(PULL_RETRIES.name).increment(0);
    let _registered = metrics::histogram!(INSTALL_DURATION.name);
    *installed = Some(handle.clone());
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_follow_the_prometheus_naming_guide() {
        let mut names: Vec<_> = ALL.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a name is listed twice");
        for metric in ALL {
            assert!(metric.name.starts_with("archy_"), "{}", metric.name);
            assert_eq!(
                metric.kind == Kind::Counter,
                metric.name.ends_with("_total"),
                "{}: counters, and only counters, end in _total",
                metric.name
            );
            assert!(!metric.help.is_empty(), "{} has no help", metric.name);
        }
    }

    #[test]
    fn every_histogram_has_increasing_buckets_and_no_histogram_an_app_label() {
        for metric in ALL.iter().filter(|m| m.kind == Kind::Histogram) {
            assert!(!metric.buckets.is_empty(), "{} has no buckets", metric.name);
            assert!(
                metric.buckets.windows(2).all(|pair| pair[0] < pair[1]),
                "{} buckets must increase",
                metric.name
            );
            assert!(!metric.labels.contains(&"app"), "{}", metric.name);
        }
    }
}
