//! A fake backend that records what it was asked, a running gateway over it,
//! and a tiny HTTP client.
#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use archy_rpc::*;
use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// Answers from fixed data; "ghost" is the app that does not exist.
pub struct FakeBackend {
    pub calls: Mutex<Vec<String>>,
    pub events: broadcast::Sender<Event>,
}

impl FakeBackend {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            calls: Mutex::new(Vec::new()),
            events: broadcast::channel(64).0,
        })
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn saw(&self, call: impl Into<String>) {
        self.calls.lock().unwrap().push(call.into());
    }

    fn known(app: &str) -> Result<(), BackendError> {
        if app == "ghost" {
            return Err(BackendError::new(
                ErrorKind::NotFound,
                "no app named ghost; see registry.list",
            ));
        }
        Ok(())
    }
}

pub fn status(id: &str) -> AppStatus {
    AppStatus {
        id: id.into(),
        name: id.to_uppercase(),
        state: AppState::Running,
        health: Health::Healthy,
        ports: vec![PortMapping {
            host: 8332,
            container: 8332,
            protocol: "tcp".into(),
        }],
        companions: vec![],
        user_stopped: false,
        last_reason: Some("started by user".into()),
        restart_count: 2,
    }
}

pub fn event(seq: u64, app: &str, transition: Option<(AppState, AppState)>) -> Event {
    Event {
        seq,
        at_unix_ms: 1_700_000_000_000 + seq,
        app: Some(app.into()),
        transition: transition.map(|(from, to)| Transition { from, to }),
        reason: format!("entry {seq}"),
    }
}

#[async_trait]
impl Backend for FakeBackend {
    async fn list(&self) -> Result<ContainerList, BackendError> {
        self.saw("list");
        Ok(ContainerList {
            engine_reachable: true,
            apps: vec![status("bitcoin")],
        })
    }

    async fn health(&self, app: Option<&str>) -> Result<Vec<AppHealth>, BackendError> {
        self.saw(format!("health {app:?}"));
        Ok(vec![AppHealth {
            id: "bitcoin".into(),
            health: Health::Healthy,
            checked_at_unix_ms: Some(1),
            detail: None,
        }])
    }

    async fn submit(&self, operation: Operation) -> Result<Accepted, BackendError> {
        Self::known(operation.app())?;
        self.saw(format!(
            "submit {}",
            serde_json::to_string(&operation).unwrap()
        ));
        Ok(Accepted {
            op_id: "op-1".into(),
            app: operation.app().into(),
            op: operation.kind(),
        })
    }

    async fn logs(&self, app: &str, tail: usize) -> Result<Vec<String>, BackendError> {
        Self::known(app)?;
        self.saw(format!("logs {app} {tail}"));
        Ok((1..=tail).map(|n| format!("line {n}")).collect())
    }

    async fn events(
        &self,
        app: Option<&str>,
        since: Option<u64>,
    ) -> Result<Vec<Event>, BackendError> {
        self.saw(format!("events {app:?} {since:?}"));
        Ok(vec![event(7, "bitcoin", None)])
    }

    async fn manifest(&self, app: &str) -> Result<Value, BackendError> {
        Self::known(app)?;
        self.saw(format!("manifest {app}"));
        Ok(json!({ "id": app, "env": { "RPC_PASSWORD": "<redacted>" } }))
    }

    async fn registry(&self) -> Result<Vec<CatalogEntry>, BackendError> {
        self.saw("registry");
        Ok(vec![CatalogEntry {
            id: "bitcoin".into(),
            name: "Bitcoin Core".into(),
            version: "27.0".into(),
            description: "A full node".into(),
            installed: true,
        }])
    }

    async fn reload_registry(&self) -> Result<ReloadSummary, BackendError> {
        self.saw("reload");
        Ok(ReloadSummary {
            added: vec!["lnd".into()],
            ..ReloadSummary::default()
        })
    }

    async fn system_info(&self) -> Result<SystemInfo, BackendError> {
        self.saw("system_info");
        Ok(SystemInfo {
            version: "0.1.0".into(),
            engine: EngineInfo {
                reachable: true,
                endpoint: "/run/podman/podman.sock".into(),
                version: Some("4.3.1".into()),
            },
            uptime_secs: 12,
            actors: ActorNode {
                name: "root".into(),
                kind: "root_supervisor".into(),
                restarts: 0,
                children: vec![ActorNode {
                    name: "reconciler".into(),
                    kind: "reconciler".into(),
                    restarts: 1,
                    children: vec![],
                }],
            },
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

pub struct Harness {
    pub backend: Arc<FakeBackend>,
    pub gateway: RunningGateway,
    pub state_dir: tempfile::TempDir,
    pub token: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("{error}: not JSON: {:?}", self.body))
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut GatewayConfig)) -> Self {
        let state_dir = tempfile::tempdir().unwrap();
        let mut config = GatewayConfig::new(state_dir.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        adjust(&mut config);
        let backend = FakeBackend::new();
        let gateway = Gateway::serve(config, backend.clone()).await.unwrap();
        let token = std::fs::read_to_string(&gateway.token_file).unwrap();
        Self {
            backend,
            gateway,
            state_dir,
            token,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gateway.local_addr
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .client
            .request(request.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    /// POST a raw body to /rpc/v1 as the CLI does (bearer token).
    pub async fn rpc_raw(&self, body: &str) -> Reply {
        let bearer = self.bearer();
        self.request(
            Method::POST,
            "/rpc/v1",
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            body.to_owned(),
        )
        .await
    }

    /// One call; returns the whole response object.
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({ "jsonrpc": "2.0", "method": method, "params": params, "id": 1 });
        let reply = self.rpc_raw(&body.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Harness {
    /// Open the WebSocket with extra handshake headers; Err carries the refusal status.
    pub async fn websocket(&self, headers: &[(&str, &str)]) -> Result<Socket, StatusCode> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/rpc/v1", self.addr())
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status()),
            Err(error) => panic!("WebSocket handshake failed: {error}"),
        }
    }

    pub async fn setup_password(&self, password: &str) -> Reply {
        self.post_password("/auth/setup", password).await
    }

    pub async fn login(&self, password: &str) -> Reply {
        self.post_password("/auth/login", password).await
    }

    async fn post_password(&self, path: &str, password: &str) -> Reply {
        let body = json!({ "password": password }).to_string();
        self.request(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await
    }

    /// Set the password, log in, and return (cookie header value, csrf token).
    pub async fn logged_in_session(&self) -> (String, String) {
        assert_eq!(
            self.setup_password("correct horse").await.status,
            StatusCode::OK
        );
        let reply = self.login("correct horse").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let cookie = reply.headers[hyper::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        (
            cookie,
            reply.json()["csrf_token"].as_str().unwrap().to_string(),
        )
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr())
    }
}

/// Send one JSON text message.
pub async fn send(socket: &mut Socket, message: Value) {
    use futures::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            message.to_string().into(),
        ))
        .await
        .unwrap();
}

/// The next JSON text message, within a deadline; `None` when the server closed.
pub async fn receive(socket: &mut Socket) -> Option<Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
            .await
            .expect("no WebSocket message within 5 s");
        match next {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(other)) => panic!("unexpected WebSocket message {other:?}"),
        }
    }
}
