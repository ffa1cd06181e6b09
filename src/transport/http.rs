//! HTTP-level helpers: responses, and the header checks every request passes first.

use hyper::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, HOST, ORIGIN};
use hyper::{Response, StatusCode};

use super::body::OutBody;
use crate::protocol::jsonrpc::{error_response, RequestId};
use crate::protocol::RpcError;

pub type Resp = Response<OutBody>;

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const VERSION_HEADER: &str = "mcp-protocol-version";
pub const LAST_EVENT_ID: &str = "last-event-id";

pub fn json(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(OutBody::full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn rpc_error(status: StatusCode, id: Option<&RequestId>, e: &RpcError) -> Resp {
    json(status, error_response(id, e))
}

pub fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(OutBody::empty());
    *r.status_mut() = status;
    r
}

pub fn sse(body: OutBody) -> Resp {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(
        "cache-control",
        HeaderValue::from_static("no-cache, no-transform"),
    );
    // Keeps reverse proxies (nginx) from buffering the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

pub fn method_not_allowed(allow: &'static str) -> Resp {
    let mut r = rpc_error(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        &RpcError::new(-32000, "Method not allowed"),
    );
    r.headers_mut()
        .insert("allow", HeaderValue::from_static(allow));
    r
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the Accept header admits `mime` (exactly, by its type wildcard, or `*/*`).
pub fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    let top = mime.split('/').next().unwrap_or("");
    headers.get_all(ACCEPT).iter().any(|v| {
        v.to_str().unwrap_or("").split(',').any(|part| {
            let m = part.split(';').next().unwrap_or("").trim();
            m.eq_ignore_ascii_case(mime)
                || m == "*/*"
                || m.strip_suffix("/*")
                    .is_some_and(|t| t.eq_ignore_ascii_case(top))
        })
    })
}

pub fn is_json_content(headers: &HeaderMap) -> bool {
    header(headers, CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// DNS-rebinding protection: the Host must name this server and an Origin, when sent, must be
/// one we allow.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// Host names (no port), lowercase.
    pub hosts: Vec<String>,
    /// Full origins (`scheme://host[:port]`), lowercase; empty means "same hosts as above".
    pub origins: Vec<String>,
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:3322
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl OriginPolicy {
    /// The Host half of [`OriginPolicy::check`] (DNS-rebinding protection), for requests whose
    /// Origin another rule (the `cors` option) already allowed.
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let host = header(headers, HOST.as_str()).ok_or("missing Host header")?;
        let name = strip_port(host).to_ascii_lowercase();
        if !self.hosts.contains(&name) {
            return Err("Host not allowed");
        }
        Ok(())
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        self.check_host(headers)?;
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin
                .to_str()
                .map_err(|_| "Origin not allowed")?
                .trim_end_matches('/')
                .to_ascii_lowercase();
            let ok = if self.origins.is_empty() {
                origin
                    .split_once("://")
                    .is_some_and(|(_, rest)| self.hosts.iter().any(|h| *h == strip_port(rest)))
            } else {
                self.origins.contains(&origin)
            };
            if !ok {
                return Err("Origin not allowed");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn host_and_origin_are_checked() {
        let p = OriginPolicy {
            hosts: vec!["127.0.0.1".into(), "localhost".into(), "::1".into()],
            origins: vec![],
        };
        assert!(p.check(&headers(&[("host", "127.0.0.1:3322")])).is_ok());
        assert!(p.check(&headers(&[("host", "[::1]:80")])).is_ok());
        assert!(p.check(&headers(&[("host", "evil.example:3322")])).is_err());
        assert!(p.check(&headers(&[])).is_err());
        assert!(p
            .check(&headers(&[
                ("host", "localhost"),
                ("origin", "http://localhost:5173")
            ]))
            .is_ok());
        assert!(p
            .check(&headers(&[
                ("host", "localhost"),
                ("origin", "http://evil.example")
            ]))
            .is_err());
        let strict = OriginPolicy {
            origins: vec!["https://app.example".into()],
            ..p
        };
        assert!(strict
            .check(&headers(&[
                ("host", "localhost"),
                ("origin", "https://app.example")
            ]))
            .is_ok());
        assert!(strict
            .check(&headers(&[
                ("host", "localhost"),
                ("origin", "http://localhost")
            ]))
            .is_err());
    }

    #[test]
    fn accept_matching() {
        let h = headers(&[("accept", "application/json, text/event-stream")]);
        assert!(accepts(&h, "application/json") && accepts(&h, "text/event-stream"));
        let h = headers(&[("accept", "text/html")]);
        assert!(!accepts(&h, "application/json"));
        let h = headers(&[("accept", "*/*")]);
        assert!(accepts(&h, "text/event-stream"));
        let h = headers(&[("content-type", "application/json; charset=utf-8")]);
        assert!(is_json_content(&h));
    }
}
