//! `archy serve` as a child process, and a JSON-RPC client for it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The release binary cargo built for this bench.
const ARCHY: &str = env!("CARGO_BIN_EXE_archy");

/// The daemon under test: this build's, or `ARCHY_BENCH_DAEMON` (to measure
/// another build under the same conditions, say the commit before a change).
fn archy() -> String {
    std::env::var("ARCHY_BENCH_DAEMON").unwrap_or_else(|_| ARCHY.to_string())
}

pub struct Daemon {
    child: Child,
    pub rpc: Rpc,
    /// From spawn to the first answered `system.info`.
    pub first_answer: Duration,
}

impl Daemon {
    /// Spawns `archy serve` and polls in a tight loop until it answers.
    pub async fn start(
        state: &Path,
        catalog: &Path,
        engine: &Path,
        listen: SocketAddr,
    ) -> Result<Daemon, BoxError> {
        let token_file = state.join("auth").join("local-token");
        let _ = std::fs::remove_file(&token_file);
        let started = Instant::now();
        let mut child = Command::new(archy())
            .arg("--state-dir")
            .arg(state)
            .arg("serve")
            .arg("--catalog")
            .arg(catalog)
            .arg("--engine")
            .arg(engine)
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--dashboard")
            .arg(state.join("no-dashboard"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let deadline = started + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(format!("archy serve exited early: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("archy serve did not answer within 60 s".into());
            }
            let Ok(token) = std::fs::read_to_string(&token_file) else {
                tokio::task::yield_now().await;
                continue;
            };
            let rpc = Rpc::new(listen, token.trim());
            if rpc.call("system.info", json!({})).await.is_ok() {
                let first_answer = started.elapsed();
                return Ok(Daemon {
                    child,
                    rpc,
                    first_answer,
                });
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// VmRSS from /proc, in KiB.
    pub fn rss_kib(&self) -> Result<u64, BoxError> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS line".into())
    }

    /// SIGTERM and wait: containers keep running for the next start to adopt.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        let pid = self.pid().to_string();
        Command::new("kill").arg("-TERM").arg(&pid).status().await?;
        tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        Ok(())
    }
}

#[derive(Clone)]
pub struct Rpc {
    addr: SocketAddr,
    token: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Rpc {
    pub fn new(addr: SocketAddr, token: &str) -> Self {
        Rpc {
            addr,
            token: token.to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// One call over a pooled keep-alive connection; the JSON-RPC result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, BoxError> {
        let body = json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": 1 });
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}/rpc/v1", self.addr))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))?;
        let response = self.client.request(request).await?;
        let bytes = response.into_body().collect().await?.to_bytes();
        let mut reply: Value = serde_json::from_slice(&bytes)?;
        match reply.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(format!("{method}: {}", reply["error"]).into()),
        }
    }

    /// App id → state, from `container.list`.
    pub async fn states(&self) -> Result<Vec<(String, String)>, BoxError> {
        let list = self.call("container.list", json!({})).await?;
        Ok(list["apps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let field = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                (field("id"), field("state"))
            })
            .collect())
    }

    /// A WebSocket subscribed to every app's status transitions.
    pub async fn status_feed(&self) -> Result<StatusFeed, BoxError> {
        let mut request = format!("ws://{}/rpc/v1", self.addr).into_client_request()?;
        request.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {}", self.token).parse()?,
        );
        let (mut stream, _) = tokio_tungstenite::connect_async(request).await?;
        let subscribe =
            json!({"jsonrpc": "2.0", "id": 1, "method": "status.subscribe", "params": {}});
        stream.send(Message::text(subscribe.to_string())).await?;
        Ok(StatusFeed { stream })
    }
}

/// One pushed transition, stamped on arrival.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub app: String,
    pub to: String,
    /// When the daemon made the transition (its journal's clock).
    pub at_unix_ms: u64,
    pub arrived_unix_ms: f64,
}

pub struct StatusFeed {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl StatusFeed {
    /// The next transition pushed (replies and other messages skipped).
    pub async fn next(&mut self) -> Result<Pushed, BoxError> {
        loop {
            let message = self.stream.next().await.ok_or("the socket closed")??;
            let arrived_unix_ms = now_unix_ms();
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text)?;
            if value["method"] != "status.subscription" {
                continue;
            }
            let event = &value["params"]["result"];
            return Ok(Pushed {
                app: event["app"].as_str().unwrap_or_default().to_string(),
                to: event["transition"]["to"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                at_unix_ms: event["at_unix_ms"].as_u64().unwrap_or_default(),
                arrived_unix_ms,
            });
        }
    }
}

pub fn now_unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3
}

/// A fresh directory under the bench's temp root.
pub fn dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create a bench directory");
    dir
}
