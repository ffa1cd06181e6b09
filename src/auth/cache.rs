//! Verified tokens, cached until they expire, so a JS verifier runs once per token rather
//! than once per request. Keyed by the token's bytes under a per-cache seeded hash (foldhash):
//! a lookup hashes the token once and compares it in full on a hit, where a SHA-256 key cost
//! every request of a ~1 KB JWT more than the rest of the check. Bounded: at capacity, expired
//! entries go first, then the one expiring soonest.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;
use parking_lot::Mutex;

use super::AuthInfo;

/// Longest a token is trusted without re-verification when its verifier gave no `expiresAt`.
pub const DEFAULT_TTL_SECS: u64 = 60;
pub const DEFAULT_CAPACITY: usize = 10_000;

struct Entry {
    info: Arc<AuthInfo>,
    until: u64,
}

/// Tokens (their bytes) to what they map to. The seed is drawn per map, so which tokens share a
/// bucket cannot be planned from outside; and only verified tokens are ever inserted.
pub(crate) type TokenMap<V> = HashMap<Box<[u8]>, V, RandomState>;

pub struct TokenCache {
    map: Mutex<TokenMap<Entry>>,
    capacity: usize,
    default_ttl: u64,
}

impl TokenCache {
    pub fn new(capacity: usize, default_ttl: u64) -> Self {
        Self {
            map: Mutex::new(TokenMap::default()),
            capacity: capacity.max(1),
            default_ttl,
        }
    }

    /// The cached principal for `token`, if it is still valid at `now` (epoch seconds).
    pub fn get(&self, token: &[u8], now: u64) -> Option<Arc<AuthInfo>> {
        let mut map = self.map.lock();
        match map.get(token) {
            Some(e) if e.until > now => Some(e.info.clone()),
            Some(_) => {
                map.remove(token);
                None
            }
            None => None,
        }
    }

    /// Remembers a verified token until its `expiresAt` (or `now + default_ttl`).
    pub fn insert(&self, token: &[u8], info: Arc<AuthInfo>, now: u64) {
        let until = info
            .expires_at
            .unwrap_or(now.saturating_add(self.default_ttl));
        if until <= now {
            return;
        }
        let mut map = self.map.lock();
        if map.len() >= self.capacity && !map.contains_key(token) {
            map.retain(|_, e| e.until > now);
            if map.len() >= self.capacity {
                let soonest = map
                    .iter()
                    .min_by_key(|(_, e)| e.until)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    map.remove(&k);
                }
            }
        }
        map.insert(token.into(), Entry { info, until });
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sub: &str, exp: Option<u64>) -> Arc<AuthInfo> {
        Arc::new(AuthInfo {
            subject: sub.into(),
            client_id: None,
            scopes: vec![],
            expires_at: exp,
            audience: None,
            extra: None,
            rendered: Default::default(),
        })
    }

    #[test]
    fn hit_until_expiry_then_miss() {
        let c = TokenCache::new(10, 60);
        c.insert(b"t1", info("a", Some(1_000)), 900);
        assert_eq!(
            c.get(b"t1", 999).map(|i| i.subject.clone()),
            Some("a".into())
        );
        assert!(c.get(b"t1", 1_000).is_none());
        assert!(c.is_empty(), "an expired entry is evicted on lookup");
        assert!(c.get(b"other", 900).is_none());
    }

    #[test]
    fn no_expiry_uses_the_default_ttl_and_expired_is_not_cached() {
        let c = TokenCache::new(10, 60);
        c.insert(b"t", info("a", None), 100);
        assert!(c.get(b"t", 159).is_some());
        assert!(c.get(b"t", 160).is_none());
        c.insert(b"old", info("a", Some(50)), 100);
        assert!(c.is_empty());
    }

    #[test]
    fn bounded_evicting_expired_then_soonest() {
        let c = TokenCache::new(3, 60);
        c.insert(b"a", info("a", Some(110)), 100);
        c.insert(b"b", info("b", Some(300)), 100);
        c.insert(b"c", info("c", Some(200)), 100);
        // At 150 "a" has expired: it makes room.
        c.insert(b"d", info("d", Some(400)), 150);
        assert_eq!(c.len(), 3);
        assert!(c.get(b"b", 150).is_some() && c.get(b"c", 150).is_some());
        // Nothing expired: the soonest to expire ("c") goes.
        c.insert(b"e", info("e", Some(500)), 150);
        assert_eq!(c.len(), 3);
        assert!(c.get(b"c", 150).is_none());
        assert!(c.get(b"e", 150).is_some());
    }

    #[test]
    fn keyed_by_the_whole_token() {
        let c = TokenCache::new(10, 60);
        c.insert(b"token-a", info("a", Some(1_000)), 0);
        assert!(c.get(b"token-b", 0).is_none());
        assert!(c.get(b"token-", 0).is_none());
        assert!(c.get(b"token-aa", 0).is_none());
        assert!(c.get(b"token-a", 0).is_some());
    }
}
