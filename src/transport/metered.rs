//! Operation metrics taken at the request's entry and its body's end, without the front ends'
//! help: the router notes each JSON-RPC request and notification of a POST (method, tool or
//! prompt, revision) when it arrives, the response body is watched for each request's answer
//! (the server writes them in one fixed shape, so a prefix check finds them), and the
//! operations are recorded when the body is done, so the duration runs from arrival to the
//! last byte handed to the connection. SSE responses are also counted as open streams, and
//! each is counted once in `mcp_streams_closed_total` when its body goes, with the reason
//! its close site recorded in the stream's backlog, if any (docs/operations.md).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::body::BodyWatch;
use super::core::Core;
use super::http::Resp;
use crate::protocol::jsonrpc::{Body, Message};
use crate::session::backlog::{Backlog, EndCause};
use crate::telemetry::metrics::{
    method_label, version_label, CloseReason, Operation, Outcome, StreamGuard, StreamKind, Target,
};
use crate::telemetry::Metrics;

/// One JSON-RPC message of the request, waiting for its answer.
struct Pending {
    method: &'static str,
    target: Option<(bool, String)>,
    version: Option<&'static str>,
    /// `{"jsonrpc":"2.0","id":<id>,` — the start of its answer; `None` for a notification.
    answer_prefix: Option<String>,
    outcome: Option<Outcome>,
}

/// What the router learned about one HTTP request, and the watch on its response.
pub struct Meter {
    core: Arc<Core>,
    metrics: Arc<Metrics>,
    arrival: Instant,
    ops: Vec<Pending>,
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

impl Meter {
    pub fn new(core: Arc<Core>, metrics: Arc<Metrics>, arrival: Instant) -> Self {
        Self {
            core,
            metrics,
            arrival,
            ops: Vec::new(),
            stream: None,
            end: None,
            ended: false,
            refused: false,
        }
    }

    /// Notes the requests and notifications of a parsed POST body. `version` is the revision
    /// they are served under, when known (a session's, or the modern `_meta`'s).
    pub fn note_body(&mut self, body: &Body, version: Option<&str>, name_header: Option<&str>) {
        for m in body.messages() {
            let (id, method, params) = match m {
                Message::Request { id, method, params } => (Some(id), method, params),
                Message::Notification { method, params } => (None, method, params),
                Message::Response { .. } => continue,
            };
            let target = match method.as_str() {
                "tools/call" | "prompts/get" => {
                    let prompt = method == "prompts/get";
                    // The modern Mcp-Name header mirrors the name (checked by the front end).
                    let name = match name_header {
                        Some(n) if !matches!(body, Body::Batch(_)) => Some(n.to_owned()),
                        _ => params
                            .as_deref()
                            .and_then(|p| serde_json::from_str::<NamedParams>(p.get()).ok())
                            .and_then(|n| n.name)
                            .map(|n| n.into_owned()),
                    };
                    name.map(|n| (prompt, n))
                }
                _ => None,
            };
            let version = if method == "initialize" {
                initialize_version(params.as_deref())
            } else {
                version
            };
            self.ops.push(Pending {
                method: method_label(method),
                target,
                version: version.map(version_label),
                answer_prefix: id
                    .map(|id| format!("{{\"jsonrpc\":\"2.0\",\"id\":{},", id.as_json())),
                outcome: None,
            });
        }
    }

    /// Watches the response: SSE responses count as open streams of `kind`.
    pub fn attach(mut self, mut resp: Resp, get: bool) -> Resp {
        let kind = if get {
            StreamKind::Standalone
        } else if self.ops.iter().any(|o| o.method == "subscriptions/listen") {
            StreamKind::Listen
        } else {
            StreamKind::Request
        };
        let is_sse = resp
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if is_sse {
            self.stream = Some(self.metrics.stream_opened(kind));
            self.end = resp.body().stream_end();
        }
        // A refusal before any dispatch (bad headers, no session): the answer, when it is
        // JSON-RPC, still says which error; otherwise the HTTP status does.
        self.refused = !resp.status().is_success();
        if self.ops.is_empty() && self.stream.is_none() {
            return resp;
        }
        let body = std::mem::replace(resp.body_mut(), super::body::OutBody::empty());
        *resp.body_mut() = body.metered(Box::new(self));
        resp
    }

    /// Looks at one frame of the response for answers to the noted requests.
    pub fn inspect(&mut self, frame: &Bytes) {
        if self.ops.iter().all(|o| o.answer_prefix.is_none()) {
            return;
        }
        let Ok(text) = std::str::from_utf8(frame) else {
            return;
        };
        if text.starts_with('{') {
            self.classify(text);
        } else if text.starts_with('[') {
            if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) {
                for item in items {
                    self.classify(item.get());
                }
            }
        } else {
            // SSE: `data: <json>` lines.
            for line in text.lines() {
                if let Some(json) = line.strip_prefix("data: ") {
                    self.classify(json);
                }
            }
        }
    }

    fn classify(&mut self, message: &str) {
        // An error the whole request was refused with (`"id":null`) answers every request.
        if let Some(err) =
            message.strip_prefix("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":")
        {
            let outcome = error_outcome(err);
            for op in &mut self.ops {
                if op.answer_prefix.is_some() {
                    op.outcome.get_or_insert(outcome);
                }
            }
            return;
        }
        for op in &mut self.ops {
            let Some(prefix) = &op.answer_prefix else {
                continue;
            };
            let Some(rest) = message.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if let Some(result) = rest.strip_prefix("\"result\":") {
                let tool_error = op.method == "tools/call"
                    && memchr::memmem::find(result.as_bytes(), b"\"isError\"").is_some()
                    && serde_json::from_str::<IsError>(&result[..result.len().saturating_sub(1)])
                        .ok()
                        .and_then(|r| r.is_error)
                        == Some(true);
                op.outcome = Some(if tool_error {
                    Outcome::ToolError
                } else {
                    Outcome::Ok
                });
            } else if let Some(err) = rest.strip_prefix("\"error\":{\"code\":") {
                op.outcome = Some(error_outcome(err));
            } else {
                // A server→client request with an id like the client's: not an answer.
                continue;
            }
            return;
        }
    }
}

impl BodyWatch for Meter {
    fn frame(&mut self, data: &Bytes) {
        self.inspect(data);
    }

    fn end(&mut self) {
        self.ended = true;
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let duration = self.arrival.elapsed();
        let closing = self.core.is_closing();
        for op in &self.ops {
            let outcome = match (op.outcome, &op.answer_prefix) {
                (Some(o), _) => o,
                // A notification: acknowledged.
                (None, None) if !self.refused => Outcome::Ok,
                (None, _) if self.refused => Outcome::Failed("_OTHER"),
                // A request the body ended without answering: cancelled by the client or cut
                // by a shutdown or a lost connection.
                (None, Some(_)) if closing => Outcome::Failed("shutdown"),
                (None, Some(_)) if self.ended => Outcome::Failed("cancelled"),
                (None, _) => Outcome::Failed("client_gone"),
            };
            let target = match &op.target {
                Some((false, n)) => Target::Tool(n),
                Some((true, n)) => Target::Prompt(n),
                None => Target::None,
            };
            self.metrics.record_operation(
                &Operation {
                    method: op.method,
                    target,
                    protocol_version: op.version,
                    outcome,
                },
                duration,
            );
        }
        if self.stream.take().is_some() {
            let cause = self.end.as_ref().and_then(|e| e.end_cause());
            self.metrics.stream_closed(if closing {
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
fn error_outcome(err: &str) -> Outcome {
    let digits = err
        .find(|c: char| c != '-' && !c.is_ascii_digit())
        .unwrap_or(err.len());
    match err[..digits].parse::<i32>() {
        Ok(code) => Outcome::Rpc(code),
        Err(_) => Outcome::Failed("_OTHER"),
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
