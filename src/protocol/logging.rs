//! MCP log levels: the RFC 5424 names in severity order, and `logging/setLevel`'s params.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::RpcError;

/// Log levels in severity order (RFC 5424 names, as MCP uses them).
pub const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// A level's rank: 0 = debug … 7 = emergency.
pub fn log_level_rank(level: &str) -> Option<u8> {
    LOG_LEVELS.iter().position(|l| *l == level).map(|p| p as u8)
}

/// The rank `logging/setLevel` asks for.
pub fn set_level_rank(params: Option<&RawValue>) -> Result<u8, RpcError> {
    #[derive(Deserialize)]
    struct P<'a> {
        #[serde(borrow)]
        level: std::borrow::Cow<'a, str>,
    }
    params
        .and_then(|p| serde_json::from_str::<P>(p.get()).ok())
        .and_then(|p| log_level_rank(&p.level))
        .ok_or_else(|| RpcError::invalid_params("unknown log level"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn levels_rank_in_severity_order() {
        assert_eq!(log_level_rank("debug"), Some(0));
        assert_eq!(log_level_rank("emergency"), Some(7));
        assert_eq!(log_level_rank("verbose"), None);
        let p = RawValue::from_string(r#"{"level":"warning"}"#.into()).unwrap();
        assert_eq!(set_level_rank(Some(&p)).unwrap(), 3);
        assert!(set_level_rank(None).is_err());
    }
}
