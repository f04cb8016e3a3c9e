//! The real daemon (`archy serve` on real Podman, an empty catalog, a fresh
//! state dir) serves a `/metrics` page that `promtool check metrics`
//! accepts, with HELP for every family and the series a fresh daemon has.
//! Needs the Podman socket; promtool comes from the `prometheus` package
//! (scripts/setup.sh), or set ARCHY_SKIP_PROMTOOL=1 to skip that check.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[path = "support/promtool.rs"]
mod promtool;

use archy_runtime::metrics::{
    Metric, BUILD_INFO, ENGINE_REQUESTS, ENGINE_REQUEST_DURATION, INSTALL_DURATION, PULL_RETRIES,
    RECONCILE_PASSES,
};

const START_DEADLINE: Duration = Duration::from_secs(60);

/// What a daemon with no app installed exports once it serves. The first
/// reconcile pass comes a period (30 s) later; its series are checked
/// through the same `install()` in actors/tests/reconciler_metrics.rs.
const FRESH_DAEMON_METRICS: [&Metric; 6] = [
    &RECONCILE_PASSES,
    &ENGINE_REQUESTS,
    &ENGINE_REQUEST_DURATION,
    &INSTALL_DURATION,
    &PULL_RETRIES,
    &BUILD_INFO,
];

/// `archy serve`, stopped with SIGTERM (as a service manager does) on drop.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    _state: tempfile::TempDir,
    _catalog: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Self {
        let state = tempfile::tempdir().unwrap();
        let catalog = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_archy"))
            .arg("serve")
            .arg("--state-dir")
            .arg(state.path())
            .arg("--catalog")
            .arg(catalog.path())
            .args(["--listen", "127.0.0.1:0", "--dashboard", "/nonexistent"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the archy binary runs");
        let addr = serving_addr(child.stdout.take().unwrap());
        Daemon {
            child,
            addr,
            _state: state,
            _catalog: catalog,
        }
    }

    fn get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        body.to_string()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The address from the "Archy is serving url=http://…" log line (the port
/// is the one the OS picked for 127.0.0.1:0).
fn serving_addr(stdout: std::process::ChildStdout) -> SocketAddr {
    let (found, addr) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("archy: {line}");
            let url = line
                .split("http://")
                .nth(1)
                .filter(|_| line.contains("Archy is serving"));
            if let Some(url) = url {
                let addr: String = url
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !c.is_control())
                    .collect();
                let _ = found.send(addr.parse::<SocketAddr>());
            }
        }
    });
    addr.recv_timeout(START_DEADLINE)
        .expect("archy serve did not log \"Archy is serving\" in time (is Podman running?)")
        .expect("a socket address in the url")
}

#[test]
fn a_fresh_daemon_serves_metrics_promtool_accepts_with_help_for_every_family() {
    let daemon = Daemon::start();
    let text = daemon.get("/metrics");

    for metric in FRESH_DAEMON_METRICS {
        let name = metric.name;
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}:\n{text}"
        );
    }
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = family.split(' ').next().unwrap();
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has a TYPE but no HELP:\n{text}"
        );
    }
    // Boot recovery's list went through the metered engine.
    assert!(
        text.contains(r#"archy_engine_requests_total{operation="list_managed",result="ok"} "#),
        "{text}"
    );
    assert!(
        !text.contains(r#"archy_engine_requests_total{operation="list_managed",result="ok"} 0"#),
        "{text}"
    );
    promtool::check(&text);
}
