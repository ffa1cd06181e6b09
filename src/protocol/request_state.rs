//! Sealing of multi round-trip `requestState` (2026-07-28): the state a callback returns goes
//! to the client MAC'd with a per-server key and bound to the method, the name it was issued
//! for and an expiry, so a client cannot forge, alter, replay against another tool, or keep
//! one alive past its lifetime. JS only ever sees states the server itself sealed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The callback's own state.
    s: String,
    /// Method and name (tool or prompt name, or resource uri) the state belongs to.
    m: String,
    n: String,
    /// Expiry, epoch ms.
    e: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("requestState is malformed")]
    Malformed,
    #[error("requestState failed verification")]
    BadSignature,
    #[error("requestState was issued for another request")]
    WrongTarget,
    #[error("requestState has expired")]
    Expired,
}

fn mac(key: &[u8], data: &[u8]) -> Result<HmacSha256, StateError> {
    let mut m = HmacSha256::new_from_slice(key).map_err(|_| StateError::Malformed)?;
    m.update(VERSION.as_bytes());
    m.update(b".");
    m.update(data);
    Ok(m)
}

/// `v1.<payload>.<mac>`, both base64url.
pub fn seal(
    key: &[u8],
    state: &str,
    method: &str,
    name: &str,
    expires_ms: u64,
) -> Result<String, StateError> {
    let payload = serde_json::to_vec(&Payload {
        s: state.to_owned(),
        m: method.to_owned(),
        n: name.to_owned(),
        e: expires_ms,
    })
    .map_err(|_| StateError::Malformed)?;
    let body = URL_SAFE_NO_PAD.encode(&payload);
    let tag = mac(key, body.as_bytes())?.finalize().into_bytes();
    Ok(format!("{VERSION}.{body}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

/// The callback's state, if `sealed` is intact, for this method and name, and not expired.
pub fn open(
    key: &[u8],
    sealed: &str,
    method: &str,
    name: &str,
    now_ms: u64,
) -> Result<String, StateError> {
    let mut parts = sealed.split('.');
    let (Some(VERSION), Some(body), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(StateError::Malformed);
    };
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| StateError::Malformed)?;
    mac(key, body.as_bytes())?
        .verify_slice(&tag)
        .map_err(|_| StateError::BadSignature)?;
    let payload: Payload = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(StateError::Malformed)?;
    if payload.m != method || payload.n != name {
        return Err(StateError::WrongTarget);
    }
    if now_ms > payload.e {
        return Err(StateError::Expired);
    }
    Ok(payload.s)
}

/// Shortest key `requestStateKeys` accepts: HMAC-SHA256's own block of entropy.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("requestStateKeys[{0}] is not base64")]
    NotBase64(usize),
    #[error("requestStateKeys[{0}] is {1} bytes; at least {MIN_KEY_BYTES} are required")]
    TooShort(usize, usize),
    #[error("could not draw a random requestState key: {0}")]
    Random(String),
}

/// The keys a server seals and opens `requestState` with. The first seals; every key opens, so a
/// fleet can rotate: add the new key second everywhere, then move it first, then drop the old.
/// Several instances that share the list accept each other's states (one random key, the
/// default, is single-instance only).
pub struct StateKeys {
    keys: Vec<Box<[u8]>>,
}

impl StateKeys {
    /// One random key, drawn per process.
    pub fn random() -> Result<Self, KeyError> {
        let mut key = [0u8; MIN_KEY_BYTES];
        getrandom::fill(&mut key).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self {
            keys: vec![Box::new(key)],
        })
    }

    /// Keys given as base64 (standard or URL-safe alphabet, padded or not); an empty list means
    /// [`StateKeys::random`].
    pub fn from_base64<S: AsRef<str>>(encoded: &[S]) -> Result<Self, KeyError> {
        if encoded.is_empty() {
            return Self::random();
        }
        let mut keys = Vec::with_capacity(encoded.len());
        for (i, text) in encoded.iter().enumerate() {
            let t = text.as_ref().trim().trim_end_matches('=');
            let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(t)
                .or_else(|_| URL_SAFE_NO_PAD.decode(t))
                .map_err(|_| KeyError::NotBase64(i))?;
            if bytes.len() < MIN_KEY_BYTES {
                return Err(KeyError::TooShort(i, bytes.len()));
            }
            keys.push(bytes.into_boxed_slice());
        }
        Ok(Self { keys })
    }

    pub fn seal(
        &self,
        state: &str,
        method: &str,
        name: &str,
        expires_ms: u64,
    ) -> Result<String, StateError> {
        let key = self.keys.first().ok_or(StateError::Malformed)?;
        seal(key, state, method, name, expires_ms)
    }

    /// Tries every key; a state sealed by none of them is `BadSignature`. Errors other than a
    /// signature mismatch (expired, other target, malformed) are final with the key that matched.
    pub fn open(
        &self,
        sealed: &str,
        method: &str,
        name: &str,
        now_ms: u64,
    ) -> Result<String, StateError> {
        let mut last = StateError::BadSignature;
        for key in &self.keys {
            match open(key, sealed, method, name, now_ms) {
                Err(StateError::BadSignature) => last = StateError::BadSignature,
                other => return other,
            }
        }
        Err(last)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn round_trips_for_the_same_target() {
        let s = seal(&KEY, "{\"step\":1}", "tools/call", "t", 1000).unwrap();
        assert_eq!(
            open(&KEY, &s, "tools/call", "t", 999).unwrap(),
            "{\"step\":1}"
        );
    }

    #[test]
    fn refuses_tampered_expired_replayed_and_foreign_states() {
        let s = seal(&KEY, "x", "tools/call", "t", 1000).unwrap();
        assert_eq!(
            open(&KEY, &format!("{s}-TAMPERED"), "tools/call", "t", 0),
            Err(StateError::BadSignature)
        );
        // Flip one character of the payload: the MAC no longer matches.
        let mut chars: Vec<char> = s.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let flipped: String = chars.into_iter().collect();
        assert_eq!(
            open(&KEY, &flipped, "tools/call", "t", 0),
            Err(StateError::BadSignature)
        );
        assert_eq!(
            open(&KEY, &s, "tools/call", "t", 1001),
            Err(StateError::Expired)
        );
        assert_eq!(
            open(&KEY, &s, "tools/call", "other", 0),
            Err(StateError::WrongTarget)
        );
        assert_eq!(
            open(&KEY, &s, "prompts/get", "t", 0),
            Err(StateError::WrongTarget)
        );
        assert_eq!(
            open(&[8; 32], &s, "tools/call", "t", 0),
            Err(StateError::BadSignature)
        );
        assert_eq!(
            open(&KEY, "plain", "tools/call", "t", 0),
            Err(StateError::Malformed)
        );
    }

    fn b64(key: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    #[test]
    fn shared_keys_open_each_others_states_and_rotate() {
        let old = [1u8; 32];
        let new = [2u8; 48];
        let a = StateKeys::from_base64(&[b64(&old)]).unwrap();
        // An instance mid-rotation seals with the new key and still opens the old one's states.
        let b = StateKeys::from_base64(&[b64(&new), URL_SAFE_NO_PAD.encode(old)]).unwrap();
        let by_a = a.seal("s", "tools/call", "t", 10).unwrap();
        assert_eq!(b.open(&by_a, "tools/call", "t", 0).unwrap(), "s");
        let by_b = b.seal("s2", "tools/call", "t", 10).unwrap();
        assert_eq!(
            a.open(&by_b, "tools/call", "t", 0),
            Err(StateError::BadSignature)
        );
        // After the old key is dropped, its states no longer open.
        let c = StateKeys::from_base64(&[b64(&new)]).unwrap();
        assert_eq!(c.open(&by_b, "tools/call", "t", 0).unwrap(), "s2");
        assert_eq!(
            c.open(&by_a, "tools/call", "t", 0),
            Err(StateError::BadSignature)
        );
        // A key that matches but finds the state expired says so, not "bad signature".
        assert_eq!(
            b.open(&by_a, "tools/call", "t", 11),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn refuses_short_or_non_base64_keys() {
        assert_eq!(
            StateKeys::from_base64(&[b64(&[0u8; 31])]).err(),
            Some(KeyError::TooShort(0, 31))
        );
        assert_eq!(
            StateKeys::from_base64(&[b64(&[0u8; 32]), "not base64!".to_owned()]).err(),
            Some(KeyError::NotBase64(1))
        );
        // Two random key sets do not open each other's states.
        let (x, y) = (StateKeys::random().unwrap(), StateKeys::random().unwrap());
        let s = x.seal("s", "tools/call", "t", 10).unwrap();
        assert_eq!(
            y.open(&s, "tools/call", "t", 0),
            Err(StateError::BadSignature)
        );
    }
}
