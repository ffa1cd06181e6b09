//! Operation metrics taken at the request's entry and its body's end, without the front ends'
//! help: the router notes each JSON-RPC request and notification of a POST (method, tool or
//! prompt, revision) when it arrives, the response body is watched for each request's answer
//! (the server writes them in one fixed shape, so a prefix check finds them), and the
//! operations are recorded when the body is done, so the duration runs from arrival to the
//! last byte handed to the connection (a whole answer: when it is handed over, in one frame).
//! SSE responses are also counted as open streams, and each is counted once in
//! `mcp_streams_closed_total` when its body goes, with the reason its close site recorded in
//! the stream's backlog, if any (docs/operations.md).
//!
//! This runs on every request with `metrics` on, so it allocates nothing in the usual case:
//! labels are indices resolved once ([`OpKey`]), a request id is kept inline, and the
//! response is inspected as bytes.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::body::BodyWatch;
use super::http::Resp;
use crate::protocol::jsonrpc::{Body, Message};
use crate::session::backlog::{Backlog, EndCause};
use crate::telemetry::metrics::{
    Catalog, CloseReason, OpKey, Outcome, StreamGuard, StreamKind, TargetKey,
};
use crate::telemetry::Metrics;

/// Every answer starts with this, then the id and a comma.
const ANSWER_HEAD: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":";

/// A request id's JSON text, inline when short (numbers and short strings).
enum IdText {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<[u8]>),
}

impl IdText {
    fn new(json: &str) -> Self {
        let b = json.as_bytes();
        if b.len() <= 22 {
            let mut bytes = [0u8; 22];
            bytes[..b.len()].copy_from_slice(b);
            IdText::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            IdText::Heap(b.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            IdText::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IdText::Heap(b) => b,
        }
    }
}

/// One JSON-RPC message of the request, waiting for its answer.
struct Pending {
    key: OpKey,
    /// The request's id; `None` for a notification.
    id: Option<IdText>,
    outcome: Option<Outcome>,
}

/// What the router learned about one HTTP request, and the watch on its response. It borrows
/// the server's metrics while the request is routed (no reference count touched per request);
/// a streamed response takes its own reference ([`Watch`]).
pub struct Meter<'a> {
    metrics: &'a Arc<Metrics>,
    state: State,
}

/// A streamed response's meter, carried by its body.
struct Watch {
    metrics: Arc<Metrics>,
    state: State,
}

struct State {
    /// Taken when the first tool or prompt is looked up: an operation without one needs no
    /// catalog.
    catalog: Option<Catalog>,
    arrival: Instant,
    /// Inline for the usual single message: one allocation less per request.
    ops: smallvec::SmallVec<[Pending; 1]>,
    /// Requests still waiting for their answer.
    unanswered: usize,
    stream: Option<StreamGuard>,
    /// Why the server ended the stream early, when it did.
    end: Option<Arc<Backlog>>,
    ended: bool,
    /// The response was a refusal (HTTP status other than 2xx).
    refused: bool,
}

#[derive(Deserialize)]
struct NamedParams<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct IsError {
    #[serde(rename = "isError")]
    is_error: Option<bool>,
}

/// The `name` of `tools/call` / `prompts/get` params: read directly when it comes first with no
/// escape (what clients send), by serde otherwise.
fn param_name(params: &str, with: impl FnOnce(&str) -> u32) -> Option<u32> {
    if let Some(rest) = params.strip_prefix("{\"name\":\"") {
        if let Some(end) = rest.find(['"', '\\']) {
            if rest.as_bytes()[end] == b'"' {
                return Some(with(&rest[..end]));
            }
        }
    }
    serde_json::from_str::<NamedParams>(params)
        .ok()
        .and_then(|n| n.name)
        .map(|n| with(&n))
}

impl<'a> Meter<'a> {
    pub fn new(metrics: &'a Arc<Metrics>, arrival: Instant) -> Self {
        Self {
            metrics,
            state: State::new(arrival),
        }
    }

    /// When the request arrived.
    pub fn arrival(&self) -> Instant {
        self.state.arrival
    }

    /// Notes the requests and notifications of a parsed POST body. `version` is the revision
    /// they are served under, when known (a session's, or the modern `_meta`'s);
    /// `modern_headers` are a 2026-07-28 request's, whose `Mcp-Name` names a tools/call's tool.
    pub fn note_body(
        &mut self,
        body: &Body,
        version: Option<&str>,
        modern_headers: Option<&hyper::HeaderMap>,
    ) {
        self.state
            .note_body(self.metrics, body, version, modern_headers)
    }

    /// Watches the response: SSE responses count as open streams of `kind`.
    pub fn attach(mut self, mut resp: Resp, get: bool) -> Resp {
        let state = &mut self.state;
        // A whole body is never a stream: its headers need no lookup.
        let is_sse = !matches!(resp.body(), super::body::OutBody::Full(_))
            && resp
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if is_sse {
            let kind = if get {
                StreamKind::Standalone
            } else if state
                .ops
                .iter()
                .any(|o| o.key.method() == "subscriptions/listen")
            {
                StreamKind::Listen
            } else {
                StreamKind::Request
            };
            state.stream = Some(self.metrics.stream_opened(kind));
            state.end = resp.body().stream_end();
        }
        // A refusal before any dispatch (bad headers, no session): the answer, when it is
        // JSON-RPC, still says which error; otherwise the HTTP status does.
        state.refused = !resp.status().is_success();
        // A whole body is complete now and goes to the connection in one frame: it is looked at
        // here and what it answers is recorded as it is handed over (this meter's drop), without
        // a watch on the body (two boxes and a call per frame on every request). Only streams
        // are watched.
        if let super::body::OutBody::Full(whole) = resp.body() {
            if let Some(b) = whole {
                state.inspect(b);
            }
            state.ended = true;
            return resp;
        }
        if state.ops.is_empty() && state.stream.is_none() {
            return resp;
        }
        // The state moves to the body's watch; what stays behind records nothing.
        let arrival = state.arrival;
        let watch = Watch {
            metrics: self.metrics.clone(),
            state: std::mem::replace(state, State::new(arrival)),
        };
        let body = std::mem::replace(resp.body_mut(), super::body::OutBody::empty());
        *resp.body_mut() = body.metered(Box::new(watch));
        resp
    }
}

impl State {
    fn new(arrival: Instant) -> Self {
        Self {
            catalog: None,
            arrival,
            ops: smallvec::SmallVec::new(),
            unanswered: 0,
            stream: None,
            end: None,
            ended: false,
            refused: false,
        }
    }

    fn note_body(
        &mut self,
        metrics: &Metrics,
        body: &Body,
        version: Option<&str>,
        modern_headers: Option<&hyper::HeaderMap>,
    ) {
        for m in body.messages() {
            let (id, method, params) = match m {
                Message::Request { id, method, params } => (Some(id), method, params),
                Message::Notification { method, params } => (None, method, params),
                Message::Response { .. } => continue,
            };
            // The method is matched once; what follows asks the key (integer compares).
            let mut key = OpKey::new(method, version, TargetKey::None);
            let prompt = key.is_prompts_get();
            if prompt || key.is_tools_call() {
                let catalog = self.catalog.get_or_insert_with(|| metrics.catalog());
                let index = |n: &str| {
                    if prompt {
                        catalog.prompt_index(n)
                    } else {
                        catalog.tool_index(n)
                    }
                };
                // The modern Mcp-Name header mirrors the name (checked by the front end); only
                // a tools/call or prompts/get reads it.
                let name_header = modern_headers.and_then(|h| super::http::header(h, "mcp-name"));
                let i = match name_header {
                    Some(n) if !matches!(body, Body::Batch(_)) => Some(index(n)),
                    _ => params.as_deref().and_then(|p| param_name(p.get(), index)),
                };
                if let Some(i) = i {
                    key = key.with_target(if prompt {
                        TargetKey::Prompt(i)
                    } else {
                        TargetKey::Tool(i)
                    });
                }
            } else if key.is_initialize() {
                key = key.with_version(initialize_version(params.as_deref()));
            }
            self.unanswered += usize::from(id.is_some());
            self.ops.push(Pending {
                key,
                id: id.map(|id| IdText::new(id.as_json())),
                outcome: None,
            });
        }
    }

    /// Looks at one frame of the response for answers to the noted requests.
    fn inspect(&mut self, frame: &Bytes) {
        if self.unanswered == 0 {
            return;
        }
        match frame.first() {
            Some(b'{') => self.classify(frame),
            Some(b'[') => {
                if let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(frame) {
                    for item in items {
                        self.classify(item.get().as_bytes());
                    }
                }
            }
            // SSE: `data: <json>` lines.
            _ => {
                for line in frame.split(|b| *b == b'\n') {
                    if let Some(json) = line.strip_prefix(b"data: ") {
                        self.classify(json);
                    }
                }
            }
        }
    }

    fn classify(&mut self, message: &[u8]) {
        let Some(after_head) = message.strip_prefix(ANSWER_HEAD) else {
            return;
        };
        // An error the whole request was refused with (`"id":null`) answers every request.
        if let Some(err) = after_head.strip_prefix(b"null,\"error\":{\"code\":") {
            let outcome = error_outcome(err);
            for op in &mut self.ops {
                if op.id.is_some() && op.outcome.is_none() {
                    op.outcome = Some(outcome);
                    self.unanswered -= 1;
                }
            }
            return;
        }
        for op in &mut self.ops {
            let Some(id) = &op.id else {
                continue;
            };
            let Some(rest) = after_head
                .strip_prefix(id.as_bytes())
                .and_then(|r| r.strip_prefix(b","))
            else {
                continue;
            };
            let outcome = if let Some(result) = rest.strip_prefix(b"\"result\":") {
                let tool_error = op.key.is_tools_call()
                    && memchr::memmem::find(result, b"\"isError\"").is_some()
                    && serde_json::from_slice::<IsError>(&result[..result.len().saturating_sub(1)])
                        .ok()
                        .and_then(|r| r.is_error)
                        == Some(true);
                if tool_error {
                    Outcome::ToolError
                } else {
                    Outcome::Ok
                }
            } else if let Some(err) = rest.strip_prefix(b"\"error\":{\"code\":") {
                error_outcome(err)
            } else {
                // A server→client request with an id like the client's: not an answer.
                continue;
            };
            if op.outcome.replace(outcome).is_none() {
                self.unanswered -= 1;
            }
            return;
        }
    }
}

impl BodyWatch for Watch {
    fn frame(&mut self, data: &Bytes) {
        self.state.inspect(data);
    }

    fn end(&mut self) {
        self.state.ended = true;
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        self.state.record(self.metrics);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.state.record(&self.metrics);
    }
}

impl State {
    /// Records the operations and the stream, once the response has been handed over or its
    /// body is gone.
    fn record(&mut self, metrics: &Metrics) {
        if self.ops.is_empty() && self.stream.is_none() {
            return;
        }
        let duration = self.arrival.elapsed();
        // Only an unanswered request or a stream asks (an answered request, the usual case,
        // does not read the flag).
        let closing = || metrics.is_closing();
        for op in &self.ops {
            let outcome = match (op.outcome, &op.id) {
                (Some(o), _) => o,
                // A notification: acknowledged.
                (None, None) if !self.refused => Outcome::Ok,
                (None, _) if self.refused => Outcome::Failed("_OTHER"),
                // A request the body ended without answering: cancelled by the client or
                // cut by a shutdown or a lost connection.
                (None, Some(_)) if closing() => Outcome::Failed("shutdown"),
                (None, Some(_)) if self.ended => Outcome::Failed("cancelled"),
                (None, _) => Outcome::Failed("client_gone"),
            };
            metrics.record(self.catalog.as_ref(), op.key, outcome, duration);
        }
        if self.stream.take().is_some() {
            let cause = self.end.as_ref().and_then(|e| e.end_cause());
            metrics.stream_closed(if closing() {
                CloseReason::Shutdown
            } else if let Some(cause) = cause {
                match cause {
                    EndCause::SlowConsumer => CloseReason::SlowConsumer,
                    EndCause::SessionEnded => CloseReason::SessionEnded,
                    EndCause::ServerClosed => CloseReason::ServerClosed,
                }
            } else if self.ended {
                CloseReason::Completed
            } else {
                CloseReason::ClientGone
            });
        }
    }
}

/// The code of `"error":{"code":<code>,...`, given what follows `"code":`.
fn error_outcome(err: &[u8]) -> Outcome {
    let digits = err
        .iter()
        .position(|c| *c != b'-' && !c.is_ascii_digit())
        .unwrap_or(err.len());
    match std::str::from_utf8(&err[..digits])
        .ok()
        .and_then(|d| d.parse::<i32>().ok())
    {
        Some(code) => Outcome::Rpc(code),
        None => Outcome::Failed("_OTHER"),
    }
}

fn initialize_version(params: Option<&RawValue>) -> Option<&'static str> {
    #[derive(Deserialize)]
    struct Init<'a> {
        #[serde(rename = "protocolVersion", borrow)]
        protocol_version: Option<std::borrow::Cow<'a, str>>,
    }
    let requested = params
        .and_then(|p| serde_json::from_str::<Init>(p.get()).ok())
        .and_then(|i| i.protocol_version)?;
    Some(crate::protocol::LegacyVersion::negotiate(&requested).as_str())
}
