//! A small JSON-RPC client for the local daemon: one call over HTTP, or a
//! WebSocket for calls and the subscription pushes they start. It
//! authenticates with the local bearer token the daemon writes into the state
//! directory at every start.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use archy_rpc::{token_file_path, ErrorCode, Event};
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The one path the gateway answers JSON-RPC on.
const RPC_PATH: &str = "rpc/v1";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no Archy daemon answers at {url}; start it with `archy serve` or `just run`")]
    Unreachable { url: String },
    #[error(
        "cannot read the daemon's token {}: {source}; run archy as the daemon's user \
         (or root), with the same --state-dir",
        path.display()
    )]
    TokenUnreadable { path: PathBuf, source: io::Error },
    #[error("the daemon refused the credentials: {0} (is --state-dir the running daemon's?)")]
    Unauthorized(String),
    #[error("{message}")]
    Rpc { code: i64, message: String },
    #[error("--url {url} is not an http:// address: {why}")]
    BadUrl { url: String, why: String },
    #[error("the daemon at {url} closed the connection")]
    Closed { url: String },
    #[error("unexpected answer from {url}: {detail}")]
    Protocol { url: String, detail: String },
}

/// The local daemon at `url`, with the token from its state directory.
pub struct Daemon {
    /// `http://host:port/rpc/v1`.
    rpc: Uri,
    /// What people typed (for messages).
    url: String,
    token: String,
}

impl Daemon {
    /// Read the token. When it cannot be read because no daemon runs there,
    /// say so rather than blame the file.
    pub async fn connect(url: &str, state_dir: &Path) -> Result<Self, ClientError> {
        let rpc = rpc_uri(url)?;
        let path = token_file_path(state_dir);
        match std::fs::read_to_string(&path) {
            Ok(token) => Ok(Self {
                rpc,
                url: url.to_string(),
                token: token.trim().to_string(),
            }),
            Err(source) => {
                if answers(&rpc).await {
                    Err(ClientError::TokenUnreadable { path, source })
                } else {
                    Err(ClientError::Unreachable {
                        url: url.to_string(),
                    })
                }
            }
        }
    }

    /// One call over HTTP POST.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, ClientError> {
        let body = json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": 1 });
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.rpc.clone())
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|error| self.protocol(error))?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = client.request(request).await.map_err(|error| {
            if error.is_connect() {
                self.unreachable()
            } else {
                self.protocol(error)
            }
        })?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|error| self.protocol(error))?
            .to_bytes();
        // Refusals (401/403) still carry a JSON-RPC error object.
        let reply: Value = serde_json::from_slice(&bytes).map_err(|_| {
            self.protocol(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&bytes).trim()
            ))
        })?;
        self.result(reply)
    }

    /// A WebSocket on the same endpoint, for subscriptions.
    pub async fn socket(&self) -> Result<Socket<'_>, ClientError> {
        let mut request = ws_url(&self.rpc)
            .into_client_request()
            .map_err(|error| self.protocol(error))?;
        let bearer = format!("Bearer {}", self.token)
            .parse()
            .map_err(|error| self.protocol(error))?;
        request.headers_mut().insert(header::AUTHORIZATION, bearer);
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Socket {
                daemon: self,
                stream,
                next_id: 1,
                pushes: VecDeque::new(),
            }),
            Err(tungstenite::Error::Http(response))
                if matches!(
                    response.status(),
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                ) =>
            {
                Err(ClientError::Unauthorized(format!(
                    "WebSocket refused with {}",
                    response.status()
                )))
            }
            Err(tungstenite::Error::Io(_)) => Err(self.unreachable()),
            Err(error) => Err(self.protocol(error)),
        }
    }

    /// The `result` of a JSON-RPC response object, or its error.
    fn result<T: DeserializeOwned>(&self, mut reply: Value) -> Result<T, ClientError> {
        if let Some(error) = reply.get("error") {
            let code = error["code"].as_i64().unwrap_or_default();
            let message = error["message"]
                .as_str()
                .unwrap_or("the daemon gave no reason")
                .to_string();
            return Err(if code == ErrorCode::Unauthorized.code() {
                ClientError::Unauthorized(message)
            } else {
                ClientError::Rpc { code, message }
            });
        }
        serde_json::from_value(reply["result"].take()).map_err(|error| self.protocol(error))
    }

    fn unreachable(&self) -> ClientError {
        ClientError::Unreachable {
            url: self.url.clone(),
        }
    }

    fn protocol(&self, detail: impl ToString) -> ClientError {
        ClientError::Protocol {
            url: self.url.clone(),
            detail: detail.to_string(),
        }
    }
}

/// What a subscription pushes.
#[derive(Debug)]
pub enum Push {
    Event(Event),
    /// The connection fell behind and entries were dropped; re-read the state.
    Lagged,
}

/// An open WebSocket: calls answered in turn, pushes kept until asked for.
pub struct Socket<'a> {
    daemon: &'a Daemon,
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Pushes that arrived while waiting for a call's answer.
    pushes: VecDeque<Push>,
}

impl Socket<'_> {
    pub async fn call<T: DeserializeOwned>(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<T, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": id });
        self.stream
            .send(Message::Text(request.to_string().into()))
            .await
            .map_err(|_| self.closed())?;
        loop {
            let message = self.receive().await?;
            if message.get("id") == Some(&json!(id)) {
                return self.daemon.result(message);
            }
            let push = self.push(message)?;
            self.pushes.push_back(push);
        }
    }

    /// The next push, in journal order.
    pub async fn next_push(&mut self) -> Result<Push, ClientError> {
        if let Some(push) = self.pushes.pop_front() {
            return Ok(push);
        }
        let message = self.receive().await?;
        self.push(message)
    }

    fn push(&self, mut message: Value) -> Result<Push, ClientError> {
        let method = message["method"].as_str().unwrap_or_default();
        if method.ends_with(".lagged") {
            return Ok(Push::Lagged);
        }
        if method.ends_with(".subscription") {
            let event = message["params"]["result"].take();
            return serde_json::from_value(event)
                .map(Push::Event)
                .map_err(|error| self.daemon.protocol(error));
        }
        Err(self
            .daemon
            .protocol(format!("unexpected message {message}")))
    }

    async fn receive(&mut self) -> Result<Value, ClientError> {
        loop {
            match self.stream.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).map_err(|error| self.daemon.protocol(error))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => {
                    return Err(self.daemon.protocol("a binary WebSocket message"))
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(self.closed()),
            }
        }
    }

    fn closed(&self) -> ClientError {
        ClientError::Closed {
            url: self.daemon.url.clone(),
        }
    }
}

fn rpc_uri(url: &str) -> Result<Uri, ClientError> {
    let bad = |why: &str| ClientError::BadUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let base: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if base.scheme_str() != Some("http") {
        return Err(bad("the daemon speaks plain HTTP on loopback"));
    }
    let authority = base.authority().ok_or_else(|| bad("no host"))?;
    let prefix = base.path().trim_end_matches('/');
    format!("http://{authority}{prefix}/{RPC_PATH}")
        .parse()
        .map_err(|_| bad("not a URL"))
}

fn ws_url(rpc: &Uri) -> String {
    format!(
        "ws://{}{}",
        rpc.authority().map_or("", |a| a.as_str()),
        rpc.path()
    )
}

/// Whether anything accepts a TCP connection at the daemon's address.
async fn answers(rpc: &Uri) -> bool {
    let Some(authority) = rpc.authority() else {
        return false;
    };
    let port = authority.port_u16().unwrap_or(80);
    TcpStream::connect((authority.host(), port)).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rpc_path_is_appended_to_the_base_url() {
        let uri = rpc_uri("http://127.0.0.1:8420/").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:8420/rpc/v1");
        assert_eq!(ws_url(&uri), "ws://127.0.0.1:8420/rpc/v1");
        let behind_proxy = rpc_uri("http://box.local/archy").unwrap();
        assert_eq!(behind_proxy.to_string(), "http://box.local/archy/rpc/v1");
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        for url in ["https://127.0.0.1:8420", "127.0.0.1:8420", "not a url"] {
            assert!(
                matches!(rpc_uri(url), Err(ClientError::BadUrl { .. })),
                "{url}"
            );
        }
    }
}
