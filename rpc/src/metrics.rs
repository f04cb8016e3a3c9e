//! Prometheus metrics: the names every Archy crate records under, their help
//! text, and the process-wide recorder the `/metrics` endpoint renders.

use std::sync::Mutex;
use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Metric names, shared so recorders elsewhere in the daemon cannot drift.
pub mod names {
    /// Histogram, no labels.
    pub const RECONCILE_DURATION: &str = "archy_reconcile_duration_seconds";
    /// Gauge, no labels.
    pub const RECONCILE_LAST_SUCCESS: &str = "archy_reconcile_last_success_timestamp_seconds";
    /// Counter, labels `operation`, `result` ("ok" | "error").
    pub const ENGINE_REQUESTS: &str = "archy_engine_requests_total";
    /// Histogram, label `operation`.
    pub const ENGINE_REQUEST_DURATION: &str = "archy_engine_request_duration_seconds";
    /// Gauge, labels `app`, `state`: 1 for the app's current state, 0 for the others.
    pub const APP_STATE: &str = "archy_app_state";
    /// Counter, label `app`.
    pub const CONTAINER_RESTARTS: &str = "archy_container_restarts_total";
    /// Counter, label `actor_kind`.
    pub const ACTOR_RESTARTS: &str = "archy_actor_restarts_total";
    /// Counter, labels `app`, `result` ("healthy" | "unhealthy").
    pub const HEALTH_PROBES: &str = "archy_health_probes_total";
    /// Histogram, no labels.
    pub const INSTALL_DURATION: &str = "archy_install_duration_seconds";
    /// Counter, label `app`.
    pub const PULL_RETRIES: &str = "archy_image_pull_retries_total";
    /// Counter, labels `method` (or "unknown"), `code` ("ok" or the JSON-RPC error code).
    pub const RPC_REQUESTS: &str = "archy_rpc_requests_total";
    /// Histogram, label `method`.
    pub const RPC_REQUEST_DURATION: &str = "archy_rpc_request_duration_seconds";
    /// Gauge = 1, label `version`.
    pub const BUILD_INFO: &str = "archy_build_info";

    /// Every name above; `describe_all` covers each.
    pub const ALL: &[&str] = &[
        RECONCILE_DURATION,
        RECONCILE_LAST_SUCCESS,
        ENGINE_REQUESTS,
        ENGINE_REQUEST_DURATION,
        APP_STATE,
        CONTAINER_RESTARTS,
        ACTOR_RESTARTS,
        HEALTH_PROBES,
        INSTALL_DURATION,
        PULL_RETRIES,
        RPC_REQUESTS,
        RPC_REQUEST_DURATION,
        BUILD_INFO,
    ];
}

/// Buckets for calls that usually take milliseconds but may hang up to a minute.
const FAST_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets for installs: an image pull plus first start, seconds to half an hour.
const INSTALL_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
];

/// Give every Archy metric its HELP line (and unit), so the scrape passes `promtool check metrics`.
pub fn describe_all() {
    use names::*;
    describe_histogram!(
        RECONCILE_DURATION,
        Unit::Seconds,
        "Time one reconcile pass took."
    );
    describe_gauge!(
        RECONCILE_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time the last reconcile pass completed without error."
    );
    describe_counter!(
        ENGINE_REQUESTS,
        "Container engine API calls, by operation and result."
    );
    describe_histogram!(
        ENGINE_REQUEST_DURATION,
        Unit::Seconds,
        "Container engine API call duration, by operation."
    );
    describe_gauge!(
        APP_STATE,
        "1 for the state each app is in, 0 for the states it is not in."
    );
    describe_counter!(
        CONTAINER_RESTARTS,
        "Containers restarted by Archy after the app failed, by app."
    );
    describe_counter!(
        ACTOR_RESTARTS,
        "Actors restarted by their supervisor, by actor kind."
    );
    describe_counter!(HEALTH_PROBES, "Health probe results, by app and result.");
    describe_histogram!(
        INSTALL_DURATION,
        Unit::Seconds,
        "Time from an install request to the app running."
    );
    describe_counter!(PULL_RETRIES, "Image pulls retried after a failure, by app.");
    describe_counter!(
        RPC_REQUESTS,
        "JSON-RPC requests answered, by method and outcome code."
    );
    describe_histogram!(
        RPC_REQUEST_DURATION,
        Unit::Seconds,
        "JSON-RPC request duration, by method."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the labels tell which Archy build is running."
    );
}

/// Errors installing the process-wide metrics recorder.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("could not configure the Prometheus exporter: {0}")]
    Build(#[from] BuildError),
}

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Install the Prometheus recorder for this process (once; later calls return
/// the same handle), describe every metric and set `archy_build_info`.
/// The caller must call `run_upkeep` on a timer; the gateway does.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let mut installed = HANDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(FAST_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(names::INSTALL_DURATION.into()),
            INSTALL_BUCKETS,
        )?
        .install_recorder()?;
    describe_all();
    gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    *installed = Some(handle.clone());
    Ok(handle)
}

/// Count one answered JSON-RPC request and its duration.
pub(crate) fn record_rpc(method: &'static str, code: Option<i64>, elapsed: Duration) {
    let code = code.map_or_else(|| "ok".to_string(), |code| code.to_string());
    counter!(names::RPC_REQUESTS, "method" => method, "code" => code).increment(1);
    histogram!(names::RPC_REQUEST_DURATION, "method" => method).record(elapsed);
}
