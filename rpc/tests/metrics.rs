//! `/metrics` renders every Archy metric with HELP text, counts RPC requests
//! with bounded labels, and passes `promtool check metrics`.

mod common;
#[path = "../../tests/support/promtool.rs"]
mod promtool;

use archy_rpc::metrics::*;
use common::Harness;
use hyper::{Method, StatusCode};
use serde_json::json;

/// Record one sample of every recorded metric, as the daemon's crates would
/// (`archy_app_state` is collected from the backend at scrape time).
fn record_one_of_each() {
    use metrics::{counter, gauge, histogram};
    histogram!(RECONCILE_DURATION.name).record(0.02);
    gauge!(RECONCILE_LAST_SUCCESS.name).set(1.7e9);
    counter!(RECONCILE_PASSES.name, "result" => "success").increment(1);
    counter!(ENGINE_EVENTS.name, "kind" => "die").increment(1);
    counter!(ENGINE_REQUESTS.name, "operation" => "list_managed", "result" => "ok").increment(1);
    histogram!(ENGINE_REQUEST_DURATION.name, "operation" => "list_managed").record(0.005);
    counter!(CONTAINER_RESTARTS.name, "app" => "bitcoin").increment(1);
    counter!(ACTOR_RESTARTS.name, "actor_kind" => "app").increment(1);
    counter!(HEALTH_PROBES.name, "kind" => "http", "result" => "success").increment(1);
    histogram!(INSTALL_DURATION.name).record(42.0);
    counter!(PULL_RETRIES.name).increment(1);
}

async fn scrape(h: &Harness) -> String {
    h.rpc("container.list", json!({})).await;
    h.rpc("no.such.method", json!({})).await;
    h.rpc("package.start", json!({"id": "ghost"})).await;
    record_one_of_each();
    metrics_page(h).await
}

async fn metrics_page(h: &Harness) -> String {
    let reply = h.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body
}

/// The value of one exact series, 0 when it is not there yet.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

// Tests in this binary share the process's recorder and run in parallel, so
// counts are compared with a scrape taken before, never with fixed numbers.
#[tokio::test]
async fn metrics_have_help_for_every_name_and_count_rpc_requests() {
    let h = Harness::start().await;
    let before = metrics_page(&h).await;
    let text = scrape(&h).await;
    for metric in ALL {
        let name = metric.name;
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name} in\n{text}"
        );
    }
    for series in [
        r#"archy_rpc_requests_total{method="container.list",code="ok"}"#,
        r#"archy_rpc_requests_total{method="unknown",code="-32601"}"#,
        r#"archy_rpc_requests_total{method="package.start",code="-32001"}"#,
        r#"archy_rpc_request_duration_seconds_bucket{method="container.list",le="+Inf"}"#,
        r#"archy_install_duration_seconds_bucket{le="60"}"#,
        r#"archy_install_duration_seconds_bucket{le="1800"}"#,
    ] {
        assert!(
            value(&text, series) >= value(&before, series) + 1.0,
            "{series} did not grow by 1 in\n{text}"
        );
    }
    for series in [
        r#"archy_rpc_request_duration_seconds_bucket{method="container.list",le="0.005"}"#,
        r#"archy_build_info{version=""#,
        r#"archy_app_state{app="bitcoin",state="running"} 1"#,
        r#"archy_app_state{app="bitcoin",state="failed"} 0"#,
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    assert_eq!(text.matches("# TYPE archy_app_state gauge").count(), 1);
    assert!(
        !text.contains("no.such.method"),
        "unbounded method label leaked"
    );
}

#[test]
fn docs_explain_every_metric() {
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md");
    let docs = std::fs::read_to_string(docs).unwrap();
    for metric in ALL {
        let row = format!("| `{}` |", metric.name);
        assert!(
            docs.contains(&row),
            "docs/metrics.md has no row for {}",
            metric.name
        );
    }
}

#[tokio::test]
async fn metrics_are_also_served_on_a_separate_loopback_port() {
    let h =
        Harness::start_with(|config| config.metrics_listen = Some("127.0.0.1:0".parse().unwrap()))
            .await;
    let addr = h.gateway.metrics_addr.expect("a metrics listener");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
    let response = client
        .get(format!("http://{addr}/metrics").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Only /metrics lives there: no RPC on the scrape port.
    let rpc = client
        .get(format!("http://{addr}/rpc/v1").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rpc.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn static_dashboard_files_are_served_at_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<h1>Archy</h1>").unwrap();
    let static_dir = dir.path().to_path_buf();
    let h = Harness::start_with(|config| config.static_dir = Some(static_dir)).await;
    let reply = h.get("/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "<h1>Archy</h1>");
    assert_eq!(h.get("/missing.js").await.status, StatusCode::NOT_FOUND);
    // The static fallback does not shadow the API.
    let rpc = h
        .request(
            Method::POST,
            "/rpc/v1",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(rpc.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn promtool_accepts_the_metrics_output() {
    let h = Harness::start().await;
    let text = scrape(&h).await;
    promtool::check(&text);
}

#[tokio::test]
async fn a_taken_port_is_a_bind_error_naming_the_address() {
    let h = Harness::start().await;
    let taken = h.addr();
    let dir = tempfile::tempdir().unwrap();
    let mut config = archy_rpc::GatewayConfig::new(dir.path());
    config.listen = taken;
    let error = archy_rpc::Gateway::serve(config, common::FakeBackend::new())
        .await
        .err()
        .expect("binding a taken port must fail");
    assert!(matches!(error, archy_rpc::GatewayError::Bind { addr, .. } if addr == taken));
    assert!(error.to_string().contains(&taken.to_string()), "{error}");
}
