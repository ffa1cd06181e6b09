//! The `auth` option, as the core sees it (the bindings convert the JS object into this).

use serde_json::Value;

/// Who verifies tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum Verifier {
    /// The host's `verify(token, request)` callback, supplied at run time as a
    /// [`super::TokenVerifier`].
    Js,
    /// Signed JWTs, verified in Rust.
    Jwt(JwtConfig),
}

#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    pub issuer: String,
    /// Accepted `aud` values; default: the server's `resource`.
    pub audience: Option<Vec<String>>,
    /// A static JWK Set (`{"keys": [...]}`).
    pub jwks: Option<Value>,
    /// Where to fetch the JWK Set from (refetched on an unknown `kid`).
    pub jwks_uri: Option<String>,
    /// Accepted `alg` values; default: every asymmetric algorithm.
    pub algorithms: Option<Vec<String>>,
    pub clock_tolerance_seconds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    pub authorization_servers: Vec<String>,
    pub resource: Option<String>,
    pub scopes_supported: Option<Vec<String>>,
    pub required_scopes: Vec<String>,
    pub resource_name: Option<String>,
    pub resource_documentation: Option<String>,
    pub verifier: Verifier,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("auth.authorizationServers must list at least one issuer URL")]
    NoAuthorizationServers,
    #[error("auth.{field}: {value:?} is not an absolute http(s) URL without a fragment")]
    BadUrl { field: &'static str, value: String },
    #[error("auth.jwt needs exactly one of jwks and jwksUri")]
    JwksSource,
    #[error("auth.jwt.jwks is not a usable JWK Set: {0}")]
    BadJwks(String),
    #[error("auth.jwt.algorithms: {0:?} is not a supported asymmetric algorithm")]
    BadAlgorithm(String),
    #[error("auth.jwt.issuer must not be empty")]
    NoIssuer,
    #[error("auth: a scope must be non-empty and hold no spaces, quotes or backslashes: {0:?}")]
    BadScope(String),
}

/// `scheme://authority/path` split, for absolute http(s) URLs without a fragment.
pub(crate) struct Parsed<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
}

pub(crate) fn parse_url(u: &str) -> Option<Parsed<'_>> {
    if u.contains('#') || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = u.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(Parsed {
        scheme,
        authority,
        path,
    })
}

pub(crate) fn check_url(field: &'static str, u: &str) -> Result<(), ConfigError> {
    parse_url(u).map(|_| ()).ok_or_else(|| ConfigError::BadUrl {
        field,
        value: u.to_owned(),
    })
}

fn check_scopes(scopes: &[String]) -> Result<(), ConfigError> {
    for s in scopes {
        // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
        let ok = !s.is_empty()
            && s.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !ok {
            return Err(ConfigError::BadScope(s.clone()));
        }
    }
    Ok(())
}

impl AuthConfig {
    /// Checks everything that can be checked before the listener exists.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.authorization_servers.is_empty() {
            return Err(ConfigError::NoAuthorizationServers);
        }
        for a in &self.authorization_servers {
            check_url("authorizationServers", a)?;
        }
        if let Some(r) = &self.resource {
            check_url("resource", r)?;
        }
        if let Some(d) = &self.resource_documentation {
            check_url("resourceDocumentation", d)?;
        }
        check_scopes(&self.required_scopes)?;
        if let Some(s) = &self.scopes_supported {
            check_scopes(s)?;
        }
        if let Verifier::Jwt(j) = &self.verifier {
            if j.issuer.is_empty() {
                return Err(ConfigError::NoIssuer);
            }
            // The key set and the algorithms are checked when the verifier is built.
            match (&j.jwks, &j.jwks_uri) {
                (Some(_), None) => {}
                (None, Some(u)) => check_url("jwt.jwksUri", u)?,
                _ => return Err(ConfigError::JwksSource),
            }
        }
        Ok(())
    }
}

/// The `auth` option as lib/server.js sends it (JSON; the `verify` function itself travels
/// separately, `hasVerify` says whether it was given).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthOptions {
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    pub resource: Option<String>,
    pub scopes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub required_scopes: Vec<String>,
    pub resource_name: Option<String>,
    pub resource_documentation: Option<String>,
    #[serde(default)]
    pub has_verify: bool,
    pub jwt: Option<JwtOptions>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtOptions {
    pub issuer: String,
    pub audience: Option<OneOrMany>,
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    pub algorithms: Option<Vec<String>>,
    pub clock_tolerance_seconds: Option<u64>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("auth needs exactly one of verify and jwt")]
    VerifierChoice,
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl AuthOptions {
    /// Checked configuration; the JS verifier, if chosen, is attached by the bindings.
    pub fn into_config(self) -> Result<AuthConfig, OptionsError> {
        let verifier = match (self.has_verify, self.jwt) {
            (true, None) => Verifier::Js,
            (false, Some(j)) => Verifier::Jwt(JwtConfig {
                issuer: j.issuer,
                audience: j.audience.map(|a| match a {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                }),
                jwks: j.jwks,
                jwks_uri: j.jwks_uri,
                algorithms: j.algorithms,
                clock_tolerance_seconds: j.clock_tolerance_seconds.unwrap_or(0),
            }),
            _ => return Err(OptionsError::VerifierChoice),
        };
        let cfg = AuthConfig {
            authorization_servers: self.authorization_servers,
            resource: self.resource,
            scopes_supported: self.scopes_supported,
            required_scopes: self.required_scopes,
            resource_name: self.resource_name,
            resource_documentation: self.resource_documentation,
            verifier,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<AuthConfig, String> {
        serde_json::from_value::<AuthOptions>(v)
            .map_err(|e| e.to_string())?
            .into_config()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn js_shapes() {
        let c = parse(serde_json::json!({
            "authorizationServers": ["https://as.example"], "hasVerify": true, "requiredScopes": ["a"]
        }))
        .expect("verify");
        assert_eq!(c.verifier, Verifier::Js);
        let c = parse(serde_json::json!({
            "authorizationServers": ["https://as.example"],
            "jwt": { "issuer": "https://as.example", "audience": "api://x", "jwksUri": "https://as.example/jwks" }
        }))
        .expect("jwt");
        let Verifier::Jwt(j) = c.verifier else {
            panic!("jwt")
        };
        assert_eq!(j.audience, Some(vec!["api://x".to_owned()]));
        let both = parse(serde_json::json!({
            "authorizationServers": ["https://as.example"], "hasVerify": true,
            "jwt": { "issuer": "i", "jwksUri": "https://as.example/jwks" }
        }));
        assert_eq!(both, Err("auth needs exactly one of verify and jwt".into()));
        let neither = parse(serde_json::json!({ "authorizationServers": ["https://as.example"] }));
        assert_eq!(
            neither,
            Err("auth needs exactly one of verify and jwt".into())
        );
        assert!(
            parse(serde_json::json!({ "authorizationServer": [], "hasVerify": true })).is_err(),
            "typos are refused"
        );
    }
}
