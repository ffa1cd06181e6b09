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
    let mut r = Response::new(OutBody::full(crate::protocol::held::track(
        body.into_bytes(),
    )));
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

/// A connection the monitor refused: 503 when the server is full, 429 when this client holds
/// its share (`maxConnectionsPerClient`).
pub fn refused(why: crate::monitor::Refused, id: Option<&RequestId>) -> Resp {
    use crate::monitor::Refused;
    let (status, what) = match why {
        Refused::MaxConnections(_) => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        Refused::MaxPerClient(_) => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
        Refused::NoId => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    rpc_error(status, id, &RpcError::new(-32000, format!("{what}: {why}")))
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
/// one we allow, compared by scheme, host and port (docs/hardening.md).
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// Host names (no port), lowercase.
    pub hosts: Vec<String>,
    /// Full origins (`scheme://host[:port]`), lowercase; empty means "`http://` one of the
    /// hosts above, on the server's port".
    pub origins: Vec<String>,
    /// The port the server listens on (set once bound), for the default origins.
    pub port: u16,
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

/// An origin split into scheme, host and port (the scheme's default port when none is
/// written); `None` for anything that is not `scheme://host[:port]` (paths, userinfo, `null`).
pub fn parse_origin(origin: &str) -> Option<(String, String, u16)> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        || rest.is_empty()
        || rest.contains(['/', '@', '?', '#', ' '])
    {
        return None;
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, &rest[h.len()..][..p.len() + 1]),
            None => (rest, ""),
        }
    };
    let port = match port.strip_prefix(':') {
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse().ok()?
        }
        Some(_) => return None,
        None if port.is_empty() => match scheme {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => 0,
        },
        None => return None,
    };
    if host.is_empty() || host.contains(':') && !rest.starts_with('[') {
        return None;
    }
    Some((scheme.to_owned(), host.to_owned(), port))
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
            let origin = origin.to_str().map_err(|_| "Origin not allowed")?;
            let allowed = if self.origins.is_empty() && self.port == 0 {
                // No port of our own (handler mode: the host's server took the request): the
                // default is the request's own origin, on an allowed host.
                header(headers, HOST.as_str()).is_some_and(|h| self.is_same_origin(origin, h))
            } else {
                self.allows_origin(origin)
            };
            if !allowed {
                return Err("Origin not allowed");
            }
        }
        Ok(())
    }

    /// `origin` names exactly the authority of the `Host` the request was sent to.
    fn is_same_origin(&self, origin: &str, host: &str) -> bool {
        let Some((scheme, name, port)) = parse_origin(origin) else {
            return false;
        };
        let Some((_, host_name, host_port)) = parse_origin(&format!("{scheme}://{host}")) else {
            return false;
        };
        matches!(scheme.as_str(), "http" | "https")
            && name == host_name.to_ascii_lowercase()
            && port == host_port
            && self.hosts.contains(&name)
    }

    /// Whether `origin` is allowed: scheme, host and port all equal to an allowed origin's.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Some(o) = parse_origin(origin) else {
            return false;
        };
        if self.origins.is_empty() {
            o.0 == "http" && o.2 == self.port && self.hosts.contains(&o.1)
        } else {
            self.origins
                .iter()
                .any(|a| parse_origin(a).as_ref() == Some(&o))
        }
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
    fn without_a_port_of_its_own_the_default_origin_is_the_requests_own() {
        let p = OriginPolicy {
            hosts: vec!["127.0.0.1".into(), "localhost".into()],
            origins: Vec::new(),
            port: 0,
        };
        let ok = headers(&[
            ("host", "127.0.0.1:43947"),
            ("origin", "http://127.0.0.1:43947"),
        ]);
        assert_eq!(p.check(&ok), Ok(()));
        for (host, origin) in [
            ("127.0.0.1:43947", "http://127.0.0.1:8080"),
            ("127.0.0.1:43947", "http://localhost:43947"),
            ("127.0.0.1:43947", "chrome-extension://127.0.0.1:43947"),
            ("evil.example:43947", "http://evil.example:43947"),
        ] {
            let h = headers(&[("host", host), ("origin", origin)]);
            assert!(p.check(&h).is_err(), "{host} / {origin}");
        }
    }

    #[test]
    fn host_and_origin_are_checked() {
        let p = OriginPolicy {
            hosts: vec!["127.0.0.1".into(), "localhost".into(), "::1".into()],
            origins: vec![],
            port: 3322,
        };
        assert!(p.check(&headers(&[("host", "127.0.0.1:3322")])).is_ok());
        assert!(p.check(&headers(&[("host", "[::1]:80")])).is_ok());
        assert!(p.check(&headers(&[("host", "evil.example:3322")])).is_err());
        assert!(p.check(&headers(&[])).is_err());
        for ok in [
            "http://localhost:3322",
            "http://LOCALHOST:3322/",
            "http://127.0.0.1:3322",
            "http://[::1]:3322",
        ] {
            assert!(
                p.check(&headers(&[("host", "localhost"), ("origin", ok)]))
                    .is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://localhost:8080",
            "http://localhost",
            "https://localhost:3322",
            "chrome-extension://localhost",
            "chrome-extension://localhost:3322",
            "http://evil.example:3322",
            "http://localhost:3322.evil.example",
            "http://user@localhost:3322",
            "http://localhost:3322/path",
            "http://localhost:03322x",
            "null",
            "",
        ] {
            assert!(
                p.check(&headers(&[("host", "localhost"), ("origin", bad)]))
                    .is_err(),
                "{bad}"
            );
        }
        let strict = OriginPolicy {
            origins: vec![
                "https://app.example".into(),
                "http://dev.example:8080".into(),
            ],
            ..p
        };
        let allowed = |o: &str| strict.allows_origin(o);
        assert!(allowed("https://app.example") && allowed("https://app.example:443"));
        assert!(allowed("http://dev.example:8080"));
        assert!(!allowed("http://app.example") && !allowed("https://app.example:8443"));
        assert!(!allowed("http://dev.example") && !allowed("http://localhost:3322"));
    }

    #[test]
    fn origins_parse_into_scheme_host_and_port() {
        assert_eq!(
            parse_origin("HTTP://Example.com"),
            Some(("http".into(), "example.com".into(), 80))
        );
        assert_eq!(
            parse_origin("https://[::1]:8443"),
            Some(("https".into(), "::1".into(), 8443))
        );
        assert_eq!(parse_origin("http://h:99999"), None);
        assert_eq!(parse_origin("http://h:"), None);
        assert_eq!(parse_origin("http://::1:80"), None);
        assert_eq!(parse_origin("://h"), None);
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
