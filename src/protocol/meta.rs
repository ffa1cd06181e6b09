//! `params._meta`: the progress token of either era, and the per-request fields that mark a
//! 2026-07-28 request.

use serde::Deserialize;
use serde_json::{value::RawValue, Value};

pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(rename = "progressToken")]
    pub progress_token: Option<Value>,
    #[serde(rename = "io.modelcontextprotocol/protocolVersion")]
    pub protocol_version: Option<Value>,
    /// Kept as JSON text: it is handed on, not inspected, on the hot path.
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities")]
    pub client_capabilities: Option<Box<RawValue>>,
    #[serde(rename = "io.modelcontextprotocol/clientInfo")]
    pub client_info: Option<Box<RawValue>>,
    #[serde(rename = "io.modelcontextprotocol/logLevel")]
    pub log_level: Option<Value>,
}

#[derive(Deserialize)]
struct WithMeta {
    #[serde(rename = "_meta")]
    meta: Option<Meta>,
}

/// The `_meta` of a params object that may claim the 2026 era. A params text without the
/// version key cannot claim it, so most 2025 requests skip the parse.
pub fn modern_meta_of(params: Option<&RawValue>) -> Option<Meta> {
    let p = params?;
    if !p.get().contains(META_PROTOCOL_VERSION) {
        return None;
    }
    Some(meta_of(Some(p))).filter(Meta::is_modern)
}

/// The `_meta` of a request's params; empty when absent or unreadable.
pub fn meta_of(params: Option<&RawValue>) -> Meta {
    params
        .and_then(|p| serde_json::from_str::<WithMeta>(p.get()).ok())
        .and_then(|w| w.meta)
        .unwrap_or_default()
}

impl Meta {
    /// Whether `_meta` claims the 2026 era: it names a protocol version (valid or not, so a
    /// bad envelope gets the modern errors, not session errors).
    pub fn is_modern(&self) -> bool {
        self.protocol_version.is_some()
    }
}

/// The first 2026 revision; an `MCP-Protocol-Version` at or after it (compared as text, so
/// unknown future forms count) claims the modern era.
pub const FIRST_MODERN: &str = "2026-07-28";

/// Era detection for one request (docs/protocol-eras.md, refined by the 2026-07-28 probes): modern when
/// `_meta` claims it, or, for anything but `initialize`, when the version header names
/// 2026-07-28 or later; otherwise the 2025 session path.
pub fn claims_modern(meta_claims: bool, is_initialize: bool, version_header: Option<&str>) -> bool {
    meta_claims || (!is_initialize && version_header.is_some_and(|v| v.trim() >= FIRST_MODERN))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn era_detection() {
        // _meta decides, whatever the headers say.
        assert!(claims_modern(true, false, None));
        assert!(claims_modern(true, true, Some("2025-11-25")));
        // The version header claims the era for everything but initialize.
        assert!(claims_modern(false, false, Some("2026-07-28")));
        assert!(claims_modern(false, false, Some(" v999.0.0 ")));
        assert!(!claims_modern(false, true, Some("2026-07-28")));
        // 2025 clients (the suites send these headers on legacy requests too).
        assert!(!claims_modern(false, false, Some("2025-11-25")));
        assert!(!claims_modern(false, false, Some("2025-03-26")));
        assert!(!claims_modern(false, false, None));
    }

    #[test]
    fn reads_progress_token_and_modern_fields() {
        let p = RawValue::from_string(
            r#"{"name":"x","_meta":{"progressToken":7,"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#.into(),
        )
        .unwrap();
        let m = meta_of(Some(&p));
        assert_eq!(m.progress_token, Some(serde_json::json!(7)));
        assert!(m.is_modern());
        assert!(!meta_of(None).is_modern());
    }
}
