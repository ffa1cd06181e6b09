//! JSON-RPC error objects and the codes MCP uses.

use serde::Serialize;
use serde_json::Value;

pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;
pub const METHOD_NOT_FOUND: i32 = -32601;
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
/// 2025 revisions: `resources/read` of an unknown URI.
pub const RESOURCE_NOT_FOUND: i32 = -32002;
/// Server-side errors that are not JSON-RPC's own (session, limits, timeouts).
pub const SERVER_ERROR: i32 = -32000;
/// 2026-07-28: a header disagrees with the body, or a required one is missing.
pub const HEADER_MISMATCH: i32 = -32020;
/// 2026-07-28: the request needs a client capability it did not declare.
pub const MISSING_CAPABILITY: i32 = -32021;
/// 2026-07-28: the protocol version is not supported.
pub const UNSUPPORTED_VERSION: i32 = -32022;

/// A JSON-RPC error object, ready to be written as the `error` member of a response.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("JSON-RPC error {code}: {message}")]
pub struct RpcError {
    pub code: i32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(PARSE_ERROR, format!("Parse error: {detail}"))
    }

    pub fn invalid_request(detail: impl std::fmt::Display) -> Self {
        Self::new(INVALID_REQUEST, format!("Invalid Request: {detail}"))
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("Method not found: {method}"))
    }

    pub fn invalid_params(detail: impl std::fmt::Display) -> Self {
        Self::new(INVALID_PARAMS, format!("Invalid params: {detail}"))
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(INTERNAL_ERROR, format!("Internal error: {detail}"))
    }
}
