//! JSON-RPC gateway (issue 5).
