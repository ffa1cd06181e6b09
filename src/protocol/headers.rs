//! 2026-07-28 request headers that mirror the body: `Mcp-Method`, `Mcp-Name`, and
//! `Mcp-Param-<Header>` for tool properties annotated with `x-mcp-header`. A mismatch or a
//! missing header is -32020.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::error::{RpcError, HEADER_MISMATCH};

/// (property name, header suffix) pairs of one tool.
pub type ParamHeaders = Vec<(String, String)>;

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The `x-mcp-header` annotations of a tool definition, validated: a header token, on a
/// property of primitive type, unique (case-insensitively) within the tool.
pub fn param_headers(tool: &Value) -> Result<ParamHeaders, String> {
    let name = tool.get("name").and_then(Value::as_str).unwrap_or("?");
    let Some(props) = tool
        .get("inputSchema")
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return Ok(Vec::new());
    };
    let mut out: ParamHeaders = Vec::new();
    for (prop, schema) in props {
        let Some(h) = schema.get("x-mcp-header") else {
            continue;
        };
        let h = h.as_str().ok_or_else(|| {
            format!("tool {name:?}: x-mcp-header of property {prop:?} must be a string")
        })?;
        if h.is_empty() || !h.chars().all(is_tchar) {
            return Err(format!(
                "tool {name:?}: x-mcp-header {h:?} of property {prop:?} is not a valid header name"
            ));
        }
        let ty = schema.get("type").and_then(Value::as_str);
        if !matches!(ty, Some("string" | "number" | "integer" | "boolean")) {
            return Err(format!(
                "tool {name:?}: x-mcp-header on property {prop:?} needs a primitive type (string, number, integer, boolean)"
            ));
        }
        if out.iter().any(|(_, o)| o.eq_ignore_ascii_case(h)) {
            return Err(format!("tool {name:?}: x-mcp-header {h:?} is used twice"));
        }
        out.push((prop.clone(), h.to_owned()));
    }
    Ok(out)
}

fn mismatch(detail: impl std::fmt::Display) -> RpcError {
    RpcError::new(
        HEADER_MISMATCH,
        format!("Bad Request: the request headers and body disagree: {detail}"),
    )
}

/// A header's value as the text it stands for: `=?base64?…?=` decoded strictly (padding
/// included), anything else literally.
pub fn decode_header_value(raw: &str) -> Result<String, RpcError> {
    let v = raw.trim();
    if let Some(inner) = v
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        let bytes = STANDARD
            .decode(inner)
            .map_err(|_| mismatch("an invalid Base64 header value"))?;
        return String::from_utf8(bytes).map_err(|_| mismatch("Base64 header value is not UTF-8"));
    }
    Ok(v.to_owned())
}

fn as_header_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The parts of a request body that headers mirror.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mirrored<'a> {
    pub name: Option<&'a str>,
    pub uri: Option<&'a str>,
    /// `params.arguments` as JSON text; parsed only when the tool has `x-mcp-header`s.
    pub arguments: Option<&'a serde_json::value::RawValue>,
}

/// Checks the mirrored headers of a request. `get` looks a header up by lowercase name.
pub fn check<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    method: &str,
    body: Mirrored<'_>,
    param_headers: Option<&ParamHeaders>,
) -> Result<(), RpcError> {
    match get("mcp-method") {
        None => return Err(mismatch("the Mcp-Method header is missing")),
        Some(h) if h.trim() != method => {
            return Err(mismatch(format!(
                "Mcp-Method {:?} does not match the method {method:?}",
                h.trim()
            )))
        }
        Some(_) => {}
    }
    let named = match method {
        "tools/call" | "prompts/get" => Some(body.name.unwrap_or_default()),
        "resources/read" => Some(body.uri.unwrap_or_default()),
        _ => None,
    };
    if let Some(expected) = named {
        match get("mcp-name").map(decode_header_value).transpose()? {
            None => return Err(mismatch("the Mcp-Name header is missing")),
            Some(h) if h != expected => {
                return Err(mismatch(format!(
                    "Mcp-Name {h:?} does not match {expected:?}"
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(headers) = param_headers.filter(|h| !h.is_empty()) {
        // Arguments we cannot read (a number out of range such as 1e400, a lone surrogate,
        // nesting past serde_json's 128 levels) are refused, never taken for absent: the
        // callback would otherwise run with the header's value unchecked.
        let args: Option<Value> = body
            .arguments
            .map(|a| serde_json::from_str(a.get()))
            .transpose()
            .map_err(|e| RpcError::invalid_params(format!("arguments cannot be read: {e}")))?;
        let args = args.as_ref();
        for (prop, suffix) in headers {
            let name = format!("mcp-param-{}", suffix.to_ascii_lowercase());
            let arg = args.and_then(|a| a.get(prop)).filter(|v| !v.is_null());
            match (arg.and_then(as_header_text), get(&name)) {
                (None, None) => {}
                (Some(_), None) => {
                    return Err(mismatch(format!(
                        "the Mcp-Param-{suffix} header is missing"
                    )))
                }
                (None, Some(_)) => {
                    return Err(mismatch(format!(
                        "Mcp-Param-{suffix} is set but argument {prop:?} is not"
                    )))
                }
                (Some(a), Some(h)) => {
                    if decode_header_value(h)? != a {
                        return Err(mismatch(format!(
                            "Mcp-Param-{suffix} does not match argument {prop:?}"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hdrs<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    /// `check` on a body given as a JSON value, the way the front end reads it.
    fn check_json<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
        method: &str,
        params: &Value,
        ph: Option<&ParamHeaders>,
    ) -> Result<(), RpcError> {
        let args = params
            .get("arguments")
            .map(|a| serde_json::value::RawValue::from_string(a.to_string()).unwrap());
        let body = Mirrored {
            name: params.get("name").and_then(Value::as_str),
            uri: params.get("uri").and_then(Value::as_str),
            arguments: args.as_deref(),
        };
        check(get, method, body, ph)
    }

    fn tool() -> Value {
        json!({"name":"t","inputSchema":{"type":"object","properties":{
            "value":{"type":"string","x-mcp-header":"Value"},
            "n":{"type":"integer","x-mcp-header":"Count"},
            "other":{"type":"string"}}}})
    }

    #[test]
    fn method_and_name_must_mirror_the_body() {
        let p = json!({"name":"t"});
        assert!(check_json(
            hdrs(&[("mcp-method", "tools/list")]),
            "tools/list",
            &json!({}),
            None
        )
        .is_ok());
        assert!(check_json(hdrs(&[]), "tools/list", &json!({}), None).is_err());
        // Values are case-sensitive, surrounding whitespace is not significant.
        assert!(check_json(
            hdrs(&[("mcp-method", "TOOLS/LIST")]),
            "tools/list",
            &json!({}),
            None
        )
        .is_err());
        assert!(check_json(
            hdrs(&[("mcp-method", "tools/call"), ("mcp-name", "  t  ")]),
            "tools/call",
            &p,
            None
        )
        .is_ok());
        assert!(check_json(
            hdrs(&[("mcp-method", "tools/call")]),
            "tools/call",
            &p,
            None
        )
        .is_err());
        let e = check_json(
            hdrs(&[("mcp-method", "tools/call"), ("mcp-name", "u")]),
            "tools/call",
            &p,
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, HEADER_MISMATCH);
        let r = json!({"uri":"x://a"});
        assert!(check_json(
            hdrs(&[("mcp-method", "resources/read"), ("mcp-name", "x://a")]),
            "resources/read",
            &r,
            None
        )
        .is_ok());
    }

    #[test]
    fn param_headers_decode_base64_strictly() {
        let ph = param_headers(&tool()).unwrap();
        assert_eq!(ph.len(), 2);
        let p = json!({"name":"t","arguments":{"value":"Hello","n":3}});
        let base = [
            ("mcp-method", "tools/call"),
            ("mcp-name", "t"),
            ("mcp-param-count", "3"),
        ];
        let with = |v: &'static str| {
            let mut h = base.to_vec();
            h.push(("mcp-param-value", v));
            h
        };
        assert!(check_json(
            hdrs(&with("=?base64?SGVsbG8=?=")),
            "tools/call",
            &p,
            Some(&ph)
        )
        .is_ok());
        assert!(check_json(hdrs(&with("Hello")), "tools/call", &p, Some(&ph)).is_ok());
        assert!(check_json(
            hdrs(&with("=?base64?SGVsbG8?=")),
            "tools/call",
            &p,
            Some(&ph)
        )
        .is_err());
        assert!(check_json(
            hdrs(&with("=?base64?SGVs!!!bG8=?=")),
            "tools/call",
            &p,
            Some(&ph)
        )
        .is_err());
        assert!(
            check_json(hdrs(&base), "tools/call", &p, Some(&ph)).is_err(),
            "missing header"
        );
        let literal = json!({"name":"t","arguments":{"value":"=?base64?SGVsbG8=","n":3}});
        assert!(check_json(
            hdrs(&with("=?base64?SGVsbG8=")),
            "tools/call",
            &literal,
            Some(&ph)
        )
        .is_ok());
    }

    #[test]
    fn invalid_annotations_are_refused() {
        let bad = |schema: Value| {
            param_headers(&json!({"name":"t","inputSchema":{"properties":{"p":schema}}}))
        };
        assert!(bad(json!({"type":"object","x-mcp-header":"P"})).is_err());
        assert!(bad(json!({"type":"string","x-mcp-header":"has space"})).is_err());
        assert!(bad(json!({"type":"string","x-mcp-header":""})).is_err());
        assert!(bad(json!({"type":"string","x-mcp-header":7})).is_err());
        let dup = json!({"name":"t","inputSchema":{"properties":{
            "a":{"type":"string","x-mcp-header":"X"},"b":{"type":"string","x-mcp-header":"x"}}}});
        assert!(param_headers(&dup).is_err());
    }

    #[test]
    fn unreadable_arguments_are_refused_before_any_header_comparison() {
        let ph = param_headers(&tool()).unwrap();
        let h = [("mcp-method", "tools/call"), ("mcp-name", "t")];
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for args in [
            r#"{"n":1e400}"#.to_owned(),
            r#"{"value":"\ud800"}"#.to_owned(),
            format!(r#"{{"other":{deep}}}"#),
        ] {
            let raw = serde_json::value::RawValue::from_string(args.clone()).unwrap();
            let body = Mirrored {
                name: Some("t"),
                uri: None,
                arguments: Some(&raw),
            };
            let e = check(hdrs(&h), "tools/call", body, Some(&ph)).unwrap_err();
            assert_eq!(e.code, crate::protocol::error::INVALID_PARAMS, "{args:.40}");
        }
    }
}
