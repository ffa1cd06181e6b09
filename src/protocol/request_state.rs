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

fn mac(key: &[u8; 32], data: &[u8]) -> Result<HmacSha256, StateError> {
    let mut m = HmacSha256::new_from_slice(key).map_err(|_| StateError::Malformed)?;
    m.update(VERSION.as_bytes());
    m.update(b".");
    m.update(data);
    Ok(m)
}

/// `v1.<payload>.<mac>`, both base64url.
pub fn seal(
    key: &[u8; 32],
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
    key: &[u8; 32],
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
}
