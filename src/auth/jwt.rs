//! JWT access tokens verified in Rust against a JWK Set, static or fetched from `jwksUri`
//! (refetched when a token names an unknown `kid`, at most once per refetch interval).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use parking_lot::RwLock;
use serde_json::{Map, Value};

use super::config::{ConfigError, JwtConfig};
use super::fetch::Fetcher;
use super::{scope, Audience, AuthError, AuthInfo, RequestPeer, TokenVerifier, VerifyFuture};

/// Asymmetric algorithms only: a shared-secret (HS*) key in a public JWK Set would let anyone
/// holding the set mint tokens.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Minimum time between two fetches of `jwksUri` triggered by unknown `kid`s.
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

pub fn parse_algorithms(names: Option<&[String]>) -> Result<Vec<Algorithm>, ConfigError> {
    let Some(names) = names else {
        return Ok(ASYMMETRIC.to_vec());
    };
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        match Algorithm::from_str(n) {
            Ok(a) if ASYMMETRIC.contains(&a) => out.push(a),
            _ => return Err(ConfigError::BadAlgorithm(n.clone())),
        }
    }
    if out.is_empty() {
        return Err(ConfigError::BadAlgorithm(String::new()));
    }
    Ok(out)
}

struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// The usable signature keys of a JWK Set; keys it cannot use (encryption keys, unknown
/// types, symmetric keys) are skipped, not fatal.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let list = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| "no \"keys\" array".to_owned())?;
        let mut keys = Vec::new();
        for k in list {
            let Ok(jwk) = serde_json::from_value::<Jwk>(k.clone()) else {
                continue;
            };
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| Algorithm::from_str(&a.to_string()).ok());
            let Ok(key) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            if key.family() == jsonwebtoken::AlgorithmFamily::Hmac {
                continue;
            }
            keys.push(Key {
                kid: jwk.common.key_id.clone(),
                alg,
                key,
            });
        }
        Ok(Self { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys.iter().filter(move |k| {
            (kid.is_none() || k.kid.as_deref() == kid)
                && k.key.family() == alg.family()
                && k.alg.is_none_or(|a| a == alg)
        })
    }
}

enum Source {
    Static,
    Remote {
        uri: String,
        fetcher: Box<Fetcher>,
        /// Serializes fetches; holds when the last one happened.
        last: tokio::sync::Mutex<Option<Instant>>,
        interval: Duration,
    },
}

pub struct JwtVerifier {
    issuer: String,
    algorithms: Vec<Algorithm>,
    leeway: u64,
    keys: RwLock<Arc<KeySet>>,
    source: Source,
}

fn claim_str(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

impl JwtVerifier {
    pub fn new(cfg: &JwtConfig) -> Result<Self, ConfigError> {
        Self::with_refetch_interval(cfg, DEFAULT_REFETCH_INTERVAL)
    }

    pub fn with_refetch_interval(cfg: &JwtConfig, interval: Duration) -> Result<Self, ConfigError> {
        let algorithms = parse_algorithms(cfg.algorithms.as_deref())?;
        let (keys, source) = match (&cfg.jwks, &cfg.jwks_uri) {
            (Some(set), None) => (
                KeySet::from_value(set).map_err(ConfigError::BadJwks)?,
                Source::Static,
            ),
            (None, Some(uri)) => {
                super::config::check_url("jwt.jwksUri", uri)?;
                let fetcher = Box::new(
                    Fetcher::new(Duration::from_secs(5), 1 << 20)
                        .map_err(|e| ConfigError::BadJwks(e.to_string()))?,
                );
                (
                    KeySet::default(),
                    Source::Remote {
                        uri: uri.clone(),
                        fetcher,
                        last: tokio::sync::Mutex::new(None),
                        interval,
                    },
                )
            }
            _ => return Err(ConfigError::JwksSource),
        };
        Ok(Self {
            issuer: cfg.issuer.clone(),
            algorithms,
            leeway: cfg.clock_tolerance_seconds,
            keys: RwLock::new(Arc::new(keys)),
            source,
        })
    }

    /// Refetches the remote set unless one was fetched within the interval. `seen` is the set
    /// the caller looked in: if another task replaced it meanwhile, that one is used instead.
    async fn refresh(&self, seen: &Arc<KeySet>) -> Result<Arc<KeySet>, AuthError> {
        let Source::Remote {
            uri,
            fetcher,
            last,
            interval,
        } = &self.source
        else {
            return Err(AuthError::UnknownKey);
        };
        let mut last = last.lock().await;
        let current = self.keys.read().clone();
        if !Arc::ptr_eq(&current, seen) {
            return Ok(current);
        }
        if last.is_some_and(|t| t.elapsed() < *interval) {
            return Err(AuthError::UnknownKey);
        }
        *last = Some(Instant::now());
        let fetched = fetcher
            .get_json(uri)
            .await
            .and_then(|v| KeySet::from_value(&v).map_err(super::fetch::FetchError::Json));
        match fetched {
            Ok(set) => {
                tracing::debug!(keys = set.len(), %uri, "fetched JWK Set");
                let set = Arc::new(set);
                *self.keys.write() = set.clone();
                Ok(set)
            }
            Err(e) => {
                tracing::warn!(%uri, error = %e, "JWK Set fetch failed");
                if current.is_empty() {
                    Err(AuthError::Unavailable(e.to_string()))
                } else {
                    Err(AuthError::UnknownKey)
                }
            }
        }
    }

    fn try_keys(
        &self,
        set: &KeySet,
        token: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Option<Result<AuthInfo, AuthError>> {
        let mut v = Validation::new(alg);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        // The audience is checked against the server's resource by the authenticator (with
        // RFC 8707 normalization), for both verifiers alike.
        v.validate_aud = false;
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        let mut last = None;
        for k in set.candidates(kid, alg) {
            match decode::<Map<String, Value>>(token, &k.key, &v) {
                Ok(data) => return Some(Ok(to_info(data.claims))),
                Err(e) => {
                    let err = match e.kind() {
                        ErrorKind::ExpiredSignature => AuthError::Expired,
                        ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                        ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".into()),
                        ErrorKind::ImmatureSignature => AuthError::Invalid("not yet valid".into()),
                        ErrorKind::MissingRequiredClaim(c) => {
                            AuthError::Invalid(format!("no {c} claim"))
                        }
                        other => AuthError::Invalid(format!("{other:?}")),
                    };
                    // A signature failure may just mean the wrong key of several without
                    // `kid`: keep trying; anything else is about the token itself.
                    if err != AuthError::Invalid("bad signature".into()) {
                        return Some(Err(err));
                    }
                    last = Some(err);
                }
            }
        }
        last.map(Err)
    }

    pub async fn verify_token(&self, token: &str) -> Result<AuthInfo, AuthError> {
        let header = decode_header(token).map_err(|_| AuthError::Invalid("not a JWT".into()))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(AuthError::Invalid("algorithm not accepted".into()));
        }
        let kid = header.kid.as_deref();
        let set = self.keys.read().clone();
        if let Some(r) = self.try_keys(&set, token, kid, header.alg) {
            return r;
        }
        let set = self.refresh(&set).await?;
        self.try_keys(&set, token, kid, header.alg)
            .unwrap_or(Err(AuthError::UnknownKey))
    }
}

fn to_info(claims: Map<String, Value>) -> AuthInfo {
    let scopes = match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => scope::split(s),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let audience = match claims.get("aud") {
        Some(Value::String(s)) => Some(Audience::One(s.clone())),
        Some(Value::Array(a)) => Some(Audience::Many(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        )),
        _ => None,
    };
    AuthInfo {
        subject: claim_str(&claims, "sub").unwrap_or_default(),
        client_id: claim_str(&claims, "client_id")
            .or_else(|| claim_str(&claims, "azp"))
            .or_else(|| claim_str(&claims, "cid")),
        scopes,
        expires_at: claims.get("exp").and_then(Value::as_u64),
        audience,
        extra: Some(claims),
        rendered: Default::default(),
    }
}

impl TokenVerifier for JwtVerifier {
    fn verify<'a>(&'a self, token: &'a str, _peer: RequestPeer<'a>) -> VerifyFuture<'a> {
        Box::pin(async move { self.verify_token(token).await.map(Some) })
    }
}
