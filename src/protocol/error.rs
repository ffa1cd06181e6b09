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

/// Why a callback or a server→client request (`ctx.request`) did not produce a result: the
/// one error type of a call, on both sides of the JS boundary. The bindings turn it into a JS
/// `Error` with `code` and `data` (lib/server.d.ts, `McpError`); the dispatcher turns a
/// callback's into the JSON-RPC answer (docs/errors.md).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// A callback threw or rejected, or the client answered a request with an error; `code`
    /// and `data` are the error's own, when it had them.
    #[error("{message}")]
    Failed {
        message: String,
        code: Option<i32>,
        data: Option<Value>,
    },
    /// A callback returned something that is not a JSON object.
    #[error("{0}")]
    BadResult(String),
    /// A callback did not settle within the callback timeout.
    #[error("the callback did not settle in time")]
    TimedOut,
    /// The server is closing, or the callback is not registered.
    #[error("the server is shutting down")]
    Unavailable,
    /// The client cancelled the request; no response is sent.
    #[error("Request cancelled")]
    Cancelled,
    /// The 2025 session ended while the client's answer was awaited.
    #[error("session closed")]
    SessionClosed,
    /// `ctx.request` after the call it belongs to finished.
    #[error("the request has already finished")]
    Finished,
    /// `ctx.request` in the 2026-07-28 era, which has no server→client requests.
    #[error(
        "ctx.request is not available in the 2026-07-28 era: return an InputRequiredResult instead"
    )]
    NotInThisEra,
    /// The request's stream is gone, so there is nowhere to send the request.
    #[error("no stream to send the request on")]
    NoStream,
    /// The client did not answer a server→client request within the callback timeout.
    #[error("the client did not answer in time")]
    ClientTimedOut,
    /// A large answer arrived while the answers already held for their readers were near
    /// `maxResponseBytesInFlight`; it was dropped.
    #[error("the answer ({bytes} bytes) was not sent: {held} bytes of answers are waiting for their readers and maxResponseBytesInFlight is {cap}; try again later")]
    AnswersInFlight { bytes: u64, held: u64, cap: u64 },
}

impl CallError {
    /// The JSON-RPC code this error carries to JS and to clients.
    pub fn code(&self) -> i32 {
        match self {
            CallError::Failed { code, .. } => code.unwrap_or(INTERNAL_ERROR),
            CallError::SessionClosed | CallError::Cancelled | CallError::AnswersInFlight { .. } => {
                SERVER_ERROR
            }
            CallError::TimedOut | CallError::ClientTimedOut => -32001,
            CallError::BadResult(_)
            | CallError::Unavailable
            | CallError::Finished
            | CallError::NotInThisEra
            | CallError::NoStream => INTERNAL_ERROR,
        }
    }

    pub fn data(&self) -> Option<&Value> {
        match self {
            CallError::Failed { data, .. } => data.as_ref(),
            _ => None,
        }
    }

    /// A client's JSON-RPC `error` object (JSON text) as a `Failed`.
    pub fn from_error_object(json: &str) -> Self {
        #[derive(serde::Deserialize)]
        struct E {
            code: Option<i64>,
            message: Option<String>,
            data: Option<Value>,
        }
        match serde_json::from_str::<E>(json) {
            Ok(e) => CallError::Failed {
                message: e.message.unwrap_or_else(|| "request failed".to_owned()),
                code: Some(
                    e.code
                        .and_then(|c| i32::try_from(c).ok())
                        .unwrap_or(INTERNAL_ERROR),
                ),
                data: e.data,
            },
            Err(_) => CallError::Failed {
                message: "the client answered with an unreadable error".to_owned(),
                code: Some(INTERNAL_ERROR),
                data: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_errors_carry_codes_and_data() {
        let e = CallError::from_error_object(r#"{"code":-1,"message":"no","data":{"a":1}}"#);
        assert_eq!(e.code(), -1);
        assert_eq!(e.to_string(), "no");
        assert_eq!(e.data(), Some(&serde_json::json!({ "a": 1 })));
        assert_eq!(CallError::from_error_object("[").code(), INTERNAL_ERROR);
        assert_eq!(CallError::SessionClosed.code(), SERVER_ERROR);
        assert_eq!(CallError::ClientTimedOut.code(), -32001);
        assert_eq!(CallError::NotInThisEra.code(), INTERNAL_ERROR);
        assert!(CallError::NotInThisEra.data().is_none());
    }
}
