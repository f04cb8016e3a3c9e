//! One probe run: what to probe ([`ProbeTarget`]), how it went
//! ([`ProbeOutcome`]), always bounded by the check's timeout and counted in
//! `archy_health_probe_total{kind, result}`.

mod exec;
mod http;
mod tcp;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use archy_runtime::SharedRuntime;

pub(crate) const PROBE_TOTAL: &str = "archy_health_probe_total";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Http,
    Tcp,
    Exec,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Http => "http",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Exec => "exec",
        }
    }
}

/// A probe resolved to what it reaches: a host address for http and tcp
/// (the port the container port is published on), a container for exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeTarget {
    Http {
        addr: SocketAddr,
        path: String,
        status: u16,
    },
    Tcp {
        addr: SocketAddr,
    },
    Exec {
        container: String,
        cmd: Vec<String>,
    },
}

impl ProbeTarget {
    pub fn kind(&self) -> ProbeKind {
        match self {
            ProbeTarget::Http { .. } => ProbeKind::Http,
            ProbeTarget::Tcp { .. } => ProbeKind::Tcp,
            ProbeTarget::Exec { .. } => ProbeKind::Exec,
        }
    }
}

/// How a reason names the probe, e.g. `http GET 127.0.0.1:18080/index.html`.
impl fmt::Display for ProbeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeTarget::Http { addr, path, .. } => write!(f, "http GET {addr}{path}"),
            ProbeTarget::Tcp { addr } => write!(f, "tcp connect {addr}"),
            ProbeTarget::Exec { container, cmd } => {
                write!(f, "exec `{}` in {container}", cmd.join(" "))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Success,
    /// What went wrong, e.g. `503, expected 200` or `connection refused`.
    Failure(String),
    TimedOut(Duration),
}

impl ProbeOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, ProbeOutcome::Success)
    }

    /// The metric's `result` label.
    pub fn label(&self) -> &'static str {
        match self {
            ProbeOutcome::Success => "success",
            ProbeOutcome::Failure(_) => "failure",
            ProbeOutcome::TimedOut(_) => "timeout",
        }
    }
}

impl fmt::Display for ProbeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeOutcome::Success => f.write_str("ok"),
            ProbeOutcome::Failure(what) => f.write_str(what),
            ProbeOutcome::TimedOut(after) => write!(f, "no answer within {} s", after.as_secs()),
        }
    }
}

/// Runs probes; cheap to clone into probe tasks.
#[derive(Clone)]
pub struct Prober {
    runtime: SharedRuntime,
    http: http::Client,
}

impl Prober {
    pub fn new(runtime: SharedRuntime) -> Self {
        Prober {
            runtime,
            http: http::client(),
        }
    }

    /// Run one probe, at most `timeout`, and count it.
    pub async fn probe(&self, target: &ProbeTarget, timeout: Duration) -> ProbeOutcome {
        let run = async {
            match target {
                ProbeTarget::Http { addr, path, status } => {
                    http::get(&self.http, *addr, path, *status).await
                }
                ProbeTarget::Tcp { addr } => tcp::connect(*addr).await,
                ProbeTarget::Exec { container, cmd } => {
                    exec::run(self.runtime.as_ref(), container, cmd).await
                }
            }
        };
        let outcome = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(())) => ProbeOutcome::Success,
            Ok(Err(what)) => ProbeOutcome::Failure(what),
            Err(_) => ProbeOutcome::TimedOut(timeout),
        };
        count(target.kind(), &outcome);
        outcome
    }
}

fn count(kind: ProbeKind, outcome: &ProbeOutcome) {
    metrics::counter!(PROBE_TOTAL, "kind" => kind.as_str(), "result" => outcome.label())
        .increment(1);
}

/// An error and its causes, `outer: inner: root`: client errors alone say
/// little ("client error (Connect)"), their sources say why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
