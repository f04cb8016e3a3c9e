//! `archy ps`: every app, installed first.

use archy_rpc::{AppState, AppStatus, ContainerList, PortMapping};
use serde_json::json;

use super::{name, table, Exit};
use crate::cli::GlobalArgs;
use crate::client::{ClientError, Daemon};

pub async fn run(daemon: Daemon, global: &GlobalArgs) -> Result<Exit, ClientError> {
    let mut list: ContainerList = daemon.call("container.list", json!({})).await?;
    list.apps
        .sort_by(|a, b| (!installed(a), &a.id).cmp(&(!installed(b), &b.id)));
    if global.json {
        println!("{}", json!(list));
        return Ok(Exit::Ok);
    }
    if !list.engine_reachable {
        eprintln!("warning: the container engine does not answer; states are the last known");
    }
    if list.apps.is_empty() {
        println!("no apps installed; `archy install <id>` installs one from the catalog");
        return Ok(Exit::Ok);
    }
    print!("{}", render(&list.apps));
    Ok(Exit::Ok)
}

fn installed(app: &AppStatus) -> bool {
    app.state != AppState::Absent
}

/// The table people read: one row per app.
fn render(apps: &[AppStatus]) -> String {
    let header = ["APP", "STATE", "HEALTH", "PORTS", "RESTARTS", "REASON"].map(String::from);
    let rows = apps.iter().map(|app| {
        let state = if app.user_stopped && app.state == AppState::Stopped {
            "stopped (by user)".to_string()
        } else {
            name(app.state)
        };
        [
            app.id.clone(),
            state,
            name(app.health),
            ports(&app.ports),
            app.restart_count.to_string(),
            app.last_reason.clone().unwrap_or_default(),
        ]
    });
    table(std::iter::once(header).chain(rows))
}

fn ports(ports: &[PortMapping]) -> String {
    if ports.is_empty() {
        return "-".into();
    }
    ports
        .iter()
        .map(|p| format!("{}->{}/{}", p.host, p.container, p.protocol))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_rpc::Health;

    fn app(id: &str, state: AppState) -> AppStatus {
        AppStatus {
            id: id.into(),
            name: id.into(),
            state,
            health: Health::Unknown,
            ports: vec![],
            companions: vec![],
            user_stopped: false,
            last_reason: None,
            restart_count: 0,
        }
    }

    #[test]
    fn columns_line_up_and_ports_read_host_to_container() {
        let mut web = app("demo-web", AppState::Running);
        web.ports = vec![PortMapping {
            host: 18080,
            container: 8080,
            protocol: "tcp".into(),
        }];
        web.last_reason = Some("started by user".into());
        let text = render(&[web, app("lnd", AppState::Absent)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "APP       STATE    HEALTH   PORTS            RESTARTS  REASON"
        );
        assert_eq!(
            lines[1],
            "demo-web  running  unknown  18080->8080/tcp  0         started by user"
        );
        assert_eq!(lines[2], "lnd       absent   unknown  -                0");
    }
}
