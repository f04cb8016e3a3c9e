//! JSON-RPC 2.0 framing, exactly as the specification words it.
//!
//! Written over serde_json rather than taken from jsonrpsee because jsonrpsee
//! departs from the spec in two places (client notifications are never run;
//! `{"jsonrpc":"2.0","method":1}` is answered -32700 instead of -32600), and the
//! second happens in its parser on the WebSocket path, where no middleware can
//! reach. One small framing layer serves HTTP and WebSocket alike.

use std::future::Future;

use serde::Serialize;
use serde_json::Value;

use crate::backend::{BackendError, ErrorKind};

/// Every error code the gateway answers with, defined once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    InternalError,
    NotFound,
    Busy,
    InvalidManifest,
    DependencyStopped,
    EngineUnavailable,
    Unauthorized,
    Conflict,
    LimitExceeded,
    StateUnwritable,
}

impl ErrorCode {
    pub const fn code(self) -> i64 {
        match self {
            Self::ParseError => -32700,
            Self::InvalidRequest => -32600,
            Self::MethodNotFound => -32601,
            Self::InvalidParams => -32602,
            Self::InternalError => -32603,
            Self::NotFound => -32001,
            Self::Busy => -32002,
            Self::InvalidManifest => -32003,
            Self::DependencyStopped => -32004,
            Self::EngineUnavailable => -32005,
            Self::Unauthorized => -32006,
            Self::Conflict => -32007,
            Self::LimitExceeded => -32008,
            Self::StateUnwritable => -32009,
        }
    }
}

impl From<ErrorKind> for ErrorCode {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::Busy => Self::Busy,
            ErrorKind::InvalidManifest => Self::InvalidManifest,
            ErrorKind::DependencyStopped => Self::DependencyStopped,
            ErrorKind::EngineUnavailable => Self::EngineUnavailable,
            ErrorKind::Conflict => Self::Conflict,
            ErrorKind::StateUnwritable => Self::StateUnwritable,
            ErrorKind::Internal => Self::InternalError,
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpcError {
    #[serde(serialize_with = "serialize_code")]
    pub code: ErrorCode,
    pub message: String,
}

fn serialize_code<S: serde::Serializer>(code: &ErrorCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(code.code())
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<BackendError> for RpcError {
    fn from(error: BackendError) -> Self {
        Self::new(error.kind.into(), error.message)
    }
}

/// A well-formed request. `id: None` marks a notification: it is run, never answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Option<Value>,
    pub id: Option<Value>,
}

#[derive(Debug, Serialize)]
pub struct Response {
    jsonrpc: &'static str,
    #[serde(flatten)]
    outcome: Outcome,
    id: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Result(Value),
    Error(RpcError),
}

impl Response {
    pub fn error(id: Value, error: RpcError) -> Self {
        Self {
            jsonrpc: "2.0",
            outcome: Outcome::Error(error),
            id,
        }
    }

    fn new(id: Value, outcome: Result<Value, RpcError>) -> Self {
        let outcome = match outcome {
            Ok(result) => Outcome::Result(result),
            Err(error) => Outcome::Error(error),
        };
        Self {
            jsonrpc: "2.0",
            outcome,
            id,
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a response always serializes")
    }
}

/// Answer one HTTP body or WebSocket message. `None` means send nothing at all
/// (a notification, or a batch of notifications only).
pub async fn process<F, Fut>(body: &[u8], max_batch: usize, mut handle: F) -> Option<String>
where
    F: FnMut(Call) -> Fut,
    Fut: Future<Output = Result<Value, RpcError>>,
{
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        let error = RpcError::new(
            ErrorCode::ParseError,
            "Parse error: the body is not valid JSON",
        );
        return Some(Response::error(Value::Null, error).to_text());
    };
    let Value::Array(items) = message else {
        return process_one(message, &mut handle)
            .await
            .map(|response| response.to_text());
    };
    if items.is_empty() {
        let error = RpcError::new(ErrorCode::InvalidRequest, "Invalid Request: empty batch");
        return Some(Response::error(Value::Null, error).to_text());
    }
    if items.len() > max_batch {
        let error = RpcError::new(
            ErrorCode::InvalidRequest,
            format!(
                "Invalid Request: a batch of {} exceeds the limit of {max_batch}",
                items.len()
            ),
        );
        return Some(Response::error(Value::Null, error).to_text());
    }
    let mut responses = Vec::new();
    for item in items {
        responses.extend(process_one(item, &mut handle).await);
    }
    (!responses.is_empty())
        .then(|| serde_json::to_string(&responses).expect("responses always serialize"))
}

async fn process_one<F, Fut>(item: Value, handle: &mut F) -> Option<Response>
where
    F: FnMut(Call) -> Fut,
    Fut: Future<Output = Result<Value, RpcError>>,
{
    let call = match parse_call(item) {
        Ok(call) => call,
        Err((id, error)) => return Some(Response::error(id, error)),
    };
    let id = call.id.clone();
    let outcome = handle(call).await;
    id.map(|id| Response::new(id, outcome))
}

/// Check a value is a Request object; on failure return the id to answer with
/// (the request's own when it is a valid id, else null) and the error.
fn parse_call(item: Value) -> Result<Call, (Value, RpcError)> {
    let invalid = |id: Value, why: &str| {
        let error = RpcError::new(ErrorCode::InvalidRequest, format!("Invalid Request: {why}"));
        (id, error)
    };
    let Value::Object(mut object) = item else {
        return Err(invalid(Value::Null, "expected a request object"));
    };
    let id = match object.remove("id") {
        None => None,
        Some(id @ (Value::Null | Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => return Err(invalid(Value::Null, "id must be a string, number or null")),
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err(invalid(reply_id, "jsonrpc must be exactly \"2.0\""));
    }
    let Some(Value::String(method)) = object.remove("method") else {
        return Err(invalid(reply_id, "method must be a string"));
    };
    let params = match object.remove("params") {
        None => None,
        Some(params @ (Value::Array(_) | Value::Object(_))) => Some(params),
        Some(_) => return Err(invalid(reply_id, "params must be an array or an object")),
    };
    Ok(Call { method, params, id })
}
