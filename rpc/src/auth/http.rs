//! The `/auth/*` endpoints and the guard in front of `/rpc/v1`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::local_token::constant_time_eq;
use super::sessions::SessionView;
use super::AuthError;
use crate::gateway::Shared;
use crate::jsonrpc::{ErrorCode, Response as RpcResponse, RpcError};

const SESSION_COOKIE: &str = "archy_session";
const CSRF_HEADER: &str = "x-csrf-token";

/// Who a request to `/rpc/v1` runs as.
#[derive(Clone)]
pub(crate) enum Principal {
    LocalToken,
    Session(SessionView),
}

impl Principal {
    /// Fires when the session is logged out; never for the local token.
    pub(crate) fn revoked(&self) -> Option<watch::Receiver<bool>> {
        match self {
            Self::LocalToken => None,
            Self::Session(session) => Some(session.revoked.clone()),
        }
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/auth/session", get(session))
        .route("/auth/setup", post(setup))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
}

/// Lets a request through to `/rpc/v1` only when authenticated; a refused
/// request never reaches the backend (its body is not even read).
pub(crate) async fn require_auth(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    match authorize(&shared, request.method(), request.headers()) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(denied) => denied.into_rpc_response(),
    }
}

fn authorize(shared: &Shared, method: &Method, headers: &HeaderMap) -> Result<Principal, Denied> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Denied::unauthorized("expected `Authorization: Bearer <token>`"))?;
        return if shared.local_token.matches(token) {
            Ok(Principal::LocalToken)
        } else {
            Err(Denied::unauthorized(
                "the bearer token does not match; re-read the token file (it changes on every daemon start)",
            ))
        };
    }
    let session = current_session(shared, headers)?;
    if method == Method::GET {
        // The WebSocket handshake: browsers cannot add headers, but always send Origin.
        if !shared.origin_allowed(headers.get(header::ORIGIN)) {
            return Err(Denied::forbidden(
                "this Origin may not open the WebSocket; add it to allowed_origins",
            ));
        }
    } else {
        check_csrf(&session, headers)?;
    }
    Ok(Principal::Session(session))
}

fn current_session(shared: &Shared, headers: &HeaderMap) -> Result<SessionView, Denied> {
    session_cookie(headers)
        .and_then(|token| shared.sessions.get(token))
        .ok_or_else(|| Denied::unauthorized("not logged in: POST /auth/login first"))
}

fn check_csrf(session: &SessionView, headers: &HeaderMap) -> Result<(), Denied> {
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok());
    if sent.is_some_and(|sent| constant_time_eq(sent, &session.csrf)) {
        Ok(())
    } else {
        Err(Denied::forbidden(
            "missing or wrong X-CSRF-Token; send the csrf_token from /auth/login or /auth/session",
        ))
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// A browser form on another site may still POST here; refuse it when its Origin says so.
fn check_origin(shared: &Shared, headers: &HeaderMap) -> Result<(), Denied> {
    match headers.get(header::ORIGIN) {
        Some(origin) if !shared.origin_allowed(Some(origin)) => Err(Denied::forbidden(
            "requests from this Origin are not allowed",
        )),
        _ => Ok(()),
    }
}

#[derive(Serialize)]
struct SessionState {
    password_set: bool,
    logged_in: bool,
    /// Present when logged in, so a reloaded dashboard can recover it.
    csrf_token: Option<String>,
}

async fn session(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<SessionState>, Denied> {
    let session = current_session(&shared, &headers).ok();
    Ok(Json(SessionState {
        password_set: shared.passwords.is_set()?,
        logged_in: session.is_some(),
        csrf_token: session.map(|session| session.csrf),
    }))
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

#[derive(Serialize)]
struct LoggedIn {
    csrf_token: String,
}

/// First run only: set the password when none is set yet, and log in.
async fn setup(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<PasswordBody>,
) -> Result<Response, Denied> {
    check_origin(&shared, &headers)?;
    let _one_setup_at_a_time = shared.setup_lock.lock().await;
    if shared.passwords.is_set()? {
        return Err(Denied::new(
            StatusCode::CONFLICT,
            "a password is already set; log in, or change it with `archy passwd`",
        ));
    }
    let passwords = shared.passwords.clone();
    blocking(move || passwords.set_password(&body.password)).await?;
    Ok(start_session(&shared))
}

async fn login(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<PasswordBody>,
) -> Result<Response, Denied> {
    check_origin(&shared, &headers)?;
    if !shared.passwords.is_set()? {
        return Err(Denied::new(
            StatusCode::CONFLICT,
            "no password is set yet: POST /auth/setup first",
        ));
    }
    shared
        .login_limiter
        .try_attempt(peer.ip())
        .map_err(Denied::too_many_attempts)?;
    let passwords = shared.passwords.clone();
    if !blocking(move || passwords.verify(&body.password)).await? {
        return Err(Denied::unauthorized("wrong password"));
    }
    shared.login_limiter.forget(peer.ip());
    Ok(start_session(&shared))
}

async fn logout(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Result<Response, Denied> {
    let session = current_session(&shared, &headers)?;
    check_csrf(&session, &headers)?;
    if let Some(token) = session_cookie(&headers) {
        shared.sessions.revoke(token);
    }
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, expired)]).into_response())
}

fn start_session(shared: &Shared) -> Response {
    let session = shared.sessions.create();
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        session.token,
        shared.sessions.ttl().as_secs()
    );
    (
        [(header::SET_COOKIE, cookie)],
        Json(LoggedIn {
            csrf_token: session.csrf,
        }),
    )
        .into_response()
}

/// Argon2 is deliberately slow; keep it off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, Denied> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Denied::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?
        .map_err(Denied::from)
}

/// A refused request: the status and a message saying what to do.
#[derive(Debug)]
struct Denied {
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
}

impl Denied {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    fn too_many_attempts(retry_after: Duration) -> Self {
        let seconds = retry_after.as_secs().max(1);
        Self {
            retry_after: Some(Duration::from_secs(seconds)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed logins; try again in {seconds} s"),
            )
        }
    }

    /// `/rpc/v1` answers refusals as JSON-RPC errors too, so clients parse one shape.
    fn into_rpc_response(self) -> Response {
        let error = RpcError::new(ErrorCode::Unauthorized, self.message);
        let body = RpcResponse::error(serde_json::Value::Null, error).to_text();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

impl From<AuthError> for Denied {
    fn from(error: AuthError) -> Self {
        let status = match error {
            AuthError::PasswordTooShort { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if let Some(after) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
        }
        response
    }
}
