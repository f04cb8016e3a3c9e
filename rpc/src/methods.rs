//! The method table: JSON params in, one backend call, JSON result out.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::{Backend, Operation};
use crate::jsonrpc::{ErrorCode, RpcError};
use crate::metrics;
use tokio::time::Instant;

/// Methods answered over HTTP and WebSocket.
pub const METHODS: &[&str] = &[
    "container.list",
    "container.health",
    "package.install",
    "package.start",
    "package.stop",
    "package.restart",
    "package.uninstall",
    "package.logs",
    "app.events",
    "app.get",
    "registry.list",
    "registry.reload",
    "system.info",
];

/// Methods that need a WebSocket connection to push on.
pub const SUBSCRIPTION_METHODS: &[&str] = &[
    "status.subscribe",
    "status.unsubscribe",
    "events.subscribe",
    "events.unsubscribe",
];

/// Methods a daemon answers only when started with `--debug-rpc`.
pub const DEBUG_METHODS: &[&str] = &["debug.kill_actor"];

/// Lines `package.logs` returns when `tail` is not given, and at most.
const DEFAULT_LOG_TAIL: usize = 200;
const MAX_LOG_TAIL: usize = 10_000;

/// The method's name when it is one we know, else "unknown" (keeps metric labels bounded).
pub fn label(method: &str) -> &'static str {
    METHODS
        .iter()
        .chain(SUBSCRIPTION_METHODS)
        .chain(DEBUG_METHODS)
        .find(|known| **known == method)
        .copied()
        .unwrap_or("unknown")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppId {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionalAppId {
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Uninstall {
    id: String,
    purge: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Logs {
    id: String,
    tail: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorPath {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Events {
    id: Option<String>,
    since: Option<u64>,
}

/// Run one method. Params may be by name (object) or by position (array, in
/// the documented order); absent params mean "no arguments".
pub async fn call(
    backend: &dyn Backend,
    method: &str,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    match method {
        "container.list" => {
            parse::<NoParams>(params)?;
            to_json(backend.list().await?)
        }
        "container.health" => {
            let OptionalAppId { id } = parse(params)?;
            to_json(backend.health(id.as_deref()).await?)
        }
        "package.install" => submit(backend, params, |app| Operation::Install { app }).await,
        "package.start" => submit(backend, params, |app| Operation::Start { app }).await,
        "package.stop" => submit(backend, params, |app| Operation::Stop { app }).await,
        "package.restart" => submit(backend, params, |app| Operation::Restart { app }).await,
        "package.uninstall" => {
            let Uninstall { id, purge } = parse(params)?;
            let operation = Operation::Uninstall {
                app: id,
                purge: purge.unwrap_or(false),
            };
            to_json(backend.submit(operation).await?)
        }
        "package.logs" => {
            let Logs { id, tail } = parse(params)?;
            let tail = tail.unwrap_or(DEFAULT_LOG_TAIL);
            if tail > MAX_LOG_TAIL {
                return Err(invalid_params(format!(
                    "tail {tail} is above the limit of {MAX_LOG_TAIL} lines"
                )));
            }
            to_json(backend.logs(&id, tail).await?)
        }
        "app.events" => {
            let Events { id, since } = parse(params)?;
            to_json(backend.events(id.as_deref(), since).await?)
        }
        "app.get" => {
            let AppId { id } = parse(params)?;
            Ok(backend.manifest(&id).await?)
        }
        "registry.list" => {
            parse::<NoParams>(params)?;
            to_json(backend.registry().await?)
        }
        "registry.reload" => {
            parse::<NoParams>(params)?;
            to_json(backend.reload_registry().await?)
        }
        "system.info" => {
            parse::<NoParams>(params)?;
            to_json(backend.system_info().await?)
        }
        "debug.kill_actor" => {
            let ActorPath { path } = parse(params)?;
            match backend.kill_actor(&path).await {
                Some(outcome) => to_json(outcome.map(|()| serde_json::json!({ "killed": path }))?),
                None => Err(RpcError::new(
                    ErrorCode::MethodNotFound,
                    "debug.kill_actor is off; start the daemon with `archy serve --debug-rpc`",
                )),
            }
        }
        subscription if SUBSCRIPTION_METHODS.contains(&subscription) => Err(RpcError::new(
            ErrorCode::MethodNotFound,
            format!("{subscription} is only available over a WebSocket on /rpc/v1"),
        )),
        unknown => Err(RpcError::new(
            ErrorCode::MethodNotFound,
            format!("Method not found: {unknown}"),
        )),
    }
}

async fn submit(
    backend: &dyn Backend,
    params: Option<Value>,
    operation: impl FnOnce(String) -> Operation,
) -> Result<Value, RpcError> {
    let AppId { id } = parse(params)?;
    to_json(backend.submit(operation(id)).await?)
}

/// Time and count one call under its bounded method label.
pub async fn observed(
    method: &str,
    work: impl Future<Output = Result<Value, RpcError>>,
) -> Result<Value, RpcError> {
    let started = Instant::now();
    let outcome = work.await;
    let code = outcome.as_ref().err().map(|error| error.code.code());
    metrics::record_rpc(label(method), code, started.elapsed());
    outcome
}

pub fn parse<T: DeserializeOwned>(params: Option<Value>) -> Result<T, RpcError> {
    let params = params.unwrap_or_else(|| Value::Object(Default::default()));
    serde_json::from_value(params).map_err(|error| invalid_params(error.to_string()))
}

fn invalid_params(why: impl std::fmt::Display) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, format!("Invalid params: {why}"))
}

fn to_json(value: impl Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|error| {
        RpcError::new(
            ErrorCode::InternalError,
            format!("could not encode the result: {error}"),
        )
    })
}
