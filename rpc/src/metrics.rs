//! The `/metrics` page: everything the process recorded (names, help and
//! buckets are `archy_runtime::metrics`, re-exported here), plus
//! `archy_app_state`, read from the backend at scrape time.
//!
//! App state is collected, not recorded: the exporter cannot delete a series,
//! so a gauge set on every transition would outlive an uninstalled app.
//! Reading the status board at scrape time (as kube-state-metrics does) shows
//! exactly the installed apps, and costs no engine call.

use std::fmt::Write;
use std::time::Duration;

pub use archy_runtime::metrics::*;
use metrics::{counter, histogram};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::backend::{AppState, Backend};

/// Every state `archy_app_state` reports, 1 for the current one.
const STATES: [AppState; 11] = [
    AppState::Absent,
    AppState::Installing,
    AppState::Starting,
    AppState::Running,
    AppState::Unhealthy,
    AppState::Restarting,
    AppState::Stopping,
    AppState::Stopped,
    AppState::Uninstalling,
    AppState::Blocked,
    AppState::Failed,
];

/// Count one answered JSON-RPC request and its duration.
pub(crate) fn record_rpc(method: &'static str, code: Option<i64>, elapsed: Duration) {
    let code = code.map_or_else(|| "ok".to_string(), |code| code.to_string());
    counter!(RPC_REQUESTS.name, "method" => method, "code" => code).increment(1);
    histogram!(RPC_REQUEST_DURATION.name, "method" => method).record(elapsed);
}

/// The scrape: recorded metrics, then every installed app's state.
pub(crate) async fn render(handle: &PrometheusHandle, backend: &dyn Backend) -> String {
    let mut text = handle.render();
    match backend.list().await {
        Ok(list) => {
            let apps = list.apps.iter().map(|app| (app.id.as_str(), app.state));
            text.push_str(&app_states(apps));
        }
        // The other metrics still help; the gap in archy_app_state shows.
        Err(error) => tracing::warn!(%error, "/metrics without app states"),
    }
    text
}

/// `archy_app_state{app,state}` in the text exposition format.
/// Nothing when no app is installed (a family needs at least one sample).
fn app_states<'a>(apps: impl Iterator<Item = (&'a str, AppState)>) -> String {
    let mut apps = apps.peekable();
    if apps.peek().is_none() {
        return String::new();
    }
    let mut text = format!(
        "# HELP {name} {help}\n# TYPE {name} gauge\n",
        name = APP_STATE.name,
        help = APP_STATE.help
    );
    for (app, current) in apps {
        let app = escape_label(app);
        for state in STATES {
            let value = u8::from(state == current);
            let _ = writeln!(
                text,
                "{}{{app=\"{app}\",state=\"{}\"}} {value}",
                APP_STATE.name,
                state_label(state)
            );
        }
    }
    text.push('\n');
    text
}

fn state_label(state: AppState) -> &'static str {
    match state {
        AppState::Absent => "absent",
        AppState::Installing => "installing",
        AppState::Starting => "starting",
        AppState::Running => "running",
        AppState::Unhealthy => "unhealthy",
        AppState::Restarting => "restarting",
        AppState::Stopping => "stopping",
        AppState::Stopped => "stopped",
        AppState::Uninstalling => "uninstalling",
        AppState::Blocked => "blocked",
        AppState::Failed => "failed",
    }
}

/// Label values escape `\`, `"` and newlines (exposition format).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_app_has_one_state_at_1_and_every_other_at_0() {
        let text = app_states([("lnd", AppState::Running), ("db", AppState::Failed)].into_iter());
        assert!(text.starts_with("# HELP archy_app_state 1 for the state"));
        assert!(text.contains("\n# TYPE archy_app_state gauge\n"));
        for app in ["lnd", "db"] {
            let lines: Vec<_> = text
                .lines()
                .filter(|l| l.starts_with(&format!("archy_app_state{{app=\"{app}\"")))
                .collect();
            assert_eq!(lines.len(), STATES.len());
            assert_eq!(lines.iter().filter(|l| l.ends_with(" 1")).count(), 1);
        }
        assert!(text.contains("archy_app_state{app=\"lnd\",state=\"running\"} 1\n"));
        assert!(text.contains("archy_app_state{app=\"lnd\",state=\"failed\"} 0\n"));
        assert!(text.contains("archy_app_state{app=\"db\",state=\"failed\"} 1\n"));
    }

    #[test]
    fn no_apps_render_nothing() {
        assert_eq!(app_states(std::iter::empty()), "");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    }

    #[test]
    fn state_labels_match_the_rpc_names() {
        for state in STATES {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, state_label(state));
        }
    }
}
