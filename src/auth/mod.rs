//! OAuth 2.1 resource server (MCP Authorization, RFC 9728, RFC 6750, RFC 8707).
//!
//! Everything here is transport-agnostic: the service asks an [`Authenticator`] whether a
//! request's `Authorization` header (and query string) carries an acceptable bearer token, and
//! gets either the caller's [`AuthInfo`] or a ready [`Challenge`] (status + `WWW-Authenticate`).
//! Tokens are verified either by a host-supplied [`TokenVerifier`] (the JS callback) or in Rust
//! by [`jwt::JwtVerifier`]; verified tokens are cached by a hash until they expire.
//! See docs/authorization.md.

pub mod bearer;
pub mod cache;
pub mod challenge;
pub mod config;
pub mod cors;
pub mod fetch;
pub mod jwt;
pub mod metadata;
pub mod scope;
pub mod uri_template;

mod authenticator;
mod info;

pub use authenticator::{Authenticator, RequestPeer, TokenVerifier, VerifyFuture};
pub use challenge::Challenge;
pub use config::{AuthConfig, AuthOptions, ConfigError, JwtConfig, OptionsError, Verifier};
pub use info::{Audience, AuthInfo, ConnectionAuth};
pub use metadata::Policy;

/// Why a presented token was not accepted. Everything but [`AuthError::Unavailable`] and
/// [`AuthError::Verifier`] is the client's problem and answers 401 `invalid_token`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token was not issued for this resource")]
    WrongAudience,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The key set could not be obtained (jwksUri unreachable): a server-side outage, 503.
    #[error("the signing keys are unavailable: {0}")]
    Unavailable(String),
    /// The host's verifier failed (threw, timed out, returned junk): 500.
    #[error("the token verifier failed: {0}")]
    Verifier(String),
}

/// Seconds since the Unix epoch (JWT `exp`/`iat` units).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
