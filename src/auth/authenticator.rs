//! The per-request check: bearer extraction, cache, verification, audience, expiry, scopes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::bearer::{self, BearerError};
use super::cache::{TokenCache, TokenMap, DEFAULT_CAPACITY, DEFAULT_TTL_SECS};
use super::{challenge, now_secs, scope, AuthError, AuthInfo, Challenge, Policy};

/// Who sent the request, as the JS verifier sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestPeer<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<AuthInfo>, AuthError>> + Send + 'a>>;

/// Turns a token into a principal; `Ok(None)` means "not a token I know".
pub trait TokenVerifier: Send + Sync {
    fn verify<'a>(&'a self, token: &'a str, peer: RequestPeer<'a>) -> VerifyFuture<'a>;
}

/// One verification's outcome, shared by every request that presented the token meanwhile.
type Verdict = Result<Option<Arc<AuthInfo>>, AuthError>;

pub struct Authenticator {
    policy: Policy,
    verifier: Arc<dyn TokenVerifier>,
    cache: TokenCache,
    /// Verifications under way, by token: concurrent first requests of one token wait for the
    /// same verification instead of each calling the verifier.
    inflight: parking_lot::Mutex<TokenMap<Arc<tokio::sync::OnceCell<Verdict>>>>,
}

impl Authenticator {
    pub fn new(policy: Policy, verifier: Arc<dyn TokenVerifier>) -> Self {
        Self::with_cache(
            policy,
            verifier,
            TokenCache::new(DEFAULT_CAPACITY, DEFAULT_TTL_SECS),
        )
    }

    pub fn with_cache(policy: Policy, verifier: Arc<dyn TokenVerifier>, cache: TokenCache) -> Self {
        Self {
            policy,
            verifier,
            cache,
            inflight: parking_lot::Mutex::new(TokenMap::default()),
        }
    }

    /// The verifier's answer for `token`, joined with any verification of it already under way.
    /// If the request running it goes away, a waiting one runs it (tokio's `OnceCell`).
    async fn verify_once(&self, token: &str, peer: RequestPeer<'_>) -> Verdict {
        let key = token.as_bytes();
        let cell = {
            let mut inflight = self.inflight.lock();
            // Entries whose requests all went away before finishing are dropped here, so
            // cancelled verifications cannot pile up.
            if inflight.len() >= 1024 {
                inflight.retain(|_, c| Arc::strong_count(c) > 1);
            }
            inflight.entry(key.into()).or_default().clone()
        };
        let verdict = cell
            .get_or_init(|| async {
                self.verifier
                    .verify(token, peer)
                    .await
                    .map(|o| o.map(Arc::new))
            })
            .await
            .clone();
        let mut inflight = self.inflight.lock();
        if inflight.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(key);
        }
        verdict
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    fn invalid(&self, why: &str) -> Challenge {
        challenge::invalid_token(&self.policy.metadata_url, &self.policy.required_scopes, why)
    }

    /// `authorization` is every `Authorization` header value, `query` the raw query string.
    /// Server-wide required scopes are checked too (403).
    pub async fn authenticate<'a, I>(
        &self,
        authorization: I,
        query: Option<&str>,
        peer: RequestPeer<'_>,
    ) -> Result<Arc<AuthInfo>, Challenge>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let md = &self.policy.metadata_url;
        if bearer::query_has_token(query) {
            return Err(challenge::invalid_request(
                md,
                "access tokens are not accepted in the query string",
            ));
        }
        let token = match bearer::extract_unchecked(authorization) {
            Ok(t) => t,
            Err(BearerError::Missing) => {
                return Err(challenge::missing(md, &self.policy.required_scopes))
            }
            Err(BearerError::Malformed) => {
                return Err(challenge::invalid_request(
                    md,
                    "malformed Authorization header",
                ))
            }
            Err(BearerError::InQuery) => {
                return Err(challenge::invalid_request(
                    md,
                    "access tokens are not accepted in the query string",
                ))
            }
        };
        let now = now_secs();
        let info = match self.cache.get(token, now) {
            Some(info) => info,
            None => {
                let Ok(token) = bearer::checked(token) else {
                    return Err(challenge::invalid_request(
                        md,
                        "malformed Authorization header",
                    ));
                };
                let info = match self.verify_once(token, peer).await {
                    Ok(Some(info)) => info,
                    Ok(None) => return Err(self.invalid("unknown token")),
                    Err(e) => return Err(self.refusal(&e)),
                };
                if info.subject.is_empty() {
                    return Err(self.invalid("the token names no subject"));
                }
                if info.expires_at.is_some_and(|e| e <= now) {
                    return Err(self.refusal(&AuthError::Expired));
                }
                let aud_ok = info
                    .audience
                    .as_ref()
                    .is_some_and(|a| self.policy.audience_ok(a.iter()));
                if !aud_ok {
                    return Err(self.refusal(&AuthError::WrongAudience));
                }
                self.cache.insert(token.as_bytes(), info.clone(), now);
                info
            }
        };
        if !scope::allows(&info.scopes, &self.policy.required_scopes) {
            return Err(challenge::insufficient_scope(
                md,
                &self.policy.required_scopes,
            ));
        }
        Ok(info)
    }

    /// 403 unless `info` holds the server's and the item's required scopes.
    pub fn check_item(&self, info: &AuthInfo, item_scopes: &[String]) -> Result<(), Challenge> {
        if scope::allows(&info.scopes, item_scopes) {
            return Ok(());
        }
        Err(challenge::insufficient_scope(
            &self.policy.metadata_url,
            &scope::needed(&self.policy.required_scopes, item_scopes),
        ))
    }

    /// The challenge for a verification failure.
    pub fn refusal(&self, e: &AuthError) -> Challenge {
        let md = &self.policy.metadata_url;
        match e {
            AuthError::Unavailable(_) => {
                challenge::server_error(503, md, "signing keys unavailable")
            }
            AuthError::Verifier(_) => challenge::server_error(500, md, "token verification failed"),
            AuthError::Expired => Challenge {
                reason: "expired_token",
                ..self.invalid("the token has expired")
            },
            AuthError::WrongAudience => Challenge {
                reason: "wrong_audience",
                ..self.invalid("the token was not issued for this resource")
            },
            AuthError::UnknownKey => self.invalid("the token's signing key is unknown"),
            AuthError::Invalid(why) => self.invalid(why),
        }
    }
}
