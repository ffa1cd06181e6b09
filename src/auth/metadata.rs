//! The resolved policy: the canonical resource, the RFC 9728 metadata document (rendered
//! once), where it is served and the URL clients are pointed at.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::config::{parse_url, AuthConfig, ConfigError, Verifier};

pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

#[derive(Debug, Clone)]
pub struct Policy {
    /// Canonical URI of this server (RFC 8707 §2), as published.
    pub resource: String,
    /// `aud` values a token must name one of, normalized by [`normalize`].
    pub audiences: Vec<String>,
    pub required_scopes: Vec<String>,
    /// Absolute URL of the metadata document, for `resource_metadata=`.
    pub metadata_url: String,
    /// Request paths answering the metadata: path-aware (RFC 9728 §3.1) and the root one.
    pub metadata_paths: Vec<String>,
    pub metadata_json: Bytes,
}

/// RFC 3986 §6.2.2 normalization, enough to compare resource URIs: lowercase scheme and
/// host, no trailing `/` on the path.
pub fn normalize(u: &str) -> String {
    match parse_url(u) {
        Some(p) => {
            let path = p.path.trim_end_matches('/');
            format!(
                "{}://{}{}",
                p.scheme.to_ascii_lowercase(),
                p.authority.to_ascii_lowercase(),
                path
            )
        }
        None => u.to_owned(),
    }
}

/// The resource a listener at `host:port` serving `endpoint` has when none is configured.
pub fn default_resource(host: &str, port: u16, endpoint: &str) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!("http://{host}:{port}{endpoint}")
}

impl Policy {
    /// `listen` is the bound `(host, port)`, used when `auth.resource` is not given.
    pub fn new(cfg: &AuthConfig, endpoint: &str, listen: (&str, u16)) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let resource = cfg
            .resource
            .clone()
            .unwrap_or_else(|| default_resource(listen.0, listen.1, endpoint));
        let parsed = parse_url(&resource).ok_or_else(|| ConfigError::BadUrl {
            field: "resource",
            value: resource.clone(),
        })?;
        let rpath = parsed
            .path
            .split('?')
            .next()
            .unwrap_or("")
            .trim_end_matches('/');
        let metadata_url = format!(
            "{}://{}{WELL_KNOWN}{rpath}",
            parsed.scheme, parsed.authority
        );
        let mut metadata_paths = vec![format!("{WELL_KNOWN}{}", endpoint.trim_end_matches('/'))];
        for p in [format!("{WELL_KNOWN}{rpath}"), WELL_KNOWN.to_owned()] {
            if !metadata_paths.contains(&p) {
                metadata_paths.push(p);
            }
        }
        let audiences = match &cfg.verifier {
            Verifier::Jwt(j) => j.audience.clone().unwrap_or_else(|| vec![resource.clone()]),
            Verifier::Js => vec![resource.clone()],
        }
        .iter()
        .map(|a| normalize(a))
        .collect();

        let mut m = Map::new();
        m.insert("resource".into(), json!(resource));
        m.insert(
            "authorization_servers".into(),
            json!(cfg.authorization_servers),
        );
        if let Some(s) = &cfg.scopes_supported {
            m.insert("scopes_supported".into(), json!(s));
        }
        m.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(n) = &cfg.resource_name {
            m.insert("resource_name".into(), json!(n));
        }
        if let Some(d) = &cfg.resource_documentation {
            m.insert("resource_documentation".into(), json!(d));
        }
        let metadata_json = Bytes::from(Value::Object(m).to_string());
        Ok(Self {
            resource,
            audiences,
            required_scopes: cfg.required_scopes.clone(),
            metadata_url,
            metadata_paths,
            metadata_json,
        })
    }

    pub fn is_metadata_path(&self, path: &str) -> bool {
        self.metadata_paths.iter().any(|p| p == path)
    }

    /// Whether `aud` names this server.
    pub fn audience_ok<'a>(&self, mut aud: impl Iterator<Item = &'a str>) -> bool {
        aud.any(|a| {
            let n = normalize(a);
            self.audiences.contains(&n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::config::{JwtConfig, Verifier};

    fn cfg() -> AuthConfig {
        AuthConfig {
            authorization_servers: vec!["http://127.0.0.1:9000".into()],
            resource: None,
            scopes_supported: Some(vec!["mcp:read".into(), "mcp:write".into()]),
            required_scopes: vec!["mcp:read".into()],
            resource_name: Some("Test".into()),
            resource_documentation: None,
            verifier: Verifier::Js,
        }
    }

    #[test]
    fn derived_resource_and_metadata_urls() {
        let p = Policy::new(&cfg(), "/mcp", ("127.0.0.1", 4321)).expect("policy");
        assert_eq!(p.resource, "http://127.0.0.1:4321/mcp");
        assert_eq!(
            p.metadata_url,
            "http://127.0.0.1:4321/.well-known/oauth-protected-resource/mcp"
        );
        assert!(p.is_metadata_path("/.well-known/oauth-protected-resource/mcp"));
        assert!(p.is_metadata_path("/.well-known/oauth-protected-resource"));
        assert!(!p.is_metadata_path("/.well-known/oauth-protected-resource/other"));
        let m: Value = serde_json::from_slice(&p.metadata_json).expect("json");
        assert_eq!(m["resource"], "http://127.0.0.1:4321/mcp");
        assert_eq!(m["authorization_servers"][0], "http://127.0.0.1:9000");
        assert_eq!(m["scopes_supported"][1], "mcp:write");
        assert_eq!(m["bearer_methods_supported"], json!(["header"]));
        assert_eq!(m["resource_name"], "Test");
        assert!(m.get("resource_documentation").is_none());
        assert_eq!(
            default_resource("::1", 80, "/mcp"),
            "http://[::1]:80/mcp",
            "IPv6 hosts are bracketed"
        );
    }

    #[test]
    fn configured_resource_behind_a_proxy() {
        let mut c = cfg();
        c.resource = Some("https://mcp.example.com/api/mcp".into());
        let p = Policy::new(&c, "/mcp", ("127.0.0.1", 1)).expect("policy");
        assert_eq!(
            p.metadata_url,
            "https://mcp.example.com/.well-known/oauth-protected-resource/api/mcp"
        );
        assert!(p.is_metadata_path("/.well-known/oauth-protected-resource/mcp"));
        assert!(p.is_metadata_path("/.well-known/oauth-protected-resource/api/mcp"));
    }

    #[test]
    fn audience_matching_rfc8707() {
        let p = Policy::new(&cfg(), "/mcp", ("127.0.0.1", 4321)).expect("policy");
        assert!(p.audience_ok(["http://127.0.0.1:4321/mcp"].into_iter()));
        assert!(p.audience_ok(["HTTP://127.0.0.1:4321/mcp/"].into_iter()));
        assert!(p.audience_ok(["other", "http://127.0.0.1:4321/mcp"].into_iter()));
        assert!(!p.audience_ok(["http://127.0.0.1:4321/other"].into_iter()));
        assert!(!p.audience_ok(["http://127.0.0.1:4322/mcp"].into_iter()));
        assert!(!p.audience_ok(std::iter::empty()));
        // A jwt audience override replaces the resource.
        let mut c = cfg();
        c.verifier = Verifier::Jwt(JwtConfig {
            issuer: "http://127.0.0.1:9000".into(),
            audience: Some(vec!["api://mine".into()]),
            jwks: None,
            jwks_uri: Some("http://127.0.0.1:9000/jwks".into()),
            algorithms: None,
            clock_tolerance_seconds: 0,
        });
        let p = Policy::new(&c, "/mcp", ("127.0.0.1", 4321)).expect("policy");
        assert!(p.audience_ok(["api://mine"].into_iter()));
        assert!(!p.audience_ok(["http://127.0.0.1:4321/mcp"].into_iter()));
    }

    #[test]
    fn config_errors() {
        let mut c = cfg();
        c.authorization_servers.clear();
        assert_eq!(c.validate(), Err(ConfigError::NoAuthorizationServers));
        let mut c = cfg();
        c.authorization_servers = vec!["ftp://x".into()];
        assert!(matches!(c.validate(), Err(ConfigError::BadUrl { .. })));
        let mut c = cfg();
        c.resource = Some("https://x/mcp#frag".into());
        assert!(matches!(c.validate(), Err(ConfigError::BadUrl { .. })));
        let mut c = cfg();
        c.required_scopes = vec!["a b".into()];
        assert!(matches!(c.validate(), Err(ConfigError::BadScope(_))));
        let mut c = cfg();
        c.verifier = Verifier::Jwt(JwtConfig {
            issuer: "i".into(),
            audience: None,
            jwks: None,
            jwks_uri: None,
            algorithms: None,
            clock_tolerance_seconds: 0,
        });
        assert_eq!(c.validate(), Err(ConfigError::JwksSource));
    }
}
