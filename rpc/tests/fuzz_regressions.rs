//! Inputs the `jsonrpc` fuzz target (fuzz/, docs/fuzzing.md) found, replayed
//! through the whole gateway so they stay answered well-formed.

mod common;

use common::Harness;
use serde_json::Value;

/// fuzz/artifacts/jsonrpc/crash-2dbdebfe…: a batch holding one invalid request
/// whose id is a 126-digit integer. serde_json holds it as the nearest f64, so
/// the id answered is that float, not the digits sent (see docs/fuzzing.md).
#[tokio::test]
async fn invalid_request_with_an_integer_id_past_64_bits_is_answered_with_that_id() {
    let h = Harness::start().await;
    let huge = format!("-78{}", "7".repeat(124));
    let reply = h
        .rpc_raw(&format!(r#"[{{"jd": "noh", "id": {huge}}}]"#))
        .await
        .json();

    let Value::Array(responses) = reply else {
        panic!("a batch is answered with an array: {reply}");
    };
    let [response] = responses.as_slice() else {
        panic!("one request, one response: {responses:?}");
    };
    assert_eq!(response["jsonrpc"], "2.0");
    assert_eq!(response["error"]["code"], -32600);
    assert!(response.get("result").is_none(), "{response}");
    let sent: f64 = huge.parse().unwrap();
    let answered = response["id"].as_f64().expect("the id is a number");
    assert!(
        ((answered - sent) / sent).abs() < 1e-15,
        "answered id {answered} is not the id sent {sent}"
    );
}
