//! The era-neutral steps of a request, written once for both front ends: the peer and client
//! descriptions, the capacity refusal, the callback context, running a callback within its
//! timeout, cancelling it when its client goes away, and answering with one JSON object or,
//! when the callback streams or is slow, an SSE stream. See docs/architecture.md ("The
//! request's path").

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use bytes::Bytes;
use hyper::StatusCode;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::body::OutBody;
use super::calls::{CallOutcome, Invocation};
use super::core::Core;
use super::http::{self, Resp};
use crate::protocol::json::push_string;
use crate::protocol::jsonrpc::RequestId;
use crate::protocol::{sse, CallError, CallbackKind, Era, RpcError};

/// What the front ends know about the peer.
#[derive(Debug, Clone)]
pub struct Peer {
    pub ip: String,
    pub user_agent: String,
}

/// What authorization adds to one request: the caller's principal and the `ctx.auth` /
/// `ctx.headers` members of its callback contexts. It rides a task-local scoped around the
/// front end's future (and carried into the tasks it spawns, see [`spawn_in_request`]), so the
/// front ends need no new parameters.
#[derive(Debug, Clone, Default)]
pub struct RequestAuth {
    pub info: Option<Arc<crate::auth::AuthInfo>>,
    /// `,"headers":{…}` (a JSON member), or empty. `ctx.auth` is `info`, handed over by id.
    pub context_members: String,
}

tokio::task_local! {
    static REQUEST_AUTH: Arc<RequestAuth>;
}

/// A principal the host's own HTTP stack already authenticated (handler mode's
/// `handle(req, res, { auth })`), carried as a request extension. Only an embedding host can set
/// it: nothing a peer sends over the wire becomes an extension, so the listener never sees one.
#[derive(Debug, Clone)]
pub struct HostPrincipal(pub Arc<crate::auth::AuthInfo>);

/// Runs a front end's future with the request's authorization in scope.
pub async fn with_request_auth<F: Future>(auth: Option<Arc<RequestAuth>>, f: F) -> F::Output {
    match auth {
        Some(a) => REQUEST_AUTH.scope(a, f).await,
        None => f.await,
    }
}

/// The current request's authorization, if any.
pub fn request_auth() -> Option<Arc<RequestAuth>> {
    REQUEST_AUTH.try_with(Arc::clone).ok()
}

/// The authorized subject of the current request.
pub fn request_subject() -> Option<Arc<crate::auth::AuthInfo>> {
    request_auth().and_then(|a| a.info.clone())
}

/// The name a sealed `requestState` is bound to: the item's name and, when authorization is
/// on, the caller's subject, so another principal cannot replay it.
pub fn state_binding(name: &str) -> std::borrow::Cow<'_, str> {
    match request_subject() {
        Some(info) => std::borrow::Cow::Owned(format!("{name}\u{1f}{}", info.subject)),
        None => std::borrow::Cow::Borrowed(name),
    }
}

/// The principal as the monitor records it.
pub fn connection_auth() -> Option<Arc<crate::monitor::tracker::ConnectionAuth>> {
    REQUEST_AUTH
        .try_with(|a| a.info.as_ref().map(|i| i.connection()))
        .ok()
        .flatten()
}

/// `tokio::spawn` that keeps the request's authorization in scope.
pub fn spawn_in_request<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let auth = request_auth();
    // In the server's log span too, like the connection that spawned it.
    tokio::spawn(with_request_auth(auth, f).in_current_span())
}

/// How long a callback may take before its answer is given an SSE stream instead of one JSON
/// object.
pub const STREAM_AFTER: Duration = Duration::from_millis(100);

/// A client's name and version, as either era sends them (`clientInfo`).
#[derive(Deserialize, Default)]
pub struct ClientInfo<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub version: Option<Cow<'a, str>>,
}

/// 503 when the server already tracks `maxConnections` clients.
pub fn capacity_refusal(core: &Core, id: Option<&RequestId>) -> Resp {
    http::rpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        &RpcError::new(
            -32000,
            format!(
                "Service Unavailable: the server already has {} connections",
                core.cfg.max_connections
            ),
        ),
    )
}

/// How a context names its client.
pub enum ContextClient<'a> {
    /// The client's `clientInfo` object as it sent it (JSON text).
    Raw(&'a str),
    Named {
        name: &'a str,
        version: &'a str,
    },
}

/// The request-independent part of a callback's `RequestContext` data: an unterminated JSON
/// object that `context_json` completes. A 2025 session renders it once.
pub fn context_head(
    session_id: &str,
    era: Era,
    protocol_version: &str,
    capabilities: &str,
    client: Option<ContextClient<'_>>,
) -> String {
    let mut head = String::with_capacity(96 + session_id.len() + capabilities.len());
    head.push_str("{\"sessionId\":");
    push_string(&mut head, session_id);
    head.push_str(",\"era\":\"");
    head.push_str(era.as_str());
    head.push_str("\",\"protocolVersion\":");
    push_string(&mut head, protocol_version);
    head.push_str(",\"clientCapabilities\":");
    head.push_str(capabilities);
    match client {
        Some(ContextClient::Raw(raw)) => {
            head.push_str(",\"clientInfo\":");
            head.push_str(raw);
        }
        Some(ContextClient::Named { name, version }) => {
            head.push_str(",\"clientInfo\":{\"name\":");
            push_string(&mut head, name);
            head.push_str(",\"version\":");
            push_string(&mut head, version);
            head.push('}');
        }
        None => {}
    }
    head
}

/// A callback's `RequestContext` data: the head, the request id and, on the retry of an
/// `InputRequiredResult`, the input responses (JSON text) and the callback's own state.
pub fn context_json(
    head: &str,
    id: &RequestId,
    input_responses: Option<&str>,
    request_state: Option<&str>,
) -> String {
    let extra =
        input_responses.map_or(0, |r| r.len() + 20) + request_state.map_or(0, |s| s.len() + 20);
    let mut out = String::with_capacity(head.len() + id.as_json().len() + 16 + extra);
    out.push_str(head);
    out.push_str(",\"requestId\":");
    out.push_str(id.as_json());
    if let Some(r) = input_responses {
        out.push_str(",\"inputResponses\":");
        out.push_str(r);
    }
    if let Some(s) = request_state {
        out.push_str(",\"requestState\":");
        push_string(&mut out, s);
    }
    // `ctx.auth` is not rendered here: the principal rides beside the context (`Invocation`).
    let _ = REQUEST_AUTH.try_with(|a| out.push_str(&a.context_members));
    out.push('}');
    out
}

/// Hands a call to the host and waits for it, within the callback timeout.
pub async fn run_callback(
    core: &Core,
    call_id: u64,
    rx: oneshot::Receiver<super::calls::Reply>,
    kind: CallbackKind,
    params: String,
    context: String,
) -> CallOutcome {
    if !core.invoke(Invocation {
        call_id,
        kind,
        params,
        context,
        principal: request_subject(),
    }) {
        core.calls.forget(call_id);
        return Err(CallError::Unavailable);
    }
    match core.cfg.callback_timeout {
        Some(limit) => match tokio::time::timeout(limit, rx).await {
            Ok(r) => r.map_or(Err(CallError::Unavailable), |(outcome, _room)| outcome),
            Err(_) => {
                core.calls.forget(call_id);
                if let Some(m) = &core.cfg.metrics {
                    m.callback_timed_out();
                }
                tracing::warn!(call_id, kind = kind.as_str(), "callback timed out");
                core.abort(call_id, "callback timed out");
                Err(CallError::TimedOut)
            }
        },
        None => rx
            .await
            .map_or(Err(CallError::Unavailable), |(outcome, _room)| outcome),
    }
}

/// Cancels a call whose client went away before it finished: resolve as cancelled, then
/// abort. `finished` is set by whoever sees the call's outcome.
pub struct CancelOnDrop {
    core: Arc<Core>,
    call_id: u64,
    finished: Arc<AtomicBool>,
}

impl CancelOnDrop {
    pub fn new(core: Arc<Core>, call_id: u64) -> (Self, Arc<AtomicBool>) {
        let finished = Arc::new(AtomicBool::new(false));
        (
            Self {
                core,
                call_id,
                finished: finished.clone(),
            },
            finished,
        )
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Acquire) {
            self.core
                .cancel_call(self.call_id, "the client closed the stream");
        }
    }
}

/// Where a streamed response's final answer goes: each era frames and stores it its own way.
pub trait Deliver: Send + 'static {
    /// Sends the answer (none when the call was cancelled) and ends the stream.
    fn deliver(self, answer: Option<String>);
}

/// What a call may send before its answer, and how its SSE response starts.
pub struct Stream<P> {
    pub rx: mpsc::UnboundedReceiver<Bytes>,
    /// The frame that leads an SSE response (a 2025 priming event), made only when needed.
    pub prime: P,
    pub keepalive: Duration,
    /// Says why the server ended the stream early, for the stream metrics.
    pub end: Option<Arc<crate::session::backlog::Backlog>>,
}

/// The answer of one request served by a callback: one JSON object, unless the callback sends
/// something first (a notification, a request; or the stream is closed for polling) or takes
/// longer than `STREAM_AFTER`: then an SSE stream that carries what it sends and, last, the
/// answer. JSON is the cheaper answer and the spec lets the server choose. `stream` is `None`
/// when the server answers only with JSON. `cancel` runs if the response goes away before the
/// answer (the 2026 era cancels; a 2025 client resumes instead).
pub async fn json_or_sse<A, D, P>(
    stream: Option<Stream<P>>,
    answer: A,
    deliver: D,
    cancel: Option<CancelOnDrop>,
) -> Resp
where
    A: Future<Output = Option<(StatusCode, String)>> + Send + 'static,
    D: Deliver,
    P: FnOnce() -> Option<Bytes>,
{
    let Some(Stream {
        mut rx,
        prime,
        keepalive,
        end,
    }) = stream
    else {
        let out = answer.await;
        drop(cancel);
        deliver.deliver(None);
        return json_answer(out);
    };
    let mut answer = Box::pin(answer);
    let to_stream =
        |head: Option<Bytes>, rx, answer, deliver: D, cancel: Option<CancelOnDrop>, end| {
            spawn_in_request(async move {
                let out: Option<(StatusCode, String)> = answer.await;
                deliver.deliver(out.map(|(_, text)| text));
            });
            sse_response(rx, keepalive, head, cancel, end)
        };
    tokio::select! {
        // What the callback sent comes first: a notification sent just before it returned
        // must still get its stream (JS queues it before it resolves the call).
        biased;
        first = rx.recv() => {
            // `None`: the stream was closed for polling before anything was sent.
            to_stream(sse::join(prime(), first), rx, answer, deliver, cancel, end)
        }
        // A slow callback gets its stream now (a 2025 priming event, so a dropped connection
        // can be resumed), and keep-alive comments flow while it works.
        _ = tokio::time::sleep(STREAM_AFTER) => to_stream(prime(), rx, answer, deliver, cancel, end),
        out = &mut answer => {
            drop(cancel);
            match rx.try_recv() {
                // The callback sent something and returned within one poll: still a stream,
                // in order, the answer last.
                Ok(first) => {
                    deliver.deliver(out.map(|(_, text)| text));
                    sse_response(rx, keepalive, sse::join(prime(), Some(first)), None, end)
                }
                Err(_) => {
                    deliver.deliver(None);
                    json_answer(out)
                }
            }
        }
    }
}

fn json_answer(out: Option<(StatusCode, String)>) -> Resp {
    match out {
        Some((status, text)) => http::json(status, text),
        // Cancelled: nothing to answer.
        None => http::empty(StatusCode::ACCEPTED),
    }
}

fn sse_response(
    rx: mpsc::UnboundedReceiver<Bytes>,
    keepalive: Duration,
    head: Option<Bytes>,
    cancel: Option<CancelOnDrop>,
    end: Option<Arc<crate::session::backlog::Backlog>>,
) -> Resp {
    let mut body = OutBody::sse(rx, keepalive);
    if let Some(e) = end {
        body = body.with_end(e);
    }
    if let Some(h) = head {
        body = body.with_head(h);
    }
    if let Some(c) = cancel {
        body = body.with_on_drop(move || drop(c));
    }
    http::sse(body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn contexts_are_valid_json() {
        let head = context_head(
            "s\"1",
            Era::Legacy,
            "2025-11-25",
            r#"{"sampling":{}}"#,
            Some(ContextClient::Named {
                name: "n",
                version: "",
            }),
        );
        let id = RequestId::from_number(7);
        let v: serde_json::Value =
            serde_json::from_str(&context_json(&head, &id, Some(r#"{"a":1}"#), Some("st")))
                .unwrap();
        assert_eq!(v["sessionId"], "s\"1");
        assert_eq!(v["era"], "legacy");
        assert_eq!(v["clientInfo"]["name"], "n");
        assert_eq!(v["requestId"], 7);
        assert_eq!(v["inputResponses"]["a"], 1);
        assert_eq!(v["requestState"], "st");
        let head = context_head(
            "c",
            Era::Modern,
            "2026-07-28",
            "{}",
            Some(ContextClient::Raw(r#"{"name":"m"}"#)),
        );
        let v: serde_json::Value =
            serde_json::from_str(&context_json(&head, &id, None, None)).unwrap();
        assert_eq!(v["clientInfo"]["name"], "m");
        assert!(v.get("inputResponses").is_none());
    }
}
