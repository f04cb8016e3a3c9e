//! JSON-RPC over WebSocket: the HTTP methods plus subscriptions that push
//! every journal entry, in order, to the connection that asked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::auth::Principal;
use crate::backend::Event;
use crate::gateway::Shared;
use crate::jsonrpc::{self, Call, ErrorCode, RpcError};
use crate::methods;

/// Messages queued for a slow client before its subscriptions start lagging.
const OUTBOX: usize = 1024;

pub(crate) async fn serve(socket: WebSocket, shared: Arc<Shared>, principal: Principal) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut outgoing) = mpsc::channel::<String>(OUTBOX);
    // One writer keeps replies and pushes in the order they were queued.
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    });
    let connection = Connection {
        shared: shared.clone(),
        outbox,
        subscriptions: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
    };
    let mut revoked = principal.revoked();
    let mut shutdown = shared.shutdown.clone();
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            _ = until_revoked(&mut revoked) => break,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let body = match message {
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
        };
        let max_batch = shared.limits.max_batch;
        let reply = jsonrpc::process(&body, max_batch, |call| connection.handle(call)).await;
        if let Some(reply) = reply {
            if connection.outbox.send(reply).await.is_err() {
                break;
            }
        }
        // Only now: a subscription's first push must follow the reply carrying its id.
        connection.start_pending();
    }
    connection.stop_all();
    drop(connection);
    let _ = writer.await;
}

/// Completes when the session is logged out or expires; never for the local token.
async fn until_revoked(revoked: &mut Option<watch::Receiver<bool>>) {
    match revoked {
        Some(revoked) => {
            let _ = revoked.wait_for(|revoked| *revoked).await;
        }
        None => std::future::pending().await,
    }
}

struct Connection {
    shared: Arc<Shared>,
    outbox: mpsc::Sender<String>,
    subscriptions: Mutex<HashMap<String, Subscription>>,
    next_id: AtomicU64,
}

enum Subscription {
    /// Receiving already (so nothing is missed) but not yet forwarding.
    Pending {
        feed: Feed,
        app: Option<String>,
        events: broadcast::Receiver<Event>,
    },
    Forwarding(JoinHandle<()>),
}

#[derive(Debug, Clone, Copy)]
enum Feed {
    /// State transitions only.
    Status,
    /// Every journal entry.
    Events,
}

impl Feed {
    fn wants(self, event: &Event, app: Option<&str>) -> bool {
        let feed_wants = match self {
            Self::Status => event.transition.is_some(),
            Self::Events => true,
        };
        feed_wants && app.is_none_or(|app| event.app.as_deref() == Some(app))
    }

    fn name(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Events => "events",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeParams {
    /// Only this app's entries.
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsubscribeParams {
    subscription: String,
}

impl Connection {
    async fn handle(&self, call: Call) -> Result<Value, RpcError> {
        let Call { method, params, .. } = call;
        methods::observed(&method, async {
            match method.as_str() {
                "status.subscribe" => self.subscribe(Feed::Status, params),
                "events.subscribe" => self.subscribe(Feed::Events, params),
                "status.unsubscribe" | "events.unsubscribe" => self.unsubscribe(params),
                _ => methods::call(&*self.shared.backend, &method, params).await,
            }
        })
        .await
    }

    fn subscribe(&self, feed: Feed, params: Option<Value>) -> Result<Value, RpcError> {
        let SubscribeParams { id: app } = methods::parse(params)?;
        let mut subscriptions = self.lock();
        let limit = self.shared.limits.max_subscriptions_per_connection;
        if subscriptions.len() >= limit {
            return Err(RpcError::new(
                ErrorCode::LimitExceeded,
                format!("at most {limit} subscriptions per connection; unsubscribe one first"),
            ));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let events = self.shared.backend.subscribe();
        subscriptions.insert(id.clone(), Subscription::Pending { feed, app, events });
        Ok(Value::String(id))
    }

    fn unsubscribe(&self, params: Option<Value>) -> Result<Value, RpcError> {
        let UnsubscribeParams { subscription } = methods::parse(params)?;
        let removed = self.lock().remove(&subscription);
        if let Some(Subscription::Forwarding(task)) = &removed {
            task.abort();
        }
        Ok(Value::Bool(removed.is_some()))
    }

    fn start_pending(&self) {
        let mut subscriptions = self.lock();
        let pending: Vec<String> = subscriptions
            .iter()
            .filter(|(_, subscription)| matches!(subscription, Subscription::Pending { .. }))
            .map(|(id, _)| id.clone())
            .collect();
        for id in pending {
            if let Some(Subscription::Pending { feed, app, events }) = subscriptions.remove(&id) {
                let task = forward(feed, id.clone(), app, events, self.outbox.clone());
                subscriptions.insert(id, Subscription::Forwarding(tokio::spawn(task)));
            }
        }
    }

    fn stop_all(&self) {
        for (_, subscription) in self.lock().drain() {
            if let Subscription::Forwarding(task) = subscription {
                task.abort();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Subscription>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn forward(
    feed: Feed,
    subscription: String,
    app: Option<String>,
    mut events: broadcast::Receiver<Event>,
    outbox: mpsc::Sender<String>,
) {
    loop {
        let (method, params) = match events.recv().await {
            Ok(event) if feed.wants(&event, app.as_deref()) => (
                format!("{}.subscription", feed.name()),
                json!({ "subscription": subscription, "result": event }),
            ),
            Ok(_) => continue,
            // The client fell behind: say how much it missed so it can re-read state.
            Err(broadcast::error::RecvError::Lagged(missed)) => (
                format!("{}.lagged", feed.name()),
                json!({ "subscription": subscription, "missed": missed }),
            ),
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let text = json!({ "jsonrpc": "2.0", "method": method, "params": params }).to_string();
        if outbox.send(text).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Event {
        Event {
            seq,
            at_unix_ms: seq,
            app: Some("bitcoin".into()),
            transition: None,
            reason: String::new(),
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_how_many_entries_it_missed() {
        let (events, receiver) = broadcast::channel(2);
        for seq in 1..=5 {
            events.send(entry(seq)).unwrap();
        }
        drop(events);
        let (outbox, mut pushed) = mpsc::channel(16);
        forward(Feed::Events, "7".into(), None, receiver, outbox).await;
        let mut messages = Vec::new();
        while let Some(text) = pushed.recv().await {
            messages.push(serde_json::from_str::<Value>(&text).unwrap());
        }
        assert_eq!(messages[0]["method"], "events.lagged");
        assert_eq!(
            messages[0]["params"],
            json!({"subscription": "7", "missed": 3})
        );
        let seqs: Vec<_> = messages[1..]
            .iter()
            .map(|m| m["params"]["result"]["seq"].clone())
            .collect();
        assert_eq!(seqs, [json!(4), json!(5)]);
    }
}
