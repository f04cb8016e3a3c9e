//! How results read on a terminal: aligned tables and one line per event.

use std::time::{Duration, UNIX_EPOCH};

use archy_rpc::Event;
use serde::Serialize;

use crate::cli::GlobalArgs;

/// The wire name of a DTO enum (`running`, `healthy`…), so text and JSON agree.
pub fn name(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

/// Rows with columns padded to their widest cell, two spaces apart.
pub fn table(rows: impl IntoIterator<Item = [String; 6]>) -> String {
    let rows: Vec<[String; 6]> = rows.into_iter().collect();
    let mut widths = [0; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            line.push_str(&format!("{cell:width$}  "));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// One event per line: text for people, a JSON object per line for scripts.
pub fn print_event(global: &GlobalArgs, event: &Event) {
    if global.json {
        println!("{}", serde_json::json!(event));
    } else {
        println!("{}", event_line(event));
    }
}

/// `2026-11-23T09:33:45Z demo-web installing -> running: verified healthy`.
pub fn event_line(event: &Event) -> String {
    let at =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(event.at_unix_ms));
    let app = event.app.as_deref().unwrap_or("archy");
    match event.transition {
        Some(t) => format!(
            "{at} {app} {} -> {}: {}",
            name(t.from),
            name(t.to),
            event.reason
        ),
        None => format!("{at} {app} {}", event.reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_rpc::{AppState, Transition};

    #[test]
    fn an_event_line_names_time_app_transition_and_reason() {
        let mut event = Event {
            seq: 1,
            at_unix_ms: 1_700_000_000_000,
            app: Some("lnd".into()),
            transition: Some(Transition {
                from: AppState::Running,
                to: AppState::Stopping,
            }),
            reason: "stopped by user".into(),
        };
        assert_eq!(
            event_line(&event),
            "2023-11-14T22:13:20Z lnd running -> stopping: stopped by user"
        );
        event.transition = None;
        event.app = None;
        event.reason = "engine lost".into();
        assert_eq!(event_line(&event), "2023-11-14T22:13:20Z archy engine lost");
    }
}
