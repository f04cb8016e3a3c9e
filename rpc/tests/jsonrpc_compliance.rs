//! The JSON-RPC 2.0 specification's §7 examples, mapped onto Archy's methods,
//! answered exactly; and the rest of the framing rules.

mod common;

use archy_rpc::{METHODS, SUBSCRIPTION_METHODS};
use common::Harness;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

fn logs(n: u64) -> Value {
    Value::from((1..=n).map(|n| format!("line {n}")).collect::<Vec<_>>())
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error in {response}"))
}

#[tokio::test]
async fn call_with_positional_params_answers_result_and_id() {
    let h = Harness::start().await;
    let reply = h
        .rpc_raw(
            r#"{"jsonrpc": "2.0", "method": "package.logs", "params": ["bitcoin", 2], "id": 1}"#,
        )
        .await;
    assert_eq!(
        reply.json(),
        json!({"jsonrpc": "2.0", "result": logs(2), "id": 1})
    );
}

#[tokio::test]
async fn call_with_named_params_answers_result_and_id() {
    let h = Harness::start().await;
    let reply = h
        .rpc_raw(r#"{"jsonrpc": "2.0", "method": "package.logs", "params": {"tail": 3, "id": "bitcoin"}, "id": 3}"#)
        .await;
    assert_eq!(
        reply.json(),
        json!({"jsonrpc": "2.0", "result": logs(3), "id": 3})
    );
}

#[tokio::test]
async fn notification_is_executed_and_answered_with_nothing() {
    let h = Harness::start().await;
    let reply = h
        .rpc_raw(r#"{"jsonrpc": "2.0", "method": "package.start", "params": ["bitcoin"]}"#)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, "");
    let reply = h
        .rpc_raw(r#"{"jsonrpc": "2.0", "method": "registry.reload"}"#)
        .await;
    assert_eq!(reply.body, "");
    assert_eq!(
        h.backend.calls(),
        [r#"submit {"op":"start","app":"bitcoin"}"#, "reload"]
    );
}

#[tokio::test]
async fn unknown_method_is_method_not_found_with_its_id() {
    let h = Harness::start().await;
    let response = h
        .rpc_raw(r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
        .await
        .json();
    assert_eq!(error_code(&response), -32601);
    assert_eq!(response["id"], "1");
    assert!(response.get("result").is_none());
}

#[tokio::test]
async fn invalid_json_is_parse_error_with_null_id() {
    let h = Harness::start().await;
    let response = h
        .rpc_raw(r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
        .await
        .json();
    assert_eq!(error_code(&response), -32700);
    assert_eq!(response["id"], Value::Null);
}

#[tokio::test]
async fn valid_json_that_is_no_request_is_invalid_request_not_parse_error() {
    let h = Harness::start().await;
    let response = h
        .rpc_raw(r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
        .await
        .json();
    assert_eq!(error_code(&response), -32600);
    assert_eq!(response["id"], Value::Null);
}

#[tokio::test]
async fn batch_of_invalid_json_is_one_parse_error() {
    let h = Harness::start().await;
    let response = h
        .rpc_raw(
            r#"[
  {"jsonrpc": "2.0", "method": "package.logs", "params": ["bitcoin", 2], "id": "1"},
  {"jsonrpc": "2.0", "method"
]"#,
        )
        .await
        .json();
    assert_eq!(error_code(&response), -32700);
    assert_eq!(response["id"], Value::Null);
}

#[tokio::test]
async fn empty_batch_is_one_invalid_request_with_null_id() {
    let h = Harness::start().await;
    let response = h.rpc_raw("[]").await.json();
    assert!(
        response.is_object(),
        "one response, not an array: {response}"
    );
    assert_eq!(error_code(&response), -32600);
    assert_eq!(response["id"], Value::Null);
}

#[tokio::test]
async fn batch_of_one_non_request_is_an_array_of_one_error() {
    let h = Harness::start().await;
    let response = h.rpc_raw("[1]").await.json();
    let items = response.as_array().expect("an array");
    assert_eq!(items.len(), 1);
    assert_eq!(error_code(&items[0]), -32600);
    assert_eq!(items[0]["id"], Value::Null);
}

#[tokio::test]
async fn batch_of_three_non_requests_is_three_errors() {
    let h = Harness::start().await;
    let response = h.rpc_raw("[1,2,3]").await.json();
    let items = response.as_array().expect("an array");
    assert_eq!(items.len(), 3);
    for item in items {
        assert_eq!(error_code(item), -32600);
        assert_eq!(item["id"], Value::Null);
    }
}

#[tokio::test]
async fn mixed_batch_answers_each_request_in_order_and_runs_the_notification() {
    let h = Harness::start().await;
    let response = h
        .rpc_raw(
            r#"[
        {"jsonrpc": "2.0", "method": "package.logs", "params": ["bitcoin", 1], "id": "1"},
        {"jsonrpc": "2.0", "method": "package.stop", "params": ["lnd"]},
        {"jsonrpc": "2.0", "method": "package.logs", "params": ["bitcoin", 2], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "registry.list", "id": "9"}
    ]"#,
        )
        .await
        .json();
    let items = response.as_array().expect("an array");
    assert_eq!(items.len(), 5, "{response}");
    assert_eq!(
        items[0],
        json!({"jsonrpc": "2.0", "result": logs(1), "id": "1"})
    );
    assert_eq!(
        items[1],
        json!({"jsonrpc": "2.0", "result": logs(2), "id": "2"})
    );
    assert_eq!(
        (error_code(&items[2]), &items[2]["id"]),
        (-32600, &Value::Null)
    );
    assert_eq!(
        (error_code(&items[3]), &items[3]["id"]),
        (-32601, &json!("5"))
    );
    assert_eq!(items[4]["id"], "9");
    assert_eq!(items[4]["result"][0]["id"], "bitcoin");
    assert!(h
        .backend
        .calls()
        .contains(&r#"submit {"op":"stop","app":"lnd"}"#.to_string()));
}

#[tokio::test]
async fn batch_of_notifications_only_returns_nothing_and_runs_them_all() {
    let h = Harness::start().await;
    let reply = h
        .rpc_raw(
            r#"[
        {"jsonrpc": "2.0", "method": "package.restart", "params": ["bitcoin"]},
        {"jsonrpc": "2.0", "method": "package.uninstall", "params": {"id": "lnd", "purge": true}}
    ]"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, "");
    assert_eq!(
        h.backend.calls(),
        [
            r#"submit {"op":"restart","app":"bitcoin"}"#,
            r#"submit {"op":"uninstall","app":"lnd","purge":true}"#
        ]
    );
}

#[tokio::test]
async fn wrong_params_are_invalid_params() {
    let h = Harness::start().await;
    for (method, params) in [
        ("package.install", json!({"name": "bitcoin"})),
        ("package.install", json!([])),
        ("package.install", json!(["bitcoin", "extra"])),
        ("package.logs", json!({"id": "bitcoin", "tail": -1})),
        ("package.logs", json!({"id": "bitcoin", "tail": 10_001})),
        ("container.list", json!({"unexpected": true})),
    ] {
        let response = h.rpc(method, params.clone()).await;
        assert_eq!(
            error_code(&response),
            -32602,
            "{method} {params}: {response}"
        );
    }
    assert!(h.backend.calls().is_empty(), "{:?}", h.backend.calls());
}

#[tokio::test]
async fn malformed_request_members_are_invalid_request() {
    let h = Harness::start().await;
    for (body, id) in [
        (
            r#"{"jsonrpc": "1.0", "method": "system.info", "id": 4}"#,
            json!(4),
        ),
        (r#"{"method": "system.info", "id": 4}"#, json!(4)),
        (
            r#"{"jsonrpc": "2.0", "method": "system.info", "params": "x", "id": 4}"#,
            json!(4),
        ),
        (
            r#"{"jsonrpc": "2.0", "method": "system.info", "id": {"a": 1}}"#,
            Value::Null,
        ),
        (r#"{"jsonrpc": "2.0", "id": 4}"#, json!(4)),
        ("\"just a string\"", Value::Null),
    ] {
        let response = h.rpc_raw(body).await.json();
        assert_eq!(error_code(&response), -32600, "{body}: {response}");
        assert_eq!(response["id"], id, "{body}");
    }
    assert!(h.backend.calls().is_empty());
}

#[tokio::test]
async fn null_id_is_a_request_and_gets_a_response() {
    let h = Harness::start().await;
    let response = h
        .rpc_raw(r#"{"jsonrpc": "2.0", "method": "system.info", "id": null}"#)
        .await
        .json();
    assert_eq!(response["id"], Value::Null);
    assert_eq!(response["result"]["engine"]["version"], "4.3.1");
}

#[tokio::test]
async fn batch_above_the_limit_is_refused_whole() {
    let h = Harness::start_with(|config| config.limits.max_batch = 2).await;
    let call = r#"{"jsonrpc": "2.0", "method": "registry.list", "id": 1}"#;
    let response = h.rpc_raw(&format!("[{call},{call},{call}]")).await.json();
    assert_eq!(error_code(&response), -32600);
    assert!(h.backend.calls().is_empty());
    let response = h.rpc_raw(&format!("[{call},{call}]")).await.json();
    assert_eq!(response.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn backend_errors_keep_their_stable_code_and_message() {
    let h = Harness::start().await;
    let response = h.rpc("package.install", json!({"id": "ghost"})).await;
    assert_eq!(
        response,
        json!({"jsonrpc": "2.0", "error": {"code": -32001, "message": "no app named ghost; see registry.list"}, "id": 1})
    );
}

#[tokio::test]
async fn subscriptions_over_http_say_they_need_a_websocket() {
    let h = Harness::start().await;
    for method in SUBSCRIPTION_METHODS {
        let response = h.rpc(method, json!({})).await;
        assert_eq!(error_code(&response), -32601);
        assert!(response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("WebSocket"));
    }
}

#[tokio::test]
async fn every_method_reaches_its_backend_operation() {
    let h = Harness::start().await;
    let cases = [
        ("container.list", json!(null), "list"),
        (
            "container.health",
            json!({"id": "bitcoin"}),
            r#"health Some("bitcoin")"#,
        ),
        (
            "package.install",
            json!({"id": "bitcoin"}),
            r#"submit {"op":"install","app":"bitcoin"}"#,
        ),
        (
            "package.start",
            json!({"id": "bitcoin"}),
            r#"submit {"op":"start","app":"bitcoin"}"#,
        ),
        (
            "package.stop",
            json!({"id": "bitcoin"}),
            r#"submit {"op":"stop","app":"bitcoin"}"#,
        ),
        (
            "package.restart",
            json!({"id": "bitcoin"}),
            r#"submit {"op":"restart","app":"bitcoin"}"#,
        ),
        (
            "package.uninstall",
            json!({"id": "bitcoin"}),
            r#"submit {"op":"uninstall","app":"bitcoin","purge":false}"#,
        ),
        ("package.logs", json!({"id": "bitcoin"}), "logs bitcoin 200"),
        ("app.events", json!({"since": 5}), "events None Some(5)"),
        ("app.get", json!({"id": "bitcoin"}), "manifest bitcoin"),
        ("registry.list", json!([]), "registry"),
        ("registry.reload", json!({}), "reload"),
        ("system.info", json!(null), "system_info"),
    ];
    assert_eq!(cases.len(), METHODS.len(), "a method without a case");
    for (method, params, expected) in cases {
        let body = match params {
            Value::Null => json!({"jsonrpc": "2.0", "method": method, "id": 1}),
            params => json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}),
        };
        let response = h.rpc_raw(&body.to_string()).await.json();
        assert!(response.get("result").is_some(), "{method}: {response}");
        assert_eq!(
            h.backend.calls().last().map(String::as_str),
            Some(expected),
            "{method}"
        );
    }
}

#[tokio::test]
async fn results_carry_the_dto_fields_clients_rely_on() {
    let h = Harness::start().await;
    let list = h.rpc("container.list", json!({})).await["result"].clone();
    assert_eq!(list["engine_reachable"], true);
    let app = &list["apps"][0];
    for field in [
        "id",
        "name",
        "state",
        "health",
        "ports",
        "companions",
        "user_stopped",
        "last_reason",
        "restart_count",
    ] {
        assert!(
            app.get(field).is_some(),
            "container.list app lacks {field}: {app}"
        );
    }
    assert_eq!(app["state"], "running");
    let accepted = h.rpc("package.install", json!(["bitcoin"])).await["result"].clone();
    assert_eq!(
        accepted,
        json!({"op_id": "op-1", "app": "bitcoin", "op": "install"})
    );
    let info = h.rpc("system.info", json!({})).await["result"].clone();
    assert_eq!(info["actors"]["children"][0]["restarts"], 1);
    let manifest = h.rpc("app.get", json!({"id": "bitcoin"})).await["result"].clone();
    assert_eq!(manifest["env"]["RPC_PASSWORD"], "<redacted>");
}

#[tokio::test]
async fn non_json_content_type_is_refused_before_dispatch() {
    let h = Harness::start().await;
    let bearer = h.bearer();
    let reply = h
        .request(
            Method::POST,
            "/rpc/v1",
            &[("authorization", &bearer), ("content-type", "text/plain")],
            r#"{"jsonrpc": "2.0", "method": "registry.reload"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(h.backend.calls().is_empty());
}

#[tokio::test]
async fn body_above_one_mebibyte_is_refused() {
    let h = Harness::start().await;
    let padding = " ".repeat(1024 * 1024);
    let reply = h
        .rpc_raw(&format!(
            r#"{{"jsonrpc": "2.0", "method": "registry.reload"{padding}}}"#
        ))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(h.backend.calls().is_empty());
}
