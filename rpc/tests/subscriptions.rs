//! Subscriptions push every journal entry, in order, after the reply that
//! names them; status feeds carry transitions only; unsubscribing stops them.

mod common;

use archy_rpc::AppState::{Installing, Running, Stopped, Stopping};
use common::{event, receive, send, Harness, Socket};
use serde_json::{json, Value};

async fn connect(h: &Harness) -> Socket {
    let bearer = h.bearer();
    h.websocket(&[("authorization", &bearer)]).await.unwrap()
}

async fn subscribe(socket: &mut Socket, method: &str, params: Value) -> String {
    send(
        socket,
        json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}),
    )
    .await;
    let reply = receive(socket).await.unwrap();
    assert_eq!(
        reply["id"], 1,
        "the reply must come before any push: {reply}"
    );
    reply["result"]
        .as_str()
        .expect("a subscription id")
        .to_string()
}

#[tokio::test]
async fn events_subscription_delivers_every_entry_in_order() {
    let h = Harness::start().await;
    let mut socket = connect(&h).await;
    let subscription = subscribe(&mut socket, "events.subscribe", json!({})).await;
    for seq in 1..=50 {
        h.backend.events.send(event(seq, "bitcoin", None)).unwrap();
    }
    for seq in 1..=50 {
        let push = receive(&mut socket).await.unwrap();
        assert_eq!(push["method"], "events.subscription");
        assert!(push.get("id").is_none(), "a push is a notification: {push}");
        assert_eq!(push["params"]["subscription"], subscription);
        assert_eq!(push["params"]["result"]["seq"], seq);
    }
}

#[tokio::test]
async fn status_subscription_carries_transitions_only_and_can_filter_by_app() {
    let h = Harness::start().await;
    let mut socket = connect(&h).await;
    subscribe(&mut socket, "status.subscribe", json!({"id": "lnd"})).await;
    h.backend.events.send(event(1, "lnd", None)).unwrap();
    h.backend
        .events
        .send(event(2, "bitcoin", Some((Installing, Running))))
        .unwrap();
    h.backend
        .events
        .send(event(3, "lnd", Some((Running, Stopping))))
        .unwrap();
    h.backend
        .events
        .send(event(4, "lnd", Some((Stopping, Stopped))))
        .unwrap();
    let first = receive(&mut socket).await.unwrap();
    assert_eq!(first["method"], "status.subscription");
    assert_eq!(first["params"]["result"]["seq"], 3);
    assert_eq!(
        first["params"]["result"]["transition"],
        json!({"from": "running", "to": "stopping"})
    );
    assert_eq!(
        receive(&mut socket).await.unwrap()["params"]["result"]["seq"],
        4
    );
}

#[tokio::test]
async fn unsubscribe_stops_the_pushes() {
    let h = Harness::start().await;
    let mut socket = connect(&h).await;
    let first = subscribe(&mut socket, "events.subscribe", json!({})).await;
    let second = subscribe(&mut socket, "events.subscribe", json!({"id": "bitcoin"})).await;
    assert_ne!(first, second);
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "events.unsubscribe", "params": [first], "id": 2}),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await.unwrap(),
        json!({"jsonrpc": "2.0", "result": true, "id": 2})
    );
    h.backend.events.send(event(1, "bitcoin", None)).unwrap();
    let push = receive(&mut socket).await.unwrap();
    assert_eq!(push["params"]["subscription"], second);
    // Only the remaining subscription pushed: the next message is this reply.
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "events.unsubscribe", "params": [first], "id": 3}),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await.unwrap(),
        json!({"jsonrpc": "2.0", "result": false, "id": 3})
    );
}

#[tokio::test]
async fn subscriptions_per_connection_are_limited() {
    let h = Harness::start_with(|config| config.limits.max_subscriptions_per_connection = 2).await;
    let mut socket = connect(&h).await;
    subscribe(&mut socket, "events.subscribe", json!({})).await;
    subscribe(&mut socket, "status.subscribe", json!({})).await;
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "events.subscribe", "id": 9}),
    )
    .await;
    assert_eq!(receive(&mut socket).await.unwrap()["error"]["code"], -32008);
}

#[tokio::test]
async fn websocket_speaks_the_same_framing_as_http() {
    let h = Harness::start().await;
    let mut socket = connect(&h).await;
    send(
        &mut socket,
        json!([
            {"jsonrpc": "2.0", "method": "package.stop", "params": ["bitcoin"]},
            {"jsonrpc": "2.0", "method": 1},
            {"jsonrpc": "2.0", "method": "registry.list", "id": 7}
        ]),
    )
    .await;
    let replies = receive(&mut socket).await.unwrap();
    assert_eq!(replies[0]["error"]["code"], -32600);
    assert_eq!(replies[1]["id"], 7);
    assert_eq!(replies.as_array().unwrap().len(), 2);
    // A lone notification gets no message at all: the next one is the reply to id 8.
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "package.start", "params": ["bitcoin"]}),
    )
    .await;
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "system.info", "id": 8}),
    )
    .await;
    assert_eq!(receive(&mut socket).await.unwrap()["id"], 8);
    assert_eq!(
        h.backend.calls(),
        [
            r#"submit {"op":"stop","app":"bitcoin"}"#,
            "registry",
            r#"submit {"op":"start","app":"bitcoin"}"#,
            "system_info"
        ]
    );
    use futures::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            "{oops".into(),
        ))
        .await
        .unwrap();
    assert_eq!(receive(&mut socket).await.unwrap()["error"]["code"], -32700);
}

#[tokio::test]
async fn shutdown_closes_open_websockets_and_returns() {
    let h = Harness::start().await;
    let mut socket = connect(&h).await;
    subscribe(&mut socket, "events.subscribe", json!({})).await;
    let common::Harness { gateway, .. } = h;
    tokio::time::timeout(std::time::Duration::from_secs(5), gateway.shutdown())
        .await
        .expect("shutdown waited on an open WebSocket")
        .unwrap();
    assert_eq!(receive(&mut socket).await, None);
}

#[tokio::test]
async fn open_websockets_are_limited_and_a_closed_one_frees_its_slot() {
    let h = Harness::start_with(|config| config.limits.max_websockets = 1).await;
    let bearer = h.bearer();
    let mut first = connect(&h).await;
    assert_eq!(
        h.websocket(&[("authorization", &bearer)]).await.err(),
        Some(hyper::StatusCode::SERVICE_UNAVAILABLE)
    );
    first.close(None).await.unwrap();
    assert_eq!(receive(&mut first).await, None);
    // The server frees the slot once its side of the socket has ended.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while h.websocket(&[("authorization", &bearer)]).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        tokio::task::yield_now().await;
    }
}
