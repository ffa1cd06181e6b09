//! napi wrapper over `crate::events`: the native side of `ConnectionEventHub`,
//! `parseConnectionEventLine` and `formatConnectionEvent` (lib/events.js is the public layer).
//!
//! Crossing into JS per object property is slow, so `push`/`end` return one all-ASCII JSON
//! array text (empty when there is nothing), which lib/events.js reads with a single
//! `JSON.parse`. Its elements, in stream order:
//! - a string: a log line
//! - an object: a valid event, spliced in as the line's own JSON text (Rust validated it). Then
//!   either two numbers `start, end`: the line is exactly `[MCP_CONNECTION] ` + the array text's
//!   `[start, end)` slice (the event as written); or a string: the line itself
//! - `null`, then two strings: a malformed (or cut over-long) event line's excerpt, the message
//! - a number: the server's parse-error count just passed `errorThreshold`
//!
//! Quiet mode (`pushQuiet`/`endQuiet`) returns the lines that are not valid events as plain text,
//! each followed by `\n` (lib/events.js splits it), preceded by a header `\0<count>,<dropped>\0`
//! when the parse-error threshold was just passed (`count`, else empty) or events were dropped
//! from the full queue (`dropped`), or when the first line itself starts with `\0`. Queued events
//! come out of `eventHubDrainJson` as one JSON array of `{"serverId":…,"event":…}`.
//!
//! Non-ASCII characters are written as `\uXXXX` escapes, so the text is handed to V8 as
//! Latin-1 (a plain copy) and offsets into it are byte offsets. Stats come back as JSON with
//! times as epoch milliseconds; lib/events.js turns them into `Date`s.

// napi-derive registers exports only outside `cfg(test)`, so the lib test target sees them unused.
#![cfg_attr(test, allow(dead_code))]

use std::collections::HashMap;

use napi::bindgen_prelude::*;
use napi::JsString;
use napi_derive::napi;
use serde::Serialize;

use crate::events::ascii_json::{push_json_ascii, push_json_str, push_u64};
use crate::events::{
    format_line, parse_event_json, ConnectionEventHub, HubItem, HubOptions, ParseError, QuietItem,
    ServerStats, DEFAULT_ERROR_THRESHOLD, DEFAULT_EVENT_CAPACITY, DEFAULT_MAX_LINE_BYTES, PREFIX,
};

fn push_clean(out: &mut String, s: &str) {
    if s.contains('\n') {
        out.push_str(&s.replace('\n', " "));
    } else {
        out.push_str(s);
    }
}

/// One record of `parseConnectionEventLineRaw`: `E<line>`, or `X<excerpt>` `\n` `<message>`.
fn encode_record(out: &mut String, item: HubItem<'_>) {
    match item {
        HubItem::Event { line, .. } => {
            out.push('E');
            out.push_str(line);
        }
        HubItem::ParseError { excerpt, error } => {
            out.push('X');
            push_clean(out, excerpt);
            out.push('\n');
            push_clean(out, &error.to_string());
        }
        HubItem::Log { .. } | HubItem::ThresholdReached { .. } => return,
    }
    out.push('\n');
}

/// Builds the JSON array text `push`/`end` return (see the module docs).
struct Batch<'b> {
    out: &'b mut Vec<u8>,
}

impl Batch<'_> {
    fn sep(&mut self) {
        self.out.push(if self.out.is_empty() { b'[' } else { b',' });
    }

    fn add(&mut self, item: HubItem<'_>) {
        self.sep();
        let out = &mut *self.out;
        match item {
            HubItem::Log { line } => push_json_str(out, line),
            HubItem::Event { line, json, .. } => {
                // `json` lies within `line`: the line is the writer's exact form when it is
                // the prefix and then the JSON to the end.
                let canonical = line.len() == PREFIX.len() + json.len()
                    && line.starts_with(PREFIX)
                    && line.ends_with(json)
                    && json.is_ascii();
                if canonical {
                    let start = out.len() as u64;
                    out.extend_from_slice(json.as_bytes());
                    let end = out.len() as u64;
                    out.push(b',');
                    push_u64(out, start);
                    out.push(b',');
                    push_u64(out, end);
                } else {
                    push_json_ascii(out, json);
                    out.push(b',');
                    push_json_str(out, line);
                }
            }
            HubItem::ParseError { excerpt, error } => {
                out.extend_from_slice(b"null,");
                push_json_str(out, &excerpt.replace('\n', " "));
                out.push(b',');
                push_json_str(out, &error.to_string().replace('\n', " "));
            }
            HubItem::ThresholdReached { count } => push_u64(out, count),
        }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_events: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dropped_events: Option<u64>,
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
            pending_events: s.queue.map(|q| q.pending),
            dropped_events: s.queue.map(|q| q.dropped),
        }
    }
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::from_reason(e.to_string()))
}

/// The native half of `ConnectionEventHub` (see lib/events.js), held by JS as an `External`.
///
/// The per-push calls are plain functions over the handle, and name the server by a small
/// slot number (`eventHubSlot`): a class method call and a string argument each cost more
/// than the parsing of a small chunk.
pub struct EventHubHandle {
    hub: ConnectionEventHub,
    /// slot → server id
    slots: Vec<Option<String>>,
    slot_of: HashMap<String, u32>,
    free: Vec<u32>,
    out: Vec<u8>,
}

impl EventHubHandle {
    /// Runs `feed` for the server in `slot`, collecting its output as the batch text.
    fn batch<'e>(
        &mut self,
        env: &'e Env,
        slot: u32,
        feed: impl FnOnce(&mut ConnectionEventHub, &str, &mut dyn FnMut(HubItem<'_>)),
    ) -> Result<JsString<'e>> {
        let id = self
            .slots
            .get(slot as usize)
            .and_then(|s| s.as_deref())
            .ok_or_else(|| Error::new(Status::InvalidArg, "unknown server slot"))?;
        // The text is built in a buffer kept across calls (V8 copies it into its string).
        let out = &mut self.out;
        out.clear();
        let mut batch = Batch { out };
        feed(&mut self.hub, id, &mut |item| batch.add(item));
        if !out.is_empty() {
            out.push(b']');
        }
        // All ASCII by construction (every non-ASCII character is escaped).
        let text = env.create_string_latin1(&*out);
        if out.capacity() > MAX_KEPT_BATCH_BYTES {
            *out = Vec::new();
        }
        text
    }

    /// Runs a quiet-mode `feed` for the server in `slot`, collecting the text `pushQuiet` returns.
    fn quiet<'e>(
        &mut self,
        env: &'e Env,
        slot: u32,
        feed: impl FnOnce(&mut ConnectionEventHub, &str, &mut dyn FnMut(QuietItem<'_>)) -> u64,
    ) -> Result<JsString<'e>> {
        let id = self
            .slots
            .get(slot as usize)
            .and_then(|s| s.as_deref())
            .ok_or_else(|| Error::new(Status::InvalidArg, "unknown server slot"))?;
        let out = &mut self.out;
        out.clear();
        let mut threshold = None;
        let dropped = feed(&mut self.hub, id, &mut |item| match item {
            QuietItem::Line(line) => {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            QuietItem::ThresholdReached { count } => threshold = Some(count),
        });
        if threshold.is_some() || dropped > 0 || out.first() == Some(&0) {
            let mut head = vec![0u8];
            if let Some(count) = threshold {
                push_u64(&mut head, count);
            }
            head.push(b',');
            push_u64(&mut head, dropped);
            head.push(0);
            out.splice(0..0, head);
        }
        // Lines were decoded (invalid UTF-8 replaced), so the text is valid UTF-8; V8 copies
        // an all-ASCII text fastest as Latin-1.
        let text = if out.is_ascii() {
            env.create_string_latin1(&*out)
        } else {
            let s = std::str::from_utf8(out).map_err(|e| Error::from_reason(e.to_string()))?;
            env.create_string(s)
        };
        if out.capacity() > MAX_KEPT_BATCH_BYTES {
            *out = Vec::new();
        }
        text
    }
}

/// Largest batch buffer kept for the next call.
const MAX_KEPT_BATCH_BYTES: usize = 4 << 20;

#[napi(catch_unwind)]
pub fn event_hub_new(
    max_line_bytes: Option<f64>,
    error_threshold: Option<f64>,
    event_capacity: Option<f64>,
) -> Result<External<EventHubHandle>> {
    let max_line_bytes = opt_usize("maxLineBytes", max_line_bytes, DEFAULT_MAX_LINE_BYTES)?;
    let event_capacity = match event_capacity {
        None => DEFAULT_EVENT_CAPACITY,
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => {
            x.min(usize::MAX as f64) as usize
        }
        Some(_) => {
            return Err(Error::new(
                Status::InvalidArg,
                "eventCapacity must be a non-negative integer",
            ))
        }
    };
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
    Ok(External::new(EventHubHandle {
        hub: ConnectionEventHub::new(HubOptions {
            max_line_bytes,
            error_threshold,
            event_capacity,
            ..HubOptions::default()
        }),
        slots: Vec::new(),
        slot_of: HashMap::new(),
        free: Vec::new(),
        out: Vec::new(),
    }))
}

/// The slot number that names `server_id` in the push calls (the same one until it is removed).
#[napi(catch_unwind)]
pub fn event_hub_slot(hub: &mut External<EventHubHandle>, server_id: String) -> u32 {
    if let Some(&slot) = hub.slot_of.get(&server_id) {
        return slot;
    }
    let slot = match hub.free.pop() {
        Some(slot) => {
            hub.slots[slot as usize] = Some(server_id.clone());
            slot
        }
        None => {
            hub.slots.push(Some(server_id.clone()));
            (hub.slots.len() - 1) as u32
        }
    };
    hub.slot_of.insert(server_id, slot);
    slot
}

/// Feeds a Buffer / Uint8Array chunk (read in place, not copied into a JS string).
#[napi(catch_unwind)]
pub fn event_hub_push_buffer<'e>(
    env: &'e Env,
    hub: &mut External<EventHubHandle>,
    slot: u32,
    chunk: &[u8],
) -> Result<JsString<'e>> {
    hub.batch(env, slot, |hub, id, sink| {
        hub.push(id, chunk, &mut |i| sink(i))
    })
}

/// Feeds a string chunk.
#[napi(catch_unwind)]
pub fn event_hub_push_string<'e>(
    env: &'e Env,
    hub: &mut External<EventHubHandle>,
    slot: u32,
    chunk: String,
) -> Result<JsString<'e>> {
    hub.batch(env, slot, |hub, id, sink| {
        hub.push(id, chunk.as_bytes(), &mut |i| sink(i))
    })
}

/// Flushes the unterminated last line.
#[napi(catch_unwind)]
pub fn event_hub_end<'e>(
    env: &'e Env,
    hub: &mut External<EventHubHandle>,
    slot: u32,
) -> Result<JsString<'e>> {
    hub.batch(env, slot, |hub, id, sink| hub.end(id, &mut |i| sink(i)))
}

/// Quiet mode: feeds a Buffer / Uint8Array chunk, returns the non-event lines (module docs).
#[napi(catch_unwind)]
pub fn event_hub_push_quiet_buffer<'e>(
    env: &'e Env,
    hub: &mut External<EventHubHandle>,
    slot: u32,
    chunk: &[u8],
) -> Result<JsString<'e>> {
    hub.quiet(env, slot, |hub, id, sink| {
        hub.push_quiet(id, chunk, &mut |i| sink(i))
    })
}

/// Quiet mode: feeds a string chunk.
#[napi(catch_unwind)]
pub fn event_hub_push_quiet_string<'e>(
    env: &'e Env,
    hub: &mut External<EventHubHandle>,
    slot: u32,
    chunk: String,
) -> Result<JsString<'e>> {
    hub.quiet(env, slot, |hub, id, sink| {
        hub.push_quiet(id, chunk.as_bytes(), &mut |i| sink(i))
    })
}

/// Quiet mode: flushes the unterminated last line.
#[napi(catch_unwind)]
pub fn event_hub_end_quiet<'e>(
    env: &'e Env,
    hub: &mut External<EventHubHandle>,
    slot: u32,
) -> Result<JsString<'e>> {
    hub.quiet(env, slot, |hub, id, sink| {
        hub.end_quiet(id, &mut |i| sink(i))
    })
}

/// Takes up to `max` queued events (of one server, or all) as one JSON array text
/// `[{"serverId":…,"event":…},…]`, all ASCII; empty when there are none.
#[napi(catch_unwind)]
pub fn event_hub_drain_json<'e>(
    env: &'e Env,
    hub: &mut External<EventHubHandle>,
    server_id: Option<String>,
    max: Option<f64>,
) -> Result<JsString<'e>> {
    let max = match max {
        None => usize::MAX,
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => {
            x.min(usize::MAX as f64) as usize
        }
        Some(x) if x == f64::INFINITY => usize::MAX,
        Some(_) => {
            return Err(Error::new(
                Status::InvalidArg,
                "max must be a non-negative integer",
            ))
        }
    };
    let handle = &mut **hub;
    let out = &mut handle.out;
    out.clear();
    handle
        .hub
        .drain_events(server_id.as_deref(), max, &mut |id, json| {
            out.push(if out.is_empty() { b'[' } else { b',' });
            out.extend_from_slice(b"{\"serverId\":");
            push_json_str(out, id);
            out.extend_from_slice(b",\"event\":");
            push_json_ascii(out, json);
            out.push(b'}');
        });
    if !out.is_empty() {
        out.push(b']');
    }
    let text = env.create_string_latin1(&*out);
    if out.capacity() > MAX_KEPT_BATCH_BYTES {
        *out = Vec::new();
    }
    text
}

/// The server's stats as JSON, or null.
#[napi(catch_unwind)]
pub fn event_hub_stats_json(
    hub: &External<EventHubHandle>,
    server_id: String,
) -> Result<Option<String>> {
    hub.hub
        .stats(&server_id)
        .map(|s| json(&JsStats::from(&s)))
        .transpose()
}

/// Every server's stats as a JSON array.
#[napi(catch_unwind)]
pub fn event_hub_all_stats_json(hub: &External<EventHubHandle>) -> Result<String> {
    let all = hub.hub.all_stats();
    json(&all.iter().map(JsStats::from).collect::<Vec<_>>())
}

#[napi(catch_unwind)]
pub fn event_hub_parse_errors(hub: &External<EventHubHandle>, server_id: String) -> f64 {
    hub.hub.parse_errors(&server_id) as f64
}

/// Forgets a server (its tail, stats and slot).
#[napi(catch_unwind)]
pub fn event_hub_remove(hub: &mut External<EventHubHandle>, server_id: String) -> bool {
    if let Some(slot) = hub.slot_of.remove(&server_id) {
        hub.slots[slot as usize] = None;
        hub.free.push(slot);
    }
    hub.hub.remove(&server_id)
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
        Err(error) => encode_record(
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
