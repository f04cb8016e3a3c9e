//! Archy's JSON-RPC 2.0 gateway (HTTP POST and WebSocket on `/rpc/v1`), its
//! auth (password session + CSRF, or the local bearer token), the Prometheus
//! `/metrics` endpoint and the dashboard's static files.
//!
//! The daemon implements [`Backend`] over its actor tree and calls
//! [`Gateway::serve`]; nothing here knows actors or engines.

mod auth;
mod backend;
mod gateway;
/// The framing alone (body in, reply text out), public so fuzzers and
/// property tests can drive it without a server.
pub mod jsonrpc;
mod methods;
pub mod metrics;
mod ws;

pub use auth::{password_file_path, token_file_path, AuthError, PasswordStore, MIN_PASSWORD_LEN};
pub use backend::*;
pub use gateway::{Gateway, GatewayConfig, GatewayError, Limits, RunningGateway, ShutdownHandle};
pub use jsonrpc::ErrorCode;
pub use methods::{METHODS, SUBSCRIPTION_METHODS};
