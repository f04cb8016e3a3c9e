//! The Health actor: runs each app's manifest probes (http, tcp, exec) on
//! their own intervals while the app is up, applies start period and
//! hysteresis, and tells the app actor when a verdict changes. The app
//! actor decides what an unhealthy verdict means (restart through its
//! restart tracker, or Failed past max attempts).

mod actor;
mod check;
pub mod probe;
mod targets;

pub use actor::{HealthActor, HealthArgs, HealthMsg, ManifestLookup};
pub use check::{HealthCheck, Verdict};
pub use probe::{ProbeKind, ProbeOutcome, ProbeTarget, Prober};
pub(crate) use targets::published;
pub use targets::{checks_of, CheckSpec, TargetError};

/// Register the help text of the health metrics with the recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        probe::PROBE_TOTAL,
        "Health probes run, by probe kind (http, tcp, exec) and result (success, failure, timeout)"
    );
}
