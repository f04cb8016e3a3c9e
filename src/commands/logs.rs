//! `archy logs <id> [--tail N]`.

use serde_json::json;

use super::Exit;
use crate::cli::{GlobalArgs, LogsArgs};
use crate::client::{ClientError, Daemon};

pub async fn run(daemon: Daemon, global: &GlobalArgs, args: LogsArgs) -> Result<Exit, ClientError> {
    let lines: Vec<String> = daemon
        .call("package.logs", json!({ "id": args.id, "tail": args.tail }))
        .await?;
    if global.json {
        println!("{}", json!(lines));
    } else {
        for line in lines {
            println!("{line}");
        }
    }
    Ok(Exit::Ok)
}
