//! `just smoke`: one app through the daemon in under a minute — install,
//! stop, start, health, the restart tracker, a clean log, uninstall.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::archy::Daemon;

const APP: &str = "demo-web";
/// Health interval and start period of demo-web are 5 s each.
const HEALTHY_DEADLINE: Duration = Duration::from_secs(30);

pub fn run(daemon: &mut Daemon) -> Result<(), String> {
    daemon.start()?;
    let outcome = checks(daemon);
    if outcome.is_err() {
        // Leave nothing behind for the next run, whatever failed.
        daemon.op("uninstall", APP, &["--purge"]);
    }
    outcome
}

fn checks(daemon: &mut Daemon) -> Result<(), String> {
    for (op, extra) in [("install", &[][..]), ("stop", &[]), ("start", &[])] {
        check(&format!("{op} {APP}"), || {
            let outcome = daemon.op(op, APP, extra);
            outcome.success.then_some(()).ok_or(outcome.output)
        })?;
    }
    check("healthy (container.health)", || wait_healthy(daemon))?;
    check("restart-tracker.json parses", || {
        let path = daemon.state_dir.join("restart-tracker.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map(drop)
            .map_err(|e| format!("{}: {e}", path.display()))
    })?;
    check(&format!("uninstall --purge {APP}"), || {
        let outcome = daemon.op("uninstall", APP, &["--purge"]);
        outcome.success.then_some(()).ok_or(outcome.output)
    })?;
    check("daemon stops on SIGTERM", || daemon.stop())?;
    check("daemon log has no ERROR or panic", || {
        let alarms = crate::archy::alarming_log_lines(&daemon.log);
        alarms.is_empty().then_some(()).ok_or(alarms.join("\n"))
    })
}

fn wait_healthy(daemon: &Daemon) -> Result<(), String> {
    let end = Instant::now() + HEALTHY_DEADLINE;
    loop {
        let result = daemon.rpc("container.health", json!({ "id": APP }))?;
        let healthy = result.as_array().is_some_and(|probes| {
            !probes.is_empty() && probes.iter().all(|p| p["health"] == "healthy")
        });
        if healthy {
            return Ok(());
        }
        if Instant::now() > end {
            return Err(format!("not healthy within {HEALTHY_DEADLINE:?}: {result}"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn check(name: &str, step: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let clock = Instant::now();
    let outcome = step();
    let verdict = if outcome.is_ok() { "ok" } else { "FAILED" };
    eprintln!(
        "smoke: {name}: {verdict} ({} ms)",
        clock.elapsed().as_millis()
    );
    outcome.map_err(|e| format!("{name}: {e}"))
}
