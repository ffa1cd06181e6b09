//! `WWW-Authenticate: Bearer …` challenges (RFC 6750 §3, RFC 9728 §5.1, MCP scope selection).

use serde_json::json;

/// A refusal ready to send: status, the `WWW-Authenticate` value and a small OAuth-style
/// JSON body (`{"error", "error_description"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub status: u16,
    /// Why, for the `mcp_auth_failures_total{reason}` counter.
    pub reason: &'static str,
    pub www_authenticate: String,
    pub body: String,
}

/// RFC 7230 quoted-string content: escape `\` and `"`; drop control characters.
fn quote(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

fn param(out: &mut String, name: &str, v: &str) {
    if out.len() > "Bearer".len() {
        out.push(',');
    }
    out.push(' ');
    out.push_str(name);
    out.push('=');
    quote(out, v);
}

fn build(
    status: u16,
    error: Option<&str>,
    description: Option<&str>,
    scope: &[String],
    metadata_url: &str,
) -> Challenge {
    let mut h = String::from("Bearer");
    if let Some(e) = error {
        param(&mut h, "error", e);
    }
    if let Some(d) = description {
        param(&mut h, "error_description", d);
    }
    if !scope.is_empty() {
        param(&mut h, "scope", &scope.join(" "));
    }
    // Empty when the host authenticated the caller itself (handler mode): no metadata to name.
    if !metadata_url.is_empty() {
        param(&mut h, "resource_metadata", metadata_url);
    }
    let body = match error {
        Some(e) => json!({ "error": e, "error_description": description.unwrap_or(e) }),
        None => json!({ "error": "unauthorized", "error_description": "authorization required" }),
    };
    Challenge {
        status,
        reason: "",
        www_authenticate: h,
        body: body.to_string(),
    }
}

/// 401 for a request without bearer credentials: no error code (RFC 6750 §3.1).
pub fn missing(metadata_url: &str, scope: &[String]) -> Challenge {
    let mut c = build(401, None, None, scope, metadata_url);
    c.reason = "missing_token";
    c
}

/// 401 `invalid_token`: unknown, expired, badly signed or wrong-audience token.
pub fn invalid_token(metadata_url: &str, scope: &[String], why: &str) -> Challenge {
    let mut c = build(401, Some("invalid_token"), Some(why), scope, metadata_url);
    c.reason = "invalid_token";
    c
}

/// 400 `invalid_request`: malformed `Authorization`, or a token in the query string.
pub fn invalid_request(metadata_url: &str, why: &str) -> Challenge {
    let mut c = build(400, Some("invalid_request"), Some(why), &[], metadata_url);
    c.reason = "invalid_request";
    c
}

/// 403 `insufficient_scope`, naming every scope the operation needs (step-up authorization).
pub fn insufficient_scope(metadata_url: &str, scope: &[String]) -> Challenge {
    let mut c = build(
        403,
        Some("insufficient_scope"),
        Some("the token lacks a required scope"),
        scope,
        metadata_url,
    );
    c.reason = "insufficient_scope";
    c
}

/// A server-side failure while verifying (verifier threw, keys unreachable): no challenge
/// error code the client could act on, so only `resource_metadata`.
pub fn server_error(status: u16, metadata_url: &str, why: &str) -> Challenge {
    let mut c = build(status, None, None, &[], metadata_url);
    c.reason = "server_error";
    c.body = json!({ "error": "server_error", "error_description": why }).to_string();
    c
}

/// Splits a challenge's parameters back out (tests and tools): `(name, value)` pairs.
pub fn parse_params(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.strip_prefix("Bearer")?;
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(' ' | ',')) {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            return Some(out);
        }
        if chars.next() != Some('=') || chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => value.push(chars.next()?),
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp";

    #[test]
    fn bare_401_names_the_metadata_and_scope() {
        let c = missing(MD, &["read".into(), "write".into()]);
        assert_eq!(c.status, 401);
        assert_eq!(
            c.www_authenticate,
            format!("Bearer scope=\"read write\", resource_metadata=\"{MD}\"")
        );
        let c = missing(MD, &[]);
        assert_eq!(
            c.www_authenticate,
            format!("Bearer resource_metadata=\"{MD}\"")
        );
    }

    #[test]
    fn invalid_token_and_insufficient_scope() {
        let c = invalid_token(MD, &[], "expired");
        assert_eq!(c.status, 401);
        let p = parse_params(&c.www_authenticate).expect("parses");
        assert_eq!(p[0], ("error".into(), "invalid_token".into()));
        assert!(p.contains(&("resource_metadata".into(), MD.into())));
        let c = insufficient_scope(MD, &["admin".into()]);
        assert_eq!(c.status, 403);
        let p = parse_params(&c.www_authenticate).expect("parses");
        assert_eq!(p[0], ("error".into(), "insufficient_scope".into()));
        assert!(p.contains(&("scope".into(), "admin".into())));
        let body: serde_json::Value = serde_json::from_str(&c.body).expect("json");
        assert_eq!(body["error"], "insufficient_scope");
    }

    #[test]
    fn quoting_escapes() {
        let c = invalid_request(MD, "a \"quoted\" \\ thing\n");
        let p = parse_params(&c.www_authenticate).expect("parses");
        assert_eq!(p[1].1, "a \"quoted\" \\ thing");
    }
}
