//! `InputRequiredResult` (2026-07-28 multi round-trip): recognising one, the client
//! capabilities its input requests need, and the requests themselves. Both eras use it: a
//! 2026 client receives the result and retries; for a 2025 client the server asks itself.

use serde_json::{json, Map, Value};

/// Rounds of input a callback may ask for before the server gives up on it (2025 era, where
/// the server runs the rounds itself).
pub const MAX_INPUT_ROUNDS: usize = 8;

/// Whether a callback's result text is an `InputRequiredResult`. The substring test keeps
/// the common result from being parsed twice.
pub fn is_input_required(json: &str) -> bool {
    json.contains("\"input_required\"")
        && serde_json::from_str::<Value>(json)
            .ok()
            .and_then(|v| {
                v.get("resultType")
                    .and_then(Value::as_str)
                    .map(|t| t == "input_required")
            })
            .unwrap_or(false)
}

/// The capability an input request needs from the client.
pub fn required_capability(method: &str) -> Option<&'static str> {
    match method {
        "elicitation/create" => Some("elicitation"),
        "sampling/createMessage" => Some("sampling"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}

/// Capabilities the input requests of `result` need but `caps` lacks, as the
/// `requiredCapabilities` object of a -32021 error (empty when nothing is missing).
pub fn missing_capabilities(result: &Value, caps: &Value) -> Map<String, Value> {
    let mut missing = Map::new();
    if let Some(reqs) = result.get("inputRequests").and_then(Value::as_object) {
        for req in reqs.values() {
            if let Some(cap) = req
                .get("method")
                .and_then(Value::as_str)
                .and_then(required_capability)
            {
                if caps.get(cap).is_none() {
                    missing.insert(cap.to_owned(), json!({}));
                }
            }
        }
    }
    missing
}

/// One input request of an `InputRequiredResult`: its key, method and params (JSON text).
pub struct InputRequest<'a> {
    pub key: &'a str,
    pub method: &'a str,
    pub params: Option<String>,
}

/// The input requests of a parsed `InputRequiredResult`, in key order.
pub fn input_requests(result: &Value) -> Vec<InputRequest<'_>> {
    result
        .get("inputRequests")
        .and_then(Value::as_object)
        .map(|reqs| {
            reqs.iter()
                .map(|(key, req)| InputRequest {
                    key,
                    method: req.get("method").and_then(Value::as_str).unwrap_or(""),
                    params: req.get("params").map(Value::to_string),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The callback's own `requestState`, when it is a string.
pub fn request_state(result: &Value) -> Option<&str> {
    result.get("requestState").and_then(Value::as_str)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn recognises_input_required_and_missing_capabilities() {
        let r = r#"{"resultType":"input_required","inputRequests":{"a":{"method":"sampling/createMessage","params":{"x":1}},"b":{"method":"roots/list"}},"requestState":"s"}"#;
        assert!(is_input_required(r));
        assert!(!is_input_required(
            r#"{"content":[{"text":"input_required"}]}"#
        ));
        let v: Value = serde_json::from_str(r).unwrap();
        let missing = missing_capabilities(&v, &json!({ "roots": {} }));
        assert_eq!(missing.keys().collect::<Vec<_>>(), ["sampling"]);
        let reqs = input_requests(&v);
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].key, "a");
        assert_eq!(reqs[0].params.as_deref(), Some(r#"{"x":1}"#));
        assert_eq!(request_state(&v), Some("s"));
    }
}
