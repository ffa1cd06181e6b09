//! CORS for browser-based MCP clients (the `cors` option): preflight answers and the headers
//! every response from an allowed origin carries. Without the option nothing here runs.

/// Request headers a browser client may send (the `Mcp-Param-*` family is echoed per request:
/// CORS has no header-name wildcards other than a lone `*`, which credentials forbid).
pub const ALLOWED_HEADERS: &str =
    "Content-Type, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name";
pub const ALLOWED_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Response headers scripts may read: the session id and the challenge that starts OAuth.
pub const EXPOSED_HEADERS: &str = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origins {
    Any,
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    pub origins: Origins,
    pub credentials: bool,
    pub max_age_seconds: Option<u64>,
}

pub type Headers = Vec<(&'static str, String)>;

impl CorsPolicy {
    pub fn allows(&self, origin: &str) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::List(l) => l.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }

    /// `Access-Control-Allow-Origin` (+ credentials, `Vary`) for an allowed origin.
    fn base(&self, origin: &str) -> Headers {
        let mut h: Headers = Vec::with_capacity(6);
        if self.origins == Origins::Any && !self.credentials {
            h.push(("access-control-allow-origin", "*".into()));
        } else {
            // Credentialed requests need the exact origin echoed back.
            h.push(("access-control-allow-origin", origin.to_owned()));
            h.push(("vary", "Origin".into()));
        }
        if self.credentials {
            h.push(("access-control-allow-credentials", "true".into()));
        }
        h
    }

    /// Headers for an actual (non-preflight) response to `origin`; empty if not allowed.
    pub fn response_headers(&self, origin: Option<&str>) -> Headers {
        match origin {
            Some(o) if self.allows(o) => {
                let mut h = self.base(o);
                h.push(("access-control-expose-headers", EXPOSED_HEADERS.into()));
                h
            }
            _ => Vec::new(),
        }
    }

    /// The 204 preflight answer, or `None` when the origin is not allowed (the caller answers
    /// 403 so the browser refuses the request).
    pub fn preflight(
        &self,
        origin: Option<&str>,
        request_headers: Option<&str>,
    ) -> Option<Headers> {
        let o = origin.filter(|o| self.allows(o))?;
        let mut h = self.base(o);
        h.push(("access-control-allow-methods", ALLOWED_METHODS.into()));
        let mut allow = String::from(ALLOWED_HEADERS);
        for name in request_headers.unwrap_or("").split(',') {
            let name = name.trim();
            if name.len() > "mcp-param-".len()
                && name[..10].eq_ignore_ascii_case("mcp-param-")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                allow.push_str(", ");
                allow.push_str(name);
            }
        }
        h.push(("access-control-allow-headers", allow));
        if let Some(age) = self.max_age_seconds {
            h.push(("access-control-max-age", age.to_string()));
        }
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(h: &'a Headers, n: &str) -> Option<&'a str> {
        h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str())
    }

    #[test]
    fn listed_origins_with_credentials() {
        let p = CorsPolicy {
            origins: Origins::List(vec!["http://app.test:8080".into()]),
            credentials: true,
            max_age_seconds: Some(600),
        };
        let h = p
            .preflight(
                Some("http://app.test:8080"),
                Some("content-type, mcp-param-city, x-evil\r\n"),
            )
            .expect("allowed");
        assert_eq!(
            get(&h, "access-control-allow-origin"),
            Some("http://app.test:8080")
        );
        assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
        assert_eq!(get(&h, "vary"), Some("Origin"));
        assert_eq!(get(&h, "access-control-max-age"), Some("600"));
        let allow = get(&h, "access-control-allow-headers").expect("allow");
        assert!(allow.contains("Authorization") && allow.contains("Mcp-Session-Id"));
        assert!(allow.ends_with(", mcp-param-city"), "{allow}");
        assert!(!allow.contains("x-evil"));
        assert!(p.preflight(Some("http://evil.test"), None).is_none());
        assert!(p.preflight(None, None).is_none());
        let r = p.response_headers(Some("http://app.test:8080"));
        assert!(get(&r, "access-control-expose-headers")
            .is_some_and(|e| e.contains("WWW-Authenticate")));
        assert!(p.response_headers(Some("http://evil.test")).is_empty());
    }

    #[test]
    fn any_origin_without_credentials_is_a_star() {
        let p = CorsPolicy {
            origins: Origins::Any,
            credentials: false,
            max_age_seconds: None,
        };
        let h = p.preflight(Some("http://x.test"), None).expect("allowed");
        assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(get(&h, "access-control-max-age"), None);
        assert_eq!(
            get(&h, "access-control-allow-methods"),
            Some(ALLOWED_METHODS)
        );
    }
}
