//! W3C trace context carried in `params._meta` (`traceparent`, `tracestate`), as the
//! OpenTelemetry MCP conventions propagate it, so a host's tracer can continue the client's
//! trace inside a callback. Invalid values are dropped, as the W3C recommendation says: an
//! invalid `traceparent` drops both, an invalid `tracestate` drops only itself.

use serde::Deserialize;
use serde_json::value::RawValue;

/// `tracestate` may carry at most 32 list members (W3C Trace Context, section 3.3).
const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Vendors may truncate past 512 characters; anything longer is refused rather than cut.
const MAX_TRACESTATE_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: String,
    pub tracestate: Option<String>,
}

#[derive(Deserialize)]
struct TraceMeta {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

#[derive(Deserialize)]
struct WithTraceMeta {
    #[serde(rename = "_meta")]
    meta: Option<TraceMeta>,
}

/// The trace context of a request's params, when `_meta` carries a valid one. Params without
/// the word `traceparent` are not parsed at all, so requests without a trace pay one scan.
pub fn trace_context_of(params: Option<&RawValue>) -> Option<TraceContext> {
    let p = params?;
    if !p.get().contains("traceparent") {
        return None;
    }
    let meta = serde_json::from_str::<WithTraceMeta>(p.get()).ok()?.meta?;
    TraceContext::from_parts(meta.traceparent.as_deref(), meta.tracestate.as_deref())
}

/// A callback context object (JSON text ending in `}`) with the request's trace context added
/// as `traceparent` / `tracestate` members, when `params._meta` carries a valid one.
pub fn with_trace_context(mut context: String, params: Option<&RawValue>) -> String {
    let Some(tc) = trace_context_of(params) else {
        return context;
    };
    if context.ends_with('}') {
        context.pop();
        let needs_comma = !context.trim_end().ends_with('{');
        if needs_comma {
            context.push(',');
        }
        context.push_str("\"traceparent\":");
        context.push_str(&serde_json::Value::from(tc.traceparent).to_string());
        if let Some(ts) = tc.tracestate {
            context.push_str(",\"tracestate\":");
            context.push_str(&serde_json::Value::from(ts).to_string());
        }
        context.push('}');
    }
    context
}

impl TraceContext {
    /// Validates the two values; `None` unless `traceparent` is well formed.
    pub fn from_parts(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<Self> {
        let tp = traceparent?;
        if !is_valid_traceparent(tp) {
            return None;
        }
        Some(Self {
            traceparent: tp.to_owned(),
            tracestate: tracestate
                .filter(|s| is_valid_tracestate(s))
                .map(str::to_owned),
        })
    }
}

fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `version "-" trace-id "-" parent-id "-" trace-flags`, lowercase hex. Version `ff` is
/// invalid, all-zero ids are invalid, version `00` has exactly these four fields, and a later
/// version may append fields after a `-`.
pub fn is_valid_traceparent(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 55 {
        return false;
    }
    let (version, trace_id, parent_id, flags) = (&b[0..2], &b[3..35], &b[36..52], &b[53..55]);
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return false;
    }
    if !(is_lower_hex(version)
        && is_lower_hex(trace_id)
        && is_lower_hex(parent_id)
        && is_lower_hex(flags))
    {
        return false;
    }
    if version == b"ff"
        || trace_id.iter().all(|c| *c == b'0')
        || parent_id.iter().all(|c| *c == b'0')
    {
        return false;
    }
    if version == b"00" {
        b.len() == 55
    } else {
        b.len() == 55 || b[55] == b'-'
    }
}

/// A comma-separated list of at most 32 `key=value` members in printable ASCII. Keys and
/// values are checked loosely (the host's propagator parses them); this only keeps out what
/// could never be a tracestate.
pub fn is_valid_tracestate(s: &str) -> bool {
    if s.len() > MAX_TRACESTATE_LEN || !s.bytes().all(|c| (0x20..=0x7e).contains(&c)) {
        return false;
    }
    let mut members = 0;
    for m in s.split(',') {
        let m = m.trim_matches(|c| c == ' ' || c == '\t');
        if m.is_empty() {
            // Empty members are allowed and ignored.
            continue;
        }
        members += 1;
        let Some((key, value)) = m.split_once('=') else {
            return false;
        };
        if key.is_empty() || value.is_empty() {
            return false;
        }
    }
    members <= MAX_TRACESTATE_MEMBERS
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("valid JSON")
    }

    #[test]
    fn accepts_the_spec_example() {
        assert!(is_valid_traceparent(TP));
        let p = raw(&format!(
            r#"{{"name":"x","_meta":{{"traceparent":"{TP}","tracestate":"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}}}}"#
        ));
        let ctx = trace_context_of(Some(&p)).expect("context");
        assert_eq!(ctx.traceparent, TP);
        assert_eq!(
            ctx.tracestate.as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
    }

    #[test]
    fn refuses_malformed_traceparents() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad}");
        }
        // A later version may add fields after a dash.
        assert!(is_valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"
        ));
        assert!(!is_valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01future"
        ));
    }

    #[test]
    fn an_invalid_tracestate_drops_only_itself() {
        let ctx = TraceContext::from_parts(Some(TP), Some("no-equals-sign")).expect("context");
        assert_eq!(ctx.tracestate, None);
        let long = vec!["k=v"; 33].join(",");
        assert_eq!(
            TraceContext::from_parts(Some(TP), Some(&long))
                .expect("context")
                .tracestate,
            None
        );
        assert_eq!(TraceContext::from_parts(Some("bogus"), Some("a=b")), None);
    }

    #[test]
    fn the_context_object_gets_the_members() {
        let p = raw(&format!(
            r#"{{"_meta":{{"traceparent":"{TP}","tracestate":"a=\"b"}}}}"#
        ));
        let ctx = with_trace_context(r#"{"era":"legacy"}"#.to_owned(), Some(&p));
        let v: serde_json::Value = serde_json::from_str(&ctx).expect("valid JSON");
        assert_eq!(v["traceparent"], TP);
        assert_eq!(v["tracestate"], "a=\"b");
        assert_eq!(v["era"], "legacy");
        let untouched = with_trace_context(r#"{"era":"legacy"}"#.to_owned(), None);
        assert_eq!(untouched, r#"{"era":"legacy"}"#);
    }

    #[test]
    fn params_without_a_trace_give_none() {
        assert_eq!(trace_context_of(None), None);
        assert_eq!(trace_context_of(Some(&raw(r#"{"name":"x"}"#))), None);
        // The word appears, but not in _meta.
        assert_eq!(
            trace_context_of(Some(&raw(r#"{"arguments":{"traceparent":"x"}}"#))),
            None
        );
        assert_eq!(
            trace_context_of(Some(&raw(r#"{"_meta":{"traceparent":42}}"#))),
            None
        );
    }
}
