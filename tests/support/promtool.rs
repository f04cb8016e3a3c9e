//! `promtool check metrics` on a scrape: HELP text, `_total`, base units.
//! Shared by tests/metrics_daemon.rs and rpc/tests/metrics.rs (by path).

use std::io::Write;
use std::process::{Command, Stdio};

/// Panics with promtool's complaints; promtool comes from the `prometheus`
/// package (scripts/setup.sh). ARCHY_SKIP_PROMTOOL=1 skips a missing one.
pub fn check(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(_) if std::env::var_os("ARCHY_SKIP_PROMTOOL").is_some() => return,
        Err(error) => panic!(
            "promtool not runnable ({error}): scripts/setup.sh installs it \
             (apt-get install --no-install-recommends prometheus), or set ARCHY_SKIP_PROMTOOL=1"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
