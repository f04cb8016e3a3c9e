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
