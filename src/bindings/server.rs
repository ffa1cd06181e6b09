//! `startStreamableMcpServer` and the `StreamableMcpServer` handle.

use napi_derive::napi;

use crate::protocol::version::{LEGACY_VERSIONS, MODERN_VERSIONS};

/// Every protocol revision this build can speak, oldest first.
#[napi]
pub fn supported_protocol_versions() -> Vec<String> {
    LEGACY_VERSIONS
        .iter()
        .chain(MODERN_VERSIONS.iter())
        .map(|s| s.to_string())
        .collect()
}
