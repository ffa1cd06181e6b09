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
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities")]
    pub client_capabilities: Option<Value>,
    #[serde(rename = "io.modelcontextprotocol/clientInfo")]
    pub client_info: Option<Value>,
    #[serde(rename = "io.modelcontextprotocol/logLevel")]
    pub log_level: Option<Value>,
}

#[derive(Deserialize)]
struct WithMeta {
    #[serde(rename = "_meta")]
    meta: Option<Meta>,
}

/// The `_meta` of a request's params; empty when absent or unreadable.
pub fn meta_of(params: Option<&RawValue>) -> Meta {
    params
        .and_then(|p| serde_json::from_str::<WithMeta>(p.get()).ok())
        .and_then(|w| w.meta)
        .unwrap_or_default()
}

impl Meta {
    /// A request is of the 2026 era when its `_meta` names a protocol version.
    pub fn is_modern(&self) -> bool {
        self.protocol_version.is_some()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
