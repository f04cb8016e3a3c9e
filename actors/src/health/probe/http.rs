//! http probe: GET the path on the published port, expect one status.

use std::net::SocketAddr;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::error_chain;

pub type Client = hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>;

/// No idle connections are kept: each probe opens its own, as a user would.
pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http()
}

pub async fn get(
    client: &Client,
    addr: SocketAddr,
    path: &str,
    expected: u16,
) -> Result<(), String> {
    let uri: Uri = format!("http://{addr}{path}")
        .parse()
        .map_err(|e| format!("invalid URL: {e}"))?;
    let response = client.get(uri).await.map_err(|e| error_chain(&e))?;
    match response.status().as_u16() {
        status if status == expected => Ok(()),
        status => Err(format!("{status}, expected {expected}")),
    }
}
