//! Protocol revisions and the two eras they belong to (docs/protocol-eras.md).

use serde::Serialize;

/// The 2025 revisions negotiated through `initialize`, oldest first.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless revisions selected per request through `_meta`.
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];
/// What a legacy client is offered when it asks for a version we do not speak.
pub const LATEST_LEGACY: &str = "2025-11-25";

/// Which front end serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Era {
    /// 2025 revisions: `initialize`, `Mcp-Session-Id`, GET streams, resumability.
    Legacy,
    /// 2026-07-28: stateless requests carrying `_meta`.
    Modern,
}

impl Era {
    pub fn as_str(self) -> &'static str {
        match self {
            Era::Legacy => "legacy",
            Era::Modern => "modern",
        }
    }
}

/// A negotiated 2025 revision. Ordered, so feature checks read as comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LegacyVersion {
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
}

impl LegacyVersion {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "2025-03-26" => Some(Self::V2025_03_26),
            "2025-06-18" => Some(Self::V2025_06_18),
            "2025-11-25" => Some(Self::V2025_11_25),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
        }
    }

    /// The answer to an `initialize` that asked for `requested`: the same revision when we
    /// speak it, otherwise our latest (the client then decides whether to continue).
    pub fn negotiate(requested: &str) -> Self {
        Self::parse(requested).unwrap_or(Self::V2025_11_25)
    }

    /// JSON-RPC batches were removed in 2025-06-18.
    pub fn accepts_batches(self) -> bool {
        self == Self::V2025_03_26
    }

    /// 2025-11-25 added the SSE priming event and `retry` (SEP-1699).
    pub fn primes_streams(self) -> bool {
        self >= Self::V2025_11_25
    }
}

/// Whether `s` names any revision this server can speak in either era.
pub fn is_known_version(s: &str) -> bool {
    LEGACY_VERSIONS.contains(&s) || MODERN_VERSIONS.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_keeps_known_and_falls_back_to_latest() {
        assert_eq!(
            LegacyVersion::negotiate("2025-03-26"),
            LegacyVersion::V2025_03_26
        );
        assert_eq!(
            LegacyVersion::negotiate("2024-11-05"),
            LegacyVersion::V2025_11_25
        );
        assert_eq!(LegacyVersion::negotiate("garbage").as_str(), LATEST_LEGACY);
    }

    #[test]
    fn feature_gates_follow_revision_order() {
        assert!(LegacyVersion::V2025_03_26.accepts_batches());
        assert!(!LegacyVersion::V2025_06_18.accepts_batches());
        assert!(!LegacyVersion::V2025_06_18.primes_streams());
        assert!(LegacyVersion::V2025_11_25.primes_streams());
        assert!(is_known_version("2026-07-28"));
        assert!(!is_known_version("2024-11-05"));
    }
}
