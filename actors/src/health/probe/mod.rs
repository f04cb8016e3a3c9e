//! One probe run: what to probe ([`ProbeTarget`]), how it went
//! ([`ProbeOutcome`]), always bounded by the check's timeout and counted in
//! `archy_health_probes_total{kind, result}`.

mod exec;
mod http;
mod tcp;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use archy_runtime::SharedRuntime;

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
    metrics::counter!(archy_runtime::metrics::HEALTH_PROBES.name, "kind" => kind.as_str(), "result" => outcome.label())
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

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };
    use std::sync::Mutex;

    /// Remembers which counters were registered, as `name{k=v,...}`.
    #[derive(Default)]
    struct Registered(Mutex<Vec<String>>);

    impl Recorder for Registered {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            self.0.lock().unwrap().push(name);
            Counter::noop()
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn every_probe_is_counted_by_kind_and_result() {
        let recorder = Registered::default();
        metrics::with_local_recorder(&recorder, || {
            count(ProbeKind::Http, &ProbeOutcome::Success);
            count(ProbeKind::Tcp, &ProbeOutcome::Failure("refused".into()));
            count(
                ProbeKind::Exec,
                &ProbeOutcome::TimedOut(Duration::from_secs(5)),
            );
        });
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "archy_health_probes_total{kind=http,result=success}",
                "archy_health_probes_total{kind=tcp,result=failure}",
                "archy_health_probes_total{kind=exec,result=timeout}",
            ]
        );
    }

    #[test]
    fn targets_name_themselves_as_reasons_quote_them() {
        let exec = ProbeTarget::Exec {
            container: "archy-db".into(),
            cmd: vec!["pg_isready".into(), "-q".into()],
        };
        assert_eq!(exec.to_string(), "exec `pg_isready -q` in archy-db");
        let tcp = ProbeTarget::Tcp {
            addr: ([127, 0, 0, 1], 5432).into(),
        };
        assert_eq!(tcp.to_string(), "tcp connect 127.0.0.1:5432");
    }
}
