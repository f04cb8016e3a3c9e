//! `archy events [id] [--follow]`: the journal, then (with `--follow`) what
//! happens next.

use archy_rpc::Event;
use serde_json::json;

use super::{event_line, print_event, Exit};
use crate::cli::{EventsArgs, GlobalArgs};
use crate::client::{ClientError, Daemon, Push};

pub async fn run(
    daemon: Daemon,
    global: &GlobalArgs,
    args: EventsArgs,
) -> Result<Exit, ClientError> {
    let filter = json!({ "id": args.id });
    if !args.follow {
        let history: Vec<Event> = daemon.call("app.events", filter).await?;
        if global.json {
            println!("{}", json!(history));
        } else {
            history
                .iter()
                .for_each(|event| println!("{}", event_line(event)));
        }
        return Ok(Exit::Ok);
    }
    // Subscribe before reading the history, so nothing falls between them;
    // entries both in the history and pushed are printed once (by seq).
    let mut socket = daemon.socket().await?;
    let _subscription: String = socket.call("events.subscribe", filter).await?;
    let history: Vec<Event> = socket.call("app.events", json!({ "id": args.id })).await?;
    let mut last_seq = None;
    for event in &history {
        print_event(global, event);
        last_seq = Some(event.seq);
    }
    loop {
        match socket.next_push().await? {
            Push::Event(event) if last_seq.is_none_or(|last| event.seq > last) => {
                print_event(global, &event);
                last_seq = Some(event.seq);
            }
            Push::Event(_) => {}
            // Pushes were dropped: the journal still has them.
            Push::Lagged => {
                let since = json!({ "id": args.id, "since": last_seq });
                let missed: Vec<Event> = socket.call("app.events", since).await?;
                for event in &missed {
                    print_event(global, event);
                    last_seq = Some(event.seq);
                }
            }
        }
    }
}
