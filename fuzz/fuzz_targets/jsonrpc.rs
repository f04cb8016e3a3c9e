//! The JSON-RPC 2.0 framing (`archy_rpc::jsonrpc::process`) on arbitrary bodies.
//!
//! Properties: it never panics; every reply is valid JSON-RPC 2.0 (a response
//! object, or a non-empty array of them, each with `jsonrpc: "2.0"`, an `id`
//! and exactly one of `result` / `error`); every id answered is null or one
//! the body carried; and silence (`None`) only ever answers valid JSON.
#![no_main]

use archy_rpc::jsonrpc::{self, Call, ErrorCode, RpcError};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// Small, so the batch-limit branch is reached by short inputs too.
const MAX_BATCH: usize = 4;

/// Answers by method name so both the result and the error path are taken.
async fn handle(call: Call) -> Result<Value, RpcError> {
    match call.method.as_str() {
        "fail" => Err(RpcError::new(ErrorCode::Busy, "busy")),
        _ => Ok(json!({ "method": call.method, "params": call.params })),
    }
}

fuzz_target!(|body: &[u8]| {
    let reply = futures::executor::block_on(jsonrpc::process(body, MAX_BATCH, handle));
    let Some(text) = reply else {
        assert!(
            serde_json::from_slice::<Value>(body).is_ok(),
            "silence answered a body that is not JSON"
        );
        return;
    };
    let reply: Value = serde_json::from_str(&text).expect("the reply is JSON");
    let responses = match reply {
        Value::Array(responses) => {
            assert!(
                !responses.is_empty(),
                "an empty batch reply must be silence"
            );
            responses
        }
        single => vec![single],
    };
    let body_ids = ids_in(body);
    for response in &responses {
        assert_valid_response(response, &body_ids);
    }
});

fn assert_valid_response(response: &Value, body_ids: &[Value]) {
    let object = response.as_object().expect("a response is an object");
    assert_eq!(object.get("jsonrpc"), Some(&json!("2.0")), "{response}");
    let id = object.get("id").expect("a response always has an id");
    assert!(
        id.is_null() || body_ids.iter().any(|sent| same_id(sent, id)),
        "id {id} was never sent: {response}"
    );
    let has_result = object.contains_key("result");
    let error = object.get("error");
    assert!(
        has_result != error.is_some(),
        "exactly one of result/error: {response}"
    );
    if let Some(error) = error {
        assert!(
            error["code"].is_i64(),
            "error.code is an integer: {response}"
        );
        assert!(
            error["message"].is_string(),
            "error.message is a string: {response}"
        );
    }
    assert_eq!(
        object.len(),
        3,
        "nothing but jsonrpc, id, result|error: {response}"
    );
}

/// serde_json's default float parsing may land one ULP off the nearest f64,
/// so a float id read back from the reply text may differ from the one read
/// from the body in its last bit (a huge integer id is held as a float).
fn same_id(sent: &Value, answered: &Value) -> bool {
    match (sent.as_f64(), answered.as_f64()) {
        (Some(a), Some(b)) if sent.is_f64() || answered.is_f64() => {
            a == b || (a - b).abs() <= a.abs().max(b.abs()) * 4.0 * f64::EPSILON
        }
        _ => sent == answered,
    }
}

/// Every `id` the body carried, in a single request or a batch.
fn ids_in(body: &[u8]) -> Vec<Value> {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let items = match message {
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .iter()
        .filter_map(|item| item.get("id").cloned())
        .collect()
}
