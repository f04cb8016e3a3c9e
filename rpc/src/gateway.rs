//! The HTTP server: `/rpc/v1` (POST and WebSocket), `/auth/*`, `/metrics` and
//! the dashboard's static files, on one listener (127.0.0.1 by default).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex, Semaphore};
use tokio::task::JoinHandle;
use tower_http::services::ServeDir;

use crate::auth::{self, AuthError, LocalToken, LoginLimiter, PasswordStore, Principal, Sessions};
use crate::backend::Backend;
use crate::jsonrpc::{self, Call};
use crate::methods;
use crate::metrics::{self as archy_metrics, MetricsError};
use crate::ws;

/// How often histograms are compacted (metrics-exporter-prometheus leaves this to us).
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen; loopback unless the operator says otherwise.
    pub listen: SocketAddr,
    /// Holds the password hash and the local token file.
    pub state_dir: PathBuf,
    /// Origins (e.g. "http://archy.local:8420") allowed to open the WebSocket
    /// and to post to `/auth/*`, besides the listen address itself.
    pub allowed_origins: Vec<String>,
    /// The dashboard's files, served at `/`; `None` serves none.
    pub static_dir: Option<PathBuf>,
    /// An extra loopback-only listener for `/metrics`, besides the main router.
    pub metrics_listen: Option<SocketAddr>,
    pub limits: Limits,
}

impl GatewayConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8420)),
            state_dir: state_dir.into(),
            allowed_origins: Vec::new(),
            static_dir: None,
            metrics_listen: None,
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest HTTP body or WebSocket message.
    pub max_body_bytes: usize,
    /// Largest JSON-RPC batch.
    pub max_batch: usize,
    pub max_subscriptions_per_connection: usize,
    /// Open WebSockets at once; more get 503.
    pub max_websockets: usize,
    /// Failed logins per client IP per minute before 429.
    pub login_failures_per_minute: u32,
    pub session_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_batch: 32,
            max_subscriptions_per_connection: 32,
            max_websockets: 64,
            login_failures_per_minute: 5,
            session_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen on {addr}: {source} (is another archy running, or the port taken?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("the HTTP server stopped: {0}")]
    Serve(std::io::Error),
}

/// State every handler shares.
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) limits: Limits,
    pub(crate) passwords: PasswordStore,
    pub(crate) local_token: LocalToken,
    pub(crate) sessions: Sessions,
    pub(crate) login_limiter: LoginLimiter,
    /// Makes "set the password only when none is set" atomic.
    pub(crate) setup_lock: Mutex<()>,
    websocket_slots: Arc<Semaphore>,
    allowed_origins: Vec<String>,
    metrics: PrometheusHandle,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Shared {
    /// An absent Origin is never allowed (callers decide when one is required).
    pub(crate) fn origin_allowed(&self, origin: Option<&HeaderValue>) -> bool {
        origin
            .and_then(|origin| origin.to_str().ok())
            .map(normalize_origin)
            .is_some_and(|origin| self.allowed_origins.contains(&origin))
    }
}

fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The listen address's own origins, so the dashboard it serves may connect.
fn own_origins(addr: SocketAddr) -> Vec<String> {
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", addr.port()));
    }
    origins
}

pub struct Gateway;

impl Gateway {
    /// Bind, write a fresh local token file, install the metrics recorder and serve until shut down.
    pub async fn serve(
        config: GatewayConfig,
        backend: Arc<dyn Backend>,
    ) -> Result<RunningGateway, GatewayError> {
        let metrics = archy_metrics::install()?;
        let local_token = LocalToken::create(&config.state_dir)?;
        let listener = bind(config.listen).await?;
        let local_addr = listener.local_addr().map_err(GatewayError::Serve)?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let metrics_addr = match &metrics_listener {
            Some(listener) => Some(listener.local_addr().map_err(GatewayError::Serve)?),
            None => None,
        };

        let (stop, shutdown) = watch::channel(false);
        let allowed_origins = config
            .allowed_origins
            .iter()
            .map(|origin| normalize_origin(origin))
            .chain(own_origins(local_addr))
            .collect();
        let shared = Arc::new(Shared {
            backend,
            passwords: PasswordStore::new(&config.state_dir),
            local_token,
            sessions: Sessions::new(config.limits.session_ttl),
            login_limiter: LoginLimiter::new(config.limits.login_failures_per_minute),
            setup_lock: Mutex::new(()),
            websocket_slots: Arc::new(Semaphore::new(config.limits.max_websockets)),
            allowed_origins,
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            limits: config.limits,
        });

        let mut tasks = vec![tokio::spawn(serve_router(
            listener,
            router(shared.clone(), config.static_dir.as_deref()),
            shutdown.clone(),
        ))];
        if let Some(listener) = metrics_listener {
            let metrics_only = Router::new()
                .route("/metrics", get(render_metrics))
                .with_state(shared.clone());
            tasks.push(tokio::spawn(serve_router(
                listener,
                metrics_only,
                shutdown.clone(),
            )));
        }
        tasks.push(tokio::spawn(upkeep(metrics, shutdown)));
        Ok(RunningGateway {
            local_addr,
            metrics_addr,
            token_file: auth::token_file_path(&config.state_dir),
            stop,
            tasks,
        })
    }
}

/// A serving gateway. Dropping it (and every `ShutdownHandle`) stops it like
/// `shutdown`, without waiting.
pub struct RunningGateway {
    pub local_addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    /// Where the CLI reads the bearer token.
    pub token_file: PathBuf,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), GatewayError>>>,
}

/// Stops the gateway from anywhere (e.g. a signal handler).
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

impl RunningGateway {
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Close every connection (WebSockets included) and wait for the server to stop.
    pub async fn shutdown(self) -> Result<(), GatewayError> {
        self.stop.send_replace(true);
        self.wait().await
    }

    /// Wait until the gateway stops (after a `ShutdownHandle::shutdown`, or a server failure).
    pub async fn wait(self) -> Result<(), GatewayError> {
        for task in self.tasks {
            task.await
                .map_err(|error| GatewayError::Serve(std::io::Error::other(error)))??;
        }
        Ok(())
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, GatewayError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| GatewayError::Bind { addr, source })
}

async fn serve_router(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), GatewayError> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .map_err(GatewayError::Serve)
}

async fn upkeep(
    metrics: PrometheusHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), GatewayError> {
    let mut tick = tokio::time::interval(METRICS_UPKEEP);
    loop {
        tokio::select! {
            _ = tick.tick() => metrics.run_upkeep(),
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
    }
}

fn router(shared: Arc<Shared>, static_dir: Option<&Path>) -> Router {
    let rpc = Router::new()
        .route("/rpc/v1", post(rpc_http).get(rpc_websocket))
        .route_layer(from_fn_with_state(shared.clone(), auth::require_auth));
    let router = Router::new()
        .merge(rpc)
        .merge(auth::routes())
        .route("/metrics", get(render_metrics))
        .layer(DefaultBodyLimit::max(shared.limits.max_body_bytes))
        .with_state(shared);
    match static_dir {
        Some(dir) => router.fallback_service(ServeDir::new(dir)),
        None => router,
    }
}

async fn rpc_http(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send JSON-RPC with Content-Type: application/json",
        )
            .into_response();
    }
    let backend = &*shared.backend;
    let reply = jsonrpc::process(&body, shared.limits.max_batch, |call: Call| async move {
        let Call { method, params, .. } = call;
        methods::observed(&method, methods::call(backend, &method, params)).await
    })
    .await;
    match reply {
        Some(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        // Only notifications: the spec says return nothing at all.
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn rpc_websocket(
    State(shared): State<Arc<Shared>>,
    Extension(principal): Extension<Principal>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Ok(slot) = shared.websocket_slots.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many open WebSockets; close one and retry",
        )
            .into_response();
    };
    upgrade
        .max_message_size(shared.limits.max_body_bytes)
        .on_upgrade(move |socket| async move {
            ws::serve(socket, shared, principal).await;
            drop(slot);
        })
}

async fn render_metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        archy_metrics::render(&shared.metrics, shared.backend.as_ref()).await,
    )
        .into_response()
}
