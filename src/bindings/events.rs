//! napi wrapper over `crate::events`: the native side of `ConnectionEventHub`,
//! `parseConnectionEventLine` and `formatConnectionEvent` (lib/events.js is the public layer).
//!
//! Crossing into JS per object property is slow, so `push`/`end` return one string of records,
//! one per line (lines never contain `\n`):
//! - `E<line>`: a valid event line; the event's JSON starts at the line's first `{`
//! - `L<line>`: a log line
//! - `X<excerpt>` then `<error message>`: a malformed (or cut over-long) event line
//! - `T<count>`: the server's parse-error count just passed `errorThreshold`
//!
//! lib/events.js splits it and `JSON.parse`s each event's JSON. Stats come back as JSON with
//! times as epoch milliseconds; lib/events.js turns them into `Date`s.

// napi-derive registers exports only outside `cfg(test)`, so the lib test target sees them unused.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde::Serialize;

use crate::events::{
    format_line, parse_event_json, ConnectionEventHub, HubItem, HubOptions, ParseError,
    ServerStats, DEFAULT_ERROR_THRESHOLD, DEFAULT_MAX_LINE_BYTES,
};

fn push_clean(out: &mut String, s: &str) {
    if s.contains('\n') {
        out.push_str(&s.replace('\n', " "));
    } else {
        out.push_str(s);
    }
}

fn encode(out: &mut String, item: HubItem<'_>) {
    match item {
        HubItem::Event { line, .. } => {
            out.push('E');
            out.push_str(line);
        }
        HubItem::Log { line } => {
            out.push('L');
            out.push_str(line);
        }
        HubItem::ParseError { excerpt, error } => {
            out.push('X');
            push_clean(out, excerpt);
            out.push('\n');
            push_clean(out, &error.to_string());
        }
        HubItem::ThresholdReached { count } => {
            out.push('T');
            out.push_str(&count.to_string());
        }
    }
    out.push('\n');
}

/// An all-ASCII result is handed to V8 as Latin-1 (a plain copy, no UTF-8 decoding).
fn to_js(out: String) -> Either<Latin1String, String> {
    if out.is_ascii() {
        Either::A(Latin1String::from(out))
    } else {
        Either::B(out)
    }
}

fn opt_usize(name: &str, v: Option<f64>, default: usize) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(x) if x.is_finite() && x >= 1.0 && x.fract() == 0.0 => {
            Ok(x.min(usize::MAX as f64) as usize)
        }
        Some(_) => Err(Error::new(
            Status::InvalidArg,
            format!("{name} must be a positive integer"),
        )),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsClient<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    connected_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    era: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_version: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsStats<'a> {
    server_id: &'a str,
    active_connections: u64,
    total_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<u64>,
    connections: Vec<JsClient<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_at: Option<i64>,
    event_count: u64,
    parse_error_count: u64,
}

impl<'a> From<&'a ServerStats> for JsStats<'a> {
    fn from(s: &'a ServerStats) -> Self {
        JsStats {
            server_id: &s.server_id,
            active_connections: s.active_connections,
            total_connections: s.total_connections,
            max_connections: s.max_connections,
            connections: s
                .connections
                .iter()
                .map(|c| JsClient {
                    id: &c.id,
                    remote_address: c.remote_address.as_deref(),
                    user_agent: c.user_agent.as_deref(),
                    connected_at: c.connected_at.epoch_ms(),
                    era: c.era.map(|e| e.as_str()),
                    client_name: c.client_name.as_deref(),
                    client_version: c.client_version.as_deref(),
                })
                .collect(),
            last_event_type: s.last_event_type.map(|t| t.as_str()),
            last_event_at: s.last_event_at.as_ref().map(|t| t.epoch_ms()),
            event_count: s.event_count,
            parse_error_count: s.parse_error_count,
        }
    }
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::from_reason(e.to_string()))
}

/// The native half of `ConnectionEventHub` (see lib/events.js).
#[napi]
pub struct NativeConnectionEventHub {
    hub: ConnectionEventHub,
}

#[napi]
impl NativeConnectionEventHub {
    #[napi(constructor, catch_unwind)]
    pub fn new(max_line_bytes: Option<f64>, error_threshold: Option<f64>) -> Result<Self> {
        let max_line_bytes = opt_usize("maxLineBytes", max_line_bytes, DEFAULT_MAX_LINE_BYTES)?;
        let error_threshold = match error_threshold {
            None => DEFAULT_ERROR_THRESHOLD,
            Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => x as u64,
            Some(_) => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "errorThreshold must be a non-negative integer",
                ))
            }
        };
        Ok(Self {
            hub: ConnectionEventHub::new(HubOptions {
                max_line_bytes,
                error_threshold,
                ..HubOptions::default()
            }),
        })
    }

    /// Feeds a Buffer / Uint8Array chunk (read in place, not copied into a JS string).
    #[napi(catch_unwind)]
    pub fn push_buffer(&mut self, server_id: String, chunk: &[u8]) -> Either<Latin1String, String> {
        let mut out = String::new();
        self.hub
            .push(&server_id, chunk, &mut |item| encode(&mut out, item));
        to_js(out)
    }

    /// Feeds a string chunk.
    #[napi(catch_unwind)]
    pub fn push_string(
        &mut self,
        server_id: String,
        chunk: String,
    ) -> Either<Latin1String, String> {
        let mut out = String::new();
        self.hub.push(&server_id, chunk.as_bytes(), &mut |item| {
            encode(&mut out, item)
        });
        to_js(out)
    }

    /// Flushes the unterminated last line.
    #[napi(catch_unwind)]
    pub fn end(&mut self, server_id: String) -> Either<Latin1String, String> {
        let mut out = String::new();
        self.hub.end(&server_id, &mut |item| encode(&mut out, item));
        to_js(out)
    }

    /// The server's stats as JSON, or null.
    #[napi(catch_unwind)]
    pub fn stats_json(&self, server_id: String) -> Result<Option<String>> {
        self.hub
            .stats(&server_id)
            .map(|s| json(&JsStats::from(&s)))
            .transpose()
    }

    /// Every server's stats as a JSON array.
    #[napi(catch_unwind)]
    pub fn all_stats_json(&self) -> Result<String> {
        let all = self.hub.all_stats();
        json(&all.iter().map(JsStats::from).collect::<Vec<_>>())
    }

    #[napi(catch_unwind)]
    pub fn parse_errors(&self, server_id: String) -> f64 {
        self.hub.parse_errors(&server_id) as f64
    }

    #[napi(catch_unwind)]
    pub fn remove(&mut self, server_id: String) -> bool {
        self.hub.remove(&server_id)
    }
}

/// One line to a record: empty (not an event line), `E` + line, or `X` + excerpt, newline,
/// message (the hub's records). One trailing line ending is ignored.
#[napi(catch_unwind)]
pub fn parse_connection_event_line_raw(line: String) -> String {
    let l = line.strip_suffix('\n').unwrap_or(&line);
    let l = l.strip_suffix('\r').unwrap_or(l);
    let Some(payload) = crate::events::event_payload(l) else {
        return String::new();
    };
    let mut out = String::new();
    match parse_event_json(payload) {
        Ok(_) => {
            out.push('E');
            out.push_str(l);
            out.push('\n');
        }
        Err(error) => encode(
            &mut out,
            HubItem::ParseError {
                excerpt: &crate::events::excerpt(l),
                error: &error,
            },
        ),
    }
    out
}

/// Validates an event's JSON (as `JSON.stringify` wrote it) and returns the exact line the
/// Rust writer produces for it. Throws a TypeError naming the problem.
#[napi(catch_unwind)]
pub fn format_connection_event_json(json: String) -> Result<String> {
    parse_event_json(&json)
        .map(|e| format_line(&e))
        .map_err(|e: ParseError| {
            Error::new(
                Status::InvalidArg,
                format!("not a valid ConnectionEvent: {e}"),
            )
        })
}
