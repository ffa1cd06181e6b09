//! JSON-RPC 2.0 framing: parsing one message or a batch from a request body, and writing
//! responses without re-serialising results that are already JSON text.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::RpcError;

/// A request id exactly as the client wrote it (a JSON string or number), echoed verbatim.
#[derive(Debug, Clone)]
pub struct RequestId(Box<RawValue>);

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for RequestId {}

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.get().hash(state)
    }
}

impl RequestId {
    fn parse(raw: Box<RawValue>) -> Result<Self, RpcError> {
        match raw.get().as_bytes().first() {
            Some(b'"') | Some(b'-') | Some(b'0'..=b'9') => Ok(Self(raw)),
            _ => Err(RpcError::invalid_request("id must be a string or a number")),
        }
    }

    /// The id as JSON text (`"abc"` or `7`).
    pub fn as_json(&self) -> &str {
        self.0.get()
    }

    pub fn from_number(n: u64) -> Self {
        // A number's JSON text is always valid JSON; the fallback is unreachable in practice.
        Self(RawValue::from_string(n.to_string()).unwrap_or_else(|_| null_raw()))
    }

    /// The id as a JS-friendly JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

fn null_raw() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

/// One parsed JSON-RPC message.
#[derive(Debug)]
pub enum Message {
    Request {
        id: RequestId,
        method: String,
        params: Option<Box<RawValue>>,
    },
    Notification {
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// A client's answer to a server→client request.
    Response {
        id: RequestId,
        outcome: Result<Box<RawValue>, Box<RawValue>>,
    },
}

impl Message {
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method, .. } => Some(method),
            Message::Response { .. } => None,
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request { .. })
    }
}

/// A body: one message, or a batch (only legal on 2025-03-26).
#[derive(Debug)]
pub enum Body {
    Single(Message),
    Batch(Vec<Message>),
}

impl Body {
    pub fn messages(&self) -> &[Message] {
        match self {
            Body::Single(m) => std::slice::from_ref(m),
            Body::Batch(v) => v,
        }
    }

    pub fn into_messages(self) -> Vec<Message> {
        match self {
            Body::Single(m) => vec![m],
            Body::Batch(v) => v,
        }
    }
}

#[derive(Deserialize)]
struct Wire {
    jsonrpc: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Box<RawValue>>,
    method: Option<String>,
    params: Option<Box<RawValue>>,
    result: Option<Box<RawValue>>,
    error: Option<Box<RawValue>>,
}

/// Keeps an explicit `"id": null` distinguishable from a missing id.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// Why a body could not be turned into messages. Both map to HTTP 400.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("{0}")]
    Parse(RpcError),
    #[error("{0}")]
    Invalid(RpcError),
}

impl BodyError {
    pub fn into_rpc(self) -> RpcError {
        match self {
            BodyError::Parse(e) | BodyError::Invalid(e) => e,
        }
    }
}

/// Parses a POST body. Syntax errors are -32700; well-formed JSON that is not JSON-RPC 2.0 is
/// -32600.
pub fn parse_body(bytes: &[u8]) -> Result<Body, BodyError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let items: Vec<Box<RawValue>> = serde_json::from_slice(bytes)
            .map_err(|e| BodyError::Parse(RpcError::parse_error(e)))?;
        if items.is_empty() {
            return Err(BodyError::Invalid(RpcError::invalid_request("empty batch")));
        }
        let msgs = items
            .iter()
            .map(|raw| parse_one(raw.get().as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Body::Batch(msgs));
    }
    parse_one(bytes).map(Body::Single)
}

fn parse_one(bytes: &[u8]) -> Result<Message, BodyError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Distinguish "not JSON at all" from "JSON, but not an object".
        return match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(_) => Err(BodyError::Invalid(RpcError::invalid_request(
                "a message must be a JSON object",
            ))),
            Err(e) => Err(BodyError::Parse(RpcError::parse_error(e))),
        };
    }
    let wire: Wire = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            BodyError::Invalid(RpcError::invalid_request(e))
        } else {
            BodyError::Parse(RpcError::parse_error(e))
        }
    })?;
    let invalid = |m: &str| BodyError::Invalid(RpcError::invalid_request(m));
    if wire.jsonrpc.as_deref().map(RawValue::get) != Some("\"2.0\"") {
        return Err(invalid("jsonrpc must be \"2.0\""));
    }
    let id = wire
        .id
        .map(RequestId::parse)
        .transpose()
        .map_err(BodyError::Invalid)?;
    if let Some(params) = &wire.params {
        // JSON-RPC also allows arrays; every MCP revision defines params as an object.
        if params.get().as_bytes().first() != Some(&b'{') {
            return Err(invalid("params must be an object"));
        }
    }
    match (wire.method, id, wire.result, wire.error) {
        (Some(method), Some(id), None, None) => Ok(Message::Request {
            id,
            method,
            params: wire.params,
        }),
        (Some(method), None, None, None) => Ok(Message::Notification {
            method,
            params: wire.params,
        }),
        (None, Some(id), Some(result), None) => Ok(Message::Response {
            id,
            outcome: Ok(result),
        }),
        (None, Some(id), None, Some(error)) => Ok(Message::Response {
            id,
            outcome: Err(error),
        }),
        _ => Err(invalid(
            "not a request, notification or response (check method, id, result, error)",
        )),
    }
}

/// `{"jsonrpc":"2.0","id":…,"result":…}` from a result that is already JSON text.
pub fn result_response(id: &RequestId, result_json: &str) -> String {
    let mut out = String::with_capacity(result_json.len() + id.as_json().len() + 36);
    out.push_str("{\"jsonrpc\":\"2.0\",\"id\":");
    out.push_str(id.as_json());
    out.push_str(",\"result\":");
    out.push_str(result_json);
    out.push('}');
    out
}

/// `result_response` for an answer the caller owns: a large one gets its envelope in its own
/// buffer (one move of its bytes, no second copy held beside it); a small one is copied, which
/// is cheaper than growing it in place.
pub fn into_result_response(id: &RequestId, result_json: String) -> String {
    if result_json.len() < super::held::LARGE {
        return result_response(id, &result_json);
    }
    let head = format!("{{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":", id.as_json());
    let mut out = result_json;
    // Room for the envelope and the SSE frame around it, so neither reallocates.
    out.reserve(head.len() + 1 + super::sse::FRAME_ROOM);
    out.insert_str(0, &head);
    out.push('}');
    out
}

/// An error response; `id` is `null` when the request's id could not be read.
pub fn error_response(id: Option<&RequestId>, error: &RpcError) -> String {
    let err = serde_json::to_string(error).unwrap_or_else(|_| {
        format!(
            "{{\"code\":{},\"message\":\"unserialisable error\"}}",
            error.code
        )
    });
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"error\":{}}}",
        id.map_or("null", RequestId::as_json),
        err
    )
}

/// A notification from server to client.
pub fn notification(method: &str, params_json: Option<&str>) -> String {
    match params_json {
        Some(p) => format!("{{\"jsonrpc\":\"2.0\",\"method\":\"{method}\",\"params\":{p}}}"),
        None => format!("{{\"jsonrpc\":\"2.0\",\"method\":\"{method}\"}}"),
    }
}

/// A request from server to client.
pub fn request(id: &RequestId, method: &str, params_json: Option<&str>) -> String {
    match params_json {
        Some(p) => format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"{method}\",\"params\":{p}}}",
            id.as_json()
        ),
        None => format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"{method}\"}}",
            id.as_json()
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocol::error::{INVALID_REQUEST, PARSE_ERROR};

    fn code(r: Result<Body, BodyError>) -> i32 {
        r.err().unwrap().into_rpc().code
    }

    #[test]
    fn owned_results_get_the_same_envelope() {
        let id = RequestId::from_number(7);
        let large = format!("{{\"t\":\"{}\"}}", "x".repeat(crate::protocol::held::LARGE));
        for r in ["{}".to_owned(), large] {
            assert_eq!(
                into_result_response(&id, r.clone()),
                result_response(&id, &r)
            );
        }
    }

    #[test]
    fn parses_each_message_kind() {
        let b = parse_body(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#).unwrap();
        assert!(
            matches!(&b.messages()[0], Message::Request { id, method, .. } if id.as_json() == "\"a\"" && method == "ping")
        );
        let b = parse_body(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(&b.messages()[0], Message::Notification { .. }));
        let b = parse_body(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#).unwrap();
        assert!(matches!(
            &b.messages()[0],
            Message::Response { outcome: Ok(_), .. }
        ));
        let b = parse_body(
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#,
        )
        .unwrap();
        assert_eq!(b.messages().len(), 2);
    }

    #[test]
    fn distinguishes_parse_errors_from_invalid_requests() {
        assert_eq!(code(parse_body(b"{not json")), PARSE_ERROR);
        assert_eq!(code(parse_body(b"")), PARSE_ERROR);
        assert_eq!(code(parse_body(b"42")), INVALID_REQUEST);
        assert_eq!(code(parse_body(b"[]")), INVALID_REQUEST);
        assert_eq!(
            code(parse_body(br#"{"id":1,"method":"ping"}"#)),
            INVALID_REQUEST
        );
        assert_eq!(
            code(parse_body(br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#)),
            INVALID_REQUEST
        );
        assert_eq!(
            code(parse_body(
                br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#
            )),
            INVALID_REQUEST
        );
        assert_eq!(
            code(parse_body(br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#)),
            INVALID_REQUEST
        );
        assert_eq!(
            code(parse_body(
                br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":3}"#
            )),
            INVALID_REQUEST
        );
        assert_eq!(
            code(parse_body(
                br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":["x"]}"#
            )),
            INVALID_REQUEST
        );
        assert_eq!(
            code(parse_body(br#"{"jsonrpc":"2.0","id":1}"#)),
            INVALID_REQUEST
        );
        assert_eq!(
            code(parse_body(br#"{"jsonrpc":"2.0","id":1,"method":7}"#)),
            INVALID_REQUEST
        );
    }

    #[test]
    fn responses_echo_the_id_verbatim() {
        let b = parse_body(br#"{"jsonrpc":"2.0","id":"x-1","method":"ping"}"#).unwrap();
        let Message::Request { id, .. } = &b.messages()[0] else {
            panic!()
        };
        assert_eq!(
            result_response(id, "{}"),
            r#"{"jsonrpc":"2.0","id":"x-1","result":{}}"#
        );
        let e = error_response(None, &RpcError::method_not_found("nope"));
        let v: serde_json::Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["id"], serde_json::Value::Null);
        assert_eq!(v["error"]["code"], -32601);
    }
}
