//! The 2025 front end: `initialize` opens a session, later requests name it with
//! `Mcp-Session-Id`; POST answers as JSON or on a resumable SSE stream, GET opens the session's
//! stream for server messages, DELETE ends the session.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::join_all;
use hyper::header::HeaderValue;
use hyper::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, value::RawValue, Value};

use super::body::OutBody;
use super::calls::{Invocation, Route};
use super::http::{self, header, Resp, LAST_EVENT_ID, SESSION_HEADER, VERSION_HEADER};
use super::router::Peer;
use super::server::{log_level_rank, Core};
use crate::monitor::tracker::NewConnection;
use crate::monitor::CloseReason;
use crate::protocol::jsonrpc::{self, Body, Message, RequestId};
use crate::protocol::meta::meta_of;
use crate::protocol::{CallbackFailure, CallbackKind, Era, LegacyVersion, Routed, RpcError};
use crate::session::{new_session_id, ResumeError, Session, STANDALONE};
use crate::telemetry::trace_context::with_trace_context;

fn session_required() -> Resp {
    http::rpc_error(
        StatusCode::BAD_REQUEST,
        None,
        &RpcError::new(-32000, "Bad Request: Mcp-Session-Id header is required"),
    )
}

fn session_not_found() -> Resp {
    http::rpc_error(
        StatusCode::NOT_FOUND,
        None,
        &RpcError::new(-32001, "Session not found"),
    )
}

/// The session a request names, with its protocol version header checked.
// The error is a ready response, built once per request; boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn session_of(core: &Core, headers: &HeaderMap) -> Result<Arc<Session>, Resp> {
    let id = header(headers, SESSION_HEADER).ok_or_else(session_required)?;
    let session = core.sessions.get(id).ok_or_else(session_not_found)?;
    if let Some(v) = header(headers, VERSION_HEADER) {
        if LegacyVersion::parse(v).is_none() {
            return Err(http::rpc_error(
                StatusCode::BAD_REQUEST,
                None,
                &RpcError::new(
                    -32000,
                    format!("Bad Request: Unsupported protocol version: {v}"),
                ),
            ));
        }
    }
    core.tracker.touch(&session.id);
    session.touch(std::time::Instant::now());
    Ok(session)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams {
    protocol_version: String,
    #[serde(default)]
    capabilities: Option<Box<RawValue>>,
    #[serde(default)]
    client_info: Option<ClientInfo>,
}

#[derive(Deserialize)]
struct ClientInfo {
    name: Option<String>,
    version: Option<String>,
}

pub async fn post(core: Arc<Core>, peer: Peer, headers: &HeaderMap, body: Body) -> Resp {
    let has_init = body
        .messages()
        .iter()
        .any(|m| m.method() == Some("initialize") && m.is_request());
    if has_init {
        // Re-initializing a live session is refused; an unknown id is treated as none.
        if header(headers, SESSION_HEADER).is_some_and(|id| core.sessions.get(id).is_some()) {
            return http::rpc_error(
                StatusCode::BAD_REQUEST,
                None,
                &RpcError::invalid_request("the session is already initialized"),
            );
        }
        return initialize(&core, &peer, body);
    }
    let session = match session_of(&core, headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if matches!(body, Body::Batch(_)) && !session.version.accepts_batches() {
        return http::rpc_error(
            StatusCode::BAD_REQUEST,
            None,
            &RpcError::invalid_request(format!(
                "JSON-RPC batches are not supported in protocol version {}",
                session.version.as_str()
            )),
        );
    }
    let batch = matches!(body, Body::Batch(_));
    let mut requests = Vec::new();
    for msg in body.into_messages() {
        match msg {
            Message::Request { id, method, params } => requests.push((id, method, params)),
            Message::Notification { method, params } => {
                notification(&core, &session, &method, params.as_deref())
            }
            Message::Response { id, outcome } => {
                if let Ok(n) = id.as_json().parse::<u64>() {
                    let reply = outcome
                        .map(|r| r.get().to_owned())
                        .map_err(|e| e.get().to_owned());
                    session.complete_client_request(n, reply);
                }
            }
        }
    }
    if requests.is_empty() {
        return http::empty(StatusCode::ACCEPTED);
    }
    // Route first: methods Rust answers need no stream.
    let routed: Vec<(RequestId, String, Option<Box<RawValue>>, Routed)> = requests
        .into_iter()
        .map(|(id, method, params)| {
            let r = route(&core, &session, &method, params.as_deref());
            (id, method, params, r)
        })
        .collect();
    let all_immediate = routed
        .iter()
        .all(|(_, _, _, r)| !matches!(r, Routed::Callback(_)));
    if all_immediate || core.cfg.json_response {
        let json_mode = true;
        let answers = join_all(routed.into_iter().map(|(id, _, params, r)| {
            let core = core.clone();
            let session = session.clone();
            async move { answer(&core, &session, STANDALONE, json_mode, id, params, r).await }
        }))
        .await;
        let answers: Vec<String> = answers.into_iter().flatten().collect();
        if answers.is_empty() {
            return http::empty(StatusCode::ACCEPTED);
        }
        let text = if batch {
            format!("[{}]", answers.join(","))
        } else {
            answers.into_iter().next().unwrap_or_default()
        };
        return http::json(StatusCode::OK, text);
    }
    if routed.len() == 1 {
        if let Some((id, _, params, r)) = routed.into_iter().next() {
            return single_callback(core, session, id, params, r).await;
        }
        return session_not_found();
    }
    let Some((stream, rx)) = session.open_stream(&core.cfg.session) else {
        return session_not_found();
    };
    let task_core = core.clone();
    let task_session = session.clone();
    tokio::spawn(async move {
        let core = task_core;
        let session = task_session;
        join_all(routed.into_iter().map(|(id, _, params, r)| {
            let core = core.clone();
            let session = session.clone();
            async move {
                if let Some(text) = answer(&core, &session, stream, false, id, params, r).await {
                    session.send(&core.cfg.session, stream, &text);
                }
            }
        }))
        .await;
        session.finish_stream(stream);
    });
    http::sse(OutBody::sse(rx, core.cfg.keepalive))
}

/// How long a callback may take before its answer is given a resumable SSE stream instead of
/// one JSON object.
pub(super) const STREAM_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// One request answered by a callback. Its stream exists from the start (progress, logs and
/// server→client requests go there), but the response is one JSON object unless something is
/// sent on the stream before the answer, or the callback closes the stream for polling: then
/// it is an SSE stream (priming event first, for clients that resume). JSON is the cheaper
/// answer and the spec lets the server choose.
async fn single_callback(
    core: Arc<Core>,
    session: Arc<Session>,
    id: RequestId,
    params: Option<Box<RawValue>>,
    routed: Routed,
) -> Resp {
    let cfg = &core.cfg.session;
    let Some((stream, mut rx)) = session.open_quiet_stream(cfg) else {
        return session_not_found();
    };
    let (done_tx, mut done) = tokio::sync::oneshot::channel();
    {
        let core = core.clone();
        let session = session.clone();
        tokio::spawn(async move {
            let text = answer(&core, &session, stream, false, id, params, routed).await;
            let _ = done_tx.send(text);
        });
    }
    // Switches to SSE: the priming event, what was already sent, then the rest of the stream;
    // the answer goes on the stream (and into the event store) when it comes.
    let stream_response =
        |head: Option<Bytes>, rx, done: tokio::sync::oneshot::Receiver<Option<String>>| {
            let (task_core, task_session) = (core.clone(), session.clone());
            tokio::spawn(async move {
                if let Ok(Some(text)) = done.await {
                    task_session.send(&task_core.cfg.session, stream, &text);
                }
                task_session.finish_stream(stream);
            });
            let prime = session.priming_frame(&core.cfg.session, stream);
            let head = match (prime, head) {
                (Some(p), Some(h)) => Some(Bytes::from([p.as_ref(), h.as_ref()].concat())),
                (p, h) => p.or(h),
            };
            let body = OutBody::sse(rx, core.cfg.keepalive);
            http::sse(match head {
                Some(h) => body.with_head(h),
                None => body,
            })
        };
    let slow = tokio::time::sleep(STREAM_AFTER);
    tokio::select! {
        biased;
        first = rx.recv() => match first {
            Some(frame) => stream_response(Some(frame), rx, done),
            // Detached before anything was sent: closeStream() right away.
            None => stream_response(None, rx, done),
        },
        // A slow callback gets its stream (priming event now) so a dropped connection can be
        // resumed with Last-Event-ID and keep-alives flow; a fast one is answered as JSON.
        _ = slow => stream_response(None, rx, done),
        text = &mut done => match rx.try_recv() {
            // Notifications and the answer were ready together: still a stream, in order.
            Ok(frame) => {
                if let Ok(Some(text)) = text {
                    session.send(cfg, stream, &text);
                }
                session.finish_stream(stream);
                let prime = session.priming_frame(cfg, stream);
                let head = match prime {
                    Some(p) => Bytes::from([p.as_ref(), frame.as_ref()].concat()),
                    None => frame,
                };
                http::sse(OutBody::sse(rx, core.cfg.keepalive).with_head(head))
            }
            Err(_) => {
                session.finish_stream(stream);
                match text {
                    Ok(Some(text)) => http::json(StatusCode::OK, text),
                    _ => http::empty(StatusCode::ACCEPTED),
                }
            }
        },
    }
}

fn initialize(core: &Arc<Core>, peer: &Peer, body: Body) -> Resp {
    let Body::Single(Message::Request { id, params, .. }) = body else {
        return http::rpc_error(
            StatusCode::BAD_REQUEST,
            None,
            &RpcError::invalid_request("initialize must be sent alone"),
        );
    };
    let p: InitializeParams = match params
        .as_deref()
        .map(|p| serde_json::from_str::<InitializeParams>(p.get()))
    {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            return http::rpc_error(
                StatusCode::BAD_REQUEST,
                Some(&id),
                &RpcError::invalid_params(e),
            )
        }
        None => {
            return http::rpc_error(
                StatusCode::BAD_REQUEST,
                Some(&id),
                &RpcError::invalid_params("initialize needs params"),
            )
        }
    };
    let version = LegacyVersion::negotiate(&p.protocol_version);
    let sid: Arc<str> = match new_session_id() {
        Ok(s) => Arc::from(s),
        Err(e) => {
            return http::rpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&id),
                &RpcError::internal(e),
            )
        }
    };
    let (name, ver) = p
        .client_info
        .map(|c| (c.name, c.version))
        .unwrap_or((None, None));
    let opened = core.tracker.open(
        sid.clone(),
        NewConnection {
            era: Era::Legacy,
            client_ip: &peer.ip,
            user_agent: &peer.user_agent,
            client_name: name.as_deref(),
            client_version: ver.as_deref(),
            protocol_version: Some(version.as_str()),
        },
    );
    if !opened {
        return http::rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&id),
            &RpcError::new(
                -32000,
                format!(
                    "Service Unavailable: the server already has {} connections",
                    core.cfg.max_connections
                ),
            ),
        );
    }
    // Most clients of one kind send the same capabilities: keep one copy.
    let strings = &core.tracker.strings;
    let caps = strings.intern(p.capabilities.as_deref().map_or("{}", RawValue::get));
    let session = Arc::new(Session::new(
        sid.clone(),
        version,
        caps,
        name.as_deref().map(|n| strings.intern(n)),
        ver.as_deref().map(|v| strings.intern(v)),
    ));
    core.sessions.insert(session);
    let result = core.dispatcher.initialize_result(version);
    let mut r = http::json(StatusCode::OK, jsonrpc::result_response(&id, result));
    if let Ok(v) = HeaderValue::from_str(&sid) {
        r.headers_mut().insert(SESSION_HEADER, v);
    }
    r
}

fn notification(core: &Core, session: &Session, method: &str, params: Option<&RawValue>) {
    if method == "notifications/cancelled" {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cancelled {
            request_id: Option<Box<RawValue>>,
            reason: Option<String>,
        }
        let Some(c) = params.and_then(|p| serde_json::from_str::<Cancelled>(p.get()).ok()) else {
            return;
        };
        if let Some(call) = c.request_id.and_then(|r| session.call_for_request(r.get())) {
            core.calls.resolve(call, Err(CallbackFailure::Cancelled));
            core.abort(
                call,
                c.reason.as_deref().unwrap_or("cancelled by the client"),
            );
        }
    }
    // notifications/initialized and others need no action.
}

/// Session-scoped methods first, then the shared dispatcher.
fn route(core: &Core, session: &Session, method: &str, params: Option<&RawValue>) -> Routed {
    match method {
        "logging/setLevel" => {
            #[derive(Deserialize)]
            struct P {
                level: String,
            }
            match params
                .and_then(|p| serde_json::from_str::<P>(p.get()).ok())
                .and_then(|p| log_level_rank(&p.level))
            {
                Some(rank) => {
                    session.set_log_level(rank);
                    Routed::Answer("{}".into())
                }
                None => Routed::Fail(RpcError::invalid_params("unknown log level")),
            }
        }
        "resources/subscribe" | "resources/unsubscribe"
            if core.dispatcher.description().resources =>
        {
            match crate::protocol::dispatch::uri_of(params) {
                Ok(uri) => {
                    if method == "resources/subscribe" {
                        session.subscribe(&uri);
                    } else {
                        session.unsubscribe(&uri);
                    }
                    Routed::Answer("{}".into())
                }
                Err(e) => Routed::Fail(e),
            }
        }
        _ => core.dispatcher.route(Era::Legacy, method, params),
    }
}

/// The response text for one routed request; `None` when it was cancelled.
async fn answer(
    core: &Arc<Core>,
    session: &Arc<Session>,
    stream: u64,
    json_mode: bool,
    id: RequestId,
    params: Option<Box<RawValue>>,
    routed: Routed,
) -> Option<String> {
    match routed {
        Routed::Answer(result) => Some(jsonrpc::result_response(&id, &result)),
        Routed::Fail(e) => Some(jsonrpc::error_response(Some(&id), &e)),
        Routed::Callback(kind) => {
            let route = Route::Session {
                session: session.clone(),
                stream,
                json_mode,
            };
            let ctx = with_trace_context(context_json(session, &id, None), params.as_deref());
            session_callback(core, session, route, kind, &id, params.as_deref(), ctx).await
        }
    }
}

/// The `RequestContext` data for a 2025 request.
fn context_json(session: &Session, id: &RequestId, extra: Option<Value>) -> String {
    // The session's part is rendered once; a call adds its id (and input, on a retry).
    let prefix = session.context_prefix(|| {
        let mut head = json!({
            "sessionId": &*session.id,
            "era": "legacy",
            "protocolVersion": session.version.as_str(),
        })
        .to_string();
        head.pop();
        head.push_str(",\"clientCapabilities\":");
        head.push_str(&session.client_capabilities);
        if let Some(name) = &session.client_name {
            head.push_str(",\"clientInfo\":");
            head.push_str(
                &json!({ "name": &**name, "version": session.client_version.as_deref().unwrap_or("") })
                    .to_string(),
            );
        }
        head
    });
    let mut out = String::with_capacity(prefix.len() + 64);
    out.push_str(prefix);
    out.push_str(",\"requestId\":");
    out.push_str(id.as_json());
    if let Some(Value::Object(extra)) = extra {
        for (k, v) in extra {
            out.push(',');
            out.push_str(&Value::String(k).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
    }
    out.push('}');
    out
}

/// Rounds of input a callback may ask for before the server gives up on it.
const MAX_INPUT_ROUNDS: usize = 8;

/// Runs a callback for a session request; cancellation by `notifications/cancelled` gives
/// `None` (no response is sent). When the callback returns an `InputRequiredResult`, the
/// server asks the client itself (2025 clients have real server→client requests) and runs the
/// callback again with the answers, so one callback serves both eras.
async fn session_callback(
    core: &Arc<Core>,
    session: &Arc<Session>,
    route: Route,
    kind: CallbackKind,
    id: &RequestId,
    params: Option<&RawValue>,
    ctx: String,
) -> Option<String> {
    let token = meta_of(params).progress_token;
    let params_text = crate::protocol::dispatch::callback_params(params);
    let request_stream = match &route {
        Route::Session {
            stream,
            json_mode: false,
            ..
        } => *stream,
        _ => STANDALONE,
    };
    let mut ctx = ctx;
    let mut rounds = 0;
    let outcome = loop {
        let (call_id, rx) = core.calls.begin(route.clone(), Era::Legacy, token.clone());
        session.register_call(id.as_json(), call_id);
        let outcome = run_callback(core, call_id, rx, kind, params_text.clone(), ctx).await;
        session.unregister_call(id.as_json());
        let json = match &outcome {
            Ok(json) if super::modern::is_input_required(json) => json,
            _ => break outcome,
        };
        rounds += 1;
        if rounds > MAX_INPUT_ROUNDS {
            break Err(CallbackFailure::Threw {
                message: format!("the callback asked for input more than {MAX_INPUT_ROUNDS} times"),
                code: None,
                data: None,
            });
        }
        match fulfil_input(core, session, request_stream, json).await {
            Ok((responses, state)) => {
                let mut extra = json!({ "inputResponses": responses });
                if let (Some(s), Value::Object(m)) = (state, &mut extra) {
                    m.insert("requestState".into(), Value::String(s));
                }
                ctx = with_trace_context(context_json(session, id, Some(extra)), params);
            }
            Err(failure) => break Err(failure),
        }
    };
    if matches!(outcome, Err(CallbackFailure::Cancelled)) {
        return None;
    }
    Some(
        match core
            .dispatcher
            .finish_callback(Era::Legacy, kind, params, outcome)
        {
            Ok(result) => jsonrpc::result_response(id, &result),
            Err(e) => jsonrpc::error_response(Some(id), &e),
        },
    )
}

/// Sends each input request of an `InputRequiredResult` to the session's client and collects
/// the answers by key, with the callback's own state to hand back.
async fn fulfil_input(
    core: &Core,
    session: &Session,
    stream: u64,
    result_json: &str,
) -> Result<(Value, Option<String>), CallbackFailure> {
    let threw = |message: String| CallbackFailure::Threw {
        message,
        code: None,
        data: None,
    };
    let result: Value = serde_json::from_str(result_json).map_err(|e| threw(e.to_string()))?;
    let caps: Value = serde_json::from_str(&session.client_capabilities).unwrap_or(json!({}));
    let missing = super::modern::missing_capabilities(&result, &caps);
    if !missing.is_empty() {
        let names: Vec<&String> = missing.keys().collect();
        return Err(threw(format!(
            "the client did not declare the capabilities this request needs: {names:?}"
        )));
    }
    let mut responses = serde_json::Map::new();
    if let Some(reqs) = result.get("inputRequests").and_then(Value::as_object) {
        for (key, req) in reqs {
            let method = req.get("method").and_then(Value::as_str).unwrap_or("");
            let params = req.get("params").map(Value::to_string);
            let answer = core
                .session_request(session, stream, method, params)
                .await
                .map_err(|e| threw(format!("input request {key:?} ({method}) failed: {e}")))?;
            responses.insert(
                key.clone(),
                serde_json::from_str(&answer).unwrap_or(Value::Null),
            );
        }
    }
    let state = result
        .get("requestState")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((Value::Object(responses), state))
}

/// Hands a call to the host and waits for it, within the callback timeout.
pub(super) async fn run_callback(
    core: &Core,
    call_id: u64,
    rx: tokio::sync::oneshot::Receiver<super::calls::CallOutcome>,
    kind: CallbackKind,
    params: String,
    context: String,
) -> super::calls::CallOutcome {
    if !core.invoke(Invocation {
        call_id,
        kind,
        params,
        context,
    }) {
        core.calls.forget(call_id);
        return Err(CallbackFailure::Unavailable);
    }
    match core.cfg.callback_timeout {
        Some(limit) => match tokio::time::timeout(limit, rx).await {
            Ok(r) => r.unwrap_or(Err(CallbackFailure::Unavailable)),
            Err(_) => {
                core.calls.forget(call_id);
                if let Some(m) = &core.cfg.metrics {
                    m.callback_timed_out();
                }
                tracing::warn!(call_id, kind = kind.as_str(), "callback timed out");
                core.abort(call_id, "callback timed out");
                Err(CallbackFailure::TimedOut)
            }
        },
        None => rx.await.unwrap_or(Err(CallbackFailure::Unavailable)),
    }
}

pub fn get(core: &Arc<Core>, _peer: &Peer, headers: &HeaderMap) -> Resp {
    if !http::accepts(headers, "text/event-stream") {
        return http::rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            None,
            &RpcError::new(
                -32000,
                "Not Acceptable: Client must accept text/event-stream",
            ),
        );
    }
    let session = match session_of(core, headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rx = match header(headers, LAST_EVENT_ID) {
        Some(last) => match session.resume(&core.cfg.session, last) {
            Ok(rx) => rx,
            Err(ResumeError::NoStore) => match session.attach_standalone(&core.cfg.session) {
                Ok(rx) => rx,
                Err(_) => return conflict(),
            },
            Err(ResumeError::BadId) => {
                return http::rpc_error(
                    StatusCode::BAD_REQUEST,
                    None,
                    &RpcError::new(-32000, "Bad Request: unknown Last-Event-ID"),
                )
            }
        },
        None => match session.attach_standalone(&core.cfg.session) {
            Ok(rx) => rx,
            Err(_) => return conflict(),
        },
    };
    http::sse(OutBody::sse(rx, core.cfg.keepalive))
}

fn conflict() -> Resp {
    http::rpc_error(
        StatusCode::CONFLICT,
        None,
        &RpcError::new(
            -32000,
            "Conflict: Only one SSE stream is allowed per session",
        ),
    )
}

pub fn delete(core: &Arc<Core>, headers: &HeaderMap) -> Resp {
    let session = match session_of(core, headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(s) = core.sessions.remove(&session.id) {
        core.end_session(&s, CloseReason::Deleted);
    }
    http::empty(StatusCode::OK)
}
