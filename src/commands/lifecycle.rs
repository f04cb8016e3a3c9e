//! `archy install|start|stop|restart|uninstall <id> [--wait]`.
//!
//! Without `--wait` the daemon queues the operation and we return. With it we
//! subscribe to the app's events first (so no transition can slip between
//! the submit and the subscription), submit on the same WebSocket, and follow
//! the transitions until the app reaches the operation's target state, fails,
//! or is blocked by a dependency the user stopped.

use archy_rpc::{Accepted, AppState, ContainerList, Operation};
use serde_json::{json, Value};

use super::{name, print_event, Exit};
use crate::cli::GlobalArgs;
use crate::client::{ClientError, Daemon, Push, Socket};

/// One lifecycle request, as typed.
pub struct Request {
    operation: Operation,
    wait: bool,
}

impl Request {
    pub fn new(operation: Operation, wait: bool) -> Self {
        Self { operation, wait }
    }

    fn method(&self) -> String {
        format!("package.{}", name(self.operation.kind()))
    }

    fn params(&self) -> Value {
        match &self.operation {
            Operation::Uninstall { app, purge } => json!({ "id": app, "purge": purge }),
            other => json!({ "id": other.app() }),
        }
    }

    /// Where the app is when the operation has done its job.
    fn target(&self) -> AppState {
        match self.operation {
            Operation::Install { .. } | Operation::Start { .. } | Operation::Restart { .. } => {
                AppState::Running
            }
            Operation::Stop { .. } => AppState::Stopped,
            Operation::Uninstall { .. } => AppState::Absent,
        }
    }
}

pub async fn run(
    daemon: Daemon,
    global: &GlobalArgs,
    request: Request,
) -> Result<Exit, ClientError> {
    if !request.wait {
        let accepted: Accepted = daemon.call(&request.method(), request.params()).await?;
        report_accepted(global, &accepted);
        return Ok(Exit::Ok);
    }
    let app = request.operation.app().to_string();
    let mut socket = daemon.socket().await?;
    let _subscription: String = socket
        .call("events.subscribe", json!({ "id": app }))
        .await?;
    // Already where it was asked to go: the operation moves nothing, so no
    // transition will come. A restart always moves.
    let restart = matches!(request.operation, Operation::Restart { .. });
    let already_there = !restart && state_of(&mut socket, &app).await? == request.target();
    let accepted: Accepted = socket.call(&request.method(), request.params()).await?;
    report_accepted(global, &accepted);
    if already_there {
        return Ok(finish(global, &app, Outcome::Reached(request.target())));
    }
    loop {
        let outcome = match socket.next_push().await? {
            Push::Event(event) => {
                print_event(global, &event);
                event
                    .transition
                    .and_then(|t| Outcome::of(t.to, request.target(), &event.reason))
            }
            // Transitions were dropped: the current state tells whether we are done.
            Push::Lagged => {
                let state = state_of(&mut socket, &app).await?;
                Outcome::of(state, request.target(), "see `archy events`")
            }
        };
        if let Some(outcome) = outcome {
            return Ok(finish(global, &app, outcome));
        }
    }
}

/// How a followed operation ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Reached(AppState),
    Failed(String),
    /// A dependency is stopped; Archy will not start it behind the user's back.
    Blocked(String),
}

impl Outcome {
    /// `None` while the app is still on its way.
    fn of(state: AppState, target: AppState, reason: &str) -> Option<Self> {
        if state == target {
            Some(Self::Reached(target))
        } else if state == AppState::Failed {
            Some(Self::Failed(reason.to_string()))
        } else if state == AppState::Blocked {
            Some(Self::Blocked(reason.to_string()))
        } else {
            None
        }
    }
}

fn finish(global: &GlobalArgs, app: &str, outcome: Outcome) -> Exit {
    match outcome {
        Outcome::Reached(state) => {
            if !global.json {
                println!("{app} is {}", name(state));
            }
            Exit::Ok
        }
        Outcome::Failed(reason) => {
            eprintln!("archy: {app} failed: {reason}");
            Exit::Failed
        }
        Outcome::Blocked(reason) => {
            eprintln!("archy: {app} is blocked: {reason}");
            Exit::Failed
        }
    }
}

/// The app's cached state; an app the daemon no longer lists is absent.
async fn state_of(socket: &mut Socket<'_>, app: &str) -> Result<AppState, ClientError> {
    let list: ContainerList = socket.call("container.list", json!({})).await?;
    Ok(list
        .apps
        .into_iter()
        .find(|status| status.id == app)
        .map_or(AppState::Absent, |status| status.state))
}

fn report_accepted(global: &GlobalArgs, accepted: &Accepted) {
    if global.json {
        println!("{}", json!(accepted));
    } else {
        println!(
            "{} {}: accepted (operation {})",
            name(accepted.op),
            accepted.app,
            accepted.op_id
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_ends_at_its_target_or_when_failed_or_blocked() {
        let running = AppState::Running;
        assert_eq!(
            Outcome::of(AppState::Running, running, "ok"),
            Some(Outcome::Reached(running))
        );
        assert_eq!(
            Outcome::of(AppState::Failed, running, "pull failed"),
            Some(Outcome::Failed("pull failed".into()))
        );
        assert_eq!(
            Outcome::of(AppState::Blocked, running, "dependency db is stopped"),
            Some(Outcome::Blocked("dependency db is stopped".into()))
        );
        assert_eq!(Outcome::of(AppState::Installing, running, ""), None);
        assert_eq!(Outcome::of(AppState::Unhealthy, running, ""), None);
    }

    #[test]
    fn each_operation_names_its_method_and_target() {
        let app = || "lnd".to_string();
        let uninstall = Request::new(
            Operation::Uninstall {
                app: app(),
                purge: true,
            },
            true,
        );
        assert_eq!(uninstall.method(), "package.uninstall");
        assert_eq!(uninstall.params(), json!({ "id": "lnd", "purge": true }));
        assert_eq!(uninstall.target(), AppState::Absent);
        let stop = Request::new(Operation::Stop { app: app() }, true);
        assert_eq!(stop.target(), AppState::Stopped);
        let restart = Request::new(Operation::Restart { app: app() }, true);
        assert_eq!(restart.method(), "package.restart");
        assert_eq!(restart.target(), AppState::Running);
        let install = Request::new(Operation::Install { app: app() }, false);
        assert_eq!(install.params(), json!({ "id": "lnd" }));
    }
}
