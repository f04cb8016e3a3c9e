//! A JSON-RPC client for the daemon's `/rpc/v1`, with its local bearer token.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// No call the suite makes should take longer: reads never wait (invariant 2).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("{method}: no answer: {reason}")]
    Transport { method: String, reason: String },
    #[error("{method}: error {code}: {message}")]
    Refused {
        method: String,
        code: i64,
        message: String,
    },
}

impl RpcError {
    /// The JSON-RPC error code, when the daemon answered with one.
    pub fn code(&self) -> Option<i64> {
        match self {
            RpcError::Refused { code, .. } => Some(*code),
            RpcError::Transport { .. } => None,
        }
    }
}

#[derive(Clone)]
pub struct Rpc {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    token: String,
}

impl Rpc {
    pub fn new(addr: SocketAddr, token: String) -> Self {
        Rpc {
            client: Client::builder(TokioExecutor::new()).build_http(),
            addr,
            token,
        }
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let transport = |reason: String| RpcError::Transport {
            method: method.into(),
            reason,
        };
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let request = hyper::Request::post(format!("http://{}/rpc/v1", self.addr))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| transport(e.to_string()))?;
        let answer = tokio::time::timeout(CALL_TIMEOUT, async {
            let bytes = read_body(self.client.request(request)).await?;
            serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string())
        })
        .await
        .map_err(|_| transport(format!("timed out after {CALL_TIMEOUT:?}")))?
        .map_err(transport)?;
        match answer.get("error") {
            Some(error) => Err(RpcError::Refused {
                method: method.into(),
                code: error["code"].as_i64().unwrap_or_default(),
                message: error["message"].as_str().unwrap_or_default().into(),
            }),
            None => Ok(answer["result"].clone()),
        }
    }

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> Result<String, RpcError> {
        let transport = |reason: String| RpcError::Transport {
            method: "GET /metrics".into(),
            reason,
        };
        let uri: hyper::Uri = format!("http://{}/metrics", self.addr)
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| transport(e.to_string()))?;
        let text = tokio::time::timeout(CALL_TIMEOUT, async {
            let bytes = read_body(self.client.get(uri)).await?;
            Ok::<_, String>(String::from_utf8_lossy(&bytes).into_owned())
        })
        .await
        .map_err(|_| transport(format!("timed out after {CALL_TIMEOUT:?}")))?
        .map_err(transport)?;
        Ok(text)
    }
}

/// The whole body of the response `request` brings.
async fn read_body(request: hyper_util::client::legacy::ResponseFuture) -> Result<Bytes, String> {
    let response = request.await.map_err(|e| e.to_string())?;
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.to_bytes())
}

/// The sum of every series of a Prometheus counter (0 when absent).
pub fn counter_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
